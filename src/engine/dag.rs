//! The step DAG of one run: which steps may start (their needs met), how many have a process
//! at once (a semaphore of `parallel` permits), the dependents of a failed or refused step
//! recorded `skipped` (except `always` steps, which wait only for their needs to end), the
//! stop requests (the caller's, and `unyo cancel` read from the database), the run's watcher
//! looked at on the same tick, and the run's status once no step task is left.

use std::collections::VecDeque;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;

use super::context::StepContext;
use super::monitor::Monitor;
use super::step::run_step;
use super::{CANCEL_POLL, Event, Resume, Stop};
use crate::store::{RunStatus, StepStatus, StoreError};

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
pub(super) enum StepEnd {
    /// The run was stopped before the step got a slot.
    NotStarted,
    /// Ended; `true` when the steps that need it run anyway (`continue`).
    Ended(StepStatus, bool),
    /// The daemon stopped while the step waited for a retry: it stays `waiting_retry` and
    /// the run is taken up again at the next start.
    Suspended,
}

/// Where a step task reports its end.
pub(super) type Outcomes = mpsc::UnboundedSender<(usize, StepEnd)>;

/// A step waiting for attempt number `.1`, due at `.2`, when its run is taken up again.
type Retry = (usize, i64, DateTime<Utc>);

/// The steps of a run as they stand, and who waits for whom.
struct Dag {
    state: Vec<State>,
    /// How many needs each step still waits for: to succeed, or only to end (`always`).
    missing: Vec<usize>,
    /// The steps that need each step.
    dependents: Vec<Vec<usize>>,
    /// Steps whose needs are met, to be started.
    ready: Vec<usize>,
}

impl Dag {
    /// The DAG at the start of a run. A resumed run: steps that ended stay ended, and the
    /// steps waiting for a retry are returned to go on waiting.
    fn new(ctx: &StepContext) -> (Dag, Vec<Retry>) {
        let steps = &ctx.job.steps;
        let mut state = vec![State::Waiting; steps.len()];
        let mut retries = Vec::new();
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
        let satisfied =
            |s: State| matches!(s, State::Done(StepStatus::Succeeded) | State::Continued);
        let ended = |s: State| matches!(s, State::Done(_) | State::Continued);
        let missing: Vec<usize> = steps
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
        let ready = (0..steps.len())
            .filter(|&i| missing[i] == 0 && state[i] == State::Waiting)
            .collect();
        let dag = Dag {
            state,
            missing,
            dependents,
            ready,
        };
        (dag, retries)
    }

    /// Step `i` succeeded (or failed with `continue`): the steps that waited only for it
    /// are ready.
    fn satisfied(&mut self, i: usize) {
        for &d in &self.dependents[i] {
            self.missing[d] -= 1;
            if self.missing[d] == 0 && self.state[d] == State::Waiting {
                self.ready.push(d);
            }
        }
    }

    fn any(&self, status: StepStatus) -> bool {
        self.state.contains(&State::Done(status))
    }
}

/// The step tasks of a run and what stops them.
struct Driver {
    ctx: Arc<StepContext>,
    /// One permit per step process allowed at once.
    slots: Arc<Semaphore>,
    outcome_tx: Outcomes,
    /// A step reports its outcome here as soon as the record of its end is issued, and its
    /// task ends once that record is committed.
    outcomes: mpsc::UnboundedReceiver<(usize, StepEnd)>,
    running: JoinSet<Result<(), StoreError>>,
    /// The caller's stop requests.
    cancel: watch::Receiver<Option<Stop>>,
    /// The steps' `halt`: set when the run is stopped or the database failed.
    halt: watch::Sender<bool>,
    /// The steps' `drain`: set when the daemon starts stopping.
    drain: watch::Sender<bool>,
    cancel_poll: tokio::time::Interval,
    /// The run's watcher, looked at on every tick of `cancel_poll`.
    monitor: Option<Monitor>,
    cancelled: bool,
    draining: bool,
    /// The first database error: no new step starts, running ones are stopped, and the run
    /// ends with this error once every step task has ended.
    broken: Option<StoreError>,
}

/// Schedules the step DAG; returns the run's final status.
///
/// Every step whose needs are met gets a task at once; a semaphore with `parallel` permits
/// decides which of them have a process running. A permit is returned as soon as the process
/// ends, so the next step starts while the previous one's end is being recorded.
pub(super) async fn drive(
    ctx: &Arc<StepContext>,
    parallel: usize,
    cancel: watch::Receiver<Option<Stop>>,
    halt: watch::Sender<bool>,
    drain: watch::Sender<bool>,
) -> Result<RunStatus, StoreError> {
    let (mut dag, retries) = Dag::new(ctx);
    let mut driver = Driver::new(ctx, parallel, cancel, halt, drain);
    let mut monitor = Monitor::new(ctx).await;
    monitor.check(ctx).await;
    driver.monitor = Some(monitor);
    for (i, attempt, at) in retries {
        driver.spawn(i, Some((attempt, at)));
    }
    loop {
        if driver.stopping() {
            dag.ready.clear();
        }
        for i in std::mem::take(&mut dag.ready) {
            dag.state[i] = State::Running;
            driver.spawn(i, None);
        }
        if driver.running.is_empty() && driver.outcomes.is_empty() {
            break;
        }
        if let Some((i, end)) = driver.next_end().await {
            driver.step_ended(&mut dag, i, end).await;
        }
    }
    if let Some(e) = driver.broken {
        return Err(e);
    }
    wind_up(ctx, &mut dag, driver.cancelled, driver.draining).await
}

impl Driver {
    fn new(
        ctx: &Arc<StepContext>,
        parallel: usize,
        cancel: watch::Receiver<Option<Stop>>,
        halt: watch::Sender<bool>,
        drain: watch::Sender<bool>,
    ) -> Driver {
        let (outcome_tx, outcomes) = mpsc::unbounded_channel();
        let mut cancel_poll =
            tokio::time::interval_at(tokio::time::Instant::now() + CANCEL_POLL, CANCEL_POLL);
        cancel_poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let cancelled = cancel.borrow().is_some_and(|s| s != Stop::Drain);
        let draining = *drain.borrow();
        Driver {
            ctx: ctx.clone(),
            slots: Arc::new(Semaphore::new(parallel)),
            outcome_tx,
            outcomes,
            running: JoinSet::new(),
            cancelled,
            draining,
            cancel,
            halt,
            drain,
            cancel_poll,
            monitor: None,
            broken: None,
        }
    }

    /// No new step may start.
    fn stopping(&self) -> bool {
        self.cancelled || self.draining || self.broken.is_some()
    }

    /// Gives step `i` its task (`retry`: a resumed step's next attempt and when it is due).
    fn spawn(&mut self, i: usize, retry: Option<(i64, DateTime<Utc>)>) {
        let (ctx, slots, tx) = (
            self.ctx.clone(),
            self.slots.clone(),
            self.outcome_tx.clone(),
        );
        self.running
            .spawn(async move { run_step(&ctx, i, slots, tx, retry).await });
    }

    /// Waits for the next thing that happens to the run: a step's end is returned; a task
    /// that ended, a cancel request or a stop is taken in here.
    async fn next_end(&mut self) -> Option<(usize, StepEnd)> {
        tokio::select! {
            biased;
            Some(outcome) = self.outcomes.recv() => Some(outcome),
            Some(joined) = self.running.join_next() => {
                match joined {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => self.break_down(e),
                    // A step task panicked: a bug, but the run must still end with a record.
                    Err(e) => tracing::error!("step task failed: {e}"),
                }
                None
            }
            _ = self.cancel_poll.tick(), if !self.cancelled => {
                self.poll_cancel_request().await;
                if let Some(m) = &mut self.monitor {
                    m.check(&self.ctx).await;
                }
                None
            }
            changed = self.cancel.changed(), if !self.cancelled => {
                // A closed channel means nobody can cancel any more: keep going.
                let why = if changed.is_ok() { *self.cancel.borrow() } else { None };
                self.stop(why);
                None
            }
        }
    }

    /// A database error: running steps are stopped, the first error is kept.
    fn break_down(&mut self, e: StoreError) {
        if self.broken.is_none() {
            tracing::error!("stopping the run: {e}");
        }
        self.broken.get_or_insert(e);
        let _ = self.halt.send(true);
    }

    /// `unyo cancel` from another process writes its request to the database.
    async fn poll_cancel_request(&mut self) {
        match self.ctx.store.cancel_requested(self.ctx.run_id).await {
            Ok(Some(user)) => {
                tracing::warn!(run = self.ctx.run_id, "cancelled by {user}");
                self.cancelled = true;
                let _ = self.ctx.stopped.set(Stop::Operator);
                let _ = self.halt.send(true);
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(run = self.ctx.run_id, "cannot read cancel requests: {e}"),
        }
    }

    /// The caller asked the run to stop (`why`), or to drain.
    fn stop(&mut self, why: Option<Stop>) {
        if why == Some(Stop::Drain) {
            self.draining = true;
            let _ = self.drain.send(true);
        } else if let Some(why) = why {
            self.cancelled = true;
            let _ = self.ctx.stopped.set(why);
            let _ = self.halt.send(true);
        }
    }

    /// Step `i` reported its end: the steps that need it become ready, or are skipped.
    async fn step_ended(&mut self, dag: &mut Dag, i: usize, end: StepEnd) {
        let (status, continued) = match end {
            StepEnd::Ended(status, continued) => (status, continued),
            // Cancelled before it started: recorded with the other waiting steps at the end.
            StepEnd::NotStarted => {
                dag.state[i] = State::Waiting;
                return;
            }
            StepEnd::Suspended => {
                dag.state[i] = State::Suspended;
                return;
            }
        };
        dag.state[i] = if continued {
            State::Continued
        } else {
            State::Done(status)
        };
        if status == StepStatus::Cancelled || self.cancelled || self.broken.is_some() {
            // Steps waiting on it stay waiting and are recorded cancelled at the end.
        } else if status == StepStatus::Succeeded || continued {
            dag.satisfied(i);
        } else if let Err(e) = skip_dependents(&self.ctx, i, status, dag).await {
            self.broken.get_or_insert(e);
            let _ = self.halt.send(true);
        }
    }
}

/// Records every step that (transitively) needs step `i` as skipped, except `always` steps:
/// for them the need has ended, and once all theirs have they are `ready` to start.
async fn skip_dependents(
    ctx: &StepContext,
    i: usize,
    status: StepStatus,
    dag: &mut Dag,
) -> Result<(), StoreError> {
    let steps = &ctx.job.steps;
    let mut queue: VecDeque<(usize, usize, StepStatus)> =
        dag.dependents[i].iter().map(|&d| (d, i, status)).collect();
    while let Some((d, because, why)) = queue.pop_front() {
        if steps[d].always {
            // Each edge is queued once: by the one end (failed or skipped) of its need.
            dag.missing[d] = dag.missing[d].saturating_sub(1);
            if dag.missing[d] == 0 && dag.state[d] == State::Waiting {
                dag.ready.push(d);
            }
            continue;
        }
        if dag.state[d] != State::Waiting {
            continue;
        }
        dag.state[d] = State::Done(StepStatus::Skipped);
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
                ctx.clock.now(),
                &reason,
            )
            .await?;
        (ctx.on_event)(Event::StepEnded {
            step: steps[d].name.clone(),
            status: StepStatus::Skipped,
            detail: reason,
        });
        queue.extend(
            dag.dependents[d]
                .iter()
                .map(|&n| (n, d, StepStatus::Skipped)),
        );
    }
    Ok(())
}

/// The run's status once no step task is left. `Running` when the daemon stopped and the
/// run waits, as it is, for the next start to take it up again; otherwise the steps that
/// never started (and waits for a retry that were stopped) are recorded cancelled, and the
/// status follows from how the steps ended.
async fn wind_up(
    ctx: &StepContext,
    dag: &mut Dag,
    cancelled: bool,
    draining: bool,
) -> Result<RunStatus, StoreError> {
    let now = ctx.clock.now();
    let left = |s: &State| matches!(s, State::Waiting | State::Suspended);
    if draining && !cancelled && dag.state.iter().any(left) {
        // The daemon stopped before the run could go on.
        return Ok(RunStatus::Running);
    }
    if dag.state.contains(&State::Suspended) {
        if !dag.any(StepStatus::Cancelled) {
            // Nothing was running when the daemon stopped.
            return Ok(RunStatus::Running);
        }
        // Other steps were stopped mid-run: the run is interrupted, waits included.
        let reason = format!("stopped while waiting to retry: {}", ctx.stop_reason());
        cancel_steps(ctx, dag, State::Suspended, now, &reason).await?;
    }
    let never = match ctx.stopped.get() {
        None | Some(Stop::Operator) => "the run was cancelled before this step started".to_owned(),
        Some(s) => format!("not started: {}", s.reason()),
    };
    cancel_steps(ctx, dag, State::Waiting, now, &never).await?;
    // A failed step whose runbook said `continue` does not fail the run.
    Ok(if dag.any(StepStatus::Failed) {
        RunStatus::Failed
    } else if cancelled || dag.any(StepStatus::Cancelled) {
        ctx.stopped
            .get()
            .map_or(RunStatus::Cancelled, |s| s.run_status())
    } else if dag.any(StepStatus::Refused) {
        // A step declined by itself and nothing failed: not a failure, not a success.
        RunStatus::Refused
    } else {
        RunStatus::Succeeded
    })
}

/// Records every step in state `which` cancelled, with `reason`.
async fn cancel_steps(
    ctx: &StepContext,
    dag: &mut Dag,
    which: State,
    now: DateTime<Utc>,
    reason: &str,
) -> Result<(), StoreError> {
    for (i, s) in dag.state.iter_mut().enumerate() {
        if *s == which {
            ctx.store
                .end_step(
                    ctx.run_id,
                    &ctx.job.steps[i].name,
                    StepStatus::Cancelled,
                    now,
                    reason,
                )
                .await?;
            *s = State::Done(StepStatus::Cancelled);
        }
    }
    Ok(())
}
