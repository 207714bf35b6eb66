//! Today (`/`): the business date, the counters of its runs, what needs attention, what runs
//! now against its expected time, the slots of the coming 24 hours as the schedules and
//! calendars decide them (`schedule::forecast`, as `unyo next` and `unyo status` show them),
//! and the day's timeline, filtered by status and node through the query string
//! (`?status=failed&node=ops1`: a form of `GET`, no script).
//!
//! Everything of the date is read through [`DayStore`](crate::store::DayStore): the date's
//! runs counted in the database and only the newest of the timeline read, so a day of tens
//! of thousands of runs costs what a quiet one does. What needs attention:
//! - every failed run of the date;
//! - the date's lateness findings (`start_delay`, `end_delay`: late) and its overruns
//!   (`max_runtime`, `slow`, `stuck`), as the daemon recorded them;
//! - the slots of the business day the daemon missed, a line a schedule;
//! - a run going on longer than its baseline allows now (`domain::baseline`, the median
//!   and margin `slowdown` judges a run by when it ends);
//! - a check target that is down;
//! - every open or acknowledged incident: on the line of its trouble (its run, its missed
//!   slots, its target) when there is one, else a line of its own, so that one trouble is
//!   one line.

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::Response;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashSet;
use std::sync::Arc;

use super::form::Fields;
use super::page::{self, Frame, Write, local};
use super::words::{Lang, Words};
use super::{Dashboard, lang};
use crate::domain::baseline::{self, Baseline, Verdict};
use crate::domain::check::{self, TargetState};
use crate::domain::lateness::{Breach, business_instant};
use crate::model::{Catalog, Settings};
use crate::runbook::MISSED_CLASS;
use crate::store::{
    BusinessDay, DayFilter, FindingRow, IncidentRow, IncidentStatus, RunRow, RunStatus, StepStatus,
    Store, StoreError,
};

/// Incidents of each unresolved status shown.
const INCIDENTS: i64 = 100;
/// Failed runs of the date read for "needs attention".
const FAILED: i64 = 100;
/// Missed slots listed (all are counted).
const MISSED: i64 = 50;
/// Coming slots shown.
const NEXT_SLOTS: usize = 50;
/// Runs of the timeline shown, newest first.
const TIMELINE: i64 = 200;
/// Past successful runs read for a running run's baseline when its day is ordinary (others
/// look further back for runs of their class, as the monitor does).
const LOOKBACK: i64 = 1000;

#[derive(Debug, Default)]
struct Counters {
    succeeded: i64,
    failed: i64,
    running: usize,
    queued: usize,
    late: usize,
    missed: i64,
    waiting_approval: usize,
}

/// A line of "needs attention".
#[derive(Debug)]
struct Attention {
    /// `incident`, `failed`, `late`, `missed`, `over` or `check` (a CSS class).
    kind: &'static str,
    /// The kind in the page's language.
    label: &'static str,
    what: String,
    href: Option<String>,
    /// The incident a failed run opened, named on the run's line.
    incident: Option<String>,
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
    /// The baseline's median, or a dash without enough runs to make one.
    expected: String,
    /// Longer than the baseline allows.
    over: bool,
}

#[derive(Debug)]
struct Coming {
    due: String,
    job: String,
    decision: &'static str,
    reason: String,
}

/// A run of the timeline.
#[derive(Debug)]
struct Line {
    href: String,
    id: i64,
    job: String,
    status: RunStatus,
    node: String,
    queued: String,
    started: String,
    ended: String,
    duration: String,
}

/// The timeline's filter as asked and the choices its form offers.
#[derive(Debug)]
struct Timeline {
    lines: Vec<Line>,
    /// Runs that match the filter (more than `lines` when the limit cut them).
    matching: i64,
    status: String,
    node: String,
    statuses: Vec<&'static str>,
    nodes: Vec<String>,
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
    cancel: Write,
    next: Vec<Coming>,
    /// More slots fall in the 24 hours than are shown.
    more: bool,
    timeline: Timeline,
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let lang = lang(&headers);
    let who = super::session::current(&d, &headers).await;
    let query = Fields::parse(uri.query().unwrap_or("").as_bytes());
    let (statuses, node) = match filter(&query) {
        Ok(f) => f,
        Err(e) => {
            let w = lang.words();
            return page::message_to(lang, who, StatusCode::BAD_REQUEST, w.bad_filter, &e);
        }
    };
    match today(&d, lang, who, statuses, node).await {
        Ok(t) => page::render(&t, StatusCode::OK),
        Err(e) => page::unavailable(lang, &e),
    }
}

/// The timeline's filter from the query string: `status` (a run status, or `bad` for failed
/// and interrupted) and `node`, each empty or absent for any. An unknown status is refused
/// naming the parameter.
fn filter(query: &Fields) -> Result<(Vec<RunStatus>, Option<String>), String> {
    let status = query.get("status");
    let statuses = match status.as_str() {
        "" => Vec::new(),
        "bad" => vec![RunStatus::Failed, RunStatus::Interrupted],
        s => vec![s.parse::<RunStatus>().map_err(|_| {
            let known: Vec<&str> = RunStatus::ALL.iter().map(|s| s.as_str()).collect();
            format!(
                "`status` in the address: `{s}` is not a run status (bad, {})",
                known.join(", ")
            )
        })?],
    };
    let node = Some(query.get("node")).filter(|n| !n.is_empty());
    Ok((statuses, node))
}

async fn today(
    d: &Dashboard,
    lang: Lang,
    who: Option<super::session::Session>,
    statuses: Vec<RunStatus>,
    node: Option<String>,
) -> Result<Today, StoreError> {
    let defs = d.definitions();
    let settings = &defs.settings;
    let tz = settings.timezone;
    let w = lang.words();
    let now = d.clock.now();
    let (date, _) = crate::engine::dates(settings, now);
    let (from, to) = day_bounds(settings, date);
    let store = d.store.as_ref();

    let asked = DayFilter {
        date,
        statuses,
        node,
        limit: TIMELINE,
    };
    let day = store.business_day(&asked).await?;
    let failed_runs = store
        .business_day(&DayFilter {
            date,
            statuses: vec![RunStatus::Failed, RunStatus::Interrupted],
            node: None,
            limit: FAILED,
        })
        .await?
        .runs;
    let active = store.active_runs().await?;
    let findings = store.list_findings(from, to).await?;
    let missed = store.missed_slots(from, to, MISSED).await?;
    let down: Vec<_> = store
        .targets()
        .await?
        .into_iter()
        .filter(|t| t.state == TargetState::Down)
        .collect();
    let mut incidents = store
        .list_incidents(Some(IncidentStatus::Open), INCIDENTS)
        .await?;
    incidents.extend(
        store
            .list_incidents(Some(IncidentStatus::Acknowledged), INCIDENTS)
            .await?,
    );
    incidents.sort_by_key(|i| -i.id);

    let late_runs: HashSet<i64> = findings
        .iter()
        .filter(|f| late(&f.kind))
        .map(|f| f.run_id)
        .collect();
    let mut counters = Counters {
        succeeded: day.count(RunStatus::Succeeded),
        failed: day.count(RunStatus::Failed) + day.count(RunStatus::Interrupted),
        running: active
            .iter()
            .filter(|r| r.status == RunStatus::Running)
            .count(),
        queued: active
            .iter()
            .filter(|r| r.status == RunStatus::Queued)
            .count(),
        late: late_runs.len(),
        missed: missed.count,
        waiting_approval: 0,
    };

    let mut running = Vec::new();
    let mut overruns = Vec::new();
    for r in active.iter().filter(|r| r.status == RunStatus::Running) {
        if let Some(detail) = store.get_run(r.id).await? {
            counters.waiting_approval += detail
                .steps
                .iter()
                .filter(|s| s.status == StepStatus::WaitingApproval)
                .count();
        }
        let since = r.started_at.unwrap_or(r.queued_at);
        let elapsed = now - since;
        let base = expected(store, &defs.catalog, settings, r).await?;
        let over = base.is_some_and(|b| {
            baseline::verdict(&b, elapsed.num_milliseconds() as f64 / 1000.0) == Verdict::TooSlow
        });
        let expected = base.map_or_else(
            || "—".to_owned(),
            |b| page::duration(Duration::milliseconds((b.median * 1000.0) as i64)),
        );
        if over {
            overruns.push((
                r.id,
                Attention {
                    kind: "over",
                    label: w.over_expected,
                    what: format!("{} #{}", w.run, r.id),
                    href: Some(format!("/runs/{}", r.id)),
                    incident: None,
                    job: r.job.clone(),
                    summary: format!(
                        "{} {} / {} {expected}",
                        w.duration,
                        page::duration(elapsed),
                        w.expected
                    ),
                    at: local(since, tz),
                },
            ));
        }
        running.push(Running {
            href: format!("/runs/{}", r.id),
            id: r.id,
            job: r.job.clone(),
            node: node_of(r),
            since: local(since, tz),
            elapsed: page::duration(elapsed),
            expected,
            over,
        });
    }

    let attention = attention(
        w,
        tz,
        &incidents,
        &failed_runs,
        &findings,
        &missed.slots,
        overruns,
        &down,
    );

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
    let timeline = timeline(&day, &asked, tz);
    Ok(Today {
        frame: Frame::of(lang, w.today, who),
        date: date.format("%Y-%m-%d").to_string(),
        tz: tz.name().to_owned(),
        now: local(now, tz),
        counters,
        attention,
        running,
        cancel: Write::Cancel,
        next,
        more,
        timeline,
    })
}

/// The instants the business date `date` runs between: its `day_start` to the next one's.
fn day_bounds(settings: &Settings, date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = settings.day_start;
    let tz = settings.timezone;
    // `business_instant` puts `day_start` itself on the next calendar day.
    let from = business_instant(date.pred_opt().unwrap_or(date), start, start, tz);
    (from, business_instant(date, start, start, tz))
}

/// What an incident can be folded into: the line of the same trouble.
#[derive(Debug, PartialEq)]
enum Trouble {
    /// A run's line (failed, late, over its time), with the incident a finding opened.
    Run(i64, Option<i64>),
    /// A job's missed slots.
    Missed(String),
    /// A check target of a job.
    Target(String, String),
}

impl Trouble {
    fn is(&self, i: &IncidentRow) -> bool {
        match self {
            Trouble::Run(run, opened) => *opened == Some(i.id) || i.run_id == Some(*run),
            Trouble::Missed(job) => *job == i.job && i.failure_class == MISSED_CLASS,
            Trouble::Target(job, target) => {
                *job == i.job && i.failure_class == check::target_class(target)
            }
        }
    }
}

/// The lines of "needs attention": the incidents of no other line (newest first), failed
/// runs, lateness and overruns recorded, missed slots (a line a schedule), runs over their
/// expected time now, checks down. An unresolved incident of the same trouble as a line is
/// named on that line rather than listed again: one trouble, one line.
#[allow(clippy::too_many_arguments)]
fn attention(
    w: &Words,
    tz: chrono_tz::Tz,
    incidents: &[IncidentRow],
    failed_runs: &[RunRow],
    findings: &[FindingRow],
    missed: &[crate::store::SlotRow],
    overruns: Vec<(i64, Attention)>,
    down: &[crate::store::TargetRow],
) -> Vec<Attention> {
    let mut lines: Vec<(Trouble, Attention)> = Vec::new();
    for r in failed_runs {
        lines.push((
            Trouble::Run(r.id, None),
            Attention {
                kind: "failed",
                label: w.failed_run,
                what: format!("{} #{} ({})", w.run, r.id, r.status),
                href: Some(format!("/runs/{}", r.id)),
                incident: None,
                job: r.job.clone(),
                summary: r.reason.clone().unwrap_or_default(),
                at: local(r.ended_at.unwrap_or(r.queued_at), tz),
            },
        ));
    }
    for f in findings
        .iter()
        .filter(|f| Breach::from_token(&f.kind) != Some(Breach::Fast))
    {
        let (kind, label) = if late(&f.kind) {
            ("late", w.late_run)
        } else {
            ("over", w.over_expected)
        };
        lines.push((
            Trouble::Run(f.run_id, f.incident_id),
            Attention {
                kind,
                label,
                what: format!("{} #{} ({})", w.run, f.run_id, f.kind),
                href: Some(format!("/runs/{}", f.run_id)),
                incident: None,
                job: f.job.clone(),
                summary: f.detail.clone(),
                at: local(f.at, tz),
            },
        ));
    }
    // A schedule's missed slots are one line: how many, from when, and the last one's reason.
    let mut schedules: Vec<(&str, Vec<&crate::store::SlotRow>)> = Vec::new();
    for slot in missed {
        match schedules
            .iter_mut()
            .find(|(name, _)| *name == slot.schedule)
        {
            Some((_, slots)) => slots.push(slot),
            None => schedules.push((&slot.schedule, vec![slot])),
        }
    }
    for (name, slots) in schedules {
        let (first, last) = (slots[0], slots[slots.len() - 1]);
        let what = if slots.len() == 1 {
            name.to_owned()
        } else {
            format!("{name} × {}", slots.len())
        };
        lines.push((
            Trouble::Missed(first.job.clone()),
            Attention {
                kind: "missed",
                label: w.missed_slot,
                what,
                href: None,
                incident: None,
                job: first.job.clone(),
                summary: last.reason.clone().unwrap_or_default(),
                at: local(first.due_at, tz),
            },
        ));
    }
    lines.extend(
        overruns
            .into_iter()
            .map(|(run, line)| (Trouble::Run(run, None), line)),
    );
    for t in down {
        lines.push((
            Trouble::Target(t.job.clone(), t.target.clone()),
            Attention {
                kind: "check",
                label: w.failing_check,
                what: format!("{} ({})", t.target, t.last_status),
                href: None,
                incident: None,
                job: t.job.clone(),
                summary: t.last_output.clone(),
                at: local(t.since, tz),
            },
        ));
    }

    let text = |i: &IncidentRow| format!("{} #{} ({}, {})", w.incident, i.id, i.severity, i.status);
    let mut alone = Vec::new();
    for i in incidents {
        match lines
            .iter_mut()
            .find(|(trouble, line)| line.incident.is_none() && trouble.is(i))
        {
            Some((_, line)) => {
                line.incident = Some(text(i));
                if line.summary.is_empty() {
                    line.summary = i.summary.clone();
                }
            }
            None => alone.push(Attention {
                kind: "incident",
                label: w.incident,
                what: text(i),
                href: i.run_id.map(|id| format!("/runs/{id}")),
                incident: None,
                job: i.job.clone(),
                summary: i.summary.clone(),
                at: local(i.last_seen_at, tz),
            }),
        }
    }
    alone.extend(lines.into_iter().map(|(_, line)| line));
    alone
}

/// A finding that says the run is late (not started, or not ended, by its deadline).
fn late(kind: &str) -> bool {
    matches!(
        Breach::from_token(kind),
        Some(Breach::StartDelay | Breach::EndDelay)
    )
}

/// A run's node: the host of the daemon that owns it, else the host that queued it (as
/// `DayStore` filters by it).
fn node_of(r: &RunRow) -> String {
    match &r.owner {
        Some(owner) => owner.split(':').next().unwrap_or(owner).to_owned(),
        None => r.host.clone(),
    }
}

/// The baseline a running run is judged against: the median and spread of its job's last
/// successful runs of the same day class (`slowdown.runs` of them), as the monitor judges
/// the run when it ends; `None` for a job that is not judged or has too few runs.
async fn expected(
    store: &dyn Store,
    catalog: &Catalog,
    settings: &Settings,
    run: &RunRow,
) -> Result<Option<Baseline>, StoreError> {
    let Some(job) = catalog.jobs.get(&run.job) else {
        return Ok(None);
    };
    if !job.slowdown.enabled {
        return Ok(None);
    }
    let fy_start = settings.fiscal_year_start;
    let class = baseline::day_class(run.business_date, fy_start);
    let want = job.slowdown.runs;
    let limit = if class == baseline::DayClass::Ordinary {
        (want + want / 2) as i64
    } else {
        LOOKBACK
    };
    let samples = store.recent_durations(&run.job, run.id, limit).await?;
    let same: Vec<f64> = samples
        .iter()
        .filter(|s| baseline::day_class(s.business_date, fy_start) == class)
        .take(want)
        .map(|s| s.seconds)
        .collect();
    Ok(baseline::baseline(&same))
}

fn timeline(day: &BusinessDay, asked: &DayFilter, tz: chrono_tz::Tz) -> Timeline {
    let status = match asked.statuses.as_slice() {
        [] => String::new(),
        [one] => one.as_str().to_owned(),
        _ => "bad".to_owned(),
    };
    let mut statuses = vec!["bad"];
    statuses.extend(RunStatus::ALL.iter().map(|s| s.as_str()));
    Timeline {
        lines: day
            .runs
            .iter()
            .map(|r| Line {
                href: format!("/runs/{}", r.id),
                id: r.id,
                job: r.job.clone(),
                status: r.status,
                node: node_of(r),
                queued: local(r.queued_at, tz),
                started: page::local_or_dash(r.started_at, tz),
                ended: page::local_or_dash(r.ended_at, tz),
                duration: page::between(r.started_at, r.ended_at),
            })
            .collect(),
        matching: day.matching(asked),
        status,
        node: asked.node.clone().unwrap_or_default(),
        statuses,
        nodes: day.nodes(),
    }
}
