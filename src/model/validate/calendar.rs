//! Checking calendars (weekends, closed-day rules, open days) and windows (a span of clock
//! time).

use std::path::Path;

use chrono::{NaiveDate, Weekday};

use super::Ctx;
use crate::model::values::parse_clock;
use crate::model::{Calendar, DayRule, HolidaySet, Window};
use crate::spec::{CalendarSpec, WeekdaySpec, WindowSpec};

pub(super) fn calendar(cx: &mut Ctx<'_>, file: &Path, name: &str, spec: &CalendarSpec) -> Calendar {
    let weekends = spec
        .weekends
        .as_ref()
        .map(|w| {
            w.iter()
                .map(|d| match d {
                    WeekdaySpec::Mon => Weekday::Mon,
                    WeekdaySpec::Tue => Weekday::Tue,
                    WeekdaySpec::Wed => Weekday::Wed,
                    WeekdaySpec::Thu => Weekday::Thu,
                    WeekdaySpec::Fri => Weekday::Fri,
                    WeekdaySpec::Sat => Weekday::Sat,
                    WeekdaySpec::Sun => Weekday::Sun,
                })
                .collect()
        })
        .unwrap_or_else(|| vec![Weekday::Sat, Weekday::Sun]);
    let mut closed = Vec::new();
    for c in &spec.closed {
        match day_rule(&c.value) {
            Ok(r) => closed.push(r),
            Err(m) => cx.err(file, c, m),
        }
    }
    let mut open = Vec::new();
    for o in &spec.open {
        match NaiveDate::parse_from_str(o.value.trim(), "%Y-%m-%d") {
            Ok(d) => open.push(d),
            Err(_) => cx.err(
                file,
                o,
                format!("bad date `{}` (expected `YYYY-MM-DD`)", o.value),
            ),
        }
    }
    Calendar {
        name: name.to_owned(),
        weekends,
        holidays: spec.holidays.unwrap_or(HolidaySet::Japan),
        closed,
        open,
    }
}

fn day_rule(text: &str) -> Result<DayRule, String> {
    let bad = || {
        format!(
            "bad closed day `{text}` (expected `MM-DD`, `MM-DD..MM-DD`, `YYYY-MM-DD` or `YYYY-MM-DD..YYYY-MM-DD`)"
        )
    };
    let (a, b) = match text.split_once("..") {
        Some((a, b)) => (a.trim(), b.trim()),
        None => (text.trim(), text.trim()),
    };
    let month_day = |s: &str| -> Option<(u32, u32)> {
        let (m, d) = s.split_once('-')?;
        let (m, d) = (m.parse().ok()?, d.parse().ok()?);
        // 2000 is a leap year, so 02-29 is accepted.
        NaiveDate::from_ymd_opt(2000, m, d).map(|_| (m, d))
    };
    let date = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok();
    if a.len() == 5 && b.len() == 5 {
        let (from, to) = (month_day(a).ok_or_else(bad)?, month_day(b).ok_or_else(bad)?);
        return Ok(DayRule::Yearly { from, to });
    }
    let (from, to) = (date(a).ok_or_else(bad)?, date(b).ok_or_else(bad)?);
    if from > to {
        return Err(format!("closed range `{text}` ends before it starts"));
    }
    Ok(DayRule::Dates { from, to })
}

/// A window's span of clock time, `from` and `to` checked.
pub(super) fn window(
    cx: &mut Ctx<'_>,
    file: &Path,
    name: &str,
    spec: &WindowSpec,
) -> Option<Window> {
    let from = parse_clock(&spec.from.value);
    let to = parse_clock(&spec.to.value);
    match (from, to) {
        (Ok(from), Ok(to)) if from == to => {
            cx.err(
                file,
                &spec.from,
                format!("window `{name}` is empty (`from` equals `to`)"),
            );
            None
        }
        (Ok(from), Ok(to)) => Some(Window {
            name: name.to_owned(),
            from,
            to,
        }),
        (f, t) => {
            if let Err(m) = f {
                cx.err(file, &spec.from, format!("`from`: {m}"));
            }
            if let Err(m) = t {
                cx.err(file, &spec.to, format!("`to`: {m}"));
            }
            None
        }
    }
}
