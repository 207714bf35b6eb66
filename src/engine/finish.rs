//! The end of a run: what a refused run gives as its reason, and how the run's end reaches
//! the incidents (`after_run`): a failed or interrupted run opens one (or adds an
//! occurrence), a successful one notes the recovery on the job's open incidents and has its
//! duration judged against its baseline (`monitor::judge_duration`).

use super::context::{StepContext, StepFailure};
use super::step::exit_of;
use crate::store::{AttemptStatus, RunStatus, StepStatus, Store, StoreError};

/// The reason a refused run gives: its first refused step and that step's reason, read back
/// from the record (so also for a run taken up again after a restart).
pub(super) async fn refused_reason(
    store: &dyn Store,
    run_id: i64,
) -> Result<Option<String>, StoreError> {
    let Some(detail) = store.get_run(run_id).await? else {
        return Ok(None);
    };
    Ok(detail
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Refused)
        .map(|s| {
            format!(
                "step `{}` refused: {}",
                s.name,
                s.reason.as_deref().unwrap_or("no reason given")
            )
        }))
}

/// The first step of the run that failed for good, from the database (for a run taken up
/// again after a restart, whose earlier failures this process did not see).
async fn recorded_failure(ctx: &StepContext) -> Result<Option<StepFailure>, StoreError> {
    let Some(detail) = ctx.store.get_run(ctx.run_id).await? else {
        return Ok(None);
    };
    let Some(step) = detail
        .steps
        .iter()
        .find(|s| s.status == StepStatus::Failed && !s.continued)
    else {
        return Ok(None);
    };
    let Some(a) = detail.attempts.iter().rev().find(|a| a.step == step.name) else {
        return Ok(None);
    };
    let exit = exit_of(a.exit_code, a.signal);
    let severity = a.rule.as_ref().and_then(|label| {
        let (name, rest) = label.split_once('#')?;
        let number: usize = rest.split(' ').next()?.parse().ok()?;
        ctx.catalog
            .runbooks
            .get(name)?
            .rules
            .get(number.checked_sub(1)?)?
            .escalate
    });
    Ok(Some(StepFailure {
        step: step.name.clone(),
        class: crate::runbook::failure_class_of(
            exit,
            a.status == AttemptStatus::TimedOut,
            a.error.as_deref(),
        ),
        detail: step.reason.clone().unwrap_or_else(|| "failed".to_owned()),
        excerpt: crate::incident::excerpt(&a.stdout_tail, &a.stderr_tail),
        rule: a.rule.clone(),
        severity,
        incident: None,
    }))
}

/// A run's end reaches the incidents: a failed or interrupted run opens one (or adds an
/// occurrence), a successful run notes the recovery on the job's open ones.
pub(super) async fn after_run(ctx: &StepContext, status: RunStatus) -> Result<(), StoreError> {
    let job = &ctx.job.name;
    match status {
        RunStatus::Failed => {
            let mut first = ctx.failures.lock().ok().and_then(|f| f.first().cloned());
            let rejected = ctx.rejected.lock().map(|r| *r).unwrap_or(false);
            if first.is_none() && rejected {
                // An operator rejected a gate: a decision, not something to report.
                return Ok(());
            }
            if first.is_none() {
                // A resumed run: the step failed before the restart; read it back.
                first = recorded_failure(ctx).await?;
            }
            let f = first.unwrap_or(StepFailure {
                step: String::new(),
                class: "failed".to_owned(),
                detail: "failed".to_owned(),
                excerpt: String::new(),
                rule: None,
                severity: None,
                incident: None,
            });
            if f.incident.is_some() {
                // Its runbook rule opened the incident for this failure already.
                return Ok(());
            }
            crate::incident::raise(
                ctx.store.as_ref(),
                &ctx.settings,
                crate::incident::Raise {
                    severity: f.severity.unwrap_or(ctx.settings.incidents.severity),
                    job,
                    run_id: Some(ctx.run_id),
                    step: (!f.step.is_empty()).then_some(f.step.as_str()),
                    failure_class: &f.class,
                    summary: format!(
                        "run {} of `{job}` failed: step `{}`: {}",
                        ctx.run_id, f.step, f.detail
                    ),
                    log_excerpt: f.excerpt,
                    rule: f.rule,
                    at: ctx.clock.now(),
                },
            )
            .await?;
        }
        RunStatus::Interrupted => {
            crate::incident::raise(
                ctx.store.as_ref(),
                &ctx.settings,
                crate::incident::Raise {
                    severity: ctx.settings.incidents.severity,
                    job,
                    run_id: Some(ctx.run_id),
                    step: None,
                    failure_class: "interrupted",
                    summary: format!(
                        "run {} of `{job}` was interrupted: {}",
                        ctx.run_id,
                        ctx.stopped
                            .get()
                            .map_or_else(|| "stopped".to_owned(), |s| s.reason())
                    ),
                    log_excerpt: String::new(),
                    rule: None,
                    at: ctx.clock.now(),
                },
            )
            .await?;
        }
        RunStatus::Succeeded => {
            ctx.store
                .job_recovered(
                    job,
                    ctx.run_id,
                    ctx.clock.now(),
                    ctx.settings.incidents.auto_resolve,
                )
                .await?;
            // After the recovery, so an incident of a slow run stays open.
            super::monitor::judge_duration(ctx).await;
        }
        // A step declined by itself (`refuse_exit`): nothing went wrong, nobody is called,
        // and the job's open incidents stay as they are (nothing ran to show it recovered).
        RunStatus::Refused => {}
        _ => {}
    }
    Ok(())
}
