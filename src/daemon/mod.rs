//! `unyo daemon`: the long-running loop. It fires schedules on time, starts queued runs,
//! recovers runs left behind by a crash, reloads definitions on SIGHUP and stops cleanly on
//! SIGTERM or SIGINT.
//!
//! The daemon owns no state that is not in the database: slots, watermarks, queued runs and
//! running runs are all recorded, so a restart (or `kill -9`) neither loses nor repeats work.
//! What to do with each slot is decided by the pure planner in `schedule`; the daemon only
//! supplies the clock and the facts (which runs are active) and carries the decisions out.
//!
//! This file holds the start (`begin`, then `Starting::run`) and the main loop; each of its
//! concerns has a file: the lock (`lock.rs`), planning passes (`planning.rs`, on the
//! per-schedule state of `slots.rs`), the queue poll (`queue.rs`), the runs it drives
//! (`launch.rs`), steps other nodes hand over to it (`carry.rs`), queued runs already late
//! (`late.rs`), crash recovery (`recover.rs`), the notifier's task (`notify_task.rs`), SIGHUP
//! (`reload.rs`), the signals and the stop (`shutdown.rs`), the `/metrics` endpoint's task
//! (`metrics.rs`) and the memory it gives back (`memory.rs`), the dashboard's task
//! (`crate::web`, served on `web.listen`) and systemd's notify protocol (`systemd.rs`).

mod carry;
mod late;
mod launch;
mod lock;
mod memory;
mod metrics;
mod node;
mod notify_task;
mod planning;
mod queue;
mod recover;
mod reload;
mod shutdown;
mod slots;
pub mod systemd;

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::domain::clock::SharedClock;
use crate::engine::{RunResult, Stop};
use crate::error::Error;
use crate::incident::notifier::Notifier;
use crate::model::{Catalog, Settings};
use crate::store::{NewRun, RunRow, Store, StoreError};
use shutdown::Signals;

/// How often queued runs are looked for (the CLI's requests start within this time).
const QUEUE_POLL: Duration = Duration::from_millis(500);
/// How often the daemon's status line (systemd's STATUS, the debug log) is written.
const STATUS_EVERY: Duration = Duration::from_secs(10);
/// How often a daemon that cannot reach its database tries again.
const OUTAGE_RETRY: Duration = Duration::from_secs(1);
/// The longest sleep: the wall clock is read again at least this often, so a clock step or
/// a suspended machine is noticed.
const MAX_SLEEP: Duration = Duration::from_secs(30);
/// How often a run waiting for its `after` jobs looks again.
const AFTER_RECHECK: Duration = Duration::from_secs(2);
/// How often runs left behind by a dead unyo process are looked for.
const RECOVER_EVERY: Duration = Duration::from_secs(30);

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
    clock: SharedClock,
    id: i64,
    running: HashMap<i64, Active>,
    /// Steps other nodes' runs handed over that this node runs, by attempt id: the stop of
    /// each (`carry.rs`). Their tasks are among `tasks`.
    carried: HashMap<i64, watch::Sender<bool>>,
    /// The tasks of the runs being driven; a finished one is reaped at the next pass (a
    /// finished task kept here holds its output until it is joined).
    tasks: JoinSet<()>,
    done_tx: mpsc::UnboundedSender<(i64, Result<RunResult, StoreError>)>,
    done_rx: mpsc::UnboundedReceiver<(i64, Result<RunResult, StoreError>)>,
    /// Queued runs waiting for their `after` jobs: when to look again (the reason is
    /// written once, when the wait starts).
    waiting: HashMap<i64, tokio::time::Instant>,
    /// Queued runs watched for their start and end deadlines (`late.rs`).
    late: late::QueuedLateness,
    planner: slots::Planner,
    /// This daemon as a node: its heartbeat and the planner's lease (`node.rs`).
    role: node::Role,
    /// Runs whose end a database failure kept from being recorded: recorded interrupted
    /// once the database answers (`launch.rs`).
    unrecorded: Vec<(i64, String, String)>,
    /// Woken when another process queues a run (PostgreSQL's LISTEN/NOTIFY): the queue is
    /// polled at once instead of at its next poll.
    wake: Option<Arc<tokio::sync::Notify>>,
    /// Queued runs whose wait for a node with their labels opened an incident already.
    node_waits: std::collections::HashSet<i64>,
    /// The notifier task's current settings and catalog (replaced on reload).
    notifier: watch::Sender<Arc<Notifier>>,
    /// Each scheduled job's next slot, for the metrics endpoint (published after each
    /// planning pass that recorded slots, and on reload).
    next_slots: watch::Sender<metrics::Slots>,
    /// The definitions the dashboard shows (sent again on reload).
    definitions: watch::Sender<Arc<crate::web::Definitions>>,
    /// systemd's notify socket, when the daemon runs under it.
    notify: systemd::Notify,
    /// Held for the daemon's life: a second daemon on the same database is refused.
    _lock: File,
}

/// A daemon that holds its lock, listens for signals and has read its definitions, and has
/// not started yet: the command layer prepares what the daemon needs around it (the demo
/// environment) before [`Starting::run`].
pub struct Starting {
    settings: Settings,
    catalog: Arc<Catalog>,
    signals: Signals,
    lock: File,
    /// The `/metrics` listener, bound at the start so a taken address stops the start.
    metrics: Option<std::net::TcpListener>,
    /// The dashboard's listener (`web.listen`), bound at the start likewise.
    web: Option<crate::web::Listener>,
}

/// The first part of the daemon's start: signals, the lock, the definitions.
pub fn begin(settings: Settings) -> Result<Starting, Error> {
    // Listening from the start: a SIGTERM while the daemon starts (from a service manager,
    // say, or right after the "started" line) stops it cleanly once it is up, instead of
    // killing it by the default action. Before the lock, so that a daemon whose pid is in
    // the lock file answers signals.
    let signals = Signals::listen()?;
    let lock = lock::lock(&settings)?;
    // Processes that leave a step's group are re-parented to the daemon, to be ended with
    // their step.
    crate::exec::escaped::become_subreaper();
    let catalog = Arc::new(Catalog::load(&settings)?);
    let metrics = match settings.metrics {
        Some(addr) => {
            let io = |source| Error::Io {
                action: format!("cannot listen on `{addr}` for `/metrics` (`metrics.listen`)"),
                source,
            };
            let l = std::net::TcpListener::bind(addr).map_err(io)?;
            l.set_nonblocking(true).map_err(io)?;
            Some(l)
        }
        None => None,
    };
    let web = crate::web::bind(&settings)?;
    Ok(Starting {
        settings,
        catalog,
        signals,
        lock,
        metrics,
        web,
    })
}

/// Runs the daemon until SIGTERM or SIGINT, its time read from `clock`.
pub async fn run(settings: Settings, clock: SharedClock) -> Result<(), Error> {
    begin(settings)?.run(clock).await
}

/// Hand-written: signals and the lock file have nothing to show.
impl std::fmt::Debug for Starting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Starting")
            .field("root", &self.settings.root)
            .field("catalog", &self.catalog.summary())
            .finish_non_exhaustive()
    }
}

impl Starting {
    /// The settings the daemon runs with.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// Runs the daemon until SIGTERM or SIGINT, its time read from `clock`.
    pub async fn run(self, clock: SharedClock) -> Result<(), Error> {
        let Starting {
            settings,
            catalog,
            signals,
            lock,
            metrics,
            web,
        } = self;
        let store: Arc<dyn Store> = Arc::from(crate::store::open(&settings).await?);
        let (mut daemon, notifier_rx) =
            Daemon::new(settings, catalog, store, clock.clone(), lock).await?;
        let (notifier_stop, notifier_stop_rx) = watch::channel(false);
        let notifier_task = tokio::spawn(notify_task::notify_loop(
            notifier_rx,
            notifier_stop_rx,
            clock,
        ));
        daemon.announce();
        daemon.end_handed_leftovers().await?;
        daemon.recover().await?;
        let (metrics_stop, metrics_stop_rx) = watch::channel(false);
        let metrics_task = metrics.map(|listener| {
            let endpoint = metrics::Endpoint {
                store: daemon.store.clone(),
                clock: daemon.clock.clone(),
                next_slots: daemon.next_slots.subscribe(),
                tally: Default::default(),
            };
            tokio::spawn(metrics::serve(listener, endpoint, metrics_stop_rx))
        });
        let (web_stop, web_stop_rx) = watch::channel(false);
        let web_task = web.map(|listener| {
            let dashboard = crate::web::Dashboard {
                store: daemon.store.clone(),
                clock: daemon.clock.clone(),
                definitions: daemon.definitions.subscribe(),
                city: Default::default(),
            };
            tokio::spawn(crate::web::serve(listener, dashboard, web_stop_rx))
        });
        let ready = format!("running: {}", daemon.catalog.summary());
        daemon.notify.ready(&ready);
        let result = daemon.main_loop(signals).await;
        daemon.notify.stopping("stopping");
        let _ = metrics_stop.send(true);
        let _ = web_stop.send(true);
        if let Some(t) = metrics_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Some(t) = web_task {
            let _ = tokio::time::timeout(Duration::from_secs(2), t).await;
        }
        if let Err(e) = &result {
            // The loop is broken (the database failed): stop the steps rather than abandon
            // them; the next start records what it can.
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
        let _ = tokio::time::timeout(notify_task::NOTIFIER_LAST_PASS, notifier_task).await;
        let stopped = daemon
            .store
            .heartbeat(daemon.id, daemon.clock.now(), true)
            .await;
        result?;
        stopped?;
        eprintln!("unyo daemon stopped");
        Ok(())
    }
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

/// When the main loop wakes next: the next queue poll, the next due slot, or at most
/// [`MAX_SLEEP`] from `now` (monotonic), whichever comes first. `until_due` is the time from
/// the clock's now to the next due slot.
fn wake_at(
    now: tokio::time::Instant,
    next_queue_poll: tokio::time::Instant,
    until_due: Option<Duration>,
) -> tokio::time::Instant {
    let wake = next_queue_poll.min(now + MAX_SLEEP);
    match until_due {
        Some(until) => wake.min(now + until),
        None => wake,
    }
}

impl Daemon {
    /// Tells the metrics endpoint each scheduled job's next slot.
    fn publish_next_slots(&self) {
        if self.next_slots.receiver_count() > 0 {
            let _ = self
                .next_slots
                .send(Arc::new(self.planner.next_by_job(&self.catalog)));
        }
    }

    /// The daemon on an open store: registered (its row in `daemons`), its planner loaded
    /// from the saved watermarks at the clock's now; with the receiving end of the
    /// notifier's current settings.
    async fn new(
        settings: Settings,
        catalog: Arc<Catalog>,
        store: Arc<dyn Store>,
        clock: SharedClock,
        lock: File,
    ) -> Result<(Daemon, watch::Receiver<Arc<Notifier>>), Error> {
        let now = clock.now();
        let id = store
            .register_node(
                &crate::store::NewNode {
                    name: settings.node.name.clone(),
                    labels: settings.node.labels.clone(),
                    host: crate::domain::host::hostname(),
                    pid: std::process::id(),
                    version: env!("CARGO_PKG_VERSION").to_owned(),
                },
                now,
            )
            .await?;
        // Once another node declares this one dead, nothing it writes is committed.
        store.fence_writes(id);
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let planner = slots::Planner::new(&settings, &catalog, store.watermarks().await?, now);
        let (notifier, notifier_rx) = watch::channel(Arc::new(Notifier::new(
            settings.clone(),
            catalog.clone(),
            store.clone(),
        )));
        let (next_slots, _) = watch::channel(Arc::new(planner.next_by_job(&catalog)));
        let (definitions, _) = watch::channel(Arc::new(crate::web::Definitions {
            settings: settings.clone(),
            catalog: catalog.clone(),
        }));
        let wake = store.wakeups();
        let daemon = Daemon {
            next_slots,
            definitions,
            notify: systemd::Notify::from_env(),
            settings,
            catalog,
            store,
            clock,
            id,
            running: HashMap::new(),
            carried: HashMap::new(),
            tasks: JoinSet::new(),
            done_tx,
            done_rx,
            waiting: HashMap::new(),
            late: Default::default(),
            planner,
            role: node::Role::new(),
            unrecorded: Vec::new(),
            node_waits: Default::default(),
            wake,
            notifier,
            _lock: lock,
        };
        Ok((daemon, notifier_rx))
    }

    /// The start line, on the log and on stderr, with the settings' warnings.
    fn announce(&self) {
        tracing::info!(
            daemon = self.id,
            root = %self.settings.root.display(),
            database = %self.settings.database,
            "unyo daemon started: {}",
            self.catalog.summary()
        );
        eprintln!(
            "unyo daemon {} started (pid {}): {}; database {}",
            env!("CARGO_PKG_VERSION"),
            std::process::id(),
            self.catalog.summary(),
            self.settings.database
        );
        // Beside the start line (the log goes to stderr as well, so once is enough).
        for w in self.settings.unheard() {
            eprintln!("warning: {w}");
        }
    }

    /// One pass of the main loop: the heartbeat, planning (while this node holds the
    /// planner's lease), fencing silent nodes, the queue poll and crash recovery when due.
    async fn pass(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
        next_queue_poll: &mut tokio::time::Instant,
        last_recover: &mut tokio::time::Instant,
    ) -> Result<(), Error> {
        self.beat(now).await?;
        self.record_unrecorded().await?;
        if self.planner(now).await? {
            self.plan(now).await?;
            self.fence_silent(now).await?;
        }
        if tokio::time::Instant::now() >= *next_queue_poll {
            self.pump(now).await?;
            self.take_handed(now).await?;
            *next_queue_poll = tokio::time::Instant::now() + QUEUE_POLL;
        }
        if last_recover.elapsed() >= RECOVER_EVERY {
            self.recover().await?;
            // Orphans kept for a step that was running then, and orphans that died.
            tokio::spawn(crate::exec::escaped::sweep(None, self.settings.kill_grace));
            *last_recover = tokio::time::Instant::now();
        }
        Ok(())
    }

    async fn main_loop(&mut self, signals: Signals) -> Result<(), Error> {
        let Signals {
            mut term,
            mut int,
            mut hup,
        } = signals;
        let mut last_status = tokio::time::Instant::now();
        let mut last_watchdog = tokio::time::Instant::now();
        let mut last_recover = tokio::time::Instant::now();
        let mut next_queue_poll = tokio::time::Instant::now();
        // Since when the database cannot be reached (the daemon goes on trying).
        let mut outage: Option<tokio::time::Instant> = None;
        loop {
            reap(&mut self.tasks);
            // The database's clock (this machine's with SQLite): every node fires by it.
            let now = self.clock.now() + self.role.offset;
            match self
                .pass(now, &mut next_queue_poll, &mut last_recover)
                .await
            {
                Ok(()) => {
                    if let Some(since) = outage.take() {
                        tracing::warn!("the database answers again after {:?}", since.elapsed());
                        eprintln!(
                            "unyo daemon: the database answers again (after {})",
                            crate::model::values::format_duration(since.elapsed())
                        );
                    }
                }
                // A database restarting or out of reach: nothing of the pass was lost (its
                // writes either committed or not); the next pass tries again.
                Err(Error::Store(e)) if e.is_transient() => {
                    if outage.is_none() {
                        tracing::error!("the database cannot be reached; trying again: {e}");
                        eprintln!("unyo daemon: {e}; trying again every second");
                        outage = Some(tokio::time::Instant::now());
                    }
                    tokio::select! {
                        () = tokio::time::sleep(OUTAGE_RETRY) => {}
                        Some(()) = term.recv() => return self.shutdown("SIGTERM", &mut term, &mut int).await,
                        Some(()) = int.recv() => return self.shutdown("SIGINT", &mut term, &mut int).await,
                    }
                    continue;
                }
                Err(e) => return Err(e),
            }
            if last_status.elapsed() >= STATUS_EVERY {
                tracing::debug!(
                    runs = self.running.len(),
                    tasks = self.tasks.len(),
                    waiting = self.waiting.len(),
                    "heartbeat"
                );
                last_status = tokio::time::Instant::now();
                let status = format!(
                    "running: {}; {} run(s) in progress",
                    self.catalog.summary(),
                    self.running.len()
                );
                self.notify.status(&status);
            }
            // Fed here only, after a pass that planned, polled and beat: a loop that hangs
            // (or a database that does not answer) starves the watchdog.
            if let Some(every) = self.notify.watchdog_every
                && last_watchdog.elapsed() >= every.min(QUEUE_POLL * 2)
            {
                self.notify.watchdog();
                last_watchdog = tokio::time::Instant::now();
            }
            // Sleep until the next slot is due, the next queue poll, or at most MAX_SLEEP.
            let until_due = self.planner.next_due().map(|due| {
                (due - (self.clock.now() + self.role.offset))
                    .to_std()
                    .unwrap_or_default()
            });
            let wake = wake_at(tokio::time::Instant::now(), next_queue_poll, until_due);
            let woken = self.wake.clone();
            let asked = async move {
                match woken {
                    Some(w) => w.notified().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep_until(wake) => {}
                () = asked => next_queue_poll = tokio::time::Instant::now(),
                Some((run_id, result)) = self.done_rx.recv() => self.finished(run_id, result).await?,
                Some(()) = term.recv() => return self.shutdown("SIGTERM", &mut term, &mut int).await,
                Some(()) = int.recv() => return self.shutdown("SIGINT", &mut term, &mut int).await,
                Some(()) = hup.recv() => self.reload(),
            }
        }
    }
}

#[cfg(test)]
mod tests;
