//! The store story: one sequence of operations through the `Store` trait, checked at every
//! step. It runs against SQLite here; the PostgreSQL store will run the same story.

use std::sync::Arc;

use chrono::{NaiveDate, TimeZone, Utc};
use unyo::store::{
    AttemptEnd, AttemptStatus, NewAttempt, NewRun, RunFilter, RunStatus, SqliteStore, StepStatus,
    Store, Trigger,
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
            log_path: "/var/log/unyo/backup/1/dump.1.log".into(),
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
    assert_eq!(runs.len(), 2);
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
