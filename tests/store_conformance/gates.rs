//! Contracts of approval gates: opening one, the operator's one decision, and the notices
//! written while a gate waits and withdrawn when it is decided.

use unyo::store::Delivery;
use unyo::store::{GateNotice, NotificationStatus, RunStatus, StepStatus};

use crate::fixtures::{Db, at, message, race, running};

/// A running run of `approve-payroll` whose step `sign` waits for approval since `at(1)`.
async fn waiting(db: &Db, timeout: Option<i64>) -> i64 {
    let id = db
        .create_run(&running("approve-payroll", &["prepare", "sign"]))
        .await
        .expect("create");
    db.open_gate(id, "sign", at(1), timeout.map(at), "waiting for approval")
        .await
        .expect("open gate");
    id
}

fn notice(run_id: i64, announce: bool, remind: bool, t: i64) -> GateNotice {
    GateNotice {
        run_id,
        step: "sign".into(),
        route: "desk".into(),
        announce,
        remind,
        messages: vec![message(
            if remind { "reminder" } else { "approval" },
            1,
            "mail",
        )],
        at: at(t),
    }
}

pub async fn open_gate_marks_the_step_waiting_approval(db: &Db) {
    let id = db
        .create_run(&running("approve-payroll", &["prepare", "sign"]))
        .await
        .expect("create");
    db.open_gate(id, "sign", at(1), Some(at(60)), "waiting for approval")
        .await
        .expect("open gate");
    let g = db.gate(id, "sign").await.expect("read").expect("gate");
    assert_eq!((g.run_id, g.step.as_str()), (id, "sign"));
    assert_eq!((g.requested_at, g.timeout_at), (at(1), Some(at(60))));
    assert_eq!(
        (g.decision, g.decided_by, g.decided_at, g.comment),
        (None, None, None, None)
    );
    let d = db.get_run(id).await.expect("get").expect("run");
    let s = &d.steps[1];
    assert_eq!(
        (s.status, s.started_at),
        (StepStatus::WaitingApproval, Some(at(1)))
    );
    assert_eq!(s.reason.as_deref(), Some("waiting for approval"));
    assert_eq!(d.steps[0].status, StepStatus::Pending);
}

pub async fn open_gate_again_keeps_the_first_gate_and_its_decision(db: &Db) {
    let id = waiting(db, Some(60)).await;
    db.open_gate(id, "sign", at(5), None, "waiting again")
        .await
        .expect("reopen");
    let g = db.gate(id, "sign").await.expect("read").expect("gate");
    assert_eq!((g.requested_at, g.timeout_at), (at(1), Some(at(60))));
    db.decide_gate(id, "sign", true, "alice", "ok", at(6))
        .await
        .expect("store")
        .expect("approve");
    // A resumed run opens its gate again and finds the decision.
    db.open_gate(id, "sign", at(7), None, "resumed")
        .await
        .expect("resume");
    let g = db.gate(id, "sign").await.expect("read").expect("gate");
    assert_eq!(
        (g.decision.as_deref(), g.decided_by.as_deref()),
        (Some("approved"), Some("alice"))
    );
    let s = db
        .get_run(id)
        .await
        .expect("get")
        .expect("run")
        .steps
        .remove(1);
    assert_eq!(
        (s.status, s.started_at),
        (StepStatus::WaitingApproval, Some(at(1)))
    );
}

pub async fn gate_of_an_unknown_step_is_none(db: &Db) {
    let id = waiting(db, None).await;
    assert!(db.gate(id, "prepare").await.expect("read").is_none());
    assert!(db.gate(id + 1, "sign").await.expect("read").is_none());
}

pub async fn decide_gate_records_one_decision(db: &Db) {
    let id = waiting(db, None).await;
    db.decide_gate(id, "sign", false, "alice", "numbers look wrong", at(3))
        .await
        .expect("store")
        .expect("reject");
    let g = db.gate(id, "sign").await.expect("read").expect("gate");
    assert_eq!(
        (g.decision.as_deref(), g.decided_by.as_deref(), g.decided_at),
        (Some("rejected"), Some("alice"), Some(at(3)))
    );
    assert_eq!(g.comment.as_deref(), Some("numbers look wrong"));
    let again = db
        .decide_gate(id, "sign", true, "bob", "", at(4))
        .await
        .expect("store");
    assert_eq!(
        again.map_err(|e| e.to_string()),
        Err(format!(
            "step `sign` of run {id} was rejected already by alice"
        ))
    );
    assert_eq!(db.gate(id, "sign").await.expect("read").expect("gate"), g);
}

pub async fn decide_gate_without_a_waiting_gate_is_refused(db: &Db) {
    let id = waiting(db, None).await;
    assert_eq!(
        db.decide_gate(id, "prepare", true, "alice", "", at(3))
            .await
            .expect("store")
            .map_err(|e| e.to_string()),
        Err(format!("run {id} has no approval step `prepare` waiting"))
    );
    assert_eq!(
        db.decide_gate(id + 1, "sign", true, "alice", "", at(3))
            .await
            .expect("store")
            .map_err(|e| e.to_string()),
        Err(format!(
            "run {} has no approval step `sign` waiting",
            id + 1
        ))
    );
    db.end_step(id, "sign", StepStatus::Cancelled, at(4), "cancelled by bob")
        .await
        .expect("cancel");
    assert_eq!(
        db.decide_gate(id, "sign", true, "alice", "", at(5))
            .await
            .expect("store")
            .map_err(|e| e.to_string()),
        Err(format!(
            "step `sign` of run {id} is not waiting for approval (cancelled)"
        ))
    );
    assert_eq!(
        db.gate(id, "sign")
            .await
            .expect("read")
            .expect("gate")
            .decision,
        None
    );
}

pub async fn decide_gate_has_one_winner_among_racing_operators(db: &Db) {
    let id = waiting(db, None).await;
    let decided = race(db.racers(6).await, |i, s| async move {
        s.decide_gate(id, "sign", i % 2 == 0, &format!("op{i}"), "", at(2))
            .await
            .expect("store")
    })
    .await;
    assert_eq!(
        decided.iter().filter(|d| d.is_ok()).count(),
        1,
        "{decided:?}"
    );
    let winner = decided.iter().position(Result::is_ok).expect("a winner");
    let g = db.gate(id, "sign").await.expect("read").expect("gate");
    assert_eq!(g.decided_by, Some(format!("op{winner}")));
    let expect = if winner % 2 == 0 {
        "approved"
    } else {
        "rejected"
    };
    assert_eq!(g.decision.as_deref(), Some(expect));
}

pub async fn decide_gate_withdraws_the_gate_notices(db: &Db) {
    let id = waiting(db, Some(60)).await;
    two_notices(db, id).await;
    let sent = db.due_notifications(at(2), 10).await.expect("due")[0].id;
    db.notification_tried(sent, Delivery::Sent("250".into()), at(3), None)
        .await
        .expect("sent");
    db.decide_gate(id, "sign", true, "alice", "", at(55))
        .await
        .expect("store")
        .expect("approve");
    let mut rows = db.list_notifications(false, 10).await.expect("list");
    rows.reverse();
    let got: Vec<(NotificationStatus, Option<String>)> =
        rows.into_iter().map(|n| (n.status, n.reason)).collect();
    assert_eq!(
        got,
        [
            (NotificationStatus::Sent, None),
            (
                NotificationStatus::Withdrawn,
                Some(format!("step `sign` of run {id} was approved by alice"))
            )
        ]
    );
    assert!(
        db.due_notifications(at(100), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

pub async fn plan_gate_notice_writes_notices_while_the_gate_waits(db: &Db) {
    let id = waiting(db, Some(60)).await;
    assert!(
        db.plan_gate_notice(&notice(id, true, false, 2))
            .await
            .expect("announce")
    );
    let work = db.notification_work(at(3), 10).await.expect("work");
    assert_eq!(
        work.gates.len(),
        1,
        "still to be reminded before its timeout"
    );
    assert_eq!(
        (work.gates[0].announced_at, work.gates[0].reminded_at),
        (Some(at(2)), None)
    );
    assert!(
        db.plan_gate_notice(&notice(id, true, true, 50))
            .await
            .expect("remind")
    );
    let work = db.notification_work(at(51), 10).await.expect("work");
    assert!(work.gates.is_empty(), "announced and reminded");
    let mut rows = db.list_notifications(false, 10).await.expect("list");
    rows.reverse();
    assert_eq!(rows.len(), 2);
    let n = &rows[0];
    assert_eq!(
        (n.incident_id, n.run_id, n.step.as_deref()),
        (None, Some(id), Some("sign"))
    );
    assert_eq!(
        (
            n.event.as_str(),
            n.route.as_str(),
            n.level,
            n.channel.as_str()
        ),
        ("approval", "desk", 1, "mail")
    );
    assert_eq!(
        (n.status, n.created_at, n.next_attempt_at, n.attempts),
        (NotificationStatus::Pending, at(2), at(2), 0)
    );
    assert_eq!(rows[1].event, "reminder");
}

pub async fn plan_gate_notice_after_the_decision_writes_nothing(db: &Db) {
    let id = waiting(db, Some(60)).await;
    db.decide_gate(id, "sign", true, "alice", "", at(2))
        .await
        .expect("store")
        .expect("approve");
    assert!(
        !db.plan_gate_notice(&notice(id, true, false, 3))
            .await
            .expect("notice")
    );
    assert!(
        !db.plan_gate_notice(&notice(id + 1, true, false, 3))
            .await
            .expect("unknown gate")
    );
    assert!(
        db.list_notifications(false, 10)
            .await
            .expect("list")
            .is_empty()
    );
}

/// Two notices of the waiting gate of run `id`: the announcement (pending) and a reminder.
async fn two_notices(db: &Db, id: i64) {
    assert!(
        db.plan_gate_notice(&notice(id, true, false, 2))
            .await
            .expect("notice")
    );
    assert!(
        db.plan_gate_notice(&notice(id, false, true, 50))
            .await
            .expect("reminder")
    );
}

fn withdrawn(rows: Vec<unyo::store::NotificationRow>) -> Vec<(NotificationStatus, Option<String>)> {
    rows.into_iter().map(|n| (n.status, n.reason)).collect()
}

pub async fn end_step_withdraws_the_notices_of_a_gate_that_ended_undecided(db: &Db) {
    let id = waiting(db, Some(60)).await;
    two_notices(db, id).await;
    db.end_step(
        id,
        "sign",
        StepStatus::Failed,
        at(60),
        "no decision in time",
    )
    .await
    .expect("time out");
    let reason = Some(format!("step `sign` of run {id} ended failed"));
    assert_eq!(
        withdrawn(db.list_notifications(false, 10).await.expect("list")),
        [
            (NotificationStatus::Withdrawn, reason.clone()),
            (NotificationStatus::Withdrawn, reason)
        ]
    );
    assert!(
        db.due_notifications(at(100), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

pub async fn set_run_status_final_withdraws_the_notices_of_its_gates(db: &Db) {
    let id = waiting(db, Some(60)).await;
    two_notices(db, id).await;
    let sent = db.due_notifications(at(2), 10).await.expect("due")[0].id;
    db.notification_tried(sent, Delivery::Sent("250".into()), at(3), None)
        .await
        .expect("sent");
    db.set_run_status(id, RunStatus::Running, at(4), None)
        .await
        .expect("still running");
    assert_eq!(
        db.due_notifications(at(100), 10).await.expect("due").len(),
        1,
        "a run that goes on keeps its gate's notices"
    );
    db.set_run_status(id, RunStatus::Cancelled, at(5), Some("cancelled by bob"))
        .await
        .expect("cancel");
    let mut rows = withdrawn(db.list_notifications(false, 10).await.expect("list"));
    rows.reverse();
    assert_eq!(
        rows,
        [
            (NotificationStatus::Sent, None),
            (
                NotificationStatus::Withdrawn,
                Some(format!("run {id} ended cancelled"))
            )
        ]
    );
}
