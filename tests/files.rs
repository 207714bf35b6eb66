//! Nothing unyo creates is readable by others (R15): the database, step logs, backups, the
//! fiscal-year archive, reports and the demo's city data, under the common umask 022; the
//! settings' `group` owns the data and log folders.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::helper::{Tree, both};

/// Runs `unyo ARGS` in the tree under `umask 022`, as a login shell would start it.
fn run_022(t: &Tree, args: &[&str]) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg("umask 022; exec \"$0\" \"$@\"")
        .arg(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(args);
    let out = cmd.output().expect("run unyo");
    assert!(out.status.success(), "unyo {args:?}: {}", both(&out));
}

/// Every file and folder under `dir` (not following links).
fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir") {
        let p = e.expect("entry").path();
        let meta = std::fs::symlink_metadata(&p).expect("meta");
        if meta.file_type().is_symlink() {
            continue;
        }
        out.push(p.clone());
        if meta.is_dir() {
            walk(&p, out);
        }
    }
}

/// Regression: under umask 022 the database was 0644, logs 0755/0644, and backups and the
/// fiscal-year archive of the residents' database were world-readable.
#[test]
fn nothing_unyo_creates_is_readable_by_others_under_umask_022() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    run_022(&t, &["demo", "init"]);
    run_022(&t, &["run", "disk-report"]);
    run_022(&t, &["run", "nightly-backup"]);
    let db = t.path("var/city/business.db").display().to_string();
    let dest = t.path("var/city/archive").display().to_string();
    run_022(
        &t,
        &[
            "act",
            "archive-year",
            "--db",
            &db,
            "--dest",
            &dest,
            "--year",
            "2025",
            "--table",
            "tax_records",
        ],
    );
    let report = t.path("var/reports/monthly.md").display().to_string();
    run_022(
        &t,
        &["report", "monthly", "--month", "2026-11", "--out", &report],
    );

    let mut all = Vec::new();
    walk(&t.path("var"), &mut all);
    let kinds = [
        "var/unyo.db",
        "var/log/disk-report",
        "var/backups/city",
        "var/city/archive/FY2025",
        "var/reports/monthly.md",
    ];
    for k in kinds {
        assert!(
            all.iter().any(|p| p.starts_with(t.path(k))),
            "nothing was made at {k}: {all:?}"
        );
    }
    let open: Vec<String> = all
        .iter()
        .filter_map(|p| {
            let mode = std::fs::symlink_metadata(p).expect("meta").mode() & 0o7777;
            (mode & 0o007 != 0).then(|| format!("{:o} {}", mode, p.display()))
        })
        .collect();
    assert!(open.is_empty(), "readable by others:\n{}", open.join("\n"));
}

/// A database made before (0644) is closed to others the next time unyo opens it; with
/// `group:` the data folder belongs to the group with the set-group-id bit, so what is made in
/// it later belongs to the group too. An unknown group is an error at its place.
#[test]
fn an_old_database_is_closed_and_the_group_owns_the_data_folder() {
    let t = Tree::new();
    t.job("hello", "steps:\n  hi:\n    argv: [echo, hi]\n");
    run_022(&t, &["run", "hello"]);
    let db = t.path("var/unyo.db");
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    run_022(&t, &["runs"]);
    assert_eq!(std::fs::metadata(&db).expect("meta").mode() & 0o777, 0o640);

    // A group other than the user's own, when the machine has one ("nogroup" on Debian).
    let group = nix::unistd::Group::from_name("nogroup")
        .expect("group lookup")
        .expect("Debian has the group `nogroup`");
    t.file("unyo.yaml", "group: nogroup\n");
    t.job("later", "steps:\n  hi:\n    argv: [echo, hi]\n");
    run_022(&t, &["run", "later"]);
    let var = std::fs::metadata(t.path("var")).expect("meta");
    assert_eq!(var.gid(), group.gid.as_raw());
    assert_eq!(var.mode() & 0o2007, 0o2000, "{:o}", var.mode());
    let log = t.path("var/log/later");
    let meta = std::fs::metadata(&log).expect("a log folder made after the setting");
    assert_eq!(meta.gid(), group.gid.as_raw(), "{}", log.display());

    t.file("unyo.yaml", "# settings\ngroup: no-such-group-x\n");
    let out = t.run(&["validate"]);
    assert!(!out.status.success());
    assert!(
        both(&out).contains("unyo.yaml:2:8: `group`: no group `no-such-group-x`"),
        "{}",
        both(&out)
    );
}
