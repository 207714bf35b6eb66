//! `user:` with a real second OS user created by the test (`useradd`, removed after): the
//! step's uid, groups, HOME and the owner of the files it writes are that user's, unyo's log
//! stays unyo's; validate refuses `user:` when unyo cannot switch users, an unknown user, and
//! `user:` on a remote step.

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use crate::helper::sshd::OsUser;
use crate::helper::{Tree, attempts, both, refused_definitions, text};

/// A tree whose root others may enter, with a folder `work` the step's user may write in.
fn open_tree() -> Tree {
    let t = Tree::new();
    std::fs::set_permissions(t.root(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::create_dir(t.path("work")).expect("mkdir");
    std::fs::set_permissions(t.path("work"), std::fs::Permissions::from_mode(0o777))
        .expect("chmod");
    t
}

#[test]
fn a_step_runs_as_its_user_with_the_user_s_groups_and_home() {
    let user = OsUser::create();
    let t = open_tree();
    t.job(
        "as-user",
        &format!(
            "user: {}\nworkdir: work\nsteps:\n  who:\n    run: |\n      id -u\n      id -G\n      echo \"$HOME $USER $LOGNAME\"\n      echo made > made.txt\n",
            user.name
        ),
    );
    let out = t.run(&["run", "as-user"]);
    assert!(out.status.success(), "{}", both(&out));
    let runs: serde_json::Value =
        serde_json::from_slice(&t.run(&["runs", "--json"]).stdout).expect("json");
    let run = t.show(runs[0]["id"].as_i64().expect("id"));
    let a = attempts(&run, "who")[0];
    let stdout = a["stdout_tail"].as_str().expect("stdout");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], user.uid().to_string(), "{stdout}");
    let groups: Vec<u32> = lines[1]
        .split_whitespace()
        .map(|g| g.parse().expect("gid"))
        .collect();
    assert!(
        groups.contains(&user.extra_gid()),
        "supplementary group kept: {stdout}"
    );
    assert!(!groups.contains(&0), "root's group dropped: {stdout}");
    assert_eq!(
        lines[2],
        format!("/home/{0} {0} {0}", user.name),
        "{stdout}"
    );
    let made = std::fs::metadata(t.path("work/made.txt")).expect("made");
    assert_eq!(made.uid(), user.uid());
    // The log is written by unyo, not by the step's user.
    let log = a["log_path"].as_str().expect("log path");
    let meta = std::fs::metadata(log).expect("log");
    assert_eq!(meta.uid(), 0);
    assert!(
        std::fs::read_to_string(log)
            .expect("readable")
            .contains(&user.name)
    );
}

#[test]
fn validate_refuses_user_when_unyo_cannot_switch_users() {
    let user = OsUser::create();
    let t = open_tree();
    t.job(
        "as-user",
        &format!("steps:\n  who:\n    argv: [id]\n    user: {}\n", user.name),
    );
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "as root it may: {}", both(&out));
    // The same definitions checked by an unprivileged user.
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--"])
        .arg(env!("CARGO_BIN_EXE_unyo"))
        .arg("--root")
        .arg(t.root())
        .arg("validate")
        .env("NO_COLOR", "1")
        .output()
        .expect("run as nobody");
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "jobs/as-user.yaml:4:11: step `who`: `user: {}` needs unyo to run as root to switch users",
            user.name
        )),
        "{err}"
    );
}

#[test]
fn validate_names_an_unknown_user_and_user_on_a_remote_step() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "hosts:\n  db:\n    address: 10.0.0.5\n    user: unyo\n    host_key: \"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA\"\n",
    );
    t.job(
        "bad",
        "steps:\n  a:\n    argv: [id]\n    user: unyo-nobody-here\n  b:\n    argv: [id]\n    host: db\n    user: root\n  c:\n    argv: [id]\n    host: dv\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("step `a`: no user `unyo-nobody-here` on this machine"),
        "{err}"
    );
    assert!(
        err.contains("step `b` runs on host `db`, where it logs in as the host's `user`"),
        "{err}"
    );
    assert!(
        err.contains("unknown host `dv` (did you mean `db`?)"),
        "{err}"
    );
}
