//! One step of a run and its attempts: waiting for a slot, rendering the step into a command
//! with its environment (`prepare`), recording the attempt before its process starts and
//! its end after, what the end means (`attempt_end`: succeeded, failed, timed out, refused
//! with its reason, cancelled), and handing a failed attempt to its runbook.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::context::StepContext;
use super::dag::{Outcomes, StepEnd};
use super::gate::gate;
use super::recovery::{apply_runbook, record_failure, stopped_while_waiting, wait_for_retry};
use super::secrets::{mask_log, mask_secrets};
use super::{Event, PID_RECORD_DELAY, TAIL_BYTES};
use crate::exec::describe_exit;
use crate::exec::{self, Exit, Program};
use crate::model::{Action, Step};
use crate::store::{AttemptEnd, AttemptStatus, NewAttempt, StepStatus, StoreError};

/// Runs one step and records every attempt: a failed attempt goes to the step's runbook,
/// which may retry it (after a delay, running a remediation first), open an incident at once,
/// or let the steps that need it run. Reports the step's end on `outcome` as soon as the
/// record of that end is issued (`None` when the run was stopped before the step got a slot).
pub(super) async fn run_step(
    ctx: &StepContext,
    i: usize,
    slots: Arc<Semaphore>,
    outcome: Outcomes,
    resume: Option<(i64, DateTime<Utc>)>,
) -> Result<(), StoreError> {
    let step = &ctx.job.steps[i];
    if let Action::Approval { message } = &step.action {
        return gate(ctx, i, step, message.as_deref(), &outcome).await;
    }
    let mut attempt: i64 = 1;
    if let Some((next, at)) = resume {
        attempt = next;
        if !wait_for_retry(ctx, i, at, &outcome).await? {
            return Ok(());
        }
    }
    loop {
        // Rendered once it has a slot: the steps waiting for one cost a parked task each.
        let Some(permit) = take_slot(ctx, i, attempt, &slots, &outcome).await? else {
            return Ok(());
        };
        let log_path = ctx
            .settings
            .log_dir
            .join(&ctx.job.name)
            .join(format!("{}.{}.{attempt}.log", ctx.run_id, step.name));
        // A step for nodes with labels this one lacks is handed over to one of them, which
        // renders and runs it (`delegate.rs`).
        let here = step.runs_on_node(&ctx.settings.node.labels);
        let mut prepared = here.then(|| prepare(ctx, step, attempt, log_path.clone()));
        if let Some(Ok(cmd)) = &mut prepared {
            // Counted where the run's watcher sees it (`stuck_after`).
            cmd.progress = ctx.live[i].progress.clone();
        }
        let command_record = match &prepared {
            Some(Ok(cmd)) => program_record(&cmd.program),
            Some(Err(_)) => serde_json::json!(null),
            None => serde_json::json!({ "runs_on": step.runs_on }),
        };
        let started_at = ctx.clock.now();
        let attempt_id = ctx
            .store
            .start_attempt(&NewAttempt {
                run_id: ctx.run_id,
                step: step.name.clone(),
                attempt,
                command: command_record,
                log_path: log_path.display().to_string(),
                started_at,
            })
            .await?;
        (ctx.on_event)(Event::StepStarted {
            step: step.name.clone(),
            attempt,
        });

        let result = match prepared {
            Some(Ok(cmd)) => {
                ctx.live[i].running(attempt);
                let outcome = spawn_attempt(ctx, &cmd, attempt_id, Some(permit)).await;
                ctx.live[i].running(0);
                outcome?
            }
            Some(Err(e)) => {
                drop(permit);
                Ran::Failed(e)
            }
            None => super::delegate::hand_over(ctx, i, attempt, attempt_id, permit).await?,
        };

        let mut end = attempt_end(ctx, step, result);
        if let Some(check) = &step.check {
            super::check::read_result(ctx, step, check, &mut end).await?;
        }
        mask_log(ctx, &log_path).await;
        let elapsed = (end.ended_at - started_at).to_std().unwrap_or_default();
        let failed = matches!(
            end.status,
            AttemptStatus::Failed | AttemptStatus::TimedOut | AttemptStatus::Error
        );
        let (mut severity, mut incident) = (None, None);
        let host_key = end
            .error
            .as_deref()
            .is_some_and(|e| e.starts_with(exec::remote::HOST_KEY_CHANGED));
        if host_key {
            // Never retried or worked around: the run fails and its incident is high.
            severity = Some(crate::model::Severity::High);
        } else if failed && !*ctx.cancel.borrow() {
            (severity, incident) = apply_runbook(ctx, step, attempt, elapsed, &mut end).await?;
        }
        // Issued before the engine hears of the outcome, so a dependent's start is never
        // committed before this end (see `Store`).
        let finishing = ctx.store.finish_attempt(attempt_id, &end);
        let mut detail = crate::model::values::format_duration(elapsed);
        if let Some(r) = &end.step_reason {
            detail = format!("{detail}, {r}");
        }
        if end.step_status == StepStatus::WaitingRetry {
            finishing.await?;
            (ctx.on_event)(Event::StepEnded {
                step: step.name.clone(),
                status: end.step_status,
                detail,
            });
            let at = end.retry_at.unwrap_or_else(|| ctx.clock.now());
            if !wait_for_retry(ctx, i, at, &outcome).await? {
                return Ok(());
            }
            attempt += 1;
            continue;
        }
        if end.step_status == StepStatus::Failed && !end.continued {
            record_failure(ctx, step, &end, severity, incident);
        }
        let _ = outcome.send((i, StepEnd::Ended(end.step_status, end.continued)));
        finishing.await?;
        (ctx.on_event)(Event::StepEnded {
            step: step.name.clone(),
            status: end.step_status,
            detail,
        });
        return Ok(());
    }
}

/// Waits for one of the run's `parallel` permits for attempt number `attempt` of step `i`.
/// `None` when the run was stopped meanwhile (the step's end is then reported or recorded,
/// and its task ends): a stopping daemon leaves the attempt for the next start.
async fn take_slot(
    ctx: &StepContext,
    i: usize,
    attempt: i64,
    slots: &Arc<Semaphore>,
    outcome: &Outcomes,
) -> Result<Option<OwnedSemaphorePermit>, StoreError> {
    let mut cancel = ctx.cancel.clone();
    let mut drain = ctx.drain.clone();
    let permit = tokio::select! {
        permit = slots.clone().acquire_owned() => permit.ok(),
        () = async { let _ = cancel.wait_for(|c| *c).await; } => None,
        () = async { let _ = drain.wait_for(|d| *d).await; } => None,
    };
    if permit.is_none() && *ctx.drain.borrow() && !*ctx.cancel.borrow() {
        // The daemon is stopping: this attempt starts after the next start.
        let _ = outcome.send((
            i,
            if attempt == 1 {
                StepEnd::NotStarted
            } else {
                StepEnd::Suspended
            },
        ));
        return Ok(None);
    }
    let Some(permit) = permit.filter(|_| !*ctx.cancel.borrow()) else {
        if attempt == 1 {
            let _ = outcome.send((i, StepEnd::NotStarted));
        } else {
            stopped_while_waiting(ctx, i, outcome).await?;
        }
        return Ok(None);
    };
    Ok(Some(permit))
}

/// How an attempt's command went, wherever it ran (kept as JSON when another node ran it).
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(super) enum Ran {
    /// Its process ran and ended.
    Process(exec::Outcome),
    /// It did not run, or how it ended is unknown: why.
    Failed(String),
    /// Stopped before any node took it (a step handed over to another node).
    NotTaken,
}

/// Runs a recorded attempt's process to its end, holding `permit` (if any) while it runs.
/// A step that is still running after [`PID_RECORD_DELAY`] gets its pid recorded then; a
/// shorter one has it recorded with its end, one transaction fewer.
pub(super) async fn spawn_attempt(
    ctx: &StepContext,
    cmd: &exec::Command,
    attempt_id: i64,
    permit: Option<OwnedSemaphorePermit>,
) -> Result<Ran, StoreError> {
    let (pid_tx, pid_rx) = tokio::sync::oneshot::channel::<u32>();
    let record_pid = async {
        if let Ok(pid) = pid_rx.await {
            tokio::time::sleep(PID_RECORD_DELAY).await;
            ctx.store.set_attempt_pid(attempt_id, pid).await
        } else {
            std::future::pending().await
        }
    };
    let on_spawn = move |pid: u32| {
        let _ = pid_tx.send(pid);
    };
    let running = exec::execute(cmd, ctx.cancel.clone(), on_spawn);
    tokio::pin!(running, record_pid);
    let mut pid_recorded = false;
    let outcome = loop {
        tokio::select! {
            outcome = &mut running => break outcome,
            recorded = &mut record_pid, if !pid_recorded => {
                recorded?;
                pid_recorded = true;
            }
        }
    };
    // Free the slot and let the step waiting for it start before this end is recorded:
    // writes run in this thread, and the end is not on anyone's way.
    drop(permit);
    tokio::task::yield_now().await;
    Ok(match outcome {
        Ok(out) => Ran::Process(out),
        Err(e) => Ran::Failed(e.to_string()),
    })
}

/// The command as recorded with an attempt.
pub(super) fn program_record(program: &Program) -> serde_json::Value {
    match program {
        Program::Argv(argv) => serde_json::json!({ "argv": argv }),
        Program::Shell(line) => serde_json::json!({ "run": line }),
    }
}

/// How an attempt ended, before any runbook looked at it.
fn attempt_end(ctx: &StepContext, step: &Step, result: Ran) -> AttemptEnd {
    let blank = AttemptEnd {
        status: AttemptStatus::Error,
        pid: None,
        ended_at: ctx.clock.now(),
        exit_code: None,
        signal: None,
        error: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        log_bytes: 0,
        log_dropped: 0,
        step_status: StepStatus::Failed,
        step_reason: None,
        rule: None,
        action: None,
        remediation: None,
        retry_at: None,
        continued: false,
    };
    match result {
        Ran::Process(mut out) => {
            let (exit_code, signal) = match out.exit {
                Exit::Code(c) => (Some(c), None),
                Exit::Signal(s) => (None, Some(s)),
            };
            let stopped = out.cancelled || out.timed_out;
            if let Some(failure) = out.connection.take().filter(|_| !stopped) {
                // ssh's own exit 255: the command's end is unknown, so no exit code is kept.
                let message = failure.to_string();
                return AttemptEnd {
                    status: AttemptStatus::Error,
                    pid: Some(out.pid),
                    ended_at: out.ended_at,
                    error: Some(message.clone()),
                    stdout_tail: mask_secrets(ctx, out.stdout_tail),
                    stderr_tail: mask_secrets(ctx, out.stderr_tail),
                    log_bytes: i64::try_from(out.log_written).unwrap_or(i64::MAX),
                    log_dropped: i64::try_from(out.log_dropped).unwrap_or(i64::MAX),
                    step_reason: Some(message),
                    ..blank
                };
            }
            let (status, step_status, reason) = if out.cancelled {
                (
                    AttemptStatus::Cancelled,
                    StepStatus::Cancelled,
                    Some(ctx.stop_reason()),
                )
            } else if out.timed_out {
                let t = step.timeout.unwrap_or_default();
                (
                    AttemptStatus::TimedOut,
                    StepStatus::Failed,
                    Some(format!(
                        "timed out after {}",
                        crate::model::values::format_duration(t)
                    )),
                )
            } else if out.success() {
                (AttemptStatus::Succeeded, StepStatus::Succeeded, None)
            } else if let Exit::Code(code) = out.exit
                && step.refuses_with(code)
            {
                (
                    AttemptStatus::Refused,
                    StepStatus::Refused,
                    Some(refusal(&out.stderr_tail, &out.stdout_tail, code)),
                )
            } else {
                (
                    AttemptStatus::Failed,
                    StepStatus::Failed,
                    Some(describe_exit(out.exit)),
                )
            };
            AttemptEnd {
                status,
                pid: Some(out.pid),
                // `ended_at` from `blank`: the run's clock, as its start was.
                exit_code,
                signal,
                stdout_tail: mask_secrets(ctx, out.stdout_tail),
                stderr_tail: mask_secrets(ctx, out.stderr_tail),
                log_bytes: i64::try_from(out.log_written).unwrap_or(i64::MAX),
                log_dropped: i64::try_from(out.log_dropped).unwrap_or(i64::MAX),
                step_status,
                step_reason: reason,
                ..blank
            }
        }
        Ran::Failed(message) => AttemptEnd {
            error: Some(message.clone()),
            step_reason: Some(message),
            ..blank
        },
        Ran::NotTaken => AttemptEnd {
            status: AttemptStatus::Cancelled,
            step_status: StepStatus::Cancelled,
            step_reason: Some(ctx.stop_reason()),
            ..blank
        },
    }
}

/// Why a step refused: its last line of standard error, else of standard output, else its
/// exit code. unyo's own commands begin that line with `refused: `, which the step's status
/// says already.
fn refusal(stderr: &str, stdout: &str, code: i32) -> String {
    let last = |text: &str| {
        text.lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .map(|l| l.strip_prefix("refused: ").unwrap_or(l))
            .map(|l| l.chars().take(500).collect::<String>())
    };
    last(stderr)
        .or_else(|| last(stdout))
        .unwrap_or_else(|| format!("exit {code} (refused, no reason given)"))
}

/// How a recorded attempt ended, from its exit code or signal (`None`: it never ran).
pub(super) fn exit_of(code: Option<i32>, signal: Option<i32>) -> Option<Exit> {
    match (code, signal) {
        (Some(c), _) => Some(Exit::Code(c)),
        (_, Some(s)) => Some(Exit::Signal(s)),
        _ => None,
    }
}

/// Renders a step into a command; an error names what could not be rendered.
pub(super) fn prepare(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    log_path: PathBuf,
) -> Result<exec::Command, String> {
    let r = ctx.renderer;
    let step_err = |m: String| format!("step `{}`: {m}", step.name);
    if !ctx.missing.is_empty() {
        return Err(step_err(ctx.missing.join("; ")));
    }
    let program = match &step.action {
        Action::Argv(argv) => Program::Argv(
            argv.iter()
                .map(|a| r.plain(a, &ctx.data))
                .collect::<Result<_, _>>()
                .map_err(step_err)?,
        ),
        Action::Shell(line) => Program::Shell(r.shell(line, &ctx.data).map_err(step_err)?),
        Action::Approval { .. } => return Err(step_err("an approval runs no command".to_owned())),
    };
    // The run's variables are in `base_env`, built once for the run; the step's own come
    // on top, its `env:` values last.
    let mut env = Vec::with_capacity(step.env.len() + 2);
    env.push(("UNYO_STEP".to_owned(), step.name.clone()));
    env.push(("UNYO_ATTEMPT".to_owned(), attempt.to_string()));
    for (k, v) in &step.env {
        env.push((k.clone(), r.plain(v, &ctx.env_data).map_err(step_err)?));
    }
    // The root is where unyo works: only a step's own directory is looked for.
    let workdir = match &step.workdir {
        Some(w) => {
            let dir = ctx
                .settings
                .root
                .join(r.plain(w, &ctx.data).map_err(step_err)?);
            if !dir.is_dir() {
                return Err(step_err(format!(
                    "working directory `{}` does not exist",
                    dir.display()
                )));
            }
            dir
        }
        None => ctx.settings.root.clone(),
    };
    let target = match &step.host {
        None => exec::Target::Local,
        Some(name) => match ctx.settings.hosts.get(name) {
            Some(host) => exec::Target::Ssh(host.target(&ctx.settings.data_dir)),
            None => {
                return Err(step_err(format!(
                    "unknown host `{name}` (see `hosts:` in unyo.yaml)"
                )));
            }
        },
    };
    Ok(exec::Command {
        program,
        base: ctx.base_env.clone(),
        env,
        workdir,
        timeout: step.timeout,
        kill_grace: ctx.settings.kill_grace,
        log_path,
        log_limit: ctx.settings.log_limit,
        tail_limit: TAIL_BYTES,
        progress: exec::Progress::default(),
        target,
        user: step.user.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn a_refusal_gives_the_last_line_of_stderr_else_stdout_else_the_code() {
        assert_eq!(
            refusal("checking\nnot yet: 2027-04-01\n\n", "x\n", 5),
            "not yet: 2027-04-01"
        );
        assert_eq!(refusal("", "looked\nnothing to do\n", 5), "nothing to do");
        assert_eq!(
            refusal("refused: `a` is 1, not 2\n", "", 5),
            "`a` is 1, not 2"
        );
        assert_eq!(refusal(" \n", "", 7), "exit 7 (refused, no reason given)");
    }
}
