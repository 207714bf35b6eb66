//! Reports (`/reports`): the last twelve months and the last two fiscal years, each ended or
//! still preliminary (速報) and which of its forms are frozen; every frozen report (newest
//! first) with its chain (what it superseded and why, what superseded it) and whether its
//! stored bytes still match their SHA-256; and a verification of a file by its SHA-256
//! (`sha256sum FILE`) that says what `unyo report verify FILE` says. `/reports/frozen/{id}`
//! serves a frozen report's bytes as they were frozen, read-only: its HTML with a policy
//! that lets its own inline style in and nothing else (sandboxed, no script).

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{Datelike, Months};
use sha2::Digest as _;

use super::form::Fields;
use super::page::{self, Frame, local};
use super::words::Lang;
use super::{Dashboard, lang, session};
use crate::report::{Period, label_ja, label_ja_year};
use crate::store::{FrozenReport, StoreError};

/// Frozen reports listed (each one's bytes are hashed again to check them).
const FROZEN: i64 = 50;
/// Months listed, the current one first.
const MONTHS: u32 = 12;

/// A frozen report's own policy: its inline `<style>` and SVG charts, nothing else; no
/// script, no form, sandboxed.
const FROZEN_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
                             base-uri 'none'; form-action 'none'; frame-ancestors 'none'; sandbox";

#[derive(Debug)]
struct Form {
    id: i64,
    what: String,
}

#[derive(Debug)]
struct PeriodLine {
    kind: &'static str,
    label: String,
    /// `ended` or `preliminary` (a CSS class).
    state: &'static str,
    state_word: &'static str,
    ends: String,
    frozen: Vec<Form>,
    /// The command that freezes it, for an ended period nothing of which is frozen.
    command: String,
}

#[derive(Debug)]
struct FrozenLine {
    id: i64,
    kind: String,
    period: String,
    lang: String,
    format: String,
    frozen: String,
    by: String,
    sha256: String,
    chain: String,
    current: bool,
    /// The stored bytes hash to the recorded SHA-256.
    intact: bool,
}

/// What verifying a SHA-256 says.
#[derive(Debug)]
struct Verdict {
    /// `current`, `superseded`, `unknown` or `bad` (a CSS class).
    class: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    frame: Frame,
    sha256: String,
    verdict: Option<Verdict>,
    periods: Vec<PeriodLine>,
    frozen: Vec<FrozenLine>,
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let q = Fields::parse(query.unwrap_or_default().as_bytes());
    let sha256 = q.get("sha256").trim().to_ascii_lowercase();
    match view(&d, lang, &sha256).await {
        Ok((periods, frozen, verdict)) => {
            let status = match &verdict {
                Some(Verdict { class: "bad", .. }) => StatusCode::BAD_REQUEST,
                _ => StatusCode::OK,
            };
            page::render(
                &ReportsPage {
                    frame: Frame::of(lang, lang.words().reports, who),
                    sha256,
                    verdict,
                    periods,
                    frozen,
                },
                status,
            )
        }
        Err(e) => page::unavailable(lang, &e),
    }
}

type View = (Vec<PeriodLine>, Vec<FrozenLine>, Option<Verdict>);

async fn view(d: &Dashboard, lang: Lang, sha256: &str) -> Result<View, StoreError> {
    let w = lang.words();
    let defs = d.definitions();
    let settings = &defs.settings;
    let (tz, day_start, style) = (
        settings.timezone,
        settings.day_start,
        settings.report.date_style,
    );
    let now = d.clock.now();
    let rows = d.store.list_frozen_reports(FROZEN).await?;
    let local = |t| local(t, tz);

    let today = crate::calendar::business_date(now, tz, day_start);
    let mut periods: Vec<Period> = Vec::new();
    let first = today.with_day(1).unwrap_or(today);
    for i in 0..MONTHS {
        if let Some(p) = first
            .checked_sub_months(Months::new(i))
            .and_then(|m| Period::month(m.year(), m.month(), tz, day_start))
        {
            periods.push(p);
        }
    }
    let fy = crate::calendar::fiscal_year(today, settings.fiscal_year_start);
    for y in [fy, fy - 1] {
        if let Some(p) = Period::fiscal_year(y, settings.fiscal_year_start, tz, day_start) {
            periods.push(p);
        }
    }
    let period_lines = periods
        .iter()
        .map(|p| {
            let kind = if p.is_year() { "yearly" } else { "monthly" };
            let frozen: Vec<Form> = rows
                .iter()
                .filter(|f| f.kind == kind && f.period == p.label() && f.superseded_by.is_none())
                .map(|f| Form {
                    id: f.id,
                    what: format!("{} {}", f.lang, f.format),
                })
                .collect();
            let ended = p.ended(now);
            let command = if ended && frozen.is_empty() {
                if p.is_year() {
                    format!(
                        "unyo report yearly --fiscal-year {} --format html --freeze",
                        p.year
                    )
                } else {
                    format!(
                        "unyo report monthly --month {} --format html --freeze",
                        p.label()
                    )
                }
            } else {
                String::new()
            };
            PeriodLine {
                kind: if p.is_year() { w.yearly } else { w.monthly },
                label: match lang {
                    Lang::Ja if p.is_year() => label_ja_year(p.year, style),
                    Lang::Ja => label_ja(p.year, p.month, style),
                    Lang::En => p.label(),
                },
                state: if ended { "ended" } else { "preliminary" },
                state_word: if ended { w.ended } else { w.preliminary },
                ends: local(p.to),
                frozen,
                command,
            }
        })
        .collect();

    let mut frozen = Vec::new();
    for f in &rows {
        let intact = match d.store.frozen_report_body(f.id).await? {
            Some((_, body)) => format!("{:x}", sha2::Sha256::digest(&body)) == f.sha256,
            None => false,
        };
        let mut chain = Vec::new();
        if let Some(old) = f.supersedes {
            chain.push(format!(
                "{} #{old}: {}",
                w.supersedes,
                f.reason.as_deref().unwrap_or_default()
            ));
        }
        if let Some(new) = f.superseded_by {
            chain.push(format!("{} #{new}", w.superseded_by));
        }
        frozen.push(FrozenLine {
            id: f.id,
            kind: f.kind.clone(),
            period: f.period.clone(),
            lang: f.lang.clone(),
            format: f.format.clone(),
            frozen: local(f.frozen_at),
            by: f.frozen_by.clone(),
            sha256: f.sha256.clone(),
            chain: chain.join("; "),
            current: f.superseded_by.is_none(),
            intact,
        });
    }

    let verdict = if sha256.is_empty() {
        None
    } else if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        Some(Verdict {
            class: "bad",
            text: format!("sha256={sha256}: {}", w.bad_sha256),
        })
    } else {
        Some(verify(d, sha256, lang).await?)
    };
    Ok((period_lines, frozen, verdict))
}

/// What `unyo report verify` says of a file whose bytes hash to `sha256`.
async fn verify(d: &Dashboard, sha256: &str, lang: Lang) -> Result<Verdict, StoreError> {
    let w = lang.words();
    let tz = d.definitions().settings.timezone;
    let found = d.store.frozen_reports_by_hash(sha256).await?;
    // The same bytes frozen more than once: the newest row tells whether they stand now.
    let Some(f) = found.last() else {
        return Ok(Verdict {
            class: "unknown",
            text: format!("{} (sha256 {sha256})", w.not_frozen),
        });
    };
    let at = |t| local(t, tz);
    let mut text = match lang {
        Lang::En => format!(
            "Unaltered: frozen report #{} ({} {}, {}, {}), frozen on {} by {}",
            f.id,
            f.kind,
            f.period,
            f.lang,
            f.format,
            at(f.frozen_at),
            f.frozen_by
        ),
        Lang::Ja => format!(
            "改変なし: 凍結済み報告書 #{}({} {}、{}、{})。{} に {} が凍結",
            f.id,
            f.kind,
            f.period,
            f.lang,
            f.format,
            at(f.frozen_at),
            f.frozen_by
        ),
    };
    if let (Some(old), Some(why)) = (f.supersedes, &f.reason) {
        text.push_str(&match lang {
            Lang::En => format!("; it superseded report #{old}: {why}"),
            Lang::Ja => format!("。報告書 #{old} を差し替えたもの(理由: {why})"),
        });
    }
    let successor: Option<FrozenReport> = match f.superseded_by {
        Some(id) => d.store.frozen_report(id).await?,
        None => None,
    };
    Ok(match successor {
        None => Verdict {
            class: "current",
            text: match lang {
                Lang::En => format!("{text}; current: it stands"),
                Lang::Ja => format!("{text}。現行版です。"),
            },
        },
        Some(s) => {
            let why = s.reason.as_deref().unwrap_or_default();
            Verdict {
                class: "superseded",
                text: match lang {
                    Lang::En => format!(
                        "{text}; SUPERSEDED by report #{} on {} by {}: {why}",
                        s.id,
                        at(s.frozen_at),
                        s.frozen_by
                    ),
                    Lang::Ja => format!(
                        "{text}。差し替え済み: {} に {} が報告書 #{} で差し替え(理由: {why})。",
                        at(s.frozen_at),
                        s.frozen_by,
                        s.id
                    ),
                },
            }
        }
    })
}

/// A frozen report's bytes as they were frozen, under its own name.
pub(super) async fn frozen(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let Ok(id) = id.parse::<i64>() else {
        return page::message_to(
            lang,
            who,
            StatusCode::NOT_FOUND,
            w.not_found,
            w.no_such_report,
        );
    };
    let (row, body) = match d.store.frozen_report_body(id).await {
        Ok(Some(found)) => found,
        Err(e) => return page::unavailable(lang, &e),
        Ok(None) => {
            return page::message_to(
                lang,
                who,
                StatusCode::NOT_FOUND,
                w.not_found,
                w.no_such_report,
            );
        }
    };
    let (kind, ext) = match row.format.as_str() {
        "html" => ("text/html; charset=utf-8", "html"),
        "csv" => ("text/csv; charset=utf-8", "csv"),
        "json" => ("application/json", "json"),
        _ => ("text/plain; charset=utf-8", "md"),
    };
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(FROZEN_POLICY),
    );
    // The fields are unyo's own tokens; anything else becomes `_` so the header holds.
    let safe = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    };
    let name = format!(
        "report-{}-{}-{}.{ext}",
        safe(&row.kind),
        safe(&row.period),
        safe(&row.lang)
    );
    if let Ok(v) = HeaderValue::from_str(&format!("inline; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    r
}
