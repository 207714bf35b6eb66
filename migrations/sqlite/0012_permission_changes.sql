-- Every grant and revoke `unyo act permissions` makes (or had to skip) when it applies an
-- HR-transfer list or undoes one: whose access, in which department, what (a directory group
-- or a POSIX ACL entry on a department folder), whether it was applied, from which run and by
-- whom. `batch` is one apply or undo; an undo's rows name the apply they undo in `undo_of`.
-- Rows are never updated. (Version 11 is taken by another change; versions need not be
-- contiguous, the runner applies every known one that is not recorded.)

CREATE TABLE permission_changes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          TEXT    NOT NULL,
    batch       TEXT    NOT NULL,            -- one apply or undo
    run_id      INTEGER,                     -- the run whose step made it (UNYO_RUN_ID)
    staff_id    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    department  TEXT    NOT NULL,            -- the department whose access this is
    kind        TEXT    NOT NULL CHECK (kind IN ('group', 'acl')),
    target      TEXT    NOT NULL,            -- group name, or folder path
    op          TEXT    NOT NULL CHECK (op IN ('grant', 'revoke')),
    outcome     TEXT    NOT NULL CHECK (outcome IN ('applied', 'skipped', 'failed')),
    reason      TEXT,                        -- why it was skipped or failed
    undo_of     TEXT,                        -- the batch this undoes
    user        TEXT    NOT NULL
);
CREATE INDEX permission_changes_department ON permission_changes (department, id);
CREATE INDEX permission_changes_batch ON permission_changes (batch, id);
