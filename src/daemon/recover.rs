//! Crash recovery at daemon start: runs left `running` by a unyo process that is gone
//! (`kill -9`, a power cut, an out-of-memory kill) are found, the processes they left
//! behind are ended, and the runs are recorded `interrupted`; then the job's `on_interrupt`
//! policy applies.

use crate::engine::owner;
use crate::error::Error;
use crate::exec::orphans;
use crate::store::RunStatus;

use super::Daemon;

impl Daemon {
    /// Runs at start and every half minute: a foreground `unyo run` killed while the daemon
    /// runs is found here too, so its job is not held up until the next restart.
    pub(super) async fn recover(&mut self) -> Result<(), Error> {
        let active = self.store.active_runs().await?;
        for run in active.iter().filter(|r| r.status == RunStatus::Running) {
            let gone = match run.owner.as_deref() {
                Some(o) => owner::alive(o) == Some(false),
                // Recorded before owners were: only a dead process can have left it.
                None => true,
            };
            if !gone {
                continue;
            }
            let id = run.id.to_string();
            let root = self.settings.root.display().to_string();
            let left = orphans::with_env(&[
                ("UNYO_RUN_ID", id.as_str()),
                ("UNYO_JOB", run.job.as_str()),
                ("UNYO_ROOT", root.as_str()),
            ]);
            let mut reason = format!(
                "the unyo process running it ({}) ended before the run did",
                run.owner.as_deref().unwrap_or("unknown")
            );
            if !left.is_empty() {
                reason.push_str(&format!("; {} left-over process(es) stopped", left.len()));
                // SIGTERM now, SIGKILL after the grace period, without holding up the loop.
                let grace = self.settings.kill_grace;
                tokio::spawn(async move {
                    orphans::terminate(&left, grace).await;
                });
            }
            tracing::warn!(run = run.id, "run of `{}` interrupted: {reason}", run.job);
            eprintln!(
                "unyo daemon: run {} of `{}` was interrupted: {reason}",
                run.id, run.job
            );
            self.store
                .set_run_status(
                    run.id,
                    RunStatus::Interrupted,
                    (self.clock)(),
                    Some(&reason),
                )
                .await?;
            crate::incident::raise(
                self.store.as_ref(),
                &self.settings,
                crate::incident::Raise {
                    severity: self.settings.incidents.severity,
                    job: &run.job,
                    run_id: Some(run.id),
                    step: None,
                    failure_class: "interrupted",
                    summary: format!("run {} of `{}` was interrupted: {reason}", run.id, run.job),
                    log_excerpt: String::new(),
                    rule: None,
                },
            )
            .await?;
            self.after_interrupt(run.id, &run.job).await?;
        }
        Ok(())
    }
}
