//! `unyo notifications`: what unyo told whom about which incident or waiting approval, and
//! what could not be delivered or was withdrawn. Works with no daemon running (the daemon
//! sends them).

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the ones given up after every retry.
    #[arg(long)]
    pub failed: bool,
    /// At most this many.
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_reader(settings).await?;
    let rows = store.list_notifications(args.failed, args.limit).await?;
    if args.json {
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if rows.is_empty() {
        super::out(if args.failed {
            "no undelivered notifications\n"
        } else {
            "no notifications recorded\n"
        });
        return Ok(());
    }
    let mut t = Table::new(&[
        "ID", "ABOUT", "EVENT", "LEVEL", "CHANNEL", "STATUS", "TRIES", "DETAIL",
    ]);
    for n in &rows {
        // An incident (`#3`), or the approval step of a run (`run 12 attend`).
        let about = match (n.incident_id, n.run_id, &n.step) {
            (Some(id), _, _) => format!("#{id}"),
            (None, Some(run), Some(step)) => format!("run {run} {step}"),
            _ => String::new(),
        };
        t.row(vec![
            n.id.to_string(),
            about,
            n.event.clone(),
            format!("{}/{}", n.route, n.level),
            n.channel.clone(),
            n.status.to_string(),
            n.attempts.to_string(),
            n.reason
                .clone()
                .or_else(|| n.last_error.clone())
                .or_else(|| n.receipt.clone())
                .unwrap_or_default(),
        ]);
    }
    super::out(&t.render());
    Ok(())
}
