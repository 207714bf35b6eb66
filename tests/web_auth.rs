//! The dashboard's logins and first writes over plain HTTP against a real daemon: a write
//! needs a session (401 without), a role that allows it (403, audited) and its session's
//! CSRF token, and is refused when it says it comes from another site; a write that goes
//! through is recorded and audited under `web:NAME`. Sessions survive a daemon restart, end
//! on logout, when their user is removed, and after `web.session` of idleness. The secrets
//! stay out of the database and the audit. Then, in chromium (`tests/web/auth.mjs`): an
//! operator acknowledges an incident; the run's starter is refused its approval
//! (`separate_approver`) and a second approver gives it.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use crate::helper::{Daemon, Tree, both, one, text, wait_for};
use crate::web::free_port;

const PASSWORD: &str = "correct horse battery";

/// An HTTP/1.0 request: (status, head, body).
pub(crate) fn http(
    port: u16,
    method: &str,
    path: &str,
    headers: &[&str],
    body: &str,
) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    if method == "POST" {
        req.push_str(&format!(
            "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).expect("write");
    let mut all = String::new();
    s.read_to_string(&mut all).expect("read");
    let (head, body) = all.split_once("\r\n\r\n").expect("head");
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("code");
    (code, head.to_owned(), body.to_owned())
}

/// Adds a web user with `PASSWORD` given on stdin.
pub(crate) fn add_user(t: &Tree, name: &str, role: &str) {
    let out = t
        .unyo()
        .args(["web", "user", "add", name, "--role", role])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .expect("web user add");
    assert!(out.status.success(), "{}", both(&out));
}

/// Logs in; returns the `Cookie` header of the session.
pub(crate) fn login(port: u16, name: &str) -> String {
    let (code, head, body) = http(
        port,
        "POST",
        "/login",
        &[],
        &format!("name={name}&password=correct+horse+battery"),
    );
    assert_eq!(code, 303, "{head}\n{body}");
    let set = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie in {head}"));
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
        "{set}"
    );
    let pair = set.split(';').next().expect("pair").to_owned();
    format!("Cookie: {pair}")
}

/// The CSRF token the page's forms carry for the session of `cookie`.
pub(crate) fn csrf(port: u16, cookie: &str, path: &str) -> String {
    let (code, _, body) = http(port, "GET", path, &[cookie], "");
    assert_eq!(code, 200, "{body}");
    body.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no csrf token in {body}"))
        .to_owned()
}

fn incident_status(t: &Tree) -> String {
    one(t, "select status from incidents where id = 1")
}

/// A tree serving the dashboard on a free port (with `extra` in `web:`), with the failed
/// run 1 of `bad` and its open incident 1, and the users `vi` (viewer), `op` (operator).
fn auth_tree(extra: &str) -> (Tree, u16) {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n{extra}"),
    );
    t.job("bad", "steps:\n  load:\n    run: exit 3\n");
    t.job("slow", "adhoc: true\nsteps:\n  wait:\n    run: sleep 60\n");
    let out = t.run(&["run", "bad"]);
    assert!(!out.status.success(), "{}", both(&out));
    assert_eq!(incident_status(&t), "open");
    add_user(&t, "vi", "viewer");
    add_user(&t, "op", "operator");
    (t, port)
}

fn audit(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["audit", "--json", "--limit", "200"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice(&out.stdout).expect("audit json")
}

pub(crate) fn audited(t: &Tree, user: &str, action: &str, outcome: &str) -> bool {
    audit(t)
        .iter()
        .any(|e| e["user"] == user && e["action"] == action && e["outcome"] == outcome)
}

#[test]
fn web_writes_need_a_login_a_role_and_the_session_s_token() {
    let (t, port) = auth_tree("");
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });

    // Reading needs no login on loopback; the page offers the login.
    let (code, _, body) = http(port, "GET", "/incidents", &[], "");
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("href=\"/login\"") && !body.contains("/incidents/1/ack"),
        "{body}"
    );

    // No session: 401, nothing changed.
    let (code, _, body) = http(port, "POST", "/incidents/1/ack", &[], "csrf=x");
    assert_eq!(code, 401, "{body}");
    assert_eq!(incident_status(&t), "open");

    // A wrong password and an unknown user get the same answer; both are audited.
    let (c1, _, wrong) = http(port, "POST", "/login", &[], "name=op&password=nope");
    let (c2, _, ghost) = http(port, "POST", "/login", &[], "name=zz&password=nope");
    assert_eq!((c1, c2), (401, 401));
    assert_eq!(
        wrong.replace("value=\"op\"", ""),
        ghost.replace("value=\"zz\"", "")
    );
    assert!(wrong.contains("Wrong user or password."), "{wrong}");
    assert!(audited(&t, "web:op", "web.login", "refused"));
    // The unknown name is not recorded as typed (it may be a password in the wrong field).
    assert!(audited(&t, "web:?", "web.login", "refused"));
    assert!(
        !audit(&t).iter().any(|e| e.to_string().contains("zz")),
        "the name typed was recorded"
    );

    // A viewer may read but not acknowledge: 403, audited, nothing changed.
    let viewer = login(port, "vi");
    let token = csrf(port, &viewer, "/incidents");
    let (_, _, page) = http(port, "GET", "/incidents", &[&viewer], "");
    assert!(
        page.contains("vi (viewer)") && !page.contains("/incidents/1/ack"),
        "{page}"
    );
    let (code, _, body) = http(
        port,
        "POST",
        "/incidents/1/ack",
        &[&viewer],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 403, "{body}");
    assert_eq!(incident_status(&t), "open");
    assert!(audited(&t, "web:vi", "incident.ack", "refused"));

    // An operator: refused without the token, with a wrong one, from another site.
    let operator = login(port, "op");
    let token = csrf(port, &operator, "/incidents");
    assert_ne!(token, operator.split('=').nth(1).unwrap_or_default());
    for (headers, body) in [
        (vec![operator.clone()], String::new()),
        (vec![operator.clone()], "csrf=0000".to_owned()),
        (
            vec![operator.clone()],
            format!("csrf={}", csrf(port, &viewer, "/incidents")),
        ),
        (
            vec![operator.clone(), "Origin: http://evil.example".to_owned()],
            format!("csrf={token}"),
        ),
        (
            vec![operator.clone(), "Sec-Fetch-Site: cross-site".to_owned()],
            format!("csrf={token}"),
        ),
    ] {
        let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
        let (code, _, page) = http(port, "POST", "/incidents/1/ack", &headers, &body);
        assert_eq!(code, 403, "{headers:?} {body}: {page}");
        assert_eq!(incident_status(&t), "open");
    }
    // With everything right: done, recorded and audited under web:op.
    let (code, head, _) = http(
        port,
        "POST",
        "/incidents/1/ack",
        &[&operator, &format!("Origin: http://127.0.0.1:{port}")],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 303, "{head}");
    assert!(head.contains("location: /incidents"), "{head}");
    assert_eq!(incident_status(&t), "acknowledged");
    let by: String = one(&t, "select acknowledged_by from incidents where id = 1");
    assert_eq!(by, "web:op");
    assert!(audited(&t, "web:op", "incident.ack", "done"));
    // Twice: refused by the incident's state (409), audited.
    let (code, _, body) = http(
        port,
        "POST",
        "/incidents/1/ack",
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 409, "{body}");
    assert!(audited(&t, "web:op", "incident.ack", "refused"));

    // Cancel a running run from its page.
    let out = t.run(&["submit", "slow"]);
    assert!(out.status.success(), "{}", both(&out));
    let run: i64 = one(&t, "select max(id) from runs where job = 'slow'");
    wait_for("the slow run to start", || {
        (one::<String>(&t, &format!("select status from runs where id = {run}")) == "running")
            .then_some(())
    });
    let page = http(port, "GET", &format!("/runs/{run}"), &[&viewer], "").2;
    assert!(
        !page.contains("/cancel"),
        "a viewer sees no cancel button: {page}"
    );
    let page = http(port, "GET", &format!("/runs/{run}"), &[&operator], "").2;
    assert!(
        page.contains(&format!("action=\"/runs/{run}/cancel\"")),
        "{page}"
    );
    let (code, _, _) = http(
        port,
        "POST",
        &format!("/runs/{run}/cancel"),
        &[&viewer],
        &format!("csrf={}", csrf(port, &viewer, "/")),
    );
    assert_eq!(code, 403);
    let (code, head, _) = http(
        port,
        "POST",
        &format!("/runs/{run}/cancel"),
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 303, "{head}");
    wait_for("the run to be cancelled", || {
        (one::<String>(&t, &format!("select status from runs where id = {run}")) == "cancelled")
            .then_some(())
    });
    assert!(audited(&t, "web:op", "cancel", "done"));
    assert!(audited(&t, "web:vi", "cancel", "refused"));

    // Neither the password nor a token is in the database or the audit.
    let hash: String = one(&t, "select password_hash from web_users where name = 'op'");
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    let session_token = operator.split('=').nth(1).unwrap_or_default().to_owned();
    let dump = Command::new("sqlite3")
        .arg(t.path("var/unyo.db"))
        .arg(".dump")
        .output()
        .expect("sqlite3");
    let dump = text(&dump.stdout);
    assert!(
        dump.contains("web_sessions"),
        "the dump has the sessions table"
    );
    for secret in [
        PASSWORD,
        "correct+horse",
        session_token.as_str(),
        token.as_str(),
    ] {
        assert!(!dump.contains(secret), "`{secret}` is in the database");
    }
    assert!(!d.log().contains(&session_token) && !d.log().contains(PASSWORD));

    // A removed user's session ends at once.
    let out = t.run(&["web", "user", "remove", "vi"]);
    assert!(out.status.success(), "{}", both(&out));
    let (code, _, _) = http(port, "POST", "/incidents/1/ack", &[&viewer], "csrf=x");
    assert_eq!(code, 401);
    let page = http(port, "GET", "/", &[&viewer], "").2;
    assert!(!page.contains("(viewer)"), "{page}");

    // Logout ends the session; its cookie no longer works.
    let (code, head, _) = http(
        port,
        "POST",
        "/logout",
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 303, "{head}");
    assert!(head.contains("Max-Age=0"), "{head}");
    let (code, _, _) = http(
        port,
        "POST",
        "/incidents/1/ack",
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 401);
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn web_session_is_checked_at_its_place() {
    let t = Tree::new();
    for (value, wanted) in [
        ("soon", "unyo.yaml:3:12: `web.session`: bad duration `soon`"),
        (
            "0s",
            "unyo.yaml:3:12: `web.session`: a session must last longer than 0s",
        ),
    ] {
        t.file(
            "unyo.yaml",
            &format!("web:\n  listen: \"127.0.0.1:8480\"\n  session: {value}\n"),
        );
        let out = t.run(&["validate"]);
        assert_eq!(out.status.code(), Some(2), "{}", both(&out));
        assert!(text(&out.stderr).contains(wanted), "{}", both(&out));
    }
}

#[test]
fn web_sessions_survive_a_restart_and_expire_when_idle() {
    let (t, port) = auth_tree("  session: 3s\n");
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let operator = login(port, "op");
    assert_eq!(d.stop(), Some(0));
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let page = http(port, "GET", "/", &[&operator], "").2;
    assert!(
        page.contains("op (operator)"),
        "the session survives a restart: {page}"
    );
    let token = csrf(port, &operator, "/incidents");
    // Idle longer than web.session: gone.
    std::thread::sleep(Duration::from_secs(4));
    let (code, _, _) = http(
        port,
        "POST",
        "/incidents/1/ack",
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 401);
    assert_eq!(incident_status(&t), "open");
    let page = http(port, "GET", "/", &[&operator], "").2;
    assert!(!page.contains("op (operator)"), "{page}");
    let left: i64 = one(&t, "select count(*) from web_sessions");
    assert_eq!(left, 0, "the expired session is deleted");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn in_chromium_an_operator_acknowledges_and_a_second_approver_approves() {
    let kit = crate::web::browser_kit();
    let (t, port) = auth_tree("");
    // The run's starter is the operating-system user running this test; a web user of the
    // same name is the same person for separate_approver.
    let starter = text(
        &Command::new("id")
            .arg("-un")
            .output()
            .expect("id -un")
            .stdout,
    )
    .trim()
    .to_owned();
    add_user(&t, &starter, "approver");
    add_user(&t, "kimura", "approver");
    t.job(
        "rollover",
        "separate_approver: true\nadhoc: true\nsteps:\n  confirm:\n    approval: { message: \"switch the fiscal year?\" }\n    timeout: 1h\n  switch:\n    needs: [confirm]\n    run: echo switched\n",
    );
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let out = t.run(&["submit", "rollover"]);
    assert!(out.status.success(), "{}", both(&out));
    let run: i64 = one(&t, "select max(id) from runs where job = 'rollover'");
    wait_for("the gate to wait", || {
        let s: String = one(
            &t,
            &format!("select status from steps where run_id = {run} and name = 'confirm'"),
        );
        (s == "waiting_approval").then_some(())
    });
    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), std::path::PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("auth.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("1")
        .arg(run.to_string())
        .arg(&starter)
        .arg("kimura")
        .arg(&shots)
        .env("UNYO_WEB_PASSWORD", PASSWORD)
        .output()
        .expect("node");
    assert!(out.status.success(), "auth.mjs: {}", both(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("auth.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    assert_eq!(seen["wrongPassword"]["status"], 401, "{seen}");
    assert!(s(&seen["wrongPassword"]["text"]).contains("Wrong user or password."));
    assert_eq!(s(&seen["operatorToday"]["who"]), "op (operator)");
    assert_eq!(s(&seen["before"]["status"]), "open");
    assert_eq!(s(&seen["after"]["status"]), "acknowledged", "{seen}");
    assert!(s(&seen["after"]["ack"]).starts_with("web:op "), "{seen}");
    assert_eq!(seen["after"]["buttons"], 0);
    assert_eq!(incident_status(&t), "acknowledged");

    assert_eq!(seen["starter"]["status"], 403, "{seen}");
    assert!(
        s(&seen["starter"]["text"]).contains("another operator must approve it"),
        "{seen}"
    );
    assert!(s(&seen["starter"]["text"]).contains(&format!("{starter} (approver)")));
    assert!(audited(&t, &format!("web:{starter}"), "approve", "refused"));
    assert!(s(&seen["second"]["url"]).ends_with(&format!("/runs/{run}")));
    assert!(
        s(&seen["second"]["text"]).contains("confirm: approved by web:kimura"),
        "{seen}"
    );
    assert!(audited(&t, "web:kimura", "approve", "done"));
    wait_for("the approved run to finish", || {
        let s: String = one(&t, &format!("select status from runs where id = {run}"));
        (s == "succeeded").then_some(())
    });
    let by: String = one(
        &t,
        &format!("select decided_by from gates where run_id = {run}"),
    );
    assert_eq!(by, "web:kimura");
    assert_eq!(seen["scripts"], 0);
    assert_eq!(seen["dialogs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    for shot in [
        "login.png",
        "login-failed.png",
        "incidents.png",
        "incident-acknowledged.png",
        "gate.png",
        "approval-refused.png",
        "approved.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 5_000,
            "{shot}: {} bytes",
            bytes.len()
        );
    }
    assert_eq!(d.stop(), Some(0));
}
