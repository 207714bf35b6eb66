//! The city's view (`/city`): for the city's policy-planning division, in Japanese whatever
//! the browser asks, read only. The month to date as the monthly report computes it
//! (`report::compute`, never recomputed here): the service levels and the jobs' SLA items
//! met or not, the runs' results, the month's incidents and their status; and the reports
//! frozen so far, each to download as frozen. A `city` user sees this page only and writes
//! nothing (their role allows no write; `guard` sends them here from every other page).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::page::{self, Frame};
use super::session::{self, Session};
use super::words::Lang;
use super::{Dashboard, lang};
use crate::report::render::{Lang as ReportLang, word};
use crate::report::{Period, Report, date_ja, label_ja};
use crate::store::StoreError;

/// The city's view.
pub const PATH: &str = "/city";

/// Whether a `city` user may read `path` (the city's view and its frozen reports).
pub fn serves(path: &str) -> bool {
    path == PATH || path.starts_with("/city/")
}

/// A word of the report in Japanese.
fn ja(token: &str) -> String {
    word(ReportLang::Ja, token).to_owned()
}

/// A line of the service levels: a service item or a job's SLA item.
#[derive(Debug)]
struct Level {
    what: String,
    agreed: String,
    measured: String,
    /// `met`, `not-met`, or `none` (nothing to measure yet).
    verdict: &'static str,
    verdict_ja: String,
}

#[derive(Debug)]
struct JobResult {
    job: String,
    slots: u64,
    runs: u64,
    succeeded: u64,
    failed: u64,
    missed: u64,
    late: u64,
}

#[derive(Debug)]
struct Incident {
    id: i64,
    opened: String,
    severity: String,
    job: String,
    event: String,
    status: String,
    status_token: String,
    resolved: String,
    cause: String,
    countermeasure: String,
}

#[derive(Debug)]
struct Frozen {
    id: i64,
    period: String,
    kind: String,
    lang: String,
    format: String,
    frozen_at: String,
    sha256: String,
}

#[derive(Template)]
#[template(path = "city.html")]
struct City {
    frame: Frame,
    /// `令和8年(2026年)12月分`.
    month: String,
    /// From the month's first day to now, in Japanese.
    span: String,
    summary: Vec<(String, String)>,
    levels: Vec<Level>,
    jobs: Vec<JobResult>,
    incidents: Vec<Incident>,
    frozen: Vec<Frozen>,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let who = session::current(&d, &headers).await;
    match city(&d, who).await {
        Ok(c) => page::render(&c, StatusCode::OK),
        Err(e) => page::unavailable(Lang::Ja, &e),
    }
}

/// Frozen reports listed (the newest first).
const FROZEN: i64 = 24;

/// How long the month's figures, once computed, are shown before they are computed again.
const FRESH: chrono::Duration = chrono::Duration::seconds(60);

/// The month's report as last computed. Computing it reads the whole month, a second or more
/// with a million runs, and the city's staff read the same figures: a request shows the last
/// one computed within [`FRESH`], or, when it is older, shows it once more while a task
/// computes the next. Only a dashboard's first request of a month waits for the computation.
#[derive(Default)]
pub struct CityCache(tokio::sync::Mutex<Option<Computed>>);

/// Hand-written: what it holds is a report, shown on the page.
impl std::fmt::Debug for CityCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CityCache").finish_non_exhaustive()
    }
}

struct Computed {
    /// The month's start (a new month is computed at once).
    month: DateTime<Utc>,
    at: DateTime<Utc>,
    report: Arc<Report>,
    /// A task computes the next one now.
    refreshing: bool,
}

/// The month's report as of `now`, computed or the last one (with when it was computed).
async fn month_report(
    d: &Arc<Dashboard>,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<(DateTime<Utc>, Arc<Report>), StoreError> {
    let mut kept = d.city.0.lock().await;
    if let Some(c) = kept.as_mut().filter(|c| c.month == period.from) {
        if now - c.at >= FRESH && !c.refreshing {
            c.refreshing = true;
            let (d, period) = (d.clone(), *period);
            tokio::spawn(async move {
                let computed = compute(&d, &period, now).await;
                let mut kept = d.city.0.lock().await;
                match computed {
                    Ok(report) => {
                        *kept = Some(Computed {
                            month: period.from,
                            at: now,
                            report,
                            refreshing: false,
                        });
                    }
                    Err(e) => {
                        tracing::warn!("the city's view could not compute the month: {e}");
                        if let Some(c) = kept.as_mut() {
                            c.refreshing = false;
                        }
                    }
                }
            });
        }
        return Ok((c.at, c.report.clone()));
    }
    let report = compute(d, period, now).await?;
    *kept = Some(Computed {
        month: period.from,
        at: now,
        report: report.clone(),
        refreshing: false,
    });
    Ok((now, report))
}

async fn compute(
    d: &Dashboard,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Arc<Report>, StoreError> {
    let defs = d.definitions();
    let report =
        crate::report::compute(&*d.store, period, &defs.catalog, &defs.settings, now).await?;
    Ok(Arc::new(report))
}

async fn city(d: &Arc<Dashboard>, who: Option<Session>) -> Result<City, StoreError> {
    let defs = d.definitions();
    let settings = &defs.settings;
    let (tz, day_start, style) = (
        settings.timezone,
        settings.day_start,
        settings.report.date_style,
    );
    let now = d.clock.now();
    let today = crate::calendar::business_date(now, tz, day_start);
    let period = Period::month(
        chrono::Datelike::year(&today),
        chrono::Datelike::month(&today),
        tz,
        day_start,
    )
    .ok_or_else(|| StoreError::Query {
        action: "compute the month",
        message: format!("no month holds the business date {today}"),
    })?;
    // The figures as of when they were computed (at most a minute or so ago).
    let (at, report) = month_report(d, &period, now).await?;
    let first = period.from.with_timezone(&tz).date_naive();
    let span = format!(
        "{}から{} {}までの実績です。月の途中の速報値で、月末まで変わります。",
        date_ja(first, style),
        date_ja(at.with_timezone(&tz).date_naive(), style),
        at.with_timezone(&tz).format("%H:%M")
    );
    let frozen = d
        .store
        .current_frozen_reports(FROZEN)
        .await?
        .into_iter()
        .map(|f| Frozen {
            id: f.id,
            period: f.period,
            kind: if f.kind == "yearly" {
                "年次".to_owned()
            } else {
                "月次".to_owned()
            },
            lang: if f.lang == "ja" {
                "日本語".to_owned()
            } else {
                "英語".to_owned()
            },
            format: f.format,
            frozen_at: page::local(f.frozen_at, tz),
            sha256: f.sha256,
        })
        .collect();
    Ok(City {
        frame: Frame::of(Lang::Ja, "市向け月間サービス状況", who),
        month: label_ja(period.year, period.month, style),
        span,
        summary: summary(&report),
        levels: levels(&report),
        jobs: report
            .jobs
            .iter()
            .map(|j| JobResult {
                job: job_name(&report, &j.job),
                slots: j.slots,
                runs: j.runs,
                succeeded: j.succeeded,
                failed: j.failed,
                missed: j.missed,
                late: j.late,
            })
            .collect(),
        incidents: report
            .incidents
            .iter()
            .map(|i| Incident {
                id: i.id,
                opened: i.opened_at.clone(),
                severity: ja(&i.severity),
                job: job_name(&report, &i.job),
                event: i.event_ja.clone(),
                status: ja(&i.status),
                status_token: i.status.clone(),
                resolved: i.resolved_at.clone().unwrap_or_else(|| "—".to_owned()),
                cause: i.cause.clone().unwrap_or_else(|| "—".to_owned()),
                countermeasure: i.countermeasure.clone().unwrap_or_else(|| "—".to_owned()),
            })
            .collect(),
        frozen,
    })
}

/// A job as the Japanese report shows it: 「title」(name), or its name.
fn job_name(report: &Report, job: &str) -> String {
    match report.job_titles.get(job) {
        Some(title) => format!("「{title}」({job})"),
        None => job.to_owned(),
    }
}

/// A duration as the report writes it (`24h00m`, `1h30m`, `45m`, `30s`) in Japanese
/// (`24時間`, `1時間30分`, `45分`, `30秒`); anything else as it is.
fn duration_ja(text: &str) -> String {
    let mut out = String::new();
    let mut number = String::new();
    for c in text.chars() {
        match c {
            '0'..='9' => number.push(c),
            'h' | 'm' | 's' | 'd' if !number.is_empty() => {
                let n: u64 = number.parse().unwrap_or(0);
                number.clear();
                if n == 0 && !out.is_empty() {
                    continue;
                }
                out.push_str(&n.to_string());
                out.push_str(match c {
                    'd' => "日",
                    'h' => "時間",
                    'm' => "分",
                    _ => "秒",
                });
            }
            _ => return text.to_owned(),
        }
    }
    if !number.is_empty() || out.is_empty() {
        return text.to_owned();
    }
    out
}

/// A percentage as the report prints it: two decimals at most.
fn percent(rate: f64) -> String {
    let text = format!("{rate:.2}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

fn summary(r: &Report) -> Vec<(String, String)> {
    let s = &r.summary;
    let count = |n: u64| format!("{n}件");
    vec![
        ("実行件数".to_owned(), count(s.runs)),
        ("正常終了".to_owned(), count(s.succeeded)),
        ("異常終了".to_owned(), count(s.failed)),
        ("中断".to_owned(), count(s.interrupted)),
        ("取消".to_owned(), count(s.cancelled)),
        ("実行中・待機中".to_owned(), count(s.unfinished)),
        (
            "正常終了率".to_owned(),
            s.success_rate
                .map_or_else(|| "終了した実行なし".to_owned(), percent),
        ),
        ("インシデント発生".to_owned(), count(s.incidents_opened)),
        ("インシデント解決".to_owned(), count(s.incidents_resolved)),
        (
            "サービスレベル達成".to_owned(),
            format!("{}項目中{}項目", s.sla_items, s.sla_met),
        ),
    ]
}

fn verdict(total: u64, met: bool) -> (&'static str, String) {
    match (total, met) {
        (0, _) => ("none", "—".to_owned()),
        (_, true) => ("met", ja("yes")),
        (_, false) => ("not-met", ja("no")),
    }
}

fn levels(r: &Report) -> Vec<Level> {
    let mut out: Vec<Level> = r
        .service
        .iter()
        .map(|s| {
            let suffix = match (s.unit.as_str(), s.item.as_str()) {
                ("seconds", _) => "以上",
                (_, "first_notice" | "recovery_time") => "以内",
                _ => "",
            };
            let measured = match (s.unit.as_str(), s.total, s.rate) {
                ("seconds", 0, _) | (_, _, None) if s.unit == "seconds" => {
                    "計画稼働時間なし".to_owned()
                }
                ("seconds", _, Some(rate)) => percent(rate),
                ("slots", 0, _) => "予定なし".to_owned(),
                ("slots", total, Some(rate)) => {
                    format!("{}({total}件中{}件)", percent(rate), s.ok)
                }
                (_, 0, _) => "対象なし".to_owned(),
                (_, total, _) => format!("{total}件中{}件", s.ok),
            };
            let (verdict, verdict_ja) = verdict(s.total, s.met);
            Level {
                what: ja(&s.item),
                agreed: format!("{}{suffix}", duration_ja(&s.agreed)),
                measured,
                verdict,
                verdict_ja,
            }
        })
        .collect();
    out.extend(r.sla.iter().map(|s| {
        let measured = match (s.item.as_str(), s.total, s.rate) {
            ("success_rate", 0, _) => "終了した実行なし".to_owned(),
            ("success_rate", total, Some(rate)) => {
                format!("{}({total}件中{}件)", percent(rate), s.ok)
            }
            (_, 0, _) => "対象なし".to_owned(),
            (_, total, _) => format!("{total}件中{}件", s.ok),
        };
        let (verdict, verdict_ja) = verdict(s.total, s.met);
        Level {
            what: format!("{}の{}", job_name(r, &s.job), ja(&s.item)),
            agreed: match s.item.as_str() {
                "success_rate" => format!("{}%以上", s.agreed.trim_end_matches('%')),
                "max_duration" => format!("{}以内", duration_ja(&s.agreed)),
                "complete_by" => format!("{}までに完了", s.agreed),
                _ => s.agreed.clone(),
            },
            measured,
            verdict,
            verdict_ja,
        }
    }));
    out
}

/// `/city/reports/{id}`: a frozen report's bytes as they were frozen, to download.
pub(super) async fn frozen(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let not_found = || page::message(lang, StatusCode::NOT_FOUND, w.not_found, w.no_such_page);
    let Ok(id) = id.parse::<i64>() else {
        return not_found();
    };
    let report = match d.store.frozen_report_body(id).await {
        Ok(Some(r)) => r,
        Ok(None) => return not_found(),
        Err(e) => return page::unavailable(lang, &e),
    };
    let (row, body) = report;
    let (mime, ext) = match row.format.as_str() {
        "html" => ("text/html; charset=utf-8", "html"),
        "json" => ("application/json", "json"),
        "csv" => ("text/csv; charset=utf-8", "csv"),
        "md" => ("text/markdown; charset=utf-8", "md"),
        _ => ("application/octet-stream", "bin"),
    };
    let name = format!(
        "attachment; filename=\"unyo-report-{}-{}-{}.{ext}\"",
        row.kind, row.period, row.lang
    );
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    if let Ok(v) = HeaderValue::from_str(&name) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

#[cfg(test)]
mod tests {
    use super::{duration_ja, percent};

    #[test]
    fn durations_and_rates_read_as_japanese() {
        assert_eq!(duration_ja("24h00m"), "24時間");
        assert_eq!(duration_ja("1h30m"), "1時間30分");
        assert_eq!(duration_ja("45m"), "45分");
        assert_eq!(duration_ja("0m"), "0分");
        assert_eq!(duration_ja("99.5%"), "99.5%");
        assert_eq!(duration_ja("12:00"), "12:00");
        assert_eq!(percent(100.0), "100%");
        assert_eq!(percent(99.5), "99.5%");
        assert_eq!(percent(75.0), "75%");
        assert_eq!(percent(33.333), "33.33%");
    }
}
