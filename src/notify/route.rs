//! Choosing the route of an incident: desk hours or not, and which levels are notified.
//!
//! Desk hours are a business day of the desk-hours calendar (Monday to Friday when none is
//! configured) and a local time in `[from, to)`. In desk hours every incident takes the `desk`
//! route; out of them, severity `wake` and above takes `emergency` and the rest `after_hours`.
//! Everything here is a pure function of its arguments: the caller passes the instant, the
//! time zone and the calendar, nothing reads the clock.

use std::time::Duration;

use chrono::{DateTime, Datelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::domain::severity::Severity;
use crate::model::{Calendar, DeskHours, Level, Notify};

/// Whether the service desk is staffed at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    DeskHours,
    OutOfHours,
}

/// The levels an incident goes through, and which route of `notify:` they come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route<'a> {
    pub period: Period,
    /// `desk`, `emergency` or `after_hours`, as written in `unyo.yaml`.
    pub name: &'static str,
    pub levels: &'a [Level],
}

impl Route<'_> {
    /// How long after the incident opened level `index` (0-based) is due, if nobody has
    /// acknowledged by then: the sum of the `after` of every level up to it.
    pub fn due(&self, index: usize) -> Option<Duration> {
        let upto = self.levels.get(..=index)?;
        Some(upto.iter().map(|l| l.after).sum())
    }
}

/// True when `at` falls in desk hours: a business day of `calendar` (Monday to Friday when
/// `None`) and a local time in `[from, to)`.
pub fn is_desk_hours(
    desk: &DeskHours,
    calendar: Option<&Calendar>,
    at: DateTime<Utc>,
    tz: Tz,
) -> bool {
    let local = at.with_timezone(&tz);
    let date = local.date_naive();
    let open = match calendar {
        Some(c) => c.is_business_day(date),
        None => !matches!(date.weekday(), Weekday::Sat | Weekday::Sun),
    };
    let time = local.time();
    open && desk.from <= time && time < desk.to
}

/// The route of an incident of `severity` opened at `at`. `calendar` is the calendar named by
/// `notify.desk_hours.calendar`, looked up in the catalog by the caller.
pub fn route<'a>(
    notify: &'a Notify,
    calendar: Option<&Calendar>,
    severity: Severity,
    at: DateTime<Utc>,
    tz: Tz,
) -> Route<'a> {
    if is_desk_hours(&notify.desk_hours, calendar, at, tz) {
        Route {
            period: Period::DeskHours,
            name: "desk",
            levels: &notify.desk,
        }
    } else if severity >= notify.wake {
        Route {
            period: Period::OutOfHours,
            name: "emergency",
            levels: &notify.emergency,
        }
    } else {
        Route {
            period: Period::OutOfHours,
            name: "after_hours",
            levels: &notify.after_hours,
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{NaiveTime, TimeZone, Weekday};
    use indexmap::IndexMap;

    use super::*;
    use crate::model::{DayRule, HolidaySet, Language};

    fn level(after_min: u64, names: &[&str]) -> Level {
        Level {
            after: Duration::from_secs(after_min * 60),
            notify: names.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn notify() -> Notify {
        Notify {
            language: Language::Ja,
            templates: None,
            desk_hours: DeskHours {
                calendar: None,
                from: NaiveTime::from_hms_opt(8, 30, 0).expect("time"),
                to: NaiveTime::from_hms_opt(17, 30, 0).expect("time"),
            },
            wake: Severity::High,
            channels: IndexMap::new(),
            desk: vec![
                level(0, &["desk-mail", "ops-chat"]),
                level(30, &["duty-phone"]),
            ],
            emergency: vec![level(0, &["duty-phone"]), level(15, &["desk-mail"])],
            after_hours: vec![level(0, &["desk-mail"])],
        }
    }

    fn city() -> Calendar {
        Calendar {
            name: "city".into(),
            weekends: vec![Weekday::Sat, Weekday::Sun],
            holidays: HolidaySet::Japan,
            closed: vec![DayRule::Yearly {
                from: (12, 29),
                to: (1, 3),
            }],
            open: vec![],
        }
    }

    /// Tokyo local time as UTC.
    fn tokyo(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Tokyo
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .single()
            .expect("local time")
            .with_timezone(&Utc)
    }

    fn name(cal: Option<&Calendar>, sev: Severity, at: DateTime<Utc>) -> &'static str {
        let n = notify();
        route(&n, cal, sev, at, chrono_tz::Asia::Tokyo).name
    }

    #[test]
    fn weekday_office_hours_go_to_the_desk() {
        // 2026-11-24 is a Tuesday.
        let n = notify();
        let r = route(
            &n,
            Some(&city()),
            Severity::Low,
            tokyo(2026, 11, 24, 10, 0),
            chrono_tz::Asia::Tokyo,
        );
        assert_eq!(r.period, Period::DeskHours);
        assert_eq!(r.name, "desk");
        assert_eq!(r.levels, n.desk.as_slice());
        assert_eq!(
            name(
                Some(&city()),
                Severity::Critical,
                tokyo(2026, 11, 24, 10, 0)
            ),
            "desk"
        );
    }

    #[test]
    fn evening_wakes_only_for_severe_incidents() {
        let at = tokyo(2026, 11, 24, 20, 0);
        assert_eq!(name(Some(&city()), Severity::High, at), "emergency");
        assert_eq!(name(Some(&city()), Severity::Critical, at), "emergency");
        assert_eq!(name(Some(&city()), Severity::Medium, at), "after_hours");
        assert_eq!(name(Some(&city()), Severity::Low, at), "after_hours");
    }

    #[test]
    fn public_holiday_and_year_end_are_out_of_hours() {
        // 2026-11-23 is 勤労感謝の日 (a Monday); 2026-12-30 a Wednesday in the year-end closure.
        let holiday = tokyo(2026, 11, 23, 10, 0);
        assert_eq!(name(Some(&city()), Severity::High, holiday), "emergency");
        assert_eq!(name(Some(&city()), Severity::Low, holiday), "after_hours");
        let year_end = tokyo(2026, 12, 30, 10, 0);
        assert_eq!(name(Some(&city()), Severity::Low, year_end), "after_hours");
        // Without a calendar only weekends are closed.
        assert_eq!(name(None, Severity::Low, holiday), "desk");
        assert_eq!(name(None, Severity::Low, year_end), "desk");
        assert_eq!(
            name(None, Severity::Low, tokyo(2026, 11, 28, 10, 0)),
            "after_hours",
            "a Saturday"
        );
    }

    #[test]
    fn desk_hours_include_from_and_exclude_to() {
        let cal = city();
        let n = notify();
        let desk = |h, m| {
            is_desk_hours(
                &n.desk_hours,
                Some(&cal),
                tokyo(2026, 11, 24, h, m),
                chrono_tz::Asia::Tokyo,
            )
        };
        assert!(!desk(8, 29));
        assert!(desk(8, 30));
        assert!(desk(17, 29));
        assert!(!desk(17, 30));
    }

    #[test]
    fn desk_hours_are_local_time() {
        // 01:00 UTC is 10:00 in Tokyo but 01:00 in London.
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 1, 0, 0)
            .single()
            .expect("t");
        let n = notify();
        assert!(is_desk_hours(
            &n.desk_hours,
            None,
            at,
            chrono_tz::Asia::Tokyo
        ));
        assert!(!is_desk_hours(
            &n.desk_hours,
            None,
            at,
            chrono_tz::Europe::London
        ));
    }

    #[test]
    fn levels_are_due_one_after_another() {
        let n = notify();
        let r = Route {
            period: Period::DeskHours,
            name: "desk",
            levels: &n.desk,
        };
        assert_eq!(r.due(0), Some(Duration::ZERO));
        assert_eq!(r.due(1), Some(Duration::from_secs(30 * 60)));
        assert_eq!(r.due(2), None);
    }
}
