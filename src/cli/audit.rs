//! The audit trail: every operator action is appended when it is taken (`record`), and
//! `unyo audit` reads it. Nothing in unyo updates or deletes an entry.

use chrono::Utc;

use super::table::Table;
use crate::error::Error;
use crate::model::Settings;
use crate::store::{AuditEntry, Store};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only actions from this time on: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or RFC 3339.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only actions of this operating-system user.
    #[arg(long)]
    pub user: Option<String>,
    /// At most this many (the most recent).
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i64).range(1..))]
    pub limit: i64,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Appends an action of the user running this command.
pub async fn record(
    store: &dyn Store,
    action: &str,
    target: String,
    args: serde_json::Value,
    outcome: Result<String, String>,
) -> Result<(), Error> {
    let (outcome, detail) = match outcome {
        Ok(d) => ("done", d),
        Err(d) => ("refused", d),
    };
    store
        .audit(&AuditEntry {
            at: Utc::now(),
            user: crate::domain::host::os_user(),
            host: crate::domain::host::hostname(),
            action: action.to_owned(),
            target,
            args,
            outcome: outcome.to_owned(),
            detail,
        })
        .await?;
    Ok(())
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let since = match &args.since {
        Some(t) => Some(
            super::next::parse_time(t, settings.timezone)
                .map_err(|m| Error::Request(format!("--since: {m}")))?,
        ),
        None => None,
    };
    let store = super::open_reader(settings).await?;
    let rows = store
        .list_audit(since, args.user.as_deref(), args.limit)
        .await?;
    if args.json {
        let text = serde_json::to_string_pretty(&rows).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if rows.is_empty() {
        super::out("no operator actions recorded\n");
        return Ok(());
    }
    let mut t = Table::new(&["TIME", "USER", "ACTION", "TARGET", "OUTCOME", "DETAIL"]);
    for r in &rows {
        t.row(vec![
            super::local_time(settings, r.at),
            r.user.clone(),
            r.action.clone(),
            r.target.clone(),
            r.outcome.clone(),
            r.detail.clone(),
        ]);
    }
    super::out(&t.render());
    Ok(())
}
