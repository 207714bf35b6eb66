//! Contracts of health checks and of the figures monitors read: a result recorded with its
//! target's state (as `domain::check::next` decides), the targets and their state changes,
//! a target's recovery resolving its incident (and a job's success not), the metric counts
//! and the missed slots since an instant.

use unyo::domain::check::{Change, CheckStatus, TargetKind, TargetState, Thresholds};
use unyo::model::Severity;
use unyo::store::{IncidentChange, IncidentStatus, NewCheckResult, RunStatus, SlotOutcome};

use crate::fixtures::{Db, at, finished, incident};

const T: Thresholds = Thresholds {
    down_after: 2,
    up_after: 1,
};

fn result(target: &str, status: CheckStatus, minutes: i64) -> NewCheckResult {
    NewCheckResult {
        target: target.to_owned(),
        kind: TargetKind::Network,
        job: "watch-web".to_owned(),
        step: "http".to_owned(),
        run_id: None,
        at: at(minutes),
        status,
        output: format!("HTTP {status}"),
        perfdata: "time=0.01s;;;0".to_owned(),
        thresholds: T,
    }
}

pub async fn record_check_keeps_the_targets_state_from_consecutive_results(db: &Db) {
    use CheckStatus::*;
    let mut changes = Vec::new();
    for (i, s) in [Ok, Critical, Unknown, Critical, Critical, Warning]
        .into_iter()
        .enumerate()
    {
        let r = db
            .record_check(&result("online-web", s, i as i64))
            .await
            .expect("record");
        changes.push((r.state, r.streak, r.change));
    }
    assert_eq!(
        changes,
        vec![
            (TargetState::Up, 0, Change::Same),
            (TargetState::Up, 1, Change::Same),
            (TargetState::Up, 1, Change::Same),
            (TargetState::Down, 0, Change::WentDown),
            (TargetState::Down, 0, Change::Same),
            (TargetState::Up, 0, Change::CameUp),
        ]
    );
    let targets = db.targets().await.expect("targets");
    assert_eq!(targets.len(), 1);
    let t = &targets[0];
    assert_eq!(
        (t.target.as_str(), t.kind, t.job.as_str(), t.step.as_str()),
        ("online-web", TargetKind::Network, "watch-web", "http")
    );
    assert_eq!((t.state, t.streak, t.results), (TargetState::Up, 0, 6));
    assert_eq!((t.last_status, t.last_at, t.since), (Warning, at(5), at(5)));
    assert_eq!(t.last_output, "HTTP warning");
    assert_eq!(t.last_perfdata, "time=0.01s;;;0");
}

pub async fn targets_lists_every_target_by_name(db: &Db) {
    assert!(db.targets().await.expect("targets").is_empty());
    for name in ["zz-disk", "aa-load"] {
        db.record_check(&result(name, CheckStatus::Ok, 0))
            .await
            .expect("record");
    }
    let names: Vec<String> = db
        .targets()
        .await
        .expect("targets")
        .into_iter()
        .map(|t| t.target)
        .collect();
    assert_eq!(names, vec!["aa-load", "zz-disk"]);
    // A first result that is critical leaves a new target up, its streak started.
    let r = db
        .record_check(&result("new", CheckStatus::Critical, 1))
        .await
        .expect("record");
    assert_eq!((r.state, r.streak), (TargetState::Up, 1));
}

pub async fn target_changes_lists_state_changes_before_the_instant_oldest_first(db: &Db) {
    use CheckStatus::*;
    for (m, s) in [
        (0, Critical),
        (1, Critical),
        (2, Ok),
        (3, Critical),
        (4, Critical),
    ] {
        db.record_check(&result("a", s, m)).await.expect("record");
    }
    db.record_check(&result("b", Critical, 0))
        .await
        .expect("record");
    let all = db.target_changes(at(100)).await.expect("changes");
    let seen: Vec<(String, i64, TargetState)> = all
        .iter()
        .map(|c| (c.target.clone(), (c.at - at(0)).num_minutes(), c.state))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("a".into(), 1, TargetState::Down),
            ("a".into(), 2, TargetState::Up),
            ("a".into(), 4, TargetState::Down),
        ]
    );
    assert_eq!(all[0].kind, TargetKind::Network);
    assert_eq!(all[0].output, "HTTP critical");
    assert_eq!(db.target_changes(at(2)).await.expect("changes").len(), 1);
}

pub async fn target_recovered_resolves_the_targets_open_incident_only(db: &Db) {
    let class = unyo::domain::check::target_class("online-web");
    let mine = db
        .open_incident(&incident("watch-web", &class, Severity::High, at(1)))
        .await
        .expect("open")
        .id;
    let other_target = db
        .open_incident(&incident(
            "watch-web",
            &unyo::domain::check::target_class("online-db"),
            Severity::High,
            at(1),
        ))
        .await
        .expect("open")
        .id;
    let job_failure = db
        .open_incident(&incident("watch-web", "exit 4", Severity::High, at(1)))
        .await
        .expect("open")
        .id;
    let touched = db
        .target_recovered("watch-web", "online-web", None, at(5))
        .await
        .expect("recovered");
    assert_eq!(touched, vec![mine]);
    let (row, events) = db.get_incident(mine).await.expect("get").expect("row");
    assert_eq!(row.status, IncidentStatus::Resolved);
    assert_eq!(row.resolved_by.as_deref(), Some("unyo"));
    assert_eq!(row.resolved_at, Some(at(5)));
    let last = events.last().expect("event");
    assert_eq!(last.kind, "resolved");
    assert!(last.text.contains("online-web"), "{}", last.text);
    for id in [other_target, job_failure] {
        let (row, _) = db.get_incident(id).await.expect("get").expect("row");
        assert_eq!(row.status, IncidentStatus::Open);
    }
    // Acknowledged: a person holds it; only a note.
    let again = db
        .open_incident(&incident("watch-web", &class, Severity::High, at(6)))
        .await
        .expect("open")
        .id;
    db.change_incident(again, &IncidentChange::Acknowledge, "alice", at(7))
        .await
        .expect("store")
        .expect("ack");
    db.target_recovered("watch-web", "online-web", None, at(8))
        .await
        .expect("recovered");
    let (row, events) = db.get_incident(again).await.expect("get").expect("row");
    assert_eq!(row.status, IncidentStatus::Acknowledged);
    assert_eq!(events.last().expect("event").kind, "note");
}

pub async fn job_recovered_leaves_a_targets_incident_to_its_target(db: &Db) {
    let failed = finished(&**db, "watch-web", RunStatus::Failed, at(0)).await;
    let good = finished(&**db, "watch-web", RunStatus::Succeeded, at(10)).await;
    let mut down = incident(
        "watch-web",
        &unyo::domain::check::target_class("online-web"),
        Severity::High,
        at(1),
    );
    down.run_id = Some(failed);
    let down = db.open_incident(&down).await.expect("open").id;
    let mut exit = incident("watch-web", "exit 4", Severity::High, at(1));
    exit.run_id = Some(failed);
    let exit = db.open_incident(&exit).await.expect("open").id;
    let touched = db
        .job_recovered("watch-web", good, at(11), true)
        .await
        .expect("recovered");
    assert_eq!(touched, vec![exit]);
    let (row, events) = db.get_incident(down).await.expect("get").expect("row");
    assert_eq!(row.status, IncidentStatus::Open);
    assert_eq!(events.len(), 1, "{events:?}");
}

pub async fn metric_facts_reads_active_runs_unresolved_incidents_and_the_heartbeat(db: &Db) {
    let empty = db.metric_facts().await.expect("facts");
    assert!(empty.active.is_empty() && empty.incidents.is_empty());
    assert_eq!(empty.heartbeat, None);

    finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    db.create_run(&crate::fixtures::running("extract", &["only"]))
        .await
        .expect("create");
    db.create_run(&crate::fixtures::queued("extract", &["only"]))
        .await
        .expect("create");
    db.open_incident(&incident("backup", "exit 3", Severity::High, at(8)))
        .await
        .expect("open");
    let acked = db
        .open_incident(&incident("backup", "timeout", Severity::Low, at(8)))
        .await
        .expect("open")
        .id;
    db.change_incident(acked, &IncidentChange::Acknowledge, "alice", at(9))
        .await
        .expect("store")
        .expect("ack");
    let daemon = db
        .register_daemon("ops1", 100, "0.1.0", at(0))
        .await
        .expect("daemon");
    db.heartbeat(daemon, at(30), false).await.expect("beat");

    let f = db.metric_facts().await.expect("facts");
    assert_eq!(
        f.active,
        vec![("queued".to_owned(), 1), ("running".to_owned(), 1)]
    );
    assert_eq!(
        f.incidents,
        vec![
            (Severity::High, "open".to_owned(), 1),
            (Severity::Low, "acknowledged".to_owned(), 1)
        ]
    );
    assert_eq!(f.heartbeat, Some(at(30)));
    // A stopped daemon has no heartbeat to show.
    db.heartbeat(daemon, at(40), true).await.expect("stop");
    assert_eq!(db.metric_facts().await.expect("facts").heartbeat, None);
}

pub async fn runs_since_lists_ended_runs_from_an_id_with_the_oldest_active(db: &Db) {
    let empty = db.runs_since(0, 100).await.expect("runs");
    assert_eq!(
        (empty.ended.len(), empty.oldest_active, empty.max_id),
        (0, None, 0)
    );
    let first = finished(&**db, "backup", RunStatus::Succeeded, at(0)).await;
    let active = db
        .create_run(&crate::fixtures::running("extract", &["only"]))
        .await
        .expect("create");
    let slot = crate::fixtures::slot_with_run("nightly", "report", at(5));
    let made = db.record_slots(&[slot], &[]).await.expect("slots")[0].expect("run");
    db.claim_run(made, "ops1:1:1", at(6)).await.expect("claim");
    db.set_run_status(made, RunStatus::Failed, at(7), None)
        .await
        .expect("end");

    let read = db.runs_since(0, 100).await.expect("runs");
    let ids: Vec<i64> = read.ended.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![first, made]);
    assert_eq!((read.oldest_active, read.max_id), (Some(active), made));
    let r = &read.ended[1];
    assert_eq!((r.job.as_str(), r.status.as_str()), ("report", "failed"));
    assert_eq!(
        (r.queued_at, r.started_at, r.ended_at),
        (at(5), Some(at(6)), at(7))
    );
    assert_eq!(r.due_at, Some(at(5)));
    assert_eq!(read.ended[0].due_at, None);
    // From an id on, and at most `limit`.
    let later = db.runs_since(made, 100).await.expect("runs");
    assert_eq!(later.ended.len(), 1);
    let one = db.runs_since(0, 1).await.expect("runs");
    assert_eq!(
        one.ended.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![first]
    );
}

pub async fn slots_not_run_lists_missed_and_skipped_slots_after_an_id(db: &Db) {
    let slot = |job: &str, m: i64, outcome: SlotOutcome| {
        crate::fixtures::slot(&format!("s-{job}-{m}"), job, at(m), outcome)
    };
    db.record_slots(
        &[
            slot("backup", 0, SlotOutcome::Missed),
            slot("backup", 1, SlotOutcome::Started),
            slot("extract", 2, SlotOutcome::SkippedClosedDay),
        ],
        &[],
    )
    .await
    .expect("slots");
    let read = db.slots_not_run(0).await.expect("slots");
    let rows: Vec<(String, String)> = read
        .not_run
        .iter()
        .map(|(_, j, o)| (j.clone(), o.clone()))
        .collect();
    assert_eq!(
        rows,
        vec![
            ("backup".to_owned(), "missed".to_owned()),
            ("extract".to_owned(), "skipped_closed_day".to_owned())
        ]
    );
    assert_eq!(read.max_id, read.not_run[1].0);
    let after = db.slots_not_run(read.not_run[0].0).await.expect("slots");
    assert_eq!(after.not_run.len(), 1);
    let none = db.slots_not_run(read.max_id).await.expect("slots");
    assert!(none.not_run.is_empty());
    assert_eq!(none.max_id, read.max_id);
}

pub async fn missed_since_counts_missed_slots_due_since_by_job(db: &Db) {
    let slot = |job: &str, m: i64, outcome: SlotOutcome| {
        crate::fixtures::slot(&format!("s-{job}-{m}"), job, at(m), outcome)
    };
    db.record_slots(
        &[
            slot("backup", 0, SlotOutcome::Missed),
            slot("backup", 10, SlotOutcome::Missed),
            slot("backup", 20, SlotOutcome::Missed),
            slot("extract", 15, SlotOutcome::Missed),
            slot("extract", 16, SlotOutcome::SkippedClosedDay),
        ],
        &[],
    )
    .await
    .expect("slots");
    assert_eq!(
        db.missed_since(at(10)).await.expect("missed"),
        vec![("backup".to_owned(), 2), ("extract".to_owned(), 1)]
    );
    assert!(db.missed_since(at(21)).await.expect("missed").is_empty());
}
