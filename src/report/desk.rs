//! The service-desk section (サービスデスク・問合せ対応状況): the period's requests by
//! category and by department, answered within their category's deadline, open at the
//! period's end, and the requests that need the city's consultation; and each ad-hoc run's
//! request, requester and department. Everything is counted as it stood at the period's end:
//! an answer or a close after it is not seen, so a month reads the same whenever it is made.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{AdhocLine, ConsultationLine, Desk, DeskCount, Period};
use crate::store::{Category, DeskFacts, RequestRow};

/// The desk's figures of `period` from its facts.
pub fn desk(
    period: &Period,
    facts: &DeskFacts,
    local: &dyn Fn(DateTime<Utc>) -> String,
    now: DateTime<Utc>,
) -> Desk {
    let (from, to) = (period.from, period.to);
    // A report made before the period's end sees no further than now.
    let end = to.min(now);
    let mut by_category: BTreeMap<Category, DeskCount> = Category::ALL
        .iter()
        .map(|c| (*c, DeskCount::named(c.as_str())))
        .collect();
    let mut by_department: BTreeMap<String, DeskCount> = BTreeMap::new();
    let mut total = DeskCount::named("total");
    let mut consultations = Vec::new();
    for r in facts.requests.iter().filter(|r| r.opened_at < end) {
        let counted = count(r, from, end);
        for c in [
            by_category.get_mut(&r.category),
            Some(
                by_department
                    .entry(r.department.clone())
                    .or_insert_with(|| DeskCount::named(&r.department)),
            ),
            Some(&mut total),
        ]
        .into_iter()
        .flatten()
        {
            c.add(&counted);
        }
        if r.consultation.is_some() {
            consultations.push(ConsultationLine {
                id: r.id,
                opened_at: local(r.opened_at),
                department: r.department.clone(),
                category: r.category.as_str().to_owned(),
                text: r.text.clone(),
                status: status_at(r, end).to_owned(),
            });
        }
    }
    Desk {
        by_category: by_category.into_values().collect(),
        by_department: by_department.into_values().collect(),
        total,
        consultations,
    }
}

/// One request's contribution to a line.
fn count(r: &RequestRow, from: DateTime<Utc>, to: DateTime<Utc>) -> DeskCount {
    let received = r.opened_at >= from;
    let answered = r.answered_at.filter(|a| *a < to);
    let late = match answered {
        Some(a) => a > r.due_at,
        None => r.due_at < to,
    };
    DeskCount {
        name: String::new(),
        received: u64::from(received),
        answered_in_time: u64::from(received && answered.is_some() && !late),
        late: u64::from(received && late),
        open_at_end: u64::from(r.closed_at.is_none_or(|c| c >= to)),
        consultations: u64::from(r.consultation.is_some()),
    }
}

/// The request's state at the period's end, as a token: closed only when it was closed by
/// then.
fn status_at(r: &RequestRow, to: DateTime<Utc>) -> &'static str {
    match r.closed_at {
        Some(c) if c < to => "closed",
        _ if r.status == crate::store::RequestStatus::Closed => "in_progress",
        _ => r.status.as_str(),
    }
}

impl DeskCount {
    fn named(name: &str) -> DeskCount {
        DeskCount {
            name: name.to_owned(),
            ..DeskCount::default()
        }
    }

    fn add(&mut self, o: &DeskCount) {
        self.received += o.received;
        self.answered_in_time += o.answered_in_time;
        self.late += o.late;
        self.open_at_end += o.open_at_end;
        self.consultations += o.consultations;
    }
}

/// Gives each ad-hoc run linked to a request that request's number, requester and department.
pub fn requests_of_runs(adhoc: &mut [AdhocLine], facts: &DeskFacts) {
    let requests: BTreeMap<i64, &RequestRow> = facts.requests.iter().map(|r| (r.id, r)).collect();
    let runs: BTreeMap<i64, i64> = facts.runs.iter().copied().collect();
    for a in adhoc {
        if let Some(r) = runs.get(&a.run_id).and_then(|id| requests.get(id)) {
            a.request = Some(r.id);
            a.request_requester = Some(r.requester.clone());
            a.department = Some(r.department.clone());
        }
    }
}
