//! Contracts of what reports read and keep: frozen reports (freeze once, supersede in a
//! chain, find by hash) and the facts of a period.

use unyo::model::Severity;
use unyo::store::Delivery;
use unyo::store::{
    AttemptCount, AttemptStatus, Freeze, FrozenReport, IncidentChange, JobSlot, NewRun,
    NotificationPlan, RefusalCount, RunStatus, SlotCount, SlotOutcome, StepStatus, Trigger,
};

use crate::fixtures::{
    Db, at, attempt, ended, extract, grant, incident, message, param_change, race, report, running,
    sha, slot, slot_with_run,
};

/// One day: the period `[at(0), at(DAY))`.
const DAY: i64 = 60 * 24;

fn frozen(f: Freeze) -> FrozenReport {
    match f {
        Freeze::Frozen(r) => r,
        other => panic!("expected Frozen, got {other:?}"),
    }
}

fn superseding(body: &str, reason: &str, t: i64) -> unyo::store::NewFrozenReport {
    unyo::store::NewFrozenReport {
        supersede: Some(reason.into()),
        ..report(body, at(t))
    }
}

pub async fn freeze_report_freezes_once_and_refuses_other_bytes(db: &Db) {
    let n = report("first", at(0));
    let r = frozen(db.freeze_report(&n).await.expect("freeze"));
    assert_eq!(
        (
            r.kind.as_str(),
            r.period.as_str(),
            r.lang.as_str(),
            r.format.as_str()
        ),
        ("monthly", "2026-10", "ja", "md")
    );
    assert_eq!(
        (r.data_from, r.data_to, r.frozen_at),
        (n.data_from, n.data_to, at(0))
    );
    assert_eq!(
        (r.sha256.as_str(), r.frozen_by.as_str()),
        (sha("first").as_str(), "operator")
    );
    assert_eq!(
        (r.supersedes, r.reason.as_deref(), r.superseded_by),
        (None, None, None)
    );
    assert_eq!(
        db.freeze_report(&report("first", at(5)))
            .await
            .expect("again"),
        Freeze::Already(r.clone())
    );
    assert_eq!(
        db.freeze_report(&report("changed", at(6)))
            .await
            .expect("differs"),
        Freeze::Differs(r.clone())
    );
    let en = frozen(
        db.freeze_report(&unyo::store::NewFrozenReport {
            lang: "en".into(),
            ..report("changed", at(7))
        })
        .await
        .expect("another language"),
    );
    assert!(en.id != r.id);
    assert_eq!(db.frozen_report(r.id).await.expect("read"), Some(r));
}

pub async fn freeze_report_supersede_chains_and_keeps_the_old(db: &Db) {
    let r1 = frozen(
        db.freeze_report(&report("first", at(0)))
            .await
            .expect("freeze"),
    );
    let (old, r2) = match db
        .freeze_report(&superseding("second", "figures corrected", 10))
        .await
        .expect("supersede")
    {
        Freeze::Superseded { old, new } => (*old, *new),
        other => panic!("expected Superseded, got {other:?}"),
    };
    assert_eq!(
        old,
        FrozenReport {
            superseded_by: Some(r2.id),
            ..r1.clone()
        }
    );
    assert_eq!(
        (r2.supersedes, r2.reason.as_deref(), r2.superseded_by),
        (Some(r1.id), Some("figures corrected"), None)
    );
    assert_eq!(
        (r2.sha256.as_str(), r2.frozen_at),
        (sha("second").as_str(), at(10))
    );
    assert_eq!(db.frozen_report(r1.id).await.expect("read"), Some(old));
    assert_eq!(
        db.frozen_report(r2.id).await.expect("read"),
        Some(r2.clone())
    );
    let r3 = match db
        .freeze_report(&superseding("third", "late run", 20))
        .await
        .expect("supersede")
    {
        Freeze::Superseded { old, new } => {
            assert_eq!(old.id, r2.id, "the current one is superseded");
            *new
        }
        other => panic!("expected Superseded, got {other:?}"),
    };
    assert_eq!(r3.supersedes, Some(r2.id));
    assert_eq!(
        db.freeze_report(&superseding("third", "again", 30))
            .await
            .expect("same"),
        Freeze::Already(r3.clone())
    );
    assert_eq!(
        db.freeze_report(&report("third", at(31)))
            .await
            .expect("same"),
        Freeze::Already(r3.clone())
    );
    assert_eq!(
        db.freeze_report(&report("first", at(32)))
            .await
            .expect("old bytes"),
        Freeze::Differs(r3.clone())
    );
    assert_eq!(
        db.frozen_report(r1.id)
            .await
            .expect("read")
            .and_then(|r| r.superseded_by),
        Some(r2.id)
    );
}

pub async fn freeze_report_supersede_with_nothing_frozen_writes_nothing(db: &Db) {
    assert_eq!(
        db.freeze_report(&superseding("first", "why", 0))
            .await
            .expect("supersede"),
        Freeze::NothingToSupersede
    );
    assert!(
        db.frozen_reports_by_hash(&sha("first"))
            .await
            .expect("read")
            .is_empty()
    );
    let r = frozen(
        db.freeze_report(&report("first", at(1)))
            .await
            .expect("freeze"),
    );
    assert_eq!(r.supersedes, None);
}

pub async fn freeze_report_racing_freezes_freeze_once(db: &Db) {
    let got = race(db.racers(6).await, |i, s| async move {
        s.freeze_report(&report("same", at(i as i64)))
            .await
            .expect("freeze")
    })
    .await;
    let firsts: Vec<&FrozenReport> = got
        .iter()
        .filter_map(|f| match f {
            Freeze::Frozen(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(firsts.len(), 1, "{got:?}");
    for f in &got {
        match f {
            Freeze::Frozen(_) => {}
            Freeze::Already(r) => assert_eq!(r, firsts[0]),
            other => panic!("expected Already, got {other:?}"),
        }
    }
    assert_eq!(
        db.frozen_reports_by_hash(&sha("same"))
            .await
            .expect("read")
            .len(),
        1
    );
}

pub async fn frozen_report_reads_one_by_id(db: &Db) {
    assert_eq!(db.frozen_report(1).await.expect("read"), None);
    let r = frozen(
        db.freeze_report(&report("first", at(0)))
            .await
            .expect("freeze"),
    );
    assert_eq!(db.frozen_report(r.id).await.expect("read"), Some(r.clone()));
    assert_eq!(db.frozen_report(r.id + 1).await.expect("read"), None);
}

pub async fn list_frozen_reports_newest_first_and_limited(db: &Db) {
    assert_eq!(db.list_frozen_reports(10).await.expect("none"), vec![]);
    let r1 = frozen(
        db.freeze_report(&report("first", at(0)))
            .await
            .expect("freeze"),
    );
    let (old, r2) = match db
        .freeze_report(&superseding("second", "figures corrected", 10))
        .await
        .expect("supersede")
    {
        Freeze::Superseded { old, new } => (*old, *new),
        other => panic!("expected Superseded, got {other:?}"),
    };
    let en = frozen(
        db.freeze_report(&unyo::store::NewFrozenReport {
            lang: "en".into(),
            ..report("first", at(20))
        })
        .await
        .expect("another language"),
    );
    // Every row, the superseded one too, each with its chain.
    assert_eq!(
        db.list_frozen_reports(10).await.expect("all"),
        vec![en.clone(), r2.clone(), old.clone()]
    );
    assert_eq!(old.id, r1.id);
    assert_eq!(old.superseded_by, Some(r2.id));
    assert_eq!(db.list_frozen_reports(2).await.expect("two"), vec![en, r2]);
}

pub async fn frozen_reports_by_hash_lists_every_report_with_those_bytes(db: &Db) {
    let ja = frozen(
        db.freeze_report(&report("body", at(0)))
            .await
            .expect("freeze"),
    );
    let en = frozen(
        db.freeze_report(&unyo::store::NewFrozenReport {
            lang: "en".into(),
            ..report("body", at(1))
        })
        .await
        .expect("freeze"),
    );
    db.freeze_report(&unyo::store::NewFrozenReport {
        period: "2026-09".into(),
        ..report("other", at(2))
    })
    .await
    .expect("freeze");
    assert_eq!(
        db.frozen_reports_by_hash(&sha("body")).await.expect("read"),
        [ja, en]
    );
    assert!(
        db.frozen_reports_by_hash(&sha("nothing"))
            .await
            .expect("read")
            .is_empty()
    );
}

/// A run of `job` queued at `at(minute)`, ended with `status` (and `reason`).
async fn run_at(db: &Db, job: &str, minute: i64, status: RunStatus, reason: Option<&str>) -> i64 {
    let id = db
        .create_run(&NewRun {
            at: at(minute),
            ..running(job, &["only"])
        })
        .await
        .expect("create");
    db.set_run_status(id, status, at(minute + 1), reason)
        .await
        .expect("status");
    id
}

pub async fn report_facts_reads_the_runs_queued_in_the_period(db: &Db) {
    let empty = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert!(empty.runs.is_empty() && empty.jobs.is_empty() && empty.submitted.is_empty());
    run_at(db, "backup", -1, RunStatus::Succeeded, None).await;
    let first = run_at(db, "backup", 0, RunStatus::Succeeded, None).await;
    let submitted = db
        .create_run(&NewRun {
            at: at(100),
            trigger: Trigger::Submit,
            job_digest: "d".repeat(64),
            comment: Some("month end".into()),
            requested_by: "alice".into(),
            status: RunStatus::Queued,
            owner: None,
            ..running("extract", &["only"])
        })
        .await
        .expect("create");
    let refused = run_at(db, "backup", 200, RunStatus::Refused, Some("nothing to do")).await;
    let refused2 = run_at(db, "backup", 300, RunStatus::Refused, Some("nothing to do")).await;
    run_at(db, "backup", DAY, RunStatus::Succeeded, None).await;

    let f = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert_eq!(
        f.runs.iter().map(|r| r.id).collect::<Vec<_>>(),
        [first, submitted, refused, refused2]
    );
    assert_eq!(f.jobs, ["backup", "extract"]);
    assert_eq!(f.digests, ["j".repeat(64), "d".repeat(64)]);
    let r = &f.runs[0];
    assert_eq!(
        (
            f.jobs[r.job as usize].as_str(),
            f.digests[r.digest as usize].as_str()
        ),
        ("backup", "j".repeat(64).as_str())
    );
    assert_eq!(
        (r.trigger, r.status),
        (Trigger::Manual, RunStatus::Succeeded)
    );
    assert_eq!(
        (r.queued_at, r.started_at, r.ended_at),
        (at(0), Some(at(0)), Some(at(1)))
    );
    let s = &f.runs[1];
    assert_eq!(
        (f.jobs[s.job as usize].as_str(), s.trigger, s.status),
        ("extract", Trigger::Submit, RunStatus::Queued)
    );
    assert_eq!((s.started_at, s.ended_at), (None, None));
    assert_eq!(
        f.submitted
            .iter()
            .map(|r| (r.id, r.comment.as_deref(), r.requested_by.as_str()))
            .collect::<Vec<_>>(),
        [(submitted, Some("month end"), "alice")]
    );
    assert_eq!(
        f.refusals,
        [RefusalCount {
            job: "backup".into(),
            reason: Some("nothing to do".into()),
            count: 2
        }]
    );
}

pub async fn report_facts_counts_slots_and_keeps_those_of_the_jobs_asked(db: &Db) {
    let missed = |minute| {
        let mut s = slot("nightly", "backup", at(minute), SlotOutcome::Missed);
        s.reason = Some("the daemon was down".into());
        s
    };
    let slots = [
        slot_with_run("nightly", "backup", at(-10)),
        slot_with_run("nightly", "backup", at(0)),
        slot_with_run("nightly", "backup", at(60)),
        missed(120),
        missed(180),
        slot("hourly", "sync", at(30), SlotOutcome::SkippedOverlap),
        slot_with_run("nightly", "backup", at(DAY)),
    ];
    let made = db.record_slots(&slots, &[]).await.expect("record");
    let done = made[1].expect("run");
    db.set_run_status(done, RunStatus::Succeeded, at(5), None)
        .await
        .expect("status");
    let f = db
        .report_facts(at(0), at(DAY), &["backup".to_owned()])
        .await
        .expect("facts");
    let count = |job: &str, outcome, reason: Option<&str>, count| SlotCount {
        job: job.into(),
        outcome,
        reason: reason.map(str::to_owned),
        count,
    };
    assert_eq!(
        f.slots,
        [
            count(
                "backup",
                SlotOutcome::Missed,
                Some("the daemon was down"),
                2
            ),
            count("backup", SlotOutcome::Queued, None, 2),
            count("sync", SlotOutcome::SkippedOverlap, None, 1)
        ]
    );
    let kept = |minute, outcome, run_id, run_status| JobSlot {
        job: "backup".into(),
        due_at: at(minute),
        outcome,
        run_id,
        run_status,
    };
    assert_eq!(
        f.job_slots,
        [
            kept(
                0,
                SlotOutcome::Queued,
                Some(done),
                Some(RunStatus::Succeeded)
            ),
            kept(60, SlotOutcome::Queued, made[2], Some(RunStatus::Queued)),
            kept(120, SlotOutcome::Missed, None, None),
            kept(180, SlotOutcome::Missed, None, None)
        ]
    );
    let none = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert!(none.job_slots.is_empty(), "no job asked, no slot kept");
    assert_eq!(none.slots, f.slots);
}

pub async fn report_facts_counts_attempts_that_failed_or_retried(db: &Db) {
    let with_attempts =
        |job: &'static str, minute: i64, ends: Vec<(AttemptStatus, Option<i32>)>| async move {
            let id = db
                .create_run(&NewRun {
                    at: at(minute),
                    ..running(job, &["only"])
                })
                .await
                .expect("create");
            for (n, (status, signal)) in ends.into_iter().enumerate() {
                let a = db
                    .start_attempt(&attempt(id, "only", n as i64 + 1, at(minute)))
                    .await
                    .expect("attempt");
                let mut end = ended(status, StepStatus::Failed, at(minute + 1));
                end.signal = signal;
                db.finish_attempt(a, &end).await.expect("finish");
            }
        };
    with_attempts("backup", -10, vec![(AttemptStatus::Failed, None)]).await;
    with_attempts(
        "backup",
        10,
        vec![
            (AttemptStatus::Failed, None),
            (AttemptStatus::Succeeded, None),
        ],
    )
    .await;
    with_attempts("backup", 20, vec![(AttemptStatus::Failed, Some(9))]).await;
    with_attempts("backup", 25, vec![(AttemptStatus::Failed, None)]).await;
    with_attempts("extract", 30, vec![(AttemptStatus::Succeeded, None)]).await;
    with_attempts("extract", 40, vec![(AttemptStatus::TimedOut, Some(15))]).await;
    let f = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    let count = |job: &str, status, signalled, retry, count| AttemptCount {
        job: job.into(),
        status,
        signalled,
        retry,
        count,
    };
    assert_eq!(
        f.attempts,
        [
            count("backup", AttemptStatus::Failed, false, false, 2),
            count("backup", AttemptStatus::Failed, true, false, 1),
            count("backup", AttemptStatus::Succeeded, false, true, 1),
            count("extract", AttemptStatus::TimedOut, true, false, 1)
        ]
    );
}

pub async fn report_facts_incidents_opened_in_or_open_at_the_start(db: &Db) {
    let open = |class: &'static str, minute: i64| async move {
        db.open_incident(&incident("backup", class, Severity::High, at(minute)))
            .await
            .expect("open")
            .id
    };
    let resolve = |id: i64, minute: i64| async move {
        db.change_incident(
            id,
            &IncidentChange::Resolve {
                cause: "c".into(),
                countermeasure: "m".into(),
            },
            "alice",
            at(minute),
        )
        .await
        .expect("store")
        .expect("resolve");
    };
    let closed_before = open("closed before", -100).await;
    resolve(closed_before, -50).await;
    let closed_in = open("closed in", -100).await;
    resolve(closed_in, 10).await;
    let still_open = open("still open", -100).await;
    let opened_in = open("opened in", 10).await;
    let acked_in = open("acknowledged", 20).await;
    db.change_incident(acked_in, &IncidentChange::Acknowledge, "bob", at(21))
        .await
        .expect("store")
        .expect("ack");
    open("after", DAY).await;
    let f = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert_eq!(
        f.incidents.iter().map(|i| i.id).collect::<Vec<_>>(),
        [closed_in, still_open, opened_in, acked_in]
    );
    assert_eq!(
        f.incidents[3].status,
        unyo::store::IncidentStatus::Acknowledged
    );
}

pub async fn report_facts_records_made_in_the_period(db: &Db) {
    let mut params = Vec::new();
    let mut extracts = Vec::new();
    let mut grants = Vec::new();
    for minute in [-1, 0, DAY - 1, DAY] {
        params.push(
            db.record_param_change(&param_change("a.x", at(minute)))
                .await
                .expect("record"),
        );
        extracts.push(
            db.record_extract(&extract(at(minute)))
                .await
                .expect("record"),
        );
        grants.extend(
            db.record_permission_changes(&[grant("b", "S001", "tax", at(minute))])
                .await
                .expect("record"),
        );
    }
    let f = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert_eq!(
        f.param_changes.iter().map(|c| c.id).collect::<Vec<_>>(),
        &params[1..3]
    );
    assert_eq!(
        f.extracts.iter().map(|c| c.id).collect::<Vec<_>>(),
        &extracts[1..3]
    );
    assert_eq!(
        f.permission_changes
            .iter()
            .map(|c| c.id)
            .collect::<Vec<_>>(),
        &grants[1..3]
    );
    assert_eq!(f.param_changes[0].at, at(0));
}

pub async fn report_facts_first_notified_is_the_earliest_sent(db: &Db) {
    let open = |job: &'static str, minute: i64| async move {
        db.open_incident(&incident(job, "exit 3", Severity::High, at(minute)))
            .await
            .expect("open")
            .id
    };
    let told = open("backup", 10).await;
    let never = open("extract", 20).await;
    let earlier = open("report", -200).await;
    for id in [told, never, earlier] {
        let planned = db
            .plan_notifications(&NotificationPlan {
                incident_id: id,
                route: "desk".into(),
                level: 1,
                next_escalation_at: None,
                event_id: None,
                only_if_open: false,
                messages: vec![message("opened", 1, "mail"), message("opened", 1, "chat")],
                at: at(0),
            })
            .await
            .expect("plan");
        assert!(planned);
    }
    let mut rows = db.list_notifications(false, 100).await.expect("list");
    rows.reverse();
    let of = |id: i64| {
        rows.iter()
            .filter(move |n| n.incident_id == Some(id))
            .map(|n| n.id)
    };
    let told_msgs: Vec<i64> = of(told).collect();
    db.notification_tried(told_msgs[0], Delivery::Sent("250".into()), at(15), None)
        .await
        .expect("sent");
    db.notification_tried(told_msgs[1], Delivery::Sent("250".into()), at(12), None)
        .await
        .expect("sent");
    for n in of(never) {
        db.notification_tried(n, Delivery::Failed("refused".into()), at(25), None)
            .await
            .expect("failed");
    }
    for n in of(earlier) {
        db.notification_tried(n, Delivery::Sent("250".into()), at(-150), None)
            .await
            .expect("sent");
    }
    let f = db.report_facts(at(0), at(DAY), &[]).await.expect("facts");
    assert_eq!(f.first_notified, [(told, at(12)), (earlier, at(-150))]);
}

pub async fn current_frozen_reports_lists_those_no_other_supersedes_newest_first(db: &Db) {
    assert!(
        db.current_frozen_reports(10)
            .await
            .expect("read")
            .is_empty()
    );
    let first = frozen(
        db.freeze_report(&report("first", at(0)))
            .await
            .expect("freeze"),
    );
    let september = frozen(
        db.freeze_report(&unyo::store::NewFrozenReport {
            period: "2026-09".into(),
            ..report("september", at(1))
        })
        .await
        .expect("freeze"),
    );
    let second = match db
        .freeze_report(&superseding("second", "figures corrected", 10))
        .await
        .expect("supersede")
    {
        Freeze::Superseded { new, .. } => *new,
        other => panic!("expected Superseded, got {other:?}"),
    };
    let current = db.current_frozen_reports(10).await.expect("read");
    assert_eq!(current, [second.clone(), september.clone()]);
    assert!(!current.iter().any(|r| r.id == first.id));
    assert_eq!(db.current_frozen_reports(1).await.expect("read"), [second]);
}

pub async fn frozen_report_body_reads_the_bytes_as_frozen(db: &Db) {
    assert_eq!(db.frozen_report_body(1).await.expect("read"), None);
    let body = "# 月次報告書\n\u{0}binary\u{ff}";
    let mut n = report("x", at(0));
    n.body = body.as_bytes().to_vec();
    let r = frozen(db.freeze_report(&n).await.expect("freeze"));
    assert_eq!(
        db.frozen_report_body(r.id).await.expect("read"),
        Some((r.clone(), body.as_bytes().to_vec()))
    );
    assert_eq!(db.frozen_report_body(r.id + 1).await.expect("read"), None);
}

pub async fn proposal_facts_reads_rule_firings_and_hardware_perfdata(db: &Db) {
    use unyo::domain::check::{CheckStatus, TargetKind, Thresholds};
    use unyo::store::{NewCheckResult, PerfRow, RuleFiring};
    let empty = db.proposal_facts(at(0), at(DAY)).await.expect("facts");
    assert!(empty.firings.is_empty() && empty.perf.is_empty());
    // Runs with their attempts: (minute, [(status, rule)]).
    let with_attempts = |minute: i64, ends: Vec<(AttemptStatus, Option<&'static str>)>| async move {
        let id = db
            .create_run(&NewRun {
                at: at(minute),
                ..running("billing", &["load"])
            })
            .await
            .expect("create");
        for (n, (status, rule)) in ends.into_iter().enumerate() {
            let a = db
                .start_attempt(&attempt(id, "load", n as i64 + 1, at(minute + n as i64)))
                .await
                .expect("attempt");
            let mut end = ended(status, StepStatus::Failed, at(minute + n as i64 + 1));
            end.rule = rule.map(str::to_owned);
            db.finish_attempt(a, &end).await.expect("finish");
        }
        id
    };
    let locked = Some("db#1: database is locked");
    // Before the period: not read.
    with_attempts(-10, vec![(AttemptStatus::Failed, locked)]).await;
    let a = with_attempts(
        10,
        vec![
            (AttemptStatus::Failed, locked),
            (AttemptStatus::Failed, locked),
            (AttemptStatus::Succeeded, None),
        ],
    )
    .await;
    // Failed with no rule matched: not a firing.
    with_attempts(20, vec![(AttemptStatus::Failed, None)]).await;
    let b = with_attempts(30, vec![(AttemptStatus::TimedOut, Some("db#2: timeout"))]).await;
    let firing = |rule: &str, run_id, minute| RuleFiring {
        rule: rule.into(),
        job: "billing".into(),
        step: "load".into(),
        run_id,
        at: at(minute),
    };
    let f = db.proposal_facts(at(0), at(DAY)).await.expect("facts");
    assert_eq!(
        f.firings,
        vec![
            firing("db#1: database is locked", a, 10),
            firing("db#1: database is locked", a, 11),
            firing("db#2: timeout", b, 30),
        ]
    );
    let check = |target: &str, kind, minute, perfdata: &str| NewCheckResult {
        target: target.to_owned(),
        kind,
        job: "watch".to_owned(),
        step: "disk".to_owned(),
        run_id: None,
        at: at(minute),
        status: CheckStatus::Ok,
        output: "DISK OK".to_owned(),
        perfdata: perfdata.to_owned(),
        thresholds: Thresholds {
            down_after: 1,
            up_after: 1,
        },
    };
    for c in [
        check("var-disk", TargetKind::Hardware, -5, "/var=100MB;;;0;1000"),
        check("var-disk", TargetKind::Hardware, 5, "/var=110MB;;;0;1000"),
        check("var-disk", TargetKind::Hardware, 15, ""),
        check("var-disk", TargetKind::Hardware, 25, "/var=120MB;;;0;1000"),
        check("data-disk", TargetKind::Hardware, 20, "/data=5GB;;;0;10"),
        check("web", TargetKind::Network, 20, "time=0.1s;;;0"),
        check("var-disk", TargetKind::Hardware, DAY, "/var=130MB;;;0;1000"),
    ] {
        db.record_check(&c).await.expect("record");
    }
    let f = db.proposal_facts(at(0), at(DAY)).await.expect("facts");
    let perf = |target: &str, minute, perfdata: &str| PerfRow {
        target: target.into(),
        at: at(minute),
        perfdata: perfdata.into(),
    };
    assert_eq!(
        f.perf,
        vec![
            perf("data-disk", 20, "/data=5GB;;;0;10"),
            perf("var-disk", 5, "/var=110MB;;;0;1000"),
            perf("var-disk", 25, "/var=120MB;;;0;1000"),
        ]
    );
}
