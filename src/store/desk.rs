//! The service desk's records: requests from the city's staff and the history of each, with
//! the runs and incidents linked to them. What a change does (or why it is refused) is
//! decided by `domain::desk`; the store checks only what needs the records: that a linked
//! run or incident exists, and that a run belongs to one request.

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use crate::domain::desk::{
    Category, DeskChange, Link as DeskLink, Refusal as DeskRefusal, RequestStatus,
};

/// A request about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRequest {
    pub at: DateTime<Utc>,
    /// The operator who records it.
    pub opened_by: String,
    pub requester: String,
    pub department: String,
    pub channel: String,
    pub category: Category,
    pub text: String,
    /// When its answer is due (`domain::desk::due_at`).
    pub due_at: DateTime<Utc>,
}

/// A request as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestRow {
    pub id: i64,
    pub opened_at: DateTime<Utc>,
    pub opened_by: String,
    pub requester: String,
    pub department: String,
    pub channel: String,
    pub category: Category,
    pub text: String,
    pub status: RequestStatus,
    pub due_at: DateTime<Utc>,
    /// Its first answer: the first triage or the close.
    pub answered_at: Option<DateTime<Utc>>,
    pub assignee: Option<String>,
    pub escalated_to: Option<String>,
    /// Why it needs the city's consultation, once marked.
    pub consultation: Option<String>,
    pub closed_at: Option<DateTime<Utc>>,
    pub closed_by: Option<String>,
    pub result: Option<String>,
}

/// One entry of a request's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RequestEvent {
    pub at: DateTime<Utc>,
    pub actor: String,
    /// `opened`, `triaged`, `assigned`, `escalated`, `linked`, `consultation`, `closed`.
    pub kind: String,
    pub text: String,
    pub run_id: Option<i64>,
    pub incident_id: Option<i64>,
}

/// Which requests `list_requests` returns: unclosed ones first, then closed, each oldest
/// first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFilter {
    /// Closed requests too.
    pub all: bool,
    pub status: Option<RequestStatus>,
    pub category: Option<Category>,
    pub department: Option<String>,
    pub limit: i64,
}

/// What the report reads of the desk for `[from, to)`: the requests opened before `to` and
/// not closed before `from`, by id, and the runs linked to them, as (run, request), by run.
/// (A run of the period belongs to one of them: a run is linked only to a request not
/// closed, and the request cannot close before the run was queued.)
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeskFacts {
    pub requests: Vec<RequestRow>,
    pub runs: Vec<(i64, i64)>,
}
