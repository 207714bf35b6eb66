//! An operator's decision on a step's approval gate, decided without a database: taken only
//! while the step waits for it and nobody decided before; it withdraws the gate's pending
//! notices with the reason they show. Every store persists this decision.

use super::status::StepStatus;

/// A gate as a decision sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Gate<'a> {
    /// `approved` or `rejected` once decided.
    pub decision: Option<&'a str>,
    pub decided_by: Option<&'a str>,
    /// The step's status token.
    pub step_status: &'a str,
}

/// What an accepted decision records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decided {
    /// `approved` or `rejected`.
    pub decision: &'static str,
    /// Why the gate's pending notices are withdrawn.
    pub withdraw_reason: String,
}

/// Why a decision cannot be taken; nothing is written then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GateRefusal {
    #[error("run {run_id} has no approval step `{step}` waiting")]
    NoGate { run_id: i64, step: String },
    #[error("step `{step}` of run {run_id} was {decision} already by {by}")]
    Decided {
        run_id: i64,
        step: String,
        decision: String,
        by: String,
    },
    #[error("step `{step}` of run {run_id} is not waiting for approval ({status})")]
    NotWaiting {
        run_id: i64,
        step: String,
        status: String,
    },
}

/// Decides `approve` (else reject) on the gate of `step` of run `run_id` by `user`.
pub fn decide(
    run_id: i64,
    step: &str,
    gate: Option<&Gate<'_>>,
    approve: bool,
    user: &str,
) -> Result<Decided, GateRefusal> {
    let step_name = || step.to_owned();
    let Some(gate) = gate else {
        return Err(GateRefusal::NoGate {
            run_id,
            step: step_name(),
        });
    };
    if let Some(decision) = gate.decision {
        return Err(GateRefusal::Decided {
            run_id,
            step: step_name(),
            decision: decision.to_owned(),
            by: gate.decided_by.unwrap_or_default().to_owned(),
        });
    }
    if gate.step_status != StepStatus::WaitingApproval.as_str() {
        return Err(GateRefusal::NotWaiting {
            run_id,
            step: step_name(),
            status: gate.step_status.to_owned(),
        });
    }
    let decision = if approve { "approved" } else { "rejected" };
    Ok(Decided {
        decision,
        withdraw_reason: format!("step `{step}` of run {run_id} was {decision} by {user}"),
    })
}

/// Why a gate's pending notices are withdrawn when its step ends without a decision (it
/// timed out, or its run was cancelled): nobody can approve it any more.
pub fn step_ended_reason(run_id: i64, step: &str, status: &str) -> String {
    format!("step `{step}` of run {run_id} ended {status}")
}

/// Why the pending notices of a run's gates are withdrawn when the run ends.
pub fn run_ended_reason(run_id: i64, status: &str) -> String {
    format!("run {run_id} ended {status}")
}

/// `separate_approver`: whether `user` may approve run `run_id`, which `requested_by`
/// submitted. `same_person` lists the names `user` goes by (a web user `web:NAME` is also the
/// operating-system user `NAME`); a rejection is always allowed. `Err` says why not.
pub fn separate_approver(
    separate: bool,
    approve: bool,
    run_id: i64,
    requested_by: &str,
    same_person: &[&str],
) -> Result<(), String> {
    if separate && approve && same_person.contains(&requested_by) {
        return Err(format!(
            "{requested_by} submitted run {run_id}: another operator must approve it \
             (separate_approver)"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod separate_tests {
    use super::separate_approver;

    #[test]
    fn the_starter_may_reject_but_not_approve_under_any_of_their_names() {
        let me = ["web:sato", "sato"];
        assert!(separate_approver(true, true, 7, "sato", &me).is_err());
        assert!(separate_approver(true, true, 7, "web:sato", &me).is_err());
        assert!(separate_approver(true, false, 7, "sato", &me).is_ok());
        assert!(separate_approver(false, true, 7, "sato", &me).is_ok());
        assert!(separate_approver(true, true, 7, "kimura", &me).is_ok());
        let why = separate_approver(true, true, 7, "sato", &me).expect_err("refused");
        assert_eq!(
            why,
            "sato submitted run 7: another operator must approve it (separate_approver)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn waiting() -> Gate<'static> {
        Gate {
            decision: None,
            decided_by: None,
            step_status: "waiting_approval",
        }
    }

    #[test]
    fn a_waiting_gate_is_approved_or_rejected_and_its_notices_withdrawn() {
        assert_eq!(
            decide(4, "sign", Some(&waiting()), true, "erin"),
            Ok(Decided {
                decision: "approved",
                withdraw_reason: "step `sign` of run 4 was approved by erin".to_owned(),
            })
        );
        assert_eq!(
            decide(4, "sign", Some(&waiting()), false, "erin"),
            Ok(Decided {
                decision: "rejected",
                withdraw_reason: "step `sign` of run 4 was rejected by erin".to_owned(),
            })
        );
    }

    #[test]
    fn a_missing_decided_or_not_waiting_gate_is_refused() {
        let none = decide(4, "sign", None, true, "erin").expect_err("no gate");
        assert_eq!(
            none.to_string(),
            "run 4 has no approval step `sign` waiting"
        );
        let decided = Gate {
            decision: Some("rejected"),
            decided_by: Some("frank"),
            step_status: "waiting_approval",
        };
        let twice = decide(4, "sign", Some(&decided), true, "erin").expect_err("decided");
        assert_eq!(
            twice.to_string(),
            "step `sign` of run 4 was rejected already by frank"
        );
        let ended = Gate {
            step_status: "cancelled",
            ..waiting()
        };
        let late = decide(4, "sign", Some(&ended), true, "erin").expect_err("not waiting");
        assert_eq!(
            late.to_string(),
            "step `sign` of run 4 is not waiting for approval (cancelled)"
        );
    }

    #[test]
    fn an_ended_step_or_run_names_why_its_notices_are_withdrawn() {
        assert_eq!(
            step_ended_reason(4, "sign", "failed"),
            "step `sign` of run 4 ended failed"
        );
        assert_eq!(run_ended_reason(4, "cancelled"), "run 4 ended cancelled");
    }
}
