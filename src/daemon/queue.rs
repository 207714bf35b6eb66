//! The queue poll: queued runs (`unyo run --detach`, `submit`, reruns, `on_interrupt:
//! rerun`) that may start now are claimed and driven: not before their `not_before`, inside
//! their job's window (unless `outside_window`), once their `after` jobs succeeded for their
//! business date (else failed after `wait_timeout`), and one at a time per scheduled job
//! unless its schedule allows overlap.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::{AFTER_RECHECK, Daemon, Launch, recover};
use crate::engine;
use crate::error::Error;
use crate::model::Job;
use crate::store::{RunRow, RunStatus, StepStatus};

impl Daemon {
    /// Starts the queued runs that may start now.
    pub(super) async fn pump(&mut self, now: DateTime<Utc>) -> Result<(), Error> {
        let active = self.store.active_runs().await?;
        self.watch_queued(&active, now).await;
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
            // A job for nodes with labels this one lacks is left to them.
            if !job.runs_on_node(&self.settings.node.labels) {
                self.watch_node_wait(run, &job, now).await?;
                continue;
            }
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

    /// The planner watches the queued runs no live node may take: their reason says which
    /// labels they wait for, and past the job's `node_wait` an incident is opened (once).
    async fn watch_node_wait(
        &mut self,
        run: &RunRow,
        job: &Job,
        now: DateTime<Utc>,
    ) -> Result<(), Error> {
        if self.role.lease.is_none() || self.node_waits.contains(&run.id) {
            return Ok(());
        }
        let nodes = self.store.nodes(now, self.settings.node.timeout).await?;
        if nodes.iter().any(|n| n.alive && job.runs_on_node(&n.labels)) {
            return Ok(());
        }
        let labels = job.runs_on.join(", ");
        let why = format!("waiting for a live node labelled {labels} (none is alive)");
        if run.reason.as_deref() != Some(why.as_str()) {
            self.store
                .defer_run(run.id, run.not_before.unwrap_or(run.queued_at), &why)
                .await?;
        }
        let since = run.not_before.unwrap_or(run.queued_at);
        if (now - since).to_std().unwrap_or_default() < job.node_wait {
            return Ok(());
        }
        self.node_waits.insert(run.id);
        let waited = crate::model::values::format_duration(job.node_wait);
        crate::incident::raise(
            self.store.as_ref(),
            &self.settings,
            crate::incident::Raise {
                severity: self.settings.incidents.severity,
                job: &run.job,
                run_id: Some(run.id),
                step: None,
                failure_class: "no node",
                summary: format!(
                    "run {} of `{}` has waited {waited} (node_wait) for a live node labelled \
                     {labels}; none is alive",
                    run.id, run.job
                ),
                log_excerpt: String::new(),
                rule: None,
                at: now,
            },
        )
        .await?;
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
}
