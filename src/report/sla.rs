//! The jobs' `sla:` items (complete by, success rate, maximum duration), each with the runs
//! that broke it.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use super::jobs::{is_scheduled, took};
use super::{Breach, SlaItem, cap, percent};
use crate::model::Catalog;
use crate::store::{ReportFacts, RunStatus, SlotOutcome};

/// When a scheduled run is late against `complete_by`: the deadline is on its slot's day
/// (the next day when the slot comes after that time). `None` when it succeeded in time or
/// is still queued or running.
pub(super) fn late(r: &crate::store::RunFact, by: NaiveTime, tz: Tz) -> Option<Breach> {
    let day = deadline_day(r.queued_at, by, tz)?;
    let deadline = crate::schedule::window::local_instant(tz, day, by)?;
    let breach = |ended: Option<String>| Breach {
        date: day.to_string(),
        run: Some(r.id),
        status: r.status.as_str().to_owned(),
        ended,
        took: None,
    };
    match (r.status, r.ended_at) {
        (RunStatus::Succeeded, Some(end)) if end <= deadline => None,
        (RunStatus::Succeeded, Some(end)) => Some(breach(Some(
            end.with_timezone(&tz).format("%H:%M").to_string(),
        ))),
        (RunStatus::Queued | RunStatus::Running, _) => None,
        _ => Some(breach(None)),
    }
}

/// The day whose `by` a run queued (or a slot due) at `t` must be done by: its own day, or
/// the next when it comes after that time.
fn deadline_day(t: DateTime<Utc>, by: NaiveTime, tz: Tz) -> Option<NaiveDate> {
    let local = t.with_timezone(&tz);
    let day = local.date_naive();
    if local.time() > by {
        day.succ_opt()
    } else {
        Some(day)
    }
}

/// Every job's `sla:` items measured over `facts` (the report's service levels; the
/// dashboard's Job page shows one job's for the month to date).
pub fn sla_items(facts: &ReportFacts, catalog: &Catalog, tz: Tz) -> Vec<SlaItem> {
    let mut items = Vec::new();
    let day = |r: &crate::store::RunFact| r.queued_at.with_timezone(&tz).date_naive().to_string();
    for (name, job) in &catalog.jobs {
        let Some(sla) = &job.sla else { continue };
        let index = facts.jobs.iter().position(|j| j == name);
        // A run that refused (nothing to do, or not yet) is measured by no service level.
        let runs: Vec<_> = facts
            .runs
            .iter()
            .filter(|r| Some(r.job as usize) == index && r.status != RunStatus::Refused)
            .collect();
        let item = |what: &str, agreed: String, ok: u64, total: u64, breaches: Vec<Breach>| {
            let met = breaches.is_empty();
            let (breaches, more) = cap(breaches);
            SlaItem {
                job: name.clone(),
                item: what.to_owned(),
                agreed,
                ok,
                total,
                rate: None,
                met,
                breaches,
                more,
            }
        };
        if let Some(by) = sla.complete_by {
            let scheduled: Vec<_> = runs.iter().filter(|r| is_scheduled(r.trigger)).collect();
            let mut breaches: Vec<Breach> =
                scheduled.iter().filter_map(|r| late(r, by, tz)).collect();
            // A missed slot (the daemon was down, the misfire policy let it go) was not done
            // by its time either.
            let missed: Vec<Breach> = facts
                .job_slots
                .iter()
                .filter(|s| s.job == *name && s.outcome == SlotOutcome::Missed)
                .filter_map(|s| {
                    Some(Breach {
                        date: deadline_day(s.due_at, by, tz)?.to_string(),
                        run: None,
                        status: "missed".to_owned(),
                        ended: None,
                        took: None,
                    })
                })
                .collect();
            let total = (scheduled.len() + missed.len()) as u64;
            breaches.extend(missed);
            breaches.sort_by(|a, b| a.date.cmp(&b.date));
            let ok = total - breaches.len() as u64;
            items.push(item(
                "complete_by",
                by.format("%H:%M").to_string(),
                ok,
                total,
                breaches,
            ));
        }
        if let Some(rate) = sla.success_rate {
            let ended: Vec<_> = runs
                .iter()
                .filter(|r| !matches!(r.status, RunStatus::Queued | RunStatus::Running))
                .collect();
            let ok = ended
                .iter()
                .filter(|r| r.status == RunStatus::Succeeded)
                .count() as u64;
            let breaches = ended
                .iter()
                .filter(|r| r.status != RunStatus::Succeeded)
                .map(|r| Breach {
                    date: day(r),
                    run: Some(r.id),
                    status: r.status.as_str().to_owned(),
                    ended: None,
                    took: None,
                })
                .collect();
            let mut line = item(
                "success_rate",
                format!("{rate}%"),
                ok,
                ended.len() as u64,
                breaches,
            );
            line.rate = percent(ok, ended.len() as u64);
            // Measured against the agreed rate: a month of 1,000 runs may fail one at 99.9%.
            line.met = line.rate.is_none_or(|m| m >= rate);
            items.push(line);
        }
        if let Some(max) = sla.max_duration {
            let limit = max.as_secs_f64();
            let fmt = |d: f64| {
                crate::model::values::format_duration(std::time::Duration::from_secs_f64(d))
            };
            let breaches: Vec<Breach> = runs
                .iter()
                .filter_map(|r| {
                    let d = took(r)?;
                    (d > limit).then(|| Breach {
                        date: day(r),
                        run: Some(r.id),
                        status: r.status.as_str().to_owned(),
                        ended: None,
                        took: Some(fmt(d)),
                    })
                })
                .collect();
            let total = runs.len() as u64;
            let ok = total - breaches.len() as u64;
            items.push(item(
                "max_duration",
                crate::model::values::format_duration(max),
                ok,
                total,
                breaches,
            ));
        }
    }
    items
}
