//! A report's period: a month or a fiscal year in the configured zone from `day_start`, and
//! its labels (`2026-10`, `FY2026`, `令和8年(2026年)10月分`, `October 2026`).

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;

use crate::model::DateStyle;

/// A report's period: a calendar month, or a fiscal year of twelve months, in the configured
/// zone, each day starting at the settings' `day_start`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first month.
    pub year: i32,
    pub month: u32,
    /// 1 (a month) or 12 (a fiscal year).
    pub months: u32,
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Period {
    fn span(year: i32, month: u32, months: u32, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = first.checked_add_months(chrono::Months::new(months))?;
        Some(Period {
            year,
            month,
            months,
            from: crate::schedule::window::local_instant(tz, first, day_start)?,
            to: crate::schedule::window::local_instant(tz, next, day_start)?,
        })
    }

    /// The month `year-month`; `None` for a month that does not exist.
    pub fn month(year: i32, month: u32, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        Period::span(year, month, 1, tz, day_start)
    }

    /// The fiscal year `year`: twelve months from `start_month` of that year.
    pub fn fiscal_year(
        year: i32,
        start_month: u32,
        tz: Tz,
        day_start: NaiveTime,
    ) -> Option<Period> {
        Period::span(year, start_month, 12, tz, day_start)
    }

    /// Reads `YYYY-MM`.
    pub fn parse(text: &str, tz: Tz, day_start: NaiveTime) -> Result<Period, String> {
        let bad = || format!("bad month `{text}` (expected `YYYY-MM`, e.g. `2026-10`)");
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        let (y, m) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if !(1970..=9999).contains(&y) {
            return Err(bad());
        }
        Period::month(y, m, tz, day_start).ok_or_else(bad)
    }

    /// The month before the one that contains `now`.
    pub fn previous_of(now: DateTime<Utc>, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let today = crate::calendar::business_date(now, tz, day_start);
        let first = today
            .with_day(1)?
            .checked_sub_months(chrono::Months::new(1))?;
        Period::month(first.year(), first.month(), tz, day_start)
    }

    /// The period of the same length before this one.
    pub fn previous(&self, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
            .checked_sub_months(chrono::Months::new(self.months))?;
        Period::span(first.year(), first.month(), self.months, tz, day_start)
    }

    /// The period of the same length after this one.
    pub fn next(&self, tz: Tz, day_start: NaiveTime) -> Option<Period> {
        let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
            .checked_add_months(chrono::Months::new(self.months))?;
        Period::span(first.year(), first.month(), self.months, tz, day_start)
    }

    /// The months of the period, each a period.
    pub fn each_month(&self, tz: Tz, day_start: NaiveTime) -> Vec<Period> {
        (0..self.months)
            .filter_map(|i| {
                let first = NaiveDate::from_ymd_opt(self.year, self.month, 1)?
                    .checked_add_months(chrono::Months::new(i))?;
                Period::month(first.year(), first.month(), tz, day_start)
            })
            .collect()
    }

    /// Whether the period is over at `now`: its last operating day has ended.
    pub fn ended(&self, now: DateTime<Utc>) -> bool {
        now >= self.to
    }

    pub fn is_year(&self) -> bool {
        self.months == 12
    }

    /// `2026-10`, or `FY2026`.
    pub fn label(&self) -> String {
        if self.is_year() {
            format!("FY{}", self.year)
        } else {
            format!("{:04}-{:02}", self.year, self.month)
        }
    }

    /// The calendar days of the period.
    pub fn days(&self) -> Vec<NaiveDate> {
        let Some(first) = NaiveDate::from_ymd_opt(self.year, self.month, 1) else {
            return Vec::new();
        };
        let Some(end) = first.checked_add_months(chrono::Months::new(self.months)) else {
            return Vec::new();
        };
        first.iter_days().take_while(|d| *d < end).collect()
    }
}

/// `October 2026`, or `fiscal year 2026 (April 2026 to March 2027)`.
pub(super) fn label_en(period: &Period) -> String {
    let month = |d: Option<NaiveDate>| d.map(|d| d.format("%B %Y").to_string()).unwrap_or_default();
    let first = NaiveDate::from_ymd_opt(period.year, period.month, 1);
    if period.is_year() {
        let last = first.and_then(|d| d.checked_add_months(chrono::Months::new(11)));
        format!(
            "fiscal year {} ({} to {})",
            period.year,
            month(first),
            month(last)
        )
    } else {
        month(first)
    }
}

/// The era year of `year` (its month `month`, for the year the era changed): `令和8`,
/// `令和元`, `平成31`.
fn era_year(year: i32, month: u32) -> String {
    let (era, first) = if (year, month) >= (2019, 5) {
        ("令和", 2019)
    } else if year >= 1989 {
        ("平成", 1989)
    } else {
        ("昭和", 1926)
    };
    match year - first + 1 {
        1 => format!("{era}元"),
        n => format!("{era}{n}"),
    }
}

/// A fiscal year in the date style: `令和8年度(2026年度)`, `令和8年度`, `2026年度`. A fiscal
/// year is named by the era of its April (`令和元年度` for 2019).
pub fn label_ja_year(year: i32, style: DateStyle) -> String {
    let era = era_year(year, 5);
    match style {
        DateStyle::Both => format!("{era}年度({year}年度)"),
        DateStyle::Era => format!("{era}年度"),
        DateStyle::Western => format!("{year}年度"),
    }
}

/// A month in the date style: `令和8年(2026年)10月分`, `令和8年10月分`, `2026年10月分`.
pub fn label_ja(year: i32, month: u32, style: DateStyle) -> String {
    let era = era_year(year, month);
    match style {
        DateStyle::Both => format!("{era}年({year}年){month}月分"),
        DateStyle::Era => format!("{era}年{month}月分"),
        DateStyle::Western => format!("{year}年{month}月分"),
    }
}

/// A day in the date style: `令和8年(2026年)10月1日`, `令和8年10月1日`, `2026年10月1日`.
pub fn date_ja(day: NaiveDate, style: DateStyle) -> String {
    let (year, month, d) = (day.year(), day.month(), day.day());
    let era = era_year(year, month);
    match style {
        DateStyle::Both => format!("{era}年({year}年){month}月{d}日"),
        DateStyle::Era => format!("{era}年{month}月{d}日"),
        DateStyle::Western => format!("{year}年{month}月{d}日"),
    }
}

/// The period's first and last calendar day, as the cover writes them:
/// `令和8年10月1日〜令和8年10月31日` (in the date style), and `1 October 2026 to 31 October 2026`.
pub(super) fn range(period: &Period, style: DateStyle) -> (String, String) {
    let days = period.days();
    let (Some(first), Some(last)) = (days.first(), days.last()) else {
        return (String::new(), String::new());
    };
    let en = |d: &NaiveDate| d.format("%-d %B %Y").to_string();
    (
        format!("{}〜{}", date_ja(*first, style), date_ja(*last, style)),
        format!("{} to {}", en(first), en(last)),
    )
}
