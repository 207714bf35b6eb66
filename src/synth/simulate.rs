//! How a planned run goes: each step's attempts under the run's fate (retries, timeouts,
//! a full disk, failures, the runbook rules that matched), gates, cancels and interruptions,
//! as the engine would have recorded them. Nothing here writes.

use super::jobs::{self, Job, Runbook};
use super::plan::{FailKind, Fate, OPERATORS, Planned};
use super::runs::Writer;
use super::{HOUR, MIN, MS, Rng, SEC, Us, ts};
use crate::model::Severity;
use crate::store::{AttemptStatus, RunStatus, StepStatus};

/// One attempt as recorded.
#[derive(Debug, Clone)]
pub(super) struct Attempt {
    pub n: i64,
    pub status: AttemptStatus,
    pub started: Us,
    pub ended: Us,
    pub exit: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub rule: Option<String>,
    pub action: Option<String>,
    pub remediation: Option<serde_json::Value>,
    /// An escalation: severity, failure class, the step's reason at that moment, the action
    /// text after the incident's mention.
    pub escalate: Option<(Severity, String, String, String)>,
}

/// One step as recorded.
#[derive(Debug, Clone)]
pub(super) struct StepRec {
    pub status: StepStatus,
    pub reason: Option<String>,
    pub started: Option<Us>,
    pub ended: Option<Us>,
    pub attempts: Vec<Attempt>,
    /// An approval: (requested, decided, approver).
    pub gate: Option<(Us, Us, u8)>,
}

impl Writer<'_> {
    /// How each step went, and the run's status, reason, end and cancel request.
    #[allow(clippy::type_complexity)]
    pub fn simulate(
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
                a.remediation = Some(serde_json::json!({
                    "command": { "argv": ["find", self.spec.log_dir.display().to_string(), "-type", "f", "-name", "*.log", "-mtime", "+30", "-delete"] },
                    "result": "succeeded",
                    "started_at": ts(rem_start),
                    "ended_at": ts(rem_end),
                    "exit_code": 0,
                    "signal": null,
                    "stdout_tail": "",
                    "stderr_tail": "",
                    "log_path": format!("{}/{}/remediation.log", self.spec.log_dir.display(), job.name),
                }));
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
}

/// Ends the steps that were running at `down` as interrupted (at `when`); steps not started
/// by then are cancelled, attempts that had not begun are dropped.
pub(super) fn interrupt(steps: &mut [StepRec], down: Us, when: Us, why: &str) {
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

fn duration(t: Us) -> String {
    crate::model::values::format_duration(std::time::Duration::from_micros(t.max(0) as u64))
}
