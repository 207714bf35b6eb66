//! `unyo daemon`: the long-running loop. It fires schedules on time, starts queued runs,
//! recovers runs left behind by a crash, reloads definitions on SIGHUP and stops cleanly on
//! SIGTERM or SIGINT.
//!
//! The daemon owns no state that is not in the database: slots, watermarks, queued runs and
//! running runs are all recorded, so a restart (or `kill -9`) neither loses nor repeats work.
//! What to do with each slot is decided by the pure planner in `schedule`; the daemon only
//! supplies the clock and the facts (which runs are active) and carries the decisions out.

mod recover;
mod slots;

use std::collections::HashMap;
use std::fs::File;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::engine::{self, Event, RunResult, Started, Stop};
use crate::error::Error;
use crate::incident::notifier::Notifier;
use crate::model::{Catalog, Database, Job, OnInterrupt, Settings};
use crate::store::{NewRun, RunRow, RunStatus, StepStatus, Store, StoreError, Trigger};

/// How often queued runs are looked for (the CLI's requests start within this time).
const QUEUE_POLL: Duration = Duration::from_millis(500);
/// How often the daemon records that it is alive.
const HEARTBEAT: Duration = Duration::from_secs(10);
/// The longest sleep: the wall clock is read again at least this often, so a clock step or
/// a suspended machine is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How often a run waiting for its `after` jobs looks again.
const AFTER_RECHECK: Duration = Duration::from_secs(2);
/// How often runs left behind by a dead unyo process are looked for.
const RECOVER_EVERY: Duration = Duration::from_secs(30);

/// How often the notifier looks for incidents to tell people about and messages to send.
const NOTIFY_EVERY: Duration = Duration::from_secs(1);
/// How long a stopping daemon gives the notifier for its last pass.
const NOTIFIER_LAST_PASS: Duration = Duration::from_secs(5);

/// The notifier's task: a pass every second until the daemon stops, then one more. It runs
/// apart from the main loop, so a slow mail server or a dead webhook never holds up a run.
async fn notify_loop(
    mut notifier: watch::Receiver<Arc<Notifier>>,
    mut stop: watch::Receiver<bool>,
    clock: Clock,
) {
    loop {
        let current = notifier.borrow_and_update().clone();
        if let Err(e) = current.tick(clock()).await {
            tracing::error!("notifier: {e}");
        }
        if *stop.borrow() {
            return;
        }
        tokio::select! {
            () = tokio::time::sleep(NOTIFY_EVERY) => {}
            _ = stop.changed() => {}
        }
    }
}

/// Where the daemon's time comes from; tests of the planner inject their own `now`.
pub type Clock = fn() -> DateTime<Utc>;

/// What the daemon needs of a run to drive it, whether it was just recorded (`NewRun`) or
/// read back (`RunRow`: claimed from the queue, or taken up again).
struct Launch<'a> {
    job: &'a str,
    params: &'a serde_json::Value,
    business_date: chrono::NaiveDate,
    fiscal_year: i32,
    /// The requester's `--reason`.
    comment: Option<&'a str>,
}

impl<'a> From<&'a NewRun> for Launch<'a> {
    fn from(r: &'a NewRun) -> Self {
        Launch {
            job: &r.job,
            params: &r.params,
            business_date: r.business_date,
            fiscal_year: r.fiscal_year,
            comment: r.comment.as_deref(),
        }
    }
}

impl<'a> From<&'a RunRow> for Launch<'a> {
    fn from(r: &'a RunRow) -> Self {
        Launch {
            job: &r.job,
            params: &r.params,
            business_date: r.business_date,
            fiscal_year: r.fiscal_year,
            comment: r.comment.as_deref(),
        }
    }
}

/// A run this daemon is driving.
struct Active {
    job: String,
    stop: watch::Sender<Option<Stop>>,
}

/// The daemon's state.
struct Daemon {
    settings: Settings,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: Clock,
    id: i64,
    running: HashMap<i64, Active>,
    /// The tasks of the runs being driven; a finished one is reaped at the next pass (a
    /// finished task kept here holds its output until it is joined).
    tasks: JoinSet<()>,
    done_tx: mpsc::UnboundedSender<(i64, Result<RunResult, StoreError>)>,
    done_rx: mpsc::UnboundedReceiver<(i64, Result<RunResult, StoreError>)>,
    /// Queued runs waiting for their `after` jobs: when to look again (the reason is
    /// written once, when the wait starts).
    waiting: HashMap<i64, tokio::time::Instant>,
    planner: slots::Planner,
    /// The notifier task's current settings and catalog (replaced on reload).
    notifier: watch::Sender<Arc<Notifier>>,
    /// Held for the daemon's life: a second daemon on the same database is refused.
    _lock: File,
}

/// With `demo: true` (the shipped `unyo.yaml`), the first start creates the demo environment
/// the shipped jobs work on when it is missing (`unyo demo init` does the same on demand). A
/// failure is logged: the daemon runs on.
async fn demo_environment(settings: &Settings) {
    let data_dir = settings.data_dir.clone();
    match tokio::task::spawn_blocking(move || crate::demo::ensure(&data_dir)).await {
        Ok(Ok(true)) => tracing::info!(
            "created the demo environment in {}",
            crate::demo::city_dir(&settings.data_dir).display()
        ),
        Ok(Ok(false)) => {}
        Ok(Err(e)) => tracing::warn!("cannot create the demo environment: {e}"),
        Err(e) => tracing::warn!("cannot create the demo environment: {e}"),
    }
}

/// Runs the daemon until SIGTERM or SIGINT.
pub async fn run(settings: Settings) -> Result<(), Error> {
    let lock = lock(&settings)?;
    // Processes that leave a step's group are re-parented to the daemon, to be ended with
    // their step.
    crate::exec::escaped::become_subreaper();
    // Listening from the start: a SIGTERM while the daemon starts (from a service manager,
    // say, or right after the "started" line) stops it cleanly once it is up, instead of
    // killing it by the default action.
    let signals = Signals::listen()?;
    let catalog = Arc::new(Catalog::load(&settings)?);
    if settings.demo {
        demo_environment(&settings).await;
    }
    let store: Arc<dyn Store> = Arc::from(crate::store::open(&settings).await?);
    let clock: Clock = Utc::now;
    let now = clock();
    let id = store
        .register_daemon(
            &engine::hostname(),
            std::process::id(),
            env!("CARGO_PKG_VERSION"),
            now,
        )
        .await?;
    let (done_tx, done_rx) = mpsc::unbounded_channel();
    let planner = slots::Planner::new(&settings, &catalog, store.watermarks().await?, now);
    let (notifier, notifier_rx) = watch::channel(Arc::new(Notifier::new(
        settings.clone(),
        catalog.clone(),
        store.clone(),
    )));
    let (notifier_stop, notifier_stop_rx) = watch::channel(false);
    let notifier_task = tokio::spawn(notify_loop(notifier_rx, notifier_stop_rx, clock));
    let mut daemon = Daemon {
        settings,
        catalog,
        store,
        clock,
        id,
        running: HashMap::new(),
        tasks: JoinSet::new(),
        done_tx,
        done_rx,
        waiting: HashMap::new(),
        planner,
        notifier,
        _lock: lock,
    };
    tracing::info!(
        daemon = id,
        root = %daemon.settings.root.display(),
        database = %daemon.settings.database,
        "unyo daemon started: {}",
        daemon.catalog.summary()
    );
    eprintln!(
        "unyo daemon {} started (pid {}): {}; database {}",
        env!("CARGO_PKG_VERSION"),
        std::process::id(),
        daemon.catalog.summary(),
        daemon.settings.database
    );
    // Beside the start line (the log goes to stderr as well, so once is enough).
    for w in daemon.settings.unheard() {
        eprintln!("warning: {w}");
    }
    daemon.recover().await?;
    let result = daemon.main_loop(signals).await;
    if let Err(e) = &result {
        // The loop is broken (the database failed): stop the steps rather than abandon them;
        // the next start records what it can.
        tracing::error!("the daemon stops: {e}");
        daemon.stop_all();
        let deadline = daemon.settings.kill_grace + Duration::from_secs(5);
        let _ = tokio::time::timeout(deadline, async {
            while daemon.tasks.join_next().await.is_some() {}
        })
        .await;
    }
    // Whatever left a step's group and was kept for a step still running then goes now.
    crate::exec::escaped::sweep(None, daemon.settings.kill_grace).await;
    // The notifier gets a last pass (incidents of runs the stop interrupted), then stops.
    let _ = notifier_stop.send(true);
    let _ = tokio::time::timeout(NOTIFIER_LAST_PASS, notifier_task).await;
    let stopped = daemon
        .store
        .heartbeat(daemon.id, (daemon.clock)(), true)
        .await;
    result?;
    stopped?;
    eprintln!("unyo daemon stopped");
    Ok(())
}

/// Joins the run tasks that have ended, so that a finished run leaves nothing behind in the
/// daemon; returns how many were joined. A task that panicked is logged (its run stays
/// `running` and is recovered like a crash).
fn reap(tasks: &mut JoinSet<()>) -> usize {
    let mut joined = 0;
    while let Some(result) = tasks.try_join_next() {
        joined += 1;
        if let Err(e) = result {
            tracing::error!("a run's task ended abnormally: {e}");
        }
    }
    joined
}

/// Takes the daemon lock beside the database file.
fn lock(settings: &Settings) -> Result<File, Error> {
    let path: PathBuf = match &settings.database {
        Database::Sqlite(db) => {
            let mut p = db.clone().into_os_string();
            p.push(".daemon.lock");
            p.into()
        }
        Database::Postgres(_) => {
            return Err(Error::Request(
                "the daemon needs a SQLite database for now (`database: sqlite:PATH`)".to_owned(),
            ));
        }
    };
    let io = |action: String| move |source| Error::Io { action, source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        crate::files::protect(dir, settings.group.as_ref().map(|(_, gid)| *gid)).map_err(|e| {
            Error::Io {
                action: format!("cannot make {} private", e.path.display()),
                source: e.source,
            }
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(Error::Request(format!(
                "another unyo daemon is running on {}{}",
                settings.database,
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("cannot lock {}", path.display()))(e));
        }
    }
    let _ = file.set_len(0);
    let _ = std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes());
    Ok(file)
}

/// The signals the daemon answers: SIGTERM and SIGINT stop it, SIGHUP reloads.
struct Signals {
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

impl Signals {
    fn listen() -> Result<Signals, Error> {
        let sig = |kind: SignalKind| {
            signal(kind).map_err(|source| Error::Io {
                action: "cannot listen for signals".to_owned(),
                source,
            })
        };
        Ok(Signals {
            term: sig(SignalKind::terminate())?,
            int: sig(SignalKind::interrupt())?,
            hup: sig(SignalKind::hangup())?,
        })
    }
}

impl Daemon {
    async fn main_loop(&mut self, signals: Signals) -> Result<(), Error> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = signals;
        let mut last_heartbeat = tokio::time::Instant::now();
        let mut last_recover = tokio::time::Instant::now();
        let mut next_queue_poll = tokio::time::Instant::now();
        loop {
            reap(&mut self.tasks);
            let now = (self.clock)();
            self.plan(now).await?;
            if tokio::time::Instant::now() >= next_queue_poll {
                self.pump(now).await?;
                next_queue_poll = tokio::time::Instant::now() + QUEUE_POLL;
            }
            if last_recover.elapsed() >= RECOVER_EVERY {
                self.recover().await?;
                // Orphans kept for a step that was running then, and orphans that died.
                tokio::spawn(crate::exec::escaped::sweep(None, self.settings.kill_grace));
                last_recover = tokio::time::Instant::now();
            }
            if last_heartbeat.elapsed() >= HEARTBEAT {
                tracing::debug!(
                    runs = self.running.len(),
                    tasks = self.tasks.len(),
                    waiting = self.waiting.len(),
                    "heartbeat"
                );
                self.store.heartbeat(self.id, now, false).await?;
                last_heartbeat = tokio::time::Instant::now();
            }
            // Sleep until the next slot is due, the next queue poll, or at most MAX_SLEEP.
            let mut wake = next_queue_poll.min(tokio::time::Instant::now() + MAX_SLEEP);
            if let Some(due) = self.planner.next_due() {
                let until = (due - (self.clock)()).to_std().unwrap_or_default();
                wake = wake.min(tokio::time::Instant::now() + until);
            }
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                Some((run_id, result)) = self.done_rx.recv() => self.finished(run_id, result).await?,
                Some(()) = term.recv() => return self.shutdown("SIGTERM", &mut term, &mut int).await,
                Some(()) = int.recv() => return self.shutdown("SIGINT", &mut term, &mut int).await,
                Some(()) = hup.recv() => self.reload(),
            }
        }
    }

    /// Records the slots due by `now` and starts the runs they make.
    async fn plan(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        if !self.planner.anything_due(now) {
            return Ok(());
        }
        let active = self.store.active_runs().await?;
        let held: HashMap<String, crate::store::HoldRow> = self
            .store
            .holds()
            .await?
            .into_iter()
            .map(|h| (h.job.clone(), h))
            .collect();
        let decided = self
            .planner
            .decide(&self.settings, &self.catalog, &active, &held, now);
        let made = self
            .store
            .record_slots(&decided.slots, &decided.watermarks)
            .await?;
        self.planner
            .committed(&self.settings, &self.catalog, &decided);
        self.missed_incidents(&decided.slots).await?;
        for (slot, run_id) in decided.slots.iter().zip(made) {
            let (Some(run_id), Some(run)) = (run_id, &slot.run) else {
                continue;
            };
            tracing::info!(
                schedule = %slot.schedule,
                run = run_id,
                "slot {} of `{}`: {}",
                slot.fire_time.with_timezone(&self.settings.timezone).format("%Y-%m-%d %H:%M:%S"),
                slot.job,
                slot.outcome
            );
            if run.status == RunStatus::Running {
                if let Some(old) = decided.replace.get(&slot.schedule) {
                    for id in old {
                        if let Some(a) = self.running.get(id) {
                            let _ = a.stop.send(Some(Stop::Replaced { by: run_id }));
                        }
                    }
                }
                self.spawn(run_id, Launch::from(run), Vec::new());
            }
        }
        Ok(())
    }

    /// The slots of this pass that were missed (the daemon was down, or the misfire policy
    /// skipped them) open an incident per schedule, with the severity the schedule sets
    /// (`missed:`), unless it says `incident: false`. All the missed slots of one schedule
    /// in one pass are one event of `n` occurrences, so a long outage of an every-30-minutes
    /// check is one incident and one message, not one per slot. Raised after the slots are
    /// committed: a crash in between loses the incident, never the slot rows.
    async fn missed_incidents(&self, slots: &[crate::store::NewSlot]) -> Result<(), Error> {
        let mut by_schedule: IndexMap<&str, Vec<&crate::store::NewSlot>> = IndexMap::new();
        for s in slots
            .iter()
            .filter(|s| s.outcome == crate::store::SlotOutcome::Missed)
        {
            by_schedule.entry(s.schedule.as_str()).or_default().push(s);
        }
        for (name, missed) in by_schedule {
            let Some(schedule) = self.catalog.schedules.iter().find(|s| s.name == name) else {
                continue;
            };
            let Some(severity) = schedule.missed else {
                continue;
            };
            let (Some(first), Some(last)) = (missed.first(), missed.last()) else {
                continue;
            };
            let tz = schedule.timezone;
            let at = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M %Z");
            let why = |s: &crate::store::NewSlot| {
                s.reason
                    .as_deref()
                    .map(|r| r.strip_prefix("missed: ").unwrap_or(r).to_owned())
                    .unwrap_or_default()
            };
            let n = missed.len();
            let summary = if n == 1 {
                format!(
                    "a slot of schedule `{name}` was missed, `{}` did not run: {}",
                    schedule.job,
                    why(first)
                )
            } else {
                format!(
                    "{n} slots of schedule `{name}` were missed, due {} to {}; `{}` did not run: {}",
                    at(first.due_at),
                    at(last.due_at),
                    schedule.job,
                    why(last)
                )
            };
            let excerpt: Vec<String> = missed
                .iter()
                .rev()
                .take(20)
                .rev()
                .map(|s| format!("{}: {}", at(s.fire_time), why(s)))
                .collect();
            crate::incident::raise_counted(
                self.store.as_ref(),
                &self.settings,
                crate::incident::Raise {
                    severity,
                    job: &schedule.job,
                    run_id: None,
                    step: None,
                    failure_class: crate::runbook::MISSED_CLASS,
                    summary,
                    log_excerpt: excerpt.join("\n"),
                    rule: None,
                },
                i64::try_from(n).unwrap_or(i64::MAX),
            )
            .await?;
        }
        Ok(())
    }

    /// Starts the queued runs that may start now.
    async fn pump(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        let active = self.store.active_runs().await?;
        let running_jobs: HashMap<&str, Vec<i64>> = active
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .fold(HashMap::new(), |mut m, r| {
                m.entry(r.job.as_str()).or_default().push(r.id);
                m
            });
        // A run cancelled or failed while it waited for its `after` jobs is no longer queued:
        // its wait is forgotten.
        self.waiting.retain(|id, _| {
            active
                .iter()
                .any(|r| r.id == *id && r.status == RunStatus::Queued)
        });
        let mut starting: Vec<RunRow> = Vec::new();
        for run in active.iter().filter(|r| r.status == RunStatus::Queued) {
            if run.not_before.is_some_and(|t| t > now) {
                continue;
            }
            let Some(job) = self.catalog.jobs.get(&run.job).cloned() else {
                self.store
                    .set_run_status(
                        run.id,
                        RunStatus::Failed,
                        now,
                        Some(&format!("job `{}` is no longer defined", run.job)),
                    )
                    .await?;
                continue;
            };
            // An urgent request (`--outside-window`, audited) starts outside the window.
            if run.outside_window.is_none()
                && let Some(wait) = self.window_wait(&job, now)
            {
                let (until, why) = wait;
                match until {
                    Some(t) => self.store.defer_run(run.id, t, &why).await?,
                    None => {
                        self.store
                            .set_run_status(run.id, RunStatus::Cancelled, now, Some(&why))
                            .await?
                    }
                }
                continue;
            }
            if !self.after_met(run, &job, now).await? {
                continue;
            }
            // A scheduled run waits while another run of its job runs, unless its schedule
            // allows overlapping runs; runs queued by hand do not wait.
            let serial = run
                .schedule
                .as_ref()
                .and_then(|s| self.catalog.schedules.iter().find(|x| x.name == *s))
                .is_some_and(|s| s.overlap != crate::model::Overlap::Allow);
            let busy = running_jobs.contains_key(run.job.as_str())
                || starting.iter().any(|s| s.job == run.job);
            if serial && busy {
                continue;
            }
            if self
                .store
                .claim_run(run.id, &engine::owner::me(), now)
                .await?
            {
                starting.push(run.clone());
            }
        }
        for run in starting {
            self.waiting.remove(&run.id);
            // A rerun from its failed step starts with the steps it keeps already done.
            let mut resume = Vec::new();
            if run.rerun_of.is_some()
                && let (Some(detail), Some(job)) = (
                    self.store.get_run(run.id).await?,
                    self.catalog.jobs.get(&run.job),
                )
                && detail.steps.iter().any(|s| s.status != StepStatus::Pending)
            {
                resume = recover::resume_state(&detail, job, now).unwrap_or_default();
            }
            tracing::info!(run = run.id, "starting queued run of `{}`", run.job);
            self.spawn(run.id, Launch::from(&run), resume);
        }
        Ok(())
    }

    /// When a job's window keeps it from starting now: until when it waits (or `None` when
    /// its policy is to skip), and why.
    fn window_wait(
        &self,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Option<(Option<DateTime<Utc>>, String)> {
        let facts = crate::schedule::plan::Facts {
            now,
            active: &[],
            windows: &self.catalog.windows,
            window_tz: self.settings.timezone,
            display_tz: self.settings.timezone,
        };
        let (until, why) = crate::schedule::plan::window_wait(job, now, &facts)?;
        let skip = job.outside_window == crate::model::WindowPolicy::Skip;
        Some((until.filter(|_| !skip), why))
    }

    /// Whether the jobs a run waits for have succeeded for its business date; fails the run
    /// when it has waited longer than the job's `wait_timeout`.
    async fn after_met(
        &mut self,
        run: &RunRow,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<bool, Error> {
        if job.after.is_empty() {
            return Ok(true);
        }
        if self
            .waiting
            .get(&run.id)
            .is_some_and(|t| *t > tokio::time::Instant::now())
        {
            return Ok(false);
        }
        let mut missing = Vec::new();
        for other in &job.after {
            if !self.store.succeeded(other, run.business_date).await? {
                missing.push(format!("`{other}`"));
            }
        }
        if missing.is_empty() {
            return Ok(true);
        }
        let waited = (now - run.queued_at).to_std().unwrap_or_default();
        let took = crate::model::values::format_duration(job.wait_timeout);
        if waited >= job.wait_timeout {
            let why = format!(
                "{} did not succeed for business date {} within {took} (wait_timeout)",
                missing.join(", "),
                run.business_date
            );
            tracing::warn!(run = run.id, "{why}");
            self.waiting.remove(&run.id);
            self.store
                .set_run_status(run.id, RunStatus::Failed, now, Some(&why))
                .await?;
            return Ok(false);
        }
        let recheck = tokio::time::Instant::now() + AFTER_RECHECK;
        if self.waiting.insert(run.id, recheck).is_none() {
            // Written once: the reason, and no deferral (the wait is kept here).
            let why = format!(
                "waiting for {} to succeed for business date {} (up to {took})",
                missing.join(", "),
                run.business_date
            );
            tracing::info!(run = run.id, "{why}");
            self.store.defer_run(run.id, now, &why).await?;
        }
        Ok(false)
    }

    /// Drives a run recorded as running under this daemon, in its own task.
    fn spawn(&mut self, run_id: i64, run: Launch<'_>, resume: Vec<engine::Resume>) {
        let Some(job) = self.catalog.jobs.get(run.job).cloned() else {
            return;
        };
        let params: IndexMap<String, String> = run
            .params
            .as_object()
            .map(|o| {
                o.iter()
                    .map(|(k, v)| {
                        let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                        (k.clone(), v)
                    })
                    .collect()
            })
            .unwrap_or_default();
        let (stop_tx, stop_rx) = watch::channel(None);
        self.running.insert(
            run_id,
            Active {
                job: job.name.clone(),
                stop: stop_tx,
            },
        );
        let started = Started {
            run_id,
            job: job.clone(),
            params,
            // A queued run never carries a secret: they come from `from_env`.
            secrets: IndexMap::new(),
            reason: run.comment.map(str::to_owned),
            business_date: run.business_date,
            fiscal_year: run.fiscal_year,
            parallel: self.settings.parallel,
            resume,
        };
        let (settings, catalog, store, done) = (
            self.settings.clone(),
            self.catalog.clone(),
            self.store.clone(),
            self.done_tx.clone(),
        );
        let name = job.name.clone();
        let on_event: Arc<dyn Fn(Event) + Send + Sync> = Arc::new(move |e| match e {
            Event::RunStarted {
                run_id,
                business_date,
            } => {
                tracing::info!(
                    run = run_id,
                    "run of `{name}` started (business date {business_date})"
                )
            }
            Event::StepStarted { step, attempt } => {
                tracing::debug!(run = run_id, step, attempt, "step started")
            }
            Event::StepEnded {
                step,
                status,
                detail,
            } => {
                tracing::debug!(run = run_id, step, %status, "step ended: {detail}")
            }
        });
        self.tasks.spawn(async move {
            let result =
                engine::execute(&settings, catalog, store, started, stop_rx, on_event).await;
            let _ = done.send((run_id, result));
        });
    }

    /// A run this daemon drove has ended.
    async fn finished(
        &mut self,
        run_id: i64,
        result: Result<RunResult, StoreError>,
    ) -> Result<(), Error> {
        let active = self.running.remove(&run_id);
        // The run's task has sent its result and is ending; tasks that ended are let go.
        reap(&mut self.tasks);
        match result {
            Ok(r) if r.status == RunStatus::Running => {
                tracing::info!(
                    run = run_id,
                    "run suspended while waiting to retry; the next start takes it up again"
                );
            }
            Ok(r) => {
                tracing::info!(
                    run = run_id,
                    status = %r.status,
                    driving = self.running.len(),
                    tasks = self.tasks.len(),
                    "run ended"
                );
                if r.status == RunStatus::Interrupted
                    && let Some(a) = active
                {
                    self.after_interrupt(run_id, &a.job).await?;
                }
            }
            Err(e) => {
                // The run stays `running` in the database; the next start recovers it.
                tracing::error!(run = run_id, "run stopped by a database error: {e}");
            }
        }
        Ok(())
    }

    /// Applies a job's `on_interrupt` policy to an interrupted run.
    async fn after_interrupt(&mut self, run_id: i64, job: &str) -> Result<(), Error> {
        let policy = self.catalog.jobs.get(job).map(|j| j.on_interrupt);
        if policy != Some(OnInterrupt::Rerun) {
            return Ok(());
        }
        let Some(old) = self.store.get_run(run_id).await? else {
            return Ok(());
        };
        let Some(job) = self.catalog.jobs.get(job).cloned() else {
            return Ok(());
        };
        let mut record = engine::new_run(
            &self.settings,
            &self.catalog,
            &job,
            &IndexMap::new(),
            Trigger::Recovery,
            RunStatus::Queued,
            (self.clock)(),
            &old.run.requested_by,
        );
        record.params = old.run.params.clone();
        record.business_date = old.run.business_date;
        record.fiscal_year = old.run.fiscal_year;
        record.business_date_given = old.run.business_date_given;
        record.outside_window = old.run.outside_window.clone();
        record.schedule = old.run.schedule.clone();
        record.rerun_of = Some(run_id);
        record.comment = old.run.comment.clone();
        let new_id = self.store.create_run(&record).await?;
        tracing::warn!(
            run = run_id,
            rerun = new_id,
            "interrupted run of `{}` queued again (on_interrupt: rerun)",
            job.name
        );
        Ok(())
    }

    /// SIGHUP: reads the definitions again; an invalid set is logged and the old one kept.
    fn reload(&mut self) {
        let settings = match Settings::load(&self.settings.root) {
            Ok(s) => s,
            Err(d) => {
                tracing::error!(
                    "reload refused, unyo.yaml is invalid; keeping the running definitions:\n{d}"
                );
                return;
            }
        };
        if settings.database != self.settings.database {
            tracing::warn!(
                "`database` changed in unyo.yaml; restart the daemon to use {}",
                settings.database
            );
        }
        match Catalog::load(&settings) {
            Ok(catalog) => {
                let database = self.settings.database.clone();
                self.settings = Settings {
                    database,
                    ..settings
                };
                self.catalog = Arc::new(catalog);
                self.planner
                    .reload(&self.settings, &self.catalog, (self.clock)());
                let _ = self.notifier.send(Arc::new(Notifier::new(
                    self.settings.clone(),
                    self.catalog.clone(),
                    self.store.clone(),
                )));
                eprintln!(
                    "unyo daemon: definitions reloaded: {}",
                    self.catalog.summary()
                );
                for w in self.settings.unheard() {
                    eprintln!("warning: {w}");
                }
            }
            Err(d) => {
                tracing::error!("reload refused, keeping the running definitions:\n{d}");
            }
        }
    }

    /// SIGTERM/SIGINT: start nothing new, let running runs finish within the grace period,
    /// then stop them (recorded interrupted); a second signal stops them at once.
    async fn shutdown(
        &mut self,
        signal: &str,
        term: &mut tokio::signal::unix::Signal,
        int: &mut tokio::signal::unix::Signal,
    ) -> Result<(), Error> {
        let grace = self.settings.shutdown_grace;
        if !self.running.is_empty() {
            eprintln!(
                "unyo daemon: {signal}: waiting up to {} for {} running run(s); send it again to stop them now",
                crate::model::values::format_duration(grace),
                self.running.len()
            );
        }
        // Running steps may finish; nothing new starts, and a run waiting for a retry or
        // with steps still to start is left to be taken up at the next start.
        for a in self.running.values() {
            let _ = a.stop.send(Some(Stop::Drain));
        }
        let deadline = tokio::time::Instant::now() + grace;
        let mut stopped = false;
        while !self.running.is_empty() {
            tokio::select! {
                Some((run_id, result)) = self.done_rx.recv() => self.finished(run_id, result).await?,
                () = tokio::time::sleep_until(deadline), if !stopped => {
                    self.stop_all();
                    stopped = true;
                }
                Some(()) = term.recv(), if !stopped => { self.stop_all(); stopped = true; }
                Some(()) = int.recv(), if !stopped => { self.stop_all(); stopped = true; }
            }
        }
        while self.tasks.join_next().await.is_some() {}
        Ok(())
    }

    fn stop_all(&self) {
        for (id, a) in &self.running {
            tracing::warn!(
                run = id,
                "stopping run of `{}`: the daemon is shutting down",
                a.job
            );
            let _ = a.stop.send(Some(Stop::Shutdown));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: every run's task stayed in the `JoinSet` until shutdown (the daemon grew
    /// by about 2.7 KB per run).
    #[tokio::test]
    async fn finished_run_tasks_are_reaped() {
        let mut tasks = JoinSet::new();
        let (tx, mut rx) = mpsc::unbounded_channel();
        for _ in 0..100 {
            let tx = tx.clone();
            tasks.spawn(async move {
                let _ = tx.send(());
            });
        }
        for _ in 0..100 {
            rx.recv().await.expect("every task ran");
        }
        let mut joined = 0;
        while !tasks.is_empty() {
            joined += reap(&mut tasks);
            tokio::task::yield_now().await;
        }
        assert_eq!(joined, 100);
        assert_eq!(tasks.len(), 0);
    }
}
