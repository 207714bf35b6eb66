//! Contracts of history written after the fact (`HistoryStore`, used by synthetic history):
//! a past run reads back as the engine would have left it, a transaction that fails leaves
//! nothing, a slot without a run is listed, an attempt's action is named later, runs are
//! counted. A backend that takes history opens its history handle in `history_of`.

use unyo::model::Settings;
use unyo::store::bulk::{HistoryStore, PastAttempt, PastRun, PastStep, PastWriter};
use unyo::store::{
    AttemptStatus, Pending, PgStore, RunStatus, SlotOutcome, SqliteStore, StepStatus, StoreError,
};

use crate::fixtures::{Db, at, attempt, ended, running, slot};

/// The history handle on the database of `settings`, of its backend.
enum History {
    Sqlite(SqliteStore),
    Postgres(PgStore),
}

impl History {
    fn write_history<T: Send + 'static>(
        &self,
        action: &'static str,
        write: impl FnOnce(&mut dyn PastWriter) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        match self {
            History::Sqlite(s) => s.write_history(action, write),
            History::Postgres(s) => s.write_history(action, write),
        }
    }

    fn set_attempt_action(&self, attempt_id: i64, action: &str) -> Pending<()> {
        match self {
            History::Sqlite(s) => s.set_attempt_action(attempt_id, action),
            History::Postgres(s) => s.set_attempt_action(attempt_id, action),
        }
    }

    fn count_runs(&self) -> Pending<i64> {
        match self {
            History::Sqlite(s) => s.count_runs(),
            History::Postgres(s) => s.count_runs(),
        }
    }
}

async fn history_of(settings: &Settings) -> History {
    match &settings.database {
        unyo::model::Database::Sqlite(path) => {
            History::Sqlite(SqliteStore::open(path).await.expect("open"))
        }
        unyo::model::Database::Postgres(url) => {
            History::Postgres(PgStore::open(url).await.expect("open"))
        }
    }
}

fn past_run(job: &str) -> PastRun {
    PastRun {
        run: unyo::store::NewRun {
            status: RunStatus::Failed,
            ..running(job, &["dump", "copy"])
        },
        slot: None,
        reason: Some("step `dump` failed".to_owned()),
        started_at: Some(at(0)),
        ended_at: at(9),
        cancel_requested: None,
        steps: vec![
            PastStep {
                name: "dump".to_owned(),
                status: StepStatus::Failed,
                reason: Some("exit 1".to_owned()),
                attempts: 2,
                started_at: Some(at(0)),
                ended_at: Some(at(8)),
                continued: false,
                gate: None,
            },
            PastStep {
                name: "copy".to_owned(),
                status: StepStatus::Skipped,
                reason: None,
                attempts: 0,
                started_at: None,
                ended_at: None,
                continued: false,
                gate: None,
            },
        ],
    }
}

fn past_attempts(run_id: i64) -> Vec<PastAttempt> {
    (1..=2)
        .map(|n| PastAttempt {
            start: attempt(run_id, "dump", n, at(4 * (n - 1))),
            pid: Some(4000 + n as u32),
            end: ended(
                AttemptStatus::Failed,
                StepStatus::Failed,
                at(4 * (n - 1) + 3),
            ),
        })
        .collect()
}

pub async fn write_history_reads_back_as_the_engine_leaves_a_run(db: &Db) {
    let history = history_of(&db.settings).await;
    let (id, attempt_ids) = history
        .write_history("test history", |past: &mut dyn PastWriter| {
            let id = past.run(&past_run("backup"))?;
            let attempts = past.attempts(&past_attempts(id))?;
            Ok((id, attempts))
        })
        .await
        .expect("write history");
    assert_eq!(attempt_ids.len(), 2, "one id an attempt");
    let run = db.get_run(id).await.expect("read").expect("run");
    assert_eq!(
        (run.run.status, run.run.started_at, run.run.ended_at),
        (RunStatus::Failed, Some(at(0)), Some(at(9)))
    );
    let steps: Vec<(&str, StepStatus, i64)> = run
        .steps
        .iter()
        .map(|s| (s.name.as_str(), s.status, s.attempts))
        .collect();
    assert_eq!(
        steps,
        [
            ("dump", StepStatus::Failed, 2),
            ("copy", StepStatus::Skipped, 0)
        ]
    );
    let attempts: Vec<(i64, i64, AttemptStatus, Option<i64>)> = run
        .attempts
        .iter()
        .map(|a| (a.id, a.attempt, a.status, a.pid))
        .collect();
    assert_eq!(
        attempts,
        [
            (attempt_ids[0], 1, AttemptStatus::Failed, Some(4001)),
            (attempt_ids[1], 2, AttemptStatus::Failed, Some(4002)),
        ]
    );
}

pub async fn write_history_that_fails_writes_nothing(db: &Db) {
    let history = history_of(&db.settings).await;
    let failed = history
        .write_history("test history", |past: &mut dyn PastWriter| {
            past.run(&past_run("backup"))?;
            past.slot(&slot("nightly", "backup", at(1), SlotOutcome::Missed))?;
            Err::<(), _>(StoreError::Corrupt("given up".to_owned()))
        })
        .await;
    assert!(
        matches!(&failed, Err(StoreError::Corrupt(m)) if m == "given up"),
        "the closure's own error comes back: {failed:?}"
    );
    assert_eq!(history.count_runs().await.expect("count"), 0);
    assert!(db.list_slots(None, 10).await.expect("slots").is_empty());
}

pub async fn slot_without_a_run_is_listed(db: &Db) {
    let history = history_of(&db.settings).await;
    history
        .write_history("test history", |past: &mut dyn PastWriter| {
            past.slot(&slot(
                "nightly",
                "backup",
                at(30),
                SlotOutcome::SkippedClosedDay,
            ))
        })
        .await
        .expect("write history");
    let slots = db.list_slots(Some("nightly"), 10).await.expect("slots");
    assert_eq!(slots.len(), 1);
    assert_eq!(
        (slots[0].fire_time, slots[0].outcome, slots[0].run_id),
        (at(30), SlotOutcome::SkippedClosedDay, None)
    );
}

pub async fn set_attempt_action_names_what_was_done_later(db: &Db) {
    let history = history_of(&db.settings).await;
    let (id, ids) = history
        .write_history("test history", |past: &mut dyn PastWriter| {
            let id = past.run(&past_run("backup"))?;
            Ok((id, past.attempts(&past_attempts(id))?))
        })
        .await
        .expect("write history");
    history
        .set_attempt_action(ids[1], "incident 7 opened")
        .await
        .expect("action");
    let run = db.get_run(id).await.expect("read").expect("run");
    let actions: Vec<Option<&str>> = run.attempts.iter().map(|a| a.action.as_deref()).collect();
    assert_eq!(actions, [None, Some("incident 7 opened")]);
}

pub async fn count_runs_counts_every_recorded_run(db: &Db) {
    let history = history_of(&db.settings).await;
    assert_eq!(history.count_runs().await.expect("count"), 0);
    db.create_run(&running("report", &["only"]))
        .await
        .expect("create");
    history
        .write_history("test history", |past: &mut dyn PastWriter| {
            past.run(&past_run("backup"))
        })
        .await
        .expect("write history");
    assert_eq!(history.count_runs().await.expect("count"), 2);
}
