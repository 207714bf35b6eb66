//! The run's watcher, while it goes on and at its end: a deadline passed (`start_delay`,
//! `end_delay`, `max_runtime`) or a step quiet for its `stuck_after` is recorded as a
//! finding and opens an incident at once, not when the run ends; a successful run far from
//! the baseline of its day class is recorded as `slow` or `fast` (an incident too with
//! `slowdown: { incident: true }`).
//!
//! The decisions are `domain::lateness` and `domain::baseline`; this file reads the clock
//! the run was given, the record of the run and its output counters, and writes what they
//! decide. A finding is written once per run and kind (`record_finding`), so a run taken up
//! again after a restart raises nothing twice. A failure here never stops the run: it is
//! logged and tried again at the next tick.

use std::collections::HashSet;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::context::StepContext;
use crate::domain::baseline::{self, DayClass, Verdict};
use crate::domain::lateness::{self, Breach, DayCut, Deadline, RunTimes};
use crate::exec;
use crate::model::values::format_duration;
use crate::store::{NewFinding, StoreError};

/// How many earlier runs the baseline of a month end or fiscal year end looks through to
/// find runs of its own class.
const LOOKBACK: i64 = 1000;

/// A step's running attempt (0: no process) and its output so far.
#[derive(Debug, Default)]
pub(super) struct StepLive {
    pub(super) progress: exec::Progress,
    attempt: AtomicI64,
}

impl StepLive {
    /// Attempt number `attempt` has a process now (0: it has ended).
    pub(super) fn running(&self, attempt: i64) {
        self.attempt.store(attempt, Ordering::Relaxed);
    }
}

/// What one run's watcher keeps between ticks.
pub(super) struct Monitor {
    /// The run's times; `None` when the job sets no deadline.
    times: Option<RunTimes>,
    cut: DayCut,
    raised: HashSet<Breach>,
    /// Per step: the attempt and output count last seen, and when they last changed.
    seen: Vec<Option<(i64, u64, DateTime<Utc>)>>,
}

impl Monitor {
    /// The watcher of the run of `ctx`: its slot's due time (else when it was queued), its
    /// business date and its start, read once.
    pub(super) async fn new(ctx: &StepContext) -> Monitor {
        let cut = DayCut {
            tz: ctx.settings.timezone,
            day_start: ctx.settings.day_start,
        };
        let mut m = Monitor {
            times: None,
            cut,
            raised: HashSet::new(),
            seen: vec![None; ctx.job.steps.len()],
        };
        if ctx.job.lateness.is_empty() {
            return m;
        }
        match run_times(ctx).await {
            Ok(times) => m.times = times,
            Err(e) => tracing::warn!(run = ctx.run_id, "cannot watch the run's deadlines: {e}"),
        }
        m
    }

    /// One look at the run at its clock's now: deadlines passed, steps quiet too long.
    pub(super) async fn check(&mut self, ctx: &StepContext) {
        let now = ctx.clock.now();
        if let Some(times) = self.times {
            for late in lateness::breached(&ctx.job.lateness, &times, self.cut, now) {
                if self.raised.contains(&late.breach) {
                    continue;
                }
                let finding = lateness_finding(ctx, &times, late, now);
                if found(ctx, finding, true).await {
                    self.raised.insert(late.breach);
                }
            }
        }
        for (i, step) in ctx.job.steps.iter().enumerate() {
            let Some(after) = step.stuck_after else {
                continue;
            };
            let attempt = ctx.live[i].attempt.load(Ordering::Relaxed);
            if attempt == 0 {
                self.seen[i] = None;
                continue;
            }
            let bytes = ctx.live[i].progress.bytes();
            match self.seen[i] {
                Some((a, b, since)) if a == attempt && b == bytes => {
                    if lateness::stuck(since, after, now) && !self.raised.contains(&Breach::Stuck) {
                        let quiet = (now - since).to_std().unwrap_or_default();
                        let finding = stuck_finding(ctx, &step.name, attempt, after, quiet, now);
                        if found(ctx, finding, true).await {
                            self.raised.insert(Breach::Stuck);
                        }
                    }
                }
                _ => self.seen[i] = Some((attempt, bytes, now)),
            }
        }
    }
}

/// The run's due time, business date and start, from its record.
async fn run_times(ctx: &StepContext) -> Result<Option<RunTimes>, StoreError> {
    let Some(run) = ctx.store.get_run_row(ctx.run_id).await? else {
        return Ok(None);
    };
    let due = ctx
        .store
        .slot_due_at(ctx.run_id)
        .await?
        .unwrap_or(run.queued_at);
    Ok(Some(RunTimes {
        due,
        business_date: run.business_date,
        started: run.started_at,
    }))
}

fn seconds(d: Duration) -> f64 {
    d.as_secs_f64()
}

fn local(ctx: &StepContext, t: DateTime<Utc>) -> String {
    t.with_timezone(&ctx.settings.timezone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

fn lateness_finding(
    ctx: &StepContext,
    times: &RunTimes,
    late: lateness::Late,
    now: DateTime<Utc>,
) -> NewFinding {
    let (run, job) = (ctx.run_id, &ctx.job.name);
    let limits = &ctx.job.lateness;
    let written = |d: Option<Deadline>| match d {
        Some(Deadline::After(d)) => format!("{} after the slot", format_duration(d)),
        Some(Deadline::At(t)) => format!("by {}", t.format("%H:%M")),
        None => String::new(),
    };
    let by = format_duration(late.by);
    let (detail, expected) = match late.breach {
        Breach::StartDelay if times.started.is_some() => (
            format!(
                "run {run} of `{job}` started {by} after its start deadline {} (start_delay: {})",
                local(ctx, late.deadline),
                written(limits.start)
            ),
            None,
        ),
        Breach::StartDelay => (
            format!(
                "run {run} of `{job}` has not started by its start deadline {} (start_delay: \
                 {}); {by} late so far",
                local(ctx, late.deadline),
                written(limits.start)
            ),
            None,
        ),
        Breach::EndDelay => (
            format!(
                "run {run} of `{job}` is still running at its end deadline {} (end_delay: {})",
                local(ctx, late.deadline),
                written(limits.end)
            ),
            None,
        ),
        _ => {
            let max = limits.max_runtime.unwrap_or_default();
            (
                format!(
                    "run {run} of `{job}` has run longer than its max_runtime {}",
                    format_duration(max)
                ),
                Some(seconds(max)),
            )
        }
    };
    NewFinding {
        run_id: run,
        job: job.clone(),
        step: None,
        kind: late.breach,
        at: now,
        business_date: times.business_date,
        deadline: Some(late.deadline),
        observed: Some(match late.breach {
            Breach::MaxRuntime => seconds(late.by) + expected.unwrap_or_default(),
            _ => seconds(late.by),
        }),
        expected,
        spread: None,
        samples: None,
        day_class: None,
        detail,
    }
}

fn stuck_finding(
    ctx: &StepContext,
    step: &str,
    attempt: i64,
    after: Duration,
    quiet: Duration,
    now: DateTime<Utc>,
) -> NewFinding {
    NewFinding {
        run_id: ctx.run_id,
        job: ctx.job.name.clone(),
        step: Some(step.to_owned()),
        kind: Breach::Stuck,
        at: now,
        business_date: ctx.business_date,
        deadline: None,
        observed: Some(seconds(quiet)),
        expected: Some(seconds(after)),
        spread: None,
        samples: None,
        day_class: None,
        detail: format!(
            "step `{step}` (attempt {attempt}) of run {} of `{}` has printed nothing for {} \
             (stuck_after: {})",
            ctx.run_id,
            ctx.job.name,
            format_duration(quiet),
            format_duration(after)
        ),
    }
}

/// Records a finding and, when it is new and `incident` is asked, raises its incident.
/// True when it is recorded (now or before): the watcher need not try again.
async fn found(ctx: &StepContext, f: NewFinding, incident: bool) -> bool {
    match record(ctx, &f, incident).await {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(run = ctx.run_id, kind = %f.kind, "cannot record a finding: {e}");
            false
        }
    }
}

async fn record(ctx: &StepContext, f: &NewFinding, incident: bool) -> Result<(), StoreError> {
    if !ctx.store.record_finding(f).await? {
        return Ok(());
    }
    tracing::warn!(run = ctx.run_id, kind = %f.kind, "{}", f.detail);
    if !incident {
        return Ok(());
    }
    crate::incident::raise_finding(ctx.store.as_ref(), &ctx.settings, f)
        .await
        .map(|_| ())
}

/// A successful run's duration against the baseline of its day class: recorded `slow` or
/// `fast` when far from it (with an incident when the job asks), nothing otherwise.
pub(super) async fn judge_duration(ctx: &StepContext) {
    let slowdown = ctx.job.slowdown;
    if !slowdown.enabled {
        return;
    }
    // The run's row only: a run of a thousand steps is not read back whole.
    let run = match ctx.store.get_run_row(ctx.run_id).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(run = ctx.run_id, "cannot judge the run's duration: {e}");
            return;
        }
    };
    let (Some(start), Some(end)) = (run.started_at, run.ended_at) else {
        return;
    };
    let took = (end - start).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6;
    let fy_start = ctx.settings.fiscal_year_start;
    let class = baseline::day_class(run.business_date, fy_start);
    let want = slowdown.runs as i64;
    let limit = if class == DayClass::Ordinary {
        want + want / 2
    } else {
        LOOKBACK
    };
    let samples = match ctx
        .store
        .recent_durations(&ctx.job.name, ctx.run_id, limit)
        .await
    {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(run = ctx.run_id, "cannot read the job's durations: {e}");
            return;
        }
    };
    let same: Vec<f64> = samples
        .iter()
        .filter(|s| baseline::day_class(s.business_date, fy_start) == class)
        .take(slowdown.runs)
        .map(|s| s.seconds)
        .collect();
    let Some(base) = baseline::baseline(&same) else {
        return;
    };
    let kind = match baseline::verdict(&base, took) {
        Verdict::Usual => return,
        Verdict::TooSlow => Breach::Slow,
        Verdict::TooFast => Breach::Fast,
    };
    let secs = |s: f64| format_duration(Duration::from_secs_f64(s.max(0.0)));
    let ratio = if base.median > 0.0 {
        format!("{:.1}x", took / base.median)
    } else {
        "-".to_owned()
    };
    let detail = format!(
        "run {} of `{}` took {} ({ratio} the median {} of its last {} successful runs on {} \
         days, MAD {}): {}",
        ctx.run_id,
        ctx.job.name,
        secs(took),
        secs(base.median),
        base.samples,
        class.token().replace('_', " "),
        secs(base.mad),
        if kind == Breach::Slow {
            "far slower than usual"
        } else {
            "suspiciously fast"
        }
    );
    let f = NewFinding {
        run_id: ctx.run_id,
        job: ctx.job.name.clone(),
        step: None,
        kind,
        at: end,
        business_date: run.business_date,
        deadline: None,
        observed: Some(took),
        expected: Some(base.median),
        spread: Some(base.mad),
        samples: Some(base.samples as i64),
        day_class: Some(class),
        detail,
    };
    found(ctx, f, slowdown.incident).await;
}
