//! The store's traits, one per aggregate, and [`Store`], all of them together. Callers
//! `use crate::store::prelude::*;` so that every method can be called on a `&dyn Store`.

use chrono::{DateTime, NaiveDate, Utc};

use super::*;

/// Runs, their steps and attempts, claims, cancel requests, approval gates and held jobs.
/// See [`Store`] for the rule every write follows.
pub trait RunStore: Send + Sync + std::fmt::Debug {
    /// Records a run and its steps (all `pending`); returns the run id.
    fn create_run(&self, run: &NewRun) -> Pending<i64>;
    /// Moves a run to `status`; sets `started_at` when it starts and `ended_at` when it ends.
    /// A final status also ends the steps that never started (`cancelled`, with `reason`);
    /// `interrupted` also ends the running steps and attempts as `interrupted`.
    fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Pending<()>;
    /// Records an attempt as running (and its step as running); returns the attempt id.
    fn start_attempt(&self, attempt: &NewAttempt) -> Pending<i64>;
    /// Records the process id of a started attempt.
    fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Pending<()>;
    /// Records how an attempt ended and the step's resulting status.
    fn finish_attempt(&self, attempt_id: i64, end: &AttemptEnd) -> Pending<()>;
    /// Ends a step that never ran (skipped or cancelled), with the reason.
    fn end_step(
        &self,
        run_id: i64,
        step: &str,
        status: StepStatus,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Pending<()>;
    fn list_runs(&self, filter: &RunFilter) -> Pending<Vec<RunRow>>;
    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>>;
    /// The run's own row, without its steps and attempts (what a caller that needs only the
    /// run's times or status reads, whatever the size of the run).
    fn get_run_row(&self, run_id: i64) -> Pending<Option<RunRow>>;
    /// Runs that are queued or running, oldest first.
    fn active_runs(&self) -> Pending<Vec<RunRow>>;
    /// Takes a queued run: it becomes `running` under `owner`. False when it was no longer
    /// queued (another daemon took it, or it was cancelled).
    fn claim_run(&self, run_id: i64, owner: &str, at: DateTime<Utc>) -> Pending<bool>;
    /// Takes a running run over from an owner that is gone (to resume it). False when the
    /// run is no longer running under `old_owner`.
    fn take_over(&self, run_id: i64, old_owner: Option<&str>, new_owner: &str) -> Pending<bool>;
    /// Sets when a queued run may start, and why it waits.
    fn defer_run(&self, run_id: i64, not_before: DateTime<Utc>, reason: &str) -> Pending<()>;
    /// True when a run of `job` for `business_date` has succeeded.
    fn succeeded(&self, job: &str, business_date: NaiveDate) -> Pending<bool>;
    /// An operator asks to cancel a run (see [`CancelOutcome`]).
    fn request_cancel(&self, run_id: i64, user: &str, at: DateTime<Utc>) -> Pending<CancelOutcome>;
    /// Who asked to cancel a run, if anyone did.
    fn cancel_requested(&self, run_id: i64) -> Pending<Option<String>>;
    /// Opens a step's approval gate (kept when it exists, so a resumed run finds its
    /// decision) and marks the step `waiting_approval` with `reason`.
    fn open_gate(
        &self,
        run_id: i64,
        step: &str,
        at: DateTime<Utc>,
        timeout_at: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Pending<()>;
    /// A step's approval gate.
    fn gate(&self, run_id: i64, step: &str) -> Pending<Option<GateRow>>;
    /// An operator's decision; `Err` says why it cannot be taken (none waiting, decided).
    /// The gate's pending notices are withdrawn with it.
    fn decide_gate(
        &self,
        run_id: i64,
        step: &str,
        approve: bool,
        user: &str,
        comment: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<(), GateRefusal>>;
    /// Holds a job's schedules; false when it was held already.
    fn hold(&self, job: &str, user: &str, at: DateTime<Utc>, reason: &str) -> Pending<bool>;
    /// Releases a held job; false when it was not held.
    fn release(&self, job: &str) -> Pending<bool>;
    /// Every held job.
    fn holds(&self) -> Pending<Vec<HoldRow>>;
}

/// Schedule slots, watermarks and the daemons that decide them.
/// See [`Store`] for the rule every write follows.
pub trait SlotStore: Send + Sync + std::fmt::Debug {
    /// Records decided slots (with the runs they make) and moves the watermarks, in one
    /// transaction. A slot already recorded for the same schedule and fire time is left as it
    /// is and makes no run. Returns, per slot, the id of the run it made.
    fn record_slots(
        &self,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>>;
    /// Every schedule's watermark.
    fn watermarks(&self) -> Pending<Vec<(String, DateTime<Utc>)>>;
    /// Slots, newest first.
    fn list_slots(&self, schedule: Option<&str>, limit: i64) -> Pending<Vec<SlotRow>>;
    /// Registers a starting daemon; returns its id.
    fn register_daemon(
        &self,
        host: &str,
        pid: u32,
        version: &str,
        at: DateTime<Utc>,
    ) -> Pending<i64>;
    /// Records that a daemon is alive (`stopped` false) or has stopped.
    fn heartbeat(&self, daemon_id: i64, at: DateTime<Utc>, stopped: bool) -> Pending<()>;
    /// Daemons, newest first.
    fn daemons(&self, limit: i64) -> Pending<Vec<DaemonRow>>;
}

/// Incidents and their history.
/// See [`Store`] for the rule every write follows.
pub trait IncidentStore: Send + Sync + std::fmt::Debug {
    /// Opens an incident, or adds an occurrence to the unresolved one for the same job and
    /// failure class (raising its severity when the new one is higher).
    fn open_incident(&self, incident: &NewIncident) -> Pending<IncidentOpened>;
    /// Incidents, newest first.
    fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: i64,
    ) -> Pending<Vec<IncidentRow>>;
    /// One incident and its history.
    fn get_incident(&self, id: i64) -> Pending<Option<(IncidentRow, Vec<IncidentEvent>)>>;
    /// Applies an operator's change; `Err` says why it does not apply (unknown incident,
    /// already resolved ...), and nothing is written then. In the same transaction the
    /// incident's pending messages nobody needs any more are withdrawn with the reason: an
    /// acknowledgement withdraws those of later contact levels (level 2 and up), a
    /// resolution all of them.
    fn change_incident(
        &self,
        id: i64,
        change: &IncidentChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<IncidentRow, IncidentRefusal>>;
    /// A run of `job` succeeded: every unresolved incident of the job gets a note, and is
    /// resolved by unyo when `resolve` is set (its pending messages withdrawn). Returns the
    /// incidents touched. A target's incident (`domain::check::target_class`) is left to
    /// its target ([`CheckStore::target_recovered`]).
    fn job_recovered(
        &self,
        job: &str,
        run_id: i64,
        at: DateTime<Utc>,
        resolve: bool,
    ) -> Pending<Vec<i64>>;
}

/// The notification outbox.
/// See [`Store`] for the rule every write follows.
pub trait Outbox: Send + Sync + std::fmt::Debug {
    /// What the notifier has to do at `now`.
    fn notification_work(&self, now: DateTime<Utc>, limit: i64) -> Pending<NotificationWork>;
    /// Writes notifications to the outbox and moves the incident's route, in one
    /// transaction. False when `only_if_open` and the incident is no longer open.
    fn plan_notifications(&self, plan: &NotificationPlan) -> Pending<bool>;
    /// Writes an approval gate's notices to the outbox and marks it announced or reminded,
    /// in one transaction, only while the gate still waits; false when it does not.
    fn plan_gate_notice(&self, notice: &GateNotice) -> Pending<bool>;
    /// Outbox messages due for (another) try.
    fn due_notifications(&self, now: DateTime<Utc>, limit: i64) -> Pending<Vec<NotificationRow>>;
    /// Records a try: `Ok(receipt)` sent, `Err(why)` failed, to be tried again at `retry_at`
    /// or given up when that is `None`.
    fn notification_tried(
        &self,
        id: i64,
        result: Delivery,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Pending<()>;
    /// Outbox messages, newest first; `failed` only those given up.
    fn list_notifications(&self, failed: bool, limit: i64) -> Pending<Vec<NotificationRow>>;
}

/// What operators did: the audit trail, parameter changes, data extracts, permission changes.
/// See [`Store`] for the rule every write follows.
pub trait RecordStore: Send + Sync + std::fmt::Debug {
    /// Appends an operator action to the audit trail.
    fn audit(&self, entry: &AuditEntry) -> Pending<()>;
    /// The audit trail, oldest first, from `since`, of `user` when given.
    fn list_audit(
        &self,
        since: Option<DateTime<Utc>>,
        user: Option<&str>,
        limit: i64,
    ) -> Pending<Vec<AuditEntry>>;
    /// The audit trail newest first, filtered by `query`, at most `query.limit` entries.
    fn audit_page(&self, query: &AuditQuery) -> Pending<Vec<AuditRecord>>;
    /// Records a change to a parameter file; returns its id.
    fn record_param_change(&self, change: &NewParamChange) -> Pending<i64>;
    /// Parameter changes, newest first, of `key` when given.
    fn list_param_changes(&self, key: Option<&str>, limit: i64) -> Pending<Vec<ParamChange>>;
    /// One parameter change.
    fn get_param_change(&self, id: i64) -> Pending<Option<ParamChange>>;
    /// Marks change `id` undone by change `by`; false when it was rolled back already.
    fn mark_rolled_back(&self, id: i64, by: i64) -> Pending<bool>;
    /// Records a data extract; returns its id.
    fn record_extract(&self, extract: &NewExtract) -> Pending<i64>;
    /// Data extracts, newest first.
    fn list_extracts(&self, limit: i64) -> Pending<Vec<ExtractRow>>;
    /// Records the grants and revokes of one apply or undo, in one transaction; returns their
    /// ids in order.
    fn record_permission_changes(&self, changes: &[NewPermissionChange]) -> Pending<Vec<i64>>;
    /// Permission changes, newest first.
    fn list_permission_changes(&self, filter: &PermissionFilter) -> Pending<Vec<PermissionChange>>;
}

/// What the reports read, and frozen reports.
/// See [`Store`] for the rule every write follows.
pub trait ReportStore: Send + Sync + std::fmt::Debug {
    /// Freezes a rendered report, unless it was frozen before (see [`Freeze`]), or supersedes
    /// the current frozen one when `supersede` gives a reason (same bytes: `Already`).
    fn freeze_report(&self, report: &NewFrozenReport) -> Pending<Freeze>;
    /// One frozen report, by id.
    fn frozen_report(&self, id: i64) -> Pending<Option<FrozenReport>>;
    /// The frozen reports with these bytes' SHA-256.
    fn frozen_reports_by_hash(&self, sha256: &str) -> Pending<Vec<FrozenReport>>;
    /// The current frozen reports (those no other supersedes), newest first, at most `limit`.
    fn current_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>>;
    /// One frozen report, by id, with its bytes as frozen.
    fn frozen_report_body(&self, id: i64) -> Pending<Option<(FrozenReport, Vec<u8>)>>;
    /// The frozen reports, newest first, at most `limit`.
    fn list_frozen_reports(&self, limit: i64) -> Pending<Vec<FrozenReport>>;
    /// What the reports read of the period `[from, to)`.
    fn report_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot_jobs: &[String],
    ) -> Pending<ReportFacts>;
    /// What the improvement proposals read of `[from, to)` beyond [`ReportFacts`]: the
    /// failed attempts a runbook rule matched (of runs queued in it), oldest first, and the
    /// performance data of the hardware targets' results in it, by target then time.
    fn proposal_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<ProposalFacts>;
}

/// What the monitoring reads and records: when a run's slot was due, a job's last
/// successful durations, and findings (lateness, stuck steps, slow or fast runs).
/// See [`Store`] for the rule every write follows.
pub trait MonitorStore: Send + Sync + std::fmt::Debug {
    /// When the slot that made a run was due (after a closed-day shift); `None` for a run no
    /// slot made.
    fn slot_due_at(&self, run_id: i64) -> Pending<Option<DateTime<Utc>>>;
    /// The last `limit` succeeded runs of `job` before run `before` (lower ids), newest
    /// first, with their business dates and how long each ran.
    fn recent_durations(&self, job: &str, before: i64, limit: i64) -> Pending<Vec<DurationSample>>;
    /// Records a finding; false (and nothing written) when the run has one of that kind.
    fn record_finding(&self, finding: &NewFinding) -> Pending<bool>;
    /// Notes the incident a finding opened (or added an occurrence to).
    fn set_finding_incident(&self, run_id: i64, kind: &str, incident_id: i64) -> Pending<()>;
    /// The findings of one run, oldest first.
    fn run_findings(&self, run_id: i64) -> Pending<Vec<FindingRow>>;
    /// Findings made in `[from, to)`, oldest first.
    fn list_findings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<Vec<FindingRow>>;
}

/// Health checks' results and targets, and the figures monitors read.
/// See [`Store`] for the rule every write follows.
pub trait CheckStore: Send + Sync + std::fmt::Debug {
    /// Records a check's result and its target's state afterwards (`domain::check::next`
    /// over the recorded state), in one transaction; a target seen first starts up.
    fn record_check(&self, result: &NewCheckResult) -> Pending<CheckRecorded>;
    /// Every target, by name.
    fn targets(&self) -> Pending<Vec<TargetRow>>;
    /// The results that changed a target's state before `to`, oldest first.
    fn target_changes(&self, to: DateTime<Utc>) -> Pending<Vec<TargetChange>>;
    /// Target `target` of `job` came back up: its unresolved incident (of class
    /// `domain::check::target_class`) is resolved by unyo when open, noted when someone
    /// acknowledged it. Returns the incidents touched.
    fn target_recovered(
        &self,
        job: &str,
        target: &str,
        run_id: Option<i64>,
        at: DateTime<Utc>,
    ) -> Pending<Vec<i64>>;
    /// The figures of now `/metrics` shows: queued and running runs, unresolved incidents,
    /// the running daemon's heartbeat (the counts of ended runs and slots are left empty).
    fn metric_facts(&self) -> Pending<MetricFacts>;
    /// The ended runs with id `from_id` or above, by id, at most `limit`, with the smallest
    /// id still active and the largest id, in one snapshot.
    fn runs_since(&self, from_id: i64, limit: i64) -> Pending<RunsSince>;
    /// The slots after slot `after_id` that made no run (missed or skipped), by id, and the
    /// largest slot id.
    fn slots_not_run(&self, after_id: i64) -> Pending<SlotsSince>;
    /// Slots missed since `since` (due then or later), by job.
    fn missed_since(&self, since: DateTime<Utc>) -> Pending<Vec<(String, i64)>>;
}

/// The daemons sharing the database as nodes, their heartbeats, fencing and leases (see
/// `nodes.rs`). Times are the database's clock on PostgreSQL; SQLite uses the `now` given.
/// See [`Store`] for the rule every write follows.
pub trait NodeStore: Send + Sync + std::fmt::Debug {
    /// From now on every write of this handle commits only while daemon `daemon_id` is not
    /// fenced: a write of a fenced daemon fails with [`StoreError::Fenced`] and leaves
    /// nothing. A fence that another daemon commits waits for a write of this handle in
    /// progress, so nothing of this handle commits after it.
    fn fence_writes(&self, daemon_id: i64);
    /// Notified when a process asks this installation's daemons for something (a run
    /// queued, a cancel, an approval's decision): a wake-up only, what to do is read from
    /// the records. `None` when the database cannot tell (SQLite: one daemon polls).
    fn wakeups(&self) -> Option<std::sync::Arc<tokio::sync::Notify>>;
    /// Registers a starting daemon as a node; returns its id (new at every start).
    fn register_node(&self, node: &NewNode, now: DateTime<Utc>) -> Pending<i64>;
    /// Records daemon `daemon_id`'s heartbeat, unless another daemon fenced it (then
    /// nothing is written and [`Beat::Fenced`] says so).
    fn beat(&self, daemon_id: i64, now: DateTime<Utc>) -> Pending<Beat>;
    /// Every node by name, as its newest daemon shows it: alive when it is neither stopped
    /// nor fenced and beat within `timeout`.
    fn nodes(&self, now: DateTime<Utc>, timeout: std::time::Duration) -> Pending<Vec<NodeRow>>;
    /// Declares dead (fences) every daemon but `by` that is neither stopped nor fenced and
    /// has not beaten within `timeout`, and returns them; their leases end (expired: the next holder gets a new term). A daemon
    /// fenced once is never fenced again, so of two daemons fencing at once one returns it.
    fn fence_dead(
        &self,
        by: i64,
        now: DateTime<Utc>,
        timeout: std::time::Duration,
    ) -> Pending<Vec<FencedDaemon>>;
    /// Takes lease `name` for daemon `daemon_id` until `length` from now, or renews it when
    /// that daemon holds it already. `None` when another daemon holds it unexpired, or when
    /// `daemon_id` is stopped or fenced. The term grows each time the lease changes hands.
    fn take_lease(
        &self,
        name: &str,
        daemon_id: i64,
        now: DateTime<Utc>,
        length: std::time::Duration,
    ) -> Pending<Option<Lease>>;
    /// Records the planner's decided slots as [`SlotStore::record_slots`] does, only while
    /// `lease` is held (by its daemon, in its term, unexpired), checked in the same
    /// transaction: otherwise nothing is written and the write fails with
    /// [`StoreError::LeaseLost`]. A planner that was paused past its lease writes nothing.
    fn record_planned(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>>;
}

/// Steps that run on another node (see `delegations.rs`): handed over by the node driving
/// the run, taken by one node with the step's labels, their process's end recorded by it.
/// See [`Store`] for the rule every write follows.
pub trait DelegationStore: Send + Sync + std::fmt::Debug {
    /// Hands attempt `attempt_id` (recorded by [`RunStore::start_attempt`]) over to a node
    /// with every label of `labels`; on PostgreSQL the daemons are woken.
    fn delegate(&self, attempt_id: i64, labels: &[String]) -> Pending<()>;
    /// Takes, for daemon `daemon_id` whose node has `labels`, up to `limit` handed-over
    /// attempts it may run (oldest first): not taken, not cancelled, of running runs, every
    /// label of theirs among `labels`. Each is taken by one daemon among any number taking
    /// at once; a daemon stopped or fenced takes nothing.
    fn take_delegated(
        &self,
        daemon_id: i64,
        labels: &[String],
        now: DateTime<Utc>,
        limit: i64,
    ) -> Pending<Vec<Delegated>>;
    /// The taker records the command it runs (its node named in it) and where its log is.
    fn delegated_started(
        &self,
        attempt_id: i64,
        command: &serde_json::Value,
        log_path: &str,
    ) -> Pending<()>;
    /// A handed-over attempt as it stands; `None` for an attempt never handed over.
    fn delegation(&self, attempt_id: i64) -> Pending<Option<Delegation>>;
    /// The taker records how many bytes of output its process wrote so far.
    fn delegated_progress(&self, attempt_id: i64, bytes: i64) -> Pending<()>;
    /// The driver asks for a handed-over attempt to stop; `true` when a node had taken it
    /// (whose end is then awaited), `false` when none had (none will take it now).
    fn cancel_delegated(&self, attempt_id: i64) -> Pending<bool>;
    /// Daemon `daemon_id`, which took the attempt, records how its process ended; `false`
    /// (nothing written) when another daemon took it or its end is recorded already.
    fn end_delegated(
        &self,
        attempt_id: i64,
        daemon_id: i64,
        outcome: &serde_json::Value,
    ) -> Pending<bool>;
    /// Ends with `outcome` the hand-overs that earlier daemons of node `node` (not
    /// `daemon_id`) took and did not end, and returns them: a restarted node stops the
    /// processes they left, and their runs read why.
    fn end_left(
        &self,
        node: &str,
        daemon_id: i64,
        outcome: &serde_json::Value,
    ) -> Pending<Vec<Delegated>>;
}

/// The service desk: requests from the city's staff and their history (see `desk.rs`).
/// See [`Store`] for the rule every write follows.
pub trait DeskStore: Send + Sync + std::fmt::Debug {
    /// Records a request (`open`) and its `opened` event; returns its id.
    fn open_request(&self, request: &NewRequest) -> Pending<i64>;
    /// Requests as `filter` asks: unclosed first, then closed, each by id.
    fn list_requests(&self, filter: &RequestFilter) -> Pending<Vec<RequestRow>>;
    /// One request and its history, oldest first.
    fn get_request(&self, id: i64) -> Pending<Option<(RequestRow, Vec<RequestEvent>)>>;
    /// Applies an operator's change (decided by `domain::desk::change`) with its event, in
    /// one transaction; `Err` says why it does not apply (unknown or closed request, a linked
    /// run or incident not recorded, a run linked to another request ...), and nothing is
    /// written then.
    fn change_request(
        &self,
        id: i64,
        change: &DeskChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<RequestRow, DeskRefusal>>;
    /// What the report reads of the desk for `[from, to)` (see [`DeskFacts`]).
    fn desk_facts(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<DeskFacts>;
}

/// The dashboard's users and sessions (see `web.rs`). See [`Store`] for the rule every
/// write follows.
pub trait WebStore: Send + Sync + std::fmt::Debug {
    /// Records a user; `false` (and nothing written) when the name is taken.
    fn add_web_user(&self, user: &WebUser) -> Pending<bool>;
    /// Every user, by name.
    fn list_web_users(&self) -> Pending<Vec<WebUser>>;
    /// One user by name.
    fn get_web_user(&self, name: &str) -> Pending<Option<WebUser>>;
    /// Removes a user and ends every session of theirs; `false` when there is no such user.
    fn remove_web_user(&self, name: &str) -> Pending<bool>;
    /// Sets a user's password hash and ends every session of theirs (a new password logs
    /// everyone out); `false` when there is no such user.
    fn set_web_password(&self, name: &str, password_hash: &str, at: DateTime<Utc>)
    -> Pending<bool>;
    /// Records a session.
    fn open_web_session(&self, session: &NewSession) -> Pending<()>;
    /// The user of the session whose token hashes to `token_hash`, if it has not expired at
    /// `now`; its expiry moves to `now + idle` then (idle expiry). An expired session is
    /// deleted.
    fn touch_web_session(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
        idle: chrono::Duration,
    ) -> Pending<Option<WebUser>>;
    /// Ends a session (logout); `false` when there was none.
    fn end_web_session(&self, token_hash: &str) -> Pending<bool>;
}

/// What the dashboard's Today reads of one business date (see `today.rs`).
pub trait DayStore: Send + Sync + std::fmt::Debug {
    /// The runs of `filter.date`: every one counted by status and node, and the newest
    /// `filter.limit` of those with one of its statuses (any when none) on its node (any
    /// when none), newest first.
    fn business_day(&self, filter: &DayFilter) -> Pending<BusinessDay>;
    /// The slots due in `[from, to)` that were missed (the daemon was not running): how
    /// many, and the first `limit` by due time.
    fn missed_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Pending<MissedSlots>;
}

/// Where runs are recorded.
///
/// Write methods *issue* their write when called, before the returned future is first
/// polled, and a store commits writes in the order they were issued; awaiting the future
/// waits until the write is committed. The engine relies on this: it issues the end of a
/// step, then lets the steps that need it start, whose start records are therefore never
/// committed before that end.
pub trait Store:
    RunStore
    + SlotStore
    + IncidentStore
    + Outbox
    + RecordStore
    + ReportStore
    + MonitorStore
    + CheckStore
    + NodeStore
    + DelegationStore
    + DeskStore
    + WebStore
    + DayStore
{
}

impl<T> Store for T where
    T: RunStore
        + SlotStore
        + IncidentStore
        + Outbox
        + RecordStore
        + ReportStore
        + MonitorStore
        + CheckStore
        + NodeStore
        + DelegationStore
        + DeskStore
        + WebStore
        + DayStore
{
}
