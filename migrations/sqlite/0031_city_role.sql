-- The role `city`: the city's staff, who read the dashboard's city view only and write
-- nothing. SQLite cannot change a table's CHECK, so `web_users` is rebuilt with every row
-- kept; `web_sessions` refers to it, so it is set aside and put back around the rebuild
-- (sessions survive: nobody is logged out by this migration).

CREATE TABLE web_sessions_v31 AS SELECT token_hash, user_name, created_at, expires_at FROM web_sessions;
DROP TABLE web_sessions;

CREATE TABLE web_users_v31 (
    name            TEXT PRIMARY KEY,
    role            TEXT NOT NULL CHECK (role IN ('city', 'viewer', 'operator', 'approver')),
    password_hash   TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    password_set_at TEXT NOT NULL
);
INSERT INTO web_users_v31 (name, role, password_hash, created_at, password_set_at)
    SELECT name, role, password_hash, created_at, password_set_at FROM web_users;
DROP TABLE web_users;
ALTER TABLE web_users_v31 RENAME TO web_users;

CREATE TABLE web_sessions (
    token_hash TEXT PRIMARY KEY,
    user_name  TEXT NOT NULL REFERENCES web_users (name),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL            -- moved forward by every request (idle expiry)
);
INSERT INTO web_sessions (token_hash, user_name, created_at, expires_at)
    SELECT token_hash, user_name, created_at, expires_at FROM web_sessions_v31;
DROP TABLE web_sessions_v31;
CREATE INDEX web_sessions_user ON web_sessions (user_name);
