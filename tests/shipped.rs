//! Every definition that ships (jobs/, runbooks/, schedules/ and each tree under examples/)
//! loads and validates; the shipped jobs that are safe anywhere run green on a copy.

use std::path::{Path, PathBuf};

use crate::helper::{Tree, both, text};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validate(root: &Path) -> String {
    let out = assert_cmd::Command::cargo_bin("unyo")
        .expect("binary")
        .arg("--root")
        .arg(root)
        .arg("validate")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}: {}", root.display(), both(&out));
    text(&out.stdout)
}

#[test]
fn shipped_definitions_validate() {
    // Incidents of every severity at every hour reach someone: no warning.
    let out = assert_cmd::Command::cargo_bin("unyo")
        .expect("binary")
        .arg("--root")
        .arg(repo())
        .arg("validate")
        .output()
        .expect("run");
    assert_eq!(text(&out.stderr), "", "{}", both(&out));
    let summary = validate(&repo());
    assert!(summary.ends_with(": ok\n"), "{summary}");
    // Every YAML file in the shipped folders was counted (none silently ignored).
    let count = |dir: &str| {
        std::fs::read_dir(repo().join(dir))
            .expect("dir")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
            })
            .count()
    };
    let jobs = count("jobs");
    let runbooks = count("runbooks");
    assert!(jobs >= 3 && runbooks >= 1);
    assert!(summary.starts_with(&format!("{jobs} jobs, ")), "{summary}");
    assert!(
        summary.contains(&format!("{runbooks} runbooks")),
        "{summary}"
    );
}

#[test]
fn every_example_tree_validates() {
    let mut seen = 0;
    for entry in std::fs::read_dir(repo().join("examples")).expect("examples") {
        let path = entry.expect("entry").path();
        if path.join("jobs").is_dir() {
            validate(&path);
            seen += 1;
        }
    }
    assert!(seen >= 2, "expected example trees under examples/");
}

/// `health-check` passes on this machine and names what is missing when the tools are not
/// on the PATH.
#[test]
fn health_check_passes_and_names_missing_tools() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let out = t.run(&["run", "health-check"]);
    assert!(out.status.success(), "{}", both(&out));
    let logs = t.run(&["logs", "1", "--step", "tools"]);
    assert!(
        text(&logs.stdout).contains("all tools present"),
        "{}",
        both(&logs)
    );

    let out = t
        .unyo()
        .env("PATH", "/nonexistent")
        .args(["run", "health-check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let logs = t.run(&["logs", "2", "--step", "tools"]);
    assert!(
        text(&logs.stdout).contains("missing tools: sh df du find mkdir awk"),
        "{}",
        both(&logs)
    );
}

/// `disk-report` writes the day's report and fails when free space is under the threshold.
#[test]
fn disk_report_writes_the_report_and_fails_below_the_threshold() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let out = t.run(&["run", "disk-report"]);
    assert!(out.status.success(), "{}", both(&out));
    let reports: Vec<_> = std::fs::read_dir(t.path("var/reports"))
        .expect("reports folder")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(
        reports.len(),
        1,
        "one report per business date: {reports:?}"
    );
    let report = std::fs::read_to_string(&reports[0]).expect("report");
    let run = t.show(1);
    let date = run["business_date"].as_str().expect("business date");
    assert!(
        reports[0].ends_with(format!("disk-{date}.txt")),
        "{}",
        reports[0].display()
    );
    assert!(
        report.contains(&format!("business date {date} (run 1)")),
        "{report}"
    );
    assert!(report.contains("Filesystem"), "{report}");

    // No file system has 101 % free: the report is written and the run fails.
    let out = t.run(&["run", "disk-report", "-p", "min_free_percent=101"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
}

/// `log-cleanup` deletes step logs older than its `days` and keeps the younger ones.
#[test]
fn log_cleanup_deletes_only_old_logs() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let dir = t.path("var/log/old-job");
    std::fs::create_dir_all(&dir).expect("log dir");
    let (old, young, other) = (
        dir.join("1.a.1.log"),
        dir.join("2.a.1.log"),
        dir.join("notes.txt"),
    );
    for f in [&old, &young, &other] {
        std::fs::write(f, "output\n").expect("write");
    }
    for f in [&old, &other] {
        let touched = std::process::Command::new("touch")
            .args(["-d", "100 days ago"])
            .arg(f)
            .status()
            .expect("touch");
        assert!(touched.success());
    }
    let out = t.run(&["run", "log-cleanup"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        !old.exists(),
        "a 100-day-old log is deleted (default: 90 days)"
    );
    assert!(young.exists(), "a new log is kept");
    assert!(other.exists(), "only *.log files are touched");
    let logs = t.run(&["logs", "1", "--step", "delete-old-logs"]);
    assert!(text(&logs.stdout).contains("1.a.1.log"), "{}", both(&logs));

    // With days=200 the same kind of log stays.
    std::fs::write(&old, "output\n").expect("write");
    let touched = std::process::Command::new("touch")
        .args(["-d", "100 days ago"])
        .arg(&old)
        .status()
        .expect("touch");
    assert!(touched.success());
    let out = t.run(&["run", "log-cleanup", "-p", "days=200"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(old.exists());
}

#[test]
fn example_extract_runs_and_checks_its_parameters() {
    let t = Tree::new();
    let job = repo().join("examples/euc/jobs/resident-extract.yaml");
    t.job(
        "resident-extract",
        &std::fs::read_to_string(job).expect("read"),
    );
    let run = |month: &str| {
        let month = format!("month={month}");
        t.run(&[
            "run",
            "resident-extract",
            "-p",
            "department=tax",
            "-p",
            &month,
        ])
    };
    let out = run("2026-10");
    assert!(out.status.success(), "{}", both(&out));
    assert!(t.path("var/extracts/tax/residents-2026-10.csv").is_file());
    let out = run("October");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("parameter `month`: `October` is not a month"));
    // A department that would name another folder is refused.
    let out = t.run(&["run", "resident-extract", "-p", "department=../etc"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("does not match the pattern"));
}

/// The shipped runbook gives each failure the operations manual names its own first aid.
#[test]
fn shipped_runbook_rules_fit_the_failures_they_are_for() {
    use std::time::Duration;
    use unyo::exec::Exit;
    use unyo::runbook::{Failure, find};
    let t = crate::helper::Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    let settings = unyo::model::Settings::load(t.root()).expect("settings");
    let catalog = unyo::model::Catalog::load(&settings).expect("catalog");
    let rule = |exit: Option<Exit>, timed_out: bool, stderr: &str| {
        let f = Failure {
            exit,
            timed_out,
            stdout: "",
            stderr,
            elapsed: Duration::from_secs(3),
            connection_failed: false,
        };
        find(&catalog, Some("transient"), None, &f)
            .map(|m| m.number)
            .expect("a rule fits every failure")
    };
    let code = |c| Some(Exit::Code(c));
    assert_eq!(
        rule(Some(Exit::Signal(15)), true, "curl: operation timed out"),
        1
    );
    assert_eq!(rule(code(1), false, "Error: database is locked"), 2);
    assert_eq!(rule(code(75), false, ""), 3);
    assert_eq!(
        rule(
            code(7),
            false,
            "curl: (7) Failed to connect: Connection refused"
        ),
        4
    );
    assert_eq!(rule(code(1), false, "write: No space left on device"), 5);
    assert_eq!(rule(Some(Exit::Signal(9)), false, ""), 6);
    assert_eq!(rule(code(2), false, "unexpected"), 7);
    // Every step of a shipped job that runs a command has a runbook (an approval step runs
    // nothing: it has no runbook, and its timeout is an abnormal end of its own).
    for job in catalog.jobs.values() {
        assert!(
            job.steps
                .iter()
                .filter(|s| !matches!(s.action, unyo::model::Action::Approval { .. }))
                .all(|s| s.runbook.is_some()),
            "job `{}` has a step without a runbook",
            job.name
        );
    }
}

/// The files git tracks under `path` (relative to the repository), from the index.
fn tracked(path: &str) -> Vec<String> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["ls-files", "-z", "--", path])
        .output()
        .expect("git ls-files (the tests run in a git checkout)");
    assert!(out.status.success(), "git ls-files: {}", both(&out));
    text(&out.stdout)
        .split('\0')
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Regression: a stale `examples/quickstart/var/unyo.db` (with its WAL and logs) was
/// committed, so the example ran on somebody's old records and every run changed tracked
/// files. No database, log or runtime file is tracked anywhere.
#[test]
fn no_database_log_or_runtime_file_is_tracked() {
    let runtime: Vec<String> = tracked(".")
        .into_iter()
        .filter(|p| {
            p.starts_with("var/")
                || p.contains("/var/")
                || [
                    ".db",
                    ".db-wal",
                    ".db-shm",
                    ".db-journal",
                    ".log",
                    ".daemon.lock",
                ]
                .iter()
                .any(|ext| p.ends_with(ext))
        })
        .collect();
    assert!(runtime.is_empty(), "runtime files are tracked: {runtime:?}");
    // What an example writes is ignored, so running one leaves `git status` clean.
    let ignored = std::process::Command::new("git")
        .arg("-C")
        .arg(repo())
        .args(["check-ignore", "-q", "examples/quickstart/var/unyo.db"])
        .status()
        .expect("git check-ignore");
    assert!(ignored.success(), "examples/*/var/ is not ignored by git");
}

/// Every example runs from a fresh clone: its tracked files alone, copied to a temp dir, run
/// the commands written at the top of its job files (`#   unyo --root examples/... run ...`),
/// and no tracked file changes.
#[test]
fn every_example_runs_from_a_fresh_clone() {
    let clone = tempfile::tempdir().expect("temp dir");
    let files = tracked("examples");
    assert!(!files.is_empty());
    for rel in &files {
        let to = clone.path().join(rel);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo().join(rel), &to).expect("copy");
    }
    let snapshot = || -> Vec<(String, Vec<u8>)> {
        files
            .iter()
            .map(|rel| {
                let bytes = std::fs::read(clone.path().join(rel)).expect("read");
                (rel.clone(), bytes)
            })
            .collect()
    };
    let before = snapshot();

    let mut ran = 0;
    for rel in files.iter().filter(|p| p.contains("/jobs/")) {
        let yaml = std::fs::read_to_string(clone.path().join(rel)).expect("read");
        for line in yaml.lines().take_while(|l| l.starts_with('#')) {
            let Some(cmd) = line.trim_start_matches('#').trim().strip_prefix("unyo ") else {
                continue;
            };
            let words: Vec<&str> = cmd.split_whitespace().collect();
            if words.get(2) != Some(&"run") {
                continue;
            }
            assert_eq!(words[0], "--root", "{rel}: {line}");
            let out = assert_cmd::Command::cargo_bin("unyo")
                .expect("binary")
                .current_dir(clone.path())
                .env_remove("UNYO_ROOT")
                .args(&words)
                .output()
                .expect("run");
            assert!(out.status.success(), "{rel}: `{cmd}`: {}", both(&out));
            assert!(text(&out.stdout).contains("succeeded"), "{}", both(&out));
            ran += 1;
        }
    }
    assert!(
        ran >= 2,
        "expected a `unyo ... run` line in each example's job files"
    );
    assert!(
        before == snapshot(),
        "running the examples changed tracked files"
    );
}

/// Regression: the shipped `unyo.yaml` had no `notify:`, so a failed backup told nobody. A
/// shipped job failing under the daemon reaches the demo's mailbox: one mail-like file with
/// the incident's subject.
#[test]
fn a_failed_shipped_job_reaches_the_demo_mailbox() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    // The shipped metrics and dashboard ports may be taken on this machine (a demo daemon
    // running): any free one does here.
    let settings = std::fs::read_to_string(repo().join("unyo.yaml")).expect("unyo.yaml");
    for shipped in ["\"127.0.0.1:9464\"", "\"127.0.0.1:8480\""] {
        assert!(settings.contains(shipped), "the shipped address {shipped}");
    }
    t.file(
        "unyo.yaml",
        &settings
            .replace("\"127.0.0.1:9464\"", "\"127.0.0.1:0\"")
            .replace("\"127.0.0.1:8480\"", "\"127.0.0.1:0\""),
    );
    let log = t.path("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        // Started elsewhere than the root: the mailbox is still the root's var/mail/.
        .current_dir("/")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("daemon");
    crate::helper::wait_for("the daemon to start", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("unyo daemon"))
    });
    // No file system has 101 % free: the report fails, and its runbook escalates.
    let out = t.run(&[
        "run",
        "disk-report",
        "-p",
        "min_free_percent=101",
        "--detach",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let mail = crate::helper::wait_for("a mail in var/mail/", || {
        let dir = std::fs::read_dir(t.path("var/mail")).ok()?;
        let path = dir
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "eml"))?;
        std::fs::read_to_string(path).ok()
    });
    let (head, body) = mail
        .split_once("\n\n")
        .expect("headers, a blank line, the body");
    let header = |name: &str| {
        head.lines()
            .find_map(|l| l.strip_prefix(&format!("{name}: ")))
            .unwrap_or_else(|| panic!("no {name}: in\n{mail}"))
            .to_owned()
    };
    assert_eq!(header("To"), "Service desk <desk@localhost>");
    assert!(
        chrono::DateTime::parse_from_rfc2822(&header("Date")).is_ok(),
        "{mail}"
    );
    let subject = header("Subject");
    assert!(
        subject.starts_with("[unyo][重大度: 中] disk-report ")
            && subject.ends_with("(インシデント #1)"),
        "{subject}"
    );
    assert!(body.starts_with("ジョブ disk-report で"), "{body}");
    // The outbox names the file as the receipt, and the daemon started without a warning.
    let out = t.run(&["notifications", "--json"]);
    let sent: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(sent[0]["status"], "sent", "{sent:#}");
    assert_eq!(sent[0]["channel"], "desk-mailbox");
    assert!(
        sent[0]["receipt"]
            .as_str()
            .is_some_and(|r| r.starts_with("exit 0: var/mail/") && r.ends_with(".eml")),
        "{sent:#}"
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(daemon.wait().expect("wait").success());
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(!log.contains("warning:"), "{log}");
}

/// The daemon's start says when incidents reach nobody.
#[test]
fn the_daemon_warns_at_start_when_incidents_reach_nobody() {
    let t = Tree::new();
    t.job("one", "steps:\n  a:\n    run: echo a\n");
    let log = t.path("daemon.log");
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("daemon");
    let text = crate::helper::wait_for("the warning", || {
        std::fs::read_to_string(&log)
            .ok()
            .filter(|l| l.contains("warning:"))
    });
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(daemon.wait().expect("wait").success());
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("unyo daemon ") && l.contains(" started "))
        .expect("start line");
    assert_eq!(
        lines.get(start + 1).copied(),
        Some(
            "warning: unyo.yaml: no `notify:`, so incidents reach nobody: failed runs and \
             missed slots are only recorded, and waiting approvals are not announced"
        ),
        "{text}"
    );
}

/// The shipped health checks run on a copy: every check step reports (its run succeeds
/// whatever the plugin says), and each target is recorded with its kind.
#[test]
fn shipped_health_checks_run_and_record_their_targets() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "plugins"]);
    for name in ["check_memory", "check_maintenance"] {
        use std::os::unix::fs::PermissionsExt;
        let p = t.path(&format!("plugins/{name}"));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    for job in [
        "watch-hardware",
        "watch-software",
        "watch-network",
        "watch-access",
    ] {
        let out = t.run(&["run", job]);
        assert!(out.status.success(), "{job}: {}", both(&out));
    }
    let c = crate::helper::db(&t);
    let mut s = c
        .prepare("SELECT target || ' ' || kind FROM check_targets ORDER BY target")
        .expect("prepare");
    let targets: Vec<String> = s
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        targets,
        vec![
            "online-logins access",
            "online-open software",
            "online-port network",
            "online-web network",
            "ops-disk hardware",
            "ops-load hardware",
            "ops-memory hardware",
            "unyo-daemon software",
        ]
    );
    // The plugins that report on this machine report OK or WARNING.
    let memory: String = crate::helper::one(
        &t,
        "SELECT last_status FROM check_targets WHERE target = 'ops-memory'",
    );
    assert!(["ok", "warning"].contains(&memory.as_str()), "{memory}");
    let perf: String = crate::helper::one(
        &t,
        "SELECT last_perfdata FROM check_targets WHERE target = 'ops-disk'",
    );
    assert!(perf.contains('B'), "{perf}");
}

/// The shipped unyo.yaml names the demo city's departments, each by the code its staff
/// directory and shared folders use and the name its database gives it, so a desk request
/// about the demo names a department the report can show by its title.
#[test]
fn the_shipped_departments_are_the_demo_citys() {
    let settings = unyo::model::Settings::load(&repo()).expect("shipped settings");
    let shipped: Vec<(&str, &str)> = settings.departments.iter().collect();
    assert_eq!(shipped, unyo::demo::DEPARTMENTS.to_vec());
}
