//! `unyo act param-set`, `unyo params history|rollback` and the shipped `param-change` job,
//! on fresh demo environments in temp dirs.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::helper::{Tree, both};

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

fn demo() -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    assert_exit(&t.run(&["demo", "init"]), 0);
    t
}

const PARAMS: &str = "var/city/online/params.yaml";

fn param_set(t: &Tree, file: &str, key: &str, value: &str) -> Output {
    t.run(&[
        "act",
        "param-set",
        "--file",
        &t.path(file).display().to_string(),
        "--key",
        key,
        "--value",
        value,
        "--reason",
        "test",
    ])
}

fn history(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["params", "history", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).expect("history json")
}

fn read(t: &Tree, file: &str) -> String {
    std::fs::read_to_string(t.path(file)).expect("read")
}

#[test]
fn param_set_history_and_rollback() {
    let t = demo();
    let file = t.path(PARAMS);
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");

    assert_exit(&param_set(&t, PARAMS, "tax_rate_percent", "8"), 0);
    let text = read(&t, PARAMS);
    assert!(text.lines().any(|l| l == "tax_rate_percent: 8"), "{text}");
    assert!(text.lines().any(|l| l == "maintenance: false"), "{text}");
    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);

    let h = history(&t);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["key"], "tax_rate_percent");
    assert_eq!(h[0]["before"], 10);
    assert_eq!(h[0]["after"], 8);
    assert_eq!(h[0]["reason"], "test");
    assert!(h[0]["run_id"].is_null());
    let id = h[0]["id"].as_i64().expect("id").to_string();

    assert_exit(&t.run(&["params", "rollback", &id]), 0);
    assert!(
        read(&t, PARAMS)
            .lines()
            .any(|l| l == "tax_rate_percent: 10")
    );
    let h = history(&t);
    assert_eq!(h.len(), 2);
    assert_eq!(
        (h[0]["before"].clone(), h[0]["after"].clone()),
        (8.into(), 10.into())
    );
    assert_eq!(h[1]["rolled_back_by"], h[0]["id"]);

    // A second rollback of the same change is refused and writes nothing.
    let out = t.run(&["params", "rollback", &id]);
    assert_exit(&out, 3);
    assert!(both(&out).contains("rolled back already"), "{}", both(&out));
    assert_eq!(history(&t).len(), 2);

    // A change whose value was edited since is not rolled back.
    assert_exit(&param_set(&t, PARAMS, "tax_rate_percent", "9"), 0);
    let id = history(&t)[0]["id"].as_i64().expect("id").to_string();
    let edited = read(&t, PARAMS).replace("tax_rate_percent: 9", "tax_rate_percent: 7");
    std::fs::write(&file, &edited).expect("edit");
    let out = t.run(&["params", "rollback", &id]);
    assert_exit(&out, 3);
    assert!(both(&out).contains("changed since"), "{}", both(&out));
    assert_eq!(read(&t, PARAMS), edited);

    // A key added by a change is removed by its rollback.
    assert_exit(&param_set(&t, PARAMS, "counters.max_sessions", "50"), 0);
    assert!(read(&t, PARAMS).contains("  max_sessions: 50"));
    let id = history(&t)[0]["id"].as_i64().expect("id").to_string();
    assert_exit(&t.run(&["params", "rollback", &id]), 0);
    assert!(!read(&t, PARAMS).contains("max_sessions"));

    // Both actions are in the audit trail.
    let out = t.run(&["audit", "--json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit");
    let actions: Vec<_> = audit.iter().map(|a| a["action"].as_str()).collect();
    assert!(actions.contains(&Some("param.set")), "{actions:?}");
    assert!(actions.contains(&Some("param.rollback")), "{actions:?}");
}

#[test]
fn a_bad_key_path_is_named_and_nothing_is_written() {
    let t = demo();
    let before = read(&t, PARAMS);
    let out = param_set(&t, PARAMS, "limits.max_sessions", "5");
    assert_exit(&out, 1);
    assert!(both(&out).contains("limits.max_sessions"), "{}", both(&out));
    assert_eq!(read(&t, PARAMS), before);
    assert!(history(&t).is_empty());

    t.file("var/city/online/params.toml", "a = 1\n");
    let out = param_set(&t, "var/city/online/params.toml", "a", "2");
    assert_exit(&out, 1);
    assert!(both(&out).contains("TOML"), "{}", both(&out));
}

#[test]
fn json_files_keep_types_and_key_order() {
    let t = demo();
    let file = "var/city/online/limits.json";
    t.file(
        file,
        "{\n  \"zeta\": 1,\n  \"alpha\": {\"on\": false, \"name\": \"x\"}\n}\n",
    );
    assert_exit(&param_set(&t, file, "alpha.on", "true"), 0);
    assert_exit(&param_set(&t, file, "alpha.name", "10 days"), 0);
    assert_exit(&param_set(&t, file, "zeta", "2.5"), 0);
    let text = read(&t, file);
    let v: serde_json::Value = serde_json::from_str(&text).expect("json");
    assert_eq!(v["alpha"]["on"], true);
    assert_eq!(v["alpha"]["name"], "10 days");
    assert_eq!(v["zeta"], 2.5);
    assert!(text.find("zeta") < text.find("alpha"), "{text}");
}

#[test]
fn the_param_change_job_sets_the_value_on_its_effective_date_and_not_before() {
    let t = demo();
    // A day back, so that it is not after the business date in any time zone.
    let effective = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let out = t.run(&[
        "run",
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        "value=8",
        "-p",
        &format!("effective={effective}"),
    ]);
    assert_exit(&out, 0);
    assert!(read(&t, PARAMS).lines().any(|l| l == "tax_rate_percent: 8"));
    let h = history(&t);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["after"], 8);
    assert_eq!(h[0]["run_id"], 1);

    let out = t.run(&[
        "run",
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        "value=6",
        "-p",
        "effective=2099-01-01",
    ]);
    assert_exit(&out, 1);
    let logs = t.run(&["logs", "2", "--step", "check-effective"]);
    assert!(
        both(&logs).contains("before the effective date"),
        "{}",
        both(&logs)
    );
    assert!(read(&t, PARAMS).lines().any(|l| l == "tax_rate_percent: 8"));
    assert_eq!(history(&t).len(), 1);
}
