-- Runs, their steps and every attempt of every step.
-- Status tokens are persisted: never change the meaning of an existing one.

CREATE TABLE runs (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    job            TEXT    NOT NULL,
    trigger        TEXT    NOT NULL,            -- manual | schedule | submit | catch_up | retry | dependency
    params         TEXT    NOT NULL DEFAULT '{}', -- JSON object of rendered parameter values
    status         TEXT    NOT NULL,            -- queued | running | succeeded | failed | cancelled | interrupted
    reason         TEXT,
    business_date  TEXT    NOT NULL,            -- YYYY-MM-DD
    fiscal_year    INTEGER NOT NULL,
    queued_at      TEXT    NOT NULL,
    started_at     TEXT,
    ended_at       TEXT,
    requested_by   TEXT    NOT NULL,            -- operating-system user
    host           TEXT    NOT NULL,
    job_digest     TEXT    NOT NULL,            -- SHA-256 of the job file
    catalog_digest TEXT    NOT NULL             -- SHA-256 of all definition files
);
CREATE INDEX runs_job ON runs (job, id);
CREATE INDEX runs_status ON runs (status, id);

CREATE TABLE steps (
    run_id     INTEGER NOT NULL REFERENCES runs (id),
    name       TEXT    NOT NULL,
    position   INTEGER NOT NULL,                -- declaration order in the job
    status     TEXT    NOT NULL,                -- pending | running | succeeded | failed | skipped | cancelled
    reason     TEXT,
    attempts   INTEGER NOT NULL DEFAULT 0,
    started_at TEXT,
    ended_at   TEXT,
    PRIMARY KEY (run_id, name)
) WITHOUT ROWID;

CREATE TABLE attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id      INTEGER NOT NULL REFERENCES runs (id),
    step        TEXT    NOT NULL,
    attempt     INTEGER NOT NULL,               -- 1, 2, ... within the step
    status      TEXT    NOT NULL,               -- running | succeeded | failed | timed_out | cancelled | error
    command     TEXT    NOT NULL,               -- the rendered command, as JSON
    log_path    TEXT    NOT NULL,
    pid         INTEGER,
    started_at  TEXT    NOT NULL,
    ended_at    TEXT,
    exit_code   INTEGER,
    signal      INTEGER,
    error       TEXT,                           -- why it could not start, when it could not
    stdout_tail TEXT    NOT NULL DEFAULT '',
    stderr_tail TEXT    NOT NULL DEFAULT '',
    log_bytes   INTEGER NOT NULL DEFAULT 0,
    log_dropped INTEGER NOT NULL DEFAULT 0,
    UNIQUE (run_id, step, attempt)                -- also the index for reading a run's attempts
);
