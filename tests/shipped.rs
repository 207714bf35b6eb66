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

#[test]
fn shipped_jobs_run_green() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    for job in ["health-check", "disk-report", "log-cleanup"] {
        let out = t.run(&["run", job]);
        assert!(out.status.success(), "{job}: {}", both(&out));
    }
    let report = std::fs::read_dir(t.path("var/reports"))
        .expect("reports folder")
        .count();
    assert_eq!(report, 1, "disk-report writes one report per business date");
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
