//! Contracts of what the monitoring reads and records: the due time of a run's slot, a job's
//! last successful durations, and findings (one per run and kind).

use unyo::domain::baseline::DayClass;
use unyo::domain::lateness::Breach;
use unyo::model::Severity;
use unyo::store::{DurationSample, NewFinding, NewRun, RunStatus};

use crate::fixtures::{Db, at, day, finished, incident, running, slot_with_run};

/// A run of `job` that started at minute `start` and ended with `status` `minutes` later.
async fn took(db: &Db, job: &str, start: i64, minutes: i64, status: RunStatus) -> i64 {
    let id = db
        .create_run(&NewRun {
            at: at(start),
            ..running(job, &["only"])
        })
        .await
        .expect("create");
    db.set_run_status(id, status, at(start + minutes), None)
        .await
        .expect("end");
    id
}

fn finding(run_id: i64, kind: Breach, t: i64) -> NewFinding {
    NewFinding {
        run_id,
        job: "nightly-backup".to_owned(),
        step: Some("dump".to_owned()),
        kind,
        at: at(t),
        business_date: day(),
        deadline: Some(at(t - 1)),
        observed: Some(180.0),
        expected: Some(60.0),
        spread: Some(4.5),
        samples: Some(20),
        day_class: Some(DayClass::MonthEnd),
        detail: "run took 3m00s".to_owned(),
    }
}

pub async fn slot_due_at_is_the_due_time_of_the_slot_that_made_the_run(db: &Db) {
    let made = db
        .record_slots(&[slot_with_run("nightly", "nightly-backup", at(30))], &[])
        .await
        .expect("slots");
    let run = made[0].expect("a run");
    assert_eq!(db.slot_due_at(run).await.expect("read"), Some(at(30)));
    let manual = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(40)).await;
    assert_eq!(db.slot_due_at(manual).await.expect("read"), None);
    assert_eq!(db.slot_due_at(9999).await.expect("read"), None);
}

pub async fn recent_durations_lists_succeeded_runs_before_newest_first_and_limited(db: &Db) {
    let a = took(db, "close", 0, 10, RunStatus::Succeeded).await;
    let _failed = took(db, "close", 20, 99, RunStatus::Failed).await;
    let _other_job = took(db, "backup", 30, 5, RunStatus::Succeeded).await;
    let b = took(db, "close", 40, 12, RunStatus::Succeeded).await;
    let c = took(db, "close", 60, 11, RunStatus::Succeeded).await;
    let sample = |run_id, minutes: f64| DurationSample {
        run_id,
        business_date: day(),
        seconds: minutes * 60.0,
    };
    assert_eq!(
        db.recent_durations("close", c + 1, 10).await.expect("read"),
        vec![sample(c, 11.0), sample(b, 12.0), sample(a, 10.0)]
    );
    assert_eq!(
        db.recent_durations("close", c, 1).await.expect("read"),
        vec![sample(b, 12.0)],
        "before `c`, one"
    );
    assert_eq!(
        db.recent_durations("nothing", c + 1, 10)
            .await
            .expect("read"),
        Vec::new()
    );
}

pub async fn record_finding_writes_once_per_run_and_kind(db: &Db) {
    let run = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(0)).await;
    assert!(
        db.record_finding(&finding(run, Breach::Slow, 5))
            .await
            .expect("first")
    );
    let again = NewFinding {
        detail: "another look".to_owned(),
        ..finding(run, Breach::Slow, 6)
    };
    assert!(!db.record_finding(&again).await.expect("again"));
    assert!(
        db.record_finding(&finding(run, Breach::Stuck, 7))
            .await
            .expect("other kind")
    );
    let rows = db.list_findings(at(0), at(60)).await.expect("list");
    assert_eq!(rows.len(), 2);
    let r = &rows[0];
    assert_eq!(
        (r.run_id, r.job.as_str(), r.step.as_deref(), r.kind.as_str()),
        (run, "nightly-backup", Some("dump"), "slow")
    );
    assert_eq!(
        (r.at, r.business_date, r.deadline),
        (at(5), day(), Some(at(4)))
    );
    assert_eq!(
        (r.observed, r.expected, r.spread, r.samples),
        (Some(180.0), Some(60.0), Some(4.5), Some(20))
    );
    assert_eq!(
        (r.day_class.as_deref(), r.detail.as_str(), r.incident_id),
        (Some("month_end"), "run took 3m00s", None)
    );
}

pub async fn set_finding_incident_notes_the_incident(db: &Db) {
    let run = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(0)).await;
    db.record_finding(&finding(run, Breach::EndDelay, 5))
        .await
        .expect("record");
    let opened = db
        .open_incident(&incident(
            "nightly-backup",
            "end_delay",
            Severity::Medium,
            at(5),
        ))
        .await
        .expect("incident");
    db.set_finding_incident(run, "end_delay", opened.id)
        .await
        .expect("note");
    let rows = db.list_findings(at(0), at(60)).await.expect("list");
    assert_eq!(rows[0].incident_id, Some(opened.id));
}

pub async fn list_findings_in_the_period_oldest_first(db: &Db) {
    let run = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(0)).await;
    for (kind, t) in [
        (Breach::Fast, 30),
        (Breach::StartDelay, 10),
        (Breach::MaxRuntime, 60),
    ] {
        db.record_finding(&finding(run, kind, t))
            .await
            .expect("record");
    }
    let kinds: Vec<String> = db
        .list_findings(at(10), at(60))
        .await
        .expect("list")
        .into_iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, ["start_delay", "fast"], "[from, to), by time");
}

pub async fn report_facts_lists_the_findings_made_in_the_period(db: &Db) {
    let run = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(0)).await;
    for (kind, t) in [(Breach::Slow, 5), (Breach::EndDelay, 90)] {
        db.record_finding(&finding(run, kind, t))
            .await
            .expect("record");
    }
    let facts = db.report_facts(at(0), at(60), &[]).await.expect("facts");
    let kinds: Vec<&str> = facts.findings.iter().map(|f| f.kind.as_str()).collect();
    assert_eq!(kinds, ["slow"]);
}

pub async fn run_findings_lists_one_runs_findings_oldest_first(db: &Db) {
    let run = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(0)).await;
    let other = finished(&**db, "nightly-backup", RunStatus::Succeeded, at(1)).await;
    for (r, kind, t) in [
        (run, Breach::MaxRuntime, 30),
        (other, Breach::Slow, 20),
        (run, Breach::EndDelay, 10),
    ] {
        db.record_finding(&finding(r, kind, t))
            .await
            .expect("record");
    }
    let kinds: Vec<String> = db
        .run_findings(run)
        .await
        .expect("read")
        .into_iter()
        .map(|f| f.kind)
        .collect();
    assert_eq!(kinds, ["end_delay", "max_runtime"]);
    assert_eq!(db.run_findings(9999).await.expect("read"), Vec::new());
}
