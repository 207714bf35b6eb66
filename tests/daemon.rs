//! The daemon with the real binary: firing schedules, queue pickup, SIGTERM, SIGHUP, a
//! second daemon refused, `kill -9` recovery, restarts that neither lose nor repeat a slot,
//! cross-job waits and windows.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::helper::{Daemon, Tree, db, live_group_members, one, query, text, wait_for};

fn detach(t: &Tree, job: &str) -> i64 {
    let out = t.run(&["run", job, "--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).trim().parse().expect("run id")
}

fn run_status(t: &Tree, id: i64) -> String {
    one(t, &format!("SELECT status FROM runs WHERE id = {id}"))
}

fn step_status(t: &Tree, run: i64, step: &str) -> String {
    one(
        t,
        &format!("SELECT status FROM steps WHERE run_id = {run} AND name = '{step}'"),
    )
}

fn wait_status(t: &Tree, id: i64, status: &str) {
    wait_for(&format!("run {id} to be {status}"), || {
        (run_status(t, id) == status).then_some(())
    });
}

/// Makes the daemon's last planning pass `ago` before now, as if it had been down since.
fn rewind_watermarks(t: &Tree, ago: chrono::Duration) {
    let past = chrono::Utc::now() - ago;
    db(t)
        .execute(
            "UPDATE watermarks SET through = ?",
            [past.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)],
        )
        .expect("rewind");
}

fn every_second(t: &Tree) {
    t.job("tick", "steps:\n  a:\n    run: echo tick\n");
    t.file(
        "schedules/tick.yaml",
        "schedules:\n  - job: tick\n    cron: \"* * * * * *\"\n    overlap: allow\n",
    );
}

#[test]
fn fires_schedules_on_time_and_records_every_slot() {
    let t = Tree::new();
    every_second(&t);
    let d = Daemon::start(&t);
    wait_for("three scheduled runs to succeed", || {
        let n: i64 = one(
            &t,
            "SELECT count(*) FROM runs WHERE trigger = 'schedule' AND status = 'succeeded'",
        );
        (n >= 3).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    // Every slot has a row that names its run, and every run came from a slot.
    let orphans: i64 = one(
        &t,
        "SELECT count(*) FROM slots WHERE outcome = 'started' AND run_id IS NULL",
    );
    assert_eq!(orphans, 0);
    let unslotted: i64 = one(
        &t,
        "SELECT count(*) FROM runs r WHERE NOT EXISTS (SELECT 1 FROM slots s WHERE s.run_id = r.id)",
    );
    assert_eq!(unslotted, 0);
    // Fire times are whole seconds, one second apart, none twice.
    let fires: Vec<String> = query(&t, "SELECT fire_time FROM slots ORDER BY fire_time");
    assert!(fires.len() >= 3);
    assert!(fires.iter().all(|f| f.ends_with(".000000Z")), "{fires:?}");
    let secs: Vec<i64> = fires
        .iter()
        .map(|f| {
            chrono::DateTime::parse_from_rfc3339(f)
                .expect("time")
                .timestamp()
        })
        .collect();
    assert!(secs.windows(2).all(|w| w[1] - w[0] == 1), "{fires:?}");
    // The step started after its slot's instant, not before.
    let early: i64 = one(
        &t,
        "SELECT count(*) FROM slots s JOIN attempts a ON a.run_id = s.run_id \
         WHERE a.started_at < s.fire_time",
    );
    assert_eq!(early, 0);
    // A clean stop is recorded.
    let stopped: Option<String> = one(&t, "SELECT stopped_at FROM daemons ORDER BY id DESC");
    assert!(stopped.is_some());
}

#[test]
fn a_restart_neither_loses_nor_repeats_a_slot() {
    let t = Tree::new();
    every_second(&t);
    let d = Daemon::start(&t);
    wait_for("two slots", || {
        (one::<i64>(&t, "SELECT count(*) FROM slots") >= 2).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    // Down for two seconds, then back.
    std::thread::sleep(Duration::from_secs(2));
    let before: i64 = one(&t, "SELECT count(*) FROM slots");
    let d = Daemon::start(&t);
    wait_for("slots after the restart", || {
        (one::<i64>(&t, "SELECT count(*) FROM slots") >= before + 4).then_some(())
    });
    d.crash();
    let d = Daemon::start(&t);
    let after_crash: i64 = one(&t, "SELECT count(*) FROM slots");
    wait_for("slots after the crash", || {
        (one::<i64>(&t, "SELECT count(*) FROM slots") >= after_crash + 2).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    let secs: Vec<i64> = query::<String>(&t, "SELECT fire_time FROM slots ORDER BY fire_time")
        .iter()
        .map(|f| {
            chrono::DateTime::parse_from_rfc3339(f)
                .expect("time")
                .timestamp()
        })
        .collect();
    // Contiguous: the seconds while the daemon was down have their slots too (a few
    // seconds late is still on time, so they ran); and no second twice.
    assert!(
        secs.windows(2).all(|w| w[1] - w[0] == 1),
        "gap or repeat in {secs:?}"
    );
    let runs_per_slot: i64 = one(
        &t,
        "SELECT max(n) FROM (SELECT count(*) AS n FROM slots WHERE run_id IS NOT NULL GROUP BY run_id)",
    );
    assert_eq!(runs_per_slot, 1);
}

#[test]
fn slots_missed_during_downtime_follow_the_misfire_policy() {
    let t = Tree::new();
    t.job("hourly", "steps:\n  a:\n    run: echo caught up\n");
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: hourly\n    cron: \"0 * * * *\"\n    misfire: { policy: run_once, within: 3h }\n",
    );
    // The daemon last decided slots five and a half hours ago.
    let d = Daemon::start(&t);
    assert_eq!(d.stop(), Some(0));
    rewind_watermarks(&t, chrono::Duration::minutes(330));
    let d = Daemon::start(&t);
    let id: i64 = wait_for("the caught-up run", || {
        query::<i64>(&t, "SELECT id FROM runs WHERE trigger = 'catch_up'")
            .first()
            .copied()
    });
    wait_status(&t, id, "succeeded");
    assert_eq!(d.stop(), Some(0));
    let slots: Vec<(String, Option<i64>)> = db(&t)
        .prepare("SELECT outcome, run_id FROM slots ORDER BY fire_time")
        .expect("prepare")
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    // Five or six hourly slots fell in the downtime: all missed but the latest, which made
    // the caught-up run. (An hour that turns while the test runs adds a slot after it,
    // started or skipped for the overlap: a regression test for a failure at 09:00:00.)
    let caught = slots
        .iter()
        .position(|(_, run)| *run == Some(id))
        .unwrap_or_else(|| panic!("no slot made run {id}: {slots:?}"));
    assert_eq!(slots[caught].0, "started", "{slots:?}");
    assert!(matches!(caught, 4 | 5), "{slots:?}");
    assert!(
        slots[..caught].iter().all(|(o, _)| o == "missed"),
        "{slots:?}"
    );
    assert!(slots.len() - caught <= 2, "{slots:?}");
    let reasons: Vec<String> = query(
        &t,
        "SELECT reason FROM slots WHERE outcome = 'missed' ORDER BY fire_time",
    );
    assert!(
        reasons.iter().all(|r| r.contains("missed: due")),
        "{reasons:?}"
    );
}

#[test]
fn queued_runs_start_at_the_next_queue_poll_and_wait_for_a_stopped_daemon() {
    let t = Tree::new();
    t.job("extract", "steps:\n  a:\n    run: echo extracted\n");
    // Queued while no daemon runs: it waits.
    let early = detach(&t, "extract");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(run_status(&t, early), "queued");
    let d = Daemon::start(&t);
    wait_status(&t, early, "succeeded");
    // Queued while it runs: the running daemon's queue poll starts it (how often it polls,
    // well within a second, is the unit test `daemon::tests::the_loop_wakes_for_the_next_queue_poll`).
    let id = detach(&t, "extract");
    wait_status(&t, id, "succeeded");
    let (queued, started): (String, String) = db(&t)
        .query_row(
            &format!("SELECT queued_at, started_at FROM runs WHERE id = {id}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("times");
    assert!(
        started >= queued,
        "started {started} before it was queued {queued}"
    );
    let log = d.log();
    assert!(
        log.lines()
            .any(|l| l.contains("starting queued run of `extract`")
                && l.contains(&format!("run={id}"))),
        "{log}"
    );
    let owner: String = one(&t, &format!("SELECT owner FROM runs WHERE id = {id}"));
    assert!(owner.contains(&format!(":{}:", d.pid())), "{owner}");
    d.signal(Signal::SIGINT);
    assert_eq!(d.wait(), Some(0));
}

#[test]
fn sigterm_lets_short_steps_finish_and_stops_long_ones() {
    let t = Tree::new();
    t.file("unyo.yaml", "shutdown_grace: 1s\nkill_grace: 1s\n");
    t.job("short", "steps:\n  a:\n    run: sleep 0.3; echo done\n");
    t.job(
        "long",
        "on_interrupt: rerun\nsteps:\n  a:\n    run: sleep 300 & sleep 300\n",
    );
    let d = Daemon::start(&t);
    let short = detach(&t, "short");
    let long = detach(&t, "long");
    let pid: i64 = wait_for("the long step's pid", || {
        query::<Option<i64>>(
            &t,
            &format!("SELECT pid FROM attempts WHERE run_id = {long}"),
        )
        .first()
        .copied()
        .flatten()
    });
    wait_status(&t, short, "running");
    d.signal(Signal::SIGTERM);
    assert_eq!(d.wait(), Some(0), "a clean stop exits 0");
    assert_eq!(run_status(&t, short), "succeeded");
    assert_eq!(run_status(&t, long), "interrupted");
    let reason: String = one(&t, &format!("SELECT reason FROM runs WHERE id = {long}"));
    assert!(reason.contains("daemon was stopped"), "{reason}");
    assert!(
        live_group_members(pid).is_empty(),
        "the step's group is gone"
    );
    // on_interrupt: rerun queued it again for the next start.
    let rerun: i64 = one(
        &t,
        &format!("SELECT id FROM runs WHERE rerun_of = {long} AND status = 'queued'"),
    );
    assert!(rerun > long);
}

#[test]
fn kill_9_is_recovered_on_the_next_start() {
    let t = Tree::new();
    t.job(
        "long",
        "on_interrupt: rerun\nsteps:\n  a:\n    run: sleep 300 & sleep 300\n",
    );
    t.file("unyo.yaml", "kill_grace: 1s\nshutdown_grace: 1s\n");
    let d = Daemon::start(&t);
    let id = detach(&t, "long");
    let pid: i64 = wait_for("the step's pid", || {
        query::<Option<i64>>(&t, &format!("SELECT pid FROM attempts WHERE run_id = {id}"))
            .first()
            .copied()
            .flatten()
    });
    d.crash();
    // The step outlived the daemon.
    assert!(!live_group_members(pid).is_empty());
    assert_eq!(run_status(&t, id), "running");
    let d = Daemon::start(&t);
    wait_status(&t, id, "interrupted");
    assert!(
        wait_for("the left-over group to end", || live_group_members(pid)
            .is_empty()
            .then_some(true)),
        "left-over processes were stopped"
    );
    let step: String = one(&t, &format!("SELECT status FROM steps WHERE run_id = {id}"));
    assert_eq!(step, "interrupted");
    let attempt: String = one(
        &t,
        &format!("SELECT status FROM attempts WHERE run_id = {id}"),
    );
    assert_eq!(attempt, "interrupted");
    let rerun: i64 = wait_for("the rerun", || {
        query::<i64>(&t, &format!("SELECT id FROM runs WHERE rerun_of = {id}"))
            .first()
            .copied()
    });
    wait_status(&t, rerun, "running");
    let trigger: String = one(&t, &format!("SELECT trigger FROM runs WHERE id = {rerun}"));
    assert_eq!(trigger, "recovery");
    // The crash opened an incident for the job.
    let (class, run): (String, i64) = db(&t)
        .query_row(
            "SELECT failure_class, run_id FROM incidents WHERE job = 'long'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("incident");
    assert_eq!((class.as_str(), run), ("interrupted", id));
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_foreground_run_of_a_live_process_is_not_recovered() {
    let t = Tree::new();
    t.job("slow", "steps:\n  a:\n    run: sleep 2\n");
    let mut fg = t.unyo();
    fg.args(["run", "slow"]);
    let handle = std::thread::spawn(move || fg.output().expect("run"));
    let id: i64 = wait_for("the foreground run", || {
        std::fs::metadata(t.path("var/unyo.db")).ok()?;
        // The file exists a moment before its tables do: until then, not yet.
        db(&t)
            .query_row("SELECT id FROM runs WHERE status = 'running'", [], |r| {
                r.get(0)
            })
            .ok()
    });
    let d = Daemon::start(&t);
    let out = handle.join().expect("join");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(run_status(&t, id), "succeeded");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_second_daemon_on_the_same_database_is_refused() {
    let t = Tree::new();
    every_second(&t);
    let d = Daemon::start(&t);
    let out = t.run(&["daemon"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("another unyo daemon is running"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn sighup_reloads_and_keeps_the_old_set_when_the_new_one_is_invalid() {
    let t = Tree::new();
    every_second(&t);
    let d = Daemon::start(&t);
    let ticks = || one::<i64>(&t, "SELECT count(*) FROM runs WHERE job = 'tick'");
    // A broken file: the daemon keeps running on what it had.
    t.job("broken", "steps:\n  a:\n    rnu: echo\n");
    d.signal(Signal::SIGHUP);
    wait_for("the refusal", || {
        d.log().contains("reload refused").then_some(())
    });
    assert!(d.log().contains("broken.yaml:3:5"), "{}", d.log());
    let before = ticks();
    wait_for("ticks after the refusal", || {
        (ticks() > before + 1).then_some(())
    });
    // Fixed, plus a new schedule: it fires after the reload.
    std::fs::remove_file(t.path("jobs/broken.yaml")).expect("rm");
    t.job("tock", "steps:\n  a:\n    run: echo tock\n");
    t.file(
        "schedules/tock.yaml",
        "schedules:\n  - job: tock\n    cron: \"* * * * * *\"\n",
    );
    d.signal(Signal::SIGHUP);
    wait_for("the reload", || {
        d.log()
            .contains("definitions reloaded: 2 jobs, 2 schedules")
            .then_some(())
    });
    wait_for("a run of the new schedule", || {
        (one::<i64>(
            &t,
            "SELECT count(*) FROM runs WHERE job = 'tock' AND status = 'succeeded'",
        ) > 0)
            .then_some(())
    });
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn after_waits_for_the_other_job_and_gives_up_at_wait_timeout() {
    let t = Tree::new();
    t.job("load", "steps:\n  a:\n    run: sleep 0.5\n");
    t.job("archive", "steps:\n  a:\n    run: echo archived\n");
    t.job(
        "report",
        "after: [load]\nwait_timeout: 30s\nsteps:\n  a:\n    run: echo report\n",
    );
    t.job(
        "cleanup",
        "after: [archive]\nwait_timeout: 1s\nsteps:\n  a:\n    run: echo never\n",
    );
    let d = Daemon::start(&t);
    let report = detach(&t, "report");
    let cleanup = detach(&t, "cleanup");
    wait_for("report to wait", || {
        query::<Option<String>>(&t, &format!("SELECT reason FROM runs WHERE id = {report}"))
            .first()
            .cloned()
            .flatten()
            .filter(|r| r.contains("waiting for `load`"))
    });
    assert_eq!(run_status(&t, report), "queued");
    let load = detach(&t, "load");
    wait_status(&t, load, "succeeded");
    wait_status(&t, report, "succeeded");
    let load_end: String = one(&t, &format!("SELECT ended_at FROM runs WHERE id = {load}"));
    let report_start: String = one(
        &t,
        &format!("SELECT started_at FROM runs WHERE id = {report}"),
    );
    assert!(report_start > load_end, "{report_start} <= {load_end}");
    // `archive` never runs: `cleanup` fails after its wait_timeout, with the reason.
    wait_status(&t, cleanup, "failed");
    let reason: String = one(&t, &format!("SELECT reason FROM runs WHERE id = {cleanup}"));
    assert!(
        reason.contains("`archive` did not succeed for business date") && reason.contains("1.0s"),
        "{reason}"
    );
    let step: String = one(
        &t,
        &format!("SELECT status FROM steps WHERE run_id = {cleanup}"),
    );
    assert_eq!(step, "cancelled");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_job_outside_its_window_waits_for_it() {
    let t = Tree::new();
    // A window that is closed now: it opens two hours from now (local time of the settings).
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let from = (now + chrono::Duration::hours(2)).format("%H:00");
    let to = (now + chrono::Duration::hours(3)).format("%H:00");
    t.file(
        "schedules/w.yaml",
        &format!("windows:\n  night:\n    from: \"{from}\"\n    to: \"{to}\"\n"),
    );
    t.job("extract", "window: night\nsteps:\n  a:\n    run: echo x\n");
    t.job(
        "optional",
        "window: night\noutside_window: skip\nsteps:\n  a:\n    run: echo x\n",
    );
    let d = Daemon::start(&t);
    let waits = detach(&t, "extract");
    let skipped = detach(&t, "optional");
    let reason = wait_for("the run to wait", || {
        query::<Option<String>>(&t, &format!("SELECT reason FROM runs WHERE id = {waits}"))
            .first()
            .cloned()
            .flatten()
    });
    assert!(
        reason.contains("waiting for window `night` (opens"),
        "{reason}"
    );
    assert_eq!(run_status(&t, waits), "queued");
    let not_before: String = one(
        &t,
        &format!("SELECT not_before FROM runs WHERE id = {waits}"),
    );
    assert!(not_before > chrono::Utc::now().to_rfc3339(), "{not_before}");
    wait_status(&t, skipped, "cancelled");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn overlap_replace_stops_the_old_run_and_queue_runs_them_one_after_another() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\nshutdown_grace: 1s\n");
    t.job("stuck", "steps:\n  a:\n    run: sleep 300 & sleep 300\n");
    t.job("slow", "steps:\n  a:\n    run: sleep 1.2\n");
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: stuck\n    cron: \"*/2 * * * * *\"\n    overlap: replace\n  - job: slow\n    cron: \"* * * * * *\"\n    overlap: queue\n",
    );
    let d = Daemon::start(&t);
    let first: i64 = wait_for("a replaced run", || {
        query::<i64>(
            &t,
            "SELECT id FROM runs WHERE job = 'stuck' AND status = 'cancelled'",
        )
        .first()
        .copied()
    });
    let reason: String = one(&t, &format!("SELECT reason FROM runs WHERE id = {first}"));
    assert!(reason.starts_with("replaced by run "), "{reason}");
    let by: i64 = reason
        .trim_start_matches("replaced by run ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("run id in the reason");
    assert!(by > first);
    let pid: i64 = one(
        &t,
        &format!("SELECT pid FROM attempts WHERE run_id = {first}"),
    );
    assert!(
        live_group_members(pid).is_empty(),
        "the replaced run's group is gone"
    );
    wait_for("queued slots of `slow`", || {
        (one::<i64>(
            &t,
            "SELECT count(*) FROM runs WHERE job = 'slow' AND status = 'succeeded'",
        ) >= 2)
            .then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    let queued: i64 = one(
        &t,
        "SELECT count(*) FROM slots WHERE schedule = 'slow' AND outcome = 'queued'",
    );
    assert!(queued >= 1);
    // Never two runs of `slow` at once.
    let spans: Vec<(String, String)> = {
        let c = db(&t);
        let mut s = c
            .prepare(
                "SELECT started_at, ended_at FROM runs WHERE job = 'slow' \
                 AND started_at IS NOT NULL AND ended_at IS NOT NULL ORDER BY started_at",
            )
            .expect("prepare");
        s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows")
    };
    assert!(spans.len() >= 2);
    for w in spans.windows(2) {
        assert!(w[1].0 >= w[0].1, "overlapping runs: {w:?}");
    }
}

#[test]
fn a_retry_waiting_at_shutdown_goes_on_after_the_restart() {
    let t = Tree::new();
    t.file("unyo.yaml", "shutdown_grace: 1s\n");
    t.file(
        "runbooks/again.yaml",
        "rules:\n  - match: { exit_codes: [75] }\n    retry: { max: 2, initial: 3s }\n",
    );
    t.job(
        "load",
        "runbook: again\nsteps:\n  load:\n    run: |\n      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count\n      [ $n -ge 2 ] || exit 75\n  after:\n    needs: [load]\n    run: echo done > done.txt\n",
    );
    let d = Daemon::start(&t);
    let id = detach(&t, "load");
    wait_for("the step to wait for its retry", || {
        let s: String = step_status(&t, id, "load");
        (s == "waiting_retry").then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    // Left as it was: running, the step waiting, its retry time recorded, no incident.
    assert_eq!(run_status(&t, id), "running");
    let retry_at: String = one(
        &t,
        &format!("SELECT retry_at FROM steps WHERE run_id = {id} AND name = 'load'"),
    );
    let later: String = step_status(&t, id, "after");
    assert_eq!(later, "pending");
    assert_eq!(one::<i64>(&t, "SELECT count(*) FROM incidents"), 0);
    let d = Daemon::start(&t);
    wait_status(&t, id, "succeeded");
    let second: String = one(
        &t,
        &format!(
            "SELECT started_at FROM attempts WHERE run_id = {id} AND step = 'load' AND attempt = 2"
        ),
    );
    assert!(second >= retry_at, "{second} < {retry_at}");
    assert!(t.path("done.txt").exists());
    assert!(
        d.log()
            .contains(&format!("run {id} of `load` had steps left")),
        "{}",
        d.log()
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn sigterm_lets_the_running_step_finish_and_the_next_one_waits_for_the_restart() {
    let t = Tree::new();
    t.file("unyo.yaml", "shutdown_grace: 10s\n");
    t.job(
        "two",
        "steps:\n  first:\n    run: sleep 1; echo one > one.txt\n  second:\n    needs: [first]\n    run: echo two > two.txt\n",
    );
    let d = Daemon::start(&t);
    let id = detach(&t, "two");
    wait_for("the first step to run", || {
        let s: String = step_status(&t, id, "first");
        (s == "running").then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    // The first step finished; the second did not start and the run waits.
    assert!(t.path("one.txt").exists());
    assert!(!t.path("two.txt").exists());
    assert_eq!(run_status(&t, id), "running");
    let second: String = step_status(&t, id, "second");
    assert_eq!(second, "pending");
    let d = Daemon::start(&t);
    wait_status(&t, id, "succeeded");
    assert!(t.path("two.txt").exists());
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn cancel_stops_a_run_the_daemon_drives() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\n");
    t.job("long", "steps:\n  a:\n    run: sleep 300 & sleep 300\n");
    let d = Daemon::start(&t);
    let id = detach(&t, "long");
    let pid: i64 = wait_for("the step's pid", || {
        query::<Option<i64>>(&t, &format!("SELECT pid FROM attempts WHERE run_id = {id}"))
            .first()
            .copied()
            .flatten()
    });
    let out = t.run(&["cancel", &id.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("run {id} cancelled\n"));
    assert!(live_group_members(pid).is_empty());
    // No incident for a run an operator cancelled.
    assert_eq!(one::<i64>(&t, "SELECT count(*) FROM incidents"), 0);
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn status_shows_the_daemon_the_runs_and_the_incidents() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\nshutdown_grace: 1s\n");
    t.job("long", "steps:\n  a:\n    run: sleep 300\n");
    t.job("broken", "steps:\n  a:\n    run: exit 3\n");
    let status = |t: &Tree| -> serde_json::Value {
        let out = t.run(&["status", "--json"]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    assert_eq!(status(&t)["daemon"]["alive"], false);
    assert_eq!(t.run(&["run", "broken"]).status.code(), Some(1));
    let d = Daemon::start(&t);
    let id = detach(&t, "long");
    wait_status(&t, id, "running");
    let s = status(&t);
    assert_eq!(s["daemon"]["alive"], true);
    assert_eq!(s["daemon"]["pid"], d.pid().as_raw());
    assert_eq!(s["running"][0]["id"], id);
    assert_eq!(s["open_incidents"][0]["job"], "broken");
    let shown = text(&t.run(&["status"]).stdout);
    assert!(shown.starts_with("daemon:     running (pid "), "{shown}");
    assert!(
        shown.contains("runs:       1 running (0 waiting to retry, 0 for approval), 0 queued"),
        "{shown}"
    );
    assert!(
        shown.contains("incidents:  1 open or acknowledged"),
        "{shown}"
    );
    assert!(
        shown.lines().all(|l| l.chars().count() <= 80),
        "fits 80 columns:\n{shown}"
    );
    assert_eq!(d.stop(), Some(0));
    let shown = text(&t.run(&["status"]).stdout);
    assert!(
        shown.starts_with("daemon:     NOT RUNNING (last seen "),
        "{shown}"
    );
}

#[test]
fn a_held_job_records_its_slots_held_until_it_is_released() {
    let t = Tree::new();
    every_second(&t);
    let out = t.run(&["hold", "tick", "--reason", "disk maintenance"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        t.run(&["hold", "tick"]).status.code(),
        Some(3),
        "held already"
    );
    assert_eq!(
        t.run(&["hold", "tock"]).status.code(),
        Some(3),
        "unknown job"
    );
    let shown = text(&t.run(&["status"]).stdout);
    assert!(shown.contains("held:       `tick` by "), "{shown}");
    let d = Daemon::start(&t);
    wait_for("held slots", || {
        (one::<i64>(&t, "SELECT count(*) FROM slots WHERE outcome = 'held'") >= 2).then_some(())
    });
    assert_eq!(one::<i64>(&t, "SELECT count(*) FROM runs"), 0);
    let reason: String = one(
        &t,
        "SELECT reason FROM slots WHERE outcome = 'held' LIMIT 1",
    );
    assert!(
        reason.contains("held by") && reason.ends_with(": disk maintenance"),
        "{reason}"
    );
    let out = t.run(&["release", "tick"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_for("a run after the release", || {
        (one::<i64>(&t, "SELECT count(*) FROM runs WHERE status = 'succeeded'") > 0).then_some(())
    });
    assert_eq!(
        t.run(&["release", "tick"]).status.code(),
        Some(3),
        "not held"
    );
    assert_eq!(d.stop(), Some(0));
    let actions: Vec<String> = query(&t, "SELECT action || ':' || outcome FROM audit ORDER BY id");
    assert_eq!(
        actions,
        [
            "hold:done",
            "hold:refused",
            "release:done",
            "release:refused"
        ]
    );
}

#[test]
fn rerun_from_failed_keeps_what_succeeded_and_runs_the_rest() {
    let t = Tree::new();
    t.job(
        "load",
        "steps:\n  extract:\n    run: echo x >> extracted.txt\n  transform:\n    needs: [extract]\n    run: test -f fixed\n  publish:\n    needs: [transform]\n    run: echo done > published.txt\n",
    );
    // The first run fails at `transform`; `publish` is skipped.
    assert_eq!(t.run(&["run", "load"]).status.code(), Some(1));
    assert_eq!(
        t.run(&["rerun", "1"]).status.code(),
        Some(0),
        "a whole rerun is fine"
    );
    assert_eq!(
        t.run(&["cancel", "2"]).status.code(),
        Some(0),
        "queued, not wanted here"
    );
    std::fs::write(t.path("fixed"), "").expect("fix");
    let out = t.run(&["rerun", "1", "--from-failed"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: i64 = text(&out.stdout).trim().parse().expect("id");
    assert!(
        text(&out.stderr).contains("keeping extract"),
        "{}",
        text(&out.stderr)
    );
    let d = Daemon::start(&t);
    wait_status(&t, id, "succeeded");
    // `extract` ran once, in run 1: the rerun kept it.
    assert_eq!(
        std::fs::read_to_string(t.path("extracted.txt")).expect("read"),
        "x\n"
    );
    assert!(t.path("published.txt").exists());
    let kept: String = one(
        &t,
        &format!("SELECT reason FROM steps WHERE run_id = {id} AND name = 'extract'"),
    );
    assert_eq!(kept, "kept from run 1");
    let (trigger, of): (String, i64) = db(&t)
        .query_row(
            &format!("SELECT trigger, rerun_of FROM runs WHERE id = {id}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row");
    assert_eq!((trigger.as_str(), of), ("rerun", 1));
    let attempts: i64 = one(
        &t,
        &format!("SELECT count(*) FROM attempts WHERE run_id = {id}"),
    );
    assert_eq!(attempts, 2, "transform and publish only");
    // Refusals: a succeeded run from its failed step, a run still going, no such run.
    assert_eq!(
        t.run(&["rerun", &id.to_string(), "--from-failed"])
            .status
            .code(),
        Some(3)
    );
    assert_eq!(t.run(&["rerun", "77"]).status.code(), Some(3));
    assert_eq!(d.stop(), Some(0));
    let reruns: Vec<String> = query(
        &t,
        "SELECT outcome FROM audit WHERE action = 'rerun' ORDER BY id",
    );
    assert_eq!(reruns, ["done", "done", "refused", "refused"]);
}

#[test]
fn submit_without_at_or_window_defers_to_the_jobs_own_window() {
    let t = Tree::new();
    let tz = chrono_tz::Asia::Tokyo;
    let now = chrono::Utc::now().with_timezone(&tz);
    // `later` opens in one to two hours; `open` is open now.
    let opens = (now + chrono::Duration::hours(2))
        .format("%H:00")
        .to_string();
    let closes = (now + chrono::Duration::hours(3)).format("%H:00");
    let open_from = (now - chrono::Duration::hours(1)).format("%H:00");
    t.file(
        "schedules/w.yaml",
        &format!(
            "windows:\n  later: {{ from: \"{opens}\", to: \"{closes}\" }}\n  open: {{ from: \"{open_from}\", to: \"{closes}\" }}\n"
        ),
    );
    t.job(
        "heavy",
        "adhoc: true\nwindow: later\nsteps:\n  a:\n    run: echo\n",
    );
    t.job(
        "light",
        "adhoc: true\nwindow: open\nsteps:\n  a:\n    run: echo\n",
    );
    let out = t.run(&["submit", "heavy"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: i64 = text(&out.stdout).trim().parse().expect("id");
    let not_before: String = one(&t, &format!("SELECT not_before FROM runs WHERE id = {id}"));
    let not_before = chrono::DateTime::parse_from_rfc3339(&not_before)
        .expect("time")
        .with_timezone(&tz);
    assert_eq!(not_before.format("%H:%M").to_string(), opens);
    assert!(not_before > now && not_before < now + chrono::Duration::hours(3));
    let heavy_opens = not_before;
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!(
            "not before {} (when window `later` ({opens}–{closes}) opens)",
            not_before.format("%Y-%m-%d %H:%M:%S")
        )),
        "{said}"
    );
    // A window open now defers nothing.
    let out = t.run(&["submit", "light"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let id: i64 = text(&out.stdout).trim().parse().expect("id");
    let not_before: Option<String> =
        one(&t, &format!("SELECT not_before FROM runs WHERE id = {id}"));
    assert_eq!(not_before, None);
    assert!(
        text(&out.stderr).contains("window `open` is open"),
        "{}",
        text(&out.stderr)
    );
    // --at inside the window: then.
    let fmt = |t: chrono::DateTime<chrono_tz::Tz>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    let inside = heavy_opens + chrono::Duration::days(2) + chrono::Duration::minutes(30);
    let out = t.run(&["submit", "heavy", "--at", &fmt(inside)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!(
            "window `later` is open then: not before {}",
            fmt(inside)
        )),
        "{said}"
    );
}

/// Issue 13 item 17: `--at 07:16` said "queued, not before 07:16" and the run then waited for
/// the night window. The command says the real earliest start, the later of `--at` and the
/// window's next opening, naming the window and its opening time; `run --detach` too.
#[test]
fn submit_at_outside_the_window_says_when_the_window_opens() {
    let t = Tree::new();
    let tz = chrono_tz::Asia::Tokyo;
    let now = chrono::Utc::now().with_timezone(&tz);
    let opens = (now + chrono::Duration::hours(2))
        .format("%H:00")
        .to_string();
    let closes = (now + chrono::Duration::hours(3))
        .format("%H:00")
        .to_string();
    t.file(
        "schedules/w.yaml",
        &format!("windows:\n  later: {{ from: \"{opens}\", to: \"{closes}\" }}\n"),
    );
    t.job(
        "heavy",
        "adhoc: true\nwindow: later\nsteps:\n  a:\n    run: echo\n",
    );
    let fmt = |t: chrono::DateTime<chrono_tz::Tz>| t.format("%Y-%m-%d %H:%M:%S").to_string();
    // The window's next opening, and the same a day later.
    let opening = (0..2)
        .map(|d| {
            let date = (now + chrono::Duration::days(d)).date_naive();
            let t = chrono::NaiveTime::parse_from_str(&opens, "%H:%M").expect("time");
            chrono::TimeZone::from_local_datetime(&tz, &date.and_time(t))
                .single()
                .expect("local")
        })
        .find(|t| *t > now)
        .expect("an opening");
    let next_day = opening + chrono::Duration::days(1);
    // Half an hour before tomorrow's opening: outside the window.
    let early = next_day - chrono::Duration::minutes(30);
    let out = t.run(&["submit", "heavy", "--at", &fmt(early)]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!(
            "not before {} (when window `later` ({opens}–{closes}) opens; {} is outside it)",
            fmt(next_day),
            fmt(early)
        )),
        "{said}"
    );
    let id: i64 = text(&out.stdout).trim().parse().expect("id");
    let not_before: String = one(&t, &format!("SELECT not_before FROM runs WHERE id = {id}"));
    let not_before = chrono::DateTime::parse_from_rfc3339(&not_before).expect("time");
    assert_eq!(not_before, next_day);
    // `run --detach` says when the daemon will start it.
    let out = t.run(&["run", "heavy", "--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!(
            "not before {} (when window `later` ({opens}–{closes}) opens)",
            fmt(opening)
        )),
        "{said}"
    );
}

/// Issue 13 item 17: an urgent request runs outside its job's window only when the operator
/// says so explicitly (`--outside-window --reason`), which is recorded on the run and in the
/// audit and honoured by the daemon's queue poll; without it the run waits for the window.
#[test]
fn an_urgent_submit_starts_outside_the_window_and_is_audited_while_others_wait() {
    let t = Tree::new();
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let opens = (now + chrono::Duration::hours(2)).format("%H:00");
    let closes = (now + chrono::Duration::hours(3)).format("%H:00");
    t.file(
        "schedules/w.yaml",
        &format!("windows:\n  later: {{ from: \"{opens}\", to: \"{closes}\" }}\n"),
    );
    t.job(
        "heavy",
        "adhoc: true\nwindow: later\nsteps:\n  a:\n    run: echo\n",
    );
    // Without a reason the flag is refused by the command line.
    let out = t.run(&["submit", "heavy", "--outside-window"]);
    assert_eq!(out.status.code(), Some(64), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--reason"),
        "{}",
        text(&out.stderr)
    );

    let out = t.run(&["submit", "heavy"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let waits: i64 = text(&out.stdout).trim().parse().expect("id");
    let out = t.run(&[
        "submit",
        "heavy",
        "--outside-window",
        "--reason",
        "ticket 4712: the mayor's office needs it by noon",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let said = text(&out.stderr);
    assert!(
        said.contains("window `later` or not (urgent: ticket 4712"),
        "{said}"
    );
    let urgent: i64 = text(&out.stdout).trim().parse().expect("id");

    let _d = Daemon::start(&t);
    wait_status(&t, urgent, "succeeded");
    // A later run proves the poll passed the waiting one by: it is still queued.
    let out = t.run(&[
        "submit",
        "heavy",
        "--outside-window",
        "--reason",
        "second urgent request",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let second: i64 = text(&out.stdout).trim().parse().expect("id");
    wait_status(&t, second, "succeeded");
    assert_eq!(run_status(&t, waits), "queued");

    let recorded: Option<String> = one(
        &t,
        &format!("SELECT outside_window FROM runs WHERE id = {urgent}"),
    );
    assert_eq!(
        recorded.as_deref(),
        Some("ticket 4712: the mayor's office needs it by noon")
    );
    let shown = text(&t.run(&["show", &urgent.to_string()]).stdout);
    assert!(
        shown.contains("outside window: allowed (ticket 4712"),
        "{shown}"
    );
    let out = t.run(&["audit", "--json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit");
    let entry = audit
        .iter()
        .find(|a| a["action"] == "submit" && a["args"]["outside_window"] == true)
        .unwrap_or_else(|| panic!("an audited urgent submit: {audit:?}"));
    assert_eq!(
        entry["args"]["reason"],
        "ticket 4712: the mayor's office needs it by noon"
    );
    assert_eq!(entry["outcome"], "done");
}

#[test]
fn submit_queues_ad_hoc_runs_for_the_daemon_with_checks_and_audit() {
    let t = Tree::new();
    let now = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    // A window that opens in two hours.
    let from = (now + chrono::Duration::hours(2)).format("%H:00");
    let to = (now + chrono::Duration::hours(3)).format("%H:00");
    t.file(
        "schedules/w.yaml",
        &format!("windows:\n  night:\n    from: \"{from}\"\n    to: \"{to}\"\n"),
    );
    t.job(
        "extract",
        "adhoc: true\nparams:\n  department: { type: enum, values: [tax, welfare], required: true }\nsteps:\n  a:\n    run: echo \"$UNYO_PARAM_DEPARTMENT\" > extract.txt\n",
    );
    t.job("nightly", "steps:\n  a:\n    run: echo\n");
    t.job(
        "guarded",
        "adhoc: true\nallowed_users: [nobody-here]\nsteps:\n  a:\n    run: echo\n",
    );
    // While no daemon runs: queued, with the requester's reason.
    let out = t.run(&[
        "submit",
        "extract",
        "-p",
        "department=tax",
        "--reason",
        "tax office, ticket 4711",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let first: i64 = text(&out.stdout).trim().parse().expect("id");
    assert_eq!(run_status(&t, first), "queued");
    let comment: String = one(&t, &format!("SELECT comment FROM runs WHERE id = {first}"));
    assert_eq!(comment, "tax office, ticket 4711");
    // Deferred to the window's next opening.
    let out = t.run(&[
        "submit",
        "extract",
        "-p",
        "department=welfare",
        "--window",
        "night",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let later: i64 = text(&out.stdout).trim().parse().expect("id");
    let not_before: String = one(
        &t,
        &format!("SELECT not_before FROM runs WHERE id = {later}"),
    );
    assert!(not_before > chrono::Utc::now().to_rfc3339(), "{not_before}");
    // Refusals: not ad hoc, a bad value, a user not allowed.
    let out = t.run(&["submit", "nightly"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("is not for ad-hoc submission"));
    let out = t.run(&["submit", "extract", "-p", "department=finance"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("`finance` is not one of: tax, welfare"));
    let out = t.run(&["submit", "guarded"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(
        text(&out.stderr).contains("may not submit `guarded`: only users nobody-here may"),
        "{}",
        text(&out.stderr)
    );
    // The daemon comes: the first runs; the deferred one waits for its window.
    let d = Daemon::start(&t);
    wait_status(&t, first, "succeeded");
    assert_eq!(
        std::fs::read_to_string(t.path("extract.txt")).expect("out"),
        "tax\n"
    );
    assert_eq!(run_status(&t, later), "queued");
    // --wait follows a run to its end.
    let out = t.run(&["submit", "extract", "-p", "department=welfare", "--wait"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).ends_with("succeeded\n"),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stderr).contains("  a: succeeded"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(d.stop(), Some(0));
    let submits: Vec<String> = query(
        &t,
        "SELECT outcome FROM audit WHERE action = 'submit' ORDER BY id",
    );
    assert_eq!(
        submits,
        ["done", "done", "refused", "refused", "refused", "done"]
    );
    let trigger: String = one(&t, &format!("SELECT trigger FROM runs WHERE id = {first}"));
    assert_eq!(trigger, "submit");
}

/// Regression: the daemon listened for SIGTERM only once its loop began, so a SIGTERM while
/// it started (a service manager stopping it early, or a test right after the "started"
/// line) killed it by the default action, leaving its daemon row unstopped. Now it listens
/// from the start: the signal is taken up as soon as it is up, and it stops cleanly.
#[test]
fn a_sigterm_while_the_daemon_starts_stops_it_cleanly() {
    let t = Tree::new();
    t.job("j", "steps:\n  a:\n    run: \"true\"\n");
    // The database is held by another writer: the daemon cannot open it, so it is still
    // starting for as long as this transaction lasts.
    std::fs::create_dir_all(t.path("var")).expect("var");
    let holder = rusqlite::Connection::open(t.path("var/unyo.db")).expect("db");
    holder
        .pragma_update(None, "journal_mode", "WAL")
        .expect("wal");
    holder
        .execute_batch("BEGIN IMMEDIATE")
        .expect("hold the write lock");
    let log = t.path("daemon.log");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("start daemon");
    // Its pid in the daemon lock: it listens for signals (it does before taking the lock).
    let pid = child.id().to_string();
    wait_for("the daemon lock", || {
        let holder = std::fs::read_to_string(t.path("var/unyo.db.daemon.lock")).ok()?;
        (holder.trim() == pid).then_some(())
    });
    let before = std::fs::read_to_string(&log).unwrap_or_default();
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("signal");
    holder.execute_batch("COMMIT").expect("release");
    drop(holder);
    let status = wait_for("the daemon to exit", || child.try_wait().expect("wait"));
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(status.code(), Some(0), "{status:?}; log:\n{said}");
    assert!(said.contains("unyo daemon stopped"), "{said}");
    // The signal came while it started, the case this test is for.
    assert!(!before.contains("started"), "started already: {before}");
    let stopped: i64 = rusqlite::Connection::open(t.path("var/unyo.db"))
        .expect("db")
        .query_row(
            "SELECT count(*) FROM daemons WHERE stopped_at IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .expect("daemons");
    assert_eq!(stopped, 1);
}

/// Issue 13 item 15: the daemon's log lines were stamped in UTC while every command shows the
/// configured zone. They carry the configured zone's time with its offset (Asia/Kolkata,
/// +05:30, here).
#[test]
fn daemon_log_lines_carry_the_configured_zone_and_its_offset() {
    let t = Tree::new();
    t.file("unyo.yaml", "timezone: Asia/Kolkata\n");
    let before = chrono::Utc::now();
    let d = Daemon::start(&t);
    let log = wait_for("the start line", || {
        let log = d.log();
        log.contains("unyo daemon started:").then_some(log)
    });
    let after = chrono::Utc::now();
    let line = log
        .lines()
        .find(|l| l.contains("unyo daemon started:"))
        .expect("the start line");
    let stamp = line.split_whitespace().next().expect("a time stamp");
    let at = chrono::DateTime::parse_from_rfc3339(stamp)
        .unwrap_or_else(|e| panic!("`{stamp}` is not RFC 3339 ({e}): {line}"));
    assert_eq!(at.offset().local_minus_utc(), 5 * 3600 + 1800, "{line}");
    assert!(stamp.ends_with("+05:30"), "{line}");
    let second = chrono::Duration::seconds(1);
    assert!(
        before - second <= at && at <= after + second,
        "{stamp} is the instant of the start: {line}"
    );
}

/// Regression: a slot missed while the daemon was down alerted nobody. The missed slots open
/// an incident with the schedule's severity, through the routes; many missed slots of one
/// schedule are one incident (its occurrences count them) and one message, not one each.
#[test]
fn slots_missed_while_the_daemon_was_down_open_one_incident_through_the_routes() {
    let t = Tree::new();
    let dir = t.root().display().to_string();
    t.file(
        "unyo.yaml",
        &format!(
            "notify:\n  channels:\n    desk:\n      command: {{ argv: [sh, -c, \"mkdir -p {dir}/got; cat > {dir}/got/$$.json\"] }}\n  desk:\n    - notify: [desk]\n"
        ),
    );
    t.job("check", "steps:\n  a:\n    run: echo ok\n");
    t.file(
        "schedules/s.yaml",
        "schedules:\n  - job: check\n    cron: \"*/10 * * * *\"\n    missed: { severity: high }\n",
    );
    let d = Daemon::start(&t);
    assert_eq!(d.stop(), Some(0));
    // The daemon was down for five and a half hours (misfire: skip, the default).
    rewind_watermarks(&t, chrono::Duration::minutes(330));
    let d = Daemon::start(&t);
    wait_for("the incident's message to be sent", || {
        (one::<i64>(
            &t,
            "SELECT count(*) FROM notifications WHERE status = 'sent'",
        ) == 1)
            .then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    let missed: i64 = one(&t, "SELECT count(*) FROM slots WHERE outcome = 'missed'");
    assert!(missed >= 30, "{missed} slots missed");
    let incidents: Vec<(String, String, String, i64, Option<i64>)> = {
        let c = db(&t);
        let mut s = c
            .prepare("SELECT job, failure_class, severity, occurrences, run_id FROM incidents")
            .expect("prepare");
        s.query_map([], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
    };
    assert_eq!(
        incidents,
        [("check".into(), "missed".into(), "high".into(), missed, None)]
    );
    let summary: String = one(&t, "SELECT summary FROM incidents");
    assert!(
        summary.starts_with(&format!(
            "{missed} slots of schedule `check` were missed, due "
        )),
        "{summary}"
    );
    // One message in the outbox, delivered: the incident's first notice.
    let events: Vec<String> = query(&t, "SELECT event FROM notifications");
    assert_eq!(events, ["opened"]);
    let got: Vec<_> = std::fs::read_dir(t.path("got"))
        .expect("delivered")
        .flatten()
        .collect();
    assert_eq!(got.len(), 1);
    let note: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(got[0].path()).expect("read")).expect("json");
    assert_eq!(note["failure_class"], "missed");
    assert_eq!(note["severity"], "high");
    assert_eq!(note["occurrences"], missed);
    // Down again across more slots (the last hour's slots made undecided again): the same
    // incident counts them, with one more message.
    let past = chrono::Utc::now() - chrono::Duration::minutes(65);
    let past = past.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let c = db(&t);
    let forgotten: i64 = c
        .query_row(
            "SELECT count(*) FROM slots WHERE fire_time > ? AND outcome = 'missed'",
            [&past],
            |r| r.get(0),
        )
        .expect("count");
    c.execute("DELETE FROM slots WHERE fire_time > ?", [&past])
        .expect("forget");
    c.execute("UPDATE watermarks SET through = ?", [&past])
        .expect("rewind");
    drop(c);
    let missed = missed - forgotten;
    let d = Daemon::start(&t);
    wait_for("the occurrence's message", || {
        (one::<i64>(
            &t,
            "SELECT count(*) FROM notifications WHERE status = 'sent'",
        ) == 2)
            .then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    let again: i64 = one(&t, "SELECT count(*) FROM slots WHERE outcome = 'missed'");
    assert!(again - missed >= 5, "{again} missed now, {missed} before");
    assert_eq!(one::<i64>(&t, "SELECT count(*) FROM incidents"), 1);
    // Every missed slot counted once: the first outage's and the second's.
    assert_eq!(
        one::<i64>(&t, "SELECT occurrences FROM incidents"),
        again + forgotten
    );
    let events: Vec<String> = query(&t, "SELECT event FROM notifications ORDER BY id");
    assert_eq!(events, ["opened", "recurred"]);
}

/// Regression: the task of every run stayed in the daemon until shutdown, so memory grew
/// with every run. The daemon logs, at each run's end, how many run tasks it still holds:
/// under a steady load of four runs a second that number stays at the runs in flight
/// instead of growing with every run ended.
#[test]
fn memory_grows_with_every_run_the_daemon_keeps_no_finished_run_task() {
    let t = Tree::new();
    t.job("tick", "steps:\n  a:\n    run: echo tick\n");
    let mut schedules = String::from("schedules:\n");
    for i in 0..4 {
        schedules.push_str(&format!(
            "  - job: tick\n    name: tick-{i}\n    cron: \"* * * * * *\"\n    overlap: allow\n"
        ));
    }
    t.file("schedules/tick.yaml", &schedules);
    let d = Daemon::start(&t);
    let held = |log: &str| -> Vec<usize> {
        log.lines()
            .filter(|l| l.contains("run ended"))
            .filter_map(|l| {
                let (_, rest) = l.split_once(" tasks=")?;
                rest.split_whitespace().next()?.parse().ok()
            })
            .collect()
    };
    let counts = wait_for("24 runs to end", || {
        let counts = held(&d.log());
        (counts.len() >= 24).then_some(counts)
    });
    assert_eq!(d.stop(), Some(0));
    let last = &counts[counts.len() - 8..];
    assert!(
        last.iter().all(|n| *n < 12),
        "run tasks held at each run's end: {counts:?}"
    );
}

/// Regression: a grandchild started with `setsid` (with `env -i` on top, which drops
/// `UNYO_RUN_ID`) outlived its step when the daemon drove the run and the step exited.
#[test]
fn setsid_and_env_i_grandchildren_outlived_their_step_under_the_daemon() {
    use crate::escaped::{assert_none_left, escaping_step};
    let t = Tree::new();
    t.job(
        "esc",
        &format!(
            "steps:\n  a:\n    run: |\n{}",
            escaping_step(9147, "echo started")
        ),
    );
    let d = Daemon::start(&t);
    let run = detach(&t, "esc");
    wait_status(&t, run, "succeeded");
    assert_none_left(9147, "after the step ended under the daemon");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn a_daemon_sigterm_leaves_no_process_that_left_a_steps_group() {
    use crate::escaped::{assert_none_left, escaping_step, marks, survivors};
    let t = Tree::new();
    t.file("unyo.yaml", "shutdown_grace: 1s\nkill_grace: 1s\n");
    t.job(
        "esc",
        &format!(
            "steps:\n  a:\n    run: |\n{}",
            escaping_step(9146, "sleep 1000")
        ),
    );
    let d = Daemon::start(&t);
    let run = detach(&t, "esc");
    let numbers = marks(9146);
    wait_for("the escaped processes to start", || {
        let sleeps = survivors(&numbers)
            .iter()
            .filter(|(_, argv)| argv.starts_with("sleep "))
            .count();
        (sleeps >= 3).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
    assert_eq!(run_status(&t, run), "interrupted");
    assert_none_left(9146, "after the daemon's SIGTERM");
}

/// The daemon runs with two malloc arenas and a fixed mmap threshold (it restarts itself
/// with `MALLOC_ARENA_MAX` and `MALLOC_MMAP_THRESHOLD_` set, same pid); its steps never see
/// what it set for itself. Set by the operator, the value is kept, and steps inherit it as
/// any other variable.
#[test]
fn the_daemon_runs_with_two_malloc_arenas_and_its_steps_do_not_see_them() {
    let t = Tree::new();
    let out = t.path("env.txt").display().to_string();
    t.job("env", &format!("steps:\n  a:\n    run: env > {out}\n"));
    let environ = |d: &Daemon| {
        std::fs::read(format!("/proc/{}/environ", d.pid()))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', "\n"))
            .unwrap_or_default()
    };
    let d = Daemon::start(&t);
    for set in ["MALLOC_ARENA_MAX=2", "MALLOC_MMAP_THRESHOLD_=131072"] {
        assert!(
            environ(&d).lines().any(|l| l == set),
            "{set}: {}",
            environ(&d)
        );
    }
    let id = detach(&t, "env");
    wait_status(&t, id, "succeeded");
    let seen = std::fs::read_to_string(&out).expect("the step's env");
    assert!(!seen.contains("MALLOC_ARENA_MAX"), "{seen}");
    assert!(!seen.contains("MALLOC_MMAP_THRESHOLD_"), "{seen}");
    assert!(!seen.contains("UNYO_MALLOC"), "{seen}");
    assert_eq!(d.stop(), Some(0));

    let d = Daemon::start_with(&t, |c| {
        c.env("MALLOC_ARENA_MAX", "4");
    });
    assert!(environ(&d).lines().any(|l| l == "MALLOC_ARENA_MAX=4"));
    let id = detach(&t, "env");
    wait_status(&t, id, "succeeded");
    let seen = std::fs::read_to_string(&out).expect("the step's env");
    assert!(seen.lines().any(|l| l == "MALLOC_ARENA_MAX=4"), "{seen}");
    assert_eq!(d.stop(), Some(0));
}

/// A step for nodes labelled `tape` on a one-server installation (SQLite, no such node):
/// its run starts, the step waits visibly (`unyo show` says for what), an incident is
/// opened past the job's `node_wait`, a foreground run is refused at once, and a cancel
/// ends the waiting step as cancelled, taken by nobody.
#[test]
fn a_step_for_a_node_nobody_has_waits_visibly_and_opens_an_incident() {
    let t = Tree::new();
    t.job(
        "archive",
        "node_wait: 2s\nsteps:\n  list:\n    run: echo listed\n  \
         tape:\n    runs_on: [tape]\n    needs: [list]\n    run: echo written\n",
    );
    let refused = t.run(&["run", "archive"]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("step `tape` of job `archive` runs on nodes labelled tape"),
        "{}",
        text(&refused.stderr)
    );
    let d = Daemon::start(&t);
    let run = detach(&t, "archive");
    wait_for("the step's incident", || {
        (one::<i64>(
            &t,
            &format!(
                "SELECT count(*) FROM incidents WHERE run_id = {run} \
                 AND failure_class = 'no node' AND step = 'tape'"
            ),
        ) == 1)
            .then_some(())
    });
    let summary: String = one(
        &t,
        &format!("SELECT summary FROM incidents WHERE run_id = {run}"),
    );
    assert!(
        summary.contains("step `tape`")
            && summary
                .contains("waited 2.0s (node_wait) for a live node labelled tape; none is alive"),
        "{summary}"
    );
    let shown = text(&t.run(&["show", &run.to_string()]).stdout);
    assert!(
        shown.contains("tape: waiting for a node labelled tape") && shown.contains("NODE"),
        "{shown}"
    );
    let status = text(&t.run(&["status"]).stdout);
    assert!(
        status.contains("tape: waiting for a node labelled tape"),
        "{status}"
    );
    assert_eq!(run_status(&t, run), "running");
    assert_eq!(step_status(&t, run, "list"), "succeeded");
    let out = t.run(&["cancel", &run.to_string()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    wait_status(&t, run, "cancelled");
    assert_eq!(step_status(&t, run, "tape"), "cancelled");
    let shown = text(&t.run(&["show", &run.to_string()]).stdout);
    assert!(shown.contains("(no node labelled tape took it)"), "{shown}");
    assert_eq!(d.stop(), Some(0));
}
