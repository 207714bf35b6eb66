//! Writing a planned month: each run with its steps and attempts as the engine records them,
//! its slot, gate and side records (extracts, parameter and permission changes, audit), then
//! the incidents its failures opened, in the order they happened.

use std::collections::BTreeMap;

use rusqlite::{Connection, Statement, params};

use super::jobs::{self, Job, Runbook};
use super::plan::{
    DAEMON_USER, Extra, FailKind, Fate, LoneSlot, OPERATORS, Plan, Planned, Reason, SERVICE_USER,
    item,
};
use super::{HOUR, MIN, MS, Month, Rng, SEC, Spec, Summary, Us, ts};
use crate::model::Severity;
use crate::store::{AttemptStatus, RunStatus, StepStatus};

type Failed = (&'static str, rusqlite::Error);

fn at(action: &'static str) -> impl Fn(rusqlite::Error) -> Failed {
    move |e| (action, e)
}

/// A failure that reaches the incidents: a runbook rule's escalation, a failed run that no
/// rule escalated, an interrupted run.
#[derive(Debug, Clone)]
struct Failure {
    at: Us,
    job: u32,
    run_id: i64,
    step: Option<String>,
    class: String,
    severity: Severity,
    rule: Option<String>,
    summary: String,
    excerpt: String,
    /// The attempt whose `action` names the incident, with the text around it.
    attempt: Option<(i64, String, String)>,
}

#[derive(Debug, Clone)]
struct AuditRow {
    at: Us,
    user: String,
    action: &'static str,
    target: String,
    args: String,
    outcome: &'static str,
    detail: String,
}

#[derive(Debug, Clone)]
struct ParamRow {
    at: Us,
    key: String,
    before: Option<String>,
    after: Option<String>,
    reason: String,
    run_id: Option<i64>,
    user: String,
    /// Rolled back by an operator at this time.
    rollback: Option<(Us, String)>,
}

#[derive(Debug, Clone)]
struct ExtractRow {
    at: Us,
    run_id: i64,
    out: String,
    rows: u32,
    sha256: String,
    dept: String,
    month: String,
}

#[derive(Debug, Clone)]
struct PermRow {
    at: Us,
    batch: String,
    run_id: i64,
    staff: String,
    name: String,
    department: String,
    kind: &'static str,
    target: String,
    op: &'static str,
}

/// One attempt as recorded.
#[derive(Debug, Clone)]
struct Attempt {
    n: i64,
    status: AttemptStatus,
    started: Us,
    ended: Us,
    exit: Option<i32>,
    signal: Option<i32>,
    stdout: String,
    stderr: String,
    rule: Option<String>,
    action: Option<String>,
    remediation: Option<String>,
    /// An escalation: severity, failure class, the step's reason at that moment, the action
    /// text after the incident's mention.
    escalate: Option<(Severity, String, String, String)>,
}

/// One step as recorded.
#[derive(Debug, Clone)]
struct StepRec {
    status: StepStatus,
    reason: Option<String>,
    started: Option<Us>,
    ended: Option<Us>,
    attempts: Vec<Attempt>,
    /// An approval: (requested, decided, approver).
    gate: Option<(Us, Us, u8)>,
}

/// Everything the writer carries from run to run.
struct Writer<'a> {
    spec: &'a Spec,
    m: &'a Month,
    plan: &'a Plan,
    summary: Summary,
    failures: Vec<Failure>,
    /// (job, ended, run id) of every succeeded run: recoveries noted on open incidents.
    successes: Vec<(u32, Us, i64)>,
    audit: Vec<AuditRow>,
    params: Vec<ParamRow>,
    extracts: Vec<ExtractRow>,
    perms: Vec<PermRow>,
    /// Run id by plan key.
    ids: Vec<i64>,
    /// The latest due time decided per schedule (job index).
    watermarks: BTreeMap<u32, Us>,
    /// Job digest per (job, version), catalog digest per epoch.
    job_digests: Vec<[String; 2]>,
    catalog_digests: Vec<String>,
    owners: Vec<String>,
}

struct Statements<'c> {
    run: Statement<'c>,
    step: Statement<'c>,
    attempt: Statement<'c>,
    slot: Statement<'c>,
    gate: Statement<'c>,
}

pub(crate) fn write(
    conn: &mut Connection,
    spec: &Spec,
    m: &Month,
    plan: Plan,
) -> Result<Summary, Failed> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(at("beginning the transaction"))?;
    let mut w = Writer::new(spec, m, &plan);
    {
        let mut st = Statements {
            run: tx
                .prepare(
                    "INSERT INTO runs (job, trigger, params, status, reason, business_date, \
                     fiscal_year, queued_at, started_at, ended_at, requested_by, host, \
                     job_digest, catalog_digest, owner, not_before, schedule, rerun_of, \
                     cancel_requested_by, cancel_requested_at, comment) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .map_err(at("preparing the run insert"))?,
            step: tx
                .prepare(
                    "INSERT INTO steps (run_id, name, position, status, reason, attempts, \
                     started_at, ended_at, retry_at, continued) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, 0)",
                )
                .map_err(at("preparing the step insert"))?,
            attempt: tx
                .prepare(
                    "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, \
                     pid, started_at, ended_at, exit_code, signal, error, stdout_tail, \
                     stderr_tail, log_bytes, log_dropped, rule, action, remediation) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, 0, ?, ?, ?)",
                )
                .map_err(at("preparing the attempt insert"))?,
            slot: tx
                .prepare(
                    "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, \
                     run_id, decided_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .map_err(at("preparing the slot insert"))?,
            gate: tx
                .prepare(
                    "INSERT INTO gates (run_id, step, requested_at, timeout_at, decision, \
                     decided_by, decided_at, comment) VALUES (?, ?, ?, ?, 'approved', ?, ?, ?)",
                )
                .map_err(at("preparing the gate insert"))?,
        };
        let mut lone = plan.lone.iter().peekable();
        for p in &plan.runs {
            while let Some(s) = lone.next_if(|s| s.decided < p.queued) {
                w.lone_slot(&mut st, s)?;
            }
            w.run(&mut st, p)?;
        }
        for s in lone {
            w.lone_slot(&mut st, s)?;
        }
    }
    w.incidents(&tx)?;
    w.side_records(&tx)?;
    w.daemons(&tx)?;
    tx.commit().map_err(at("committing"))?;
    Ok(w.summary)
}

impl<'a> Writer<'a> {
    fn new(spec: &'a Spec, m: &'a Month, plan: &'a Plan) -> Writer<'a> {
        let job_digests: Vec<[String; 2]> = plan
            .jobs
            .iter()
            .map(|j| [jobs::digest(&j.name, 1), jobs::digest(&j.name, 2)])
            .collect();
        let mut catalog_digests = Vec::new();
        for epoch in 0..=plan.changes.len() {
            let all: Vec<&str> = job_digests
                .iter()
                .enumerate()
                .map(|(i, d)| {
                    let changed = plan.changes[..epoch].iter().any(|c| c.job as usize == i);
                    d[usize::from(changed)].as_str()
                })
                .collect();
            catalog_digests.push(jobs::catalog_digest(&all));
        }
        let owners = [812, 1043, 977]
            .iter()
            .enumerate()
            .map(|(i, pid)| format!("{}:{pid}:{}", spec.host, 3_100 + i * 517_333))
            .collect();
        let keys = plan
            .runs
            .iter()
            .map(|r| r.key)
            .max()
            .map_or(0, |k| k as usize + 1);
        Writer {
            spec,
            m,
            plan,
            summary: Summary::default(),
            failures: Vec::new(),
            successes: Vec::new(),
            audit: Vec::new(),
            params: Vec::new(),
            extracts: Vec::new(),
            perms: Vec::new(),
            ids: vec![0; keys],
            watermarks: BTreeMap::new(),
            job_digests,
            catalog_digests,
            owners,
        }
    }

    fn job(&self, i: u32) -> &'a Job {
        &self.plan.jobs[i as usize]
    }

    /// The job's and the catalog's digest at `t`.
    fn digests(&self, job: u32, t: Us) -> (&str, &str) {
        let epoch = self.plan.changes.iter().filter(|c| c.at <= t).count();
        let changed = self.plan.changes.iter().any(|c| c.job == job && c.at <= t);
        (
            &self.job_digests[job as usize][usize::from(changed)],
            &self.catalog_digests[epoch],
        )
    }

    /// The daemon process running at `t`.
    fn daemon_owner(&self, t: Us) -> &str {
        let n = self.plan.outages.iter().filter(|o| o.up <= t).count();
        &self.owners[n.min(self.owners.len() - 1)]
    }

    fn lone_slot(&mut self, st: &mut Statements<'_>, s: &LoneSlot) -> Result<(), Failed> {
        let name = &self.job(s.job).name;
        let reason = match &s.reason {
            Reason::Text(t) => t.to_string(),
            Reason::Overlap(k) => format!(
                "run {} of `{name}` is still active (overlap: forbid)",
                self.ids.get(*k as usize).copied().unwrap_or_default()
            ),
        };
        st.slot
            .execute(params![
                name,
                name,
                ts(s.fire),
                ts(s.due),
                s.outcome.as_str(),
                reason,
                None::<i64>,
                ts(s.decided)
            ])
            .map_err(at("writing a slot"))?;
        self.summary.slots += 1;
        self.mark(s.job, s.due);
        Ok(())
    }

    fn mark(&mut self, job: u32, due: Us) {
        let e = self.watermarks.entry(job).or_insert(due);
        *e = (*e).max(due);
    }

    fn run(&mut self, st: &mut Statements<'_>, p: &Planned) -> Result<(), Failed> {
        let job = self.job(p.job);
        let mut rng = Rng::new(p.seed);
        let by = OPERATORS.get(p.by as usize).copied();
        let requested_by = by.unwrap_or(DAEMON_USER);
        let business = super::utc(p.business);
        let bd = crate::calendar::business_date(business, self.m.tz, self.spec.day_start);
        let fy = crate::calendar::fiscal_year(bd, self.spec.fiscal_year_start);
        // The run's parameters and comment.
        let (params_json, comment, fill): (String, Option<String>, Vec<(&str, String)>) =
            self.run_params(p, &mut rng, bd, fy);
        let (mut steps, mut status, mut reason, mut ended, mut cancel) =
            self.simulate(job, p, &mut rng);
        let started = match p.fate {
            Fate::CancelledQueued { .. } => None,
            _ => Some(p.start),
        };
        // An outage while it ran: interrupted when the daemon came back.
        let owner = match p.extra {
            Extra::Manual => format!(
                "{}:{}:{}",
                self.spec.host,
                rng.range(20_000, 90_000),
                rng.range(1_000_000, 9_000_000)
            ),
            _ => self.daemon_owner(p.start).to_owned(),
        };
        let mut interrupted_at = None;
        if let Some(o) = self
            .plan
            .outages
            .iter()
            .find(|o| started.is_some() && p.start < o.down && ended > o.down)
        {
            let why = format!("the unyo process running it ({owner}) ended before the run did");
            let when = o.up + 40 * MS;
            interrupt(&mut steps, o.down, when, &why);
            status = RunStatus::Interrupted;
            reason = Some(why);
            ended = when;
            cancel = None;
            interrupted_at = Some(when);
        }
        let (job_digest, catalog_digest) = self.digests(p.job, p.queued);
        let rerun_of = match p.extra {
            Extra::Rerun(k) => self.ids.get(k as usize).copied(),
            _ => None,
        };
        let schedule = p.slot.as_ref().map(|_| job.name.as_str());
        let run_id = st
            .run
            .insert(params![
                job.name,
                p.trigger.as_str(),
                params_json,
                status.as_str(),
                reason,
                bd.format("%Y-%m-%d").to_string(),
                fy,
                ts(p.queued),
                started.map(ts),
                ts(ended),
                requested_by,
                self.spec.host,
                job_digest,
                catalog_digest,
                owner,
                p.not_before.map(ts),
                schedule,
                rerun_of,
                cancel.as_ref().map(|(u, _)| u.as_str()),
                cancel.as_ref().map(|(_, t)| ts(*t)),
                comment,
            ])
            .map_err(at("writing a run"))?;
        if let Some(slot) = self.ids.get_mut(p.key as usize) {
            *slot = run_id;
        }
        self.summary.runs += 1;
        if let Some(s) = &p.slot {
            st.slot
                .execute(params![
                    job.name,
                    job.name,
                    ts(s.fire),
                    ts(s.due),
                    s.outcome.as_str(),
                    s.reason.as_deref(),
                    run_id,
                    ts(p.queued)
                ])
                .map_err(at("writing a slot"))?;
            self.summary.slots += 1;
            self.mark(p.job, s.due);
        }
        // Steps and attempts.
        let mut first_failure: Option<(String, String, String, Option<String>)> = None;
        let mut escalated = false;
        for (i, (s, rec)) in job.steps.iter().zip(&steps).enumerate() {
            st.step
                .execute(params![
                    run_id,
                    s.name,
                    i as i64,
                    rec.status.as_str(),
                    rec.reason,
                    rec.attempts.len() as i64,
                    rec.started.map(ts),
                    rec.ended.map(ts),
                ])
                .map_err(at("writing a step"))?;
            self.summary.steps += 1;
            if let Some((requested, decided, approver)) = rec.gate {
                let approver = OPERATORS[approver as usize % OPERATORS.len()];
                st.gate
                    .execute(params![
                        run_id,
                        s.name,
                        ts(requested),
                        s.timeout.map(|t| ts(requested + t)),
                        approver,
                        ts(decided),
                        "dry run checked"
                    ])
                    .map_err(at("writing a gate"))?;
                self.audit.push(AuditRow {
                    at: decided - 20 * MS,
                    user: approver.to_owned(),
                    action: "approve",
                    target: format!("run {run_id} step {}", s.name),
                    args: serde_json::json!({ "comment": "dry run checked" }).to_string(),
                    outcome: "done",
                    detail: "approved".to_owned(),
                });
            }
            let command = if s.command.contains('@') {
                fill.iter()
                    .fold(s.command.clone(), |c, (k, v)| c.replace(k, v))
                    .replace("@RUN@", &run_id.to_string())
            } else {
                s.command.clone()
            };
            for a in &rec.attempts {
                let log_path = format!(
                    "{}/{}/{run_id}.{}.{}.log",
                    self.spec.log_dir.display(),
                    job.name,
                    s.name,
                    a.n
                );
                let action = match &a.escalate {
                    Some((sev, ..)) => Some(format!("incident #? ({sev})")),
                    None => a.action.clone(),
                };
                let attempt_id = st
                    .attempt
                    .insert(params![
                        run_id,
                        s.name,
                        a.n,
                        a.status.as_str(),
                        command,
                        log_path,
                        rng.range(2_000, 4_000_000),
                        ts(a.started),
                        ts(a.ended),
                        a.exit,
                        a.signal,
                        a.stdout,
                        a.stderr,
                        (a.stdout.len() + a.stderr.len()) as i64 + rng.range(0, 4_000),
                        a.rule,
                        action,
                        a.remediation,
                    ])
                    .map_err(at("writing an attempt"))?;
                self.summary.attempts += 1;
                if let Some((severity, class, step_reason, tail)) = &a.escalate {
                    escalated = true;
                    self.failures.push(Failure {
                        at: a.ended + 300,
                        job: p.job,
                        run_id,
                        step: Some(s.name.clone()),
                        class: class.clone(),
                        severity: *severity,
                        rule: a.rule.clone(),
                        summary: format!(
                            "step `{}` of `{}` (run {run_id}) failed: {step_reason}",
                            s.name, job.name
                        ),
                        excerpt: excerpt(&a.stdout, &a.stderr),
                        attempt: Some((
                            attempt_id,
                            a.remediation
                                .as_ref()
                                .map_or_else(String::new, |_| "remediation succeeded; ".to_owned()),
                            tail.clone(),
                        )),
                    });
                }
            }
            if rec.status == StepStatus::Failed && first_failure.is_none() {
                let last = rec.attempts.last();
                first_failure = Some((
                    s.name.clone(),
                    rec.reason.clone().unwrap_or_else(|| "failed".to_owned()),
                    last.map_or_else(String::new, |a| excerpt(&a.stdout, &a.stderr)),
                    last.and_then(|a| a.rule.clone()),
                ));
            }
        }
        // The run's end reaches the incidents.
        match status {
            RunStatus::Failed if !escalated => {
                if let Some((step, detail, excerpt, rule)) = first_failure {
                    self.failures.push(Failure {
                        at: ended + 500,
                        job: p.job,
                        run_id,
                        class: detail.split(';').next().unwrap_or("failed").to_owned(),
                        severity: Severity::Medium,
                        rule,
                        summary: format!(
                            "run {run_id} of `{}` failed: step `{step}`: {detail}",
                            job.name
                        ),
                        step: Some(step),
                        excerpt,
                        attempt: None,
                    });
                }
            }
            RunStatus::Interrupted => {
                self.failures.push(Failure {
                    at: interrupted_at.unwrap_or(ended) + 20 * MS,
                    job: p.job,
                    run_id,
                    step: None,
                    class: "interrupted".to_owned(),
                    severity: Severity::Medium,
                    rule: None,
                    summary: format!(
                        "run {run_id} of `{}` was interrupted: {}",
                        job.name,
                        reason.as_deref().unwrap_or("stopped")
                    ),
                    excerpt: String::new(),
                    attempt: None,
                });
            }
            RunStatus::Succeeded => self.successes.push((p.job, ended, run_id)),
            _ => {}
        }
        self.side_effects(
            p,
            job,
            run_id,
            &steps,
            status,
            ended,
            &mut rng,
            bd,
            fy,
            comment_of(p),
        );
        Ok(())
    }

    /// Parameters (JSON), the requester's comment and the values filled into commands.
    fn run_params(
        &self,
        p: &Planned,
        rng: &mut Rng,
        bd: chrono::NaiveDate,
        fy: i32,
    ) -> (String, Option<String>, Vec<(&'static str, String)>) {
        let job = self.job(p.job);
        match p.extra {
            Extra::Extract { dept, .. } => {
                let (code, _) = crate::demo::DEPARTMENTS[dept as usize % 5];
                let month = previous_month(self.m);
                let json = serde_json::json!({
                    "columns": "id,name,kana,birth_date,age",
                    "department": code,
                    "encoding": "utf-8-bom",
                    "group": "",
                    "month": month,
                });
                (
                    json.to_string(),
                    comment_of(p),
                    vec![("@DEPT@", code.to_owned()), ("@MONTH@", month)],
                )
            }
            Extra::Param { change } => {
                let c = &self.plan.params[change as usize];
                let json = serde_json::json!({
                    "effective": c.effective.format("%Y-%m-%d").to_string(),
                    "key": c.key,
                    "value": c.after,
                });
                let _ = rng;
                (
                    json.to_string(),
                    comment_of(p),
                    vec![
                        ("@KEY@", c.key.to_owned()),
                        ("@VALUE@", c.after.to_owned()),
                        ("@EFFECTIVE@", c.effective.format("%Y-%m-%d").to_string()),
                    ],
                )
            }
            Extra::Hr => {
                let list = format!(
                    "var/city/hr/transfers-{}.csv",
                    self.m.days[0].format("%Y-%m-%d")
                );
                (
                    serde_json::json!({ "list": list }).to_string(),
                    None,
                    vec![
                        ("@LIST@", list),
                        ("@DATE@", bd.format("%Y-%m-%d").to_string()),
                    ],
                )
            }
            Extra::Rollover => (
                "{}".to_owned(),
                None,
                vec![("@PREV@", (fy - 1).to_string()), ("@FY@", fy.to_string())],
            ),
            _ => (
                match job.name.as_str() {
                    "log-cleanup" => "{\"days\":\"90\"}".to_owned(),
                    "disk-report" => "{\"min_free_percent\":\"10\"}".to_owned(),
                    _ => "{}".to_owned(),
                },
                None,
                Vec::new(),
            ),
        }
    }

    /// How each step went, and the run's status, reason, end and cancel request.
    #[allow(clippy::type_complexity)]
    fn simulate(
        &self,
        job: &Job,
        p: &Planned,
        rng: &mut Rng,
    ) -> (
        Vec<StepRec>,
        RunStatus,
        Option<String>,
        Us,
        Option<(String, Us)>,
    ) {
        if let Fate::CancelledQueued { at, by } = p.fate {
            let user = OPERATORS[by as usize % OPERATORS.len()];
            let why = format!("cancelled by {user} before it started");
            let steps = job
                .steps
                .iter()
                .map(|_| StepRec {
                    status: StepStatus::Cancelled,
                    reason: Some(why.clone()),
                    started: None,
                    ended: Some(at),
                    attempts: Vec::new(),
                    gate: None,
                })
                .collect();
            return (
                steps,
                RunStatus::Cancelled,
                Some(why),
                at,
                Some((user.to_owned(), at)),
            );
        }
        let mut steps: Vec<StepRec> = Vec::with_capacity(job.steps.len());
        // A slow run is slow in its longest step.
        let slowest = job
            .steps
            .iter()
            .enumerate()
            .max_by_key(|(i, s)| (s.base, std::cmp::Reverse(*i)))
            .map_or(0, |(i, _)| i);
        for (i, s) in job.steps.iter().enumerate() {
            let ready = s
                .needs
                .iter()
                .filter_map(|&n| steps.get(n).and_then(|r: &StepRec| r.ended))
                .max()
                .unwrap_or(p.start)
                + rng.range(300, 6_000);
            let blocked = s.needs.iter().find_map(|&n| {
                let st = steps.get(n).map(|r| r.status)?;
                (st != StepStatus::Succeeded).then_some((n, st))
            });
            if let Some((n, st)) = blocked.filter(|_| !s.always) {
                let what = if st == StepStatus::Skipped {
                    "was skipped"
                } else {
                    "failed"
                };
                steps.push(StepRec {
                    status: StepStatus::Skipped,
                    reason: Some(format!("needs `{}`, which {what}", job.steps[n].name)),
                    started: None,
                    ended: Some(ready),
                    attempts: Vec::new(),
                    gate: None,
                });
                continue;
            }
            if s.approval {
                let local = self.m.local_minutes(ready);
                let decided = if local < 8 * 60 + 30 {
                    ready + i64::from(8 * 60 + 30 - local) * MIN + rng.range(5 * 60, 50 * 60) * SEC
                } else {
                    ready + rng.range(6 * 60, 40 * 60) * SEC
                };
                let approver = rng.below(OPERATORS.len() as u64) as u8;
                steps.push(StepRec {
                    status: StepStatus::Succeeded,
                    reason: Some(format!(
                        "approved by {}: dry run checked",
                        OPERATORS[approver as usize]
                    )),
                    started: Some(ready),
                    ended: Some(decided),
                    attempts: Vec::new(),
                    gate: Some((ready, decided, approver)),
                });
                continue;
            }
            let mut rec = self.attempts(job, s, i, i == slowest, ready, p, rng);
            rec.started = rec.attempts.first().map(|a| a.started);
            steps.push(rec);
        }
        let ended = steps
            .iter()
            .filter_map(|s| s.ended)
            .max()
            .unwrap_or(p.start)
            + rng.range(200, 2_000);
        if let Fate::Cancelled { after, by } = p.fate {
            let user = OPERATORS[by as usize % OPERATORS.len()];
            // Stopped while it ran: after `after`, or halfway through a shorter run.
            let t = (p.start + after).min(p.start + (ended - p.start) / 2);
            if t > p.start {
                let why = "cancelled by the operator".to_owned();
                let end = t + rng.range(150, 900) * MS;
                cancel(&mut steps, t, end, &why);
                return (
                    steps,
                    RunStatus::Cancelled,
                    Some(why),
                    end + 2 * MS,
                    Some((user.to_owned(), t)),
                );
            }
        }
        let failed = steps.iter().any(|s| s.status == StepStatus::Failed);
        let status = if failed {
            RunStatus::Failed
        } else {
            RunStatus::Succeeded
        };
        (steps, status, None, ended, None)
    }

    /// The attempts of one step under the run's fate.
    #[allow(clippy::too_many_arguments)]
    fn attempts(
        &self,
        job: &Job,
        s: &jobs::Step,
        i: usize,
        is_slowest: bool,
        ready: Us,
        p: &Planned,
        rng: &mut Rng,
    ) -> StepRec {
        let mut out = Vec::new();
        let normal = |rng: &mut Rng| rng.vary(s.base, 0.35).max(2 * MS);
        let ok = |n: i64, started: Us, len: Us, rng: &mut Rng| Attempt {
            n,
            status: AttemptStatus::Succeeded,
            started,
            ended: started + len,
            exit: Some(0),
            signal: None,
            stdout: success_tail(&job.name, &s.name, rng),
            stderr: String::new(),
            rule: None,
            action: None,
            remediation: None,
            escalate: None,
        };
        let here = |step: u8| usize::from(step) == i;
        let rb = job.runbook;
        let mut status = StepStatus::Succeeded;
        let mut reason = None;
        match p.fate {
            Fate::Slow { total } if is_slowest => {
                let len = (p.start + total - ready).max(normal(rng));
                out.push(ok(1, ready, len, rng));
            }
            Fate::RetryOk { step, locked } if here(step) => {
                let len = normal(rng) / 3 + MS;
                let (label, exit, stderr) = if locked {
                    (
                        "transient#2 (Database busy or locked)",
                        1,
                        "Error: database is locked\n",
                    )
                } else {
                    (
                        "transient#3 (Temporary failure (exit 75, EX_TEMPFAIL))",
                        75,
                        "upstream not ready (EX_TEMPFAIL), try again later\n",
                    )
                };
                let delay = 30 * SEC + rng.range(0, 10_000) * MS;
                let mut a = failed_attempt(1, ready, len, Some(exit), None, stderr);
                a.rule = Some(label.to_owned());
                a.action = Some(format!("retry 1 of 3 in {}", duration(delay)));
                let next = a.ended + delay;
                out.push(a);
                out.push(ok(2, next, normal(rng), rng));
            }
            Fate::TimeoutThenOk { step, retry_len } if here(step) => {
                let timeout = s.timeout.unwrap_or(2 * HOUR);
                let mut a = failed_attempt(
                    1,
                    ready,
                    timeout + 1_200 * MS,
                    None,
                    Some(15),
                    "backup: copying share.tar.gz (73%)\n",
                );
                a.status = AttemptStatus::TimedOut;
                let why = format!("timed out after {}", duration(timeout));
                a.rule = Some("transient#1 (Ran past its timeout)".to_owned());
                a.escalate = Some((
                    Severity::High,
                    "timeout".to_owned(),
                    why,
                    "; retry 1 of 1 in 5m".to_owned(),
                ));
                let next = a.ended + 5 * MIN;
                out.push(a);
                out.push(ok(2, next, retry_len, rng));
            }
            Fate::DiskFullThenOk { step } if here(step) => {
                let len = normal(rng) / 2;
                let mut a = failed_attempt(
                    1,
                    ready,
                    len,
                    Some(1),
                    None,
                    "tar: share.tar.gz: Wrote only 4096 of 10240 bytes\ntar: Error is not recoverable: exiting now\nwrite error: No space left on device\n",
                );
                a.rule = Some("transient#5 (Disk full)".to_owned());
                let rem_start = a.ended + 20 * MS;
                let rem_end = rem_start + rng.range(2_000, 9_000) * MS;
                a.remediation = Some(
                    serde_json::json!({
                        "command": { "argv": ["find", self.spec.log_dir.display().to_string(), "-type", "f", "-name", "*.log", "-mtime", "+30", "-delete"] },
                        "result": "succeeded",
                        "started_at": ts(rem_start),
                        "ended_at": ts(rem_end),
                        "exit_code": 0,
                        "signal": null,
                        "stdout_tail": "",
                        "stderr_tail": "",
                        "log_path": format!("{}/{}/remediation.log", self.spec.log_dir.display(), job.name),
                    })
                    .to_string(),
                );
                a.escalate = Some((
                    Severity::High,
                    "exit 1".to_owned(),
                    "exit 1".to_owned(),
                    "; retry 1 of 1 in 1m".to_owned(),
                ));
                let next = rem_end + MIN;
                out.push(a);
                out.push(ok(2, next, normal(rng), rng));
            }
            Fate::Fail { step, kind } if here(step) => {
                status = StepStatus::Failed;
                match kind {
                    FailKind::Exit(code) => {
                        let a = failed_attempt(
                            1,
                            ready,
                            normal(rng) / 2 + MS,
                            Some(code),
                            None,
                            failure_text(&job.name, code),
                        );
                        let why = format!("exit {code}");
                        out.push(escalated(a, rb, &why, &why, None));
                        reason = Some(why);
                    }
                    FailKind::Kill => {
                        let a = failed_attempt(1, ready, normal(rng) / 2 + MS, None, Some(9), "");
                        let why = "killed by SIGKILL".to_owned();
                        let rule = match rb {
                            Runbook::Transient => Some((
                                Severity::High,
                                "transient#6 (Killed by a signal (out of memory, an operator's kill))",
                            )),
                            Runbook::Escalate => None,
                        };
                        out.push(escalated(a, rb, &why, &why, rule));
                        reason = Some(why);
                    }
                    FailKind::TempfailExhausted => {
                        let mut t = ready;
                        for n in 1..=4 {
                            let mut a = failed_attempt(
                                n,
                                t,
                                normal(rng) / 3 + MS,
                                Some(75),
                                None,
                                "upstream not ready (EX_TEMPFAIL), try again later\n",
                            );
                            a.rule = Some(
                                "transient#3 (Temporary failure (exit 75, EX_TEMPFAIL))".to_owned(),
                            );
                            if n < 4 {
                                let delay = (30 * SEC * (1 << (n - 1))).min(10 * MIN)
                                    + rng.range(0, 10_000) * MS;
                                a.action = Some(format!("retry {n} of 3 in {}", duration(delay)));
                                t = a.ended + delay;
                            } else {
                                a.action = Some("no retry left (3 used)".to_owned());
                            }
                            out.push(a);
                        }
                        reason = Some("exit 75".to_owned());
                    }
                }
            }
            _ => {
                let len = normal(rng);
                out.push(ok(1, ready, len, rng));
            }
        }
        let ended = out.last().map(|a| a.ended);
        StepRec {
            status,
            reason,
            started: None,
            ended,
            attempts: out,
            gate: None,
        }
    }

    /// Records a run's effects beyond its steps: audit entries, extracts, parameter and
    /// permission changes.
    #[allow(clippy::too_many_arguments)]
    fn side_effects(
        &mut self,
        p: &Planned,
        job: &Job,
        run_id: i64,
        steps: &[StepRec],
        status: RunStatus,
        ended: Us,
        rng: &mut Rng,
        bd: chrono::NaiveDate,
        fy: i32,
        comment: Option<String>,
    ) {
        let Some(user) = OPERATORS.get(p.by as usize).map(|u| (*u).to_owned()) else {
            self.system_effects(p, job, run_id, steps, status, rng, fy);
            return;
        };
        match p.extra {
            Extra::Manual => self.audit.push(AuditRow {
                at: p.queued - rng.range(2, 30) * MS,
                user: user.clone(),
                action: "run",
                target: format!("job {}", job.name),
                args: serde_json::json!({ "parallel": 2, "params": {} }).to_string(),
                outcome: "done",
                detail: "started in the foreground".to_owned(),
            }),
            Extra::Rerun(_) => {
                let of = match p.extra {
                    Extra::Rerun(k) => self.ids.get(k as usize).copied().unwrap_or_default(),
                    _ => 0,
                };
                self.audit.push(AuditRow {
                    at: p.queued + 200,
                    user: user.clone(),
                    action: "rerun",
                    target: format!("run {of}"),
                    args: serde_json::json!({ "from_failed": false }).to_string(),
                    outcome: "done",
                    detail: format!("run {run_id} queued"),
                });
            }
            Extra::Extract { .. } | Extra::Param { .. } => {
                let window = matches!(p.extra, Extra::Extract { .. });
                let given: Vec<String> = match p.extra {
                    Extra::Extract { dept, .. } => vec![
                        format!(
                            "department={}",
                            crate::demo::DEPARTMENTS[dept as usize % 5].0
                        ),
                        format!("month={}", previous_month(self.m)),
                    ],
                    Extra::Param { change } => {
                        let c = &self.plan.params[change as usize];
                        vec![
                            format!("key={}", c.key),
                            format!("value={}", c.after),
                            format!("effective={}", c.effective.format("%Y-%m-%d")),
                        ]
                    }
                    _ => Vec::new(),
                };
                let nb = p.not_before.unwrap_or(p.queued);
                let at_arg = (!window).then(|| self.m.show(nb));
                let when = if window {
                    format!(
                        "not before {} (when window `night` opens)",
                        local_seconds(self.m, nb)
                    )
                } else {
                    format!("not before {}", local_seconds(self.m, nb))
                };
                self.audit.push(AuditRow {
                    at: p.queued + 300,
                    user: user.clone(),
                    action: "submit",
                    target: format!("job {}", job.name),
                    args: serde_json::json!({
                        "params": given, "at": at_arg, "window": null, "reason": comment,
                    })
                    .to_string(),
                    outcome: "done",
                    detail: format!("run {run_id} queued, {when}"),
                });
                self.system_effects(p, job, run_id, steps, status, rng, fy);
            }
            _ => {}
        }
        if let Fate::CancelledQueued { at, .. } | Fate::Cancelled { after: at, .. } = p.fate {
            let (t, detail) = match p.fate {
                Fate::CancelledQueued { .. } => (at, "cancelled before it started"),
                _ => (p.start + at, "stop requested"),
            };
            if status == RunStatus::Cancelled {
                let by = match p.fate {
                    Fate::CancelledQueued { by, .. } | Fate::Cancelled { by, .. } => by,
                    _ => 0,
                };
                self.audit.push(AuditRow {
                    at: t,
                    user: OPERATORS[by as usize % OPERATORS.len()].to_owned(),
                    action: "cancel",
                    target: format!("run {run_id}"),
                    args: "{}".to_owned(),
                    outcome: "done",
                    detail: detail.to_owned(),
                });
            }
        }
        let _ = (ended, bd);
    }

    /// What the daemon's steps record themselves (as the service account).
    #[allow(clippy::too_many_arguments)]
    fn system_effects(
        &mut self,
        p: &Planned,
        job: &Job,
        run_id: i64,
        steps: &[StepRec],
        status: RunStatus,
        rng: &mut Rng,
        fy: i32,
    ) {
        if status != RunStatus::Succeeded {
            return;
        }
        let end_of = |name: &str| {
            job.steps
                .iter()
                .position(|s| s.name == name)
                .and_then(|i| steps[i].ended)
                .unwrap_or(p.start)
        };
        let params_file = format!("{}/city/online/params.yaml", self.spec.data_dir.display());
        match p.extra {
            Extra::Extract { dept, rows } => {
                let code = crate::demo::DEPARTMENTS[dept as usize % 5].0;
                let month = previous_month(self.m);
                let out = format!(
                    "{}/city/extracts/{code}/residents-{month}-{run_id}.csv",
                    self.spec.data_dir.display()
                );
                let sha = {
                    use sha2::Digest;
                    format!(
                        "{:x}",
                        sha2::Sha256::digest(format!("{out}:{rows}:{}", p.seed).as_bytes())
                    )
                };
                self.extracts.push(ExtractRow {
                    at: end_of("extract") - 3 * MS,
                    run_id,
                    out,
                    rows,
                    sha256: sha,
                    dept: code.to_owned(),
                    month,
                });
            }
            Extra::Param { change } => {
                let c = &self.plan.params[change as usize];
                self.params.push(ParamRow {
                    at: end_of("param-set") - 2 * MS,
                    key: c.key.to_owned(),
                    before: Some(c.before.to_owned()),
                    after: Some(c.after.to_owned()),
                    reason: format!(
                        "scheduled change effective {}",
                        c.effective.format("%Y-%m-%d")
                    ),
                    run_id: Some(run_id),
                    user: SERVICE_USER.to_owned(),
                    rollback: c
                        .rollback
                        .map(|(t, by)| (t, OPERATORS[by as usize % OPERATORS.len()].to_owned())),
                });
                let _ = params_file;
            }
            Extra::Rollover => {
                let changes = [
                    (
                        "new-year",
                        "fiscal_year",
                        (fy - 1).to_string(),
                        fy.to_string(),
                        format!("rollover FY{} -> FY{fy}", fy - 1),
                    ),
                    (
                        "reset-receipt-no",
                        "counters.receipt_no",
                        rng.range(8_000, 30_000).to_string(),
                        "0".to_owned(),
                        format!("rollover to FY{fy}: per-year counter"),
                    ),
                    (
                        "reset-notice-no",
                        "counters.notice_no",
                        rng.range(3_000, 12_000).to_string(),
                        "0".to_owned(),
                        format!("rollover to FY{fy}: per-year counter"),
                    ),
                    (
                        "reset-certificate-no",
                        "counters.certificate_no",
                        rng.range(20_000, 60_000).to_string(),
                        "0".to_owned(),
                        format!("rollover to FY{fy}: per-year counter"),
                    ),
                ];
                for (step, key, before, after, reason) in changes {
                    self.params.push(ParamRow {
                        at: end_of(step) - 2 * MS,
                        key: key.to_owned(),
                        before: Some(before),
                        after: Some(after),
                        reason,
                        run_id: Some(run_id),
                        user: SERVICE_USER.to_owned(),
                        rollback: None,
                    });
                }
            }
            Extra::Hr => {
                let at = end_of("apply") - 5 * MS;
                let batch = format!(
                    "{}-{}",
                    super::utc(at).format("%Y%m%dT%H%M%S%.6fZ"),
                    rng.range(20_000, 90_000)
                );
                let people = 8 + rng.below(10);
                for _ in 0..people {
                    let n = rng.range(1, i64::from(crate::demo::STAFF));
                    let from = rng.below(5) as usize;
                    let to = (from + 1 + rng.below(4) as usize) % 5;
                    let name = person(rng);
                    let staff = format!("S{n:04}");
                    let (f, t) = (
                        crate::demo::DEPARTMENTS[from].0,
                        crate::demo::DEPARTMENTS[to].0,
                    );
                    let share = format!("{}/city/share", self.spec.data_dir.display());
                    for (kind, target, op, dept) in [
                        ("group", format!("dept-{f}"), "revoke", f),
                        ("group", format!("dept-{t}"), "grant", t),
                        ("acl", format!("{share}/{f}"), "revoke", f),
                        ("acl", format!("{share}/{t}"), "grant", t),
                    ] {
                        self.perms.push(PermRow {
                            at,
                            batch: batch.clone(),
                            run_id,
                            staff: staff.clone(),
                            name: name.clone(),
                            department: dept.to_owned(),
                            kind,
                            target,
                            op,
                        });
                    }
                }
            }
            _ => {}
        }
    }

    /// Incidents from the failures, in the order they happened: one per job and failure class
    /// while unresolved (later failures add occurrences), acknowledged and resolved by
    /// operators (or still open at the month's end), with their history and notification.
    fn incidents(&mut self, tx: &Connection) -> Result<(), Failed> {
        let mut failures = std::mem::take(&mut self.failures);
        failures.sort_by_key(|f| (f.at, f.run_id));
        let deadline = |s: Severity| match s {
            Severity::Critical => 2 * HOUR,
            Severity::High => 24 * HOUR,
            Severity::Medium => 72 * HOUR,
            Severity::Low => 168 * HOUR,
        };
        struct Inc {
            f: Failure,
            severity: Severity,
            occurrences: i64,
            last_seen: Us,
            deadline: Us,
            ack: Option<(Us, &'static str)>,
            resolved: Option<(Us, &'static str, &'static str, &'static str)>,
            events: Vec<(Us, &'static str, String, Option<i64>, String)>,
        }
        let mut incs: Vec<Inc> = Vec::new();
        let mut open: BTreeMap<(u32, String), usize> = BTreeMap::new();
        // (attempt id, incident index, new, text before, text after)
        let mut actions = Vec::new();
        for f in failures {
            let k = (f.job, f.class.clone());
            let current = open
                .get(&k)
                .copied()
                .filter(|&i| incs[i].resolved.is_none_or(|(t, ..)| t > f.at));
            if let Some(i) = current {
                let inc = &mut incs[i];
                inc.occurrences += 1;
                inc.last_seen = f.at;
                let higher = f.severity > inc.severity;
                if higher {
                    inc.severity = f.severity;
                    inc.deadline = inc.deadline.min(f.at + deadline(f.severity));
                }
                let text = if higher {
                    format!("{} (severity raised to {})", f.summary, f.severity)
                } else {
                    f.summary.clone()
                };
                inc.events
                    .push((f.at, "occurrence", "unyo".to_owned(), Some(f.run_id), text));
                if let Some((id, before, after)) = &f.attempt {
                    actions.push((*id, i, false, before.clone(), after.clone()));
                }
                continue;
            }
            let n = incs.len();
            let mut rng = Rng::for_item(self.plan.seed, item::INCIDENT, n as u64);
            let dl = f.at + deadline(f.severity);
            let desk = desk_hours(self.m, f.at);
            let ack = if rng.chance(0.9) {
                let wait = if desk {
                    rng.range(3 * 60, 45 * 60)
                } else {
                    rng.range(15 * 60, 180 * 60)
                } * SEC;
                Some((f.at + wait, *rng.pick(&OPERATORS)))
            } else {
                None
            };
            let resolved = if rng.chance(0.85) {
                let from = ack.map_or(f.at, |(t, _)| t);
                let late = rng.chance(0.15);
                let t = if late {
                    dl + rng.range(30 * 60, 30 * 3600) * SEC
                } else {
                    let room = (dl - from).max(10 * MIN);
                    from + rng.range(10 * 60, (room / SEC).min(48 * 3600)) * SEC
                };
                let (cause, cm) = *rng.pick(cause_texts(&f.class));
                let who = ack.map_or_else(|| *rng.pick(&OPERATORS), |(_, u)| u);
                Some((t.max(from + MIN), who, cause, cm))
            } else {
                None
            };
            // Nothing happens after the month.
            let ack = ack.filter(|(t, _)| *t < self.m.end);
            let resolved = resolved.filter(|(t, ..)| *t < self.m.end);
            let mut events = vec![(
                f.at,
                "opened",
                "unyo".to_owned(),
                Some(f.run_id),
                f.summary.clone(),
            )];
            if let Some((t, u)) = ack.filter(|(t, _)| resolved.is_none_or(|(r, ..)| *t < r)) {
                events.push((t, "acknowledged", u.to_owned(), None, String::new()));
                self.audit.push(AuditRow {
                    at: t + 5 * MS,
                    user: u.to_owned(),
                    action: "incident.ack",
                    target: format!("incident {}", n + 1),
                    args: "{}".to_owned(),
                    outcome: "done",
                    detail: "now acknowledged".to_owned(),
                });
            }
            if let Some((t, u, cause, cm)) = resolved {
                events.push((
                    t,
                    "resolved",
                    u.to_owned(),
                    None,
                    format!("cause: {cause}; countermeasure: {cm}"),
                ));
                self.audit.push(AuditRow {
                    at: t + 5 * MS,
                    user: u.to_owned(),
                    action: "incident.resolve",
                    target: format!("incident {}", n + 1),
                    args: serde_json::json!({ "cause": cause, "countermeasure": cm }).to_string(),
                    outcome: "done",
                    detail: "now resolved".to_owned(),
                });
            }
            if let Some((id, before, after)) = &f.attempt {
                actions.push((*id, n, true, before.clone(), after.clone()));
            }
            open.insert(k, n);
            incs.push(Inc {
                severity: f.severity,
                occurrences: 1,
                last_seen: f.at,
                deadline: dl,
                ack: ack.filter(|(t, _)| resolved.is_none_or(|(r, ..)| *t < r)),
                resolved,
                events,
                f,
            });
        }
        // Recoveries: every success of the job while an incident is unresolved is noted.
        let mut successes = std::mem::take(&mut self.successes);
        successes.sort_unstable();
        for inc in &mut incs {
            let until = inc.resolved.map_or(self.m.end, |(t, ..)| t);
            let job = inc.f.job;
            let from = successes.partition_point(|s| (s.0, s.1) <= (job, inc.f.at));
            for &(j, t, run) in &successes[from..] {
                if j != job || t >= until {
                    break;
                }
                let name = &self.plan.jobs[job as usize].name;
                inc.events.push((
                    t + 400,
                    "note",
                    "unyo".to_owned(),
                    Some(run),
                    format!("`{name}` succeeded again in run {run}"),
                ));
            }
        }
        let mut ins = tx
            .prepare(
                "INSERT INTO incidents (opened_at, severity, job, run_id, step, failure_class, \
                 summary, log_excerpt, rule, status, occurrences, last_seen_at, \
                 acknowledged_by, acknowledged_at, resolved_by, resolved_at, cause, \
                 countermeasure, report_deadline, escalation_level, next_escalation_at, route) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, NULL, ?)",
            )
            .map_err(at("preparing the incident insert"))?;
        let mut note = tx
            .prepare(
                "INSERT INTO notifications (incident_id, event, route, level, channel, \
                 created_at, status, attempts, next_attempt_at, receipt, sent_at) \
                 VALUES (?, 'opened', ?, 1, 'mail', ?, 'sent', 1, ?, ?, ?)",
            )
            .map_err(at("preparing the notification insert"))?;
        let mut ids = Vec::with_capacity(incs.len());
        let mut events = Vec::new();
        for inc in &incs {
            let status = match (inc.resolved, inc.ack) {
                (Some(_), _) => "resolved",
                (None, Some(_)) => "acknowledged",
                _ => "open",
            };
            let route = if desk_hours(self.m, inc.f.at) {
                "desk"
            } else {
                "emergency"
            };
            let (ack_by, ack_at) = match (inc.ack, inc.resolved) {
                (Some((t, u)), _) => (Some(u), Some(t)),
                (None, Some((t, u, ..))) => (Some(u), Some(t)),
                _ => (None, None),
            };
            ins.execute(params![
                ts(inc.f.at),
                inc.severity.as_str(),
                self.plan.jobs[inc.f.job as usize].name,
                inc.f.run_id,
                inc.f.step,
                inc.f.class,
                inc.f.summary,
                inc.f.excerpt,
                inc.f.rule,
                status,
                inc.occurrences,
                ts(inc.last_seen),
                ack_by,
                ack_at.map(ts),
                inc.resolved.map(|r| r.1),
                inc.resolved.map(|r| ts(r.0)),
                inc.resolved.map(|r| r.2),
                inc.resolved.map(|r| r.3),
                ts(inc.deadline),
                route,
            ])
            .map_err(at("writing an incident"))?;
            let id = tx.last_insert_rowid();
            ids.push(id);
            note.execute(params![
                id,
                route,
                ts(inc.f.at + 80 * MS),
                ts(inc.f.at + 80 * MS),
                format!(
                    "250 2.0.0 Ok: queued as {:08X}",
                    (inc.f.run_id as u64).wrapping_mul(2_654_435_761) as u32
                ),
                ts(inc.f.at + 1_300 * MS),
            ])
            .map_err(at("writing a notification"))?;
            self.summary.incidents += 1;
            for (n, e) in inc.events.iter().enumerate() {
                events.push((e.0, id, n, e));
            }
        }
        events.sort_by_key(|e| (e.0, e.1, e.2));
        let mut ev = tx
            .prepare(
                "INSERT INTO incident_events (incident_id, at, kind, actor, run_id, text, notified) \
                 VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(at("preparing the incident event insert"))?;
        for (t, id, _, e) in events {
            ev.execute(params![
                id,
                ts(t),
                e.1,
                e.2,
                e.3,
                e.4,
                i64::from(e.1 == "opened")
            ])
            .map_err(at("writing an incident event"))?;
            self.summary.incident_events += 1;
        }
        let mut upd = tx
            .prepare("UPDATE attempts SET action = ? WHERE id = ?")
            .map_err(at("preparing the attempt update"))?;
        for (attempt, i, new, before, after) in actions {
            let inc = &incs[i];
            let text = format!(
                "{before}incident #{} ({}{}){after}",
                ids[i],
                inc.f.severity,
                if new { "" } else { ", one more occurrence" }
            );
            upd.execute(params![text, attempt])
                .map_err(at("naming incidents in attempts"))?;
        }
        Ok(())
    }

    /// Parameter changes, extracts, permission changes and the audit trail, each in the order
    /// it happened; the schedules' watermarks.
    fn side_records(&mut self, tx: &Connection) -> Result<(), Failed> {
        let file = format!("{}/city/online/params.yaml", self.spec.data_dir.display());
        let mut params = std::mem::take(&mut self.params);
        params.sort_by_key(|p| p.at);
        let mut rows: Vec<(Us, Option<usize>, ParamRow)> =
            params.iter().cloned().map(|p| (p.at, None, p)).collect();
        for (i, p) in params.iter().enumerate() {
            if let Some((t, u)) = &p.rollback {
                rows.push((
                    *t,
                    Some(i),
                    ParamRow {
                        at: *t,
                        key: p.key.clone(),
                        before: p.after.clone(),
                        after: p.before.clone(),
                        reason: String::new(),
                        run_id: None,
                        user: u.clone(),
                        rollback: None,
                    },
                ));
            }
        }
        rows.sort_by_key(|r| r.0);
        let mut ins = tx
            .prepare(
                "INSERT INTO param_changes (at, file, key, before, after, reason, run_id, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(at("preparing the parameter change insert"))?;
        let mut ids: Vec<i64> = vec![0; params.len()];
        for (t, of, mut r) in rows {
            if let Some(i) = of {
                r.reason = format!("rollback of change {}", ids[i]);
            }
            ins.execute(params![
                ts(t),
                file,
                r.key,
                r.before,
                r.after,
                r.reason,
                r.run_id,
                r.user
            ])
            .map_err(at("writing a parameter change"))?;
            let id = tx.last_insert_rowid();
            self.summary.param_changes += 1;
            let shown = |v: &Option<String>| v.clone().unwrap_or_else(|| "(absent)".to_owned());
            match of {
                None => {
                    if let Some(i) = params.iter().position(|p| p.at == t && p.key == r.key) {
                        ids[i] = id;
                    }
                    self.audit.push(AuditRow {
                        at: t + MS,
                        user: r.user.clone(),
                        action: "param.set",
                        target: format!("param {}", r.key),
                        args: serde_json::json!({ "file": file, "key": r.key, "value": r.after, "reason": r.reason }).to_string(),
                        outcome: "done",
                        detail: format!("change {id}: {} -> {}", shown(&r.before), shown(&r.after)),
                    });
                }
                Some(i) => {
                    tx.execute(
                        "UPDATE param_changes SET rolled_back_by = ? WHERE id = ?",
                        params![id, ids[i]],
                    )
                    .map_err(at("marking a parameter change rolled back"))?;
                    self.audit.push(AuditRow {
                        at: t + MS,
                        user: r.user.clone(),
                        action: "param.rollback",
                        target: format!("param change {}", ids[i]),
                        args: serde_json::json!({ "change": ids[i], "reason": r.reason })
                            .to_string(),
                        outcome: "done",
                        detail: format!(
                            "{file}: {}: {} -> {} (change {id} rolls back change {})",
                            r.key,
                            shown(&r.before),
                            shown(&r.after),
                            ids[i]
                        ),
                    });
                }
            }
        }
        let mut extracts = std::mem::take(&mut self.extracts);
        extracts.sort_by_key(|e| e.at);
        let mut ins = tx
            .prepare(
                "INSERT INTO extracts (at, run_id, job, db, sql_file, out_file, encoding, rows, \
                 sha256, columns, params, user, \"group\") \
                 VALUES (?, ?, 'euc-extract', ?, ?, ?, 'utf-8-bom', ?, ?, ?, ?, ?, NULL)",
            )
            .map_err(at("preparing the extract insert"))?;
        let db = format!("{}/city/business.db", self.spec.data_dir.display());
        let sql = format!(
            "{}/queries/residents-by-department.sql",
            self.spec.root.display()
        );
        let columns = r#"["id","name","kana","birth_date","age"]"#;
        for e in &extracts {
            let params_json =
                serde_json::json!({ "department": e.dept, "month": e.month }).to_string();
            ins.execute(params![
                ts(e.at),
                e.run_id,
                db,
                sql,
                e.out,
                e.rows,
                e.sha256,
                columns,
                params_json,
                SERVICE_USER
            ])
            .map_err(at("writing an extract"))?;
            let id = tx.last_insert_rowid();
            self.summary.extracts += 1;
            self.audit.push(AuditRow {
                at: e.at + 400,
                user: SERVICE_USER.to_owned(),
                action: "extract",
                target: format!("extract {}", e.out),
                args: serde_json::json!({
                    "allow_formulas": false, "columns": "id,name,kana,birth_date,age", "db": db,
                    "encoding": "utf-8-bom", "group": "", "out": e.out,
                    "params": { "department": e.dept, "month": e.month }, "sql": sql,
                })
                .to_string(),
                outcome: "done",
                detail: format!(
                    "extract {id}: {} rows, sha256 {}, {}",
                    e.rows, e.sha256, e.out
                ),
            });
        }
        let perms = std::mem::take(&mut self.perms);
        let mut ins = tx
            .prepare(
                "INSERT INTO permission_changes (at, batch, run_id, staff_id, name, department, \
                 kind, target, op, outcome, reason, undo_of, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'applied', NULL, NULL, ?)",
            )
            .map_err(at("preparing the permission change insert"))?;
        for p in &perms {
            ins.execute(params![
                ts(p.at),
                p.batch,
                p.run_id,
                p.staff,
                p.name,
                p.department,
                p.kind,
                p.target,
                p.op,
                SERVICE_USER
            ])
            .map_err(at("writing a permission change"))?;
            self.summary.permission_changes += 1;
        }
        if let Some(first) = perms.first() {
            self.audit.push(AuditRow {
                at: first.at + 2 * MS,
                user: SERVICE_USER.to_owned(),
                action: "permissions.apply",
                target: format!(
                    "transfer list {}/city/hr/transfers-{}.csv",
                    self.spec.data_dir.display(),
                    self.m.days[0].format("%Y-%m-%d")
                ),
                args: "{}".to_owned(),
                outcome: "done",
                detail: format!("batch {}: {} changes applied", first.batch, perms.len()),
            });
        }
        let mut audit = std::mem::take(&mut self.audit);
        audit.sort_by(|a, b| (a.at, &a.user, a.action).cmp(&(b.at, &b.user, b.action)));
        let mut ins = tx
            .prepare(
                "INSERT INTO audit (at, user, host, action, target, args, outcome, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .map_err(at("preparing the audit insert"))?;
        for a in &audit {
            ins.execute(params![
                ts(a.at),
                a.user,
                self.spec.host,
                a.action,
                a.target,
                a.args,
                a.outcome,
                a.detail
            ])
            .map_err(at("writing the audit trail"))?;
            self.summary.audit += 1;
        }
        let mut ins = tx
            .prepare("INSERT INTO watermarks (schedule, through) VALUES (?, ?)")
            .map_err(at("preparing the watermark insert"))?;
        for (job, through) in &self.watermarks {
            ins.execute(params![self.plan.jobs[*job as usize].name, ts(*through)])
                .map_err(at("writing a watermark"))?;
        }
        Ok(())
    }

    /// The daemon processes of the month: one until the crash, one until the planned stop,
    /// one to the month's end.
    fn daemons(&self, tx: &Connection) -> Result<(), Failed> {
        let mut ins = tx
            .prepare(
                "INSERT INTO daemons (host, pid, version, started_at, heartbeat_at, stopped_at) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .map_err(at("preparing the daemon insert"))?;
        let mut started = self.m.start;
        for (i, owner) in self.owners.iter().enumerate() {
            let pid: i64 = owner
                .split(':')
                .nth(1)
                .and_then(|p| p.parse().ok())
                .unwrap_or_default();
            let (beat, stopped) = match self.plan.outages.get(i) {
                Some(o) => (o.down - 1_700 * MS, o.planned.then_some(o.down)),
                None => (self.m.end - 4 * SEC, None),
            };
            ins.execute(params![
                self.spec.host,
                pid,
                env!("CARGO_PKG_VERSION"),
                ts(started),
                ts(beat),
                stopped.map(ts)
            ])
            .map_err(at("writing a daemon"))?;
            if let Some(o) = self.plan.outages.get(i) {
                started = o.up;
            }
        }
        Ok(())
    }
}

/// Ends the steps that were running at `down` as interrupted (at `when`); steps not started
/// by then are cancelled, attempts that had not begun are dropped.
fn interrupt(steps: &mut [StepRec], down: Us, when: Us, why: &str) {
    for s in steps.iter_mut() {
        if s.ended.is_some_and(|e| e <= down) && s.status != StepStatus::Skipped {
            continue;
        }
        s.attempts.retain(|a| a.started < down);
        if let Some(a) = s.attempts.last_mut() {
            a.status = AttemptStatus::Interrupted;
            a.ended = when;
            a.exit = None;
            a.signal = None;
            a.rule = None;
            a.action = None;
            a.remediation = None;
            a.escalate = None;
            s.status = StepStatus::Interrupted;
            s.reason = Some(why.to_owned());
            s.ended = Some(when);
        } else {
            s.status = StepStatus::Cancelled;
            s.reason = Some(why.to_owned());
            s.started = None;
            s.ended = Some(when);
            s.gate = None;
        }
    }
}

/// Stops a run at `t`: the running attempt is cancelled (SIGTERM), steps not started are
/// cancelled.
fn cancel(steps: &mut [StepRec], t: Us, end: Us, why: &str) {
    for s in steps.iter_mut() {
        if s.ended.is_some_and(|e| e <= t) && s.status != StepStatus::Skipped {
            continue;
        }
        s.attempts.retain(|a| a.started < t);
        if let Some(a) = s.attempts.last_mut() {
            a.status = AttemptStatus::Cancelled;
            a.ended = end;
            a.exit = None;
            a.signal = Some(15);
            a.rule = None;
            a.action = None;
            a.remediation = None;
            a.escalate = None;
            s.status = StepStatus::Cancelled;
            s.reason = Some(why.to_owned());
            s.ended = Some(end);
        } else {
            s.status = StepStatus::Cancelled;
            s.reason = Some(why.to_owned());
            s.started = None;
            s.ended = Some(end);
        }
    }
}

fn failed_attempt(
    n: i64,
    started: Us,
    len: Us,
    exit: Option<i32>,
    signal: Option<i32>,
    stderr: &str,
) -> Attempt {
    Attempt {
        n,
        status: AttemptStatus::Failed,
        started,
        ended: started + len,
        exit,
        signal,
        stdout: String::new(),
        stderr: stderr.to_owned(),
        rule: None,
        action: None,
        remediation: None,
        escalate: None,
    }
}

/// A failed attempt escalated by its runbook's rule: the rule given, or the runbook's
/// catch-all (`transient#7`, medium; `escalate#1`, high).
fn escalated(
    mut a: Attempt,
    rb: Runbook,
    class: &str,
    reason: &str,
    rule: Option<(Severity, &str)>,
) -> Attempt {
    let (severity, label) = rule.unwrap_or(match rb {
        Runbook::Transient => (Severity::Medium, "transient#7 (Any other unexpected exit)"),
        Runbook::Escalate => (
            Severity::High,
            "escalate#1 (A check or a one-shot step failed)",
        ),
    });
    a.rule = Some(label.to_owned());
    a.escalate = Some((severity, class.to_owned(), reason.to_owned(), String::new()));
    a
}

fn success_tail(job: &str, step: &str, rng: &mut Rng) -> String {
    match (job, step) {
        ("health-check", "tools") => "all tools present\n".to_owned(),
        ("health-check", "data-writable") => "/srv/unyo/var is writable\n".to_owned(),
        ("nightly-backup", "backup") => format!(
            "backup written and verified: {} files, {} MiB\n",
            rng.range(18_000, 19_000),
            rng.range(2_100, 2_400)
        ),
        ("log-cleanup", "log-volume") | ("disk-report", "log-volume") => {
            format!("{}\t/srv/unyo/var/log\n", rng.range(200_000, 900_000))
        }
        (j, _) if j.starts_with("batch-") => format!("{} records\n", rng.range(10, 200_000)),
        _ => String::new(),
    }
}

fn failure_text(job: &str, code: i32) -> &'static str {
    match (job, code) {
        ("health-check", _) => {
            "mkdir: cannot create directory '/srv/unyo/var': Read-only file system\n"
        }
        ("disk-report", _) => "free space: 8% (minimum 10%)\n",
        (_, 2) => "error: input file for the day not found\n",
        (_, 3) => "error: record count mismatch between source and target\n",
        (_, 127) => "sh: 1: sqlplus: not found\n",
        (_, 4) => "error: permission denied writing to the export folder\n",
        _ => "error: unexpected data in the input (line 18233)\n",
    }
}

/// Cause and countermeasure, as operators write them, per failure class.
fn cause_texts(class: &str) -> &'static [(&'static str, &'static str)] {
    match class {
        "timeout" => &[
            (
                "バックアップ先NASの応答遅延により時間内に終わらなかった",
                "NAS側の重複排除処理の時間帯を02:00以降に移した",
            ),
            (
                "共有フォルダのファイル数増加でアーカイブ作成が長引いた",
                "古い年度のフォルダを別ボリュームへ移し、タイムアウトを見直した",
            ),
        ],
        "interrupted" => &[(
            "運用サーバの計画外再起動(カーネル更新の自動適用)",
            "自動更新を停止し、更新は月例保守の時間帯に手動で行う",
        )],
        "killed by SIGKILL" => &[(
            "メモリ不足によりOOM killerが処理を停止した",
            "ジョブの並列度を4から2に下げ、サーバのメモリ増設を申請した",
        )],
        "exit 75" => &[(
            "連携先データベースのロック競合が続いた",
            "他システムの夜間バッチと実行時刻が重ならないよう調整した",
        )],
        _ => &[
            (
                "連携元システムからの入力ファイルの到着が遅れた",
                "連携元に送信時刻を30分早めるよう依頼し、到着確認の手順を追加した",
            ),
            (
                "ログ領域の増加により空き容量がしきい値を下回った",
                "古いログを削除し、保持期間を90日から60日に変更した",
            ),
            (
                "入力データに想定外の文字コードが含まれていた",
                "連携元で文字コードの検査を追加してもらい、受入れ側でも検査する",
            ),
            (
                "データ領域の権限設定が保守作業で変更されていた",
                "権限を戻し、保守作業の手順書に権限確認を追加した",
            ),
        ],
    }
}

/// Whether `t` is in desk hours: weekdays (business days) 08:30-17:30.
fn desk_hours(m: &Month, t: Us) -> bool {
    let d = m.local_date(t);
    let mins = m.local_minutes(t);
    super::plan::city_calendar().is_business_day(d) && (8 * 60 + 30..17 * 60 + 30).contains(&mins)
}

fn excerpt(stdout: &str, stderr: &str) -> String {
    crate::incident::excerpt(stdout, stderr)
}

fn duration(t: Us) -> String {
    crate::model::values::format_duration(std::time::Duration::from_micros(t.max(0) as u64))
}

fn local_seconds(m: &Month, t: Us) -> String {
    super::utc(t)
        .with_timezone(&m.tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The month before the generated one, `YYYY-MM` (extracts are for the month just ended).
fn previous_month(m: &Month) -> String {
    if m.month == 1 {
        format!("{}-12", m.year - 1)
    } else {
        format!("{}-{:02}", m.year, m.month - 1)
    }
}

fn comment_of(p: &Planned) -> Option<String> {
    match p.extra {
        Extra::Extract { dept, .. } => {
            let (_, name) = crate::demo::DEPARTMENTS[dept as usize % 5];
            Some(format!(
                "{name}: 誕生月通知の対象者抽出 (依頼票 {})",
                4000 + p.key % 900
            ))
        }
        Extra::Param { .. } => Some(format!(
            "条例改正に伴う設定変更 (変更管理票 CR-{})",
            200 + p.key % 97
        )),
        _ => None,
    }
}

/// An invented person's name.
fn person(rng: &mut Rng) -> String {
    const FAMILY: [&str; 12] = [
        "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田",
        "山田",
    ];
    const GIVEN: [&str; 12] = [
        "翔太", "大輝", "健一", "誠", "陽子", "恵子", "美咲", "結衣", "拓也", "直樹", "花子", "葵",
    ];
    format!("{} {}", rng.pick(&FAMILY), rng.pick(&GIVEN))
}
