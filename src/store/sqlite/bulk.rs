//! [`HistoryStore`] for SQLite: past runs written whole inside one write transaction, as
//! the rows the engine's calls leave (the same tokens, times and JSON as the store's own
//! writes).

use std::sync::{Arc, Mutex};

use rusqlite::{Connection, params};

use super::{SqliteStore, query_err, ts};
use crate::store::bulk::{HistoryStore, PastAttempt, PastRun, PastWriter};
use crate::store::{NewSlot, Pending, StoreError};

/// The writer handed to [`HistoryStore::write_history`]'s closure.
struct Past<'c> {
    c: &'c Connection,
}

impl Past<'_> {
    fn insert_run(&self, p: &PastRun) -> rusqlite::Result<i64> {
        let c = self.c;
        let r = &p.run;
        // Ids by `last_insert_rowid`, not `RETURNING` (a temporary table for every row).
        c.prepare_cached(
            "INSERT INTO runs (job, trigger, params, status, reason, business_date, \
             fiscal_year, queued_at, started_at, ended_at, requested_by, host, job_digest, \
             catalog_digest, owner, not_before, schedule, rerun_of, cancel_requested_by, \
             cancel_requested_at, comment, business_date_given, outside_window) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?
        .execute(params![
            r.job,
            r.trigger.as_str(),
            r.params.to_string(),
            r.status.as_str(),
            p.reason,
            r.business_date.format("%Y-%m-%d").to_string(),
            r.fiscal_year,
            ts(r.at),
            p.started_at.map(ts),
            ts(p.ended_at),
            r.requested_by,
            r.host,
            r.job_digest,
            r.catalog_digest,
            r.owner,
            r.not_before.map(ts),
            r.schedule,
            r.rerun_of,
            p.cancel_requested.as_ref().map(|(u, _)| u.as_str()),
            p.cancel_requested.as_ref().map(|(_, t)| ts(*t)),
            r.comment,
            r.business_date_given,
            r.outside_window,
        ])?;
        let run_id = c.last_insert_rowid();
        if let Some(s) = &p.slot {
            self.insert_slot(s, Some(run_id))?;
        }
        for (i, s) in p.steps.iter().enumerate() {
            c.prepare_cached(
                "INSERT INTO steps (run_id, name, position, status, reason, attempts, \
                 started_at, ended_at, retry_at, continued) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)",
            )?
            .execute(params![
                run_id,
                s.name,
                i as i64,
                s.status.as_str(),
                s.reason,
                s.attempts,
                s.started_at.map(ts),
                s.ended_at.map(ts),
                i64::from(s.continued),
            ])?;
            if let Some(g) = &s.gate {
                c.prepare_cached(
                    "INSERT INTO gates (run_id, step, requested_at, timeout_at, decision, \
                     decided_by, decided_at, comment) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    run_id,
                    s.name,
                    ts(g.requested_at),
                    g.timeout_at.map(ts),
                    if g.approved { "approved" } else { "rejected" },
                    g.decided_by,
                    ts(g.decided_at),
                    g.comment,
                ])?;
            }
        }
        Ok(run_id)
    }

    fn insert_attempts(&self, attempts: &[PastAttempt]) -> rusqlite::Result<Vec<i64>> {
        let mut ids = Vec::with_capacity(attempts.len());
        let mut insert = self.c.prepare_cached(
            "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, pid, \
             started_at, ended_at, exit_code, signal, error, stdout_tail, stderr_tail, \
             log_bytes, log_dropped, rule, action, remediation) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )?;
        for a in attempts {
            let (n, e) = (&a.start, &a.end);
            insert.execute(params![
                n.run_id,
                n.step,
                n.attempt,
                e.status.as_str(),
                n.command.to_string(),
                n.log_path,
                a.pid.or(e.pid).map(i64::from),
                ts(n.started_at),
                ts(e.ended_at),
                e.exit_code,
                e.signal,
                e.error,
                e.stdout_tail,
                e.stderr_tail,
                e.log_bytes,
                e.log_dropped,
                e.rule,
                e.action,
                e.remediation.as_ref().map(|r| r.to_string()),
            ])?;
            ids.push(self.c.last_insert_rowid());
        }
        Ok(ids)
    }

    fn insert_slot(&self, s: &NewSlot, run_id: Option<i64>) -> rusqlite::Result<()> {
        self.c
            .prepare_cached(
                "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, run_id, \
                 decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                s.schedule,
                s.job,
                ts(s.fire_time),
                ts(s.due_at),
                s.outcome.as_str(),
                s.reason,
                run_id,
                ts(s.decided_at)
            ])?;
        Ok(())
    }
}

impl PastWriter for Past<'_> {
    fn run(&mut self, run: &PastRun) -> Result<i64, StoreError> {
        self.insert_run(run)
            .map_err(query_err("recording a past run"))
    }

    fn attempts(&mut self, attempts: &[PastAttempt]) -> Result<Vec<i64>, StoreError> {
        self.insert_attempts(attempts)
            .map_err(query_err("recording past attempts"))
    }

    fn slot(&mut self, slot: &NewSlot) -> Result<(), StoreError> {
        self.insert_slot(slot, None)
            .map_err(query_err("recording a past slot"))
    }
}

impl HistoryStore for SqliteStore {
    fn write_history<T: Send + 'static>(
        &self,
        action: &'static str,
        write: impl FnOnce(&mut dyn PastWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        // The closure's own error is kept whole; the transaction is rolled back by failing
        // the write with its text.
        let failed: Arc<Mutex<Option<StoreError>>> = Arc::new(Mutex::new(None));
        let keep = failed.clone();
        let pending = self.write(action, move |c| {
            // A month is written in one transaction: a large page cache keeps its indexes in
            // memory; the connection's own size comes back with the end of the write.
            let cache: i64 = c.query_row("PRAGMA cache_size", [], |r| r.get(0))?;
            c.execute_batch("PRAGMA cache_size = -131072")?;
            let written = write(&mut Past { c });
            c.execute_batch(&format!("PRAGMA cache_size = {cache}"))?;
            written.map_err(|e| {
                let text = e.to_string();
                if let Ok(mut slot) = keep.lock() {
                    *slot = Some(e);
                }
                rusqlite::Error::ToSqlConversionFailure(text.into())
            })
        });
        Box::pin(async move {
            match pending.await {
                Ok(v) => Ok(v),
                Err(e) => Err(failed.lock().ok().and_then(|mut f| f.take()).unwrap_or(e)),
            }
        })
    }

    fn set_attempt_action(&self, attempt_id: i64, action: &str) -> Pending<()> {
        let action = action.to_owned();
        self.write("naming what was done about an attempt", move |c| {
            c.prepare_cached("UPDATE attempts SET action = ? WHERE id = ?")?
                .execute(params![action, attempt_id])?;
            Ok(())
        })
    }

    fn count_runs(&self) -> Pending<i64> {
        self.read(|c| {
            c.query_row("SELECT count(*) FROM runs", [], |r| r.get(0))
                .map_err(query_err("counting the runs recorded"))
        })
    }
}
