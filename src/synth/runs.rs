//! Writing a planned month's runs: each run with its slot, steps, attempts and gate as the
//! engine leaves them, through the store's [`PastWriter`] in one transaction; what the runs
//! leave for later (failures, successes, audit, extracts, parameter and permission changes,
//! watermarks) is carried to [`super::incidents`] and [`super::records`].

use std::collections::BTreeMap;

use super::jobs::{self, Job};
use super::plan::{DAEMON_USER, Extra, Fate, LoneSlot, OPERATORS, Plan, Planned, Reason};
use super::simulate::interrupt;
use super::{MS, Month, Rng, Spec, Summary, Us, utc};
use crate::model::Severity;
use crate::store::bulk::{PastAttempt, PastGate, PastRun, PastStep, PastWriter};
use crate::store::{AttemptEnd, NewAttempt, NewRun, NewSlot, RunStatus, StepStatus, StoreError};

/// A failure that reaches the incidents: a runbook rule's escalation, a failed run that no
/// rule escalated, an interrupted run.
#[derive(Debug, Clone)]
pub(super) struct Failure {
    pub at: Us,
    pub job: u32,
    pub run_id: i64,
    pub step: Option<String>,
    pub class: String,
    pub severity: Severity,
    pub rule: Option<String>,
    pub summary: String,
    pub excerpt: String,
    /// The attempt whose `action` names the incident, with the text around it.
    pub attempt: Option<(i64, String, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct AuditRow {
    pub at: Us,
    pub user: String,
    pub action: &'static str,
    pub target: String,
    pub args: serde_json::Value,
    pub outcome: &'static str,
    pub detail: String,
}

#[derive(Debug, Clone)]
pub(super) struct ParamRow {
    pub at: Us,
    pub key: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: String,
    pub run_id: Option<i64>,
    pub user: String,
    /// Rolled back by an operator at this time.
    pub rollback: Option<(Us, String)>,
}

#[derive(Debug, Clone)]
pub(super) struct ExtractRow {
    pub at: Us,
    pub run_id: i64,
    pub out: String,
    pub rows: u32,
    pub sha256: String,
    pub dept: String,
    pub month: String,
}

#[derive(Debug, Clone)]
pub(super) struct PermRow {
    pub at: Us,
    pub batch: String,
    pub run_id: i64,
    pub staff: String,
    pub name: String,
    pub department: String,
    pub kind: &'static str,
    pub target: String,
    pub op: &'static str,
}

/// Everything the writer carries from run to run.
pub(super) struct Writer<'a> {
    pub spec: &'a Spec,
    pub m: &'a Month,
    pub plan: &'a Plan,
    pub summary: Summary,
    pub failures: Vec<Failure>,
    /// (job, ended, run id) of every succeeded run: recoveries noted on open incidents.
    pub successes: Vec<(u32, Us, i64)>,
    pub audit: Vec<AuditRow>,
    pub params: Vec<ParamRow>,
    pub extracts: Vec<ExtractRow>,
    pub perms: Vec<PermRow>,
    /// Run id by plan key.
    pub ids: Vec<i64>,
    /// The latest due time decided per schedule (job index).
    pub watermarks: BTreeMap<u32, Us>,
    /// Job digest per (job, version), catalog digest per epoch.
    job_digests: Vec<[String; 2]>,
    catalog_digests: Vec<String>,
    /// Each job's step commands as the store takes them (filled per run where they hold
    /// `@` placeholders).
    commands: Vec<Vec<serde_json::Value>>,
    pub owners: Vec<String>,
}

/// What the runs leave for the records written after them.
pub(super) struct Carried {
    summary: Summary,
    failures: Vec<Failure>,
    successes: Vec<(u32, Us, i64)>,
    audit: Vec<AuditRow>,
    params: Vec<ParamRow>,
    extracts: Vec<ExtractRow>,
    perms: Vec<PermRow>,
    ids: Vec<i64>,
    watermarks: BTreeMap<u32, Us>,
}

/// Writes every run and slot of the plan, in the order they were decided.
pub(super) fn write_runs(
    past: &mut dyn PastWriter,
    spec: &Spec,
    m: &Month,
    plan: &Plan,
) -> Result<Carried, StoreError> {
    let mut w = Writer::new(spec, m, plan);
    let mut lone = plan.lone.iter().peekable();
    for p in &plan.runs {
        while let Some(s) = lone.next_if(|s| s.decided < p.queued) {
            w.lone_slot(past, s)?;
        }
        w.run(past, p)?;
    }
    for s in lone {
        w.lone_slot(past, s)?;
    }
    Ok(Carried {
        summary: w.summary,
        failures: w.failures,
        successes: w.successes,
        audit: w.audit,
        params: w.params,
        extracts: w.extracts,
        perms: w.perms,
        ids: w.ids,
        watermarks: w.watermarks,
    })
}

impl<'a> Writer<'a> {
    pub fn new(spec: &'a Spec, m: &'a Month, plan: &'a Plan) -> Writer<'a> {
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
            commands: plan
                .jobs
                .iter()
                .map(|j| j.steps.iter().map(|s| command_value(&s.command)).collect())
                .collect(),
            owners,
        }
    }

    /// The writer again after the runs, with what they left.
    pub fn resume(spec: &'a Spec, m: &'a Month, plan: &'a Plan, c: Carried) -> Writer<'a> {
        Writer {
            summary: c.summary,
            failures: c.failures,
            successes: c.successes,
            audit: c.audit,
            params: c.params,
            extracts: c.extracts,
            perms: c.perms,
            ids: c.ids,
            watermarks: c.watermarks,
            ..Writer::new(spec, m, plan)
        }
    }

    pub fn job(&self, i: u32) -> &'a Job {
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

    fn lone_slot(&mut self, past: &mut dyn PastWriter, s: &LoneSlot) -> Result<(), StoreError> {
        let name = &self.job(s.job).name;
        let reason = match &s.reason {
            Reason::Text(t) => t.to_string(),
            Reason::Overlap(k) => format!(
                "run {} of `{name}` is still active (overlap: forbid)",
                self.ids.get(*k as usize).copied().unwrap_or_default()
            ),
        };
        past.slot(&NewSlot {
            schedule: name.clone(),
            job: name.clone(),
            fire_time: utc(s.fire),
            due_at: utc(s.due),
            outcome: s.outcome,
            reason: Some(reason),
            run: None,
            decided_at: utc(s.decided),
        })?;
        self.summary.slots += 1;
        self.mark(s.job, s.due);
        Ok(())
    }

    pub fn mark(&mut self, job: u32, due: Us) {
        let e = self.watermarks.entry(job).or_insert(due);
        *e = (*e).max(due);
    }

    fn run(&mut self, past: &mut dyn PastWriter, p: &Planned) -> Result<(), StoreError> {
        let job = self.job(p.job);
        let mut rng = Rng::new(p.seed);
        let by = OPERATORS.get(p.by as usize).copied();
        let requested_by = by.unwrap_or(DAEMON_USER);
        let business = utc(p.business);
        let bd = crate::calendar::business_date(business, self.m.tz, self.spec.day_start);
        let fy = crate::calendar::fiscal_year(bd, self.spec.fiscal_year_start);
        // The run's parameters and comment.
        let (params_json, comment, fill): (serde_json::Value, Option<String>, Vec<(&str, String)>) =
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
        let schedule = p.slot.as_ref().map(|_| job.name.clone());
        let run_id = past.run(&PastRun {
            run: NewRun {
                job: job.name.clone(),
                trigger: p.trigger,
                params: params_json,
                status,
                business_date: bd,
                fiscal_year: fy,
                at: utc(p.queued),
                requested_by: requested_by.to_owned(),
                host: self.spec.host.clone(),
                job_digest: job_digest.to_owned(),
                catalog_digest: catalog_digest.to_owned(),
                steps: Vec::new(),
                owner: Some(owner),
                not_before: p.not_before.map(utc),
                schedule: schedule.clone(),
                rerun_of,
                kept_steps: Vec::new(),
                comment,
                business_date_given: false,
                outside_window: None,
            },
            slot: p.slot.as_ref().map(|s| NewSlot {
                schedule: job.name.clone(),
                job: job.name.clone(),
                fire_time: utc(s.fire),
                due_at: utc(s.due),
                outcome: s.outcome,
                reason: s.reason.as_deref().map(str::to_owned),
                run: None,
                decided_at: utc(p.queued),
            }),
            reason: reason.clone(),
            started_at: started.map(utc),
            ended_at: utc(ended),
            cancel_requested: cancel.as_ref().map(|(u, t)| (u.clone(), utc(*t))),
            steps: job
                .steps
                .iter()
                .zip(&steps)
                .map(|(s, rec)| PastStep {
                    name: s.name.clone(),
                    status: rec.status,
                    reason: rec.reason.clone(),
                    attempts: rec.attempts.len() as i64,
                    started_at: rec.started.map(utc),
                    ended_at: rec.ended.map(utc),
                    continued: false,
                    gate: rec.gate.map(|(requested, decided, approver)| PastGate {
                        requested_at: utc(requested),
                        timeout_at: s.timeout.map(|t| utc(requested + t)),
                        approved: true,
                        decided_by: OPERATORS[approver as usize % OPERATORS.len()].to_owned(),
                        decided_at: utc(decided),
                        comment: "dry run checked".to_owned(),
                    }),
                })
                .collect(),
        })?;
        if let Some(slot) = self.ids.get_mut(p.key as usize) {
            *slot = run_id;
        }
        self.summary.runs += 1;
        if let Some(s) = &p.slot {
            self.summary.slots += 1;
            self.mark(p.job, s.due);
        }
        // Steps and attempts.
        let mut attempts = Vec::new();
        for (i, (s, rec)) in job.steps.iter().zip(&steps).enumerate() {
            self.summary.steps += 1;
            if let Some((_, decided, approver)) = rec.gate {
                let approver = OPERATORS[approver as usize % OPERATORS.len()];
                self.audit.push(AuditRow {
                    at: decided - 20 * MS,
                    user: approver.to_owned(),
                    action: "approve",
                    target: format!("run {run_id} step {}", s.name),
                    args: serde_json::json!({ "comment": "dry run checked" }),
                    outcome: "done",
                    detail: "approved".to_owned(),
                });
            }
            let command = if s.command.contains('@') {
                let text = fill
                    .iter()
                    .fold(s.command.clone(), |c, (k, v)| c.replace(k, v))
                    .replace("@RUN@", &run_id.to_string());
                command_value(&text)
            } else {
                self.commands[p.job as usize][i].clone()
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
                let pid = rng.range(2_000, 4_000_000) as u32;
                let log_bytes = (a.stdout.len() + a.stderr.len()) as i64 + rng.range(0, 4_000);
                attempts.push(PastAttempt {
                    start: NewAttempt {
                        run_id,
                        step: s.name.clone(),
                        attempt: a.n,
                        command: command.clone(),
                        log_path,
                        started_at: utc(a.started),
                    },
                    pid: Some(pid),
                    end: AttemptEnd {
                        status: a.status,
                        pid: None,
                        ended_at: utc(a.ended),
                        exit_code: a.exit,
                        signal: a.signal,
                        error: None,
                        stdout_tail: a.stdout.clone(),
                        stderr_tail: a.stderr.clone(),
                        log_bytes,
                        log_dropped: 0,
                        step_status: rec.status,
                        step_reason: rec.reason.clone(),
                        rule: a.rule.clone(),
                        action,
                        remediation: a.remediation.clone(),
                        retry_at: None,
                        continued: false,
                    },
                });
            }
        }
        let ids = past.attempts(&attempts)?;
        self.summary.attempts += ids.len() as u64;
        let mut ids = ids.into_iter();
        let mut first_failure: Option<(String, String, String, Option<String>)> = None;
        let mut escalated = false;
        for (s, rec) in job.steps.iter().zip(&steps) {
            for a in &rec.attempts {
                let attempt_id = ids.next().unwrap_or_default();
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
    ) -> (
        serde_json::Value,
        Option<String>,
        Vec<(&'static str, String)>,
    ) {
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
                    json,
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
                    json,
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
                    serde_json::json!({ "list": list }),
                    None,
                    vec![
                        ("@LIST@", list),
                        ("@DATE@", bd.format("%Y-%m-%d").to_string()),
                    ],
                )
            }
            Extra::Rollover => (
                serde_json::json!({}),
                None,
                vec![("@PREV@", (fy - 1).to_string()), ("@FY@", fy.to_string())],
            ),
            _ => (
                match job.name.as_str() {
                    "log-cleanup" => serde_json::json!({ "days": "90" }),
                    "disk-report" => serde_json::json!({ "min_free_percent": "10" }),
                    _ => serde_json::json!({}),
                },
                None,
                Vec::new(),
            ),
        }
    }
}

/// A step's command as the store records it: the JSON the job's rendered command is.
fn command_value(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
}

pub(super) fn excerpt(stdout: &str, stderr: &str) -> String {
    crate::incident::excerpt(stdout, stderr)
}

/// The month before the generated one, `YYYY-MM` (extracts are for the month just ended).
pub(super) fn previous_month(m: &Month) -> String {
    if m.month == 1 {
        format!("{}-12", m.year - 1)
    } else {
        format!("{}-{:02}", m.year, m.month - 1)
    }
}

pub(super) fn comment_of(p: &Planned) -> Option<String> {
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
