//! The planner: which slots a schedule has between two instants, and what becomes of each.
//!
//! Pure functions of the catalog, the facts the daemon supplies (active runs) and `now`;
//! nothing here reads the clock or the database.
//!
//! A slot is one instant the cron expression gives (its *fire time*). The schedule's calendar
//! decides whether it is *due* then, later (`next_business_day`), earlier
//! (`previous_business_day`) or not at all (`skip`); a `business_day:` expression keeps only
//! the slots on that business day of the month or fiscal year. Slots that end up due at the
//! same instant are merged into one run.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::window;
use crate::model::{Calendar, ClosedDay, Schedule};

mod decide;
#[cfg(test)]
mod tests;

pub use decide::{ActiveRun, Decision, Facts, Start, decide, window_wait};

/// A slot due longer ago than this when the daemon decides it was missed (the daemon was
/// down, the machine suspended, or the clock stepped); its misfire policy applies.
pub const MISFIRE_AFTER: Duration = Duration::from_secs(60);

/// Days searched for a business day or a matching business-day expression.
const SEARCH_DAYS: u64 = 400;

/// Occurrences looked at in one call at most (an every-second cron over a long closure).
const SCAN_LIMIT: usize = 500_000;

/// A schedule ready for planning: its cron expression parsed and its calendar resolved.
#[derive(Debug, Clone, Copy)]
pub struct Plan<'a> {
    pub schedule: &'a Schedule,
    pub cron: &'a Cron,
    pub calendar: Option<&'a Calendar>,
    pub fiscal_year_start: u32,
}

/// What the calendar makes of a fire time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shift {
    /// Due at its fire time.
    None,
    /// Moved off a closed day.
    Moved { closed: String },
    /// On a closed day and not run (`closed_day: skip`, or no business day to move to).
    Skipped { closed: String },
}

/// One slot of a schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub shift: Shift,
}

fn local_date(t: DateTime<Utc>, tz: Tz) -> NaiveDate {
    t.with_timezone(&tz).date_naive()
}

fn start_of(tz: Tz, date: NaiveDate) -> Option<DateTime<Utc>> {
    window::local_instant(tz, date, chrono::NaiveTime::MIN)
}

impl Plan<'_> {
    fn tz(&self) -> Tz {
        self.schedule.timezone
    }

    /// Whether the closed-day rule can move a slot across days.
    fn shifts(&self) -> bool {
        self.calendar.is_some()
            && matches!(
                self.schedule.closed_day,
                ClosedDay::NextBusinessDay | ClosedDay::PreviousBusinessDay
            )
    }

    /// The first fire time after `t` (strictly), on a day the `business_day` expression
    /// accepts when there is one.
    fn next_fire(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let tz = self.tz();
        let next = self
            .cron
            .find_next_occurrence(&t.with_timezone(&tz), false)
            .ok()?;
        let next = next.with_timezone(&Utc);
        let (Some(day), Some(cal)) = (self.schedule.business_day, self.calendar) else {
            return Some(next);
        };
        let mut date = local_date(next, tz);
        for _ in 0..SEARCH_DAYS {
            if cal.matches(date, day, self.fiscal_year_start) {
                let from = if date == local_date(next, tz) {
                    return Some(next);
                } else {
                    start_of(tz, date)?
                };
                let first = self
                    .cron
                    .find_next_occurrence(&from.with_timezone(&tz), true)
                    .ok()?
                    .with_timezone(&Utc);
                if local_date(first, tz) == date {
                    return Some(first);
                }
                // No fire time on that day: look further.
                date = local_date(first, tz);
                continue;
            }
            date = date.checked_add_days(Days::new(1))?;
        }
        None
    }

    /// When a fire time is due, per the calendar and the closed-day rule.
    fn map(&self, fire: DateTime<Utc>) -> Occurrence {
        let tz = self.tz();
        let plain = |shift| Occurrence {
            fire_time: fire,
            due_at: fire,
            shift,
        };
        let Some(cal) = self.calendar else {
            return plain(Shift::None);
        };
        if self.schedule.business_day.is_some() {
            return plain(Shift::None);
        }
        let local = fire.with_timezone(&tz);
        let date = local.date_naive();
        let Some(closed) = cal.closed(date) else {
            return plain(Shift::None);
        };
        let closed = closed.to_string();
        let target = match self.schedule.closed_day {
            ClosedDay::Run => return plain(Shift::None),
            ClosedDay::Skip => return plain(Shift::Skipped { closed }),
            ClosedDay::NextBusinessDay => cal.next_business_day(date),
            ClosedDay::PreviousBusinessDay => cal.previous_business_day(date),
        };
        match target.and_then(|d| window::local_instant(tz, d, local.time())) {
            Some(due_at) => Occurrence {
                fire_time: fire,
                due_at,
                shift: Shift::Moved { closed },
            },
            None => plain(Shift::Skipped {
                closed: format!("{closed}; no business day within {SEARCH_DAYS} days"),
            }),
        }
    }

    /// Walks from `date` over adjacent closed days in direction `step` (+1 or -1); returns
    /// the last closed day reached (or `date` itself).
    fn closed_run(&self, date: NaiveDate, forward: bool) -> NaiveDate {
        let Some(cal) = self.calendar else {
            return date;
        };
        let mut d = date;
        for _ in 0..SEARCH_DAYS {
            let next = if forward {
                d.checked_add_days(Days::new(1))
            } else {
                d.checked_sub_days(Days::new(1))
            };
            match next {
                Some(n) if cal.closed(n).is_some() => d = n,
                _ => break,
            }
        }
        d
    }

    /// Every slot due in `(after, until]`, in due order (ties by fire time).
    pub fn occurrences(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Vec<Occurrence> {
        let tz = self.tz();
        let mut from = after;
        let mut to = until;
        if self.shifts() {
            match self.schedule.closed_day {
                // Fire times on the closed days just before `after` may be due after it.
                ClosedDay::NextBusinessDay => {
                    let first = self.closed_run(local_date(after, tz), false);
                    if let Some(s) = start_of(tz, first) {
                        from = from.min(s - chrono::Duration::seconds(1));
                    }
                }
                // Fire times on the closed days just after `until` may be due before it.
                ClosedDay::PreviousBusinessDay => {
                    let last = self.closed_run(local_date(until, tz), true);
                    if let Some(s) = last
                        .checked_add_days(Days::new(1))
                        .and_then(|d| start_of(tz, d))
                    {
                        to = to.max(s);
                    }
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        let mut t = from;
        for _ in 0..SCAN_LIMIT {
            let Some(fire) = self.next_fire(t) else { break };
            if fire > to {
                break;
            }
            t = fire;
            let o = self.map(fire);
            if o.due_at > after && o.due_at <= until {
                out.push(o);
            }
        }
        out.sort_by_key(|o| (o.due_at, o.fire_time));
        out
    }

    /// When the next slot after `after` is due.
    pub fn next_due(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut horizon = chrono::Duration::seconds(2);
        let limit = chrono::Duration::days(SEARCH_DAYS as i64 * 2);
        while horizon <= limit {
            if let Some(o) = self.occurrences(after, after + horizon).first() {
                return Some(o.due_at);
            }
            horizon = horizon * 8;
        }
        None
    }
}
