//! `unyo rerun RUN [--from-failed]`: queues a new run of an ended run's job, with the same
//! parameters and business date, linked to it (`rerun_of`). With `--from-failed` the steps
//! that succeeded are kept (recorded `succeeded`, "kept from run N") and only the failed
//! step and everything after it run. The daemon starts it; the request is audited.

use std::sync::Arc;

use chrono::Utc;

use crate::engine;
use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::store::{RunStatus, StepStatus, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ended run to run again (see `unyo runs`).
    pub run: i64,
    /// Keep the steps that succeeded; run the failed step and everything after it.
    #[arg(long)]
    pub from_failed: bool,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Arc::new(Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    let target = format!("run {}", args.run);
    let audit_args = serde_json::json!({ "from_failed": args.from_failed });
    let refuse = |why: String| async {
        super::audit::record(
            &*store,
            "rerun",
            target.clone(),
            audit_args.clone(),
            Err(why.clone()),
        )
        .await?;
        Err::<(), Error>(Error::Request(why))
    };
    let Some(old) = store.get_run(args.run).await? else {
        return refuse(crate::store::no_such_run(args.run).to_string()).await;
    };
    if !old.run.status.is_final() {
        return refuse(format!(
            "run {} is still {}; cancel it first (`unyo cancel {}`)",
            args.run, old.run.status, args.run
        ))
        .await;
    }
    let Some(job) = catalog.jobs.get(&old.run.job).cloned() else {
        return refuse(format!("job `{}` is no longer defined", old.run.job)).await;
    };
    if let Err(why) = super::auth::check(&job, "rerun") {
        return refuse(why).await;
    }
    // A secret given to the run was not stored; a queued run cannot carry it again.
    let lost = job
        .params
        .iter()
        .filter(|(_, p)| p.secret && p.from_env.is_none());
    for (k, _) in lost {
        if old.run.params[k].as_str().is_some_and(|v| !v.is_empty()) {
            return refuse(format!(
                "run {} was given secret parameter `{k}`, which is never stored: run the job \
                 again in the foreground and give it again (`unyo run {} -p {k}=...`), or \
                 declare `from_env` for it in the job",
                args.run, job.name
            ))
            .await;
        }
    }
    let kept: Vec<String> = if args.from_failed {
        if old.run.status == RunStatus::Succeeded {
            return refuse(format!(
                "run {} succeeded: nothing failed to run again (rerun it whole without --from-failed)",
                args.run
            ))
            .await;
        }
        old.steps
            .iter()
            .filter(|s| s.status == StepStatus::Succeeded)
            .filter(|s| job.step(&s.name).is_some())
            .map(|s| s.name.clone())
            .collect()
    } else {
        Vec::new()
    };
    let mut record = engine::new_run(
        settings,
        &catalog,
        &job,
        &indexmap::IndexMap::new(),
        Trigger::Rerun,
        RunStatus::Queued,
        Utc::now(),
        &crate::domain::host::os_user(),
    );
    record.params = old.run.params.clone();
    record.business_date = old.run.business_date;
    record.fiscal_year = old.run.fiscal_year;
    // A rehearsal's rerun is a rehearsal of the same date.
    record.business_date_given = old.run.business_date_given;
    record.rerun_of = Some(args.run);
    record.comment = old.run.comment.clone();
    record.kept_steps = kept.clone();
    let id = store.create_run(&record).await?;
    let detail = if kept.is_empty() {
        format!("run {id} queued")
    } else {
        format!("run {id} queued, keeping {}", kept.join(", "))
    };
    super::audit::record(&*store, "rerun", target, audit_args, Ok(detail.clone())).await?;
    eprintln!("{detail}; the daemon starts it (follow it with `unyo show {id}`)");
    super::out(&format!("{id}\n"));
    Ok(())
}
