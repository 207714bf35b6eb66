//! Contracts of the scheduler's records: slots and the runs they make, watermarks, holds,
//! and the daemons with their heartbeats.

use unyo::store::{RunStatus, SlotOutcome, Trigger};

use crate::fixtures::{Db, all_runs, at, race, slot, slot_with_run};

pub async fn record_slots_returns_the_run_each_slot_made(db: &Db) {
    let mut missed = slot("nightly", "backup", at(0), SlotOutcome::Missed);
    missed.reason = Some("the daemon was down".into());
    missed.due_at = at(1);
    missed.decided_at = at(2);
    let made = db
        .record_slots(&[missed, slot_with_run("nightly", "backup", at(60))], &[])
        .await
        .expect("record");
    assert_eq!(made.len(), 2);
    assert_eq!(made[0], None, "a missed slot makes no run");
    let run_id = made[1].expect("the queued slot made a run");
    let run = db.get_run(run_id).await.expect("get").expect("run").run;
    assert_eq!(
        (run.job.as_str(), run.status, run.trigger),
        ("backup", RunStatus::Queued, Trigger::Schedule)
    );
    assert_eq!(run.schedule.as_deref(), Some("nightly"));
    let slots = db.list_slots(None, 10).await.expect("list");
    assert_eq!(slots.len(), 2);
    let (queued, missed) = (&slots[0], &slots[1]);
    assert_eq!(
        (queued.outcome, queued.run_id, queued.fire_time),
        (SlotOutcome::Queued, Some(run_id), at(60))
    );
    assert_eq!(
        (missed.schedule.as_str(), missed.job.as_str()),
        ("nightly", "backup")
    );
    assert_eq!(
        (missed.fire_time, missed.due_at, missed.decided_at),
        (at(0), at(1), at(2))
    );
    assert_eq!((missed.outcome, missed.run_id), (SlotOutcome::Missed, None));
    assert_eq!(missed.reason.as_deref(), Some("the daemon was down"));
    assert!(queued.id != missed.id);
    assert!(db.record_slots(&[], &[]).await.expect("nothing").is_empty());
}

pub async fn record_slots_twice_makes_no_second_run(db: &Db) {
    let first = db
        .record_slots(&[slot_with_run("nightly", "backup", at(0))], &[])
        .await
        .expect("record");
    assert!(first[0].is_some());
    let mut again = slot_with_run("nightly", "backup", at(0));
    again.outcome = SlotOutcome::Started;
    let second = db
        .record_slots(&[again, slot_with_run("hourly", "backup", at(0))], &[])
        .await
        .expect("record again");
    assert_eq!(second[0], None, "the slot was recorded already");
    assert!(
        second[1].is_some(),
        "the same time of another schedule is another slot"
    );
    assert_eq!(all_runs(&**db).await.len(), 2);
    let nightly = db.list_slots(Some("nightly"), 10).await.expect("list");
    assert_eq!(nightly.len(), 1);
    assert_eq!(
        (nightly[0].outcome, nightly[0].run_id),
        (SlotOutcome::Queued, first[0]),
        "the first decision stands"
    );
}

pub async fn record_slots_racing_daemons_make_one_run_per_slot(db: &Db) {
    let made = race(db.racers(6).await, |_, s| async move {
        s.record_slots(
            &[
                slot_with_run("nightly", "backup", at(0)),
                slot_with_run("nightly", "backup", at(60)),
            ],
            &[("nightly".to_owned(), at(60))],
        )
        .await
        .expect("record")
    })
    .await;
    for i in 0..2 {
        let runs: Vec<i64> = made.iter().filter_map(|m| m[i]).collect();
        assert_eq!(runs.len(), 1, "slot {i}: {made:?}");
    }
    assert_eq!(all_runs(&**db).await.len(), 2);
    assert_eq!(db.list_slots(None, 10).await.expect("list").len(), 2);
}

pub async fn watermarks_only_move_forward(db: &Db) {
    assert!(db.watermarks().await.expect("marks").is_empty());
    let mark = |s: &str, m: i64| (s.to_owned(), at(m));
    db.record_slots(&[], &[mark("nightly", 10), mark("hourly", 5)])
        .await
        .expect("record");
    db.record_slots(&[], &[mark("nightly", 3)])
        .await
        .expect("record");
    let mut marks = db.watermarks().await.expect("marks");
    marks.sort();
    assert_eq!(
        marks,
        [mark("hourly", 5), mark("nightly", 10)],
        "never back"
    );
    db.record_slots(&[], &[mark("nightly", 20)])
        .await
        .expect("record");
    let mut marks = db.watermarks().await.expect("marks");
    marks.sort();
    assert_eq!(marks, [mark("hourly", 5), mark("nightly", 20)]);
}

pub async fn list_slots_newest_first_filtered_and_limited(db: &Db) {
    let slots = [
        slot("nightly", "backup", at(0), SlotOutcome::Started),
        slot("hourly", "sync", at(30), SlotOutcome::SkippedOverlap),
        slot("nightly", "backup", at(60), SlotOutcome::Held),
    ];
    db.record_slots(&slots, &[]).await.expect("record");
    let fires =
        |rows: Vec<unyo::store::SlotRow>| rows.iter().map(|r| r.fire_time).collect::<Vec<_>>();
    assert_eq!(
        fires(db.list_slots(None, 10).await.expect("list")),
        [at(60), at(30), at(0)]
    );
    assert_eq!(
        fires(db.list_slots(Some("nightly"), 10).await.expect("list")),
        [at(60), at(0)]
    );
    assert_eq!(fires(db.list_slots(None, 1).await.expect("list")), [at(60)]);
    assert!(
        db.list_slots(Some("weekly"), 10)
            .await
            .expect("list")
            .is_empty()
    );
}

pub async fn hold_is_taken_once_until_released(db: &Db) {
    assert!(
        db.hold("backup", "alice", at(0), "disk swap")
            .await
            .expect("hold")
    );
    assert!(
        !db.hold("backup", "bob", at(1), "again")
            .await
            .expect("hold again")
    );
    let holds = db.holds().await.expect("holds");
    assert_eq!(holds.len(), 1);
    let h = &holds[0];
    assert_eq!(
        (
            h.job.as_str(),
            h.held_by.as_str(),
            h.held_at,
            h.reason.as_str()
        ),
        ("backup", "alice", at(0), "disk swap")
    );
    assert!(db.release("backup").await.expect("release"));
    assert!(
        db.hold("backup", "bob", at(2), "maintenance")
            .await
            .expect("hold after release")
    );
    assert_eq!(db.holds().await.expect("holds")[0].held_by, "bob");
}

pub async fn release_frees_a_held_job_once(db: &Db) {
    assert!(!db.release("backup").await.expect("release unheld"));
    db.hold("backup", "alice", at(0), "").await.expect("hold");
    db.hold("extract", "alice", at(0), "").await.expect("hold");
    assert!(db.release("backup").await.expect("release"));
    assert!(!db.release("backup").await.expect("release again"));
    let jobs: Vec<String> = db
        .holds()
        .await
        .expect("holds")
        .into_iter()
        .map(|h| h.job)
        .collect();
    assert_eq!(jobs, ["extract"]);
}

pub async fn holds_lists_every_held_job_by_name(db: &Db) {
    assert!(db.holds().await.expect("holds").is_empty());
    for job in ["zeta", "alpha", "mid"] {
        db.hold(job, "alice", at(0), "audit").await.expect("hold");
    }
    let jobs: Vec<String> = db
        .holds()
        .await
        .expect("holds")
        .into_iter()
        .map(|h| h.job)
        .collect();
    assert_eq!(jobs, ["alpha", "mid", "zeta"]);
}

pub async fn register_daemon_returns_new_ids_listed_newest_first(db: &Db) {
    assert!(db.daemons(10).await.expect("daemons").is_empty());
    let a = db
        .register_daemon("ops1", 100, "0.1.0", at(0))
        .await
        .expect("register");
    let b = db
        .register_daemon("ops2", 200, "0.2.0", at(5))
        .await
        .expect("register");
    assert!(b > a);
    let ds = db.daemons(10).await.expect("daemons");
    assert_eq!(ds.iter().map(|d| d.id).collect::<Vec<_>>(), [b, a]);
    let d = &ds[1];
    assert_eq!(
        (d.host.as_str(), d.pid, d.version.as_str()),
        ("ops1", 100, "0.1.0")
    );
    assert_eq!(
        (d.started_at, d.heartbeat_at, d.stopped_at),
        (at(0), at(0), None)
    );
    assert_eq!(db.daemons(1).await.expect("daemons").len(), 1);
}

pub async fn heartbeat_moves_the_beat_and_keeps_the_stop(db: &Db) {
    let a = db
        .register_daemon("ops1", 100, "0.1.0", at(0))
        .await
        .expect("register");
    let b = db
        .register_daemon("ops2", 200, "0.1.0", at(0))
        .await
        .expect("register");
    db.heartbeat(a, at(1), false).await.expect("beat");
    let ds = db.daemons(10).await.expect("daemons");
    let get = |ds: &[unyo::store::DaemonRow], id| {
        ds.iter().find(|d| d.id == id).cloned().expect("daemon")
    };
    assert_eq!(
        (get(&ds, a).heartbeat_at, get(&ds, a).stopped_at),
        (at(1), None)
    );
    assert_eq!(
        get(&ds, b).heartbeat_at,
        at(0),
        "another daemon's beat is its own"
    );
    db.heartbeat(a, at(2), true).await.expect("stop");
    db.heartbeat(a, at(3), false).await.expect("late beat");
    let d = get(&db.daemons(10).await.expect("daemons"), a);
    assert_eq!((d.heartbeat_at, d.stopped_at), (at(3), Some(at(2))));
    db.heartbeat(b + 100, at(4), false)
        .await
        .expect("beat of an unknown daemon");
    assert_eq!(db.daemons(10).await.expect("daemons").len(), 2);
}
