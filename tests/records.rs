//! Looking back: `unyo runs`, `unyo show`, `unyo logs`, with no daemon, and where records go.

use crate::helper::{Tree, both, step, text};

fn tree() -> Tree {
    let t = Tree::new();
    t.job(
        "mixed",
        "steps:\n  hello:\n    run: echo hello out; echo hello err >&2\n  quiet:\n    argv: [\"true\"]\n  broken:\n    needs: [hello]\n    run: echo about to fail >&2; exit 7\n",
    )
    .job("fine", "steps:\n  only:\n    argv: [echo, fine]\n");
    t
}

#[test]
fn records_go_to_var_by_default() {
    let t = tree();
    let out = t.run(&["run", "fine"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(t.path("var/unyo.db").is_file());
    assert_eq!(
        std::fs::read_to_string(t.path("var/log/fine/1.only.1.log")).expect("log"),
        "fine\n"
    );
}

#[test]
fn settings_move_database_and_logs() {
    let t = tree();
    t.file(
        "unyo.yaml",
        "database: sqlite:state/ops.db\nlog_dir: logs\n",
    );
    let out = t.run(&["run", "fine"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(t.path("state/ops.db").is_file());
    assert!(!t.path("var/unyo.db").exists());
    assert!(t.path("logs/fine/1.only.1.log").is_file());
    let run = t.show(1);
    assert_eq!(run["status"], "succeeded");
}

#[test]
fn runs_lists_newest_first_with_filters() {
    let t = tree();
    assert_eq!(t.run(&["run", "mixed"]).status.code(), Some(1));
    assert_eq!(t.run(&["run", "fine"]).status.code(), Some(0));
    assert_eq!(t.run(&["run", "fine"]).status.code(), Some(0));

    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    let table = text(&out.stdout);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 4, "{table}");
    assert!(lines[0].starts_with("RUN  JOB"), "{table}");
    assert!(
        lines[1].starts_with("3    fine   succeeded  manual"),
        "{table}"
    );
    assert!(lines[3].starts_with("1    mixed  failed"), "{table}");
    assert!(lines.iter().all(|l| l.chars().count() <= 80), "{table}");

    let json = |args: &[&str]| -> Vec<i64> {
        let out = t.run(args);
        assert!(out.status.success(), "{}", both(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(json(&["runs", "--json"]), vec![3, 2, 1]);
    assert_eq!(json(&["runs", "--json", "--job", "mixed"]), vec![1]);
    assert_eq!(
        json(&["runs", "--json", "--status", "succeeded"]),
        vec![3, 2]
    );
    assert_eq!(json(&["runs", "--json", "--limit", "1"]), vec![3]);
    let out = t.run(&["runs", "--status", "done"]);
    assert_eq!(out.status.code(), Some(64), "{}", both(&out));
    assert!(text(&out.stderr).contains("expected one of: queued, running"));
}

#[test]
fn runs_on_an_empty_database() {
    let t = tree();
    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "no runs recorded\n");
}

#[test]
fn show_gives_steps_attempts_and_tails() {
    let t = tree();
    assert_eq!(t.run(&["run", "mixed"]).status.code(), Some(1));
    let run = t.show(1);
    assert_eq!(run["job"], "mixed");
    assert_eq!(run["trigger"], "manual");
    assert_eq!(run["status"], "failed");
    assert_eq!(step(&run, "hello")["status"], "succeeded");
    assert_eq!(step(&run, "broken")["status"], "failed");
    assert_eq!(step(&run, "broken")["reason"], "exit 7");
    let broken = run["attempts"]
        .as_array()
        .expect("attempts")
        .iter()
        .find(|a| a["step"] == "broken")
        .expect("attempt");
    assert_eq!(broken["exit_code"], 7);
    assert_eq!(broken["stderr_tail"], "about to fail\n");
    assert!(broken["pid"].as_i64().is_some_and(|p| p > 0));

    let out = t.run(&["show", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    let s = text(&out.stdout);
    assert!(s.starts_with("run 1  job `mixed`  failed\n"), "{s}");
    assert!(s.contains("broken  failed"), "{s}");
    assert!(
        s.contains("    about to fail"),
        "stderr tail of the failed step shown: {s}"
    );
    assert!(s.contains("(no output)"), "quiet step has no log: {s}");

    let out = t.run(&["show", "99"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("no run 99 is recorded"));
}

#[test]
fn logs_prints_step_output() {
    let t = tree();
    assert_eq!(t.run(&["run", "mixed"]).status.code(), Some(1));
    let out = t.run(&["logs", "1", "--step", "hello"]);
    assert!(out.status.success(), "{}", both(&out));
    let log = text(&out.stdout);
    assert!(
        log.contains("hello out\n") && log.contains("hello err\n"),
        "{log}"
    );

    let out = t.run(&["logs", "1"]);
    let all = text(&out.stdout);
    assert!(all.contains("==> hello (attempt 1) <=="), "{all}");
    assert!(
        all.contains("==> quiet (attempt 1) <==\n(no output)"),
        "{all}"
    );
    assert!(
        all.contains("==> broken (attempt 1) <==\nabout to fail"),
        "{all}"
    );

    let out = t.run(&["logs", "1", "--step", "hello", "--attempt", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    let out = t.run(&["logs", "1", "--step", "hello", "--attempt", "2"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("has no attempt 2"));
    let out = t.run(&["logs", "1", "--step", "helo"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("run 1 has no step `helo` (did you mean `hello`?)"));

    // The file is gone: the database still has the tail.
    std::fs::remove_file(t.path("var/log/mixed/1.broken.1.log")).expect("rm");
    let out = t.run(&["logs", "1", "--step", "broken"]);
    assert!(out.status.success(), "{}", both(&out));
    let s = text(&out.stdout);
    assert!(
        s.contains("cannot read") && s.contains("about to fail"),
        "{s}"
    );
}

#[test]
fn broken_pipe_exits_quietly() {
    let t = tree();
    for _ in 0..3 {
        t.run(&["run", "fine"]);
    }
    let bin = assert_cmd::cargo::cargo_bin("unyo");
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "'{}' --root '{}' logs 1 | head -c 1 >/dev/null; '{}' --root '{}' runs | head -n 1",
            bin.display(),
            t.root().display(),
            bin.display(),
            t.root().display()
        ))
        .output()
        .expect("sh");
    assert!(out.status.success(), "{}", both(&out));
    assert!(!text(&out.stderr).contains("panicked"), "{}", both(&out));
}
