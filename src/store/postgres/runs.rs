//! Runs and their steps and attempts in PostgreSQL: recording a run (with the steps a
//! rerun keeps), its status, each attempt and its end, claims and take-overs by a daemon,
//! cancel requests, approval gates and held jobs; their row mappers.

#![allow(unused_variables)]

use super::*;
use crate::domain::{gate, run};

pub(super) fn run_row(row: &PgRow) -> Result<RunRow, StoreError> {
    Ok(RunRow {
        id: col(row, "id")?,
        job: col(row, "job")?,
        trigger: token(row, "trigger")?,
        params: json(row, "params")?,
        status: token(row, "status")?,
        reason: col(row, "reason")?,
        business_date: date(row, "business_date")?,
        fiscal_year: col(row, "fiscal_year")?,
        queued_at: time(row, "queued_at")?,
        started_at: opt_time(row, "started_at")?,
        ended_at: opt_time(row, "ended_at")?,
        requested_by: col(row, "requested_by")?,
        host: col(row, "host")?,
        job_digest: col(row, "job_digest")?,
        catalog_digest: col(row, "catalog_digest")?,
        owner: col(row, "owner")?,
        not_before: opt_time(row, "not_before")?,
        schedule: col(row, "schedule")?,
        rerun_of: col(row, "rerun_of")?,
        comment: col(row, "comment")?,
        business_date_given: col(row, "business_date_given")?,
        outside_window: col(row, "outside_window")?,
    })
}

/// Inserts a run and its pending steps inside the caller's transaction.
pub(super) fn insert_run(pg: &mut Pg, run: &NewRun) -> Result<i64, Fail> {
    let started = (run.status == RunStatus::Running).then_some(run.at);
    let row = pg.fetch_one(
        q("INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, \
           queued_at, started_at, requested_by, host, job_digest, catalog_digest, owner, \
           not_before, schedule, rerun_of, comment, business_date_given, outside_window) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
           $18, $19) RETURNING id")
        .bind(run.job.clone())
        .bind(run.trigger.as_str())
        .bind(run.params.to_string())
        .bind(run.status.as_str())
        .bind(run.business_date)
        .bind(run.fiscal_year)
        .bind(run.at)
        .bind(started)
        .bind(run.requested_by.clone())
        .bind(run.host.clone())
        .bind(run.job_digest.clone())
        .bind(run.catalog_digest.clone())
        .bind(run.owner.clone())
        .bind(run.not_before)
        .bind(run.schedule.clone())
        .bind(run.rerun_of)
        .bind(run.comment.clone())
        .bind(run.business_date_given)
        .bind(run.outside_window.clone()),
    )?;
    let id: i64 = col(&row, "id")?;
    if !run.steps.is_empty() {
        // One statement for every step: their names and places as two arrays.
        let positions: Vec<i64> = (0..run.steps.len() as i64).collect();
        pg.execute(
            q("INSERT INTO steps (run_id, name, position, status) \
               SELECT $1, name, position, 'pending' FROM unnest($2::text[], $3::bigint[]) \
               AS s (name, position)")
            .bind(id)
            .bind(run.steps.clone())
            .bind(positions),
        )?;
    }
    if !run.kept_steps.is_empty() {
        pg.execute(
            q("UPDATE steps SET status = 'succeeded', reason = $1 \
               WHERE run_id = $2 AND name = ANY($3)")
            .bind(run::kept_reason(run.rerun_of))
            .bind(id)
            .bind(run.kept_steps.clone()),
        )?;
    }
    Ok(id)
}

pub(super) fn step_row(row: &PgRow) -> Result<StepRow, StoreError> {
    Ok(StepRow {
        name: col(row, "name")?,
        position: col(row, "position")?,
        status: token(row, "status")?,
        reason: col(row, "reason")?,
        attempts: col(row, "attempts")?,
        started_at: opt_time(row, "started_at")?,
        ended_at: opt_time(row, "ended_at")?,
        retry_at: opt_time(row, "retry_at")?,
        continued: col(row, "continued")?,
    })
}

pub(super) fn attempt_row(row: &PgRow) -> Result<AttemptRow, StoreError> {
    Ok(AttemptRow {
        id: col(row, "id")?,
        step: col(row, "step")?,
        attempt: col(row, "attempt")?,
        status: token(row, "status")?,
        command: json(row, "command")?,
        log_path: col(row, "log_path")?,
        pid: col(row, "pid")?,
        started_at: time(row, "started_at")?,
        ended_at: opt_time(row, "ended_at")?,
        exit_code: col(row, "exit_code")?,
        signal: col(row, "signal")?,
        error: col(row, "error")?,
        stdout_tail: col(row, "stdout_tail")?,
        stderr_tail: col(row, "stderr_tail")?,
        log_bytes: col(row, "log_bytes")?,
        log_dropped: col(row, "log_dropped")?,
        rule: col(row, "rule")?,
        action: col(row, "action")?,
        remediation: opt_json(row, "remediation")?,
    })
}

pub(super) fn gate_row(row: &PgRow) -> Result<GateRow, StoreError> {
    Ok(GateRow {
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        requested_at: time(row, "requested_at")?,
        timeout_at: opt_time(row, "timeout_at")?,
        decision: col(row, "decision")?,
        decided_by: col(row, "decided_by")?,
        decided_at: opt_time(row, "decided_at")?,
        comment: col(row, "comment")?,
    })
}

impl RunStore for PgStore {
    fn create_run(&self, run: &NewRun) -> Pending<i64> {
        let run = run.clone();
        self.write("recording a run", move |pg| insert_run(pg, &run))
    }

    fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Pending<()> {
        let reason = reason.map(str::to_owned);
        self.write("updating a run", move |pg| {
            let started = (status == RunStatus::Running).then_some(at);
            let ended = status.is_final().then_some(at);
            pg.execute(
                q("UPDATE runs SET status = $1, reason = COALESCE($2, reason), \
                   started_at = COALESCE(started_at, $3), ended_at = COALESCE($4, ended_at) \
                   WHERE id = $5")
                .bind(status.as_str())
                .bind(reason.clone())
                .bind(started)
                .bind(ended)
                .bind(run_id),
            )?;
            if status == RunStatus::Interrupted {
                pg.execute(
                    q("UPDATE attempts SET status = 'interrupted', ended_at = $1 \
                       WHERE run_id = $2 AND status = 'running'")
                    .bind(at)
                    .bind(run_id),
                )?;
                pg.execute(
                    q("UPDATE steps SET status = 'interrupted', reason = COALESCE($1, reason), \
                       ended_at = $2, retry_at = NULL \
                       WHERE run_id = $3 AND status IN ('running', 'waiting_retry')")
                    .bind(reason.clone())
                    .bind(at)
                    .bind(run_id),
                )?;
            }
            if status.is_final() {
                pg.execute(
                    q("UPDATE steps SET status = 'cancelled', reason = COALESCE($1, reason), \
                       ended_at = $2 WHERE run_id = $3 AND status = 'pending'")
                    .bind(reason)
                    .bind(at)
                    .bind(run_id),
                )?;
                pg.execute(
                    q("UPDATE notifications SET status = 'withdrawn', reason = $1 \
                       WHERE run_id = $2 AND status = 'pending'")
                    .bind(gate::run_ended_reason(run_id, status.as_str()))
                    .bind(run_id),
                )?;
            }
            Ok(())
        })
    }
    fn start_attempt(&self, a: &NewAttempt) -> Pending<i64> {
        Box::pin(async { Err(StoreError::Unsupported("start_attempt on PostgreSQL".to_owned())) })
    }

    fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("set_attempt_pid on PostgreSQL".to_owned())) })
    }

    fn finish_attempt(&self, attempt_id: i64, e: &AttemptEnd) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("finish_attempt on PostgreSQL".to_owned())) })
    }

    fn end_step(
        &self,
        run_id: i64,
        step: &str,
        status: StepStatus,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("end_step on PostgreSQL".to_owned())) })
    }

    fn list_runs(&self, f: &RunFilter) -> Pending<Vec<RunRow>> {
        let f = f.clone();
        self.read("listing runs", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM runs WHERE ($1::text IS NULL OR job = $1) \
                   AND ($2::text IS NULL OR status = $2) ORDER BY id DESC LIMIT $3")
                .bind(f.job)
                .bind(f.status.map(RunStatus::as_str))
                .bind(f.limit),
            )?;
            map_all(rows, run_row)
        })
    }

    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>> {
        self.read("reading a run", move |pg| {
            let Some(row) = pg.fetch_optional(q("SELECT * FROM runs WHERE id = $1").bind(run_id))?
            else {
                return Ok(None);
            };
            let run = run_row(&row)?;
            let steps = pg.fetch_all(
                q("SELECT * FROM steps WHERE run_id = $1 ORDER BY position").bind(run_id),
            )?;
            let attempts =
                pg.fetch_all(q("SELECT * FROM attempts WHERE run_id = $1 ORDER BY id").bind(run_id))?;
            Ok(Some(RunDetail {
                run,
                steps: map_all(steps, step_row)?,
                attempts: map_all(attempts, attempt_row)?,
            }))
        })
    }

    fn get_run_row(&self, run_id: i64) -> Pending<Option<RunRow>> {
        self.read("reading a run", move |pg| {
            let row = pg.fetch_optional(q("SELECT * FROM runs WHERE id = $1").bind(run_id))?;
            Ok(row.as_ref().map(run_row).transpose()?)
        })
    }

    fn active_runs(&self) -> Pending<Vec<RunRow>> {
        Box::pin(async { Err(StoreError::Unsupported("active_runs on PostgreSQL".to_owned())) })
    }

    fn claim_run(&self, run_id: i64, owner: &str, at: DateTime<Utc>) -> Pending<bool> {
        Box::pin(async { Err(StoreError::Unsupported("claim_run on PostgreSQL".to_owned())) })
    }

    fn take_over(&self, run_id: i64, old_owner: Option<&str>, new_owner: &str) -> Pending<bool> {
        Box::pin(async { Err(StoreError::Unsupported("take_over on PostgreSQL".to_owned())) })
    }

    fn defer_run(&self, run_id: i64, not_before: DateTime<Utc>, reason: &str) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("defer_run on PostgreSQL".to_owned())) })
    }

    fn succeeded(&self, job: &str, business_date: NaiveDate) -> Pending<bool> {
        Box::pin(async { Err(StoreError::Unsupported("succeeded on PostgreSQL".to_owned())) })
    }

    fn request_cancel(&self, run_id: i64, user: &str, at: DateTime<Utc>) -> Pending<CancelOutcome> {
        Box::pin(async { Err(StoreError::Unsupported("request_cancel on PostgreSQL".to_owned())) })
    }

    fn cancel_requested(&self, run_id: i64) -> Pending<Option<String>> {
        Box::pin(async { Err(StoreError::Unsupported("cancel_requested on PostgreSQL".to_owned())) })
    }

    fn open_gate(
        &self,
        run_id: i64,
        step: &str,
        at: DateTime<Utc>,
        timeout_at: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("open_gate on PostgreSQL".to_owned())) })
    }

    fn gate(&self, run_id: i64, step: &str) -> Pending<Option<GateRow>> {
        Box::pin(async { Err(StoreError::Unsupported("gate on PostgreSQL".to_owned())) })
    }

    fn decide_gate(
        &self,
        run_id: i64,
        step: &str,
        approve: bool,
        user: &str,
        comment: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<(), GateRefusal>> {
        Box::pin(async { Err(StoreError::Unsupported("decide_gate on PostgreSQL".to_owned())) })
    }

    fn hold(&self, job: &str, user: &str, at: DateTime<Utc>, reason: &str) -> Pending<bool> {
        Box::pin(async { Err(StoreError::Unsupported("hold on PostgreSQL".to_owned())) })
    }

    fn release(&self, job: &str) -> Pending<bool> {
        Box::pin(async { Err(StoreError::Unsupported("release on PostgreSQL".to_owned())) })
    }

    fn holds(&self) -> Pending<Vec<HoldRow>> {
        Box::pin(async { Err(StoreError::Unsupported("holds on PostgreSQL".to_owned())) })
    }

}
