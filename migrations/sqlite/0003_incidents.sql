-- Runbooks and incidents: what a runbook did about each failed attempt, and the incidents
-- that reach a person.

ALTER TABLE attempts ADD COLUMN rule        TEXT;   -- the runbook rule that matched: runbook#N (description)
ALTER TABLE attempts ADD COLUMN action      TEXT;   -- what was done: retry, remediation, incident, continue
ALTER TABLE attempts ADD COLUMN remediation TEXT;   -- the remediation command's record, as JSON
ALTER TABLE steps    ADD COLUMN retry_at    TEXT;   -- when the next attempt starts
ALTER TABLE steps    ADD COLUMN continued   INTEGER NOT NULL DEFAULT 0;  -- failed, dependents ran (continue)

CREATE TABLE incidents (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    opened_at          TEXT    NOT NULL,
    severity           TEXT    NOT NULL,            -- low | medium | high | critical
    job                TEXT    NOT NULL,
    run_id             INTEGER REFERENCES runs (id),
    step               TEXT,
    failure_class      TEXT    NOT NULL,            -- e.g. `exit 3`, `timeout`, `interrupted`
    summary            TEXT    NOT NULL,
    log_excerpt        TEXT    NOT NULL DEFAULT '',
    rule               TEXT,                        -- the runbook rule that applied
    status             TEXT    NOT NULL,            -- open | acknowledged | resolved
    occurrences        INTEGER NOT NULL DEFAULT 1,
    last_seen_at       TEXT    NOT NULL,
    acknowledged_by    TEXT,
    acknowledged_at    TEXT,
    resolved_by        TEXT,
    resolved_at        TEXT,
    cause              TEXT,
    countermeasure     TEXT,
    report_deadline    TEXT,                        -- when the report on it is due
    escalation_level   INTEGER NOT NULL DEFAULT 0,  -- the contact level reached so far
    next_escalation_at TEXT                         -- when the next level is told, unless acknowledged
);
-- One incident per job and failure class while it is not resolved (deduplication).
CREATE UNIQUE INDEX incidents_open ON incidents (job, failure_class) WHERE status <> 'resolved';
CREATE INDEX incidents_opened ON incidents (opened_at);

-- Everything that happened to an incident, in order: opened, occurrence, acknowledged,
-- resolved, note (e.g. the job succeeded again). `actor` is the operating-system user or
-- `unyo`.
CREATE TABLE incident_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id INTEGER NOT NULL REFERENCES incidents (id),
    at          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    run_id      INTEGER REFERENCES runs (id),
    text        TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX incident_events_incident ON incident_events (incident_id, id);
