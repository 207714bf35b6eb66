//! The store story: one sequence of operations through the `Store` trait, checked at every
//! step. It runs against SQLite here; the PostgreSQL store will run the same story.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use unyo::model::Severity;
use unyo::store::prelude::*;
use unyo::store::{
    AttemptEnd, AttemptStatus, IncidentOpened, NewAttempt, NewExtract, NewIncident, NewRun,
    NewSlot, RunFilter, RunStatus, SlotOutcome, SqliteStore, StepStatus, Store, Trigger,
};

fn new_run(job: &str, steps: &[&str]) -> NewRun {
    NewRun {
        job: job.to_owned(),
        trigger: Trigger::Manual,
        params: serde_json::json!({"month": "2026-10"}),
        status: RunStatus::Running,
        business_date: NaiveDate::from_ymd_opt(2026, 11, 25).expect("date"),
        fiscal_year: 2026,
        at: Utc
            .with_ymd_and_hms(2026, 11, 25, 1, 2, 3)
            .single()
            .expect("time"),
        requested_by: "operator".to_owned(),
        host: "ops1".to_owned(),
        job_digest: "j".repeat(64),
        catalog_digest: "c".repeat(64),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        owner: Some("ops1:4242:99".to_owned()),
        not_before: None,
        schedule: None,
        rerun_of: None,
        kept_steps: Vec::new(),
        comment: None,
        business_date_given: false,
        outside_window: None,
    }
}

async fn story(store: &dyn Store) {
    let run = new_run("backup", &["dump", "verify", "notify"]);
    let id = store.create_run(&run).await.expect("create");
    let d = store.get_run(id).await.expect("get").expect("exists");
    assert_eq!(d.run.status, RunStatus::Running);
    assert_eq!(d.run.started_at, Some(run.at));
    assert_eq!(d.run.params, run.params);
    assert_eq!(d.run.business_date, run.business_date);
    let names: Vec<&str> = d.steps.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["dump", "verify", "notify"]);
    assert!(d.steps.iter().all(|s| s.status == StepStatus::Pending));

    let t1 = run.at + chrono::Duration::seconds(1);
    let attempt = store
        .start_attempt(&NewAttempt {
            run_id: id,
            step: "dump".into(),
            attempt: 1,
            command: serde_json::json!({"argv": ["pg_dump", "city"]}),
            log_path: "/var/log/unyo/backup/1.dump.1.log".into(),
            started_at: t1,
        })
        .await
        .expect("attempt");
    store.set_attempt_pid(attempt, 4242).await.expect("pid");
    let d = store.get_run(id).await.expect("get").expect("exists");
    assert_eq!(d.steps[0].status, StepStatus::Running);
    assert_eq!(d.steps[0].attempts, 1);
    assert_eq!(d.attempts.len(), 1);
    assert_eq!(d.attempts[0].status, AttemptStatus::Running);
    assert_eq!(d.attempts[0].pid, Some(4242));

    let t2 = t1 + chrono::Duration::seconds(5);
    store
        .finish_attempt(
            attempt,
            &AttemptEnd {
                pid: None,
                status: AttemptStatus::Failed,
                ended_at: t2,
                exit_code: Some(3),
                signal: None,
                error: None,
                stdout_tail: "partial".into(),
                stderr_tail: "disk full".into(),
                log_bytes: 11,
                log_dropped: 0,
                step_status: StepStatus::Failed,
                step_reason: Some("exit 3".into()),
                rule: Some("transient#3".into()),
                action: Some("no retry left (2 used)".into()),
                remediation: None,
                retry_at: None,
                continued: false,
            },
        )
        .await
        .expect("finish");
    store
        .end_step(
            id,
            "verify",
            StepStatus::Skipped,
            t2,
            "needs `dump`, which failed",
        )
        .await
        .expect("skip");
    store
        .end_step(
            id,
            "notify",
            StepStatus::Skipped,
            t2,
            "needs `verify`, which was skipped",
        )
        .await
        .expect("skip");
    store
        .set_run_status(id, RunStatus::Failed, t2, None)
        .await
        .expect("status");

    let d = store.get_run(id).await.expect("get").expect("exists");
    assert_eq!(d.run.status, RunStatus::Failed);
    assert_eq!(d.run.ended_at, Some(t2));
    assert_eq!(d.run.started_at, Some(run.at), "start time kept");
    let a = &d.attempts[0];
    assert_eq!((a.exit_code, a.signal), (Some(3), None));
    assert_eq!(a.stderr_tail, "disk full");
    assert_eq!(a.ended_at, Some(t2));
    assert_eq!(d.steps[0].status, StepStatus::Failed);
    assert_eq!(d.steps[0].reason.as_deref(), Some("exit 3"));
    assert_eq!(d.steps[0].ended_at, Some(t2));
    assert_eq!(d.steps[1].status, StepStatus::Skipped);
    assert_eq!(
        d.steps[1].reason.as_deref(),
        Some("needs `dump`, which failed")
    );

    let other = store
        .create_run(&new_run("extract", &["only"]))
        .await
        .expect("create");
    assert!(other > id);
    let all = store
        .list_runs(&RunFilter {
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![other, id]
    );
    let failed = store
        .list_runs(&RunFilter {
            status: Some(RunStatus::Failed),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].job, "backup");
    let by_job = store
        .list_runs(&RunFilter {
            job: Some("extract".into()),
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(by_job.len(), 1);
    assert!(store.get_run(other + 100).await.expect("get").is_none());
    scheduler_story(store).await;
    extract_story(store, id).await;
}

/// Extracts are recorded as given and listed newest first.
async fn extract_story(store: &dyn Store, run: i64) {
    assert!(store.list_extracts(10).await.expect("list").is_empty());
    let first = NewExtract {
        at: Utc
            .with_ymd_and_hms(2026, 11, 25, 13, 0, 0)
            .single()
            .expect("time"),
        run_id: Some(run),
        job: Some("euc-extract".into()),
        db: "/srv/city/business.db".into(),
        sql_file: "/srv/unyo/queries/residents-by-department.sql".into(),
        out_file: "/srv/city/extracts/tax/residents-2026-10-1.csv".into(),
        encoding: "shift_jis".into(),
        rows: 412,
        sha256: "a".repeat(64),
        columns: serde_json::json!(["id", "name"]),
        params: serde_json::json!({"department": "tax", "month": "10"}),
        user: "operator".into(),
        group: Some("dept-tax".into()),
    };
    let a = store.record_extract(&first).await.expect("record");
    let second = NewExtract {
        run_id: None,
        job: None,
        group: None,
        rows: 0,
        ..first.clone()
    };
    let b = store.record_extract(&second).await.expect("record");
    let rows = store.list_extracts(10).await.expect("list");
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), [b, a]);
    let r = &rows[1];
    assert_eq!(
        (r.at, r.run_id, r.job.as_deref(), r.rows, r.group.as_deref()),
        (
            first.at,
            Some(run),
            Some("euc-extract"),
            412,
            Some("dept-tax")
        )
    );
    assert_eq!(
        (&r.encoding, &r.sha256, &r.out_file),
        (&first.encoding, &first.sha256, &first.out_file)
    );
    assert_eq!((&r.columns, &r.params), (&first.columns, &first.params));
    assert_eq!((rows[0].run_id, rows[0].group.as_deref()), (None, None));
    assert_eq!(store.list_extracts(1).await.expect("list").len(), 1);
}

/// Slots, watermarks, the queue and interruption.
async fn scheduler_story(store: &dyn Store) {
    let t = Utc
        .with_ymd_and_hms(2026, 11, 25, 15, 30, 0)
        .single()
        .expect("time");
    let mut queued = new_run("backup", &["dump"]);
    queued.status = RunStatus::Queued;
    queued.owner = None;
    queued.schedule = Some("nightly".into());
    let slot = |fire: chrono::DateTime<Utc>, outcome: SlotOutcome, run: Option<NewRun>| NewSlot {
        schedule: "nightly".into(),
        job: "backup".into(),
        fire_time: fire,
        due_at: fire,
        outcome,
        reason: None,
        run,
        decided_at: t,
    };
    let earlier = t - chrono::Duration::hours(1);
    let made = store
        .record_slots(
            &[
                slot(earlier, SlotOutcome::Missed, None),
                slot(t, SlotOutcome::Queued, Some(queued.clone())),
            ],
            &[("nightly".to_owned(), t)],
        )
        .await
        .expect("slots");
    assert_eq!(made[0], None);
    let run_id = made[1].expect("a run for the queued slot");
    // The same slot again (a second daemon, a replay): no second run, no second row.
    let again = store
        .record_slots(
            &[slot(t, SlotOutcome::Started, Some(queued))],
            &[("nightly".to_owned(), earlier)],
        )
        .await
        .expect("slots");
    assert_eq!(again, vec![None]);
    let slots = store.list_slots(Some("nightly"), 10).await.expect("list");
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0].outcome, SlotOutcome::Queued);
    assert_eq!(slots[0].run_id, Some(run_id));
    // A watermark never moves back.
    assert_eq!(
        store.watermarks().await.expect("marks"),
        vec![("nightly".to_owned(), t)]
    );
    // The queue: one claim wins.
    let active = store.active_runs().await.expect("active");
    assert!(
        active
            .iter()
            .any(|r| r.id == run_id && r.status == RunStatus::Queued)
    );
    let later = t + chrono::Duration::minutes(5);
    store
        .defer_run(run_id, later, "waiting for window `backup`")
        .await
        .expect("defer");
    let r = store.get_run(run_id).await.expect("get").expect("run");
    assert_eq!(r.run.not_before, Some(later));
    assert_eq!(r.run.reason.as_deref(), Some("waiting for window `backup`"));
    assert!(
        store
            .claim_run(run_id, "ops1:1:1", later)
            .await
            .expect("claim")
    );
    assert!(
        !store
            .claim_run(run_id, "ops2:2:2", later)
            .await
            .expect("claim")
    );
    let r = store.get_run(run_id).await.expect("get").expect("run");
    assert_eq!(r.run.owner.as_deref(), Some("ops1:1:1"));
    assert_eq!(r.run.started_at, Some(later));
    assert_eq!(r.run.reason, None);
    // Interrupted: the running attempt and step are ended with it.
    let a = store
        .start_attempt(&NewAttempt {
            run_id,
            step: "dump".into(),
            attempt: 1,
            command: serde_json::json!({"run": "dump"}),
            log_path: "x".into(),
            started_at: later,
        })
        .await
        .expect("attempt");
    store
        .set_run_status(
            run_id,
            RunStatus::Interrupted,
            later,
            Some("the daemon died"),
        )
        .await
        .expect("interrupt");
    let r = store.get_run(run_id).await.expect("get").expect("run");
    assert_eq!(r.run.status, RunStatus::Interrupted);
    assert_eq!(r.steps[0].status, StepStatus::Interrupted);
    assert_eq!(r.attempts[0].id, a);
    assert_eq!(r.attempts[0].status, AttemptStatus::Interrupted);
    assert!(store.succeeded("backup", r.run.business_date).await.is_ok());
    let day = NaiveDate::from_ymd_opt(2026, 11, 25).expect("date");
    assert!(!store.succeeded("extract", day).await.expect("read"));
    // An occurrence of a higher severity brings its shorter report deadline.
    let incident = |severity, hours| NewIncident {
        at: t,
        severity,
        job: "backup".into(),
        run_id: None,
        step: None,
        failure_class: "exit 3".into(),
        summary: "failed".into(),
        log_excerpt: String::new(),
        rule: None,
        report_deadline: Some(t + chrono::Duration::hours(hours)),
        actor: "unyo".into(),
        occurrences: 1,
    };
    let first = store
        .open_incident(&incident(Severity::Medium, 72))
        .await
        .expect("open");
    assert!(first.new);
    let again = store
        .open_incident(&incident(Severity::High, 24))
        .await
        .expect("occurrence");
    assert_eq!(
        again,
        IncidentOpened {
            id: first.id,
            new: false
        }
    );
    let (row, events) = store
        .get_incident(first.id)
        .await
        .expect("get")
        .expect("row");
    assert_eq!(row.severity, Severity::High);
    assert_eq!(row.occurrences, 2);
    assert_eq!(row.report_deadline, Some(t + chrono::Duration::hours(24)));
    assert_eq!(events.len(), 2);
    // The daemon's heartbeat.
    let d = store
        .register_daemon("ops1", 77, "0.1.0", t)
        .await
        .expect("register");
    store.heartbeat(d, later, true).await.expect("beat");
    let ds = store.daemons(5).await.expect("daemons");
    assert_eq!(ds[0].id, d);
    assert_eq!(ds[0].heartbeat_at, later);
    assert_eq!(ds[0].stopped_at, Some(later));
}

#[tokio::test]
async fn sqlite_story() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("sub/unyo.db");
    let store = SqliteStore::open(&path).await.expect("open");
    story(&store).await;
    drop(store);
    // Reopening applies no migration twice and sees everything committed.
    let again = SqliteStore::open(&path).await.expect("reopen");
    let runs = again
        .list_runs(&RunFilter {
            limit: 10,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(runs.len(), 3);
}

/// Two processes' worth of writers on one file: every write lands, none fails on a lock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_concurrent_writers_all_land() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("unyo.db");
    let a: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
    let b: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).await.expect("open"));
    let mut tasks = Vec::new();
    for store in [a.clone(), b.clone()] {
        tasks.push(tokio::spawn(async move {
            for i in 0..50 {
                let id = store
                    .create_run(&new_run(&format!("job{i}"), &["s1", "s2"]))
                    .await
                    .expect("create");
                store
                    .set_run_status(id, RunStatus::Succeeded, Utc::now(), None)
                    .await
                    .expect("status");
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let runs = a
        .list_runs(&RunFilter {
            status: Some(RunStatus::Succeeded),
            limit: 1000,
            ..RunFilter::default()
        })
        .await
        .expect("list");
    assert_eq!(runs.len(), 100);
}
