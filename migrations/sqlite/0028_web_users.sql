-- The dashboard's users and their sessions. A password is kept only as its argon2 hash (a
-- PHC string), a session only as the SHA-256 of its token (hex): neither secret is stored.
CREATE TABLE web_users (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('viewer', 'operator', 'approver')),
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    password_set_at TEXT NOT NULL
);

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES web_users (name),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL            -- moved forward by every request (idle expiry)
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
