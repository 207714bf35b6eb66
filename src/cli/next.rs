//! `unyo next`: the coming slots of every schedule (or one job's), with the reason for each
//! decision the calendar, the closed-day rule and the job's window make. Reads only the
//! definitions; works with no daemon and no database.

use chrono::{DateTime, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::table::Table;
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::schedule::plan::{self, Facts, Plan, Shift};
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

/// One coming slot and what will become of it.
#[derive(Debug, Serialize)]
pub(crate) struct Coming {
    pub schedule: String,
    pub job: String,
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// `run`, `moved`, `skipped` or `waits` (for a window).
    pub decision: &'static str,
    pub reason: Option<String>,
}

/// Reads a time argument in the configured zone.
pub fn parse_time(text: &str, tz: Tz) -> Result<DateTime<Utc>, String> {
    let t = text.trim();
    if let Ok(x) = DateTime::parse_from_rfc3339(t) {
        return Ok(x.with_timezone(&Utc));
    }
    let local = [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(t, f).ok())
    .or_else(|| {
        NaiveDate::parse_from_str(t, "%Y-%m-%d")
            .ok()
            .map(|d| d.and_time(chrono::NaiveTime::MIN))
    })
    .ok_or_else(|| {
        format!("bad time `{t}` (expected `YYYY-MM-DD`, `YYYY-MM-DD HH:MM` or RFC 3339)")
    })?;
    tz.from_local_datetime(&local)
        .earliest()
        .map(|x| x.with_timezone(&Utc))
        .ok_or_else(|| format!("`{t}` does not exist in {} (a clock change)", tz.name()))
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
    let mut t = Table::new(&["DUE", "JOB", "DECISION"], &[16, 22, 400]);
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

/// The slots due in `(from, to]`, soonest first, at most `limit`; true when more follow.
pub(crate) fn forecast(
    settings: &Settings,
    catalog: &Catalog,
    job_filter: Option<&str>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: usize,
) -> (Vec<Coming>, bool) {
    let mut coming: Vec<Coming> = Vec::new();
    // Some schedule had more slots in the range than were gathered.
    let mut cut = false;
    for s in &catalog.schedules {
        if job_filter.is_some_and(|j| j != s.job) {
            continue;
        }
        let (Ok(cron), Some(job)) = (
            crate::schedule::parse_cron(&s.cron),
            catalog.jobs.get(&s.job),
        ) else {
            continue;
        };
        let p = Plan {
            schedule: s,
            cron: &cron,
            calendar: s.calendar.as_ref().and_then(|c| catalog.calendars.get(c)),
            fiscal_year_start: settings.fiscal_year_start,
        };
        // Walk forward in pieces so an every-second schedule stops at the limit.
        let mut after = from - Duration::nanoseconds(1);
        let mut step = Duration::hours(1);
        let mut mine = 0;
        while after < to && mine < limit {
            let until = (after + step).min(to);
            for o in p.occurrences(after, until) {
                if mine >= limit {
                    cut = true;
                    break;
                }
                coming.push(describe(s, job, &o, catalog, settings));
                mine += 1;
            }
            after = until;
            step = (step * 4).min(Duration::days(40));
        }
        if mine >= limit && after < to {
            cut = true;
        }
    }
    coming.sort_by(|a, b| (a.due_at, &a.schedule).cmp(&(b.due_at, &b.schedule)));
    let more = cut || coming.len() > limit;
    coming.truncate(limit);
    (coming, more)
}

fn describe(
    s: &crate::model::Schedule,
    job: &crate::model::Job,
    o: &plan::Occurrence,
    catalog: &Catalog,
    settings: &Settings,
) -> Coming {
    let (mut decision, mut reason) = match &o.shift {
        Shift::None => ("run", None),
        Shift::Moved { closed } => ("moved", Some(format!("closed ({closed})"))),
        Shift::Skipped { closed } => ("skipped", Some(format!("closed ({closed})"))),
    };
    if decision != "skipped" {
        let facts = Facts {
            now: o.due_at,
            active: &[],
            windows: &catalog.windows,
            window_tz: settings.timezone,
            display_tz: settings.timezone,
        };
        if let Some((until, why)) = plan::window_wait(job, o.due_at, &facts) {
            decision = if until.is_some() && job.outside_window == crate::model::WindowPolicy::Wait
            {
                "waits"
            } else {
                "skipped"
            };
            reason = Some(match reason {
                Some(r) => format!("{r}; {why}"),
                None => why,
            });
        }
    }
    if let (Some(day), None) = (s.business_day, &reason) {
        reason = Some(day.to_string());
    }
    Coming {
        schedule: s.name.clone(),
        job: s.job.clone(),
        fire_time: o.fire_time,
        due_at: o.due_at,
        decision,
        reason,
    }
}
