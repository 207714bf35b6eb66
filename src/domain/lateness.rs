//! When a run is late, as pure decisions: the instant a `start_delay` or `end_delay` falls
//! at (relative to the slot, or a business time of day of the run's business date), the
//! instant `max_runtime` runs out, and which of them `now` has passed. The kinds of breach
//! are persisted tokens (`findings.kind`) and the failure classes of the incidents they open.
//!
//! Nothing here reads a clock, the database or the definitions: the engine's run supervision
//! passes the times in and raises what these functions say.

use std::time::Duration;

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

/// A deadline as a job states it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deadline {
    /// This long after the slot was due (a run without a slot: after it was queued).
    After(Duration),
    /// This time of day of the run's business date: a time after the day's start falls on
    /// the business date itself, one at or before it on the next calendar day (with
    /// `day_start` 06:00, "05:30" is the early morning that still belongs to the date).
    At(NaiveTime),
}

/// A kind of lateness or of abnormal progress: the token recorded and the incident's
/// failure class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Breach {
    /// Not started by `start_delay`.
    StartDelay,
    /// Still going at `end_delay`.
    EndDelay,
    /// Running longer than `max_runtime`.
    MaxRuntime,
    /// A step printed nothing for `stuck_after`.
    Stuck,
    /// Far slower than its baseline.
    Slow,
    /// Far faster than its baseline.
    Fast,
}

impl Breach {
    pub const ALL: [Breach; 6] = [
        Breach::StartDelay,
        Breach::EndDelay,
        Breach::MaxRuntime,
        Breach::Stuck,
        Breach::Slow,
        Breach::Fast,
    ];

    /// The persisted token; never changes meaning.
    pub fn token(self) -> &'static str {
        match self {
            Breach::StartDelay => "start_delay",
            Breach::EndDelay => "end_delay",
            Breach::MaxRuntime => "max_runtime",
            Breach::Stuck => "stuck",
            Breach::Slow => "slow",
            Breach::Fast => "fast",
        }
    }

    pub fn from_token(token: &str) -> Option<Breach> {
        Breach::ALL.into_iter().find(|b| b.token() == token)
    }
}

impl std::fmt::Display for Breach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.token())
    }
}

/// The instant of a business time of day `time` of `date`, where a business day starts at
/// `day_start` in `tz`: `date` itself when `time` is after `day_start`, else the next
/// calendar day. A local time a clock change skips is taken one hour later.
pub fn business_instant(
    date: NaiveDate,
    time: NaiveTime,
    day_start: NaiveTime,
    tz: Tz,
) -> DateTime<Utc> {
    let day = if time > day_start {
        date
    } else {
        date.checked_add_days(Days::new(1)).unwrap_or(date)
    };
    let local = day.and_time(time);
    tz.from_local_datetime(&local)
        .earliest()
        .or_else(|| {
            tz.from_local_datetime(&(local + chrono::Duration::hours(1)))
                .earliest()
        })
        .map_or_else(|| local.and_utc(), |t| t.with_timezone(&Utc))
}

/// Where a run stands, for its deadlines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunTimes {
    /// When its slot was due, or when it was queued when no slot made it.
    pub due: DateTime<Utc>,
    pub business_date: NaiveDate,
    /// When it started; `None` while it waits.
    pub started: Option<DateTime<Utc>>,
}

/// How the business day is cut, for deadlines given as a time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCut {
    pub tz: Tz,
    pub day_start: NaiveTime,
}

/// The instant a deadline falls at for a run.
pub fn deadline_at(deadline: Deadline, run: &RunTimes, cut: DayCut) -> DateTime<Utc> {
    match deadline {
        Deadline::After(d) => {
            run.due + chrono::Duration::from_std(d).unwrap_or(chrono::TimeDelta::MAX)
        }
        Deadline::At(t) => business_instant(run.business_date, t, cut.day_start, cut.tz),
    }
}

/// What a job asks of its runs' timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Limits {
    pub start: Option<Deadline>,
    pub end: Option<Deadline>,
    pub max_runtime: Option<Duration>,
}

impl Limits {
    pub fn is_empty(&self) -> bool {
        self.start.is_none() && self.end.is_none() && self.max_runtime.is_none()
    }
}

/// A deadline a run has passed: the kind, the instant it fell at, and how far past it the
/// run is at `now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Late {
    pub breach: Breach,
    pub deadline: DateTime<Utc>,
    pub by: Duration,
}

/// The deadlines a run that is still going (or still waiting) has passed at `now`, in the
/// order start, end, runtime. A run that started by its start deadline has not broken it,
/// however late `now` is; one that started after it has.
pub fn breached(limits: &Limits, run: &RunTimes, cut: DayCut, now: DateTime<Utc>) -> Vec<Late> {
    let mut out = Vec::new();
    let past = |deadline: DateTime<Utc>, at: DateTime<Utc>| {
        (at > deadline).then(|| (at - deadline).to_std().unwrap_or_default())
    };
    if let Some(d) = limits.start {
        let deadline = deadline_at(d, run, cut);
        if let Some(by) = past(deadline, run.started.unwrap_or(now)) {
            out.push(Late {
                breach: Breach::StartDelay,
                deadline,
                by,
            });
        }
    }
    if let Some(d) = limits.end {
        let deadline = deadline_at(d, run, cut);
        if let Some(by) = past(deadline, now) {
            out.push(Late {
                breach: Breach::EndDelay,
                deadline,
                by,
            });
        }
    }
    if let (Some(max), Some(started)) = (limits.max_runtime, run.started) {
        let deadline = started + chrono::Duration::from_std(max).unwrap_or(chrono::TimeDelta::MAX);
        if let Some(by) = past(deadline, now) {
            out.push(Late {
                breach: Breach::MaxRuntime,
                deadline,
                by,
            });
        }
    }
    out
}

/// A step is stuck when it has shown no output or progress since `last_progress` for longer
/// than `after`.
pub fn stuck(last_progress: DateTime<Utc>, after: Duration, now: DateTime<Utc>) -> bool {
    (now - last_progress)
        .to_std()
        .is_ok_and(|quiet| quiet > after)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    fn hm(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).expect("time")
    }

    const TOKYO: DayCut = DayCut {
        tz: chrono_tz::Asia::Tokyo,
        day_start: NaiveTime::MIN,
    };

    fn backup() -> RunTimes {
        // The 00:30 slot of 2026-11-25 in Tokyo.
        RunTimes {
            due: t("2026-11-24T15:30:00Z"),
            business_date: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
            started: Some(t("2026-11-24T15:30:05Z")),
        }
    }

    #[test]
    fn a_time_of_day_after_the_day_start_is_on_the_business_date() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
        assert_eq!(
            business_instant(date, hm(6, 0), NaiveTime::MIN, chrono_tz::Asia::Tokyo),
            t("2026-11-24T21:00:00Z")
        );
        // With the day starting at 06:00, 05:30 is the next calendar morning.
        assert_eq!(
            business_instant(date, hm(5, 30), hm(6, 0), chrono_tz::Asia::Tokyo),
            t("2026-11-25T20:30:00Z")
        );
        // A deadline at the day's start is its end, not its beginning.
        assert_eq!(
            business_instant(date, NaiveTime::MIN, NaiveTime::MIN, chrono_tz::Asia::Tokyo),
            t("2026-11-25T15:00:00Z")
        );
    }

    #[test]
    fn a_skipped_local_time_moves_an_hour_later() {
        // 2027-03-14 02:30 does not exist in New York.
        let date = NaiveDate::from_ymd_opt(2027, 3, 14).expect("date");
        let at = business_instant(
            date,
            hm(2, 30),
            NaiveTime::MIN,
            chrono_tz::America::New_York,
        );
        assert_eq!(at, t("2027-03-14T07:30:00Z"));
    }

    #[test]
    fn a_run_still_going_at_its_end_deadline_is_late_from_that_instant() {
        let limits = Limits {
            end: Some(Deadline::At(hm(6, 0))),
            ..Limits::default()
        };
        let run = backup();
        assert!(breached(&limits, &run, TOKYO, t("2026-11-24T21:00:00Z")).is_empty());
        let late = breached(&limits, &run, TOKYO, t("2026-11-24T21:00:01Z"));
        assert_eq!(
            late,
            vec![Late {
                breach: Breach::EndDelay,
                deadline: t("2026-11-24T21:00:00Z"),
                by: Duration::from_secs(1),
            }]
        );
    }

    #[test]
    fn a_start_delay_counts_from_the_slot_and_is_kept_when_the_run_started_in_time() {
        let limits = Limits {
            start: Some(Deadline::After(Duration::from_secs(600))),
            ..Limits::default()
        };
        let waiting = RunTimes {
            started: None,
            ..backup()
        };
        assert!(breached(&limits, &waiting, TOKYO, t("2026-11-24T15:40:00Z")).is_empty());
        assert_eq!(
            breached(&limits, &waiting, TOKYO, t("2026-11-24T15:41:00Z"))[0].breach,
            Breach::StartDelay
        );
        // Started 5 s after the slot: never late to start, however long it runs.
        assert!(breached(&limits, &backup(), TOKYO, t("2026-11-25T15:41:00Z")).is_empty());
        let late_start = RunTimes {
            started: Some(t("2026-11-24T15:45:00Z")),
            ..backup()
        };
        assert_eq!(
            breached(&limits, &late_start, TOKYO, t("2026-11-24T15:45:00Z"))[0].by,
            Duration::from_secs(300)
        );
    }

    #[test]
    fn max_runtime_counts_from_the_start_and_not_while_waiting() {
        let limits = Limits {
            max_runtime: Some(Duration::from_secs(3600)),
            ..Limits::default()
        };
        let at = t("2026-11-24T16:30:06Z");
        assert_eq!(
            breached(&limits, &backup(), TOKYO, at)[0].breach,
            Breach::MaxRuntime
        );
        let waiting = RunTimes {
            started: None,
            ..backup()
        };
        assert!(breached(&limits, &waiting, TOKYO, at).is_empty());
    }

    #[test]
    fn stuck_after_the_quiet_time_only() {
        let last = t("2026-11-24T15:30:00Z");
        let ten = Duration::from_secs(600);
        assert!(!stuck(last, ten, t("2026-11-24T15:40:00Z")));
        assert!(stuck(last, ten, t("2026-11-24T15:40:01Z")));
        // A clock set backwards is not a quiet time.
        assert!(!stuck(last, ten, t("2026-11-24T15:00:00Z")));
    }

    #[test]
    fn breach_tokens_read_back() {
        for b in Breach::ALL {
            assert_eq!(Breach::from_token(b.token()), Some(b));
        }
        assert_eq!(Breach::from_token("late"), None);
    }
}
