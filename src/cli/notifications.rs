//! `unyo notifications`: what unyo told whom about which incident, and what could not be
//! delivered. Works with no daemon running (the daemon sends them).

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
    let mut t = Table::new(
        &[
            "ID", "INCIDENT", "EVENT", "LEVEL", "CHANNEL", "STATUS", "TRIES", "DETAIL",
        ],
        &[5, 8, 9, 5, 14, 7, 5, 200],
    );
    for n in &rows {
        t.row(vec![
            n.id.to_string(),
            n.incident_id.to_string(),
            n.event.clone(),
            format!("{}/{}", n.route, n.level),
            n.channel.clone(),
            n.status.to_string(),
            n.attempts.to_string(),
            n.last_error
                .clone()
                .or_else(|| n.receipt.clone())
                .unwrap_or_default(),
        ]);
    }
    super::out(&t.render());
    Ok(())
}
