//! Jobs (`/jobs`) and a job (`/jobs/{name}`): its steps drawn as a graph of their `needs`
//! (server-side SVG, no script), its recent runs with their durations charted over the
//! baseline band the monitoring judges them by (`domain::baseline`, drawn by
//! `report::chart`), its `sla:` and what the report's computation says of it for the month
//! to date (`report::sla_items`), and its coming slots (`schedule::forecast`, as `unyo next`
//! prints them). Reads the definitions the daemon runs with and the records.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Duration;

use super::page::{self, Frame, between, local, local_or_dash};
use super::words::{Lang, Words};
use super::{Dashboard, lang, session};
use crate::domain::baseline::{self, DayClass};
use crate::model::{Action, Job};
use crate::report::chart::{self, Band, RunPoint};
use crate::store::{RunFilter, RunStatus, StoreError};

/// Recent runs listed and charted.
const HISTORY: i64 = 50;
/// Earlier runs the baseline of a month end or fiscal year end looks through (as the
/// monitoring does).
const LOOKBACK: i64 = 1000;
/// Coming slots shown, over the next week (as `unyo next` by default).
const NEXT_SLOTS: usize = 20;
const NEXT_DAYS: i64 = 7;

/// The graph's boxes and gaps, in SVG units.
const BOX_W: u32 = 160;
const BOX_H: u32 = 40;
const GAP_X: u32 = 56;
const GAP_Y: u32 = 18;
const PAD: u32 = 8;
/// Characters of a step's name shown in its box (the whole name is its tooltip and listed
/// below the graph).
const BOX_CHARS: usize = 20;

#[derive(Debug)]
struct JobLine {
    name: String,
    title: String,
    description: String,
    steps: usize,
    schedules: String,
    last: Option<LastRun>,
}

#[derive(Debug)]
struct LastRun {
    id: i64,
    status: String,
    at: String,
}

#[derive(Template)]
#[template(path = "jobs.html")]
struct JobsPage {
    frame: Frame,
    jobs: Vec<JobLine>,
}

pub(super) async fn list(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let defs = d.definitions();
    let tz = defs.settings.timezone;
    let mut jobs = Vec::new();
    for (name, job) in &defs.catalog.jobs {
        let last = match d
            .store
            .list_runs(&RunFilter {
                job: Some(name.clone()),
                status: None,
                limit: 1,
            })
            .await
        {
            Ok(runs) => runs.into_iter().next().map(|r| LastRun {
                id: r.id,
                status: r.status.to_string(),
                at: local(r.ended_at.or(r.started_at).unwrap_or(r.queued_at), tz),
            }),
            Err(e) => return page::unavailable(lang, &e),
        };
        jobs.push(JobLine {
            name: name.clone(),
            title: job.title.clone().unwrap_or_default(),
            description: job.description.clone().unwrap_or_default(),
            steps: job.steps.len(),
            schedules: schedules_of(&defs.catalog, name),
            last,
        });
    }
    page::render(
        &JobsPage {
            frame: Frame::of(lang, lang.words().jobs, who),
            jobs,
        },
        StatusCode::OK,
    )
}

/// The cron lines of the schedules that fire `job`, with their calendars.
fn schedules_of(catalog: &crate::model::Catalog, job: &str) -> String {
    catalog
        .schedules
        .iter()
        .filter(|s| s.job == job)
        .map(|s| match &s.calendar {
            Some(c) => format!("{} ({c})", s.cron),
            None => s.cron.clone(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A step's box in the graph.
#[derive(Debug)]
struct Node {
    x: u32,
    y: u32,
    name: String,
    /// The name cut to fit the box.
    short: String,
    /// `command`, `approval` or `check` (a CSS class; the word shown is the language's).
    kind: &'static str,
    kind_word: &'static str,
}

/// The graph of a job's steps: boxes in columns by depth (a step stands right of every step
/// it needs), an arrow from each need to the step needing it.
#[derive(Debug)]
struct Dag {
    width: u32,
    height: u32,
    nodes: Vec<Node>,
    /// SVG path data, one an edge.
    edges: Vec<String>,
}

/// Lays out `job`'s steps: a step's column is the longest chain of needs before it, its row
/// its place among the steps of that column in declaration order.
fn dag(job: &Job, w: &Words) -> Dag {
    let n = job.steps.len();
    let mut depth = vec![0_u32; n];
    // The needs form a DAG (validated), so n passes settle every depth.
    for _ in 0..n {
        let mut changed = false;
        for (i, s) in job.steps.iter().enumerate() {
            let d = s
                .needs
                .iter()
                .filter_map(|&k| depth.get(k).map(|d| d + 1))
                .max()
                .unwrap_or(0);
            if d != depth[i] {
                depth[i] = d;
                changed = true;
            }
        }
        if !changed {
            break;
        }
    }
    let mut rows_in = vec![0_u32; n.max(1)];
    let mut at = Vec::with_capacity(n);
    for &d in &depth {
        let col = d as usize;
        at.push((
            PAD + d * (BOX_W + GAP_X),
            PAD + rows_in[col] * (BOX_H + GAP_Y),
        ));
        rows_in[col] += 1;
    }
    let columns = depth.iter().max().map_or(0, |d| d + 1);
    let rows = rows_in.iter().copied().max().unwrap_or(0);
    let nodes = job
        .steps
        .iter()
        .zip(&at)
        .map(|(s, &(x, y))| {
            let (kind, kind_word) = match (&s.action, &s.check) {
                (Action::Approval { .. }, _) => ("approval", w.kind_approval),
                (_, Some(_)) => ("check", w.kind_check),
                _ => ("command", w.kind_command),
            };
            let short = if s.name.chars().count() > BOX_CHARS {
                let cut: String = s.name.chars().take(BOX_CHARS - 1).collect();
                format!("{cut}…")
            } else {
                s.name.clone()
            };
            Node {
                x,
                y,
                name: s.name.clone(),
                short,
                kind,
                kind_word,
            }
        })
        .collect();
    let mut edges = Vec::new();
    for (i, s) in job.steps.iter().enumerate() {
        for &k in &s.needs {
            let (Some(&(x1, y1)), Some(&(x2, y2))) = (at.get(k), at.get(i)) else {
                continue;
            };
            let (x1, y1) = (x1 + BOX_W, y1 + BOX_H / 2);
            let (x2, y2) = (x2 - 4, y2 + BOX_H / 2);
            let mid = (x1 + x2) / 2;
            edges.push(format!("M{x1} {y1} C{mid} {y1} {mid} {y2} {x2} {y2}"));
        }
    }
    Dag {
        width: PAD * 2 + columns * BOX_W + columns.saturating_sub(1) * GAP_X,
        height: PAD * 2 + rows * BOX_H + rows.saturating_sub(1) * GAP_Y,
        nodes,
        edges,
    }
}

#[derive(Debug)]
struct StepLine {
    name: String,
    kind: &'static str,
    needs: String,
    what: String,
}

#[derive(Debug)]
struct RunLine {
    id: i64,
    status: String,
    trigger: String,
    date: String,
    started: String,
    duration: String,
}

#[derive(Debug)]
struct BreachLine {
    date: String,
    run: Option<i64>,
    status: String,
    detail: String,
}

#[derive(Debug)]
struct SlaLine {
    item: &'static str,
    agreed: String,
    kept: String,
    rate: String,
    /// `met`, `breached` or `none` (nothing to measure yet).
    verdict: &'static str,
    verdict_word: &'static str,
    breaches: Vec<BreachLine>,
    more: u64,
}

#[derive(Debug)]
struct Coming {
    due: String,
    decision: &'static str,
    reason: String,
}

#[derive(Template)]
#[template(path = "job.html")]
struct JobPage {
    frame: Frame,
    title: String,
    description: String,
    file: String,
    facts: Vec<(&'static str, String)>,
    dag: Dag,
    steps: Vec<StepLine>,
    runs: Vec<RunLine>,
    chart: String,
    /// The baseline today's runs are judged by, or why there is none, in a sentence.
    baseline: String,
    has_baseline: bool,
    has_sla: bool,
    month: String,
    sla: Vec<SlaLine>,
    next: Vec<Coming>,
    more: bool,
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let defs = d.definitions();
    let Some(job) = defs.catalog.jobs.get(&name) else {
        return page::message_to(lang, who, StatusCode::NOT_FOUND, w.not_found, w.no_such_job);
    };
    match view(&d, &defs, job, lang, who).await {
        Ok(p) => page::render(&p, StatusCode::OK),
        Err(e) => page::unavailable(lang, &e),
    }
}

fn class_word(class: DayClass, w: &Words) -> &'static str {
    match class {
        DayClass::Ordinary => w.class_ordinary,
        DayClass::MonthEnd => w.class_month_end,
        DayClass::FiscalYearEnd => w.class_fiscal_year_end,
    }
}

/// The baseline's sentence: its class, size, median and usual range; or how many successful
/// runs of the class there are of the [`baseline::MIN_SAMPLES`] it needs.
fn baseline_text(
    base: Option<baseline::Baseline>,
    class: &str,
    found: usize,
    lang: Lang,
) -> String {
    let need = baseline::MIN_SAMPLES;
    match (base, lang) {
        (Some(b), Lang::En) => format!(
            "Baseline ({class}, {} runs): median {}, usual range {} – {}",
            b.samples,
            seconds(b.median),
            seconds(b.median - b.margin()),
            seconds(b.median + b.margin())
        ),
        (Some(b), Lang::Ja) => format!(
            "基準({class}、{}回分): 中央値 {}、通常の範囲 {}~{}",
            b.samples,
            seconds(b.median),
            seconds(b.median - b.margin()),
            seconds(b.median + b.margin())
        ),
        (None, Lang::En) => {
            format!("No baseline yet: {found} successful runs on {class}, of the {need} it needs.")
        }
        (None, Lang::Ja) => {
            format!("基準はまだありません({class}の成功した実行が{found}回、必要なのは{need}回)。")
        }
    }
}

fn seconds(s: f64) -> String {
    crate::model::values::format_duration(std::time::Duration::from_secs_f64(s.max(0.0)))
}

async fn view(
    d: &Dashboard,
    defs: &super::Definitions,
    job: &Job,
    lang: Lang,
    who: Option<session::Session>,
) -> Result<JobPage, StoreError> {
    let w = lang.words();
    let settings = &defs.settings;
    let tz = settings.timezone;
    let now = d.clock.now();
    let (today, _) = crate::engine::dates(settings, now);

    let runs = d
        .store
        .list_runs(&RunFilter {
            job: Some(job.name.clone()),
            status: None,
            limit: HISTORY,
        })
        .await?;
    let points: Vec<RunPoint> = runs
        .iter()
        .rev()
        .filter_map(|r| {
            let took = (r.ended_at? - r.started_at?).num_milliseconds() as f64 / 1000.0;
            Some(RunPoint {
                date: r.business_date.to_string(),
                seconds: took,
                ok: r.status == RunStatus::Succeeded,
            })
        })
        .collect();

    // The baseline today's runs are judged by: the last successful runs of today's class.
    let class = baseline::day_class(today, settings.fiscal_year_start);
    let want = job.slowdown.runs as i64;
    let limit = if class == DayClass::Ordinary {
        want + want / 2
    } else {
        LOOKBACK
    };
    let same: Vec<f64> = d
        .store
        .recent_durations(&job.name, i64::MAX, limit)
        .await?
        .into_iter()
        .filter(|s| baseline::day_class(s.business_date, settings.fiscal_year_start) == class)
        .take(job.slowdown.runs)
        .map(|s| s.seconds)
        .collect();
    let base = baseline::baseline(&same);
    let chart_lang = match lang {
        Lang::Ja => crate::report::render::Lang::Ja,
        Lang::En => crate::report::render::Lang::En,
    };
    let chart = chart::durations(
        &points,
        base.map(|b| Band {
            median: b.median,
            margin: b.margin(),
        }),
        chart_lang,
    );

    // The month to date, measured as the monthly report measures it.
    let month = crate::report::Period::month(
        chrono::Datelike::year(&today),
        chrono::Datelike::month(&today),
        tz,
        settings.day_start,
    );
    let mut sla = Vec::new();
    if let (Some(s), Some(period)) = (&job.sla, &month) {
        let slot_jobs = if s.complete_by.is_some() {
            vec![job.name.clone()]
        } else {
            Vec::new()
        };
        let facts = d
            .store
            .report_facts(period.from, period.to.min(now), &slot_jobs)
            .await?;
        for item in crate::report::sla_items(&facts, &defs.catalog, tz)
            .into_iter()
            .filter(|i| i.job == job.name)
        {
            let (verdict, verdict_word) = match (item.total, item.met) {
                (0, _) => ("none", w.nothing_to_measure),
                (_, true) => ("met", w.met),
                (_, false) => ("breached", w.breached),
            };
            sla.push(SlaLine {
                item: match item.item.as_str() {
                    "complete_by" => w.sla_complete_by,
                    "success_rate" => w.sla_success_rate,
                    _ => w.sla_max_duration,
                },
                agreed: item.agreed,
                kept: format!("{} / {}", item.ok, item.total),
                rate: item.rate.map(|r| format!("{r:.1}%")).unwrap_or_default(),
                verdict,
                verdict_word,
                breaches: item
                    .breaches
                    .into_iter()
                    .map(|b| BreachLine {
                        date: b.date,
                        run: b.run,
                        status: b.status,
                        detail: b.ended.or(b.took).unwrap_or_default(),
                    })
                    .collect(),
                more: item.more,
            });
        }
    }

    let (coming, more) = crate::schedule::forecast::forecast(
        settings,
        &defs.catalog,
        Some(&job.name),
        now,
        now + Duration::days(NEXT_DAYS),
        NEXT_SLOTS,
    );

    let yes_no = |b: bool| if b { w.yes } else { w.no };
    let mut facts = vec![
        (w.adhoc, yes_no(job.adhoc).to_owned()),
        (
            w.separate_approver,
            yes_no(job.separate_approver).to_owned(),
        ),
    ];
    if let Some(win) = &job.window {
        facts.push((w.window, win.clone()));
    }
    if !job.runs_on.is_empty() {
        facts.push((w.runs_on, job.runs_on.join(", ")));
    }
    let schedules = schedules_of(&defs.catalog, &job.name);
    facts.push((
        w.schedules,
        if schedules.is_empty() {
            "—".to_owned()
        } else {
            schedules
        },
    ));
    let steps = job
        .steps
        .iter()
        .map(|s| StepLine {
            name: s.name.clone(),
            kind: match (&s.action, &s.check) {
                (Action::Approval { .. }, _) => w.kind_approval,
                (_, Some(_)) => w.kind_check,
                _ => w.kind_command,
            },
            needs: s
                .needs
                .iter()
                .filter_map(|&k| job.steps.get(k).map(|n| n.name.clone()))
                .collect::<Vec<_>>()
                .join(", "),
            what: match &s.action {
                Action::Argv(argv) => argv.join(" "),
                Action::Shell(line) => line.clone(),
                Action::Approval { message } => message.clone().unwrap_or_default(),
            },
        })
        .collect();

    Ok(JobPage {
        frame: Frame::of(lang, &format!("{} {}", w.job, job.name), who),
        title: job.title.clone().unwrap_or_default(),
        description: job.description.clone().unwrap_or_default(),
        file: job.file.display().to_string(),
        facts,
        dag: dag(job, w),
        steps,
        runs: runs
            .iter()
            .map(|r| RunLine {
                id: r.id,
                status: r.status.to_string(),
                trigger: r.trigger.to_string(),
                date: r.business_date.to_string(),
                started: local_or_dash(r.started_at, tz),
                duration: between(r.started_at, r.ended_at),
            })
            .collect(),
        chart,
        baseline: baseline_text(base, class_word(class, w), same.len(), lang),
        has_baseline: base.is_some(),
        has_sla: job.sla.is_some(),
        month: month.map(|p| p.label()).unwrap_or_default(),
        sla,
        next: coming
            .into_iter()
            .map(|c| Coming {
                due: local(c.due_at, tz),
                decision: c.decision,
                reason: c.reason.unwrap_or_default(),
            })
            .collect(),
        more,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_stands_right_of_every_step_it_needs() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("jobs")).expect("jobs dir");
        std::fs::write(
            dir.path().join("jobs/flow.yaml"),
            "steps:\n  a:\n    run: 'true'\n  b:\n    run: 'true'\n  c:\n    needs: [a, b]\n    run: 'true'\n  d:\n    needs: [c]\n    approval: {}\n  e:\n    needs: [a]\n    run: 'true'\n",
        )
        .expect("job");
        let settings = crate::model::Settings::load(dir.path()).expect("settings");
        let catalog = crate::model::Catalog::load(&settings).expect("catalog");
        let g = dag(&catalog.jobs["flow"], Lang::En.words());
        let at = |n: &str| {
            let node = g.nodes.iter().find(|x| x.name == n).expect(n);
            (node.x, node.y)
        };
        let col = BOX_W + GAP_X;
        let row = BOX_H + GAP_Y;
        assert_eq!(at("a"), (PAD, PAD));
        assert_eq!(at("b"), (PAD, PAD + row));
        assert_eq!(at("c"), (PAD + col, PAD));
        assert_eq!(at("e"), (PAD + col, PAD + row));
        assert_eq!(at("d"), (PAD + 2 * col, PAD));
        assert_eq!(g.edges.len(), 4);
        assert_eq!(
            g.nodes.iter().find(|x| x.name == "d").map(|x| x.kind),
            Some("approval")
        );
        assert_eq!(g.width, 2 * PAD + 3 * BOX_W + 2 * GAP_X);
        assert_eq!(g.height, 2 * PAD + 2 * BOX_H + GAP_Y);
    }
}
