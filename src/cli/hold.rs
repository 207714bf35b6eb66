//! `unyo hold JOB` and `unyo release JOB`: pause and resume a job's schedules. While a job is
//! held, the daemon records each of its slots `held` and starts nothing; queued runs and
//! `unyo run` are not affected. Both are audited.

use chrono::Utc;

use crate::error::Error;
use crate::model::{Catalog, Settings};
use crate::spec::diag;

#[derive(Debug, clap::Args)]
pub struct HoldArgs {
    /// The job whose schedules pause.
    pub job: String,
    /// Why, for the record and for `unyo status`.
    #[arg(long, default_value = "")]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct ReleaseArgs {
    /// The held job.
    pub job: String,
}

fn known(settings: &Settings, job: &str) -> Result<std::sync::Arc<crate::model::Job>, Error> {
    let catalog = Catalog::load(settings)?;
    if let Some(j) = catalog.jobs.get(job) {
        return Ok(j.clone());
    }
    let hint = diag::hint(job, catalog.jobs.keys().map(String::as_str));
    Err(Error::Request(format!("unknown job `{job}`{hint}")))
}

pub async fn hold(settings: &Settings, args: HoldArgs) -> Result<(), Error> {
    let job = known(settings, &args.job)?;
    let store = super::open_store(settings).await?;
    if let Err(why) = super::auth::check(&job, "hold") {
        super::audit::record(
            &*store,
            "hold",
            format!("job {}", args.job),
            serde_json::json!({ "reason": args.reason }),
            Err(why.clone()),
        )
        .await?;
        return Err(Error::Request(why));
    }
    let user = crate::domain::host::os_user();
    let held = store
        .hold(&args.job, &user, Utc::now(), args.reason.trim())
        .await?;
    let outcome = if held {
        Ok("held".to_owned())
    } else {
        Err(format!("`{}` is held already", args.job))
    };
    super::audit::record(
        &*store,
        "hold",
        format!("job {}", args.job),
        serde_json::json!({ "reason": args.reason }),
        outcome.clone(),
    )
    .await?;
    match outcome {
        Ok(_) => {
            super::out(&format!(
                "`{}` held: its slots are recorded `held` until `unyo release {}`\n",
                args.job, args.job
            ));
            Ok(())
        }
        Err(e) => Err(Error::Request(e)),
    }
}

pub async fn release(settings: &Settings, args: ReleaseArgs) -> Result<(), Error> {
    let store = super::open_store(settings).await?;
    // A job no longer defined can still be released; a defined one checks who asks.
    if let Ok(catalog) = Catalog::load(settings)
        && let Some(job) = catalog.jobs.get(&args.job)
        && let Err(why) = super::auth::check(job, "release")
    {
        super::audit::record(
            &*store,
            "release",
            format!("job {}", args.job),
            serde_json::json!({}),
            Err(why.clone()),
        )
        .await?;
        return Err(Error::Request(why));
    }
    let released = store.release(&args.job).await?;
    let outcome = if released {
        Ok("released".to_owned())
    } else {
        Err(format!("`{}` is not held", args.job))
    };
    super::audit::record(
        &*store,
        "release",
        format!("job {}", args.job),
        serde_json::json!({}),
        outcome.clone(),
    )
    .await?;
    match outcome {
        Ok(_) => {
            super::out(&format!("`{}` released: its next slots run\n", args.job));
            Ok(())
        }
        Err(e) => Err(Error::Request(e)),
    }
}
