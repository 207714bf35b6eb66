//! A one-off request for a run, as `unyo submit` and the dashboard's Submit page make it:
//! the job must say `adhoc: true` and let the person act on it (the caller's check, for its
//! kind of user); its parameters are checked as given (`NAME=VALUE`, values kept as data,
//! secret ones refused); the run is queued in the database, now or deferred (`at`, or
//! `window` for the next opening of a window), with the requester's `reason`, and never
//! before the job's own `window:` (or the end of the window it avoids) lets it start, unless
//! `outside_window` (urgent, with a reason) says otherwise; `request` links it to a service
//! desk request that is open. What the run waits for is said in words (`Start::say`). The
//! caller audits the outcome under its user.

use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};

use super::params;
use crate::model::{Catalog, Job, Settings};
use crate::spec::diag;
use crate::store::{RunStatus, Store, StoreError, Trigger};

/// What a person asks for.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub job: String,
    /// `NAME=VALUE`, as given.
    pub params: Vec<String>,
    /// Not before this time (`HH:MM`, `YYYY-MM-DD HH:MM`, `YYYY-MM-DD`, RFC 3339).
    pub at: Option<String>,
    /// Not before this window opens.
    pub window: Option<String>,
    pub reason: Option<String>,
    /// Urgent: start outside the job's window; needs a reason.
    pub outside_window: bool,
    /// A rehearsal of this business date (`YYYY-MM-DD`).
    pub business_date: Option<String>,
    /// The service-desk request the run serves.
    pub request: Option<i64>,
}

impl Submission {
    /// What the audit records of the request (a secret parameter's value masked).
    pub fn audit_args(&self, catalog: &Catalog) -> serde_json::Value {
        serde_json::json!({
            "params": params::redact_assignments(
                catalog.jobs.get(&self.job).map(|j| &**j),
                &self.params
            ),
            "at": self.at,
            "window": self.window,
            "reason": self.reason,
            "outside_window": self.outside_window,
            "business_date": self.business_date,
            "request": self.request,
        })
    }
}

/// A run queued.
#[derive(Debug, Clone)]
pub struct Submitted {
    pub id: i64,
    pub job: Arc<Job>,
    /// When it will start, in words.
    pub when: String,
    pub business_date: Option<NaiveDate>,
    /// The request it was linked to, and that request's status after.
    pub linked: Option<(i64, String)>,
}

impl Submitted {
    /// The audit's detail of the submission.
    pub fn detail(&self) -> String {
        let mut d = format!("run {} queued, {}", self.id, self.when);
        if let Some(date) = self.business_date {
            d.push_str(&format!("; business date {date} given by the operator"));
        }
        if let Some((n, _)) = &self.linked {
            d.push_str(&format!("; for request {n}"));
        }
        d
    }
}

/// Checks `s` and queues its run, requested by `user`; `may` says whether that person may
/// act on the job (`Err` why not). `Ok(Err(why))` is a refusal, nothing queued (or the run
/// cancelled at once when its request closed in between, which `why` says).
pub async fn submit(
    settings: &Settings,
    catalog: &Arc<Catalog>,
    store: &dyn Store,
    s: &Submission,
    user: &str,
    may: impl FnOnce(&Job) -> Result<(), String>,
    now: DateTime<Utc>,
) -> Result<Result<Submitted, String>, StoreError> {
    let Some(job) = catalog.jobs.get(&s.job).cloned() else {
        let hint = diag::hint(&s.job, catalog.jobs.keys().map(String::as_str));
        return Ok(Err(format!("unknown job `{}`{hint}", s.job)));
    };
    if !job.adhoc {
        return Ok(Err(format!(
            "job `{}` is not for ad-hoc submission (it has no `adhoc: true`)",
            job.name
        )));
    }
    if let Err(why) = may(&job) {
        return Ok(Err(why));
    }
    let given = match s
        .params
        .iter()
        .map(|p| params::parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(g) => g,
        Err(e) => return Ok(Err(e)),
    };
    let business_date = match s.business_date.as_deref().map(super::parse_business_date) {
        Some(Err(e)) => return Ok(Err(e)),
        Some(Ok(d)) => Some(d),
        None => None,
    };
    if let Err(e) = params::check_queueable(&job, &given) {
        return Ok(Err(e));
    }
    if let Some(n) = s.request {
        match store.get_request(n).await? {
            None => return Ok(Err(crate::store::no_such_request(n).to_string())),
            Some((r, _)) if r.status == crate::store::RequestStatus::Closed => {
                return Ok(Err(format!(
                    "request {n} is closed (by {}); a run cannot be added to it",
                    r.closed_by.as_deref().unwrap_or("unknown")
                )));
            }
            Some(_) => {}
        }
    }
    let today = super::dates(settings, now).0;
    let values = match params::resolve(&job, &given, business_date.unwrap_or(today), &settings.root)
    {
        Ok(v) => v,
        Err(e) => return Ok(Err(e)),
    };
    // Not before `at`, or the opening of the `window` asked for; then the job's own window
    // decides, unless the request is urgent.
    let from = match (&s.at, &s.window) {
        (Some(t), _) => match parse_at(t, settings.timezone, now) {
            Ok(t) => t.max(now),
            Err(m) => return Ok(Err(format!("--at: {m}"))),
        },
        (None, Some(w)) => {
            let Some(window) = catalog.windows.get(w) else {
                let hint = diag::hint(w, catalog.windows.keys().map(String::as_str));
                return Ok(Err(format!("unknown window `{w}`{hint}")));
            };
            crate::schedule::window::next_open(window, now, settings.timezone).unwrap_or(now)
        }
        (None, None) => now,
    };
    let urgent = s
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| s.outside_window && !r.is_empty());
    if s.outside_window && urgent.is_none() {
        return Ok(Err(
            "`--outside-window` needs a `--reason` saying why".to_owned()
        ));
    }
    let start = match urgent {
        Some(why) => Start {
            at: from,
            words: None,
            outside: Some(why.to_owned()),
        },
        None => earliest_start(settings, catalog, &job, from),
    };
    let mut record = super::new_run(
        settings,
        catalog,
        &job,
        &values,
        Trigger::Submit,
        RunStatus::Queued,
        now,
        user,
    );
    record.not_before = Some(start.at).filter(|t| *t > now);
    record.comment = s.reason.clone();
    record.outside_window = start.outside.clone();
    if let Some(date) = business_date {
        super::give_business_date(settings, &mut record, date);
    }
    let id = store.create_run(&record).await?;
    // The link is its own write after the run's: a request closed in between refuses it,
    // and the run is cancelled at once (said, and audited as refused).
    let linked = match s.request {
        Some(n) => {
            let change = crate::store::DeskChange::Link(crate::store::DeskLink::Run(id));
            match store.change_request(n, &change, user, Utc::now()).await? {
                Ok(row) => Some((n, row.status.to_string())),
                Err(why) => {
                    store.request_cancel(id, user, Utc::now()).await?;
                    return Ok(Err(format!(
                        "run {id} not linked to request {n} ({why}), and cancelled"
                    )));
                }
            }
        }
        None => None,
    };
    Ok(Ok(Submitted {
        id,
        when: start.say(settings, &job, now),
        job,
        business_date,
        linked,
    }))
}

/// An instant as the operator reads it, in the configured time zone.
fn local_time(settings: &Settings, t: DateTime<Utc>) -> String {
    t.with_timezone(&settings.timezone)
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// A time argument in the configured zone: `YYYY-MM-DD`, `YYYY-MM-DD HH:MM[:SS]` or RFC 3339.
pub fn parse_time(text: &str, tz: chrono_tz::Tz) -> Result<DateTime<Utc>, String> {
    use chrono::{NaiveDateTime, TimeZone};
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

/// `--at`: a clock time `HH:MM` is its next occurrence after `now`; anything else is read as
/// `unyo next --from` reads it.
pub fn parse_at(
    text: &str,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
) -> Result<DateTime<Utc>, String> {
    let Ok(clock) = chrono::NaiveTime::parse_from_str(text.trim(), "%H:%M") else {
        return parse_time(text, tz);
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
pub struct Start {
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
            format!("not before {}", local_time(settings, self.at))
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
pub fn earliest_start(
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
            format!("; {} is {side} it", local_time(settings, from))
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
