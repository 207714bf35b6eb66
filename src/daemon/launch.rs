//! The runs this daemon drives: each in a task of its own through `engine::execute`, its
//! events logged; its end reaped, and an interrupted run's `on_interrupt` policy applied.

use std::sync::Arc;

use indexmap::IndexMap;
use tokio::sync::watch;

use super::{Active, Daemon, Launch, reap};
use crate::engine::{self, Event, RunResult, Started};
use crate::error::Error;
use crate::model::OnInterrupt;
use crate::store::{RunStatus, StoreError, Trigger};

impl Daemon {
    /// Drives a run recorded as running under this daemon, in its own task.
    pub(super) fn spawn(&mut self, run_id: i64, run: Launch<'_>, resume: Vec<engine::Resume>) {
        let Some(job) = self.catalog.jobs.get(run.job).cloned() else {
            return;
        };
        let params = engine::params::from_record(run.params);
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
            clock: self.clock.clone(),
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
    pub(super) async fn finished(
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
                tracing::error!(run = run_id, "run stopped by a database error: {e}");
                // Its end could not be recorded: it is recorded interrupted (with an
                // incident) as soon as the database answers, rather than left `running`
                // under a daemon that is alive.
                if let Some(a) = active {
                    self.unrecorded.push((run_id, a.job, e.to_string()));
                }
                self.record_unrecorded().await?;
            }
        }
        Ok(())
    }

    /// Records interrupted the runs whose end a database failure kept from being recorded
    /// (tried again at every pass until it works), their left-over processes ended.
    pub(super) async fn record_unrecorded(&mut self) -> Result<(), Error> {
        while let Some((run_id, job, why)) = self.unrecorded.first().cloned() {
            let reason = format!("its end could not be recorded ({why})");
            let left = self.end_leftovers(run_id, &job);
            let reason = match left {
                0 => reason,
                n => format!("{reason}; {n} left-over process(es) stopped"),
            };
            self.interrupt(run_id, &job, &reason).await?;
            self.unrecorded.remove(0);
        }
        Ok(())
    }

    /// Applies a job's `on_interrupt` policy to an interrupted run.
    pub(super) async fn after_interrupt(&mut self, run_id: i64, job: &str) -> Result<(), Error> {
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
            self.clock.now(),
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
}
