//! Decisions about a run that every store persists the same way: the reason a rerun's kept
//! steps show, and what an operator's cancel request does in each state of the run.

use super::status::RunStatus;

/// The reason of a step a rerun keeps from the run it reruns (`rerun_of`).
pub fn kept_reason(rerun_of: Option<i64>) -> String {
    match rerun_of {
        Some(old) => format!("kept from run {old}"),
        None => "kept".to_owned(),
    }
}

/// What a cancel request does to a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// A queued run is cancelled at once, its pending steps with it, with this reason.
    Now { reason: String },
    /// A running run is asked to stop: its owner stops it.
    Request,
    /// The run ended already, with this status: nothing to cancel.
    Ended(RunStatus),
}

/// Decides a cancel request by `user` of a run in `status` (`None`: a token that does not
/// read, taken as failed).
pub fn cancel(status: Option<RunStatus>, user: &str) -> Cancel {
    match status {
        Some(RunStatus::Queued) => Cancel::Now {
            reason: format!("cancelled by {user} before it started"),
        },
        Some(RunStatus::Running) => Cancel::Request,
        Some(other) => Cancel::Ended(other),
        None => Cancel::Ended(RunStatus::Failed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_steps_name_the_run_they_were_kept_from() {
        assert_eq!(kept_reason(Some(12)), "kept from run 12");
        assert_eq!(kept_reason(None), "kept");
    }

    #[test]
    fn a_cancel_cancels_a_queued_run_asks_a_running_one_and_leaves_an_ended_one() {
        assert_eq!(
            cancel(Some(RunStatus::Queued), "gina"),
            Cancel::Now {
                reason: "cancelled by gina before it started".to_owned()
            }
        );
        assert_eq!(cancel(Some(RunStatus::Running), "gina"), Cancel::Request);
        for s in [
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::Cancelled,
            RunStatus::Interrupted,
            RunStatus::Refused,
        ] {
            assert_eq!(cancel(Some(s), "gina"), Cancel::Ended(s));
        }
        assert_eq!(cancel(None, "gina"), Cancel::Ended(RunStatus::Failed));
    }
}
