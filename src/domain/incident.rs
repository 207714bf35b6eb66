//! What happens to an incident, decided without a database: a failure opens one or adds an
//! occurrence to the unresolved one of the same job and failure class (raising its severity
//! and bringing the shorter report deadline with a higher one); an operator acknowledges or
//! resolves it, or is refused and told why; a job that succeeds again notes it on its
//! incidents and resolves those nobody took on. Each decision also says which pending
//! messages nobody needs any more, and the words the history and the operator read. Every
//! store persists these decisions; none makes them itself.

use chrono::{DateTime, Utc};

use super::severity::Severity;
use super::status::IncidentStatus;

/// Who resolves an incident when its job recovers, as recorded in `resolved_by`.
pub const UNYO: &str = "unyo";
/// The cause recorded when unyo resolves an incident nobody described.
pub const UNYO_CAUSE: &str = "not recorded: unyo closed it when the job succeeded again";
/// The countermeasure recorded when unyo resolves an incident nobody described.
pub const UNYO_COUNTERMEASURE: &str = "not recorded";

/// The unresolved incident of the same job and failure class, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct Unresolved {
    /// Its severity; `None` when the recorded token does not read as one.
    pub severity: Option<Severity>,
    pub report_deadline: Option<DateTime<Utc>>,
}

/// A failure to raise.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure<'a> {
    pub severity: Severity,
    pub summary: &'a str,
    /// The report deadline of its severity, when the settings give one.
    pub report_deadline: Option<DateTime<Utc>>,
    /// How many times it happened (missed slots of one pass count as one event of n).
    pub occurrences: i64,
}

/// A new incident, `open`, with the text of its first history entry (`opened`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub occurrences: i64,
    pub text: String,
}

/// An occurrence added to the unresolved incident: its severity and report deadline
/// afterwards, and the text of the history entry (`occurrence`).
#[derive(Debug, Clone, PartialEq)]
pub struct Recurred {
    pub add: i64,
    pub severity: Severity,
    pub report_deadline: Option<DateTime<Utc>>,
    pub text: String,
}

/// A failure with no unresolved incident of the same job and failure class opens one, of
/// at least one occurrence.
pub fn open(failure: &Failure<'_>) -> Opened {
    Opened {
        occurrences: failure.occurrences.max(1),
        text: failure.summary.to_owned(),
    }
}

/// Deduplication and severity raises: a failure with an unresolved incident of the same job
/// and failure class is an occurrence of it. A higher severity (or a recorded one that does
/// not read) is raised to the new one and brings its report deadline when that is earlier;
/// a lower or equal one changes neither.
pub fn recur(existing: &Unresolved, failure: &Failure<'_>) -> Recurred {
    let add = failure.occurrences.max(1);
    let recorded = existing.severity.filter(|s| failure.severity <= *s);
    if let Some(severity) = recorded {
        return Recurred {
            add,
            severity,
            report_deadline: existing.report_deadline,
            text: failure.summary.to_owned(),
        };
    }
    let report_deadline = match (existing.report_deadline, failure.report_deadline) {
        (Some(old), Some(new)) => Some(old.min(new)),
        (None, Some(new)) => Some(new),
        (old, None) => old,
    };
    Recurred {
        add,
        severity: failure.severity,
        report_deadline,
        text: format!(
            "{} (severity raised to {})",
            failure.summary, failure.severity
        ),
    }
}

/// An operator's change to an incident.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IncidentChange {
    Acknowledge,
    Resolve {
        cause: String,
        countermeasure: String,
    },
}

/// An incident as a change sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Current<'a> {
    pub status: IncidentStatus,
    pub acknowledged_by: Option<&'a str>,
    pub resolved_by: Option<&'a str>,
}

/// Pending messages of an incident to withdraw: those of contact level `from_level` and
/// up, with the reason they show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Withdrawal {
    pub from_level: i64,
    pub reason: String,
}

/// What an accepted change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// The incident's status afterwards.
    pub status: IncidentStatus,
    /// The history entry: its kind and text.
    pub event: &'static str,
    pub text: String,
    pub withdraw: Withdrawal,
}

/// Why a change to an incident is refused; nothing is written then. Shown to the operator
/// as it reads.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no incident {id} is recorded")]
    NotFound { id: i64 },
    #[error("incident {id} cannot be read")]
    Unreadable { id: i64 },
    #[error("incident {id} is {status} already (by {by})")]
    Already {
        id: i64,
        status: IncidentStatus,
        by: String,
    },
    #[error("incident {id} vanished")]
    Vanished { id: i64 },
}

/// Acknowledging: only an open incident; it withdraws the messages of later contact levels
/// (level 2 and up). Resolving: any incident not resolved yet, or one unyo resolved when
/// its job recovered (a person can still give its cause and countermeasure); it withdraws
/// every pending message.
pub fn change(
    id: i64,
    current: Option<&Current<'_>>,
    change: &IncidentChange,
    actor: &str,
) -> Result<Transition, Refusal> {
    let current = current.ok_or(Refusal::NotFound { id })?;
    let already = |by: Option<&str>| Refusal::Already {
        id,
        status: current.status,
        by: by.unwrap_or("unknown").to_owned(),
    };
    match change {
        IncidentChange::Acknowledge => match current.status {
            IncidentStatus::Open => Ok(Transition {
                status: IncidentStatus::Acknowledged,
                event: "acknowledged",
                text: String::new(),
                withdraw: Withdrawal {
                    from_level: 2,
                    reason: format!("incident {id} was acknowledged by {actor}"),
                },
            }),
            IncidentStatus::Resolved => Err(already(current.resolved_by)),
            _ => Err(already(current.acknowledged_by)),
        },
        IncidentChange::Resolve {
            cause,
            countermeasure,
        } => {
            if current.status == IncidentStatus::Resolved && current.resolved_by != Some(UNYO) {
                return Err(already(current.resolved_by));
            }
            Ok(Transition {
                status: IncidentStatus::Resolved,
                event: "resolved",
                text: format!("cause: {cause}; countermeasure: {countermeasure}"),
                withdraw: Withdrawal {
                    from_level: 1,
                    reason: format!("incident {id} was resolved by {actor}"),
                },
            })
        }
    }
}

/// What a job's success does to one of its unresolved incidents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// Resolved by unyo (`resolved` in the history), its pending messages withdrawn.
    Resolve { text: String, withdraw: Withdrawal },
    /// A `note` in the history only.
    Note { text: String },
}

/// A run of `job` succeeded. `resolve` (the settings' `auto_resolve`) resolves only an
/// incident nobody took on (`open`), opened by an earlier run: one a person acknowledged
/// is theirs to close, and a run's own retry that worked does not close the incident it
/// opened. Every other one gets a note.
pub fn recovered(
    id: i64,
    status: Option<IncidentStatus>,
    opened_by_run: Option<i64>,
    job: &str,
    run_id: i64,
    resolve: bool,
) -> Recovery {
    let text = format!("`{job}` succeeded again in run {run_id}");
    if resolve && status == Some(IncidentStatus::Open) && opened_by_run != Some(run_id) {
        let reason = format!("incident {id} was resolved: {text}");
        Recovery::Resolve {
            text,
            withdraw: Withdrawal {
                from_level: 1,
                reason,
            },
        }
    } else {
        Recovery::Note { text }
    }
}

#[cfg(test)]
mod tests;
