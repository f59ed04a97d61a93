-- 0007: the audit entries of one kind (the overrides, the trust-file
-- changes) are read by an index, in seq order, not by scanning the log.

CREATE INDEX audit_log_kind ON audit_log (kind, seq);
