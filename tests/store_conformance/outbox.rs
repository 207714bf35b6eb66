//! Contracts of the outbox: what the notifier has to do, the messages it plans, and their
//! tries until sent or given up.

use unyo::model::Severity;
use unyo::store::Delivery;
use unyo::store::{IncidentChange, NotificationPlan, NotificationRow, NotificationStatus};

use crate::fixtures::{Db, at, incident, message};

/// A plan for incident `id`: route `desk` at `level`, next level due at `next`.
fn plan(id: i64, level: i64, next: Option<i64>, t: i64) -> NotificationPlan {
    NotificationPlan {
        incident_id: id,
        route: "desk".into(),
        level,
        next_escalation_at: next.map(at),
        event_id: None,
        only_if_open: false,
        messages: vec![
            message("opened", level, "mail"),
            message("opened", level, "chat"),
        ],
        at: at(t),
    }
}

async fn open(db: &Db, job: &str) -> i64 {
    db.open_incident(&incident(job, "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id
}

fn ids(rows: &[NotificationRow]) -> Vec<i64> {
    rows.iter().map(|n| n.id).collect()
}

pub async fn notification_work_lists_unrouted_incidents(db: &Db) {
    let work = db.notification_work(at(0), 10).await.expect("work");
    assert!(work.unrouted.is_empty() && work.recurred.is_empty());
    assert!(work.escalations.is_empty() && work.gates.is_empty());
    let a = open(db, "backup").await;
    let b = open(db, "extract").await;
    let c = open(db, "report").await;
    let work = db.notification_work(at(1), 10).await.expect("work");
    assert_eq!(
        work.unrouted.iter().map(|i| i.id).collect::<Vec<_>>(),
        [a, b, c]
    );
    assert_eq!(work.unrouted[0].job, "backup");
    let work = db.notification_work(at(1), 2).await.expect("work");
    assert_eq!(
        work.unrouted.iter().map(|i| i.id).collect::<Vec<_>>(),
        [a, b]
    );
    assert!(
        db.plan_notifications(&plan(a, 1, None, 1))
            .await
            .expect("plan")
    );
    let work = db.notification_work(at(2), 10).await.expect("work");
    assert_eq!(
        work.unrouted.iter().map(|i| i.id).collect::<Vec<_>>(),
        [b, c]
    );
}

pub async fn notification_work_lists_unnotified_occurrences_of_routed_incidents(db: &Db) {
    let routed = open(db, "backup").await;
    let unrouted = open(db, "extract").await;
    db.plan_notifications(&plan(routed, 1, None, 1))
        .await
        .expect("plan");
    for job in ["backup", "extract"] {
        db.open_incident(&incident(job, "exit 3", Severity::High, at(5)))
            .await
            .expect("occurrence");
    }
    let work = db.notification_work(at(6), 10).await.expect("work");
    assert_eq!(work.recurred.len(), 1, "{:?}", work.recurred);
    let (event, row) = &work.recurred[0];
    assert_eq!((row.id, row.occurrences), (routed, 2));
    assert!(work.unrouted.iter().any(|i| i.id == unrouted));
    let mut told = plan(routed, 1, None, 6);
    told.event_id = Some(*event);
    told.messages = vec![message("recurred", 1, "mail")];
    assert!(db.plan_notifications(&told).await.expect("plan"));
    let work = db.notification_work(at(7), 10).await.expect("work");
    assert!(work.recurred.is_empty(), "the occurrence was notified");
    let newest = &db.list_notifications(false, 1).await.expect("list")[0];
    assert_eq!(
        (newest.incident_id, newest.event.as_str()),
        (Some(routed), "recurred")
    );
}

pub async fn notification_work_lists_escalations_due(db: &Db) {
    let late = open(db, "backup").await;
    let early = open(db, "extract").await;
    let last = open(db, "sync").await;
    let acked = open(db, "report").await;
    db.plan_notifications(&plan(late, 1, Some(20), 1))
        .await
        .expect("plan");
    db.plan_notifications(&plan(early, 1, Some(10), 1))
        .await
        .expect("plan");
    db.plan_notifications(&plan(last, 1, Some(30), 1))
        .await
        .expect("plan");
    db.plan_notifications(&plan(acked, 1, Some(5), 1))
        .await
        .expect("plan");
    db.change_incident(acked, &IncidentChange::Acknowledge, "alice", at(2))
        .await
        .expect("store")
        .expect("ack");
    let due = |now: i64, limit: i64| async move {
        db.notification_work(at(now), limit)
            .await
            .expect("work")
            .escalations
            .iter()
            .map(|i| i.id)
            .collect::<Vec<_>>()
    };
    assert!(due(9, 10).await.is_empty());
    assert_eq!(due(10, 10).await, [early]);
    assert_eq!(
        due(30, 10).await,
        [early, late, last],
        "the longest due first"
    );
    assert_eq!(due(30, 2).await, [early, late]);
    db.plan_notifications(&plan(early, 2, None, 30))
        .await
        .expect("last level");
    assert_eq!(due(31, 10).await, [late, last]);
    let row = db.get_incident(early).await.expect("get").expect("row").0;
    assert_eq!((row.escalation_level, row.next_escalation_at), (2, None));
}

pub async fn notification_work_lists_gates_to_announce_or_remind(db: &Db) {
    let run = db
        .create_run(&crate::fixtures::running(
            "payroll",
            &["sign", "check", "done"],
        ))
        .await
        .expect("create");
    db.open_gate(run, "sign", at(1), None, "waiting")
        .await
        .expect("gate");
    db.open_gate(run, "check", at(2), Some(at(60)), "waiting")
        .await
        .expect("gate");
    db.open_gate(run, "done", at(3), None, "waiting")
        .await
        .expect("gate");
    db.decide_gate(run, "done", true, "alice", "", at(4))
        .await
        .expect("store")
        .expect("decide");
    let work = db.notification_work(at(5), 10).await.expect("work");
    let got: Vec<(&str, &str, Option<_>)> = work
        .gates
        .iter()
        .map(|g| (g.step.as_str(), g.job.as_str(), g.timeout_at))
        .collect();
    assert_eq!(
        got,
        [
            ("sign", "payroll", None),
            ("check", "payroll", Some(at(60)))
        ],
        "oldest first, decided left out"
    );
    assert_eq!(
        (work.gates[0].run_id, work.gates[0].requested_at),
        (run, at(1))
    );
    assert_eq!(
        db.notification_work(at(5), 1)
            .await
            .expect("work")
            .gates
            .len(),
        1
    );
    for step in ["sign", "check"] {
        let announced = db
            .plan_gate_notice(&unyo::store::GateNotice {
                run_id: run,
                step: step.into(),
                route: "desk".into(),
                announce: true,
                remind: false,
                messages: vec![],
                at: at(6),
            })
            .await
            .expect("announce");
        assert!(announced);
    }
    let work = db.notification_work(at(7), 10).await.expect("work");
    assert_eq!(
        work.gates.len(),
        1,
        "only the gate with a timeout waits for its reminder"
    );
    assert_eq!(
        (work.gates[0].step.as_str(), work.gates[0].announced_at),
        ("check", Some(at(6)))
    );
}

pub async fn plan_notifications_writes_messages_and_moves_the_route(db: &Db) {
    let id = open(db, "backup").await;
    assert!(
        db.plan_notifications(&plan(id, 1, Some(30), 2))
            .await
            .expect("plan")
    );
    let row = db.get_incident(id).await.expect("get").expect("row").0;
    assert_eq!(
        (
            row.route.as_deref(),
            row.escalation_level,
            row.next_escalation_at
        ),
        (Some("desk"), 1, Some(at(30)))
    );
    let mut rows = db.list_notifications(false, 10).await.expect("list");
    rows.reverse();
    let got: Vec<_> = rows
        .iter()
        .map(|n| {
            (
                n.incident_id,
                n.run_id,
                n.event.as_str(),
                n.route.as_str(),
                n.level,
                n.channel.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (Some(id), None, "opened", "desk", 1, "mail"),
            (Some(id), None, "opened", "desk", 1, "chat")
        ]
    );
    for n in &rows {
        assert_eq!(
            (n.status, n.attempts, n.created_at, n.next_attempt_at),
            (NotificationStatus::Pending, 0, at(2), at(2))
        );
        assert_eq!(
            (&n.last_error, &n.receipt, n.sent_at, &n.reason),
            (&None, &None, None, &None)
        );
    }
    assert!(
        !db.plan_notifications(&plan(id + 1, 1, None, 3))
            .await
            .expect("unknown incident")
    );
    assert_eq!(
        db.list_notifications(false, 10).await.expect("list").len(),
        2
    );
}

pub async fn plan_notifications_only_if_open_stops_after_an_acknowledgement(db: &Db) {
    let id = open(db, "backup").await;
    db.plan_notifications(&plan(id, 1, Some(10), 1))
        .await
        .expect("plan");
    db.change_incident(id, &IncidentChange::Acknowledge, "alice", at(5))
        .await
        .expect("store")
        .expect("ack");
    let mut escalate = plan(id, 2, Some(20), 10);
    escalate.only_if_open = true;
    assert!(!db.plan_notifications(&escalate).await.expect("plan"));
    let row = db.get_incident(id).await.expect("get").expect("row").0;
    assert_eq!(
        (row.escalation_level, row.next_escalation_at),
        (1, None),
        "the route stays"
    );
    assert_eq!(
        db.list_notifications(false, 10).await.expect("list").len(),
        2,
        "no new message"
    );
    escalate.only_if_open = false;
    assert!(db.plan_notifications(&escalate).await.expect("plan"));
}

pub async fn due_notifications_oldest_due_first_and_limited(db: &Db) {
    let a = open(db, "backup").await;
    let b = open(db, "extract").await;
    db.plan_notifications(&plan(a, 1, None, 10))
        .await
        .expect("plan");
    db.plan_notifications(&plan(b, 1, None, 5))
        .await
        .expect("plan");
    assert!(
        db.due_notifications(at(4), 10)
            .await
            .expect("due")
            .is_empty()
    );
    let due = db.due_notifications(at(5), 10).await.expect("due");
    assert!(due.iter().all(|n| n.incident_id == Some(b)) && due.len() == 2);
    let due = db.due_notifications(at(10), 10).await.expect("due");
    let order: Vec<Option<i64>> = due.iter().map(|n| n.incident_id).collect();
    assert_eq!(order, [Some(b), Some(b), Some(a), Some(a)]);
    assert!(due[0].id < due[1].id, "the same time in id order");
    assert_eq!(
        ids(&db.due_notifications(at(10), 3).await.expect("due")),
        ids(&due[..3])
    );
    db.notification_tried(due[0].id, Delivery::Sent("250".into()), at(11), None)
        .await
        .expect("sent");
    assert_eq!(
        ids(&db.due_notifications(at(11), 10).await.expect("due")),
        ids(&due[1..])
    );
}

pub async fn notification_tried_sent_records_the_receipt(db: &Db) {
    let id = open(db, "backup").await;
    db.plan_notifications(&plan(id, 1, None, 1))
        .await
        .expect("plan");
    let due = db.due_notifications(at(1), 10).await.expect("due");
    db.notification_tried(
        due[0].id,
        Delivery::Failed("timeout".into()),
        at(2),
        Some(at(3)),
    )
    .await
    .expect("failed");
    db.notification_tried(
        due[0].id,
        Delivery::Sent("250 2.0.0 queued".into()),
        at(3),
        None,
    )
    .await
    .expect("sent");
    let n = db
        .list_notifications(false, 10)
        .await
        .expect("list")
        .into_iter()
        .find(|n| n.id == due[0].id)
        .expect("row");
    assert_eq!(
        (n.status, n.attempts, n.sent_at),
        (NotificationStatus::Sent, 2, Some(at(3)))
    );
    assert_eq!(
        (n.receipt.as_deref(), n.last_error.as_deref()),
        (Some("250 2.0.0 queued"), None)
    );
    assert_eq!(
        ids(&db.due_notifications(at(100), 10).await.expect("due")),
        [due[1].id]
    );
}

pub async fn notification_tried_failure_retries_then_gives_up(db: &Db) {
    let id = open(db, "backup").await;
    db.plan_notifications(&plan(id, 1, None, 1))
        .await
        .expect("plan");
    let n = db.due_notifications(at(1), 1).await.expect("due")[0].id;
    db.notification_tried(
        n,
        Delivery::Failed("connection refused".into()),
        at(2),
        Some(at(7)),
    )
    .await
    .expect("retry");
    let row = |rows: Vec<NotificationRow>| rows.into_iter().find(|r| r.id == n);
    let r = row(db.list_notifications(false, 10).await.expect("list")).expect("row");
    assert_eq!(
        (r.status, r.attempts, r.next_attempt_at),
        (NotificationStatus::Pending, 1, at(7))
    );
    assert_eq!(r.last_error.as_deref(), Some("connection refused"));
    assert!(
        row(db.due_notifications(at(6), 10).await.expect("due")).is_none(),
        "not before its retry"
    );
    assert!(row(db.due_notifications(at(7), 10).await.expect("due")).is_some());
    db.notification_tried(n, Delivery::Failed("503 unavailable".into()), at(8), None)
        .await
        .expect("give up");
    let r = row(db.list_notifications(false, 10).await.expect("list")).expect("row");
    assert_eq!(
        (r.status, r.attempts, r.next_attempt_at),
        (NotificationStatus::Failed, 2, at(7))
    );
    assert_eq!(
        (r.last_error.as_deref(), r.sent_at),
        (Some("503 unavailable"), None)
    );
    assert!(
        row(db.due_notifications(at(100), 10).await.expect("due")).is_none(),
        "given up"
    );
    assert_eq!(
        ids(&db.list_notifications(true, 10).await.expect("failed")),
        [n]
    );
}

pub async fn list_notifications_newest_first_failed_only_and_limited(db: &Db) {
    assert!(
        db.list_notifications(false, 10)
            .await
            .expect("list")
            .is_empty()
    );
    let id = open(db, "backup").await;
    db.plan_notifications(&plan(id, 1, None, 1))
        .await
        .expect("plan");
    db.plan_notifications(&plan(id, 2, None, 2))
        .await
        .expect("plan");
    let all = db.list_notifications(false, 10).await.expect("list");
    assert_eq!(all.len(), 4);
    assert!(all.windows(2).all(|w| w[0].id > w[1].id), "newest first");
    assert_eq!(
        ids(&db.list_notifications(false, 2).await.expect("list")),
        ids(&all[..2])
    );
    assert!(
        db.list_notifications(true, 10)
            .await
            .expect("failed")
            .is_empty()
    );
    for n in [all[1].id, all[3].id] {
        db.notification_tried(n, Delivery::Failed("refused".into()), at(3), None)
            .await
            .expect("give up");
    }
    assert_eq!(
        ids(&db.list_notifications(true, 10).await.expect("failed")),
        [all[1].id, all[3].id]
    );
    assert_eq!(
        ids(&db.list_notifications(true, 1).await.expect("failed")),
        [all[1].id]
    );
}

/// A message withdrawn while the notifier was trying it (its incident was resolved) stays
/// withdrawn when that try fails: it is never tried again.
pub async fn notification_tried_failure_of_a_withdrawn_message_keeps_it_withdrawn(db: &Db) {
    let id = open(db, "backup").await;
    db.plan_notifications(&plan(id, 1, None, 1))
        .await
        .expect("plan");
    let n = db.due_notifications(at(1), 1).await.expect("due")[0].id;
    // The notifier took it; meanwhile an operator resolves the incident.
    db.change_incident(
        id,
        &IncidentChange::Resolve {
            cause: "disk replaced".into(),
            countermeasure: "monitoring of disk wear".into(),
        },
        "alice",
        at(2),
    )
    .await
    .expect("change")
    .expect("resolved");
    db.notification_tried(
        n,
        Delivery::Failed("connection refused".into()),
        at(3),
        Some(at(8)),
    )
    .await
    .expect("tried");
    let r = db
        .list_notifications(false, 10)
        .await
        .expect("list")
        .into_iter()
        .find(|r| r.id == n)
        .expect("row");
    assert_eq!(
        (r.status, r.attempts, r.last_error.as_deref()),
        (NotificationStatus::Withdrawn, 1, Some("connection refused"))
    );
    assert!(
        db.due_notifications(at(100), 10)
            .await
            .expect("due")
            .iter()
            .all(|d| d.id != n),
        "never tried again"
    );
}
