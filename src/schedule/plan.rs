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

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, Utc};
use chrono_tz::Tz;
use croner::Cron;

use super::window;
use crate::domain::status::{RunStatus, SlotOutcome, Trigger};
use crate::model::{
    Calendar, ClosedDay, Job, MisfirePolicy, Overlap, Schedule, Window, WindowPolicy,
};

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

/// A run that is queued or running, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRun {
    pub id: i64,
    pub status: RunStatus,
}

/// How a slot starts its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Start now; `replace` are the running runs it stops first.
    Now { trigger: Trigger, replace: Vec<i64> },
    /// Queue the run; it starts when the job's running run has ended, its `after` jobs have
    /// succeeded and `not_before` has passed.
    Queue {
        trigger: Trigger,
        not_before: Option<DateTime<Utc>>,
    },
}

/// What becomes of one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub reason: Option<String>,
    pub start: Option<Start>,
}

/// What the daemon knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub now: DateTime<Utc>,
    /// Queued and running runs of the schedule's job.
    pub active: &'a [ActiveRun],
    pub windows: &'a BTreeMap<String, Window>,
    /// The zone windows are read in.
    pub window_tz: Tz,
    /// The zone times are shown in, in reasons.
    pub display_tz: Tz,
}

fn show(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Decides every slot of one schedule due by `facts.now` (as `occurrences` returned them).
pub fn decide(
    schedule: &Schedule,
    job: &Job,
    slots: &[Occurrence],
    facts: Facts<'_>,
) -> Vec<Decision> {
    let now = facts.now;
    let tz = facts.display_tz;
    let late_after = chrono::Duration::from_std(MISFIRE_AFTER).unwrap_or_default();
    let within = schedule
        .misfire_within
        .and_then(|w| chrono::Duration::from_std(w).ok());
    let mut out: Vec<Decision> = Vec::with_capacity(slots.len());
    // Which slots may run: on-time ones always, late ones per the misfire policy.
    let mut runnable: Vec<(usize, bool)> = Vec::new();
    // Slots due at the same instant make one run: the first is the primary, the others
    // follow its fate. The misfire policy counts primaries only.
    let mut first_due: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    let primary: Vec<Option<usize>> = slots
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if matches!(o.shift, Shift::Skipped { .. }) {
                return None;
            }
            Some(*first_due.entry(o.due_at).or_insert(i))
        })
        .collect();
    let late_idx: Vec<usize> = slots
        .iter()
        .enumerate()
        .filter(|(i, o)| now - o.due_at > late_after && primary[*i] == Some(*i))
        .map(|(i, _)| i)
        .collect();
    // Merged slots: their index in `slots` (and in `out`, the same), and their primary's.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    // Flags by slot index (a long downtime of an every-second schedule has many slots).
    let mut late = vec![false; slots.len()];
    for &i in &late_idx {
        late[i] = true;
    }
    let mut keep_late = vec![false; slots.len()];
    let kept: &[usize] = match schedule.misfire {
        MisfirePolicy::Skip => &[],
        MisfirePolicy::RunOnce => &late_idx[late_idx.len().saturating_sub(1)..],
        MisfirePolicy::RunAll => {
            &late_idx[late_idx.len().saturating_sub(schedule.misfire_max as usize)..]
        }
    };
    for &i in kept {
        keep_late[i] = true;
    }
    for (i, o) in slots.iter().enumerate() {
        let mut d = Decision {
            fire_time: o.fire_time,
            due_at: o.due_at,
            outcome: SlotOutcome::Started,
            reason: None,
            start: None,
        };
        if let Shift::Skipped { closed } = &o.shift {
            d.outcome = SlotOutcome::SkippedClosedDay;
            d.reason = Some(format!("closed: {closed}"));
            out.push(d);
            continue;
        }
        if let Some(p) = primary[i].filter(|p| *p != i) {
            merged.push((i, p));
            out.push(d);
            continue;
        }
        let is_late = late[i];
        if is_late {
            let lateness = now - o.due_at;
            let policy = match schedule.misfire {
                MisfirePolicy::Skip => "skip",
                MisfirePolicy::RunOnce => "run_once",
                MisfirePolicy::RunAll => "run_all",
            };
            let too_late = within.is_some_and(|w| lateness > w);
            if !keep_late[i] || too_late {
                d.outcome = SlotOutcome::Missed;
                let mins = lateness.num_minutes();
                d.reason = Some(if too_late {
                    format!(
                        "missed: due {} ({mins} min ago), later than `within` allows",
                        show(o.due_at, tz)
                    )
                } else if schedule.misfire == MisfirePolicy::RunOnce {
                    format!(
                        "missed: due {} (misfire: run_once runs only the latest)",
                        show(o.due_at, tz)
                    )
                } else if schedule.misfire == MisfirePolicy::RunAll {
                    format!(
                        "missed: due {} (misfire: run_all runs at most {})",
                        show(o.due_at, tz),
                        schedule.misfire_max
                    )
                } else {
                    format!(
                        "missed: due {} ({mins} min ago; misfire: {policy})",
                        show(o.due_at, tz)
                    )
                });
                out.push(d);
                continue;
            }
        }
        runnable.push((out.len(), is_late));
        if let Shift::Moved { closed } = &o.shift {
            d.outcome = SlotOutcome::Shifted;
            d.reason = Some(format!(
                "closed: {closed}; moved from {} to {}",
                show(o.fire_time, tz),
                show(o.due_at, tz)
            ));
        }
        out.push(d);
    }

    let running: Vec<i64> = facts
        .active
        .iter()
        .filter(|r| r.status == RunStatus::Running)
        .map(|r| r.id)
        .collect();
    let mut busy = facts.active.first().map(|r| r.id);
    for (idx, late) in runnable {
        let ours = busy_is_ours(&out, idx);
        let d = &mut out[idx];
        let trigger = if late {
            Trigger::CatchUp
        } else {
            Trigger::Schedule
        };
        let add_reason = |d: &mut Decision, text: String| {
            d.reason = Some(match d.reason.take() {
                Some(r) => format!("{r}; {text}"),
                None => text,
            });
        };
        let mut queue = false;
        let mut caught_up = false;
        let mut replace = Vec::new();
        if let Some(other) = busy {
            match schedule.overlap {
                // Several caught-up slots of one schedule run one after the other.
                _ if late && schedule.misfire == MisfirePolicy::RunAll && ours => {
                    queue = true;
                    caught_up = true;
                }
                Overlap::Forbid => {
                    d.outcome = SlotOutcome::SkippedOverlap;
                    add_reason(
                        d,
                        format!(
                            "run {other} of `{}` is still active (overlap: forbid)",
                            job.name
                        ),
                    );
                    continue;
                }
                Overlap::Queue => queue = true,
                Overlap::Allow => {}
                Overlap::Replace => replace = running.clone(),
            }
        }
        // Windows are checked at the moment of starting.
        if let Some((until, why)) = window_wait(job, now, &facts) {
            match until {
                Some(t) if job.outside_window == WindowPolicy::Wait => {
                    d.outcome = SlotOutcome::WaitingWindow;
                    add_reason(d, why);
                    d.start = Some(Start::Queue {
                        trigger,
                        not_before: Some(t),
                    });
                    busy = busy.or(Some(0));
                }
                _ => {
                    d.outcome = SlotOutcome::SkippedWindow;
                    add_reason(d, why);
                }
            }
            continue;
        }
        if queue || !job.after.is_empty() {
            if caught_up {
                d.outcome = SlotOutcome::Queued;
                add_reason(
                    d,
                    "caught up after the slot before it (misfire: run_all)".to_owned(),
                );
            } else if queue {
                d.outcome = SlotOutcome::Queued;
                add_reason(
                    d,
                    "queued behind the job's active run (overlap: queue)".to_owned(),
                );
            } else {
                add_reason(
                    d,
                    format!(
                        "waits for {} (after)",
                        job.after
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            d.start = Some(Start::Queue {
                trigger,
                not_before: None,
            });
        } else {
            d.start = Some(Start::Now { trigger, replace });
        }
        busy = busy.or(Some(0));
    }
    // A merged slot shares its primary's run, or its fate.
    for (m, p) in merged {
        let (primary_fire, primary_outcome, primary_started) =
            (out[p].fire_time, out[p].outcome, out[p].start.is_some());
        let moved = match &slots[m].shift {
            Shift::Moved { closed } => format!("closed: {closed}; "),
            _ => String::new(),
        };
        let d = &mut out[m];
        if primary_started {
            d.outcome = SlotOutcome::Shifted;
            d.reason = Some(format!(
                "{moved}merged into the slot of {} (due at the same time, one run)",
                show(primary_fire, tz)
            ));
        } else {
            d.outcome = primary_outcome;
            d.reason = Some(format!(
                "{moved}merged into the slot of {}, which was {primary_outcome}",
                show(primary_fire, tz)
            ));
        }
    }
    out
}

/// True when an earlier slot of this batch made a run (so the job is busy with our own).
fn busy_is_ours(out: &[Decision], idx: usize) -> bool {
    out[..idx].iter().any(|d| d.start.is_some())
}

/// Whether the job's window keeps it from starting at `now`: until when (None: never in
/// reach) and why.
pub fn window_wait(
    job: &Job,
    now: DateTime<Utc>,
    facts: &Facts<'_>,
) -> Option<(Option<DateTime<Utc>>, String)> {
    let tz = facts.window_tz;
    if let Some(w) = job.window.as_ref().and_then(|w| facts.windows.get(w))
        && !window::contains(w, now, tz)
    {
        let opens = window::next_open(w, now, tz);
        let why = match (job.outside_window, opens) {
            (WindowPolicy::Wait, Some(t)) => {
                format!(
                    "waiting for window `{}` (opens {})",
                    w.name,
                    show(t, facts.display_tz)
                )
            }
            _ => format!("outside window `{}` (outside_window: skip)", w.name),
        };
        return Some((opens, why));
    }
    if let Some(w) = job.avoid.as_ref().and_then(|w| facts.windows.get(w))
        && window::contains(w, now, tz)
    {
        let closes = window::next_close(w, now, tz);
        let why = match (job.outside_window, closes) {
            (WindowPolicy::Wait, Some(t)) => format!(
                "keeping out of window `{}` (until {})",
                w.name,
                show(t, facts.display_tz)
            ),
            _ => format!(
                "inside window `{}`, which it avoids (outside_window: skip)",
                w.name
            ),
        };
        return Some((closes, why));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DayRule, HolidaySet};
    use chrono::{TimeZone, Weekday};
    use indexmap::IndexMap;

    const TOKYO: Tz = chrono_tz::Asia::Tokyo;
    const BERLIN: Tz = chrono_tz::Europe::Berlin;

    fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        tz.with_ymd_and_hms(y, m, d, h, min, 0)
            .earliest()
            .expect("time")
            .with_timezone(&Utc)
    }

    fn schedule(cron: &str, tz: Tz) -> Schedule {
        Schedule {
            name: "s".into(),
            job: "j".into(),
            cron: cron.into(),
            timezone: tz,
            calendar: None,
            closed_day: ClosedDay::Run,
            business_day: None,
            misfire: MisfirePolicy::Skip,
            misfire_within: None,
            misfire_max: 10,
            missed: None,
            overlap: Overlap::Forbid,
            params: IndexMap::new(),
        }
    }

    /// Weekends and the year-end closure; no public holidays, so the cases do not depend
    /// on the holiday computation.
    fn office() -> Calendar {
        Calendar {
            name: "office".into(),
            weekends: vec![Weekday::Sat, Weekday::Sun],
            holidays: HolidaySet::None,
            closed: vec![DayRule::Yearly {
                from: (12, 29),
                to: (1, 3),
            }],
            open: vec![],
        }
    }

    fn job() -> Job {
        Job {
            name: "j".into(),
            file: "jobs/j.yaml".into(),
            digest: String::new(),
            description: None,
            params: IndexMap::new(),
            window: None,
            avoid: None,
            outside_window: WindowPolicy::Wait,
            after: vec![],
            wait_timeout: Duration::from_secs(3600),
            on_interrupt: crate::model::OnInterrupt::Leave,
            adhoc: false,
            separate_approver: false,
            allowed_users: vec![],
            allowed_groups: vec![],
            sla: None,
            steps: vec![],
        }
    }

    fn slots(
        s: &Schedule,
        cal: Option<&Calendar>,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Vec<Occurrence> {
        let cron = crate::schedule::parse_cron(&s.cron).expect("cron");
        Plan {
            schedule: s,
            cron: &cron,
            calendar: cal,
            fiscal_year_start: 4,
        }
        .occurrences(after, until)
    }

    fn local(v: &[Occurrence], tz: Tz) -> Vec<String> {
        v.iter()
            .map(|o| {
                let f = o.fire_time.with_timezone(&tz).format("%m-%d %H:%M");
                let d = o.due_at.with_timezone(&tz).format("%m-%d %H:%M");
                match &o.shift {
                    Shift::None => format!("{f}"),
                    Shift::Moved { .. } => format!("{f}->{d}"),
                    Shift::Skipped { .. } => format!("{f} skipped"),
                }
            })
            .collect()
    }

    #[test]
    fn daily_slots_in_tokyo() {
        let s = schedule("30 0 * * *", TOKYO);
        let v = slots(
            &s,
            None,
            at(TOKYO, 2026, 11, 25, 0, 30),
            at(TOKYO, 2026, 11, 28, 0, 30),
        );
        // `after` is exclusive, `until` inclusive.
        assert_eq!(
            local(&v, TOKYO),
            ["11-26 00:30", "11-27 00:30", "11-28 00:30"]
        );
    }

    #[test]
    fn berlin_spring_forward_fires_once_after_the_gap() {
        // 2027-03-28: clocks go from 02:00 to 03:00; 02:30 does not exist.
        let s = schedule("30 2 * * *", BERLIN);
        let v = slots(
            &s,
            None,
            at(BERLIN, 2027, 3, 27, 12, 0),
            at(BERLIN, 2027, 3, 29, 12, 0),
        );
        let utc: Vec<String> = v
            .iter()
            .map(|o| o.due_at.format("%m-%d %H:%M").to_string())
            .collect();
        // 03-28: the first instant after the gap (03:00 CEST = 01:00 UTC); 03-29 02:30 CEST.
        assert_eq!(utc, ["03-28 01:00", "03-29 00:30"]);
    }

    #[test]
    fn berlin_fall_back_fires_a_fixed_time_once() {
        // 2027-10-31: 02:00-03:00 happens twice.
        let s = schedule("30 2 * * *", BERLIN);
        let v = slots(
            &s,
            None,
            at(BERLIN, 2027, 10, 30, 12, 0),
            at(BERLIN, 2027, 11, 1, 12, 0),
        );
        assert_eq!(v.len(), 2, "{:?}", local(&v, BERLIN));
        // Hourly slots: that day has 25 hours, and each hour is a slot.
        let hourly = schedule("0 * * * *", BERLIN);
        let v = slots(
            &hourly,
            None,
            at(BERLIN, 2027, 10, 30, 23, 30),
            at(BERLIN, 2027, 10, 31, 23, 30),
        );
        assert_eq!(v.len(), 25, "{:?}", local(&v, BERLIN));
        let mut due: Vec<_> = v.iter().map(|o| o.due_at).collect();
        due.dedup();
        assert_eq!(due.len(), 25, "no instant twice");
    }

    #[test]
    fn closed_days_skip_or_move() {
        let cal = office();
        let mut s = schedule("0 9 * * *", TOKYO);
        s.calendar = Some("office".into());
        let (from, to) = (at(TOKYO, 2026, 12, 27, 12, 0), at(TOKYO, 2027, 1, 5, 12, 0));
        s.closed_day = ClosedDay::Skip;
        let v = slots(&s, Some(&cal), from, to);
        assert_eq!(
            local(&v, TOKYO),
            [
                "12-28 09:00",
                "12-29 09:00 skipped",
                "12-30 09:00 skipped",
                "12-31 09:00 skipped",
                "01-01 09:00 skipped",
                "01-02 09:00 skipped",
                "01-03 09:00 skipped",
                "01-04 09:00",
                "01-05 09:00"
            ]
        );
        assert!(matches!(&v[5].shift, Shift::Skipped { closed } if closed == "year-end closure"));
        s.closed_day = ClosedDay::NextBusinessDay;
        let v = slots(&s, Some(&cal), from, to);
        assert_eq!(
            local(&v, TOKYO),
            [
                // The weekend before `from` moves into the range.
                "12-26 09:00->12-28 09:00",
                "12-27 09:00->12-28 09:00",
                "12-28 09:00",
                "12-29 09:00->01-04 09:00",
                "12-30 09:00->01-04 09:00",
                "12-31 09:00->01-04 09:00",
                "01-01 09:00->01-04 09:00",
                "01-02 09:00->01-04 09:00",
                "01-03 09:00->01-04 09:00",
                "01-04 09:00",
                "01-05 09:00"
            ]
        );
        // Moved slots are found even when the planner starts after their fire time.
        let v = slots(&s, Some(&cal), at(TOKYO, 2027, 1, 3, 12, 0), to);
        assert_eq!(v.len(), 8, "{:?}", local(&v, TOKYO));
        s.closed_day = ClosedDay::PreviousBusinessDay;
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2026, 12, 28, 12, 0),
            at(TOKYO, 2026, 12, 28, 23, 0),
        );
        // Nothing is due on 12-28 after 12:00: the closure's slots move to 12-28 09:00.
        assert!(v.is_empty(), "{:?}", local(&v, TOKYO));
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2026, 12, 28, 0, 0),
            at(TOKYO, 2026, 12, 28, 23, 0),
        );
        assert_eq!(
            v.len(),
            7,
            "12-28 itself and the six closed days: {:?}",
            local(&v, TOKYO)
        );
    }

    #[test]
    fn month_end_on_a_weekend_moves_to_the_previous_business_day() {
        let cal = office();
        let mut s = schedule("0 20 L * *", TOKYO);
        s.calendar = Some("office".into());
        s.closed_day = ClosedDay::PreviousBusinessDay;
        // 2027-01-31 is a Sunday: due Friday 2027-01-29 20:00.
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2027, 1, 15, 0, 0),
            at(TOKYO, 2027, 2, 15, 0, 0),
        );
        assert_eq!(local(&v, TOKYO), ["01-31 20:00->01-29 20:00"]);
        let cron = crate::schedule::parse_cron(&s.cron).expect("cron");
        let p = Plan {
            schedule: &s,
            cron: &cron,
            calendar: Some(&cal),
            fiscal_year_start: 4,
        };
        assert_eq!(
            p.next_due(at(TOKYO, 2027, 1, 15, 0, 0)),
            Some(at(TOKYO, 2027, 1, 29, 20, 0))
        );
    }

    /// The city calendar: weekends, Japanese public holidays, the year-end closure.
    fn city() -> Calendar {
        Calendar {
            holidays: HolidaySet::Japan,
            ..office()
        }
    }

    #[test]
    fn public_holidays_move_slots_and_business_day_expressions_pick_days() {
        let cal = city();
        let mut s = schedule("0 9 * * *", TOKYO);
        s.calendar = Some("city".into());
        s.closed_day = ClosedDay::NextBusinessDay;
        // 2027-01-11 is Coming of Age Day (second Monday of January).
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2027, 1, 11, 0, 0),
            at(TOKYO, 2027, 1, 12, 12, 0),
        );
        // The weekend and the holiday before it all move to Tuesday the 12th.
        assert_eq!(
            local(&v, TOKYO),
            [
                "01-09 09:00->01-12 09:00",
                "01-10 09:00->01-12 09:00",
                "01-11 09:00->01-12 09:00",
                "01-12 09:00"
            ]
        );
        assert!(matches!(&v[2].shift, Shift::Moved { closed } if closed.contains("成人の日")));
        // The 3rd business day of January 2027 is the 6th (1-3 closed, 4 Mon, 5 Tue, 6 Wed).
        s.closed_day = ClosedDay::Run;
        s.business_day = Some("3".parse().expect("business day"));
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2026, 12, 20, 0, 0),
            at(TOKYO, 2027, 3, 1, 0, 0),
        );
        assert_eq!(local(&v, TOKYO), ["01-06 09:00", "02-03 09:00"]);
        // The last business day of each month, and of the fiscal year.
        s.business_day = Some("last".parse().expect("business day"));
        let v = slots(
            &s,
            Some(&cal),
            at(TOKYO, 2027, 1, 1, 0, 0),
            at(TOKYO, 2027, 4, 1, 0, 0),
        );
        assert_eq!(
            local(&v, TOKYO),
            ["01-29 09:00", "02-26 09:00", "03-31 09:00"]
        );
        s.business_day = Some("first_of_fiscal_year".parse().expect("business day"));
        let cron = crate::schedule::parse_cron(&s.cron).expect("cron");
        let p = Plan {
            schedule: &s,
            cron: &cron,
            calendar: Some(&cal),
            fiscal_year_start: 4,
        };
        assert_eq!(
            p.next_due(at(TOKYO, 2026, 11, 25, 0, 0)),
            Some(at(TOKYO, 2027, 4, 1, 9, 0))
        );
    }

    fn facts<'a>(
        now: DateTime<Utc>,
        active: &'a [ActiveRun],
        windows: &'a BTreeMap<String, Window>,
    ) -> Facts<'a> {
        Facts {
            now,
            active,
            windows,
            window_tz: TOKYO,
            display_tz: TOKYO,
        }
    }

    fn hourly_missed(s: &Schedule, now: DateTime<Utc>) -> Vec<Decision> {
        // The daemon was down from 02:00 to `now`.
        let v = slots(s, None, at(TOKYO, 2026, 11, 25, 2, 0), now);
        decide(s, &job(), &v, facts(now, &[], &BTreeMap::new()))
    }

    fn outcomes(d: &[Decision]) -> Vec<&'static str> {
        d.iter().map(|d| d.outcome.as_str()).collect()
    }

    #[test]
    fn misfire_policies() {
        let now = at(TOKYO, 2026, 11, 25, 6, 30);
        let mut s = schedule("0 * * * *", TOKYO);
        assert_eq!(outcomes(&hourly_missed(&s, now)), ["missed"; 4]);
        s.misfire = MisfirePolicy::RunOnce;
        let d = hourly_missed(&s, now);
        assert_eq!(outcomes(&d), ["missed", "missed", "missed", "started"]);
        assert_eq!(
            d[3].start,
            Some(Start::Now {
                trigger: Trigger::CatchUp,
                replace: vec![]
            })
        );
        s.misfire_within = Some(Duration::from_secs(20 * 60));
        assert_eq!(
            outcomes(&hourly_missed(&s, now)),
            ["missed"; 4],
            "06:00 is 30 min late"
        );
        s.misfire = MisfirePolicy::RunAll;
        s.misfire_within = Some(Duration::from_secs(2 * 3600));
        s.misfire_max = 2;
        let d = hourly_missed(&s, now);
        // 03:00 is too late; 04:00 is over the cap; 05:00 and 06:00 run one after another.
        assert_eq!(outcomes(&d), ["missed", "missed", "started", "queued"]);
        assert!(
            d[0].reason
                .as_deref()
                .is_some_and(|r| r.contains("later than `within`")),
            "{:?}",
            d[0].reason
        );
        // A slot due just now is on time, whatever the policy.
        s.misfire = MisfirePolicy::Skip;
        let now = at(TOKYO, 2026, 11, 25, 7, 0) + chrono::Duration::milliseconds(3);
        let v = slots(&s, None, at(TOKYO, 2026, 11, 25, 6, 30), now);
        let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
        assert_eq!(outcomes(&d), ["started"]);
        assert_eq!(
            d[0].start,
            Some(Start::Now {
                trigger: Trigger::Schedule,
                replace: vec![]
            })
        );
    }

    #[test]
    fn overlap_policies() {
        let now = at(TOKYO, 2026, 11, 25, 9, 0);
        let mut s = schedule("0 9 * * *", TOKYO);
        let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
        let active = [ActiveRun {
            id: 41,
            status: RunStatus::Running,
        }];
        let windows = BTreeMap::new();
        let one = |s: &Schedule| decide(s, &job(), &v, facts(now, &active, &windows)).remove(0);
        let d = one(&s);
        assert_eq!(d.outcome, SlotOutcome::SkippedOverlap);
        assert!(d.reason.as_deref().is_some_and(|r| r.contains("run 41")));
        s.overlap = Overlap::Queue;
        let d = one(&s);
        assert_eq!(d.outcome, SlotOutcome::Queued);
        assert!(matches!(
            d.start,
            Some(Start::Queue {
                not_before: None,
                ..
            })
        ));
        s.overlap = Overlap::Allow;
        assert_eq!(one(&s).outcome, SlotOutcome::Started);
        s.overlap = Overlap::Replace;
        let d = one(&s);
        assert_eq!(
            d.start,
            Some(Start::Now {
                trigger: Trigger::Schedule,
                replace: vec![41]
            })
        );
    }

    #[test]
    fn merged_slots_make_one_run() {
        let cal = office();
        let mut s = schedule("0 9 * * *", TOKYO);
        s.calendar = Some("office".into());
        s.closed_day = ClosedDay::NextBusinessDay;
        s.overlap = Overlap::Allow;
        let now = at(TOKYO, 2027, 1, 4, 9, 0);
        let v = slots(&s, Some(&cal), at(TOKYO, 2027, 1, 4, 8, 0), now);
        let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
        let runs = d.iter().filter(|d| d.start.is_some()).count();
        assert_eq!(runs, 1, "{d:?}");
        assert_eq!(d.len(), 7);
        assert_eq!(d[0].outcome, SlotOutcome::Shifted);
        assert!(
            d[0].reason
                .as_deref()
                .is_some_and(|r| r.contains("moved from 2026-12-29 09:00 to 2027-01-04 09:00")),
            "{:?}",
            d[0].reason
        );
        assert!(d[1].reason.as_deref().is_some_and(|r| r.contains("merged")));
    }

    #[test]
    fn a_caught_up_slot_runs_once_with_the_slots_merged_into_it() {
        let cal = office();
        let mut s = schedule("0 9 * * *", TOKYO);
        s.calendar = Some("office".into());
        s.closed_day = ClosedDay::NextBusinessDay;
        s.misfire = MisfirePolicy::RunOnce;
        // Down from Friday 10:00 to Monday 10:00: Saturday's and Sunday's slots moved to
        // Monday 09:00, which is an hour late.
        let now = at(TOKYO, 2026, 11, 30, 10, 0);
        let v = slots(&s, Some(&cal), at(TOKYO, 2026, 11, 27, 10, 0), now);
        assert_eq!(v.len(), 3);
        let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
        let started: Vec<&Decision> = d.iter().filter(|d| d.start.is_some()).collect();
        assert_eq!(started.len(), 1, "{d:#?}");
        assert_eq!(
            started[0].start,
            Some(Start::Now {
                trigger: Trigger::CatchUp,
                replace: vec![]
            })
        );
        assert!(
            d.iter()
                .all(|d| d.outcome == SlotOutcome::Shifted || d.outcome == SlotOutcome::Started),
            "{d:#?}"
        );
        // With `skip`, the merged slots are missed with their primary.
        s.misfire = MisfirePolicy::Skip;
        let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
        assert!(d.iter().all(|d| d.outcome == SlotOutcome::Missed), "{d:#?}");
        assert!(
            d[1].reason
                .as_deref()
                .is_some_and(|r| r.contains("which was missed"))
        );
    }

    #[test]
    fn a_day_of_downtime_of_an_every_second_schedule_is_decided_at_once() {
        let mut s = schedule("* * * * * *", TOKYO);
        s.misfire = MisfirePolicy::RunOnce;
        let now = at(TOKYO, 2026, 11, 26, 12, 0);
        let v = slots(&s, None, now - chrono::Duration::days(1), now);
        assert_eq!(v.len(), 86_400);
        let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
        let started = d.iter().filter(|d| d.start.is_some()).count();
        // The last 60 s are on time: the first of them starts, the rest overlap it; the
        // late ones are missed but for the latest (run_once), which overlaps too.
        assert_eq!(started, 1);
        let missed = d
            .iter()
            .filter(|d| d.outcome == SlotOutcome::Missed)
            .count();
        assert!(missed > 86_000, "{missed}");
    }

    #[test]
    fn windows_make_a_slot_wait_or_skip() {
        let mut windows = BTreeMap::new();
        windows.insert(
            "night".to_owned(),
            Window {
                name: "night".into(),
                from: chrono::NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
                to: chrono::NaiveTime::from_hms_opt(6, 0, 0).expect("time"),
            },
        );
        let s = schedule("0 14 * * *", TOKYO);
        let now = at(TOKYO, 2026, 11, 25, 14, 0);
        let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
        let mut j = job();
        j.window = Some("night".into());
        let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
        assert_eq!(d.outcome, SlotOutcome::WaitingWindow);
        assert_eq!(
            d.start,
            Some(Start::Queue {
                trigger: Trigger::Schedule,
                not_before: Some(at(TOKYO, 2026, 11, 25, 22, 0))
            })
        );
        j.outside_window = WindowPolicy::Skip;
        let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
        assert_eq!(d.outcome, SlotOutcome::SkippedWindow);
        assert_eq!(d.start, None);
        // `avoid`: a slot inside the window waits for it to close.
        let s = schedule("0 23 * * *", TOKYO);
        let now = at(TOKYO, 2026, 11, 25, 23, 0);
        let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
        let mut j = job();
        j.avoid = Some("night".into());
        let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
        assert_eq!(d.outcome, SlotOutcome::WaitingWindow);
        assert_eq!(
            d.start,
            Some(Start::Queue {
                trigger: Trigger::Schedule,
                not_before: Some(at(TOKYO, 2026, 11, 26, 6, 0))
            })
        );
    }
}
