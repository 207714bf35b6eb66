//! The incidents of the period, one line each.

use chrono::{DateTime, Utc};

use super::{IncidentLine, Period};
use crate::store::{IncidentStatus, ReportFacts};

pub(super) fn incident_lines(
    period: &Period,
    facts: &ReportFacts,
    local: &dyn Fn(DateTime<Utc>) -> String,
) -> Vec<IncidentLine> {
    facts
        .incidents
        .iter()
        .map(|i| {
            // Resolved (with cause and countermeasure) by the deadline; an unresolved one
            // counts as missed once the deadline has passed by the period's end.
            let deadline_met = i.report_deadline.map(|d| match i.resolved_at {
                Some(r) => r <= d,
                None => d >= period.to,
            });
            IncidentLine {
                id: i.id,
                opened_at: local(i.opened_at),
                severity: i.severity.as_str().to_owned(),
                job: i.job.clone(),
                run_id: i.run_id,
                summary: i.summary.clone(),
                failure_class: i.failure_class.clone(),
                status: if i.status == IncidentStatus::Resolved
                    && i.resolved_at.is_some_and(|r| r >= period.to)
                {
                    "acknowledged".to_owned()
                } else {
                    i.status.as_str().to_owned()
                },
                occurrences: i.occurrences,
                acknowledged_at: i.acknowledged_at.map(local),
                resolved_at: i.resolved_at.filter(|r| *r < period.to).map(local),
                cause: i.cause.clone(),
                countermeasure: i.countermeasure.clone(),
                report_deadline: i.report_deadline.map(local),
                deadline_met,
            }
        })
        .collect()
}
