//! Steps other nodes' runs hand over to this node (a step's `runs_on` names labels this
//! node has and theirs lack): taken at each queue poll and run in tasks of their own by
//! `engine::carry_out`, stopped with the daemon's runs; at the start, processes an earlier
//! daemon of this node left for such steps are ended.

use tokio::sync::watch;

use super::Daemon;
use crate::error::Error;
use crate::exec::orphans;

/// How many handed-over steps one poll takes at most.
const TAKE: i64 = 16;

impl Daemon {
    /// Takes the handed-over steps this node may run and runs each in a task of its own.
    pub(super) async fn take_handed(
        &mut self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<(), Error> {
        self.carried.retain(|_, stop| !stop.is_closed());
        if self.settings.node.labels.is_empty() {
            return Ok(());
        }
        let taken = self
            .store
            .take_delegated(self.id, &self.settings.node.labels, now, TAKE)
            .await?;
        for work in taken {
            tracing::info!(
                run = work.run_id,
                step = work.step,
                "node `{}` takes step `{}` of run {}",
                self.settings.node.name,
                work.step,
                work.run_id
            );
            let (stop_tx, stop_rx) = watch::channel(false);
            self.carried.insert(work.attempt_id, stop_tx);
            let (settings, catalog, store, clock, id) = (
                self.settings.clone(),
                self.catalog.clone(),
                self.store.clone(),
                self.clock.clone(),
                self.id,
            );
            self.tasks.spawn(async move {
                let (run, step) = (work.run_id, work.step.clone());
                if let Err(e) =
                    crate::engine::carry_out(&settings, catalog, store, clock, id, work, stop_rx)
                        .await
                {
                    tracing::error!(run, step, "a handed-over step could not be recorded: {e}");
                }
            });
        }
        Ok(())
    }

    /// Ends the steps that earlier daemons of this node (killed, say) took and did not
    /// end, and the processes they left: their runs read that the node restarted.
    pub(super) async fn end_handed_leftovers(&self) -> Result<(), Error> {
        let why = format!(
            "node `{}` restarted while the step ran there; its processes were stopped",
            self.settings.node.name
        );
        let outcome = crate::engine::left_outcome(&why);
        let left = self
            .store
            .end_left(&self.settings.node.name, self.id, &outcome)
            .await?;
        for work in left {
            let (run, root) = (
                work.run_id.to_string(),
                self.settings.root.display().to_string(),
            );
            let found = orphans::with_env(&[
                ("UNYO_RUN_ID", run.as_str()),
                ("UNYO_JOB", work.job.as_str()),
                ("UNYO_STEP", work.step.as_str()),
                ("UNYO_ROOT", root.as_str()),
            ]);
            if found.is_empty() {
                continue;
            }
            eprintln!(
                "unyo daemon: stopping {} process(es) left by step `{}` of run {} (an earlier \
                 daemon of this node ran it)",
                found.len(),
                work.step,
                work.run_id
            );
            let grace = self.settings.kill_grace;
            tokio::spawn(async move { orphans::terminate(&found, grace).await });
        }
        Ok(())
    }

    /// Stops the handed-over steps this node runs (their runs hear that the node stopped).
    pub(super) fn stop_handed(&self) {
        for stop in self.carried.values() {
            let _ = stop.send(true);
        }
    }
}
