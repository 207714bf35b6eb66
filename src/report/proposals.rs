//! The report's improvement proposals (改善提案) and `unyo proposals`: the records of the
//! months looked back over turned into `domain::proposals`' plain samples (successful runs,
//! each job's deadlines, incidents, the period's service levels, the checks' state changes,
//! the rules that fired, the hardware checks' sizes), the proposals it decides, and each
//! written as an operator or an official reads it, in Japanese and in English: its kind,
//! its subject (a job by its `title:`, its code in parentheses), the evidence and the
//! suggested action.
//!
//! Pure: computed from facts the caller read.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, NaiveTime, Timelike, Utc};
use serde::Serialize;

use super::jobs::took;
use super::render::Lang;
use super::{Period, Report, ServiceItem, SlaItem};
use crate::domain::lateness::Deadline;
use crate::domain::proposals::{
    self, Evidence, IncidentSample, Kind, Limit, LimitKind, Measure, Month, Proposal, Records,
    RunSample, SlaMeasure, Span, TargetChanges, UsageSample,
};
use crate::model::{Catalog, Settings};
use crate::store::{ProposalFacts, ReportFacts, RunStatus, TargetChange};

/// One proposal as the report and `unyo proposals` show it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProposalLine {
    /// Its number in the list, from 1.
    pub number: usize,
    /// `slower`, `recurring`, `sla_at_risk`, `sla_margin`, `flapping`, `frequent_rule`,
    /// `capacity`.
    pub kind: String,
    pub kind_ja: String,
    pub kind_en: String,
    /// The job, target, rule or `service`, as recorded.
    pub subject: String,
    pub subject_ja: String,
    pub subject_en: String,
    pub evidence_ja: String,
    pub evidence_en: String,
    pub action_ja: String,
    pub action_en: String,
    /// The proposal with its figures and the records behind it, for `--json`.
    pub detail: Proposal,
}

/// The months looked back over for `period`: its own months, and the ones before, so that
/// there are at least `proposals.months`.
pub fn span(period: &Period, settings: &Settings) -> Span {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let mut periods = period.each_month(tz, day_start);
    while periods.len() < settings.proposals.months as usize {
        match periods.first().and_then(|p| p.previous(tz, day_start)) {
            Some(p) => periods.insert(0, p),
            None => break,
        }
    }
    Span {
        months: periods
            .iter()
            .map(|p| Month {
                label: p.label(),
                from: p.from,
                to: p.to,
            })
            .collect(),
        period_from: period.from,
    }
}

/// Where the look-back starts: the first month of [`span`].
pub fn lookback_from(span: &Span) -> DateTime<Utc> {
    span.months
        .first()
        .map_or(DateTime::<Utc>::MIN_UTC, |m| m.from)
}

/// The seconds from the day's start to `t`: a time at or before the day's start falls on the
/// next calendar day (as `end_delay` reads it: with `day_start` 06:00, 05:30 ends the date).
fn after_day_start(t: NaiveTime, day_start: NaiveTime) -> f64 {
    let d = (t - day_start).num_seconds() as f64;
    if d <= 0.0 { d + 86_400.0 } else { d }
}

/// Each job's deadlines, as the trend projects against them.
fn limits(catalog: &Catalog, settings: &Settings) -> Vec<Limit> {
    let day_start = settings.day_start;
    let fmt = |d: std::time::Duration| crate::model::values::format_duration(d);
    let clock = |t: NaiveTime| t.format("%H:%M").to_string();
    let mut out = Vec::new();
    for (name, job) in &catalog.jobs {
        let mut add = |kind, seconds: f64, text: String| {
            out.push(Limit {
                job: name.clone(),
                kind,
                seconds,
                text,
            })
        };
        if let Some(d) = job.lateness.max_runtime {
            add(LimitKind::MaxRuntime, d.as_secs_f64(), fmt(d));
        }
        match job.lateness.end {
            Some(Deadline::After(d)) => add(LimitKind::EndDelay, d.as_secs_f64(), fmt(d)),
            Some(Deadline::At(t)) => add(LimitKind::EndBy, after_day_start(t, day_start), clock(t)),
            None => {}
        }
        if let Some(sla) = &job.sla {
            if let Some(d) = sla.max_duration {
                add(LimitKind::MaxDuration, d.as_secs_f64(), fmt(d));
            }
            if let Some(t) = sla.complete_by {
                add(
                    LimitKind::CompleteBy,
                    after_day_start(t, day_start),
                    clock(t),
                );
            }
        }
        if let Some(w) = job.window.as_ref().and_then(|w| catalog.windows.get(w)) {
            add(
                LimitKind::WindowEnd,
                after_day_start(w.to, day_start),
                clock(w.to),
            );
        }
    }
    out
}

/// The period's service levels as measures: the jobs' `sla:` items and the service's.
fn sla_measures(report: &Report, facts: &ReportFacts, catalog: &Catalog) -> Vec<SlaMeasure> {
    let percent = |agreed: &str| agreed.strip_suffix('%')?.trim().parse::<f64>().ok();
    let mut out = Vec::new();
    let of_job = |s: &SlaItem| -> Option<SlaMeasure> {
        let measure = if s.item == "max_duration" {
            let limit = catalog.jobs.get(&s.job)?.sla.as_ref()?.max_duration?;
            let index = facts.jobs.iter().position(|j| *j == s.job)?;
            let worst = facts
                .runs
                .iter()
                .filter(|r| r.job as usize == index && r.status != RunStatus::Refused)
                .filter_map(took)
                .fold(0.0, f64::max);
            Measure::Limit {
                limit: limit.as_secs_f64(),
                worst,
            }
        } else {
            // `complete_by` promises every run: a target of 100 %.
            Measure::Rate {
                target: percent(&s.agreed).unwrap_or(100.0),
                ok: s.ok,
            }
        };
        Some(SlaMeasure {
            subject: s.job.clone(),
            item: s.item.clone(),
            agreed: s.agreed.clone(),
            measure,
            total: s.total,
        })
    };
    out.extend(report.sla.iter().filter_map(of_job));
    out.extend(report.service.iter().map(|s: &ServiceItem| SlaMeasure {
        subject: "service".to_owned(),
        item: s.item.clone(),
        agreed: s.agreed.clone(),
        // First notice, recovery, reports in time: every incident or slot within it.
        measure: Measure::Rate {
            target: percent(&s.agreed).unwrap_or(100.0),
            ok: s.ok,
        },
        total: s.total,
    }));
    out
}

/// What the proposals read of the records: `lookback` holds the facts of every month of
/// `span` (runs queued, incidents opened in it), `report` the period's service levels.
#[allow(clippy::too_many_arguments)]
pub fn records(
    lookback: &ReportFacts,
    extra: &ProposalFacts,
    changes: &[TargetChange],
    report: &Report,
    period_facts: &ReportFacts,
    catalog: &Catalog,
    settings: &Settings,
) -> Records {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let runs = lookback
        .runs
        .iter()
        .filter(|r| r.status == RunStatus::Succeeded)
        .filter_map(|r| {
            let (started, ended) = (r.started_at?, r.ended_at?);
            let date = crate::calendar::business_date(r.queued_at, tz, day_start);
            let day = crate::schedule::window::local_instant(tz, date, day_start)?;
            Some(RunSample {
                job: lookback.jobs.get(r.job as usize)?.clone(),
                id: r.id,
                started_at: started,
                seconds: (ended - started).num_milliseconds() as f64 / 1000.0,
                elapsed: (ended - r.queued_at).num_milliseconds() as f64 / 1000.0,
                end_offset: (ended - day).num_milliseconds() as f64 / 1000.0,
            })
        })
        .collect();
    let incidents = lookback
        .incidents
        .iter()
        .map(|i| IncidentSample {
            id: i.id,
            opened_at: i.opened_at,
            job: i.job.clone(),
            step: i.step.clone(),
            failure_class: i.failure_class.clone(),
            occurrences: i.occurrences,
            last_seen_at: i.last_seen_at,
            cause: i.cause.clone(),
        })
        .collect();
    let mut by_target: BTreeMap<&str, Vec<DateTime<Utc>>> = BTreeMap::new();
    for c in changes {
        by_target.entry(&c.target).or_default().push(c.at);
    }
    let checks = by_target
        .into_iter()
        .map(|(target, mut changes)| {
            changes.sort();
            TargetChanges {
                target: target.to_owned(),
                changes,
            }
        })
        .collect();
    let usage = extra
        .perf
        .iter()
        .flat_map(|p| {
            crate::domain::check::parse_perfdata(&p.perfdata)
                .into_iter()
                .filter_map(move |perf| {
                    Some(UsageSample {
                        target: p.target.clone(),
                        label: perf.label,
                        unit: perf.unit,
                        at: p.at,
                        value: perf.value,
                        max: perf.max.filter(|m| *m > 0.0)?,
                    })
                })
        })
        .collect();
    Records {
        runs,
        limits: limits(catalog, settings),
        incidents,
        sla: sla_measures(report, period_facts, catalog),
        checks,
        firings: extra.firings.clone(),
        usage,
    }
}

/// The proposals of the records over `span`, each written for its readers.
pub fn lines(
    records: &Records,
    span: &Span,
    report: &Report,
    settings: &Settings,
) -> Vec<ProposalLine> {
    let tz = settings.timezone;
    let days_of = |t: DateTime<Utc>| t.with_timezone(&tz).date_naive();
    proposals::proposals(records, span, &settings.proposals, &days_of)
        .into_iter()
        .enumerate()
        .map(|(i, p)| line(i + 1, p, report, settings))
        .collect()
}

/// The Japanese of the tokens the proposals' CSV table names (its title and header).
pub(super) fn word_ja(token: &str) -> Option<&'static str> {
    Some(match token {
        "proposals" => "改善提案",
        "number" => "番号",
        "proposal_kind" => "種別",
        "subject" => "対象",
        "evidence" => "根拠",
        "proposed_action" => "提案",
        _ => return None,
    })
}

/// The English of the same tokens.
pub(super) fn word_en(token: &str) -> Option<&'static str> {
    Some(match token {
        "proposals" => "improvement proposals",
        "number" => "#",
        "proposal_kind" => "kind",
        "proposed_action" => "proposed action",
        _ => return None,
    })
}

fn kind_words(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::Slower => ("処理時間の増加", "job getting slower"),
        Kind::Recurring => ("同じ原因の障害の再発", "recurring incidents"),
        Kind::SlaAtRisk => ("サービスレベル未達の懸念", "service level at risk"),
        Kind::SlaMargin => ("サービスレベルの見直し", "service level with a wide margin"),
        Kind::Flapping => ("監視対象の状態の不安定", "flapping check"),
        Kind::FrequentRule => ("頻繁に適用される復旧手順", "runbook rule firing often"),
        Kind::Capacity => ("容量の逼迫", "growth against capacity"),
    }
}

/// Minutes with a tenth, the unit of durations in both languages.
fn minutes(seconds: f64) -> String {
    format!("{:.1}", seconds / 60.0)
}

/// `2026-10` as `2026年10月`.
fn month_ja(label: &str) -> String {
    match label.split_once('-') {
        Some((y, m)) => format!("{y}年{}月", m.trim_start_matches('0')),
        None => label.to_owned(),
    }
}

/// An offset after the day's start as a local time of day.
fn clock_of(offset: f64, day_start: NaiveTime) -> String {
    let t = day_start + chrono::Duration::seconds(offset.round() as i64);
    format!("{:02}:{:02}", t.hour(), t.minute())
}

fn ids(list: &[i64]) -> String {
    list.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `db-transient#2 (database is locked)` as its runbook and rule number.
fn rule_parts(rule: &str) -> (&str, Option<&str>) {
    match rule.split_once('#') {
        Some((runbook, rest)) => {
            let n = rest.split(|c: char| !c.is_ascii_digit()).next();
            (runbook, n.filter(|n| !n.is_empty()))
        }
        None => (rule, None),
    }
}

fn limit_words(kind: LimitKind) -> (&'static str, &'static str) {
    match kind {
        LimitKind::MaxRuntime => ("最大実行時間", "max_runtime"),
        LimitKind::MaxDuration => ("最大処理時間", "sla max_duration"),
        LimitKind::EndDelay => ("終了期限", "end_delay"),
        LimitKind::EndBy => ("終了期限", "end_delay"),
        LimitKind::CompleteBy => ("完了期限", "sla complete_by"),
        LimitKind::WindowEnd => ("実行時間帯の終了", "the end of its window"),
    }
}

fn line(number: usize, p: Proposal, report: &Report, settings: &Settings) -> ProposalLine {
    let day_start = settings.day_start;
    let style = settings.report.date_style;
    let date_ja = |d: NaiveDate| super::date_ja(d, style);
    let local_day = |t: DateTime<Utc>| t.with_timezone(&settings.timezone).date_naive();
    let job_ja = |job: &str| match report.job_titles.get(job) {
        Some(title) => format!("「{title}」({job})"),
        None => format!("({job})"),
    };
    let (kind_ja, kind_en) = kind_words(p.kind);
    let subject = p.subject.clone();
    let (subject_ja, subject_en, evidence_ja, evidence_en, action_ja, action_en) = match &p.evidence
    {
        Evidence::Slower {
            months,
            slope,
            percent,
            projection,
            runs,
        } => {
            let by_month_ja = months
                .iter()
                .map(|m| {
                    format!(
                        "{} {}分({}回)",
                        month_ja(&m.month),
                        minutes(m.median),
                        m.runs
                    )
                })
                .collect::<Vec<_>>()
                .join("、");
            let by_month_en = months
                .iter()
                .map(|m| format!("{} {} min ({} runs)", m.month, minutes(m.median), m.runs))
                .collect::<Vec<_>>()
                .join(", ");
            let mut ja = format!(
                "正常終了した実行の処理時間の中央値は月別に {by_month_ja}。1か月あたり約{}分({percent}%)ずつ増加している。",
                minutes(*slope)
            );
            let mut en = format!(
                "median run time of successful runs by month: {by_month_en}; rising {} min a month ({percent} %).",
                minutes(*slope)
            );
            match projection {
                Some(pr) => {
                    let (lja, len) = limit_words(pr.limit.kind);
                    let (now_ja, now_en) = if pr.limit.kind.is_clock() {
                        let c = clock_of(pr.now, day_start);
                        (
                            format!("現在の終了時刻は{c}頃"),
                            format!("it ends about {c} now"),
                        )
                    } else {
                        let m = minutes(pr.now);
                        (format!("現在は約{m}分"), format!("about {m} min now"))
                    };
                    let limit_ja = if pr.limit.kind.is_clock() {
                        pr.limit.text.clone()
                    } else {
                        format!("{}分", minutes(pr.limit.seconds))
                    };
                    if pr.months <= 0.0 {
                        ja.push_str(&format!("既に{lja}({limit_ja})に達している({now_ja})。"));
                        en.push_str(&format!(
                            " It already reaches its {len} {} ({now_en}).",
                            pr.limit.text
                        ));
                    } else {
                        ja.push_str(&format!(
                            "このままでは約{}か月後に{lja}({limit_ja})を超える見込み({now_ja})。",
                            pr.months
                        ));
                        en.push_str(&format!(
                            " At this rate it passes its {len} {} in about {} months ({now_en}).",
                            pr.limit.text, pr.months
                        ));
                    }
                }
                None => {
                    ja.push_str(&format!(
                        "{}か月以内に期限に達する見込みはない。",
                        settings.proposals.horizon_months
                    ));
                    en.push_str(&format!(
                        " No deadline of it is reached within {} months.",
                        settings.proposals.horizon_months
                    ));
                }
            }
            ja.push_str(&format!("直近月の長かった実行: 番号 {}。", ids(runs)));
            en.push_str(&format!(" Slowest runs of the last month: {}.", ids(runs)));
            (
                job_ja(&subject),
                subject.clone(),
                ja,
                en,
                "処理量の増加など時間が延びている要因を調べ、期限を超える前にジョブの見直し(分割や性能改善)を行う。"
                    .to_owned(),
                "find what makes it grow (data volume, locks) and split or tune the job before it passes its deadline."
                    .to_owned(),
            )
        }
        Evidence::Recurring {
            step,
            failure_class,
            incidents,
            occurrences,
            first,
            last,
            causes,
        } => {
            let what_ja = super::incidents::class_ja(failure_class);
            let step_ja = step
                .as_deref()
                .map_or(String::new(), |s| format!("ステップ({s})の"));
            let step_en = step
                .as_deref()
                .map_or(String::new(), |s| format!(" step {s}"));
            let mut ja = format!(
                "{step_ja}障害({what_ja})が{}〜{}に{}件(発生{occurrences}回): インシデント番号 {}。",
                date_ja(local_day(*first)),
                date_ja(local_day(*last)),
                incidents.len(),
                ids(incidents)
            );
            let mut en = format!(
                "{} incidents ({occurrences} occurrences) of{step_en} failing with {failure_class}, {} to {}: incidents {}.",
                incidents.len(),
                local_day(*first),
                local_day(*last),
                ids(incidents)
            );
            if !causes.is_empty() {
                ja.push_str(&format!("記録された原因: {}。", causes.join("、")));
                en.push_str(&format!(" Causes recorded: {}.", causes.join("; ")));
            }
            (
                job_ja(&subject),
                subject.clone(),
                ja,
                en,
                "発生の都度の復旧にとどめず、根本原因を特定して再発防止策を講じる。".to_owned(),
                "find the root cause and fix it for good (recurrence prevention) rather than recovering each time."
                    .to_owned(),
            )
        }
        Evidence::Sla {
            item,
            agreed,
            measure,
            total,
            used,
            measured,
        } => {
            let item_ja = super::render::word(Lang::Ja, item).to_owned();
            let (subject_ja, subject_en) = if subject == "service" {
                ("サービス全体".to_owned(), "service".to_owned())
            } else {
                (job_ja(&subject), subject.clone())
            };
            // Availability counts seconds of service time, the others runs, incidents or slots.
            let (of_ja, of_en) = if item == "availability" {
                (String::new(), String::new())
            } else {
                (format!("(対象 {total}件)"), format!(" of {total}"))
            };
            let (ja, en) = match measure {
                Measure::Rate { .. } => (
                    format!("{item_ja}(協定値 {agreed}): 実績 {measured}%{of_ja}"),
                    format!("{item} agreed {agreed}: measured {measured} %{of_en}"),
                ),
                Measure::Limit { limit, .. } => (
                    format!(
                        "{item_ja}(協定値 {}分): 最も長い実行は{}分",
                        minutes(*limit),
                        minutes(*measured)
                    ),
                    format!(
                        "{item} agreed {} min: the longest run took {} min",
                        minutes(*limit),
                        minutes(*measured)
                    ),
                ),
            };
            let ja = format!("{ja}、許容範囲の{used}%を使用。");
            let en = format!("{en}, {used} % of what it allows used.");
            let (action_ja, action_en) = if p.kind == Kind::SlaMargin {
                (
                    "実績に十分な余裕があるため、協定値の見直し(より高い水準への改定)を市に提案する。",
                    "it is met with a wide margin: propose a revision of the agreed value to the city.",
                )
            } else {
                (
                    "未達となる前に、余裕を減らしている要因を調べて対策する。",
                    "act before it is broken: look into what uses up its margin.",
                )
            };
            (
                subject_ja,
                subject_en,
                ja,
                en,
                action_ja.to_owned(),
                action_en.to_owned(),
            )
        }
        Evidence::Flapping { days, changes } => {
            let days_ja = days
                .iter()
                .map(|d| date_ja(*d))
                .collect::<Vec<_>>()
                .join("、");
            let days_en = days
                .iter()
                .map(NaiveDate::to_string)
                .collect::<Vec<_>>()
                .join(", ");
            (
                format!("監視対象「{subject}」"),
                format!("target {subject}"),
                format!(
                    "期間中に状態が{changes}回変わり、{days_ja}の{}日は1日に4回以上変わった。",
                    days.len()
                ),
                format!(
                    "its state changed {changes} times in the period, four times or more a day on {} days: {days_en}.",
                    days.len()
                ),
                "監視のしきい値(停止・復旧と判定するまでの回数)の見直し、または監視対象の安定化を検討する。"
                    .to_owned(),
                "review the check's thresholds (down_after, up_after) or make the target stable."
                    .to_owned(),
            )
        }
        Evidence::FrequentRule {
            job,
            step,
            firings,
            runs,
            run_count,
            months,
        } => {
            let (runbook, n) = rule_parts(&subject);
            let subject_ja = match n {
                Some(n) => format!("復旧手順({runbook})の規則{n}"),
                None => format!("復旧手順({runbook})"),
            };
            let by_month_ja = months
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(m, n)| format!("{} {n}回", month_ja(m)))
                .collect::<Vec<_>>()
                .join("、");
            let by_month_en = months
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(m, n)| format!("{m}: {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let more = run_count.saturating_sub(runs.len());
            let more_ja = if more > 0 {
                format!(" ほか{more}件")
            } else {
                String::new()
            };
            let more_en = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            (
                subject_ja,
                subject.clone(),
                format!(
                    "ジョブ{}のステップ({step})の失敗に{firings}回(実行{run_count}件)適用された(月別 {by_month_ja})。実行番号 {}{more_ja}。",
                    job_ja(job),
                    ids(runs)
                ),
                format!(
                    "fired {firings} times in {run_count} runs of job {job} step {step} ({by_month_en}): runs {}{more_en}.",
                    ids(runs)
                ),
                "恒久対策の候補: この規則で毎回回避している失敗の原因そのものを取り除く。".to_owned(),
                "a candidate for a permanent fix: remove the cause of the failure the rule works around each time."
                    .to_owned(),
            )
        }
        Evidence::Capacity {
            label,
            unit,
            first,
            last,
            max,
            percent,
            slope,
            months,
            samples,
        } => {
            let level = settings.proposals.capacity_percent;
            let (when_ja, when_en) = if *months <= 0.0 {
                (
                    format!("既に容量の{level}%に達している。"),
                    format!("it is already past {level} % of capacity."),
                )
            } else {
                (
                    format!("このままでは約{months}か月後に容量の{level}%に達する見込み。"),
                    format!(
                        "at this rate it reaches {level} % of capacity in about {months} months."
                    ),
                )
            };
            (
                format!("監視対象「{subject}」"),
                format!("target {subject}"),
                format!(
                    "「{label}」の使用量は{first}{unit}から{last}{unit}(容量{max}{unit}の{percent}%)へ、1か月あたり約{slope}{unit}増加({samples}日分の測定)。{when_ja}"
                ),
                format!(
                    "{label}: from {first} {unit} to {last} {unit} ({percent} % of {max} {unit}), growing about {slope} {unit} a month ({samples} days measured); {when_en}"
                ),
                "容量の増設、または不要なデータの整理・退避を計画する。".to_owned(),
                "plan more capacity, or archive or purge data, before then.".to_owned(),
            )
        }
    };
    ProposalLine {
        number,
        kind: p.kind.as_str().to_owned(),
        kind_ja: kind_ja.to_owned(),
        kind_en: kind_en.to_owned(),
        subject,
        subject_ja,
        subject_en,
        evidence_ja,
        evidence_en,
        action_ja,
        action_en,
        detail: p,
    }
}

/// Adds the proposals of `period` to `report` (computed with its service levels): `lookback`
/// and `extra` hold the records of every month of `span`, `changes` the checks' state
/// changes up to the period's end, `facts` the period's own.
#[allow(clippy::too_many_arguments)]
pub fn add(
    report: &mut Report,
    span: &Span,
    lookback: &ReportFacts,
    extra: &ProposalFacts,
    changes: &[TargetChange],
    facts: &ReportFacts,
    catalog: &Catalog,
    settings: &Settings,
) {
    let records = records(lookback, extra, changes, report, facts, catalog, settings);
    report.proposals = lines(&records, span, report, settings);
    // The yearly report's draft plan carries the year's proposals into the next.
    if let Some(draft) = report.plan.draft.as_mut() {
        draft.proposals = report
            .proposals
            .iter()
            .map(|p| super::PlanProposal {
                kind: p.kind.clone(),
                title: format!("{}: {} ({})", p.kind_en, p.action_en, p.subject_en),
                title_ja: format!("{}: {}({})", p.kind_ja, p.action_ja, p.subject_ja),
            })
            .collect();
    }
}
