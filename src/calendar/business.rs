//! The behaviour of a validated [`Calendar`]: whether a day is a business day and, if not, why;
//! the business day before or after a date; and which business day of a month or fiscal year
//! a date is, for schedules that fire on "the 3rd business day" or "the last business day".
//!
//! A day is decided in this order: an extra `open` date is a business day whatever else holds;
//! then the calendar's closed rules (in the order written), then public holidays, then
//! weekends. Everything here is a pure function of the calendar and the date.

use std::fmt;

use chrono::{Datelike, Days, NaiveDate, Weekday};

use super::holidays::{self, Holiday};
use crate::model::{BusinessDay, Calendar, DayRule, HolidaySet};

/// How many days [`Calendar::next_business_day`] and [`Calendar::previous_business_day`] look
/// before they give up (a calendar closed for more than a year has no next business day).
const SEARCH_DAYS: u64 = 400;

/// Why a day is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Closed {
    /// A closed rule of the calendar, as written (`12-29..01-03`, `2027-05-06`); `year_end` for
    /// the year-end closure, 12-29..01-03.
    ClosedRule { rule: String, year_end: bool },
    /// A Japanese public holiday.
    Holiday(Holiday),
    /// One of the calendar's weekend days.
    Weekend(Weekday),
}

impl fmt::Display for Closed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Closed::ClosedRule { year_end: true, .. } => f.write_str("year-end closure"),
            Closed::ClosedRule { rule, .. } => write!(f, "closed ({rule})"),
            Closed::Holiday(h) => write!(f, "public holiday {} ({})", h.name, h.name_en),
            Closed::Weekend(day) => write!(f, "weekend ({day})"),
        }
    }
}

impl DayRule {
    /// Whether the rule closes `date`. A yearly rule that wraps (`12-29..01-03`) covers the end
    /// of every year and the start of every year.
    pub fn covers(&self, date: NaiveDate) -> bool {
        match *self {
            DayRule::Yearly { from, to } => {
                let day = (date.month(), date.day());
                if from <= to {
                    from <= day && day <= to
                } else {
                    from <= day || day <= to
                }
            }
            DayRule::Dates { from, to } => from <= date && date <= to,
        }
    }

    /// Whether this is the year-end closure, 12-29..01-03.
    pub fn is_year_end(&self) -> bool {
        matches!(
            self,
            DayRule::Yearly {
                from: (12, 29),
                to: (1, 3)
            }
        )
    }

    /// The rule as a calendar writes it: `05-01`, `12-29..01-03`, `2027-05-06`,
    /// `2027-05-06..2027-05-07`.
    pub fn as_written(&self) -> String {
        match *self {
            DayRule::Yearly { from, to } if from == to => format!("{:02}-{:02}", from.0, from.1),
            DayRule::Yearly { from, to } => {
                format!("{:02}-{:02}..{:02}-{:02}", from.0, from.1, to.0, to.1)
            }
            DayRule::Dates { from, to } if from == to => from.to_string(),
            DayRule::Dates { from, to } => format!("{from}..{to}"),
        }
    }
}

impl Calendar {
    /// Why `date` is closed, or `None` for a business day. An extra `open` date wins over
    /// everything; otherwise closed rules come first, then public holidays, then weekends.
    pub fn closed(&self, date: NaiveDate) -> Option<Closed> {
        if self.open.contains(&date) {
            return None;
        }
        if let Some(rule) = self.closed.iter().find(|r| r.covers(date)) {
            return Some(Closed::ClosedRule {
                rule: rule.as_written(),
                year_end: rule.is_year_end(),
            });
        }
        if self.holidays == HolidaySet::Japan
            && let Some(h) = holidays::holiday(date)
        {
            return Some(Closed::Holiday(h));
        }
        let day = date.weekday();
        self.weekends.contains(&day).then_some(Closed::Weekend(day))
    }

    pub fn is_business_day(&self, date: NaiveDate) -> bool {
        self.closed(date).is_none()
    }

    /// The first business day after `date`; `None` if there is none within 400 days.
    pub fn next_business_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        (1..=SEARCH_DAYS)
            .map_while(|n| date.checked_add_days(Days::new(n)))
            .find(|d| self.is_business_day(*d))
    }

    /// The last business day before `date`; `None` if there is none within 400 days.
    pub fn previous_business_day(&self, date: NaiveDate) -> Option<NaiveDate> {
        (1..=SEARCH_DAYS)
            .map_while(|n| date.checked_sub_days(Days::new(n)))
            .find(|d| self.is_business_day(*d))
    }

    /// The business days of a month, in order; empty for a month that does not exist.
    pub fn business_days_of_month(&self, year: i32, month: u32) -> Vec<NaiveDate> {
        let Some(first) = NaiveDate::from_ymd_opt(year, month, 1) else {
            return Vec::new();
        };
        first
            .iter_days()
            .take_while(|d| d.month() == month)
            .filter(|d| self.is_business_day(*d))
            .collect()
    }

    /// Whether `date` is the business day `day` names; the fiscal year starts on the first of
    /// month `fiscal_year_start` (1–12; any other value matches nothing).
    pub fn matches(&self, date: NaiveDate, day: BusinessDay, fiscal_year_start: u32) -> bool {
        if !self.is_business_day(date) {
            return false;
        }
        let nth = |n: u32| usize::try_from(n).ok().and_then(|n| n.checked_sub(1));
        match day {
            BusinessDay::Nth(n) => nth(n).is_some_and(|i| {
                self.business_days_of_month(date.year(), date.month())
                    .get(i)
                    .is_some_and(|d| *d == date)
            }),
            BusinessDay::NthLast(n) => nth(n).is_some_and(|i| {
                self.business_days_of_month(date.year(), date.month())
                    .iter()
                    .rev()
                    .nth(i)
                    .is_some_and(|d| *d == date)
            }),
            BusinessDay::FirstOfFiscalYear => fiscal_year_bounds(date, fiscal_year_start)
                .is_some_and(|(start, _)| {
                    start
                        .iter_days()
                        .take_while(|d| *d < date)
                        .all(|d| !self.is_business_day(d))
                }),
            BusinessDay::LastOfFiscalYear => fiscal_year_bounds(date, fiscal_year_start)
                .is_some_and(|(_, end)| {
                    date.iter_days()
                        .skip(1)
                        .take_while(|d| *d <= end)
                        .all(|d| !self.is_business_day(d))
                }),
        }
    }
}

/// The first and last day of the fiscal year `date` is in.
fn fiscal_year_bounds(date: NaiveDate, start_month: u32) -> Option<(NaiveDate, NaiveDate)> {
    if !(1..=12).contains(&start_month) {
        return None;
    }
    let year = super::fiscal_year(date, start_month);
    let start = NaiveDate::from_ymd_opt(year, start_month, 1)?;
    let end = NaiveDate::from_ymd_opt(year + 1, start_month, 1)?.pred_opt()?;
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    /// The shipped `city` calendar: weekends, Japanese holidays, the year-end closure.
    fn city() -> Calendar {
        Calendar {
            name: "city".to_owned(),
            weekends: vec![Weekday::Sat, Weekday::Sun],
            holidays: HolidaySet::Japan,
            closed: vec![DayRule::Yearly {
                from: (12, 29),
                to: (1, 3),
            }],
            open: Vec::new(),
        }
    }

    fn reason(cal: &Calendar, date: NaiveDate) -> Option<String> {
        cal.closed(date).map(|c| c.to_string())
    }

    #[test]
    fn year_end_closure_wraps_over_new_year() {
        let cal = city();
        for date in [
            d(2026, 12, 29),
            d(2026, 12, 31),
            d(2027, 1, 1),
            d(2027, 1, 3),
        ] {
            assert_eq!(
                reason(&cal, date).as_deref(),
                Some("year-end closure"),
                "{date}"
            );
        }
        assert_eq!(
            cal.closed(d(2027, 1, 2)),
            Some(Closed::ClosedRule {
                rule: "12-29..01-03".to_owned(),
                year_end: true
            })
        );
        // 2026-12-28 is a Monday, 2027-01-04 a Monday.
        assert!(cal.is_business_day(d(2026, 12, 28)));
        assert!(cal.is_business_day(d(2027, 1, 4)));
        assert_eq!(cal.next_business_day(d(2026, 12, 28)), Some(d(2027, 1, 4)));
        assert_eq!(
            cal.previous_business_day(d(2027, 1, 4)),
            Some(d(2026, 12, 28))
        );
        assert_eq!(cal.next_business_day(d(2027, 1, 4)), Some(d(2027, 1, 5)));
    }

    #[test]
    fn reasons_in_order_and_words() {
        let mut cal = city();
        cal.closed.clear();
        assert_eq!(
            reason(&cal, d(2027, 1, 1)).as_deref(),
            Some("public holiday 元日 (New Year's Day)")
        );
        assert_eq!(
            reason(&cal, d(2027, 1, 2)).as_deref(),
            Some("weekend (Sat)")
        );
        assert_eq!(
            reason(&cal, d(2027, 1, 3)).as_deref(),
            Some("weekend (Sun)")
        );
        // 2027-03-21 (vernal equinox) is a Sunday: the holiday is the reason, not the weekend.
        assert_eq!(
            reason(&cal, d(2027, 3, 21)).as_deref(),
            Some("public holiday 春分の日 (Vernal Equinox Day)")
        );
        assert_eq!(
            reason(&cal, d(2027, 3, 22)).as_deref(),
            Some("public holiday 春分の日 振替休日 (Substitute holiday for Vernal Equinox Day)")
        );
        cal.closed = vec![
            DayRule::Yearly {
                from: (5, 1),
                to: (5, 1),
            },
            DayRule::Dates {
                from: d(2027, 5, 6),
                to: d(2027, 5, 7),
            },
            DayRule::Yearly {
                from: (12, 30),
                to: (1, 2),
            },
        ];
        assert_eq!(
            reason(&cal, d(2027, 5, 1)).as_deref(),
            Some("closed (05-01)")
        );
        assert_eq!(
            reason(&cal, d(2027, 5, 7)).as_deref(),
            Some("closed (2027-05-06..2027-05-07)")
        );
        assert_eq!(reason(&cal, d(2027, 5, 10)), None);
        // Wrapping but not the year-end closure: its own words.
        assert_eq!(
            reason(&cal, d(2027, 1, 1)).as_deref(),
            Some("closed (12-30..01-02)")
        );
        assert_eq!(reason(&cal, d(2026, 12, 29)), None, "a Tuesday");
    }

    #[test]
    fn open_dates_win_over_everything() {
        let mut cal = city();
        // 2027-01-11 is 成人の日, 2027-01-02 a Saturday inside the year-end closure.
        assert!(!cal.is_business_day(d(2027, 1, 11)));
        cal.open = vec![d(2027, 1, 11), d(2027, 1, 2)];
        assert_eq!(cal.closed(d(2027, 1, 11)), None);
        assert_eq!(cal.closed(d(2027, 1, 2)), None);
        assert_eq!(cal.next_business_day(d(2026, 12, 28)), Some(d(2027, 1, 2)));
    }

    #[test]
    fn no_public_holidays() {
        let mut cal = city();
        cal.holidays = HolidaySet::None;
        assert!(cal.is_business_day(d(2027, 1, 11)));
        assert!(cal.is_business_day(d(2027, 3, 22)));
        assert!(!cal.is_business_day(d(2027, 3, 21)), "still a Sunday");
        assert_eq!(cal.business_days_of_month(2027, 1).len(), 20);
        assert_eq!(city().business_days_of_month(2027, 1).len(), 19);
    }

    #[test]
    fn business_days_of_a_month() {
        let cal = city();
        let jan = cal.business_days_of_month(2027, 1);
        assert_eq!(jan.first(), Some(&d(2027, 1, 4)));
        assert_eq!(jan.get(2), Some(&d(2027, 1, 6)));
        assert!(!jan.contains(&d(2027, 1, 11)), "成人の日");
        assert_eq!(jan.last(), Some(&d(2027, 1, 29)));
        assert!(cal.business_days_of_month(2027, 13).is_empty());
        // Golden Week 2027: 04-29 Thu, 05-03..05-05 Mon–Wed.
        assert_eq!(cal.business_days_of_month(2027, 5).len(), 18);
    }

    #[test]
    fn nth_business_days() {
        let cal = city();
        let m = |date, day| cal.matches(date, day, 4);
        assert!(m(d(2027, 1, 6), BusinessDay::Nth(3)));
        assert!(!m(d(2027, 1, 5), BusinessDay::Nth(3)));
        assert!(m(d(2027, 1, 4), BusinessDay::Nth(1)));
        assert!(m(d(2027, 3, 31), BusinessDay::NthLast(1)));
        assert!(m(d(2027, 3, 30), BusinessDay::NthLast(2)));
        assert!(!m(d(2027, 3, 31), BusinessDay::NthLast(2)));
        // The last business day of 2027-10 is Friday the 29th.
        assert!(m(d(2027, 10, 29), BusinessDay::NthLast(1)));
        assert!(!m(d(2027, 10, 31), BusinessDay::NthLast(1)));
        assert!(!m(d(2027, 1, 4), BusinessDay::Nth(0)));
        assert!(!m(d(2027, 1, 29), BusinessDay::Nth(24)));
    }

    #[test]
    fn fiscal_year_business_days() {
        let cal = city();
        assert!(cal.matches(d(2027, 4, 1), BusinessDay::FirstOfFiscalYear, 4));
        assert!(!cal.matches(d(2027, 4, 2), BusinessDay::FirstOfFiscalYear, 4));
        assert!(cal.matches(d(2027, 3, 31), BusinessDay::LastOfFiscalYear, 4));
        assert!(!cal.matches(d(2027, 3, 30), BusinessDay::LastOfFiscalYear, 4));
        // 2028-03-31 is a Friday, the last of fiscal year 2027.
        assert!(cal.matches(d(2028, 3, 31), BusinessDay::LastOfFiscalYear, 4));
        // A calendar-year fiscal year starts after the year-end closure.
        assert!(cal.matches(d(2027, 1, 4), BusinessDay::FirstOfFiscalYear, 1));
        assert!(cal.matches(d(2026, 12, 28), BusinessDay::LastOfFiscalYear, 1));
        assert!(!cal.matches(d(2027, 4, 1), BusinessDay::FirstOfFiscalYear, 13));
    }

    #[test]
    fn a_calendar_without_business_days() {
        let cal = Calendar {
            name: "never".to_owned(),
            weekends: vec![
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
                Weekday::Sat,
                Weekday::Sun,
            ],
            holidays: HolidaySet::None,
            closed: Vec::new(),
            open: Vec::new(),
        };
        assert_eq!(cal.next_business_day(d(2027, 1, 1)), None);
        assert_eq!(cal.previous_business_day(d(2027, 1, 1)), None);
        assert!(cal.business_days_of_month(2027, 1).is_empty());
        assert!(!cal.matches(d(2027, 4, 1), BusinessDay::FirstOfFiscalYear, 4));
    }

    #[test]
    fn business_day_words() {
        let parse = |s: &str| s.parse::<BusinessDay>();
        assert_eq!(parse("3"), Ok(BusinessDay::Nth(3)));
        assert_eq!(parse("-2"), Ok(BusinessDay::NthLast(2)));
        assert_eq!(parse("first"), Ok(BusinessDay::Nth(1)));
        assert_eq!(parse("last"), Ok(BusinessDay::NthLast(1)));
        assert_eq!(parse("23"), Ok(BusinessDay::Nth(23)));
        assert_eq!(parse("-23"), Ok(BusinessDay::NthLast(23)));
        assert_eq!(
            parse("first_of_fiscal_year"),
            Ok(BusinessDay::FirstOfFiscalYear)
        );
        assert_eq!(
            parse("last_of_fiscal_year"),
            Ok(BusinessDay::LastOfFiscalYear)
        );
        for bad in ["0", "24", "-24", "3rd", "", "lst"] {
            let e = parse(bad).expect_err(bad);
            assert!(e.starts_with(&format!("bad business day `{bad}`: expected 1 to 23")));
            assert!(e.ends_with("`first_of_fiscal_year` or `last_of_fiscal_year`"));
        }
        let text = |day: BusinessDay| day.to_string();
        assert_eq!(text(BusinessDay::Nth(3)), "3rd business day of the month");
        assert_eq!(text(BusinessDay::Nth(1)), "first business day of the month");
        assert_eq!(text(BusinessDay::Nth(11)), "11th business day of the month");
        assert_eq!(text(BusinessDay::Nth(22)), "22nd business day of the month");
        assert_eq!(
            text(BusinessDay::NthLast(1)),
            "last business day of the month"
        );
        assert_eq!(
            text(BusinessDay::NthLast(2)),
            "2nd-to-last business day of the month"
        );
        assert_eq!(
            text(BusinessDay::FirstOfFiscalYear),
            "first business day of the fiscal year"
        );
        assert_eq!(
            text(BusinessDay::LastOfFiscalYear),
            "last business day of the fiscal year"
        );
    }

    #[test]
    fn rules_as_written() {
        let y = |from, to| DayRule::Yearly { from, to };
        assert_eq!(y((12, 29), (1, 3)).as_written(), "12-29..01-03");
        assert!(y((12, 29), (1, 3)).is_year_end());
        assert!(!y((12, 28), (1, 3)).is_year_end());
        assert_eq!(y((5, 1), (5, 1)).as_written(), "05-01");
        let one = DayRule::Dates {
            from: d(2027, 5, 6),
            to: d(2027, 5, 6),
        };
        assert_eq!(one.as_written(), "2027-05-06");
        assert!(one.covers(d(2027, 5, 6)) && !one.covers(d(2028, 5, 6)));
        // 02-29 in a common year covers nothing, and does not fail.
        assert!(!y((2, 29), (2, 29)).covers(d(2027, 3, 1)));
        assert!(y((2, 29), (2, 29)).covers(d(2028, 2, 29)));
    }
}
