//! Recording history that has already happened: whole runs as they ended (their steps,
//! attempts, gate and slot, with past times), written in one transaction.
//!
//! The engine records a run as it goes (`create_run`, `start_attempt`, `finish_attempt`,
//! `set_run_status` ...), each write stamped with the time it happens. Synthetic history
//! (`unyo synth-history`) knows a month of runs at once, with times in the past: a
//! [`HistoryStore`] takes each run whole, as a value, and writes the rows those calls would
//! have left, in the store's own tokens and time format. Everything else of a month
//! (incidents, notifications, audit, extracts, parameter and permission changes, daemons,
//! watermarks) has explicit times in the [`Store`] methods and goes through them.

use chrono::{DateTime, Utc};

use super::{AttemptEnd, NewAttempt, NewRun, NewSlot, Pending, StepStatus, Store, StoreError};

/// A run as it ended.
#[derive(Debug, Clone)]
pub struct PastRun {
    /// The run as it was created; `status` is the status it ended with, `steps` is not read
    /// (see [`PastRun::steps`]).
    pub run: NewRun,
    /// The slot that made it, recorded with it (its `run` is not read).
    pub slot: Option<NewSlot>,
    /// Why it ended so (`set_run_status`'s reason).
    pub reason: Option<String>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: DateTime<Utc>,
    /// Who asked to cancel it, and when (`request_cancel`).
    pub cancel_requested: Option<(String, DateTime<Utc>)>,
    /// Its steps in declaration order.
    pub steps: Vec<PastStep>,
}

/// A step of a past run, as it ended.
#[derive(Debug, Clone)]
pub struct PastStep {
    pub name: String,
    pub status: StepStatus,
    pub reason: Option<String>,
    /// How many attempts it made (recorded with [`PastWriter::attempts`]).
    pub attempts: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    /// It failed but its dependents ran (`continue`).
    pub continued: bool,
    /// Its approval gate, decided.
    pub gate: Option<PastGate>,
}

/// A decided approval gate (`open_gate`, then `decide_gate`).
#[derive(Debug, Clone)]
pub struct PastGate {
    pub requested_at: DateTime<Utc>,
    pub timeout_at: Option<DateTime<Utc>>,
    pub approved: bool,
    pub decided_by: String,
    pub decided_at: DateTime<Utc>,
    pub comment: String,
}

/// An attempt as it started (`start_attempt`), its process id (`set_attempt_pid`) and how
/// it ended (`finish_attempt`; the step's side of the end is [`PastStep`]'s).
#[derive(Debug, Clone)]
pub struct PastAttempt {
    pub start: NewAttempt,
    pub pid: Option<u32>,
    pub end: AttemptEnd,
}

/// Writes past runs and slots inside the one transaction of
/// [`HistoryStore::write_history`]. A run's attempts name it by id in their command and
/// log path, so they are written once the run has its id.
pub trait PastWriter {
    /// Records a run as it ended, with its slot, steps and gates; returns its id.
    fn run(&mut self, run: &PastRun) -> Result<i64, StoreError>;
    /// Records attempts of recorded steps, as they ended; returns their ids in order.
    fn attempts(&mut self, attempts: &[PastAttempt]) -> Result<Vec<i64>, StoreError>;
    /// Records a slot that made no run.
    fn slot(&mut self, slot: &NewSlot) -> Result<(), StoreError>;
}

/// A store that takes history written after the fact.
pub trait HistoryStore: Store {
    /// Runs `write` inside one write transaction: everything it records commits together,
    /// or nothing does when it returns an error.
    fn write_history<T: Send + 'static>(
        &self,
        action: &'static str,
        write: impl FnOnce(&mut dyn PastWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T>;
    /// Sets what was done about an attempt's failure (`finish_attempt`'s `action`) once it
    /// is known: the incident it opened, whose id exists only after the run was recorded.
    fn set_attempt_action(&self, attempt_id: i64, action: &str) -> Pending<()>;
    /// How many runs are recorded.
    fn count_runs(&self) -> Pending<i64>;
}
