-- Attestations of manual checkpoints and role sign-offs of runs. Each row
-- keeps the signed statement (JSON) as it was signed, so that it can be
-- verified again against the trust file; the columns beside it are for
-- queries.
CREATE TABLE attestations (
    run_id        TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq           INTEGER NOT NULL,
    checkpoint_id TEXT NOT NULL,
    status        TEXT NOT NULL,
    signer        TEXT NOT NULL,
    at            TEXT NOT NULL,
    statement     TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) STRICT;

CREATE TABLE signoffs (
    run_id         TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    seq            INTEGER NOT NULL,
    role           TEXT NOT NULL,
    signer         TEXT NOT NULL,
    results_digest TEXT NOT NULL,
    at             TEXT NOT NULL,
    statement      TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
) STRICT;
