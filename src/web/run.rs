//! Run (`/runs/{id}`): a run's status and times, its parameters, its steps, and each
//! attempt with its exit, duration and output tails as recorded (the tails the database
//! keeps, not the log file). An unknown run is a 404 page.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use std::sync::Arc;

use super::page::{self, Frame, Write, between, local, local_or_dash};
use super::{Dashboard, lang, session};
use crate::store::{AttemptRow, RunDetail};
use crate::store::{RunStatus, StepStatus};

#[derive(Debug)]
struct Step {
    name: String,
    status: String,
    attempts: i64,
    started: String,
    ended: String,
    duration: String,
    reason: String,
}

#[derive(Debug)]
struct Attempt {
    step: String,
    number: i64,
    status: String,
    exit: String,
    started: String,
    duration: String,
    stdout: String,
    stderr: String,
}

#[derive(Template)]
#[template(path = "run.html")]
struct RunPage {
    frame: Frame,
    id: i64,
    /// Queued or running: it can be cancelled.
    live: bool,
    /// The steps waiting for an approval: each with the decision taken already, if any
    /// (the run goes on within a second of it).
    gates: Vec<(String, String)>,
    cancel: Write,
    approve: Write,
    job: String,
    status: String,
    reason: String,
    trigger: String,
    business_date: String,
    params: Vec<(String, String)>,
    queued: String,
    started: String,
    ended: String,
    duration: String,
    node: String,
    steps: Vec<Step>,
    attempts: Vec<Attempt>,
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let found = match id.parse::<i64>() {
        Ok(id) => d.store.get_run(id).await,
        Err(_) => Ok(None),
    };
    match found {
        Ok(Some(detail)) => {
            let tz = d.definitions().settings.timezone;
            let mut decided = Vec::new();
            for s in &detail.steps {
                if s.status != StepStatus::WaitingApproval {
                    continue;
                }
                let taken = match d.store.gate(detail.run.id, &s.name).await {
                    Ok(g) => g.and_then(|g| match (g.decision, g.decided_by) {
                        (Some(what), Some(by)) => Some(format!("{what} by {by}")),
                        _ => None,
                    }),
                    Err(e) => return page::unavailable(lang, &e),
                };
                decided.push((s.name.clone(), taken.unwrap_or_default()));
            }
            page::render(&view(detail, decided, lang, tz, who), StatusCode::OK)
        }
        Ok(None) => page::message(lang, StatusCode::NOT_FOUND, w.not_found, w.no_such_run),
        Err(e) => page::unavailable(lang, &e),
    }
}

fn view(
    d: RunDetail,
    gates: Vec<(String, String)>,
    lang: super::Lang,
    tz: chrono_tz::Tz,
    who: Option<session::Session>,
) -> RunPage {
    let r = d.run;
    let params = match r.params {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => s,
                    other => other.to_string(),
                };
                (k, v)
            })
            .collect(),
        serde_json::Value::Null => Vec::new(),
        other => vec![(String::new(), other.to_string())],
    };
    RunPage {
        frame: Frame::of(lang, &format!("{} #{}", lang.words().run, r.id), who),
        id: r.id,
        live: matches!(r.status, RunStatus::Queued | RunStatus::Running),
        gates,
        cancel: Write::Cancel,
        approve: Write::Approve,
        job: r.job,
        status: r.status.to_string(),
        reason: r.reason.unwrap_or_default(),
        trigger: r.trigger.to_string(),
        business_date: r.business_date.format("%Y-%m-%d").to_string(),
        params,
        queued: local(r.queued_at, tz),
        started: local_or_dash(r.started_at, tz),
        ended: local_or_dash(r.ended_at, tz),
        duration: between(r.started_at, r.ended_at),
        node: r.owner.unwrap_or(r.host),
        steps: d
            .steps
            .into_iter()
            .map(|s| Step {
                status: s.status.to_string(),
                attempts: s.attempts,
                started: local_or_dash(s.started_at, tz),
                ended: local_or_dash(s.ended_at, tz),
                duration: between(s.started_at, s.ended_at),
                reason: s.reason.unwrap_or_default(),
                name: s.name,
            })
            .collect(),
        attempts: d.attempts.into_iter().map(|a| attempt(a, tz)).collect(),
    }
}

fn attempt(a: AttemptRow, tz: chrono_tz::Tz) -> Attempt {
    let exit = match (a.exit_code, a.signal, &a.error) {
        (Some(c), _, _) => c.to_string(),
        (None, Some(s), _) => format!("signal {s}"),
        (None, None, Some(e)) => e.clone(),
        (None, None, None) => "—".to_owned(),
    };
    Attempt {
        number: a.attempt,
        status: a.status.to_string(),
        exit,
        started: local(a.started_at, tz),
        duration: between(Some(a.started_at), a.ended_at),
        stdout: a.stdout_tail,
        stderr: a.stderr_tail,
        step: a.step,
    }
}
