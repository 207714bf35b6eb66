-- Every operator action, appended as it happens: who (operating-system user, host), what
-- (the action, its target and its arguments with secrets redacted) and whether it was done
-- or refused. unyo never updates or deletes a row of this table.

CREATE TABLE audit (
    id      INTEGER PRIMARY KEY AUTOINCREMENT,
    at      TEXT    NOT NULL,
    user    TEXT    NOT NULL,
    host    TEXT    NOT NULL,
    action  TEXT    NOT NULL,            -- run | submit | cancel | incident.ack | incident.resolve ...
    target  TEXT    NOT NULL,            -- what it acted on: `job nightly-backup`, `run 12`, `incident 3`
    args    TEXT    NOT NULL DEFAULT '{}',  -- JSON
    outcome TEXT    NOT NULL,            -- done | refused
    detail  TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_at ON audit (at);

CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
