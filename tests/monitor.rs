//! Monitoring of runs on an injected clock: a run still going at its end deadline or past
//! its `max_runtime` opens an incident while it runs (within one tick of the watcher), a
//! run that starts after its `start_delay` opens one when it starts, a step quiet for its
//! `stuck_after` opens one while a chatty step beside it does not, each once per run; a run
//! three times slower than the baseline of its day class is flagged with the baseline, and
//! a hundred runs varying by ±20 % (seeded) flag nothing.
//!
//! The runs are real: the engine in this process, real step processes, a real SQLite file.
//! A step waits for a file the test creates (`go.RUN`) after moving the clock, so a run
//! takes exactly the clock time the test gives it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use tokio::sync::mpsc;
use unyo::engine::{Event, RunResult};
use unyo::store::{FindingRow, IncidentRow, RunStatus};

use crate::helper::{PATIENCE, Setup, Tree};

/// A step that waits for the test's `go.RUN` file, printing what it is told to meanwhile.
const WAIT: &str = "until [ -e \"$UNYO_ROOT/go.$UNYO_RUN_ID\" ]; do sleep 0.01; done";

fn tokyo(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .expect("time")
        .with_timezone(&Utc)
}

/// A run of `job` started on the set-up's clock, in its own task; returns its id (once it
/// is recorded) and its end.
async fn start(s: &Arc<Setup>, job: &str) -> (i64, tokio::task::JoinHandle<RunResult>) {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let s2 = s.clone();
    let job = s.catalog.jobs.get(job).cloned().expect("job");
    let handle = tokio::spawn(async move {
        let (_stop, stop_rx) = tokio::sync::watch::channel(None);
        unyo::engine::run(
            &s2.settings,
            &s2.catalog,
            s2.store.clone(),
            unyo::engine::RunRequest {
                job,
                params: indexmap::IndexMap::new(),
                trigger: unyo::store::Trigger::Manual,
                reason: None,
                parallel: 4,
                requested_by: "tester".to_owned(),
                business_date: None,
                clock: s2.clock.clone(),
            },
            stop_rx,
            Arc::new(move |e| {
                if let Event::RunStarted { run_id, .. } = e {
                    let _ = tx.send(run_id);
                }
            }),
        )
        .await
        .expect("run")
    });
    let run = tokio::time::timeout(PATIENCE, rx.recv())
        .await
        .expect("the run to start")
        .expect("a run id");
    (run, handle)
}

/// Waits until every step of `run` named in `steps` has a running attempt.
async fn running(s: &Setup, run: i64, steps: &[&str]) {
    poll("the steps to run", || async {
        let d = s.store.get_run(run).await.expect("read")?;
        steps
            .iter()
            .all(|n| {
                d.attempts
                    .iter()
                    .any(|a| a.step == *n && a.status == unyo::store::AttemptStatus::Running)
            })
            .then_some(())
    })
    .await;
}

/// Lets run `run` end: its waiting steps find their file.
fn go(t: &Tree, run: i64) {
    std::fs::write(t.path(&format!("go.{run}")), "").expect("go");
}

async fn poll<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = std::time::Instant::now() + PATIENCE;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            std::time::Instant::now() < end,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn incidents(s: &Setup) -> Vec<IncidentRow> {
    s.store.list_incidents(None, 100).await.expect("incidents")
}

async fn findings(s: &Setup) -> Vec<FindingRow> {
    s.store
        .list_findings(tokyo("2000-01-01T00:00:00Z"), tokyo("2100-01-01T00:00:00Z"))
        .await
        .expect("findings")
}

async fn incident_of(s: &Setup, class: &str) -> IncidentRow {
    poll(&format!("an incident of class `{class}`"), || async {
        incidents(s)
            .await
            .into_iter()
            .find(|i| i.failure_class == class)
    })
    .await
}

fn setup_tree(job: &str, text: &str) -> Tree {
    let t = Tree::new();
    t.file("unyo.yaml", "timezone: Asia/Tokyo\n");
    t.job(job, text);
    t
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_still_going_at_its_end_deadline_opens_an_incident_while_it_runs() {
    let t = setup_tree(
        "backup",
        &format!("end_delay: \"06:00\"\nmax_runtime: 2h\nsteps:\n  dump:\n    run: '{WAIT}'\n"),
    );
    let s = Arc::new(Setup::new(&t, tokyo("2026-11-25T04:30:00+09:00")).await);
    let (run, end) = start(&s, "backup").await;
    running(&s, run, &["dump"]).await;
    assert!(incidents(&s).await.is_empty(), "nothing is late at 04:30");

    s.clock.set(tokyo("2026-11-25T06:00:01+09:00"));
    let late = incident_of(&s, "end_delay").await;
    assert_eq!(late.run_id, Some(run));
    assert!(
        late.summary
            .contains("still running at its end deadline 2026-11-25 06:00"),
        "{}",
        late.summary
    );
    assert_eq!(late.opened_at, tokyo("2026-11-25T06:00:01+09:00"));
    let detail = s.store.get_run(run).await.expect("read").expect("run");
    assert_eq!(detail.run.status, RunStatus::Running, "found while it runs");
    assert!(
        incidents(&s)
            .await
            .iter()
            .all(|i| i.failure_class != "max_runtime"),
        "1 h 30 min is inside max_runtime"
    );

    s.clock.set(tokyo("2026-11-25T06:30:01+09:00"));
    let long = incident_of(&s, "max_runtime").await;
    assert!(
        long.summary.contains("longer than its max_runtime 2h00m"),
        "{}",
        long.summary
    );
    // Further ticks past both deadlines add nothing.
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    go(&t, run);
    assert_eq!(end.await.expect("join").status, RunStatus::Succeeded);
    let all = incidents(&s).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all.iter().all(|i| i.occurrences == 1), "{all:?}");
    let kinds: Vec<String> = findings(&s).await.into_iter().map(|f| f.kind).collect();
    assert_eq!(kinds, ["end_delay", "max_runtime"]);
    // `unyo show` lists them with their incidents.
    let shown = crate::helper::text(&t.run(&["show", &run.to_string()]).stdout);
    assert!(
        shown.contains(&format!(
            "findings:\n  end_delay  2026-11-25 06:00:01  run {run} of `backup` is still running"
        )),
        "{shown}"
    );
    assert!(
        shown.contains(&format!("(incident {})", late.id)),
        "{shown}"
    );
    let json: serde_json::Value =
        serde_json::from_slice(&t.run(&["show", &run.to_string(), "--json"]).stdout).expect("json");
    assert_eq!(json["findings"][1]["kind"], "max_runtime");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_relative_end_delay_counts_from_when_the_run_was_queued_without_a_slot() {
    let t = setup_tree(
        "extract",
        &format!("end_delay: 30m\nsteps:\n  a:\n    run: '{WAIT}'\n"),
    );
    let at = tokyo("2026-11-25T10:00:00+09:00");
    let s = Arc::new(Setup::new(&t, at).await);
    let (run, end) = start(&s, "extract").await;
    running(&s, run, &["a"]).await;
    s.clock
        .set(at + Duration::minutes(30) + Duration::seconds(1));
    let late = incident_of(&s, "end_delay").await;
    assert!(
        late.summary.contains("2026-11-25 10:30"),
        "{}",
        late.summary
    );
    go(&t, run);
    end.await.expect("join");
    let f = findings(&s).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].deadline, Some(at + Duration::minutes(30)));
    assert_eq!(f[0].incident_id, Some(late.id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_step_is_stuck_and_a_chatty_one_beside_it_is_not() {
    let chatty = "until [ -e \"$UNYO_ROOT/go.$UNYO_RUN_ID\" ]; do echo working; sleep 0.05; done";
    let t = setup_tree(
        "transfer",
        &format!(
            "stuck_after: 10m\nsteps:\n  chatty:\n    run: '{chatty}'\n  quiet:\n    run: 'echo \
             connecting; {WAIT}'\n"
        ),
    );
    let at = tokyo("2026-11-25T01:00:00+09:00");
    let s = Arc::new(Setup::new(&t, at).await);
    let (run, end) = start(&s, "transfer").await;
    running(&s, run, &["chatty", "quiet"]).await;
    // Let the watcher see both steps, then let ten quiet minutes pass on the clock.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    s.clock
        .set(at + Duration::minutes(10) + Duration::seconds(1));
    let stuck = incident_of(&s, "stuck").await;
    assert_eq!(stuck.step.as_deref(), Some("quiet"), "{}", stuck.summary);
    assert!(
        stuck
            .summary
            .contains("has printed nothing for 10m01s (stuck_after: 10m00s)"),
        "{}",
        stuck.summary
    );
    go(&t, run);
    assert_eq!(end.await.expect("join").status, RunStatus::Succeeded);
    let f = findings(&s).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(f[0].step.as_deref(), Some("quiet"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_started_after_its_start_delay_opens_an_incident_when_it_starts() {
    let t = setup_tree("close", "start_delay: 15m\nsteps:\n  a:\n    run: 'true'\n");
    let at = tokyo("2026-11-25T20:00:00+09:00");
    let s = Arc::new(Setup::new(&t, at).await);
    let job = s.catalog.jobs.get("close").cloned().expect("job");
    let record = unyo::engine::new_run(
        &s.settings,
        &s.catalog,
        &job,
        &indexmap::IndexMap::new(),
        unyo::store::Trigger::Manual,
        RunStatus::Queued,
        at,
        "tester",
    );
    let run = s.store.create_run(&record).await.expect("queue");
    let started = at + Duration::minutes(20);
    s.clock.set(started);
    assert!(s.store.claim_run(run, "me", started).await.expect("claim"));
    let (_stop, stop_rx) = tokio::sync::watch::channel(None);
    let result = unyo::engine::execute(
        &s.settings,
        s.catalog.clone(),
        s.store.clone(),
        unyo::engine::Started {
            run_id: run,
            job,
            params: indexmap::IndexMap::new(),
            secrets: indexmap::IndexMap::new(),
            reason: None,
            business_date: record.business_date,
            fiscal_year: record.fiscal_year,
            parallel: 1,
            resume: Vec::new(),
            clock: s.clock.clone(),
        },
        stop_rx,
        Arc::new(|_| {}),
    )
    .await
    .expect("run");
    assert_eq!(result.status, RunStatus::Succeeded);
    let late = incident_of(&s, "start_delay").await;
    assert!(
        late.summary
            .contains("started 5m00s after its start deadline 2026-11-25 20:15"),
        "{}",
        late.summary
    );
}

/// Runs `job` once, taking `seconds` on the clock; returns its id.
async fn run_for(t: &Tree, s: &Arc<Setup>, job: &str, seconds: f64) -> i64 {
    let (run, end) = start(s, job).await;
    running(s, run, &["work"]).await;
    s.clock
        .advance(Duration::microseconds((seconds * 1e6) as i64));
    go(t, run);
    assert_eq!(end.await.expect("join").status, RunStatus::Succeeded);
    // The gap between runs, so the next one starts later.
    s.clock.advance(Duration::minutes(1));
    run
}

/// A deterministic generator (xorshift) for the durations.
struct Rng(u64);
impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_three_times_slower_is_flagged_and_ordinary_variation_is_not() {
    let t = setup_tree(
        "tax-batch",
        &format!("slowdown: {{ incident: true }}\nsteps:\n  work:\n    run: '{WAIT}'\n"),
    );
    // An ordinary Tuesday in the middle of the month.
    let s = Arc::new(Setup::new(&t, tokyo("2026-11-10T09:00:00+09:00")).await);
    let mut rng = Rng(0x16_2026);
    for _ in 0..100 {
        let seconds = 60.0 * (0.8 + 0.4 * rng.unit());
        run_for(&t, &s, "tax-batch", seconds).await;
    }
    assert_eq!(findings(&s).await, Vec::new(), "±20 % is ordinary");
    assert!(incidents(&s).await.is_empty());

    let slow = run_for(&t, &s, "tax-batch", 180.0).await;
    let f = findings(&s).await;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].run_id, f[0].kind.as_str()), (slow, "slow"));
    assert_eq!(f[0].day_class.as_deref(), Some("ordinary"));
    assert_eq!(f[0].samples, Some(20));
    let median = f[0].expected.expect("median");
    assert!((48.0..=72.0).contains(&median), "median {median}");
    assert!(f[0].spread.is_some_and(|mad| mad > 0.0 && mad < 12.0));
    assert_eq!(f[0].observed, Some(180.0));
    let i = incident_of(&s, "slow").await;
    assert!(i.summary.contains("took 3m00s"), "{}", i.summary);
    assert!(
        i.summary
            .contains("of its last 20 successful runs on ordinary days"),
        "{}",
        i.summary
    );
    assert_eq!(f[0].incident_id, Some(i.id));

    // A run far faster than usual is flagged too.
    let fast = run_for(&t, &s, "tax-batch", 10.0).await;
    let f = findings(&s).await;
    assert_eq!((f[1].run_id, f[1].kind.as_str()), (fast, "fast"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_end_run_is_judged_only_against_month_ends() {
    let t = setup_tree("close", &format!("steps:\n  work:\n    run: '{WAIT}'\n"));
    let s = Arc::new(Setup::new(&t, tokyo("2026-11-10T09:00:00+09:00")).await);
    for _ in 0..6 {
        run_for(&t, &s, "close", 60.0).await;
    }
    // Month end (Monday 30 November): three times an ordinary day, and no month-end history.
    s.clock.set(tokyo("2026-11-30T09:00:00+09:00"));
    run_for(&t, &s, "close", 180.0).await;
    assert_eq!(findings(&s).await, Vec::new());
    // Back on an ordinary day the same duration is slow; no incident without `incident: true`.
    s.clock.set(tokyo("2026-12-08T09:00:00+09:00"));
    run_for(&t, &s, "close", 180.0).await;
    let f = findings(&s).await;
    assert_eq!(f.len(), 1);
    assert_eq!(f[0].kind, "slow");
    assert_eq!(f[0].incident_id, None);
    assert!(incidents(&s).await.is_empty());
}
