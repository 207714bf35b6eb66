//! What every contract of the conformance suite starts from: a fresh, empty database of one
//! backend ([`Db`]), fixed instants, and the records a test writes, filled with plain values.

use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use unyo::model::{Settings, Severity};
use unyo::store::{
    AttemptEnd, AttemptStatus, AuditEntry, NewAttempt, NewExtract, NewFrozenReport, NewIncident,
    NewNotification, NewParamChange, NewPermissionChange, NewRun, NewSlot, RunFilter, RunRow,
    RunStatus, SlotOutcome, StepStatus, Store, Trigger,
};

/// One fresh, empty database of a backend, opened through `unyo::store::open`.
pub struct Db {
    pub store: Arc<dyn Store>,
    /// The settings that name the database, to open it a second time (another daemon).
    pub settings: Settings,
    /// Keeps whatever holds the database (a temp dir) until the test ends.
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Db {
    /// Opens the database `settings` name; `keep` lives as long as the returned `Db`.
    pub async fn open(settings: Settings, keep: impl std::any::Any + Send + Sync) -> Db {
        let store = unyo::store::open(&settings).await.expect("open the store");
        Db {
            store: Arc::from(store),
            settings,
            _keep: Box::new(keep),
        }
    }

    /// A second, independent handle on the same database, as another daemon has.
    pub async fn another(&self) -> Arc<dyn Store> {
        Arc::from(
            unyo::store::open(&self.settings)
                .await
                .expect("open the store again"),
        )
    }

    /// `n` handles for racing tasks, alternately this one and another.
    pub async fn racers(&self, n: usize) -> Vec<Arc<dyn Store>> {
        let other = self.another().await;
        (0..n)
            .map(|i| {
                if i % 2 == 0 {
                    self.store.clone()
                } else {
                    other.clone()
                }
            })
            .collect()
    }
}

impl std::ops::Deref for Db {
    type Target = dyn Store;
    fn deref(&self) -> &(dyn Store + 'static) {
        &*self.store
    }
}

/// The backends the suite runs against. Each returns a fresh, empty database.
pub mod backends {
    use super::Db;

    /// SQLite: a new file in a new temp dir, from the default settings of a root there.
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = unyo::model::Settings::defaults(dir.path());
        Db::open(settings, dir).await
    }

    /// PostgreSQL: a new database on the test server (`UNYO_TEST_PG_URL`), dropped when the
    /// test ends.
    pub async fn postgres() -> Db {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = crate::pg::FreshDb::create();
        let mut settings = unyo::model::Settings::defaults(dir.path());
        settings.database = unyo::model::Database::Postgres(db.url.clone());
        Db::open(settings, (db, dir)).await
    }
}

/// The suite's clock: 2026-11-25 00:00 UTC, plus `minutes`.
pub fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .expect("time")
        + Duration::minutes(minutes)
}

/// The business day of the suite's clock.
pub fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).expect("date")
}

/// A run of `job` started at `at(0)` by a daemon, with `steps`.
pub fn running(job: &str, steps: &[&str]) -> NewRun {
    NewRun {
        job: job.to_owned(),
        trigger: Trigger::Manual,
        params: serde_json::json!({"month": "2026-10"}),
        status: RunStatus::Running,
        business_date: day(),
        fiscal_year: 2026,
        at: at(0),
        requested_by: "operator".to_owned(),
        host: "ops1".to_owned(),
        job_digest: "j".repeat(64),
        catalog_digest: "c".repeat(64),
        steps: steps.iter().map(|s| (*s).to_owned()).collect(),
        owner: Some("ops1:100:1".to_owned()),
        not_before: None,
        schedule: None,
        rerun_of: None,
        kept_steps: Vec::new(),
        comment: None,
        business_date_given: false,
        outside_window: None,
    }
}

/// A run of `job` waiting in the queue, owned by nobody.
pub fn queued(job: &str, steps: &[&str]) -> NewRun {
    NewRun {
        status: RunStatus::Queued,
        owner: None,
        ..running(job, steps)
    }
}

/// Attempt `n` of `step`, starting at `t`.
pub fn attempt(run_id: i64, step: &str, n: i64, t: DateTime<Utc>) -> NewAttempt {
    NewAttempt {
        run_id,
        step: step.to_owned(),
        attempt: n,
        command: serde_json::json!({"argv": ["pg_dump", "city"]}),
        log_path: format!("/var/log/unyo/{run_id}.{step}.{n}.log"),
        started_at: t,
    }
}

/// An attempt that ended with `status` at `t`, leaving its step `step`.
pub fn ended(status: AttemptStatus, step: StepStatus, t: DateTime<Utc>) -> AttemptEnd {
    AttemptEnd {
        status,
        pid: None,
        ended_at: t,
        exit_code: Some(if status == AttemptStatus::Succeeded {
            0
        } else {
            1
        }),
        signal: None,
        error: None,
        stdout_tail: String::new(),
        stderr_tail: String::new(),
        log_bytes: 0,
        log_dropped: 0,
        step_status: step,
        step_reason: None,
        rule: None,
        action: None,
        remediation: None,
        retry_at: None,
        continued: false,
    }
}

/// A run that ran `step` (its only step) to `status`, queued and ended at `t`.
pub async fn finished(store: &dyn Store, job: &str, status: RunStatus, t: DateTime<Utc>) -> i64 {
    let id = store
        .create_run(&NewRun {
            at: t,
            ..running(job, &["only"])
        })
        .await
        .expect("create");
    store
        .set_run_status(id, status, t, None)
        .await
        .expect("status");
    id
}

/// A failure of `job` of class `class`, seen at `t`.
pub fn incident(job: &str, class: &str, severity: Severity, t: DateTime<Utc>) -> NewIncident {
    NewIncident {
        at: t,
        severity,
        job: job.to_owned(),
        run_id: None,
        step: None,
        failure_class: class.to_owned(),
        summary: format!("`{job}` failed: {class}"),
        log_excerpt: "pg_dump: error: disk full".to_owned(),
        rule: Some("runbook#1: disk".to_owned()),
        report_deadline: None,
        actor: "unyo".to_owned(),
        occurrences: 1,
    }
}

/// A message of `event` at contact `level` on `channel`.
pub fn message(event: &str, level: i64, channel: &str) -> NewNotification {
    NewNotification {
        event: event.to_owned(),
        level,
        channel: channel.to_owned(),
    }
}

/// A slot of `schedule` (of `job`) firing at `fire`, decided at `fire`.
pub fn slot(schedule: &str, job: &str, fire: DateTime<Utc>, outcome: SlotOutcome) -> NewSlot {
    NewSlot {
        schedule: schedule.to_owned(),
        job: job.to_owned(),
        fire_time: fire,
        due_at: fire,
        outcome,
        reason: None,
        run: None,
        decided_at: fire,
    }
}

/// The same slot, making a queued run of its job.
pub fn slot_with_run(schedule: &str, job: &str, fire: DateTime<Utc>) -> NewSlot {
    NewSlot {
        run: Some(NewRun {
            at: fire,
            schedule: Some(schedule.to_owned()),
            trigger: Trigger::Schedule,
            ..queued(job, &["only"])
        }),
        ..slot(schedule, job, fire, SlotOutcome::Queued)
    }
}

/// An operator action of `user` at `t`.
pub fn action(user: &str, what: &str, t: DateTime<Utc>) -> AuditEntry {
    AuditEntry {
        at: t,
        user: user.to_owned(),
        host: "ops1".to_owned(),
        action: what.to_owned(),
        target: "job nightly-backup".to_owned(),
        args: serde_json::json!({"reason": "month end", "parallel": 2}),
        outcome: "done".to_owned(),
        detail: format!("{what} by {user}"),
    }
}

/// A change of `key` from 10 to 20 at `t`.
pub fn param_change(key: &str, t: DateTime<Utc>) -> NewParamChange {
    NewParamChange {
        at: t,
        file: "/srv/unyo/params/counters.yaml".to_owned(),
        key: key.to_owned(),
        before: Some(serde_json::json!(10)),
        after: Some(serde_json::json!(20)),
        reason: "more sessions at month end".to_owned(),
        run_id: None,
        user: "operator".to_owned(),
    }
}

/// An extract written at `t`.
pub fn extract(t: DateTime<Utc>) -> NewExtract {
    NewExtract {
        at: t,
        run_id: None,
        job: Some("euc-extract".to_owned()),
        db: "/srv/city/business.db".to_owned(),
        sql_file: "/srv/unyo/queries/residents.sql".to_owned(),
        out_file: "/srv/city/extracts/tax/residents.csv".to_owned(),
        encoding: "shift_jis".to_owned(),
        rows: 412,
        sha256: "a".repeat(64),
        columns: serde_json::json!(["id", "name"]),
        params: serde_json::json!({"department": "tax"}),
        user: "operator".to_owned(),
        group: Some("dept-tax".to_owned()),
    }
}

/// A grant of group `target` to `staff_id` of `department`, in `batch`, at `t`.
pub fn grant(
    batch: &str,
    staff_id: &str,
    department: &str,
    t: DateTime<Utc>,
) -> NewPermissionChange {
    NewPermissionChange {
        at: t,
        batch: batch.to_owned(),
        run_id: None,
        staff_id: staff_id.to_owned(),
        name: format!("staff {staff_id}"),
        department: department.to_owned(),
        kind: "group".to_owned(),
        target: format!("dept-{department}"),
        op: "grant".to_owned(),
        outcome: "applied".to_owned(),
        reason: None,
        undo_of: None,
        user: "operator".to_owned(),
    }
}

/// The monthly report of October 2026 in Japanese Markdown, with `body`, frozen at `t`.
pub fn report(body: &str, t: DateTime<Utc>) -> NewFrozenReport {
    NewFrozenReport {
        kind: "monthly".to_owned(),
        period: "2026-10".to_owned(),
        lang: "ja".to_owned(),
        format: "md".to_owned(),
        data_from: at(-60 * 24 * 55),
        data_to: at(-60 * 24 * 24),
        sha256: sha(body),
        body: body.as_bytes().to_vec(),
        frozen_at: t,
        frozen_by: "operator".to_owned(),
        supersede: None,
    }
}

/// A stand-in for the SHA-256 of `body`: 64 hex digits that differ when the bodies do.
pub fn sha(body: &str) -> String {
    let hex: String = body.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:0<64}").chars().take(64).collect()
}

/// Every run, newest first.
pub async fn all_runs(store: &dyn Store) -> Vec<RunRow> {
    store
        .list_runs(&RunFilter {
            limit: 1000,
            ..RunFilter::default()
        })
        .await
        .expect("list runs")
}

/// Runs `n` copies of `task` at once, one per handle of `stores`, and returns their answers.
pub async fn race<T, F, Fut>(stores: Vec<Arc<dyn Store>>, task: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize, Arc<dyn Store>) -> Fut,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let barrier = Arc::new(tokio::sync::Barrier::new(stores.len()));
    let handles: Vec<_> = stores
        .into_iter()
        .enumerate()
        .map(|(i, store)| {
            let barrier = barrier.clone();
            let fut = task(i, store);
            tokio::spawn(async move {
                barrier.wait().await;
                fut.await
            })
        })
        .collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.expect("racing task"));
    }
    out
}
