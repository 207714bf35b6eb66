//! Steps that run on another node (a step's `runs_on`): the node driving the run records
//! the attempt and hands it over; a live node with the step's labels takes it (once, however
//! many look at once), renders and runs the step itself, and records how its process ended;
//! the driver reads that end and goes on as with a process of its own (runbook, incident,
//! the steps that need it).
//!
//! What the taker records of the process's end is kept as JSON the engine reads back: the
//! store does not look into it.

use chrono::{DateTime, Utc};

/// A handed-over attempt taken by a node, with what it needs to find the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delegated {
    pub attempt_id: i64,
    pub run_id: i64,
    pub job: String,
    pub step: String,
    /// The attempt's number within its step (1, 2, …).
    pub attempt: i64,
}

/// A handed-over attempt as both sides read it while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Delegation {
    pub attempt_id: i64,
    pub run_id: i64,
    /// The labels a node needs to take it.
    pub labels: Vec<String>,
    /// The daemon that took it, and its node's name; `None` while no node has.
    pub daemon_id: Option<i64>,
    pub node: Option<String>,
    pub taken_at: Option<DateTime<Utc>>,
    /// The daemon that took it is gone: stopped, declared dead, or replaced by a newer
    /// daemon of its node (it restarted). Its process's end will never be recorded.
    pub taker_gone: bool,
    /// The driver asked the taker to stop it.
    pub cancel: bool,
    /// Its run is still running (the taker stops the step when it is not).
    pub run_running: bool,
    /// Bytes of output so far, as the taker last recorded them.
    pub progress: i64,
    /// How its process ended, once the taker recorded it.
    pub outcome: Option<serde_json::Value>,
}
