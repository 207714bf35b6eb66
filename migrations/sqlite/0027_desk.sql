-- The service desk: requests from the city's staff (依頼, 相談, 問合せ, 障害連絡) and every
-- change to them. A run or incident a request links to is an event carrying its id; a run
-- belongs to one request at most.
CREATE TABLE requests (
    id           INTEGER PRIMARY KEY,
    opened_at    TEXT    NOT NULL,
    opened_by    TEXT    NOT NULL,                -- the operator who recorded it
    requester    TEXT    NOT NULL,                -- who asked
    department   TEXT    NOT NULL,
    channel      TEXT    NOT NULL,                -- phone, mail, counter ...
    category     TEXT    NOT NULL CHECK (category IN ('request', 'consultation', 'inquiry', 'fault')),
    text         TEXT    NOT NULL,
    status       TEXT    NOT NULL DEFAULT 'open'
                 CHECK (status IN ('open', 'triaged', 'assigned', 'escalated', 'closed')),
    due_at       TEXT    NOT NULL,                -- the answer is due (the category's deadline)
    answered_at  TEXT,                            -- first answer: first triage or the close
    assignee     TEXT,
    escalated_to TEXT,
    consultation TEXT,                            -- why it needs the city's consultation
    closed_at    TEXT,
    closed_by    TEXT,
    result       TEXT
);
CREATE INDEX requests_status ON requests (status, id);
CREATE INDEX requests_opened ON requests (opened_at);

CREATE TABLE request_events (
    id          INTEGER PRIMARY KEY,
    request_id  INTEGER NOT NULL REFERENCES requests (id),
    at          TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    kind        TEXT    NOT NULL,                 -- opened, triaged, assigned, escalated, linked, consultation, closed
    text        TEXT    NOT NULL DEFAULT '',
    run_id      INTEGER REFERENCES runs (id),     -- a linked run (`desk link --run`, `submit --request`)
    incident_id INTEGER REFERENCES incidents (id) -- a linked incident
);
CREATE INDEX request_events_request ON request_events (request_id, id);
CREATE UNIQUE INDEX request_events_run ON request_events (run_id) WHERE run_id IS NOT NULL;
CREATE UNIQUE INDEX request_events_incident ON request_events (request_id, incident_id)
    WHERE incident_id IS NOT NULL;
