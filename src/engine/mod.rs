//! One run of one job: steps in DAG order, independent steps in parallel up to a limit, each
//! attempt recorded before its process starts and after it ends.
//!
//! The engine decides what runs next and what is skipped; `exec` runs a single process and
//! `store` records. A failed step stops the steps that need it (recorded `skipped` with the
//! reason) while independent branches finish; so does a step that refused (an exit code of
//! its `refuse_exit`), which ends its run `refused` with no runbook and no incident.
//! Cancellation stops launching new steps, stops the running ones through their process
//! groups and records `cancelled`.

pub mod owner;
pub mod params;
pub mod template;

pub use crate::domain::host::{hostname, os_user};
pub use crate::exec::describe_exit;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use crate::exec::{self, Exit, Program};
use crate::model::{Action, Catalog, Job, Settings, Step};
use crate::store::{
    AttemptEnd, AttemptStatus, NewAttempt, NewRun, RunStatus, StepStatus, Store, StoreError,
    Trigger,
};
use template::Renderer;

/// How long a step runs before its process id is recorded on its own; a step that ends
/// sooner has it recorded with its end. Should unyo die within this time, the step's
/// processes are still found by the `UNYO_RUN_ID` and `UNYO_STEP` in their environment.
pub const PID_RECORD_DELAY: Duration = Duration::from_millis(20);

/// How often a run looks for an operator's cancel request in the database.
pub const CANCEL_POLL: Duration = Duration::from_secs(1);

/// Bytes of each output stream kept in the database.
pub const TAIL_BYTES: usize = 4096;

/// What to run.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub job: Arc<Job>,
    /// Resolved values (see [`params::resolve`]), secret ones included: they are recorded
    /// masked and reach the steps' environment only.
    pub params: IndexMap<String, String>,
    pub trigger: Trigger,
    /// Why, in the requester's words (`--reason`): recorded, and given to the steps.
    pub reason: Option<String>,
    /// Steps run at once.
    pub parallel: usize,
    pub requested_by: String,
    /// A business date the operator gave (`--business-date`, a rehearsal) instead of the
    /// clock's.
    pub business_date: Option<NaiveDate>,
}

/// A run that is recorded as running and about to be driven.
#[derive(Debug, Clone)]
pub struct Started {
    pub run_id: i64,
    pub job: Arc<Job>,
    /// The values as recorded (secret ones masked).
    pub params: IndexMap<String, String>,
    /// Secret values given to this process (a foreground run), never recorded; the others
    /// come from the environment (`from_env`).
    pub secrets: IndexMap<String, String>,
    /// The requester's `--reason` (`{{reason}}`, `UNYO_REASON`).
    pub reason: Option<String>,
    pub business_date: NaiveDate,
    pub fiscal_year: i32,
    /// Steps run at once.
    pub parallel: usize,
    /// Where each step stands when a run is taken up again after a restart (one entry per
    /// step, in declaration order); empty for a new run.
    pub resume: Vec<Resume>,
}

/// Where a step stands when its run is taken up again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resume {
    /// Not started yet.
    Pending,
    /// Ended (`continued`: failed, but the steps that need it run).
    Done { status: StepStatus, continued: bool },
    /// Waiting for attempt number `attempt`, due at `at`.
    Retry { attempt: i64, at: DateTime<Utc> },
}

/// Why a run is stopped before its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// An operator cancelled it (Ctrl-C of `unyo run`, `unyo cancel`).
    Operator,
    /// The daemon is shutting down and the grace period is over.
    Shutdown,
    /// A new slot of the job replaced it (`overlap: replace`).
    Replaced { by: i64 },
    /// The daemon is stopping: running steps may finish, nothing new starts, and a run
    /// left with steps to do is taken up again at the next start. Not an end by itself.
    Drain,
}

impl Stop {
    /// The status the run ends with.
    pub fn run_status(self) -> RunStatus {
        match self {
            Stop::Shutdown | Stop::Drain => RunStatus::Interrupted,
            Stop::Operator | Stop::Replaced { .. } => RunStatus::Cancelled,
        }
    }

    /// The reason recorded on the run and its stopped steps.
    pub fn reason(self) -> String {
        match self {
            Stop::Operator => "cancelled by the operator".to_owned(),
            Stop::Shutdown => "the daemon was stopped before the run ended".to_owned(),
            Stop::Replaced { by } => format!("replaced by run {by} (overlap: replace)"),
            Stop::Drain => "the daemon is stopping".to_owned(),
        }
    }
}

/// Something that happened during a run, for live display.
#[derive(Debug, Clone)]
pub enum Event {
    RunStarted {
        run_id: i64,
        business_date: NaiveDate,
    },
    StepStarted {
        step: String,
        attempt: i64,
    },
    StepEnded {
        step: String,
        status: StepStatus,
        detail: String,
    },
}

/// The end of a run as the caller sees it.
#[derive(Debug, Clone)]
pub struct RunResult {
    pub run_id: i64,
    pub status: RunStatus,
}

/// The business date and fiscal year of an instant under the settings.
pub fn dates(settings: &Settings, at: DateTime<Utc>) -> (NaiveDate, i32) {
    let business_date = crate::calendar::business_date(at, settings.timezone, settings.day_start);
    let fiscal_year = crate::calendar::fiscal_year(business_date, settings.fiscal_year_start);
    (business_date, fiscal_year)
}

/// The record of a new run of `job` at `at` (business date and fiscal year of `at`).
#[allow(clippy::too_many_arguments)]
pub fn new_run(
    settings: &Settings,
    catalog: &Catalog,
    job: &Job,
    params: &IndexMap<String, String>,
    trigger: Trigger,
    status: RunStatus,
    at: DateTime<Utc>,
    requested_by: &str,
) -> NewRun {
    let (business_date, fiscal_year) = dates(settings, at);
    NewRun {
        job: job.name.clone(),
        trigger,
        params: serde_json::to_value(params::redacted(job, params)).unwrap_or_default(),
        status,
        business_date,
        fiscal_year,
        at,
        requested_by: requested_by.to_owned(),
        host: hostname(),
        job_digest: job.digest.clone(),
        catalog_digest: catalog.digest.clone(),
        steps: job.steps.iter().map(|s| s.name.clone()).collect(),
        owner: (status == RunStatus::Running).then(owner::me),
        not_before: None,
        schedule: None,
        rerun_of: None,
        kept_steps: Vec::new(),
        comment: None,
        business_date_given: false,
        outside_window: None,
    }
}

/// Makes `record` a run of the business date `date` the operator gave (a rehearsal): its
/// `business_date`, the `fiscal_year` of that date, and the mark that it was given.
pub fn give_business_date(settings: &Settings, record: &mut NewRun, date: NaiveDate) {
    record.business_date = date;
    record.fiscal_year = crate::calendar::fiscal_year(date, settings.fiscal_year_start);
    record.business_date_given = true;
}

/// Reads `--business-date`: a calendar date, `YYYY-MM-DD`.
pub fn parse_business_date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").map_err(|_| {
        format!("`--business-date`: `{text}` is not a date (YYYY-MM-DD, e.g. 2027-04-01)")
    })
}

/// Runs a job to its end in this process.
///
/// Only database errors end it early (the run is then left `running` and recovered later as
/// interrupted); every problem of a step is recorded on that step.
pub async fn run(
    settings: &Settings,
    catalog: &Arc<Catalog>,
    store: Arc<dyn Store>,
    req: RunRequest,
    stop: watch::Receiver<Option<Stop>>,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
) -> Result<RunResult, StoreError> {
    let mut record = new_run(
        settings,
        catalog,
        &req.job,
        &req.params,
        req.trigger,
        RunStatus::Running,
        Utc::now(),
        &req.requested_by,
    );
    if let Some(date) = req.business_date {
        give_business_date(settings, &mut record, date);
    }
    record.comment = req.reason.clone();
    let run_id = store.create_run(&record).await?;
    let started = Started {
        run_id,
        secrets: params::secrets(&req.job, &req.params),
        params: params::redacted(&req.job, &req.params),
        reason: req.reason,
        job: req.job,
        business_date: record.business_date,
        fiscal_year: record.fiscal_year,
        parallel: req.parallel,
        resume: Vec::new(),
    };
    execute(settings, catalog.clone(), store, started, stop, on_event).await
}

/// Drives a run already recorded as running (by [`run`], or claimed from the queue) to its
/// end.
pub async fn execute(
    settings: &Settings,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    started: Started,
    stop: watch::Receiver<Option<Stop>>,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
) -> Result<RunResult, StoreError> {
    let Started {
        run_id,
        job,
        params,
        secrets,
        reason,
        business_date,
        fiscal_year,
        parallel,
        resume,
    } = started;
    // One folder per job for the step logs (`RUN.STEP.ATTEMPT.log`): it exists after the
    // job's first run, so starting a run creates no directory.
    let job_logs = settings.log_dir.join(&job.name);
    if !job_logs.is_dir()
        && let Err(e) = std::fs::create_dir_all(&job_logs)
    {
        tracing::warn!("cannot create {}: {e}", job_logs.display());
    }
    on_event(Event::RunStarted {
        run_id,
        business_date,
    });

    // Steps watch `halt`, which the engine sets when the run is stopped or when the
    // database fails: either way running process groups are stopped, never abandoned.
    let first_stop = (*stop.borrow()).filter(|s| *s != Stop::Drain);
    let (halt_tx, halt_rx) = watch::channel(first_stop.is_some());
    let (drain_tx, drain_rx) = watch::channel(*stop.borrow() == Some(Stop::Drain));
    let (secret_params, missing) = secret_values(&job, &params, &secrets);
    let data = serde_json::json!({
        "params": params,
        "reason": reason.clone().unwrap_or_default(),
        "settings": settings.template_value(),
        "run_id": run_id,
        "job": job.name,
        "business_date": business_date.format("%Y-%m-%d").to_string(),
        "fiscal_year": fiscal_year,
        // Templates do no arithmetic: the year that closed when this one began (on
        // 1 April, the year a rollover archives).
        "previous_fiscal_year": fiscal_year - 1,
        "unyo": unyo_bin(),
    });
    let mut env_data = data.clone();
    for (k, v) in &secret_params {
        env_data["params"][k] = serde_json::Value::from(v.as_str());
    }
    let ctx = Arc::new(StepContext {
        settings: settings.clone(),
        job: job.clone(),
        run_id,
        business_date,
        fiscal_year,
        data,
        env_data,
        params,
        secret_params,
        missing,
        reason,
        env_remove: settings
            .secret_env()
            .into_iter()
            .chain(catalog.secret_env())
            .collect(),
        renderer: Renderer::shared(),
        store: store.clone(),
        cancel: halt_rx,
        stopped: std::sync::OnceLock::new(),
        on_event: on_event.clone(),
        catalog,
        failures: std::sync::Mutex::new(Vec::new()),
        resume,
        escalated: std::sync::Mutex::new(std::collections::HashMap::new()),
        drain: drain_rx,
        rejected: std::sync::Mutex::new(false),
    });
    if let Some(s) = first_stop {
        let _ = ctx.stopped.set(s);
    }

    let status = drive(&ctx, parallel.max(1), stop, halt_tx, drain_tx).await?;
    if status == RunStatus::Running {
        // Suspended by a daemon shutdown while only retries were pending.
        return Ok(RunResult { run_id, status });
    }
    let reason = match (status, ctx.stopped.get()) {
        (RunStatus::Cancelled | RunStatus::Interrupted, Some(s)) => Some(s.reason()),
        (RunStatus::Refused, _) => refused_reason(ctx.store.as_ref(), run_id).await?,
        _ => None,
    };
    store
        .set_run_status(run_id, status, Utc::now(), reason.as_deref())
        .await?;
    after_run(&ctx, status).await?;
    Ok(RunResult { run_id, status })
}

/// The reason a refused run gives: its first refused step and that step's reason, read back
/// from the record (so also for a run taken up again after a restart).
async fn refused_reason(store: &dyn Store, run_id: i64) -> Result<Option<String>, StoreError> {
    let Some(detail) = store.get_run(run_id).await? else {
        return Ok(None);
    };
    Ok(detail
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Refused)
        .map(|s| {
            format!(
                "step `{}` refused: {}",
                s.name,
                s.reason.as_deref().unwrap_or("no reason given")
            )
        }))
}

/// The first step of the run that failed for good, from the database (for a run taken up
/// again after a restart, whose earlier failures this process did not see).
async fn recorded_failure(ctx: &StepContext) -> Result<Option<StepFailure>, StoreError> {
    let Some(detail) = ctx.store.get_run(ctx.run_id).await? else {
        return Ok(None);
    };
    let Some(step) = detail
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Failed && !s.continued)
    else {
        return Ok(None);
    };
    let Some(a) = detail.attempts.iter().rev().find(|a| a.step == step.name) else {
        return Ok(None);
    };
    let exit = exit_of(a.exit_code, a.signal);
    let severity = a.rule.as_ref().and_then(|label| {
        let (name, rest) = label.split_once('#')?;
        let number: usize = rest.split(' ').next()?.parse().ok()?;
        ctx.catalog
            .runbooks
            .get(name)?
            .rules
            .get(number.checked_sub(1)?)?
            .escalate
    });
    Ok(Some(StepFailure {
        step: step.name.clone(),
        class: crate::runbook::failure_class(exit, a.status == AttemptStatus::TimedOut, false),
        detail: step.reason.clone().unwrap_or_else(|| "failed".to_owned()),
        excerpt: crate::incident::excerpt(&a.stdout_tail, &a.stderr_tail),
        rule: a.rule.clone(),
        severity,
        incident: None,
    }))
}

/// A run's end reaches the incidents: a failed or interrupted run opens one (or adds an
/// occurrence), a successful run notes the recovery on the job's open ones.
async fn after_run(ctx: &StepContext, status: RunStatus) -> Result<(), StoreError> {
    let job = &ctx.job.name;
    match status {
        RunStatus::Failed => {
            let mut first = ctx.failures.lock().ok().and_then(|f| f.first().cloned());
            let rejected = ctx.rejected.lock().map(|r| *r).unwrap_or(false);
            if first.is_none() && rejected {
                // An operator rejected a gate: a decision, not something to report.
                return Ok(());
            }
            if first.is_none() {
                // A resumed run: the step failed before the restart; read it back.
                first = recorded_failure(ctx).await?;
            }
            let f = first.unwrap_or(StepFailure {
                step: String::new(),
                class: "failed".to_owned(),
                detail: "failed".to_owned(),
                excerpt: String::new(),
                rule: None,
                severity: None,
                incident: None,
            });
            if f.incident.is_some() {
                // Its runbook rule opened the incident for this failure already.
                return Ok(());
            }
            crate::incident::raise(
                ctx.store.as_ref(),
                &ctx.settings,
                crate::incident::Raise {
                    severity: f.severity.unwrap_or(ctx.settings.incidents.severity),
                    job,
                    run_id: Some(ctx.run_id),
                    step: (!f.step.is_empty()).then_some(f.step.as_str()),
                    failure_class: &f.class,
                    summary: format!(
                        "run {} of `{job}` failed: step `{}`: {}",
                        ctx.run_id, f.step, f.detail
                    ),
                    log_excerpt: f.excerpt,
                    rule: f.rule,
                },
            )
            .await?;
        }
        RunStatus::Interrupted => {
            crate::incident::raise(
                ctx.store.as_ref(),
                &ctx.settings,
                crate::incident::Raise {
                    severity: ctx.settings.incidents.severity,
                    job,
                    run_id: Some(ctx.run_id),
                    step: None,
                    failure_class: "interrupted",
                    summary: format!(
                        "run {} of `{job}` was interrupted: {}",
                        ctx.run_id,
                        ctx.stopped
                            .get()
                            .map_or_else(|| "stopped".to_owned(), |s| s.reason())
                    ),
                    log_excerpt: String::new(),
                    rule: None,
                },
            )
            .await?;
        }
        RunStatus::Succeeded => {
            ctx.store
                .job_recovered(
                    job,
                    ctx.run_id,
                    Utc::now(),
                    ctx.settings.incidents.auto_resolve,
                )
                .await?;
        }
        // A step declined by itself (`refuse_exit`): nothing went wrong, nobody is called,
        // and the job's open incidents stay as they are (nothing ran to show it recovered).
        RunStatus::Refused => {}
        _ => {}
    }
    Ok(())
}

/// Everything a step task needs, shared by all steps of a run.
struct StepContext {
    settings: Settings,
    job: Arc<Job>,
    run_id: i64,
    business_date: NaiveDate,
    fiscal_year: i32,
    /// What templates see; secret parameters masked.
    data: serde_json::Value,
    /// What `env:` values see: `data` with the secret parameters' values.
    env_data: serde_json::Value,
    /// The values as recorded (secret ones masked).
    params: IndexMap<String, String>,
    /// The secret parameters' values, for the steps' environment only.
    secret_params: IndexMap<String, String>,
    /// Secret parameters that have no value, each with what to do: no step starts.
    missing: Vec<String>,
    /// The requester's `--reason`.
    reason: Option<String>,
    /// Inherited variables no step gets: unyo's own secrets and every `from_env`.
    env_remove: Vec<String>,
    renderer: &'static Renderer,
    store: Arc<dyn Store>,
    /// Set when the run must stop (see `stopped` for why) or the database failed.
    cancel: watch::Receiver<bool>,
    /// Why the run was stopped, once it was.
    stopped: std::sync::OnceLock<Stop>,
    on_event: Arc<dyn Fn(Event) + Send + Sync>,
    /// Runbooks, for failed attempts.
    catalog: Arc<Catalog>,
    /// Steps that failed for good, in the order they did: for the run's incident.
    failures: std::sync::Mutex<Vec<StepFailure>>,
    /// Where each step stood, for a run taken up again.
    resume: Vec<Resume>,
    /// Set when the daemon starts stopping (see `Stop::Drain`).
    drain: watch::Receiver<bool>,
    /// An approval step was rejected: the run's failure is a decision, not an incident.
    rejected: std::sync::Mutex<bool>,
    /// Incidents this run's runbook rules opened, by step and failure class.
    escalated: std::sync::Mutex<std::collections::HashMap<(String, String), i64>>,
}

/// How a step failed for good, for the incident its run opens.
#[derive(Debug, Clone)]
struct StepFailure {
    step: String,
    class: String,
    detail: String,
    excerpt: String,
    rule: Option<String>,
    severity: Option<crate::model::Severity>,
    /// The incident its runbook rule opened already, at once.
    incident: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Waiting,
    Running,
    Done(StepStatus),
    /// Failed, but its runbook says the steps that need it run (`continue`).
    Continued,
    /// Left waiting for a retry while the daemon stops.
    Suspended,
}

/// A step's end as its task reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepEnd {
    /// The run was stopped before the step got a slot.
    NotStarted,
    /// Ended; `true` when the steps that need it run anyway (`continue`).
    Ended(StepStatus, bool),
    /// The daemon stopped while the step waited for a retry: it stays `waiting_retry` and
    /// the run is taken up again at the next start.
    Suspended,
}

/// Schedules the step DAG; returns the run's final status.
///
/// Every step whose needs are met gets a task at once; a semaphore with `parallel` permits
/// decides which of them have a process running. A permit is returned as soon as the process
/// ends, so the next step starts while the previous one's end is being recorded.
async fn drive(
    ctx: &Arc<StepContext>,
    parallel: usize,
    mut cancel: watch::Receiver<Option<Stop>>,
    stop: watch::Sender<bool>,
    drain: watch::Sender<bool>,
) -> Result<RunStatus, StoreError> {
    let steps = &ctx.job.steps;
    let mut state = vec![State::Waiting; steps.len()];
    // A resumed run: steps that ended stay ended, steps waiting for a retry go on waiting.
    let mut retries: Vec<(usize, i64, DateTime<Utc>)> = Vec::new();
    for (i, r) in ctx.resume.iter().enumerate().take(steps.len()) {
        match *r {
            Resume::Pending => {}
            Resume::Done {
                continued: true, ..
            } => state[i] = State::Continued,
            Resume::Done { status, .. } => state[i] = State::Done(status),
            Resume::Retry { attempt, at } => {
                state[i] = State::Running;
                retries.push((i, attempt, at));
            }
        }
    }
    let satisfied = |s: State| matches!(s, State::Done(StepStatus::Succeeded) | State::Continued);
    let ended = |s: State| matches!(s, State::Done(_) | State::Continued);
    // How many needs each step still waits for: to succeed, or only to end (`always`).
    let mut missing: Vec<usize> = steps
        .iter()
        .map(|s| {
            s.needs
                .iter()
                .filter(|&&n| {
                    if s.always {
                        !ended(state[n])
                    } else {
                        !satisfied(state[n])
                    }
                })
                .count()
        })
        .collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); steps.len()];
    for (j, s) in steps.iter().enumerate() {
        for &n in &s.needs {
            dependents[n].push(j);
        }
    }
    let slots = Arc::new(Semaphore::new(parallel));
    // A step reports its outcome here as soon as the record of its end is issued, and its
    // task ends once that record is committed.
    let (outcome_tx, mut outcomes) = mpsc::unbounded_channel::<(usize, StepEnd)>();
    let mut running: JoinSet<Result<(), StoreError>> = JoinSet::new();
    let mut cancelled = cancel.borrow().is_some_and(|s| s != Stop::Drain);
    let mut draining = *drain.borrow();
    let mut cancel_poll =
        tokio::time::interval_at(tokio::time::Instant::now() + CANCEL_POLL, CANCEL_POLL);
    cancel_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first database error: no new step starts, running ones are stopped, and the run
    // ends with this error once every step task has ended.
    let mut broken: Option<StoreError> = None;
    let mut ready: Vec<usize> = (0..steps.len())
        .filter(|&i| missing[i] == 0 && state[i] == State::Waiting)
        .collect();
    for (i, attempt, at) in retries {
        let (ctx, slots, tx) = (ctx.clone(), slots.clone(), outcome_tx.clone());
        running.spawn(async move { run_step(&ctx, i, slots, tx, Some((attempt, at))).await });
    }

    loop {
        if cancelled || draining || broken.is_some() {
            ready.clear();
        }
        for i in ready.drain(..) {
            state[i] = State::Running;
            let (ctx, slots, tx) = (ctx.clone(), slots.clone(), outcome_tx.clone());
            running.spawn(async move { run_step(&ctx, i, slots, tx, None).await });
        }
        if running.is_empty() && outcomes.is_empty() {
            break;
        }
        let (i, status) = tokio::select! {
            biased;
            Some(outcome) = outcomes.recv() => outcome,
            Some(joined) = running.join_next() => {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => {
                        if broken.is_none() {
                            tracing::error!("stopping the run: {e}");
                        }
                        broken.get_or_insert(e);
                        let _ = stop.send(true);
                    }
                    // A step task panicked: a bug, but the run must still end with a record.
                    Err(e) => tracing::error!("step task failed: {e}"),
                }
                continue;
            }
            _ = cancel_poll.tick(), if !cancelled => {
                // `unyo cancel` from another process writes its request to the database.
                match ctx.store.cancel_requested(ctx.run_id).await {
                    Ok(Some(user)) => {
                        tracing::warn!(run = ctx.run_id, "cancelled by {user}");
                        cancelled = true;
                        let _ = ctx.stopped.set(Stop::Operator);
                        let _ = stop.send(true);
                    }
                    Ok(None) => {}
                    Err(e) => tracing::warn!(run = ctx.run_id, "cannot read cancel requests: {e}"),
                }
                continue;
            }
            changed = cancel.changed(), if !cancelled => {
                // A closed channel means nobody can cancel any more: keep going.
                let why = if changed.is_ok() { *cancel.borrow() } else { None };
                if why == Some(Stop::Drain) {
                    draining = true;
                    let _ = drain.send(true);
                } else if let Some(why) = why {
                    cancelled = true;
                    let _ = ctx.stopped.set(why);
                    let _ = stop.send(true);
                }
                continue;
            }
        };
        let (status, continued) = match status {
            StepEnd::Ended(status, continued) => (status, continued),
            // Cancelled before it started: recorded with the other waiting steps below.
            StepEnd::NotStarted => {
                state[i] = State::Waiting;
                continue;
            }
            StepEnd::Suspended => {
                state[i] = State::Suspended;
                continue;
            }
        };
        state[i] = if continued {
            State::Continued
        } else {
            State::Done(status)
        };
        if status == StepStatus::Cancelled || cancelled || broken.is_some() {
            // Steps waiting on it stay waiting and are recorded cancelled below.
        } else if status == StepStatus::Succeeded || continued {
            for &d in &dependents[i] {
                missing[d] -= 1;
                if missing[d] == 0 && state[d] == State::Waiting {
                    ready.push(d);
                }
            }
        } else if let Err(e) = skip_dependents(
            ctx,
            i,
            status,
            &dependents,
            &mut state,
            &mut missing,
            &mut ready,
        )
        .await
        {
            broken.get_or_insert(e);
            let _ = stop.send(true);
        }
    }
    if let Some(e) = broken {
        return Err(e);
    }

    let now = Utc::now();
    if draining
        && !cancelled
        && state
            .iter()
            .any(|s| matches!(s, State::Waiting | State::Suspended))
    {
        // The daemon stopped before the run could go on: it waits, as it is, for the next
        // start to take it up again.
        return Ok(RunStatus::Running);
    }
    if state.contains(&State::Suspended) {
        if !state.contains(&State::Done(StepStatus::Cancelled)) {
            // Nothing was running when the daemon stopped: the run waits, as it is, for
            // the next start to take it up again.
            return Ok(RunStatus::Running);
        }
        // Other steps were stopped mid-run: the run is interrupted, waits included.
        let reason = format!(
            "stopped while waiting to retry: {}",
            ctx.stopped
                .get()
                .map_or_else(|| "the run was stopped".to_owned(), |s| s.reason())
        );
        for (i, s) in state.iter_mut().enumerate() {
            if *s == State::Suspended {
                ctx.store
                    .end_step(
                        ctx.run_id,
                        &steps[i].name,
                        StepStatus::Cancelled,
                        now,
                        &reason,
                    )
                    .await?;
                *s = State::Done(StepStatus::Cancelled);
            }
        }
    }
    let never = match ctx.stopped.get() {
        None | Some(Stop::Operator) => "the run was cancelled before this step started".to_owned(),
        Some(s) => format!("not started: {}", s.reason()),
    };
    for (i, s) in state.iter_mut().enumerate() {
        if *s == State::Waiting {
            ctx.store
                .end_step(
                    ctx.run_id,
                    &steps[i].name,
                    StepStatus::Cancelled,
                    now,
                    &never,
                )
                .await?;
            *s = State::Done(StepStatus::Cancelled);
        }
    }
    // A failed step whose runbook said `continue` does not fail the run.
    let any = |st: StepStatus| state.contains(&State::Done(st));
    Ok(if any(StepStatus::Failed) {
        RunStatus::Failed
    } else if cancelled || any(StepStatus::Cancelled) {
        ctx.stopped
            .get()
            .map_or(RunStatus::Cancelled, |s| s.run_status())
    } else if any(StepStatus::Refused) {
        // A step declined by itself and nothing failed: not a failure, not a success.
        RunStatus::Refused
    } else {
        RunStatus::Succeeded
    })
}

/// Records every step that (transitively) needs step `i` as skipped, except `always` steps:
/// for them the need has ended, and once all theirs have they are `ready` to start.
async fn skip_dependents(
    ctx: &StepContext,
    i: usize,
    status: StepStatus,
    dependents: &[Vec<usize>],
    state: &mut [State],
    missing: &mut [usize],
    ready: &mut Vec<usize>,
) -> Result<(), StoreError> {
    let steps = &ctx.job.steps;
    let mut queue: VecDeque<(usize, usize, StepStatus)> =
        dependents[i].iter().map(|&d| (d, i, status)).collect();
    while let Some((d, because, why)) = queue.pop_front() {
        if steps[d].always {
            // Each edge is queued once: by the one end (failed or skipped) of its need.
            missing[d] = missing[d].saturating_sub(1);
            if missing[d] == 0 && state[d] == State::Waiting {
                ready.push(d);
            }
            continue;
        }
        if state[d] != State::Waiting {
            continue;
        }
        state[d] = State::Done(StepStatus::Skipped);
        let what = match why {
            StepStatus::Skipped => "was skipped",
            StepStatus::Cancelled => "was cancelled",
            StepStatus::Refused => "refused",
            _ => "failed",
        };
        let reason = format!("needs `{}`, which {what}", steps[because].name);
        ctx.store
            .end_step(
                ctx.run_id,
                &steps[d].name,
                StepStatus::Skipped,
                Utc::now(),
                &reason,
            )
            .await?;
        (ctx.on_event)(Event::StepEnded {
            step: steps[d].name.clone(),
            status: StepStatus::Skipped,
            detail: reason,
        });
        queue.extend(dependents[d].iter().map(|&n| (n, d, StepStatus::Skipped)));
    }
    Ok(())
}

/// Runs one step and records every attempt: a failed attempt goes to the step's runbook,
/// which may retry it (after a delay, running a remediation first), open an incident at once,
/// or let the steps that need it run. Reports the step's end on `outcome` as soon as the
/// record of that end is issued (`None` when the run was stopped before the step got a slot).
async fn run_step(
    ctx: &StepContext,
    i: usize,
    slots: Arc<Semaphore>,
    outcome: mpsc::UnboundedSender<(usize, StepEnd)>,
    resume: Option<(i64, DateTime<Utc>)>,
) -> Result<(), StoreError> {
    let step = &ctx.job.steps[i];
    if let Action::Approval { message } = &step.action {
        return gate(ctx, i, step, message.as_deref(), &outcome).await;
    }
    let mut attempt: i64 = 1;
    if let Some((next, at)) = resume {
        attempt = next;
        if !wait_for_retry(ctx, i, at, &outcome).await? {
            return Ok(());
        }
    }
    loop {
        let log_path = ctx
            .settings
            .log_dir
            .join(&ctx.job.name)
            .join(format!("{}.{}.{attempt}.log", ctx.run_id, step.name));
        let prepared = prepare(ctx, step, attempt, log_path.clone());
        let mut cancel = ctx.cancel.clone();
        let mut drain = ctx.drain.clone();
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.ok(),
            () = async { let _ = cancel.wait_for(|c| *c).await; } => None,
            () = async { let _ = drain.wait_for(|d| *d).await; } => None,
        };
        if permit.is_none() && *ctx.drain.borrow() && !*ctx.cancel.borrow() {
            // The daemon is stopping: this attempt starts after the next start.
            let _ = outcome.send((
                i,
                if attempt == 1 {
                    StepEnd::NotStarted
                } else {
                    StepEnd::Suspended
                },
            ));
            return Ok(());
        }
        let Some(permit) = permit.filter(|_| !*ctx.cancel.borrow()) else {
            if attempt == 1 {
                let _ = outcome.send((i, StepEnd::NotStarted));
            } else {
                stopped_while_waiting(ctx, i, &outcome).await?;
            }
            return Ok(());
        };
        let command_record = match &prepared {
            Ok(cmd) => program_record(&cmd.program),
            Err(_) => serde_json::json!(null),
        };
        let started_at = Utc::now();
        let attempt_id = ctx
            .store
            .start_attempt(&NewAttempt {
                run_id: ctx.run_id,
                step: step.name.clone(),
                attempt,
                command: command_record,
                log_path: log_path.display().to_string(),
                started_at,
            })
            .await?;
        (ctx.on_event)(Event::StepStarted {
            step: step.name.clone(),
            attempt,
        });

        let result = match prepared {
            Ok(cmd) => {
                // A step that is still running after PID_RECORD_DELAY gets its pid recorded
                // then; a shorter one has it recorded with its end, one transaction fewer.
                let (pid_tx, pid_rx) = tokio::sync::oneshot::channel::<u32>();
                let record_pid = async {
                    if let Ok(pid) = pid_rx.await {
                        tokio::time::sleep(PID_RECORD_DELAY).await;
                        ctx.store.set_attempt_pid(attempt_id, pid).await
                    } else {
                        std::future::pending().await
                    }
                };
                let on_spawn = move |pid: u32| {
                    let _ = pid_tx.send(pid);
                };
                let running = exec::execute(&cmd, ctx.cancel.clone(), on_spawn);
                tokio::pin!(running, record_pid);
                let mut pid_recorded = false;
                let outcome = loop {
                    tokio::select! {
                        outcome = &mut running => break outcome,
                        recorded = &mut record_pid, if !pid_recorded => {
                            recorded?;
                            pid_recorded = true;
                        }
                    }
                };
                // Free the slot and let the step waiting for it start before this end is
                // recorded: writes run in this thread, and the end is not on anyone's way.
                drop(permit);
                tokio::task::yield_now().await;
                outcome.map_err(|e| e.to_string())
            }
            Err(e) => {
                drop(permit);
                Err(e)
            }
        };

        let mut end = attempt_end(ctx, step, result);
        mask_log(ctx, &log_path).await;
        let elapsed = (end.ended_at - started_at).to_std().unwrap_or_default();
        let failed = matches!(
            end.status,
            AttemptStatus::Failed | AttemptStatus::TimedOut | AttemptStatus::Error
        );
        let (mut severity, mut incident) = (None, None);
        if failed && !*ctx.cancel.borrow() {
            (severity, incident) = apply_runbook(ctx, step, attempt, elapsed, &mut end).await?;
        }
        // Issued before the engine hears of the outcome, so a dependent's start is never
        // committed before this end (see `Store`).
        let finishing = ctx.store.finish_attempt(attempt_id, &end);
        let mut detail = crate::model::values::format_duration(elapsed);
        if let Some(r) = &end.step_reason {
            detail = format!("{detail}, {r}");
        }
        if end.step_status == StepStatus::WaitingRetry {
            finishing.await?;
            (ctx.on_event)(Event::StepEnded {
                step: step.name.clone(),
                status: end.step_status,
                detail,
            });
            let at = end.retry_at.unwrap_or_else(Utc::now);
            if !wait_for_retry(ctx, i, at, &outcome).await? {
                return Ok(());
            }
            attempt += 1;
            continue;
        }
        if end.step_status == StepStatus::Failed && !end.continued {
            record_failure(ctx, step, &end, severity, incident);
        }
        let _ = outcome.send((i, StepEnd::Ended(end.step_status, end.continued)));
        finishing.await?;
        (ctx.on_event)(Event::StepEnded {
            step: step.name.clone(),
            status: end.step_status,
            detail,
        });
        return Ok(());
    }
}

/// An approval step: its gate is opened (or found again, for a resumed run) and the step
/// waits, `waiting_approval`, for `unyo approve` or `unyo reject`, up to its timeout. A
/// rejection fails the step (and opens no incident: it is a decision); no answer in time
/// fails it as an abnormal end.
async fn gate(
    ctx: &StepContext,
    i: usize,
    step: &Step,
    message: Option<&str>,
    outcome: &mpsc::UnboundedSender<(usize, StepEnd)>,
) -> Result<(), StoreError> {
    let now = Utc::now();
    let existing = ctx.store.gate(ctx.run_id, &step.name).await?;
    let timeout_at = match &existing {
        Some(g) => g.timeout_at,
        None => step
            .timeout
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|d| now + d),
    };
    let reason = format!(
        "waiting for approval{}: unyo approve {} {}",
        message.map(|m| format!(" ({m})")).unwrap_or_default(),
        ctx.run_id,
        step.name
    );
    ctx.store
        .open_gate(ctx.run_id, &step.name, now, timeout_at, &reason)
        .await?;
    (ctx.on_event)(Event::StepEnded {
        step: step.name.clone(),
        status: StepStatus::WaitingApproval,
        detail: reason,
    });
    let finish = |status: StepStatus, why: String| async move {
        let finishing = ctx
            .store
            .end_step(ctx.run_id, &step.name, status, Utc::now(), &why);
        let _ = outcome.send((i, StepEnd::Ended(status, false)));
        finishing.await?;
        (ctx.on_event)(Event::StepEnded {
            step: step.name.clone(),
            status,
            detail: why,
        });
        Ok::<(), StoreError>(())
    };
    loop {
        if let Some(g) = ctx.store.gate(ctx.run_id, &step.name).await?
            && let Some(decision) = &g.decision
        {
            let by = g.decided_by.clone().unwrap_or_default();
            let comment = g.comment.clone().filter(|c| !c.is_empty());
            if decision == "approved" {
                let why = match comment {
                    Some(c) => format!("approved by {by}: {c}"),
                    None => format!("approved by {by}"),
                };
                return finish(StepStatus::Succeeded, why).await;
            }
            if let Ok(mut r) = ctx.rejected.lock() {
                *r = true;
            }
            let why = format!("rejected by {by}: {}", comment.unwrap_or_default());
            return finish(StepStatus::Failed, why).await;
        }
        if let Some(t) = timeout_at
            && Utc::now() >= t
        {
            let why = format!(
                "no approval within {}",
                crate::model::values::format_duration(step.timeout.unwrap_or_default())
            );
            if let Ok(mut f) = ctx.failures.lock() {
                f.push(StepFailure {
                    step: step.name.clone(),
                    class: "approval timeout".to_owned(),
                    detail: why.clone(),
                    excerpt: String::new(),
                    rule: None,
                    severity: None,
                    incident: None,
                });
            }
            return finish(StepStatus::Failed, why).await;
        }
        let mut cancel = ctx.cancel.clone();
        let mut drain = ctx.drain.clone();
        // 0: look again, 1: stopped, 2: the daemon is stopping.
        let woke = tokio::select! {
            () = tokio::time::sleep(GATE_POLL) => 0,
            () = async { let _ = cancel.wait_for(|c| *c).await; } => 1,
            () = async { let _ = drain.wait_for(|d| *d).await; } => 2,
        };
        if woke == 1 {
            let why = format!(
                "stopped while waiting for approval: {}",
                ctx.stopped
                    .get()
                    .map_or_else(|| "the run was stopped".to_owned(), |s| s.reason())
            );
            return finish(StepStatus::Cancelled, why).await;
        }
        if woke == 2 && !*ctx.cancel.borrow() {
            // The daemon is stopping: the gate stays open for the next start.
            let _ = outcome.send((i, StepEnd::Suspended));
            return Ok(());
        }
    }
}

/// How often a waiting approval step looks for its decision.
const GATE_POLL: Duration = Duration::from_millis(500);

/// The command as recorded with an attempt.
fn program_record(program: &Program) -> serde_json::Value {
    match program {
        Program::Argv(argv) => serde_json::json!({ "argv": argv }),
        Program::Shell(line) => serde_json::json!({ "run": line }),
    }
}

/// Waits until a step's next attempt is due. False when the run was stopped meanwhile: a
/// daemon shutdown leaves the step waiting for the next start, anything else ends it
/// cancelled.
async fn wait_for_retry(
    ctx: &StepContext,
    i: usize,
    at: DateTime<Utc>,
    outcome: &mpsc::UnboundedSender<(usize, StepEnd)>,
) -> Result<bool, StoreError> {
    let wait = (at - Utc::now()).to_std().unwrap_or_default();
    let mut cancel = ctx.cancel.clone();
    let mut drain = ctx.drain.clone();
    let stopped = tokio::select! {
        () = tokio::time::sleep(wait) => false,
        _ = cancel.wait_for(|c| *c) => true,
        _ = drain.wait_for(|d| *d) => true,
    };
    if !stopped {
        return Ok(true);
    }
    let shutdown = ctx.stopped.get() == Some(&Stop::Shutdown)
        || (*ctx.drain.borrow() && !*ctx.cancel.borrow());
    if shutdown {
        let _ = outcome.send((i, StepEnd::Suspended));
    } else {
        stopped_while_waiting(ctx, i, outcome).await?;
    }
    Ok(false)
}

/// A step stopped while it waited for its next attempt: recorded cancelled.
async fn stopped_while_waiting(
    ctx: &StepContext,
    i: usize,
    outcome: &mpsc::UnboundedSender<(usize, StepEnd)>,
) -> Result<(), StoreError> {
    let why = ctx
        .stopped
        .get()
        .map_or_else(|| "the run was stopped".to_owned(), |s| s.reason());
    let reason = format!("stopped while waiting to retry: {why}");
    let finishing = ctx.store.end_step(
        ctx.run_id,
        &ctx.job.steps[i].name,
        StepStatus::Cancelled,
        Utc::now(),
        &reason,
    );
    let _ = outcome.send((i, StepEnd::Ended(StepStatus::Cancelled, false)));
    finishing.await?;
    (ctx.on_event)(Event::StepEnded {
        step: ctx.job.steps[i].name.clone(),
        status: StepStatus::Cancelled,
        detail: reason,
    });
    Ok(())
}

/// How an attempt ended, before any runbook looked at it.
fn attempt_end(
    ctx: &StepContext,
    step: &Step,
    result: Result<exec::Outcome, String>,
) -> AttemptEnd {
    let blank = AttemptEnd {
        status: AttemptStatus::Error,
        pid: None,
        ended_at: Utc::now(),
        exit_code: None,
        signal: None,
        error: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        log_bytes: 0,
        log_dropped: 0,
        step_status: StepStatus::Failed,
        step_reason: None,
        rule: None,
        action: None,
        remediation: None,
        retry_at: None,
        continued: false,
    };
    match result {
        Ok(out) => {
            let (exit_code, signal) = match out.exit {
                Exit::Code(c) => (Some(c), None),
                Exit::Signal(s) => (None, Some(s)),
            };
            let (status, step_status, reason) = if out.cancelled {
                (
                    AttemptStatus::Cancelled,
                    StepStatus::Cancelled,
                    Some(
                        ctx.stopped
                            .get()
                            .map_or_else(|| "the run was stopped".to_owned(), |s| s.reason()),
                    ),
                )
            } else if out.timed_out {
                let t = step.timeout.unwrap_or_default();
                (
                    AttemptStatus::TimedOut,
                    StepStatus::Failed,
                    Some(format!(
                        "timed out after {}",
                        crate::model::values::format_duration(t)
                    )),
                )
            } else if out.success() {
                (AttemptStatus::Succeeded, StepStatus::Succeeded, None)
            } else if let Exit::Code(code) = out.exit
                && step.refuses_with(code)
            {
                (
                    AttemptStatus::Refused,
                    StepStatus::Refused,
                    Some(refusal(&out.stderr_tail, &out.stdout_tail, code)),
                )
            } else {
                (
                    AttemptStatus::Failed,
                    StepStatus::Failed,
                    Some(describe_exit(out.exit)),
                )
            };
            AttemptEnd {
                status,
                pid: Some(out.pid),
                ended_at: out.ended_at,
                exit_code,
                signal,
                stdout_tail: mask_secrets(ctx, out.stdout_tail),
                stderr_tail: mask_secrets(ctx, out.stderr_tail),
                log_bytes: i64::try_from(out.log_written).unwrap_or(i64::MAX),
                log_dropped: i64::try_from(out.log_dropped).unwrap_or(i64::MAX),
                step_status,
                step_reason: reason,
                ..blank
            }
        }
        Err(message) => AttemptEnd {
            error: Some(message.clone()),
            step_reason: Some(message),
            ..blank
        },
    }
}

/// Why a step refused: its last line of standard error, else of standard output, else its
/// exit code. unyo's own commands begin that line with `refused: `, which the step's status
/// says already.
fn refusal(stderr: &str, stdout: &str, code: i32) -> String {
    let last = |text: &str| {
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.strip_prefix("refused: ").unwrap_or(l))
            .map(|l| l.chars().take(500).collect::<String>())
    };
    last(stderr)
        .or_else(|| last(stdout))
        .unwrap_or_else(|| format!("exit {code} (refused, no reason given)"))
}

/// Asks the step's runbook about a failed attempt and carries out what its matching rule
/// says, writing what was done into `end`.
async fn apply_runbook(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    elapsed: Duration,
    end: &mut AttemptEnd,
) -> Result<(Option<crate::model::Severity>, Option<i64>), StoreError> {
    let exit = exit_of(end.exit_code, end.signal);
    let failure = crate::runbook::Failure {
        exit,
        timed_out: end.status == AttemptStatus::TimedOut,
        stdout: &end.stdout_tail,
        stderr: &end.stderr_tail,
        elapsed,
    };
    let default = ctx
        .settings
        .default_runbook
        .as_ref()
        .map(|r| r.value.as_str());
    let Some(matched) =
        crate::runbook::find(&ctx.catalog, step.runbook.as_deref(), default, &failure)
    else {
        return Ok((None, None));
    };
    let mut incident = None;
    let plan = crate::runbook::plan(matched.rule, attempt, crate::runbook::jitter_fraction());
    let mut done: Vec<String> = Vec::new();
    if let Some(rem) = plan.remediate {
        let record = remediate(ctx, step, attempt, rem).await;
        done.push(format!(
            "remediation {}",
            record["result"].as_str().unwrap_or("ran")
        ));
        end.remediation = Some(record);
    }
    let class = crate::runbook::failure_class(exit, failure.timed_out, false);
    let already = ctx
        .escalated
        .lock()
        .ok()
        .and_then(|m| m.get(&(step.name.clone(), class.clone())).copied());
    if let (Some(severity), Some(id)) = (plan.escalate, already) {
        // This step's earlier attempt opened it: one run, one occurrence.
        incident = Some(id);
        done.push(format!("incident #{id} ({severity}, open already)"));
    } else if let Some(severity) = plan.escalate {
        let opened = crate::incident::raise(
            ctx.store.as_ref(),
            &ctx.settings,
            crate::incident::Raise {
                severity,
                job: &ctx.job.name,
                run_id: Some(ctx.run_id),
                step: Some(&step.name),
                failure_class: &class,
                summary: format!(
                    "step `{}` of `{}` (run {}) failed: {}",
                    step.name,
                    ctx.job.name,
                    ctx.run_id,
                    end.step_reason.as_deref().unwrap_or("failed")
                ),
                log_excerpt: crate::incident::excerpt(&end.stdout_tail, &end.stderr_tail),
                rule: Some(matched.label()),
            },
        )
        .await?;
        incident = Some(opened.id);
        if let Ok(mut m) = ctx.escalated.lock() {
            m.insert((step.name.clone(), class.clone()), opened.id);
        }
        done.push(format!(
            "incident #{} ({severity}{})",
            opened.id,
            if opened.new {
                ""
            } else {
                ", one more occurrence"
            }
        ));
    }
    let max = matched.rule.retry.as_ref().map_or(0, |r| r.max);
    if let Some((n, delay)) = plan.retry {
        let at = Utc::now() + chrono::Duration::from_std(delay).unwrap_or_default();
        end.retry_at = Some(at);
        end.step_status = StepStatus::WaitingRetry;
        let when = crate::model::values::format_duration(delay);
        done.push(format!("retry {n} of {max} in {when}"));
        end.step_reason = Some(format!(
            "{}; retry {n} of {max} in {when}",
            end.step_reason.as_deref().unwrap_or("failed")
        ));
    } else {
        if plan.exhausted {
            done.push(format!("no retry left ({max} used)"));
        }
        if plan.keep_going {
            end.continued = true;
            done.push("continue: the steps that need it run".to_owned());
            end.step_reason = Some(format!(
                "{}; continue: the steps that need it run",
                end.step_reason.as_deref().unwrap_or("failed")
            ));
        }
    }
    end.rule = Some(matched.label());
    end.action = Some(done.join("; "));
    Ok((matched.rule.escalate, incident))
}

/// Runs a rule's remediation command for a failed attempt; returns its record.
async fn remediate(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    rem: &crate::model::Remediation,
) -> serde_json::Value {
    let log_path = ctx.settings.log_dir.join(&ctx.job.name).join(format!(
        "{}.{}.{attempt}.remediation.log",
        ctx.run_id, step.name
    ));
    let remedy = Step {
        action: rem.action.clone(),
        timeout: Some(rem.timeout),
        ..step.clone()
    };
    let cmd = match prepare(ctx, &remedy, attempt, log_path.clone()) {
        Ok(mut cmd) => {
            cmd.env
                .push(("UNYO_REMEDIATION".to_owned(), "1".to_owned()));
            cmd
        }
        Err(e) => {
            return serde_json::json!({ "result": format!("not started: {e}"), "error": e });
        }
    };
    let command = program_record(&cmd.program);
    let started = Utc::now();
    let ran = exec::execute(&cmd, ctx.cancel.clone(), |_| {}).await;
    mask_log(ctx, &log_path).await;
    match ran {
        Ok(out) => {
            let result = if out.timed_out {
                format!(
                    "timed out after {}",
                    crate::model::values::format_duration(rem.timeout)
                )
            } else if out.success() {
                "succeeded".to_owned()
            } else {
                format!("failed ({})", describe_exit(out.exit))
            };
            serde_json::json!({
                "command": command,
                "result": result,
                "started_at": started,
                "ended_at": out.ended_at,
                "exit_code": match out.exit { Exit::Code(c) => Some(c), Exit::Signal(_) => None },
                "signal": match out.exit { Exit::Signal(s) => Some(s), Exit::Code(_) => None },
                "stdout_tail": mask_secrets(ctx, out.stdout_tail),
                "stderr_tail": mask_secrets(ctx, out.stderr_tail),
                "log_path": log_path.display().to_string(),
            })
        }
        Err(e) => serde_json::json!({
            "command": command,
            "result": format!("not started: {e}"),
            "error": e.to_string(),
        }),
    }
}

/// Remembers a step's final failure for the run's incident.
fn record_failure(
    ctx: &StepContext,
    step: &Step,
    end: &AttemptEnd,
    severity: Option<crate::model::Severity>,
    incident: Option<i64>,
) {
    let exit = exit_of(end.exit_code, end.signal);
    if let Ok(mut f) = ctx.failures.lock() {
        f.push(StepFailure {
            step: step.name.clone(),
            class: crate::runbook::failure_class(
                exit,
                end.status == AttemptStatus::TimedOut,
                false,
            ),
            detail: end
                .step_reason
                .clone()
                .unwrap_or_else(|| "failed".to_owned()),
            excerpt: crate::incident::excerpt(&end.stdout_tail, &end.stderr_tail),
            rule: end.rule.clone(),
            severity,
            incident,
        });
    }
}

/// How a recorded attempt ended, from its exit code or signal (`None`: it never ran).
fn exit_of(code: Option<i32>, signal: Option<i32>) -> Option<Exit> {
    match (code, signal) {
        (Some(c), _) => Some(Exit::Code(c)),
        (_, Some(s)) => Some(Exit::Signal(s)),
        _ => None,
    }
}

/// The absolute path of the running unyo binary, which steps reach as `UNYO_BIN` and
/// `{{unyo}}` to call its built-in actions (`unyo act ...`). Looked up once: the path of a
/// binary replaced on disk while the daemon runs stays the one that started.
pub fn unyo_bin() -> &'static str {
    static BIN: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    BIN.get_or_init(|| match std::env::current_exe() {
        Ok(p) => p.display().to_string(),
        Err(e) => {
            tracing::warn!("cannot find the running binary ({e}); steps call `unyo` from PATH");
            "unyo".to_owned()
        }
    })
}

/// Renders a step into a command; an error names what could not be rendered.
fn prepare(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    log_path: PathBuf,
) -> Result<exec::Command, String> {
    let r = ctx.renderer;
    let step_err = |m: String| format!("step `{}`: {m}", step.name);
    if !ctx.missing.is_empty() {
        return Err(step_err(ctx.missing.join("; ")));
    }
    let program = match &step.action {
        Action::Argv(argv) => Program::Argv(
            argv.iter()
                .map(|a| r.plain(a, &ctx.data))
                .collect::<Result<_, _>>()
                .map_err(step_err)?,
        ),
        Action::Shell(line) => Program::Shell(r.shell(line, &ctx.data).map_err(step_err)?),
        Action::Approval { .. } => return Err(step_err("an approval runs no command".to_owned())),
    };
    let mut env = vec![
        ("UNYO_RUN_ID".to_owned(), ctx.run_id.to_string()),
        ("UNYO_JOB".to_owned(), ctx.job.name.clone()),
        ("UNYO_STEP".to_owned(), step.name.clone()),
        ("UNYO_ATTEMPT".to_owned(), attempt.to_string()),
        (
            "UNYO_BUSINESS_DATE".to_owned(),
            ctx.business_date.format("%Y-%m-%d").to_string(),
        ),
        ("UNYO_FISCAL_YEAR".to_owned(), ctx.fiscal_year.to_string()),
        (
            "UNYO_ROOT".to_owned(),
            ctx.settings.root.display().to_string(),
        ),
        ("UNYO_BIN".to_owned(), unyo_bin().to_owned()),
    ];
    env.push((
        "UNYO_REASON".to_owned(),
        ctx.reason.clone().unwrap_or_default(),
    ));
    for (k, v) in &ctx.params {
        let v = ctx.secret_params.get(k).unwrap_or(v);
        env.push((format!("UNYO_PARAM_{}", k.to_ascii_uppercase()), v.clone()));
    }
    for (k, v) in &step.env {
        env.push((k.clone(), r.plain(v, &ctx.env_data).map_err(step_err)?));
    }
    let workdir = match &step.workdir {
        Some(w) => ctx
            .settings
            .root
            .join(r.plain(w, &ctx.data).map_err(step_err)?),
        None => ctx.settings.root.clone(),
    };
    if !workdir.is_dir() {
        return Err(step_err(format!(
            "working directory `{}` does not exist",
            workdir.display()
        )));
    }
    Ok(exec::Command {
        program,
        env,
        env_remove: ctx.env_remove.clone(),
        workdir,
        timeout: step.timeout,
        kill_grace: ctx.settings.kill_grace,
        log_path,
        log_limit: ctx.settings.log_limit,
        tail_limit: TAIL_BYTES,
    })
}

/// Output kept in the database (and so in incidents and their messages) with each secret
/// parameter's value replaced by `***`, should a step print it. Values shorter than four
/// characters are left: masking them would garble ordinary text.
fn mask_secrets(ctx: &StepContext, mut text: String) -> String {
    for v in ctx.secret_params.values().filter(|v| v.len() >= 4) {
        if text.contains(v.as_str()) {
            text = text.replace(v.as_str(), params::MASK);
        }
    }
    text
}

/// [`mask_secrets`] for an attempt's log file, once its process has ended (the file is
/// rewritten in place only when it holds a secret's value).
async fn mask_log(ctx: &StepContext, path: &std::path::Path) {
    let values: Vec<String> = ctx
        .secret_params
        .values()
        .filter(|v| v.len() >= 4)
        .cloned()
        .collect();
    if values.is_empty() || !path.is_file() {
        return;
    }
    let path = path.to_owned();
    let masked = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut bytes = std::fs::read(&path)?;
        let mut changed = false;
        for v in &values {
            let v = v.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(v) {
                    out.extend_from_slice(params::MASK.as_bytes());
                    i += v.len();
                    changed = true;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            bytes = out;
        }
        if changed {
            std::fs::write(&path, bytes)?;
        }
        Ok(())
    })
    .await;
    if let Ok(Err(e)) = masked {
        tracing::warn!("cannot mask the secrets in a step's log file: {e}");
    }
}

/// The values of a job's secret parameters for its steps' environment: given to this
/// process (`secrets`), else read from the variable named by `from_env` in this process's
/// environment. Also the problems: a required one without a value, and one given when the
/// run was requested whose value was not kept (a queued or re-run request never carries a
/// secret), each naming the parameter and what to do.
fn secret_values(
    job: &Job,
    recorded: &IndexMap<String, String>,
    secrets: &IndexMap<String, String>,
) -> (IndexMap<String, String>, Vec<String>) {
    let mut values = IndexMap::new();
    let mut missing = Vec::new();
    for (k, p) in job.params.iter().filter(|(_, p)| p.secret) {
        if let Some(v) = secrets.get(k) {
            values.insert(k.clone(), v.clone());
            continue;
        }
        if let Some(var) = &p.from_env {
            match std::env::var(var) {
                Ok(v) => {
                    values.insert(k.clone(), v);
                }
                Err(_) if p.required => missing.push(format!(
                    "secret parameter `{k}` has no value: `{var}` (its `from_env`) is not set \
                     in the environment of the unyo process that runs the step"
                )),
                Err(_) => {
                    values.insert(k.clone(), String::new());
                }
            }
            continue;
        }
        if recorded.get(k).is_some_and(|v| !v.is_empty()) || p.required {
            missing.push(format!(
                "secret parameter `{k}` has no value: it is never stored, so only a foreground \
                 `unyo run` can give it (or declare `from_env` in the job)"
            ));
        } else {
            values.insert(k.clone(), String::new());
        }
    }
    (values, missing)
}

/// How long a run took, for display.
pub fn elapsed(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Duration> {
    Some((end? - start?).to_std().unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn a_refusal_gives_the_last_line_of_stderr_else_stdout_else_the_code() {
        assert_eq!(
            refusal("checking\nnot yet: 2027-04-01\n\n", "x\n", 5),
            "not yet: 2027-04-01"
        );
        assert_eq!(refusal("", "looked\nnothing to do\n", 5), "nothing to do");
        assert_eq!(
            refusal("refused: `a` is 1, not 2\n", "", 5),
            "`a` is 1, not 2"
        );
        assert_eq!(refusal(" \n", "", 7), "exit 7 (refused, no reason given)");
    }
}
