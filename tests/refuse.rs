//! A step that declines by itself (an exit code of its `refuse_exit`): the run ends `refused`
//! with the step's last line as the reason, its dependents are skipped and its `always` steps
//! run, no runbook is followed, no incident is opened and nobody is notified; the report
//! counts it apart from the failures. An exit code not declared still fails as before.

use std::sync::Arc;

use unyo::incident::notifier::Notifier;
use unyo::model::{Catalog, Settings};
use unyo::store::{SqliteStore, Store};

use crate::helper::{Tree, attempts, both, refused_definitions, step, text};

/// The job: `check` refuses with 5 (declared) or fails with another code, `work` needs it,
/// `cleanup` runs whatever happened. Its runbook would retry an exit 5 and escalates the rest.
fn job(code: i32) -> String {
    format!(
        r#"description: Does its work only when there is some
runbook: strict
steps:
  check:
    refuse_exit: [5, "64-70"]
    run: "echo looking at the inbox; echo nothing to do today >&2; exit {code}"
  work:
    needs: [check]
    run: "touch work-ran"
  cleanup:
    needs: [work]
    always: true
    run: "touch cleanup-ran"
"#
    )
}

const RUNBOOK: &str = r#"rules:
  - match: { exit_codes: [5] }
    retry: { max: 3, initial: 1s }
  - match: any
    escalate: { severity: high }
"#;

/// A root with the job, its runbook and a notification route whose channel writes files.
fn tree(code: i32) -> Tree {
    let t = Tree::new();
    let dir = t.root().display().to_string();
    t.job("inbox", &job(code))
        .file("runbooks/strict.yaml", RUNBOOK)
        .file(
            "unyo.yaml",
            &format!(
                "notify:\n  language: en\n  channels:\n    all:\n      command: {{ argv: [sh, -c, \"mkdir -p {dir}/got; cat > {dir}/got/$$.json\"] }}\n  desk:\n    - notify: [all]\n  emergency:\n    - notify: [all]\n  after_hours:\n    - notify: [all]\n"
            ),
        );
    t
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", both(out)))
}

/// One pass of the daemon's notifier: how many messages it wrote to the outbox and sent.
async fn notify_pass(t: &Tree) -> usize {
    let settings = Settings::load(t.root()).expect("settings");
    let catalog = Arc::new(Catalog::load(&settings).expect("catalog"));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&t.path("var/unyo.db"))
            .await
            .expect("store"),
    );
    Notifier::new(settings, catalog, store)
        .tick(chrono::Utc::now())
        .await
        .expect("tick")
}

#[tokio::test]
async fn a_declared_exit_code_ends_the_run_refused_with_its_reason_and_no_incident() {
    let t = tree(5);
    let out = t.run(&["run", "inbox"]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("refused: run 1: step `check` refused: nothing to do today"),
        "{}",
        both(&out)
    );

    let r = t.show(1);
    assert_eq!(r["status"], "refused", "{r:#}");
    assert_eq!(r["reason"], "step `check` refused: nothing to do today");
    assert_eq!(step(&r, "check")["status"], "refused");
    assert_eq!(step(&r, "check")["reason"], "nothing to do today");
    assert_eq!(step(&r, "work")["status"], "skipped");
    assert_eq!(step(&r, "work")["reason"], "needs `check`, which refused");
    // The `always` step ran; the skipped one did not.
    assert_eq!(step(&r, "cleanup")["status"], "succeeded");
    assert!(t.path("cleanup-ran").exists());
    assert!(!t.path("work-ran").exists());
    // No runbook: one attempt, no rule, no retry, although the runbook retries an exit 5.
    let a = attempts(&r, "check");
    assert_eq!(a.len(), 1, "{r:#}");
    assert_eq!(a[0]["status"], "refused");
    assert_eq!(a[0]["exit_code"], 5);
    assert!(a[0]["rule"].is_null(), "{r:#}");

    // No incident, and the notifier finds nothing to tell anyone.
    let incidents = json(&t.run(&["incidents", "--json"]));
    assert_eq!(incidents.as_array().map(Vec::len), Some(0), "{incidents:#}");
    assert_eq!(notify_pass(&t).await, 0);
    assert!(!t.path("got").exists());
    let sent = json(&t.run(&["notifications", "--json"]));
    assert_eq!(sent.as_array().map(Vec::len), Some(0), "{sent:#}");

    // Shown as refused, with the reason: `runs`, `status`, and their JSON forms.
    let out = t.run(&["runs"]);
    let table = text(&out.stdout);
    let line = table
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("refused"), "{table}");
    // The reason may be wrapped onto continuation lines at the terminal's width.
    let words = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words(&table).contains("step `check` refused: nothing to do today"),
        "{table}"
    );
    let runs = json(&t.run(&["runs", "--json", "--status", "refused"]));
    assert_eq!(runs[0]["status"], "refused");
    assert_eq!(
        runs[0]["reason"],
        "step `check` refused: nothing to do today"
    );
    let status = text(&t.run(&["status"]).stdout);
    assert!(
        status.contains("refused (last 24 h, no incident):")
            && words(&status).contains("step `check` refused: nothing to do today"),
        "{status}"
    );
    let status = json(&t.run(&["status", "--json"]));
    assert_eq!(status["refused"][0]["status"], "refused", "{status:#}");
    assert_eq!(status["open_incidents"].as_array().map(Vec::len), Some(0));
}

#[tokio::test]
async fn an_undeclared_exit_code_still_fails_with_an_incident() {
    let t = tree(3);
    let out = t.run(&["run", "inbox"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let r = t.show(1);
    assert_eq!(r["status"], "failed");
    assert_eq!(step(&r, "check")["status"], "failed");
    assert_eq!(step(&r, "work")["status"], "skipped");
    assert_eq!(step(&r, "work")["reason"], "needs `check`, which failed");
    assert_eq!(step(&r, "cleanup")["status"], "succeeded");
    assert_eq!(attempts(&r, "check")[0]["status"], "failed");
    let incidents = json(&t.run(&["incidents", "--json"]));
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{incidents:#}");
    assert_eq!(incidents[0]["severity"], "high");
    assert!(notify_pass(&t).await > 0);
    // A range of `refuse_exit` counts too.
    let t = tree(66);
    assert_eq!(t.run(&["run", "inbox"]).status.code(), Some(5));
    assert_eq!(t.show(1)["status"], "refused");
}

/// The monthly report counts a refusal on its own line with its reason, not as a failure, and
/// its success rate leaves it out.
#[test]
fn the_report_counts_refusals_apart_from_failures() {
    let t = tree(5);
    assert_eq!(t.run(&["run", "inbox"]).status.code(), Some(5));
    t.job("inbox", &job(3));
    assert_eq!(t.run(&["run", "inbox"]).status.code(), Some(1));
    t.job("inbox", &job(0));
    assert_eq!(t.run(&["run", "inbox"]).status.code(), Some(0));
    let settings = Settings::defaults(t.root());
    let today =
        unyo::calendar::business_date(chrono::Utc::now(), settings.timezone, settings.day_start);
    let month = today.format("%Y-%m").to_string();
    let r = json(&t.run(&["report", "monthly", "--month", &month, "--format", "json"]));
    let s = &r["summary"];
    assert_eq!(
        (&s["runs"], &s["succeeded"], &s["failed"], &s["refused"]),
        (&3.into(), &1.into(), &1.into(), &1.into()),
        "{s:#}"
    );
    assert_eq!(s["success_rate"], 50.0, "{s:#}");
    assert_eq!(r["refusals"][0]["job"], "inbox");
    assert_eq!(
        r["refusals"][0]["reason"],
        "step `check` refused: nothing to do today"
    );
    assert_eq!(r["refusals"][0]["count"], 1);
    // The refused attempt is no abnormal end; the failed one is.
    let kinds: Vec<&str> = s["abnormal_ends"]
        .as_array()
        .expect("kinds")
        .iter()
        .map(|k| k["name"].as_str().expect("name"))
        .collect();
    assert_eq!(kinds, ["abnormal_exit"], "{s:#}");
    for (lang, words) in [
        ("ja", "見送り(ジョブ自身の判断、障害ではない) | 1 |"),
        ("en", "refused by the job itself (not failures) | 1 |"),
    ] {
        let md = text(
            &t.run(&["report", "monthly", "--month", &month, "--lang", lang])
                .stdout,
        );
        assert!(md.contains(words), "{md}");
        assert!(md.contains("nothing to do today"), "{md}");
    }
}

#[test]
fn refuse_exit_is_checked_with_its_place() {
    let t = Tree::new();
    t.job(
        "bad",
        "refuse_exit: [0]\nsteps:\n  a:\n    run: \"true\"\n    refuse_exit: [\"9-x\"]\n  gate:\n    approval: {}\n    refuse_exit: [300]\n",
    );
    let msg = refused_definitions(&t);
    for want in [
        "jobs/bad.yaml:1:15: `refuse_exit`: exit code 0 means success",
        "jobs/bad.yaml:5:19: `refuse_exit`: bad exit code range `9-x`",
        "jobs/bad.yaml:8:19: `refuse_exit`: exit code 300 is out of range 0-255",
        "jobs/bad.yaml:8:19: step `gate` is an approval: it has no exit code, so no `refuse_exit`",
    ] {
        assert!(msg.contains(want), "{want} in {msg}");
    }
}

/// Through the daemon: a queued run that refuses reaches nobody, while a failing run of
/// another job on the same daemon pages the contact (so the route works).
#[test]
fn a_refused_run_in_the_daemon_opens_no_incident_and_pages_nobody() {
    use crate::helper::wait_for;
    let t = tree(5);
    t.job(
        "broken",
        "steps:\n  dump:\n    run: echo 'disk full' >&2; exit 3\n",
    );
    let mut daemon = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stderr(std::fs::File::create(t.path("daemon.log")).expect("log"))
        .spawn()
        .expect("daemon");
    let out = t.run(&["run", "--detach", "inbox"]);
    assert!(out.status.success(), "{}", both(&out));
    wait_for("the refused run", || {
        let r = t.run(&["show", "1", "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&r.stdout).ok()?;
        (r["status"] == "refused").then_some(())
    });
    let out = t.run(&["run", "--detach", "broken"]);
    assert!(out.status.success(), "{}", both(&out));
    let pages: Vec<serde_json::Value> = wait_for("the page of the failed run", || {
        let dir = std::fs::read_dir(t.path("got")).ok()?;
        let pages: Vec<serde_json::Value> = dir
            .filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok())
            .filter_map(|s| serde_json::from_str(&s).ok())
            .collect();
        pages.iter().any(|p| p["job"] == "broken").then_some(pages)
    });
    assert!(pages.iter().all(|p| p["job"] == "broken"), "{pages:?}");
    let incidents = json(&t.run(&["incidents", "--json"]));
    assert_eq!(incidents.as_array().map(Vec::len), Some(1), "{incidents:#}");
    assert_eq!(incidents[0]["job"], "broken");
    assert_eq!(t.show(1)["status"], "refused");
    assert_eq!(step(&t.show(1), "cleanup")["status"], "succeeded");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("term");
    assert!(daemon.wait().expect("wait").success());
}
