//! Tests of the daemon's loop: reaping finished run tasks, when the loop wakes, and a
//! planning pass on a clock the test sets.

use super::*;
use chrono::{DateTime, Utc};

use crate::domain::clock::{Clock, ManualClock};
use crate::store::{RunStatus, SlotOutcome, Trigger};

/// A queued run is looked for at least every `QUEUE_POLL`, well within a second: the
/// main loop never sleeps past its next queue poll, however far off the next slot is;
/// a slot due sooner wakes it sooner, and nothing keeps it asleep past `MAX_SLEEP`.
#[test]
fn the_loop_wakes_for_the_next_queue_poll() {
    assert!(QUEUE_POLL < Duration::from_secs(1));
    let now = tokio::time::Instant::now();
    let poll = now + QUEUE_POLL;
    assert_eq!(wake_at(now, poll, None), poll);
    assert_eq!(wake_at(now, poll, Some(Duration::from_secs(3600))), poll);
    let soon = Duration::from_millis(100);
    assert_eq!(wake_at(now, poll, Some(soon)), now + soon);
    let far = now + Duration::from_secs(3600);
    assert_eq!(wake_at(now, far, None), now + MAX_SLEEP);
}

/// Regression: every run's task stayed in the `JoinSet` until shutdown (the daemon grew
/// by about 2.7 KB per run).
#[tokio::test]
async fn finished_run_tasks_are_reaped() {
    let mut tasks = JoinSet::new();
    let (tx, mut rx) = mpsc::unbounded_channel();
    for _ in 0..100 {
        let tx = tx.clone();
        tasks.spawn(async move {
            let _ = tx.send(());
        });
    }
    for _ in 0..100 {
        rx.recv().await.expect("every task ran");
    }
    let mut joined = 0;
    while !tasks.is_empty() {
        joined += reap(&mut tasks);
        tokio::task::yield_now().await;
    }
    assert_eq!(joined, 100);
    assert_eq!(tasks.len(), 0);
}

/// A root in a temp dir with `unyo.yaml` on Tokyo time and `files`, loaded, and its store.
async fn root(
    files: &[(&str, &str)],
) -> (tempfile::TempDir, Settings, Arc<Catalog>, Arc<dyn Store>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |rel: &str, text: &str| {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write");
    };
    write("unyo.yaml", "timezone: Asia/Tokyo\n");
    for (rel, text) in files {
        write(rel, text);
    }
    let settings = Settings::load(dir.path()).expect("settings");
    let catalog = Arc::new(Catalog::load(&settings).expect("catalog"));
    let store: Arc<dyn Store> = Arc::from(crate::store::open(&settings).await.expect("store"));
    (dir, settings, catalog, store)
}

/// The daemon plans with the clock it is given: nothing is due before the schedule's time;
/// once the clock reaches it, the slot is recorded at its fire time and due time and its run
/// starts at the clock's now, whatever the wall clock says.
#[tokio::test]
async fn a_slot_fires_when_the_clock_reaches_it() {
    let (_dir, settings, catalog, store) = root(&[
        ("jobs/open.yaml", "steps:\n  a:\n    run: echo open\n"),
        (
            "schedules/s.yaml",
            "schedules:\n  - job: open\n    cron: \"0 9 * * *\"\n",
        ),
    ])
    .await;
    // A Tuesday in 2027, a minute before nine in Tokyo.
    let tokyo = |hms: &str| {
        DateTime::parse_from_rfc3339(&format!("2027-01-05T{hms}+09:00"))
            .expect("time")
            .with_timezone(&Utc)
    };
    let clock = ManualClock::new(tokyo("08:59:00"));
    let lock = lock::lock(&settings).expect("lock");
    let (mut daemon, _notifier) =
        Daemon::new(settings, catalog, store.clone(), clock.clone(), lock)
            .await
            .expect("daemon");
    daemon.plan_now(clock.now()).await.expect("plan");
    assert!(store.list_slots(None, 10).await.expect("slots").is_empty());
    assert!(daemon.running.is_empty());

    let now = clock.advance(chrono::Duration::seconds(60) + chrono::Duration::milliseconds(250));
    daemon.plan_now(clock.now()).await.expect("plan");
    let slots = store.list_slots(None, 10).await.expect("slots");
    assert_eq!(slots.len(), 1, "{slots:?}");
    assert_eq!(slots[0].fire_time, tokyo("09:00:00"));
    assert_eq!(slots[0].due_at, tokyo("09:00:00"));
    assert_eq!(slots[0].outcome, SlotOutcome::Started);
    let run_id = slots[0].run_id.expect("the slot's run");
    let (ended, result) = daemon.done_rx.recv().await.expect("the run's end");
    assert_eq!(ended, run_id);
    assert_eq!(result.expect("run").status, RunStatus::Succeeded);
    let detail = store.get_run(run_id).await.expect("read").expect("the run");
    assert_eq!(detail.run.trigger, Trigger::Schedule);
    assert_eq!(detail.run.started_at, Some(now));
    assert_eq!(detail.run.ended_at, Some(now));
    assert_eq!(detail.attempts[0].started_at, now);
}

/// A queued run still waiting past its `start_delay` is late at that moment, not when it
/// finally starts: one finding and one incident, however many queue polls see it.
#[tokio::test]
async fn a_queued_run_past_its_start_delay_opens_an_incident_while_it_waits() {
    let (_dir, settings, catalog, store) = root(&[
        ("jobs/prep.yaml", "steps:\n  a:\n    run: 'true'\n"),
        (
            "jobs/report.yaml",
            "after: [prep]\nstart_delay: 10m\nsteps:\n  a:\n    run: 'true'\n",
        ),
    ])
    .await;
    let queued_at = DateTime::parse_from_rfc3339("2027-01-05T20:00:00+09:00")
        .expect("time")
        .with_timezone(&Utc);
    let clock = ManualClock::new(queued_at);
    let job = catalog.jobs.get("report").cloned().expect("job");
    let record = crate::engine::new_run(
        &settings,
        &catalog,
        &job,
        &indexmap::IndexMap::new(),
        Trigger::Manual,
        RunStatus::Queued,
        queued_at,
        "tester",
    );
    let run = store.create_run(&record).await.expect("queue");
    let lock = lock::lock(&settings).expect("lock");
    let (mut daemon, _notifier) =
        Daemon::new(settings, catalog, store.clone(), clock.clone(), lock)
            .await
            .expect("daemon");

    clock.advance(chrono::Duration::minutes(10));
    daemon.pump(clock.now()).await.expect("pump");
    assert!(
        store
            .list_incidents(None, 10)
            .await
            .expect("read")
            .is_empty()
    );

    clock.advance(chrono::Duration::seconds(1));
    daemon.pump(clock.now()).await.expect("pump");
    clock.advance(chrono::Duration::seconds(1));
    daemon.pump(clock.now()).await.expect("pump");
    let incidents = store.list_incidents(None, 10).await.expect("read");
    assert_eq!(incidents.len(), 1, "{incidents:?}");
    assert_eq!(incidents[0].failure_class, "start_delay");
    assert_eq!(incidents[0].occurrences, 1);
    assert!(
        incidents[0]
            .summary
            .contains("has not started by its start deadline 2027-01-05 20:10"),
        "{}",
        incidents[0].summary
    );
    let detail = store.get_run(run).await.expect("read").expect("run");
    assert_eq!(
        detail.run.status,
        RunStatus::Queued,
        "still waiting for `prep`"
    );
    let far = queued_at + chrono::Duration::days(1);
    let findings = store.list_findings(queued_at, far).await.expect("findings");
    assert_eq!(findings.len(), 1);
    assert_eq!(findings[0].incident_id, Some(incidents[0].id));
}
