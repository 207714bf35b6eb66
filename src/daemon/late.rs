//! Queued runs that are late before they start: a run still waiting (for its window, its
//! `after` jobs, a run of its job still going) past its job's `start_delay`, or even past its
//! `end_delay`, is late now, not when it finally starts. Each such breach is recorded as a
//! finding of the run (once per run and kind; the engine's watcher, which sees the run once
//! it starts, finds it recorded) and opens an incident.
//!
//! Decides nothing itself: `domain::lateness` says what is late, on the daemon's clock.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::Daemon;
use crate::domain::lateness::{self, Breach, DayCut, Deadline, Limits, RunTimes};
use crate::error::Error;
use crate::model::values::format_duration;
use crate::store::{NewFinding, RunRow, RunStatus};

/// What the daemon keeps about the queued runs it watches: each run's due time (its slot's,
/// else when it was queued), read once, and the kinds already recorded.
#[derive(Debug, Default)]
pub(super) struct QueuedLateness {
    due: HashMap<i64, DateTime<Utc>>,
    raised: HashMap<i64, Vec<Breach>>,
}

impl Daemon {
    /// Looks at the queued runs of jobs with a start or end deadline.
    pub(super) async fn watch_queued(&mut self, active: &[RunRow], now: DateTime<Utc>) {
        let queued: Vec<&RunRow> = active
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .collect();
        self.late
            .due
            .retain(|id, _| queued.iter().any(|r| r.id == *id));
        self.late
            .raised
            .retain(|id, _| queued.iter().any(|r| r.id == *id));
        let cut = DayCut {
            tz: self.settings.timezone,
            day_start: self.settings.day_start,
        };
        for run in queued {
            let Some(job) = self.catalog.jobs.get(&run.job) else {
                continue;
            };
            let limits = Limits {
                max_runtime: None,
                ..job.lateness
            };
            if limits.start.is_none() && limits.end.is_none() {
                continue;
            }
            let due = match self.late.due.get(&run.id) {
                Some(d) => *d,
                None => match self.store.slot_due_at(run.id).await {
                    Ok(d) => *self
                        .late
                        .due
                        .entry(run.id)
                        .or_insert(d.unwrap_or(run.queued_at)),
                    Err(e) => {
                        tracing::warn!(run = run.id, "cannot read the run's slot: {e}");
                        continue;
                    }
                },
            };
            let times = RunTimes {
                due,
                business_date: run.business_date,
                started: None,
            };
            for late in lateness::breached(&limits, &times, cut, now) {
                if self
                    .late
                    .raised
                    .get(&run.id)
                    .is_some_and(|k| k.contains(&late.breach))
                {
                    continue;
                }
                let written = |d: Option<Deadline>| match d {
                    Some(Deadline::After(d)) => format!("{} after the slot", format_duration(d)),
                    Some(Deadline::At(t)) => format!("by {}", t.format("%H:%M")),
                    None => String::new(),
                };
                let (what, key, limit) = match late.breach {
                    Breach::StartDelay => (
                        "has not started by its start deadline",
                        "start_delay",
                        limits.start,
                    ),
                    _ => (
                        "is still waiting to start at its end deadline",
                        "end_delay",
                        limits.end,
                    ),
                };
                let local = late
                    .deadline
                    .with_timezone(&self.settings.timezone)
                    .format("%Y-%m-%d %H:%M");
                let finding = NewFinding {
                    run_id: run.id,
                    job: run.job.clone(),
                    step: None,
                    kind: late.breach,
                    at: now,
                    business_date: run.business_date,
                    deadline: Some(late.deadline),
                    observed: Some(late.by.as_secs_f64()),
                    expected: None,
                    spread: None,
                    samples: None,
                    day_class: None,
                    detail: format!(
                        "run {} of `{}` {what} {local} ({key}: {}); {} late so far, queued: {}",
                        run.id,
                        run.job,
                        written(limit),
                        format_duration(late.by),
                        run.reason.as_deref().unwrap_or("waiting")
                    ),
                };
                match self.raise_late(&finding).await {
                    Ok(()) => self
                        .late
                        .raised
                        .entry(run.id)
                        .or_default()
                        .push(late.breach),
                    Err(e) => tracing::warn!(run = run.id, "cannot record a late run: {e}"),
                }
            }
        }
    }

    /// Records a finding; a new one opens its incident.
    async fn raise_late(&self, f: &NewFinding) -> Result<(), Error> {
        if !self.store.record_finding(f).await? {
            return Ok(());
        }
        crate::incident::raise_finding(self.store.as_ref(), &self.settings, f).await?;
        Ok(())
    }
}
