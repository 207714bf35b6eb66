//! One incident (`/incidents/{id}`), as `unyo incident show` prints it: severity, status,
//! job, run and step, failure class and runbook rule, when it opened and how often it was
//! seen, its report deadline, who acknowledged and resolved it, its cause and countermeasure,
//! its log excerpt and its history. An operator sees Acknowledge on an open one and the form
//! to resolve it (cause and countermeasure) until it is resolved. An unknown incident is a
//! 404 page.

use std::sync::Arc;

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, Write, local, local_or_dash};
use super::{Dashboard, lang, session};
use crate::store::IncidentStatus;

#[derive(Debug)]
struct Event {
    at: String,
    kind: String,
    by: String,
    run: Option<i64>,
    text: String,
}

#[derive(Template)]
#[template(path = "incident.html")]
struct IncidentPage {
    frame: Frame,
    id: i64,
    severity: String,
    status: String,
    open: bool,
    resolved: bool,
    summary: String,
    job: String,
    run: Option<i64>,
    step: String,
    failure_class: String,
    rule: String,
    opened: String,
    seen: i64,
    last_seen: String,
    report_due: String,
    acknowledged: String,
    resolved_by: String,
    cause: String,
    countermeasure: String,
    log_excerpt: String,
    events: Vec<Event>,
    ack: Write,
    resolve: Write,
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
        Ok(id) => d.store.get_incident(id).await,
        Err(_) => Ok(None),
    };
    let (i, events) = match found {
        Ok(Some(found)) => found,
        Ok(None) => {
            return page::message(lang, StatusCode::NOT_FOUND, w.not_found, w.no_such_incident);
        }
        Err(e) => return page::unavailable(lang, &e),
    };
    let tz = d.definitions().settings.timezone;
    let by = |who: &Option<String>, at| match who {
        Some(by) => format!("{by} {}", local_or_dash(at, tz)),
        None => String::new(),
    };
    let view = IncidentPage {
        frame: Frame::of(lang, &format!("{} #{}", w.incident, i.id), who),
        id: i.id,
        severity: i.severity.to_string(),
        status: i.status.to_string(),
        open: i.status == IncidentStatus::Open,
        resolved: i.status == IncidentStatus::Resolved,
        summary: i.summary,
        job: i.job,
        run: i.run_id,
        step: i.step.unwrap_or_default(),
        failure_class: i.failure_class.to_string(),
        rule: i.rule.unwrap_or_default(),
        opened: local(i.opened_at, tz),
        seen: i.occurrences,
        last_seen: local(i.last_seen_at, tz),
        report_due: local_or_dash(i.report_deadline, tz),
        acknowledged: by(&i.acknowledged_by, i.acknowledged_at),
        resolved_by: by(&i.resolved_by, i.resolved_at),
        cause: i.cause.unwrap_or_default(),
        countermeasure: i.countermeasure.unwrap_or_default(),
        log_excerpt: i.log_excerpt,
        events: events
            .into_iter()
            .map(|e| Event {
                at: local(e.at, tz),
                kind: e.kind,
                by: e.actor,
                run: e.run_id,
                text: e.text,
            })
            .collect(),
        ack: Write::Acknowledge,
        resolve: Write::Resolve,
    };
    page::render(&view, StatusCode::OK)
}
