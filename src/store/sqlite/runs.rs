//! Runs and their steps and attempts in SQLite: recording a run (with the steps a rerun
//! keeps), its status, each attempt and its end, claims and take-overs by a daemon, cancel
//! requests, approval gates and held jobs; their row mappers.

use super::*;
use crate::domain::{gate, run};

pub(super) fn run_row(row: &Row<'_>) -> Result<RunRow, StoreError> {
    let date: String = col(row, "business_date")?;
    Ok(RunRow {
        id: col(row, "id")?,
        job: col(row, "job")?,
        trigger: token(row, "trigger")?,
        params: json(row, "params")?,
        status: token(row, "status")?,
        reason: col(row, "reason")?,
        business_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(format!("business_date `{date}`: {e}")))?,
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
        business_date_given: col::<i64>(row, "business_date_given")? != 0,
        outside_window: col(row, "outside_window")?,
    })
}

/// Inserts a run and its pending steps inside the caller's transaction.
pub(super) fn insert_run(c: &Connection, run: &NewRun) -> rusqlite::Result<i64> {
    let started = (run.status == RunStatus::Running).then(|| ts(run.at));
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, \
             queued_at, started_at, requested_by, host, job_digest, catalog_digest, owner, \
             not_before, schedule, rerun_of, comment, business_date_given, outside_window) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )?
        .query_row(
            params![
                run.job,
                run.trigger.as_str(),
                run.params.to_string(),
                run.status.as_str(),
                run.business_date.format("%Y-%m-%d").to_string(),
                run.fiscal_year,
                ts(run.at),
                started,
                run.requested_by,
                run.host,
                run.job_digest,
                run.catalog_digest,
                run.owner,
                run.not_before.map(ts),
                run.schedule,
                run.rerun_of,
                run.comment,
                run.business_date_given,
                run.outside_window,
            ],
            |r| r.get(0),
        )?;
    let mut step = c.prepare_cached(
        "INSERT INTO steps (run_id, name, position, status) VALUES (?, ?, ?, 'pending')",
    )?;
    for (i, name) in run.steps.iter().enumerate() {
        step.execute(params![id, name, i as i64])?;
    }
    if !run.kept_steps.is_empty() {
        let reason = run::kept_reason(run.rerun_of);
        let mut keep = c.prepare_cached(
            "UPDATE steps SET status = 'succeeded', reason = ? WHERE run_id = ? AND name = ?",
        )?;
        for name in &run.kept_steps {
            keep.execute(params![reason, id, name])?;
        }
    }
    Ok(id)
}

/// The columns `step_row` reads, in the order its SELECT lists them.
pub(super) const STEP_COLUMNS: &[&str] = &[
    "name",
    "position",
    "status",
    "reason",
    "attempts",
    "started_at",
    "ended_at",
    "retry_at",
    "continued",
];

pub(super) fn step_row(row: &Row<'_>) -> Result<StepRow, StoreError> {
    let c = |name| listed(STEP_COLUMNS, name);
    Ok(StepRow {
        name: col(row, c("name"))?,
        position: col(row, c("position"))?,
        status: token(row, c("status"))?,
        reason: col(row, c("reason"))?,
        attempts: col(row, c("attempts"))?,
        started_at: opt_time(row, c("started_at"))?,
        ended_at: opt_time(row, c("ended_at"))?,
        retry_at: opt_time(row, c("retry_at"))?,
        continued: col::<i64>(row, c("continued"))? != 0,
    })
}

/// The columns `attempt_row` reads, in the order its SELECT lists them.
pub(super) const ATTEMPT_COLUMNS: &[&str] = &[
    "id",
    "step",
    "attempt",
    "status",
    "command",
    "log_path",
    "pid",
    "started_at",
    "ended_at",
    "exit_code",
    "signal",
    "error",
    "stdout_tail",
    "stderr_tail",
    "log_bytes",
    "log_dropped",
    "rule",
    "action",
    "remediation",
];

pub(super) fn attempt_row(row: &Row<'_>) -> Result<AttemptRow, StoreError> {
    let c = |name| listed(ATTEMPT_COLUMNS, name);
    Ok(AttemptRow {
        id: col(row, c("id"))?,
        step: col(row, c("step"))?,
        attempt: col(row, c("attempt"))?,
        status: token(row, c("status"))?,
        command: json(row, c("command"))?,
        log_path: col(row, c("log_path"))?,
        pid: col(row, c("pid"))?,
        started_at: time(row, c("started_at"))?,
        ended_at: opt_time(row, c("ended_at"))?,
        exit_code: col(row, c("exit_code"))?,
        signal: col(row, c("signal"))?,
        error: col(row, c("error"))?,
        stdout_tail: col(row, c("stdout_tail"))?,
        stderr_tail: col(row, c("stderr_tail"))?,
        log_bytes: col(row, c("log_bytes"))?,
        log_dropped: col(row, c("log_dropped"))?,
        rule: col(row, c("rule"))?,
        action: col(row, c("action"))?,
        remediation: opt_json(row, c("remediation"))?,
    })
}

pub(super) fn gate_row(row: &Row<'_>) -> Result<GateRow, StoreError> {
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

impl RunStore for SqliteStore {
    fn create_run(&self, run: &NewRun) -> Pending<i64> {
        let run = run.clone();
        self.write("recording a run", move |c| insert_run(c, &run))
    }

    fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Pending<()> {
        let reason = reason.map(str::to_owned);
        self.write("updating a run", move |c| {
            let at = ts(at);
            let started = (status == RunStatus::Running).then(|| at.clone());
            let ended = status.is_final().then(|| at.clone());
            c.prepare_cached(
                "UPDATE runs SET status = ?, reason = COALESCE(?, reason), \
                 started_at = COALESCE(started_at, ?), ended_at = COALESCE(?, ended_at) \
                 WHERE id = ?",
            )?
            .execute(params![status.as_str(), reason, started, ended, run_id])?;
            if status == RunStatus::Interrupted {
                c.prepare_cached(
                    "UPDATE attempts SET status = 'interrupted', ended_at = ? \
                     WHERE run_id = ? AND status = 'running'",
                )?
                .execute(params![at, run_id])?;
                c.prepare_cached(
                    "UPDATE steps SET status = 'interrupted', reason = COALESCE(?, reason), \
                     ended_at = ?, retry_at = NULL \
                     WHERE run_id = ? AND status IN ('running', 'waiting_retry')",
                )?
                .execute(params![reason, at, run_id])?;
            }
            if status.is_final() {
                c.prepare_cached(
                    "UPDATE steps SET status = 'cancelled', reason = COALESCE(?, reason), \
                     ended_at = ? WHERE run_id = ? AND status = 'pending'",
                )?
                .execute(params![reason, at, run_id])?;
                c.prepare_cached(
                    "UPDATE notifications SET status = 'withdrawn', reason = ? \
                     WHERE run_id = ? AND status = 'pending'",
                )?
                .execute(params![
                    crate::domain::gate::run_ended_reason(run_id, status.as_str()),
                    run_id
                ])?;
            }
            Ok(())
        })
    }

    fn start_attempt(&self, a: &NewAttempt) -> Pending<i64> {
        let a = a.clone();
        self.write_brief("recording an attempt", move |c| {
            let started = ts(a.started_at);
            // No `RETURNING`: SQLite gathers its rows in a temporary table on every call.
            c.prepare_cached(
                "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, \
                 started_at) VALUES (?, ?, ?, 'running', ?, ?, ?)",
            )?
            .execute(params![
                a.run_id,
                a.step,
                a.attempt,
                a.command.to_string(),
                a.log_path,
                started
            ])?;
            let id = c.last_insert_rowid();
            c.prepare_cached(
                "UPDATE steps SET status = 'running', attempts = ?, retry_at = NULL, \
                 started_at = COALESCE(started_at, ?) WHERE run_id = ? AND name = ?",
            )?
            .execute(params![a.attempt, started, a.run_id, a.step])?;
            Ok(id)
        })
    }

    fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Pending<()> {
        self.write("recording a process id", move |c| {
            c.prepare_cached("UPDATE attempts SET pid = ? WHERE id = ?")?
                .execute(params![i64::from(pid), attempt_id])?;
            Ok(())
        })
    }

    fn finish_attempt(&self, attempt_id: i64, e: &AttemptEnd) -> Pending<()> {
        let e = e.clone();
        self.write_brief("recording the end of an attempt", move |c| {
            let ended = ts(e.ended_at);
            // Read first, by rowid, instead of `RETURNING` (a temporary table every call).
            let (run_id, step): (i64, String) = c
                .prepare_cached("SELECT run_id, step FROM attempts WHERE id = ?")?
                .query_row([attempt_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            c.prepare_cached(
                "UPDATE attempts SET status = ?, ended_at = ?, exit_code = ?, signal = ?, \
                     error = ?, stdout_tail = ?, stderr_tail = ?, log_bytes = ?, \
                     log_dropped = ?, pid = COALESCE(pid, ?), rule = ?, action = ?, \
                     remediation = ? WHERE id = ?",
            )?
            .execute(params![
                e.status.as_str(),
                ended,
                e.exit_code,
                e.signal,
                e.error,
                e.stdout_tail,
                e.stderr_tail,
                e.log_bytes,
                e.log_dropped,
                e.pid.map(i64::from),
                e.rule,
                e.action,
                e.remediation.as_ref().map(|r| r.to_string()),
                attempt_id
            ])?;
            let step_ended = (!matches!(
                e.step_status,
                StepStatus::Running | StepStatus::WaitingRetry
            ))
            .then_some(ended);
            c.prepare_cached(
                "UPDATE steps SET status = ?, reason = ?, ended_at = ?, retry_at = ?, \
                 continued = ? WHERE run_id = ? AND name = ?",
            )?
            .execute(params![
                e.step_status.as_str(),
                e.step_reason,
                step_ended,
                e.retry_at.map(ts),
                i64::from(e.continued),
                run_id,
                step
            ])?;
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
        self.write("ending a step", move |c| {
            c.prepare_cached(
                "UPDATE steps SET status = ?, reason = ?, ended_at = ? \
                 WHERE run_id = ? AND name = ?",
            )?
            .execute(params![status.as_str(), reason, ts(at), run_id, step])?;
            // An ended step's gate waits no more: its notices nobody sent are withdrawn.
            c.prepare_cached(
                "UPDATE notifications SET status = 'withdrawn', reason = ? \
                 WHERE run_id = ? AND step = ? AND status = 'pending'",
            )?
            .execute(params![
                crate::domain::gate::step_ended_reason(run_id, &step, status.as_str()),
                run_id,
                step
            ])?;
            Ok(())
        })
    }

    fn list_runs(&self, f: &RunFilter) -> Pending<Vec<RunRow>> {
        let f = f.clone();
        self.read(move |c| {
            let status = f.status.map(RunStatus::as_str);
            let sql = list_runs_sql(f.job.is_some(), status.is_some());
            match (&f.job, status) {
                (Some(job), Some(status)) => all(
                    c,
                    "listing runs",
                    sql,
                    params![job, status, f.limit],
                    run_row,
                ),
                (Some(job), None) => all(c, "listing runs", sql, params![job, f.limit], run_row),
                (None, Some(status)) => {
                    all(c, "listing runs", sql, params![status, f.limit], run_row)
                }
                (None, None) => all(c, "listing runs", sql, params![f.limit], run_row),
            }
        })
    }

    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>> {
        self.read(move |c| {
            let run = c
                .prepare_cached("SELECT * FROM runs WHERE id = ?")
                .and_then(|mut s| s.query_row([run_id], |r| Ok(run_row(r))).optional())
                .map_err(query_err("reading a run"))?
                .transpose()?;
            let Some(run) = run else {
                return Ok(None);
            };
            static STEPS: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "SELECT {} FROM steps WHERE run_id = ? ORDER BY position",
                    STEP_COLUMNS.join(", ")
                )
            });
            static ATTEMPTS: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "SELECT {} FROM attempts WHERE run_id = ? ORDER BY id",
                    ATTEMPT_COLUMNS.join(", ")
                )
            });
            let steps = all(c, "reading steps", &STEPS, [run_id], step_row)?;
            let attempts = all(c, "reading attempts", &ATTEMPTS, [run_id], attempt_row)?;
            Ok(Some(RunDetail {
                run,
                steps,
                attempts,
            }))
        })
    }

    fn get_run_row(&self, run_id: i64) -> Pending<Option<RunRow>> {
        self.read(move |c| {
            c.prepare_cached("SELECT * FROM runs WHERE id = ?")
                .and_then(|mut s| s.query_row([run_id], |r| Ok(run_row(r))).optional())
                .map_err(query_err("reading a run"))?
                .transpose()
        })
    }

    fn active_runs(&self) -> Pending<Vec<RunRow>> {
        self.read(|c| {
            all(
                c,
                "listing active runs",
                "SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY id",
                [],
                run_row,
            )
        })
    }

    fn claim_run(&self, run_id: i64, owner: &str, at: DateTime<Utc>) -> Pending<bool> {
        let owner = owner.to_owned();
        self.write("claiming a queued run", move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE runs SET status = 'running', owner = ?, started_at = ?, \
                     reason = NULL WHERE id = ? AND status = 'queued'",
                )?
                .execute(params![owner, ts(at), run_id])?;
            Ok(changed == 1)
        })
    }

    fn take_over(&self, run_id: i64, old_owner: Option<&str>, new_owner: &str) -> Pending<bool> {
        let (old, new) = (old_owner.map(str::to_owned), new_owner.to_owned());
        self.write("taking over a run", move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE runs SET owner = ? WHERE id = ? AND status = 'running' \
                     AND owner IS ?",
                )?
                .execute(params![new, run_id, old])?;
            Ok(changed == 1)
        })
    }

    fn defer_run(&self, run_id: i64, not_before: DateTime<Utc>, reason: &str) -> Pending<()> {
        let reason = reason.to_owned();
        self.write("deferring a queued run", move |c| {
            c.prepare_cached(
                "UPDATE runs SET not_before = ?, reason = ? WHERE id = ? AND status = 'queued'",
            )?
            .execute(params![ts(not_before), reason, run_id])?;
            Ok(())
        })
    }

    fn succeeded(&self, job: &str, business_date: NaiveDate) -> Pending<bool> {
        let job = job.to_owned();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE job = ? AND business_date = ? \
                 AND status = 'succeeded')",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![job, business_date.format("%Y-%m-%d").to_string()],
                    |r| r.get(0),
                )
            })
            .map_err(query_err("reading runs"))
        })
    }

    fn request_cancel(&self, run_id: i64, user: &str, at: DateTime<Utc>) -> Pending<CancelOutcome> {
        let user = user.to_owned();
        self.write("requesting a cancel", move |c| {
            let row: Option<(String, Option<String>)> = c
                .prepare_cached("SELECT status, owner FROM runs WHERE id = ?")?
                .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((status, owner)) = row else {
                return Ok(CancelOutcome::Unknown);
            };
            let at = ts(at);
            match run::cancel(status.parse().ok(), &user) {
                run::Cancel::Now { reason } => {
                    c.prepare_cached(
                        "UPDATE runs SET status = 'cancelled', reason = ?, ended_at = ?, \
                         cancel_requested_by = ?, cancel_requested_at = ? WHERE id = ?",
                    )?
                    .execute(params![reason, at, user, at, run_id])?;
                    c.prepare_cached(
                        "UPDATE steps SET status = 'cancelled', reason = ?, ended_at = ? \
                         WHERE run_id = ? AND status = 'pending'",
                    )?
                    .execute(params![reason, at, run_id])?;
                    Ok(CancelOutcome::Cancelled)
                }
                run::Cancel::Request => {
                    c.prepare_cached(
                        "UPDATE runs SET cancel_requested_by = ?, cancel_requested_at = ? \
                         WHERE id = ?",
                    )?
                    .execute(params![user, at, run_id])?;
                    Ok(CancelOutcome::Requested { owner })
                }
                run::Cancel::Ended(status) => Ok(CancelOutcome::Ended(status)),
            }
        })
    }

    fn cancel_requested(&self, run_id: i64) -> Pending<Option<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT cancel_requested_by FROM runs WHERE id = ?")
                .and_then(|mut s| s.query_row([run_id], |r| r.get(0)).optional())
                .map(Option::flatten)
                .map_err(query_err("reading a cancel request"))
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
        self.write("opening an approval gate", move |c| {
            let at = ts(at);
            c.prepare_cached(
                "INSERT INTO gates (run_id, step, requested_at, timeout_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (run_id, step) DO NOTHING",
            )?
            .execute(params![run_id, step, at, timeout_at.map(ts)])?;
            c.prepare_cached(
                "UPDATE steps SET status = 'waiting_approval', reason = ?, \
                 started_at = COALESCE(started_at, ?) WHERE run_id = ? AND name = ?",
            )?
            .execute(params![reason, at, run_id, step])?;
            Ok(())
        })
    }

    fn gate(&self, run_id: i64, step: &str) -> Pending<Option<GateRow>> {
        let step = step.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached("SELECT * FROM gates WHERE run_id = ? AND step = ?")
                .and_then(|mut s| {
                    s.query_row(params![run_id, step], |r| Ok(gate_row(r)))
                        .optional()
                })
                .map_err(query_err("reading an approval gate"))?;
            row.transpose()
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
        self.write("deciding an approval gate", move |c| {
            let current: Option<(Option<String>, Option<String>, String)> = c
                .prepare_cached(
                    "SELECT g.decision, g.decided_by, s.status FROM gates g \
                     JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                     WHERE g.run_id = ? AND g.step = ?",
                )?
                .query_row(params![run_id, step], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            let gate = current.as_ref().map(|(decision, by, status)| gate::Gate {
                decision: decision.as_deref(),
                decided_by: by.as_deref(),
                step_status: status,
            });
            let decided = match gate::decide(run_id, &step, gate.as_ref(), approve, &user) {
                Ok(decided) => decided,
                Err(refused) => return Ok(Err(refused)),
            };
            c.prepare_cached(
                "UPDATE gates SET decision = ?, decided_by = ?, decided_at = ?, \
                 comment = ? WHERE run_id = ? AND step = ?",
            )?
            .execute(params![
                decided.decision,
                user,
                ts(at),
                comment,
                run_id,
                step
            ])?;
            c.prepare_cached(
                "UPDATE notifications SET status = 'withdrawn', reason = ? \
                 WHERE run_id = ? AND step = ? AND status = 'pending'",
            )?
            .execute(params![decided.withdraw_reason, run_id, step])?;
            Ok(Ok(()))
        })
    }

    fn hold(&self, job: &str, user: &str, at: DateTime<Utc>, reason: &str) -> Pending<bool> {
        let (job, user, reason) = (job.to_owned(), user.to_owned(), reason.to_owned());
        self.write("holding a job", move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO holds (job, held_by, held_at, reason) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (job) DO NOTHING",
                )?
                .execute(params![job, user, ts(at), reason])?;
            Ok(n == 1)
        })
    }

    fn release(&self, job: &str) -> Pending<bool> {
        let job = job.to_owned();
        self.write("releasing a job", move |c| {
            let n = c
                .prepare_cached("DELETE FROM holds WHERE job = ?")?
                .execute([job])?;
            Ok(n == 1)
        })
    }

    fn holds(&self) -> Pending<Vec<HoldRow>> {
        self.read(|c| {
            all(
                c,
                "reading holds",
                "SELECT * FROM holds ORDER BY job",
                [],
                |r| {
                    Ok(HoldRow {
                        job: col(r, "job")?,
                        held_by: col(r, "held_by")?,
                        held_at: time(r, "held_at")?,
                        reason: col(r, "reason")?,
                    })
                },
            )
        })
    }
}

/// The query of `list_runs` for the filters given: one statement each, so that SQLite reads
/// the index of the filter (`runs_job`, `runs_status`) instead of every run (a filter written
/// `?1 IS NULL OR job = ?1` uses none).
pub(super) fn list_runs_sql(job: bool, status: bool) -> &'static str {
    match (job, status) {
        (true, true) => {
            "SELECT * FROM runs WHERE job = ?1 AND status = ?2 ORDER BY id DESC LIMIT ?3"
        }
        (true, false) => "SELECT * FROM runs WHERE job = ?1 ORDER BY id DESC LIMIT ?2",
        (false, true) => "SELECT * FROM runs WHERE status = ?1 ORDER BY id DESC LIMIT ?2",
        (false, false) => "SELECT * FROM runs ORDER BY id DESC LIMIT ?1",
    }
}
