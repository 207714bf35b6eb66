-- Every change `unyo act param-set` and `unyo params rollback` make to a parameter file: the
-- value before and after (JSON text; NULL when the key was absent), why, from which run and by
-- whom. A rolled-back change names the change that undid it in `rolled_back_by`; nothing else
-- in a row is ever updated.

CREATE TABLE param_changes (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    at             TEXT    NOT NULL,
    file           TEXT    NOT NULL,
    key            TEXT    NOT NULL,            -- key path: `counters.max_sessions`
    before         TEXT,                        -- JSON; NULL: the key was absent
    after          TEXT,                        -- JSON; NULL: the key was removed (a rollback)
    reason         TEXT    NOT NULL DEFAULT '',
    run_id         INTEGER,                     -- the run whose step made it (UNYO_RUN_ID)
    user           TEXT    NOT NULL,
    rolled_back_by INTEGER REFERENCES param_changes (id)
);
CREATE INDEX param_changes_key ON param_changes (key, id);
