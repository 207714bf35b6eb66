-- Signals: approval gates announce themselves through the outbox (a waiting gate is not an
-- incident), and a message nobody needs any more is withdrawn with its reason instead of
-- being sent (a later escalation level of an acknowledged incident, a notice of an approval
-- decided already).

-- The outbox again, with `incident_id` optional: a message is about an incident, or about
-- the approval step `step` of run `run_id`.
CREATE TABLE notifications_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER REFERENCES incidents (id),  -- NULL for a notice of an approval gate
    run_id          INTEGER REFERENCES runs (id),       -- the gate's run (NULL for incidents)
    step            TEXT,                               -- the gate's step (NULL for incidents)
    event           TEXT    NOT NULL,   -- opened | recurred | escalated | approval_waiting | approval_reminder
    route           TEXT    NOT NULL,
    level           INTEGER NOT NULL,   -- 1 = the first contact level
    channel         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL,   -- pending | sent | failed | withdrawn
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    receipt         TEXT,
    sent_at         TEXT,
    reason          TEXT,               -- why it was withdrawn
    CHECK ((incident_id IS NULL) <> (run_id IS NULL))
);
INSERT INTO notifications_new (id, incident_id, event, route, level, channel, created_at,
                               status, attempts, next_attempt_at, last_error, receipt, sent_at)
    SELECT id, incident_id, event, route, level, channel, created_at, status, attempts,
           next_attempt_at, last_error, receipt, sent_at
    FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_new RENAME TO notifications;
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id, id);
CREATE INDEX notifications_gate ON notifications (run_id, step) WHERE run_id IS NOT NULL;

-- When the gate's notices were written to the outbox: at the start of the wait, and before
-- its timeout.
ALTER TABLE gates ADD COLUMN announced_at TEXT;
ALTER TABLE gates ADD COLUMN reminded_at TEXT;
