//! Persistence of runs, steps and attempts behind the [`Store`] trait, which is one trait
//! per aggregate (`traits.rs`), with the row types they speak and [`StoreError`].
//!
//! The database is the contract between the CLI and the daemon. The traits speak only plain
//! Rust types (ids, strings, `chrono` times), so SQLite (the embedded default) and PostgreSQL
//! can both implement them. Every write is committed before its future resolves; nothing
//! here decides what to run, and what a write does to an incident, a gate or a frozen
//! report is decided in `domain` and only persisted here.

pub mod bulk;
mod checks;
mod delegations;
mod desk;
pub mod disk;
mod findings;
mod nodes;
pub(crate) mod postgres;
mod proposals;
pub(crate) mod sqlite;
mod today;
mod traits;
mod web;

/// The store's traits: `use crate::store::prelude::*;` to call any store method on a
/// `&dyn Store`.
pub mod prelude {
    pub use super::traits::DayStore;
    pub use super::traits::{
        CheckStore, DelegationStore, DeskStore, IncidentStore, MonitorStore, NodeStore, Outbox,
        RecordStore, ReportStore, RunStore, SlotStore, Store, WebStore,
    };
}

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

pub use crate::domain::status::{
    AttemptStatus, IncidentStatus, NotificationStatus, RunStatus, SlotOutcome, StepStatus, Trigger,
};
pub use checks::{
    CheckRecorded, EndedRun, MetricFacts, NewCheckResult, RunsSince, SlotsSince, TargetChange,
    TargetRow,
};
pub use delegations::{Delegated, Delegation};
pub use desk::{
    Category, DeskChange, DeskFacts, DeskLink, DeskRefusal, NewRequest, RequestEvent,
    RequestFilter, RequestRow, RequestStatus,
};
pub use findings::{DurationSample, FindingRow, NewFinding};
pub use nodes::{Beat, FencedDaemon, Lease, NewNode, NodeRow};
pub use postgres::{Copied, CopyError, PgStore, copy_sqlite, without_password};
pub use proposals::{PerfRow, ProposalFacts, RuleFiring};
pub use sqlite::SqliteStore;
pub use today::{BusinessDay, DayCount, DayFilter, MissedSlots};
pub use traits::DayStore;
pub use traits::{
    CheckStore, DelegationStore, DeskStore, IncidentStore, MonitorStore, NodeStore, Outbox,
    RecordStore, ReportStore, RunStore, SlotStore, Store, WebStore,
};
pub use web::{NewSession, Role, WebUser};

use crate::model::{Database, Settings, Severity};

/// The one wording for a run id that names no run, whichever command was given it.
pub fn no_such_run(id: i64) -> StoreError {
    StoreError::NotFound { what: "run", id }
}

/// The one wording for a request id that names no request, whichever command was given it.
pub fn no_such_request(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "request",
        id,
    }
}

/// The one wording for an incident id that names no incident, whichever command was given it.
pub fn no_such_incident(id: i64) -> StoreError {
    StoreError::NotFound {
        what: "incident",
        id,
    }
}

/// A failed database operation, with what was being done and why, the cause kept apart:
/// another process holding the database, a broken constraint, a record that is not there,
/// a full disk, an I/O failure, a value that does not read back. Every store implementation
/// reports through these, so a caller can tell them apart whichever database it uses.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open database {database}: {message}")]
    Open { database: String, message: String },
    #[error("cannot update the database schema: {0}")]
    Migrate(String),
    /// Another process held the database (busy or locked) for longer than the store waits.
    #[error("database error while {action}: {message}")]
    Busy {
        action: &'static str,
        message: String,
    },
    /// The database server could not be reached (it restarted, the network failed): the
    /// statement did not run, or its transaction was rolled back; trying again later may work.
    #[error("cannot reach the database while {action}: {message}")]
    Unreachable {
        action: &'static str,
        message: String,
    },
    /// A write broke a constraint of the schema (unique, foreign key, check, not null).
    #[error("database error while {action}: {message}")]
    Constraint {
        action: &'static str,
        message: String,
    },
    /// Reading or writing the database file failed below SQL.
    #[error("database error while {action}: {message}")]
    Io {
        action: &'static str,
        message: String,
    },
    /// Any other failure of a statement.
    #[error("database error while {action}: {message}")]
    Query {
        action: &'static str,
        message: String,
    },
    /// What a command named is not recorded.
    #[error("no {what} {id} is recorded")]
    NotFound { what: &'static str, id: i64 },
    #[error("database holds an unexpected value: {0}")]
    Corrupt(String),
    #[error("{0} is not supported yet")]
    Unsupported(String),
    /// Another daemon declared this one dead (it missed its heartbeats) and took over its
    /// work: nothing this daemon writes is committed any more.
    #[error(
        "this daemon (id {daemon_id}) was declared dead by another after missing its \
         heartbeats; it writes nothing more and must stop"
    )]
    Fenced { daemon_id: i64 },
    /// The lease a write depends on (the planner's) passed to another daemon.
    #[error("the `{name}` lease of term {term} is no longer held by this daemon")]
    LeaseLost { name: String, term: i64 },
    /// The file system holding the database has no room left: told apart from other
    /// failures so that the operator reads "disk full" and where, not "disk I/O error".
    #[error(
        "disk full: the file system mounted at `{mount}` has no space left for `{file}` \
         ({detail}); free space there and try again"
    )]
    DiskFull {
        /// The database file.
        file: String,
        /// The mount point of its file system.
        mount: String,
        /// What was being done, and the database's own message.
        detail: String,
    },
}

impl StoreError {
    /// Whether the disk holding the database is full.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, StoreError::DiskFull { .. })
    }

    /// Whether the failure may pass by itself: the database server could not be reached, or
    /// another process held the database for longer than the store waits.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unreachable { .. } | StoreError::Busy { .. }
        )
    }

    /// Whether this daemon was fenced (declared dead by another).
    pub fn is_fenced(&self) -> bool {
        matches!(self, StoreError::Fenced { .. })
    }

    /// Whether another process held the database for longer than the store waits.
    pub fn is_busy(&self) -> bool {
        matches!(self, StoreError::Busy { .. })
    }
}

/// A run about to start (or be queued).
#[derive(Debug, Clone)]
pub struct NewRun {
    pub job: String,
    pub trigger: Trigger,
    pub params: serde_json::Value,
    pub status: RunStatus,
    pub business_date: NaiveDate,
    pub fiscal_year: i32,
    pub at: DateTime<Utc>,
    pub requested_by: String,
    pub host: String,
    pub job_digest: String,
    pub catalog_digest: String,
    /// Step names in declaration order.
    pub steps: Vec<String>,
    /// The process running it (see `engine::owner`); `None` while queued.
    pub owner: Option<String>,
    /// A queued run does not start before this time.
    pub not_before: Option<DateTime<Utc>>,
    /// The schedule whose slot made the run.
    pub schedule: Option<String>,
    /// The run this one repeats.
    pub rerun_of: Option<i64>,
    /// Steps recorded `succeeded` from the start, kept from `rerun_of` (`--from-failed`).
    pub kept_steps: Vec<String>,
    /// The requester's words (`unyo submit --reason`).
    pub comment: Option<String>,
    /// `business_date` (and `fiscal_year`) were given by the operator (`--business-date`, a
    /// rehearsal), not taken from the clock.
    pub business_date_given: bool,
    /// Leave to start outside the job's window (`--outside-window`), with its reason.
    pub outside_window: Option<String>,
}

/// One slot of a schedule, decided; `run` is created with it when the slot starts or queues
/// a run.
#[derive(Debug, Clone)]
pub struct NewSlot {
    pub schedule: String,
    pub job: String,
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub reason: Option<String>,
    pub run: Option<NewRun>,
    pub decided_at: DateTime<Utc>,
}

/// A recorded slot.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlotRow {
    pub id: i64,
    pub schedule: String,
    pub job: String,
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub reason: Option<String>,
    pub run_id: Option<i64>,
    pub decided_at: DateTime<Utc>,
}

/// A daemon as it registered itself.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DaemonRow {
    pub id: i64,
    pub host: String,
    pub pid: i64,
    pub version: String,
    pub started_at: DateTime<Utc>,
    pub heartbeat_at: DateTime<Utc>,
    pub stopped_at: Option<DateTime<Utc>>,
}

/// An attempt about to start; recorded before its process is spawned.
#[derive(Debug, Clone)]
pub struct NewAttempt {
    pub run_id: i64,
    pub step: String,
    pub attempt: i64,
    pub command: serde_json::Value,
    pub log_path: String,
    pub started_at: DateTime<Utc>,
}

/// How an attempt ended.
#[derive(Debug, Clone)]
pub struct AttemptEnd {
    pub status: AttemptStatus,
    /// The process id, when it was not recorded while the attempt ran.
    pub pid: Option<u32>,
    pub ended_at: DateTime<Utc>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub log_bytes: i64,
    pub log_dropped: i64,
    /// The step's status after this attempt (`waiting_retry` when a runbook retries it).
    pub step_status: StepStatus,
    pub step_reason: Option<String>,
    /// The runbook rule that matched this attempt's failure (`runbook#N: description`).
    pub rule: Option<String>,
    /// What was done about it (`retry 2 of 3 in 1m`, `incident #4 (high)`, `continue`).
    pub action: Option<String>,
    /// The remediation command run for it: command, status, exit, output tails.
    pub remediation: Option<serde_json::Value>,
    /// When the next attempt starts, while the step waits for it.
    pub retry_at: Option<DateTime<Utc>>,
    /// The step failed but its dependents run (`continue`).
    pub continued: bool,
}

/// Which runs `list_runs` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct RunFilter {
    pub job: Option<String>,
    pub status: Option<RunStatus>,
    pub limit: i64,
}

/// A run as listed.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunRow {
    pub id: i64,
    pub job: String,
    pub trigger: Trigger,
    pub params: serde_json::Value,
    pub status: RunStatus,
    pub reason: Option<String>,
    pub business_date: NaiveDate,
    pub fiscal_year: i32,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub requested_by: String,
    pub host: String,
    pub job_digest: String,
    pub catalog_digest: String,
    pub owner: Option<String>,
    pub not_before: Option<DateTime<Utc>>,
    pub schedule: Option<String>,
    pub rerun_of: Option<i64>,
    pub comment: Option<String>,
    /// The business date was given by the operator (`--business-date`).
    pub business_date_given: bool,
    /// Leave to start outside the job's window, with its reason (`--outside-window`).
    pub outside_window: Option<String>,
}

/// A step of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRow {
    pub name: String,
    pub position: i64,
    pub status: StepStatus,
    pub reason: Option<String>,
    pub attempts: i64,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub retry_at: Option<DateTime<Utc>>,
    pub continued: bool,
}

/// One attempt of a step.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AttemptRow {
    pub id: i64,
    pub step: String,
    pub attempt: i64,
    pub status: AttemptStatus,
    pub command: serde_json::Value,
    pub log_path: String,
    pub pid: Option<i64>,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub error: Option<String>,
    pub stdout_tail: String,
    pub stderr_tail: String,
    pub log_bytes: i64,
    pub log_dropped: i64,
    pub rule: Option<String>,
    pub action: Option<String>,
    pub remediation: Option<serde_json::Value>,
}

/// A run with its steps and attempts.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RunDetail {
    #[serde(flatten)]
    pub run: RunRow,
    pub steps: Vec<StepRow>,
    pub attempts: Vec<AttemptRow>,
}

/// An incident to open (or, while one for the same job and failure class is not resolved,
/// a new occurrence of that one).
#[derive(Debug, Clone)]
pub struct NewIncident {
    pub at: DateTime<Utc>,
    pub severity: Severity,
    pub job: String,
    pub run_id: Option<i64>,
    pub step: Option<String>,
    pub failure_class: String,
    pub summary: String,
    pub log_excerpt: String,
    pub rule: Option<String>,
    /// When the report on it is due (from the settings' deadline for its severity).
    pub report_deadline: Option<DateTime<Utc>>,
    /// Who opens it: `unyo`, or the operating-system user.
    pub actor: String,
    /// How many occurrences this is (at least 1): the slots of one schedule missed in one
    /// planning pass are one occurrence each, recorded as one event.
    pub occurrences: i64,
}

/// What `open_incident` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IncidentOpened {
    pub id: i64,
    /// False when an open incident got one more occurrence instead.
    pub new: bool,
}

/// An incident as recorded.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentRow {
    pub id: i64,
    pub opened_at: DateTime<Utc>,
    pub severity: Severity,
    pub job: String,
    pub run_id: Option<i64>,
    pub step: Option<String>,
    pub failure_class: String,
    pub summary: String,
    pub log_excerpt: String,
    pub rule: Option<String>,
    pub status: IncidentStatus,
    pub occurrences: i64,
    pub last_seen_at: DateTime<Utc>,
    pub acknowledged_by: Option<String>,
    pub acknowledged_at: Option<DateTime<Utc>>,
    pub resolved_by: Option<String>,
    pub resolved_at: Option<DateTime<Utc>>,
    pub cause: Option<String>,
    pub countermeasure: Option<String>,
    pub report_deadline: Option<DateTime<Utc>>,
    pub escalation_level: i64,
    pub next_escalation_at: Option<DateTime<Utc>>,
    /// The contact route chosen when it was first notified (`desk`, `emergency`,
    /// `after_hours`); `None` until then.
    pub route: Option<String>,
}

/// A message to write to the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotification {
    /// `opened`, `recurred` or `escalated`.
    pub event: String,
    pub level: i64,
    pub channel: String,
}

/// How one try to deliver an outbox message went (`notification_tried`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Delivered; the channel's receipt (an SMTP reply, an HTTP status, a command's output).
    Sent(String),
    /// Not delivered; why.
    Failed(String),
}

/// A message in the outbox: about an incident, or about a waiting approval gate (`run_id`
/// and `step`).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NotificationRow {
    pub id: i64,
    pub incident_id: Option<i64>,
    pub run_id: Option<i64>,
    pub step: Option<String>,
    pub event: String,
    pub route: String,
    pub level: i64,
    pub channel: String,
    pub created_at: DateTime<Utc>,
    pub status: NotificationStatus,
    pub attempts: i64,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub receipt: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// Why it was withdrawn (status `withdrawn`).
    pub reason: Option<String>,
}

/// An approval gate still waiting for its decision, for the notifier.
#[derive(Debug, Clone, PartialEq)]
pub struct WaitingGate {
    pub run_id: i64,
    pub step: String,
    pub job: String,
    pub requested_at: DateTime<Utc>,
    pub timeout_at: Option<DateTime<Utc>>,
    /// When its first notice was written to the outbox.
    pub announced_at: Option<DateTime<Utc>>,
    /// When its reminder before the timeout was written.
    pub reminded_at: Option<DateTime<Utc>>,
}

/// Notices of an approval gate to add to the outbox.
#[derive(Debug, Clone)]
pub struct GateNotice {
    pub run_id: i64,
    pub step: String,
    /// `desk`.
    pub route: String,
    /// Marks the gate announced (its first notice).
    pub announce: bool,
    /// Marks the gate reminded (the notice before its timeout).
    pub remind: bool,
    pub messages: Vec<NewNotification>,
    pub at: DateTime<Utc>,
}

/// What the notifier has to do.
#[derive(Debug, Clone, Default)]
pub struct NotificationWork {
    /// Incidents nobody was told of yet.
    pub unrouted: Vec<IncidentRow>,
    /// New occurrences of routed incidents (the event id, and the incident).
    pub recurred: Vec<(i64, IncidentRow)>,
    /// Open incidents whose next contact level is due.
    pub escalations: Vec<IncidentRow>,
    /// Approval gates waiting for a decision, not yet announced or not yet reminded (of
    /// those with a timeout).
    pub gates: Vec<WaitingGate>,
}

/// Notifications to add for one incident, and where its route then stands.
#[derive(Debug, Clone)]
pub struct NotificationPlan {
    pub incident_id: i64,
    pub route: String,
    /// The contact level reached (1 = the first).
    pub level: i64,
    pub next_escalation_at: Option<DateTime<Utc>>,
    /// The occurrence event these notifications are for, marked notified with them.
    pub event_id: Option<i64>,
    /// Only if the incident is still open (an escalation must not outrun an acknowledgement).
    pub only_if_open: bool,
    pub messages: Vec<NewNotification>,
    pub at: DateTime<Utc>,
}

/// One entry of an incident's history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentEvent {
    pub at: DateTime<Utc>,
    /// `opened`, `occurrence`, `acknowledged`, `resolved`, `note`.
    pub kind: String,
    pub actor: String,
    pub run_id: Option<i64>,
    pub text: String,
}

/// One operator action for the audit trail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditEntry {
    pub at: DateTime<Utc>,
    pub user: String,
    pub host: String,
    /// `run`, `submit`, `cancel`, `incident.ack`, `incident.resolve` ...
    pub action: String,
    /// What it acted on: `job nightly-backup`, `run 12`, `incident 3`.
    pub target: String,
    /// The arguments, secrets already redacted.
    pub args: serde_json::Value,
    /// `done` or `refused`.
    pub outcome: String,
    pub detail: String,
}

/// Which entries of the audit trail a page shows, newest first (the dashboard's Audit).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AuditQuery {
    /// Only this user's (`web:NAME` for a web user).
    pub user: Option<String>,
    /// Only this action (`submit`, `incident.resolve` ...).
    pub action: Option<String>,
    /// Only those at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only those before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only those recorded before entry `before` (the next page's start).
    pub before: Option<i64>,
    pub limit: i64,
}

/// An audit entry with its place in the trail.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AuditRecord {
    /// Grows with every entry appended.
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// A change to a parameter file, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewParamChange {
    pub at: DateTime<Utc>,
    pub file: String,
    /// Key path: `counters.max_sessions`.
    pub key: String,
    /// `None`: the key was absent.
    pub before: Option<serde_json::Value>,
    /// `None`: the key was removed (a rollback of a change that added it).
    pub after: Option<serde_json::Value>,
    pub reason: String,
    pub run_id: Option<i64>,
    pub user: String,
}

/// A recorded change to a parameter file.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParamChange {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub file: String,
    pub key: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
    pub reason: String,
    pub run_id: Option<i64>,
    pub user: String,
    /// The change that undid this one.
    pub rolled_back_by: Option<i64>,
}

/// A data extract written by `unyo act extract`, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewExtract {
    pub at: DateTime<Utc>,
    /// The run whose step wrote it (`UNYO_RUN_ID`), and its job.
    pub run_id: Option<i64>,
    pub job: Option<String>,
    pub db: String,
    pub sql_file: String,
    pub out_file: String,
    /// `utf-8-bom` or `shift_jis`.
    pub encoding: String,
    /// Data rows, the header not counted.
    pub rows: i64,
    /// SHA-256 of the file's bytes.
    pub sha256: String,
    /// The column names written, in order (a JSON array).
    pub columns: serde_json::Value,
    /// Parameter name -> value (a JSON object).
    pub params: serde_json::Value,
    pub user: String,
    /// The group the file was given.
    pub group: Option<String>,
}

/// A recorded data extract.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ExtractRow {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub run_id: Option<i64>,
    pub job: Option<String>,
    pub db: String,
    pub sql_file: String,
    pub out_file: String,
    pub encoding: String,
    pub rows: i64,
    pub sha256: String,
    pub columns: serde_json::Value,
    pub params: serde_json::Value,
    pub user: String,
    pub group: Option<String>,
}

/// One grant or revoke of access made (or skipped) by `unyo act permissions`, to be recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPermissionChange {
    pub at: DateTime<Utc>,
    /// One apply or undo: every change it made shares this.
    pub batch: String,
    pub run_id: Option<i64>,
    pub staff_id: String,
    pub name: String,
    /// The department whose access this is.
    pub department: String,
    /// `group` or `acl`.
    pub kind: String,
    /// The group name, or the folder path of an ACL.
    pub target: String,
    /// `grant` or `revoke`.
    pub op: String,
    /// `applied`, `skipped` or `failed`.
    pub outcome: String,
    /// Why it was skipped or failed.
    pub reason: Option<String>,
    /// The batch an undo undoes.
    pub undo_of: Option<String>,
    pub user: String,
}

/// A recorded grant or revoke.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PermissionChange {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub batch: String,
    pub run_id: Option<i64>,
    pub staff_id: String,
    pub name: String,
    pub department: String,
    pub kind: String,
    pub target: String,
    pub op: String,
    pub outcome: String,
    pub reason: Option<String>,
    pub undo_of: Option<String>,
    pub user: String,
}

/// Which permission changes `list_permission_changes` returns, newest first.
#[derive(Debug, Clone, Default)]
pub struct PermissionFilter {
    pub department: Option<String>,
    pub staff_id: Option<String>,
    pub batch: Option<String>,
    pub limit: i64,
}

/// What the reports read of one period `[from, to)`, as plain values. Runs are those queued
/// in the period; slots those due in it; incidents those opened in it or still not resolved
/// at its start; changes those made in it.
#[derive(Debug, Clone, Default)]
pub struct ReportFacts {
    /// Job names; `RunFact::job` indexes into it.
    pub jobs: Vec<String>,
    /// Job file digests; `RunFact::digest` indexes into it.
    pub digests: Vec<String>,
    pub runs: Vec<RunFact>,
    /// Slots: job, outcome, reason, how many.
    pub slots: Vec<SlotCount>,
    /// Attempts that did not succeed, and retries, by job and kind.
    pub attempts: Vec<AttemptCount>,
    pub incidents: Vec<IncidentRow>,
    pub param_changes: Vec<ParamChange>,
    pub extracts: Vec<ExtractRow>,
    pub permission_changes: Vec<PermissionChange>,
    /// Runs operators submitted (`unyo submit`), with who and why.
    pub submitted: Vec<RunRow>,
    /// When the first notification about each incident of `incidents` was delivered (the
    /// outbox's earliest `sent`), by incident id, in id order; incidents never notified are
    /// not listed.
    pub first_notified: Vec<(i64, DateTime<Utc>)>,
    /// Every slot due in the period of the jobs asked for (the service's backup jobs), in
    /// due order, with the status of its run.
    pub job_slots: Vec<JobSlot>,
    /// The period's runs that refused (`refused`), by job and reason.
    pub refusals: Vec<RefusalCount>,
    /// What the monitoring found in the period (lateness, stuck steps, slow or fast runs),
    /// by when it was found.
    pub findings: Vec<FindingRow>,
}

/// Runs of a job that refused for one reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalCount {
    pub job: String,
    pub reason: Option<String>,
    pub count: i64,
}

/// One slot of a job, with what became of its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobSlot {
    pub job: String,
    pub due_at: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub run_id: Option<i64>,
    /// The run's status now; `None` without a run.
    pub run_status: Option<RunStatus>,
}

/// One run, compactly: a month may hold a million.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunFact {
    pub id: i64,
    pub job: u32,
    pub digest: u32,
    pub trigger: Trigger,
    pub status: RunStatus,
    pub queued_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
}

/// How many slots of a job had one outcome (and reason).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCount {
    pub job: String,
    pub outcome: SlotOutcome,
    pub reason: Option<String>,
    pub count: i64,
}

/// How many attempts of a job ended one way: `status` with `signal` set or not, and whether
/// they were retries (attempt > 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptCount {
    pub job: String,
    pub status: AttemptStatus,
    pub signalled: bool,
    pub retry: bool,
    pub count: i64,
}

/// A rendered report to freeze.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFrozenReport {
    /// `monthly` or `yearly`.
    pub kind: String,
    /// `2026-10`, `FY2026`.
    pub period: String,
    pub lang: String,
    pub format: String,
    pub data_from: DateTime<Utc>,
    pub data_to: DateTime<Utc>,
    pub sha256: String,
    pub body: Vec<u8>,
    pub frozen_at: DateTime<Utc>,
    pub frozen_by: String,
    /// Supersede the current frozen report of the same kind, period, language and form,
    /// for this reason; `None`: freeze only if none is frozen.
    pub supersede: Option<String>,
}

/// A frozen report, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FrozenReport {
    pub id: i64,
    pub kind: String,
    pub period: String,
    pub lang: String,
    pub format: String,
    pub data_from: DateTime<Utc>,
    pub data_to: DateTime<Utc>,
    pub sha256: String,
    pub frozen_at: DateTime<Utc>,
    pub frozen_by: String,
    /// The frozen report this one superseded, and why.
    pub supersedes: Option<i64>,
    pub reason: Option<String>,
    /// The frozen report that superseded this one; `None`: this one is current.
    pub superseded_by: Option<i64>,
}

/// What freezing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Freeze {
    /// Frozen now.
    Frozen(FrozenReport),
    /// The same bytes were frozen before: nothing changed.
    Already(FrozenReport),
    /// This report was frozen before with other bytes (its data changed since): refused.
    Differs(FrozenReport),
    /// Superseding (`NewFrozenReport::supersede`): `old` was current and stays as it was,
    /// `new` is current now.
    Superseded {
        old: Box<FrozenReport>,
        new: Box<FrozenReport>,
    },
    /// Superseding, but nothing of this report is frozen: nothing written.
    NothingToSupersede,
}

/// An approval gate of a run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct GateRow {
    pub run_id: i64,
    pub step: String,
    pub requested_at: DateTime<Utc>,
    pub timeout_at: Option<DateTime<Utc>>,
    /// `approved` or `rejected`; `None` while it waits.
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub comment: Option<String>,
}

/// A held job.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct HoldRow {
    pub job: String,
    pub held_by: String,
    pub held_at: DateTime<Utc>,
    pub reason: String,
}

/// What a cancel request did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelOutcome {
    /// The run was queued: it is cancelled now.
    Cancelled,
    /// The run is running: the process running it stops it (its owner).
    Requested { owner: Option<String> },
    /// Nothing to cancel: the run ended already, with this status.
    Ended(RunStatus),
    /// No such run.
    Unknown,
}

/// Why an approval gate's decision is refused (decided in `domain`).
pub use crate::domain::gate::GateRefusal;
/// An operator's change to an incident, and why one is refused (decided in `domain`).
pub use crate::domain::incident::{IncidentChange, Refusal as IncidentRefusal};

/// The answer to a store call: awaiting it waits for the commit (or the read).
pub type Pending<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// Opens the configured database and brings its schema up to date.
/// Opens the database for a command that only reads: read-only when the file exists and
/// its schema is current, so that reading works on a full disk; otherwise as [`open`] does
/// (a new database is created, pending migrations applied).
pub async fn open_read(settings: &Settings) -> Result<Box<dyn Store>, StoreError> {
    match &settings.database {
        Database::Sqlite(path) => Ok(Box::new(SqliteStore::open_read(path).await?)),
        Database::Postgres(_) => open(settings).await,
    }
}

pub async fn open(settings: &Settings) -> Result<Box<dyn Store>, StoreError> {
    match &settings.database {
        Database::Sqlite(path) => Ok(Box::new(SqliteStore::open(path).await?)),
        Database::Postgres(url) => Ok(Box::new(PgStore::open(url).await?)),
    }
}
