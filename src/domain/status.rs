//! Persisted status tokens. Each is a snake_case string that never changes meaning once
//! written to a database.
//!
//! Run states: `queued → running → succeeded | failed | cancelled | refused`, and `running →
//! interrupted` when the process that ran it died. Step states: `pending → running →
//! succeeded | failed | cancelled | interrupted | refused`, or `pending → skipped | cancelled`
//! without running. ARCHITECTURE.md draws the whole diagram.

use serde::Serialize;

macro_rules! token_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $variant),+ }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The persisted token.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{s}`; expected one of: {}",
                        stringify!($name).to_lowercase(),
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

token_enum! {
    /// The state of a run.
    RunStatus {
        Queued = "queued",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Cancelled = "cancelled",
        Interrupted = "interrupted",
        /// A step declined by itself (an exit code of its `refuse_exit`: nothing to do, or
        /// not now) and nothing failed: no incident, not a failure.
        Refused = "refused",
    }
}

token_enum! {
    /// The state of one step within a run.
    StepStatus {
        Pending = "pending",
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        Skipped = "skipped",
        Cancelled = "cancelled",
        Interrupted = "interrupted",
        WaitingRetry = "waiting_retry",
        WaitingApproval = "waiting_approval",
        /// Ended with an exit code of its `refuse_exit`: it declined by itself, with a reason
        /// (its last line of output); the steps that need it are skipped.
        Refused = "refused",
    }
}

token_enum! {
    /// How one attempt ended.
    AttemptStatus {
        Running = "running",
        Succeeded = "succeeded",
        Failed = "failed",
        TimedOut = "timed_out",
        Cancelled = "cancelled",
        Error = "error",
        Interrupted = "interrupted",
        /// Exited with a code of the step's `refuse_exit`: not an abnormal end.
        Refused = "refused",
    }
}

token_enum! {
    /// What started a run.
    Trigger {
        Manual = "manual",
        Schedule = "schedule",
        Submit = "submit",
        CatchUp = "catch_up",
        Retry = "retry",
        Dependency = "dependency",
        Recovery = "recovery",
        Rerun = "rerun",
    }
}

token_enum! {
    /// Where an incident is in its life: `open → acknowledged → resolved` (or straight to
    /// resolved).
    IncidentStatus {
        Open = "open",
        Acknowledged = "acknowledged",
        Resolved = "resolved",
    }
}

token_enum! {
    /// Where a notification is: waiting to be sent (or retried), sent, given up, or
    /// withdrawn (never sent: nobody needs it any more, the incident was acknowledged or
    /// resolved or the approval decided; its `reason` says which).
    NotificationStatus {
        Pending = "pending",
        Sent = "sent",
        Failed = "failed",
        Withdrawn = "withdrawn",
    }
}

token_enum! {
    /// What became of one slot of a schedule.
    SlotOutcome {
        Started = "started",
        Shifted = "shifted",
        Queued = "queued",
        WaitingWindow = "waiting_window",
        SkippedClosedDay = "skipped_closed_day",
        SkippedOverlap = "skipped_overlap",
        SkippedWindow = "skipped_window",
        Missed = "missed",
        Held = "held",
    }
}

impl RunStatus {
    /// True once the run can change no more.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Queued | RunStatus::Running)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        for s in RunStatus::ALL {
            assert_eq!(s.as_str().parse::<RunStatus>(), Ok(*s));
        }
        for s in AttemptStatus::ALL {
            assert_eq!(s.as_str().parse::<AttemptStatus>(), Ok(*s));
        }
        assert!("done".parse::<RunStatus>().is_err());
        assert_eq!(
            serde_json::to_string(&AttemptStatus::TimedOut)
                .ok()
                .as_deref(),
            Some("\"timed_out\"")
        );
    }
}
