-- Health checks: every result of a check step, and each target's state kept from them
-- (`domain::check::next`: up or down from consecutive results). A result that changed its
-- target's state has `changed` = 1; the report's availability and flapping read those.

CREATE TABLE check_targets (
    target        TEXT    PRIMARY KEY,
    kind          TEXT    NOT NULL,            -- software | hardware | network | access
    job           TEXT    NOT NULL,
    step          TEXT    NOT NULL,
    state         TEXT    NOT NULL,            -- up | down
    streak        INTEGER NOT NULL,            -- consecutive results against the state
    since         TEXT    NOT NULL,            -- when the state began
    last_status   TEXT    NOT NULL,            -- ok | warning | critical | unknown
    last_output   TEXT    NOT NULL,
    last_perfdata TEXT    NOT NULL,
    last_at       TEXT    NOT NULL,
    results       INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE check_results (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    target   TEXT    NOT NULL,
    run_id   INTEGER REFERENCES runs (id),
    at       TEXT    NOT NULL,
    status   TEXT    NOT NULL,                 -- ok | warning | critical | unknown
    output   TEXT    NOT NULL,                 -- the plugin's status line
    perfdata TEXT    NOT NULL,                 -- its performance data, as printed
    state    TEXT    NOT NULL,                 -- the target's state after this result
    changed  INTEGER NOT NULL                  -- 1: this result changed the state
);
CREATE INDEX check_results_target ON check_results (target, id);
CREATE INDEX check_results_changes ON check_results (at) WHERE changed = 1;

-- `/metrics` counts each ended run once, with the fire delay of the slot that made it.
CREATE INDEX slots_run ON slots (run_id) WHERE run_id IS NOT NULL;
