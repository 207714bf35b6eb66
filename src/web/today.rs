//! Today (`/`): the business date, the counters of its runs, what needs attention (open and
//! acknowledged incidents, the day's failed runs), what runs now and the slots of the coming
//! 24 hours as the schedules and calendars decide them (`schedule::forecast`, as `unyo next`
//! and `unyo status` show them).

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;
use std::sync::Arc;

use super::page::{self, Frame, local};
use super::{Dashboard, lang};
use crate::store::{IncidentStatus, RunFilter, RunRow, RunStatus, StepStatus, StoreError};

/// Runs read, newest first, to find the business date's: a day of a large installation
/// holds a few thousand.
const DAY_RUNS: i64 = 5000;
/// Incidents of each unresolved status shown.
const INCIDENTS: i64 = 100;
/// Coming slots shown.
const NEXT_SLOTS: usize = 50;

#[derive(Debug, Default)]
struct Counters {
    succeeded: usize,
    failed: usize,
    running: usize,
    queued: usize,
    waiting_approval: usize,
}

/// A line of "needs attention".
#[derive(Debug)]
struct Attention {
    /// `incident` or `failed` (a CSS class; the word shown comes from the language).
    kind: &'static str,
    what: String,
    href: Option<String>,
    job: String,
    summary: String,
    at: String,
}

#[derive(Debug)]
struct Running {
    href: String,
    id: i64,
    job: String,
    node: String,
    since: String,
    elapsed: String,
}

#[derive(Debug)]
struct Coming {
    due: String,
    job: String,
    decision: &'static str,
    reason: String,
}

#[derive(Template)]
#[template(path = "today.html")]
struct Today {
    frame: Frame,
    date: String,
    tz: String,
    now: String,
    counters: Counters,
    attention: Vec<Attention>,
    running: Vec<Running>,
    next: Vec<Coming>,
    /// More slots fall in the 24 hours than are shown.
    more: bool,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = super::session::current(&d, &headers).await;
    match today(&d, lang, who).await {
        Ok(t) => page::render(&t, StatusCode::OK),
        Err(e) => page::unavailable(lang, &e),
    }
}

async fn today(
    d: &Dashboard,
    lang: super::Lang,
    who: Option<super::session::Session>,
) -> Result<Today, StoreError> {
    let defs = d.definitions();
    let settings = &defs.settings;
    let tz = settings.timezone;
    let w = lang.words();
    let now = d.clock.now();
    let (date, _) = crate::engine::dates(settings, now);
    let day: Vec<RunRow> = d
        .store
        .list_runs(&RunFilter {
            job: None,
            status: None,
            limit: DAY_RUNS,
        })
        .await?
        .into_iter()
        .filter(|r| r.business_date == date)
        .collect();
    let active = d.store.active_runs().await?;
    let mut counters = Counters {
        succeeded: day
            .iter()
            .filter(|r| r.status == RunStatus::Succeeded)
            .count(),
        failed: day.iter().filter(|r| failed(r.status)).count(),
        running: active
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .count(),
        queued: active
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .count(),
        waiting_approval: 0,
    };
    let mut running = Vec::new();
    for r in active.iter().filter(|r| r.status == RunStatus::Running) {
        if let Some(detail) = d.store.get_run(r.id).await? {
            counters.waiting_approval += detail
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::WaitingApproval)
                .count();
        }
        let since = r.started_at.unwrap_or(r.queued_at);
        running.push(Running {
            href: format!("/runs/{}", r.id),
            id: r.id,
            job: r.job.clone(),
            node: r.owner.clone().unwrap_or_else(|| r.host.clone()),
            since: local(since, tz),
            elapsed: page::duration(now - since),
        });
    }
    let mut incidents = d
        .store
        .list_incidents(Some(IncidentStatus::Open), INCIDENTS)
        .await?;
    incidents.extend(
        d.store
            .list_incidents(Some(IncidentStatus::Acknowledged), INCIDENTS)
            .await?,
    );
    incidents.sort_by_key(|i| -i.id);
    // A failed run's line says why with its incident's summary (the run records no reason
    // of its own when a step failed).
    let why: std::collections::HashMap<i64, String> = incidents
        .iter()
        .filter_map(|i| Some((i.run_id?, i.summary.clone())))
        .collect();
    let mut attention: Vec<Attention> = incidents
        .into_iter()
        .map(|i| Attention {
            kind: "incident",
            what: format!("{} #{} ({}, {})", w.incident, i.id, i.severity, i.status),
            href: i.run_id.map(|id| format!("/runs/{id}")),
            job: i.job,
            summary: i.summary,
            at: local(i.last_seen_at, tz),
        })
        .collect();
    attention.extend(day.iter().filter(|r| failed(r.status)).map(|r| {
        Attention {
            kind: "failed",
            what: format!("{} #{} ({})", w.run, r.id, r.status),
            href: Some(format!("/runs/{}", r.id)),
            job: r.job.clone(),
            summary: r
                .reason
                .clone()
                .or_else(|| why.get(&r.id).cloned())
                .unwrap_or_default(),
            at: local(r.ended_at.unwrap_or(r.queued_at), tz),
        }
    }));
    let (coming, more) = crate::schedule::forecast::forecast(
        settings,
        &defs.catalog,
        None,
        now,
        now + Duration::hours(24),
        NEXT_SLOTS,
    );
    let next: Vec<Coming> = coming
        .into_iter()
        .map(|c| Coming {
            due: local(c.due_at, tz),
            job: c.job,
            decision: c.decision,
            reason: c.reason.unwrap_or_default(),
        })
        .collect();
    Ok(Today {
        frame: Frame::of(lang, w.today, who),
        date: date.format("%Y-%m-%d").to_string(),
        tz: tz.name().to_owned(),
        now: local(now, tz),
        counters,
        attention,
        running,
        next,
        more,
    })
}

/// A run that ended badly: it needs someone to look at it.
fn failed(status: RunStatus) -> bool {
    matches!(status, RunStatus::Failed | RunStatus::Interrupted)
}
