-- The scheduler: where a run came from, who runs it, the slots every schedule produced, the
-- per-schedule watermark and the daemons' heartbeats.

ALTER TABLE runs ADD COLUMN owner      TEXT;    -- host:pid:start of the unyo process running it
ALTER TABLE runs ADD COLUMN not_before TEXT;    -- a queued run does not start before this time
ALTER TABLE runs ADD COLUMN schedule   TEXT;    -- the schedule whose slot made the run
ALTER TABLE runs ADD COLUMN rerun_of   INTEGER REFERENCES runs (id);

-- Queued runs are read by the daemon every half second.
CREATE INDEX runs_queued ON runs (id) WHERE status = 'queued';

CREATE TABLE slots (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule   TEXT    NOT NULL,
    job        TEXT    NOT NULL,
    fire_time  TEXT    NOT NULL,                -- the instant the cron expression gave
    due_at     TEXT    NOT NULL,                -- when it was due, after a closed-day shift
    outcome    TEXT    NOT NULL,                -- started | shifted | queued | waiting_window | skipped_closed_day
                                                -- | skipped_overlap | skipped_window | missed
    reason     TEXT,
    run_id     INTEGER REFERENCES runs (id),
    decided_at TEXT    NOT NULL,
    UNIQUE (schedule, fire_time)
);
CREATE INDEX slots_due ON slots (due_at);

-- Every slot of a schedule due at or before `through` has been decided; written in the
-- same transaction as those slots, so a restart neither loses nor repeats one.
CREATE TABLE watermarks (
    schedule TEXT PRIMARY KEY,
    through  TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE daemons (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    host         TEXT    NOT NULL,
    pid          INTEGER NOT NULL,
    version      TEXT    NOT NULL,
    started_at   TEXT    NOT NULL,
    heartbeat_at TEXT    NOT NULL,
    stopped_at   TEXT
);
