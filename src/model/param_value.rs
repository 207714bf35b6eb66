//! One parameter value checked against its declaration (`Param`): the rule it breaks, or
//! the value as a run gets it. Pure: it reads neither the clock (`today` is given) nor the
//! file system (a path is only resolved under `root`). Validation checks defaults with it,
//! the engine the values a run is given.

use std::path::{Component, Path, PathBuf};

use chrono::{Datelike, NaiveDate};

use super::{Param, ParamType};
use crate::spec::diag;

/// Checks one value against its parameter's declaration and returns it as the run gets
/// it: `previous` and `current` months become `YYYY-MM` (of `today`, the business date), a
/// path becomes absolute under `root`. The error names the rule that was broken.
pub fn check_value(
    p: &Param,
    value: &str,
    today: NaiveDate,
    root: &Path,
) -> Result<String, String> {
    if let Some(c) = value
        .chars()
        .find(|c| *c == '\0' || (c.is_control() && *c != '\n' && *c != '\t'))
    {
        return Err(format!("contains the control character U+{:04X}", c as u32));
    }
    match p.kind {
        ParamType::String => {
            if let Some(max) = p.max_len
                && value.chars().count() > max
            {
                return Err(format!(
                    "is {} characters long; at most {max} are allowed (max_len)",
                    value.chars().count()
                ));
            }
            if let Some(re) = &p.pattern
                && !full_match(re, value)
            {
                return Err(format!(
                    "`{value}` does not match the pattern `{}`",
                    re.as_str()
                ));
            }
            Ok(value.to_owned())
        }
        ParamType::Int => {
            let n = value
                .parse::<i64>()
                .map_err(|_| format!("`{value}` is not an integer"))?;
            if let Some(min) = p.min
                && n < min
            {
                return Err(format!("{n} is less than the minimum {min}"));
            }
            if let Some(max) = p.max
                && n > max
            {
                return Err(format!("{n} is more than the maximum {max}"));
            }
            Ok(n.to_string())
        }
        ParamType::Bool => match value {
            "true" | "false" => Ok(value.to_owned()),
            _ => Err(format!("`{value}` is not `true` or `false`")),
        },
        ParamType::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|d| d.format("%Y-%m-%d").to_string())
            .map_err(|_| format!("`{value}` is not a date (`YYYY-MM-DD`)")),
        ParamType::Month => month(value, today),
        ParamType::Enum => {
            if p.values.iter().any(|v| v == value) {
                Ok(value.to_owned())
            } else {
                Err(format!(
                    "`{value}` is not one of: {}{}",
                    p.values.join(", "),
                    diag::hint(value, p.values.iter().map(String::as_str))
                ))
            }
        }
        ParamType::List => list(value, &p.values),
        ParamType::Path => path(value, &p.roots, root),
    }
}

/// Comma-separated items, each one of `allowed`, none twice; passed on joined by commas
/// without the spaces around items (`name, kana` becomes `name,kana`).
fn list(value: &str, allowed: &[String]) -> Result<String, String> {
    if value.trim().is_empty() {
        return Err(format!(
            "is empty; give one or more of: {} (comma-separated)",
            allowed.join(", ")
        ));
    }
    let mut items: Vec<&str> = Vec::new();
    for item in value.split(',').map(str::trim) {
        if item.is_empty() {
            return Err(format!("`{value}` has an empty item"));
        }
        if !allowed.iter().any(|a| a == item) {
            return Err(format!(
                "`{item}` is not one of: {}{}",
                allowed.join(", "),
                diag::hint(item, allowed.iter().map(String::as_str))
            ));
        }
        if items.contains(&item) {
            return Err(format!("`{item}` is given twice"));
        }
        items.push(item);
    }
    Ok(items.join(","))
}

fn full_match(re: &regex::Regex, value: &str) -> bool {
    re.find(value)
        .is_some_and(|m| m.start() == 0 && m.end() == value.len())
}

/// `YYYY-MM`, `previous` or `current` (relative to `today`).
fn month(value: &str, today: NaiveDate) -> Result<String, String> {
    let first = today.with_day(1).unwrap_or(today);
    let m = match value {
        "current" => first,
        "previous" => first
            .pred_opt()
            .unwrap_or(first)
            .with_day(1)
            .unwrap_or(first),
        _ => NaiveDate::parse_from_str(&format!("{value}-01"), "%Y-%m-%d")
            .ok()
            .filter(|_| value.len() == 7)
            .ok_or_else(|| {
                format!("`{value}` is not a month (`YYYY-MM`, `previous` or `current`)")
            })?,
    };
    Ok(m.format("%Y-%m").to_string())
}

/// A path inside one of `roots`: no `..`, relative ones taken from `root`.
fn path(value: &str, roots: &[PathBuf], root: &Path) -> Result<String, String> {
    if value.is_empty() {
        return Err("is empty".to_owned());
    }
    let given = Path::new(value);
    if given
        .components()
        .any(|c| matches!(c, Component::ParentDir))
    {
        return Err(format!("`{value}` must not contain `..`"));
    }
    let full: PathBuf = if given.is_absolute() {
        given.components().collect()
    } else {
        root.join(given).components().collect()
    };
    if roots.iter().any(|r| full.starts_with(r)) {
        Ok(full.display().to_string())
    } else {
        let allowed: Vec<String> = roots.iter().map(|r| r.display().to_string()).collect();
        Err(format!(
            "`{value}` is outside the allowed folders: {}",
            allowed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list_param() -> Param {
        Param {
            kind: ParamType::List,
            values: vec!["name".into(), "kana".into(), "address".into()],
            ..Param::default()
        }
    }

    fn check(value: &str) -> Result<String, String> {
        let today = NaiveDate::from_ymd_opt(2026, 10, 15).expect("date");
        check_value(&list_param(), value, today, Path::new("/"))
    }

    #[test]
    fn a_list_keeps_the_order_given_and_drops_spaces_around_items() {
        assert_eq!(check("kana,name").as_deref(), Ok("kana,name"));
        assert_eq!(check(" address , name").as_deref(), Ok("address,name"));
        assert_eq!(check("name").as_deref(), Ok("name"));
    }

    #[test]
    fn a_list_refuses_unknown_repeated_and_empty_items() {
        let e = check("name,adress").expect_err("unknown");
        assert!(
            e.contains("`adress` is not one of: name, kana, address")
                && e.contains("did you mean `address`"),
            "{e}"
        );
        assert_eq!(
            check("name,kana,name").expect_err("twice"),
            "`name` is given twice"
        );
        assert_eq!(
            check("name,,kana").expect_err("empty item"),
            "`name,,kana` has an empty item"
        );
        assert!(check("").expect_err("empty").starts_with("is empty"));
        assert!(check(" ").is_err());
        assert!(check("name,").is_err());
    }
}
