//! Cron expressions: 5 fields (minute first) or 6 (second first), `L W #`, `@daily`-style
//! aliases, parsed strictly, with errors that name the field and its range. Imports nothing of
//! unyo's, so definitions (`model`) and the planner (`schedule`) both stand on it.

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
    parser()
        .parse(expr)
        .map_err(|e| field_problem(expr).map_or_else(|| e.to_string().to_lowercase(), |(_, m)| m))
}

/// Where the field at fault starts in an expression the parser refuses: its character
/// offset, so a diagnostic can point at it. `None` when no one field is to blame.
pub fn cron_fault_offset(expr: &str) -> Option<usize> {
    if parse_cron(expr).is_ok() {
        return None;
    }
    let (field, _) = field_problem(expr)?;
    let mut seen = 0;
    let mut in_field = false;
    for (i, c) in expr.chars().enumerate() {
        if c.is_whitespace() {
            in_field = false;
        } else if !in_field {
            if seen == field {
                return Some(i);
            }
            seen += 1;
            in_field = true;
        }
    }
    None
}

fn parser() -> CronParser {
    CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build()
}

/// The fields of a 5-field expression: name and allowed range.
const FIELDS: [(&str, u32, u32); 5] = [
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
];

/// Which field of an expression the parser refused (its index), and why, in an operator's
/// words: ``hour `25` out of range 0-23``. `None` for an alias or when no one field is to
/// blame.
fn field_problem(expr: &str) -> Option<(usize, String)> {
    let fields: Vec<&str> = expr.split_whitespace().collect();
    let named: Vec<(&str, u32, u32)> = match fields.len() {
        5 => FIELDS.to_vec(),
        6 => std::iter::once(("seconds", 0, 59)).chain(FIELDS).collect(),
        _ => return None,
    };
    // A number outside its field's range, the commonest slip.
    for (at, (f, (name, lo, hi))) in fields.iter().zip(&named).enumerate() {
        for part in f.trim_start_matches('+').split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, s)) => (r, Some(s)),
                None => (part, None),
            };
            if step.is_some_and(|s| s.parse::<u32>() == Ok(0)) {
                return Some((at, format!("{name} `{f}`: a step must be 1 or more")));
            }
            // `1#2` (second Monday), `15W`, `5L`: the number before the mark.
            let range = range.split('#').next().unwrap_or(range);
            for n in range.split('-') {
                let n = n.trim_end_matches(['W', 'L', 'w', 'l']);
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    continue;
                }
                match n.parse::<u32>() {
                    Ok(v) if (*lo..=*hi).contains(&v) => {}
                    _ => return Some((at, format!("{name} `{n}` out of range {lo}-{hi}"))),
                }
            }
        }
    }
    // Otherwise the first field the parser refuses on its own, the others left open.
    for (i, (name, _, _)) in named.iter().enumerate() {
        let alone: Vec<&str> = (0..fields.len())
            .map(|j| if j == i { fields[j] } else { "*" })
            .collect();
        if let Err(e) = parser().parse(&alone.join(" ")) {
            let why = e.to_string().to_lowercase();
            return Some((
                i,
                format!("{name} `{}`: {}", fields[i], why.trim_end_matches('.')),
            ));
        }
    }
    None
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

    #[test]
    fn a_cron_error_names_the_field_and_its_range() {
        for (bad, why) in [
            ("61 * * * *", "minute `61` out of range 0-59"),
            ("0 25 * * *", "hour `25` out of range 0-23"),
            ("0 0 32 * *", "day of month `32` out of range 1-31"),
            ("0 0 0 * *", "day of month `0` out of range 1-31"),
            ("0 0 * 13 *", "month `13` out of range 1-12"),
            ("0 0 * * 8", "day of week `8` out of range 0-7"),
            ("61 0 0 * * *", "seconds `61` out of range 0-59"),
            ("0 5-70 * * *", "hour `70` out of range 0-23"),
            ("0 1,2,24 * * *", "hour `24` out of range 0-23"),
            ("0 0 40W * *", "day of month `40` out of range 1-31"),
            ("0 0 * * 9#2", "day of week `9` out of range 0-7"),
            ("*/0 * * * *", "minute `*/0`: a step must be 1 or more"),
        ] {
            assert_eq!(parse_cron(bad).err().as_deref(), Some(why), "{bad}");
        }
        let m = parse_cron("0 0 * * foo").err().unwrap_or_default();
        assert!(m.starts_with("day of week `foo`: "), "{m}");
        let m = parse_cron("0 x * * *").err().unwrap_or_default();
        assert!(m.starts_with("hour `x`: "), "{m}");
        assert_eq!(cron_fault_offset("0  25 * * *"), Some(3));
        assert_eq!(cron_fault_offset(" 0 0 * * 8"), Some(9));
        assert_eq!(cron_fault_offset("0 1 * * *"), None);
        assert_eq!(cron_fault_offset("0 1 * *"), None);
    }
}
