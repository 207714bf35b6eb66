//! Contracts of what the dashboard's Today reads of a business date: the date's runs counted
//! by status and node whatever the filter, the newest of those a filter keeps, and the missed
//! slots due in a period.

use chrono::Duration;
use unyo::store::{DayFilter, NewRun, RunStatus, SlotOutcome};

use crate::fixtures::{Db, at, day, running, slot};

/// A run of `job` of business date `day() + offset` days, on `node` (its owner, or the host
/// that queued it when `owned` is false), ended with `status` (or still `Running`).
async fn run_of(
    db: &Db,
    job: &str,
    offset: i64,
    node: &str,
    owned: bool,
    status: RunStatus,
) -> i64 {
    let id = db
        .create_run(&NewRun {
            business_date: day() + Duration::days(offset),
            host: node.to_owned(),
            owner: owned.then(|| format!("{node}:4242:17")),
            ..running(job, &["only"])
        })
        .await
        .expect("create");
    if status != RunStatus::Running {
        db.set_run_status(id, status, at(5), None)
            .await
            .expect("status");
    }
    id
}

fn filter(statuses: &[RunStatus], node: Option<&str>, limit: i64) -> DayFilter {
    DayFilter {
        date: day(),
        statuses: statuses.to_vec(),
        node: node.map(str::to_owned),
        limit,
    }
}

pub async fn business_day_counts_the_dates_runs_and_lists_those_filtered_newest_first(db: &Db) {
    let empty = db.business_day(&filter(&[], None, 10)).await.expect("read");
    assert!(empty.counts.is_empty() && empty.runs.is_empty());

    let yesterday = run_of(db, "backup", -1, "ops1", true, RunStatus::Failed).await;
    let a = run_of(db, "backup", 0, "ops1", true, RunStatus::Succeeded).await;
    let b = run_of(db, "extract", 0, "db1", true, RunStatus::Failed).await;
    let c = run_of(db, "backup", 0, "ops1", false, RunStatus::Interrupted).await;
    let d = run_of(db, "report", 0, "db1", true, RunStatus::Running).await;
    let e = run_of(db, "backup", 0, "ops1", true, RunStatus::Succeeded).await;
    let tomorrow = run_of(db, "backup", 1, "ops1", true, RunStatus::Succeeded).await;
    let ids = |rows: &[unyo::store::RunRow]| rows.iter().map(|r| r.id).collect::<Vec<_>>();

    let all = db.business_day(&filter(&[], None, 10)).await.expect("read");
    assert_eq!(ids(&all.runs), [e, d, c, b, a]);
    assert!(!ids(&all.runs).contains(&yesterday) && !ids(&all.runs).contains(&tomorrow));
    assert_eq!(all.count(RunStatus::Succeeded), 2);
    assert_eq!(all.count(RunStatus::Failed), 1);
    assert_eq!(all.count(RunStatus::Interrupted), 1);
    assert_eq!(all.count(RunStatus::Running), 1);
    assert_eq!(all.count(RunStatus::Queued), 0);
    // The node is the owner's host, not its whole token; an unowned run's is its host.
    assert_eq!(all.nodes(), ["db1", "ops1"]);

    let bad = filter(&[RunStatus::Failed, RunStatus::Interrupted], None, 10);
    let failed = db.business_day(&bad).await.expect("read");
    assert_eq!(ids(&failed.runs), [c, b]);
    assert_eq!(failed.matching(&bad), 2);
    // The counts are the whole date's, whatever the filter.
    assert_eq!(failed.counts, all.counts);

    let ops1 = filter(&[], Some("ops1"), 10);
    let on_ops1 = db.business_day(&ops1).await.expect("read");
    assert_eq!(ids(&on_ops1.runs), [e, c, a]);
    assert_eq!(on_ops1.matching(&ops1), 3);

    let both = filter(&[RunStatus::Failed], Some("db1"), 10);
    assert_eq!(ids(&db.business_day(&both).await.expect("read").runs), [b]);
    let none = filter(&[RunStatus::Cancelled], Some("db1"), 10);
    assert!(db.business_day(&none).await.expect("read").runs.is_empty());
    assert!(
        db.business_day(&filter(&[], Some("nowhere"), 10))
            .await
            .expect("read")
            .runs
            .is_empty()
    );

    let two = filter(&[], None, 2);
    let newest = db.business_day(&two).await.expect("read");
    assert_eq!(ids(&newest.runs), [e, d]);
    assert_eq!(newest.matching(&two), 5);

    // A status that is rare among the date's runs is listed the same: newest first, limited.
    let mut more = Vec::new();
    for _ in 0..30 {
        more.push(run_of(db, "tick", 0, "ops1", true, RunStatus::Succeeded).await);
    }
    let rare = db.business_day(&bad).await.expect("read");
    assert_eq!(ids(&rare.runs), [c, b]);
    assert_eq!(rare.count(RunStatus::Succeeded), 32);
    let one = filter(
        &[RunStatus::Failed, RunStatus::Interrupted],
        Some("ops1"),
        1,
    );
    assert_eq!(ids(&db.business_day(&one).await.expect("read").runs), [c]);
    let common = filter(&[RunStatus::Succeeded], None, 3);
    let newest: Vec<i64> = more.iter().rev().take(3).copied().collect();
    assert_eq!(
        ids(&db.business_day(&common).await.expect("read").runs),
        newest
    );
}

pub async fn missed_slots_counts_and_lists_the_missed_slots_due_in_the_period(db: &Db) {
    let s = |name: &str, m: i64, outcome: SlotOutcome| slot(name, "backup", at(m), outcome);
    db.record_slots(
        &[
            s("early", 0, SlotOutcome::Missed),
            s("a", 10, SlotOutcome::Missed),
            s("b", 20, SlotOutcome::SkippedClosedDay),
            s("c", 30, SlotOutcome::Missed),
            s("d", 40, SlotOutcome::Missed),
            s("late", 60, SlotOutcome::Missed),
        ],
        &[],
    )
    .await
    .expect("slots");
    let missed = db.missed_slots(at(10), at(60), 10).await.expect("read");
    assert_eq!(missed.count, 3);
    let names: Vec<&str> = missed.slots.iter().map(|s| s.schedule.as_str()).collect();
    assert_eq!(names, ["a", "c", "d"]);
    assert!(missed.slots.iter().all(|s| s.job == "backup"));

    let first = db.missed_slots(at(10), at(60), 2).await.expect("read");
    assert_eq!(
        first.count, 3,
        "the count is of every missed slot, not the listed"
    );
    assert_eq!(first.slots.len(), 2);
    assert_eq!(first.slots[0].schedule, "a");

    let nothing = db.missed_slots(at(61), at(120), 10).await.expect("read");
    assert_eq!(nothing.count, 0);
    assert!(nothing.slots.is_empty());
}
