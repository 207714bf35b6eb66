//! The daemons that share one database as nodes: what each registers (its node's name and
//! labels), whether it is alive by its heartbeats, fencing a daemon that stopped beating,
//! and the leases that let one daemon at a time do a thing (the planner's).
//!
//! Liveness is judged by the database's clock on PostgreSQL (every node beats against the
//! same clock, whatever its own says) and by the caller's `now` on SQLite (one machine, one
//! clock).

use chrono::{DateTime, Utc};
use serde::Serialize;

/// A daemon registering as a node.
#[derive(Debug, Clone, PartialEq)]
pub struct NewNode {
    /// The node's name (`node.name` in unyo.yaml; the host name by default).
    pub name: String,
    /// What work it takes (`node.labels`).
    pub labels: Vec<String>,
    pub host: String,
    pub pid: u32,
    pub version: String,
}

/// A node as the newest daemon registered under its name shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeRow {
    /// The daemon's id: a new one at every start (its epoch).
    pub daemon_id: i64,
    pub name: String,
    pub labels: Vec<String>,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
    /// When another daemon declared it dead, and which.
    pub fenced_at: Option<DateTime<Utc>>,
    pub fenced_by: Option<i64>,
    /// Beating within the timeout asked for, not stopped and not fenced.
    pub alive: bool,
    /// Seconds since its last heartbeat, by the database's clock.
    pub beat_age: f64,
    /// Runs running under its owner token's host and pid.
    pub running: i64,
    /// It holds the planner's lease (it plans the schedules).
    pub planner: bool,
}

/// What a heartbeat found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Beat {
    /// Recorded at `at` (the database's clock on PostgreSQL): the daemon may go on.
    Alive { at: DateTime<Utc> },
    /// Another daemon declared this one dead (it missed its heartbeats): it must stop its
    /// runs' processes and write nothing more for them.
    Fenced,
}

/// A daemon declared dead by [`super::NodeStore::fence_dead`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FencedDaemon {
    pub daemon_id: i64,
    pub node: Option<String>,
    pub host: String,
    pub pid: i64,
}

impl FencedDaemon {
    /// Whether a run's owner token (`host:pid:start`, see `engine::owner`) names this
    /// daemon's process.
    pub fn owns(&self, owner: &str) -> bool {
        crate::domain::host::owner_is(owner, &self.host, self.pid)
    }
}

/// A lease held: by which daemon, in which term (a number that grows each time the lease
/// changes hands).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    pub name: String,
    pub daemon_id: i64,
    pub term: i64,
}
