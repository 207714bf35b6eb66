//! Approvals (`/approvals`): every step waiting at an approval gate now, oldest first, with
//! its job, run, message, who started the run, when it asked and until when it waits, and
//! (to an approver) the approve and reject forms. The forms post to the Run page's writes
//! (`act::approve`, `act::reject`: the job's `allowed_users` and its separate approver
//! decided by `domain::gate`, audited as `web:NAME`), which come back here.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, Write, local, local_or_dash};
use super::{Dashboard, lang, session};
use crate::model::Action;
use crate::store::{RunStatus, StepStatus, StoreError};

#[derive(Debug)]
struct Waiting {
    run: i64,
    job: String,
    step: String,
    message: String,
    requested_by: String,
    /// The job wants another person than the run's starter to approve.
    separate: bool,
    since: String,
    until: String,
    /// The decision taken already (the run goes on within a second of it).
    decided: String,
}

#[derive(Template)]
#[template(path = "approvals.html")]
struct ApprovalsPage {
    frame: Frame,
    waiting: Vec<Waiting>,
    approve: Write,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    match waiting(&d).await {
        Ok(waiting) => page::render(
            &ApprovalsPage {
                frame: Frame::of(lang, lang.words().approvals, who),
                waiting,
                approve: Write::Approve,
            },
            StatusCode::OK,
        ),
        Err(e) => page::unavailable(lang, &e),
    }
}

/// The gates waiting now, of the running runs, oldest request first.
async fn waiting(d: &Dashboard) -> Result<Vec<Waiting>, StoreError> {
    let defs = d.definitions();
    let tz = defs.settings.timezone;
    let mut out = Vec::new();
    for r in d.store.active_runs().await? {
        if r.status != RunStatus::Running {
            continue;
        }
        let Some(detail) = d.store.get_run(r.id).await? else {
            continue;
        };
        for s in &detail.steps {
            if s.status != StepStatus::WaitingApproval {
                continue;
            }
            let gate = d.store.gate(r.id, &s.name).await?;
            let job = defs.catalog.jobs.get(&r.job);
            let message = job
                .and_then(|j| j.step(&s.name))
                .and_then(|st| match &st.action {
                    Action::Approval { message } => message.clone(),
                    _ => None,
                })
                .unwrap_or_default();
            let since = gate
                .as_ref()
                .map(|g| g.requested_at)
                .or(s.started_at)
                .unwrap_or(r.queued_at);
            out.push((
                since,
                Waiting {
                    run: r.id,
                    job: r.job.clone(),
                    step: s.name.clone(),
                    message,
                    requested_by: detail.run.requested_by.clone(),
                    separate: job.is_some_and(|j| j.separate_approver),
                    since: local(since, tz),
                    until: local_or_dash(gate.as_ref().and_then(|g| g.timeout_at), tz),
                    decided: gate
                        .and_then(|g| Some(format!("{} by {}", g.decision?, g.decided_by?)))
                        .unwrap_or_default(),
                },
            ));
        }
    }
    out.sort_by_key(|(since, w)| (*since, w.run));
    Ok(out.into_iter().map(|(_, w)| w).collect())
}
