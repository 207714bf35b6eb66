-- The dashboard's users and their sessions (see the SQLite migration 0028_web_users.sql).
CREATE TABLE web_users (
    name            text PRIMARY KEY,
    role            text NOT NULL CHECK (role IN ('viewer', 'operator', 'approver')),
    password_hash   text NOT NULL,
    created_at      timestamptz NOT NULL,
    password_set_at timestamptz NOT NULL
);

CREATE TABLE web_sessions (
    token_hash text PRIMARY KEY,
    user_name  text NOT NULL REFERENCES web_users (name),
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX web_sessions_user ON web_sessions (user_name);
