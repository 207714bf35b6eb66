//! `unyo runs`: recorded runs, newest first; works with no daemon running.

use super::table::Table;
use crate::engine;
use crate::error::Error;
use crate::model::Settings;
use crate::model::values::format_duration;
use crate::store::{RunFilter, RunStatus};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only runs of this job.
    #[arg(long)]
    pub job: Option<String>,
    /// Only runs in this state (queued, running, succeeded, failed, cancelled, interrupted,
    /// refused).
    #[arg(long, value_parser = |s: &str| s.parse::<RunStatus>())]
    pub status: Option<RunStatus>,
    /// At most this many runs.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let runs = store
        .list_runs(&RunFilter {
            job: args.job,
            status: args.status,
            limit: args.limit,
        })
        .await?;
    if args.json {
        let text = serde_json::to_string_pretty(&runs).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if runs.is_empty() {
        super::out("no runs recorded\n");
        return Ok(());
    }
    let mut t = Table::new(&[
        "RUN", "JOB", "STATUS", "TRIGGER", "STARTED", "DURATION", "NOTE",
    ]);
    for r in &runs {
        t.row(vec![
            r.id.to_string(),
            r.job.clone(),
            r.status.to_string(),
            r.trigger.to_string(),
            r.started_at
                .map_or("-".to_owned(), |s| super::local_time(settings, s)),
            engine::elapsed(r.started_at, r.ended_at).map_or("-".to_owned(), format_duration),
            // Why a run declined by itself: what an operator reads instead of an incident.
            match r.status {
                RunStatus::Refused => r.reason.clone().unwrap_or_default(),
                _ => String::new(),
            },
        ]);
    }
    super::out(&t.render());
    Ok(())
}
