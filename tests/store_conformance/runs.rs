//! Contracts of runs, steps and attempts: recording them, their statuses, listings, the
//! queue (claim, take over, defer) and cancel requests.

use unyo::store::{
    AttemptStatus, CancelOutcome, NewRun, RunFilter, RunStatus, StepStatus, Trigger,
};

use crate::fixtures::{Db, all_runs, at, attempt, day, ended, finished, queued, race, running};

pub async fn create_run_records_the_run_and_its_pending_steps_in_order(db: &Db) {
    let mut run = running("backup", &["dump", "verify", "notify"]);
    run.schedule = Some("nightly".into());
    run.comment = Some("month end".into());
    run.business_date_given = true;
    run.outside_window = Some("the auditor asked".into());
    let id = db.create_run(&run).await.expect("create");
    let second = db
        .create_run(&running("extract", &["only"]))
        .await
        .expect("create");
    assert!(second > id, "ids grow: {id} then {second}");

    let d = db.get_run(id).await.expect("get").expect("recorded");
    let r = &d.run;
    assert_eq!(r.id, id);
    assert_eq!(
        (r.job.as_str(), r.trigger, r.status),
        ("backup", Trigger::Manual, RunStatus::Running)
    );
    assert_eq!(r.params, run.params);
    assert_eq!((r.business_date, r.fiscal_year), (day(), 2026));
    assert_eq!(
        (r.queued_at, r.started_at, r.ended_at),
        (at(0), Some(at(0)), None)
    );
    assert_eq!(
        (r.requested_by.as_str(), r.host.as_str()),
        ("operator", "ops1")
    );
    assert_eq!(
        (&r.job_digest, &r.catalog_digest),
        (&run.job_digest, &run.catalog_digest)
    );
    assert_eq!(r.owner.as_deref(), Some("ops1:100:1"));
    assert_eq!(r.schedule.as_deref(), Some("nightly"));
    assert_eq!((r.rerun_of, r.reason.as_deref()), (None, None));
    assert_eq!(r.comment.as_deref(), Some("month end"));
    assert!(r.business_date_given);
    assert_eq!(r.outside_window.as_deref(), Some("the auditor asked"));
    let steps: Vec<(&str, i64, StepStatus, i64)> = d
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.position, s.status, s.attempts))
        .collect();
    assert_eq!(
        steps,
        [
            ("dump", 0, StepStatus::Pending, 0),
            ("verify", 1, StepStatus::Pending, 0),
            ("notify", 2, StepStatus::Pending, 0)
        ]
    );
    assert!(
        d.steps
            .iter()
            .all(|s| s.started_at.is_none() && s.ended_at.is_none())
    );
    assert!(d.attempts.is_empty());
}

pub async fn create_run_queued_has_no_start_and_keeps_not_before(db: &Db) {
    let mut run = queued("backup", &["dump"]);
    run.not_before = Some(at(30));
    let id = db.create_run(&run).await.expect("create");
    let r = db.get_run(id).await.expect("get").expect("recorded").run;
    assert_eq!(r.status, RunStatus::Queued);
    assert_eq!((r.started_at, r.owner), (None, None));
    assert_eq!(r.not_before, Some(at(30)));
}

pub async fn create_run_of_a_rerun_keeps_steps_as_succeeded(db: &Db) {
    let old = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let run = NewRun {
        trigger: Trigger::Rerun,
        rerun_of: Some(old),
        kept_steps: vec!["dump".into()],
        ..running("backup", &["dump", "verify"])
    };
    let id = db.create_run(&run).await.expect("create");
    let d = db.get_run(id).await.expect("get").expect("recorded");
    assert_eq!(d.run.rerun_of, Some(old));
    assert_eq!(d.steps[0].status, StepStatus::Succeeded);
    assert_eq!(
        d.steps[0].reason.as_deref(),
        Some(format!("kept from run {old}").as_str())
    );
    assert_eq!(d.steps[1].status, StepStatus::Pending);
}

pub async fn set_run_status_sets_start_once_and_end_when_final(db: &Db) {
    let id = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    db.set_run_status(id, RunStatus::Running, at(1), Some("claimed"))
        .await
        .expect("running");
    db.set_run_status(id, RunStatus::Running, at(2), None)
        .await
        .expect("running again");
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(
        (r.status, r.started_at, r.ended_at),
        (RunStatus::Running, Some(at(1)), None)
    );
    assert_eq!(
        r.reason.as_deref(),
        Some("claimed"),
        "no reason given keeps the last"
    );
    db.set_run_status(id, RunStatus::Failed, at(3), Some("step `dump` failed"))
        .await
        .expect("failed");
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(
        (r.status, r.started_at, r.ended_at),
        (RunStatus::Failed, Some(at(1)), Some(at(3)))
    );
    assert_eq!(r.reason.as_deref(), Some("step `dump` failed"));
}

pub async fn set_run_status_final_cancels_the_steps_that_never_started(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump", "verify"]))
        .await
        .expect("create");
    let a = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    db.finish_attempt(
        a,
        &ended(AttemptStatus::Succeeded, StepStatus::Succeeded, at(2)),
    )
    .await
    .expect("finish");
    db.set_run_status(id, RunStatus::Cancelled, at(3), Some("cancelled by alice"))
        .await
        .expect("cancel");
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(
        (d.steps[0].status, d.steps[0].ended_at),
        (StepStatus::Succeeded, Some(at(2)))
    );
    assert_eq!(d.steps[1].status, StepStatus::Cancelled);
    assert_eq!(d.steps[1].reason.as_deref(), Some("cancelled by alice"));
    assert_eq!(d.steps[1].ended_at, Some(at(3)));
}

pub async fn set_run_status_interrupted_ends_running_steps_and_attempts(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump", "upload", "verify"]))
        .await
        .expect("create");
    let dump = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    let upload = db
        .start_attempt(&attempt(id, "upload", 1, at(1)))
        .await
        .expect("attempt");
    let mut retry = ended(AttemptStatus::Failed, StepStatus::WaitingRetry, at(2));
    retry.retry_at = Some(at(10));
    db.finish_attempt(upload, &retry).await.expect("finish");
    db.set_run_status(
        id,
        RunStatus::Interrupted,
        at(4),
        Some("the daemon stopped"),
    )
    .await
    .expect("interrupt");
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(
        (d.run.status, d.run.ended_at),
        (RunStatus::Interrupted, Some(at(4)))
    );
    let dump_row = d
        .attempts
        .iter()
        .find(|a| a.id == dump)
        .expect("dump attempt");
    assert_eq!(
        (dump_row.status, dump_row.ended_at),
        (AttemptStatus::Interrupted, Some(at(4)))
    );
    let upload_row = d
        .attempts
        .iter()
        .find(|a| a.id == upload)
        .expect("upload attempt");
    assert_eq!(
        upload_row.status,
        AttemptStatus::Failed,
        "an ended attempt stays as it ended"
    );
    for step in &d.steps[..2] {
        assert_eq!(step.status, StepStatus::Interrupted, "{}", step.name);
        assert_eq!(step.ended_at, Some(at(4)));
        assert_eq!(step.retry_at, None);
        assert_eq!(step.reason.as_deref(), Some("the daemon stopped"));
    }
    assert_eq!(d.steps[2].status, StepStatus::Cancelled, "never started");
}

pub async fn start_attempt_marks_the_step_running_and_counts_attempts(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    let first = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    let mut retry = ended(AttemptStatus::Failed, StepStatus::WaitingRetry, at(2));
    retry.retry_at = Some(at(5));
    db.finish_attempt(first, &retry).await.expect("finish");
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(
        (d.steps[0].status, d.steps[0].retry_at),
        (StepStatus::WaitingRetry, Some(at(5)))
    );
    let second = db
        .start_attempt(&attempt(id, "dump", 2, at(5)))
        .await
        .expect("attempt");
    assert!(second > first);
    let d = db.get_run(id).await.expect("get").expect("run");
    let s = &d.steps[0];
    assert_eq!(
        (s.status, s.attempts, s.retry_at),
        (StepStatus::Running, 2, None)
    );
    assert_eq!(
        s.started_at,
        Some(at(1)),
        "the step started with its first attempt"
    );
    let a = &d.attempts[1];
    assert_eq!(
        (a.id, a.step.as_str(), a.attempt, a.status),
        (second, "dump", 2, AttemptStatus::Running)
    );
    assert_eq!(a.command, serde_json::json!({"argv": ["pg_dump", "city"]}));
    assert_eq!(a.log_path, format!("/var/log/unyo/{id}.dump.2.log"));
    assert_eq!((a.started_at, a.ended_at, a.pid), (at(5), None, None));
    assert_eq!(
        d.attempts.iter().map(|a| a.id).collect::<Vec<_>>(),
        [first, second]
    );
}

pub async fn set_attempt_pid_records_the_process_id(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    let a = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    db.set_attempt_pid(a, 4242).await.expect("pid");
    let mut end = ended(AttemptStatus::Succeeded, StepStatus::Succeeded, at(2));
    end.pid = Some(9999);
    db.finish_attempt(a, &end).await.expect("finish");
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(
        d.attempts[0].pid,
        Some(4242),
        "the recorded pid is kept at the end"
    );
}

pub async fn finish_attempt_records_how_it_ended_and_the_step_status(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump", "verify"]))
        .await
        .expect("create");
    let a = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    let end = unyo::store::AttemptEnd {
        pid: Some(77),
        exit_code: None,
        signal: Some(9),
        error: Some("killed after its timeout".into()),
        stdout_tail: "partial".into(),
        stderr_tail: "disk full".into(),
        log_bytes: 11,
        log_dropped: 2,
        step_reason: Some("timed out".into()),
        rule: Some("runbook#3: timeout".into()),
        action: Some("continue".into()),
        remediation: Some(serde_json::json!({"command": "cleanup", "status": "succeeded"})),
        continued: true,
        ..ended(AttemptStatus::TimedOut, StepStatus::Failed, at(3))
    };
    db.finish_attempt(a, &end).await.expect("finish");
    let d = db.get_run(id).await.expect("get").expect("run");
    let r = &d.attempts[0];
    assert_eq!(
        (r.status, r.ended_at, r.pid),
        (AttemptStatus::TimedOut, Some(at(3)), Some(77))
    );
    assert_eq!((r.exit_code, r.signal), (None, Some(9)));
    assert_eq!(r.error.as_deref(), Some("killed after its timeout"));
    assert_eq!(
        (r.stdout_tail.as_str(), r.stderr_tail.as_str()),
        ("partial", "disk full")
    );
    assert_eq!((r.log_bytes, r.log_dropped), (11, 2));
    assert_eq!(
        (r.rule.as_deref(), r.action.as_deref()),
        (Some("runbook#3: timeout"), Some("continue"))
    );
    assert_eq!(r.remediation, end.remediation);
    let s = &d.steps[0];
    assert_eq!(
        (s.status, s.ended_at, s.continued),
        (StepStatus::Failed, Some(at(3)), true)
    );
    assert_eq!(s.reason.as_deref(), Some("timed out"));
    assert_eq!(
        d.steps[1].status,
        StepStatus::Pending,
        "other steps untouched"
    );
}

pub async fn finish_attempt_waiting_retry_leaves_the_step_open(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    let a = db
        .start_attempt(&attempt(id, "dump", 1, at(1)))
        .await
        .expect("attempt");
    let mut end = ended(AttemptStatus::Failed, StepStatus::WaitingRetry, at(2));
    end.retry_at = Some(at(7));
    end.step_reason = Some("retry 1 of 3 in 5m".into());
    db.finish_attempt(a, &end).await.expect("finish");
    let s = db
        .get_run(id)
        .await
        .expect("get")
        .expect("run")
        .steps
        .remove(0);
    assert_eq!(
        (s.status, s.ended_at, s.retry_at),
        (StepStatus::WaitingRetry, None, Some(at(7)))
    );
    assert_eq!(s.reason.as_deref(), Some("retry 1 of 3 in 5m"));
}

pub async fn end_step_ends_a_step_that_never_ran(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump", "verify"]))
        .await
        .expect("create");
    db.end_step(
        id,
        "verify",
        StepStatus::Skipped,
        at(2),
        "needs `dump`, which failed",
    )
    .await
    .expect("skip");
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(d.steps[0].status, StepStatus::Pending);
    let s = &d.steps[1];
    assert_eq!((s.status, s.ended_at), (StepStatus::Skipped, Some(at(2))));
    assert_eq!(s.reason.as_deref(), Some("needs `dump`, which failed"));
    assert_eq!(s.attempts, 0);
}

/// Writes are committed in the order they were called, whatever order they are awaited in.
pub async fn writes_commit_in_the_order_they_were_called(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    let first = db.end_step(id, "dump", StepStatus::Skipped, at(1), "first");
    let second = db.end_step(id, "dump", StepStatus::Cancelled, at(2), "second");
    second.await.expect("second");
    first.await.expect("first");
    let s = db
        .get_run(id)
        .await
        .expect("get")
        .expect("run")
        .steps
        .remove(0);
    assert_eq!(
        (s.status, s.reason.as_deref()),
        (StepStatus::Cancelled, Some("second"))
    );
}

pub async fn list_runs_newest_first_filtered_and_limited(db: &Db) {
    let a = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let b = finished(&**db, "extract", RunStatus::Succeeded, at(1)).await;
    let c = finished(&**db, "backup", RunStatus::Succeeded, at(2)).await;
    let ids = |rows: Vec<unyo::store::RunRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(all_runs(&**db).await), [c, b, a]);
    let list = |job: Option<&str>, status: Option<RunStatus>, limit: i64| {
        db.list_runs(&RunFilter {
            job: job.map(str::to_owned),
            status,
            limit,
        })
    };
    assert_eq!(
        ids(list(Some("backup"), None, 10).await.expect("list")),
        [c, a]
    );
    assert_eq!(
        ids(list(None, Some(RunStatus::Succeeded), 10)
            .await
            .expect("list")),
        [c, b]
    );
    assert_eq!(
        ids(list(Some("backup"), Some(RunStatus::Failed), 10)
            .await
            .expect("list")),
        [a]
    );
    assert_eq!(ids(list(None, None, 2).await.expect("list")), [c, b]);
    assert!(
        list(Some("nothing"), None, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn get_run_of_an_unknown_id_is_none(db: &Db) {
    assert!(db.get_run(1).await.expect("get").is_none());
    let id = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    assert!(db.get_run(id + 1).await.expect("get").is_none());
}

pub async fn get_run_row_is_the_runs_row_of_get_run_without_steps(db: &Db) {
    assert!(db.get_run_row(1).await.expect("get").is_none());
    let id = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    let row = db.get_run_row(id).await.expect("get").expect("the run");
    let detail = db.get_run(id).await.expect("get").expect("the run");
    assert_eq!(row.id, id);
    assert_eq!(row.job, "backup");
    assert_eq!(row.status, RunStatus::Succeeded);
    assert_eq!(row.ended_at, Some(at(0)));
    assert_eq!(
        serde_json::to_value(&row).expect("json"),
        serde_json::to_value(&detail.run).expect("json"),
        "the same row as get_run's"
    );
    assert!(db.get_run_row(id + 1).await.expect("get").is_none());
}

pub async fn succeeded_only_for_a_succeeded_run_of_that_job_and_day(db: &Db) {
    assert!(!db.succeeded("backup", day()).await.expect("read"));
    finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    assert!(!db.succeeded("backup", day()).await.expect("read"));
    finished(&**db, "backup", RunStatus::Succeeded, at(1)).await;
    assert!(db.succeeded("backup", day()).await.expect("read"));
    assert!(!db.succeeded("extract", day()).await.expect("read"));
    assert!(
        !db.succeeded("backup", day().succ_opt().expect("date"))
            .await
            .expect("read")
    );
}

pub async fn defer_run_sets_when_a_queued_run_may_start(db: &Db) {
    let q = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    db.defer_run(q, at(30), "waiting for window `night`")
        .await
        .expect("defer");
    let r = db.get_run(q).await.expect("get").expect("run").run;
    assert_eq!((r.status, r.not_before), (RunStatus::Queued, Some(at(30))));
    assert_eq!(r.reason.as_deref(), Some("waiting for window `night`"));
    let running_id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    db.defer_run(running_id, at(30), "too late")
        .await
        .expect("defer");
    let r = db.get_run(running_id).await.expect("get").expect("run").run;
    assert_eq!(
        (r.not_before, r.reason),
        (None, None),
        "only a queued run is deferred"
    );
}

pub async fn active_runs_lists_queued_and_running_oldest_first(db: &Db) {
    let done = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    let q = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    let r = db
        .create_run(&running("extract", &["only"]))
        .await
        .expect("create");
    let q2 = db
        .create_run(&queued("report", &["only"]))
        .await
        .expect("create");
    let active = db.active_runs().await.expect("active");
    let got: Vec<(i64, RunStatus)> = active.iter().map(|r| (r.id, r.status)).collect();
    assert_eq!(
        got,
        [
            (q, RunStatus::Queued),
            (r, RunStatus::Running),
            (q2, RunStatus::Queued)
        ]
    );
    assert!(got.iter().all(|(id, _)| *id != done));
}

pub async fn claim_run_takes_a_queued_run_once(db: &Db) {
    let id = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    db.defer_run(id, at(5), "waiting for `restore`")
        .await
        .expect("defer");
    assert!(db.claim_run(id, "ops1:1:1", at(6)).await.expect("claim"));
    assert!(!db.claim_run(id, "ops2:2:2", at(7)).await.expect("claim"));
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(r.status, RunStatus::Running);
    assert_eq!(
        (r.owner.as_deref(), r.started_at),
        (Some("ops1:1:1"), Some(at(6)))
    );
    assert_eq!(r.reason, None, "the wait's reason is gone");
    let cancelled = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    db.request_cancel(cancelled, "alice", at(1))
        .await
        .expect("cancel");
    assert!(
        !db.claim_run(cancelled, "ops1:1:1", at(2))
            .await
            .expect("claim")
    );
    assert!(
        !db.claim_run(cancelled + 100, "ops1:1:1", at(2))
            .await
            .expect("claim unknown")
    );
}

pub async fn claim_run_has_one_winner_among_racing_daemons(db: &Db) {
    let id = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    let won = race(db.racers(8).await, |i, s| async move {
        s.claim_run(id, &format!("ops{i}:1:1"), at(1))
            .await
            .expect("claim")
    })
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = won.iter().position(|w| *w).expect("a winner");
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(r.owner, Some(format!("ops{winner}:1:1")));
}

pub async fn take_over_moves_a_running_run_from_its_gone_owner(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    assert!(
        !db.take_over(id, Some("elsewhere:9:9"), "ops2:2:2")
            .await
            .expect("take")
    );
    assert!(!db.take_over(id, None, "ops2:2:2").await.expect("take"));
    assert!(
        db.take_over(id, Some("ops1:100:1"), "ops2:2:2")
            .await
            .expect("take")
    );
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(
        (r.status, r.owner.as_deref()),
        (RunStatus::Running, Some("ops2:2:2"))
    );
    assert!(
        !db.take_over(id, Some("ops1:100:1"), "ops3:3:3")
            .await
            .expect("take again")
    );
    let ownerless = db
        .create_run(&NewRun {
            owner: None,
            ..running("backup", &["dump"])
        })
        .await
        .expect("create");
    assert!(
        db.take_over(ownerless, None, "ops2:2:2")
            .await
            .expect("take ownerless")
    );
    let q = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    assert!(
        !db.take_over(q, None, "ops2:2:2")
            .await
            .expect("a queued run is claimed, not taken")
    );
    let done = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    assert!(
        !db.take_over(done, Some("ops1:100:1"), "ops2:2:2")
            .await
            .expect("ended")
    );
    assert!(
        !db.take_over(done + 100, None, "ops2:2:2")
            .await
            .expect("unknown")
    );
}

pub async fn take_over_has_one_winner_among_racing_daemons(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    let won = race(db.racers(8).await, |i, s| async move {
        s.take_over(id, Some("ops1:100:1"), &format!("ops{i}:2:2"))
            .await
            .expect("take")
    })
    .await;
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let winner = won.iter().position(|w| *w).expect("a winner");
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(r.owner, Some(format!("ops{winner}:2:2")));
}

pub async fn request_cancel_cancels_a_queued_run_at_once(db: &Db) {
    let id = db
        .create_run(&queued("backup", &["dump", "verify"]))
        .await
        .expect("create");
    assert_eq!(
        db.request_cancel(id, "alice", at(3)).await.expect("cancel"),
        CancelOutcome::Cancelled
    );
    let d = db.get_run(id).await.expect("get").expect("run");
    assert_eq!(
        (d.run.status, d.run.ended_at),
        (RunStatus::Cancelled, Some(at(3)))
    );
    let why = "cancelled by alice before it started";
    assert_eq!(d.run.reason.as_deref(), Some(why));
    for s in &d.steps {
        assert_eq!(
            (s.status, s.reason.as_deref(), s.ended_at),
            (StepStatus::Cancelled, Some(why), Some(at(3)))
        );
    }
    assert_eq!(
        db.cancel_requested(id).await.expect("read").as_deref(),
        Some("alice")
    );
    assert_eq!(
        db.request_cancel(id, "bob", at(4)).await.expect("again"),
        CancelOutcome::Ended(RunStatus::Cancelled)
    );
}

pub async fn request_cancel_of_a_running_run_asks_its_owner(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    assert_eq!(
        db.request_cancel(id, "alice", at(3)).await.expect("cancel"),
        CancelOutcome::Requested {
            owner: Some("ops1:100:1".into())
        }
    );
    let r = db.get_run(id).await.expect("get").expect("run").run;
    assert_eq!(
        (r.status, r.ended_at),
        (RunStatus::Running, None),
        "its owner stops it"
    );
    assert_eq!(
        db.cancel_requested(id).await.expect("read").as_deref(),
        Some("alice")
    );
}

pub async fn request_cancel_of_an_ended_or_unknown_run_changes_nothing(db: &Db) {
    let id = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    assert_eq!(
        db.request_cancel(id, "alice", at(3)).await.expect("cancel"),
        CancelOutcome::Ended(RunStatus::Succeeded)
    );
    assert_eq!(db.cancel_requested(id).await.expect("read"), None);
    assert_eq!(
        db.request_cancel(id + 1, "alice", at(3))
            .await
            .expect("cancel"),
        CancelOutcome::Unknown
    );
    assert_eq!(all_runs(&**db).await.len(), 1);
}

pub async fn cancel_requested_is_none_until_someone_asks(db: &Db) {
    let id = db
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("create");
    assert_eq!(db.cancel_requested(id).await.expect("read"), None);
    assert_eq!(
        db.cancel_requested(id + 1).await.expect("unknown run"),
        None
    );
}

/// Writes that name a run or attempt nobody recorded leave the database as it was.
pub async fn writes_naming_an_unknown_run_change_nothing(db: &Db) {
    let id = db
        .create_run(&queued("backup", &["dump"]))
        .await
        .expect("create");
    let before = db.get_run(id).await.expect("get").expect("run");
    let ghost = id + 100;
    db.set_run_status(ghost, RunStatus::Failed, at(1), Some("x"))
        .await
        .expect("status of an unknown run");
    db.end_step(ghost, "dump", StepStatus::Skipped, at(1), "x")
        .await
        .expect("step of an unknown run");
    db.end_step(id, "nothing", StepStatus::Skipped, at(1), "x")
        .await
        .expect("unknown step");
    db.defer_run(ghost, at(5), "x")
        .await
        .expect("defer an unknown run");
    db.set_attempt_pid(ghost, 1)
        .await
        .expect("pid of an unknown attempt");
    db.finish_attempt(
        ghost,
        &ended(AttemptStatus::Failed, StepStatus::Failed, at(2)),
    )
    .await
    .expect_err("there is no such attempt to finish");
    assert_eq!(db.get_run(id).await.expect("get").expect("run"), before);
    assert_eq!(all_runs(&**db).await.len(), 1);
    assert!(db.get_run(ghost).await.expect("get").is_none());
}
