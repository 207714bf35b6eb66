//! Health checks with Debian's real `monitoring-plugins` (`check_http`, `check_tcp`) against a
//! real HTTP service on loopback that the test stops and starts: the target goes down after
//! its `down_after` CRITICAL results and opens an incident, comes back up after `up_after`
//! good ones and resolves it (under the daemon, notified through the routes); performance
//! data is kept; a plugin that cannot start fails its step and moves no state; the month's
//! report shows the checks.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use crate::helper::{Tree, one, query, text};

/// A real HTTP service on loopback answering `200 ok` to every request, until stopped.
pub struct Service {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Service {
    /// Serves on `addr` (port 0: any free port).
    pub fn start(addr: SocketAddr) -> Service {
        let listener = TcpListener::bind(addr).expect("bind the service");
        let addr = listener.local_addr().expect("address");
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if flag.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut conn) = conn else { continue };
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                    match conn.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = conn.write_all(
                    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
                );
            }
        });
        Service {
            addr,
            stop,
            thread: Some(thread),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening: connections are refused from now on.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop, which sees the flag and drops the listener.
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.halt();
    }
}

/// A job checking the service twice: HTTP (down after 2, up after 1) and TCP (down after 2,
/// up after 2).
fn web_checks(t: &Tree, port: u16) {
    t.job(
        "web",
        &format!(
            r#"steps:
  http:
    check:
      plugin: check_http
      args: ["-H", "127.0.0.1", "-p", "{port}", "-u", "/health", "-t", "5"]
      target: online-web
      kind: network
      down_after: 2
      up_after: 1
      severity: high
  tcp:
    check:
      plugin: check_tcp
      args: ["-H", "127.0.0.1", "-p", "{port}", "-t", "5"]
      target: online-tcp
      kind: network
      down_after: 2
      up_after: 2
"#
        ),
    );
}

fn run_ok(t: &Tree, job: &str) {
    let out = t.run(&["run", job]);
    assert!(
        out.status.success(),
        "`unyo run {job}` failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

fn state(t: &Tree, target: &str) -> String {
    one(
        t,
        &format!("SELECT state FROM check_targets WHERE target = '{target}'"),
    )
}

/// The incidents of a target, oldest first: (status, resolved_by).
fn incidents_of(t: &Tree, target: &str) -> Vec<String> {
    query(
        t,
        &format!(
            "SELECT status || ' ' || COALESCE(resolved_by, '-') FROM incidents \
             WHERE failure_class = 'target down: {target}' ORDER BY id"
        ),
    )
}

#[test]
fn a_stopped_service_goes_down_opens_incidents_and_resolves_them_when_it_is_back() {
    let t = Tree::new();
    let service = Service::start("127.0.0.1:0".parse().expect("addr"));
    let addr = service.addr();
    web_checks(&t, addr.port());

    run_ok(&t, "web");
    assert_eq!(state(&t, "online-web"), "up");
    assert_eq!(state(&t, "online-tcp"), "up");
    let last: String = one(
        &t,
        "SELECT last_status || ' ' || last_perfdata FROM check_targets WHERE target = 'online-web'",
    );
    assert!(last.starts_with("ok ") && last.contains("time="), "{last}");

    service.stop();
    // One CRITICAL: not down yet, and the check's run itself succeeds.
    run_ok(&t, "web");
    assert_eq!(state(&t, "online-web"), "up");
    assert!(incidents_of(&t, "online-web").is_empty());
    let status: String = one(
        &t,
        "SELECT status FROM check_results WHERE target = 'online-tcp' ORDER BY id DESC LIMIT 1",
    );
    assert_eq!(status, "critical");
    // The second: down, one incident per target, with the severity the check gives.
    run_ok(&t, "web");
    assert_eq!(state(&t, "online-web"), "down");
    assert_eq!(state(&t, "online-tcp"), "down");
    assert_eq!(incidents_of(&t, "online-web"), vec!["open -"]);
    assert_eq!(incidents_of(&t, "online-tcp"), vec!["open -"]);
    let severity: String = one(
        &t,
        "SELECT severity FROM incidents WHERE failure_class = 'target down: online-web'",
    );
    assert_eq!(severity, "high");
    // Still down: an occurrence at most, never a second incident; and the run that
    // succeeded resolves nothing.
    run_ok(&t, "web");
    assert_eq!(incidents_of(&t, "online-web"), vec!["open -"]);

    let _service = Service::start(addr);
    run_ok(&t, "web");
    // HTTP comes up after one good result, TCP needs two.
    assert_eq!(state(&t, "online-web"), "up");
    assert_eq!(incidents_of(&t, "online-web"), vec!["resolved unyo"]);
    assert_eq!(state(&t, "online-tcp"), "down");
    assert_eq!(incidents_of(&t, "online-tcp"), vec!["open -"]);
    run_ok(&t, "web");
    assert_eq!(state(&t, "online-tcp"), "up");
    assert_eq!(incidents_of(&t, "online-tcp"), vec!["resolved unyo"]);
    let changes: i64 = one(
        &t,
        "SELECT COUNT(*) FROM check_results WHERE target = 'online-tcp' AND changed = 1",
    );
    assert_eq!(changes, 2);

    // The month's report has the checks in its monitoring part, in both languages.
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m")
        .to_string();
    let out = t.run(&["report", "monthly", "--month", &month, "--lang", "en"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report = text(&out.stdout);
    assert!(report.contains("### Health checks"), "{report}");
    let web = report
        .lines()
        .find(|l| l.starts_with("| online-web | network | "))
        .unwrap_or_else(|| panic!("no line of online-web in:\n{report}"));
    assert!(
        web.contains("| 1 | 1 | up |"),
        "went down once, one incident, up at the end: {web}"
    );
    assert!(
        report.contains("| network | 2 | "),
        "two network targets: {report}"
    );
    let out = t.run(&["report", "monthly", "--month", &month, "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(json["checks"]["targets"].as_array().map(Vec::len), Some(2));
    let out = t.run(&["report", "monthly", "--month", &month]);
    assert!(
        text(&out.stdout).contains("## 4. 稼働監視の状況")
            && text(&out.stdout).contains("### ヘルスチェック"),
        "{}",
        text(&out.stdout)
    );
}

/// A month with no check has no monitoring part (and its JSON no `checks`).
#[test]
fn a_report_without_checks_has_no_monitoring_part() {
    let t = Tree::new();
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    run_ok(&t, "nightly");
    let out = t.run(&["report", "monthly", "--lang", "en", "--format", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert!(json.get("checks").is_none(), "{json}");
}

#[test]
fn a_plugin_that_cannot_start_fails_its_step_and_moves_no_state() {
    let t = Tree::new();
    t.job(
        "broken",
        "steps:\n  look:\n    check:\n      plugin: check_nothing_here\n      kind: software\n      down_after: 1\n",
    );
    let out = t.run(&["run", "broken"]);
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let row: String = one(
        &t,
        "SELECT state || ' ' || last_status FROM check_targets WHERE target = 'broken.look'",
    );
    assert_eq!(row, "up unknown");
    let targets: Vec<String> = query(
        &t,
        "SELECT failure_class FROM incidents WHERE failure_class LIKE 'target down%'",
    );
    assert!(targets.is_empty(), "{targets:?}");
}

#[test]
fn a_check_step_is_validated() {
    let t = Tree::new();
    t.job(
        "bad",
        "steps:\n  a:\n    check:\n      plugin: check_tcp\n      kind: netwerk\n      down_after: 0\n    run: echo\n",
    );
    t.job(
        "twice",
        "steps:\n  a:\n    check: { plugin: check_load, kind: hardware, target: load }\n",
    );
    t.job(
        "again",
        "steps:\n  a:\n    check: { plugin: check_load, kind: hardware, target: load }\n",
    );
    let out = t.run(&["validate"]);
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains("unknown target kind `netwerk`"), "{err}");
    assert!(
        err.contains("`check.down_after` must be at least 1"),
        "{err}"
    );
    assert!(err.contains("is a check: it has no `argv`"), "{err}");
    assert!(err.contains("target `load` is checked by job"), "{err}");
}

/// Under the daemon, a target going down reaches people through the routes of `notify:`
/// (here a command channel that writes the subject to a file), and coming back up resolves
/// the incident.
#[test]
fn a_target_going_down_under_the_daemon_is_notified_through_the_routes() {
    let t = Tree::new();
    let service = Service::start("127.0.0.1:0".parse().expect("addr"));
    let addr = service.addr();
    t.file(
        "unyo.yaml",
        "notify:\n  channels:\n    file:\n      command:\n        argv: [sh, -c, 'printf \"%s\\n\" \"$UNYO_NOTIFY_SUBJECT\" >> notified.txt']\n  desk:\n    - notify: [file]\n",
    );
    t.job(
        "watch",
        &format!(
            "steps:\n  tcp:\n    check:\n      plugin: check_tcp\n      args: [\"-H\", \"127.0.0.1\", \"-p\", \"{}\", \"-t\", \"5\"]\n      target: online-port\n      kind: network\n      down_after: 1\n      severity: high\n",
            addr.port()
        ),
    );
    let d = crate::helper::Daemon::start(&t);
    service.stop();
    let out = t.run(&["run", "watch", "--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let subject = crate::helper::wait_for("the notification of the target", || {
        std::fs::read_to_string(t.path("notified.txt")).ok()
    });
    assert!(subject.contains("watch"), "{subject}");
    assert_eq!(incidents_of(&t, "online-port"), vec!["open -"]);
    let _service = Service::start(addr);
    let out = t.run(&["run", "watch", "--detach"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    crate::helper::wait_for("the incident to be resolved", || {
        (incidents_of(&t, "online-port") == vec!["resolved unyo"]).then_some(())
    });
    assert_eq!(d.stop(), Some(0));
}
