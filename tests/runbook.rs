//! Runbooks and incidents with the real binary: retries with remediation, retries used up,
//! timeouts, output patterns, `continue`, deduplication and the operator's commands.

use crate::helper::{Tree, attempts, both, refused_definitions, step, text};

fn incidents(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["incidents", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice::<serde_json::Value>(&out.stdout)
        .expect("json")
        .as_array()
        .expect("array")
        .clone()
}

fn incident(t: &Tree, id: i64) -> serde_json::Value {
    let out = t.run(&["incident", "show", &id.to_string(), "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

const FLAKY: &str = r#"
description: Passing failures
rules:
  - description: Locked database
    match: { exit_codes: [75, "64-70"], stderr: "(?i)database is locked" }
    remediate: { run: "echo cleared >> remedied.txt", timeout: 5s }
    retry: { max: 2, initial: 100ms, backoff: exponential, max_delay: 1s }
  - description: Too slow
    match: { timeout: true }
    escalate: { severity: critical }
  - description: Optional output missing
    match: { stderr: "no new files" }
    continue: true
  - match: any
    escalate: { severity: high }
"#;

/// A step that fails with exit 75 ("database is locked") the first `fails` times.
fn flaky_job(fails: u32) -> String {
    format!(
        r#"runbook: flaky
steps:
  load:
    run: |
      n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count
      if [ $n -le {fails} ]; then echo "Database is locked (try $n)" >&2; exit 75; fi
      echo loaded
"#
    )
}

#[test]
fn a_retried_step_succeeds_after_its_remediation() {
    let t = Tree::new();
    t.file("runbooks/flaky.yaml", FLAKY)
        .job("load", &flaky_job(2));
    let out = t.run(&["run", "load"]);
    assert!(out.status.success(), "{}", both(&out));
    let run = t.show(1);
    assert_eq!(run["status"], "succeeded");
    let a = attempts(&run, "load");
    assert_eq!(a.len(), 3);
    assert_eq!(a[0]["status"], "failed");
    assert_eq!(a[0]["rule"], "flaky#1 (Locked database)");
    assert_eq!(
        a[0]["action"],
        "remediation succeeded; retry 1 of 2 in 100ms"
    );
    assert_eq!(
        a[1]["action"],
        "remediation succeeded; retry 2 of 2 in 200ms"
    );
    assert_eq!(a[0]["remediation"]["result"], "succeeded");
    assert_eq!(
        a[0]["remediation"]["command"]["run"],
        "echo cleared >> remedied.txt"
    );
    assert_eq!(a[2]["status"], "succeeded");
    assert!(a[2]["rule"].is_null());
    // Exponential: the second retry waited at least twice as long as the first.
    let start = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(a[i]["started_at"].as_str().expect("start"))
            .expect("time")
    };
    let end = |i: usize| {
        chrono::DateTime::parse_from_rfc3339(a[i]["ended_at"].as_str().expect("end")).expect("time")
    };
    assert!((start(1) - end(0)).num_milliseconds() >= 100);
    assert!((start(2) - end(1)).num_milliseconds() >= 200);
    assert_eq!(
        std::fs::read_to_string(t.path("remedied.txt")).expect("remedied"),
        "cleared\ncleared\n"
    );
    assert!(
        incidents(&t).is_empty(),
        "a recovered step opens no incident"
    );
    let shown = text(&t.run(&["show", "1"]).stdout);
    assert!(
        shown.contains("runbook rule: flaky#1 (Locked database)"),
        "{shown}"
    );
}

#[test]
fn used_up_retries_fail_the_run_and_open_one_incident() {
    let t = Tree::new();
    t.file("runbooks/flaky.yaml", FLAKY)
        .job("load", &flaky_job(99));
    let out = t.run(&["run", "load"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(1);
    let a = attempts(&run, "load");
    assert_eq!(a.len(), 3);
    assert_eq!(
        a[2]["action"],
        "remediation succeeded; no retry left (2 used)"
    );
    assert_eq!(step(&run, "load")["status"], "failed");
    let list = incidents(&t);
    assert_eq!(list.len(), 1);
    let i = &list[0];
    assert_eq!(
        i["severity"], "medium",
        "the settings' default: the rule names none"
    );
    assert_eq!(i["failure_class"], "exit 75");
    assert_eq!(i["status"], "open");
    assert_eq!(i["run_id"], 1);
    assert_eq!(i["step"], "load");
    assert_eq!(i["rule"], "flaky#1 (Locked database)");
    assert!(
        i["log_excerpt"]
            .as_str()
            .is_some_and(|e| e.contains("Database is locked (try 3)")),
        "{i}"
    );
    assert!(i["report_deadline"].is_string());
    assert_eq!(i["overdue"], false);
    // The same failure again: one more occurrence, not a second incident.
    std::fs::remove_file(t.path("count")).expect("reset");
    let out = t.run(&["run", "load"]);
    assert_eq!(out.status.code(), Some(1));
    let list = incidents(&t);
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["occurrences"], 2);
    let shown = incident(&t, 1);
    let kinds: Vec<&str> = shown["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["kind"].as_str().expect("kind"))
        .collect();
    assert_eq!(kinds, ["opened", "occurrence"]);
}

#[test]
fn timeouts_and_patterns_pick_their_rules() {
    let t = Tree::new();
    t.file("runbooks/flaky.yaml", FLAKY)
        .job(
            "slow",
            "runbook: flaky\nsteps:\n  wait:\n    run: sleep 5\n    timeout: 200ms\n",
        )
        .job(
            "collect",
            "runbook: flaky\nsteps:\n  fetch:\n    run: echo 'no new files today' >&2; exit 1\n  \
             summary:\n    needs: [fetch]\n    run: echo summary > summary.txt\n",
        );
    let out = t.run(&["run", "slow"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let run = t.show(1);
    let a = attempts(&run, "wait");
    assert_eq!(a[0]["status"], "timed_out");
    assert_eq!(a[0]["rule"], "flaky#2 (Too slow)");
    assert!(
        a[0]["action"]
            .as_str()
            .is_some_and(|s| s.starts_with("incident #1 (critical"))
    );
    let list = incidents(&t);
    assert_eq!(
        list.len(),
        1,
        "the rule's incident covers the run's end: {list:?}"
    );
    assert_eq!(list[0]["severity"], "critical");
    assert_eq!(list[0]["failure_class"], "timeout");

    // `continue`: the step fails, the step that needs it runs, the run succeeds.
    let out = t.run(&["run", "collect"]);
    assert!(out.status.success(), "{}", both(&out));
    let run = t.show(2);
    assert_eq!(run["status"], "succeeded");
    let fetch = step(&run, "fetch");
    assert_eq!(fetch["status"], "failed");
    assert_eq!(fetch["continued"], true);
    assert_eq!(step(&run, "summary")["status"], "succeeded");
    assert!(t.path("summary.txt").exists());
    assert_eq!(
        incidents(&t).len(),
        1,
        "an optional step's failure opens none"
    );
}

#[test]
fn operators_acknowledge_and_resolve_and_a_success_is_noted() {
    let t = Tree::new();
    t.file("runbooks/flaky.yaml", FLAKY)
        .job("load", &flaky_job(3))
        .file(
            "unyo.yaml",
            "incidents:\n  report_deadline: { medium: 2h }\n",
        );
    assert_eq!(t.run(&["run", "load"]).status.code(), Some(1));
    let i = &incidents(&t)[0];
    let opened =
        chrono::DateTime::parse_from_rfc3339(i["opened_at"].as_str().expect("t")).expect("time");
    let due = chrono::DateTime::parse_from_rfc3339(i["report_deadline"].as_str().expect("t"))
        .expect("time");
    assert_eq!((due - opened).num_hours(), 2);

    let out = t.run(&["incident", "ack", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    let user = text(&out.stdout);
    assert!(user.starts_with("incident 1 acknowledged by "), "{user}");
    let again = t.run(&["incident", "ack", "1"]);
    assert_eq!(again.status.code(), Some(3));
    assert!(text(&again.stderr).contains("incident 1 is acknowledged already"));
    let out = t.run(&[
        "incident",
        "resolve",
        "1",
        "--cause",
        "",
        "--countermeasure",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(3));

    // The job succeeds again: a note, the incident stays open (auto_resolve is off).
    let out = t.run(&["run", "load"]);
    assert!(out.status.success(), "{}", both(&out));
    let shown = incident(&t, 1);
    assert_eq!(shown["status"], "acknowledged");
    let last = shown["events"]
        .as_array()
        .expect("events")
        .last()
        .cloned()
        .expect("event");
    assert_eq!(last["kind"], "note");
    assert_eq!(last["text"], "`load` succeeded again in run 2");

    let out = t.run(&[
        "incident",
        "resolve",
        "1",
        "--cause",
        "a batch held a lock on the tax table",
        "--countermeasure",
        "the batch now commits every 1,000 rows",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let shown = incident(&t, 1);
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["cause"], "a batch held a lock on the tax table");
    assert_eq!(shown["resolved_by"], shown["acknowledged_by"]);
    assert_eq!(t.run(&["incident", "show", "9"]).status.code(), Some(3));

    // Every action is on the audit trail, refusals included, and the trail cannot change.
    let out = t.run(&["audit", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    let trail: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let actions: Vec<(String, String, String)> = trail
        .as_array()
        .expect("array")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().expect("action").to_owned(),
                e["target"].as_str().expect("target").to_owned(),
                e["outcome"].as_str().expect("outcome").to_owned(),
            )
        })
        .collect();
    let expect = |a: &str, t: &str, o: &str| (a.to_owned(), t.to_owned(), o.to_owned());
    assert_eq!(
        actions,
        [
            expect("run", "job load", "done"),
            expect("incident.ack", "incident 1", "done"),
            expect("incident.ack", "incident 1", "refused"),
            expect("run", "job load", "done"),
            expect("incident.resolve", "incident 1", "done"),
        ]
    );
    assert_eq!(
        trail[4]["args"]["cause"],
        "a batch held a lock on the tax table"
    );
    assert!(
        trail
            .as_array()
            .expect("array")
            .iter()
            .all(|e| e["user"] == trail[0]["user"])
    );
    let db = rusqlite::Connection::open(t.path("var/unyo.db")).expect("db");
    let err = db
        .execute("DELETE FROM audit", [])
        .expect_err("the trail is append-only");
    assert!(err.to_string().contains("append-only"), "{err}");

    // After a resolution the same failure opens a new incident.
    std::fs::remove_file(t.path("count")).expect("reset");
    assert_eq!(t.run(&["run", "load"]).status.code(), Some(1));
    assert_eq!(incidents(&t).len(), 2);
    let out = t.run(&["incidents", "--status", "open"]);
    assert!(text(&out.stdout).contains("\n2 "), "{}", both(&out));
}

#[test]
fn auto_resolve_closes_the_incident_when_the_job_succeeds_again() {
    let t = Tree::new();
    t.file("runbooks/flaky.yaml", FLAKY)
        .job("load", &flaky_job(3))
        .file(
            "unyo.yaml",
            "incidents:\n  auto_resolve: true\n  severity: low\n",
        );
    assert_eq!(t.run(&["run", "load"]).status.code(), Some(1));
    assert_eq!(incidents(&t)[0]["severity"], "low");
    assert!(t.run(&["run", "load"]).status.success());
    let shown = incident(&t, 1);
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["resolved_by"], "unyo");
}

#[test]
fn bad_incident_settings_are_reported_with_their_place() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "incidents:\n  severity: urgent\n  report_deadline: { hihg: 1d, low: soon }\n  autoresolve: true\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:4:3: unknown key `autoresolve`"),
        "{err}"
    );
}

#[test]
fn an_escalating_rule_opens_one_incident_per_run_and_its_own_retry_does_not_close_it() {
    let t = Tree::new();
    t.file(
        "runbooks/loud.yaml",
        "rules:\n  - match: any\n    retry: { max: 2, initial: 50ms }\n    escalate: { severity: high }\n",
    )
    .file("unyo.yaml", "incidents:\n  auto_resolve: true\n")
    .job("always", "runbook: loud\nsteps:\n  a:\n    run: exit 9\n")
    .job(
        "second-try",
        "runbook: loud\nsteps:\n  a:\n    run: |\n      [ -f tried ] && exit 0; touch tried; exit 9\n",
    );
    assert_eq!(t.run(&["run", "always"]).status.code(), Some(1));
    let list = incidents(&t);
    assert_eq!(list.len(), 1);
    assert_eq!(
        list[0]["occurrences"], 1,
        "three attempts, one run: {list:?}"
    );
    let run = t.show(1);
    let a = attempts(&run, "a");
    assert_eq!(a.len(), 3);
    assert!(
        a[1]["action"]
            .as_str()
            .is_some_and(|s| s.contains("open already")),
        "{a:?}"
    );

    // The retry works: the incident its first attempt opened stays open (auto_resolve only
    // closes incidents of earlier runs).
    assert!(t.run(&["run", "second-try"]).status.success());
    let list = incidents(&t);
    let second = list
        .iter()
        .find(|i| i["job"] == "second-try")
        .expect("incident");
    assert_eq!(second["status"], "open");
    // A later success closes it, and a person can still record the cause afterwards.
    assert!(t.run(&["run", "second-try"]).status.success());
    let id = second["id"].as_i64().expect("id");
    let shown = incident(&t, id);
    assert_eq!(shown["status"], "resolved");
    assert_eq!(shown["resolved_by"], "unyo");
    let out = t.run(&[
        "incident",
        "resolve",
        &id.to_string(),
        "--cause",
        "a flaky mount",
        "--countermeasure",
        "mount moved to local disk",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(incident(&t, id)["cause"], "a flaky mount");
}

#[test]
fn remediation_templates_are_checked_by_validate() {
    let t = Tree::new();
    t.file(
        "runbooks/bad.yaml",
        "rules:\n  - match: any\n    remediate: { run: \"rm {{{settings.log_dir}}}/x\" }\n  - match: any\n    remediate: { argv: [echo, \"{{#if}}\"] }\n",
    );
    let err = refused_definitions(&t);
    assert!(err.contains("runbooks/bad.yaml:3:16: `{{{...}}}`"), "{err}");
    assert!(
        err.contains("runbooks/bad.yaml:5:16: bad template `{{#if}}`"),
        "{err}"
    );
}
