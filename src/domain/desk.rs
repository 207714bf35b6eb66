//! The service desk's decisions: the four categories of the city's requests (依頼, 相談,
//! 問合せ, 障害連絡) and their persisted tokens, when a request's answer is due, what each
//! change (triage, assign, escalate, link, consultation, close) does to a request or why it
//! is refused, whether a request is overdue, and whether a consultation is needed. The
//! stores persist what these functions decide; nothing here reads the clock or the database.
//!
//! A request is *answered* when the requester got a first answer: at its first triage (the
//! desk classified it and told the requester what happens next) or at its close, whichever
//! comes first. It is answered in time when that happened by its due time; an unanswered
//! request past its due time is overdue.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

macro_rules! desk_token {
    ($(#[$m:meta])* $name:ident, $what:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
                        $what,
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

desk_token! {
    /// What a request is, as the city classifies it.
    Category, "category" {
        /// 依頼: do something (a terminal added, a data extract).
        Request = "request",
        /// 相談: advice wanted before anything is done.
        Consultation = "consultation",
        /// 問合せ: a question.
        Inquiry = "inquiry",
        /// 障害連絡: something is broken.
        Fault = "fault",
    }
}

desk_token! {
    /// Where a request stands. `open → triaged → assigned ⇄ escalated → closed`; any state
    /// but `closed` may be closed.
    RequestStatus, "request status" {
        Open = "open",
        Triaged = "triaged",
        Assigned = "assigned",
        Escalated = "escalated",
        Closed = "closed",
    }
}

impl Category {
    /// The name the city uses, in the Japanese report.
    pub fn ja(self) -> &'static str {
        match self {
            Category::Request => "依頼",
            Category::Consultation => "相談",
            Category::Inquiry => "問合せ",
            Category::Fault => "障害連絡",
        }
    }

    /// The name in the English report.
    pub fn en(self) -> &'static str {
        match self {
            Category::Request => "request",
            Category::Consultation => "consultation",
            Category::Inquiry => "inquiry",
            Category::Fault => "fault report",
        }
    }

    /// How long the desk has to answer a request of this category unless `desk.deadlines`
    /// says otherwise: a fault within the hour, an inquiry by the next business day, a
    /// request within three business days, a consultation within five.
    pub fn default_deadline(self) -> Deadline {
        match self {
            Category::Fault => Deadline::Clock(Duration::from_secs(3600)),
            Category::Inquiry => Deadline::BusinessDays(1),
            Category::Request => Deadline::BusinessDays(3),
            Category::Consultation => Deadline::BusinessDays(5),
        }
    }
}

/// How long the desk has to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// Clock time from the opening (`1h`, `30m`), nights and closed days included.
    Clock(Duration),
    /// The same clock time on the n-th business day after the day it was opened
    /// (`1 business day`, `3 business days`).
    BusinessDays(u32),
}

impl std::fmt::Display for Deadline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Deadline::Clock(d) => {
                let s = d.as_secs();
                match (s / 3600, s % 3600 / 60, s % 60) {
                    (h, 0, 0) => write!(f, "{h}h"),
                    (0, m, 0) => write!(f, "{m}m"),
                    (h, m, 0) => write!(f, "{h}h{m}m"),
                    _ => write!(f, "{s}s"),
                }
            }
            Deadline::BusinessDays(1) => f.write_str("1 business day"),
            Deadline::BusinessDays(n) => write!(f, "{n} business days"),
        }
    }
}

/// When a request opened at `opened` is due: clock time added, or the same local clock time
/// on the n-th business day after the day it was opened (a request opened on a closed day
/// counts from that day too: its first business day after is day 1).
pub fn due_at(
    opened: DateTime<Utc>,
    deadline: Deadline,
    tz: Tz,
    is_business_day: &dyn Fn(NaiveDate) -> bool,
) -> DateTime<Utc> {
    match deadline {
        Deadline::Clock(d) => opened + chrono::Duration::from_std(d).unwrap_or_default(),
        Deadline::BusinessDays(n) => {
            let local = opened.with_timezone(&tz);
            let mut day = local.date_naive();
            let mut left = n;
            // A calendar closed for more than a year has no such day: give up at a year.
            for _ in 0..400 {
                if left == 0 {
                    break;
                }
                day = day.checked_add_days(Days::new(1)).unwrap_or(day);
                if is_business_day(day) {
                    left -= 1;
                }
            }
            let naive = day.and_time(local.time());
            // A clock time that does not exist that day (a DST gap) is taken an hour later.
            tz.from_local_datetime(&naive)
                .earliest()
                .or_else(|| {
                    tz.from_local_datetime(&(naive + chrono::Duration::hours(1)))
                        .earliest()
                })
                .map_or(opened, |t| t.with_timezone(&Utc))
        }
    }
}

/// Whether a request not answered is past its due time at `now`.
pub fn overdue(
    answered_at: Option<DateTime<Utc>>,
    due_at: DateTime<Utc>,
    now: DateTime<Utc>,
) -> bool {
    answered_at.is_none() && due_at < now
}

/// Whether a request was answered by its due time; `None` while it is not answered.
pub fn answered_in_time(answered_at: Option<DateTime<Utc>>, due_at: DateTime<Utc>) -> Option<bool> {
    answered_at.map(|a| a <= due_at)
}

/// Above what a request needs the city's consultation (`desk.consultation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// Cost in yen.
    pub cost: u64,
    /// Effort in person-hours.
    pub effort_hours: u64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            cost: 100_000,
            effort_hours: 16,
        }
    }
}

/// Why a request needs the city's consultation, from its estimated cost (yen) and effort
/// (person-hours): the text names each estimate over its threshold. `Err` says why it does
/// not need one (nothing over a threshold, or no estimate given).
pub fn consultation(
    cost: Option<u64>,
    effort_hours: Option<u64>,
    thresholds: Thresholds,
) -> Result<String, String> {
    if cost.is_none() && effort_hours.is_none() {
        return Err(
            "give the estimate that needs the city's consultation: --cost YEN and/or \
                    --effort HOURS"
                .to_owned(),
        );
    }
    let mut why = Vec::new();
    if let Some(c) = cost.filter(|c| *c > thresholds.cost) {
        why.push(format!("cost {c} yen over {} yen", thresholds.cost));
    }
    if let Some(e) = effort_hours.filter(|e| *e > thresholds.effort_hours) {
        why.push(format!(
            "effort {e} person-hours over {}",
            thresholds.effort_hours
        ));
    }
    if why.is_empty() {
        return Err(format!(
            "no consultation needed: the estimate is within the thresholds ({} yen, {} \
             person-hours; `desk.consultation` in unyo.yaml)",
            thresholds.cost, thresholds.effort_hours
        ));
    }
    Ok(why.join("; "))
}

/// What a request links to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Run(i64),
    Incident(i64),
}

/// An operator's change to a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeskChange {
    /// Classify (a new category, with its new due time) and answer first; `note` is what the
    /// requester was told.
    Triage {
        category: Option<(Category, DateTime<Utc>)>,
        note: String,
    },
    /// Give it to someone.
    Assign { to: String },
    /// Hand it up (to a team, a vendor, the city), with why.
    Escalate { to: String, reason: String },
    /// A run or incident it caused or that serves it.
    Link(Link),
    /// It needs the city's consultation, with why ([`consultation`]).
    Consult { reason: String },
    /// Closed with its result.
    Close { result: String },
}

impl DeskChange {
    /// The audit action of the change.
    pub fn action(&self) -> &'static str {
        match self {
            DeskChange::Triage { .. } => "desk.triage",
            DeskChange::Assign { .. } => "desk.assign",
            DeskChange::Escalate { .. } => "desk.escalate",
            DeskChange::Link(_) => "desk.link",
            DeskChange::Consult { .. } => "desk.consult",
            DeskChange::Close { .. } => "desk.close",
        }
    }
}

/// A request as a change sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Current {
    pub status: RequestStatus,
    pub category: Category,
    pub answered: bool,
    /// Why it needs the city's consultation, once marked.
    pub consultation: Option<String>,
    pub closed_by: Option<String>,
}

/// What an accepted change does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub status: RequestStatus,
    /// The new category and due time (a triage that reclassified it).
    pub category: Option<(Category, DateTime<Utc>)>,
    /// The request gets its first answer now.
    pub answers: bool,
    /// The history entry: its kind and text.
    pub event: &'static str,
    pub text: String,
}

/// Why a change to a request is refused; nothing is written then.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("no request {id} is recorded")]
    NotFound { id: i64 },
    #[error("request {id} is closed already (by {by}); open a new request instead")]
    Closed { id: i64, by: String },
    #[error("request {id} is marked for the city's consultation already ({why})")]
    Consulted { id: i64, why: String },
    #[error("no {what} {target} is recorded")]
    NoTarget { what: &'static str, target: i64 },
    #[error("run {run} belongs to request {request} already")]
    RunTaken { run: i64, request: i64 },
    #[error("request {id} is linked to {what} {target} already")]
    Linked {
        id: i64,
        what: &'static str,
        target: i64,
    },
    #[error("request {id} cannot be read")]
    Unreadable { id: i64 },
}

/// What `change` does to request `id` as it stands (`None`: not recorded). Every change but
/// a link's own checks (the target exists, a run belongs to one request) is decided here.
pub fn change(
    id: i64,
    current: Option<&Current>,
    change: &DeskChange,
) -> Result<Transition, Refusal> {
    let current = current.ok_or(Refusal::NotFound { id })?;
    if current.status == RequestStatus::Closed {
        return Err(Refusal::Closed {
            id,
            by: current
                .closed_by
                .clone()
                .unwrap_or_else(|| "unknown".to_owned()),
        });
    }
    let keep = current.status;
    let t = |status, event, text: String| Transition {
        status,
        category: None,
        answers: false,
        event,
        text,
    };
    Ok(match change {
        DeskChange::Triage { category, note } => {
            let mut text = match category {
                Some((c, _)) if *c != current.category => {
                    format!("category {} → {}", current.category, c)
                }
                _ => format!("category {}", current.category),
            };
            if !note.is_empty() {
                text.push_str(&format!("; {note}"));
            }
            Transition {
                status: if keep == RequestStatus::Open {
                    RequestStatus::Triaged
                } else {
                    keep
                },
                category: category.filter(|(c, _)| *c != current.category),
                answers: !current.answered,
                event: "triaged",
                text,
            }
        }
        DeskChange::Assign { to } => t(
            if keep == RequestStatus::Escalated {
                keep
            } else {
                RequestStatus::Assigned
            },
            "assigned",
            format!("to {to}"),
        ),
        DeskChange::Escalate { to, reason } => t(
            RequestStatus::Escalated,
            "escalated",
            format!("to {to}: {reason}"),
        ),
        DeskChange::Link(Link::Run(r)) => t(keep, "linked", format!("run {r}")),
        DeskChange::Link(Link::Incident(i)) => t(keep, "linked", format!("incident {i}")),
        DeskChange::Consult { reason } => {
            if let Some(why) = &current.consultation {
                return Err(Refusal::Consulted {
                    id,
                    why: why.clone(),
                });
            }
            t(keep, "consultation", reason.clone())
        }
        DeskChange::Close { result } => Transition {
            status: RequestStatus::Closed,
            category: None,
            answers: !current.answered,
            event: "closed",
            text: result.clone(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("valid")
            .with_timezone(&Utc)
    }

    fn weekdays(d: NaiveDate) -> bool {
        use chrono::Datelike;
        d.weekday().number_from_monday() <= 5
    }

    fn open() -> Current {
        Current {
            status: RequestStatus::Open,
            category: Category::Inquiry,
            answered: false,
            consultation: None,
            closed_by: None,
        }
    }

    #[test]
    fn business_day_deadlines_skip_closed_days() {
        let tz = chrono_tz::Asia::Tokyo;
        // Friday 2026-11-06 10:00 JST: one business day is Monday 10:00.
        let fri = at("2026-11-06T01:00:00Z");
        assert_eq!(
            due_at(fri, Deadline::BusinessDays(1), tz, &weekdays),
            at("2026-11-09T01:00:00Z")
        );
        // Saturday: Monday is the first business day after it.
        let sat = at("2026-11-07T01:00:00Z");
        assert_eq!(
            due_at(sat, Deadline::BusinessDays(1), tz, &weekdays),
            at("2026-11-09T01:00:00Z")
        );
        assert_eq!(
            due_at(
                sat,
                Deadline::Clock(Duration::from_secs(3600)),
                tz,
                &weekdays
            ),
            at("2026-11-07T02:00:00Z")
        );
    }

    #[test]
    fn overdue_only_while_unanswered() {
        let due = at("2026-11-06T01:00:00Z");
        let later = at("2026-11-06T02:00:00Z");
        assert!(overdue(None, due, later));
        assert!(!overdue(Some(later), due, later));
        assert!(!overdue(None, due, at("2026-11-06T00:00:00Z")));
        assert_eq!(answered_in_time(Some(later), due), Some(false));
        assert_eq!(answered_in_time(Some(due), due), Some(true));
        assert_eq!(answered_in_time(None, due), None);
    }

    #[test]
    fn a_triage_answers_once_and_a_close_is_final() {
        let t = change(
            1,
            Some(&open()),
            &DeskChange::Triage {
                category: None,
                note: String::new(),
            },
        )
        .expect("valid");
        assert_eq!(t.status, RequestStatus::Triaged);
        assert!(t.answers);
        let mut closed = open();
        closed.status = RequestStatus::Closed;
        closed.closed_by = Some("sato".to_owned());
        let e = change(
            1,
            Some(&closed),
            &DeskChange::Close {
                result: "done".to_owned(),
            },
        )
        .expect_err("refused");
        assert_eq!(
            e.to_string(),
            "request 1 is closed already (by sato); open a new request instead"
        );
        assert_eq!(
            change(9, None, &DeskChange::Assign { to: "x".to_owned() }).expect_err("refused"),
            Refusal::NotFound { id: 9 }
        );
    }

    #[test]
    fn consultation_names_what_is_over() {
        let th = Thresholds::default();
        assert_eq!(
            consultation(Some(250_000), Some(8), th).expect("valid"),
            "cost 250000 yen over 100000 yen"
        );
        assert!(consultation(Some(1_000), Some(2), th).is_err());
        assert!(consultation(None, None, th).is_err());
    }
}
