//! Crash recovery at daemon start: runs left `running` by a unyo process that is gone
//! (`kill -9`, a power cut, an out-of-memory kill) are found, the processes they left
//! behind are ended, and the runs are recorded `interrupted`; then the job's `on_interrupt`
//! policy applies.

use crate::engine::{Resume, owner};
use crate::error::Error;
use crate::exec::orphans;
use crate::model::Job;
use crate::store::RunStatus;
use crate::store::{AttemptStatus, RunDetail, RunRow, StepStatus};

use super::Daemon;

impl Daemon {
    /// Runs at start and every half minute: a foreground `unyo run` killed while the daemon
    /// runs is found here too, so its job is not held up until the next restart.
    pub(super) async fn recover(&mut self) -> Result<(), Error> {
        let active = self.store.active_runs().await?;
        if !active.iter().any(|r| r.status == RunStatus::Running) {
            return Ok(());
        }
        // Daemons of other nodes that were declared dead (or stopped): their runs are gone
        // too, though this machine cannot see their processes.
        let ended: Vec<crate::store::NodeRow> = self
            .store
            .nodes(self.clock.now(), self.settings.node.timeout)
            .await?
            .into_iter()
            .filter(|n| n.fenced_at.is_some() || n.stopped_at.is_some())
            .collect();
        for run in active.iter().filter(|r| r.status == RunStatus::Running) {
            let node = run.owner.as_deref().and_then(|o| {
                ended
                    .iter()
                    .find(|n| crate::domain::host::owner_is(o, &n.host, n.pid))
            });
            let gone = match run.owner.as_deref() {
                Some(o) => owner::alive(o) == Some(false) || node.is_some(),
                // Recorded before owners were: only a dead process can have left it.
                None => true,
            };
            if !gone {
                continue;
            }
            if self.resume(run).await? {
                continue;
            }
            // One daemon recovers it, whichever nodes look at once: it takes the run over
            // first, and the others find it no longer theirs to recover.
            if !self
                .store
                .take_over(run.id, run.owner.as_deref(), &owner::me())
                .await?
            {
                continue;
            }
            let mut reason = match node {
                Some(n) if n.fenced_at.is_some() => format!(
                    "node `{}` running it missed its heartbeats and was declared dead",
                    n.name
                ),
                _ => format!(
                    "the unyo process running it ({}) ended before the run did",
                    run.owner.as_deref().unwrap_or("unknown")
                ),
            };
            match self.end_leftovers(run.id, &run.job) {
                0 => {}
                n => reason.push_str(&format!("; {n} left-over process(es) stopped")),
            }
            self.interrupt(run.id, &run.job, &reason).await?;
        }
        Ok(())
    }

    /// Ends the processes a run left on this machine (found by their environment): SIGTERM
    /// now, SIGKILL after the grace period, without holding up the loop. Returns how many.
    pub(super) fn end_leftovers(&self, run_id: i64, job: &str) -> usize {
        let id = run_id.to_string();
        let root = self.settings.root.display().to_string();
        let left = orphans::with_env(&[
            ("UNYO_RUN_ID", id.as_str()),
            ("UNYO_JOB", job),
            ("UNYO_ROOT", root.as_str()),
        ]);
        let n = left.len();
        if n > 0 {
            let grace = self.settings.kill_grace;
            tokio::spawn(async move {
                orphans::terminate(&left, grace).await;
            });
        }
        n
    }

    /// Records a run interrupted for `reason`, opens its incident and applies the job's
    /// `on_interrupt`.
    pub(super) async fn interrupt(
        &mut self,
        run_id: i64,
        job: &str,
        reason: &str,
    ) -> Result<(), Error> {
        tracing::warn!(run = run_id, "run of `{job}` interrupted: {reason}");
        eprintln!("unyo daemon: run {run_id} of `{job}` was interrupted: {reason}");
        self.store
            .set_run_status(
                run_id,
                RunStatus::Interrupted,
                self.clock.now(),
                Some(reason),
            )
            .await?;
        crate::incident::raise(
            self.store.as_ref(),
            &self.settings,
            crate::incident::Raise {
                severity: self.settings.incidents.severity,
                job,
                run_id: Some(run_id),
                step: None,
                failure_class: "interrupted",
                summary: format!("run {run_id} of `{job}` was interrupted: {reason}"),
                log_excerpt: String::new(),
                rule: None,
                at: self.clock.now(),
            },
        )
        .await?;
        self.after_interrupt(run_id, job).await
    }

    /// Takes up a run whose process ended while nothing of it was running (it waited for a
    /// retry, or had steps still to start): it goes on where it was, a waiting step at its
    /// recorded time.
    async fn resume(&mut self, run: &RunRow) -> Result<bool, Error> {
        let Some(detail) = self.store.get_run(run.id).await? else {
            return Ok(false);
        };
        let Some(job) = self.catalog.jobs.get(&run.job).cloned() else {
            return Ok(false);
        };
        let running = detail
            .attempts
            .iter()
            .any(|a| a.status == AttemptStatus::Running)
            || detail.steps.iter().any(|s| s.status == StepStatus::Running);
        let waiting = detail.steps.iter().any(|s| {
            matches!(
                s.status,
                StepStatus::WaitingRetry | StepStatus::Pending | StepStatus::WaitingApproval
            )
        });
        if running || !waiting {
            return Ok(false);
        }
        let Some(resume) = resume_state(&detail, &job, self.clock.now()) else {
            return Ok(false);
        };
        if !self
            .store
            .take_over(run.id, run.owner.as_deref(), &owner::me())
            .await?
        {
            return Ok(false);
        }
        tracing::warn!(
            run = run.id,
            "taking up run of `{}` again: nothing of it was running",
            run.job
        );
        eprintln!(
            "unyo daemon: run {} of `{}` had steps left when the unyo process running it stopped; it goes on",
            run.id, run.job
        );
        self.spawn(run.id, super::Launch::from(run), resume);
        Ok(true)
    }
}

/// Where each step of `job` stands in a recorded run, to take the run up from there; `None`
/// when the run's steps and the job's no longer match (a reload renamed or removed one).
pub(super) fn resume_state(
    detail: &RunDetail,
    job: &Job,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<Vec<Resume>> {
    if detail
        .steps
        .iter()
        .any(|r| job.steps.iter().all(|s| s.name != r.name))
    {
        return None;
    }
    job.steps
        .iter()
        .map(|step| {
            let row = detail.steps.iter().find(|s| s.name == step.name)?;
            Some(match row.status {
                // A waiting approval opens its gate again and finds its decision there.
                StepStatus::Pending | StepStatus::WaitingApproval => Resume::Pending,
                StepStatus::WaitingRetry => Resume::Retry {
                    attempt: row.attempts + 1,
                    at: row.retry_at.unwrap_or(now),
                },
                status => Resume::Done {
                    status,
                    continued: row.continued,
                },
            })
        })
        .collect()
}
