//! The monthly (and yearly) job-result and SLA report: every figure computed from the
//! database of records ([`ReportFacts`]) and the definitions (the jobs' `sla:`, the schedules
//! for the next period's plan), then rendered (`render.rs`, `chart.rs`). The computation is
//! pure: the same facts and definitions give the same report, so a re-rendered month is byte
//! for byte the same.

pub mod chart;
pub mod interval;
pub mod render;
pub mod service;

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::model::{Catalog, DateStyle, Settings};
use crate::store::{AttemptStatus, IncidentStatus, ReportFacts, RunStatus, SlotOutcome, Trigger};
pub use service::{Availability, Outage, ServiceBreach, ServiceItem, Stop};

/// A report's period: a calendar month, or a fiscal year of twelve months, in the configured
/// zone, each day starting at the settings' `day_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first month.
    pub year: i32,
    pub month: u32,
    /// 1 (a month) or 12 (a fiscal year).
    pub months: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    fn span(year: i32, month: u32, months: u32, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = first.checked_add_months(chrono::Months::new(months))?;
        Some(Period {
            year,
            month,
            months,
            from: crate::schedule::window::local_instant(tz, first, day_start)?,
            to: crate::schedule::window::local_instant(tz, next, day_start)?,
        })
    }

    /// The month `year-month`; `None` for a month that does not exist.
    pub fn month(year: i32, month: u32, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        Period::span(year, month, 1, tz, day_start)
    }

    /// The fiscal year `year`: twelve months from `start_month` of that year.
    pub fn fiscal_year(
        year: i32,
        start_month: u32,
        tz: Tz,
        day_start: NaiveTime,
    ) -> Option<Period> {
        Period::span(year, start_month, 12, tz, day_start)
    }

    /// Reads `YYYY-MM`.
    pub fn parse(text: &str, tz: Tz, day_start: NaiveTime) -> Result<Period, String> {
        let bad = || format!("bad month `{text}` (expected `YYYY-MM`, e.g. `2026-10`)");
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(1970..=9999).contains(&y) {
            return Err(bad());
        }
        Period::month(y, m, tz, day_start).ok_or_else(bad)
    }

    /// The month before the one that contains `now`.
    pub fn previous_of(now: DateTime<Utc>, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let today = crate::calendar::business_date(now, tz, day_start);
        let first = today
            .with_day(1)?
            .checked_sub_months(chrono::Months::new(1))?;
        Period::month(first.year(), first.month(), tz, day_start)
    }

    /// The period of the same length before this one.
    pub fn previous(&self, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
            .checked_sub_months(chrono::Months::new(self.months))?;
        Period::span(first.year(), first.month(), self.months, tz, day_start)
    }

    /// The period of the same length after this one.
    pub fn next(&self, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
            .checked_add_months(chrono::Months::new(self.months))?;
        Period::span(first.year(), first.month(), self.months, tz, day_start)
    }

    /// The months of the period, each a period.
    pub fn each_month(&self, tz: Tz, day_start: NaiveTime) -> Vec<Period> {
        (0..self.months)
            .filter_map(|i| {
                let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
                    .checked_add_months(chrono::Months::new(i))?;
                Period::month(first.year(), first.month(), tz, day_start)
            })
            .collect()
    }

    /// Whether the period is over at `now`: its last operating day has ended.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        now >= self.to
    }

    pub fn is_year(&self) -> bool {
        self.months == 12
    }

    /// `2026-10`, or `FY2026`.
    pub fn label(&self) -> String {
        if self.is_year() {
            format!("FY{}", self.year)
        } else {
            format!("{:04}-{:02}", self.year, self.month)
        }
    }

    /// The calendar days of the period.
    pub fn days(&self) -> Vec<NaiveDate> {
        let Some(first) = NaiveDate::from_ymd_opt(self.year, self.month, 1) else {
            return Vec::new();
        };
        let Some(end) = first.checked_add_months(chrono::Months::new(self.months)) else {
            return Vec::new();
        };
        first.iter_days().take_while(|d| *d < end).collect()
    }
}

/// A report (of a month or of a fiscal year), every figure as it is shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The period had not ended when the report was computed: its figures are preliminary
    /// (速報) and will change; such a report cannot be frozen.
    pub preliminary: bool,
    pub period: PeriodInfo,
    pub summary: Summary,
    pub jobs: Vec<JobLine>,
    pub sla: Vec<SlaItem>,
    /// The service-level items of `service:` (empty without it).
    pub service: Vec<ServiceItem>,
    /// The planned service time, its outages and planned stops (with `service.availability`).
    pub availability: Option<Availability>,
    pub incidents: Vec<IncidentLine>,
    /// Runs that refused by themselves (a step's `refuse_exit`), by job and reason: not
    /// failures, not successes.
    pub refusals: Vec<RefusalLine>,
    pub adhoc: Vec<AdhocLine>,
    pub changes: Changes,
    pub plan: Plan,
    pub charts: Charts,
    /// When the service desk takes calls (`notify.desk_hours`), stated with the service
    /// levels; `None` without `notify:`.
    pub desk_hours: Option<DeskHoursLine>,
}

/// The desk hours as the report states them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeskHoursLine {
    pub from: String,
    pub to: String,
    /// The calendar whose business days are desk days; `None`: Monday to Friday.
    pub calendar: Option<String>,
}

/// What the charts of the HTML form draw.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Charts {
    /// Every operating day of the period with its runs by outcome.
    pub daily: Vec<DayRuns>,
    /// The slowest jobs (by mean duration, at most [`TREND_JOBS`]): each day's mean duration.
    pub trend: Vec<Trend>,
}

/// How many of the slowest jobs the duration chart follows.
pub const TREND_JOBS: usize = 3;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayRuns {
    pub date: String,
    pub succeeded: u64,
    pub failed: u64,
    /// Cancelled, interrupted, unfinished.
    pub other: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trend {
    pub job: String,
    /// Per operating day with runs that ended: the day and the mean duration in seconds.
    pub points: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodInfo {
    /// `monthly` or `yearly`.
    pub kind: String,
    /// `2026-10`, `FY2026`.
    pub label: String,
    /// `令和8年(2026年)10月分`.
    pub label_ja: String,
    /// `October 2026`.
    pub label_en: String,
    pub from: String,
    pub to: String,
    pub timezone: String,
    /// When an operating day begins (`00:00`, `06:00`).
    pub day_start: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Summary {
    pub runs: u64,
    /// Trigger token and runs, in the order of `Trigger::ALL`, those with none left out.
    pub by_trigger: Vec<Count>,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub interrupted: u64,
    /// Declined by themselves (`refuse_exit`): neither failures nor successes.
    pub refused: u64,
    /// Queued or running when the period ended.
    pub unfinished: u64,
    /// Succeeded of the ended runs that did not refuse, percent with two decimals; `None`
    /// without such runs.
    pub success_rate: Option<f64>,
    /// Attempts after the first.
    pub retries: u64,
    /// Attempts that ended abnormally, by kind.
    pub abnormal_ends: Vec<Count>,
    pub incidents_opened: u64,
    pub incidents_resolved: u64,
    /// Mean time from opening to acknowledgement (or resolution, when that came first), in
    /// minutes, over the incidents opened in the period that were acknowledged.
    pub mtta_minutes: Option<f64>,
    /// Mean time from opening to resolution, in minutes.
    pub mttr_minutes: Option<f64>,
    pub sla_items: u64,
    pub sla_met: u64,
}

/// Slots of a job skipped for one reason: the outcome token (`skipped_closed_day`,
/// `skipped_overlap`, `skipped_window`, `held`) and, for a closed day, its kind (`weekend`,
/// `year_end`, a holiday's name, a closed rule) or, for a hold, the operator's reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skip {
    pub outcome: String,
    pub reason: Option<String>,
    pub count: u64,
}

/// Runs of a job that refused for one reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RefusalLine {
    pub job: String,
    pub reason: String,
    pub count: u64,
}

/// A name and how many.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct JobLine {
    pub job: String,
    pub slots: u64,
    pub runs: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Slots recorded `missed`.
    pub missed: u64,
    /// Slots skipped, by outcome (and, for closed days and holds, why).
    pub skipped: Vec<Skip>,
    /// Scheduled runs that had not succeeded by the job's `complete_by`.
    pub late: u64,
    pub mean_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub previous_mean_seconds: Option<f64>,
    pub previous_p95_seconds: Option<f64>,
    /// Change of the mean against the previous month, percent.
    pub mean_change_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlaItem {
    pub job: String,
    /// `complete_by`, `success_rate` or `max_duration`.
    pub item: String,
    pub agreed: String,
    /// Runs that kept the promise, of `total` it applies to (`complete_by`: scheduled runs;
    /// `success_rate`: ended runs; `max_duration`: runs).
    pub ok: u64,
    pub total: u64,
    /// `success_rate`: the measured percentage.
    pub rate: Option<f64>,
    pub met: bool,
    /// The runs that broke it, at most [`EVIDENCE`]; `more` says how many are left out.
    pub breaches: Vec<Breach>,
    pub more: u64,
}

/// A run that broke an SLA item: its day, its id, how it ended (status, and the local end
/// time for a late success) and how long it took. A slot that was missed (no run at all)
/// breaks `complete_by` too: it has no run and the status `missed`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breach {
    pub date: String,
    pub run: Option<i64>,
    pub status: String,
    pub ended: Option<String>,
    pub took: Option<String>,
}

/// How many breaches an SLA item lists by name.
pub const EVIDENCE: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentLine {
    pub id: i64,
    pub opened_at: String,
    pub severity: String,
    pub job: String,
    pub run_id: Option<i64>,
    pub summary: String,
    pub failure_class: String,
    pub status: String,
    pub occurrences: i64,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub cause: Option<String>,
    pub countermeasure: Option<String>,
    pub report_deadline: Option<String>,
    /// Resolved (its report in) by the deadline; `None` without a deadline.
    pub deadline_met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdhocLine {
    pub run_id: i64,
    pub at: String,
    pub requester: String,
    pub job: String,
    /// `name=value` pairs, secrets shown as `***`.
    pub params: String,
    pub reason: Option<String>,
    pub result: String,
    /// Rows of the extract the run wrote, if it wrote one.
    pub rows: Option<i64>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Changes {
    pub parameters: Vec<ParamLine>,
    /// Grants and revokes applied, by department.
    pub permissions: Vec<PermissionLine>,
    /// Jobs whose definition file changed during the month: the first run on the new file.
    pub definitions: Vec<DefinitionLine>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParamLine {
    pub id: i64,
    pub at: String,
    pub key: String,
    pub before: String,
    pub after: String,
    pub user: String,
    pub reason: String,
    pub rolled_back: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PermissionLine {
    pub department: String,
    pub grants: u64,
    pub revokes: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DefinitionLine {
    pub job: String,
    pub first_run: i64,
    pub at: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Plan {
    /// The period planned: the next month, or the next fiscal year.
    pub period: String,
    /// Scheduled runs by job.
    pub jobs: Vec<Count>,
    /// Jobs that run at most twice in the month, each run with its day.
    pub events: Vec<PlanEvent>,
    /// Closed days of each calendar, with the reason.
    pub closed_days: Vec<PlanEvent>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanEvent {
    pub date: String,
    pub what: String,
}

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
    Report {
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
        refusals: facts
            .refusals
            .iter()
            .map(|r| RefusalLine {
                job: r.job.clone(),
                reason: r.reason.clone().unwrap_or_default(),
                count: u64::try_from(r.count).unwrap_or(0),
            })
            .collect(),
        adhoc: adhoc_lines(facts, &local),
        changes: changes(facts, &local),
        plan: plan(period, catalog, settings),
        charts: charts(period, facts, settings),
        desk_hours: settings.notify.as_ref().map(|n| DeskHoursLine {
            from: n.desk_hours.from.format("%H:%M").to_string(),
            to: n.desk_hours.to.format("%H:%M").to_string(),
            calendar: n.desk_hours.calendar.as_ref().map(|c| c.value.clone()),
        }),
    }
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

/// `October 2026`, or `fiscal year 2026 (April 2026 to March 2027)`.
fn label_en(period: &Period) -> String {
    let month = |d: Option<NaiveDate>| d.map(|d| d.format("%B %Y").to_string()).unwrap_or_default();
    let first = NaiveDate::from_ymd_opt(period.year, period.month, 1);
    if period.is_year() {
        let last = first.and_then(|d| d.checked_add_months(chrono::Months::new(11)));
        format!(
            "fiscal year {} ({} to {})",
            period.year,
            month(first),
            month(last)
        )
    } else {
        month(first)
    }
}

/// The era year of `year` (its month `month`, for the year the era changed): `令和8`,
/// `令和元`, `平成31`.
fn era_year(year: i32, month: u32) -> String {
    let (era, first) = if (year, month) >= (2019, 5) {
        ("令和", 2019)
    } else if year >= 1989 {
        ("平成", 1989)
    } else {
        ("昭和", 1926)
    };
    match year - first + 1 {
        1 => format!("{era}元"),
        n => format!("{era}{n}"),
    }
}

/// A fiscal year in the date style: `令和8年度(2026年度)`, `令和8年度`, `2026年度`. A fiscal
/// year is named by the era of its April (`令和元年度` for 2019).
pub fn label_ja_year(year: i32, style: DateStyle) -> String {
    let era = era_year(year, 5);
    match style {
        DateStyle::Both => format!("{era}年度({year}年度)"),
        DateStyle::Era => format!("{era}年度"),
        DateStyle::Western => format!("{year}年度"),
    }
}

/// A month in the date style: `令和8年(2026年)10月分`, `令和8年10月分`, `2026年10月分`.
pub fn label_ja(year: i32, month: u32, style: DateStyle) -> String {
    let era = era_year(year, month);
    match style {
        DateStyle::Both => format!("{era}年({year}年){month}月分"),
        DateStyle::Era => format!("{era}年{month}月分"),
        DateStyle::Western => format!("{year}年{month}月分"),
    }
}

fn percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| round2(part as f64 * 100.0 / whole as f64))
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn summary(facts: &ReportFacts) -> Summary {
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

fn incident_summary(period: &Period, facts: &ReportFacts, s: &mut Summary) {
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
    s.mttr_minutes = mean(
        opened
            .iter()
            .filter_map(|i| i.resolved_at.map(|r| minutes(i.opened_at, r)))
            .collect(),
    );
}

/// Seconds a run took, when it started and ended.
fn took(r: &crate::store::RunFact) -> Option<f64> {
    Some((r.ended_at? - r.started_at?).num_milliseconds() as f64 / 1000.0)
}

/// Mean and 95th percentile (nearest rank), rounded to a tenth of a second.
fn stats(mut xs: Vec<f64>) -> (Option<f64>, Option<f64>) {
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

fn job_lines(
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
fn skip_reason(outcome: SlotOutcome, reason: Option<&str>) -> Option<String> {
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

fn is_scheduled(t: Trigger) -> bool {
    matches!(t, Trigger::Schedule | Trigger::CatchUp)
}

/// When a scheduled run is late against `complete_by`: the deadline is on its slot's day
/// (the next day when the slot comes after that time). `None` when it succeeded in time or
/// is still queued or running.
fn late(r: &crate::store::RunFact, by: NaiveTime, tz: Tz) -> Option<Breach> {
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

/// Keeps the first [`EVIDENCE`] breaches; returns them and how many were left out.
fn cap<T>(mut breaches: Vec<T>) -> (Vec<T>, u64) {
    let more = breaches.len().saturating_sub(EVIDENCE) as u64;
    breaches.truncate(EVIDENCE);
    (breaches, more)
}

fn sla_items(facts: &ReportFacts, catalog: &Catalog, tz: Tz) -> Vec<SlaItem> {
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

fn incident_lines(
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

/// Parameter names whose values are never shown.
fn secret(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    [
        "password",
        "passwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "credential",
    ]
    .iter()
    .any(|s| n.contains(s))
}

fn adhoc_lines(facts: &ReportFacts, local: &dyn Fn(DateTime<Utc>) -> String) -> Vec<AdhocLine> {
    facts
        .submitted
        .iter()
        .map(|r| {
            let params = match &r.params {
                serde_json::Value::Object(m) => m
                    .iter()
                    .map(|(k, v)| {
                        let v = if secret(k) {
                            "***".to_owned()
                        } else {
                            v.as_str().map_or_else(|| v.to_string(), str::to_owned)
                        };
                        format!("{k}={v}")
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                _ => String::new(),
            };
            AdhocLine {
                run_id: r.id,
                at: local(r.queued_at),
                requester: r.requested_by.clone(),
                job: r.job.clone(),
                params,
                reason: r.comment.clone(),
                result: r.status.as_str().to_owned(),
                rows: facts
                    .extracts
                    .iter()
                    .filter(|x| x.run_id == Some(r.id))
                    .map(|x| x.rows)
                    .reduce(|a, b| a + b),
            }
        })
        .collect()
}

fn changes(facts: &ReportFacts, local: &dyn Fn(DateTime<Utc>) -> String) -> Changes {
    let shown = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map_or("(absent)".to_owned(), ToString::to_string)
    };
    let parameters = facts
        .param_changes
        .iter()
        .map(|p| ParamLine {
            id: p.id,
            at: local(p.at),
            key: p.key.clone(),
            before: shown(&p.before),
            after: shown(&p.after),
            user: p.user.clone(),
            reason: p.reason.clone(),
            rolled_back: p.rolled_back_by.is_some(),
        })
        .collect();
    let mut by_department: BTreeMap<&str, PermissionLine> = BTreeMap::new();
    for p in &facts.permission_changes {
        let l = by_department
            .entry(p.department.as_str())
            .or_insert_with(|| PermissionLine {
                department: p.department.clone(),
                grants: 0,
                revokes: 0,
                skipped: 0,
            });
        match (p.outcome.as_str(), p.op.as_str()) {
            ("applied", "grant") => l.grants += 1,
            ("applied", "revoke") => l.revokes += 1,
            _ => l.skipped += 1,
        }
    }
    // A job's definition changed where one of its runs has a digest its earlier runs of the
    // month did not have.
    let mut last: BTreeMap<u32, u32> = BTreeMap::new();
    let mut definitions = Vec::new();
    for r in &facts.runs {
        match last.insert(r.job, r.digest) {
            Some(d) if d != r.digest => definitions.push(DefinitionLine {
                job: facts.jobs.get(r.job as usize).cloned().unwrap_or_default(),
                first_run: r.id,
                at: local(r.queued_at),
                digest: facts
                    .digests
                    .get(r.digest as usize)
                    .map(|d| d.chars().take(12).collect())
                    .unwrap_or_default(),
            }),
            _ => {}
        }
    }
    Changes {
        parameters,
        permissions: by_department.into_values().collect(),
        definitions,
    }
}

fn plan(period: &Period, catalog: &Catalog, settings: &Settings) -> Plan {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let Some(next) = period.next(tz, day_start) else {
        return Plan::default();
    };
    let (coming, _) = crate::schedule::forecast::forecast(
        settings,
        catalog,
        None,
        next.from,
        next.to - Duration::nanoseconds(1),
        200_000,
    );
    let mut jobs: BTreeMap<&str, u64> = BTreeMap::new();
    for c in coming
        .iter()
        .filter(|c| matches!(c.decision, "run" | "moved" | "waits"))
    {
        *jobs.entry(c.job.as_str()).or_default() += 1;
    }
    let events = coming
        .iter()
        .filter(|c| jobs.get(c.job.as_str()).is_some_and(|&n| n <= 2))
        .filter(|c| matches!(c.decision, "run" | "moved" | "waits"))
        .map(|c| PlanEvent {
            date: c
                .due_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            what: c.job.clone(),
        })
        .collect();
    let mut closed_days = Vec::new();
    for d in next.days() {
        for (name, cal) in &catalog.calendars {
            if let Some(why) = cal.closed(d)
                && !matches!(why, crate::calendar::Closed::Weekend(_))
            {
                closed_days.push(PlanEvent {
                    date: d.to_string(),
                    what: format!("{name}: {why}"),
                });
            }
        }
    }
    Plan {
        period: next.label(),
        jobs: jobs
            .into_iter()
            .map(|(name, count)| Count {
                name: name.to_owned(),
                count,
            })
            .collect(),
        events,
        closed_days,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A period ends when its last operating day does: with days starting at 06:00, December
    /// 2026 in Tokyo runs until 2027-01-01 06:00, and a report made before then is
    /// preliminary.
    #[test]
    fn a_period_ends_with_its_last_operating_day() {
        let tz = chrono_tz::Asia::Tokyo;
        let six = NaiveTime::from_hms_opt(6, 0, 0).expect("06:00");
        let december = Period::month(2026, 12, tz, six).expect("month");
        let at = |d: u32, h: u32, m: u32| {
            crate::schedule::window::local_instant(
                tz,
                NaiveDate::from_ymd_opt(2027, 1, d).expect("day"),
                NaiveTime::from_hms_opt(h, m, 0).expect("time"),
            )
            .expect("instant")
        };
        assert!(!december.ended(at(1, 5, 59)));
        assert!(december.ended(at(1, 6, 0)));
        let year = Period::fiscal_year(2026, 4, tz, six).expect("year");
        assert!(!year.ended(at(1, 6, 0)));
    }

    #[test]
    fn era_labels() {
        let both = DateStyle::Both;
        assert_eq!(label_ja(2026, 11, both), "令和8年(2026年)11月分");
        assert_eq!(label_ja(2019, 5, both), "令和元年(2019年)5月分");
        assert_eq!(label_ja(2019, 4, both), "平成31年(2019年)4月分");
        assert_eq!(label_ja(1989, 4, both), "平成元年(1989年)4月分");
        assert_eq!(label_ja(1988, 12, both), "昭和63年(1988年)12月分");
        assert_eq!(label_ja(2026, 11, DateStyle::Era), "令和8年11月分");
        assert_eq!(label_ja(2019, 4, DateStyle::Era), "平成31年4月分");
        assert_eq!(label_ja(2026, 11, DateStyle::Western), "2026年11月分");
        assert_eq!(label_ja_year(2026, both), "令和8年度(2026年度)");
        assert_eq!(label_ja_year(2019, both), "令和元年度(2019年度)");
        assert_eq!(label_ja_year(2018, DateStyle::Era), "平成30年度");
        assert_eq!(label_ja_year(1988, DateStyle::Era), "昭和63年度");
        assert_eq!(label_ja_year(2026, DateStyle::Western), "2026年度");
    }

    #[test]
    fn a_month_in_tokyo_starts_at_the_day_start() {
        let tz: Tz = "Asia/Tokyo".parse().expect("tz");
        let p = Period::parse("2026-10", tz, NaiveTime::MIN).expect("month");
        assert_eq!(p.from.to_rfc3339(), "2026-09-30T15:00:00+00:00");
        assert_eq!(p.to.to_rfc3339(), "2026-10-31T15:00:00+00:00");
        let six = NaiveTime::from_hms_opt(6, 0, 0).expect("time");
        let p = Period::parse("2026-12", tz, six).expect("month");
        assert_eq!(p.to.to_rfc3339(), "2026-12-31T21:00:00+00:00");
        for bad in ["2026-13", "2026", "26-01", "x-y", "2026-00"] {
            assert!(Period::parse(bad, tz, NaiveTime::MIN).is_err(), "{bad}");
        }
    }

    #[test]
    fn p95_is_the_nearest_rank() {
        let xs: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(stats(xs), (Some(50.5), Some(95.0)));
        assert_eq!(stats(vec![7.0]), (Some(7.0), Some(7.0)));
        assert_eq!(stats(vec![]), (None, None));
    }

    #[test]
    fn skips_are_told_apart_by_what_the_reader_needs() {
        let closed = |r: &str| skip_reason(SlotOutcome::SkippedClosedDay, Some(r));
        assert_eq!(closed("closed: weekend (Sat)").as_deref(), Some("weekend"));
        assert_eq!(closed("closed: weekend (Sun)").as_deref(), Some("weekend"));
        assert_eq!(
            closed("closed: year-end closure").as_deref(),
            Some("year_end")
        );
        assert_eq!(
            closed("closed: public holiday スポーツの日 (Sports Day)").as_deref(),
            Some("スポーツの日 (Sports Day)")
        );
        assert_eq!(
            closed("closed: closed (2027-05-06); no business day within 31 days").as_deref(),
            Some("closed (2027-05-06)")
        );
        let overlap = "run 842 of `batch-001` is still active (overlap: forbid)";
        assert_eq!(
            skip_reason(SlotOutcome::SkippedOverlap, Some(overlap)),
            None
        );
        assert_eq!(
            skip_reason(SlotOutcome::Held, Some("maintenance")).as_deref(),
            Some("maintenance")
        );
    }

    #[test]
    fn secrets_are_not_shown() {
        assert!(secret("db_password") && secret("API_TOKEN") && !secret("department"));
    }
}
