//! Improvement proposals (改善提案) drawn from the records, each with its evidence: jobs
//! getting slower month over month (medians per month, a Theil–Sen slope, a projection
//! against the job's deadline), incidents that recur with the same cause class, service
//! levels at risk or met with a wide margin, health checks that flap, runbook rules that
//! fire often, and disk or data growth against capacity.
//!
//! Pure: the callers read the records and hand them over as the plain samples below
//! ([`Records`]), with the months to look at ([`Month`]) and the thresholds of `unyo.yaml`
//! ([`Thresholds`]); [`proposals`] decides. The same records give the same proposals in the
//! same order, so a re-rendered report is byte for byte the same.
//!
//! A *cause class* is the job, the step and the failure class (`exit 3`, `timeout`, `target
//! down: db`): what the records state the same way each time the same thing breaks. The
//! cause an operator types when resolving is free text, written differently each time, so it
//! is shown as evidence but does not group; the severity is not part of it either (the same
//! failure may be raised at another severity by a later rule).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

#[cfg(test)]
mod tests;

/// The thresholds of `proposals:` in `unyo.yaml`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// Months looked back over, the report's month included.
    pub months: u32,
    /// Fewest months with enough successful runs for a trend.
    pub trend_months: usize,
    /// Fewest successful runs in a month for its median to count.
    pub trend_runs: usize,
    /// The fitted rise per month, in percent of the typical duration, from which a job is
    /// getting slower (ordinary variation of ±20 % a run moves monthly medians far less).
    pub slower_percent: f64,
    /// A deadline reached within this many months is said to be at risk.
    pub horizon_months: f64,
    /// Incidents (occurrences counted) of one cause class in the months looked back over
    /// from which it recurs.
    pub recurring: u32,
    /// A service level is at risk when no more than this percentage of its allowance (the
    /// failures its target allows, or its limit) is left.
    pub sla_at_risk_percent: f64,
    /// A service level is met with a wide margin when no more than this percentage of its
    /// allowance was used.
    pub sla_wide_percent: f64,
    /// Fewest runs, incidents or slots a service level must have measured for a revision.
    pub sla_samples: u64,
    /// Days a health check flapped on in the period from which it is proposed.
    pub flap_days: usize,
    /// Times a runbook rule fired in the months looked back over from which it is a
    /// candidate for a permanent fix.
    pub rule_firings: u32,
    /// Percent of capacity a disk or data size may reach.
    pub capacity_percent: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            months: 6,
            trend_months: 3,
            trend_runs: 4,
            slower_percent: 5.0,
            horizon_months: 12.0,
            recurring: 3,
            sla_at_risk_percent: 20.0,
            sla_wide_percent: 10.0,
            sla_samples: 20,
            flap_days: 2,
            rule_firings: 10,
            capacity_percent: 90.0,
        }
    }
}

/// One month looked at, oldest first; the last is the report's (or the one `now` is in).
#[derive(Debug, Clone, PartialEq)]
pub struct Month {
    /// `2026-10`.
    pub label: String,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

/// A successful run, as the trend reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunSample {
    pub job: String,
    pub id: i64,
    pub started_at: DateTime<Utc>,
    /// From its start to its end.
    pub seconds: f64,
    /// From when it was queued (its slot was due) to its end.
    pub elapsed: f64,
    /// Its end, in seconds after the start of its business date (`day_start`).
    pub end_offset: f64,
}

/// What a deadline of a job is measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitKind {
    /// `max_runtime`: the run's time.
    MaxRuntime,
    /// `sla.max_duration`: the run's time.
    MaxDuration,
    /// `end_delay` as a duration: from the slot to the end.
    EndDelay,
    /// `end_delay` as a time of day: the end.
    EndBy,
    /// `sla.complete_by`: the end.
    CompleteBy,
    /// The end of the job's `window:` (the backup window).
    WindowEnd,
}

impl LimitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            LimitKind::MaxRuntime => "max_runtime",
            LimitKind::MaxDuration => "max_duration",
            LimitKind::EndDelay => "end_delay",
            LimitKind::EndBy => "end_delay",
            LimitKind::CompleteBy => "complete_by",
            LimitKind::WindowEnd => "window",
        }
    }

    /// Whether it is a time of day (the end against it) rather than a duration.
    pub fn is_clock(self) -> bool {
        matches!(
            self,
            LimitKind::EndBy | LimitKind::CompleteBy | LimitKind::WindowEnd
        )
    }
}

/// A deadline of a job: a duration, or a time of day as seconds after the day's start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Limit {
    pub job: String,
    pub kind: LimitKind,
    /// Seconds: the duration, or the time of day after the day's start.
    pub seconds: f64,
    /// As written: `06:00`, `1h`.
    pub text: String,
}

/// An incident, as recurrence reads it.
#[derive(Debug, Clone, PartialEq)]
pub struct IncidentSample {
    pub id: i64,
    pub opened_at: DateTime<Utc>,
    pub job: String,
    pub step: Option<String>,
    pub failure_class: String,
    pub occurrences: i64,
    /// Its last occurrence.
    pub last_seen_at: DateTime<Utc>,
    /// The cause recorded when it was resolved.
    pub cause: Option<String>,
}

/// What a service level promises and what was measured.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SlaMeasure {
    /// The job, or `service` for the service's items.
    pub subject: String,
    /// `success_rate`, `availability`, `max_duration` ...
    pub item: String,
    /// As agreed: `99.5%`, `1h`.
    pub agreed: String,
    pub measure: Measure,
    /// Runs, incidents, slots (or seconds of service) measured.
    pub total: u64,
}

/// How a service level is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Measure {
    /// A share that must reach `target` percent: `ok` of `total`.
    Rate { target: f64, ok: u64 },
    /// A limit no run may pass: the longest run against it, seconds.
    Limit { limit: f64, worst: f64 },
}

/// A health check's state changes in the period (instants, oldest first, including some
/// before it so that a flap across its start is seen).
#[derive(Debug, Clone, PartialEq)]
pub struct TargetChanges {
    pub target: String,
    pub changes: Vec<DateTime<Utc>>,
}

/// A failed attempt a runbook rule matched.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFiring {
    /// `runbook#N: description`.
    pub rule: String,
    pub job: String,
    pub step: String,
    pub run_id: i64,
    pub at: DateTime<Utc>,
}

/// A measured size with its capacity: a check's performance data (`/=2643MB;;;0;8000`).
#[derive(Debug, Clone, PartialEq)]
pub struct UsageSample {
    pub target: String,
    /// The performance data's label (`/`, `/var`).
    pub label: String,
    pub unit: String,
    pub at: DateTime<Utc>,
    pub value: f64,
    /// The capacity (the performance data's `max`).
    pub max: f64,
}

/// Everything proposals are drawn from.
#[derive(Debug, Clone, Default)]
pub struct Records {
    /// Successful runs in the months looked at.
    pub runs: Vec<RunSample>,
    pub limits: Vec<Limit>,
    /// Incidents opened in the months looked at.
    pub incidents: Vec<IncidentSample>,
    /// The service levels of the period.
    pub sla: Vec<SlaMeasure>,
    pub checks: Vec<TargetChanges>,
    /// Rule firings in the months looked at.
    pub firings: Vec<RuleFiring>,
    /// Sizes in the months looked at.
    pub usage: Vec<UsageSample>,
}

/// What a proposal is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A job getting slower month over month.
    Slower,
    /// Incidents of one cause class recurring.
    Recurring,
    /// A service level met, but near its target.
    SlaAtRisk,
    /// A service level met with a wide margin: its target could be revised.
    SlaMargin,
    /// A health check changing state again and again.
    Flapping,
    /// A runbook rule firing often: a candidate for a permanent fix.
    FrequentRule,
    /// A disk or data size growing towards its capacity.
    Capacity,
}

impl Kind {
    pub const ALL: [Kind; 7] = [
        Kind::Slower,
        Kind::Recurring,
        Kind::SlaAtRisk,
        Kind::SlaMargin,
        Kind::Flapping,
        Kind::FrequentRule,
        Kind::Capacity,
    ];

    /// The token shown and written in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Slower => "slower",
            Kind::Recurring => "recurring",
            Kind::SlaAtRisk => "sla_at_risk",
            Kind::SlaMargin => "sla_margin",
            Kind::Flapping => "flapping",
            Kind::FrequentRule => "frequent_rule",
            Kind::Capacity => "capacity",
        }
    }
}

/// One month's figure of a trend.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MonthFigure {
    pub month: String,
    pub runs: usize,
    /// The month's median, seconds.
    pub median: f64,
}

/// Where a trend meets a deadline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Projection {
    pub limit: Limit,
    /// The fitted value at the last month, seconds (a duration, or the end after the day's
    /// start).
    pub now: f64,
    /// Months from the last month until the fitted line reaches the limit (0: already).
    pub months: f64,
}

/// A proposal's evidence: the figures and the records behind it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Evidence {
    Slower {
        months: Vec<MonthFigure>,
        /// Fitted rise per month, seconds, and in percent of the typical duration.
        slope: f64,
        percent: f64,
        /// The earliest deadline the trend reaches, if any does within the horizon.
        projection: Option<Projection>,
        /// The slowest successful runs of the last month.
        runs: Vec<i64>,
    },
    Recurring {
        step: Option<String>,
        failure_class: String,
        /// Incidents, oldest first, and their occurrences summed.
        incidents: Vec<i64>,
        occurrences: i64,
        first: DateTime<Utc>,
        last: DateTime<Utc>,
        /// The distinct causes recorded when they were resolved.
        causes: Vec<String>,
    },
    Sla {
        item: String,
        agreed: String,
        measure: Measure,
        total: u64,
        /// Percent of the allowance used (at most 100: a broken one is not proposed).
        used: f64,
        /// The measured value: a rate in percent, or the longest run in seconds.
        measured: f64,
    },
    Flapping {
        /// Days (UTC dates of the flaps' instants are given by the caller's days).
        days: Vec<NaiveDate>,
        changes: usize,
    },
    FrequentRule {
        job: String,
        step: String,
        firings: usize,
        /// Runs it fired in, oldest first (at most [`EVIDENCE_RUNS`]), and how many in all.
        runs: Vec<i64>,
        run_count: usize,
        /// Firings per month looked at.
        months: Vec<(String, usize)>,
    },
    Capacity {
        label: String,
        unit: String,
        first: f64,
        last: f64,
        max: f64,
        /// The last value in percent of capacity.
        percent: f64,
        /// Fitted growth per month, in the unit.
        slope: f64,
        /// Months until the threshold of capacity is reached (0: already).
        months: f64,
        samples: usize,
    },
}

/// One improvement proposal.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Proposal {
    pub kind: Kind,
    /// The job, the check's target, the service level's subject, the rule.
    pub subject: String,
    pub evidence: Evidence,
}

/// How many runs a proposal names as evidence.
pub const EVIDENCE_RUNS: usize = 5;

/// The months looked at: oldest first, the period's last; the period (a month, or the
/// months of a fiscal year) starts at `period_from`.
#[derive(Debug, Clone, PartialEq)]
pub struct Span {
    pub months: Vec<Month>,
    pub period_from: DateTime<Utc>,
}

impl Span {
    /// The months given, the period being the last one.
    pub fn last_month(months: Vec<Month>) -> Span {
        let period_from = months.last().map_or(DateTime::<Utc>::MIN_UTC, |m| m.from);
        Span {
            months,
            period_from,
        }
    }

    fn in_period(&self, at: DateTime<Utc>) -> bool {
        at >= self.period_from && self.months.last().is_some_and(|m| at < m.to)
    }
}

/// The proposals the records show over `span`, by kind, then subject. A recurring cause
/// class, a frequent rule and a flapping check must have shown in the period itself (an old
/// pattern that stopped is not proposed again); the trend and growth use every month.
/// `days_of` turns an instant into the local day (for flapping).
pub fn proposals(
    records: &Records,
    span: &Span,
    t: &Thresholds,
    days_of: &dyn Fn(DateTime<Utc>) -> NaiveDate,
) -> Vec<Proposal> {
    let mut out = Vec::new();
    let months = &span.months[..];
    if months.is_empty() {
        return out;
    }
    out.extend(slower(records, months, t));
    out.extend(recurring(records, span, t));
    out.extend(sla(records, t));
    out.extend(flapping(records, span, t, days_of));
    out.extend(frequent_rules(records, span, t));
    out.extend(capacity(records, months, t));
    out.sort_by(|a, b| a.kind.cmp(&b.kind).then_with(|| a.subject.cmp(&b.subject)));
    out
}

/// The median of `values` (any order); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// A line fitted robustly: `y = intercept + slope * x`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fit {
    pub slope: f64,
    pub intercept: f64,
}

impl Fit {
    pub fn at(&self, x: f64) -> f64 {
        self.intercept + self.slope * x
    }

    /// How far past `x` the line reaches `level`: 0 when it has already, `None` when it
    /// does not rise.
    pub fn reaches(&self, x: f64, level: f64) -> Option<f64> {
        let now = self.at(x);
        if now >= level {
            return Some(0.0);
        }
        (self.slope > 0.0).then(|| (level - now) / self.slope)
    }
}

/// The Theil–Sen line through `points`: the median of the slopes of every pair, the median
/// of what is left as the intercept. One month far off moves it little, unlike least
/// squares. `None` with fewer than two distinct x.
pub fn theil_sen(points: &[(f64, f64)]) -> Option<Fit> {
    let mut slopes = Vec::new();
    for (i, a) in points.iter().enumerate() {
        for b in &points[i + 1..] {
            if b.0 != a.0 {
                slopes.push((b.1 - a.1) / (b.0 - a.0));
            }
        }
    }
    let slope = median(&slopes)?;
    let rests: Vec<f64> = points.iter().map(|(x, y)| y - slope * x).collect();
    Some(Fit {
        slope,
        intercept: median(&rests)?,
    })
}

fn month_of(months: &[Month], at: DateTime<Utc>) -> Option<usize> {
    months.iter().position(|m| at >= m.from && at < m.to)
}

fn slower(records: &Records, months: &[Month], t: &Thresholds) -> Vec<Proposal> {
    let mut by_job: BTreeMap<&str, Vec<Vec<&RunSample>>> = BTreeMap::new();
    for r in &records.runs {
        if let Some(i) = month_of(months, r.started_at) {
            by_job
                .entry(&r.job)
                .or_insert_with(|| vec![Vec::new(); months.len()])[i]
                .push(r);
        }
    }
    let last = (months.len() - 1) as f64;
    let mut out = Vec::new();
    for (job, per_month) in by_job {
        // Month index and the runs of each month with enough runs to tell.
        let counted: Vec<(usize, &Vec<&RunSample>)> = per_month
            .iter()
            .enumerate()
            .filter(|(_, runs)| runs.len() >= t.trend_runs.max(1))
            .collect();
        if counted.len() < t.trend_months.max(2) {
            continue;
        }
        let series = |f: fn(&RunSample) -> f64| -> Vec<(f64, f64)> {
            counted
                .iter()
                .filter_map(|(i, runs)| {
                    let v: Vec<f64> = runs.iter().map(|r| f(r)).collect();
                    Some((*i as f64, median(&v)?))
                })
                .collect()
        };
        let durations = series(|r| r.seconds);
        let Some(fit) = theil_sen(&durations) else {
            continue;
        };
        let typical = median(&durations.iter().map(|p| p.1).collect::<Vec<_>>()).unwrap_or(0.0);
        if typical <= 0.0 {
            continue;
        }
        let percent = fit.slope * 100.0 / typical;
        if percent < t.slower_percent {
            continue;
        }
        // The earliest deadline the job's trend reaches within the horizon, each deadline
        // against the series it is measured on.
        let mut projection: Option<Projection> = None;
        for limit in records.limits.iter().filter(|l| l.job == job) {
            let points = match limit.kind {
                LimitKind::MaxRuntime | LimitKind::MaxDuration => durations.clone(),
                LimitKind::EndDelay => series(|r| r.elapsed),
                LimitKind::EndBy | LimitKind::CompleteBy | LimitKind::WindowEnd => {
                    series(|r| r.end_offset)
                }
            };
            let Some(f) = theil_sen(&points) else {
                continue;
            };
            let Some(m) = f.reaches(last, limit.seconds) else {
                continue;
            };
            // Compared as shown: of deadlines reached at the same time, the first listed.
            let m = round1(m);
            if m <= t.horizon_months && projection.as_ref().is_none_or(|p| m < p.months) {
                projection = Some(Projection {
                    limit: limit.clone(),
                    now: round2(f.at(last)),
                    months: m,
                });
            }
        }
        let mut latest: Vec<&RunSample> = per_month.last().cloned().unwrap_or_default();
        latest.sort_by(|a, b| b.seconds.total_cmp(&a.seconds).then(a.id.cmp(&b.id)));
        let mut runs: Vec<i64> = latest.iter().take(EVIDENCE_RUNS).map(|r| r.id).collect();
        runs.sort_unstable();
        out.push(Proposal {
            kind: Kind::Slower,
            subject: job.to_owned(),
            evidence: Evidence::Slower {
                months: counted
                    .iter()
                    .zip(&durations)
                    .map(|((i, runs), (_, m))| MonthFigure {
                        month: months[*i].label.clone(),
                        runs: runs.len(),
                        median: round2(*m),
                    })
                    .collect(),
                slope: round2(fit.slope),
                percent: round1(percent),
                projection,
                runs,
            },
        });
    }
    out
}

fn recurring(records: &Records, span: &Span, t: &Thresholds) -> Vec<Proposal> {
    let months = &span.months;
    let (from, to) = (months[0].from, months[months.len() - 1].to);
    type Key<'a> = (&'a str, Option<&'a str>, &'a str);
    let mut classes: BTreeMap<Key<'_>, Vec<&IncidentSample>> = BTreeMap::new();
    for i in records
        .incidents
        .iter()
        .filter(|i| i.opened_at >= from && i.opened_at < to)
    {
        classes
            .entry((&i.job, i.step.as_deref(), &i.failure_class))
            .or_default()
            .push(i);
    }
    let mut out = Vec::new();
    for ((job, step, class), mut list) in classes {
        list.sort_by_key(|i| (i.opened_at, i.id));
        let occurrences: i64 = list.iter().map(|i| i.occurrences.max(1)).sum();
        // Recurring, and still so: one of them opened or seen again in the period itself.
        if occurrences < i64::from(t.recurring)
            || !list
                .iter()
                .any(|i| span.in_period(i.opened_at) || span.in_period(i.last_seen_at))
        {
            continue;
        }
        let mut causes: Vec<String> = Vec::new();
        for c in list.iter().filter_map(|i| i.cause.as_deref()) {
            let c = c.trim();
            if !c.is_empty() && !causes.iter().any(|k| k == c) {
                causes.push(c.to_owned());
            }
        }
        out.push(Proposal {
            kind: Kind::Recurring,
            subject: job.to_owned(),
            evidence: Evidence::Recurring {
                step: step.map(str::to_owned),
                failure_class: class.to_owned(),
                incidents: list.iter().map(|i| i.id).collect(),
                occurrences,
                first: list[0].opened_at,
                last: list[list.len() - 1].opened_at,
                causes,
            },
        });
    }
    out
}

/// Percent of a service level's allowance used: of the failures its target allows, or of
/// its limit. `None` when it allows nothing (a target of 100 %) and nothing failed.
pub fn allowance_used(m: &Measure, total: u64) -> Option<f64> {
    match *m {
        Measure::Rate { target, ok } => {
            let failed = total.saturating_sub(ok) as f64;
            let allowed = (100.0 - target) * total as f64 / 100.0;
            if allowed <= 0.0 {
                (failed > 0.0).then_some(f64::INFINITY)
            } else {
                Some(failed * 100.0 / allowed)
            }
        }
        Measure::Limit { limit, worst } => (limit > 0.0).then(|| worst * 100.0 / limit),
    }
}

fn sla(records: &Records, t: &Thresholds) -> Vec<Proposal> {
    let mut out = Vec::new();
    for s in records.sla.iter().filter(|s| s.total > 0) {
        // Broken (more used than allowed): the report's service levels list it with the
        // runs, incidents or slots that broke it; it is no longer a risk to propose.
        let Some(used) = allowance_used(&s.measure, s.total).filter(|u| *u <= 100.0) else {
            continue;
        };
        let kind = if used >= 100.0 - t.sla_at_risk_percent {
            Kind::SlaAtRisk
        } else if used <= t.sla_wide_percent && s.total >= t.sla_samples {
            Kind::SlaMargin
        } else {
            continue;
        };
        let measured = match s.measure {
            Measure::Rate { ok, .. } => ok as f64 * 100.0 / s.total as f64,
            Measure::Limit { worst, .. } => worst,
        };
        out.push(Proposal {
            kind,
            subject: s.subject.clone(),
            evidence: Evidence::Sla {
                item: s.item.clone(),
                agreed: s.agreed.clone(),
                measure: s.measure,
                total: s.total,
                used: round1(used),
                measured: round2(measured),
            },
        });
    }
    out
}

fn flapping(
    records: &Records,
    span: &Span,
    t: &Thresholds,
    days_of: &dyn Fn(DateTime<Utc>) -> NaiveDate,
) -> Vec<Proposal> {
    let mut out = Vec::new();
    for c in &records.checks {
        let mut days: Vec<NaiveDate> = super::check::flaps(&c.changes)
            .into_iter()
            .filter(|at| span.in_period(*at))
            .map(days_of)
            .collect();
        days.dedup();
        if days.len() < t.flap_days.max(1) {
            continue;
        }
        out.push(Proposal {
            kind: Kind::Flapping,
            subject: c.target.clone(),
            evidence: Evidence::Flapping {
                days,
                changes: c.changes.iter().filter(|at| span.in_period(**at)).count(),
            },
        });
    }
    out
}

fn frequent_rules(records: &Records, span: &Span, t: &Thresholds) -> Vec<Proposal> {
    let months = &span.months[..];
    let mut rules: BTreeMap<(&str, &str, &str), Vec<&RuleFiring>> = BTreeMap::new();
    for f in records
        .firings
        .iter()
        .filter(|f| month_of(months, f.at).is_some())
    {
        rules.entry((&f.rule, &f.job, &f.step)).or_default().push(f);
    }
    let mut out = Vec::new();
    for ((rule, job, step), list) in rules {
        if list.len() < t.rule_firings as usize || !list.iter().any(|f| span.in_period(f.at)) {
            continue;
        }
        let mut runs: Vec<i64> = list.iter().map(|f| f.run_id).collect();
        runs.sort_unstable();
        runs.dedup();
        let run_count = runs.len();
        runs.truncate(EVIDENCE_RUNS);
        out.push(Proposal {
            kind: Kind::FrequentRule,
            subject: rule.to_owned(),
            evidence: Evidence::FrequentRule {
                job: job.to_owned(),
                step: step.to_owned(),
                firings: list.len(),
                runs,
                run_count,
                months: months
                    .iter()
                    .enumerate()
                    .map(|(i, m)| {
                        let n = list
                            .iter()
                            .filter(|f| month_of(months, f.at) == Some(i))
                            .count();
                        (m.label.clone(), n)
                    })
                    .collect(),
            },
        });
    }
    out
}

/// Average days in a month, to turn a slope per day into one per month.
const DAYS_PER_MONTH: f64 = 30.44;

fn capacity(records: &Records, months: &[Month], t: &Thresholds) -> Vec<Proposal> {
    let (from, to) = (months[0].from, months[months.len() - 1].to);
    let mut series: BTreeMap<(&str, &str), Vec<&UsageSample>> = BTreeMap::new();
    for u in records
        .usage
        .iter()
        .filter(|u| u.at >= from && u.at < to && u.max > 0.0)
    {
        series.entry((&u.target, &u.label)).or_default().push(u);
    }
    let mut out = Vec::new();
    for ((target, label), mut list) in series {
        list.sort_by_key(|u| u.at);
        // One point a day (the day's last), so that a check run every minute weighs no
        // more than one run daily.
        let mut daily: BTreeMap<i64, &UsageSample> = BTreeMap::new();
        for u in &list {
            daily.insert((u.at - from).num_days(), u);
        }
        if daily.len() < 3 {
            continue;
        }
        let points: Vec<(f64, f64)> = daily.iter().map(|(d, u)| (*d as f64, u.value)).collect();
        let Some(fit) = theil_sen(&points) else {
            continue;
        };
        let (first, last) = (list[0], list[list.len() - 1]);
        let level = last.max * t.capacity_percent / 100.0;
        let last_day = (last.at - from).num_days() as f64;
        let Some(days) = fit.reaches(last_day, level) else {
            continue;
        };
        let months_left = days / DAYS_PER_MONTH;
        if months_left > t.horizon_months {
            continue;
        }
        out.push(Proposal {
            kind: Kind::Capacity,
            subject: target.to_owned(),
            evidence: Evidence::Capacity {
                label: label.to_owned(),
                unit: last.unit.clone(),
                first: first.value,
                last: last.value,
                max: last.max,
                percent: round1(last.value * 100.0 / last.max),
                slope: round2(fit.slope * DAYS_PER_MONTH),
                months: round1(months_left),
                samples: daily.len(),
            },
        });
    }
    out
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}
