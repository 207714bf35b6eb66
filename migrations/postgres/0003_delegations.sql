-- Steps that run on another node (a step's `runs_on`): the node driving the run hands an
-- attempt over, a node with the labels takes it, runs it and records how it ended.
CREATE TABLE delegations (
    attempt_id BIGINT      PRIMARY KEY REFERENCES attempts (id),
    run_id     BIGINT      NOT NULL REFERENCES runs (id),
    labels     TEXT        NOT NULL,                -- JSON array: the labels the node needs
    daemon_id  BIGINT      REFERENCES daemons (id), -- the daemon that took it
    taken_at   TIMESTAMPTZ,
    cancel     BOOLEAN     NOT NULL DEFAULT FALSE,  -- the driver asks the taker to stop it
    progress   BIGINT      NOT NULL DEFAULT 0,      -- bytes of output so far, as last recorded
    outcome    TEXT                                 -- JSON: how its process ended, once it did
);
CREATE INDEX delegations_open ON delegations (attempt_id) WHERE outcome IS NULL;
