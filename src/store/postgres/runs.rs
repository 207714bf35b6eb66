//! Runs and their steps and attempts in PostgreSQL: recording a run (with the steps a
//! rerun keeps), its status, each attempt and its end, claims and take-overs by a daemon,
//! cancel requests, approval gates and held jobs; their row mappers.

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
        q(
            "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, \
           queued_at, started_at, requested_by, host, job_digest, catalog_digest, owner, \
           not_before, schedule, rerun_of, comment, business_date_given, outside_window) \
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, \
           $18, $19) RETURNING id",
        )
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
        self.write("recording a run", move |pg| {
            let id = insert_run(pg, &run)?;
            if run.status == RunStatus::Queued {
                super::nodes::wake(pg, "queued")?;
            }
            Ok(id)
        })
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
                q(
                    "UPDATE runs SET status = $1, reason = COALESCE($2, reason), \
                   started_at = COALESCE(started_at, $3), ended_at = COALESCE($4, ended_at) \
                   WHERE id = $5",
                )
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
                    q(
                        "UPDATE steps SET status = 'interrupted', reason = COALESCE($1, reason), \
                       ended_at = $2, retry_at = NULL \
                       WHERE run_id = $3 AND status IN ('running', 'waiting_retry')",
                    )
                    .bind(reason.clone())
                    .bind(at)
                    .bind(run_id),
                )?;
            }
            if status.is_final() {
                pg.execute(
                    q(
                        "UPDATE steps SET status = 'cancelled', reason = COALESCE($1, reason), \
                       ended_at = $2 WHERE run_id = $3 AND status = 'pending'",
                    )
                    .bind(reason)
                    .bind(at)
                    .bind(run_id),
                )?;
                pg.execute(
                    q(
                        "UPDATE notifications SET status = 'withdrawn', reason = $1 \
                       WHERE run_id = $2 AND status = 'pending'",
                    )
                    .bind(gate::run_ended_reason(run_id, status.as_str()))
                    .bind(run_id),
                )?;
            }
            Ok(())
        })
    }
    fn start_attempt(&self, a: &NewAttempt) -> Pending<i64> {
        let a = a.clone();
        self.write("recording an attempt", move |pg| {
            let row = pg.fetch_one(
                q(
                    "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, \
                   started_at) VALUES ($1, $2, $3, 'running', $4, $5, $6) RETURNING id",
                )
                .bind(a.run_id)
                .bind(a.step.clone())
                .bind(a.attempt)
                .bind(a.command.to_string())
                .bind(a.log_path.clone())
                .bind(a.started_at),
            )?;
            let id: i64 = col(&row, "id")?;
            pg.execute(
                q(
                    "UPDATE steps SET status = 'running', attempts = $1, retry_at = NULL, \
                   started_at = COALESCE(started_at, $2) WHERE run_id = $3 AND name = $4",
                )
                .bind(a.attempt)
                .bind(a.started_at)
                .bind(a.run_id)
                .bind(a.step),
            )?;
            Ok(id)
        })
    }

    fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Pending<()> {
        self.write("recording a process id", move |pg| {
            pg.execute(
                q("UPDATE attempts SET pid = $1 WHERE id = $2")
                    .bind(i64::from(pid))
                    .bind(attempt_id),
            )?;
            Ok(())
        })
    }

    fn finish_attempt(&self, attempt_id: i64, e: &AttemptEnd) -> Pending<()> {
        let e = e.clone();
        self.write("recording the end of an attempt", move |pg| {
            let Some(row) = pg.fetch_optional(
                q(
                    "UPDATE attempts SET status = $1, ended_at = $2, exit_code = $3, signal = $4, \
                   error = $5, stdout_tail = $6, stderr_tail = $7, log_bytes = $8, \
                   log_dropped = $9, pid = COALESCE(pid, $10), rule = $11, action = $12, \
                   remediation = $13 WHERE id = $14 RETURNING run_id, step",
                )
                .bind(e.status.as_str())
                .bind(e.ended_at)
                .bind(e.exit_code)
                .bind(e.signal)
                .bind(e.error.clone())
                .bind(e.stdout_tail.clone())
                .bind(e.stderr_tail.clone())
                .bind(e.log_bytes)
                .bind(e.log_dropped)
                .bind(e.pid.map(i64::from))
                .bind(e.rule.clone())
                .bind(e.action.clone())
                .bind(e.remediation.as_ref().map(|r| r.to_string()))
                .bind(attempt_id),
            )?
            else {
                return Err(StoreError::NotFound {
                    what: "attempt",
                    id: attempt_id,
                }
                .into());
            };
            let run_id: i64 = col(&row, "run_id")?;
            let step: String = col(&row, "step")?;
            let step_ended = (!matches!(
                e.step_status,
                StepStatus::Running | StepStatus::WaitingRetry
            ))
            .then_some(e.ended_at);
            pg.execute(
                q(
                    "UPDATE steps SET status = $1, reason = $2, ended_at = $3, retry_at = $4, \
                   continued = $5 WHERE run_id = $6 AND name = $7",
                )
                .bind(e.step_status.as_str())
                .bind(e.step_reason)
                .bind(step_ended)
                .bind(e.retry_at)
                .bind(e.continued)
                .bind(run_id)
                .bind(step),
            )?;
            Ok(())
        })
    }

    fn end_step(
        &self,
        run_id: i64,
        step: &str,
        status: StepStatus,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Pending<()> {
        let (step, reason) = (step.to_owned(), reason.to_owned());
        self.write("ending a step", move |pg| {
            pg.execute(
                q("UPDATE steps SET status = $1, reason = $2, ended_at = $3 \
                   WHERE run_id = $4 AND name = $5")
                .bind(status.as_str())
                .bind(reason)
                .bind(at)
                .bind(run_id)
                .bind(step.clone()),
            )?;
            // An ended step's gate waits no more: its notices nobody sent are withdrawn.
            pg.execute(
                q(
                    "UPDATE notifications SET status = 'withdrawn', reason = $1 \
                   WHERE run_id = $2 AND step = $3 AND status = 'pending'",
                )
                .bind(gate::step_ended_reason(run_id, &step, status.as_str()))
                .bind(run_id)
                .bind(step),
            )?;
            Ok(())
        })
    }

    fn list_runs(&self, f: &RunFilter) -> Pending<Vec<RunRow>> {
        let f = f.clone();
        self.read("listing runs", move |pg| {
            // One statement for each set of filters, so that a plan kept for the statement
            // reads the filter's index, never every run.
            let status = f.status.map(RunStatus::as_str);
            let query = match (f.job, status) {
                (Some(job), Some(status)) => q("SELECT * FROM runs WHERE job = $1 \
                       AND status = $2 ORDER BY id DESC LIMIT $3")
                .bind(job)
                .bind(status),
                (Some(job), None) => {
                    q("SELECT * FROM runs WHERE job = $1 ORDER BY id DESC LIMIT $2").bind(job)
                }
                (None, Some(status)) => {
                    q("SELECT * FROM runs WHERE status = $1 ORDER BY id DESC LIMIT $2").bind(status)
                }
                (None, None) => q("SELECT * FROM runs ORDER BY id DESC LIMIT $1"),
            };
            let rows = pg.fetch_all(query.bind(f.limit))?;
            map_all(rows, run_row)
        })
    }

    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>> {
        self.read("reading a run", move |pg| {
            let Some(row) =
                pg.fetch_optional(q("SELECT * FROM runs WHERE id = $1").bind(run_id))?
            else {
                return Ok(None);
            };
            let run = run_row(&row)?;
            let steps = pg.fetch_all(
                q("SELECT * FROM steps WHERE run_id = $1 ORDER BY position").bind(run_id),
            )?;
            let attempts = pg.fetch_all(
                q("SELECT * FROM attempts WHERE run_id = $1 ORDER BY id").bind(run_id),
            )?;
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
        self.read("listing active runs", |pg| {
            let rows = pg.fetch_all(q(
                "SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY id",
            ))?;
            map_all(rows, run_row)
        })
    }

    fn claim_run(&self, run_id: i64, owner: &str, at: DateTime<Utc>) -> Pending<bool> {
        let owner = owner.to_owned();
        self.write("claiming a queued run", move |pg| {
            // A run another daemon is claiming this instant is skipped, not waited for.
            let changed = pg.execute(
                q(
                    "UPDATE runs SET status = 'running', owner = $1, started_at = $2, \
                   reason = NULL WHERE id = (SELECT id FROM runs WHERE id = $3 \
                   AND status = 'queued' FOR UPDATE SKIP LOCKED)",
                )
                .bind(owner)
                .bind(at)
                .bind(run_id),
            )?;
            Ok(changed == 1)
        })
    }

    fn take_over(&self, run_id: i64, old_owner: Option<&str>, new_owner: &str) -> Pending<bool> {
        let (old, new) = (old_owner.map(str::to_owned), new_owner.to_owned());
        self.write("taking over a run", move |pg| {
            let changed = pg.execute(
                q(
                    "UPDATE runs SET owner = $1 WHERE id = $2 AND status = 'running' \
                   AND owner IS NOT DISTINCT FROM $3",
                )
                .bind(new)
                .bind(run_id)
                .bind(old),
            )?;
            Ok(changed == 1)
        })
    }

    fn defer_run(&self, run_id: i64, not_before: DateTime<Utc>, reason: &str) -> Pending<()> {
        let reason = reason.to_owned();
        self.write("deferring a queued run", move |pg| {
            pg.execute(
                q("UPDATE runs SET not_before = $1, reason = $2 \
                   WHERE id = $3 AND status = 'queued'")
                .bind(not_before)
                .bind(reason)
                .bind(run_id),
            )?;
            Ok(())
        })
    }

    fn succeeded(&self, job: &str, business_date: NaiveDate) -> Pending<bool> {
        let job = job.to_owned();
        self.read("reading runs", move |pg| {
            let row = pg.fetch_one(
                q(
                    "SELECT EXISTS (SELECT 1 FROM runs WHERE job = $1 AND business_date = $2 \
                   AND status = 'succeeded') AS e",
                )
                .bind(job)
                .bind(business_date),
            )?;
            Ok(col(&row, "e")?)
        })
    }

    fn request_cancel(&self, run_id: i64, user: &str, at: DateTime<Utc>) -> Pending<CancelOutcome> {
        let user = user.to_owned();
        self.write("requesting a cancel", move |pg| {
            // Locked: the run's owner or another operator decides nothing on a stale status.
            let Some(row) = pg.fetch_optional(
                q("SELECT status, owner FROM runs WHERE id = $1 FOR UPDATE").bind(run_id),
            )?
            else {
                return Ok(CancelOutcome::Unknown);
            };
            let status: String = col(&row, "status")?;
            let owner: Option<String> = col(&row, "owner")?;
            match run::cancel(status.parse().ok(), &user) {
                run::Cancel::Now { reason } => {
                    pg.execute(
                        q(
                            "UPDATE runs SET status = 'cancelled', reason = $1, ended_at = $2, \
                           cancel_requested_by = $3, cancel_requested_at = $2 WHERE id = $4",
                        )
                        .bind(reason.clone())
                        .bind(at)
                        .bind(user)
                        .bind(run_id),
                    )?;
                    pg.execute(
                        q(
                            "UPDATE steps SET status = 'cancelled', reason = $1, ended_at = $2 \
                           WHERE run_id = $3 AND status = 'pending'",
                        )
                        .bind(reason)
                        .bind(at)
                        .bind(run_id),
                    )?;
                    Ok(CancelOutcome::Cancelled)
                }
                run::Cancel::Request => {
                    pg.execute(
                        q(
                            "UPDATE runs SET cancel_requested_by = $1, cancel_requested_at = $2 \
                           WHERE id = $3",
                        )
                        .bind(user)
                        .bind(at)
                        .bind(run_id),
                    )?;
                    super::nodes::wake(pg, "cancel")?;
                    Ok(CancelOutcome::Requested { owner })
                }
                run::Cancel::Ended(status) => Ok(CancelOutcome::Ended(status)),
            }
        })
    }

    fn cancel_requested(&self, run_id: i64) -> Pending<Option<String>> {
        self.read("reading a cancel request", move |pg| {
            let row = pg.fetch_optional(
                q("SELECT cancel_requested_by FROM runs WHERE id = $1").bind(run_id),
            )?;
            Ok(match row {
                Some(r) => col::<Option<String>>(&r, "cancel_requested_by")?,
                None => None,
            })
        })
    }

    fn open_gate(
        &self,
        run_id: i64,
        step: &str,
        at: DateTime<Utc>,
        timeout_at: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Pending<()> {
        let (step, reason) = (step.to_owned(), reason.to_owned());
        self.write("opening an approval gate", move |pg| {
            pg.execute(
                q(
                    "INSERT INTO gates (run_id, step, requested_at, timeout_at) \
                   VALUES ($1, $2, $3, $4) ON CONFLICT (run_id, step) DO NOTHING",
                )
                .bind(run_id)
                .bind(step.clone())
                .bind(at)
                .bind(timeout_at),
            )?;
            pg.execute(
                q(
                    "UPDATE steps SET status = 'waiting_approval', reason = $1, \
                   started_at = COALESCE(started_at, $2) WHERE run_id = $3 AND name = $4",
                )
                .bind(reason)
                .bind(at)
                .bind(run_id)
                .bind(step),
            )?;
            Ok(())
        })
    }

    fn gate(&self, run_id: i64, step: &str) -> Pending<Option<GateRow>> {
        let step = step.to_owned();
        self.read("reading an approval gate", move |pg| {
            let row = pg.fetch_optional(
                q("SELECT * FROM gates WHERE run_id = $1 AND step = $2")
                    .bind(run_id)
                    .bind(step),
            )?;
            Ok(row.as_ref().map(gate_row).transpose()?)
        })
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
        let (step, user, comment) = (step.to_owned(), user.to_owned(), comment.to_owned());
        self.write("deciding an approval gate", move |pg| {
            // Locked: of two operators deciding at once, the second sees the first's decision.
            let row = pg.fetch_optional(
                q("SELECT g.decision, g.decided_by, s.status FROM gates g \
                   JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                   WHERE g.run_id = $1 AND g.step = $2 FOR UPDATE OF g")
                .bind(run_id)
                .bind(step.clone()),
            )?;
            let current: Option<(Option<String>, Option<String>, String)> = match &row {
                Some(r) => Some((
                    col(r, "decision")?,
                    col(r, "decided_by")?,
                    col(r, "status")?,
                )),
                None => None,
            };
            let gate = current.as_ref().map(|(decision, by, status)| gate::Gate {
                decision: decision.as_deref(),
                decided_by: by.as_deref(),
                step_status: status,
            });
            let decided = match gate::decide(run_id, &step, gate.as_ref(), approve, &user) {
                Ok(decided) => decided,
                Err(refused) => return Ok(Err(refused)),
            };
            pg.execute(
                q(
                    "UPDATE gates SET decision = $1, decided_by = $2, decided_at = $3, \
                   comment = $4 WHERE run_id = $5 AND step = $6",
                )
                .bind(decided.decision)
                .bind(user)
                .bind(at)
                .bind(comment)
                .bind(run_id)
                .bind(step.clone()),
            )?;
            pg.execute(
                q(
                    "UPDATE notifications SET status = 'withdrawn', reason = $1 \
                   WHERE run_id = $2 AND step = $3 AND status = 'pending'",
                )
                .bind(decided.withdraw_reason)
                .bind(run_id)
                .bind(step),
            )?;
            super::nodes::wake(pg, "gate")?;
            Ok(Ok(()))
        })
    }

    fn hold(&self, job: &str, user: &str, at: DateTime<Utc>, reason: &str) -> Pending<bool> {
        let (job, user, reason) = (job.to_owned(), user.to_owned(), reason.to_owned());
        self.write("holding a job", move |pg| {
            let n = pg.execute(
                q(
                    "INSERT INTO holds (job, held_by, held_at, reason) VALUES ($1, $2, $3, $4) \
                   ON CONFLICT (job) DO NOTHING",
                )
                .bind(job)
                .bind(user)
                .bind(at)
                .bind(reason),
            )?;
            Ok(n == 1)
        })
    }

    fn release(&self, job: &str) -> Pending<bool> {
        let job = job.to_owned();
        self.write("releasing a job", move |pg| {
            let n = pg.execute(q("DELETE FROM holds WHERE job = $1").bind(job))?;
            Ok(n == 1)
        })
    }

    fn holds(&self) -> Pending<Vec<HoldRow>> {
        self.read("reading holds", |pg| {
            let rows = pg.fetch_all(q("SELECT * FROM holds ORDER BY job"))?;
            map_all(rows, |r| {
                Ok(HoldRow {
                    job: col(r, "job")?,
                    held_by: col(r, "held_by")?,
                    held_at: time(r, "held_at")?,
                    reason: col(r, "reason")?,
                })
            })
        })
    }
}
