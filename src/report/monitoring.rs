//! The report's monitoring section (稼働監視の状況): what the monitoring found in the period
//! with its evidence (lateness and stuck steps: the deadline and how late; slowdowns: the
//! duration against the baseline of its day class), counted by kind, and a short analysis of
//! trends: the jobs whose successful runs got slower from the first half of the period to the
//! second. Health checks by target kind (availability, incidents, flapping targets) are the
//! section's other part, added beside these fields.
//!
//! Pure: computed from the period's facts only; the words of its tokens are here too
//! (`word`), for the renderers.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::jobs::took;
use super::{Count, Period, cap, round2};
use crate::domain::lateness::Breach;
use crate::store::{FindingRow, ReportFacts, RunStatus};

/// The monitoring section.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Monitoring {
    /// Findings by kind, in the order of `Breach::ALL`; kinds with none left out.
    pub counts: Vec<Count>,
    /// Runs that broke a deadline (`start_delay`, `end_delay`, `max_runtime`) or had a stuck
    /// step, at most [`super::EVIDENCE`]; `lateness_more` says how many are left out.
    pub lateness: Vec<FindingLine>,
    pub lateness_more: u64,
    /// Runs far slower or faster than the baseline of their day class, with that baseline.
    pub slowdowns: Vec<FindingLine>,
    pub slowdowns_more: u64,
    /// Jobs whose successful runs got slower over the period, most first.
    pub slower: Vec<TrendLine>,
}

/// One finding, every figure as shown (seconds with a tenth).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FindingLine {
    /// When it was found, local.
    pub at: String,
    pub job: String,
    pub run: i64,
    /// `start_delay`, `end_delay`, `max_runtime`, `stuck`, `slow`, `fast`.
    pub kind: String,
    /// The stuck step.
    pub step: Option<String>,
    pub business_date: String,
    /// The deadline that was passed, local.
    pub deadline: Option<String>,
    /// Seconds: how late (start_delay, end_delay), how long it ran (max_runtime, slow,
    /// fast), how long the step was quiet (stuck).
    pub observed_seconds: Option<f64>,
    /// Seconds: the limit (max_runtime, stuck_after) or the baseline's median.
    pub expected_seconds: Option<f64>,
    /// Seconds: the baseline's median absolute deviation.
    pub mad_seconds: Option<f64>,
    /// Runs in the baseline.
    pub samples: Option<i64>,
    /// `ordinary`, `month_end`, `fiscal_year_end`.
    pub day_class: Option<String>,
    /// The duration over the median.
    pub ratio: Option<f64>,
    /// The incident it opened (or added an occurrence to).
    pub incident: Option<i64>,
}

/// A job whose successful runs took longer in the second half of the period than in the
/// first.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TrendLine {
    pub job: String,
    /// Successful runs in each half.
    pub first_runs: u64,
    pub second_runs: u64,
    /// Median duration of each half, seconds.
    pub first_median_seconds: f64,
    pub second_median_seconds: f64,
    pub change_percent: f64,
}

/// Fewest successful runs in each half of the period for a trend to be told.
const TREND_MIN_RUNS: usize = 3;

/// The rise of the median, in percent, from which a job is listed as got slower: more than
/// ordinary variation.
const TREND_PERCENT: f64 = 20.0;

/// How many jobs the trend lists.
const TREND_LINES: usize = 10;

/// The section of `period`.
pub(super) fn monitoring(period: &Period, facts: &ReportFacts, tz: Tz) -> Monitoring {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let counts = Breach::ALL
        .iter()
        .filter_map(|b| {
            let n = facts
                .findings
                .iter()
                .filter(|f| f.kind == b.token())
                .count() as u64;
            (n > 0).then(|| Count {
                name: b.token().to_owned(),
                count: n,
            })
        })
        .collect();
    let is_slowdown = |f: &&FindingRow| {
        matches!(
            Breach::from_token(&f.kind),
            Some(Breach::Slow | Breach::Fast)
        )
    };
    let line = |f: &FindingRow| FindingLine {
        at: local(f.at),
        job: f.job.clone(),
        run: f.run_id,
        kind: f.kind.clone(),
        step: f.step.clone(),
        business_date: f.business_date.to_string(),
        deadline: f.deadline.map(local),
        observed_seconds: f.observed.map(tenth),
        expected_seconds: f.expected.map(tenth),
        mad_seconds: f.spread.map(tenth),
        samples: f.samples,
        day_class: f.day_class.clone(),
        ratio: match (f.observed, f.expected) {
            (Some(o), Some(e)) if is_slowdown(&f) && e > 0.0 => Some(round2(o / e)),
            _ => None,
        },
        incident: f.incident_id,
    };
    let (lateness, lateness_more) = cap(facts
        .findings
        .iter()
        .filter(|f| !is_slowdown(f))
        .map(line)
        .collect());
    let (slowdowns, slowdowns_more) = cap(facts
        .findings
        .iter()
        .filter(is_slowdown)
        .map(line)
        .collect());
    Monitoring {
        counts,
        lateness,
        lateness_more,
        slowdowns,
        slowdowns_more,
        slower: slower(period, facts),
    }
}

fn tenth(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 {
        xs[n / 2]
    } else {
        (xs[n / 2 - 1] + xs[n / 2]) / 2.0
    }
}

/// The jobs whose median successful duration rose by [`TREND_PERCENT`] or more from the
/// first half of the period (by when the runs were queued) to the second.
fn slower(period: &Period, facts: &ReportFacts) -> Vec<TrendLine> {
    let middle = period.from + (period.to - period.from) / 2;
    let mut halves: BTreeMap<u32, (Vec<f64>, Vec<f64>)> = BTreeMap::new();
    for r in facts
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Succeeded)
    {
        let Some(d) = took(r) else {
            continue;
        };
        let e = halves.entry(r.job).or_default();
        if r.queued_at < middle {
            e.0.push(d);
        } else {
            e.1.push(d);
        }
    }
    let mut out: Vec<TrendLine> = halves
        .into_iter()
        .filter(|(_, (a, b))| a.len() >= TREND_MIN_RUNS && b.len() >= TREND_MIN_RUNS)
        .filter_map(|(job, (a, b))| {
            let (first_runs, second_runs) = (a.len() as u64, b.len() as u64);
            let (m1, m2) = (median(a), median(b));
            if m1 <= 0.0 {
                return None;
            }
            let change = (m2 - m1) * 100.0 / m1;
            (change >= TREND_PERCENT).then(|| TrendLine {
                job: facts.jobs.get(job as usize).cloned().unwrap_or_default(),
                first_runs,
                second_runs,
                first_median_seconds: tenth(m1),
                second_median_seconds: tenth(m2),
                change_percent: round2(change),
            })
        })
        .collect();
    out.sort_by(|a, b| {
        b.change_percent
            .total_cmp(&a.change_percent)
            .then(a.job.cmp(&b.job))
    });
    out.truncate(TREND_LINES);
    out
}

/// The words of this section's tokens, Japanese; `None` for a token not its own.
pub(super) fn word_ja(token: &str) -> Option<&'static str> {
    Some(match token {
        "monitoring" => "稼働監視の状況",
        "start_delay" => "開始遅延",
        "end_delay" => "終了遅延",
        "max_runtime" => "実行時間超過",
        "stuck" => "無応答(出力停止)",
        "slow" => "処理遅延(基準比)",
        "fast" => "処理時間の異常短縮",
        "ordinary" => "通常日",
        "month_end" => "月末",
        "fiscal_year_end" => "年度末",
        "monitoring_findings" => "稼働監視の検知件数",
        "lateness" => "遅延・無応答",
        "slowdowns" => "処理時間の逸脱",
        "slower_jobs" => "処理時間が伸びたジョブ",
        "found_at" => "検知日時",
        "kind" => "種別",
        "step" => "ステップ",
        "business_date" => "業務日付",
        "deadline" => "期限",
        "observed_seconds" => "実測(秒)",
        "expected_seconds" => "基準・上限(秒)",
        "mad_seconds" => "ばらつきMAD(秒)",
        "samples" => "基準の実行数",
        "day_class" => "日区分",
        "incident" => "インシデント番号",
        "first_runs" => "前半の実行数",
        "second_runs" => "後半の実行数",
        "first_median_seconds" => "前半の中央値(秒)",
        "second_median_seconds" => "後半の中央値(秒)",
        "change_percent" => "増減(%)",
        _ => return None,
    })
}

/// The words of this section's tokens, English; `None` for a token not its own.
pub(super) fn word_en(token: &str) -> Option<&'static str> {
    Some(match token {
        "start_delay" => "late start",
        "end_delay" => "late end",
        "max_runtime" => "ran too long",
        "stuck" => "stuck (no output)",
        "slow" => "far slower than usual",
        "fast" => "suspiciously fast",
        "ordinary" => "ordinary day",
        "month_end" => "month end",
        "fiscal_year_end" => "fiscal year end",
        "monitoring_findings" => "monitoring findings",
        "lateness" => "lateness and stuck steps",
        "slowdowns" => "durations far from their baseline",
        "slower_jobs" => "jobs that got slower",
        "found_at" => "found at",
        "business_date" => "business date",
        "observed_seconds" => "observed (s)",
        "expected_seconds" => "baseline or limit (s)",
        "mad_seconds" => "MAD (s)",
        "samples" => "runs in the baseline",
        "day_class" => "day class",
        "first_runs" => "runs, first half",
        "second_runs" => "runs, second half",
        "first_median_seconds" => "median, first half (s)",
        "second_median_seconds" => "median, second half (s)",
        "change_percent" => "change (%)",
        _ => return None,
    })
}

/// A CSV table: its title, its header, its rows.
pub(super) type CsvTable = (&'static str, Vec<&'static str>, Vec<Vec<String>>);

/// The section's tables for the CSV form (tokens as they are; the caller puts titles,
/// headers and kinds into the report's language).
pub(super) fn csv_tables(m: &Monitoring) -> Vec<CsvTable> {
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let finding = |f: &FindingLine| {
        vec![
            f.at.clone(),
            f.job.clone(),
            f.run.to_string(),
            f.kind.clone(),
            f.step.clone().unwrap_or_default(),
            f.business_date.clone(),
            f.deadline.clone().unwrap_or_default(),
            opt(f.observed_seconds),
            opt(f.expected_seconds),
            opt(f.mad_seconds),
            f.samples.map(|n| n.to_string()).unwrap_or_default(),
            f.day_class.clone().unwrap_or_default(),
            f.incident.map(|n| n.to_string()).unwrap_or_default(),
        ]
    };
    let header = vec![
        "found_at",
        "job",
        "run",
        "kind",
        "step",
        "business_date",
        "deadline",
        "observed_seconds",
        "expected_seconds",
        "mad_seconds",
        "samples",
        "day_class",
        "incident",
    ];
    vec![
        (
            "monitoring_findings",
            header.clone(),
            m.lateness.iter().chain(&m.slowdowns).map(finding).collect(),
        ),
        (
            "slower_jobs",
            vec![
                "job",
                "first_runs",
                "second_runs",
                "first_median_seconds",
                "second_median_seconds",
                "change_percent",
            ],
            m.slower
                .iter()
                .map(|t| {
                    vec![
                        t.job.clone(),
                        t.first_runs.to_string(),
                        t.second_runs.to_string(),
                        t.first_median_seconds.to_string(),
                        t.second_median_seconds.to_string(),
                        t.change_percent.to_string(),
                    ]
                })
                .collect(),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{RunFact, Trigger};
    use chrono::TimeZone;

    fn period() -> Period {
        Period::month(2026, 10, chrono_tz::Asia::Tokyo, chrono::NaiveTime::MIN).expect("period")
    }

    fn run(id: i64, job: u32, day: u32, seconds: i64) -> RunFact {
        let start = Utc
            .with_ymd_and_hms(2026, 10, day, 3, 0, 0)
            .single()
            .expect("time");
        RunFact {
            id,
            job,
            digest: 0,
            trigger: Trigger::Schedule,
            status: RunStatus::Succeeded,
            queued_at: start,
            started_at: Some(start),
            ended_at: Some(start + chrono::Duration::seconds(seconds)),
        }
    }

    #[test]
    fn a_job_whose_runs_took_longer_in_the_second_half_is_listed() {
        let mut runs = Vec::new();
        for day in 1..=30 {
            // `batch` doubles from the 16th; `steady` varies by a tenth.
            runs.push(run(
                i64::from(day),
                0,
                day,
                if day < 16 { 100 } else { 200 },
            ));
            runs.push(run(
                100 + i64::from(day),
                1,
                day,
                100 + i64::from(day % 3) * 5,
            ));
        }
        let facts = ReportFacts {
            jobs: vec!["batch".into(), "steady".into()],
            runs,
            ..ReportFacts::default()
        };
        let m = monitoring(&period(), &facts, chrono_tz::Asia::Tokyo);
        assert_eq!(m.slower.len(), 1, "{:?}", m.slower);
        let t = &m.slower[0];
        assert_eq!(t.job, "batch");
        assert_eq!(
            (t.first_median_seconds, t.second_median_seconds),
            (100.0, 200.0)
        );
        assert_eq!(t.change_percent, 100.0);
        assert!(m.counts.is_empty() && m.lateness.is_empty() && m.slowdowns.is_empty());
    }

    #[test]
    fn findings_are_split_into_lateness_and_slowdowns_with_their_baseline() {
        let at = Utc
            .with_ymd_and_hms(2026, 10, 5, 21, 0, 1)
            .single()
            .expect("time");
        let f = |id, kind: &str| FindingRow {
            id,
            run_id: id * 10,
            job: "backup".into(),
            step: None,
            kind: kind.into(),
            at,
            business_date: chrono::NaiveDate::from_ymd_opt(2026, 10, 6).expect("date"),
            deadline: (kind == "end_delay").then_some(at),
            observed: Some(180.04),
            expected: Some(60.0),
            spread: Some(5.0),
            samples: Some(20),
            day_class: (kind == "slow").then(|| "ordinary".into()),
            detail: String::new(),
            incident_id: Some(id),
        };
        let facts = ReportFacts {
            findings: vec![f(1, "end_delay"), f(2, "slow"), f(3, "end_delay")],
            ..ReportFacts::default()
        };
        let m = monitoring(&period(), &facts, chrono_tz::Asia::Tokyo);
        assert_eq!(
            m.counts,
            vec![
                Count {
                    name: "end_delay".into(),
                    count: 2
                },
                Count {
                    name: "slow".into(),
                    count: 1
                }
            ]
        );
        assert_eq!(m.lateness.len(), 2);
        assert_eq!(m.lateness[0].deadline.as_deref(), Some("2026-10-06 06:00"));
        assert_eq!(m.lateness[0].ratio, None);
        let s = &m.slowdowns[0];
        assert_eq!(
            (s.observed_seconds, s.expected_seconds),
            (Some(180.0), Some(60.0))
        );
        assert_eq!(s.ratio, Some(3.0));
        assert_eq!(s.day_class.as_deref(), Some("ordinary"));
    }
}
