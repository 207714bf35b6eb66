//! What happens after a failed attempt: the step's runbook is asked (`runbook::find`,
//! `runbook::plan`) and its plan carried out (`apply_runbook`: a remediation through `exec`
//! with its own log and `UNYO_REMEDIATION=1`, an incident at once for `escalate`,
//! `waiting_retry` with its `retry_at`, `continue`), the wait for the next attempt
//! (`wait_for_retry`: a daemon shutdown suspends it, any other stop cancels the step), and
//! a step's final failure remembered for its run's incident.

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::context::{StepContext, StepFailure};
use super::dag::{Outcomes, StepEnd};
use super::secrets::{mask_log, mask_secrets};
use super::step::{exit_of, prepare, program_record};
use super::{Event, Stop};
use crate::exec::describe_exit;
use crate::exec::{self, Exit};
use crate::model::Step;
use crate::store::{AttemptEnd, AttemptStatus, StepStatus, StoreError};

/// Waits until a step's next attempt is due. False when the run was stopped meanwhile: a
/// daemon shutdown leaves the step waiting for the next start, anything else ends it
/// cancelled.
pub(super) async fn wait_for_retry(
    ctx: &StepContext,
    i: usize,
    at: DateTime<Utc>,
    outcome: &Outcomes,
) -> Result<bool, StoreError> {
    let wait = (at - ctx.clock.now()).to_std().unwrap_or_default();
    let mut cancel = ctx.cancel.clone();
    let mut drain = ctx.drain.clone();
    let stopped = tokio::select! {
        () = tokio::time::sleep(wait) => false,
        _ = cancel.wait_for(|c| *c) => true,
        _ = drain.wait_for(|d| *d) => true,
    };
    if !stopped {
        return Ok(true);
    }
    let shutdown = ctx.stopped.get() == Some(&Stop::Shutdown)
        || (*ctx.drain.borrow() && !*ctx.cancel.borrow());
    if shutdown {
        let _ = outcome.send((i, StepEnd::Suspended));
    } else {
        stopped_while_waiting(ctx, i, outcome).await?;
    }
    Ok(false)
}

/// A step stopped while it waited for its next attempt: recorded cancelled.
pub(super) async fn stopped_while_waiting(
    ctx: &StepContext,
    i: usize,
    outcome: &Outcomes,
) -> Result<(), StoreError> {
    let reason = format!("stopped while waiting to retry: {}", ctx.stop_reason());
    let finishing = ctx.store.end_step(
        ctx.run_id,
        &ctx.job.steps[i].name,
        StepStatus::Cancelled,
        ctx.clock.now(),
        &reason,
    );
    let _ = outcome.send((i, StepEnd::Ended(StepStatus::Cancelled, false)));
    finishing.await?;
    (ctx.on_event)(Event::StepEnded {
        step: ctx.job.steps[i].name.clone(),
        status: StepStatus::Cancelled,
        detail: reason,
    });
    Ok(())
}

/// Asks the step's runbook about a failed attempt and carries out what its matching rule
/// says, writing what was done into `end`.
pub(super) async fn apply_runbook(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    elapsed: Duration,
    end: &mut AttemptEnd,
) -> Result<(Option<crate::model::Severity>, Option<i64>), StoreError> {
    let exit = exit_of(end.exit_code, end.signal);
    let failure = crate::runbook::Failure {
        exit,
        timed_out: end.status == AttemptStatus::TimedOut,
        stdout: &end.stdout_tail,
        stderr: &end.stderr_tail,
        elapsed,
        connection_failed: end
            .error
            .as_deref()
            .is_some_and(|e| crate::exec::remote::class_of_error(e).is_some()),
    };
    let default = ctx
        .settings
        .default_runbook
        .as_ref()
        .map(|r| r.value.as_str());
    let Some(matched) =
        crate::runbook::find(&ctx.catalog, step.runbook.as_deref(), default, &failure)
    else {
        return Ok((None, None));
    };
    let mut incident = None;
    let plan = crate::runbook::plan(matched.rule, attempt, crate::runbook::jitter_fraction());
    let mut done: Vec<String> = Vec::new();
    if let Some(rem) = plan.remediate {
        let record = remediate(ctx, step, attempt, rem).await;
        done.push(format!(
            "remediation {}",
            record["result"].as_str().unwrap_or("ran")
        ));
        end.remediation = Some(record);
    }
    let class = crate::runbook::failure_class_of(exit, failure.timed_out, end.error.as_deref());
    let already = ctx
        .escalated
        .lock()
        .ok()
        .and_then(|m| m.get(&(step.name.clone(), class.clone())).copied());
    if let (Some(severity), Some(id)) = (plan.escalate, already) {
        // This step's earlier attempt opened it: one run, one occurrence.
        incident = Some(id);
        done.push(format!("incident #{id} ({severity}, open already)"));
    } else if let Some(severity) = plan.escalate {
        let opened = crate::incident::raise(
            ctx.store.as_ref(),
            &ctx.settings,
            crate::incident::Raise {
                severity,
                job: &ctx.job.name,
                run_id: Some(ctx.run_id),
                step: Some(&step.name),
                failure_class: &class,
                summary: format!(
                    "step `{}` of `{}` (run {}) failed: {}",
                    step.name,
                    ctx.job.name,
                    ctx.run_id,
                    end.step_reason.as_deref().unwrap_or("failed")
                ),
                log_excerpt: crate::incident::excerpt(&end.stdout_tail, &end.stderr_tail),
                rule: Some(matched.label()),
                at: ctx.clock.now(),
            },
        )
        .await?;
        incident = Some(opened.id);
        if let Ok(mut m) = ctx.escalated.lock() {
            m.insert((step.name.clone(), class.clone()), opened.id);
        }
        done.push(format!(
            "incident #{} ({severity}{})",
            opened.id,
            if opened.new {
                ""
            } else {
                ", one more occurrence"
            }
        ));
    }
    let max = matched.rule.retry.as_ref().map_or(0, |r| r.max);
    if let Some((n, delay)) = plan.retry {
        let at = ctx.clock.now() + chrono::Duration::from_std(delay).unwrap_or_default();
        end.retry_at = Some(at);
        end.step_status = StepStatus::WaitingRetry;
        let when = crate::model::values::format_duration(delay);
        done.push(format!("retry {n} of {max} in {when}"));
        end.step_reason = Some(format!(
            "{}; retry {n} of {max} in {when}",
            end.step_reason.as_deref().unwrap_or("failed")
        ));
    } else {
        if plan.exhausted {
            done.push(format!("no retry left ({max} used)"));
        }
        if plan.keep_going {
            end.continued = true;
            done.push("continue: the steps that need it run".to_owned());
            end.step_reason = Some(format!(
                "{}; continue: the steps that need it run",
                end.step_reason.as_deref().unwrap_or("failed")
            ));
        }
    }
    end.rule = Some(matched.label());
    end.action = Some(done.join("; "));
    Ok((matched.rule.escalate, incident))
}

/// Runs a rule's remediation command for a failed attempt; returns its record.
async fn remediate(
    ctx: &StepContext,
    step: &Step,
    attempt: i64,
    rem: &crate::model::Remediation,
) -> serde_json::Value {
    let log_path = ctx.settings.log_dir.join(&ctx.job.name).join(format!(
        "{}.{}.{attempt}.remediation.log",
        ctx.run_id, step.name
    ));
    let remedy = Step {
        action: rem.action.clone(),
        timeout: Some(rem.timeout),
        ..step.clone()
    };
    let cmd = match prepare(ctx, &remedy, attempt, log_path.clone()) {
        Ok(mut cmd) => {
            cmd.env
                .push(("UNYO_REMEDIATION".to_owned(), "1".to_owned()));
            cmd
        }
        Err(e) => {
            return serde_json::json!({ "result": format!("not started: {e}"), "error": e });
        }
    };
    let command = program_record(&cmd.program);
    let started = ctx.clock.now();
    let ran = exec::execute(&cmd, ctx.cancel.clone(), |_| {}).await;
    mask_log(ctx, &log_path).await;
    match ran {
        Ok(out) => {
            let result = if out.timed_out {
                format!(
                    "timed out after {}",
                    crate::model::values::format_duration(rem.timeout)
                )
            } else if out.success() {
                "succeeded".to_owned()
            } else {
                format!("failed ({})", describe_exit(out.exit))
            };
            serde_json::json!({
                "command": command,
                "result": result,
                "started_at": started,
                "ended_at": ctx.clock.now(),
                "exit_code": match out.exit { Exit::Code(c) => Some(c), Exit::Signal(_) => None },
                "signal": match out.exit { Exit::Signal(s) => Some(s), Exit::Code(_) => None },
                "stdout_tail": mask_secrets(ctx, out.stdout_tail),
                "stderr_tail": mask_secrets(ctx, out.stderr_tail),
                "log_path": log_path.display().to_string(),
            })
        }
        Err(e) => serde_json::json!({
            "command": command,
            "result": format!("not started: {e}"),
            "error": e.to_string(),
        }),
    }
}

/// Remembers a step's final failure for the run's incident.
pub(super) fn record_failure(
    ctx: &StepContext,
    step: &Step,
    end: &AttemptEnd,
    severity: Option<crate::model::Severity>,
    incident: Option<i64>,
) {
    let exit = exit_of(end.exit_code, end.signal);
    if let Ok(mut f) = ctx.failures.lock() {
        f.push(StepFailure {
            step: step.name.clone(),
            class: crate::runbook::failure_class_of(
                exit,
                end.status == AttemptStatus::TimedOut,
                end.error.as_deref(),
            ),
            detail: end
                .step_reason
                .clone()
                .unwrap_or_else(|| "failed".to_owned()),
            excerpt: crate::incident::excerpt(&end.stdout_tail, &end.stderr_tail),
            rule: end.rule.clone(),
            severity,
            incident,
        });
    }
}
