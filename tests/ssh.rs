//! Steps on a host through ssh, against a real `sshd` on loopback started by the test (key
//! authentication only): output in the step's log, exit codes 0–255 told apart from ssh's own
//! failures, no remote process left after a timeout or a cancel, a changed host key refused
//! with an incident, hostile parameter values arriving byte for byte, and the shared
//! connection.

use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::helper::sshd::{Sshd, processes_running, stray_key};
use crate::helper::{Tree, attempts, both, step, text, wait_for};

fn incidents(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["incidents", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

/// The id of the only run recorded.
fn only_run(t: &Tree) -> i64 {
    let out = t.run(&["runs", "--json"]);
    let runs: serde_json::Value = serde_json::from_slice(&out.stdout).expect("runs json");
    runs[0]["id"].as_i64().expect("a run")
}

#[test]
fn a_remote_step_runs_there_and_its_output_is_logged() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "remote",
        "host: box\nsteps:\n  hello:\n    run: |\n      echo \"out on $(id -un) in $PWD\"\n      echo to-stderr >&2\n      echo \"step $UNYO_STEP of $UNYO_JOB\"\n",
    );
    let out = t.run(&["run", "remote"]);
    assert!(out.status.success(), "{}", both(&out));
    let run = t.show(only_run(&t));
    let a = attempts(&run, "hello")[0];
    assert_eq!(a["exit_code"], 0, "{a:#}");
    assert_eq!(
        a["stdout_tail"],
        "out on root in /root\nstep hello of remote\n",
        "{a:#}"
    );
    assert_eq!(a["stderr_tail"], "to-stderr\n");
    let logs = t.run(&["logs", &only_run(&t).to_string()]);
    let logs = text(&logs.stdout);
    assert!(logs.contains("out on root"), "{logs}");
    assert!(logs.contains("to-stderr"), "{logs}");
    // unyo's ssh files are private.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(t.path("var/ssh"))
        .expect("ssh dir")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
}

#[test]
fn exit_codes_come_through_and_a_remote_255_is_the_command_s_own() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "codes",
        "host: box\nsteps:\n  zero: { run: exit 0 }\n  one: { run: exit 1 }\n  high: { argv: [sh, -c, 'exit 254'] }\n  own255: { run: 'echo last words >&2; exit 255' }\n",
    );
    let out = t.run(&["run", "codes"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(only_run(&t));
    for (name, code) in [("zero", 0), ("one", 1), ("high", 254), ("own255", 255)] {
        let a = attempts(&run, name)[0];
        assert_eq!(a["exit_code"], code, "{name}: {a:#}");
        assert!(a["error"].is_null(), "{name}: {a:#}");
    }
    let a = attempts(&run, "own255")[0];
    assert_eq!(a["status"], "failed");
    assert_eq!(a["stderr_tail"], "last words\n", "the marker is not in the tail");
    // The run's incident is the job's own failure, not a connection failure.
    let i = incidents(&t);
    assert_eq!(i.len(), 1, "{i:#?}");
    assert_ne!(i[0]["failure_class"], "connection failed");
}
