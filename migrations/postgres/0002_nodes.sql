-- Daemons as nodes: the node's name and labels, fencing (another daemon declared it dead),
-- and leases (one daemon at a time does what a lease names: the planner's). Heartbeats and
-- leases are timed by the database's clock.
ALTER TABLE daemons ADD COLUMN node      TEXT;                       -- `node.name` in unyo.yaml
ALTER TABLE daemons ADD COLUMN labels    TEXT NOT NULL DEFAULT '[]'; -- JSON array of `node.labels`
ALTER TABLE daemons ADD COLUMN fenced_at TIMESTAMPTZ;                -- declared dead then
-- Deferrable: `unyo db copy` inserts daemons in id order, and a daemon may be fenced by a
-- later one.
ALTER TABLE daemons ADD COLUMN fenced_by BIGINT REFERENCES daemons (id) DEFERRABLE;
CREATE INDEX daemons_node ON daemons (node, id);

CREATE TABLE leases (
    name       TEXT        PRIMARY KEY,             -- planner
    daemon_id  BIGINT      NOT NULL REFERENCES daemons (id),
    term       BIGINT      NOT NULL,                -- grows each time the lease changes hands
    expires_at TIMESTAMPTZ NOT NULL
);
