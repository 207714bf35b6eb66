-- Notifications: every message to a person is written here first, then sent by the daemon,
-- retried with backoff, and its delivery recorded.

ALTER TABLE incidents ADD COLUMN route TEXT;                  -- desk | emergency | after_hours; NULL until routed
ALTER TABLE incident_events ADD COLUMN notified INTEGER NOT NULL DEFAULT 0;

CREATE TABLE notifications (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    incident_id     INTEGER NOT NULL REFERENCES incidents (id),
    event           TEXT    NOT NULL,           -- opened | recurred | escalated
    route           TEXT    NOT NULL,
    level           INTEGER NOT NULL,           -- 1 = the first contact level
    channel         TEXT    NOT NULL,
    created_at      TEXT    NOT NULL,
    status          TEXT    NOT NULL,           -- pending | sent | failed
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT    NOT NULL,
    last_error      TEXT,
    receipt         TEXT,
    sent_at         TEXT
);
CREATE INDEX notifications_due ON notifications (next_attempt_at) WHERE status = 'pending';
CREATE INDEX notifications_incident ON notifications (incident_id, id);
CREATE INDEX incidents_unrouted ON incidents (id) WHERE route IS NULL;
CREATE INDEX incidents_escalation ON incidents (next_escalation_at) WHERE status = 'open';
