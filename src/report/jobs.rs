//! One line per job: runs by outcome, durations (mean, p95, against the previous period),
//! skipped slots told apart by what the reader needs.

use std::collections::BTreeMap;

use chrono_tz::Tz;

use super::sla::late;
use super::{JobLine, Skip, round2};
use crate::model::Catalog;
use crate::store::{ReportFacts, RunStatus, SlotOutcome, Trigger};

/// Seconds a run took, when it started and ended.
pub(super) fn took(r: &crate::store::RunFact) -> Option<f64> {
    Some((r.ended_at? - r.started_at?).num_milliseconds() as f64 / 1000.0)
}

/// Mean and 95th percentile (nearest rank), rounded to a tenth of a second.
pub(super) fn stats(mut xs: Vec<f64>) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    xs.sort_by(f64::total_cmp);
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    let rank = ((xs.len() as f64) * 0.95).ceil() as usize;
    let p95 = xs[rank.clamp(1, xs.len()) - 1];
    let r1 = |v: f64| (v * 10.0).round() / 10.0;
    (Some(r1(mean)), Some(r1(p95)))
}

pub(super) fn job_lines(
    facts: &ReportFacts,
    previous: &ReportFacts,
    catalog: &Catalog,
    tz: Tz,
) -> Vec<JobLine> {
    let mut lines: BTreeMap<String, JobLine> = BTreeMap::new();
    let mut durations: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for r in &facts.runs {
        let job = facts.jobs.get(r.job as usize).map_or("", String::as_str);
        let l = lines.entry(job.to_owned()).or_insert_with(|| JobLine {
            job: job.to_owned(),
            ..JobLine::default()
        });
        l.runs += 1;
        match r.status {
            RunStatus::Succeeded => l.succeeded += 1,
            RunStatus::Failed | RunStatus::Interrupted => l.failed += 1,
            _ => {}
        }
        if let Some(d) = took(r) {
            durations.entry(job.to_owned()).or_default().push(d);
        }
        if let Some(by) = catalog
            .jobs
            .get(job)
            .and_then(|j| j.sla.as_ref())
            .and_then(|s| s.complete_by)
            && is_scheduled(r.trigger)
            && late(r, by, tz).is_some()
        {
            l.late += 1;
        }
    }
    for s in &facts.slots {
        let l = lines.entry(s.job.clone()).or_insert_with(|| JobLine {
            job: s.job.clone(),
            ..JobLine::default()
        });
        let n = u64::try_from(s.count).unwrap_or(0);
        l.slots += n;
        match s.outcome {
            SlotOutcome::Missed => l.missed += n,
            SlotOutcome::SkippedClosedDay
            | SlotOutcome::SkippedOverlap
            | SlotOutcome::SkippedWindow
            | SlotOutcome::Held => {
                let outcome = s.outcome.to_string();
                let reason = skip_reason(s.outcome, s.reason.as_deref());
                match l
                    .skipped
                    .iter_mut()
                    .find(|c| c.outcome == outcome && c.reason == reason)
                {
                    Some(c) => c.count += n,
                    None => l.skipped.push(Skip {
                        outcome,
                        reason_ja: reason.as_deref().map(holiday_ja),
                        reason,
                        count: n,
                    }),
                }
            }
            _ => {}
        }
    }
    let mut before: BTreeMap<&str, Vec<f64>> = BTreeMap::new();
    for r in &previous.runs {
        if let Some(d) = took(r) {
            let job = previous.jobs.get(r.job as usize).map_or("", String::as_str);
            before.entry(job).or_default().push(d);
        }
    }
    for (job, l) in &mut lines {
        (l.mean_seconds, l.p95_seconds) = stats(durations.remove(job).unwrap_or_default());
        (l.previous_mean_seconds, l.previous_p95_seconds) =
            stats(before.remove(job.as_str()).unwrap_or_default());
        l.mean_change_percent = match (l.mean_seconds, l.previous_mean_seconds) {
            (Some(now), Some(then)) if then > 0.0 => Some(round2((now - then) * 100.0 / then)),
            _ => None,
        };
    }
    lines.into_values().collect()
}

/// What a skip's recorded reason says that a reader needs, as a token where there is one:
/// the kind of closed day (`weekend` for either weekend day, `year_end`, the holiday's name,
/// the closed rule) or a hold's reason. Overlaps and windows say no more than their outcome
/// (their reasons name a run or repeat the rule), so they count together.
pub(super) fn skip_reason(outcome: SlotOutcome, reason: Option<&str>) -> Option<String> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty())?;
    match outcome {
        SlotOutcome::SkippedClosedDay => {
            let closed = reason.strip_prefix("closed: ").unwrap_or(reason);
            let closed = closed.split(';').next().unwrap_or(closed).trim();
            Some(if closed.starts_with("weekend") {
                "weekend".to_owned()
            } else if closed == "year-end closure" {
                "year_end".to_owned()
            } else {
                closed
                    .strip_prefix("public holiday ")
                    .unwrap_or(closed)
                    .to_owned()
            })
        }
        SlotOutcome::Held => Some(reason.to_owned()),
        _ => None,
    }
}

pub(super) fn is_scheduled(t: Trigger) -> bool {
    matches!(t, Trigger::Schedule | Trigger::CatchUp)
}

/// A closed day's reason as the Japanese report shows it: a holiday's Japanese name without
/// its English one in parentheses (`スポーツの日 (Sports Day)`); any other reason as it is.
pub(super) fn holiday_ja(reason: &str) -> String {
    match reason.split_once(" (") {
        Some((ja, _)) if !ja.is_ascii() => ja.to_owned(),
        _ => reason.to_owned(),
    }
}
