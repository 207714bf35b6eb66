//! Parameter values of a run: checking given values against the job's declarations and
//! filling in defaults. Values are data, never code: they reach commands as argv elements,
//! environment variables or shell-quoted words.

use std::path::Path;

use chrono::NaiveDate;
use indexmap::IndexMap;

use crate::model::param_value::check_value;
use crate::model::{Job, Param};
use crate::spec::diag;

/// Resolves the values of a run: `given` pairs (from `--param k=v` or a schedule) checked
/// against the job, defaults filled in, optional parameters without a default set to "".
pub fn resolve(
    job: &Job,
    given: &[(String, String)],
    today: NaiveDate,
    root: &Path,
) -> Result<IndexMap<String, String>, String> {
    let mut problems = Vec::new();
    let mut values = IndexMap::new();
    // Parameters given, valid or not: one with a bad value is reported for that value only,
    // never also as missing.
    let mut seen = std::collections::HashSet::new();
    for (k, v) in given {
        seen.insert(k.as_str());
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
            Some(p) => match check_value(p, v, today, root) {
                Ok(v) => {
                    if values.insert(k.clone(), v).is_some() {
                        problems.push(format!("parameter `{k}` is given twice"));
                    }
                }
                // A secret's value is not repeated in the message (it may be audited).
                Err(m) if p.secret && !v.is_empty() => {
                    problems.push(format!("parameter `{k}`: {}", m.replace(v.as_str(), MASK)));
                }
                Err(m) => problems.push(format!("parameter `{k}`: {m}")),
            },
        }
    }
    for (k, p) in &job.params {
        if seen.contains(k.as_str()) {
            continue;
        }
        match (&p.default, p.required) {
            (Some(d), _) => match check_value(p, d, today, root) {
                Ok(v) => {
                    values.insert(k.clone(), v);
                }
                Err(m) => problems.push(format!("default of parameter `{k}`: {m}")),
            },
            (None, true) if p.from_env.is_some() => {
                // Read from the environment of the process that runs the step.
                values.insert(k.clone(), String::new());
            }
            (None, true) => problems.push(format!("parameter `{k}` is required")),
            (None, false) => {
                values.insert(k.clone(), String::new());
            }
        }
    }
    if problems.is_empty() {
        for (k, p) in &job.params {
            let (Some((other, types)), Some(v)) = (&p.type_by, values.get(k)) else {
                continue;
            };
            let Some((of, ty)) = values.get(other).and_then(|o| types.get_key_value(o)) else {
                continue;
            };
            if !ty.accepts(v) {
                let name = ty.name();
                let a = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
                    "an"
                } else {
                    "a"
                };
                problems.push(format!(
                    "parameter `{k}`: `{v}` is not {a} {name}, the type of `{of}` \
                     (`type_by` of job `{}`)",
                    job.name
                ));
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

/// What a secret value is stored and shown as.
pub const MASK: &str = "***";

/// The values of a run as they are stored and shown: each secret parameter's value that is
/// not empty is [`MASK`].
pub fn redacted(job: &Job, values: &IndexMap<String, String>) -> IndexMap<String, String> {
    values
        .iter()
        .map(|(k, v)| {
            let secret = job
                .params
                .get(k)
                .map_or_else(|| Param::secret_by_name(k), |p| p.secret);
            let v = if secret && !v.is_empty() {
                MASK.to_owned()
            } else {
                v.clone()
            };
            (k.clone(), v)
        })
        .collect()
}

/// The values of a run as recorded (`RunRow::params`, secret ones masked), by name.
pub fn from_record(recorded: &serde_json::Value) -> IndexMap<String, String> {
    recorded
        .as_object()
        .map(|o| {
            o.iter()
                .map(|(k, v)| {
                    let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
                    (k.clone(), v)
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The secret values among a run's values, given in this process (never stored).
pub fn secrets(job: &Job, values: &IndexMap<String, String>) -> IndexMap<String, String> {
    values
        .iter()
        .filter(|(k, v)| !v.is_empty() && job.params.get(*k).is_some_and(|p| p.secret))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// `NAME=VALUE` assignments as they may be recorded: a secret one's value is [`MASK`] (by
/// the job's declaration, else by its name).
pub fn redact_assignments(job: Option<&Job>, given: &[String]) -> Vec<String> {
    given
        .iter()
        .map(|a| match a.split_once('=') {
            Some((k, v)) if !v.is_empty() => {
                let secret = job
                    .and_then(|j| j.params.get(k))
                    .map_or_else(|| Param::secret_by_name(k), |p| p.secret);
                if secret {
                    format!("{k}={MASK}")
                } else {
                    a.clone()
                }
            }
            _ => a.clone(),
        })
        .collect()
}

/// Refuses values a queued run cannot carry: the database is the only way from the command
/// line to the daemon, and it never holds a secret. A secret parameter given on the command
/// line, or a required one without `from_env`, is refused naming the parameter and what to
/// do instead.
pub fn check_queueable(job: &Job, given: &[(String, String)]) -> Result<(), String> {
    let mut problems = Vec::new();
    for (k, p) in job.params.iter().filter(|(_, p)| p.secret) {
        let how = match &p.from_env {
            Some(var) => format!(
                "leave it out and set `{var}` in the daemon's environment (the job's `from_env`)"
            ),
            None => format!(
                "run the job in the foreground (`unyo run {} -p {k}=...`), or declare \
                 `from_env` for it in the job and set that variable in the daemon's environment",
                job.name
            ),
        };
        if given.iter().any(|(g, _)| g == k) {
            problems.push(format!(
                "parameter `{k}` is secret: a queued run cannot carry its value (the database \
                 never holds a secret); {how}"
            ));
        } else if p.required && p.from_env.is_none() {
            problems.push(format!(
                "parameter `{k}` is secret and required: a queued run cannot carry its value \
                 (the database never holds a secret); {how}"
            ));
        }
    }
    if problems.is_empty() {
        Ok(())
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

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn a_secret_that_breaks_a_rule_is_not_repeated_in_the_message() {
        let mut job = crate::model::Job {
            name: "login".into(),
            file: PathBuf::new(),
            digest: String::new(),
            title: None,
            description: None,
            params: IndexMap::new(),
            window: None,
            avoid: None,
            outside_window: crate::model::WindowPolicy::Wait,
            after: Vec::new(),
            wait_timeout: std::time::Duration::ZERO,
            on_interrupt: crate::model::OnInterrupt::Leave,
            runs_on: Vec::new(),
            node_wait: crate::model::DEFAULT_NODE_WAIT,
            adhoc: false,
            separate_approver: false,
            allowed_users: Vec::new(),
            allowed_groups: Vec::new(),
            sla: None,
            lateness: Default::default(),
            slowdown: Default::default(),
            steps: Vec::new(),
        };
        job.params.insert(
            "db_password".into(),
            Param {
                pattern: Some(regex::Regex::new("[0-9]+").expect("regex")),
                secret: true,
                ..Param::default()
            },
        );
        let today = NaiveDate::from_ymd_opt(2026, 10, 15).expect("date");
        let given = [("db_password".to_owned(), "hunter2".to_owned())];
        let e = resolve(&job, &given, today, Path::new("/")).expect_err("no digits");
        assert_eq!(
            e,
            "parameter `db_password`: `***` does not match the pattern `[0-9]+`"
        );
        let mut values = IndexMap::new();
        values.insert("db_password".to_owned(), "hunter2".to_owned());
        values.insert("user".to_owned(), "app".to_owned());
        let shown = redacted(&job, &values);
        assert_eq!(
            (shown["db_password"].as_str(), shown["user"].as_str()),
            ("***", "app")
        );
        assert_eq!(secrets(&job, &values).len(), 1);
    }
}
