//! The dashboard (`web:`) as an operator sees it: a daemon serving it on a free loopback
//! port over a tree with a run that succeeded and one that failed with hostile text in its
//! parameter and output; read over plain HTTP, then in Debian's `chromium` driven by
//! playwright-core (`tests/web/browse.mjs`, never a downloaded browser). Also what
//! `web.listen` accepts and a taken address.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::helper::{Daemon, Tree, both, one, refused_definitions, text, wait_for};

/// A port free on loopback now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// An HTTP/1.0 request on loopback `port`: (status code, head, body), or `None` when nothing
/// answers.
pub(crate) fn request(
    port: u16,
    method: &str,
    path: &str,
    headers: &str,
) -> Option<(u16, String, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(s, "{method} {path} HTTP/1.0\r\n{headers}\r\n").ok()?;
    let mut all = String::new();
    s.read_to_string(&mut all).ok()?;
    let (head, body) = all.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, head.to_owned(), body.to_owned()))
}

pub(crate) fn get(port: u16, path: &str) -> Option<(u16, String, String)> {
    request(port, "GET", path, &format!("Host: 127.0.0.1:{port}\r\n"))
}

/// What the hostile run prints and is given: markup that would run script if it were not
/// escaped.
const HOSTILE_OUT: &str = "<script>window.pwned=1</script>";
const HOSTILE_ERR: &str = "<img src=x onerror=\"window.pwned=2\">";
const HOSTILE_PARAM: &str = "</code><script>window.pwned=3</script>";

/// A tree whose daemon serves the dashboard on a free port: `nightly` succeeded, `hostile`
/// failed (exit 3); `nightly` is scheduled hourly. Returns the tree, the port and the failed
/// run's id.
fn dashboard_tree() -> (Tree, u16, i64) {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    t.job(
        "hostile",
        &format!(
            "params:\n  note: {{ type: string }}\nsteps:\n  load:\n    run: |\n      echo 'loading {HOSTILE_OUT}'\n      echo '{HOSTILE_ERR}' >&2\n      exit 3\n"
        ),
    );
    t.file(
        "schedules/city.yaml",
        "schedules:\n  - job: nightly\n    cron: \"0 * * * *\"\n",
    );
    let ok = t.run(&["run", "nightly"]);
    assert!(ok.status.success(), "{}", both(&ok));
    let bad = t.run(&["run", "hostile", "-p", &format!("note={HOSTILE_PARAM}")]);
    assert!(!bad.status.success(), "{}", both(&bad));
    let id: i64 = one(&t, "select id from runs where job = 'hostile'");
    (t, port, id)
}

#[test]
fn the_dashboard_answers_today_a_run_and_a_404_over_http() {
    let (t, port, id) = dashboard_tree();
    let d = Daemon::start(&t);
    let (code, head, body) = wait_for("the dashboard", || get(port, "/"));
    assert_eq!(code, 200, "{body}");
    assert!(head.contains("content-type: text/html"), "{head}");
    assert!(
        head.contains("content-security-policy: default-src 'none'"),
        "{head}"
    );
    // The counters of the day: one succeeded, one failed, nothing running.
    for counter in [
        "<span class=\"n\">1</span> Succeeded",
        "<span class=\"n\">1</span> Failed",
        "<span class=\"n\">0</span> Running",
        "<span class=\"n\">0</span> Queued",
        "<span class=\"n\">0</span> Waiting for approval",
    ] {
        assert!(body.contains(counter), "no `{counter}` in:\n{body}");
    }
    assert!(body.contains(&format!("href=\"/runs/{id}\"")), "{body}");
    assert!(body.contains("<html lang=\"en\">"), "{body}");
    // The next 24 hours hold the hourly slots of `nightly`.
    let next = body.split("id=\"next\"").nth(1).expect("next section");
    assert!(next.matches("<td>nightly</td>").count() >= 23, "{next}");

    let (code, _, run) = get(port, &format!("/runs/{id}")).expect("run page");
    assert_eq!(code, 200, "{run}");
    // Escaped as askama does it (numeric references).
    assert!(
        run.contains("&#60;script&#62;window.pwned=1&#60;/script&#62;"),
        "{run}"
    );
    assert!(
        run.contains("&#60;img src=x onerror=&#34;window.pwned=2&#34;&#62;"),
        "{run}"
    );
    assert!(!run.contains("<script") && !run.contains("<img"), "{run}");
    assert!(run.contains("<strong class=\"exit\">3</strong>"), "{run}");

    for missing in ["/runs/999999", "/runs/abc", "/nothing"] {
        let (code, _, body) = get(port, missing).expect("answer");
        assert_eq!(code, 404, "{missing}: {body}");
        assert!(body.contains("Not found"), "{missing}: {body}");
    }
    let (code, head, css) = get(port, "/style.css").expect("style");
    assert_eq!(code, 200);
    assert!(head.contains("content-type: text/css"), "{head}");
    assert!(css.contains(".counters"), "{css}");
    // Japanese for a browser that asks for it.
    let (_, _, ja) = request(
        port,
        "GET",
        "/",
        &format!("Host: localhost:{port}\r\nAccept-Language: ja-JP,ja;q=0.9,en;q=0.5\r\n"),
    )
    .expect("today in Japanese");
    assert!(
        ja.contains("<html lang=\"ja\">") && ja.contains("業務日付"),
        "{ja}"
    );
    // Read-only, and only for loopback names: a page elsewhere that points a name of its own
    // at 127.0.0.1 gets nothing.
    let (code, _, _) =
        request(port, "POST", "/", &format!("Host: 127.0.0.1:{port}\r\n")).expect("answer");
    assert_eq!(code, 405);
    let (code, _, body) =
        request(port, "GET", "/", "Host: attacker.example:8480\r\n").expect("answer");
    assert_eq!(code, 421, "{body}");
    assert_eq!(d.stop(), Some(0));
}

/// The `n` of a counter of Today's page, by its class.
fn counter(page: &str, class: &str) -> Option<u32> {
    let at = page.find(&format!("<li class=\"{class}\"><span class=\"n\">"))?;
    let rest = &page[at..];
    let n = rest.split("<span class=\"n\">").nth(1)?.split('<').next()?;
    n.parse().ok()
}

#[test]
fn today_shows_what_runs_and_waits_now_and_the_slots_of_a_reload() {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.job("gated", "steps:\n  ask:\n    approval: { message: go }\n");
    t.job("slow", "steps:\n  nap:\n    run: sleep 60\n");
    let d = Daemon::start(&t);
    for job in ["gated", "slow"] {
        let out = t.run(&["run", job, "--detach"]);
        assert!(out.status.success(), "{}", both(&out));
    }
    let gated: i64 = one(&t, "select id from runs where job = 'gated'");
    let slow: i64 = one(&t, "select id from runs where job = 'slow'");
    let page = wait_for("both runs running on Today", || {
        let (_, _, body) = get(port, "/")?;
        (counter(&body, "running") == Some(2) && counter(&body, "approval") == Some(1))
            .then_some(body)
    });
    assert_eq!(counter(&page, "queued"), Some(0), "{page}");
    let running = page
        .split("id=\"running\"")
        .nth(1)
        .expect("running section");
    for id in [gated, slow] {
        assert!(
            running.contains(&format!("<a href=\"/runs/{id}\">#{id}</a>")),
            "{running}"
        );
    }
    // No schedule yet; a reload that adds one shows its slots.
    assert!(page.contains("No slot in the next 24 hours."), "{page}");
    t.file(
        "schedules/city.yaml",
        "schedules:\n  - job: slow\n    cron: \"*/30 * * * *\"\n",
    );
    d.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for("the reloaded schedule on Today", || {
        let (_, _, body) = get(port, "/")?;
        let next = body.split("id=\"next\"").nth(1)?.to_owned();
        (next.matches("<td>slow</td>").count() >= 47).then_some(())
    });
    // Every five minutes: more than the page shows, and it says so.
    t.file(
        "schedules/city.yaml",
        "schedules:\n  - job: slow\n    cron: \"*/5 * * * *\"\n",
    );
    d.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for("the page to say more slots follow", || {
        let (_, _, body) = get(port, "/")?;
        body.contains("More slots follow in these 24 hours")
            .then_some(())
    });
    for id in [gated, slow] {
        let out = t.run(&["cancel", &id.to_string()]);
        assert!(out.status.success(), "{}", both(&out));
    }
    wait_for("nothing running on Today", || {
        let (_, _, body) = get(port, "/")?;
        (counter(&body, "running") == Some(0)).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
}

/// The one line that installs what the browser test needs.
const INSTALL: &str = "apt-get install -y nodejs npm chromium && (cd tests/web && npm ci)";

/// `tests/web/` with its npm packages installed (`npm ci`, from npm's cache when it can).
pub(crate) fn browser_kit() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web");
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "the dashboard's browser test needs Node; as root run: {INSTALL}"
    );
    assert!(
        Path::new("/usr/bin/chromium").exists(),
        "the dashboard's browser test needs Debian's chromium; as root run: {INSTALL}"
    );
    if !dir
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        let out = Command::new("npm")
            .args(["ci", "--prefer-offline", "--no-audit", "--no-fund"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("npm: {e}; as root run: {INSTALL}"));
        assert!(
            out.status.success(),
            "npm ci in tests/web failed ({}); run: {INSTALL}",
            both(&out)
        );
    }
    dir
}

#[test]
fn an_operator_follows_a_failed_run_from_today_to_its_log_tail_in_chromium() {
    let kit = browser_kit();
    let (t, port, id) = dashboard_tree();
    let d = Daemon::start(&t);
    wait_for("the dashboard", || get(port, "/"));
    // Kept where the caller says (to look at them), else in the test's own directory.
    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("browse.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(id.to_string())
        .arg(&shots)
        .output()
        .expect("node");
    assert!(out.status.success(), "browse.mjs: {}", both(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("browse.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    // Today: the day's counters, the failed run under "Needs attention".
    let today = &seen["today"];
    assert_eq!(today["status"], 200, "{today}");
    assert_eq!(today["lang"], "en");
    let counters = s(&today["counters"]);
    assert!(counters.contains("1\nSucceeded"), "{counters}");
    assert!(counters.contains("1\nFailed"), "{counters}");
    let today_text = s(&today["text"]);
    assert!(
        today_text.contains(&format!("Run #{id} (failed)")),
        "{today_text}"
    );
    assert!(today_text.contains("hostile"), "{today_text}");

    // The Run page reached by following the link: the log tail read as text.
    let run = &seen["run"];
    assert!(s(&run["url"]).ends_with(&format!("/runs/{id}")), "{run}");
    let run_text = s(&run["text"]);
    assert!(run_text.contains("failed"), "{run_text}");
    assert_eq!(
        run["stdout"][0].as_str().map(str::trim),
        Some(format!("loading {HOSTILE_OUT}").as_str()),
        "{run}"
    );
    assert_eq!(
        run["stderr"][0].as_str().map(str::trim),
        Some(HOSTILE_ERR),
        "{run}"
    );
    assert!(s(&run["params"]).contains(HOSTILE_PARAM), "{run}");
    // No script ran, none is in the page, no image was made of the log line.
    for page in [today, run, &seen["todayJa"]] {
        assert_eq!(page["pwned"], "undefined", "{page}");
    }
    assert_eq!(run["scripts"], 0, "{run}");
    assert_eq!(run["images"], 0, "{run}");
    assert_eq!(seen["dialogs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");

    let missing = &seen["missing"];
    assert_eq!(missing["status"], 404, "{missing}");
    assert!(
        s(&missing["text"]).contains("There is no run with this number."),
        "{missing}"
    );

    let ja = &seen["todayJa"];
    assert_eq!(ja["lang"], "ja", "{ja}");
    let ja_text = s(&ja["text"]);
    assert!(
        ja_text.contains("業務日付") && ja_text.contains("異常終了"),
        "{ja_text}"
    );

    for shot in ["today.png", "run.png", "not-found.png", "today-ja.png"] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}: {} bytes",
            bytes.len()
        );
    }
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn web_listen_is_loopback_only_and_checked_at_its_place() {
    let t = Tree::new();
    t.file("unyo.yaml", "web:\n  listen: \"0.0.0.0:8480\"\n");
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:2:11: `web.listen`: `0.0.0.0:8480` is not a loopback address, and the dashboard would show the records to other machines over plain HTTP"),
        "{err}"
    );
    t.file("unyo.yaml", "web:\n  listen: localhost\n");
    let err = refused_definitions(&t);
    assert!(
        err.contains("`web.listen`: `localhost` is not HOST:PORT"),
        "{err}"
    );
    t.file(
        "unyo.yaml",
        "web:\n  listen: \"127.0.0.1:8480\"\n  port: 80\n",
    );
    let err = refused_definitions(&t);
    assert!(err.contains("unyo.yaml:3:3: unknown key `port`"), "{err}");
    t.file("unyo.yaml", "web:\n  listen: \"[::1]:8480\"\n");
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "{}", both(&out));
}

#[test]
fn a_taken_dashboard_address_stops_the_start() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    let out = t.run(&["daemon"]);
    assert!(!out.status.success(), "{}", both(&out));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!(
            "cannot listen on `127.0.0.1:{port}` for the dashboard (`web.listen`)"
        )),
        "{err}"
    );
}

/// The language follows the browser until one is chosen on the page: `/lang/ja` keeps
/// Japanese in a cookie (an English browser then reads Japanese), `/lang/en` English, any
/// other code is a 404.
#[test]
fn a_language_chosen_on_the_page_wins_over_the_browsers() {
    let (t, port, _) = dashboard_tree();
    let _d = Daemon::start(&t);
    wait_for("the dashboard", || get(port, "/"));
    let host = format!("Host: 127.0.0.1:{port}\r\n");
    let (code, head, _) = request(port, "GET", "/lang/ja", &host).expect("answer");
    assert_eq!(code, 303, "{head}");
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or(l.strip_prefix("Set-Cookie: "))
        })
        .expect("a cookie");
    assert!(cookie.starts_with("unyo_lang=ja;"), "{cookie}");
    assert!(
        head.to_ascii_lowercase().contains("location: /\r\n"),
        "{head}"
    );
    let english = format!("{host}Accept-Language: en-US,en;q=0.9\r\n");
    let (_, _, page) = request(port, "GET", "/", &english).expect("answer");
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    let chosen = format!("{english}Cookie: unyo_lang=ja\r\n");
    let (_, _, page) = request(port, "GET", "/", &chosen).expect("answer");
    assert!(page.contains("<html lang=\"ja\">"), "{page}");
    let japanese = format!("{host}Accept-Language: ja\r\nCookie: unyo_lang=en\r\n");
    let (_, _, page) = request(port, "GET", "/", &japanese).expect("answer");
    assert!(page.contains("<html lang=\"en\">"), "{page}");
    let (code, _, _) = request(port, "GET", "/lang/fr", &host).expect("answer");
    assert_eq!(code, 404);
}

/// The run page says what the runbook decided on each failed attempt, as `unyo show` does:
/// the rule that matched, what was done, the remediation's result.
#[test]
fn the_run_page_shows_the_runbooks_decision_on_a_failed_attempt() {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.file(
        "runbooks/flaky.yaml",
        "rules:\n  - description: Locked <database>\n    match: { exit_codes: [75] }\n    \
         remediate: { run: \"true\", timeout: 5s }\n    retry: { max: 1, initial: 100ms }\n",
    );
    t.job(
        "load",
        "runbook: flaky\nsteps:\n  load:\n    run: |\n      \
         if [ ! -e once ]; then touch once; exit 75; fi\n      echo loaded\n",
    );
    let out = t.run(&["run", "load"]);
    assert!(out.status.success(), "{}", both(&out));
    let _d = Daemon::start(&t);
    let (code, _, page) = wait_for("the run page", || get(port, "/runs/1"));
    assert_eq!(code, 200, "{page}");
    let line = page
        .lines()
        .find(|l| l.starts_with("<p class=\"runbook\">"))
        .unwrap_or_else(|| panic!("no runbook line in:\n{page}"));
    assert!(
        line.contains("<code>flaky#1 (Locked &#60;database&#62;)</code>")
            || line.contains("<code>flaky#1 (Locked &lt;database&gt;)</code>"),
        "{line}"
    );
    assert!(
        line.contains("remediation succeeded; retry 1 of 1"),
        "{line}"
    );
    assert!(line.contains("remediation: succeeded"), "{line}");
    assert_eq!(page.matches("<p class=\"runbook\">").count(), 1, "{page}");
}
