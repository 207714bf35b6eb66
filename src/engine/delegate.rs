//! Steps that run on another node (a step's `runs_on` names labels this node lacks).
//!
//! The node driving the run records the attempt as usual and hands it over
//! (`hand_over`): a live node with the labels takes it (`store::DelegationStore`), loads the
//! job from its own definitions, renders the step with its own settings and environment
//! (secrets never travel through the database), runs it and records how its process ended
//! (`carry_out`). The driver reads that end and goes on exactly as with a process of its
//! own: runbook, incident, the steps that need it.
//!
//! Both sides look at the record every [`LOOK_EVERY`]: the driver for the end, for the
//! taker's output (its run's `stuck_after`) and for a taker that is gone (declared dead or
//! restarted: the attempt fails as "end unknown" and its runbook decides, never a silent
//! rerun); the taker for a cancel, or its run's end. A step no live node takes within the
//! job's `node_wait` opens an incident and goes on waiting.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, watch};

use super::context::StepContext;
use super::secrets::{mask_log, mask_secrets};
use super::step::{Ran, prepare, program_record, spawn_attempt};
use super::{Started, Stop};
use crate::domain::clock::SharedClock;
use crate::model::{Catalog, Settings};
use crate::store::{Delegated, Store, StoreError};

/// How often the driver looks at a step it handed over, and the taker at its record.
const LOOK_EVERY: Duration = Duration::from_millis(250);
/// How often the taker records its process's output so far (for the run's `stuck_after`).
const PROGRESS_EVERY: Duration = Duration::from_secs(5);
/// How many times (a second apart) the taker tries to record a step's end while the
/// database cannot be reached.
const END_TRIES: u32 = 600;

/// Hands attempt `attempt` of step `i` (recorded as `attempt_id`) over to a node with the
/// step's labels and waits for its end, holding the run's `permit` meanwhile.
pub(super) async fn hand_over(
    ctx: &StepContext,
    i: usize,
    attempt: i64,
    attempt_id: i64,
    permit: OwnedSemaphorePermit,
) -> Result<Ran, StoreError> {
    let step = &ctx.job.steps[i];
    ctx.store.delegate(attempt_id, &step.runs_on).await?;
    let since = ctx.clock.now();
    let (mut asked, mut taken, mut seen, mut raised) = (false, false, 0_i64, false);
    let ran = loop {
        if *ctx.cancel.borrow() && !asked {
            asked = true;
            if !ctx.store.cancel_delegated(attempt_id).await? {
                break Ran::NotTaken;
            }
        }
        let Some(d) = ctx.store.delegation(attempt_id).await? else {
            break Ran::Failed("the record of the step's hand-over is gone".to_owned());
        };
        let node = d.node.clone().unwrap_or_default();
        if let Some(outcome) = d.outcome {
            break serde_json::from_value(outcome).unwrap_or_else(|e| {
                Ran::Failed(format!(
                    "node `{node}` recorded an end of the step that cannot be read: {e}"
                ))
            });
        }
        if d.daemon_id.is_some() {
            if !taken {
                taken = true;
                ctx.live[i].running(attempt);
                tracing::info!(run = ctx.run_id, step = step.name, node, "step taken");
            }
            if d.progress > seen {
                ctx.live[i]
                    .progress
                    .add(usize::try_from(d.progress - seen).unwrap_or(0));
                seen = d.progress;
            }
            if d.taker_gone {
                break Ran::Failed(format!(
                    "node `{node}` stopped (its daemon ended, restarted or was declared dead) \
                     while the step ran there; how the step ended is unknown"
                ));
            }
        } else if !raised && !asked {
            let waited = (ctx.clock.now() - since).to_std().unwrap_or_default();
            if waited >= ctx.job.node_wait {
                raised = true;
                no_node(ctx, i).await?;
            }
        }
        tokio::time::sleep(LOOK_EVERY).await;
    };
    ctx.live[i].running(0);
    drop(permit);
    Ok(ran)
}

/// A handed-over step no node took within the job's `node_wait`: an incident (the step goes
/// on waiting), worded after whether a live node has its labels.
async fn no_node(ctx: &StepContext, i: usize) -> Result<(), StoreError> {
    let step = &ctx.job.steps[i];
    let labels = step.runs_on.join(", ");
    let nodes = ctx
        .store
        .nodes(ctx.clock.now(), ctx.settings.node.timeout)
        .await?;
    let alive = nodes
        .iter()
        .filter(|n| n.alive && step.runs_on_node(&n.labels))
        .map(|n| format!("`{}`", n.name))
        .collect::<Vec<_>>();
    let why = if alive.is_empty() {
        "none is alive".to_owned()
    } else {
        format!("{} is alive but did not take it", alive.join(", "))
    };
    let waited = crate::model::values::format_duration(ctx.job.node_wait);
    tracing::warn!(
        run = ctx.run_id,
        step = step.name,
        "no node labelled {labels} took the step: {why}"
    );
    crate::incident::raise(
        ctx.store.as_ref(),
        &ctx.settings,
        crate::incident::Raise {
            severity: ctx.settings.incidents.severity,
            job: &ctx.job.name,
            run_id: Some(ctx.run_id),
            step: Some(&step.name),
            failure_class: "no node",
            summary: format!(
                "step `{}` of run {} of `{}` has waited {waited} (node_wait) for a live node \
                 labelled {labels}; {why}",
                step.name, ctx.run_id, ctx.job.name
            ),
            log_excerpt: String::new(),
            rule: None,
            at: ctx.clock.now(),
        },
    )
    .await?;
    Ok(())
}

/// What a node records as the end of a handed-over step that an earlier daemon of it left:
/// it failed, for `why`.
pub fn left_outcome(why: &str) -> serde_json::Value {
    serde_json::to_value(Ran::Failed(why.to_owned())).unwrap_or_default()
}

/// Runs on this node a step another node's run handed over (`work`, taken by this daemon,
/// `daemon_id`) and records how its process ended. `stop` is set when this daemon stops its
/// work (shutdown past its grace, or another node declared it dead): the process is stopped
/// and its run told that the node stopped it.
pub async fn carry_out(
    settings: &Settings,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    daemon_id: i64,
    work: Delegated,
    stop: watch::Receiver<bool>,
) -> Result<(), StoreError> {
    let ran = run_here(settings, catalog, store.clone(), clock, &work, stop).await?;
    let outcome = serde_json::to_value(&ran).unwrap_or_default();
    // The driver waits for this end: a database out of reach is waited for (a daemon
    // declared dead meanwhile writes nothing, and its driver reads that it is gone).
    let mut tries = 0;
    loop {
        match store
            .end_delegated(work.attempt_id, daemon_id, &outcome)
            .await
        {
            Ok(true) => return Ok(()),
            Ok(false) => {
                tracing::warn!(
                    run = work.run_id,
                    step = work.step,
                    "the end of a handed-over step was recorded already"
                );
                return Ok(());
            }
            Err(e) if e.is_transient() && tries < END_TRIES => {
                tries += 1;
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Renders and runs the handed-over step `work` with this node's definitions and settings.
async fn run_here(
    settings: &Settings,
    catalog: Arc<Catalog>,
    store: Arc<dyn Store>,
    clock: SharedClock,
    work: &Delegated,
    stop: watch::Receiver<bool>,
) -> Result<Ran, StoreError> {
    let node = settings.node.name.clone();
    let Some(run) = store.get_run_row(work.run_id).await? else {
        return Ok(Ran::Failed(format!("run {} is not recorded", work.run_id)));
    };
    let Some(job) = catalog.jobs.get(&work.job).cloned() else {
        return Ok(Ran::Failed(format!(
            "job `{}` is not defined on node `{node}`: deploy the same definitions to every node",
            work.job
        )));
    };
    if job.digest != run.job_digest {
        return Ok(Ran::Failed(format!(
            "job `{}` on node `{node}` is not the definition run {} started with: deploy the \
             same definitions to every node (and `unyo reload` them)",
            work.job, work.run_id
        )));
    }
    let Some(i) = job.steps.iter().position(|s| s.name == work.step) else {
        return Ok(Ran::Failed(format!(
            "job `{}` on node `{node}` has no step `{}`",
            work.job, work.step
        )));
    };
    let (halt_tx, halt_rx) = watch::channel(false);
    let (_drain_tx, drain_rx) = watch::channel(false);
    let started = Started {
        run_id: run.id,
        job,
        params: super::params::from_record(&run.params),
        // The secret parameters of a queued run come from `from_env`: this node's.
        secrets: Default::default(),
        reason: run.comment.clone(),
        business_date: run.business_date,
        fiscal_year: run.fiscal_year,
        parallel: 1,
        resume: Vec::new(),
        clock,
    };
    let ctx = StepContext::new(
        settings,
        catalog,
        store.clone(),
        started,
        halt_rx,
        drain_rx,
        Arc::new(|_| {}),
    );
    let step = &ctx.job.steps[i];
    let logs = settings.log_dir.join(&ctx.job.name);
    if let Err(e) = std::fs::create_dir_all(&logs) {
        tracing::warn!("cannot create {}: {e}", logs.display());
    }
    let log_path = logs.join(format!("{}.{}.{}.log", run.id, step.name, work.attempt));
    let cmd = match prepare(&ctx, step, work.attempt, log_path.clone()) {
        Ok(cmd) => cmd,
        Err(e) => return Ok(Ran::Failed(format!("on node `{node}`: {e}"))),
    };
    let progress = cmd.progress.clone();
    let mut command = program_record(&cmd.program);
    command["node"] = serde_json::Value::from(node.as_str());
    store
        .delegated_started(work.attempt_id, &command, &log_path.display().to_string())
        .await?;
    tracing::info!(
        run = run.id,
        step = step.name,
        attempt = work.attempt,
        "running a step handed over by another node"
    );

    let running = spawn_attempt(&ctx, &cmd, work.attempt_id, None);
    tokio::pin!(running);
    // Why this node stopped the process, when it was this node's doing.
    let mut stopped_here: Option<String> = None;
    let mut halted = false;
    let (mut recorded, mut last_progress) = (0_u64, tokio::time::Instant::now());
    let ran = loop {
        tokio::select! {
            ran = &mut running => break ran?,
            () = tokio::time::sleep(LOOK_EVERY), if !halted => {
                if *stop.borrow() {
                    stopped_here = Some(format!(
                        "node `{node}` stopped while the step ran there (its process was \
                         stopped)"
                    ));
                } else {
                    match store.delegation(work.attempt_id).await {
                        Ok(Some(d)) if d.cancel || !d.run_running => {
                            let _ = ctx.stopped.set(Stop::Operator);
                        }
                        Ok(_) => {}
                        Err(e) => tracing::warn!(run = run.id, "cannot read the step's record: {e}"),
                    }
                    let bytes = progress.bytes();
                    if bytes != recorded && last_progress.elapsed() >= PROGRESS_EVERY {
                        store
                            .delegated_progress(work.attempt_id, i64::try_from(bytes).unwrap_or(i64::MAX))
                            .await?;
                        (recorded, last_progress) = (bytes, tokio::time::Instant::now());
                    }
                }
                if stopped_here.is_some() || ctx.stopped.get().is_some() {
                    halted = true;
                    let _ = halt_tx.send(true);
                }
            }
        }
    };
    mask_log(&ctx, &log_path).await;
    Ok(match (ran, stopped_here) {
        (_, Some(why)) => Ran::Failed(why),
        (Ran::Process(mut out), None) => {
            out.stdout_tail = mask_secrets(&ctx, out.stdout_tail);
            out.stderr_tail = mask_secrets(&ctx, out.stderr_tail);
            Ran::Process(out)
        }
        (other, None) => other,
    })
}
