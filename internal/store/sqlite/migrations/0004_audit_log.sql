-- 0004: the audit log (internal/audit): append-only, hash-chained, signed.
--
-- Each row is one audit.Entry, stored as its hash covers it: seq, time in
-- the fixed-width form of 0001, actor, kind, the payload's compact JSON
-- verbatim, and prev; then the hash and the base64 signature. PRF only ever
-- inserts, one row per write transaction, with seq one past the head. The
-- triggers stop an accidental UPDATE or DELETE; they are no defence against
-- someone with the file (who can drop them): the chain and the signatures
-- are, and audit.Verify checks them.

CREATE TABLE audit_log (
    seq     INTEGER NOT NULL PRIMARY KEY,   -- 1, 2, 3, … (the rowid)
    time    TEXT    NOT NULL,
    actor   TEXT    NOT NULL,
    kind    TEXT    NOT NULL,
    payload TEXT    NOT NULL,               -- compact JSON
    prev    TEXT    NOT NULL,               -- hex SHA-256 of seq - 1, '' for seq 1
    hash    TEXT    NOT NULL,               -- hex SHA-256
    sig     TEXT    NOT NULL                -- base64 Ed25519
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
