//! `unyo cancel RUN`: stops a run. A queued run is cancelled at once; a running one is asked
//! to stop through the database, and the process running it (the daemon or a foreground
//! `unyo run`) stops its steps' process groups within a second and records `cancelled`.
//! The command waits for that unless `--no-wait`. Every request is audited.

use std::time::Duration;

use chrono::Utc;

use crate::engine;
use crate::error::Error;
use crate::model::Settings;
use crate::store::CancelOutcome;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The run to cancel (see `unyo runs`).
    pub run: i64,
    /// Return once the request is recorded, without waiting for the run to stop.
    #[arg(long)]
    pub no_wait: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let store = super::open_store(settings).await?;
    let user = crate::domain::host::os_user();
    let target = format!("run {}", args.run);
    // The job's allowed users and groups decide who may cancel its runs.
    if let Some(d) = store.get_run(args.run).await?
        && let Ok(catalog) = crate::model::Catalog::load(settings)
        && let Some(job) = catalog.jobs.get(&d.run.job)
        && let Err(why) = super::auth::check(job, "cancel")
    {
        super::audit::record(
            &*store,
            "cancel",
            target,
            serde_json::json!({}),
            Err(why.clone()),
        )
        .await?;
        return Err(Error::Request(why));
    }
    let outcome = store.request_cancel(args.run, &user, Utc::now()).await?;
    let recorded = match &outcome {
        CancelOutcome::Cancelled => Ok("cancelled before it started".to_owned()),
        CancelOutcome::Requested { .. } => Ok("stop requested".to_owned()),
        CancelOutcome::Ended(status) => {
            Err(format!("run {} has ended already ({status})", args.run))
        }
        CancelOutcome::Unknown => Err(crate::store::no_such_run(args.run).to_string()),
    };
    super::audit::record(
        &*store,
        "cancel",
        target,
        serde_json::json!({}),
        recorded.clone(),
    )
    .await?;
    match outcome {
        CancelOutcome::Cancelled => {
            super::out(&format!(
                "run {} cancelled (it had not started)\n",
                args.run
            ));
            Ok(())
        }
        CancelOutcome::Ended(_) | CancelOutcome::Unknown => {
            Err(Error::Request(recorded.err().unwrap_or_default()))
        }
        CancelOutcome::Requested { owner } => {
            let live = owner.as_deref().and_then(engine::owner::alive);
            if live == Some(false) {
                super::out(&format!(
                    "run {} is recorded running, but the unyo process running it is gone; the daemon records it interrupted when it finds it\n",
                    args.run
                ));
                return Ok(());
            }
            if args.no_wait {
                super::out(&format!("run {}: stop requested\n", args.run));
                return Ok(());
            }
            eprintln!(
                "run {}: stop requested; waiting for its steps to stop",
                args.run
            );
            // A step gets SIGTERM within a second, then SIGKILL after kill_grace.
            let patience = settings.kill_grace + Duration::from_secs(15);
            let start = std::time::Instant::now();
            loop {
                let detail = store.get_run(args.run).await?;
                if let Some(d) = detail.filter(|d| d.run.status.is_final()) {
                    super::out(&format!("run {} {}\n", args.run, d.run.status));
                    return Ok(());
                }
                if start.elapsed() > patience {
                    return Err(Error::Failed(format!(
                        "run {} has not stopped after {}s; see `unyo show {}`",
                        args.run,
                        patience.as_secs(),
                        args.run
                    )));
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}
