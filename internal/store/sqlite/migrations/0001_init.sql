-- 0001: runs and their results.
--
-- Times are TEXT in a fixed-width RFC 3339 form, UTC, nine fractional digits
-- ("2006-01-02T15:04:05.000000000Z"), so they round-trip exactly and sort
-- as text in time order. JSON columns are TEXT; NULL keeps a nil slice or
-- message apart from an empty one.

CREATE TABLE runs (
    id               TEXT    NOT NULL PRIMARY KEY,
    checklist        TEXT    NOT NULL,
    checklist_digest TEXT    NOT NULL,
    checklist_file   TEXT    NOT NULL,
    environment      TEXT    NOT NULL,
    started_at       TEXT    NOT NULL,
    finished_at      TEXT,
    state            TEXT    NOT NULL,
    verdict          TEXT    NOT NULL,
    summary          TEXT,             -- JSON object status -> count
    total            INTEGER NOT NULL,
    host             TEXT    NOT NULL,
    pid              INTEGER NOT NULL
) STRICT;

CREATE INDEX runs_started_at ON runs (started_at, id);
CREATE INDEX runs_checklist_started_at ON runs (checklist, started_at, id);
-- RecoverInterrupted looks for the runs still running.
CREATE INDEX runs_state ON runs (state);

CREATE TABLE results (
    run_id        TEXT    NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    checkpoint_id TEXT    NOT NULL,
    title         TEXT    NOT NULL,
    domain        TEXT    NOT NULL,
    category      TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    severity      TEXT    NOT NULL,
    mode          TEXT    NOT NULL,
    kind          TEXT    NOT NULL,
    validation    TEXT    NOT NULL,
    controls      TEXT,             -- JSON array of strings
    tags          TEXT,             -- JSON array of strings
    status        TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    expect        TEXT    NOT NULL,
    expect_values TEXT,             -- JSON, what the expression read (redacted)
    observation   TEXT,             -- JSON (redacted)
    log           TEXT,             -- JSON array of strings
    started_at    TEXT    NOT NULL,
    duration_ms   REAL    NOT NULL,
    attempts      INTEGER NOT NULL,
    PRIMARY KEY (run_id, seq),
    -- A run holds each checkpoint at most once.
    UNIQUE (run_id, checkpoint_id)
) STRICT;
