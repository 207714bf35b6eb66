//! `unyo submit JOB`: an operator's one-off request (a data extract for city staff): the
//! job must say `adhoc: true` and let the user act on it; its parameters are checked; the run
//! is queued in the database, now or deferred (`--at`, or `--window` for the next opening of
//! a window), with the requester's `--reason`, and never before the job's own `window:` (or
//! the end of the window it avoids) lets it start, unless `--outside-window` (urgent, with a
//! reason) says otherwise. The command says when the run will really start (`earliest_start`,
//! also used by `run --detach`). The daemon starts it, also when it was stopped at the time.
//! `--business-date` makes it a rehearsal of that date. `--wait` follows the run to its end
//! and exits with its status.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::engine::{self, params};
use crate::error::Error;
use crate::model::{Catalog, Job, Settings};
use crate::spec::diag;
use crate::store::{RunStatus, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (one with `adhoc: true`).
    pub job: String,
    /// A parameter value (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Not before this time: `HH:MM` (the next time the clock shows it), `YYYY-MM-DD HH:MM`,
    /// `YYYY-MM-DD` or RFC 3339. A job's window may start it later: the command says when.
    #[arg(long, value_name = "TIME", conflicts_with = "window")]
    pub at: Option<String>,
    /// Not before the window opens (at once when it is open). Default: the job's `window`.
    #[arg(long, value_name = "NAME")]
    pub window: Option<String>,
    /// Why, in the requester's words (kept with the run and in the audit trail).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Urgent: start outside the job's window (or inside the window it avoids) as soon as
    /// `--at` allows. Needs `--reason`; recorded on the run and audited.
    #[arg(long, requires = "reason")]
    pub outside_window: bool,
    /// Run as of this business date, not the one of the day it starts (a rehearsal of the
    /// fiscal-year rollover or a month's end); recorded on the run and audited.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub business_date: Option<String>,
    /// Follow the run to its end; exit 0 if it succeeded, 1 otherwise.
    #[arg(long)]
    pub wait: bool,
    /// The service-desk request the run serves (`unyo desk`): the run is linked to it, and
    /// the report's ad-hoc table shows the request, its requester and department. Refused
    /// when no such request is recorded or it is closed.
    #[arg(long, value_name = "N")]
    pub request: Option<i64>,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Arc::new(Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    let target = format!("job {}", args.job);
    let audit_args = serde_json::json!({
        "params": params::redact_assignments(
            catalog.jobs.get(&args.job).map(|j| &**j),
            &args.params
        ),
        "at": args.at,
        "window": args.window,
        "reason": args.reason,
        "outside_window": args.outside_window,
        "business_date": args.business_date,
        "request": args.request,
    });
    let refuse = |why: String| {
        let (store, target, audit_args) = (store.clone(), target.clone(), audit_args.clone());
        async move {
            super::audit::record(&*store, "submit", target, audit_args, Err(why.clone())).await?;
            Err::<(), Error>(Error::Request(why))
        }
    };
    let Some(job) = catalog.jobs.get(&args.job).cloned() else {
        let hint = diag::hint(&args.job, catalog.jobs.keys().map(String::as_str));
        return refuse(format!("unknown job `{}`{hint}", args.job)).await;
    };
    if !job.adhoc {
        return refuse(format!(
            "job `{}` is not for ad-hoc submission (it has no `adhoc: true`)",
            job.name
        ))
        .await;
    }
    if let Err(why) = super::auth::check(&job, "submit") {
        return refuse(why).await;
    }
    let given = match args
        .params
        .iter()
        .map(|p| params::parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(g) => g,
        Err(e) => return refuse(e).await,
    };
    let business_date = match args
        .business_date
        .as_deref()
        .map(engine::parse_business_date)
    {
        Some(Err(e)) => return refuse(e).await,
        Some(Ok(d)) => Some(d),
        None => None,
    };
    if let Err(e) = params::check_queueable(&job, &given) {
        return refuse(e).await;
    }
    if let Some(n) = args.request {
        match store.get_request(n).await? {
            None => return refuse(crate::store::no_such_request(n).to_string()).await,
            Some((r, _)) if r.status == crate::store::RequestStatus::Closed => {
                return refuse(format!(
                    "request {n} is closed (by {}); a run cannot be added to it",
                    r.closed_by.as_deref().unwrap_or("unknown")
                ))
                .await;
            }
            Some(_) => {}
        }
    }
    let now = Utc::now();
    let today = engine::dates(settings, now).0;
    let values = match params::resolve(&job, &given, business_date.unwrap_or(today), &settings.root)
    {
        Ok(v) => v,
        Err(e) => return refuse(e).await,
    };
    // Not before `--at`, or the opening of the `--window` asked for; then the job's own
    // window decides, unless the request is urgent.
    let from = match (&args.at, &args.window) {
        (Some(t), _) => match parse_at(t, settings.timezone, now) {
            Ok(t) => t.max(now),
            Err(m) => return refuse(format!("--at: {m}")).await,
        },
        (None, Some(w)) => {
            let Some(window) = catalog.windows.get(w) else {
                let hint = diag::hint(w, catalog.windows.keys().map(String::as_str));
                return refuse(format!("unknown window `{w}`{hint}")).await;
            };
            crate::schedule::window::next_open(window, now, settings.timezone).unwrap_or(now)
        }
        (None, None) => now,
    };
    let urgent = args
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| args.outside_window && !r.is_empty());
    if args.outside_window && urgent.is_none() {
        return refuse("`--outside-window` needs a `--reason` saying why".to_owned()).await;
    }
    let start = match urgent {
        Some(why) => Start {
            at: from,
            words: None,
            outside: Some(why.to_owned()),
        },
        None => earliest_start(settings, &catalog, &job, from),
    };
    let mut record = engine::new_run(
        settings,
        &catalog,
        &job,
        &values,
        Trigger::Submit,
        RunStatus::Queued,
        now,
        &crate::domain::host::os_user(),
    );
    record.not_before = Some(start.at).filter(|t| *t > now);
    record.comment = args.reason.clone();
    record.outside_window = start.outside.clone();
    if let Some(date) = business_date {
        engine::give_business_date(settings, &mut record, date);
    }
    let id = store.create_run(&record).await?;
    // The link is its own write after the run's: a request closed in between refuses it,
    // and the run is cancelled at once (said, and audited as refused).
    let linked = match args.request {
        Some(n) => Some((
            n,
            store
                .change_request(
                    n,
                    &crate::store::DeskChange::Link(crate::store::DeskLink::Run(id)),
                    &crate::domain::host::os_user(),
                    Utc::now(),
                )
                .await?,
        )),
        None => None,
    };
    match &linked {
        // The request closed (or took the run) since it was checked: the run is withdrawn,
        // never left to run for no request.
        Some((n, Err(why))) => {
            let user = crate::domain::host::os_user();
            store.request_cancel(id, &user, Utc::now()).await?;
            let why = format!("run {id} not linked to request {n} ({why}), and cancelled");
            return refuse(why).await;
        }
        // The request changed: audited as `unyo desk link` is.
        Some((n, Ok(row))) => {
            super::audit::record(
                &*store,
                "desk.link",
                format!("request {n}"),
                serde_json::json!({ "run": id }),
                Ok(format!("now {}", row.status)),
            )
            .await?;
        }
        None => {}
    }
    let when = start.say(settings, &job, now);
    super::audit::record(
        &*store,
        "submit",
        target,
        audit_args,
        Ok(format!(
            "run {id} queued, {when}{}",
            business_date
                .map(|d| format!("; business date {d} given by the operator"))
                .unwrap_or_default()
        ) + &args
            .request
            .map(|n| format!("; for request {n}"))
            .unwrap_or_default()),
    )
    .await?;
    eprintln!(
        "run {id} of `{}` queued, {when}{}",
        job.name,
        args.request
            .map(|n| format!(" (request {n})"))
            .unwrap_or_default()
    );
    if !args.wait {
        super::out(&format!("{id}\n"));
        return Ok(());
    }
    follow(&*store, id).await
}

/// `--at`: a clock time `HH:MM` is its next occurrence after `now`; anything else is read as
/// `unyo next --from` reads it.
fn parse_at(text: &str, tz: chrono_tz::Tz, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let Ok(clock) = chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M") else {
        return super::next::parse_time(text, tz);
    };
    let today = now.with_timezone(&tz).date_naive();
    (0..3)
        .find_map(|d| {
            crate::schedule::window::local_instant(tz, today + chrono::Days::new(d), clock)
                .filter(|t| *t > now)
        })
        .ok_or_else(|| format!("no `{text}` in the coming days in {}", tz.name()))
}

/// When a queued run can really start, and why then.
#[derive(Debug, Clone)]
pub(crate) struct Start {
    pub at: DateTime<Utc>,
    /// What moved it past the time asked for (the job's window), in words.
    pub words: Option<String>,
    /// Leave to start outside the job's window, with its reason (`--outside-window`).
    pub outside: Option<String>,
}

impl Start {
    /// `not before 2026-12-05 22:00:00 (when window `night` opens; ...)`, or `as soon as the
    /// daemon takes it`.
    pub fn say(&self, settings: &Settings, job: &Job, now: DateTime<Utc>) -> String {
        let mut when = if self.at > now {
            format!("not before {}", super::local_time(settings, self.at))
        } else {
            "as soon as the daemon takes it".to_owned()
        };
        match (&self.words, &self.outside, &job.window) {
            (Some(w), _, _) => when.push_str(&format!(" ({w})")),
            (None, Some(why), _) => {
                let which = job.window.as_ref().or(job.avoid.as_ref());
                if let Some(w) = which {
                    when.push_str(&format!(", window `{w}` or not (urgent: {why})"));
                }
            }
            (None, None, Some(w)) => {
                when = format!("window `{w}` is open then: {when}");
            }
            (None, None, None) => {}
        }
        when
    }
}

/// When a run asked to start at `from` can start under the job's `window:` (its next opening)
/// or `avoid:` (the end of that window), as the daemon's queue poll decides it.
pub(crate) fn earliest_start(
    settings: &Settings,
    catalog: &Catalog,
    job: &Job,
    from: DateTime<Utc>,
) -> Start {
    let facts = |now| crate::schedule::plan::Facts {
        now,
        active: &[],
        windows: &catalog.windows,
        window_tz: settings.timezone,
        display_tz: settings.timezone,
    };
    let span = |name: &str| {
        catalog.windows.get(name).map_or(String::new(), |w| {
            format!(" ({}–{})", w.from.format("%H:%M"), w.to.format("%H:%M"))
        })
    };
    let mut at = from;
    let mut words = None;
    // A window and an avoided one may each move it once.
    for _ in 0..3 {
        let Some((until, _)) = crate::schedule::plan::window_wait(job, at, &facts(at)) else {
            break;
        };
        let skip = job.outside_window == crate::model::WindowPolicy::Skip;
        let inside = job
            .window
            .as_ref()
            .and_then(|w| catalog.windows.get(w))
            .is_some_and(|w| crate::schedule::window::contains(w, at, settings.timezone));
        let (name, what) = match (&job.window, &job.avoid) {
            (Some(w), _) if !inside => (w.clone(), "opens"),
            (_, Some(a)) => (a.clone(), "closes, which it avoids"),
            (Some(w), None) => (w.clone(), "opens"),
            (None, None) => break,
        };
        let asked = if at == from && from > Utc::now() {
            let side = if what == "opens" { "outside" } else { "inside" };
            format!("; {} is {side} it", super::local_time(settings, from))
        } else {
            String::new()
        };
        match until.filter(|_| !skip) {
            Some(t) if t > at => {
                words = Some(format!("when window `{name}`{} {what}{asked}", span(&name)));
                at = t;
            }
            _ => {
                words = Some(format!(
                    "but that is outside window `{name}`{} and the job says `outside_window: skip`: \
                     the daemon will cancel it (`unyo submit --outside-window --reason` or a \
                     foreground `unyo run` runs it anyway)",
                    span(&name)
                ));
                break;
            }
        }
    }
    Start {
        at,
        words,
        outside: None,
    }
}

/// Prints each step's changes until the run ends; the exit follows its status.
async fn follow(store: &dyn crate::store::Store, id: i64) -> Result<(), Error> {
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let Some(d) = store.get_run(id).await? else {
            return Err(Error::Failed(format!("run {id} vanished")));
        };
        for s in &d.steps {
            let now = (s.name.clone(), s.status.to_string());
            if !seen.contains(&now) && s.status != crate::store::StepStatus::Pending {
                match &s.reason {
                    Some(r) => eprintln!("  {}: {} ({r})", s.name, s.status),
                    None => eprintln!("  {}: {}", s.name, s.status),
                }
                seen.retain(|(n, _)| *n != s.name);
                seen.push(now);
            }
        }
        if d.run.status.is_final() {
            super::out(&format!("run {id} {}\n", d.run.status));
            return match d.run.status {
                RunStatus::Succeeded => Ok(()),
                RunStatus::Refused => Err(Error::Refused(format!(
                    "run {id}: {}",
                    d.run.reason.as_deref().unwrap_or("a step refused")
                ))),
                other => Err(Error::Failed(format!("run {id} {other}"))),
            };
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn tokyo(d: u32, h: u32, m: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(2026, 12, d, h, m, 0)
            .single()
            .expect("time")
            .to_utc()
    }

    #[test]
    fn at_a_clock_time_is_its_next_occurrence() {
        let tz = chrono_tz::Asia::Tokyo;
        assert_eq!(parse_at("07:16", tz, tokyo(5, 6, 0)), Ok(tokyo(5, 7, 16)));
        assert_eq!(parse_at("07:16", tz, tokyo(5, 7, 16)), Ok(tokyo(6, 7, 16)));
        assert_eq!(
            parse_at("2026-12-24 09:00", tz, tokyo(5, 6, 0)),
            Ok(tokyo(24, 9, 0))
        );
        assert!(parse_at("7 o'clock", tz, tokyo(5, 6, 0)).is_err());
    }
}
