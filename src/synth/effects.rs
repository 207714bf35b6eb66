//! What a run leaves beyond its steps: the operators' actions on it (run, rerun, submit,
//! cancel, approve) for the audit trail, and what its steps record themselves (extracts,
//! parameter changes, permission changes), carried until the runs are written.

use super::jobs::Job;
use super::plan::{Extra, Fate, OPERATORS, Planned, SERVICE_USER};
use super::runs::{AuditRow, ExtractRow, ParamRow, PermRow, Writer, previous_month};
use super::simulate::StepRec;
use super::{MS, Month, Rng, Us};
use crate::store::RunStatus;

impl Writer<'_> {
    /// Records a run's effects beyond its steps: audit entries, extracts, parameter and
    /// permission changes.
    #[allow(clippy::too_many_arguments)]
    pub fn side_effects(
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
                args: serde_json::json!({ "parallel": 2, "params": {} }),
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
                    args: serde_json::json!({ "from_failed": false }),
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
                    }),
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
                    args: serde_json::json!({}),
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
}

fn local_seconds(m: &Month, t: Us) -> String {
    super::utc(t)
        .with_timezone(&m.tz)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
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
