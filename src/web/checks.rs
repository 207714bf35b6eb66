//! Checks (`/checks`): the state of every health-check target (up or down, for how many
//! results in a row, since when), its last result with its output and performance data,
//! how many results were recorded, and the latest changes of state, as `unyo check` and the
//! report read them (`targets`, `target_changes`).

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, local};
use super::{Dashboard, lang, session};

/// At most this many changes of state, the latest.
const CHANGES: usize = 50;

#[derive(Debug)]
struct Target {
    target: String,
    kind: String,
    job: String,
    step: String,
    state: String,
    streak: u32,
    since: String,
    last_status: String,
    last_at: String,
    output: String,
    perfdata: String,
    results: i64,
}

#[derive(Debug)]
struct Change {
    at: String,
    target: String,
    kind: String,
    state: String,
    output: String,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage {
    frame: Frame,
    targets: Vec<Target>,
    changes: Vec<Change>,
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let tz = d.definitions().settings.timezone;
    let (targets, changes) = match (
        d.store.targets().await,
        d.store.target_changes(d.clock.now()).await,
    ) {
        (Ok(t), Ok(c)) => (t, c),
        (Err(e), _) | (_, Err(e)) => return page::unavailable(lang, &e),
    };
    let targets = targets
        .into_iter()
        .map(|t| Target {
            target: t.target,
            kind: t.kind.to_string(),
            job: t.job,
            step: t.step,
            state: t.state.to_string(),
            streak: t.streak,
            since: local(t.since, tz),
            last_status: t.last_status.to_string(),
            last_at: local(t.last_at, tz),
            output: t.last_output,
            perfdata: t.last_perfdata,
            results: t.results,
        })
        .collect();
    let changes = changes
        .into_iter()
        .rev()
        .take(CHANGES)
        .map(|c| Change {
            at: local(c.at, tz),
            target: c.target,
            kind: c.kind.to_string(),
            state: c.state.to_string(),
            output: c.output,
        })
        .collect();
    page::render(
        &ChecksPage {
            frame: Frame::of(lang, lang.words().checks, who),
            targets,
            changes,
        },
        StatusCode::OK,
    )
}
