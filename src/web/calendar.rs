//! Calendar (`/calendar?year=YYYY&calendar=NAME`): each calendar's year as `unyo calendar`
//! decides it (`Calendar::closed`): a month grid with the closed days marked, the closed
//! days other than weekends with why (a holiday by its name, the year-end closure, a closed
//! rule as written), and the year's counts. Reads only the definitions.

use std::sync::Arc;

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::{Datelike, NaiveDate, Weekday};

use super::form::Fields;
use super::page::{self, Frame};
use super::words::{Lang, Words};
use super::{Dashboard, lang, session};
use crate::calendar::Closed;
use crate::calendar::holidays::SUPPORTED_YEARS;
use crate::model::{Calendar, HolidaySet};

#[derive(Debug)]
struct Cell {
    /// 0: a blank before the first or after the last day.
    day: u32,
    /// `open`, `weekend`, `holiday` or `closed` (a CSS class).
    class: &'static str,
    why: String,
}

#[derive(Debug)]
struct Month {
    title: String,
    weeks: Vec<Vec<Cell>>,
}

#[derive(Debug)]
struct ClosedDay {
    date: String,
    weekday: &'static str,
    class: &'static str,
    why: String,
}

#[derive(Debug)]
struct CalendarView {
    name: String,
    rules: Vec<(&'static str, String)>,
    business: usize,
    closed: usize,
    weekends: usize,
    months: Vec<Month>,
    days: Vec<ClosedDay>,
}

#[derive(Template)]
#[template(path = "calendar.html")]
struct CalendarPage {
    frame: Frame,
    year: i32,
    prev: Option<i32>,
    next: Option<i32>,
    /// The calendar asked for (`calendar=`), kept in the year links.
    only: String,
    heads: [&'static str; 7],
    calendars: Vec<CalendarView>,
}

fn weekday_word(d: Weekday, w: &Words) -> &'static str {
    w.weekdays[d.num_days_from_monday() as usize]
}

/// Why a day is closed, in the page's language.
fn why(c: &Closed, lang: Lang) -> String {
    match lang {
        Lang::Ja => match c {
            Closed::Weekend(d) => format!("週末({}曜日)", weekday_word(*d, lang.words())),
            other => crate::report::closed_ja(other),
        },
        Lang::En => c.to_string(),
    }
}

fn class_of(c: &Closed) -> &'static str {
    match c {
        Closed::Weekend(_) => "weekend",
        Closed::Holiday(_) => "holiday",
        Closed::ClosedRule { .. } => "closed",
    }
}

fn view(cal: &Calendar, year: i32, lang: Lang) -> CalendarView {
    let w = lang.words();
    let mut months = Vec::new();
    let mut days = Vec::new();
    let (mut business, mut closed, mut weekends) = (0, 0, 0);
    for m in 1..=12 {
        let Some(first) = NaiveDate::from_ymd_opt(year, m, 1) else {
            continue;
        };
        let mut weeks: Vec<Vec<Cell>> = Vec::new();
        let mut week: Vec<Cell> = (0..first.weekday().num_days_from_monday())
            .map(|_| Cell {
                day: 0,
                class: "blank",
                why: String::new(),
            })
            .collect();
        for date in first.iter_days().take_while(|d| d.month() == m) {
            let c = cal.closed(date);
            match &c {
                None => business += 1,
                Some(Closed::Weekend(_)) => {
                    closed += 1;
                    weekends += 1;
                }
                Some(other) => {
                    closed += 1;
                    days.push(ClosedDay {
                        date: date.to_string(),
                        weekday: weekday_word(date.weekday(), w),
                        class: class_of(other),
                        why: why(other, lang),
                    });
                }
            }
            week.push(Cell {
                day: date.day(),
                class: c.as_ref().map_or("open", class_of),
                why: c.as_ref().map(|c| why(c, lang)).unwrap_or_default(),
            });
            if week.len() == 7 {
                weeks.push(std::mem::take(&mut week));
            }
        }
        if !week.is_empty() {
            while week.len() < 7 {
                week.push(Cell {
                    day: 0,
                    class: "blank",
                    why: String::new(),
                });
            }
            weeks.push(week);
        }
        months.push(Month {
            title: match lang {
                Lang::Ja => format!("{m}月"),
                Lang::En => first.format("%B").to_string(),
            },
            weeks,
        });
    }
    let mut rules = vec![(
        w.weekends,
        cal.weekends
            .iter()
            .map(|d| weekday_word(*d, w))
            .collect::<Vec<_>>()
            .join(", "),
    )];
    rules.push((
        w.public_holidays,
        match cal.holidays {
            HolidaySet::Japan => w.japan_holidays.to_owned(),
            HolidaySet::None => w.none.to_owned(),
        },
    ));
    if !cal.closed.is_empty() {
        rules.push((
            w.closed_rules,
            cal.closed
                .iter()
                .map(|r| r.as_written())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    if !cal.open.is_empty() {
        rules.push((
            w.open_days,
            cal.open
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        ));
    }
    CalendarView {
        name: cal.name.clone(),
        rules,
        business,
        closed,
        weekends,
        months,
        days,
    }
}

pub(super) async fn page(
    State(d): State<Arc<Dashboard>>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = lang(&headers);
    let w = lang.words();
    let who = session::current(&d, &headers).await;
    let defs = d.definitions();
    let q = Fields::parse(query.unwrap_or_default().as_bytes());
    let year_text = q.get("year");
    let year = if year_text.trim().is_empty() {
        d.clock.now().with_timezone(&defs.settings.timezone).year()
    } else {
        match year_text.trim().parse::<i32>() {
            Ok(y) if SUPPORTED_YEARS.contains(&y) => y,
            _ => {
                let text = format!(
                    "year={}: {} {}–{}",
                    year_text.trim(),
                    w.bad_year,
                    SUPPORTED_YEARS.start(),
                    SUPPORTED_YEARS.end()
                );
                return page::message_to(lang, who, StatusCode::BAD_REQUEST, w.calendar, &text);
            }
        }
    };
    let only = q.get("calendar");
    let chosen: Vec<&Calendar> = defs
        .catalog
        .calendars
        .values()
        .filter(|c| only.is_empty() || c.name == only)
        .collect();
    if chosen.is_empty() && !only.is_empty() {
        let names: Vec<&str> = defs.catalog.calendars.keys().map(String::as_str).collect();
        let text = format!(
            "calendar={only}: {} ({})",
            w.no_such_calendar,
            names.join(", ")
        );
        return page::message_to(lang, who, StatusCode::NOT_FOUND, w.not_found, &text);
    }
    let calendars = chosen.into_iter().map(|c| view(c, year, lang)).collect();
    page::render(
        &CalendarPage {
            frame: Frame::of(lang, &format!("{} {year}", w.calendar), who),
            year,
            prev: Some(year - 1).filter(|y| SUPPORTED_YEARS.contains(y)),
            next: Some(year + 1).filter(|y| SUPPORTED_YEARS.contains(y)),
            only,
            heads: w.weekdays,
            calendars,
        },
        StatusCode::OK,
    )
}
