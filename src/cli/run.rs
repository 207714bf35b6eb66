//! `unyo run JOB`: run a job now in the foreground, print progress to stderr and a summary
//! table to stdout; Ctrl-C or SIGTERM cancels the run (steps are stopped, not abandoned).

use std::sync::Arc;

use tokio::sync::watch;

use super::table::Table;
use crate::engine::{self, Event, RunRequest, params};
use crate::error::Error;
use crate::model::values::format_duration;
use crate::model::{Catalog, Settings};
use crate::spec::diag;
use crate::store::{RunStatus, Trigger};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The job to run.
    pub job: String,
    /// A parameter value (repeatable).
    #[arg(short = 'p', long = "param", value_name = "NAME=VALUE")]
    pub params: Vec<String>,
    /// Steps run at once (default: `parallel` in unyo.yaml, else the number of cores).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub parallel: Option<u32>,
    /// Queue the run for the daemon and print its id instead of running it here.
    #[arg(long, conflicts_with = "parallel")]
    pub detach: bool,
    /// Run as of this business date, not today's (a rehearsal of the fiscal-year rollover or
    /// a month's end): `business_date`, `fiscal_year`, `previous_fiscal_year`,
    /// UNYO_BUSINESS_DATE and parameter defaults (`month: previous`) follow it. The steps act
    /// on this installation's data as on that date. Recorded on the run and audited.
    #[arg(long, value_name = "YYYY-MM-DD")]
    pub business_date: Option<String>,
    /// Why (kept with the run and in the audit trail; steps get it as `{{reason}}` and
    /// `UNYO_REASON`).
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub async fn run(settings: &Settings, args: Args) -> Result<(), Error> {
    let catalog = Arc::new(Catalog::load(settings)?);
    let store = super::open_store(settings).await?;
    // A refused run is on the audit trail like a refused submit: who tried what, and why not.
    let action = if args.detach { "run.detach" } else { "run" };
    let target = format!("job {}", args.job);
    // A secret given with -p is never audited in clear, also when the run is refused.
    let audit_args = serde_json::json!({
        "params": params::redact_assignments(catalog.jobs.get(&args.job).map(|j| &**j), &args.params),
        "parallel": args.parallel,
        "reason": args.reason,
        "business_date": args.business_date,
    });
    let refuse = |why: String| {
        let (store, target, audit_args) = (store.clone(), target.clone(), audit_args.clone());
        async move {
            super::audit::record(&*store, action, target, audit_args, Err(why.clone())).await?;
            Err::<(), Error>(Error::Request(why))
        }
    };
    let Some(job) = catalog.jobs.get(&args.job).cloned() else {
        let hint = diag::hint(&args.job, catalog.jobs.keys().map(String::as_str));
        let known = if catalog.jobs.is_empty() {
            format!(
                "no jobs are defined in {}",
                settings.root.join("jobs").display()
            )
        } else {
            let names: Vec<&str> = catalog.jobs.keys().map(String::as_str).collect();
            format!("jobs: {}", names.join(", "))
        };
        return refuse(format!("unknown job `{}`{hint}; {known}", args.job)).await;
    };
    let given = match args
        .params
        .iter()
        .map(|p| params::parse_assignment(p))
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(g) => g,
        Err(e) => return refuse(e).await,
    };
    let business_date = match args
        .business_date
        .as_deref()
        .map(engine::parse_business_date)
        .transpose()
    {
        Ok(d) => d,
        Err(e) => return refuse(e).await,
    };
    if args.detach
        && let Err(e) = params::check_queueable(&job, &given)
    {
        return refuse(e).await;
    }
    // A job for other nodes runs here only when this node has its labels.
    if !args.detach && !job.runs_on_node(&settings.node.labels) {
        return refuse(format!(
            "job `{}` runs on nodes labelled {} (`runs_on`), and this node `{}` has {}; \
             queue it with `--detach` for such a node to take",
            job.name,
            job.runs_on.join(", "),
            settings.node.name,
            if settings.node.labels.is_empty() {
                "none".to_owned()
            } else {
                settings.node.labels.join(", ")
            }
        ))
        .await;
    }
    // A step for other nodes is handed over by a daemon's run; a foreground run has none.
    if !args.detach
        && let Some(step) = job
            .steps
            .iter()
            .find(|s| !s.runs_on_node(&settings.node.labels))
    {
        return refuse(format!(
            "step `{}` of job `{}` runs on nodes labelled {} (`runs_on`), and this node `{}` \
             has {}; queue the run with `--detach`: a daemon hands the step over to such a node",
            step.name,
            job.name,
            step.runs_on.join(", "),
            settings.node.name,
            if settings.node.labels.is_empty() {
                "none".to_owned()
            } else {
                settings.node.labels.join(", ")
            }
        ))
        .await;
    }
    let today = engine::dates(settings, chrono::Utc::now()).0;
    let values = match params::resolve(&job, &given, business_date.unwrap_or(today), &settings.root)
    {
        Ok(v) => v,
        Err(e) => return refuse(e).await,
    };
    let shown = params::redacted(&job, &values);
    // Said in the audit's detail too, where the operator reads the trail.
    let rehearsal = business_date
        .map(|d| format!("; business date {d} given by the operator"))
        .unwrap_or_default();
    if let Some(date) = business_date {
        eprintln!(
            "business date {date} given (today's is {today}): the steps act on this installation's data as on {date}"
        );
    }
    if args.detach {
        let mut record = engine::new_run(
            settings,
            &catalog,
            &job,
            &values,
            Trigger::Manual,
            RunStatus::Queued,
            chrono::Utc::now(),
            &crate::domain::host::os_user(),
        );
        if let Some(date) = business_date {
            engine::give_business_date(settings, &mut record, date);
        }
        // The daemon starts it when the job's window lets it (and records why it waits):
        // say when that is.
        let now = record.at;
        let when =
            super::submit::earliest_start(settings, &catalog, &job, now).say(settings, &job, now);
        record.comment = args.reason.clone();
        let run_id = store.create_run(&record).await?;
        super::audit::record(
            &*store,
            "run.detach",
            format!("job {}", job.name),
            serde_json::json!({
                "params": shown,
                "reason": args.reason,
                "business_date": business_date,
            }),
            Ok(format!("run {run_id} queued, {when}{rehearsal}")),
        )
        .await?;
        eprintln!(
            "run {run_id} of `{}` queued, {when}; the daemon starts it (follow it with `unyo show {run_id}`)",
            job.name
        );
        super::out(&format!("{run_id}\n"));
        return Ok(());
    }

    let (cancel_tx, cancel_rx) = watch::channel(None);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        let terminated = async {
            match term.as_mut() {
                Some(t) => {
                    t.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminated => {}
        }
        eprintln!("unyo: stopping the run (steps get SIGTERM, then SIGKILL)");
        let _ = cancel_tx.send(Some(engine::Stop::Operator));
    });

    // One write per line: stderr is unbuffered, and `eprintln!` writes each piece of a
    // formatted line on its own (seven system calls a step instead of one).
    let recorded = Arc::new(std::sync::OnceLock::new());
    let run_of = recorded.clone();
    let on_event: Arc<dyn Fn(Event) + Send + Sync> = Arc::new(move |e| {
        if let Event::RunStarted { run_id, .. } = &e {
            let _ = run_of.set(*run_id);
        }
        let line = match e {
            Event::RunStarted {
                run_id,
                business_date,
            } => format!("run {run_id} started (business date {business_date})\n"),
            Event::StepStarted { step, attempt } if attempt > 1 => {
                format!("  {step}: started (attempt {attempt})\n")
            }
            Event::StepStarted { step, .. } => format!("  {step}: started\n"),
            Event::StepEnded {
                step,
                status,
                detail,
            } => format!("  {step}: {status} ({detail})\n"),
        };
        let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    });
    let parallel = args.parallel.map_or(settings.parallel, |p| p as usize);
    super::audit::record(
        &*store,
        "run",
        format!("job {}", job.name),
        serde_json::json!({
            "params": shown,
            "parallel": parallel,
            "reason": args.reason,
            "business_date": business_date,
        }),
        Ok(format!("started in the foreground{rehearsal}")),
    )
    .await?;
    // Processes that leave a step's group are re-parented to us, to be ended with the step.
    crate::exec::escaped::become_subreaper();
    let result = engine::run(
        settings,
        &catalog,
        store.clone(),
        RunRequest {
            job: job.clone(),
            params: values,
            trigger: Trigger::Manual,
            reason: args.reason.clone(),
            parallel,
            requested_by: crate::domain::host::os_user(),
            business_date,
            clock: crate::domain::clock::system(),
        },
        cancel_rx,
        on_event,
    )
    .await;
    crate::exec::escaped::sweep(None, settings.kill_grace).await;
    let result = match result {
        Ok(r) => r,
        Err(e) if e.is_disk_full() => {
            return Err(after_disk_full(settings, recorded.get().copied(), e).await);
        }
        Err(e) => return Err(e.into()),
    };

    let detail = store
        .get_run(result.run_id)
        .await?
        .ok_or_else(|| Error::Failed(format!("run {} vanished", result.run_id)))?;
    let took = engine::elapsed(detail.run.started_at, detail.run.ended_at).unwrap_or_default();
    let mut out = format!(
        "run {} of `{}`: {} in {}\n",
        result.run_id,
        job.name,
        result.status,
        format_duration(took)
    );
    out.push_str(&summary_table(&detail));
    super::out(&out);
    match result.status {
        RunStatus::Succeeded => Ok(()),
        RunStatus::Refused => Err(Error::Refused(format!(
            "run {}: {}",
            result.run_id,
            detail.run.reason.as_deref().unwrap_or("a step refused")
        ))),
        other => Err(Error::Failed(format!("run {} {other}", result.run_id))),
    }
}

/// A full disk stopped the run: the reserve beside the database is given up to make room,
/// and the run is recorded failed with the cause (its steps that were still running are
/// recorded so by the next daemon start, as after a crash). The error names the disk.
async fn after_disk_full(
    settings: &Settings,
    run_id: Option<i64>,
    error: crate::store::StoreError,
) -> Error {
    let Some(run_id) = run_id else {
        return error.into();
    };
    if let crate::model::Database::Sqlite(path) = &settings.database {
        crate::store::disk::release_reserve(path);
    }
    let why = error.to_string();
    let recorded = match super::open_store(settings).await {
        Ok(store) => store
            .set_run_status(run_id, RunStatus::Failed, chrono::Utc::now(), Some(&why))
            .await
            .map_err(Error::from),
        Err(e) => Err(e),
    };
    match recorded {
        Ok(()) => eprintln!("run {run_id} recorded failed: {why}"),
        Err(e) => eprintln!("warning: run {run_id} could not be recorded failed: {e}"),
    }
    error.into()
}

/// STEP, STATUS, DURATION, EXIT for every step of a run.
pub fn summary_table(detail: &crate::store::RunDetail) -> String {
    let mut t = Table::new(&["STEP", "STATUS", "DURATION", "EXIT"]);
    // The last attempt of each step, in one pass (attempts are in order).
    let last_of: std::collections::HashMap<&str, &crate::store::AttemptRow> = detail
        .attempts
        .iter()
        .map(|a| (a.step.as_str(), a))
        .collect();
    for s in &detail.steps {
        let last = last_of.get(s.name.as_str()).copied();
        let exit = match last {
            Some(a) => match (a.exit_code, a.signal, &a.error) {
                (Some(c), _, _) => c.to_string(),
                (_, Some(sig), _) => crate::exec::describe_exit(crate::exec::Exit::Signal(sig)),
                (_, _, Some(_)) => "not started".to_owned(),
                _ => "-".to_owned(),
            },
            None => "-".to_owned(),
        };
        let took =
            engine::elapsed(s.started_at, s.ended_at).map_or("-".to_owned(), format_duration);
        t.row(vec![s.name.clone(), s.status.to_string(), took, exit]);
    }
    t.render()
}
