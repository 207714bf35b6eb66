//! Approval gates: a step that waits, `waiting_approval`, for an operator's `unyo approve`
//! or `unyo reject`, up to its timeout, and what a stop or a stopping daemon does to the
//! wait.

use std::time::Duration;

use super::Event;
use super::context::{StepContext, StepFailure};
use super::dag::{Outcomes, StepEnd};
use crate::model::Step;
use crate::store::{StepStatus, StoreError};

/// An approval step: its gate is opened (or found again, for a resumed run) and the step
/// waits, `waiting_approval`, for `unyo approve` or `unyo reject`, up to its timeout. A
/// rejection fails the step (and opens no incident: it is a decision); no answer in time
/// fails it as an abnormal end.
pub(super) async fn gate(
    ctx: &StepContext,
    i: usize,
    step: &Step,
    message: Option<&str>,
    outcome: &Outcomes,
) -> Result<(), StoreError> {
    let now = ctx.clock.now();
    let existing = ctx.store.gate(ctx.run_id, &step.name).await?;
    let timeout_at = match &existing {
        Some(g) => g.timeout_at,
        None => step
            .timeout
            .and_then(|t| chrono::Duration::from_std(t).ok())
            .map(|d| now + d),
    };
    let reason = format!(
        "waiting for approval{}: unyo approve {} {}",
        message.map(|m| format!(" ({m})")).unwrap_or_default(),
        ctx.run_id,
        step.name
    );
    ctx.store
        .open_gate(ctx.run_id, &step.name, now, timeout_at, &reason)
        .await?;
    (ctx.on_event)(Event::StepEnded {
        step: step.name.clone(),
        status: StepStatus::WaitingApproval,
        detail: reason,
    });
    let finish = |status: StepStatus, why: String| async move {
        let finishing = ctx
            .store
            .end_step(ctx.run_id, &step.name, status, ctx.clock.now(), &why);
        let _ = outcome.send((i, StepEnd::Ended(status, false)));
        finishing.await?;
        (ctx.on_event)(Event::StepEnded {
            step: step.name.clone(),
            status,
            detail: why,
        });
        Ok::<(), StoreError>(())
    };
    loop {
        if let Some(g) = ctx.store.gate(ctx.run_id, &step.name).await?
            && let Some(decision) = &g.decision
        {
            let by = g.decided_by.clone().unwrap_or_default();
            let comment = g.comment.clone().filter(|c| !c.is_empty());
            if decision == "approved" {
                let why = match comment {
                    Some(c) => format!("approved by {by}: {c}"),
                    None => format!("approved by {by}"),
                };
                return finish(StepStatus::Succeeded, why).await;
            }
            if let Ok(mut r) = ctx.rejected.lock() {
                *r = true;
            }
            let why = format!("rejected by {by}: {}", comment.unwrap_or_default());
            return finish(StepStatus::Failed, why).await;
        }
        if let Some(t) = timeout_at
            && ctx.clock.now() >= t
        {
            let why = format!(
                "no approval within {}",
                crate::model::values::format_duration(step.timeout.unwrap_or_default())
            );
            if let Ok(mut f) = ctx.failures.lock() {
                f.push(StepFailure {
                    step: step.name.clone(),
                    class: "approval timeout".to_owned(),
                    detail: why.clone(),
                    excerpt: String::new(),
                    rule: None,
                    severity: None,
                    incident: None,
                });
            }
            return finish(StepStatus::Failed, why).await;
        }
        let mut cancel = ctx.cancel.clone();
        let mut drain = ctx.drain.clone();
        // 0: look again, 1: stopped, 2: the daemon is stopping.
        let woke = tokio::select! {
            () = tokio::time::sleep(GATE_POLL) => 0,
            () = async { let _ = cancel.wait_for(|c| *c).await; } => 1,
            () = async { let _ = drain.wait_for(|d| *d).await; } => 2,
        };
        if woke == 1 {
            let why = format!("stopped while waiting for approval: {}", ctx.stop_reason());
            return finish(StepStatus::Cancelled, why).await;
        }
        if woke == 2 && !*ctx.cancel.borrow() {
            // The daemon is stopping: the gate stays open for the next start.
            let _ = outcome.send((i, StepEnd::Suspended));
            return Ok(());
        }
    }
}

/// How often a waiting approval step looks for its decision.
const GATE_POLL: Duration = Duration::from_millis(500);
