//! `unyo act param-set`, `unyo params history|rollback` and the shipped `param-change` job,
//! on fresh demo environments in temp dirs.

use std::os::unix::fs::PermissionsExt;
use std::process::Output;

use crate::helper::{Daemon, Tree, both, text};

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

/// `unyo run|submit param-change` of `tax_rate_percent` to `value` from `effective`, with
/// `extra` arguments after.
fn change_tax_rate(
    t: &Tree,
    command: &str,
    value: &str,
    effective: &str,
    extra: &[&str],
) -> std::process::Output {
    let (value, effective) = (format!("value={value}"), format!("effective={effective}"));
    let mut args = vec![
        command,
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        &value,
        "-p",
        &effective,
    ];
    args.extend_from_slice(extra);
    t.run(&args)
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

    t.file("var/city/online/params.conf", "a = 1\n");
    let out = param_set(&t, "var/city/online/params.conf", "a", "2");
    assert_exit(&out, 1);
    assert!(both(&out).contains("INI (.ini)"), "{}", both(&out));
}

const TOML: &str = "# Batch system settings\n\
    fiscal_year = 2026 # the year being worked in\n\
    \n\
    [counters]\n\
    # the last number issued\n\
    receipt_no   =   12   # per year\n\
    \n\
    [db.pool]\n\
    size = 4 # connections\n\
    timeouts = { connect = 5, query = 30 }\n";

const INI: &str = "; Batch system settings\r\n\
    mode = live\r\n\
    \r\n\
    [counters]\r\n\
    # the last number issued\r\n\
    receipt_no   =   12   ; per year\r\n\
    \r\n\
    [db.pool]\r\n\
    size: 4\r\n";

/// Sets `key` to `value` in `file`, checks the file is `text` with only `old` replaced by
/// `new` and kept its mode, then rolls the change back and checks the file is `text` again.
fn set_and_roll_back(
    t: &Tree,
    file: &str,
    text: &str,
    key: &str,
    value: &str,
    old: &str,
    new: &str,
) {
    t.file(file, text);
    let path = t.path(file);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o604)).expect("chmod");
    assert_exit(&param_set(t, file, key, value), 0);
    assert_eq!(text.matches(old).count(), 1, "{old}");
    assert_eq!(read(t, file), text.replace(old, new));
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o604);
    let id = history(t)[0]["id"].as_i64().expect("id").to_string();
    assert_exit(&t.run(&["params", "rollback", &id]), 0);
    assert_eq!(read(t, file), text);
}

#[test]
fn toml_files_keep_comments_and_layout_and_roll_back() {
    let t = demo();
    let f = "var/batch/settings.toml";
    set_and_roll_back(
        &t,
        f,
        TOML,
        "counters.receipt_no",
        "0",
        "=   12   #",
        "=   0   #",
    );
    set_and_roll_back(&t, f, TOML, "fiscal_year", "2027", "2026 #", "2027 #");
    set_and_roll_back(&t, f, TOML, "db.pool.size", "8", "size = 4 #", "size = 8 #");
    set_and_roll_back(
        &t,
        f,
        TOML,
        "db.pool.timeouts.query",
        "60",
        "query = 30",
        "query = 60",
    );
    // The value is typed as in YAML, and recorded as JSON.
    let h = history(&t);
    assert_eq!(
        (h[1]["before"].clone(), h[1]["after"].clone()),
        (30.into(), 60.into())
    );
    assert_exit(&param_set(&t, f, "counters.name", "FY 2027"), 0);
    assert!(read(&t, f).contains("receipt_no   =   12   # per year\nname = \"FY 2027\"\n"));
    assert_eq!(history(&t)[0]["before"], serde_json::Value::Null);

    let before = read(&t, f);
    let out = param_set(&t, f, "limits.max", "5");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("`limits` does not exist"),
        "{}",
        both(&out)
    );
    t.file("var/batch/broken.toml", "a = 1\nb = = 2\n");
    let out = param_set(&t, "var/batch/broken.toml", "a", "5");
    assert_exit(&out, 1);
    assert!(both(&out).contains("broken.toml:2:"), "{}", both(&out));
    assert_eq!(read(&t, f), before);
}

#[test]
fn ini_files_change_one_line_and_roll_back() {
    let t = demo();
    let f = "var/batch/settings.ini";
    set_and_roll_back(
        &t,
        f,
        INI,
        "counters.receipt_no",
        "0",
        "=   12   ;",
        "=   0   ;",
    );
    set_and_roll_back(&t, f, INI, "mode", "closed", "mode = live", "mode = closed");
    set_and_roll_back(&t, f, INI, "db.pool.size", "8", "size: 4", "size: 8");
    // INI values are text: recorded as JSON strings.
    let h = history(&t);
    assert_eq!(
        (h[1]["before"].clone(), h[1]["after"].clone()),
        ("4".into(), "8".into())
    );
    // A new key is one line at the end of its section; its rollback removes it.
    assert_exit(&param_set(&t, f, "counters.notice_no", "1"), 0);
    assert!(read(&t, f).contains("; per year\r\nnotice_no = 1\r\n\r\n[db.pool]"));
    let id = history(&t)[0]["id"].as_i64().expect("id").to_string();
    assert_exit(&t.run(&["params", "rollback", &id]), 0);
    assert_eq!(read(&t, f), INI);

    let out = param_set(&t, f, "limits.max", "5");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("no section `[limits]`"),
        "{}",
        both(&out)
    );
    t.file(
        "var/batch/twice.ini",
        "[a]\nx = 1\n[b]\ny = 2\n[a]\nz = 3\n",
    );
    let out = param_set(&t, "var/batch/twice.ini", "b.y", "5");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("twice.ini:5: section `[a]` appears again (first at line 1)"),
        "{}",
        both(&out)
    );
    assert_eq!(read(&t, f), INI);
}

#[test]
fn yaml_files_keep_their_comments() {
    let t = demo();
    let before = read(&t, PARAMS);
    assert_exit(&param_set(&t, PARAMS, "counters.receipt_no", "0"), 0);
    let after = read(&t, PARAMS);
    assert_eq!(
        after,
        before.replace("  receipt_no: 1\n", "  receipt_no: 0\n")
    );
    assert!(
        after.starts_with("# The online system's parameters"),
        "{after}"
    );
}

#[test]
fn json_files_keep_types_and_key_order() {
    let t = demo();
    let file = "var/city/online/limits.json";
    t.file(
        file,
        "{\n  \"zeta\": 1.5,\n  \"alpha\": {\"on\": false, \"name\": \"x\"}\n}\n",
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
    let out = change_tax_rate(&t, "run", "8", &effective, &[]);
    assert_exit(&out, 0);
    assert!(read(&t, PARAMS).lines().any(|l| l == "tax_rate_percent: 8"));
    let h = history(&t);
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["after"], 8);
    assert_eq!(h[0]["run_id"], 1);

    let out = change_tax_rate(&t, "run", "6", "2099-01-01", &[]);
    // Too early: the run refuses (exit 5) with the reason, and opens no incident.
    assert_exit(&out, 5);
    let logs = t.run(&["logs", "2", "--step", "check-effective"]);
    assert!(
        both(&logs).contains("before the effective date"),
        "{}",
        both(&logs)
    );
    let r = t.show(2);
    assert_eq!(r["status"], "refused");
    assert!(
        r["reason"].as_str().is_some_and(|s| s
            .starts_with("step `check-effective` refused: business date ")
            && s.ends_with("is before the effective date 2099-01-01: nothing changed")),
        "{r:#}"
    );
    assert_eq!(crate::helper::step(&r, "param-set")["status"], "skipped");
    let incidents = t.run(&["incidents", "--json"]);
    assert_eq!(text(&incidents.stdout).trim(), "[]", "{}", both(&incidents));
    assert!(read(&t, PARAMS).lines().any(|l| l == "tax_rate_percent: 8"));
    assert_eq!(history(&t).len(), 1);
}

#[test]
fn param_set_with_expect_refuses_another_value_and_param_check_names_each_difference() {
    let t = demo();
    let file = t.path(PARAMS).display().to_string();
    let before = read(&t, PARAMS);
    let set = |expect: &str| {
        t.run(&[
            "act",
            "param-set",
            "--file",
            &file,
            "--key",
            "fiscal_year",
            "--value",
            "2027",
            "--expect",
            expect,
        ])
    };
    let out = set("2025");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("`fiscal_year` is 2026, not 2025 as expected: nothing written"),
        "{}",
        both(&out)
    );
    assert_eq!(read(&t, PARAMS), before);
    assert!(history(&t).is_empty());
    assert_exit(&set("2026"), 0);
    assert!(read(&t, PARAMS).contains("\nfiscal_year: 2027\n"));

    let check = |args: &[&str]| {
        let mut a = vec!["act", "param-check", "--file", &file];
        a.extend_from_slice(args);
        t.run(&a)
    };
    assert_exit(&check(&["fiscal_year=2027", "counters.receipt_no=1"]), 0);
    // A difference is a refusal (exit 5), which a step can declare in `refuse_exit`.
    let out = check(&["fiscal_year=2026", "counters.receipt_no=1", "counters.x=0"]);
    assert_exit(&out, 5);
    let msg = both(&out);
    assert!(
        msg.contains("`fiscal_year` is 2027, not 2026; `counters.x` is (absent), not 0"),
        "{msg}"
    );
}

/// `unyo --root T` as a plain process, to start several at once.
fn unyo(t: &Tree) -> std::process::Command {
    let mut c = std::process::Command::new(crate::helper::unyo_bin());
    c.env_remove("UNYO_ROOT")
        .arg("--root")
        .arg(t.root())
        .stdout(std::process::Stdio::null());
    c
}

/// Parameter changes and the maintenance flag started at the same moment on one file take
/// turns: none of them is lost, and each is recorded once.
#[test]
fn concurrent_changes_to_one_file_are_all_kept() {
    let t = demo();
    let file = t.path(PARAMS).display().to_string();
    let mut children = Vec::new();
    for i in 0..8 {
        let mut cmd = unyo(&t);
        cmd.args([
            "act",
            "param-set",
            "--file",
            &file,
            "--key",
            &format!("counters.parallel_{i}"),
            "--value",
            &i.to_string(),
        ]);
        children.push(cmd.spawn().expect("spawn param-set"));
    }
    let mut cmd = unyo(&t);
    cmd.args(["act", "maintenance", "on", "--params", &file]);
    children.push(cmd.spawn().expect("spawn maintenance"));
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let text = read(&t, PARAMS);
    for i in 0..8 {
        assert!(
            text.lines()
                .any(|l| l.trim() == format!("parallel_{i}: {i}")),
            "parallel_{i} in {text}"
        );
    }
    assert!(text.lines().any(|l| l == "maintenance: true"), "{text}");
    assert_eq!(history(&t).len(), 8);
}

/// The command of the report that found it: a shell expression into a numeric parameter.
const HOSTILE: &str = "value=$(touch x)";

#[test]
fn a_value_of_another_type_is_refused_before_anything_changes() {
    let t = demo();
    let before = std::fs::read(t.path(PARAMS)).expect("read");
    let effective = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let effective = format!("effective={effective}");
    // The command as it was found, and with the date it lacked: refused before a run is even
    // recorded, by the job's `type_by`, naming the parameter, the key, its type and the value.
    let out = t.run(&[
        "run",
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        HOSTILE,
    ]);
    assert_exit(&out, 3);
    let out = t.run(&[
        "run",
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        HOSTILE,
        "-p",
        &effective,
    ]);
    assert_exit(&out, 3);
    assert_eq!(
        crate::helper::text(&out.stderr),
        "error: parameter `value`: `$(touch x)` is not an int, the type of `tax_rate_percent` \
         (`type_by` of job `param-change`)\n"
    );
    let out = t.run(&[
        "submit",
        "param-change",
        "-p",
        "key=tax_rate_percent",
        "-p",
        HOSTILE,
        "-p",
        &effective,
    ]);
    assert_exit(&out, 3);
    assert!(both(&out).contains("is not an int"), "{}", both(&out));
    assert_eq!(t.run(&["runs", "--json"]).stdout, b"[]\n");

    // `param-set` itself keeps the type of the value it replaces, whatever the job declares.
    let out = param_set(&t, PARAMS, "tax_rate_percent", "$(touch x)");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains(&format!(
            "{}: `tax_rate_percent` is of type int (now 10); `$(touch x)` is not an int: \
             nothing written",
            t.path(PARAMS).display()
        )),
        "{}",
        both(&out)
    );
    let out = param_set(&t, PARAMS, "maintenance", "1");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("`maintenance` is of type bool (now false); `1` is not a bool"),
        "{}",
        both(&out)
    );
    assert_eq!(std::fs::read(t.path(PARAMS)).expect("read"), before);
    assert!(!t.path("x").exists() && !t.path("var/x").exists());
    assert!(history(&t).is_empty());

    // The same type is accepted: int for an int, bool for a bool.
    assert_exit(&param_set(&t, PARAMS, "tax_rate_percent", "8"), 0);
    assert_exit(&param_set(&t, PARAMS, "maintenance", "true"), 0);
    let text = read(&t, PARAMS);
    assert!(text.lines().any(|l| l == "tax_rate_percent: 8"), "{text}");
    assert!(text.lines().any(|l| l == "maintenance: true"), "{text}");
}

#[test]
fn every_format_keeps_the_type_of_the_value_it_replaces() {
    let t = demo();
    t.file(
        "var/p.json",
        "{\"on\": false, \"n\": 3, \"rate\": 1.5, \"name\": \"x\"}\n",
    );
    t.file("var/p.toml", "on = false\nn = 3\nname = \"x\"\n");
    t.file(
        "var/p.ini",
        "[a]\non = yes\nn = 3\nrate = 1.5\nname = live\n",
    );
    for (file, key, value, ty) in [
        ("var/p.json", "on", "yes please", "bool"),
        ("var/p.json", "n", "3.5", "int"),
        ("var/p.json", "rate", "fast", "float"),
        ("var/p.toml", "n", "true", "int"),
        ("var/p.toml", "on", "0", "bool"),
        ("var/p.ini", "a.n", "many", "int"),
        ("var/p.ini", "a.on", "1", "bool"),
        ("var/p.ini", "a.rate", "x", "float"),
    ] {
        let before = read(&t, file);
        let out = param_set(&t, file, key, value);
        assert_exit(&out, 1);
        assert!(
            both(&out).contains(&format!("`{key}` is of type {ty} (now ")),
            "{file} {key}: {}",
            both(&out)
        );
        assert!(
            both(&out).contains(&format!("`{value}` is not a")),
            "{}",
            both(&out)
        );
        assert_eq!(read(&t, file), before, "{file}");
    }
    // Accepted, each keeping its type: a string stays a string even when it looks like a
    // number, an int given for a float is written as a float.
    assert_exit(&param_set(&t, "var/p.json", "name", "8"), 0);
    assert_exit(&param_set(&t, "var/p.json", "rate", "2"), 0);
    let v: serde_json::Value = serde_json::from_str(&read(&t, "var/p.json")).expect("json");
    assert_eq!(
        (v["name"].clone(), v["rate"].clone()),
        ("8".into(), 2.0.into())
    );
    assert_exit(&param_set(&t, "var/p.toml", "name", "10"), 0);
    assert!(read(&t, "var/p.toml").contains("name = \"10\"\n"));
    assert_exit(&param_set(&t, "var/p.ini", "a.on", "no"), 0);
    assert_exit(&param_set(&t, "var/p.ini", "a.rate", "2"), 0);
    assert_exit(
        &param_set(&t, "var/p.ini", "a.name", "closed for 2 days"),
        0,
    );
    assert_eq!(
        read(&t, "var/p.ini"),
        "[a]\non = no\nn = 3\nrate = 2\nname = closed for 2 days\n"
    );
}

#[test]
fn the_param_change_history_records_the_submitters_reason() {
    let t = demo();
    let effective = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    let out = change_tax_rate(
        &t,
        "run",
        "8",
        &effective,
        &["--reason", "ordinance 12 of 2026, ticket 4711"],
    );
    assert_exit(&out, 0);
    let h = history(&t);
    assert_eq!(h[0]["reason"], "ordinance 12 of 2026, ticket 4711");
    assert_eq!(t.show(1)["comment"], "ordinance 12 of 2026, ticket 4711");

    // Queued with `unyo submit --reason`: the daemon's step gets it from the database.
    let out = change_tax_rate(
        &t,
        "submit",
        "9",
        &effective,
        &["--reason", "correction requested by the tax division"],
    );
    assert_exit(&out, 0);
    let daemon = Daemon::start(&t);
    crate::helper::wait_for("the submitted change", || {
        (history(&t).len() == 2).then_some(())
    });
    drop(daemon);
    assert_eq!(
        history(&t)[0]["reason"],
        "correction requested by the tax division"
    );
    // Without a reason, the job says what it did.
    let out = change_tax_rate(&t, "run", "10", &effective, &[]);
    assert_exit(&out, 0);
    assert_eq!(
        history(&t)[0]["reason"],
        format!("scheduled change effective {effective}")
    );
}

#[test]
fn validate_checks_type_by_against_the_enum_it_names() {
    let t = crate::helper::Tree::new();
    t.job(
        "change",
        "params:\n  key: { type: enum, values: [rate, open] }\n  mode: { type: string }\n  value:\n    type_by: { key: { rate: int, open: boolean, closed: bool } }\n  other:\n    type_by: { mode: { x: int } }\n  third:\n    type_by: { nokey: { x: int } }\nsteps:\n  a:\n    argv: [\"true\"]\n",
    );
    let out = t.run(&["validate"]);
    assert_exit(&out, 2);
    let err = crate::helper::text(&out.stderr);
    for want in [
        "jobs/change.yaml:5:14: `type_by` of `value`: unknown type `boolean` for `open` (did you mean `bool`?) (one of: int, float, bool, date, string)",
        "jobs/change.yaml:5:14: `type_by` of `value`: `closed` is not a value of `key`",
        "jobs/change.yaml:7:14: `type_by` of `other` needs an enum parameter; `mode` is `string`",
        "jobs/change.yaml:9:14: `type_by` of `third` names unknown parameter `nokey`",
    ] {
        assert!(err.contains(want), "{want}\n{err}");
    }
}
