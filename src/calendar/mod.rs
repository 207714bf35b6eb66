//! Dates that belong to operations: the business date of an instant (the operating day starts
//! at a configurable hour) and the fiscal year of a date (April to March by default).
//!
//! `holidays` computes Japanese public holidays from the rules of the holiday law; `business`
//! gives a [`crate::model::Calendar`] its behaviour (which days are closed and why, the n-th
//! business day of a month or fiscal year). Nothing in this module reads the clock or the
//! database.

mod business;
pub mod holidays;

pub use business::Closed;
pub use holidays::{Holiday, holiday, holidays_in_year};

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

/// The operating day `at` belongs to: its local date, or the day before when the local time
/// is earlier than `day_start` (with `day_start` 05:00, 01:30 belongs to the previous date).
pub fn business_date(at: DateTime<Utc>, tz: Tz, day_start: NaiveTime) -> NaiveDate {
    let local = at.with_timezone(&tz);
    let date = local.date_naive();
    if local.time() < day_start {
        date.pred_opt().unwrap_or(date)
    } else {
        date
    }
}

/// The fiscal year of a date, named by the calendar year it starts in: with an April start,
/// 2027-03-31 is in fiscal year 2026 and 2027-04-01 in 2027.
pub fn fiscal_year(date: NaiveDate, start_month: u32) -> i32 {
    if date.month() >= start_month {
        date.year()
    } else {
        date.year() - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn business_date_follows_day_start() {
        let tz = chrono_tz::Asia::Tokyo;
        // 2026-11-24 16:30 UTC is 2026-11-25 01:30 in Tokyo.
        let at = Utc
            .with_ymd_and_hms(2026, 11, 24, 16, 30, 0)
            .single()
            .expect("time");
        assert_eq!(business_date(at, tz, NaiveTime::MIN), d(2026, 11, 25));
        let five = NaiveTime::from_hms_opt(5, 0, 0).expect("time");
        assert_eq!(business_date(at, tz, five), d(2026, 11, 24));
    }

    #[test]
    fn fiscal_year_starts_in_april() {
        assert_eq!(fiscal_year(d(2027, 3, 31), 4), 2026);
        assert_eq!(fiscal_year(d(2027, 4, 1), 4), 2027);
        assert_eq!(fiscal_year(d(2027, 1, 1), 1), 2027);
    }
}
