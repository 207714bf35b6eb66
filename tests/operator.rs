//! The operator's commands with the real binary: cancel (queued, in the daemon, in a
//! foreground `unyo run`), refusals, and their audit trail.

use std::process::Stdio;
use std::time::Duration;

use crate::helper::{Tree, both, live_group_members, refused_definitions, text, wait_for};

/// The first attempt's pid, once the run is recorded and the pid with it.
fn pid_of(t: &Tree, run: i64) -> Option<i64> {
    // The database file appears a moment before the run is recorded in it: until then, not yet.
    let out = t.run(&["show", &run.to_string(), "--json"]);
    let run: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
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

const EXTRACT: &str = r#"description: Data extract for a department
params:
  department: { type: string, pattern: "[a-z-]+", max_len: 20, required: true }
  rows:       { type: int, min: 1, max: 1000, default: 100 }
  mode:       { type: enum, values: [full, diff], default: diff }
  month:      { type: month, default: previous }
  out:        { type: path, roots: [exports], default: exports/extract.csv }
steps:
  show:
    run: |
      printf '%s|%s|%s|%s|%s' "$UNYO_PARAM_DEPARTMENT" "$UNYO_PARAM_ROWS" "$UNYO_PARAM_MODE" "$UNYO_PARAM_MONTH" "$UNYO_PARAM_OUT" > seen.txt
      echo {{params.department}} > quoted.txt
"#;

#[test]
fn typed_parameters_are_checked_and_normalised() {
    let t = Tree::new();
    t.job("extract", EXTRACT);
    let out = t.run(&[
        "run",
        "extract",
        "-p",
        "department=tax-office",
        "-p",
        "month=current",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let seen = std::fs::read_to_string(t.path("seen.txt")).expect("seen");
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo);
    let root = t.root().display().to_string();
    assert_eq!(
        seen,
        format!(
            "tax-office|100|diff|{}|{root}/exports/extract.csv",
            today.format("%Y-%m")
        )
    );
    for (arg, wanted) in [
        (
            "department=Tax",
            "parameter `department`: `Tax` does not match the pattern `[a-z-]+`",
        ),
        (
            "department=a-very-long-department-name",
            "at most 20 are allowed (max_len)",
        ),
        ("rows=0", "parameter `rows`: 0 is less than the minimum 1"),
        ("rows=5000", "5000 is more than the maximum 1000"),
        (
            "mode=ful",
            "parameter `mode`: `ful` is not one of: full, diff (did you mean `full`?)",
        ),
        (
            "month=2026-13",
            "`2026-13` is not a month (`YYYY-MM`, `previous` or `current`)",
        ),
        (
            "out=../etc/passwd",
            "parameter `out`: `../etc/passwd` must not contain `..`",
        ),
        (
            "out=/etc/passwd",
            "`/etc/passwd` is outside the allowed folders",
        ),
        ("out=exports/../../x", "must not contain `..`"),
        ("colour=red", "unknown parameter `colour`"),
    ] {
        let out = t.run(&["run", "extract", "-p", "department=tax", "-p", arg]);
        assert_eq!(out.status.code(), Some(3), "{arg}: {}", both(&out));
        assert!(
            text(&out.stderr).contains(wanted),
            "{arg}: {}",
            text(&out.stderr)
        );
    }
    let out = t.run(&["run", "extract"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("parameter `department` is required"));
}

#[test]
fn hostile_parameter_values_never_execute() {
    let t = Tree::new();
    t.job(
        "echo",
        "params:\n  text: { type: string }\nsteps:\n  a:\n    run: |\n      printf '%s\\n' {{params.text}} > line.txt\n      printf '%s' \"$UNYO_PARAM_TEXT\" > env.txt\n",
    );
    for &hostile in crate::helper::HOSTILE {
        let out = t.run(&["run", "echo", "-p", &format!("text={hostile}")]);
        assert!(out.status.success(), "{hostile:?}: {}", both(&out));
        assert!(!t.path("pwned").exists(), "{hostile:?} executed");
        assert_eq!(
            std::fs::read_to_string(t.path("env.txt")).expect("env"),
            hostile,
            "the value reaches the step as it was given"
        );
        assert_eq!(
            std::fs::read_to_string(t.path("line.txt")).expect("line"),
            format!("{hostile}\n")
        );
    }
    // Control characters are refused outright.
    let out = t.run(&["run", "echo", "-p", "text=a\u{7}b"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("control character U+0007"));
}

#[test]
fn parameter_declarations_are_validated() {
    let t = Tree::new();
    t.job(
        "bad",
        "params:\n  a: { type: enum }\n  b: { type: int, pattern: x }\n  c: { type: string, pattern: \"(\" }\n  d: { type: int, min: 5, max: 1 }\n  e: { type: path }\n  f: { type: enum, values: [x, y], default: z }\n  g: { type: list }\n  h: { type: list, values: [a, \"b,c\", a] }\n  i: { type: list, values: [a, b], default: \"a,a\" }\n  j: { type: int, values: [1] }\nsteps:\n  s:\n    run: echo\n",
    );
    let err = refused_definitions(&t);
    for wanted in [
        "jobs/bad.yaml:2:6: enum parameter `a` needs `values`",
        "jobs/bad.yaml:3:28: `pattern` applies to string parameters; `b` is `int`",
        "bad `pattern` for `c`",
        "`max` 1 is less than `min` 5",
        "path parameter `e` needs `roots`",
        "default of parameter `f`: `z` is not one of: x, y",
        "list parameter `g` needs `values`",
        "list parameter `h`: value `b,c` must not be empty, hold a comma",
        "list parameter `h`: value `a` is listed twice",
        "default of parameter `i`: `a` is given twice",
        "`values` applies to enum and list parameters; `j` is `int`",
    ] {
        assert!(err.contains(wanted), "missing {wanted:?} in:\n{err}");
    }
}

const ROLLOVER: &str = r#"description: Fiscal-year rollover, after a person's approval
separate_approver: true
adhoc: true
steps:
  prepare:
    run: echo prepared > prepared.txt
  confirm:
    needs: [prepare]
    approval: { message: "switch the fiscal year?" }
    timeout: 1h
  switch:
    needs: [confirm]
    run: echo switched > switched.txt
"#;

/// `unyo run JOB` in a thread; returns its output when it ends.
fn background_run(t: &Tree, job: &str) -> std::thread::JoinHandle<std::process::Output> {
    let mut cmd = t.unyo();
    cmd.args(["run", job]);
    std::thread::spawn(move || cmd.output().expect("run"))
}

fn wait_for_gate(t: &Tree, run: i64, step: &str) {
    wait_for("the approval step to wait", || {
        std::fs::metadata(t.path("var/unyo.db")).ok()?;
        // The run is recorded a moment after the database file appears: until then, not yet.
        let out = t.run(&["show", &run.to_string(), "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (crate::helper::step(&r, step)["status"] == "waiting_approval").then_some(())
    });
}

#[test]
fn an_approval_step_waits_for_another_operator() {
    let t = Tree::new();
    t.job("rollover", ROLLOVER);
    let handle = background_run(&t, "rollover");
    wait_for_gate(&t, 1, "confirm");
    assert!(t.path("prepared.txt").exists() && !t.path("switched.txt").exists());
    let shown = text(&t.run(&["status"]).stdout);
    assert!(shown.contains("confirm: waiting for approval"), "{shown}");
    // The operator who started it may not approve it (separate_approver).
    let out = t.run(&["approve", "1", "confirm"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("another operator must approve it"));
    // Another operating-system user may.
    for p in [t.path("var"), t.root().to_path_buf()] {
        std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o777))
            .expect("chmod");
    }
    for f in std::fs::read_dir(t.path("var")).expect("var") {
        let f = f.expect("entry").path();
        if f.is_file() {
            std::fs::set_permissions(&f, std::os::unix::fs::PermissionsExt::from_mode(0o666))
                .expect("chmod");
        }
    }
    let out = std::process::Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .args(["approve", "1", "confirm", "--comment", "budget closed"])
        .output()
        .expect("setpriv");
    assert!(out.status.success(), "{}", both(&out));
    let run = handle.join().expect("join");
    assert!(run.status.success(), "{}", both(&run));
    assert!(t.path("switched.txt").exists());
    let r = t.show(1);
    let confirm = crate::helper::step(&r, "confirm");
    assert_eq!(confirm["status"], "succeeded");
    assert_eq!(confirm["reason"], "approved by nobody: budget closed");
    let trail = audit(&t);
    let decisions: Vec<(String, String, String)> = trail
        .iter()
        .filter(|e| e["action"] == "approve")
        .map(|e| {
            (
                e["user"].as_str().expect("user").to_owned(),
                e["outcome"].as_str().expect("outcome").to_owned(),
                e["target"].as_str().expect("target").to_owned(),
            )
        })
        .collect();
    assert_eq!(decisions.len(), 2);
    assert_eq!(decisions[0].1, "refused");
    assert_eq!(
        (
            decisions[1].0.as_str(),
            decisions[1].1.as_str(),
            decisions[1].2.as_str()
        ),
        ("nobody", "done", "run 1 step confirm")
    );
}

#[test]
fn a_rejected_or_unanswered_gate_fails_the_run() {
    let t = Tree::new();
    t.job(
        "rollover",
        &ROLLOVER.replace("separate_approver: true\n", ""),
    );
    t.job(
        "quick",
        "steps:\n  ask:\n    approval: {}\n    timeout: 1s\n  after:\n    needs: [ask]\n    run: echo never\n",
    );
    let handle = background_run(&t, "rollover");
    wait_for_gate(&t, 1, "confirm");
    let out = t.run(&[
        "reject",
        "1",
        "confirm",
        "--reason",
        "the budget is not closed",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(handle.join().expect("join").status.code(), Some(1));
    let r = t.show(1);
    assert_eq!(r["status"], "failed");
    assert_eq!(
        crate::helper::step(&r, "confirm")["reason"],
        format!(
            "rejected by {}: the budget is not closed",
            r["requested_by"].as_str().expect("user")
        )
    );
    assert_eq!(crate::helper::step(&r, "switch")["status"], "skipped");
    // A decision is not an incident; a second decision is refused.
    let out = t.run(&["incidents", "--json"]);
    assert_eq!(text(&out.stdout).trim(), "[]");
    assert_eq!(t.run(&["approve", "1", "confirm"]).status.code(), Some(3));
    // No answer in time: the step fails and the run opens an incident.
    let out = t.run(&["run", "quick"]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let r = t.show(2);
    assert_eq!(
        crate::helper::step(&r, "ask")["reason"],
        "no approval within 1.0s"
    );
    let out = t.run(&["incidents", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(list[0]["failure_class"], "approval timeout");
}

#[test]
fn an_approval_step_runs_no_command() {
    let t = Tree::new();
    t.job(
        "bad",
        "steps:\n  ask:\n    approval: { mesage: hi }\n    run: echo\n  none:\n    description: nothing to do\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("unknown key `mesage` (did you mean `message`?)"),
        "{err}"
    );
}

/// A mistyped step name in `unyo approve` was only "no approval step waiting": now the run's
/// approval step is suggested, and the refusal is audited.
#[test]
fn approve_suggests_the_approval_step_of_a_mistyped_name() {
    let t = Tree::new();
    t.job(
        "rollover",
        &ROLLOVER.replace("separate_approver: true\n", ""),
    );
    let handle = background_run(&t, "rollover");
    wait_for_gate(&t, 1, "confirm");
    let out = t.run(&["approve", "1", "confrim"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: run 1 has no step `confrim` (did you mean `confirm`?); its approval steps: confirm\n"
    );
    let out = t.run(&["reject", "1", "swtich", "--reason", "no"]);
    assert_eq!(
        text(&out.stderr),
        "error: run 1 has no step `swtich` (did you mean `switch`?); its approval steps: confirm\n"
    );
    // `logs --step` suggests too.
    let out = t.run(&["logs", "1", "--step", "prepaer"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: run 1 has no step `prepaer` (did you mean `prepare`?)\n"
    );
    let out = t.run(&["approve", "1", "confirm"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(handle.join().expect("join").status.success());
    let refused: Vec<String> = audit(&t)
        .iter()
        .filter(|e| e["outcome"] == "refused")
        .map(|e| format!("{} {}", e["action"], e["target"]))
        .collect();
    assert_eq!(
        refused,
        [
            "\"approve\" \"run 1 step confrim\"",
            "\"reject\" \"run 1 step swtich\""
        ]
    );
}

/// `unyo run` refused an unknown job or a bad parameter without a trace, while a refused
/// `unyo submit` was audited.
#[test]
fn a_refused_run_is_audited_like_a_refused_submit() {
    let t = Tree::new();
    t.job(
        "cleanup",
        "params:\n  days: { type: int, min: 1 }\nsteps:\n  a:\n    run: echo {{params.days}}\n",
    );
    for (args, why) in [
        (
            &["run", "clenaup"][..],
            "unknown job `clenaup` (did you mean `cleanup`?); jobs: cleanup",
        ),
        (&["run", "cleanup", "-p", "days=0"], "`days`"),
        (&["run", "cleanup", "-p", "days"], "days"),
        (&["run", "cleanup", "-p", "weeks=1"], "`weeks`"),
        (&["run", "nothing", "--detach"], "unknown job `nothing`"),
    ] {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", both(&out));
        assert!(text(&out.stderr).contains(why), "{args:?}: {}", both(&out));
    }
    let out = t.run(&["run", "cleanup", "-p", "days=3"]);
    assert!(out.status.success(), "{}", both(&out));
    let trail: Vec<(String, String, String, String)> = audit(&t)
        .iter()
        .map(|e| {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_owned();
            (s("action"), s("target"), s("outcome"), s("detail"))
        })
        .collect();
    let got: Vec<(&str, &str, &str)> = trail
        .iter()
        .map(|(a, t, o, _)| (a.as_str(), t.as_str(), o.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("run", "job clenaup", "refused"),
            ("run", "job cleanup", "refused"),
            ("run", "job cleanup", "refused"),
            ("run", "job cleanup", "refused"),
            ("run.detach", "job nothing", "refused"),
            ("run", "job cleanup", "done"),
        ]
    );
    assert!(trail[0].3.starts_with("unknown job `clenaup`"), "{trail:?}");
    let args = t.run(&["audit", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&args.stdout).expect("json");
    assert_eq!(list[1]["args"]["params"][0], "days=0");
}

/// `incident ack 9999` said "no incident 9999" and `incident show 99` "no incident 99 is
/// recorded": one wording and one exit code for every command given an unknown id.
#[test]
fn an_unknown_run_or_incident_is_worded_the_same_by_every_command() {
    let t = Tree::new();
    t.job("a", "steps:\n  s:\n    run: echo\n");
    assert!(t.run(&["run", "a"]).status.success());
    for args in [
        &["incident", "show", "99"][..],
        &["incident", "show", "99", "--json"],
        &["incident", "ack", "99"],
        &[
            "incident",
            "resolve",
            "99",
            "--cause",
            "c",
            "--countermeasure",
            "m",
        ],
    ] {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", both(&out));
        assert_eq!(
            text(&out.stderr),
            "error: no incident 99 is recorded\n",
            "{args:?}"
        );
    }
    for args in [
        &["show", "99"][..],
        &["show", "99", "--json"],
        &["logs", "99"],
        &["logs", "99", "--step", "s"],
        &["cancel", "99"],
        &["rerun", "99"],
        &["approve", "99", "s"],
        &["reject", "99", "s", "--reason", "r"],
    ] {
        let out = t.run(args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", both(&out));
        assert_eq!(
            text(&out.stderr),
            "error: no run 99 is recorded\n",
            "{args:?}"
        );
    }
}

/// Issue 13 item 16: `unyo status` showed a run due next April as `04-01 09:00`, without its
/// year.
#[test]
fn status_shows_the_year_of_a_run_due_next_april() {
    let t = Tree::new();
    t.job("yearly", "adhoc: true\nsteps:\n  a:\n    run: echo\n");
    let tz = chrono_tz::Asia::Tokyo;
    let next_year = chrono::Datelike::year(&chrono::Utc::now().with_timezone(&tz)) + 1;
    let at = format!("{next_year}-04-01 09:00");
    let out = t.run(&["submit", "yearly", "--at", &at]);
    assert!(out.status.success(), "{}", both(&out));
    let out = t.run(&["status"]);
    assert!(out.status.success(), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(said.contains(&format!("not before {at}")), "{said}");
}

/// Issue 13 item 16: `unyo status` cut an incident's summary at 30 characters with "…". Piped
/// (this test's stdout is not a terminal), it is printed whole, however long.
#[test]
fn status_prints_a_long_summary_whole_when_piped() {
    let t = Tree::new();
    t.job(
        "nightly-ledger-reconciliation-of-the-finance-department",
        "steps:\n  compare-the-ledger-with-the-bank-statements-of-the-month:\n    run: exit 3\n",
    );
    let out = t.run(&[
        "run",
        "nightly-ledger-reconciliation-of-the-finance-department",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let out = t.run(&["incidents", "--json"]);
    let incidents: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    let summary = incidents[0]["summary"]
        .as_str()
        .expect("summary")
        .to_owned();
    assert!(summary.chars().count() > 120, "{summary}");
    let out = t.run(&["status"]);
    assert!(out.status.success(), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(
        said.lines().any(|l| l.ends_with(&summary)),
        "the whole summary on one line:\n{said}"
    );
    assert!(!said.contains('…'), "{said}");
}

/// Issue 13 item 19: `--business-date` is what a step sees as its date: the templates'
/// `business_date`, `fiscal_year` and `previous_fiscal_year`, UNYO_BUSINESS_DATE, and
/// parameter defaults such as `month: previous` (a month-end rehearsal).
#[test]
fn a_given_business_date_reaches_templates_environment_and_parameter_defaults() {
    let t = Tree::new();
    t.job(
        "month-end",
        "params:\n  month: { type: month, default: previous }\nsteps:\n  dates:\n    argv: [echo, \"{{business_date}} FY{{fiscal_year}} FY{{previous_fiscal_year}} {{params.month}}\"]\n  env:\n    run: echo \"env $UNYO_BUSINESS_DATE\"\n",
    );
    let out = t.run(&["run", "month-end", "--business-date", "2027-04-01"]);
    assert!(out.status.success(), "{}", both(&out));
    let logs = text(&t.run(&["logs", "1"]).stdout);
    assert!(logs.contains("2027-04-01 FY2027 FY2026 2027-03"), "{logs}");
    assert!(logs.contains("env 2027-04-01"), "{logs}");
    let r = t.show(1);
    assert_eq!(r["params"]["month"], "2027-03");
    assert_eq!(r["business_date_given"], true);
}
