//! `unyo calendar`: every day of a year in one calendar, business or closed and why, with the
//! year's counts; reads only the definitions, never the database.

use chrono::{Datelike, NaiveDate};
use serde::Serialize;

use super::table::Table;
use crate::calendar::holidays::SUPPORTED_YEARS;
use crate::error::Error;
use crate::model::{Calendar, Catalog, HolidaySet, Settings};
use crate::spec::diag;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The year to list (default: the current year in the configured time zone).
    #[arg(long, value_name = "YEAR", value_parser = clap::value_parser!(i32).range(1..=9999))]
    pub year: Option<i32>,
    /// The calendar to list (default: the only one defined).
    #[arg(long, value_name = "NAME")]
    pub calendar: Option<String>,
    /// Only the closed days.
    #[arg(long)]
    pub closed: bool,
    /// Print JSON (one array of days) instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// One day of the listing.
#[derive(Debug, Serialize)]
struct Day {
    date: NaiveDate,
    weekday: String,
    business: bool,
    /// Why the day is closed; `null` for a business day.
    reason: Option<String>,
}

pub fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Catalog::load(settings)?;
    let cal = pick(settings, &catalog, args.calendar.as_deref())?;
    let year = args
        .year
        .unwrap_or_else(|| chrono::Utc::now().with_timezone(&settings.timezone).year());
    if cal.holidays == HolidaySet::Japan && !SUPPORTED_YEARS.contains(&year) {
        return Err(Error::Request(format!(
            "year {year} is outside {}–{}, the years for which unyo computes Japanese public \
             holidays (calendar `{}` has `holidays: japan`)",
            SUPPORTED_YEARS.start(),
            SUPPORTED_YEARS.end(),
            cal.name
        )));
    }
    let (Some(first), Some(last)) = (
        NaiveDate::from_ymd_opt(year, 1, 1),
        NaiveDate::from_ymd_opt(year, 12, 31),
    ) else {
        return Err(Error::Request(format!("year {year} cannot be listed")));
    };
    let days: Vec<Day> = first
        .iter_days()
        .take_while(|d| *d <= last)
        .map(|date| {
            let reason = cal.closed(date).map(|c| c.to_string());
            Day {
                date,
                weekday: date.weekday().to_string(),
                business: reason.is_none(),
                reason,
            }
        })
        .collect();
    let business = days.iter().filter(|d| d.business).count();
    let closed = days.len() - business;
    let shown: Vec<&Day> = days
        .iter()
        .filter(|d| !(args.closed && d.business))
        .collect();

    if args.json {
        let text = serde_json::to_string_pretty(&shown).unwrap_or_default();
        super::out(&format!("{text}\n"));
        return Ok(());
    }
    let mut t = Table::new(&["DATE", "DAY", "STATUS", "REASON"]).one_line();
    for d in &shown {
        t.row(vec![
            d.date.to_string(),
            d.weekday.clone(),
            if d.business { "business" } else { "closed" }.to_owned(),
            d.reason.clone().unwrap_or_default(),
        ]);
    }
    let mut out = t.render();
    out.push_str(&format!(
        "{year}: {business} business day{}, {closed} closed\n",
        if business == 1 { "" } else { "s" }
    ));
    super::out(&out);
    Ok(())
}

/// The calendar named on the command line, or the only one defined.
fn pick<'a>(
    settings: &Settings,
    catalog: &'a Catalog,
    name: Option<&str>,
) -> Result<&'a Calendar, Error> {
    let names: Vec<&str> = catalog.calendars.keys().map(String::as_str).collect();
    let none_defined = || {
        format!(
            "no calendars are defined in {} (add one under `calendars:` in a schedules file)",
            settings.root.join("schedules").display()
        )
    };
    match name {
        Some(name) => catalog.calendars.get(name).ok_or_else(|| {
            let hint = diag::hint(name, names.iter().copied());
            let known = if names.is_empty() {
                none_defined()
            } else {
                format!("calendars: {}", names.join(", "))
            };
            Error::Request(format!("unknown calendar `{name}`{hint}; {known}"))
        }),
        None => match catalog.calendars.values().collect::<Vec<_>>()[..] {
            [only] => Ok(only),
            [] => Err(Error::Request(none_defined())),
            _ => Err(Error::Request(format!(
                "{} calendars are defined ({}); choose one with `--calendar`",
                names.len(),
                names.join(", ")
            ))),
        },
    }
}
