//! Parameter values of a run: checking given values against the job's declarations and
//! filling in defaults. Values are data, never code: they reach commands as argv elements,
//! environment variables or shell-quoted words.

use indexmap::IndexMap;

use crate::model::{Job, ParamType};
use crate::spec::diag;

/// Checks one value against a parameter type.
pub fn check_value(kind: ParamType, value: &str) -> Result<(), String> {
    if let Some(c) = value
        .chars()
        .find(|c| *c == '\0' || (c.is_control() && *c != '\n' && *c != '\t'))
    {
        return Err(format!("contains the control character U+{:04X}", c as u32));
    }
    match kind {
        ParamType::String => Ok(()),
        ParamType::Int => value
            .parse::<i64>()
            .map(|_| ())
            .map_err(|_| format!("`{value}` is not an integer")),
        ParamType::Bool => match value {
            "true" | "false" => Ok(()),
            _ => Err(format!("`{value}` is not `true` or `false`")),
        },
        ParamType::Date => chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
            .map(|_| ())
            .map_err(|_| format!("`{value}` is not a date (`YYYY-MM-DD`)")),
    }
}

/// Resolves the values of a run: `given` pairs (from `--param k=v` or a schedule) checked
/// against the job, defaults filled in, optional parameters without a default set to "".
pub fn resolve(job: &Job, given: &[(String, String)]) -> Result<IndexMap<String, String>, String> {
    let mut problems = Vec::new();
    let mut values = IndexMap::new();
    for (k, v) in given {
        match job.params.get(k) {
            None => {
                let hint = diag::hint(k, job.params.keys().map(String::as_str));
                let known = if job.params.is_empty() {
                    format!("job `{}` takes no parameters", job.name)
                } else {
                    format!(
                        "job `{}` takes: {}",
                        job.name,
                        job.params.keys().cloned().collect::<Vec<_>>().join(", ")
                    )
                };
                problems.push(format!("unknown parameter `{k}`{hint}; {known}"));
            }
            Some(p) => match check_value(p.kind, v) {
                Ok(()) => {
                    if values.insert(k.clone(), v.clone()).is_some() {
                        problems.push(format!("parameter `{k}` is given twice"));
                    }
                }
                Err(m) => problems.push(format!("parameter `{k}`: {m}")),
            },
        }
    }
    for (k, p) in &job.params {
        if values.contains_key(k) {
            continue;
        }
        match (&p.default, p.required) {
            (Some(d), _) => {
                values.insert(k.clone(), d.clone());
            }
            (None, true) => problems.push(format!("parameter `{k}` is required")),
            (None, false) => {
                values.insert(k.clone(), String::new());
            }
        }
    }
    if problems.is_empty() {
        // Declaration order, whatever order they were given in.
        values.sort_by_cached_key(|k, _| job.params.get_index_of(k));
        Ok(values)
    } else {
        Err(problems.join("\n"))
    }
}

/// Splits `k=v` as given on the command line.
pub fn parse_assignment(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_owned(), v.to_owned())),
        _ => Err(format!("`{text}` is not NAME=VALUE")),
    }
}
