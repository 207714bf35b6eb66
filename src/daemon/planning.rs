//! A planning pass: the slots due by now are decided by the planner (`schedule::plan`
//! through `slots::Planner`), recorded with their runs and watermarks in one transaction,
//! the runs they start are driven, and the missed ones raised as one incident per schedule.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use indexmap::IndexMap;

use super::{Daemon, Launch};
use crate::engine::Stop;
use crate::error::Error;
use crate::store::{RunStatus, StoreError};

impl Daemon {
    /// A slot's run that this node may not run (its job's `runs_on` names a label this node
    /// lacks) is queued instead of started here, for a node that has the labels to claim.
    fn place(&self, slots: &mut [crate::store::NewSlot]) {
        let labels = &self.settings.node.labels;
        for slot in slots.iter_mut() {
            let Some(run) = slot.run.as_mut() else {
                continue;
            };
            let elsewhere = self
                .catalog
                .jobs
                .get(&run.job)
                .is_some_and(|j| !j.runs_on_node(labels));
            if run.status == RunStatus::Running && elsewhere {
                run.status = RunStatus::Queued;
                run.owner = None;
                if slot.outcome == crate::store::SlotOutcome::Started {
                    slot.outcome = crate::store::SlotOutcome::Queued;
                }
            }
        }
    }

    /// Records the slots due by `now` and starts the runs they make.
    pub(super) async fn plan(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
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
        let mut decided = self
            .planner
            .decide(&self.settings, &self.catalog, &active, &held, now);
        self.place(&mut decided.slots);
        let Some(lease) = self.role.lease.clone() else {
            return Ok(());
        };
        let made = match self
            .store
            .record_planned(&lease, now, &decided.slots, &decided.watermarks)
            .await
        {
            Ok(made) => made,
            // Another node plans now (this one was paused past its lease): nothing was
            // written; the planner's state is read again if this node takes the lease back.
            Err(StoreError::LeaseLost { term, .. }) => {
                tracing::warn!(
                    term,
                    "the planner's lease passed to another node before the slots were recorded"
                );
                self.role.lease = None;
                return Ok(());
            }
            Err(e) => return Err(e.into()),
        };
        self.planner
            .committed(&self.settings, &self.catalog, &decided);
        self.publish_next_slots();
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
                    at: self.clock.now(),
                },
                i64::try_from(n).unwrap_or(i64::MAX),
            )
            .await?;
        }
        Ok(())
    }
}
