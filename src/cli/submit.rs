//! `unyo submit JOB`: an operator's one-off request (a data extract for city staff): the
//! job must say `adhoc: true` and let the user act on it; its parameters are checked; the run
//! is queued in the database, now or deferred (`--at`, or `--window` for the next opening of
//! a window), with the requester's `--reason`, and never before the job's own `window:` (or
//! the end of the window it avoids) lets it start, unless `--outside-window` (urgent, with a
//! reason) says otherwise. The command says when the run will really start (`earliest_start`,
//! also used by `run --detach`). The daemon starts it, also when it was stopped at the time.
//! `--business-date` makes it a rehearsal of that date. `--wait` follows the run to its end
//! and exits with its status.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;

pub(crate) use crate::engine::submit::earliest_start;
use crate::engine::submit::{self, Submission};
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::store::RunStatus;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job (one with `adhoc: true`).
    pub job: String,
    /// A parameter value (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Not before this time: `HH:MM` (the next time the clock shows it), `YYYY-MM-DD HH:MM`,
    /// `YYYY-MM-DD` or RFC 3339. A job's window may start it later: the command says when.
    #[arg(long, value_name = "TIME", conflicts_with = "window")]
    pub at: Option<String>,
    /// Not before the window opens (at once when it is open). Default: the job's `window`.
    #[arg(long, value_name = "NAME")]
    pub window: Option<String>,
    /// Why, in the requester's words (kept with the run and in the audit trail).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
    /// Urgent: start outside the job's window (or inside the window it avoids) as soon as
    /// `--at` allows. Needs `--reason`; recorded on the run and audited.
    #[arg(long, requires = "reason")]
    pub outside_window: bool,
    /// Run as of this business date, not the one of the day it starts (a rehearsal of the
    /// fiscal-year rollover or a month's end); recorded on the run and audited.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub business_date: Option<String>,
    /// Follow the run to its end; exit 0 if it succeeded, 1 otherwise.
    #[arg(long)]
    pub wait: bool,
    /// The service-desk request the run serves (`unyo desk`): the run is linked to it, and
    /// the report's ad-hoc table shows the request, its requester and department. Refused
    /// when no such request is recorded or it is closed.
    #[arg(long, value_name = "N")]
    pub request: Option<i64>,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Arc::new(Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    let sub = Submission {
        job: args.job,
        params: args.params,
        at: args.at,
        window: args.window,
        reason: args.reason,
        outside_window: args.outside_window,
        business_date: args.business_date,
        request: args.request,
    };
    let target = format!("job {}", sub.job);
    let audit_args = sub.audit_args(&catalog);
    let user = crate::domain::host::os_user();
    let may = |job: &crate::model::Job| super::auth::check(job, "submit");
    let done = match submit::submit(settings, &catalog, &*store, &sub, &user, may, Utc::now())
        .await?
    {
        Ok(done) => done,
        Err(why) => {
            super::audit::record(&*store, "submit", target, audit_args, Err(why.clone())).await?;
            return Err(Error::Request(why));
        }
    };
    // The request changed: audited as `unyo desk link` is.
    if let Some((n, status)) = &done.linked {
        super::audit::record(
            &*store,
            "desk.link",
            format!("request {n}"),
            serde_json::json!({ "run": done.id }),
            Ok(format!("now {status}")),
        )
        .await?;
    }
    super::audit::record(&*store, "submit", target, audit_args, Ok(done.detail())).await?;
    let id = done.id;
    eprintln!(
        "run {id} of `{}` queued, {}{}",
        done.job.name,
        done.when,
        done.linked
            .as_ref()
            .map(|(n, _)| format!(" (request {n})"))
            .unwrap_or_default()
    );
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
