//! Secret parameters: their values for the steps' environment only (given to this process,
//! else read from `from_env`), what is missing and what to do about it, and their values
//! masked in the output kept in the database and in the steps' log files.

use indexmap::IndexMap;

use super::context::StepContext;
use super::params;
use crate::model::Job;

/// Output kept in the database (and so in incidents and their messages) with each secret
/// parameter's value replaced by `***`, should a step print it. Values shorter than four
/// characters are left: masking them would garble ordinary text.
pub(super) fn mask_secrets(ctx: &StepContext, mut text: String) -> String {
    for v in ctx.secret_params.values().filter(|v| v.len() >= 4) {
        if text.contains(v.as_str()) {
            text = text.replace(v.as_str(), params::MASK);
        }
    }
    text
}

/// [`mask_secrets`] for an attempt's log file, once its process has ended (the file is
/// rewritten in place only when it holds a secret's value).
pub(super) async fn mask_log(ctx: &StepContext, path: &std::path::Path) {
    let values: Vec<String> = ctx
        .secret_params
        .values()
        .filter(|v| v.len() >= 4)
        .cloned()
        .collect();
    if values.is_empty() || !path.is_file() {
        return;
    }
    let path = path.to_owned();
    let masked = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut bytes = std::fs::read(&path)?;
        let mut changed = false;
        for v in &values {
            let v = v.as_bytes();
            let mut out = Vec::with_capacity(bytes.len());
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i..].starts_with(v) {
                    out.extend_from_slice(params::MASK.as_bytes());
                    i += v.len();
                    changed = true;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            bytes = out;
        }
        if changed {
            std::fs::write(&path, bytes)?;
        }
        Ok(())
    })
    .await;
    if let Ok(Err(e)) = masked {
        tracing::warn!("cannot mask the secrets in a step's log file: {e}");
    }
}

/// The values of a job's secret parameters for its steps' environment: given to this
/// process (`secrets`), else read from the variable named by `from_env` in this process's
/// environment. Also the problems: a required one without a value, and one given when the
/// run was requested whose value was not kept (a queued or re-run request never carries a
/// secret), each naming the parameter and what to do.
pub(super) fn secret_values(
    job: &Job,
    recorded: &IndexMap<String, String>,
    secrets: &IndexMap<String, String>,
) -> (IndexMap<String, String>, Vec<String>) {
    let mut values = IndexMap::new();
    let mut missing = Vec::new();
    for (k, p) in job.params.iter().filter(|(_, p)| p.secret) {
        if let Some(v) = secrets.get(k) {
            values.insert(k.clone(), v.clone());
            continue;
        }
        if let Some(var) = &p.from_env {
            match std::env::var(var) {
                Ok(v) => {
                    values.insert(k.clone(), v);
                }
                Err(_) if p.required => missing.push(format!(
                    "secret parameter `{k}` has no value: `{var}` (its `from_env`) is not set \
                     in the environment of the unyo process that runs the step"
                )),
                Err(_) => {
                    values.insert(k.clone(), String::new());
                }
            }
            continue;
        }
        if recorded.get(k).is_some_and(|v| !v.is_empty()) || p.required {
            missing.push(format!(
                "secret parameter `{k}` has no value: it is never stored, so only a foreground \
                 `unyo run` can give it (or declare `from_env` in the job)"
            ));
        } else {
            values.insert(k.clone(), String::new());
        }
    }
    (values, missing)
}
