//! Today as the night left it: a daemon serving the dashboard over a tree where a run failed
//! and opened its incident, a run goes on past its `end_delay` (late), the daemon missed the
//! slots of the minutes it was down, a run goes on far longer than its job's last successful
//! runs (over its expected time) and a health check is down with a hostile status line. Read
//! over HTTP, then in Debian's `chromium` (`tests/web/today.mjs`), whose screenshots the test
//! keeps; the timeline's filter is used as an operator would, through its form.

use std::path::PathBuf;
use std::process::Command;

use chrono::Timelike;

use crate::helper::{Daemon, Tree, both, db, one, wait_for};
use crate::web::{browser_kit, free_port, get};

/// What the check plugin prints: markup that would run script if it were not escaped.
const HOSTILE_CHECK: &str = "CRITICAL - <script>window.pwned=4</script> db down";

/// `unyo.yaml` serving the dashboard on `port`, in UTC, with the business day starting
/// twelve hours from now: the test's runs and slots all fall on today's business date
/// whenever it runs.
fn settings(t: &Tree, port: u16) {
    let start = (chrono::Utc::now().hour() + 12) % 24;
    t.file(
        "unyo.yaml",
        &format!(
            "timezone: UTC\nday_start: \"{start:02}:00\"\nweb:\n  listen: \"127.0.0.1:{port}\"\n"
        ),
    );
}

/// The section of Today with this id, up to the next one.
fn section<'a>(page: &'a str, id: &str) -> &'a str {
    let rest = page
        .split(&format!("<section id=\"{id}\">"))
        .nth(1)
        .unwrap_or_else(|| panic!("no section {id} in:\n{page}"));
    rest.split("</section>").next().unwrap_or(rest)
}

/// Regression: a failed run that had opened an incident was listed twice under "Needs
/// attention", once as the incident and once as the failed run. It is one line now, the
/// run's, naming its incident.
#[test]
fn a_failed_run_with_an_incident_is_listed_once_under_needs_attention() {
    let t = Tree::new();
    let port = free_port();
    settings(&t, port);
    t.job("broken", "steps:\n  a:\n    run: exit 4\n");
    let out = t.run(&["run", "broken"]);
    assert!(!out.status.success(), "{}", both(&out));
    let id: i64 = one(&t, "SELECT id FROM runs WHERE job = 'broken'");
    let incident: i64 = one(
        &t,
        &format!("SELECT id FROM incidents WHERE run_id = {id} AND status = 'open'"),
    );
    let d = Daemon::start(&t);
    let (code, _, page) = wait_for("the dashboard", || get(port, "/"));
    assert_eq!(code, 200, "{page}");
    let attention = section(&page, "attention");
    assert_eq!(
        attention.matches(&format!("href=\"/runs/{id}\"")).count(),
        1,
        "{attention}"
    );
    assert_eq!(attention.matches("<tr class=").count(), 1, "{attention}");
    assert!(
        attention.contains(&format!("Run #{id} (failed)"))
            && attention.contains(&format!("Incident #{incident} (")),
        "{attention}"
    );

    // An unknown status in the address is refused, naming the parameter; nothing else.
    let (code, _, refused) = get(port, "/?status=exploded").expect("answer");
    assert_eq!(code, 400, "{refused}");
    assert!(
        refused.contains("`status` in the address: `exploded` is not a run status"),
        "{refused}"
    );
    let (code, _, failed) = get(port, "/?status=failed&node=").expect("answer");
    assert_eq!(code, 200, "{failed}");
    assert!(
        section(&failed, "timeline").contains(&format!("href=\"/runs/{id}\"")),
        "{failed}"
    );
    let (_, _, none) = get(port, "/?status=succeeded").expect("answer");
    assert!(
        section(&none, "timeline").contains("No run of the business date matches."),
        "{none}"
    );
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn today_shows_late_missed_overrunning_and_failing_checks_and_filters_in_chromium() {
    let kit = browser_kit();
    let t = Tree::new();
    let port = free_port();
    settings(&t, port);
    let flag = t.path("slow-now");
    t.job(
        "quick",
        &format!(
            "steps:\n  a:\n    run: \"if [ -e '{}' ]; then sleep 120; fi\"\n",
            flag.display()
        ),
    );
    t.job(
        "lateish",
        "end_delay: 2s\nsteps:\n  a:\n    run: sleep 120\n",
    );
    t.job("broken", "steps:\n  a:\n    run: exit 4\n");
    let plugin = t.path("check_db");
    t.file(
        "check_db",
        &format!("#!/bin/sh\necho '{HOSTILE_CHECK}'\nexit 2\n"),
    );
    std::fs::set_permissions(&plugin, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    t.job(
        "watch",
        &format!(
            "steps:\n  db:\n    check:\n      plugin: {}\n      target: city-db\n      kind: software\n      down_after: 1\n",
            plugin.display()
        ),
    );
    t.job("tick", "steps:\n  a:\n    run: echo tick\n");
    t.file(
        "schedules/tick.yaml",
        "schedules:\n  - job: tick\n    cron: \"* * * * *\"\n",
    );
    // Five quick successful runs make `quick`'s baseline; a failure; the check goes down.
    for _ in 0..5 {
        let out = t.run(&["run", "quick"]);
        assert!(out.status.success(), "{}", both(&out));
    }
    let out = t.run(&["run", "broken"]);
    assert!(!out.status.success(), "{}", both(&out));
    let out = t.run(&["run", "watch"]);
    let down: String = one(
        &t,
        "SELECT state FROM check_targets WHERE target = 'city-db'",
    );
    assert_eq!(down, "down", "{}", both(&out));
    let broken: i64 = one(&t, "SELECT id FROM runs WHERE job = 'broken'");

    // The daemon was down for the last ten minutes: their slots of `tick` were missed.
    let d = Daemon::start(&t);
    assert_eq!(d.stop(), Some(0));
    let past = chrono::Utc::now() - chrono::Duration::minutes(10);
    db(&t)
        .execute(
            "UPDATE watermarks SET through = ?",
            [past.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)],
        )
        .expect("rewind");
    let d = Daemon::start(&t);
    std::fs::write(&flag, "").expect("flag");
    for job in ["quick", "lateish"] {
        let out = t.run(&["run", job, "--detach"]);
        assert!(out.status.success(), "{}", both(&out));
    }
    let quick: i64 = one(&t, "SELECT max(id) FROM runs WHERE job = 'quick'");
    let lateish: i64 = one(&t, "SELECT id FROM runs WHERE job = 'lateish'");
    // Late after 2 s; over its expected time once 5 s past its median (the least margin).
    wait_for("the late and overrunning runs on Today", || {
        let (_, _, page) = get(port, "/")?;
        let a = section(&page, "attention");
        (a.contains("<tr class=\"late\">") && a.contains("<tr class=\"over\">")).then_some(())
    });

    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("today.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg(&shots)
        .output()
        .expect("node");
    assert!(out.status.success(), "today.mjs: {}", both(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("today.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let rows = |v: &serde_json::Value| -> Vec<(String, String)> {
        v.as_array()
            .expect("rows")
            .iter()
            .map(|r| (s(&r["kind"]), s(&r["text"])))
            .collect()
    };

    let today = &seen["today"];
    assert_eq!(today["status"], 200, "{today}");
    let attention = rows(&today["attention"]);
    let line = |kind: &str, has: &str| {
        attention
            .iter()
            .any(|(k, text)| k == kind && text.contains(has))
    };
    assert!(
        line("late", &format!("Run #{lateish} (end_delay)")),
        "{attention:?}"
    );
    assert!(line("late", "lateish"), "{attention:?}");
    assert!(line("missed", "tick"), "{attention:?}");
    assert!(line("over", &format!("Run #{quick}")), "{attention:?}");
    assert!(
        line("failed", &format!("Run #{broken} (failed)")),
        "{attention:?}"
    );
    // The check's status line is shown as the text it is.
    assert!(line("check", HOSTILE_CHECK), "{attention:?}");
    assert!(line("check", "city-db"), "{attention:?}");
    let counters = s(&today["counters"]);
    let count = |word: &str| -> i64 {
        counters
            .lines()
            .collect::<Vec<_>>()
            .windows(2)
            .find(|w| w[1] == word)
            .and_then(|w| w[0].trim().parse().ok())
            .unwrap_or_else(|| panic!("no counter {word} in {counters:?}"))
    };
    assert!(count("Late") >= 1, "{counters}");
    assert!(count("Missed") >= 5, "{counters}");
    assert_eq!(count("Failed"), 1, "{counters}");
    assert_eq!(count("Running"), 2, "{counters}");
    // Running now: `quick` over its expected time, against a median of a moment.
    let running = rows(&today["running"]);
    assert!(
        running
            .iter()
            .any(|(k, text)| k == "over" && text.contains(&format!("#{quick}"))),
        "{running:?}"
    );
    assert!(
        running
            .iter()
            .any(|(k, text)| k.is_empty() && text.contains(&format!("#{lateish}"))),
        "{running:?}"
    );

    // The filter, chosen in its form: only the failed run, then only one node's runs.
    let failed = &seen["failed"];
    assert!(s(&failed["url"]).contains("status=failed"), "{failed}");
    let statuses: Vec<String> = failed["statuses"]
        .as_array()
        .expect("statuses")
        .iter()
        .map(s)
        .collect();
    assert_eq!(statuses, ["failed"], "{failed}");
    assert!(
        s(&failed["timeline"]).contains(&format!("#{broken}")),
        "{failed}"
    );
    assert_eq!(failed["selected"], "failed", "{failed}");
    let node = &seen["node"];
    assert!(s(&node["url"]).contains("node="), "{node}");
    let all_runs: i64 = one(&t, "SELECT count(*) FROM runs");
    let shown = node["rows"].as_i64().expect("rows");
    assert!(shown >= 9 && shown <= all_runs, "{node} of {all_runs}");
    let unknown = &seen["nowhere"];
    assert!(
        s(&unknown["timeline"]).contains("No run of the business date matches."),
        "{unknown}"
    );

    for page in [today, failed, node] {
        assert_eq!(page["pwned"], "undefined", "{page}");
        assert_eq!(page["scripts"], 0, "{page}");
    }
    assert_eq!(seen["dialogs"], serde_json::json!([]), "{seen}");
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    for shot in [
        "today-attention.png",
        "today-failed.png",
        "today-ja-attention.png",
    ] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}: {} bytes",
            bytes.len()
        );
    }
    for id in [quick, lateish] {
        let out = t.run(&["cancel", &id.to_string()]);
        assert!(out.status.success(), "{}", both(&out));
    }
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn an_operator_cancels_a_running_run_from_today_and_a_reader_sees_no_button() {
    use crate::web_auth::{add_user, audited, csrf, http, login};
    let t = Tree::new();
    let port = free_port();
    settings(&t, port);
    t.job("slow", "steps:\n  wait:\n    run: sleep 60\n");
    add_user(&t, "op", "operator");
    let d = Daemon::start(&t);
    let out = t.run(&["run", "slow", "--detach"]);
    assert!(out.status.success(), "{}", both(&out));
    let run: i64 = one(&t, "SELECT id FROM runs WHERE job = 'slow'");
    let button = format!("action=\"/runs/{run}/cancel\"");
    let page = wait_for("the run running on Today", || {
        let (_, _, page) = get(port, "/")?;
        section(&page, "running")
            .contains(&format!("#{run}</a>"))
            .then_some(page)
    });
    assert!(!page.contains(&button), "a reader sees no cancel: {page}");
    let operator = login(port, "op");
    let (_, _, page) = http(port, "GET", "/", &[&operator], "");
    assert!(section(&page, "running").contains(&button), "{page}");
    let token = csrf(port, &operator, "/");
    let (code, head, _) = http(
        port,
        "POST",
        &format!("/runs/{run}/cancel"),
        &[&operator],
        &format!("csrf={token}"),
    );
    assert_eq!(code, 303, "{head}");
    wait_for("the run to be cancelled", || {
        (one::<String>(&t, &format!("SELECT status FROM runs WHERE id = {run}")) == "cancelled")
            .then_some(())
    });
    assert!(audited(&t, "web:op", "cancel", "done"));
    assert_eq!(d.stop(), Some(0));
}
