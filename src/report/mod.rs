//! The monthly (and yearly) job-result and SLA report: every figure computed from the
//! database of records ([`ReportFacts`]) and the definitions (the jobs' `sla:`, the schedules
//! for the next period's plan), then rendered (`render.rs`, `chart.rs`). The computation is
//! pure: the same facts and definitions give the same report, so a re-rendered month is byte
//! for byte the same. The monitoring section (稼働監視の状況) is `monitoring.rs`.

mod changes;
pub mod chart;
pub mod checks;
mod content;
mod desk;
mod gather;
mod incidents;
pub mod interval;
mod jobs;
mod monitoring;
mod period;
mod plan;
pub mod proposals;
pub mod render;
pub mod service;
mod sla;
mod summary;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::model::{Catalog, Settings};
use crate::store::{ReportFacts, RunStatus};
pub use content::*;
pub use gather::{compute, compute_with_facts, slot_jobs};
pub use monitoring::{FindingLine, Monitoring, TrendLine};
pub use period::{Period, date_ja, label_ja, label_ja_year};
pub use proposals::ProposalLine;
pub use service::{Availability, Outage, ServiceBreach, ServiceItem, Stop};
pub use summary::ABNORMAL_KINDS;

use changes::{adhoc_lines, changes};
use incidents::incident_lines;
use jobs::{job_lines, took};
use period::label_en;
pub use plan::closed_ja;
use plan::plan;
pub use sla::sla_items;
use summary::{incident_summary, summary};

/// Computes the report of `period` (a month or a fiscal year) from its facts, the previous period's runs (for the
/// duration trend) and the definitions.
///
/// `now` is when the report is made: a period that has not ended by then is preliminary.
pub fn build(
    period: &Period,
    facts: &ReportFacts,
    previous: &ReportFacts,
    catalog: &Catalog,
    settings: &Settings,
    now: DateTime<Utc>,
) -> Report {
    let tz = settings.timezone;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let summary_runs = summary(facts);
    let jobs = job_lines(facts, previous, catalog, tz);
    let sla = sla_items(facts, catalog, tz);
    let incidents = incident_lines(period, facts, &local);
    let (service, availability) = service::items(period, facts, previous, catalog, settings);
    let mut summary = summary_runs;
    // An item with nothing to measure (no run, slot or incident it applies to) is neither met
    // nor broken: the summary counts the others, and the tables say "none".
    let judged = sla
        .iter()
        .map(|s| (s.total, s.met))
        .chain(service.iter().map(|s| (s.total, s.met)))
        .filter(|(total, _)| *total > 0);
    summary.sla_items = judged.clone().count() as u64;
    summary.sla_met = judged.filter(|(_, met)| *met).count() as u64;
    incident_summary(period, facts, &mut summary);
    let (range_ja, range_en) = period::range(period, settings.report.date_style);
    Report {
        cover: Cover {
            contract: settings.report.contract.clone(),
            range_ja,
            range_en,
            ends_ja: format!(
                "{} {}",
                date_ja(
                    period.to.with_timezone(&tz).date_naive(),
                    settings.report.date_style
                ),
                settings.day_start.format("%H:%M")
            ),
            author: settings.report.author.clone(),
            approver: settings.report.approver.clone(),
        },
        job_titles: catalog
            .jobs
            .iter()
            .filter_map(|(name, j)| Some((name.clone(), j.title.clone()?)))
            .collect(),
        department_titles: settings
            .departments
            .iter()
            .map(|(code, title)| (code.to_owned(), title.to_owned()))
            .collect(),
        preliminary: !period.ended(now),
        period: PeriodInfo {
            kind: if period.is_year() {
                "yearly"
            } else {
                "monthly"
            }
            .to_owned(),
            label: period.label(),
            label_ja: if period.is_year() {
                label_ja_year(period.year, settings.report.date_style)
            } else {
                label_ja(period.year, period.month, settings.report.date_style)
            },
            label_en: label_en(period),
            from: period.from.with_timezone(&tz).to_rfc3339(),
            to: period.to.with_timezone(&tz).to_rfc3339(),
            timezone: tz.name().to_owned(),
            day_start: settings.day_start.format("%H:%M").to_string(),
        },
        summary,
        jobs,
        sla,
        service,
        availability,
        incidents,
        monitoring: monitoring::monitoring(period, facts, tz),
        refusals: facts
            .refusals
            .iter()
            .map(|r| RefusalLine {
                job: r.job.clone(),
                reason: r.reason.clone().unwrap_or_default(),
                count: u64::try_from(r.count).unwrap_or(0),
            })
            .collect(),
        desk: Desk::default(),
        adhoc: adhoc_lines(facts, &local),
        changes: changes(facts, &local),
        plan: plan(period, catalog, settings),
        charts: charts(period, facts, settings),
        desk_hours: settings.notify.as_ref().map(|n| DeskHoursLine {
            from: n.desk_hours.from.format("%H:%M").to_string(),
            to: n.desk_hours.to.format("%H:%M").to_string(),
            calendar: n.desk_hours.calendar.as_ref().map(|c| c.value.clone()),
        }),
        checks: None,
        proposals: Vec::new(),
    }
}

/// Adds the health checks of `period` to `report` (its monitoring section), from the
/// targets and their state changes as recorded; nothing when no target was ever checked.
pub fn add_checks(
    report: &mut Report,
    period: &Period,
    targets: &[crate::store::TargetRow],
    changes: &[crate::store::TargetChange],
    facts: &ReportFacts,
    settings: &Settings,
) {
    let c = checks::checks(
        period.from,
        period.to,
        targets,
        changes,
        &facts.incidents,
        settings.timezone,
    );
    if !c.targets.is_empty() {
        report.checks = Some(c);
    }
}

/// Adds the service desk of `period` to `report`: its section's figures, and the request of
/// each ad-hoc run linked to one. `now` is when the report is made: a preliminary report
/// counts no request late whose deadline is still to come.
pub fn add_desk(
    report: &mut Report,
    period: &Period,
    facts: &crate::store::DeskFacts,
    settings: &Settings,
    now: DateTime<Utc>,
) {
    let tz = settings.timezone;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    report.desk = desk::desk(period, facts, &local, now);
    desk::requests_of_runs(&mut report.adhoc, facts);
}

fn charts(period: &Period, facts: &ReportFacts, settings: &Settings) -> Charts {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let days = period.days();
    let index = |t: DateTime<Utc>| {
        let d = crate::calendar::business_date(t, tz, day_start);
        days.binary_search(&d).ok()
    };
    let mut daily: Vec<DayRuns> = days
        .iter()
        .map(|d| DayRuns {
            date: d.to_string(),
            succeeded: 0,
            failed: 0,
            other: 0,
        })
        .collect();
    // Per job: sum and count of durations, overall and per day (by index into `days`).
    type Sums = (f64, u64, BTreeMap<usize, (f64, u64)>);
    let mut per_job: BTreeMap<u32, Sums> = BTreeMap::new();
    for r in &facts.runs {
        let Some(i) = index(r.queued_at) else {
            continue;
        };
        match r.status {
            RunStatus::Succeeded => daily[i].succeeded += 1,
            RunStatus::Failed => daily[i].failed += 1,
            _ => daily[i].other += 1,
        }
        if let Some(d) = took(r) {
            let e = per_job.entry(r.job).or_default();
            e.0 += d;
            e.1 += 1;
            let day = e.2.entry(i).or_default();
            day.0 += d;
            day.1 += 1;
        }
    }
    let mut slowest: Vec<_> = per_job
        .iter()
        .map(|(job, (sum, n, _))| (*job, sum / *n as f64))
        .collect();
    slowest.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let trend = slowest
        .into_iter()
        .take(TREND_JOBS)
        .filter_map(|(job, _)| {
            let (_, _, by_day) = per_job.get(&job)?;
            Some(Trend {
                job: facts.jobs.get(job as usize).cloned().unwrap_or_default(),
                points: by_day
                    .iter()
                    .map(|(i, (sum, n))| (days[*i].to_string(), round2(sum / *n as f64)))
                    .collect(),
            })
        })
        .collect();
    Charts { daily, trend }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// Keeps the first [`EVIDENCE`] breaches; returns them and how many were left out.
fn cap<T>(mut breaches: Vec<T>) -> (Vec<T>, u64) {
    let more = breaches.len().saturating_sub(EVIDENCE) as u64;
    breaches.truncate(EVIDENCE);
    (breaches, more)
}
