//! What monitors see of unyo: the daemon's `/metrics` endpoint scraped by plain HTTP and by a
//! real Prometheus (Debian's `prometheus`, started here on loopback with a one-second scrape
//! interval and its own storage) queried through its HTTP API, checked by `promtool check
//! metrics`; `unyo check`'s exit code in each state; systemd's notify protocol against a
//! socket this test listens on.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::checks::Service;
use crate::helper::{Daemon, Tree, text, wait_for};

/// A port free on loopback now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// `GET path` on loopback `port`: (status code, body), or `None` when nothing answers.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(20))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut all = String::new();
    s.read_to_string(&mut all).ok()?;
    let (head, body) = all.split_once("\r\n\r\n")?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, body.to_owned()))
}

/// A tree whose daemon serves metrics on a free port, with a check of `service`.
fn watched(service: &Service) -> (Tree, u16) {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("metrics:\n  listen: \"127.0.0.1:{port}\"\nincidents:\n  severity: medium\n"),
    );
    t.job(
        "watch-web",
        &format!(
            "steps:\n  http:\n    check:\n      plugin: check_http\n      args: [\"-H\", \"127.0.0.1\", \"-p\", \"{}\", \"-t\", \"5\"]\n      target: online-web\n      kind: network\n      down_after: 1\n",
            service.addr().port()
        ),
    );
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    t.file(
        "schedules/city.yaml",
        "schedules:\n  - job: nightly\n    cron: \"0 3 * * *\"\n",
    );
    (t, port)
}

fn run(t: &Tree, job: &str) {
    let out = t.run(&["run", job]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn the_daemon_serves_metrics_that_promtool_accepts() {
    let service = Service::start("127.0.0.1:0".parse().expect("addr"));
    let (t, port) = watched(&service);
    run(&t, "nightly");
    run(&t, "watch-web");
    let d = Daemon::start(&t);
    let (code, body) = wait_for("the metrics endpoint", || get(port, "/metrics"));
    assert_eq!(code, 200, "{body}");
    for line in [
        "unyo_runs_total{unyo_job=\"nightly\",status=\"succeeded\"} 1",
        "unyo_run_duration_seconds_count{unyo_job=\"nightly\"} 1",
        "unyo_check_target_up{target=\"online-web\",kind=\"network\"} 1",
        "unyo_check_status{target=\"online-web\",kind=\"network\"} 0",
        "unyo_incidents_unresolved{severity=\"high\",status=\"open\"} 0",
        "unyo_runs_active{status=\"running\"} 0",
    ] {
        assert!(body.lines().any(|l| l == line), "no `{line}` in:\n{body}");
    }
    assert!(
        body.contains("unyo_job_next_slot_timestamp_seconds{unyo_job=\"nightly\"} "),
        "{body}"
    );
    assert!(
        body.contains(
            "unyo_check_perfdata{target=\"online-web\",kind=\"network\",label=\"time\",unit=\"s\"} "
        ),
        "{body}"
    );
    let (code, _) = get(port, "/other").expect("answer");
    assert_eq!(code, 404);
    // A run that ends later is counted once, at the next scrape, and never again.
    run(&t, "nightly");
    for _ in 0..2 {
        let (_, again) = get(port, "/metrics").expect("scrape");
        assert!(
            again
                .lines()
                .any(|l| l == "unyo_runs_total{unyo_job=\"nightly\",status=\"succeeded\"} 2"),
            "{again}"
        );
    }

    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian `prometheus`)");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(body.as_bytes())
        .expect("feed promtool");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(d.stop(), Some(0));
}

/// A Prometheus on loopback scraping `target` every second, stopped on drop.
struct Prometheus {
    child: Child,
    port: u16,
}

impl Prometheus {
    fn start(dir: &Path, target: u16) -> Prometheus {
        let port = free_port();
        let config = dir.join("prometheus.yml");
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: unyo\n    static_configs:\n      - targets: [\"127.0.0.1:{target}\"]\n"
            ),
        )
        .expect("config");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("tsdb").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("prometheus.log")).expect("log"))
            .spawn()
            .expect("prometheus (Debian `prometheus`)");
        Prometheus { child, port }
    }

    /// The instant query's result list, once it has one.
    fn query(&self, q: &str) -> Option<Vec<serde_json::Value>> {
        let path = format!(
            "/api/v1/query?query={}",
            q.replace('{', "%7B")
                .replace('}', "%7D")
                .replace('"', "%22")
                .replace('=', "%3D")
        );
        let (code, body) = get(self.port, &path)?;
        if code != 200 {
            return None;
        }
        let v: serde_json::Value = serde_json::from_str(&body).ok()?;
        let result = v["data"]["result"].as_array()?.clone();
        (!result.is_empty()).then_some(result)
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_real_prometheus_scrapes_the_daemon_and_answers_queries() {
    let service = Service::start("127.0.0.1:0".parse().expect("addr"));
    let (t, port) = watched(&service);
    run(&t, "nightly");
    run(&t, "watch-web");
    let d = Daemon::start(&t);
    let prom_dir = tempfile::tempdir().expect("dir");
    let p = Prometheus::start(prom_dir.path(), port);
    let up = wait_for("Prometheus to scrape unyo", || p.query("up{job=\"unyo\"}"));
    assert_eq!(up[0]["value"][1], "1", "{up:?}");
    let runs = wait_for("the runs in Prometheus", || {
        p.query("unyo_runs_total{unyo_job=\"nightly\",status=\"succeeded\"}")
    });
    assert_eq!(runs[0]["value"][1], "1");
    let target = wait_for("the target in Prometheus", || {
        p.query("unyo_check_target_up{target=\"online-web\"}")
    });
    assert_eq!(target[0]["metric"]["kind"], "network");
    assert_eq!(target[0]["value"][1], "1");
    let build = wait_for("the build in Prometheus", || p.query("unyo_build_info"));
    assert_eq!(build[0]["metric"]["version"], env!("CARGO_PKG_VERSION"));
    drop(p);
    assert_eq!(d.stop(), Some(0));
}

/// `unyo check`: its exit code and line.
fn check(t: &Tree) -> (i32, String) {
    let out = t.run(&["check"]);
    (out.status.code().expect("exit code"), text(&out.stdout))
}

#[test]
fn unyo_check_exits_with_the_nagios_code_of_each_state() {
    let service = Service::start("127.0.0.1:0".parse().expect("addr"));
    let addr = service.addr();
    let (t, _) = watched(&service);
    // No daemon: CRITICAL.
    let (code, line) = check(&t);
    assert_eq!(code, 2, "{line}");
    assert!(
        line.starts_with("UNYO CRITICAL - no daemon running|"),
        "{line}"
    );
    let d = Daemon::start(&t);
    wait_for("the daemon's first heartbeat", || {
        (check(&t).0 == 0).then_some(())
    });
    run(&t, "watch-web");
    let (code, line) = check(&t);
    assert_eq!(code, 0, "{line}");
    assert!(line.starts_with("UNYO OK - daemon heartbeat "), "{line}");
    assert!(line.contains("1 target up|"), "{line}");
    // A failed job: a medium incident, WARNING.
    t.job("broken", "steps:\n  a:\n    run: exit 4\n");
    let out = t.run(&["run", "broken"]);
    assert_eq!(out.status.code(), Some(1));
    let (code, line) = check(&t);
    assert_eq!(code, 1, "{line}");
    assert!(line.contains("incidents: 1 medium open"), "{line}");
    // The service stops: the target is down, CRITICAL.
    service.stop();
    run(&t, "watch-web");
    let (code, line) = check(&t);
    assert_eq!(code, 2, "{line}");
    assert!(line.contains("1 of 1 target down (online-web)"), "{line}");
    // Back up: its incident resolved, the medium one still there.
    let _service = Service::start(addr);
    run(&t, "watch-web");
    let (code, line) = check(&t);
    assert_eq!(code, 1, "{line}");
    assert_eq!(d.stop(), Some(0));
    // Records that cannot be read: UNKNOWN.
    let u = Tree::new();
    u.file(
        "var/unyo.db",
        "this is not a database, it is a text file of some length\n",
    );
    let (code, line) = check(&u);
    assert_eq!(code, 3, "{line}");
    assert!(
        line.starts_with("UNYO UNKNOWN - cannot read the records: "),
        "{line}"
    );
}

/// A daemon started with systemd's notify variables.
fn daemon_under_systemd(t: &Tree, notify_socket: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_unyo"))
        .env_remove("UNYO_ROOT")
        .env("NOTIFY_SOCKET", notify_socket)
        .env("WATCHDOG_USEC", "1000000")
        .arg("--root")
        .arg(t.root())
        .arg("daemon")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(t.path("daemon.log")).expect("log"))
        .spawn()
        .expect("start daemon")
}

/// The messages `socket` receives until one starts with `until`.
fn receive_until(socket: &UnixDatagram, until: &str) -> Vec<String> {
    socket
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = socket.recv(&mut buf).expect("a message from the daemon");
        let m = String::from_utf8_lossy(&buf[..n]).into_owned();
        let done = m.starts_with(until);
        got.push(m);
        if done {
            return got;
        }
    }
}

#[test]
fn the_daemon_tells_systemd_ready_feeds_the_watchdog_and_says_it_stops() {
    let t = Tree::new();
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    let path = t.path("notify.sock");
    let socket = UnixDatagram::bind(&path).expect("bind");
    let mut child = daemon_under_systemd(&t, &path.display().to_string());
    let first = receive_until(&socket, "READY=1");
    assert_eq!(first.len(), 1, "READY comes first: {first:?}");
    assert!(first[0].contains("STATUS=running: 1 job"), "{first:?}");
    let fed = receive_until(&socket, "WATCHDOG=1");
    assert_eq!(fed.last().map(String::as_str), Some("WATCHDOG=1"));
    // Fed again: the loop goes on feeding it.
    receive_until(&socket, "WATCHDOG=1");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("term");
    let last = receive_until(&socket, "STOPPING=1");
    assert!(last.last().is_some_and(|m| m.starts_with("STOPPING=1")));
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}

#[test]
fn the_daemon_notifies_an_abstract_socket() {
    use std::os::linux::net::SocketAddrExt;
    let t = Tree::new();
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    let name = format!("unyo-test-{}", crate::helper::unique());
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).expect("name");
    let socket = UnixDatagram::bind_addr(&addr).expect("bind");
    let mut child = daemon_under_systemd(&t, &format!("@{name}"));
    receive_until(&socket, "READY=1");
    kill(Pid::from_raw(child.id() as i32), Signal::SIGTERM).expect("term");
    receive_until(&socket, "STOPPING=1");
    assert_eq!(child.wait().expect("wait").code(), Some(0));
}
