//! The dashboard off loopback and the city's view. `web.listen` on another address is
//! refused at its place without `tls` or `behind_proxy` and a `public_name`; with `tls`,
//! `unyo web serve` (no daemon) answers HTTPS with a certificate made here by `openssl`,
//! checked by `curl --cacert`, asks for a login to read and sets a `Secure` cookie; behind a
//! proxy the forwarded headers count only on the proxy's connections. Then, in Debian's
//! chromium (`tests/web/city.mjs`), a `city` user reads the month to date in Japanese, is
//! sent to it from every other page and is refused every write.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use crate::helper::{Daemon, Tree, both, one, refused_definitions, text, unique, wait_for};
use crate::web::{browser_kit, free_port};

const PASSWORD: &str = "correct horse battery";
const PUBLIC: &str = "unyo.city.example";

/// Adds a web user with `PASSWORD` given on stdin.
fn add_user(t: &Tree, name: &str, role: &str) {
    let out = t
        .unyo()
        .args(["web", "user", "add", name, "--role", role])
        .write_stdin(format!("{PASSWORD}\n"))
        .output()
        .expect("web user add");
    assert!(out.status.success(), "{}", both(&out));
}

/// `unyo web serve` on a tree: the dashboard without a daemon; stopped by SIGTERM on drop.
struct Served {
    child: Option<Child>,
    log: PathBuf,
}

impl Served {
    fn start(t: &Tree) -> Served {
        let log = t.path(&format!("serve-{}.log", unique()));
        let child = Command::new(env!("CARGO_BIN_EXE_unyo"))
            .env_remove("UNYO_ROOT")
            .env("NO_COLOR", "1")
            .arg("--root")
            .arg(t.root())
            .args(["web", "serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log"))
            .spawn()
            .expect("unyo web serve");
        let s = Served {
            child: Some(child),
            log,
        };
        wait_for("unyo web serve to listen", || {
            s.log().contains("the dashboard on").then_some(())
        });
        s
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGTERM; its exit code.
    fn stop(mut self) -> Option<i32> {
        let mut child = self.child.take().expect("child");
        let pid = nix::unistd::Pid::from_raw(child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).expect("SIGTERM");
        let status = wait_for("unyo web serve to stop", || child.try_wait().expect("wait"));
        status.code()
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// What curl got: its exit code, the status, the head (lower-cased names) and the body.
#[derive(Debug)]
struct Answer {
    exit: i32,
    status: u16,
    head: String,
    body: String,
    stderr: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    }

    /// The `Cookie` header for the session this answer opened.
    fn cookie(&self) -> String {
        let set = self
            .header("set-cookie")
            .unwrap_or_else(|| panic!("no cookie in {self:?}"));
        format!("Cookie: {}", set.split(';').next().expect("pair"))
    }
}

/// `curl -i` with `args`, the URL last.
fn curl(args: &[&str]) -> Answer {
    let out: Output = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "20"])
        .args(args)
        .output()
        .expect("curl (apt-get install curl)");
    let all = text(&out.stdout);
    let (head, body) = all.split_once("\r\n\r\n").unwrap_or((&all, ""));
    Answer {
        exit: out.status.code().unwrap_or(-1),
        status: head
            .split_whitespace()
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0),
        head: head.to_owned(),
        body: body.to_owned(),
        stderr: text(&out.stderr),
    }
}

/// A certificate for `PUBLIC`, `localhost` and 127.0.0.1 with its key, made by `openssl`:
/// (cert, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("tls/cert.pem"), dir.join("tls/key.pem"));
    std::fs::create_dir_all(dir.join("tls")).expect("mkdir");
    let out = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={PUBLIC}"),
            "-addext",
            &format!("subjectAltName=DNS:{PUBLIC},DNS:localhost,IP:127.0.0.1"),
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (apt-get install openssl)");
    assert!(out.status.success(), "{}", both(&out));
    (cert, key)
}

/// The last audit entry of `action`.
fn last_audit(t: &Tree, action: &str) -> serde_json::Value {
    let out = t.run(&["audit", "--json", "--limit", "200"]);
    assert!(out.status.success(), "{}", both(&out));
    let all: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit json");
    all.into_iter()
        .filter(|e| e["action"] == action)
        .max_by_key(|e| e["id"].as_i64().unwrap_or_default())
        .unwrap_or_else(|| panic!("no {action} in the audit"))
}

#[test]
fn a_dashboard_off_loopback_needs_tls_or_a_proxy_and_its_name_at_its_place() {
    let t = Tree::new();
    t.file("unyo.yaml", "web:\n  listen: \"0.0.0.0:8480\"\n");
    let err = refused_definitions(&t);
    assert!(
        err.contains(
            "unyo.yaml:2:11: `web.listen`: `0.0.0.0:8480` is not a loopback address, and the \
             dashboard would show the records to other machines over plain HTTP: add `tls: { \
             cert: FILE, key: FILE }` (PEM files) to serve HTTPS, or `behind_proxy: true` when \
             a reverse proxy in front terminates TLS"
        ),
        "{err}"
    );
    t.file(
        "unyo.yaml",
        "web:\n  listen: \"0.0.0.0:8480\"\n  tls: { cert: tls/cert.pem, key: tls/key.pem }\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains(
            "unyo.yaml:2:11: `web.listen`: `0.0.0.0:8480` is not a loopback address: add \
             `public_name: NAME`"
        ),
        "{err}"
    );
    t.file(
        "unyo.yaml",
        "web:\n  listen: \"0.0.0.0:8480\"\n  public_name: x.example\n  tls: { cert: tls/cert.pem }\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:4:8: `web.tls` needs `key`"),
        "{err}"
    );
    // A proxy on the same machine still brings requests from elsewhere: it needs the name.
    t.file(
        "unyo.yaml",
        "web:\n  listen: \"127.0.0.1:8480\"\n  behind_proxy: true\n  proxies: [10.0.0.5, nginx]\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:3:17: `web.behind_proxy` needs `public_name: NAME`"),
        "{err}"
    );
    assert!(
        err.contains("unyo.yaml:4:12: `web.proxies`: `nginx` is not an IP address"),
        "{err}"
    );
    t.file(
        "unyo.yaml",
        "web:\n  listen: \"127.0.0.1:8480\"\n  public_name: \"x.example:443\"\n  proxies: [10.0.0.5]\n",
    );
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:3:16: `web.public_name`: `x.example:443` is not a host name"),
        "{err}"
    );
    assert!(
        err.contains("unyo.yaml:4:12: `web.proxies` needs `behind_proxy: true`"),
        "{err}"
    );
    for ok in [
        "web:\n  listen: \"0.0.0.0:8480\"\n  behind_proxy: true\n  proxies: [10.0.0.5]\n  public_name: unyo.city.example\n",
        "web:\n  listen: \"[::]:8443\"\n  tls: { cert: c.pem, key: k.pem }\n  public_name: unyo.city.example\n",
    ] {
        t.file("unyo.yaml", ok);
        let out = t.run(&["validate"]);
        assert!(out.status.success(), "{ok}: {}", both(&out));
    }
}

/// The guide's `web:` blocks are settings unyo accepts.
#[test]
fn the_dashboard_guide_s_web_settings_validate() {
    let ours: Vec<_> = crate::readme::blocks("yaml")
        .into_iter()
        .filter(|b| b.at(0).starts_with("docs/guide/dashboard.md") && b.text.contains("web:"))
        .collect();
    assert!(ours.len() >= 3, "{} web blocks", ours.len());
    for b in ours {
        let t = Tree::new();
        t.file("unyo.yaml", &b.text);
        let out = t.run(&["validate"]);
        assert!(out.status.success(), "{}: {}", b.at(0), both(&out));
    }
}

#[test]
fn unyo_web_serve_answers_https_with_its_certificate_asks_a_login_and_sets_a_secure_cookie() {
    let t = Tree::new();
    let (cert, _) = certificate(t.root());
    let port = free_port();
    // Any address: reachable from other machines, so reading needs a login.
    t.file(
        "unyo.yaml",
        &format!(
            "web:\n  listen: \"0.0.0.0:{port}\"\n  tls: {{ cert: tls/cert.pem, key: tls/key.pem }}\n  public_name: {PUBLIC}\n"
        ),
    );
    t.job("bad", "steps:\n  load:\n    run: exit 3\n");
    let out = t.run(&["run", "bad"]);
    assert!(!out.status.success(), "{}", both(&out));
    add_user(&t, "sato", "viewer");
    let served = Served::start(&t);
    assert!(
        served
            .log()
            .contains(&format!("the dashboard on https://0.0.0.0:{port}/")),
        "{}",
        served.log()
    );
    let cacert = cert.display().to_string();
    let resolve = format!("{PUBLIC}:{port}:127.0.0.1");
    let base = format!("https://{PUBLIC}:{port}");

    // The certificate is checked, and is the one configured.
    let untrusted = curl(&[&format!("{base}/login"), "--resolve", &resolve]);
    assert_eq!(untrusted.exit, 60, "{untrusted:?}");
    assert!(untrusted.stderr.contains("certificate"), "{untrusted:?}");
    let login_page = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        &format!("{base}/login"),
    ]);
    assert_eq!(login_page.status, 200, "{login_page:?}");
    assert!(
        login_page.body.contains("name=\"password\""),
        "{login_page:?}"
    );
    // Plain HTTP on the TLS port gets no page.
    let plain = curl(&[&format!("http://127.0.0.1:{port}/")]);
    assert_ne!(plain.status, 200, "{plain:?}");

    // Off loopback, reading needs a login: every page sends to /login, the stylesheet
    // and the login page are served.
    for page in ["/", "/incidents", "/runs/1", "/city", "/nothing"] {
        let a = curl(&[
            "--cacert",
            &cacert,
            "--resolve",
            &resolve,
            &format!("{base}{page}"),
        ]);
        assert_eq!(a.status, 303, "{page}: {a:?}");
        assert_eq!(a.header("location").as_deref(), Some("/login"), "{page}");
        assert!(!a.body.contains("bad"), "{page}: {a:?}");
    }
    let css = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        &format!("{base}/style.css"),
    ]);
    assert_eq!(css.status, 200, "{css:?}");

    // Another name for the address is refused; loopback names pass.
    let other = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &format!("evil.example:{port}:127.0.0.1"),
        "-k",
        &format!("https://evil.example:{port}/login"),
    ]);
    assert_eq!(other.status, 421, "{other:?}");
    let local = curl(&[
        "--cacert",
        &cacert,
        &format!("https://127.0.0.1:{port}/login"),
    ]);
    assert_eq!(local.status, 200, "{local:?}");

    // The login's cookie is Secure; with it the pages read.
    let login = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        "--data",
        "name=sato&password=correct+horse+battery",
        &format!("{base}/login"),
    ]);
    assert_eq!(login.status, 303, "{login:?}");
    let set = login.header("set-cookie").expect("cookie");
    assert!(
        set.contains("; Secure") && set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = login.cookie();
    let today = curl(&[
        "--cacert",
        &cacert,
        "--resolve",
        &resolve,
        "-H",
        &cookie,
        &format!("{base}/"),
    ]);
    assert_eq!(today.status, 200, "{today:?}");
    assert!(
        today.body.contains("sato (viewer)") && today.body.contains("bad"),
        "{today:?}"
    );
    assert_eq!(last_audit(&t, "web.login")["args"]["from"], "127.0.0.1");
    assert_eq!(served.stop(), Some(0));
}

#[test]
fn a_certificate_that_cannot_be_read_stops_the_start_naming_the_file() {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!(
            "web:\n  listen: \"127.0.0.1:{port}\"\n  tls: {{ cert: tls/cert.pem, key: tls/key.pem }}\n"
        ),
    );
    let out = t.run(&["daemon"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let err = text(&out.stderr);
    let cert = t.path("tls/cert.pem");
    assert!(
        err.contains(&format!(
            "cannot read the certificate `{}` (`web.tls.cert`)",
            cert.display()
        )),
        "{err}"
    );
    // A certificate file without a certificate, then a key that is not PEM.
    t.file("tls/cert.pem", "not a certificate\n");
    let out = t.run(&["web", "serve"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("holds no PEM certificate"),
        "{}",
        both(&out)
    );
    certificate(t.root());
    t.file(
        "tls/key.pem",
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    );
    let out = t.run(&["daemon"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("(`web.tls`) do not make a TLS server")
            || text(&out.stderr).contains("(`web.tls.key`)"),
        "{}",
        both(&out)
    );
}

#[test]
fn behind_a_proxy_reading_needs_a_login_and_forwarded_headers_count_only_from_the_proxy() {
    let t = Tree::new();
    let port = free_port();
    let settings = |proxies: &str| {
        format!(
            "web:\n  listen: \"127.0.0.1:{port}\"\n  behind_proxy: true\n{proxies}  public_name: {PUBLIC}\n"
        )
    };
    // The proxy on this machine (the default: loopback).
    t.file("unyo.yaml", &settings(""));
    add_user(&t, "sato", "operator");
    let d = Daemon::start(&t);
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    wait_for("the dashboard", || {
        let a = curl(&[&url("/login")]);
        (a.status == 200).then_some(())
    });
    // Even on loopback: through the proxy, anyone could read.
    let a = curl(&[&url("/")]);
    assert_eq!(
        (a.status, a.header("location")),
        (303, Some("/login".to_owned())),
        "{a:?}"
    );
    let public = curl(&["-H", &format!("Host: {PUBLIC}"), &url("/")]);
    assert_eq!(public.status, 303, "{public:?}");
    let other = curl(&["-H", "Host: evil.example", &url("/login")]);
    assert_eq!(other.status, 421, "{other:?}");

    let forwarded = [
        "-H",
        "X-Forwarded-Proto: https",
        "-H",
        "X-Forwarded-For: 6.6.6.6, 203.0.113.9",
        "-H",
        "Host: unyo.city.example",
        "--data",
        "name=sato&password=correct+horse+battery",
    ];
    let mut args = forwarded.to_vec();
    let login_url = url("/login");
    args.push(&login_url);
    let login = curl(&args);
    assert_eq!(login.status, 303, "{login:?}");
    let set = login.header("set-cookie").expect("cookie");
    assert!(set.contains("; Secure"), "the proxy spoke HTTPS: {set}");
    // The client is the address the proxy appended, not what the client claimed.
    assert_eq!(last_audit(&t, "web.login")["args"]["from"], "203.0.113.9");
    let cookie = login.cookie();
    let today = curl(&["-H", &cookie, &url("/")]);
    assert_eq!(today.status, 200, "{today:?}");
    assert_eq!(d.stop(), Some(0));

    // The proxy elsewhere: a connection from loopback is not the proxy's, and its
    // forwarded headers are anyone's words.
    t.file("unyo.yaml", &settings("  proxies: [192.0.2.10]\n"));
    let served = Served::start(&t);
    let login = curl(&args);
    assert_eq!(login.status, 303, "{login:?}");
    let set = login.header("set-cookie").expect("cookie");
    assert!(!set.contains("Secure"), "{set}");
    assert_eq!(last_audit(&t, "web.login")["args"]["from"], "127.0.0.1");
    assert_eq!(served.stop(), Some(0));
}

#[test]
fn the_city_reads_the_month_to_date_in_japanese_and_is_refused_every_write_in_chromium() {
    let kit = browser_kit();
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\nservice:\n  recovery: 24h\n"),
    );
    t.job(
        "nightly",
        "title: 夜間住民記録集計\nsla: { success_rate: 99.5 }\nsteps:\n  a:\n    run: echo done\n",
    );
    t.job("bad", "steps:\n  load:\n    run: exit 3\n");
    t.job("gated", "steps:\n  ask:\n    approval: { message: go }\n");
    t.job("slow", "steps:\n  nap:\n    run: sleep 60\n");
    for _ in 0..3 {
        let ok = t.run(&["run", "nightly"]);
        assert!(ok.status.success(), "{}", both(&ok));
    }
    let bad = t.run(&["run", "bad"]);
    assert!(!bad.status.success(), "{}", both(&bad));
    // Last month's report, frozen: the city downloads it as frozen.
    let last_month = (tokyo_today().with_day(1).expect("day 1") - chrono::Duration::days(1))
        .format("%Y-%m")
        .to_string();
    let frozen_file = t.path("frozen.md").display().to_string();
    let out = t.run(&[
        "report",
        "monthly",
        "--month",
        &last_month,
        "--freeze",
        "--out",
        &frozen_file,
    ]);
    assert!(out.status.success(), "{}", both(&out));
    add_user(&t, "shisei", "city");
    let d = Daemon::start(&t);
    for job in ["gated", "slow"] {
        let out = t.run(&["run", job, "--detach"]);
        assert!(out.status.success(), "{}", both(&out));
    }
    let gated: i64 = one(&t, "select id from runs where job = 'gated'");
    let slow: i64 = one(&t, "select id from runs where job = 'slow'");
    let incident: i64 = one(&t, "select id from incidents where job = 'bad'");
    wait_for("the gate to wait and the slow run to run", || {
        let waiting: i64 = one(
            &t,
            "select count(*) from steps where status = 'waiting_approval'",
        );
        let running: i64 = one(&t, "select count(*) from runs where status = 'running'");
        (waiting == 1 && running == 2).then_some(())
    });
    let shots = std::env::var_os("UNYO_WEB_SCREENSHOTS")
        .map_or_else(|| t.path("screenshots"), PathBuf::from);
    std::fs::create_dir_all(&shots).expect("screenshots dir");
    let out = Command::new("node")
        .arg(kit.join("city.mjs"))
        .arg(format!("http://127.0.0.1:{port}"))
        .arg("shisei")
        .arg(incident.to_string())
        .arg(gated.to_string())
        .arg(slow.to_string())
        .arg(&shots)
        .env("UNYO_WEB_PASSWORD", PASSWORD)
        .output()
        .expect("node");
    assert!(out.status.success(), "city.mjs: {}", both(&out));
    let seen: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("city.mjs printed no JSON ({e}): {}", both(&out)));
    let s = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();

    // After the login, on the city's view, in Japanese whatever the browser asked.
    let city = &seen["city"];
    assert!(s(&city["url"]).ends_with("/city"), "{city}");
    assert_eq!(city["lang"], "ja", "{city}");
    let page = s(&city["text"]);
    let month = tokyo_today().format("%-m月分").to_string();
    for said in [
        month.as_str(),
        "速報",
        "実行結果の概要",
        "実行件数\n6件",
        "実行中・待機中\n2件",
        "正常終了\n3件",
        "異常終了\n1件",
        "サービスレベル",
        "復旧時間",
        "「夜間住民記録集計」(nightly)の正常終了率",
        "100%(3件中3件)",
        "達成",
        "インシデントと対応状況",
        "未対応",
        "確定した報告書",
        &last_month,
        "shisei (city)",
    ] {
        assert!(page.contains(said), "no `{said}` in:\n{page}");
    }
    // The incident as the Japanese report tells it.
    let incidents = s(&city["incidents"]);
    assert!(
        incidents.contains("bad") && incidents.contains("終了コード 3"),
        "{incidents}"
    );
    // English words of the operators' pages do not appear.
    for english in ["Today", "Succeeded", "Needs attention", "Running now"] {
        assert!(!page.contains(english), "`{english}` in:\n{page}");
    }
    // Every other page sends the city back to its view.
    for (path, landed) in seen["elsewhere"].as_object().expect("elsewhere") {
        assert!(s(landed).ends_with("/city"), "{path} → {landed}");
    }
    // Every write: refused (403), and nothing changed.
    let writes = seen["writes"].as_object().expect("writes");
    assert_eq!(writes.len(), 4, "{writes:?}");
    for (path, status) in writes {
        assert_eq!(status, 403, "{path}");
    }
    assert_eq!(
        one::<String>(
            &t,
            &format!("select status from incidents where id = {incident}")
        ),
        "open"
    );
    assert_eq!(
        one::<i64>(
            &t,
            "select count(*) from steps where status = 'waiting_approval'"
        ),
        1
    );
    assert_eq!(
        one::<String>(&t, &format!("select status from runs where id = {slow}")),
        "running"
    );
    let out = t.run(&["audit", "--json", "--limit", "200"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("audit");
    for action in ["incident.ack", "cancel", "approve", "reject"] {
        assert!(
            audit.iter().any(|e| e["user"] == "web:shisei"
                && e["action"] == action
                && e["outcome"] == "refused"),
            "no refused {action} of web:shisei in the audit"
        );
    }
    // The frozen report, byte for byte.
    assert_eq!(seen["frozen"]["status"], 200, "{seen}");
    let frozen = std::fs::read_to_string(t.path("frozen.md")).expect("frozen.md");
    assert_eq!(s(&seen["frozen"]["body"]), frozen);
    assert_eq!(seen["pageErrors"], serde_json::json!([]), "{seen}");
    for shot in ["city-login.png", "city.png"] {
        let bytes = std::fs::read(shots.join(shot)).expect(shot);
        assert!(
            bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000,
            "{shot}: {} bytes",
            bytes.len()
        );
    }
    for id in [gated, slow] {
        let out = t.run(&["cancel", &id.to_string()]);
        assert!(out.status.success(), "{}", both(&out));
    }
    assert_eq!(d.stop(), Some(0));
}

/// Today in the default time zone (the business date, with `day_start` 00:00).
fn tokyo_today() -> chrono::NaiveDate {
    chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive()
}

use chrono::Datelike as _;

/// The city's view computes the month once a minute, not on every request (it reads the
/// whole month: over a second with a million runs): a run recorded just after a request is
/// not in the next one, which answers with the same figures and says until when they count.
#[test]
fn the_citys_view_shows_the_month_as_computed_within_the_minute() {
    let t = Tree::new();
    let port = free_port();
    t.file(
        "unyo.yaml",
        &format!("web:\n  listen: \"127.0.0.1:{port}\"\n"),
    );
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    let _d = Daemon::start(&t);
    let city = || {
        let (code, _, body) = wait_for("the city's view", || crate::web::get(port, "/city"));
        assert_eq!(code, 200, "{body}");
        body
    };
    let span = |page: &str| {
        let from = page.find("id=\"span\"").expect("the span");
        page[from..page[from..].find("</p>").expect("its end") + from].to_owned()
    };
    let first = city();
    assert!(first.contains("今月の実行はまだありません。"), "{first}");
    let ok = t.run(&["run", "nightly"]);
    assert!(ok.status.success(), "{}", both(&ok));
    let second = city();
    assert!(
        second.contains("今月の実行はまだありません。"),
        "computed again within the minute: {second}"
    );
    assert_eq!(span(&first), span(&second));
}
