//! Nodes (`/nodes`), as `unyo nodes` shows them: every daemon sharing the database by node
//! name, alive or not (by its heartbeats, judged by `node.timeout`), how long ago it beat,
//! its labels, the runs it is running, its process and version, and which one plans the
//! schedules.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::page::{self, Frame, local};
use super::{Dashboard, lang, session};
use crate::store::NodeRow;

#[derive(Debug)]
struct Node {
    name: String,
    /// `alive`, `alive, planner`, `declared dead`, `stopped`, `SILENT` (as `unyo nodes`).
    state: &'static str,
    alive: bool,
    beat: String,
    beat_age: String,
    running: i64,
    labels: String,
    process: String,
    version: String,
    started: String,
}

#[derive(Template)]
#[template(path = "nodes.html")]
struct NodesPage {
    frame: Frame,
    nodes: Vec<Node>,
}

/// A node's state in a word or three, as `unyo nodes` says it.
fn state(n: &NodeRow) -> &'static str {
    match (n.alive, n.fenced_at, n.stopped_at) {
        (true, _, _) if n.planner => "alive, planner",
        (true, _, _) => "alive",
        (false, Some(_), _) => "declared dead",
        (false, None, Some(_)) => "stopped",
        (false, None, None) => "SILENT",
    }
}

pub(super) async fn page(State(d): State<Arc<Dashboard>>, headers: HeaderMap) -> Response {
    let lang = lang(&headers);
    let who = session::current(&d, &headers).await;
    let settings = &d.definitions().settings;
    let tz = settings.timezone;
    let rows = match d.store.nodes(d.clock.now(), settings.node.timeout).await {
        Ok(r) => r,
        Err(e) => return page::unavailable(lang, &e),
    };
    let nodes = rows
        .iter()
        .map(|n| Node {
            name: n.name.clone(),
            state: state(n),
            alive: n.alive,
            beat: local(n.heartbeat_at, tz),
            // Whole seconds: the age is the database's clock's, to a fraction.
            #[allow(clippy::cast_possible_truncation)]
            beat_age: page::duration(chrono::Duration::seconds(n.beat_age.round() as i64)),
            running: n.running,
            labels: n.labels.join(", "),
            process: format!("{}@{}", n.pid, n.host),
            version: n.version.clone(),
            started: local(n.started_at, tz),
        })
        .collect();
    page::render(
        &NodesPage {
            frame: Frame::of(lang, lang.words().nodes, who),
            nodes,
        },
        StatusCode::OK,
    )
}
