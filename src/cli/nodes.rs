//! `unyo nodes`: the daemons sharing the database, one line a node: alive or not (by its
//! heartbeats, judged by `node.timeout`), its last heartbeat, labels, the runs it is
//! running, and which node plans the schedules. `--json` for programs.

use chrono::Utc;

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;
use crate::store::NodeRow;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let nodes = store.nodes(Utc::now(), settings.node.timeout).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&nodes).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    super::out(&render(&nodes));
    Ok(())
}

/// A node's state in a word or three.
pub(super) fn state(n: &NodeRow) -> String {
    match (n.alive, n.fenced_at, n.stopped_at) {
        (true, _, _) if n.planner => "alive, planner".to_owned(),
        (true, _, _) => "alive".to_owned(),
        (false, Some(_), _) => "declared dead".to_owned(),
        (false, None, Some(_)) => "stopped".to_owned(),
        (false, None, None) => "SILENT".to_owned(),
    }
}

/// Seconds as `4s`, `3m 10s`, `2h 5m`.
fn age(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as i64;
    match s {
        0..60 => format!("{s}s ago"),
        60..3600 => format!("{}m {}s ago", s / 60, s % 60),
        _ => format!("{}h {}m ago", s / 3600, (s % 3600) / 60),
    }
}

fn render(nodes: &[NodeRow]) -> String {
    if nodes.is_empty() {
        return "no daemon has started on this database\n".to_owned();
    }
    let mut t = Table::new(&[
        "NODE",
        "STATE",
        "LAST BEAT",
        "RUNNING",
        "LABELS",
        "PROCESS",
        "VERSION",
    ]);
    for n in nodes {
        t.row(vec![
            n.name.clone(),
            state(n),
            age(n.beat_age),
            n.running.to_string(),
            n.labels.join(","),
            format!("{}@{}", n.pid, n.host),
            n.version.clone(),
        ]);
    }
    t.render()
}
