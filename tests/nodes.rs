//! Several daemons on one PostgreSQL, as real processes on a real server: each slot fires
//! once whichever daemons die (`kill -9`, the planner included), another node takes over
//! the planning when the planner dies, a planner paused past its lease writes nothing of its
//! old term, a worker paused past the node timeout is declared dead and its run recovered
//! once, and the daemons ride out a PostgreSQL restart.
//!
//! Each node is a root of its own (its `unyo.yaml` names the shared database and the node),
//! with the same definitions. Each step appends its run's id to one ledger file, so a step
//! that ran twice is seen outside the database too.

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use crate::helper::pg::{FreshDb, one, rows};
use crate::helper::{Daemon, Tree, wait_for};

/// How long a node may stay silent in these tests before the others declare it dead.
const TIMEOUT: &str = "6s";

/// A node's root on the shared database, with `ledger.sh` appending the run's id and the
/// node's name to `ledger` (the same file for every node).
fn node(db: &FreshDb, name: &str, ledger: &std::path::Path, defs: &str) -> Tree {
    labelled(db, name, &["batch"], ledger, defs)
}

/// [`node`] with its labels.
fn labelled(
    db: &FreshDb,
    name: &str,
    labels: &[&str],
    ledger: &std::path::Path,
    defs: &str,
) -> Tree {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!(
            "database: {}\nnode:\n  name: {name}\n  labels: [{}]\n  timeout: {TIMEOUT}\n",
            db.url,
            labels.join(", ")
        ),
    );
    let script = t.path("ledger.sh");
    t.file(
        "ledger.sh",
        &format!(
            "#!/bin/sh\necho \"$UNYO_RUN_ID {name}\" >> {}\n",
            ledger.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    t.job(
        "tick",
        &format!("steps:\n  a:\n    run: {}\n", script.display()),
    );
    t.file("schedules/tick.yaml", defs);
    t
}

/// A fresh database and a node root on it for each of `names`, all writing to one ledger
/// (in the temp dir returned, kept as long as the test holds it). `alone`: the test has
/// the server to itself (it restarts it).
fn cluster(
    names: &[&str],
    defs: &str,
    alone: bool,
) -> (FreshDb, tempfile::TempDir, std::path::PathBuf, Vec<Tree>) {
    let db = if alone {
        FreshDb::create_alone()
    } else {
        FreshDb::create()
    };
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    let trees = names
        .iter()
        .map(|n| node(&db, n, &ledger_path, defs))
        .collect();
    (db, dir, ledger_path, trees)
}

/// Every second, every late slot run (none is skipped while a planner is replaced).
const EVERY_SECOND: &str = "schedules:\n  - job: tick\n    cron: \"* * * * * *\"\n    \
     overlap: allow\n    misfire: { policy: run_all, within: 10m, max: 1000 }\n";

/// Seconds since the epoch of the per-second slots recorded, in order.
fn fire_seconds(db: &FreshDb) -> Vec<i64> {
    rows(
        &db.url,
        "SELECT extract(epoch FROM fire_time)::bigint FROM slots ORDER BY fire_time",
    )
    .into_iter()
    .map(|r| r[0].as_deref().expect("fire").parse().expect("seconds"))
    .collect()
}

/// The ledger's run ids, in the order the steps wrote them.
fn ledger(path: &std::path::Path) -> Vec<i64> {
    ledger_nodes(path).into_iter().map(|(id, _)| id).collect()
}

/// The ledger's lines: each run's id and the node that ran its step.
fn ledger_nodes(path: &std::path::Path) -> Vec<(i64, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| {
            let (id, node) = l.trim().split_once(' ').expect("id and node");
            (id.parse().expect("run id"), node.to_owned())
        })
        .collect()
}

/// Slots in `[from, to]` seconds are there once each, none missing.
fn assert_every_second(fires: &[i64]) {
    let (first, last) = (fires[0], fires[fires.len() - 1]);
    let mut seen = std::collections::BTreeSet::new();
    for f in fires {
        assert!(seen.insert(*f), "slot {f} twice");
    }
    let missing: Vec<i64> = (first..=last).filter(|s| !seen.contains(s)).collect();
    assert!(missing.is_empty(), "slots missing: {missing:?}");
}

/// What the database and the ledger say after the daemons stopped: every slot once and
/// with its run, every run's step started once and written to the ledger at most once,
/// every succeeded run exactly once.
fn assert_once(db: &FreshDb, ledger_path: &std::path::Path) {
    let fires = fire_seconds(db);
    assert!(fires.len() > 5, "{fires:?}");
    assert_every_second(&fires);
    let without_run = one(&db.url, "SELECT count(*) FROM slots WHERE run_id IS NULL");
    assert_eq!(without_run, "0", "every slot made its run");
    let twice = one(&db.url, "SELECT count(*) FROM attempts WHERE attempt > 1");
    assert_eq!(twice, "0", "no step started twice");
    let entries = ledger(ledger_path);
    let mut counted = std::collections::BTreeMap::<i64, usize>::new();
    for id in &entries {
        *counted.entry(*id).or_default() += 1;
    }
    let repeated: Vec<(&i64, &usize)> = counted.iter().filter(|(_, n)| **n > 1).collect();
    assert!(repeated.is_empty(), "steps that ran twice: {repeated:?}");
    let succeeded: Vec<i64> = rows(
        &db.url,
        "SELECT id FROM runs WHERE status = 'succeeded' ORDER BY id",
    )
    .into_iter()
    .map(|r| r[0].as_deref().expect("id").parse().expect("id"))
    .collect();
    let not_in_ledger: Vec<&i64> = succeeded
        .iter()
        .filter(|id| !counted.contains_key(id))
        .collect();
    assert!(
        not_in_ledger.is_empty(),
        "succeeded, never ran: {not_in_ledger:?}"
    );
    let ends = one(
        &db.url,
        "SELECT count(*) FROM runs WHERE status IN ('queued', 'running')",
    );
    assert_eq!(ends, "0", "every run ended");
}

/// A small deterministic sequence (xorshift) for which daemon dies when.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Which of `daemons` holds the planner's lease now.
fn planner(db: &FreshDb) -> Option<i64> {
    rows(
        &db.url,
        "SELECT d.pid FROM leases l JOIN daemons d ON d.id = l.daemon_id \
         WHERE l.name = 'planner' AND l.expires_at > clock_timestamp()",
    )
    .into_iter()
    .next()
    .and_then(|r| r[0].as_deref().and_then(|p| p.parse().ok()))
}

/// Three daemons on one database with a per-second schedule, `kill -9`ed at random (the
/// planner too) and started again, `UNYO_TEST_KILLS` times (default 12; the soak in
/// BENCHMARKS.md runs 60 over ten minutes): every slot fires once and runs its step once,
/// by the ledger and by the database.
#[test]
fn three_nodes_fire_every_slot_once_while_daemons_are_killed() {
    let db = FreshDb::create();
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    let names = ["n1", "n2", "n3"];
    let trees: Vec<Tree> = names
        .iter()
        .map(|n| node(&db, n, &ledger_path, EVERY_SECOND))
        .collect();
    let mut daemons: Vec<Option<Daemon>> = trees.iter().map(|t| Some(Daemon::start(t))).collect();
    let kills: u32 = std::env::var("UNYO_TEST_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(12);
    let mut dice = Dice(0x5eed_1234_abcd_0042);
    let mut planner_kills = 0;
    for _ in 0..kills {
        std::thread::sleep(Duration::from_millis(1000 + dice.next(2500)));
        // Every third kill is the planner's, the others anyone's.
        let victim = match planner(&db) {
            Some(pid) if planner_kills * 3 < kills => daemons
                .iter()
                .position(|d| {
                    d.as_ref()
                        .is_some_and(|d| i64::from(d.pid().as_raw()) == pid)
                })
                .unwrap_or(0),
            _ => dice.next(3) as usize,
        };
        if let Some(d) = daemons[victim].take() {
            if planner(&db) == Some(i64::from(d.pid().as_raw())) {
                planner_kills += 1;
            }
            d.crash();
        }
        std::thread::sleep(Duration::from_millis(200 + dice.next(800)));
        daemons[victim] = Some(Daemon::start(&trees[victim]));
    }
    // Let the last planner catch up and the last runs end, then stop cleanly.
    let last_fire = *fire_seconds(&db).last().expect("slots");
    wait_for("slots to go on after the last kill", || {
        let fires = fire_seconds(&db);
        (fires.last().copied().unwrap_or(0) >= last_fire + 3).then_some(())
    });
    for d in daemons.iter_mut() {
        if let Some(d) = d.take() {
            assert_eq!(d.stop(), Some(0));
        }
    }
    assert!(planner_kills > 0, "the planner was killed at least once");
    // Runs left by a killed daemon were recovered (interrupted, incident); none is running.
    // A run interrupted by a kill may have written its ledger line before the kill.
    assert_once(&db, &ledger_path);
}

/// The planner dies: another node takes the lease over and the next slot fires within 15 s
/// of the death (the lease is 6 s).
#[test]
fn the_next_slot_fires_within_fifteen_seconds_of_the_planners_death() {
    let db = FreshDb::create();
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    // Skip late slots: the first slot after the death shows when planning resumed.
    let defs = "schedules:\n  - job: tick\n    cron: \"* * * * * *\"\n    overlap: allow\n";
    let trees: Vec<Tree> = ["p1", "p2"]
        .iter()
        .map(|n| node(&db, n, &ledger_path, defs))
        .collect();
    let mut daemons: Vec<Option<Daemon>> = trees.iter().map(|t| Some(Daemon::start(t))).collect();
    let pid = wait_for("a planner", || planner(&db));
    wait_for("slots", || (fire_seconds(&db).len() >= 2).then_some(()));
    let i = daemons
        .iter()
        .position(|d| {
            d.as_ref()
                .is_some_and(|d| i64::from(d.pid().as_raw()) == pid)
        })
        .expect("the planner is one of ours");
    daemons[i].take().expect("planner").crash();
    // After the kill has been reaped: a slot the planner decided in the moment before it
    // died (its run then started by the other node) is not one planned after the death.
    let died = chrono::Utc::now();
    let started: String = wait_for("a slot started after the death", || {
        rows(
            &db.url,
            &format!(
                "SELECT min(r.started_at)::text FROM slots s JOIN runs r ON r.id = s.run_id \
                 WHERE s.decided_at > '{}'",
                died.to_rfc3339()
            ),
        )
        .into_iter()
        .next()
        .and_then(|r| r[0].clone())
    });
    let started =
        chrono::DateTime::parse_from_str(&format!("{started}00"), "%Y-%m-%d %H:%M:%S%.f%z")
            .expect("time");
    let gap = started.with_timezone(&chrono::Utc) - died;
    assert!(
        gap < chrono::Duration::seconds(15),
        "the next slot started {gap} after the planner died"
    );
    let other = daemons[1 - i].as_ref().expect("the other");
    assert!(
        other.log().contains("plans the schedules now"),
        "{}",
        other.log()
    );
}

/// A planner paused (SIGSTOP) for longer than its lease and its node's timeout: another
/// node plans meanwhile; resumed, the old planner writes no slot of its old term, finds
/// itself declared dead and stops, and no slot is doubled or missing.
#[test]
fn a_planner_paused_past_its_lease_writes_nothing_of_its_old_term() {
    let (db, _dir, _, trees) = cluster(&["s1", "s2"], EVERY_SECOND, false);
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    let pid = wait_for("a planner", || planner(&db));
    wait_for("slots", || (fire_seconds(&db).len() >= 2).then_some(()));
    let (paused, other): (Vec<Daemon>, Vec<Daemon>) = daemons
        .into_iter()
        .partition(|d| i64::from(d.pid().as_raw()) == pid);
    let (paused, other) = (
        paused.into_iter().next().expect("planner"),
        other.into_iter().next().expect("other"),
    );
    paused.signal(Signal::SIGSTOP);
    let stopped_at = Instant::now();
    wait_for("the other node to plan", || {
        planner(&db)
            .filter(|p| *p == i64::from(other.pid().as_raw()))
            .map(|_| ())
    });
    std::thread::sleep(Duration::from_secs(12).saturating_sub(stopped_at.elapsed()));
    let resumed = chrono::Utc::now();
    paused.signal(Signal::SIGCONT);
    // Declared dead while paused: it stops by itself on waking.
    let code = paused.wait();
    assert_ne!(code, Some(0), "a fenced daemon exits with an error");
    let written_late = one(
        &db.url,
        &format!(
            "SELECT count(*) FROM runs WHERE owner LIKE '%:{pid}:%' AND queued_at > '{}'",
            resumed.to_rfc3339()
        ),
    );
    assert_eq!(
        written_late, "0",
        "nothing of the old planner after it woke"
    );
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(other.stop(), Some(0));
    let fires = fire_seconds(&db);
    assert_every_second(&fires);
}

/// A worker paused (SIGSTOP) in the middle of a long step for longer than the node
/// timeout: the other node declares it dead and records the run interrupted once, with an
/// incident; the step's process is ended; the worker, resumed, writes no end of its own and
/// stops.
#[test]
fn a_worker_paused_past_the_node_timeout_is_recovered_once_and_writes_no_end() {
    let (db, _dir, _, trees) = cluster(&["w1", "w2"], "schedules: []\n", false);
    for t in &trees {
        t.job("long", "steps:\n  wait:\n    run: sleep 30\n");
    }
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    let out = trees[0].run(&["run", "long", "--detach"]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    let run: i64 = crate::helper::text(&out.stdout)
        .trim()
        .parse()
        .expect("run id");
    let (owner, step_pid) = wait_for("the step to run", || {
        let r = rows(
            &db.url,
            &format!(
                "SELECT r.owner, a.pid FROM runs r JOIN attempts a ON a.run_id = r.id \
                 WHERE r.id = {run} AND a.pid IS NOT NULL"
            ),
        );
        r.into_iter()
            .next()
            .map(|r| (r[0].clone().expect("owner"), r[1].clone().expect("pid")))
    });
    let worker = daemons
        .iter()
        .position(|d| owner.contains(&format!(":{}:", d.pid().as_raw())))
        .expect("one of ours runs it");
    daemons[worker].signal(Signal::SIGSTOP);
    wait_for("the run to be interrupted by the other node", || {
        (one(
            &db.url,
            &format!("SELECT status FROM runs WHERE id = {run}"),
        ) == "interrupted")
            .then_some(())
    });
    let ended_before = one(
        &db.url,
        &format!("SELECT ended_at::text FROM runs WHERE id = {run}"),
    );
    let step_pid: i32 = step_pid.parse().expect("pid");
    assert!(
        std::path::Path::new(&format!("/proc/{step_pid}")).exists(),
        "the step still runs while its node is paused"
    );
    daemons[worker].signal(Signal::SIGCONT);
    let mut daemons = daemons;
    let woke = daemons.remove(worker);
    // On waking it finds itself declared dead: it ends its step's process and stops.
    wait_for("the step's process to end", || {
        (!std::path::Path::new(&format!("/proc/{step_pid}")).exists()
            || std::fs::read_to_string(format!("/proc/{step_pid}/stat"))
                .is_ok_and(|s| s.contains(") Z ")))
        .then_some(())
    });
    assert_ne!(woke.wait(), Some(0), "the fenced worker stops");
    let after = rows(
        &db.url,
        &format!("SELECT status, ended_at::text FROM runs WHERE id = {run}"),
    );
    assert_eq!(
        (after[0][0].as_deref(), after[0][1].as_deref()),
        (Some("interrupted"), Some(ended_before.as_str())),
        "one end, written by the node that recovered it"
    );
    let incidents = one(
        &db.url,
        &format!(
            "SELECT count(*) FROM incidents WHERE run_id = {run} AND failure_class = 'interrupted'"
        ),
    );
    assert_eq!(incidents, "1");
    for d in daemons {
        assert_eq!(d.stop(), Some(0));
    }
}

/// PostgreSQL restarted while three daemons fire a per-second schedule: every daemon goes
/// on within 30 s, and no slot is doubled or missing.
#[test]
fn the_daemons_ride_out_a_postgresql_restart() {
    let (db, _dir, ledger_path, trees) = cluster(&["r1", "r2", "r3"], EVERY_SECOND, true);
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    wait_for("slots", || (fire_seconds(&db).len() >= 3).then_some(()));
    let cluster = std::fs::read_dir("/etc/postgresql")
        .expect("a local PostgreSQL cluster (./test.sh starts one)")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .max()
        .expect("a version");
    let restarted = std::process::Command::new("pg_ctlcluster")
        .args([
            "--skip-systemctl-redirect",
            &cluster,
            "main",
            "restart",
            "-m",
            "fast",
        ])
        .status()
        .expect("pg_ctlcluster");
    assert!(restarted.success());
    let back = Instant::now();
    let before = fire_seconds(&db).len();
    wait_for("slots after the restart", || {
        (fire_seconds(&db).len() >= before + 5).then_some(())
    });
    assert!(
        back.elapsed() < Duration::from_secs(30),
        "{:?}",
        back.elapsed()
    );
    // Every daemon is alive and beating again.
    wait_for("three live nodes", || {
        let out = trees[0].run(&["nodes", "--json"]);
        let nodes: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        let alive = nodes
            .as_array()?
            .iter()
            .filter(|n| n["alive"] == serde_json::Value::Bool(true))
            .count();
        (alive == 3).then_some(())
    });
    for d in daemons {
        let log = d.log();
        assert_eq!(d.stop(), Some(0), "{log}");
    }
    assert_once(&db, &ledger_path);
}

/// One node's clock 5 s ahead (faketime): it says so, plans by the database's clock when
/// it plans, and no slot is doubled or missing.
#[test]
fn a_node_whose_clock_is_five_seconds_off_fires_nothing_twice() {
    let (db, _dir, ledger_path, trees) = cluster(&["c1", "c2"], EVERY_SECOND, false);
    // The skewed node starts first, so it plans first.
    let skewed = Daemon::start_with(&trees[0], |c| {
        c.env("FAKETIME", "+5s")
            .env("FAKETIME_DONT_FAKE_MONOTONIC", "1")
            .env(
                "LD_PRELOAD",
                "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
            );
    });
    wait_for("the skewed node to plan", || {
        planner(&db).filter(|p| *p == i64::from(skewed.pid().as_raw()))
    });
    let other = Daemon::start(&trees[1]);
    wait_for("slots", || (fire_seconds(&db).len() >= 4).then_some(()));
    wait_for("the skew to be said", || {
        skewed
            .log()
            .contains("s ahead of the database's")
            .then_some(())
    });
    // Its planning goes to the other node, then back.
    skewed.signal(Signal::SIGSTOP);
    wait_for("the other node to plan", || {
        planner(&db).filter(|p| *p == i64::from(other.pid().as_raw()))
    });
    std::thread::sleep(Duration::from_secs(2));
    skewed.signal(Signal::SIGCONT);
    let _ = skewed.wait();
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(other.stop(), Some(0));
    assert_once(&db, &ledger_path);
}

/// `runs_on`: a job for `db` nodes runs only on them, one for `files` nodes only on those,
/// whichever node plans; a job whose labels no live node has waits, says why, and opens an
/// incident after its `node_wait`; `unyo run` in the foreground on a node without the labels
/// is refused.
#[test]
fn runs_on_sends_each_job_to_nodes_with_its_labels() {
    let db = FreshDb::create();
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    let defs = "schedules:\n  - job: dump\n    cron: \"* * * * * *\"\n    overlap: allow\n  \
                - job: copy\n    cron: \"* * * * * *\"\n    overlap: allow\n";
    let trees: Vec<Tree> = [("db1", "db"), ("files1", "files"), ("ops1", "ops")]
        .iter()
        .map(|(n, l)| labelled(&db, n, &[l], &ledger_path, defs))
        .collect();
    for t in &trees {
        let script = t.path("ledger.sh").display().to_string();
        t.job(
            "dump",
            &format!("runs_on: [db]\nsteps:\n  a:\n    run: {script}\n"),
        );
        t.job(
            "copy",
            &format!("runs_on: [files]\nsteps:\n  a:\n    run: {script}\n"),
        );
        t.job(
            "archive",
            &format!("runs_on: [tape]\nnode_wait: 2s\nsteps:\n  a:\n    run: {script}\n"),
        );
    }
    // Whichever node plans, the runs go to the nodes with their labels.
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    wait_for("runs of both jobs", || {
        let n = one(
            &db.url,
            "SELECT count(DISTINCT job) FROM runs WHERE status = 'succeeded'",
        );
        (n == "2").then_some(())
    });
    let out = trees[2].run(&["run", "archive", "--detach"]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    let archive: i64 = crate::helper::text(&out.stdout).trim().parse().expect("id");
    let refused = trees[2].run(&["run", "dump"]);
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        crate::helper::both(&refused)
    );
    assert!(
        crate::helper::text(&refused.stderr).contains("runs on nodes labelled db"),
        "{}",
        crate::helper::both(&refused)
    );
    wait_for("the archive run's incident", || {
        (one(
            &db.url,
            &format!("SELECT count(*) FROM incidents WHERE run_id = {archive} AND failure_class = 'no node'"),
        ) == "1")
            .then_some(())
    });
    // What an operator reads: every node alive with its labels, one of them the planner.
    let listed = crate::helper::text(&trees[0].run(&["nodes"]).stdout);
    for (node, label) in [("db1", "db"), ("files1", "files"), ("ops1", "ops")] {
        let line = listed
            .lines()
            .find(|l| l.starts_with(node))
            .unwrap_or_else(|| panic!("no line for {node}:\n{listed}"));
        assert!(line.contains("alive") && line.contains(label), "{listed}");
    }
    assert_eq!(listed.matches("planner").count(), 1, "{listed}");
    let status = crate::helper::text(&trees[1].run(&["status"]).stdout);
    assert!(status.contains("nodes:      3 of 3 alive: "), "{status}");
    let reason = one(
        &db.url,
        &format!("SELECT reason FROM runs WHERE id = {archive}"),
    );
    assert!(
        reason.contains("waiting for a live node labelled tape"),
        "{reason}"
    );
    assert_eq!(
        one(
            &db.url,
            &format!("SELECT status FROM runs WHERE id = {archive}")
        ),
        "queued"
    );
    for d in daemons {
        assert_eq!(d.stop(), Some(0));
    }
    let jobs: std::collections::HashMap<i64, String> = rows(&db.url, "SELECT id, job FROM runs")
        .into_iter()
        .map(|r| {
            (
                r[0].as_deref().expect("id").parse().expect("id"),
                r[1].clone().expect("job"),
            )
        })
        .collect();
    let ran = ledger_nodes(&ledger_path);
    assert!(ran.len() >= 4, "{ran:?}");
    for (id, node) in &ran {
        let expected = match jobs[id].as_str() {
            "dump" => "db1",
            "copy" => "files1",
            other => panic!("{other} ran"),
        };
        assert_eq!(node, expected, "run {id} of `{}`", jobs[id]);
    }
}

/// Requests reach the daemons within a second: a run queued on one node's root is started
/// by a daemon (LISTEN/NOTIFY wakes them; their polls are the source of truth), and a cancel
/// of a running run reaches the daemon running it.
#[test]
fn a_queued_run_and_a_cancel_reach_the_daemons_within_a_second() {
    let (db, _dir, _, trees) = cluster(&["q1", "q2"], "schedules: []\n", false);
    for t in &trees {
        t.job("long", "steps:\n  wait:\n    run: sleep 30\n");
    }
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    std::thread::sleep(Duration::from_secs(1));
    let out = trees[0].run(&["run", "long", "--detach"]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    let run: i64 = crate::helper::text(&out.stdout)
        .trim()
        .parse()
        .expect("run id");
    let started = wait_for("the run's step to start", || {
        rows(
            &db.url,
            &format!(
                "SELECT extract(epoch FROM a.started_at - r.queued_at)::float8 FROM runs r \
                 JOIN attempts a ON a.run_id = r.id WHERE r.id = {run}"
            ),
        )
        .into_iter()
        .next()
        .and_then(|r| r[0].clone())
    });
    let started: f64 = started.parse().expect("seconds");
    assert!(started < 1.0, "started {started} s after it was queued");
    let asked = Instant::now();
    let out = trees[1].run(&["cancel", &run.to_string()]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    wait_for("the run to be cancelled", || {
        (one(
            &db.url,
            &format!("SELECT status FROM runs WHERE id = {run}"),
        ) == "cancelled")
            .then_some(())
    });
    // The step gets SIGTERM at once; the run ends when its process has.
    assert!(
        asked.elapsed() < Duration::from_secs(3),
        "cancelled {:?} after it was asked",
        asked.elapsed()
    );
    for d in daemons {
        assert_eq!(d.stop(), Some(0));
    }
}

/// A root for node `name` with `labels` on `db`, no schedule, whose `./where.sh` appends the
/// run's id, the node's name and the step to `ledger`. Its jobs name only relative paths, so
/// every node has the same definitions.
fn placed(db: &FreshDb, name: &str, labels: &[&str], ledger: &std::path::Path) -> Tree {
    let t = labelled(db, name, labels, ledger, "schedules: []\n");
    t.file(
        "where.sh",
        &format!(
            "#!/bin/sh\necho \"$UNYO_RUN_ID {name} $UNYO_STEP\" >> {}\n",
            ledger.display()
        ),
    );
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(t.path("where.sh"), std::fs::Permissions::from_mode(0o755))
        .expect("chmod");
    t
}

/// The ledger's lines of `where.sh`: (run, node, step), in the order they were written.
fn placements(path: &std::path::Path) -> Vec<(i64, String, String)> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            Some((
                w.next()?.parse().ok()?,
                w.next()?.to_owned(),
                w.next()?.to_owned(),
            ))
        })
        .collect()
}

/// Queues a run of `job` from `t`'s root; its id.
fn queue(t: &Tree, job: &str) -> i64 {
    let out = t.run(&["run", job, "--detach"]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    crate::helper::text(&out.stdout)
        .trim()
        .parse()
        .expect("run id")
}

fn run_status(db: &FreshDb, run: i64) -> String {
    one(
        &db.url,
        &format!("SELECT status FROM runs WHERE id = {run}"),
    )
}

/// One job across three labels: its run is driven on the `ops` node, which hands `dump`
/// over to the `db` node and `copy` to the `files` node; each step runs only there, after
/// the step it needs, and `unyo show` says where. A cancel reaches a handed-over step's
/// process on the node running it.
#[test]
fn a_job_across_two_labels_runs_each_step_on_its_node_in_order() {
    let db = FreshDb::create();
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    let pid_file = dir.path().join("hold.pid");
    let trees: Vec<Tree> = [("db1", "db"), ("files1", "files"), ("ops1", "ops")]
        .iter()
        .map(|(n, l)| placed(&db, n, &[l], &ledger_path))
        .collect();
    for t in &trees {
        t.job(
            "backup",
            "runs_on: [ops]\nsteps:\n  dump:\n    runs_on: [db]\n    run: ./where.sh\n  \
             copy:\n    runs_on: [files]\n    needs: [dump]\n    run: ./where.sh\n  \
             report:\n    needs: [copy]\n    run: ./where.sh\n",
        );
        t.job(
            "hold",
            &format!(
                "runs_on: [ops]\nsteps:\n  wait:\n    runs_on: [db]\n    \
                 run: ./where.sh && echo $$ > {} && exec sleep 30\n",
                pid_file.display()
            ),
        );
    }
    let daemons: Vec<Daemon> = trees.iter().map(Daemon::start).collect();
    let ops = &trees[2];
    let runs: Vec<i64> = (0..3).map(|_| queue(ops, "backup")).collect();
    for run in &runs {
        wait_for("the backup runs to succeed", || {
            (run_status(&db, *run) == "succeeded").then_some(())
        });
    }
    let ledger = placements(&ledger_path);
    for run in &runs {
        let mine: Vec<(&str, &str)> = ledger
            .iter()
            .filter(|(r, _, _)| r == run)
            .map(|(_, n, s)| (n.as_str(), s.as_str()))
            .collect();
        assert_eq!(
            mine,
            [("db1", "dump"), ("files1", "copy"), ("ops1", "report")],
            "run {run}: each step once, on its node, in order ({ledger:?})"
        );
        // The database agrees: each attempt names its node, and the steps ended in order.
        let ended: Vec<String> = rows(
            &db.url,
            &format!("SELECT step, command FROM attempts WHERE run_id = {run} ORDER BY ended_at"),
        )
        .into_iter()
        .map(|r| {
            format!(
                "{} {}",
                r[0].as_deref().unwrap_or(""),
                r[1].as_deref().unwrap_or("")
            )
        })
        .collect();
        assert_eq!(ended.len(), 3, "{ended:?}");
        assert!(
            ended[0].starts_with("dump ")
                && ended[0].contains("\"node\":\"db1\"")
                && ended[1].starts_with("copy ")
                && ended[1].contains("\"node\":\"files1\"")
                && ended[2].starts_with("report ")
                && !ended[2].contains("\"node\""),
            "{ended:?}"
        );
    }
    let shown = crate::helper::text(&ops.run(&["show", &runs[0].to_string()]).stdout);
    let line = |step: &str| {
        shown
            .lines()
            .find(|l| l.starts_with(step) && l.contains("succeeded") && l.contains(':'))
            .unwrap_or_else(|| panic!("no attempt line for {step}:\n{shown}"))
            .to_owned()
    };
    assert!(shown.contains("NODE"), "{shown}");
    assert!(
        line("dump").contains("db1") && line("copy").contains("files1"),
        "{shown}"
    );

    // A cancel on the driving node reaches the process on the db node.
    let hold = queue(ops, "hold");
    let pid: i32 = wait_for("the handed-over step to start", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    let status = crate::helper::text(&trees[1].run(&["status"]).stdout);
    assert!(status.contains("wait: on node db1"), "{status}");
    let asked = Instant::now();
    let out = ops.run(&["cancel", &hold.to_string()]);
    assert!(out.status.success(), "{}", crate::helper::both(&out));
    wait_for("the run to be cancelled", || {
        (run_status(&db, hold) == "cancelled").then_some(())
    });
    assert!(
        asked.elapsed() < Duration::from_secs(5),
        "cancelled {:?} after it was asked",
        asked.elapsed()
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the step's process on the db node is gone"
    );
    assert_eq!(
        one(
            &db.url,
            &format!("SELECT status FROM attempts WHERE run_id = {hold}")
        ),
        "cancelled"
    );
    for d in daemons {
        assert_eq!(d.stop(), Some(0));
    }
}

/// The node running a handed-over step dies (`kill -9`) and comes back: the step fails
/// once, "node `db1`" named as why (no silent rerun: the job declares no retry), an incident
/// is opened, and the restarted node stops the process its earlier daemon left.
#[test]
fn a_node_killed_while_running_a_handed_over_step_fails_it_once_and_stops_its_process() {
    let db = FreshDb::create();
    let dir = tempfile::tempdir().expect("dir");
    let ledger_path = dir.path().join("ledger");
    let pid_file = dir.path().join("dump.pid");
    let trees: Vec<Tree> = [("db1", "db"), ("ops1", "ops")]
        .iter()
        .map(|(n, l)| placed(&db, n, &[l], &ledger_path))
        .collect();
    for t in &trees {
        t.job(
            "slow",
            &format!(
                "runs_on: [ops]\nsteps:\n  dump:\n    runs_on: [db]\n    \
                 run: ./where.sh && echo $$ > {} && exec sleep 60\n",
                pid_file.display()
            ),
        );
    }
    let worker = Daemon::start(&trees[0]);
    let driver = Daemon::start(&trees[1]);
    let run = queue(&trees[1], "slow");
    let pid: i32 = wait_for("the handed-over step to start", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    worker.crash();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the step's process outlives its daemon's kill -9"
    );
    let worker = Daemon::start(&trees[0]);
    wait_for("the left process to be stopped", || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    wait_for("the run to fail", || {
        (run_status(&db, run) == "failed").then_some(())
    });
    let attempts = rows(
        &db.url,
        &format!("SELECT status, error FROM attempts WHERE run_id = {run}"),
    );
    assert_eq!(attempts.len(), 1, "one attempt, not rerun: {attempts:?}");
    let error = attempts[0][1].clone().unwrap_or_default();
    assert!(error.contains("node `db1`"), "{attempts:?}");
    assert_eq!(
        one(
            &db.url,
            &format!("SELECT count(*) FROM incidents WHERE run_id = {run}")
        ),
        "1"
    );
    let ran: Vec<_> = placements(&ledger_path)
        .into_iter()
        .filter(|(r, _, _)| *r == run)
        .collect();
    assert_eq!(ran.len(), 1, "the step ran once: {ran:?}");

    // Killed and not back: the driver hears of it once the planner declares it dead.
    std::fs::remove_file(&pid_file).expect("rm");
    let run = queue(&trees[1], "slow");
    let pid: i32 = wait_for("the handed-over step to start", || {
        std::fs::read_to_string(&pid_file).ok()?.trim().parse().ok()
    });
    let killed = Instant::now();
    worker.crash();
    wait_for("the run to fail", || {
        (run_status(&db, run) == "failed").then_some(())
    });
    assert!(
        killed.elapsed() < Duration::from_secs(20),
        "failed {:?} after the kill (node timeout {TIMEOUT})",
        killed.elapsed()
    );
    let error = one(
        &db.url,
        &format!("SELECT error FROM attempts WHERE run_id = {run}"),
    );
    assert!(
        error.contains("node `db1` stopped") && error.contains("declared dead"),
        "{error}"
    );
    let worker = Daemon::start(&trees[0]);
    wait_for("the left process to be stopped", || {
        (!std::path::Path::new(&format!("/proc/{pid}")).exists()).then_some(())
    });
    assert_eq!(worker.stop(), Some(0));
    assert_eq!(driver.stop(), Some(0));
}
