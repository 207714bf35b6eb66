//! The report's summary: runs by status and trigger, abnormal ends by kind, slots and their
//! outcomes, incidents opened, resolved and overdue.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Count, Period, Summary, percent, round2};
use crate::store::{AttemptStatus, ReportFacts, RunStatus, Trigger};

pub(super) fn summary(facts: &ReportFacts) -> Summary {
    let mut s = Summary {
        runs: facts.runs.len() as u64,
        ..Summary::default()
    };
    let mut by_trigger: BTreeMap<usize, u64> = BTreeMap::new();
    for r in &facts.runs {
        let t = Trigger::ALL
            .iter()
            .position(|t| *t == r.trigger)
            .unwrap_or(0);
        *by_trigger.entry(t).or_default() += 1;
        match r.status {
            RunStatus::Succeeded => s.succeeded += 1,
            RunStatus::Failed => s.failed += 1,
            RunStatus::Cancelled => s.cancelled += 1,
            RunStatus::Interrupted => s.interrupted += 1,
            RunStatus::Refused => s.refused += 1,
            RunStatus::Queued | RunStatus::Running => s.unfinished += 1,
        }
    }
    s.by_trigger = by_trigger
        .into_iter()
        .map(|(t, count)| Count {
            name: Trigger::ALL[t].as_str().to_owned(),
            count,
        })
        .collect();
    s.success_rate = percent(s.succeeded, s.runs - s.unfinished - s.refused);
    let mut kinds: BTreeMap<&'static str, u64> = BTreeMap::new();
    for a in &facts.attempts {
        let n = u64::try_from(a.count).unwrap_or(0);
        if a.retry {
            s.retries += n;
        }
        if let Some(kind) = abnormal_kind(a.status, a.signalled) {
            *kinds.entry(kind).or_default() += n;
        }
    }
    s.abnormal_ends = ABNORMAL_KINDS
        .iter()
        .filter_map(|k| {
            kinds.get(k).map(|&count| Count {
                name: (*k).to_owned(),
                count,
            })
        })
        .collect();
    s
}

/// The kinds of abnormal end operators tell apart, in the order they are listed.
pub const ABNORMAL_KINDS: [&str; 6] = [
    "abnormal_exit",
    "killed",
    "timed_out",
    "failed_to_start",
    "interrupted",
    "cancelled",
];

fn abnormal_kind(status: AttemptStatus, signalled: bool) -> Option<&'static str> {
    match status {
        AttemptStatus::Failed if signalled => Some("killed"),
        AttemptStatus::Failed => Some("abnormal_exit"),
        AttemptStatus::TimedOut => Some("timed_out"),
        AttemptStatus::Error => Some("failed_to_start"),
        AttemptStatus::Interrupted => Some("interrupted"),
        AttemptStatus::Cancelled => Some("cancelled"),
        // A refusal is the step's own answer, not an abnormal end.
        AttemptStatus::Running | AttemptStatus::Succeeded | AttemptStatus::Refused => None,
    }
}

pub(super) fn incident_summary(period: &Period, facts: &ReportFacts, s: &mut Summary) {
    let inside = |t: DateTime<Utc>| t >= period.from && t < period.to;
    let opened: Vec<_> = facts
        .incidents
        .iter()
        .filter(|i| inside(i.opened_at))
        .collect();
    s.incidents_opened = opened.len() as u64;
    s.incidents_resolved = facts
        .incidents
        .iter()
        .filter(|i| i.resolved_at.is_some_and(inside))
        .count() as u64;
    let mean =
        |xs: Vec<f64>| (!xs.is_empty()).then(|| round2(xs.iter().sum::<f64>() / xs.len() as f64));
    let minutes = |a: DateTime<Utc>, b: DateTime<Utc>| (b - a).num_seconds() as f64 / 60.0;
    s.mtta_minutes = mean(
        opened
            .iter()
            .filter_map(|i| {
                let ack = match (i.acknowledged_at, i.resolved_at) {
                    (Some(a), Some(r)) => Some(a.min(r)),
                    (a, r) => a.or(r),
                };
                ack.map(|a| minutes(i.opened_at, a))
            })
            .collect(),
    );
    // Over the resolutions inside the period, like `incidents_resolved` beside it: an
    // incident opened last period and resolved in this one counts here, one opened here and
    // resolved later does not.
    s.mttr_minutes = mean(
        facts
            .incidents
            .iter()
            .filter_map(|i| {
                i.resolved_at
                    .filter(|r| inside(*r))
                    .map(|r| minutes(i.opened_at, r))
            })
            .collect(),
    );
}
