//! Incidents (`/incidents`): the open and acknowledged ones, newest first, each with its run
//! and who acknowledged it; an operator sees an acknowledge button on each open one.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, Write, local, local_or_dash};
use super::{Dashboard, lang, session};
use crate::store::IncidentStatus;

/// At most this many of each state.
const LIMIT: i64 = 200;

#[derive(Debug)]
struct Incident {
    id: i64,
    opened: String,
    severity: String,
    status: String,
    open: bool,
    job: String,
    run: Option<i64>,
    summary: String,
    acknowledged: String,
}

#[derive(Template)]
#[template(path = "incidents.html")]
struct IncidentsPage {
    frame: Frame,
    incidents: Vec<Incident>,
    ack: Write,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let tz = d.definitions().settings.timezone;
    let mut rows = Vec::new();
    for status in [IncidentStatus::Open, IncidentStatus::Acknowledged] {
        match d.store.list_incidents(Some(status), LIMIT).await {
            Ok(r) => rows.extend(r),
            Err(e) => return page::unavailable(lang, &e),
        }
    }
    rows.sort_by(|a, b| b.opened_at.cmp(&a.opened_at).then(b.id.cmp(&a.id)));
    let incidents = rows
        .into_iter()
        .map(|i| Incident {
            id: i.id,
            opened: local(i.opened_at, tz),
            severity: i.severity.to_string(),
            status: i.status.to_string(),
            open: i.status == IncidentStatus::Open,
            job: i.job,
            run: i.run_id,
            summary: i.summary,
            acknowledged: match (&i.acknowledged_by, i.acknowledged_at) {
                (Some(by), at) => format!("{by} {}", local_or_dash(at, tz)),
                _ => String::new(),
            },
        })
        .collect();
    page::render(
        &IncidentsPage {
            frame: Frame::of(lang, lang.words().incidents, who),
            incidents,
            ack: Write::Acknowledge,
        },
        StatusCode::OK,
    )
}
