//! The operator's commands with the real binary: cancel (queued, in the daemon, in a
//! foreground `unyo run`), refusals, and their audit trail.

use std::process::Stdio;
use std::time::Duration;

use crate::helper::{Tree, both, live_group_members, text, wait_for};

fn pid_of(t: &Tree, run: i64) -> Option<i64> {
    let run = t.show(run);
    run["attempts"][0]["pid"].as_i64()
}

fn audit(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["audit", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

#[test]
fn cancel_a_queued_run_and_refuse_what_cannot_be_cancelled() {
    let t = Tree::new();
    t.job(
        "extract",
        "steps:\n  a:\n    run: echo x\n  b:\n    needs: [a]\n    run: echo y\n",
    );
    let out = t.run(&["run", "extract", "--detach"]);
    assert!(out.status.success(), "{}", both(&out));
    let out = t.run(&["cancel", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "run 1 cancelled (it had not started)\n");
    let run = t.show(1);
    assert_eq!(run["status"], "cancelled");
    assert!(
        run["reason"]
            .as_str()
            .is_some_and(|r| r.starts_with("cancelled by "))
    );
    assert!(
        run["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .all(|s| s["status"] == "cancelled")
    );
    let again = t.run(&["cancel", "1"]);
    assert_eq!(again.status.code(), Some(3));
    assert!(text(&again.stderr).contains("run 1 has ended already (cancelled)"));
    assert_eq!(t.run(&["cancel", "99"]).status.code(), Some(3));
    let trail = audit(&t);
    let cancels: Vec<&str> = trail
        .iter()
        .filter(|e| e["action"] == "cancel")
        .map(|e| e["outcome"].as_str().expect("outcome"))
        .collect();
    assert_eq!(cancels, ["done", "refused", "refused"]);
}

#[test]
fn cancel_stops_a_foreground_run_and_leaves_no_process() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\n");
    t.job(
        "long",
        "steps:\n  a:\n    run: sleep 300 & sleep 300\n  b:\n    needs: [a]\n    run: echo never\n",
    );
    let mut fg = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["run", "long"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    let pid = wait_for("the step's pid", || {
        std::fs::metadata(t.path("var/unyo.db")).ok()?;
        pid_of(&t, 1)
    });
    let out = t.run(&["cancel", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "run 1 cancelled\n");
    let status = fg.wait().expect("wait");
    assert_eq!(status.code(), Some(1), "the foreground run ends cancelled");
    assert!(
        live_group_members(pid).is_empty(),
        "no process of the step is left"
    );
    let run = t.show(1);
    assert_eq!(run["status"], "cancelled");
    assert_eq!(run["steps"][1]["status"], "cancelled");
    let _ = Duration::ZERO;
}

#[test]
fn completions_and_the_manual_page_come_from_the_command_line() {
    let t = Tree::new();
    // A broken unyo.yaml does not matter to them.
    t.file("unyo.yaml", "timezone: Nowhere/Else\n");
    for (shell, marker) in [
        ("bash", "_unyo()"),
        ("zsh", "#compdef unyo"),
        ("fish", "complete -c unyo"),
    ] {
        let out = t.run(&["completions", shell]);
        assert!(out.status.success(), "{}", both(&out));
        let script = text(&out.stdout);
        assert!(script.contains(marker), "{shell}: {script}");
        assert!(
            script.contains("incidents") && script.contains("daemon"),
            "{shell}"
        );
    }
    let out = t.run(&["man"]);
    assert!(out.status.success(), "{}", both(&out));
    let page = text(&out.stdout);
    assert!(page.contains(".TH unyo 1"), "{page}");
    assert!(page.contains("daemon") && page.contains("cancel"), "{page}");
    assert_eq!(t.run(&["completions", "tcsh"]).status.code(), Some(64));
}
