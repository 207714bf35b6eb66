-- Jobs an operator held: their schedules' slots are recorded `held` and start nothing until
-- the job is released.

CREATE TABLE holds (
    job     TEXT PRIMARY KEY,
    held_by TEXT NOT NULL,
    held_at TEXT NOT NULL,
    reason  TEXT NOT NULL DEFAULT ''
) WITHOUT ROWID;
