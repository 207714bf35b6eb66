//! Contracts of steps handed over to another node: a hand-over is taken once, only by a
//! node with every label it names and only while its run runs; the taker's records (its
//! command, output, end) read back; a cancel says whether a node had taken it and keeps
//! anyone from taking it after; a taker that is gone (fenced, stopped, restarted) shows so;
//! a restarted node finds what its earlier daemon left.

use std::time::Duration;

use chrono::Utc;
use unyo::store::{NewNode, RunStatus};

use crate::fixtures::{Db, at, attempt, race, running};

/// Registers node `name` with `labels` as process `pid`; its daemon's id.
async fn node(db: &Db, name: &str, labels: &[&str], pid: u32) -> i64 {
    db.register_node(
        &NewNode {
            name: name.to_owned(),
            labels: labels.iter().map(|l| (*l).to_owned()).collect(),
            host: format!("{name}.city.example"),
            pid,
            version: "0.1.0".to_owned(),
        },
        Utc::now(),
    )
    .await
    .expect("register")
}

fn labels(l: &[&str]) -> Vec<String> {
    l.iter().map(|s| (*s).to_owned()).collect()
}

/// A running run of `backup` with steps `dump` and `copy`, and attempt 1 of `step` handed
/// over to nodes labelled `wanted`: (run id, attempt id).
async fn handed(db: &Db, step: &str, wanted: &[&str]) -> (i64, i64) {
    let run = db
        .create_run(&running("backup", &["dump", "copy"]))
        .await
        .expect("run");
    let id = db
        .start_attempt(&attempt(run, step, 1, at(1)))
        .await
        .expect("attempt");
    db.delegate(id, &labels(wanted)).await.expect("delegate");
    (run, id)
}

pub async fn delegate_hands_an_attempt_over_untaken(db: &Db) {
    let run = db
        .create_run(&running("backup", &["dump", "copy"]))
        .await
        .expect("run");
    let id = db
        .start_attempt(&attempt(run, "dump", 1, at(1)))
        .await
        .expect("attempt");
    db.delegate(id, &labels(&["db", "tax"]))
        .await
        .expect("delegate");
    let d = db.delegation(id).await.expect("read").expect("handed over");
    assert_eq!(
        (d.attempt_id, d.run_id, d.labels.clone()),
        (id, run, labels(&["db", "tax"]))
    );
    assert_eq!(
        (d.daemon_id, d.node.clone(), d.taken_at, d.taker_gone),
        (None, None, None, false)
    );
    assert!(!d.cancel && d.run_running && d.progress == 0 && d.outcome.is_none());
    let other = db
        .start_attempt(&attempt(run, "copy", 1, at(2)))
        .await
        .expect("a local attempt");
    assert_eq!(db.delegation(other).await.expect("read"), None);
}

pub async fn take_delegated_only_by_a_node_with_every_label(db: &Db) {
    let files = node(db, "file1", &["files"], 1).await;
    let db_only = node(db, "db1", &["db"], 2).await;
    let both = node(db, "db2", &["db", "tax", "files"], 3).await;
    let (run, id) = handed(db, "dump", &["db", "tax"]).await;
    let now = Utc::now();
    for d in [files, db_only] {
        assert!(
            db.take_delegated(d, &labels(&["db", "files"]), now, 10)
                .await
                .expect("take")
                .is_empty(),
            "daemon {d} lacks `tax`"
        );
    }
    let taken = db
        .take_delegated(both, &labels(&["db", "tax", "files"]), now, 10)
        .await
        .expect("take");
    assert_eq!(taken.len(), 1, "{taken:?}");
    let t = &taken[0];
    assert_eq!(
        (
            t.attempt_id,
            t.run_id,
            t.job.as_str(),
            t.step.as_str(),
            t.attempt
        ),
        (id, run, "backup", "dump", 1)
    );
    assert!(
        db.take_delegated(both, &labels(&["db", "tax", "files"]), now, 10)
            .await
            .expect("again")
            .is_empty(),
        "taken once"
    );
    let d = db.delegation(id).await.expect("read").expect("row");
    assert_eq!((d.daemon_id, d.node.as_deref()), (Some(both), Some("db2")));
    assert!(d.taken_at.is_some() && !d.taker_gone, "{d:?}");
}

pub async fn take_delegated_takes_oldest_first_up_to_the_limit(db: &Db) {
    let me = node(db, "db1", &["db"], 1).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(handed(db, "dump", &["db"]).await.1);
    }
    let first = db
        .take_delegated(me, &labels(&["db"]), Utc::now(), 2)
        .await
        .expect("take");
    let rest = db
        .take_delegated(me, &labels(&["db"]), Utc::now(), 2)
        .await
        .expect("take");
    let got: Vec<i64> = first.iter().chain(&rest).map(|t| t.attempt_id).collect();
    assert_eq!((first.len(), got), (2, ids));
}

pub async fn take_delegated_skips_ended_runs_and_stopped_or_fenced_daemons(db: &Db) {
    let (run, _) = handed(db, "dump", &["db"]).await;
    db.set_run_status(run, RunStatus::Cancelled, at(3), Some("cancelled"))
        .await
        .expect("end the run");
    let stopped = node(db, "db1", &["db"], 1).await;
    db.heartbeat(stopped, Utc::now(), true).await.expect("stop");
    let live = node(db, "db2", &["db"], 2).await;
    assert!(
        db.take_delegated(live, &labels(&["db"]), Utc::now(), 10)
            .await
            .expect("take")
            .is_empty(),
        "its run ended"
    );
    handed(db, "dump", &["db"]).await;
    assert!(
        db.take_delegated(stopped, &labels(&["db"]), Utc::now(), 10)
            .await
            .expect("take")
            .is_empty(),
        "a stopped daemon takes nothing"
    );
    tokio::time::sleep(Duration::from_millis(600)).await;
    db.beat(live, Utc::now()).await.expect("beat");
    let silent = node(db, "db3", &["db"], 3).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    db.beat(live, Utc::now()).await.expect("beat");
    let fenced = db
        .fence_dead(live, Utc::now(), Duration::from_millis(300))
        .await
        .expect("fence");
    assert!(fenced.iter().any(|f| f.daemon_id == silent), "{fenced:?}");
    assert!(
        db.take_delegated(silent, &labels(&["db"]), Utc::now(), 10)
            .await
            .expect("take")
            .is_empty(),
        "a fenced daemon takes nothing"
    );
}

pub async fn take_delegated_racing_daemons_take_each_once(db: &Db) {
    let mut daemons = Vec::new();
    for i in 0..6 {
        daemons.push(node(db, &format!("db{i}"), &["db"], i + 1).await);
    }
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(handed(db, "dump", &["db"]).await.1);
    }
    let daemons = std::sync::Arc::new(daemons);
    let taken = race(db.racers(6).await, |i, s| {
        let daemons = daemons.clone();
        async move {
            s.take_delegated(daemons[i], &labels(&["db"]), Utc::now(), 10)
                .await
                .expect("take")
        }
    })
    .await;
    let mut got: Vec<i64> = taken.iter().flatten().map(|t| t.attempt_id).collect();
    got.sort_unstable();
    assert_eq!(got, ids, "each hand-over taken exactly once: {taken:?}");
}

pub async fn delegated_started_progress_and_end_read_back(db: &Db) {
    let me = node(db, "db1", &["db"], 1).await;
    let other = node(db, "db2", &["db"], 2).await;
    let (run, id) = handed(db, "dump", &["db"]).await;
    db.take_delegated(me, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("take");
    let command = serde_json::json!({"argv": ["pg_dump", "city"], "node": "db1"});
    db.delegated_started(id, &command, "/srv/db1/logs/backup/1.dump.1.log")
        .await
        .expect("started");
    db.delegated_progress(id, 4096).await.expect("progress");
    let detail = db.get_run(run).await.expect("get").expect("run");
    let a = detail
        .attempts
        .iter()
        .find(|a| a.id == id)
        .expect("attempt");
    assert_eq!(
        (&a.command, a.log_path.as_str()),
        (&command, "/srv/db1/logs/backup/1.dump.1.log")
    );
    let outcome = serde_json::json!({"Process": {"exit": {"Code": 0}, "pid": 4242}});
    assert!(
        !db.end_delegated(id, other, &outcome)
            .await
            .expect("another daemon's end"),
        "only the taker records the end"
    );
    assert!(db.end_delegated(id, me, &outcome).await.expect("end"));
    assert!(
        !db.end_delegated(id, me, &serde_json::json!({"Failed": "again"}))
            .await
            .expect("end again"),
        "recorded once"
    );
    let d = db.delegation(id).await.expect("read").expect("row");
    assert_eq!((d.progress, d.outcome), (4096, Some(outcome)));
}

pub async fn cancel_delegated_says_whether_a_node_had_taken_it(db: &Db) {
    let me = node(db, "db1", &["db"], 1).await;
    let (_, untaken) = handed(db, "dump", &["db"]).await;
    assert!(
        !db.cancel_delegated(untaken).await.expect("cancel"),
        "no node had taken it"
    );
    let (_, taken) = handed(db, "dump", &["db"]).await;
    let got = db
        .take_delegated(me, &labels(&["db"]), Utc::now(), 10)
        .await
        .expect("take");
    assert_eq!(
        got.iter().map(|t| t.attempt_id).collect::<Vec<_>>(),
        [taken],
        "a cancelled hand-over is never taken"
    );
    assert!(db.cancel_delegated(taken).await.expect("cancel"));
    let d = db.delegation(taken).await.expect("read").expect("row");
    assert!(d.cancel, "the taker reads the cancel: {d:?}");
    assert!(!db.cancel_delegated(1_000_000).await.expect("unknown"));
}

pub async fn delegation_shows_a_taker_that_restarted_or_was_fenced_as_gone(db: &Db) {
    let first = node(db, "db1", &["db"], 1).await;
    let (_, id) = handed(db, "dump", &["db"]).await;
    db.take_delegated(first, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("take");
    assert!(
        !db.delegation(id)
            .await
            .expect("read")
            .expect("row")
            .taker_gone
    );
    // The node restarts: its new daemon replaces the one that took the step.
    let again = node(db, "db1", &["db"], 2).await;
    assert!(
        db.delegation(id)
            .await
            .expect("read")
            .expect("row")
            .taker_gone
    );

    let (_, other) = handed(db, "dump", &["db"]).await;
    let silent = node(db, "db2", &["db"], 3).await;
    db.take_delegated(silent, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("take");
    tokio::time::sleep(Duration::from_millis(600)).await;
    db.beat(again, Utc::now()).await.expect("beat");
    db.fence_dead(again, Utc::now(), Duration::from_millis(300))
        .await
        .expect("fence");
    assert!(
        db.delegation(other)
            .await
            .expect("read")
            .expect("row")
            .taker_gone
    );
}

pub async fn end_left_ends_what_earlier_daemons_of_the_node_took(db: &Db) {
    let old = node(db, "db1", &["db"], 1).await;
    let elsewhere = node(db, "db2", &["db"], 2).await;
    let (run, mine) = handed(db, "dump", &["db"]).await;
    db.take_delegated(old, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("take");
    let (_, ended) = handed(db, "dump", &["db"]).await;
    db.take_delegated(old, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("take");
    let first_end = serde_json::json!({"Failed": "x"});
    db.end_delegated(ended, old, &first_end).await.expect("end");
    let (_, theirs) = handed(db, "dump", &["db"]).await;
    db.take_delegated(elsewhere, &labels(&["db"]), Utc::now(), 1)
        .await
        .expect("another node takes one");
    let new = node(db, "db1", &["db"], 3).await;
    let why = serde_json::json!({"Failed": "node `db1` restarted"});
    assert!(
        db.end_left("db1", old, &why)
            .await
            .expect("left")
            .is_empty(),
        "a daemon's own steps are not left"
    );
    let left = db.end_left("db1", new, &why).await.expect("left");
    assert_eq!(
        left.iter()
            .map(|l| (l.attempt_id, l.run_id, l.job.as_str(), l.step.as_str()))
            .collect::<Vec<_>>(),
        [(mine, run, "backup", "dump")]
    );
    let outcome = |id| async move { db.delegation(id).await.expect("read").expect("row").outcome };
    assert_eq!(outcome(mine).await, Some(why.clone()));
    assert_eq!(outcome(ended).await, Some(first_end), "ended already");
    assert_eq!(outcome(theirs).await, None, "another node's");
    assert!(
        db.end_left("db1", new, &why)
            .await
            .expect("again")
            .is_empty(),
        "ended once"
    );
}
