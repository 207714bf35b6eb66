-- Approval gates: a step of kind `approval` waits here for an operator's decision.

CREATE TABLE gates (
    run_id       INTEGER NOT NULL REFERENCES runs (id),
    step         TEXT    NOT NULL,
    requested_at TEXT    NOT NULL,
    timeout_at   TEXT,                      -- when it fails unanswered
    decision     TEXT,                      -- approved | rejected; NULL while waiting
    decided_by   TEXT,
    decided_at   TEXT,
    comment      TEXT,
    PRIMARY KEY (run_id, step)
) WITHOUT ROWID;
