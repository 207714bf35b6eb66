//! The pure planner: when schedules fire. Functions here take `now` as an argument and never
//! read the clock, so every calendar, misfire and DST case is a plain unit test.
//!
//! It owns cron parsing (5 or 6 fields, `L W #`, `@daily`-style aliases), windows
//! ([`window`]) and the planner ([`plan`]): which slots a schedule has and what becomes of
//! each.

pub mod forecast;
pub mod plan;
pub mod window;

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Parses a cron expression of 5 fields (minute first) or 6 (second first), or an alias
/// such as `@daily`.
pub fn parse_cron(expr: &str) -> Result<Cron, String> {
    // The one alias the parser lacks.
    let expr = if expr.trim() == "@midnight" {
        "0 0 * * *"
    } else {
        expr
    };
    let fields = expr.split_whitespace().count();
    if !expr.trim_start().starts_with('@') && !(5..=6).contains(&fields) {
        return Err(format!(
            "{fields} fields; expected 5 (minute hour day month weekday) or 6 (with seconds first)"
        ));
    }
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
        .parse(expr)
        .map_err(|e| e.to_string().to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_cron_forms() {
        for ok in [
            "30 0 * * *",
            "0 0 20 L * *",
            "0 9 1W * *",
            "0 9 * * 1#2",
            "@daily",
            "@midnight",
            "@hourly",
            "@weekly",
            "@monthly",
            "@yearly",
            "@annually",
            "*/15 8-17 * * mon-fri",
        ] {
            assert!(parse_cron(ok).is_ok(), "{ok}: {:?}", parse_cron(ok).err());
        }
        for bad in [
            "61 * * * *",
            "* * *",
            "0 0 0 * * * 2030",
            "@sometimes",
            "x y z a b",
        ] {
            assert!(parse_cron(bad).is_err(), "{bad} accepted");
        }
    }
}
