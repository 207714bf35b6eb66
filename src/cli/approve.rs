//! `unyo approve RUN STEP [--comment TEXT]` and `unyo reject RUN STEP --reason TEXT`: the
//! decision an approval step waits for. The job's allowed users and groups decide who may
//! decide; with `separate_approver: true` the operator who submitted the run may not. Who
//! decided is recorded with the step, and every decision (and refusal) is audited.

use chrono::Utc;

use crate::error::Error;
use crate::model::{Action, Catalog, Job, Settings};
use crate::spec::diag;
use crate::store::RunDetail;

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    pub run: i64,
    /// The approval step.
    pub step: String,
    /// A note for the record.
    #[arg(long, default_value = "")]
    pub comment: String,
}

#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    pub run: i64,
    /// The approval step.
    pub step: String,
    /// Why (recorded with the step; the run fails).
    #[arg(long)]
    pub reason: String,
}

pub async fn approve(settings: &Settings, args: ApproveArgs) -> Result<(), Error> {
    decide(settings, args.run, &args.step, true, &args.comment).await
}

pub async fn reject(settings: &Settings, args: RejectArgs) -> Result<(), Error> {
    if args.reason.trim().is_empty() {
        return Err(Error::Request("--reason must not be empty".to_owned()));
    }
    decide(settings, args.run, &args.step, false, &args.reason).await
}

async fn decide(
    settings: &Settings,
    run: i64,
    step: &str,
    approve: bool,
    text: &str,
) -> Result<(), Error> {
    let store = super::open_store(settings).await?;
    let user = crate::domain::host::os_user();
    let action = if approve { "approve" } else { "reject" };
    let target = format!("run {run} step {step}");
    let audit_args = serde_json::json!({ if approve { "comment" } else { "reason" }: text });
    let refuse = |why: String| {
        let (store, target, audit_args) = (store.clone(), target.clone(), audit_args.clone());
        async move {
            super::audit::record(&*store, action, target, audit_args, Err(why.clone())).await?;
            Err::<(), Error>(Error::Request(why))
        }
    };
    let Some(detail) = store.get_run(run).await? else {
        return refuse(crate::store::no_such_run(run).to_string()).await;
    };
    let catalog = Catalog::load(settings)?;
    let job = catalog.jobs.get(&detail.run.job);
    if !detail.steps.iter().any(|s| s.name == step) {
        return refuse(no_such_step(run, step, &detail, job.map(|j| &**j))).await;
    }
    if let Some(job) = job {
        if let Err(why) = super::auth::check(job, action) {
            return refuse(why).await;
        }
        if let Err(why) = crate::domain::gate::separate_approver(
            job.separate_approver,
            approve,
            run,
            &detail.run.requested_by,
            &[&user, &crate::domain::web::actor(&user)],
        ) {
            return refuse(why).await;
        }
    }
    match store
        .decide_gate(run, step, approve, &user, text, Utc::now())
        .await?
    {
        Ok(()) => {
            let done = if approve { "approved" } else { "rejected" };
            super::audit::record(&*store, action, target, audit_args, Ok(done.to_owned())).await?;
            super::out(&format!(
                "step `{step}` of run {run} {done} by {user}; the run goes on within a second\n"
            ));
            Ok(())
        }
        Err(why) => refuse(why.to_string()).await,
    }
}

/// ``run 7 has no step `aprove` (did you mean `approve`?); its approval steps: approve``:
/// the hint looks among the run's approval steps first, then among all its steps.
fn no_such_step(run: i64, step: &str, detail: &RunDetail, job: Option<&Job>) -> String {
    let names: Vec<&str> = detail.steps.iter().map(|s| s.name.as_str()).collect();
    let gates: Vec<&str> = job
        .map(|j| {
            j.steps
                .iter()
                .filter(|s| matches!(s.action, Action::Approval { .. }))
                .map(|s| s.name.as_str())
                .filter(|n| names.contains(n))
                .collect()
        })
        .unwrap_or_default();
    let hint = match diag::did_you_mean(step, gates.iter().copied()) {
        Some(g) => format!(" (did you mean `{g}`?)"),
        None => diag::hint(step, names.iter().copied()),
    };
    let list = if gates.is_empty() {
        "it has no approval step".to_owned()
    } else {
        format!("its approval steps: {}", gates.join(", "))
    };
    format!("run {run} has no step `{step}`{hint}; {list}")
}
