//! Steps on a host through ssh, against a real `sshd` on loopback started by the test (key
//! authentication only): output in the step's log, exit codes 0–255 told apart from ssh's own
//! failures, no remote process left after a timeout or a cancel, a changed host key refused
//! with an incident, hostile parameter values arriving byte for byte, and the shared
//! connection.

use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::helper::sshd::{Sshd, processes_running, stray_key};
use crate::helper::{Tree, attempts, both, refused_definitions, step, text, wait_for};

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
        a["stdout_tail"], "out on root in /root\nstep hello of remote\n",
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
    assert_eq!(
        a["stderr_tail"], "last words\n",
        "the marker is not in the tail"
    );
    // The run's incident is the job's own failure, not a connection failure.
    let i = incidents(&t);
    assert_eq!(i.len(), 1, "{i:#?}");
    assert_ne!(i[0]["failure_class"], "connection failed");
}

#[test]
fn a_timeout_leaves_no_remote_process() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    // A remote group with a member that ignores TERM: the wrapper's KILL after the grace.
    t.job(
        "slow",
        "host: box\nsteps:\n  wait:\n    run: \"(trap '' TERM; sleep 4311) & sleep 4312\"\n    timeout: 2s\n",
    );
    let out = t.run(&["run", "slow"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(only_run(&t));
    assert_eq!(attempts(&run, "wait")[0]["status"], "timed_out");
    wait_for("the remote processes to end", || {
        (processes_running(&["sleep", "4311"]).is_empty()
            && processes_running(&["sleep", "4312"]).is_empty())
        .then_some(())
    });
}

#[test]
fn a_cancel_leaves_no_remote_process() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "long",
        "host: box\nsteps:\n  wait:\n    run: \"sleep 4321 & sleep 4322\"\n",
    );
    let mut child = t
        .unyo()
        .get_program()
        .to_owned()
        .pipe(std::process::Command::new);
    let child = child
        .env("NO_COLOR", "1")
        .arg("--root")
        .arg(t.root())
        .args(["run", "long"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unyo run");
    wait_for("the remote command to start", || {
        (!processes_running(&["sleep", "4322"]).is_empty()).then_some(())
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("cancel");
    let out = child.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(only_run(&t));
    assert_eq!(run["status"], "cancelled", "{run:#}");
    wait_for("the remote processes to end", || {
        (processes_running(&["sleep", "4321"]).is_empty()
            && processes_running(&["sleep", "4322"]).is_empty())
        .then_some(())
    });
}

trait Pipe: Sized {
    fn pipe<T>(self, f: impl FnOnce(Self) -> T) -> T {
        f(self)
    }
}
impl<T> Pipe for T {}

const RETRY_CONNECTIONS: &str = "rules:\n  - match: { exit_codes: [255] }\n    escalate: { severity: low }\n  - match: { connection_failed: true }\n    retry: { max: 1, initial: 10ms }\n";

#[test]
fn ssh_s_own_failures_are_connection_failures_that_runbooks_can_retry() {
    let sshd = Sshd::start();
    let t = Tree::new();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("port")
        .port();
    let stray = stray_key(t.root());
    sshd.settings(
        &t,
        &format!(
            "  down:\n    address: 127.0.0.1\n    port: {closed}\n    user: root\n    host_key: \"{}\"\n  stranger:\n    address: 127.0.0.1\n    port: {}\n    user: root\n    identity: {}\n    host_key: \"{}\"\n",
            sshd.host_key(),
            sshd.port,
            stray.display(),
            sshd.host_key()
        ),
    );
    t.file("runbooks/reach.yaml", RETRY_CONNECTIONS);
    for (job, host) in [("refused", "down"), ("denied", "stranger")] {
        t.job(
            job,
            &format!("host: {host}\nrunbook: reach\nsteps:\n  a: {{ run: 'true' }}\n"),
        );
    }
    for (job, what) in [
        ("refused", "cannot connect"),
        ("denied", "authentication failed"),
    ] {
        let out = t.run(&["run", job]);
        assert_eq!(out.status.code(), Some(1), "{}", both(&out));
        let runs: serde_json::Value =
            serde_json::from_slice(&t.run(&["runs", "--json"]).stdout).expect("json");
        let id = runs
            .as_array()
            .expect("runs")
            .iter()
            .find(|r| r["job"] == job)
            .expect("run")["id"]
            .as_i64()
            .expect("id");
        let run = t.show(id);
        let tries = attempts(&run, "a");
        // `exit_codes: [255]` did not match; `connection_failed` did, and retried once.
        assert_eq!(tries.len(), 2, "{run:#}");
        for a in tries {
            assert_eq!(a["status"], "error", "{a:#}");
            assert!(a["exit_code"].is_null(), "{a:#}");
            let error = a["error"].as_str().expect("error");
            assert!(
                error.starts_with("connection to host `")
                    && error.contains(&format!("failed: {what}")),
                "{job}: {error}"
            );
        }
    }
    let i = incidents(&t);
    assert_eq!(i.len(), 2, "{i:#?}");
    assert!(
        i.iter().all(|i| i["failure_class"] == "connection failed"),
        "{i:#?}"
    );
}

#[test]
fn a_changed_host_key_is_refused_with_an_incident() {
    let sshd = Sshd::start();
    let t = Tree::new();
    let other = stray_key(t.root());
    t.file(
        "unyo.yaml",
        &sshd
            .host_entry("box")
            .replace(&sshd.host_key(), &crate::helper::sshd::public_key(&other))
            .pipe(|h| format!("hosts:\n{h}")),
    );
    // Even a rule that retries anything does not retry it.
    t.file(
        "runbooks/any.yaml",
        "rules:\n  - match: any\n    retry: { max: 3, initial: 10ms }\n",
    );
    t.job(
        "pinned",
        "host: box\nrunbook: any\nsteps:\n  a: { run: 'touch /tmp/unyo-must-not-exist' }\n",
    );
    let out = t.run(&["run", "pinned"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(only_run(&t));
    let tries = attempts(&run, "a");
    assert_eq!(tries.len(), 1, "{run:#}");
    let error = tries[0]["error"].as_str().expect("error");
    assert!(error.starts_with("host key of `box` changed"), "{error}");
    assert!(!std::path::Path::new("/tmp/unyo-must-not-exist").exists());
    assert_eq!(step(&run, "a")["status"], "failed");
    let i = incidents(&t);
    assert_eq!(i.len(), 1, "{i:#?}");
    assert_eq!(i[0]["failure_class"], "host key changed");
    assert_eq!(i[0]["severity"], "high");
    // The known-hosts file still holds the pinned key only: nothing was accepted.
    let known = std::fs::read_to_string(t.path("var/ssh/known_hosts.box")).expect("known");
    assert!(!known.contains(&sshd.host_key()), "{known}");
}

#[test]
fn hostile_parameter_values_arrive_on_the_host_byte_for_byte() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    let out_dir = t.path("out");
    std::fs::create_dir_all(&out_dir).expect("mkdir");
    let d = out_dir.display();
    t.job(
        "echo",
        &format!(
            "host: box\nparams:\n  text: {{ type: string }}\nsteps:\n  argv:\n    argv: [sh, -c, 'printf %s \"$1\" > {d}/argv.txt', x, '{{{{params.text}}}}']\n  line:\n    run: |\n      printf '%s' {{{{params.text}}}} > {d}/line.txt\n      printf '%s' \"$UNYO_PARAM_TEXT\" > {d}/env.txt\n"
        ),
    );
    for &hostile in crate::helper::HOSTILE {
        let out = t.run(&["run", "echo", "-p", &format!("text={hostile}")]);
        assert!(out.status.success(), "{hostile:?}: {}", both(&out));
        for file in ["argv.txt", "line.txt", "env.txt"] {
            assert_eq!(
                std::fs::read_to_string(out_dir.join(file)).expect(file),
                hostile,
                "{file}: the value reaches the host as it was given"
            );
        }
        assert!(
            !std::path::Path::new("/root/pwned").exists(),
            "{hostile:?} executed"
        );
        assert!(!t.path("pwned").exists(), "{hostile:?} executed");
    }
}

#[test]
fn the_second_step_shares_the_first_step_s_connection() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "two",
        "host: box\nsteps:\n  first: { argv: [/bin/true] }\n  second: { argv: [/bin/true], needs: [first] }\n  third: { argv: [/bin/true], needs: [second] }\n",
    );
    let out = t.run(&["run", "two"]);
    assert!(out.status.success(), "{}", both(&out));
    // One login for three steps: the steps after the first used the shared connection.
    wait_for("sshd to log the login", || {
        (sshd.logins() > 0).then_some(())
    });
    assert_eq!(sshd.logins(), 1, "{}", sshd.log());
    let run = t.show(only_run(&t));
    for name in ["first", "second", "third"] {
        let a = attempts(&run, name)[0];
        let ms = |k: &str| {
            chrono::DateTime::parse_from_rfc3339(a[k].as_str().expect(k))
                .expect("time")
                .timestamp_micros()
        };
        eprintln!(
            "{name}: {:.1} ms from recorded start to end",
            (ms("ended_at") - ms("started_at")) as f64 / 1000.0
        );
    }
}

#[test]
fn hosts_check_reports_each_host_in_the_operator_s_words() {
    let sshd = Sshd::start();
    let t = Tree::new();
    let other = stray_key(t.root());
    let changed = sshd
        .host_entry("moved")
        .replace(&sshd.host_key(), &crate::helper::sshd::public_key(&other));
    sshd.settings(&t, &changed);
    let out = t.run(&["hosts", "check", "box"]);
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("box"), "{stdout}");
    assert!(
        stdout.contains(&format!("root@127.0.0.1:{}", sshd.port)),
        "{stdout}"
    );
    assert!(stdout.contains("ok ("), "{stdout}");

    let out = t.run(&["hosts", "check"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("failed: host key of `moved` changed or is not the pinned one; refused"),
        "{stdout}"
    );
    assert!(
        text(&out.stderr).contains("1 of 2 hosts did not answer"),
        "{}",
        both(&out)
    );

    let out = t.run(&["hosts", "check", "bx"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("unknown host `bx` (did you mean `box`?)"),
        "{}",
        both(&out)
    );
}

#[test]
fn hosts_are_checked_without_connecting() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "hosts:\n  Tax:\n    address: 10.0.0.5\n    user: unyo\n    host_key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\"\n  db:\n    address: -oProxyCommand=x\n    port: 70000\n    user: unyo\n    host_key: \"AAAAC3NzaC1lZDI1NTE5AAAAIA\"\n    colour: blue\n",
    );
    let err = refused_definitions(&t);
    assert!(err.contains("unknown key `colour`"), "{err}");
    t.file(
        "unyo.yaml",
        "hosts:\n  Tax:\n    address: 10.0.0.5\n    user: unyo\n    host_key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\"\n  db:\n    address: -oProxyCommand=x\n    port: 70000\n    user: unyo\n    host_key: \"AAAAC3NzaC1lZDI1NTE5AAAAIA\"\n",
    );
    let err = refused_definitions(&t);
    for want in [
        "bad host name `Tax` (lowercase letters",
        "host `db`: `address` `-oProxyCommand=x` is not a host name or address",
        "host `db`: `port` must be 1-65535, not 70000",
        "host `db`: `host_key` must be `TYPE KEY`",
    ] {
        assert!(err.contains(want), "{want}: {err}");
    }
}

#[test]
fn the_daemon_runs_remote_steps_over_one_shared_connection() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "nightly",
        "host: box\nsteps:\n  a: { run: 'echo a' }\n  b: { run: 'echo b', needs: [a] }\n",
    );
    let daemon = crate::helper::Daemon::start(&t);
    for n in 1..=2 {
        let out = t.run(&["run", "nightly", "--detach"]);
        assert!(out.status.success(), "{}", both(&out));
        let id: i64 = text(&out.stdout).trim().parse().expect("run id");
        wait_for("the queued run to end", || {
            let status: String =
                crate::helper::one(&t, &format!("SELECT status FROM runs WHERE id = {id}"));
            (status != "queued" && status != "running").then_some(status)
        })
        .pipe(|status| assert_eq!(status, "succeeded", "run {n}: {}", daemon.log()));
        let run = t.show(id);
        assert_eq!(attempts(&run, "b")[0]["stdout_tail"], "b\n");
    }
    // Four steps in two runs, one login: the daemon's sweeps leave its connection alone.
    assert_eq!(sshd.logins(), 1, "{}", sshd.log());
    assert_eq!(daemon.stop(), Some(0));
}

/// Live processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<i64> {
    let mut pids = Vec::new();
    for e in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && String::from_utf8_lossy(&cmdline).contains(needle) {
            pids.push(pid);
        }
    }
    pids
}

#[test]
fn a_killed_unyo_leaves_nothing_running_here_or_there() {
    let sshd = Sshd::start();
    let t = Tree::new();
    sshd.settings(&t, "");
    t.job(
        "long",
        "host: box\nsteps:\n  wait:\n    run: \"sleep 4331 & sleep 4332\"\n",
    );
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env("NO_COLOR", "1")
        .arg("--root")
        .arg(t.root())
        .args(["run", "long"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("unyo run");
    wait_for("the remote command to start", || {
        (!processes_running(&["sleep", "4332"]).is_empty()).then_some(())
    });
    let known = t.path("var/ssh/known_hosts.box").display().to_string();
    assert!(
        !processes_mentioning(&known).is_empty(),
        "the step's ssh runs with unyo's known-hosts file"
    );
    let mut child = child;
    child.kill().expect("kill -9");
    child.wait().expect("reap");
    wait_for("the remote processes to end", || {
        (processes_running(&["sleep", "4331"]).is_empty()
            && processes_running(&["sleep", "4332"]).is_empty())
        .then_some(())
    });
    // Its local ssh processes (the step's and the shared connection) end too.
    wait_for("the local ssh processes to end", || {
        processes_mentioning(&known).is_empty().then_some(())
    });
}
