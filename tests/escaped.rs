//! Processes that leave a step's process group (`setsid`, `env -i`, a double fork) end with
//! their step: after a normal exit, a timeout, Ctrl-C of a foreground `unyo run` (and a
//! daemon's SIGTERM, in `daemon.rs`), and two steps running side by side do not end each
//! other's processes. Each test marks its processes with its own `sleep` numbers and looks
//! for them in `/proc`.

use std::process::Stdio;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::helper::{Tree, both, text, wait_for};

/// A shell step that starts three processes leaving its group, `sleep BASE1` (setsid and
/// `env -i`, under a shell), `sleep BASE2` (setsid, under a shell that waits) and `sleep
/// BASE3` (setsid and `env -i` in a subshell that exits at once, so it is re-parented
/// while the step still runs), waits until all three run, then does `then`.
pub fn escaping_step(base: u32, then: &str) -> String {
    format!(
        "      setsid env -i sh -c 'sleep {base}1' &\n\
         \x20     setsid sh -c 'sleep {base}2 & wait' &\n\
         \x20     ( setsid env -i sleep {base}3 & )\n\
         \x20     until [ \"$(cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' '\\n' | grep -cx '{base}[123]')\" -ge 3 ]; do sleep 0.05; done\n\
         \x20     {then}\n"
    )
}

/// The live processes (not zombies) whose argv holds `sleep N` for N in `numbers`: the
/// sleep itself, or a shell running it.
pub fn survivors(numbers: &[String]) -> Vec<(i64, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for e in entries.flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<i64>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
            continue;
        };
        let argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let hit = numbers.iter().any(|n| {
            let sleep = format!("sleep {n}");
            argv.windows(2).any(|w| w[0] == "sleep" && w[1] == *n)
                || argv
                    .iter()
                    .any(|a| a == &sleep || a.starts_with(&format!("{sleep} ")))
        });
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .ok()
            .and_then(|s| {
                s.rsplit_once(')')
                    .map(|(_, r)| r.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if hit && !zombie {
            found.push((pid, argv.join(" ")));
        }
    }
    found
}

/// `BASE1`, `BASE2`, `BASE3`.
pub fn marks(base: u32) -> Vec<String> {
    (1..=3).map(|i| format!("{base}{i}")).collect()
}

/// Ends what a failed test left behind, by pid.
fn clean(found: &[(i64, String)]) {
    for (pid, _) in found {
        let _ = kill(Pid::from_raw(*pid as i32), Signal::SIGKILL);
    }
}

pub fn assert_none_left(base: u32, when: &str) {
    let left = survivors(&marks(base));
    clean(&left);
    assert!(left.is_empty(), "{when}: processes left running: {left:?}");
}

#[test]
fn a_step_that_exits_leaves_no_process_that_left_its_group() {
    let t = Tree::new();
    t.job(
        "esc",
        &format!(
            "steps:\n  a:\n    run: |\n{}",
            escaping_step(9141, "echo started")
        ),
    );
    let out = t.run(&["run", "esc"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_none_left(9141, "after a normal exit");
}

#[test]
fn a_step_that_times_out_leaves_no_process_that_left_its_group() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\n");
    t.job(
        "esc",
        &format!(
            "steps:\n  a:\n    timeout: 2s\n    run: |\n{}",
            escaping_step(9142, "sleep 1000")
        ),
    );
    let out = t.run(&["run", "esc"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(text(&out.stderr).contains("timed out"), "{}", both(&out));
    assert_none_left(9142, "after a timeout");
}

#[test]
fn ctrl_c_of_a_foreground_run_leaves_no_process_that_left_its_group() {
    let t = Tree::new();
    t.file("unyo.yaml", "kill_grace: 1s\n");
    t.job(
        "esc",
        &format!(
            "steps:\n  a:\n    run: |\n{}",
            escaping_step(9143, "sleep 1000")
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["run", "esc"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start unyo run");
    let numbers = marks(9143);
    wait_for("the escaped processes to start", || {
        let sleeps = survivors(&numbers)
            .iter()
            .filter(|(_, argv)| argv.starts_with("sleep "))
            .count();
        (sleeps >= 3).then_some(())
    });
    kill(Pid::from_raw(child.id() as i32), Signal::SIGINT).expect("SIGINT");
    let status = wait_for("unyo run to stop", || child.try_wait().expect("wait"));
    assert_eq!(status.code(), Some(1), "the cancelled run fails");
    assert_none_left(9143, "after Ctrl-C");
}

#[test]
fn two_parallel_steps_do_not_end_each_others_processes() {
    let t = Tree::new();
    let release = t.path("release");
    // `a` runs, with a process of its group and processes that left it, until the test
    // releases it; `b` starts its own escaping processes and ends meanwhile.
    t.job(
        "pair",
        &format!(
            "steps:\n  a:\n    run: |\n      sleep 91444 &\n{}\n  b:\n    run: |\n{}",
            escaping_step(
                9144,
                &format!("while [ ! -e {} ]; do sleep 0.05; done", release.display())
            ),
            escaping_step(9145, "echo b done")
        ),
    );
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["run", "pair", "--parallel", "2"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start unyo run");
    wait_for("step b to end", || {
        let out = t.run(&["show", "1", "--json"]);
        if !out.status.success() {
            return None;
        }
        let run: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (crate::helper::step(&run, "b")["status"] == "succeeded").then_some(())
    });
    // b has ended and swept: every process of a is still there.
    let mut a_numbers = marks(9144);
    a_numbers.push("91444".to_owned());
    let a_alive: Vec<String> = survivors(&a_numbers)
        .into_iter()
        .filter(|(_, argv)| argv.starts_with("sleep "))
        .map(|(_, argv)| argv)
        .collect();
    // b's process that kept its environment went with b.
    let b_marked = survivors(&["91452".to_owned()]);
    std::fs::write(&release, "").expect("release a");
    let status = wait_for("unyo run to end", || child.try_wait().expect("wait"));
    let mut all = marks(9144);
    all.extend(marks(9145));
    all.push("91444".to_owned());
    let left = survivors(&all);
    clean(&left);
    clean(&b_marked);
    assert_eq!(status.code(), Some(0));
    assert_eq!(
        a_alive.len(),
        4,
        "b's end must not end a's processes: {a_alive:?}"
    );
    assert!(b_marked.is_empty(), "{b_marked:?}");
    assert!(
        left.is_empty(),
        "after the run: processes left running: {left:?}"
    );
}
