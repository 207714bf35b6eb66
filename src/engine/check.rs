//! A check step's attempt read as a health check: its plugin's exit code (0 OK, 1 WARNING,
//! 2 CRITICAL, 3 UNKNOWN) is a result for its target, recorded with the target's state
//! (`Store::record_check`, which asks `domain::check::next`); a target that went down opens
//! an incident through the routes (`incident::raise`, class `domain::check::target_class`),
//! one that came back up resolves it (`Store::target_recovered`).
//!
//! A plugin that reported makes the step succeed whatever it reported: the step's job is to
//! look, and what it saw is the target's state, not the run's. A plugin that did not report
//! (could not start, killed by a signal, timed out, exit code above 3) is recorded as
//! UNKNOWN, which moves no state, and its step fails as any step does, so a broken check
//! reaches people through its job's runbook and incident. This file spawns nothing.

use super::context::StepContext;
use crate::domain::check::{Change, CheckStatus, parse_output, target_class};
use crate::model::{Check, Step};
use crate::store::{AttemptEnd, AttemptStatus, NewCheckResult, StepStatus, StoreError};

/// Reads the attempt that just ended as a result of `check`, records it, and opens or
/// resolves the target's incident when its state changed. Turns a reported result into the
/// step's success, its reason the plugin's status line.
pub(super) async fn read_result(
    ctx: &StepContext,
    step: &Step,
    check: &Check,
    end: &mut AttemptEnd,
) -> Result<(), StoreError> {
    let reported = match end.status {
        AttemptStatus::Cancelled | AttemptStatus::Interrupted => return Ok(()),
        AttemptStatus::Succeeded | AttemptStatus::Failed | AttemptStatus::Refused => {
            end.exit_code.and_then(CheckStatus::from_exit)
        }
        _ => None,
    };
    let out = parse_output(&end.stdout_tail);
    let (status, text) = match reported {
        Some(s) => {
            let text = if out.text.is_empty() {
                format!("{} (the plugin printed nothing)", s.nagios())
            } else {
                out.text.clone()
            };
            (s, text)
        }
        None => (
            CheckStatus::Unknown,
            format!(
                "the plugin did not report: {}",
                end.step_reason.as_deref().unwrap_or("no exit code")
            ),
        ),
    };
    let at = end.ended_at;
    let recorded = ctx
        .store
        .record_check(&NewCheckResult {
            target: check.target.clone(),
            kind: check.kind,
            job: ctx.job.name.clone(),
            step: step.name.clone(),
            run_id: Some(ctx.run_id),
            at,
            status,
            output: text.clone(),
            perfdata: out.raw.clone(),
            thresholds: check.thresholds,
        })
        .await?;
    if reported.is_some() {
        end.status = AttemptStatus::Succeeded;
        end.step_status = StepStatus::Succeeded;
        end.step_reason = Some(format!(
            "`{}` {}, {}: {text}",
            check.target,
            recorded.state,
            status.nagios()
        ));
    }
    match recorded.change {
        Change::Same => {}
        Change::WentDown => {
            let class = target_class(&check.target);
            crate::incident::raise(
                ctx.store.as_ref(),
                &ctx.settings,
                crate::incident::Raise {
                    severity: check.severity.unwrap_or(ctx.settings.incidents.severity),
                    job: &ctx.job.name,
                    run_id: Some(ctx.run_id),
                    step: Some(&step.name),
                    failure_class: &class,
                    summary: format!(
                        "target `{}` ({}) is down: {} {} time{} in a row: {text}",
                        check.target,
                        check.kind,
                        status.nagios(),
                        check.thresholds.down_after,
                        if check.thresholds.down_after == 1 {
                            ""
                        } else {
                            "s"
                        }
                    ),
                    log_excerpt: crate::incident::excerpt(&end.stdout_tail, &end.stderr_tail),
                    rule: None,
                    at,
                },
            )
            .await?;
        }
        Change::CameUp => {
            tracing::info!(target_name = %check.target, "target is up again: {text}");
            ctx.store
                .target_recovered(&ctx.job.name, &check.target, Some(ctx.run_id), at)
                .await?;
        }
    }
    Ok(())
}
