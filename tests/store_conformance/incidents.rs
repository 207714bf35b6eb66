//! Contracts of incidents: opening and deduplication, occurrences and severity raises, the
//! operator's acknowledgement and resolution, a job's recovery, and the messages each one
//! withdraws.

use unyo::model::Severity;
use unyo::store::Delivery;
use unyo::store::{
    IncidentChange, IncidentOpened, IncidentStatus, NotificationPlan, NotificationRow,
    NotificationStatus, RunStatus,
};

use crate::fixtures::{Db, at, finished, incident, message, race};

/// Routes incident `id` to the desk with one pending message per level in `levels`.
async fn notify(db: &Db, id: i64, levels: &[i64]) {
    let written = db
        .plan_notifications(&NotificationPlan {
            incident_id: id,
            route: "desk".into(),
            level: 1,
            next_escalation_at: Some(at(30)),
            event_id: None,
            only_if_open: false,
            messages: levels
                .iter()
                .map(|l| message("opened", *l, "mail"))
                .collect(),
            at: at(1),
        })
        .await
        .expect("plan");
    assert!(written);
}

/// Every message in the outbox, oldest first.
async fn outbox(db: &Db) -> Vec<NotificationRow> {
    let mut rows = db.list_notifications(false, 100).await.expect("list");
    rows.reverse();
    rows
}

fn resolve(cause: &str) -> IncidentChange {
    IncidentChange::Resolve {
        cause: cause.into(),
        countermeasure: "added a disk".into(),
    }
}

pub async fn open_incident_opens_with_its_first_event(db: &Db) {
    let run = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let mut n = incident("backup", "exit 3", Severity::High, at(2));
    n.run_id = Some(run);
    n.step = Some("dump".into());
    n.report_deadline = Some(at(60 * 24));
    let opened = db.open_incident(&n).await.expect("open");
    assert!(opened.new);
    let (row, events) = db
        .get_incident(opened.id)
        .await
        .expect("get")
        .expect("recorded");
    assert_eq!(row.id, opened.id);
    assert_eq!(
        (row.status, row.severity, row.occurrences),
        (IncidentStatus::Open, Severity::High, 1)
    );
    assert_eq!((row.opened_at, row.last_seen_at), (at(2), at(2)));
    assert_eq!(
        (row.job.as_str(), row.run_id, row.step.as_deref()),
        ("backup", Some(run), Some("dump"))
    );
    assert_eq!(
        (row.failure_class.as_str(), row.summary.as_str()),
        ("exit 3", n.summary.as_str())
    );
    assert_eq!(
        (row.log_excerpt.as_str(), row.rule.as_deref()),
        (n.log_excerpt.as_str(), n.rule.as_deref())
    );
    assert_eq!(row.report_deadline, Some(at(60 * 24)));
    assert_eq!(
        (row.route, row.escalation_level, row.next_escalation_at),
        (None, 0, None)
    );
    assert_eq!(
        (row.acknowledged_by, row.resolved_by, row.cause),
        (None, None, None)
    );
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.at, e.kind.as_str(), e.actor.as_str()),
        (at(2), "opened", "unyo")
    );
    assert_eq!((e.run_id, e.text.as_str()), (Some(run), n.summary.as_str()));
}

pub async fn open_incident_deduplicates_by_job_and_failure_class_until_resolved(db: &Db) {
    let first = db
        .open_incident(&incident("backup", "exit 3", Severity::Medium, at(0)))
        .await
        .expect("open");
    let mut again = incident("backup", "exit 3", Severity::Medium, at(5));
    again.summary = "failed again".into();
    let second = db.open_incident(&again).await.expect("occurrence");
    assert_eq!(
        second,
        IncidentOpened {
            id: first.id,
            new: false
        }
    );
    let (row, events) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!(
        (row.occurrences, row.opened_at, row.last_seen_at),
        (2, at(0), at(5))
    );
    let kinds: Vec<(&str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(kinds[1], ("occurrence", "failed again"));
    let other_class = db
        .open_incident(&incident("backup", "timeout", Severity::Medium, at(6)))
        .await
        .expect("open");
    let other_job = db
        .open_incident(&incident("extract", "exit 3", Severity::Medium, at(6)))
        .await
        .expect("open");
    assert!(other_class.new && other_job.new);
    assert_ne!(other_class.id, first.id);
    assert_ne!(other_job.id, first.id);
    db.change_incident(first.id, &IncidentChange::Acknowledge, "alice", at(7))
        .await
        .expect("store")
        .expect("acknowledge");
    let while_acked = db
        .open_incident(&incident("backup", "exit 3", Severity::Medium, at(8)))
        .await
        .expect("occurrence");
    assert_eq!(
        while_acked,
        IncidentOpened {
            id: first.id,
            new: false
        },
        "acknowledged is not resolved"
    );
    db.change_incident(first.id, &resolve("disk"), "alice", at(9))
        .await
        .expect("store")
        .expect("resolve");
    let after = db
        .open_incident(&incident("backup", "exit 3", Severity::Medium, at(10)))
        .await
        .expect("open");
    assert!(after.new, "a resolved incident is not reopened");
    assert!(after.id != first.id);
    let (row, _) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!((row.status, row.occurrences), (IncidentStatus::Resolved, 3));
}

pub async fn open_incident_counts_occurrences_given(db: &Db) {
    let mut missed = incident("backup", "missed", Severity::Low, at(0));
    missed.occurrences = 3;
    let first = db.open_incident(&missed).await.expect("open");
    missed.occurrences = 2;
    missed.at = at(60);
    db.open_incident(&missed).await.expect("occurrence");
    missed.occurrences = 0;
    missed.at = at(61);
    db.open_incident(&missed).await.expect("occurrence");
    let (row, events) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!(row.occurrences, 6, "3, then 2, then at least 1");
    assert_eq!(events.len(), 3, "one event per call");
}

pub async fn open_incident_raises_severity_and_shortens_deadline(db: &Db) {
    let with = |severity, hours: i64, minute: i64| {
        let mut n = incident("backup", "exit 3", severity, at(minute));
        n.report_deadline = Some(at(minute + 60 * hours));
        n
    };
    let first = db
        .open_incident(&with(Severity::Medium, 72, 0))
        .await
        .expect("open");
    db.open_incident(&with(Severity::High, 24, 10))
        .await
        .expect("raise");
    let (row, events) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!(
        (row.severity, row.report_deadline),
        (Severity::High, Some(at(10 + 60 * 24)))
    );
    assert_eq!(
        events[1].text,
        "`backup` failed: exit 3 (severity raised to high)"
    );
    db.open_incident(&with(Severity::Low, 1, 20))
        .await
        .expect("lower");
    let (row, events) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!(
        (row.severity, row.report_deadline),
        (Severity::High, Some(at(10 + 60 * 24))),
        "a lower severity changes neither"
    );
    assert_eq!(events[2].text, "`backup` failed: exit 3");
    db.open_incident(&with(Severity::Critical, 200, 30))
        .await
        .expect("raise");
    let (row, _) = db.get_incident(first.id).await.expect("get").expect("row");
    assert_eq!(
        (row.severity, row.report_deadline),
        (Severity::Critical, Some(at(10 + 60 * 24))),
        "a raise never moves the deadline later"
    );
    assert_eq!(row.occurrences, 4);
}

pub async fn open_incident_racing_failures_open_one_incident(db: &Db) {
    let opened = race(db.racers(8).await, |i, s| async move {
        s.open_incident(&incident(
            "backup",
            "exit 3",
            Severity::Medium,
            at(i as i64),
        ))
        .await
        .expect("open")
    })
    .await;
    assert_eq!(opened.iter().filter(|o| o.new).count(), 1, "{opened:?}");
    assert!(opened.iter().all(|o| o.id == opened[0].id));
    let all = db.list_incidents(None, 100).await.expect("list");
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].occurrences, 8);
    let (_, events) = db.get_incident(all[0].id).await.expect("get").expect("row");
    assert_eq!(events.iter().filter(|e| e.kind == "opened").count(), 1);
    assert_eq!(events.iter().filter(|e| e.kind == "occurrence").count(), 7);
}

pub async fn list_incidents_newest_first_filtered_and_limited(db: &Db) {
    let mut ids = Vec::new();
    for (i, class) in ["a", "b", "c"].iter().enumerate() {
        let o = db
            .open_incident(&incident("backup", class, Severity::Low, at(i as i64)))
            .await
            .expect("open");
        ids.push(o.id);
    }
    db.change_incident(ids[1], &IncidentChange::Acknowledge, "alice", at(5))
        .await
        .expect("store")
        .expect("ack");
    let list = |status, limit| db.list_incidents(status, limit);
    let got = |rows: Vec<unyo::store::IncidentRow>| rows.iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(
        got(list(None, 10).await.expect("list")),
        [ids[2], ids[1], ids[0]]
    );
    assert_eq!(
        got(list(Some(IncidentStatus::Open), 10).await.expect("list")),
        [ids[2], ids[0]]
    );
    assert_eq!(
        got(list(Some(IncidentStatus::Acknowledged), 10)
            .await
            .expect("list")),
        [ids[1]]
    );
    assert!(
        list(Some(IncidentStatus::Resolved), 10)
            .await
            .expect("list")
            .is_empty()
    );
    assert_eq!(got(list(None, 2).await.expect("list")), [ids[2], ids[1]]);
}

pub async fn get_incident_of_an_unknown_id_is_none(db: &Db) {
    assert!(db.get_incident(1).await.expect("get").is_none());
    let o = db
        .open_incident(&incident("backup", "exit 3", Severity::Low, at(0)))
        .await
        .expect("open");
    assert!(db.get_incident(o.id + 1).await.expect("get").is_none());
}

pub async fn change_incident_acknowledges_then_resolves_once(db: &Db) {
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id;
    let acked = db
        .change_incident(id, &IncidentChange::Acknowledge, "alice", at(5))
        .await
        .expect("store")
        .expect("acknowledge");
    assert_eq!(acked.status, IncidentStatus::Acknowledged);
    assert_eq!(
        (acked.acknowledged_by.as_deref(), acked.acknowledged_at),
        (Some("alice"), Some(at(5)))
    );
    assert_eq!(acked.next_escalation_at, None);
    assert_eq!(
        db.get_incident(id).await.expect("get").expect("row").0,
        acked
    );
    let again = db
        .change_incident(id, &IncidentChange::Acknowledge, "bob", at(6))
        .await
        .expect("store");
    assert_eq!(
        again.map_err(|e| e.to_string()),
        Err(format!("incident {id} is acknowledged already (by alice)"))
    );

    let resolved = db
        .change_incident(id, &resolve("disk full"), "bob", at(10))
        .await
        .expect("store")
        .expect("resolve");
    assert_eq!(resolved.status, IncidentStatus::Resolved);
    assert_eq!(
        (resolved.resolved_by.as_deref(), resolved.resolved_at),
        (Some("bob"), Some(at(10)))
    );
    assert_eq!(
        (
            resolved.cause.as_deref(),
            resolved.countermeasure.as_deref()
        ),
        (Some("disk full"), Some("added a disk"))
    );
    assert_eq!(
        resolved.acknowledged_by.as_deref(),
        Some("alice"),
        "the acknowledgement is kept"
    );
    let twice = db
        .change_incident(id, &resolve("other"), "carol", at(11))
        .await
        .expect("store");
    assert_eq!(
        twice.map_err(|e| e.to_string()),
        Err(format!("incident {id} is resolved already (by bob)"))
    );
    let ack_late = db
        .change_incident(id, &IncidentChange::Acknowledge, "carol", at(11))
        .await
        .expect("store");
    assert_eq!(
        ack_late.map_err(|e| e.to_string()),
        Err(format!("incident {id} is resolved already (by bob)"))
    );
    let (_, events) = db.get_incident(id).await.expect("get").expect("row");
    let got: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e.kind.as_str(), e.actor.as_str(), e.text.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("opened", "unyo", "`backup` failed: exit 3"),
            ("acknowledged", "alice", ""),
            (
                "resolved",
                "bob",
                "cause: disk full; countermeasure: added a disk"
            )
        ]
    );
    assert_eq!((events[1].at, events[2].at), (at(5), at(10)));
}

pub async fn change_incident_resolves_straight_from_open(db: &Db) {
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id;
    let row = db
        .change_incident(id, &resolve("disk"), "alice", at(3))
        .await
        .expect("store")
        .expect("resolve");
    assert_eq!(row.status, IncidentStatus::Resolved);
    assert_eq!(
        (row.acknowledged_by.as_deref(), row.acknowledged_at),
        (Some("alice"), Some(at(3)))
    );
}

pub async fn change_incident_refused_writes_nothing(db: &Db) {
    assert_eq!(
        db.change_incident(7, &IncidentChange::Acknowledge, "alice", at(0))
            .await
            .expect("store")
            .map_err(|e| e.to_string()),
        Err("no incident 7 is recorded".to_owned())
    );
    assert_eq!(
        db.change_incident(7, &resolve("x"), "alice", at(0))
            .await
            .expect("store")
            .map_err(|e| e.to_string()),
        Err(unyo::store::no_such_incident(7).to_string())
    );
    assert!(db.list_incidents(None, 10).await.expect("list").is_empty());
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id;
    db.change_incident(id, &resolve("disk"), "alice", at(1))
        .await
        .expect("store")
        .expect("resolve");
    let before = db.get_incident(id).await.expect("get").expect("row");
    db.change_incident(id, &IncidentChange::Acknowledge, "bob", at(2))
        .await
        .expect("store")
        .expect_err("resolved");
    db.change_incident(id, &resolve("other"), "bob", at(2))
        .await
        .expect("store")
        .expect_err("resolved");
    assert_eq!(
        db.get_incident(id).await.expect("get").expect("row"),
        before
    );
}

pub async fn change_incident_withdraws_the_messages_nobody_needs(db: &Db) {
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id;
    notify(db, id, &[1, 1, 2, 3]).await;
    let first = outbox(db).await[0].id;
    db.notification_tried(first, Delivery::Sent("250 queued".into()), at(2), None)
        .await
        .expect("sent");
    db.change_incident(id, &IncidentChange::Acknowledge, "alice", at(5))
        .await
        .expect("store")
        .expect("ack");
    let after_ack: Vec<(i64, NotificationStatus, Option<String>)> = outbox(db)
        .await
        .into_iter()
        .map(|n| (n.level, n.status, n.reason))
        .collect();
    let acked = Some(format!("incident {id} was acknowledged by alice"));
    assert_eq!(
        after_ack,
        [
            (1, NotificationStatus::Sent, None),
            (1, NotificationStatus::Pending, None),
            (2, NotificationStatus::Withdrawn, acked.clone()),
            (3, NotificationStatus::Withdrawn, acked.clone())
        ]
    );
    let due: Vec<i64> = db
        .due_notifications(at(100), 10)
        .await
        .expect("due")
        .iter()
        .map(|n| n.level)
        .collect();
    assert_eq!(due, [1], "withdrawn messages are never due");
    db.change_incident(id, &resolve("disk"), "bob", at(6))
        .await
        .expect("store")
        .expect("resolve");
    let statuses: Vec<(NotificationStatus, Option<String>)> = outbox(db)
        .await
        .into_iter()
        .map(|n| (n.status, n.reason))
        .collect();
    assert_eq!(
        statuses,
        [
            (NotificationStatus::Sent, None),
            (
                NotificationStatus::Withdrawn,
                Some(format!("incident {id} was resolved by bob"))
            ),
            (NotificationStatus::Withdrawn, acked.clone()),
            (NotificationStatus::Withdrawn, acked)
        ]
    );
    assert!(
        db.due_notifications(at(100), 10)
            .await
            .expect("due")
            .is_empty()
    );
}

pub async fn change_incident_has_one_winner_among_racing_operators(db: &Db) {
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(0)))
        .await
        .expect("open")
        .id;
    let acks = race(db.racers(6).await, |i, s| async move {
        s.change_incident(id, &IncidentChange::Acknowledge, &format!("op{i}"), at(1))
            .await
            .expect("store")
    })
    .await;
    assert_eq!(acks.iter().filter(|a| a.is_ok()).count(), 1, "{acks:?}");
    let winner = acks.iter().position(Result::is_ok).expect("a winner");
    let row = db.get_incident(id).await.expect("get").expect("row").0;
    assert_eq!(row.acknowledged_by, Some(format!("op{winner}")));
    let resolves = race(db.racers(6).await, |i, s| async move {
        s.change_incident(
            id,
            &resolve(&format!("cause {i}")),
            &format!("op{i}"),
            at(2),
        )
        .await
        .expect("store")
    })
    .await;
    assert_eq!(
        resolves.iter().filter(|a| a.is_ok()).count(),
        1,
        "{resolves:?}"
    );
    let (_, events) = db.get_incident(id).await.expect("get").expect("row");
    assert_eq!(
        events.iter().filter(|e| e.kind == "acknowledged").count(),
        1
    );
    assert_eq!(events.iter().filter(|e| e.kind == "resolved").count(), 1);
}

pub async fn change_incident_completes_one_unyo_resolved(db: &Db) {
    let old_run = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let mut n = incident("backup", "exit 3", Severity::High, at(0));
    n.run_id = Some(old_run);
    let id = db.open_incident(&n).await.expect("open").id;
    let good_run = finished(&**db, "backup", RunStatus::Succeeded, at(5)).await;
    db.job_recovered("backup", good_run, at(6), true)
        .await
        .expect("recovered");
    let row = db.get_incident(id).await.expect("get").expect("row").0;
    assert_eq!(
        (row.status, row.resolved_by.as_deref()),
        (IncidentStatus::Resolved, Some("unyo"))
    );
    let row = db
        .change_incident(id, &resolve("a full disk"), "alice", at(10))
        .await
        .expect("store")
        .expect("a person gives the cause");
    assert_eq!(
        (row.resolved_by.as_deref(), row.cause.as_deref()),
        (Some("alice"), Some("a full disk"))
    );
    db.change_incident(id, &resolve("again"), "bob", at(11))
        .await
        .expect("store")
        .expect_err("resolved by a person already");
}

pub async fn job_recovered_resolves_open_incidents_of_earlier_runs(db: &Db) {
    let earlier = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let good = finished(&**db, "backup", RunStatus::Succeeded, at(10)).await;
    let open_as = |class: &str, run: Option<i64>| {
        let mut n = incident("backup", class, Severity::High, at(1));
        n.run_id = run;
        n
    };
    let open = db
        .open_incident(&open_as("exit 3", Some(earlier)))
        .await
        .expect("open")
        .id;
    let acked = db
        .open_incident(&open_as("timeout", Some(earlier)))
        .await
        .expect("open")
        .id;
    db.change_incident(acked, &IncidentChange::Acknowledge, "alice", at(2))
        .await
        .expect("store")
        .expect("ack");
    let own = db
        .open_incident(&open_as("retried", Some(good)))
        .await
        .expect("open")
        .id;
    let done = db
        .open_incident(&open_as("old", None))
        .await
        .expect("open")
        .id;
    db.change_incident(done, &resolve("x"), "alice", at(3))
        .await
        .expect("store")
        .expect("resolve");
    let other = db
        .open_incident(&incident("extract", "exit 3", Severity::High, at(1)))
        .await
        .expect("open")
        .id;

    let touched = db
        .job_recovered("backup", good, at(11), true)
        .await
        .expect("recovered");
    assert_eq!(
        touched,
        [open, acked, own],
        "every unresolved incident of the job, by id"
    );
    let text = format!("`backup` succeeded again in run {good}");
    let (row, events) = db.get_incident(open).await.expect("get").expect("row");
    assert_eq!(row.status, IncidentStatus::Resolved);
    assert_eq!(
        (row.resolved_by.as_deref(), row.resolved_at),
        (Some("unyo"), Some(at(11)))
    );
    assert_eq!(
        row.cause.as_deref(),
        Some("not recorded: unyo closed it when the job succeeded again")
    );
    assert_eq!(row.countermeasure.as_deref(), Some("not recorded"));
    let last = events.last().expect("event");
    assert_eq!(
        (
            last.kind.as_str(),
            last.actor.as_str(),
            last.run_id,
            last.text.as_str()
        ),
        ("resolved", "unyo", Some(good), text.as_str())
    );
    for (id, status) in [
        (acked, IncidentStatus::Acknowledged),
        (own, IncidentStatus::Open),
    ] {
        let (row, events) = db.get_incident(id).await.expect("get").expect("row");
        assert_eq!(
            row.status, status,
            "incident {id} is left to its people or its run"
        );
        let last = events.last().expect("event");
        assert_eq!(
            (last.kind.as_str(), last.text.as_str(), last.run_id),
            ("note", text.as_str(), Some(good))
        );
    }
    let (_, events) = db.get_incident(done).await.expect("get").expect("row");
    assert!(
        events.iter().all(|e| e.kind != "note"),
        "a resolved incident is not touched"
    );
    let (row, events) = db.get_incident(other).await.expect("get").expect("row");
    assert_eq!(
        (row.status, events.len()),
        (IncidentStatus::Open, 1),
        "another job's incident"
    );
    assert!(
        db.job_recovered("report", good, at(12), true)
            .await
            .expect("recovered")
            .is_empty()
    );
}

pub async fn job_recovered_without_resolve_only_notes(db: &Db) {
    let earlier = finished(&**db, "backup", RunStatus::Failed, at(0)).await;
    let good = finished(&**db, "backup", RunStatus::Succeeded, at(10)).await;
    let mut n = incident("backup", "exit 3", Severity::High, at(1));
    n.run_id = Some(earlier);
    let id = db.open_incident(&n).await.expect("open").id;
    assert_eq!(
        db.job_recovered("backup", good, at(11), false)
            .await
            .expect("recovered"),
        [id]
    );
    let (row, events) = db.get_incident(id).await.expect("get").expect("row");
    assert_eq!((row.status, row.resolved_by), (IncidentStatus::Open, None));
    assert_eq!(events.last().map(|e| e.kind.as_str()), Some("note"));
}

pub async fn job_recovered_withdraws_the_messages_of_what_it_resolves(db: &Db) {
    let good = finished(&**db, "backup", RunStatus::Succeeded, at(10)).await;
    let id = db
        .open_incident(&incident("backup", "exit 3", Severity::High, at(1)))
        .await
        .expect("open")
        .id;
    notify(db, id, &[1, 2]).await;
    db.job_recovered("backup", good, at(11), true)
        .await
        .expect("recovered");
    let why = format!("incident {id} was resolved: `backup` succeeded again in run {good}");
    for n in outbox(db).await {
        assert_eq!(
            (n.status, n.reason.as_deref()),
            (NotificationStatus::Withdrawn, Some(why.as_str()))
        );
    }
    assert!(
        db.due_notifications(at(100), 10)
            .await
            .expect("due")
            .is_empty()
    );
}
