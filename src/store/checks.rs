//! The row types of health checks and of the figures the metrics endpoint and `unyo check`
//! read: a check's result to record and what recording it did, a target as recorded, its
//! state changes, and the counts behind `/metrics`. Plain data; the decisions are
//! `domain::check`'s.

use chrono::{DateTime, Utc};

use crate::domain::check::{Change, CheckStatus, TargetKind, TargetState, Thresholds};
use crate::domain::severity::Severity;

/// One result of a check step, to record with its target.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCheckResult {
    pub target: String,
    pub kind: TargetKind,
    pub job: String,
    pub step: String,
    pub run_id: Option<i64>,
    pub at: DateTime<Utc>,
    pub status: CheckStatus,
    /// The plugin's status line (without performance data).
    pub output: String,
    /// Its performance data, as printed.
    pub perfdata: String,
    pub thresholds: Thresholds,
}

/// What recording a result did to its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CheckRecorded {
    pub id: i64,
    pub state: TargetState,
    /// Consecutive results against the state, after this one.
    pub streak: u32,
    pub change: Change,
}

/// A target as recorded: its state and last result.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetRow {
    pub target: String,
    pub kind: TargetKind,
    pub job: String,
    pub step: String,
    pub state: TargetState,
    pub streak: u32,
    /// When its state began (its first result, for a target never changed).
    pub since: DateTime<Utc>,
    pub last_status: CheckStatus,
    pub last_output: String,
    pub last_perfdata: String,
    pub last_at: DateTime<Utc>,
    /// Results recorded.
    pub results: i64,
}

/// A result that changed its target's state.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetChange {
    pub target: String,
    pub kind: TargetKind,
    pub at: DateTime<Utc>,
    /// The state it changed to.
    pub state: TargetState,
    pub output: String,
}

/// A run that has ended, as `/metrics` counts it.
#[derive(Debug, Clone, PartialEq)]
pub struct EndedRun {
    pub id: i64,
    pub job: String,
    pub status: String,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// When the slot that made it was due, for a run a slot made.
    pub due_at: Option<DateTime<Utc>>,
}

/// The runs that ended with an id from a given one on, read in one snapshot with what says
/// which ids can still end: every run below `oldest_active` (or up to `max_id` when none is
/// active) has ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunsSince {
    pub ended: Vec<EndedRun>,
    /// The smallest id of a queued or running run.
    pub oldest_active: Option<i64>,
    /// The largest run id recorded (0: none).
    pub max_id: i64,
}

/// Slots recorded after a given slot id that made no run (missed, skipped), with the largest
/// slot id recorded (slots are written once, with their outcome).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SlotsSince {
    /// (slot id, job, outcome)
    pub not_run: Vec<(i64, String, String)>,
    pub max_id: i64,
}

/// The figures of now that `/metrics` shows, read in one go. The counts of ended runs and
/// slots are kept by the caller, which reads only what is new each time (`runs_since`,
/// `slots_not_run`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MetricFacts {
    /// Queued and running runs: (status, count).
    pub active: Vec<(String, i64)>,
    /// Unresolved incidents: (severity, status, count).
    pub incidents: Vec<(Severity, String, i64)>,
    /// The newest heartbeat of a daemon that has not stopped.
    pub heartbeat: Option<DateTime<Utc>>,
}
