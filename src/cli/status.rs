//! `unyo status`: one screen on how operations stand: whether the daemon is alive (its
//! heartbeat), what runs, what waits (retries, queued and deferred runs), the open
//! incidents and the next slots. Works with no daemon running; `--json` for programs.

use chrono::{Duration, Utc};
use serde::Serialize;

use super::table::Table;
use crate::cli::incident::overdue;
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::store::{IncidentStatus, RunRow, RunStatus, StepStatus};

/// A daemon counts as alive when its last heartbeat is younger than this.
const ALIVE: Duration = Duration::seconds(30);

/// How far back `unyo status` lists runs that refused.
const REFUSED_SHOWN: Duration = Duration::hours(24);

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
struct Status {
    daemon: Daemon,
    /// Every node sharing the database (one with SQLite).
    nodes: Vec<crate::store::NodeRow>,
    running: Vec<RunRow>,
    waiting_retry: Vec<Waiting>,
    /// Running steps handed over to other nodes (`runs_on`): which node runs each, or the
    /// labels it waits for.
    handed_over: Vec<HandedOver>,
    queued: Vec<RunRow>,
    open_incidents: Vec<crate::store::IncidentRow>,
    /// Runs of the last day that declined by themselves (`refuse_exit`), with the reason:
    /// no incident tells of them.
    refused: Vec<RunRow>,
    held: Vec<crate::store::HoldRow>,
    /// Service-desk requests not closed (`unyo desk`), each with whether it is past its
    /// answer deadline and not answered.
    requests: Vec<DeskLine>,
    next_slots: Vec<crate::schedule::forecast::Coming>,
}

#[derive(Debug, Serialize)]
struct DeskLine {
    id: i64,
    category: crate::store::Category,
    status: crate::store::RequestStatus,
    due_at: chrono::DateTime<Utc>,
    overdue: bool,
}

#[derive(Debug, Serialize)]
struct Daemon {
    alive: bool,
    pid: Option<i64>,
    host: Option<String>,
    started_at: Option<chrono::DateTime<Utc>>,
    heartbeat_at: Option<chrono::DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct HandedOver {
    run_id: i64,
    step: String,
    /// The node running it; `None` while none has taken it.
    node: Option<String>,
    /// The labels it waits for, while no node has taken it.
    labels: Vec<String>,
}

impl HandedOver {
    fn note(&self) -> String {
        match &self.node {
            Some(n) => format!("{}: on node {n}", self.step),
            None => format!(
                "{}: waiting for a node labelled {}",
                self.step,
                self.labels.join(", ")
            ),
        }
    }
}

#[derive(Debug, Serialize)]
struct Waiting {
    run_id: i64,
    job: String,
    step: String,
    retry_at: Option<chrono::DateTime<Utc>>,
    reason: Option<String>,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let now = Utc::now();
    let last = store.daemons(1).await?.into_iter().next();
    let daemon = Daemon {
        alive: last
            .as_ref()
            .is_some_and(|d| d.stopped_at.is_none() && now - d.heartbeat_at < ALIVE),
        pid: last.as_ref().map(|d| d.pid),
        host: last.as_ref().map(|d| d.host.clone()),
        started_at: last.as_ref().map(|d| d.started_at),
        heartbeat_at: last.as_ref().map(|d| d.heartbeat_at),
    };
    let nodes = store.nodes(now, settings.node.timeout).await?;
    let active = store.active_runs().await?;
    let (running, queued): (Vec<RunRow>, Vec<RunRow>) = active
        .into_iter()
        .partition(|r| r.status == RunStatus::Running);
    let mut waiting_retry = Vec::new();
    let mut handed_over = Vec::new();
    for r in &running {
        if let Some(d) = store.get_run(r.id).await? {
            for a in d
                .attempts
                .iter()
                .filter(|a| a.status == crate::store::AttemptStatus::Running)
            {
                let node = a.command.get("node").and_then(|n| n.as_str());
                let labels = a.command.get("runs_on").and_then(|l| l.as_array());
                if node.is_some() || labels.is_some() {
                    handed_over.push(HandedOver {
                        run_id: r.id,
                        step: a.step.clone(),
                        node: node.map(str::to_owned),
                        labels: labels
                            .into_iter()
                            .flatten()
                            .filter_map(|l| l.as_str().map(str::to_owned))
                            .collect(),
                    });
                }
            }
            for s in d.steps.iter().filter(|s| {
                matches!(
                    s.status,
                    StepStatus::WaitingRetry | StepStatus::WaitingApproval
                )
            }) {
                waiting_retry.push(Waiting {
                    run_id: r.id,
                    job: r.job.clone(),
                    step: s.name.clone(),
                    retry_at: s.retry_at,
                    reason: s.reason.clone(),
                });
            }
        }
    }
    let mut open_incidents = store.list_incidents(Some(IncidentStatus::Open), 50).await?;
    open_incidents.extend(
        store
            .list_incidents(Some(IncidentStatus::Acknowledged), 50)
            .await?,
    );
    open_incidents.sort_by_key(|i| -i.id);
    let next_slots = match Catalog::load(settings) {
        Ok(catalog) => {
            crate::schedule::forecast::forecast(
                settings,
                &catalog,
                None,
                now,
                now + Duration::days(7),
                5,
            )
            .0
        }
        Err(_) => Vec::new(),
    };
    let held = store.holds().await?;
    let refused: Vec<RunRow> = store
        .list_runs(&crate::store::RunFilter {
            job: None,
            status: Some(RunStatus::Refused),
            limit: 20,
        })
        .await?
        .into_iter()
        .filter(|r| r.ended_at.unwrap_or(r.queued_at) > now - REFUSED_SHOWN)
        .collect();
    let requests = store
        .list_requests(&crate::store::RequestFilter {
            limit: 1000,
            ..Default::default()
        })
        .await?
        .into_iter()
        .map(|r| DeskLine {
            id: r.id,
            category: r.category,
            status: r.status,
            due_at: r.due_at,
            overdue: super::desk::overdue(&r, now),
        })
        .collect();
    let status = Status {
        requests,
        daemon,
        nodes,
        running,
        waiting_retry,
        handed_over,
        queued,
        open_incidents,
        refused,
        held,
        next_slots,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&status).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    super::out(&render(settings, &status, now));
    Ok(())
}

fn render(settings: &Settings, s: &Status, now: chrono::DateTime<Utc>) -> String {
    // A run due next April shows its year.
    let time = |t: chrono::DateTime<Utc>| super::table::short_time(t, now, settings.timezone);
    let mut out = String::new();
    match (&s.daemon, s.daemon.alive) {
        (d, true) => out.push_str(&format!(
            "daemon:     running (pid {} on {}, since {})\n",
            d.pid.unwrap_or_default(),
            d.host.as_deref().unwrap_or("?"),
            d.started_at.map(time).unwrap_or_default()
        )),
        (d, false) => out.push_str(&format!(
            "daemon:     NOT RUNNING{}\n",
            d.heartbeat_at
                .map(|t| format!(" (last seen {})", time(t)))
                .unwrap_or_else(|| " (never started on this database)".to_owned())
        )),
    }
    // Several nodes: each in a word, the dead and silent ones first to be seen.
    if s.nodes.len() > 1 {
        let alive = s.nodes.iter().filter(|n| n.alive).count();
        let each: Vec<String> = s
            .nodes
            .iter()
            .map(|n| format!("{} ({})", n.name, super::nodes::state(n)))
            .collect();
        out.push_str(&format!(
            "nodes:      {alive} of {} alive: {}\n",
            s.nodes.len(),
            each.join(", ")
        ));
    }
    let overdue_n = s.open_incidents.iter().filter(|i| overdue(i, now)).count();
    out.push_str(&format!(
        "runs:       {} running ({} waiting to retry, {} for approval), {} queued\n",
        s.running.len(),
        s.waiting_retry
            .iter()
            .filter(|w| w.retry_at.is_some())
            .count(),
        s.waiting_retry
            .iter()
            .filter(|w| w.retry_at.is_none())
            .count(),
        s.queued.len()
    ));
    out.push_str(&format!(
        "incidents:  {} open or acknowledged{}\n",
        s.open_incidents.len(),
        if overdue_n > 0 {
            format!(", {overdue_n} past their report deadline")
        } else {
            String::new()
        }
    ));
    if !s.requests.is_empty() {
        let late = s.requests.iter().filter(|r| r.overdue).count();
        out.push_str(&format!(
            "requests:   {} not closed{}\n",
            s.requests.len(),
            if late > 0 {
                format!(", {late} past their answer deadline (unyo desk list)")
            } else {
                String::new()
            }
        ));
    }
    for h in &s.held {
        out.push_str(&format!(
            "held:       `{}` by {} since {}{}\n",
            h.job,
            h.held_by,
            time(h.held_at),
            if h.reason.is_empty() {
                String::new()
            } else {
                format!(" ({})", h.reason)
            }
        ));
    }
    if !s.running.is_empty() || !s.queued.is_empty() {
        out.push('\n');
        let mut t = Table::new(&["RUN", "JOB", "STATUS", "SINCE", "NOTE"]);
        for r in s.running.iter().chain(&s.queued) {
            let since = r.started_at.unwrap_or(r.queued_at);
            let note = if r.status == RunStatus::Queued {
                match (r.not_before, &r.reason, &r.outside_window) {
                    (_, Some(reason), _) => reason.clone(),
                    (Some(nb), None, None) => format!("not before {}", time(nb)),
                    (Some(nb), None, Some(why)) => {
                        format!(
                            "not before {}, outside its window (urgent: {why})",
                            time(nb)
                        )
                    }
                    (None, None, Some(why)) => format!("outside its window (urgent: {why})"),
                    (None, None, None) => String::new(),
                }
            } else {
                s.waiting_retry
                    .iter()
                    .filter(|w| w.run_id == r.id)
                    .map(|w| match w.retry_at {
                        Some(at) => format!("{}: retry at {}", w.step, time(at)),
                        None => format!("{}: waiting for approval", w.step),
                    })
                    .chain(
                        s.handed_over
                            .iter()
                            .filter(|h| h.run_id == r.id)
                            .map(HandedOver::note),
                    )
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            // A rehearsal says so, above all to the one asked to approve it.
            let note = match (r.business_date_given, note.is_empty()) {
                (false, _) => note,
                (true, true) => format!("business date {} given", r.business_date),
                (true, false) => format!("{note} (business date {} given)", r.business_date),
            };
            t.row(vec![
                r.id.to_string(),
                r.job.clone(),
                r.status.to_string(),
                time(since),
                note,
            ]);
        }
        out.push_str(&t.render());
    }
    if !s.open_incidents.is_empty() {
        out.push('\n');
        let mut t = Table::new(&["INC", "SEV", "STATUS", "JOB", "SUMMARY"]);
        for i in &s.open_incidents {
            let mut status = i.status.to_string();
            if overdue(i, now) {
                status.push('!');
            }
            t.row(vec![
                i.id.to_string(),
                i.severity.to_string(),
                status,
                i.job.clone(),
                i.summary.clone(),
            ]);
        }
        out.push_str(&t.render());
    }
    if !s.refused.is_empty() {
        out.push_str("\nrefused (last 24 h, no incident):\n");
        let mut t = Table::new(&["RUN", "JOB", "ENDED", "REASON"]);
        for r in &s.refused {
            t.row(vec![
                r.id.to_string(),
                r.job.clone(),
                time(r.ended_at.unwrap_or(r.queued_at)),
                r.reason.clone().unwrap_or_default(),
            ]);
        }
        out.push_str(&t.render());
    }
    if !s.next_slots.is_empty() {
        out.push_str("\nnext:\n");
        let mut t = Table::new(&["DUE", "JOB", "DECISION"]);
        for c in &s.next_slots {
            t.row(vec![
                time(c.due_at),
                c.job.clone(),
                match &c.reason {
                    Some(r) => format!("{} ({r})", c.decision),
                    None => c.decision.to_owned(),
                },
            ]);
        }
        out.push_str(&t.render());
    }
    out
}
