-- Results remember their checkpoint's place in the checklist, so reports
-- follow the checklist's order rather than the order checks finished in.
ALTER TABLE results ADD COLUMN position INTEGER NOT NULL DEFAULT 0;
