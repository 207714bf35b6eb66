//! `unyo submit JOB`: an operator's one-off request (a data extract for city staff): the
//! job must say `adhoc: true` and let the user act on it; its parameters are checked; the run
//! is queued in the database, now or deferred (`--at`, or `--window` for the next opening of
//! a window; without either, the job's own `window:`), with the requester's `--reason`. The daemon starts it, also when it was stopped
//! at the time. `--wait` follows the run to its end and exits with its status.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

use crate::engine::{self, params};
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::spec::diag;
use crate::store::{RunStatus, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (one with `adhoc: true`).
    pub job: String,
    /// A parameter value (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Not before this time: `YYYY-MM-DD HH:MM`, `YYYY-MM-DD` or RFC 3339.
    #[arg(long, value_name = "TIME", conflicts_with = "window")]
    pub at: Option<String>,
    /// Not before the window opens (at once when it is open). Default: the job's `window`.
    #[arg(long, value_name = "NAME")]
    pub window: Option<String>,
    /// Why, in the requester's words (kept with the run and in the audit trail).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Follow the run to its end; exit 0 if it succeeded, 1 otherwise.
    #[arg(long)]
    pub wait: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Arc::new(Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    let target = format!("job {}", args.job);
    let audit_args = serde_json::json!({
        "params": params::redact_assignments(
            catalog.jobs.get(&args.job).map(|j| &**j),
            &args.params
        ),
        "at": args.at,
        "window": args.window,
        "reason": args.reason,
    });
    let refuse = |why: String| {
        let (store, target, audit_args) = (store.clone(), target.clone(), audit_args.clone());
        async move {
            super::audit::record(&*store, "submit", target, audit_args, Err(why.clone())).await?;
            Err::<(), Error>(Error::Request(why))
        }
    };
    let Some(job) = catalog.jobs.get(&args.job).cloned() else {
        let hint = diag::hint(&args.job, catalog.jobs.keys().map(String::as_str));
        return refuse(format!("unknown job `{}`{hint}", args.job)).await;
    };
    if !job.adhoc {
        return refuse(format!(
            "job `{}` is not for ad-hoc submission (it has no `adhoc: true`)",
            job.name
        ))
        .await;
    }
    if let Err(why) = super::auth::check(&job, "submit") {
        return refuse(why).await;
    }
    let given = match args
        .params
        .iter()
        .map(|p| params::parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(g) => g,
        Err(e) => return refuse(e).await,
    };
    if let Err(e) = params::check_queueable(&job, &given) {
        return refuse(e).await;
    }
    let now = Utc::now();
    let today = engine::dates(settings, now).0;
    let values = match params::resolve(&job, &given, today, &settings.root) {
        Ok(v) => v,
        Err(e) => return refuse(e).await,
    };
    // Without `--at` or `--window`, a job confined to a window is deferred to its opening.
    let window = args.window.as_ref().or(job.window.as_ref());
    let not_before = match (&args.at, window) {
        (Some(t), _) => match super::next::parse_time(t, settings.timezone) {
            Ok(t) => Some(t),
            Err(m) => return refuse(format!("--at: {m}")).await,
        },
        (None, Some(w)) => {
            let Some(window) = catalog.windows.get(w) else {
                let hint = diag::hint(w, catalog.windows.keys().map(String::as_str));
                return refuse(format!("unknown window `{w}`{hint}")).await;
            };
            crate::schedule::window::next_open(window, now, settings.timezone)
        }
        (None, None) => None,
    };
    let mut record = engine::new_run(
        settings,
        &catalog,
        &job,
        &values,
        Trigger::Submit,
        RunStatus::Queued,
        now,
        &engine::os_user(),
    );
    record.not_before = not_before.filter(|t| *t > now);
    record.comment = args.reason.clone();
    let id = store.create_run(&record).await?;
    let when = match (record.not_before, window.filter(|_| args.at.is_none())) {
        (Some(t), Some(w)) => format!(
            "not before {} (when window `{w}` opens)",
            super::local_time(settings, t)
        ),
        (Some(t), None) => format!("not before {}", super::local_time(settings, t)),
        (None, Some(w)) => format!("window `{w}` is open: as soon as the daemon takes it"),
        (None, None) => "as soon as the daemon takes it".to_owned(),
    };
    super::audit::record(
        &*store,
        "submit",
        target,
        audit_args,
        Ok(format!("run {id} queued, {when}")),
    )
    .await?;
    eprintln!("run {id} of `{}` queued, {when}", job.name);
    if !args.wait {
        super::out(&format!("{id}\n"));
        return Ok(());
    }
    follow(&*store, id).await
}

/// Prints each step's changes until the run ends; the exit follows its status.
async fn follow(store: &dyn crate::store::Store, id: i64) -> Result<(), Error> {
    let mut seen: Vec<(String, String)> = Vec::new();
    loop {
        let Some(d) = store.get_run(id).await? else {
            return Err(Error::Failed(format!("run {id} vanished")));
        };
        for s in &d.steps {
            let now = (s.name.clone(), s.status.to_string());
            if !seen.contains(&now) && s.status != crate::store::StepStatus::Pending {
                match &s.reason {
                    Some(r) => eprintln!("  {}: {} ({r})", s.name, s.status),
                    None => eprintln!("  {}: {}", s.name, s.status),
                }
                seen.retain(|(n, _)| *n != s.name);
                seen.push(now);
            }
        }
        if d.run.status.is_final() {
            super::out(&format!("run {id} {}\n", d.run.status));
            return match d.run.status {
                RunStatus::Succeeded => Ok(()),
                RunStatus::Refused => Err(Error::Refused(format!(
                    "run {id}: {}",
                    d.run.reason.as_deref().unwrap_or("a step refused")
                ))),
                other => Err(Error::Failed(format!("run {id} {other}"))),
            };
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}
