//! `unyo next`: the coming slots of every schedule (or one job's), with the reason for each
//! decision the calendar, the closed-day rule and the job's window make. Reads only the
//! definitions; works with no daemon and no database.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use super::table::Table;
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::schedule::forecast::forecast;
use crate::spec::diag;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only the schedules of this job.
    pub job: Option<String>,
    /// Start of the range (default now): `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or RFC 3339; local
    /// times are in the configured time zone.
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// End of the range (default: 7 days after the start).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// At most this many slots.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    pub limit: u32,
    /// Print JSON (one array) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Reads a time argument in the configured zone.
pub fn parse_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    crate::engine::submit::parse_time(text, tz)
}

pub fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Catalog::load(settings)?;
    let tz = settings.timezone;
    if let Some(job) = &args.job
        && !catalog.jobs.contains_key(job)
    {
        let hint = diag::hint(job, catalog.jobs.keys().map(String::as_str));
        return Err(Error::Request(format!("unknown job `{job}`{hint}")));
    }
    let from = match &args.from {
        Some(t) => parse_time(t, tz).map_err(|m| Error::Request(format!("--from: {m}")))?,
        None => Utc::now(),
    };
    let to = match &args.to {
        Some(t) => parse_time(t, tz).map_err(|m| Error::Request(format!("--to: {m}")))?,
        None => from + Duration::days(7),
    };
    if to <= from {
        return Err(Error::Request("--to must be after --from".to_owned()));
    }
    let (coming, more) = forecast(
        settings,
        &catalog,
        args.job.as_deref(),
        from,
        to,
        args.limit as usize,
    );
    if args.json {
        let text = serde_json::to_string_pretty(&coming).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    if coming.is_empty() {
        super::out(&format!(
            "no slots between {} and {}\n",
            super::local_time(settings, from),
            super::local_time(settings, to)
        ));
        return Ok(());
    }
    // The decision is the last column and is never cut.
    let mut t = Table::new(&["DUE", "JOB", "DECISION"]);
    let show = |x: DateTime<Utc>| x.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    for c in &coming {
        let why = c.reason.as_deref().unwrap_or("");
        let decision = match c.decision {
            "moved" => format!("moved from {}, {why}", show(c.fire_time)),
            "run" if why.is_empty() => "run".to_owned(),
            other => format!("{other}: {why}"),
        };
        t.row(vec![show(c.due_at), c.job.clone(), decision]);
    }
    let mut text = t.render();
    if more {
        text.push_str(&format!(
            "... more slots follow before {}; raise --limit or narrow --to\n",
            super::local_time(settings, to)
        ));
    }
    super::out(&text);
    Ok(())
}
