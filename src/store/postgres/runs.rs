//! Runs, their steps and attempts, claims, cancel requests, approval gates and held jobs, in PostgreSQL.

#![allow(unused_variables)]

use super::*;

impl RunStore for PgStore {
    fn create_run(&self, run: &NewRun) -> Pending<i64> {
        Box::pin(async { Err(StoreError::Unsupported("create_run on PostgreSQL".to_owned())) })
    }

    fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Pending<()> {
        Box::pin(async { Err(StoreError::Unsupported("set_run_status on PostgreSQL".to_owned())) })
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
        Box::pin(async { Err(StoreError::Unsupported("list_runs on PostgreSQL".to_owned())) })
    }

    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>> {
        Box::pin(async { Err(StoreError::Unsupported("get_run on PostgreSQL".to_owned())) })
    }

    fn get_run_row(&self, run_id: i64) -> Pending<Option<RunRow>> {
        Box::pin(async { Err(StoreError::Unsupported("get_run_row on PostgreSQL".to_owned())) })
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
