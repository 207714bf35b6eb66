-- Every data extract `unyo act extract` wrote: from which database and SQL file to which CSV
-- file, in which encoding, how many rows and the file's SHA-256, the columns written and the
-- parameter values (JSON), from which run and job, by whom and for which group. Rows are
-- only ever inserted.

CREATE TABLE extracts (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    at       TEXT    NOT NULL,
    run_id   INTEGER,                    -- the run whose step made it (UNYO_RUN_ID)
    job      TEXT,                       -- its job (UNYO_JOB)
    db       TEXT    NOT NULL,
    sql_file TEXT    NOT NULL,
    out_file TEXT    NOT NULL,
    encoding TEXT    NOT NULL,           -- utf-8-bom | shift_jis
    rows     INTEGER NOT NULL,           -- data rows, the header not counted
    sha256   TEXT    NOT NULL,           -- of the file's bytes
    columns  TEXT    NOT NULL,           -- JSON array of the column names written, in order
    params   TEXT    NOT NULL,           -- JSON object: parameter name -> value
    user     TEXT    NOT NULL,
    "group"  TEXT                        -- the group the file was given
);
CREATE INDEX extracts_run ON extracts (run_id);
