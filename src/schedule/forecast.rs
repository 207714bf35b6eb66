//! What the schedules will do over a range of time: every coming slot with the decision
//! the calendar, the closed-day rule and the job's window make (`unyo next`, the monthly
//! report's plan). Reads only the definitions.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::model::{Catalog, Settings};
use crate::schedule::plan::{self, Facts, Plan, Shift};

/// One coming slot and what will become of it.
#[derive(Debug, Serialize)]
pub struct Coming {
    pub schedule: String,
    pub job: String,
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    /// `run`, `moved`, `skipped` or `waits` (for a window).
    pub decision: &'static str,
    pub reason: Option<String>,
}

/// The slots due in `(from, to]`, soonest first, at most `limit`; true when more follow.
pub fn forecast(
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
            crate::domain::cron::parse_cron(&s.cron),
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
