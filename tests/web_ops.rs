//! The dashboard's operations (issue 18): resolve an incident, hold and release a job,
//! submit an ad-hoc job (with its service-desk request), the Nodes, Checks and Audit pages,
//! and the output of a running job as it grows. Over plain HTTP against a real daemon: each
//! write is the CLI's, audited under `web:NAME`; bad input is refused naming its place and
//! changes nothing. Then in Debian's `chromium` (`tests/web/ops.mjs`): an operator does each
//! of them in the pages, a hostile parameter reaches the step as data, the live output
//! grows while the page reloads itself without script, a viewer is refused every write.

use std::net::TcpStream;
use std::process::Command;

use crate::helper::{Daemon, Tree, both, one, text, wait_for};
use crate::web::free_port;
use crate::web_auth::{PASSWORD, add_user, audit, audited, csrf, http, login};

/// A tree serving the dashboard: the failed run of `bad` with its open incident 1, the
/// hourly `nightly`, the ad-hoc `extract` (whose step prints its `department` parameter
/// from the environment), the health check `disk` run once, and the users `vi` (viewer)
/// and `op` (operator).
fn ops_tree() -> (Tree, u16) {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.job("bad", "steps:\n  load:\n    run: exit 3\n");
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    t.file(
        "schedules/city.yaml",
        "schedules:\n  - job: nightly\n    cron: \"0 * * * *\"\n",
    );
    t.job(
        "extract",
        "adhoc: true\ntitle: 課税データ抽出\nparams:\n  department: { type: string, required: true, max_len: 300 }\n  month: { type: month, default: previous }\n  code: { type: string, pattern: \"^[a-z]+$\", default: abc }\nsteps:\n  print:\n    env: { DEPARTMENT: \"{{params.department}}\" }\n    run: printf '%s\\n' \"$DEPARTMENT\"\n",
    );
    t.file(
        "plugins/check_disk",
        "#!/bin/sh\necho 'DISK OK - free 42% | free=42%;20;10;0;100'\n",
    );
    {
        use std::os::unix::fs::PermissionsExt;
        let p = t.path("plugins/check_disk");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    t.job(
        "disk",
        "steps:\n  free:\n    check:\n      plugin: ./plugins/check_disk\n      target: batch1-disk\n      kind: hardware\n",
    );
    let out = t.run(&["run", "bad"]);
    assert!(!out.status.success(), "{}", both(&out));
    let out = t.run(&["run", "disk"]);
    assert!(out.status.success(), "{}", both(&out));
    add_user(&t, "vi", "viewer");
    add_user(&t, "op", "operator");
    (t, port)
}

fn up(port: u16) {
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
}

/// `application/x-www-form-urlencoded`, as a browser encodes it.
fn form(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let enc = |s: &str| -> String {
                s.bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                            char::from(b).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect()
            };
            format!("{}={}", enc(k), enc(v))
        })
        .collect::<Vec<_>>()
        .join("&")
}

#[test]
fn web_resolve_hold_release_and_submit_are_the_cli_s_and_audited() {
    let (t, port) = ops_tree();
    let d = Daemon::start(&t);
    up(port);
    let op = login(port, "op");
    let token = csrf(port, &op, "/incidents/1");
    let post = |path: &str, pairs: &[(&str, &str)]| {
        let mut all = vec![("csrf", token.as_str())];
        all.extend_from_slice(pairs);
        http(port, "POST", path, &[&op], &form(&all))
    };

    // Resolve: both texts needed (422, audited, nothing changed), then done.
    let (code, _, body) = post(
        "/incidents/1/resolve",
        &[("cause", " "), ("countermeasure", "x")],
    );
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("must not be empty"), "{body}");
    let status: String = one(&t, "select status from incidents where id = 1");
    assert_eq!(status, "open");
    let (code, head, body) = post(
        "/incidents/1/resolve",
        &[("cause", "disk full"), ("countermeasure", "logs rotated")],
    );
    assert_eq!(code, 303, "{head}{body}");
    assert!(head.contains("location: /incidents/1"), "{head}");
    let row: String = one(
        &t,
        "select status || '|' || resolved_by || '|' || cause || '|' || countermeasure from incidents where id = 1",
    );
    assert_eq!(row, "resolved|web:op|disk full|logs rotated");
    let shown = text(&t.run(&["incident", "show", "1"]).stdout);
    assert!(
        shown.contains("by web:op") && shown.contains("cause:          disk full"),
        "{shown}"
    );
    // Resolved already: 409, audited refused.
    let (code, _, body) = post(
        "/incidents/1/resolve",
        &[("cause", "a"), ("countermeasure", "b")],
    );
    assert_eq!(code, 409, "{body}");
    let trail = audit(&t);
    let resolves: Vec<&serde_json::Value> = trail
        .iter()
        .filter(|e| e["action"] == "incident.resolve")
        .collect();
    assert_eq!(resolves.len(), 3, "{resolves:?}");
    assert!(
        resolves
            .iter()
            .all(|e| e["user"] == "web:op" && e["target"] == "incident 1")
    );
    assert_eq!(
        resolves
            .iter()
            .map(|e| e["outcome"].as_str().unwrap_or(""))
            .collect::<Vec<_>>(),
        ["refused", "done", "refused"]
    );
    assert_eq!(resolves[1]["args"]["cause"], "disk full");

    // A form posted from another site: refused, nothing held.
    let body = form(&[("csrf", token.as_str()), ("job", "nightly")]);
    let (code, _, _) = http(
        port,
        "POST",
        "/hold",
        &[&op, "Origin: http://evil.example"],
        &body,
    );
    assert_eq!(code, 403);
    let (code, _, _) = http(
        port,
        "POST",
        "/submit",
        &[&op, "Sec-Fetch-Site: cross-site"],
        &body,
    );
    assert_eq!(code, 403);
    let holds: i64 = one(&t, "select count(*) from holds");
    assert_eq!(holds, 0);

    // Hold, hold again (409), release, release again (409); an unknown job (404).
    let (code, _, body) = post("/hold", &[("job", "nightly"), ("reason", "maintenance")]);
    assert_eq!(code, 303, "{body}");
    let held: String = one(
        &t,
        "select held_by || '|' || reason from holds where job = 'nightly'",
    );
    assert_eq!(held, "web:op|maintenance");
    let status = text(&t.run(&["status"]).stdout);
    assert!(status.contains("nightly"), "{status}");
    let (code, _, _) = post("/hold", &[("job", "nightly")]);
    assert_eq!(code, 409);
    let (code, _, body) = post("/hold", &[("job", "nightlx")]);
    assert_eq!(code, 404, "{body}");
    assert!(
        body.contains("unknown job `nightlx`") && body.contains("nightly"),
        "{body}"
    );
    let (code, _, _) = post("/release", &[("job", "nightly")]);
    assert_eq!(code, 303);
    let holds: i64 = one(&t, "select count(*) from holds");
    assert_eq!(holds, 0);
    let (code, _, _) = post("/release", &[("job", "nightly")]);
    assert_eq!(code, 409);
    assert!(audited(&t, "web:op", "hold", "done"));
    assert!(audited(&t, "web:op", "hold", "refused"));
    assert!(audited(&t, "web:op", "release", "done"));
    assert!(audited(&t, "web:op", "release", "refused"));

    // Submit: checked as `unyo submit` checks it. A value against the pattern, a missing
    // required one, a job not for ad-hoc use, a request that is no number or not recorded:
    // refused, nothing queued.
    let runs = || -> i64 { one(&t, "select count(*) from runs where job = 'extract'") };
    for (pairs, says, code) in [
        (
            vec![
                ("job", "extract"),
                ("p.department", "tax"),
                ("p.code", "ABC"),
            ],
            "code",
            422,
        ),
        (vec![("job", "extract")], "department", 422),
        (vec![("job", "nightly")], "not for ad-hoc submission", 422),
        (
            vec![
                ("job", "extract"),
                ("p.department", "tax"),
                ("request", "7x"),
            ],
            "request: `7x` is not a request number",
            422,
        ),
        (
            vec![
                ("job", "extract"),
                ("p.department", "tax"),
                ("request", "99"),
            ],
            "99",
            422,
        ),
    ] {
        let (got, _, body) = post("/submit", &pairs);
        assert_eq!(got, code, "{pairs:?}: {body}");
        assert!(body.contains(says), "{pairs:?}: no `{says}` in {body}");
    }
    assert_eq!(runs(), 0);
    // A request of the service desk, linked as `unyo submit --request` links it.
    let out = t.run(&[
        "desk",
        "open",
        "--requester",
        "山田 花子",
        "--department",
        "税務課",
        "--channel",
        "phone",
        "--category",
        "request",
        "課税データの抽出",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let (code, head, body) = post(
        "/submit",
        &[
            ("job", "extract"),
            ("p.department", "tax; rm -rf /"),
            ("p.month", ""),
            ("reason", "for the tax division"),
            ("request", "1"),
        ],
    );
    assert_eq!(code, 303, "{head}{body}");
    let id: i64 = one(&t, "select max(id) from runs where job = 'extract'");
    assert!(head.contains(&format!("location: /runs/{id}")), "{head}");
    let run: String = one(
        &t,
        &format!(
            "select trigger || '|' || requested_by || '|' || comment from runs where id = {id}"
        ),
    );
    assert_eq!(run, "submit|web:op|for the tax division");
    let shown = text(&t.run(&["desk", "show", "1", "--json"]).stdout);
    assert!(shown.contains(&format!("{id}")), "{shown}");
    assert!(audited(&t, "web:op", "desk.link", "done"));
    let submits: Vec<serde_json::Value> = audit(&t)
        .into_iter()
        .filter(|e| e["action"] == "submit" && e["user"] == "web:op")
        .collect();
    assert_eq!(submits.len(), 6, "{submits:?}");
    let done = submits.last().expect("the submission");
    assert_eq!(done["outcome"], "done");
    assert_eq!(
        done["args"]["params"],
        serde_json::json!(["department=tax; rm -rf /"])
    );
    assert!(
        done["detail"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("run {id} queued"))
            && done["detail"]
                .as_str()
                .unwrap_or("")
                .contains("for request 1"),
        "{done}"
    );
    wait_for("the submitted run to end", || {
        let s: String = one(&t, &format!("select status from runs where id = {id}"));
        (s == "succeeded").then_some(())
    });
    let logs = text(&t.run(&["logs", &id.to_string()]).stdout);
    assert!(logs.contains("tax; rm -rf /"), "{logs}");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn web_nodes_checks_and_a_paged_audit_read_the_records() {
    let (t, port) = ops_tree();
    // More than a page of actions: 30 holds and releases by the operating-system user.
    for _ in 0..30 {
        for cmd in ["hold", "release"] {
            let out = t.run(&[cmd, "nightly"]);
            assert!(out.status.success(), "{}", both(&out));
        }
    }
    let d = Daemon::start(&t);
    up(port);
    let get = |path: &str| http(port, "GET", path, &[], "");
    // The daemon takes the planner's lease a moment after it starts.
    let body = wait_for("the node alive and planning", || {
        let (code, _, body) = get("/nodes");
        assert_eq!(code, 200, "{body}");
        body.contains("<td class=\"state\">alive, planner</td>")
            .then_some(body)
    });
    let host = text(&Command::new("hostname").output().expect("hostname").stdout);
    assert!(body.contains(host.trim()), "{body}");
    assert!(body.contains("<td class=\"running\">0</td>"), "{body}");

    let (code, _, body) = get("/checks");
    assert_eq!(code, 200, "{body}");
    let row = body
        .split("id=\"target-batch1-disk\"")
        .nth(1)
        .expect("the target's row");
    let row = row.split("</tr>").next().unwrap_or("");
    for part in [
        "hardware",
        "up",
        "ok",
        "DISK OK - free 42%",
        "free=42%;20;10;0;100",
        "disk · free",
    ] {
        assert!(row.contains(part), "no `{part}` in {row}");
    }

    // The newest 50, then the older ones from the link, then nothing more.
    let (code, _, first) = get("/audit?action=&user=");
    assert_eq!(code, 200, "{first}");
    let rows = |b: &str| b.matches("<tr id=\"audit-").count();
    assert_eq!(rows(&first), 50);
    let older = first
        .split("id=\"older\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a link to the older entries")
        .replace("&#38;", "&");
    let (code, _, second) = get(&older);
    assert_eq!(code, 200, "{second}");
    let total: i64 = one(&t, "select count(*) from audit");
    assert_eq!(
        rows(&first) + rows(&second),
        usize::try_from(total).expect("count")
    );
    assert!(!second.contains("id=\"older\"") && second.contains("id=\"newest\""));
    // Filtered: only the releases, only on the day.
    let day = |d: i64| (chrono::Utc::now() + chrono::Duration::days(d)).format("%Y-%m-%d");
    let (_, _, releases) = get(&format!(
        "/audit?action=release&from={}&to={}",
        day(-1),
        day(1)
    ));
    assert_eq!(rows(&releases), 30, "{releases}");
    assert!(!releases.contains("<td class=\"action\">hold</td>"));
    let (_, _, none) = get("/audit?user=web%3Anobody");
    assert!(none.contains("No operator action matches."), "{none}");
    // A date that is no date: 400, naming the field.
    let (code, _, bad) = get("/audit?from=5+Dec");
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad.contains("`from`: `5 Dec` is not a date (YYYY-MM-DD)"),
        "{bad}"
    );
    let (code, _, _) = get("/incidents/999");
    assert_eq!(code, 404);
    for job in ["nightly", "nothing"] {
        let (code, _, body) = get(&format!("/submit?job={job}"));
        assert_eq!(code, 404, "{body}");
        assert!(
            body.contains("There is no job of this name that may be submitted."),
            "{body}"
        );
    }
    let (code, _, body) = get("/submit?job=extract");
    assert_eq!(code, 200, "{body}");
    // Read without a login: the form is not offered.
    assert!(
        body.contains("課税データ抽出") && !body.contains("id=\"submit-form\""),
        "{body}"
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn in_chromium_an_operator_resolves_holds_submits_and_watches_a_run_print() {
    let kit = crate::web::browser_kit();
    let (t, port) = ops_tree();
    t.job(
        "printer",
        "steps:\n  print:\n    run: for i in $(seq 1 150); do echo \"line $i\"; sleep 1; done\n",
    );
    let d = Daemon::start(&t);
    up(port);
    let out = t.run(&["run", "printer", "--detach"]);
    assert!(out.status.success(), "{}", both(&out));
    let printer: i64 = one(&t, "select max(id) from runs where job = 'printer'");
    let root = t.root().display().to_string();
    let hostile = format!(
        "$(touch {root}/pwned1); touch {root}/pwned2 `touch {root}/pwned3` \"'<script>window.pwned=1</script>"
    );
    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), std::path::PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("ops.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("1")
        .arg(printer.to_string())
        .arg(&hostile)
        .arg(&shots)
        .env("UNYO_WEB_PASSWORD", PASSWORD)
        .output()
        .expect("node");
    let out_cancel = t.run(&["cancel", &printer.to_string()]);
    assert!(out.status.success(), "ops.mjs: {}", both(&out));
    assert!(out_cancel.status.success(), "{}", both(&out_cancel));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("ops.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    // Resolved, and found in the audit by its action.
    assert_eq!(s(&seen["resolved"]["status"]), "resolved", "{seen}");
    assert_eq!(s(&seen["resolved"]["cause"]), "disk full <b>on</b> batch1");
    assert!(s(&seen["resolved"]["by"]).starts_with("web:op "), "{seen}");
    assert_eq!(seen["resolved"]["forms"], 0, "nothing left to do: {seen}");
    let rows = seen["audit"]["rows"].as_array().expect("audit rows");
    assert_eq!(rows.len(), 1, "{seen}");
    let row = s(&rows[0]);
    for part in [
        "web:op",
        "incident.resolve",
        "incident 1",
        "done",
        "now resolved",
    ] {
        assert!(row.contains(part), "no `{part}` in {row}");
    }

    // Held with its reason as text, then released.
    let held = s(&seen["held"]);
    assert!(
        held.contains("Held")
            && held.contains("web:op")
            && held.contains("server maintenance <tonight>"),
        "{held}"
    );
    assert!(s(&seen["released"]).contains("Runs on schedule"), "{seen}");
    assert!(audited(&t, "web:op", "hold", "done") && audited(&t, "web:op", "release", "done"));

    // The hostile parameter arrived as data: printed as given, no file made, no script.
    let sub = &seen["submitted"];
    assert_eq!(s(&sub["status"]).trim(), "succeeded", "{sub}");
    assert_eq!(
        sub["stdout"][0].as_str().map(str::trim),
        Some(hostile.as_str()),
        "{sub}"
    );
    assert!(s(&sub["params"]).contains(&hostile), "{sub}");
    assert_eq!(sub["pwned"], "undefined");
    assert_eq!(s(&sub["requestedBy"]), "web:op");
    for f in ["pwned1", "pwned2", "pwned3"] {
        assert!(
            !t.path(f).exists(),
            "{f} was made: the parameter ran as shell code"
        );
    }
    let id = s(&sub["url"]).rsplit('/').next().unwrap_or("").to_owned();
    let by: String = one(
        &t,
        &format!("select requested_by from runs where id = {id}"),
    );
    assert_eq!(by, "web:op");

    // The output grew between two loads of the page, which reloads itself without script.
    let tail = &seen["tail"];
    assert_eq!(s(&tail["refresh"]), "5", "{tail}");
    assert_eq!(tail["scripts"], 0);
    let last = |v: &serde_json::Value| -> i64 {
        s(v).lines()
            .last()
            .and_then(|l| l.strip_prefix("line "))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or_else(|| panic!("no `line N` at the end of {v}"))
    };
    assert!(last(&tail["second"]) > last(&tail["first"]), "{tail}");

    let nodes = s(&seen["nodes"]["text"]);
    assert!(nodes.contains("alive, planner"), "{nodes}");
    let checks = s(&seen["checks"]["text"]);
    assert!(
        checks.contains("batch1-disk") && checks.contains("free=42%"),
        "{checks}"
    );

    // The viewer saw no write and was refused each one (403), each refusal audited.
    let v = &seen["viewer"];
    assert_eq!(v["holdsForms"], 0, "{v}");
    assert_eq!(v["submitForm"], 0, "{v}");
    let refused = v["refused"].as_array().expect("refusals");
    assert_eq!(refused.len(), 4);
    for r in refused {
        assert_eq!(r[1], 403, "{r}");
    }
    for action in ["incident.resolve", "hold", "release", "submit"] {
        assert!(audited(&t, "web:vi", action, "refused"), "{action}");
    }
    assert!(v["audit"].as_array().is_some_and(|a| a.len() >= 4), "{v}");
    assert_eq!(seen["dialogs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    for shot in [
        "incident.png",
        "incident-resolved.png",
        "audit.png",
        "holds.png",
        "submit.png",
        "submitted.png",
        "run-live.png",
        "nodes.png",
        "checks.png",
        "holds-viewer-ja.png",
        "submit-viewer-ja.png",
        "audit-viewer-ja.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}"
        );
    }
    assert_eq!(d.stop(), Some(0));
}
