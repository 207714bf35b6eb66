//! [`HistoryStore`] for PostgreSQL: past runs written whole inside one write transaction,
//! as the rows the engine's calls leave.

use super::*;
use crate::store::bulk::{HistoryStore, PastAttempt, PastRun, PastWriter};

/// The writer handed to [`HistoryStore::write_history`]'s closure.
struct Past<'c> {
    pg: &'c mut Pg,
}

impl Past<'_> {
    fn insert_run(&mut self, p: &PastRun) -> Result<i64, Fail> {
        let r = &p.run;
        let row = self.pg.fetch_one(
            q(
                "INSERT INTO runs (job, trigger, params, status, reason, business_date, \
               fiscal_year, queued_at, started_at, ended_at, requested_by, host, job_digest, \
               catalog_digest, owner, not_before, schedule, rerun_of, cancel_requested_by, \
               cancel_requested_at, comment, business_date_given, outside_window) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
               $17, $18, $19, $20, $21, $22, $23) RETURNING id",
            )
            .bind(r.job.clone())
            .bind(r.trigger.as_str())
            .bind(r.params.to_string())
            .bind(r.status.as_str())
            .bind(p.reason.clone())
            .bind(r.business_date)
            .bind(r.fiscal_year)
            .bind(r.at)
            .bind(p.started_at)
            .bind(p.ended_at)
            .bind(r.requested_by.clone())
            .bind(r.host.clone())
            .bind(r.job_digest.clone())
            .bind(r.catalog_digest.clone())
            .bind(r.owner.clone())
            .bind(r.not_before)
            .bind(r.schedule.clone())
            .bind(r.rerun_of)
            .bind(p.cancel_requested.as_ref().map(|(u, _)| u.clone()))
            .bind(p.cancel_requested.as_ref().map(|(_, t)| *t))
            .bind(r.comment.clone())
            .bind(r.business_date_given)
            .bind(r.outside_window.clone()),
        )?;
        let run_id: i64 = col(&row, "id")?;
        if let Some(s) = &p.slot {
            self.insert_slot(s, Some(run_id))?;
        }
        for (i, s) in p.steps.iter().enumerate() {
            self.pg.execute(
                q(
                    "INSERT INTO steps (run_id, name, position, status, reason, attempts, \
                   started_at, ended_at, retry_at, continued) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, NULL, $9)",
                )
                .bind(run_id)
                .bind(s.name.clone())
                .bind(i as i64)
                .bind(s.status.as_str())
                .bind(s.reason.clone())
                .bind(s.attempts)
                .bind(s.started_at)
                .bind(s.ended_at)
                .bind(s.continued),
            )?;
            if let Some(g) = &s.gate {
                self.pg.execute(
                    q(
                        "INSERT INTO gates (run_id, step, requested_at, timeout_at, decision, \
                       decided_by, decided_at, comment) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(run_id)
                    .bind(s.name.clone())
                    .bind(g.requested_at)
                    .bind(g.timeout_at)
                    .bind(if g.approved { "approved" } else { "rejected" })
                    .bind(g.decided_by.clone())
                    .bind(g.decided_at)
                    .bind(g.comment.clone()),
                )?;
            }
        }
        Ok(run_id)
    }

    fn insert_attempts(&mut self, attempts: &[PastAttempt]) -> Result<Vec<i64>, Fail> {
        let mut ids = Vec::with_capacity(attempts.len());
        for a in attempts {
            let (n, e) = (&a.start, &a.end);
            let row = self.pg.fetch_one(
                q(
                    "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, pid, \
                   started_at, ended_at, exit_code, signal, error, stdout_tail, stderr_tail, \
                   log_bytes, log_dropped, rule, action, remediation) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, \
                   $16, $17, $18, $19) RETURNING id",
                )
                .bind(n.run_id)
                .bind(n.step.clone())
                .bind(n.attempt)
                .bind(e.status.as_str())
                .bind(n.command.to_string())
                .bind(n.log_path.clone())
                .bind(a.pid.or(e.pid).map(i64::from))
                .bind(n.started_at)
                .bind(e.ended_at)
                .bind(e.exit_code)
                .bind(e.signal)
                .bind(e.error.clone())
                .bind(e.stdout_tail.clone())
                .bind(e.stderr_tail.clone())
                .bind(e.log_bytes)
                .bind(e.log_dropped)
                .bind(e.rule.clone())
                .bind(e.action.clone())
                .bind(e.remediation.as_ref().map(|r| r.to_string())),
            )?;
            ids.push(col(&row, "id")?);
        }
        Ok(ids)
    }

    fn insert_slot(&mut self, s: &NewSlot, run_id: Option<i64>) -> Result<(), Fail> {
        self.pg.execute(
            q(
                "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, run_id, \
               decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(s.schedule.clone())
            .bind(s.job.clone())
            .bind(s.fire_time)
            .bind(s.due_at)
            .bind(s.outcome.as_str())
            .bind(s.reason.clone())
            .bind(run_id)
            .bind(s.decided_at),
        )?;
        Ok(())
    }
}

impl PastWriter for Past<'_> {
    fn run(&mut self, run: &PastRun) -> Result<i64, StoreError> {
        self.insert_run(run).map_err(fail("recording a past run"))
    }

    fn attempts(&mut self, attempts: &[PastAttempt]) -> Result<Vec<i64>, StoreError> {
        self.insert_attempts(attempts)
            .map_err(fail("recording past attempts"))
    }

    fn slot(&mut self, slot: &NewSlot) -> Result<(), StoreError> {
        self.insert_slot(slot, None)
            .map_err(fail("recording a past slot"))
    }
}

impl HistoryStore for PgStore {
    fn write_history<T: Send + 'static>(
        &self,
        action: &'static str,
        write: impl FnOnce(&mut dyn PastWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        // The closure's own error is returned whole, and fails the write: nothing of it is
        // committed.
        self.write(action, move |pg| Ok(write(&mut Past { pg })?))
    }

    fn set_attempt_action(&self, attempt_id: i64, action: &str) -> Pending<()> {
        let action = action.to_owned();
        self.write("naming what was done about an attempt", move |pg| {
            pg.execute(
                q("UPDATE attempts SET action = $1 WHERE id = $2")
                    .bind(action)
                    .bind(attempt_id),
            )?;
            Ok(())
        })
    }

    fn count_runs(&self) -> Pending<i64> {
        self.read("counting the runs recorded", |pg| {
            let row = pg.fetch_one(q("SELECT count(*) AS n FROM runs"))?;
            Ok(col(&row, "n")?)
        })
    }
}
