//! One run of one job: steps in DAG order, independent steps in parallel up to a limit, each
//! attempt recorded before its process starts and after it ends.
//!
//! The engine decides what runs next and what is skipped; `exec` runs a single process and
//! `store` records. A failed step stops the steps that need it (recorded `skipped` with the
//! reason) while independent branches finish; so does a step that refused (an exit code of
//! its `refuse_exit`), which ends its run `refused` with no runbook and no incident.
//! Cancellation stops launching new steps, stops the running ones through their process
//! groups and records `cancelled`.
//!
//! This file is the engine's public face (`run`, `execute`, `RunRequest`, `Started`, `Stop`,
//! `Event`); each concept has a file of its own: the run's shared context and environment
//! (`context.rs`), the step DAG (`dag.rs`), one step and its attempts (`step.rs`), approval
//! gates (`gate.rs`), a step handed over to another node and one run for another node's run
//! (`delegate.rs`), a runbook's plan carried out for a failed attempt and the wait for a
//! retry (`recovery.rs`), the run's end reaching the incidents (`finish.rs`), a one-off
//! submission checked and queued (`submit.rs`), the secret parameters' values and their
//! masking (`secrets.rs`), and the run's watcher: lateness, stuck steps and slowdowns
//! (`monitor.rs`).

mod check;
mod context;
mod dag;
mod delegate;
mod finish;
mod gate;
mod monitor;
pub mod owner;
pub mod params;
mod recovery;
mod secrets;
mod step;
pub mod submit;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use indexmap::IndexMap;
use tokio::sync::watch;

use crate::domain::clock::SharedClock;
use crate::model::{Catalog, Job, Settings};
use crate::store::{NewRun, RunStatus, StepStatus, Store, StoreError, Trigger};
use context::StepContext;
pub use delegate::{carry_out, left_outcome};

/// How long a step runs before its process id is recorded on its own; a step that ends
/// sooner has it recorded with its end. Should unyo die within this time, the step's
/// processes are still found by the `UNYO_RUN_ID` and `UNYO_STEP` in their environment.
pub const PID_RECORD_DELAY: Duration = Duration::from_millis(20);

/// How often a run looks for an operator's cancel request in the database, and how often
/// its watcher looks at its deadlines and its steps' output (the tick of `stuck_after`,
/// `end_delay`, `max_runtime`).
pub const CANCEL_POLL: Duration = Duration::from_millis(500);

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
    /// Where the run's times come from.
    pub clock: SharedClock,
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
    /// Where the run's times come from.
    pub clock: SharedClock,
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
        host: crate::domain::host::hostname(),
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
        req.clock.now(),
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
        clock: req.clock,
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
    let (run_id, business_date, parallel) =
        (started.run_id, started.business_date, started.parallel);
    // One folder per job for the step logs (`RUN.STEP.ATTEMPT.log`): it exists after the
    // job's first run, so starting a run creates no directory.
    let job_logs = settings.log_dir.join(&started.job.name);
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
    let ctx = Arc::new(StepContext::new(
        settings, catalog, store, started, halt_rx, drain_rx, on_event,
    ));
    if let Some(s) = first_stop {
        let _ = ctx.stopped.set(s);
    }

    let status = dag::drive(&ctx, parallel.max(1), stop, halt_tx, drain_tx).await?;
    if status == RunStatus::Running {
        // Suspended by a daemon shutdown while only retries were pending.
        return Ok(RunResult { run_id, status });
    }
    let reason = match (status, ctx.stopped.get()) {
        (RunStatus::Cancelled | RunStatus::Interrupted, Some(s)) => Some(s.reason()),
        (RunStatus::Refused, _) => finish::refused_reason(ctx.store.as_ref(), run_id).await?,
        _ => None,
    };
    ctx.store
        .set_run_status(run_id, status, ctx.clock.now(), reason.as_deref())
        .await?;
    finish::after_run(&ctx, status).await?;
    Ok(RunResult { run_id, status })
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

/// How long a run took, for display.
pub fn elapsed(start: Option<DateTime<Utc>>, end: Option<DateTime<Utc>>) -> Option<Duration> {
    Some((end? - start?).to_std().unwrap_or_default())
}
