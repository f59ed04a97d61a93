-- Why a skipped checkpoint did not run (a dependency, not configured,
-- disabled), so a report tells a gap in configuration from a failure; and
-- the checkpoint's place in the source document (e.g. §2.1 row 4).
ALTER TABLE results ADD COLUMN skip TEXT NOT NULL DEFAULT '';
ALTER TABLE results ADD COLUMN source TEXT NOT NULL DEFAULT '';
