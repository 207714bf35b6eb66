//! Japanese public holidays, computed from the rules of the holiday law (国民の祝日に関する法律)
//! and the special acts that added or moved single days — never from a list of dates.
//!
//! The rules, in the order they are applied to a year:
//! 1. **Holidays of the law** ([`RULES`]): a fixed date, the n-th Monday of a month (the
//!    "Happy Monday" days since 2000/2003) or an equinox, each valid for a span of years; the
//!    one-off days of special acts are rules valid for one year.
//! 2. **Substitute holidays** (振替休日, since 1973-04-12): a holiday of the law on a Sunday
//!    makes the next day a holiday if that day is not a holiday itself (until 2006); since 2007
//!    the first following day that is not a holiday of the law.
//! 3. **Citizens' holidays** (国民の休日, since 1986): a day between two holidays of the law that
//!    is not one itself becomes a holiday; until 2006 not when it is a Sunday or already a
//!    substitute holiday.
//!
//! The equinox days come from the standard approximation of the equinox moments, which holds
//! for 1900–2099; the supported range is [`SUPPORTED_YEARS`], 1970–2099, and years outside it
//! have no holidays here (callers that care check the range). Each year is computed once, on
//! first use, and kept for the life of the process, so [`holiday`] is a binary search.
//!
//! Names follow the published data the tests compare against: a substitute holiday is called
//! after the holiday of the law on the day before it (`こどもの日 振替休日`), a citizens'
//! holiday is `休日`.

use std::ops::RangeInclusive;
use std::sync::OnceLock;

use chrono::{Datelike, Days, NaiveDate, Weekday};

/// The years for which holidays are computed: from 1970 (before it the rules here were not
/// checked) to 2099 (the end of the equinox approximation).
pub const SUPPORTED_YEARS: RangeInclusive<i32> = 1970..=2099;

/// One public holiday.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Holiday {
    pub date: NaiveDate,
    /// The Japanese name, e.g. `元日`, `こどもの日 振替休日`, `休日`.
    pub name: &'static str,
    /// The English name, e.g. `New Year's Day`.
    pub name_en: &'static str,
}

/// The holidays of a year, sorted by date; empty outside [`SUPPORTED_YEARS`].
pub fn holidays_in_year(year: i32) -> Vec<Holiday> {
    year_table(year).to_vec()
}

/// The holiday on `date`, if it is one.
pub fn holiday(date: NaiveDate) -> Option<Holiday> {
    let table = year_table(date.year());
    table
        .binary_search_by_key(&date, |h| h.date)
        .ok()
        .and_then(|i| table.get(i).copied())
}

/// The names of one holiday and of the substitute holiday it may cause.
#[derive(Debug)]
struct Names {
    ja: &'static str,
    en: &'static str,
    substitute_ja: &'static str,
    substitute_en: &'static str,
}

macro_rules! names {
    ($ja:literal, $en:literal) => {
        Names {
            ja: $ja,
            en: $en,
            substitute_ja: concat!($ja, " 振替休日"),
            substitute_en: concat!("Substitute holiday for ", $en),
        }
    };
}

const NEW_YEAR: Names = names!("元日", "New Year's Day");
const COMING_OF_AGE: Names = names!("成人の日", "Coming of Age Day");
const FOUNDATION: Names = names!("建国記念の日", "National Foundation Day");
const EMPEROR: Names = names!("天皇誕生日", "The Emperor's Birthday");
const VERNAL: Names = names!("春分の日", "Vernal Equinox Day");
const GREENERY: Names = names!("みどりの日", "Greenery Day");
const SHOWA: Names = names!("昭和の日", "Showa Day");
const CONSTITUTION: Names = names!("憲法記念日", "Constitution Memorial Day");
const CHILDREN: Names = names!("こどもの日", "Children's Day");
const MARINE: Names = names!("海の日", "Marine Day");
const MOUNTAIN: Names = names!("山の日", "Mountain Day");
const AGED: Names = names!("敬老の日", "Respect for the Aged Day");
const AUTUMNAL: Names = names!("秋分の日", "Autumnal Equinox Day");
const HEALTH_SPORTS: Names = names!("体育の日", "Health and Sports Day");
/// 2019, the last year under the old name, with the new one announced.
const HEALTH_SPORTS_2019: Names = names!("体育の日（スポーツの日）", "Health and Sports Day");
const SPORTS: Names = names!("スポーツの日", "Sports Day");
const CULTURE: Names = names!("文化の日", "Culture Day");
const LABOR: Names = names!("勤労感謝の日", "Labor Thanksgiving Day");
const SHOWA_FUNERAL: Names = names!("大喪の礼", "State Funeral of Emperor Showa");
const ENTHRONEMENT_1990: Names = names!("即位礼正殿の儀", "Enthronement Ceremony");
const WEDDING_1993: Names = names!("結婚の儀", "Wedding of the Crown Prince");
const ENTHRONEMENT_2019: Names = names!("休日（祝日扱い）", "Enthronement of the Emperor");
const CEREMONY_2019: Names = names!("休日（祝日扱い）", "Enthronement Ceremony");
const CITIZENS_JA: &str = "休日";
const CITIZENS_EN: &str = "Citizens' Holiday";

/// When in a year a holiday falls.
#[derive(Debug, Clone, Copy)]
enum When {
    /// Month and day.
    Fixed(u32, u32),
    /// The n-th Monday of a month: (month, n).
    Monday(u32, u8),
    VernalEquinox,
    AutumnalEquinox,
}

/// One holiday of the law (or of a special act) and the years it applies to.
#[derive(Debug)]
struct Rule {
    years: RangeInclusive<i32>,
    when: When,
    names: &'static Names,
    /// A holiday of the law, or declared to count as one (the 2019 days): it can cause a
    /// substitute holiday and close a citizens' holiday. The rest days of the special acts of
    /// 1989, 1990 and 1993 were holidays (休日) only.
    of_law: bool,
}

const fn law(years: RangeInclusive<i32>, when: When, names: &'static Names) -> Rule {
    Rule {
        years,
        when,
        names,
        of_law: true,
    }
}

/// A one-off day of a special act.
const fn once(year: i32, month: u32, day: u32, names: &'static Names, of_law: bool) -> Rule {
    Rule {
        years: year..=year,
        when: When::Fixed(month, day),
        names,
        of_law,
    }
}

/// Every holiday rule, with the years it was in force. The moves for the Tokyo Olympic and
/// Paralympic Games (2020, 2021) are the exceptions written as one-year rules.
const RULES: &[Rule] = &[
    law(1949..=9999, When::Fixed(1, 1), &NEW_YEAR),
    law(1949..=1999, When::Fixed(1, 15), &COMING_OF_AGE),
    law(2000..=9999, When::Monday(1, 2), &COMING_OF_AGE),
    law(1967..=9999, When::Fixed(2, 11), &FOUNDATION),
    law(2020..=9999, When::Fixed(2, 23), &EMPEROR),
    law(1949..=9999, When::VernalEquinox, &VERNAL),
    law(1949..=1988, When::Fixed(4, 29), &EMPEROR),
    law(1989..=2006, When::Fixed(4, 29), &GREENERY),
    law(2007..=9999, When::Fixed(4, 29), &SHOWA),
    law(1949..=9999, When::Fixed(5, 3), &CONSTITUTION),
    law(2007..=9999, When::Fixed(5, 4), &GREENERY),
    law(1949..=9999, When::Fixed(5, 5), &CHILDREN),
    law(1996..=2002, When::Fixed(7, 20), &MARINE),
    law(2003..=2019, When::Monday(7, 3), &MARINE),
    law(2020..=2020, When::Fixed(7, 23), &MARINE),
    law(2021..=2021, When::Fixed(7, 22), &MARINE),
    law(2022..=9999, When::Monday(7, 3), &MARINE),
    law(2016..=2019, When::Fixed(8, 11), &MOUNTAIN),
    law(2020..=2020, When::Fixed(8, 10), &MOUNTAIN),
    law(2021..=2021, When::Fixed(8, 8), &MOUNTAIN),
    law(2022..=9999, When::Fixed(8, 11), &MOUNTAIN),
    law(1966..=2002, When::Fixed(9, 15), &AGED),
    law(2003..=9999, When::Monday(9, 3), &AGED),
    law(1948..=9999, When::AutumnalEquinox, &AUTUMNAL),
    law(1966..=1999, When::Fixed(10, 10), &HEALTH_SPORTS),
    law(2000..=2018, When::Monday(10, 2), &HEALTH_SPORTS),
    law(2019..=2019, When::Monday(10, 2), &HEALTH_SPORTS_2019),
    law(2020..=2020, When::Fixed(7, 24), &SPORTS),
    law(2021..=2021, When::Fixed(7, 23), &SPORTS),
    law(2022..=9999, When::Monday(10, 2), &SPORTS),
    law(1948..=9999, When::Fixed(11, 3), &CULTURE),
    law(1948..=9999, When::Fixed(11, 23), &LABOR),
    law(1989..=2018, When::Fixed(12, 23), &EMPEROR),
    once(1989, 2, 24, &SHOWA_FUNERAL, false),
    once(1990, 11, 12, &ENTHRONEMENT_1990, false),
    once(1993, 6, 9, &WEDDING_1993, false),
    once(2019, 5, 1, &ENTHRONEMENT_2019, true),
    once(2019, 10, 22, &CEREMONY_2019, true),
];

/// Substitute holidays whose published name is not the usual one (the holiday of the law on
/// the day before): 2020-05-06 follows 憲法記念日 on a Sunday through 05-04 and 05-05.
const SUBSTITUTE_NAMES: &[((i32, u32, u32), &Names)] = &[((2020, 5, 6), &CONSTITUTION)];

/// The first day a Sunday holiday moved to the next day.
const SUBSTITUTES_FROM: (i32, u32, u32) = (1973, 4, 12);
/// The first year a substitute holiday skips over following holidays.
const SUBSTITUTES_SKIP_FROM: i32 = 2007;
/// The first year of citizens' holidays.
const CITIZENS_FROM: i32 = 1986;
/// From this year a citizens' holiday may fall on a Sunday.
const CITIZENS_ON_SUNDAY_FROM: i32 = 2007;

const YEAR_COUNT: usize = (*SUPPORTED_YEARS.end() - *SUPPORTED_YEARS.start() + 1) as usize;

/// Each supported year's holidays, computed on first use.
static TABLE: [OnceLock<Vec<Holiday>>; YEAR_COUNT] = [const { OnceLock::new() }; YEAR_COUNT];

fn year_table(year: i32) -> &'static [Holiday] {
    if !SUPPORTED_YEARS.contains(&year) {
        return &[];
    }
    usize::try_from(year - *SUPPORTED_YEARS.start())
        .ok()
        .and_then(|i| TABLE.get(i))
        .map_or(&[], |cell| cell.get_or_init(|| compute(year)).as_slice())
}

/// Day of March (vernal) or September (autumnal) of the equinox in `year` (1900–2099), by the
/// standard approximation, in millionths of a day so that it is exact:
/// `int(base + 0.242194 × (year − 1980) − int((year − leap_base) / 4))`.
fn equinox_day(year: i32, vernal: bool) -> Option<u32> {
    let (base, leap_base): (i64, i64) = match (vernal, year) {
        (true, 1900..=1979) => (20_835_700, 1983),
        (true, 1980..=2099) => (20_843_100, 1980),
        (false, 1900..=1979) => (23_258_800, 1983),
        (false, 1980..=2099) => (23_248_800, 1980),
        _ => return None,
    };
    let y = i64::from(year);
    // `/` truncates toward zero, as the formula's int() does for the years before 1983.
    let micro = base + 242_194 * (y - 1980) - 1_000_000 * ((y - leap_base) / 4);
    u32::try_from(micro / 1_000_000).ok()
}

fn date_of(year: i32, when: When) -> Option<NaiveDate> {
    match when {
        When::Fixed(m, d) => NaiveDate::from_ymd_opt(year, m, d),
        When::Monday(m, n) => NaiveDate::from_weekday_of_month_opt(year, m, Weekday::Mon, n),
        When::VernalEquinox => NaiveDate::from_ymd_opt(year, 3, equinox_day(year, true)?),
        When::AutumnalEquinox => NaiveDate::from_ymd_opt(year, 9, equinox_day(year, false)?),
    }
}

fn ymd(date: NaiveDate) -> (i32, u32, u32) {
    (date.year(), date.month(), date.day())
}

fn next(date: NaiveDate) -> Option<NaiveDate> {
    date.checked_add_days(Days::new(1))
}

/// The holidays of one year, sorted.
fn compute(year: i32) -> Vec<Holiday> {
    // The days of the law and of special acts.
    let mut days: Vec<(NaiveDate, &'static Names, bool)> = RULES
        .iter()
        .filter(|r| r.years.contains(&year))
        .filter_map(|r| Some((date_of(year, r.when)?, r.names, r.of_law)))
        .collect();
    days.sort_by_key(|d| d.0);
    let of_law: Vec<(NaiveDate, &'static Names)> =
        days.iter().filter(|d| d.2).map(|d| (d.0, d.1)).collect();
    let law_on = |date: NaiveDate| -> Option<&'static Names> {
        of_law
            .binary_search_by_key(&date, |d| d.0)
            .ok()
            .and_then(|i| of_law.get(i))
            .map(|d| d.1)
    };
    let mut out: Vec<Holiday> = days
        .iter()
        .map(|&(date, names, _)| Holiday {
            date,
            name: names.ja,
            name_en: names.en,
        })
        .collect();

    // Substitute holidays.
    for &(date, _) in &of_law {
        if date.weekday() != Weekday::Sun || ymd(date) < SUBSTITUTES_FROM {
            continue;
        }
        let Some(mut day) = next(date) else { continue };
        if year >= SUBSTITUTES_SKIP_FROM {
            while law_on(day).is_some() {
                let Some(d) = next(day) else { break };
                day = d;
            }
        } else if law_on(day).is_some() {
            continue;
        }
        let before = day.pred_opt().and_then(law_on);
        let names = SUBSTITUTE_NAMES
            .iter()
            .find(|(at, _)| *at == ymd(day))
            .map(|(_, n)| *n)
            .or(before);
        if let Some(names) = names
            && !out.iter().any(|h| h.date == day)
        {
            out.push(Holiday {
                date: day,
                name: names.substitute_ja,
                name_en: names.substitute_en,
            });
        }
    }

    // Citizens' holidays: a day with a holiday of the law on both sides.
    if year >= CITIZENS_FROM {
        for pair in of_law.windows(2) {
            let (a, b) = (pair[0].0, pair[1].0);
            let Some(middle) = next(a) else { continue };
            if next(middle) != Some(b) || out.iter().any(|h| h.date == middle) {
                continue;
            }
            if year < CITIZENS_ON_SUNDAY_FROM && middle.weekday() == Weekday::Sun {
                continue;
            }
            out.push(Holiday {
                date: middle,
                name: CITIZENS_JA,
                name_en: CITIZENS_EN,
            });
        }
    }

    out.sort_by_key(|h| h.date);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::PathBuf;

    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    fn name(y: i32, m: u32, day: u32) -> Option<&'static str> {
        holiday(d(y, m, day)).map(|h| h.name)
    }

    /// `../shared/data/holidays-jp.yml`: `YYYY-MM-DD: name` lines, `#` comments, `---`.
    fn oracle() -> BTreeMap<NaiveDate, String> {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data/holidays-jp.yml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "the holiday oracle {} cannot be read ({e}); the holiday test needs it",
                path.display()
            )
        });
        let mut out = BTreeMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') || line == "---" {
                continue;
            }
            let (date, name) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("{}:{}: no `:` in {line:?}", path.display(), n + 1));
            let date = NaiveDate::parse_from_str(date.trim(), "%Y-%m-%d")
                .unwrap_or_else(|e| panic!("{}:{}: bad date: {e}", path.display(), n + 1));
            out.insert(date, name.trim().to_owned());
        }
        out
    }

    /// Every day of 1970–2050 against the published data: the same holidays, the same names.
    #[test]
    fn every_day_1970_to_2050_agrees_with_the_oracle() {
        let oracle = oracle();
        let (first, last) = (d(1970, 1, 1), d(2050, 12, 31));
        assert!(
            oracle.len() > 1300 && oracle.keys().all(|k| (first..=last).contains(k)),
            "the oracle does not look like 1970–2050 holidays ({} entries)",
            oracle.len()
        );
        let mut wrong = Vec::new();
        let mut days = 0;
        let mut holidays = 0;
        for day in first.iter_days().take_while(|x| *x <= last) {
            days += 1;
            let ours = holiday(day).map(|h| h.name);
            let theirs = oracle.get(&day).map(String::as_str);
            holidays += usize::from(theirs.is_some());
            if ours != theirs {
                wrong.push(format!("{day}: computed {ours:?}, oracle {theirs:?}"));
            }
        }
        assert!(
            wrong.is_empty(),
            "{} days differ:\n{}",
            wrong.len(),
            wrong.join("\n")
        );
        assert_eq!(days, 29_585);
        assert_eq!(holidays, oracle.len());
    }

    #[test]
    fn golden_week_2019() {
        let got: Vec<(u32, &str)> = holidays_in_year(2019)
            .into_iter()
            .filter(|h| h.date.month() == 4 && h.date.day() >= 27 || h.date.month() == 5)
            .map(|h| (h.date.day(), h.name))
            .collect();
        assert_eq!(
            got,
            [
                (29, "昭和の日"),
                (30, "休日"),
                (1, "休日（祝日扱い）"),
                (2, "休日"),
                (3, "憲法記念日"),
                (4, "みどりの日"),
                (5, "こどもの日"),
                (6, "こどもの日 振替休日"),
            ]
        );
        assert_eq!(name(2019, 10, 22), Some("休日（祝日扱い）"));
        assert_eq!(name(2019, 12, 23), None, "no emperor's birthday in 2019");
        assert_eq!(name(2019, 2, 23), None);
    }

    #[test]
    fn olympic_moves_2020_and_2021() {
        assert_eq!(name(2020, 7, 20), None);
        assert_eq!(name(2020, 7, 23), Some("海の日"));
        assert_eq!(name(2020, 7, 24), Some("スポーツの日"));
        assert_eq!(name(2020, 8, 10), Some("山の日"));
        assert_eq!(name(2020, 8, 11), None);
        assert_eq!(name(2020, 10, 12), None);
        assert_eq!(name(2021, 7, 19), None);
        assert_eq!(name(2021, 7, 22), Some("海の日"));
        assert_eq!(name(2021, 7, 23), Some("スポーツの日"));
        assert_eq!(name(2021, 8, 8), Some("山の日"));
        assert_eq!(name(2021, 8, 9), Some("山の日 振替休日"));
        assert_eq!(name(2021, 10, 11), None);
        assert_eq!(name(2022, 7, 18), Some("海の日"));
        assert_eq!(name(2022, 10, 10), Some("スポーツの日"));
    }

    #[test]
    fn citizens_holidays_between_two_holidays() {
        // 2026: 敬老の日 Mon 09-21, 秋分の日 Wed 09-23.
        let h = holiday(d(2026, 9, 22)).expect("2026-09-22 is a holiday");
        assert_eq!((h.name, h.name_en), ("休日", "Citizens' Holiday"));
        assert_eq!(name(2026, 9, 21), Some("敬老の日"));
        assert_eq!(name(2026, 9, 23), Some("秋分の日"));
        // Before 2007 a Sunday between two holidays stayed a Sunday (1986-05-04).
        assert_eq!(name(1986, 5, 4), None);
        // Before 1986 there were no citizens' holidays (1985-05-04 is a Saturday, 1982's a Tuesday).
        assert_eq!(name(1982, 5, 4), None);
        assert_eq!(name(1988, 5, 4), Some("休日"));
    }

    #[test]
    fn substitute_holidays() {
        // The first: 1973-04-29 was a Sunday after the rule took effect on 04-12.
        assert_eq!(name(1973, 4, 30), Some("天皇誕生日 振替休日"));
        // None before it: 1973-02-11 was a Sunday too.
        assert_eq!(name(1973, 2, 12), None);
        // Since 2007 the substitute skips the holidays that follow (2026-05-03 is a Sunday).
        assert_eq!(name(2026, 5, 6), Some("こどもの日 振替休日"));
        let h = holiday(d(2027, 3, 22)).expect("2027-03-22");
        assert_eq!(h.name_en, "Substitute holiday for Vernal Equinox Day");
    }

    #[test]
    fn equinoxes() {
        assert_eq!(equinox_day(1970, true), Some(21));
        assert_eq!(equinox_day(2020, true), Some(20));
        assert_eq!(equinox_day(2025, false), Some(23));
        assert_eq!(equinox_day(2099, true), Some(20));
        assert_eq!(equinox_day(2100, true), None);
    }

    #[test]
    fn outside_the_supported_years_nothing() {
        assert!(holidays_in_year(1969).is_empty());
        assert!(holidays_in_year(2100).is_empty());
        assert_eq!(holiday(d(2100, 1, 1)), None);
        assert_eq!(holidays_in_year(2099).first().map(|h| h.name), Some("元日"));
    }

    #[test]
    fn years_are_sorted_and_in_their_year() {
        for year in SUPPORTED_YEARS {
            let list = holidays_in_year(year);
            assert!(list.len() >= 12, "{year}: {}", list.len());
            assert!(list.windows(2).all(|w| w[0].date < w[1].date), "{year}");
            assert!(list.iter().all(|h| h.date.year() == year), "{year}");
        }
    }
}
