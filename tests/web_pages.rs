//! The dashboard's Job, Approvals, Calendar and Reports pages against a real daemon: a job of
//! a three-step graph with a history (six runs that succeeded, one that failed) and a service
//! level, a calendar with a closed day of its own, a gated run waiting for a second approver,
//! a frozen monthly report. Over plain HTTP: what each page answers, bad input named, a
//! frozen report served byte for byte with its own policy and its stored bytes checked. Then
//! in Debian's `chromium` (`tests/web/pages.mjs`): each page read as an operator reads it,
//! a gate refused to the run's starter and approved by a second approver from the
//! Approvals page, hostile text shown as text, a screenshot of each page.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use sha2::Digest as _;

use crate::helper::{Daemon, Tree, both, one, text, wait_for};
use crate::web::free_port;

const PASSWORD: &str = "correct horse battery";
/// Markup that would run script if it were not escaped: the job's description, the gate's
/// message, a job name asked for in the address.
const HOSTILE_DESCRIPTION: &str = "<script>window.pwned=1</script>nightly totals";
const HOSTILE_MESSAGE: &str = "<img src=x onerror=\"window.pwned=2\">switch the fiscal year?";

/// An HTTP/1.0 request: (status, head, body as bytes).
fn http(port: u16, method: &str, path: &str, headers: &[&str]) -> (u16, String, Vec<u8>) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!("{method} {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n");
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).expect("write");
    let mut all = Vec::new();
    s.read_to_end(&mut all).expect("read");
    let at = all.windows(4).position(|w| w == b"\r\n\r\n").expect("head");
    let head = String::from_utf8_lossy(&all[..at]).into_owned();
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("code");
    (code, head, all[at + 4..].to_vec())
}

/// A form posted: (status, head, body as text).
fn post(port: u16, path: &str, headers: &[&str], form: &str) -> (u16, String, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut req = format!(
        "POST {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n",
        form.len()
    );
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(form);
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

/// Logs `name` in; returns the session's `Cookie` header.
fn login(port: u16, name: &str) -> String {
    let (code, head, body) = post(
        port,
        "/login",
        &[],
        &format!("name={name}&password=correct+horse+battery"),
    );
    assert_eq!(code, 303, "{head}\n{body}");
    let set = head
        .lines()
        .find_map(|l| l.strip_prefix("set-cookie: "))
        .unwrap_or_else(|| panic!("no cookie in {head}"));
    format!("Cookie: {}", set.split(';').next().expect("pair"))
}

/// A page's status and text.
fn get(port: u16, path: &str) -> (u16, String) {
    let (code, _, body) = http(port, "GET", path, &[]);
    (code, String::from_utf8_lossy(&body).into_owned())
}

fn add_user(t: &Tree, name: &str, role: &str) {
    let out = t
        .unyo()
        .args(["web", "user", "add", name, "--role", role])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .expect("web user add");
    assert!(out.status.success(), "{}", both(&out));
}

fn audited(t: &Tree, user: &str, action: &str, outcome: &str) -> bool {
    let out = t.run(&["audit", "--json", "--limit", "200"]);
    assert!(out.status.success(), "{}", both(&out));
    let entries: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit");
    entries
        .iter()
        .any(|e| e["user"] == user && e["action"] == action && e["outcome"] == outcome)
}

/// The operating-system user running the tests: the starter of the runs it submits.
fn os_user() -> String {
    text(&Command::new("id").arg("-un").output().expect("id").stdout)
        .trim()
        .to_owned()
}

/// The fixture: `flow` (extract → transform → load, and a check beside them; title and a
/// hostile description; `sla:`; scheduled at 02:00 on the `city` calendar) run six times
/// and failed once; `city` closed at the year end, on Japanese holidays and on 2026-06-15;
/// the previous month's report frozen as HTML into `report.html`; web users `STARTER` and
/// `kimura` (approvers). Returns the tree and the dashboard's port.
fn pages_tree() -> (Tree, u16) {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.job(
        "flow",
        &format!(
            "title: 夜間集計\ndescription: '{HOSTILE_DESCRIPTION}'\nparams:\n  fail: {{ type: string, default: \"no\" }}\nsla:\n  complete_by: \"06:00\"\n  success_rate: 90\n  max_duration: 10m\nsteps:\n  extract:\n    run: sleep 0.2\n  transform:\n    needs: [extract]\n    run: echo transformed\n  load:\n    needs: [transform]\n    env: {{ FAIL: \"{{{{params.fail}}}}\" }}\n    run: test \"$FAIL\" != yes\n  notify-the-city-of-the-totals-at-once:\n    needs: [extract]\n    run: echo sent\n"
        ),
    );
    t.job(
        "rollover",
        &format!(
            "separate_approver: true\nadhoc: true\nsteps:\n  confirm:\n    approval: {{ message: '{HOSTILE_MESSAGE}' }}\n    timeout: 1h\n  switch:\n    needs: [confirm]\n    run: echo switched\n"
        ),
    );
    t.file(
        "schedules/city.yaml",
        "calendars:\n  city: { weekends: [sat, sun], holidays: japan, closed: [\"12-29..01-03\", \"2026-06-15\"] }\nschedules:\n  - job: flow\n    cron: \"0 2 * * *\"\n    calendar: city\n    closed_day: skip\n",
    );
    for _ in 0..6 {
        let out = t.run(&["run", "flow"]);
        assert!(out.status.success(), "{}", both(&out));
    }
    let out = t.run(&["run", "flow", "-p", "fail=yes"]);
    assert!(!out.status.success(), "{}", both(&out));
    let report = t.path("report.html");
    let out = t.run(&[
        "report",
        "monthly",
        "--lang",
        "en",
        "--format",
        "html",
        "--freeze",
        "--out",
        &report.to_string_lossy(),
    ]);
    assert!(out.status.success(), "{}", both(&out));
    add_user(&t, &os_user(), "approver");
    add_user(&t, "kimura", "approver");
    (t, port)
}

/// Submits `rollover` and waits until its gate waits; returns the run's id.
fn gated_run(t: &Tree) -> i64 {
    let out = t.run(&["submit", "rollover"]);
    assert!(out.status.success(), "{}", both(&out));
    let run: i64 = one(t, "select max(id) from runs where job = 'rollover'");
    wait_for("the gate to wait", || {
        let s: String = one(
            t,
            &format!("select status from steps where run_id = {run} and name = 'confirm'"),
        );
        (s == "waiting_approval").then_some(())
    });
    run
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", sha2::Sha256::digest(bytes))
}

#[test]
fn the_job_approvals_calendar_and_reports_pages_answer_over_http() {
    let (t, port) = pages_tree();
    // The previous month in Japanese Markdown, frozen, then superseded on purpose by other
    // bytes (the city wants Western dates): reports 2 and 3.
    let (old, new) = (t.path("old.md"), t.path("new.md"));
    let freeze = |out: &std::path::Path, extra: &[&str]| {
        let out = out.to_string_lossy();
        let mut a = vec!["report", "monthly", "--freeze", "--out", &out];
        a.extend_from_slice(extra);
        let done = t.run(&a);
        assert!(done.status.success(), "{}", both(&done));
    };
    freeze(&old, &[]);
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\nreport:\n  date_style: western\n"),
    );
    let why = "the city asked for Western dates";
    freeze(&new, &["--supersede", "--reason", why]);
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let run = gated_run(&t);

    // Jobs, and a job: its graph, history, baseline, service level and next slots.
    let (code, jobs) = get(port, "/jobs");
    assert_eq!(code, 200, "{jobs}");
    assert!(jobs.contains("href=\"/jobs/flow\""), "{jobs}");
    assert!(jobs.contains("&#60;script&#62;window.pwned=1"), "{jobs}");
    let (code, job) = get(port, "/jobs/flow");
    assert_eq!(code, 200, "{job}");
    assert!(!job.contains("<script"), "{job}");
    for step in [
        "extract",
        "transform",
        "load",
        "notify-the-city-of-the-totals-at-once",
    ] {
        assert!(job.contains(&format!("data-step=\"{step}\"")), "{job}");
    }
    assert_eq!(job.matches("class=\"edge\"").count(), 3, "{job}");
    // A name longer than its box is cut there (and whole in its tooltip and the list).
    assert!(job.contains(">notify-the-city-of-…</text>"), "{job}");
    assert_eq!(job.matches("<circle class=\"ok\"").count(), 6, "{job}");
    assert_eq!(job.matches("<circle class=\"bad\"").count(), 1, "{job}");
    assert!(job.contains("<rect class=\"band\""), "{job}");
    assert!(
        job.contains("Baseline (ordinary days, 6 runs): median "),
        "{job}"
    );
    // The month's service level as the report measures it: 6 of 7 succeeded, under 90 %.
    let sla = job.split("id=\"sla\"").nth(1).expect("sla section");
    assert!(sla.contains("<td>Success rate</td><td>90%</td><td>6 / 7</td><td>85.7%</td><td class=\"verdict breached\">breached</td>"), "{sla}");
    assert!(sla.contains("<td class=\"verdict met\">met</td>"), "{sla}");
    // Manual runs are no scheduled ones: complete_by has nothing to measure yet.
    assert!(
        sla.contains("<td>Complete by</td><td>06:00</td><td>0 / 0</td>"),
        "{sla}"
    );
    let next = job.split("id=\"next\"").nth(1).expect("next section");
    assert!(next.matches("class=\"time\"").count() >= 3, "{next}");
    let (code, missing) = get(port, "/jobs/%3Cscript%3Ewindow.pwned=3%3C%2Fscript%3E");
    assert_eq!(code, 404, "{missing}");
    assert!(
        missing.contains("There is no job of this name.") && !missing.contains("<script"),
        "{missing}"
    );

    // Approvals: the gate, its message as text, its run and starter.
    let (code, approvals) = get(port, "/approvals");
    assert_eq!(code, 200, "{approvals}");
    assert!(
        approvals.contains(&format!("href=\"/runs/{run}\"")),
        "{approvals}"
    );
    assert!(
        approvals.contains("&#60;img src=x onerror=&#34;window.pwned=2&#34;&#62;switch"),
        "{approvals}"
    );
    assert!(!approvals.contains("<img"), "{approvals}");
    assert!(approvals.contains(&os_user()), "{approvals}");
    // Without a login no form is offered.
    assert!(!approvals.contains("/approve\""), "{approvals}");

    // An approver sees the forms; a rejection from Approvals comes back to Approvals, and a
    // form naming anywhere else goes back to the run, never off the dashboard.
    let kimura = login(port, "kimura");
    let (_, _, page) = http(port, "GET", "/approvals", &[&kimura]);
    let page = String::from_utf8_lossy(&page).into_owned();
    assert!(
        page.contains(&format!("action=\"/runs/{run}/approve\""))
            && page.contains("name=\"back\" value=\"/approvals\""),
        "{page}"
    );
    let csrf = page
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("csrf")
        .to_owned();
    let (code, head, _) = post(
        port,
        &format!("/runs/{run}/approve"),
        &[&kimura],
        &format!("csrf={csrf}&step=nope&text=&back=%2Fapprovals"),
    );
    assert_eq!(code, 409, "a step that does not wait: {head}");
    let (code, head, _) = post(
        port,
        &format!("/runs/{run}/reject"),
        &[&kimura],
        &format!("csrf={csrf}&step=confirm&text=wrong+month&back=http%3A%2F%2Fevil.example%2F"),
    );
    assert_eq!(code, 303, "{head}");
    assert!(
        head.contains(&format!("location: /runs/{run}\r"))
            || head.ends_with(&format!("location: /runs/{run}")),
        "{head}"
    );
    assert!(audited(&t, "web:kimura", "reject", "done"));
    wait_for("the rejected gate to leave Approvals", || {
        let (_, page) = get(port, "/approvals");
        page.contains("No step waits for an approval.")
            .then_some(())
    });

    // Calendar: the year's closed days and why.
    let (code, cal) = get(port, "/calendar?year=2026");
    assert_eq!(code, 200, "{cal}");
    for line in [
        "<td class=\"time\">2026-06-15</td><td>Mon</td><td>closed (2026-06-15)</td>",
        "<td class=\"time\">2026-01-01</td><td>Thu</td><td>year-end closure</td>",
        "<td class=\"time\">2026-05-04</td><td>Mon</td><td>public holiday みどりの日 (Greenery Day)</td>",
        "<td class=\"time\">2026-05-06</td><td>Wed</td><td>public holiday ",
    ] {
        assert!(cal.contains(line), "no `{line}` in {cal}");
    }
    assert!(cal.contains("<strong class=\"business\">"), "{cal}");
    let (code, _, ja) = http(port, "GET", "/calendar?year=2026", &["Accept-Language: ja"]);
    let ja = String::from_utf8_lossy(&ja);
    assert_eq!(code, 200);
    assert!(
        ja.contains("<td class=\"time\">2026-06-15</td><td>月</td><td>休業日(2026-06-15)</td>")
            && ja.contains("祝日 みどりの日")
            && ja.contains("年末年始の休業"),
        "{ja}"
    );
    for (bad, code_wanted, says) in [
        ("/calendar?year=abc", 400, "year=abc: is not a year"),
        ("/calendar?year=1800", 400, "1970–2099"),
        (
            "/calendar?calendar=nope",
            404,
            "calendar=nope: there is no calendar",
        ),
    ] {
        let (code, page) = get(port, bad);
        assert_eq!(code, code_wanted, "{bad}: {page}");
        assert!(page.contains(says), "{bad}: {page}");
    }

    // Reports: the frozen report, its bytes served as frozen, verified by their SHA-256.
    let file = std::fs::read(t.path("report.html")).expect("report.html");
    let sha = sha256_hex(&file);
    let id: i64 = one(&t, "select id from frozen_reports where format = 'html'");
    let (code, reports) = get(port, "/reports");
    assert_eq!(code, 200, "{reports}");
    assert!(
        reports.contains(&format!("<code class=\"sha\">{sha}</code>")),
        "{reports}"
    );
    let row = reports
        .split(&format!("id=\"frozen-{id}\""))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("frozen row");
    assert!(row.contains("match their SHA-256"), "{row}");
    let (code, head, body) = http(port, "GET", &format!("/reports/frozen/{id}"), &[]);
    assert_eq!(code, 200, "{head}");
    assert_eq!(body, file, "the bytes served are the bytes frozen");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'none'; style-src 'unsafe-inline'")
            && head.contains("sandbox"),
        "{head}"
    );
    let (code, verified) = get(port, &format!("/reports?sha256={sha}"));
    assert_eq!(code, 200);
    assert!(
        verified.contains(&format!("Unaltered: frozen report #{id} (monthly ")),
        "{verified}"
    );
    assert!(verified.contains("current: it stands"), "{verified}");
    // The superseded file: unaltered, but no longer standing, and why.
    let (_, superseded) = get(
        port,
        &format!(
            "/reports?sha256={}",
            sha256_hex(&std::fs::read(&old).expect("old"))
        ),
    );
    assert!(
        superseded.contains(
            "<p class=\"verdict superseded\" id=\"verdict\">Unaltered: frozen report #2 (monthly "
        ) && superseded.contains("; SUPERSEDED by report #3 on ")
            && superseded.contains(&format!(": {why}</p>")),
        "{superseded}"
    );
    let (_, current) = get(
        port,
        &format!(
            "/reports?sha256={}",
            sha256_hex(&std::fs::read(&new).expect("new"))
        ),
    );
    assert!(
        current.contains("Unaltered: frozen report #3 (monthly ")
            && current.contains(&format!(
                "; it superseded report #2: {why}; current: it stands"
            )),
        "{current}"
    );
    // The period lists its current forms only; the chain shows in the frozen reports.
    assert!(
        current.contains("<a href=\"/reports/frozen/3\">#3 ja md</a>")
            && !current.contains("<a href=\"/reports/frozen/2\">#2 ja md</a>"),
        "{current}"
    );
    assert!(
        current.contains("<tr id=\"frozen-2\" class=\"superseded\">"),
        "{current}"
    );
    assert!(current.contains("superseded by #3"), "{current}");
    assert!(
        current.contains(&format!("supersedes #2: {why}")),
        "{current}"
    );
    let other = sha256_hex(b"another file");
    let (_, unknown) = get(port, &format!("/reports?sha256={other}"));
    assert!(
        unknown.contains("Not a frozen report, or altered since it was frozen"),
        "{unknown}"
    );
    let (code, bad) = get(port, "/reports?sha256=%3Cscript%3E");
    assert_eq!(code, 400, "{bad}");
    assert!(
        bad.contains("sha256=&#60;script&#62;: not a SHA-256"),
        "{bad}"
    );
    for missing in ["/reports/frozen/999", "/reports/frozen/x"] {
        let (code, page) = get(port, missing);
        assert_eq!(code, 404, "{missing}: {page}");
        assert!(page.contains("There is no frozen report with this number."));
    }
    // Bytes changed in the database behind unyo's back (its trigger dropped first, as
    // someone with the database's file could): the page says so.
    let db = crate::helper::db(&t);
    db.execute("drop trigger frozen_reports_no_update", [])
        .expect("drop the trigger");
    db.execute(
        "update frozen_reports set body = cast('forged' as blob) where id = ?1",
        [id],
    )
    .expect("forge");
    let (_, reports) = get(port, "/reports");
    let row = reports
        .split(&format!("id=\"frozen-{id}\""))
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .expect("frozen row");
    assert!(row.contains("ALTERED"), "{row}");
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn in_chromium_each_page_reads_and_a_second_approver_approves_from_approvals() {
    let kit = crate::web::browser_kit();
    let (t, port) = pages_tree();
    let d = Daemon::start(&t);
    wait_for("the dashboard", || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    let run = gated_run(&t);
    let starter = os_user();
    let sha = sha256_hex(&std::fs::read(t.path("report.html")).expect("report.html"));
    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), std::path::PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("pages.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(run.to_string())
        .arg(&starter)
        .arg("kimura")
        .arg(&sha)
        .arg(&shots)
        .env("UNYO_WEB_PASSWORD", PASSWORD)
        .output()
        .expect("node");
    assert!(out.status.success(), "pages.mjs: {}", both(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("pages.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    // Jobs and the job, reached by its link.
    let job = &seen["job"];
    assert!(s(&job["url"]).ends_with("/jobs/flow"), "{job}");
    assert_eq!(
        job["steps"],
        serde_json::json!([
            "extract",
            "transform",
            "load",
            "notify-the-city-of-the-totals-at-once"
        ]),
        "{job}"
    );
    assert_eq!(job["edges"], 3, "{job}");
    assert_eq!(job["dots"], 7, "{job}");
    assert!(
        s(&job["description"]).starts_with("<script>window.pwned=1</script>"),
        "{job}"
    );
    assert!(
        s(&job["baseline"]).contains("Baseline (ordinary days, 6 runs)"),
        "{job}"
    );
    assert!(s(&job["sla"]).contains("breached"), "{job}");
    assert!(
        s(&job["next"]).contains("run") || s(&job["next"]).contains("skipped"),
        "{job}"
    );
    assert!(s(&seen["jobJa"]["text"]).contains("実行履歴"), "{seen}");
    assert_eq!(seen["badJob"]["status"], 404, "{seen}");

    // Calendar, in both languages.
    assert!(
        s(&seen["calendar"]["closed"]).contains("closed (2026-06-15)"),
        "{seen}"
    );
    assert!(
        s(&seen["calendarJa"]["closed"]).contains("休業日(2026-06-15)"),
        "{seen}"
    );
    assert!(
        s(&seen["calendarJa"]["closed"]).contains("祝日 成人の日"),
        "{seen}"
    );
    assert!(
        s(&seen["calendarJa"]["closed"]).contains("年末年始の休業"),
        "{seen}"
    );

    // Reports: verified through the form, the frozen one opened from its link.
    assert!(
        s(&seen["reports"]["verdict"]).contains("current: it stands"),
        "{seen}"
    );

    let reports_ja = s(&seen["reportsJa"]["text"]);
    assert!(
        reports_ja.contains("改変なし: 凍結済み報告書 #") && reports_ja.contains("現行版です。"),
        "{reports_ja}"
    );
    assert!(
        s(&seen["approvalsJa"]["text"]).contains("起動者本人は承認できません"),
        "{seen}"
    );
    assert_eq!(seen["frozen"]["status"], 200, "{seen}");
    assert!(s(&seen["frozen"]["text"]).contains("Monthly"), "{seen}");

    // Approvals: the starter refused, a second approver approves, back on Approvals.
    assert!(
        s(&seen["approvals"]["text"]).contains(HOSTILE_MESSAGE),
        "{seen}"
    );
    assert_eq!(seen["starter"]["status"], 403, "{seen}");
    assert!(
        s(&seen["starter"]["text"]).contains("another operator must approve it"),
        "{seen}"
    );
    assert!(audited(&t, &format!("web:{starter}"), "approve", "refused"));
    assert!(s(&seen["second"]["url"]).ends_with("/approvals"), "{seen}");
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

    // No script ran anywhere; nothing was made of the hostile text.
    assert_eq!(seen["pwned"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["dialogs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    for shot in [
        "jobs.png",
        "job.png",
        "job-ja.png",
        "job-print.png",
        "calendar-print.png",
        "job-not-found.png",
        "calendar.png",
        "calendar-ja.png",
        "reports.png",
        "reports-ja.png",
        "approvals-ja.png",
        "frozen-report.png",
        "approvals.png",
        "approval-refused.png",
        "approvals-approved.png",
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
