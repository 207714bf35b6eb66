-- What the monitoring found about runs: lateness (start_delay, end_delay, max_runtime), stuck
-- steps, and durations far from their baseline (slow, fast). One row per run and kind, so a
-- breach is recorded (and its incident raised) once, also when a run is taken up again.
-- Kinds and day classes are persisted tokens: never change the meaning of one.

CREATE TABLE findings (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id        INTEGER NOT NULL REFERENCES runs (id),
    job           TEXT    NOT NULL,
    step          TEXT,                         -- the stuck step
    kind          TEXT    NOT NULL,             -- start_delay | end_delay | max_runtime | stuck | slow | fast
    at            TEXT    NOT NULL,             -- when it was found
    business_date TEXT    NOT NULL,             -- YYYY-MM-DD of the run
    deadline      TEXT,                         -- lateness: the instant that was passed
    observed      REAL,                         -- seconds: the run's duration, or how late, or quiet
    expected      REAL,                         -- seconds: the limit, or the baseline's median
    spread        REAL,                         -- seconds: the baseline's MAD
    samples       INTEGER,                      -- runs in the baseline
    day_class     TEXT,                         -- ordinary | month_end | fiscal_year_end
    detail        TEXT    NOT NULL,
    incident_id   INTEGER REFERENCES incidents (id),
    UNIQUE (run_id, kind)
);
CREATE INDEX findings_at ON findings (at);

-- The baseline reads a job's last successful runs.
CREATE INDEX runs_job_succeeded ON runs (job, id) WHERE status = 'succeeded';
