//! Contracts of the daemons sharing a database as nodes: registration with labels, the
//! newest daemon of each node, liveness by heartbeats, fencing a daemon that stopped beating
//! (once, whoever fences, and never by a fenced daemon), and leases (one holder, renewed by
//! it, taken over with a new term once expired or fenced).
//!
//! PostgreSQL times these by its own clock and SQLite by the `now` given, so the contracts
//! give the real time and wait real (short) times.

use std::time::Duration;

use chrono::Utc;
use unyo::store::{Beat, NewNode, NewRun};

use crate::fixtures::{Db, running};

fn node(name: &str, labels: &[&str], pid: u32) -> NewNode {
    NewNode {
        name: name.to_owned(),
        labels: labels.iter().map(|l| (*l).to_owned()).collect(),
        host: format!("{name}.city.example"),
        pid,
        version: "0.1.0".to_owned(),
    }
}

/// Registers node `name` (no labels) as process `pid`; its daemon's id.
async fn register(db: &Db, name: &str, pid: u32) -> i64 {
    db.register_node(&node(name, &[], pid), Utc::now())
        .await
        .expect("register")
}

/// Long enough to be alive, for the contracts that do not wait.
const LONG: Duration = Duration::from_secs(60);
/// Short enough to be dead after [`PAUSE`].
const SHORT: Duration = Duration::from_millis(300);
const PAUSE: Duration = Duration::from_millis(600);

pub async fn register_node_lists_the_node_with_its_labels_and_runs(db: &Db) {
    let id = db
        .register_node(&node("db1", &["db", "tax"], 100), Utc::now())
        .await
        .expect("register");
    db.create_run(&NewRun {
        owner: Some("db1.city.example:100:777".to_owned()),
        ..running("backup", &["dump"])
    })
    .await
    .expect("run");
    db.create_run(&NewRun {
        owner: Some("db1.city.example:1000:777".to_owned()),
        ..running("other", &["dump"])
    })
    .await
    .expect("run of another process");
    let nodes = db.nodes(Utc::now(), LONG).await.expect("nodes");
    assert_eq!(nodes.len(), 1, "{nodes:?}");
    let n = &nodes[0];
    assert_eq!(
        (
            n.daemon_id,
            n.name.as_str(),
            n.labels.clone(),
            n.pid,
            n.alive,
            n.running
        ),
        (
            id,
            "db1",
            vec!["db".to_owned(), "tax".to_owned()],
            100,
            true,
            1
        )
    );
    assert!(n.beat_age >= 0.0 && n.beat_age < 30.0, "{}", n.beat_age);
}

pub async fn nodes_shows_the_newest_daemon_of_each_name(db: &Db) {
    db.register_node(&node("file1", &["files"], 1), Utc::now())
        .await
        .expect("register");
    let first = db
        .register_node(&node("db1", &["db"], 2), Utc::now())
        .await
        .expect("register");
    let second = db
        .register_node(&node("db1", &["db"], 3), Utc::now())
        .await
        .expect("register again");
    assert!(second > first, "a new id at every start");
    let nodes = db.nodes(Utc::now(), LONG).await.expect("nodes");
    let shown: Vec<(&str, i64, i64)> = nodes
        .iter()
        .map(|n| (n.name.as_str(), n.daemon_id, n.pid))
        .collect();
    assert_eq!(shown, [("db1", second, 3), ("file1", shown[1].1, 1)]);
}

pub async fn beat_keeps_a_node_alive_and_a_silent_one_is_not(db: &Db) {
    let id = register(db, "db1", 1).await;
    tokio::time::sleep(PAUSE).await;
    let nodes = db.nodes(Utc::now(), SHORT).await.expect("nodes");
    assert!(
        !nodes[0].alive,
        "silent for longer than the timeout: {nodes:?}"
    );
    assert!(nodes[0].beat_age >= SHORT.as_secs_f64(), "{nodes:?}");
    let sent = Utc::now();
    match db.beat(id, sent).await.expect("beat") {
        // The database's clock, or the time given: here the same machine's.
        Beat::Alive { at } => assert!((at - sent).num_seconds().abs() < 5, "{at} {sent}"),
        Beat::Fenced => panic!("not fenced"),
    }
    let nodes = db.nodes(Utc::now(), SHORT).await.expect("nodes");
    assert!(nodes[0].alive, "beat just now: {nodes:?}");
}

pub async fn fence_dead_fences_a_silent_daemon_once(db: &Db) {
    // a and c must still be alive when they fence, however long a loaded machine takes
    // between their beats and the fencing (300 ms was once too short): b is silent for 4 s,
    // the others for well under the 2.5 s timeout.
    const TIMEOUT: Duration = Duration::from_millis(2500);
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    let c = register(db, "c", 3).await;
    tokio::time::sleep(Duration::from_secs(4)).await;
    db.beat(a, Utc::now()).await.expect("a beats");
    db.beat(c, Utc::now()).await.expect("c beats");
    // a and c fence at once, from two handles: b is fenced once.
    let other = db.another().await;
    let (by_a, by_c) = tokio::join!(
        db.fence_dead(a, Utc::now(), TIMEOUT),
        other.fence_dead(c, Utc::now(), TIMEOUT)
    );
    let (by_a, by_c) = (by_a.expect("a fences"), by_c.expect("c fences"));
    let fenced: Vec<i64> = by_a.iter().chain(&by_c).map(|d| d.daemon_id).collect();
    assert_eq!(fenced, [b], "by a: {by_a:?}, by c: {by_c:?}");
    let d = by_a.iter().chain(&by_c).next().expect("one");
    assert_eq!(
        (d.node.as_deref(), d.host.as_str(), d.pid),
        (Some("b"), "b.city.example", 2)
    );
    assert!(d.owns("b.city.example:2:12345") && !d.owns("b.city.example:20:12345"));
    assert!(
        db.fence_dead(a, Utc::now(), TIMEOUT)
            .await
            .expect("again")
            .is_empty(),
        "fenced once"
    );
    assert_eq!(db.beat(b, Utc::now()).await.expect("b beats"), Beat::Fenced);
    let nodes = db.nodes(Utc::now(), LONG).await.expect("nodes");
    let shown = nodes.iter().find(|n| n.name == "b").expect("b");
    assert!(!shown.alive && shown.fenced_at.is_some(), "{shown:?}");
    assert!(shown.fenced_by == Some(a) || shown.fenced_by == Some(c));
}

pub async fn fence_dead_by_a_fenced_or_stopped_daemon_fences_nothing(db: &Db) {
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    db.heartbeat(a, Utc::now(), true).await.expect("a stops");
    tokio::time::sleep(PAUSE).await;
    assert!(
        db.fence_dead(a, Utc::now(), SHORT)
            .await
            .expect("fence")
            .is_empty(),
        "a stopped daemon fences nobody"
    );
    assert!(matches!(
        db.beat(b, Utc::now()).await.expect("b"),
        Beat::Alive { .. }
    ));
    let stopped = db.nodes(Utc::now(), LONG).await.expect("nodes");
    let a_row = stopped.iter().find(|n| n.name == "a").expect("a");
    assert!(
        a_row.fenced_at.is_none() && !a_row.alive,
        "a stopped daemon is not alive and is never fenced: {a_row:?}"
    );
}

pub async fn take_lease_has_one_holder_until_it_expires(db: &Db) {
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    let held = db
        .take_lease("planner", a, Utc::now(), SHORT)
        .await
        .expect("a takes")
        .expect("free");
    assert_eq!((held.daemon_id, held.term), (a, 1));
    assert_eq!(
        db.take_lease("planner", b, Utc::now(), SHORT)
            .await
            .expect("b tries"),
        None,
        "held by a"
    );
    let renewed = db
        .take_lease("planner", a, Utc::now(), SHORT)
        .await
        .expect("a renews")
        .expect("a holds it");
    assert_eq!(renewed.term, 1, "a renewal keeps the term");
    tokio::time::sleep(PAUSE).await;
    let taken = db
        .take_lease("planner", b, Utc::now(), LONG)
        .await
        .expect("b takes")
        .expect("expired");
    assert_eq!((taken.daemon_id, taken.term), (b, 2));
    assert_eq!(
        db.take_lease("planner", a, Utc::now(), LONG)
            .await
            .expect("a tries"),
        None,
        "the old holder cannot take it back while b holds it"
    );
    // Another lease is another name.
    assert!(
        db.take_lease("other", a, Utc::now(), LONG)
            .await
            .expect("other")
            .is_some()
    );
}

pub async fn take_lease_racing_daemons_give_it_to_one(db: &Db) {
    let mut ids = Vec::new();
    for i in 0..6 {
        ids.push(
            db.register_node(&node(&format!("n{i}"), &[], i), Utc::now())
                .await
                .expect("register"),
        );
    }
    let stores = db.racers(ids.len()).await;
    let takes = ids.iter().zip(&stores).map(|(id, s)| {
        let s = s.clone();
        let id = *id;
        async move { s.take_lease("planner", id, Utc::now(), LONG).await }
    });
    let results = futures_join_all(takes).await;
    let holders: Vec<i64> = results
        .into_iter()
        .filter_map(|r| r.expect("take").map(|l| l.daemon_id))
        .collect();
    assert_eq!(holders.len(), 1, "one holder: {holders:?}");
}

pub async fn take_lease_passes_from_a_fenced_holder(db: &Db) {
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    db.take_lease("planner", a, Utc::now(), LONG)
        .await
        .expect("a takes")
        .expect("free");
    tokio::time::sleep(PAUSE).await;
    db.beat(b, Utc::now()).await.expect("b beats");
    let fenced = db.fence_dead(b, Utc::now(), SHORT).await.expect("fence");
    assert_eq!(fenced.len(), 1);
    let taken = db
        .take_lease("planner", b, Utc::now(), LONG)
        .await
        .expect("b takes")
        .expect("its holder was fenced");
    assert_eq!((taken.daemon_id, taken.term), (b, 2));
    assert_eq!(
        db.take_lease("planner", a, Utc::now(), LONG)
            .await
            .expect("a tries"),
        None,
        "a fenced daemon takes no lease"
    );
}

/// Awaits every future, in order (the suite has no `futures` crate).
async fn futures_join_all<F>(fs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = fs.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

pub async fn fence_writes_a_fenced_daemon_commits_nothing_more(db: &Db) {
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    // b's own handle, as b's daemon has it.
    let b_store = db.another().await;
    b_store.fence_writes(b);
    let run = b_store
        .create_run(&running("backup", &["dump"]))
        .await
        .expect("b writes while alive");
    tokio::time::sleep(PAUSE).await;
    db.beat(a, Utc::now()).await.expect("a beats");
    assert_eq!(
        db.fence_dead(a, Utc::now(), SHORT)
            .await
            .expect("fence")
            .len(),
        1
    );
    let refused = b_store
        .set_run_status(run, unyo::store::RunStatus::Succeeded, Utc::now(), None)
        .await;
    assert!(
        matches!(refused, Err(unyo::store::StoreError::Fenced { daemon_id }) if daemon_id == b),
        "{refused:?}"
    );
    let refused = b_store.create_run(&running("other", &["x"])).await;
    assert!(
        refused.as_ref().is_err_and(|e| e.is_fenced()),
        "{refused:?}"
    );
    let runs = db
        .list_runs(&unyo::store::RunFilter {
            job: None,
            status: None,
            limit: 10,
        })
        .await
        .expect("runs");
    assert_eq!(runs.len(), 1, "nothing more of b: {runs:?}");
    assert_eq!(runs[0].status, unyo::store::RunStatus::Running);
    // Another handle, not fenced, writes on.
    db.set_run_status(run, unyo::store::RunStatus::Interrupted, Utc::now(), None)
        .await
        .expect("a writes");
}

pub async fn record_planned_writes_only_while_the_lease_is_held(db: &Db) {
    use crate::fixtures::{at, slot_with_run};
    let a = register(db, "a", 1).await;
    let b = register(db, "b", 2).await;
    let held = db
        .take_lease("planner", a, Utc::now(), SHORT)
        .await
        .expect("take")
        .expect("free");
    let made = db
        .record_planned(
            &held,
            Utc::now(),
            &[slot_with_run("nightly", "backup", at(0))],
            &[("nightly".to_owned(), at(0))],
        )
        .await
        .expect("recorded while held");
    assert!(made[0].is_some());
    tokio::time::sleep(PAUSE).await;
    let taken = db
        .take_lease("planner", b, Utc::now(), LONG)
        .await
        .expect("take")
        .expect("expired");
    // a, paused past its lease, comes back with its old term.
    let late = db
        .record_planned(
            &held,
            Utc::now(),
            &[slot_with_run("nightly", "backup", at(1))],
            &[("nightly".to_owned(), at(1))],
        )
        .await;
    assert!(
        matches!(
            &late,
            Err(unyo::store::StoreError::LeaseLost { term: 1, .. })
        ),
        "{late:?}"
    );
    let slots = db.list_slots(None, 10).await.expect("slots");
    assert_eq!(slots.len(), 1, "nothing of the old term: {slots:?}");
    assert_eq!(
        db.watermarks().await.expect("marks"),
        [("nightly".to_owned(), at(0))]
    );
    let made = db
        .record_planned(
            &taken,
            Utc::now(),
            &[slot_with_run("nightly", "backup", at(1))],
            &[],
        )
        .await
        .expect("the new holder records");
    assert!(made[0].is_some());
}

/// A backend that can wake the daemons (PostgreSQL's LISTEN/NOTIFY) wakes them when another
/// process queues a run or asks to cancel one; one that cannot (SQLite) says so with `None`,
/// and its daemon polls.
pub async fn wakeups_wake_the_daemons_when_a_run_is_queued_or_a_cancel_asked(db: &Db) {
    use crate::fixtures::queued;
    let Some(wake) = db.wakeups() else {
        return;
    };
    let other = db.another().await;
    // The listener connects on a thread of its own: a request made before it listens is
    // missed (the polls find it), so ask until one wakes it.
    let mut woken = false;
    for _ in 0..20 {
        other
            .create_run(&queued("backup", &["only"]))
            .await
            .expect("queue");
        if tokio::time::timeout(Duration::from_millis(500), wake.notified())
            .await
            .is_ok()
        {
            woken = true;
            break;
        }
    }
    assert!(woken, "a queued run woke nobody");
    let run = other
        .create_run(&running("report", &["only"]))
        .await
        .expect("run");
    // Drain what the queued runs above may still have sent.
    while tokio::time::timeout(Duration::from_millis(300), wake.notified())
        .await
        .is_ok()
    {}
    other
        .request_cancel(run, "alice", Utc::now())
        .await
        .expect("cancel");
    tokio::time::timeout(Duration::from_secs(5), wake.notified())
        .await
        .expect("a cancel request wakes the daemons");
}
