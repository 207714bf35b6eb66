//! Notifications end to end on loopback: a webhook server, an SMTP server and commands, each
//! written here by hand and recording what it received; plus `unyo validate` on `notify:`.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use chrono::{TimeZone, Utc};
use unyo::model::{Channel, ChannelKind, CommandChannel, Language, Notify, Settings, WebhookUrl};
use unyo::notify::{Event, IncidentNote, Message, Templates, deliver, local_time};
use unyo::spec::Severity;

use crate::helper::{Tree, both, live_group_members, refused_definitions, text, wait_for};

fn note() -> IncidentNote {
    let opened = Utc
        .with_ymd_and_hms(2026, 11, 23, 17, 31, 5)
        .single()
        .expect("time");
    IncidentNote {
        id: 12,
        severity: Severity::High,
        job: "nightly-backup".into(),
        run_id: Some(345),
        step: Some("dump".into()),
        failure_class: "exit".into(),
        summary: "ステップ dump が終了コード 3 で終了しました".into(),
        log_excerpt: "pg_dump: エラー: 接続できません\npg_dump: 終了します".into(),
        opened_at: opened,
        opened_at_local: local_time(opened, chrono_tz::Asia::Tokyo),
        status: "open".into(),
        occurrences: 1,
        rule: Some("db-transient#2".into()),
        report_deadline: None,
        host: "ops01".into(),
        event: Event::Opened,
        level: 1,
        unacknowledged_minutes: None,
        next_level: None,
    }
}

fn message() -> Message {
    Templates::shipped(Language::Ja).render(&note())
}

fn channel(name: &str, kind: ChannelKind) -> Channel {
    Channel {
        name: name.into(),
        kind,
    }
}

/// `notify:` of a `unyo.yaml` holding these channel definitions, loaded for real.
fn notify_with(channels: &str, first_level: &str) -> Notify {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        &format!("notify:\n  channels:\n{channels}  desk:\n    - notify: [{first_level}]\n"),
    );
    match Settings::load(t.root()) {
        Ok(s) => s.notify.expect("notify"),
        Err(e) => panic!("settings do not load:\n{e}"),
    }
}

/// A port nothing listens on.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

// ---------------------------------------------------------------------------------------------
// a webhook receiver

#[derive(Debug, Clone)]
pub(crate) struct Request {
    pub(crate) line: String,
    pub(crate) headers: BTreeMap<String, String>,
    pub(crate) body: Vec<u8>,
}

/// Answers one request per status in `statuses`, in order, recording each request.
pub(crate) fn http_server(statuses: &[u16]) -> (u16, Arc<Mutex<Vec<Request>>>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let statuses = statuses.to_vec();
    let handle = std::thread::spawn(move || {
        for status in statuses {
            let (stream, _) = listener.accept().expect("accept");
            let req = read_request(&stream);
            record.lock().expect("lock").push(req);
            let (reason, body) = if status == 200 {
                ("OK", "ok")
            } else {
                ("Internal Server Error", "no_service\nsecond line")
            };
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            )
            .expect("answer");
        }
    });
    (port, seen, handle)
}

fn read_request(stream: &TcpStream) -> Request {
    let mut r = BufReader::new(stream);
    let mut line = String::new();
    r.read_line(&mut line).expect("request line");
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        r.read_line(&mut h).expect("header");
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    r.read_exact(&mut body).expect("body");
    Request {
        line: line.trim_end().to_owned(),
        headers,
        body,
    }
}

#[tokio::test]
async fn webhook_posts_the_text_and_the_incident_as_json() {
    let (port, seen, server) = http_server(&[500, 200]);
    let url = format!("http://127.0.0.1:{port}/services/T0/B0/sEcReTtOkEn");
    let ch = channel("ops-chat", ChannelKind::Webhook(WebhookUrl::Url(url)));
    let msg = message();

    let failed = deliver(&ch, &msg, &note())
        .await
        .expect_err("500 is a failure");
    assert_eq!(
        failed,
        format!(
            "webhook ops-chat: HTTP 500 Internal Server Error from 127.0.0.1:{port}: no_service"
        )
    );
    assert_eq!(deliver(&ch, &msg, &note()).await.as_deref(), Ok("HTTP 200"));
    server.join().expect("server");

    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2);
    let req = &seen[1];
    assert_eq!(req.line, "POST /services/T0/B0/sEcReTtOkEn HTTP/1.1");
    assert_eq!(
        req.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    let body: serde_json::Value = serde_json::from_slice(&req.body).expect("json body");
    assert_eq!(
        body["text"],
        format!("{}\n{}", msg.subject, msg.text),
        "the field chat webhooks display"
    );
    assert!(
        body["text"]
            .as_str()
            .is_some_and(|t| t
                .starts_with("[unyo][重大度: 高] nightly-backup 異常終了 (インシデント #12)\n")),
        "{body:#}"
    );
    let inc = &body["incident"];
    assert_eq!(inc["id"], 12);
    assert_eq!(inc["severity"], "high");
    assert_eq!(inc["job"], "nightly-backup");
    assert_eq!(inc["run_id"], 345);
    assert_eq!(inc["event"], "opened");
    assert_eq!(inc["opened_at"], "2026-11-23T17:31:05Z");
    assert_eq!(inc["opened_at_local"], "2026-11-24 02:31:05 JST");
    assert!(inc["report_deadline"].is_null());
}

#[tokio::test]
async fn unreachable_webhook_fails_without_revealing_the_url() {
    let port = closed_port();
    let url = format!("http://127.0.0.1:{port}/services/T0/B0/sEcReTtOkEn?key=hush");
    let ch = channel("ops-chat", ChannelKind::Webhook(WebhookUrl::Url(url)));
    let e = deliver(&ch, &message(), &note())
        .await
        .expect_err("nothing listens");
    assert_eq!(
        e,
        format!("webhook ops-chat: connection refused (127.0.0.1:{port})")
    );
    assert!(!e.contains("sEcReT") && !e.contains("/services") && !e.contains("hush"));
    assert!(!format!("{ch:?}").contains("sEcReT"), "{ch:?}");
}

#[tokio::test]
async fn webhook_from_an_unset_variable_names_the_variable() {
    let ch = channel(
        "ops-chat",
        ChannelKind::Webhook(WebhookUrl::Env("UNYO_TEST_NO_SUCH_WEBHOOK".into())),
    );
    assert_eq!(
        deliver(&ch, &message(), &note()).await,
        Err(
            "webhook ops-chat: environment variable `UNYO_TEST_NO_SUCH_WEBHOOK` is not set"
                .to_owned()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// an SMTP server

#[derive(Debug, Default, Clone)]
pub(crate) struct Mail {
    pub(crate) from: String,
    pub(crate) to: Vec<String>,
    pub(crate) auth: Option<String>,
    pub(crate) data: String,
}

/// Receives one SMTP session; `reject_rcpt` answers every RCPT with 550.
pub(crate) fn smtp_server(reject_rcpt: bool) -> (u16, JoinHandle<Mail>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let handle = std::thread::spawn(move || {
        let (stream, _) = listener.accept().expect("accept");
        smtp_session(stream, reject_rcpt)
    });
    (port, handle)
}

/// An SMTP peer that serves every session that comes, recording each one when it ends;
/// `reject_rcpt` answers every RCPT with 550. Its thread lives as long as the test binary.
pub(crate) fn smtp_peer(reject_rcpt: bool) -> (u16, Arc<Mutex<Vec<Mail>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let sessions = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&sessions);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mail = smtp_session(stream, reject_rcpt);
            record.lock().expect("lock").push(mail);
        }
    });
    (port, sessions)
}

/// One SMTP session, to its end.
fn smtp_session(stream: TcpStream, reject_rcpt: bool) -> Mail {
    let mut out = stream.try_clone().expect("clone");
    let mut r = BufReader::new(stream);
    let mut mail = Mail::default();
    let mut say = |s: &str| {
        let _ = out.write_all(format!("{s}\r\n").as_bytes());
    };
    say("220 test.local ESMTP");
    loop {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        let line = line.trim_end();
        let upper = line.to_ascii_uppercase();
        if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            say("250-test.local");
            say("250-AUTH PLAIN");
            say("250 8BITMIME");
        } else if upper.starts_with("AUTH PLAIN") {
            mail.auth = line.split_whitespace().nth(2).map(str::to_owned);
            say("235 2.7.0 Authentication successful");
        } else if upper.starts_with("MAIL FROM:") {
            mail.from = line[10..].trim().to_owned();
            say("250 2.1.0 Ok");
        } else if upper.starts_with("RCPT TO:") {
            if reject_rcpt {
                say("550 5.1.1 Recipient address rejected: no such desk");
            } else {
                mail.to.push(line[8..].trim().to_owned());
                say("250 2.1.5 Ok");
            }
        } else if upper == "DATA" {
            say("354 End data with <CR><LF>.<CR><LF>");
            loop {
                let mut l = String::new();
                if r.read_line(&mut l).unwrap_or(0) == 0 || l == ".\r\n" {
                    break;
                }
                mail.data.push_str(l.strip_prefix('.').unwrap_or(&l));
            }
            say("250 2.0.0 Ok: queued as 4711");
        } else if upper == "RSET" || upper == "NOOP" {
            say("250 2.0.0 Ok");
        } else if upper == "QUIT" {
            say("221 2.0.0 Bye");
            break;
        } else {
            say("502 5.5.2 Error: command not recognized");
        }
    }
    mail
}

pub(crate) fn b64(s: &str) -> Vec<u8> {
    const ABC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = ABC.iter().position(|x| *x == c).expect("base64 digit") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn quoted_printable(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let b = s.replace("=\r\n", "").into_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'=' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).expect("hex");
            out.push(u8::from_str_radix(hex, 16).expect("qp"));
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

/// Decodes `=?utf-8?b?...?=` words (RFC 2047) of a header value: the space between two
/// encoded words is dropped, every other space kept.
fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut prev_encoded = false;
    for (i, word) in value.split_whitespace().enumerate() {
        let lower = word.to_ascii_lowercase();
        let decoded = if lower.starts_with("=?utf-8?b?") && word.ends_with("?=") {
            Some(String::from_utf8(b64(&word[10..word.len() - 2])).expect("utf-8"))
        } else if lower.starts_with("=?utf-8?q?") && word.ends_with("?=") {
            let q = word[10..word.len() - 2].replace('_', " ");
            Some(String::from_utf8(quoted_printable(&q)).expect("utf-8"))
        } else {
            None
        };
        if i > 0 && !(prev_encoded && decoded.is_some()) {
            out.push(' ');
        }
        prev_encoded = decoded.is_some();
        out.push_str(decoded.as_deref().unwrap_or(word));
    }
    out
}

/// Headers (unfolded, lowercase names) and the decoded body of a received mail.
fn parse_mail(data: &str) -> (BTreeMap<String, String>, String) {
    let (head, body) = data.split_once("\r\n\r\n").expect("head and body");
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut last = String::new();
    for line in head.split("\r\n") {
        if line.starts_with([' ', '\t']) {
            if let Some(v) = headers.get_mut(&last) {
                v.push(' ');
                v.push_str(line.trim());
            }
        } else if let Some((k, v)) = line.split_once(':') {
            last = k.trim().to_ascii_lowercase();
            headers.insert(last.clone(), v.trim().to_owned());
        }
    }
    let encoding = headers
        .get("content-transfer-encoding")
        .map(|e| e.to_ascii_lowercase())
        .unwrap_or_default();
    let bytes = match encoding.as_str() {
        "base64" => b64(body),
        "quoted-printable" => quoted_printable(body),
        _ => body.as_bytes().to_vec(),
    };
    let body = String::from_utf8(bytes)
        .expect("utf-8 body")
        .replace("\r\n", "\n");
    (headers, body)
}

#[tokio::test]
async fn email_arrives_with_japanese_subject_and_body_intact() {
    let (port, server) = smtp_server(false);
    let notify = notify_with(
        &format!(
            "    desk-mail:\n      email: {{ to: [desk@city.example.jp, \"当番 <duty@city.example.jp>\"], from: \"unyo <unyo@ops.example.jp>\", server: \"127.0.0.1:{port}\", tls: none, username: ops, password_env: HOME }}\n"
        ),
        "desk-mail",
    );
    let ch = notify.channel("desk-mail").expect("channel");
    let msg = message();
    let receipt = deliver(ch, &msg, &note()).await.expect("sent");
    assert_eq!(receipt, "250 2.0.0 Ok: queued as 4711");
    let mail = server.join().expect("server");

    assert_eq!(mail.from, "<unyo@ops.example.jp>");
    assert_eq!(
        mail.to,
        ["<desk@city.example.jp>", "<duty@city.example.jp>"]
    );
    // The password is read from the named variable at send time (HOME stands in for a secret
    // here: tests cannot set variables).
    let home = std::env::var("HOME").expect("HOME");
    let auth = b64(mail.auth.as_deref().expect("AUTH PLAIN sent"));
    assert_eq!(auth, format!("\0ops\0{home}").into_bytes());

    // Encoded for any relay: the Japanese travels as base64 or quoted-printable.
    assert!(mail.data.is_ascii(), "{}", mail.data);
    let (headers, body) = parse_mail(&mail.data);
    assert_eq!(
        decode_words(&headers["subject"]),
        "[unyo][重大度: 高] nightly-backup 異常終了 (インシデント #12)"
    );
    let ctype = headers["content-type"].to_ascii_lowercase();
    assert!(
        ctype.starts_with("text/plain") && ctype.contains("charset=utf-8"),
        "{ctype}"
    );
    assert_eq!(body.trim_end(), msg.text.trim_end());
    assert!(
        body.contains("内容: ステップ dump が終了コード 3 で終了しました\n"),
        "{body}"
    );
    assert!(body.contains("pg_dump: エラー: 接続できません\n"), "{body}");
}

#[tokio::test]
async fn rejected_recipient_is_a_failure_with_the_servers_words() {
    let (port, server) = smtp_server(true);
    let notify = notify_with(
        &format!(
            "    desk-mail:\n      email: {{ to: [desk@city.example.jp], from: unyo@ops.example.jp, server: \"localhost:{port}\", tls: none }}\n"
        ),
        "desk-mail",
    );
    let ch = notify.channel("desk-mail").expect("channel");
    let e = deliver(ch, &message(), &note())
        .await
        .expect_err("rejected");
    server.join().expect("server");
    assert_eq!(
        e,
        format!(
            "email desk-mail: 550 5.1.1 Recipient address rejected: no such desk (localhost:{port})"
        )
    );
    assert!(e.contains("Recipient address rejected"), "{e}");
    assert!(!e.contains('\n'), "{e}");
}

#[tokio::test]
async fn email_failures_name_the_server_or_the_variable() {
    let port = closed_port();
    let notify = notify_with(
        &format!(
            "    refused:\n      email: {{ to: [a@city.example.jp], from: b@ops.example.jp, server: \"127.0.0.1:{port}\", tls: none }}\n    nopass:\n      email: {{ to: [a@city.example.jp], from: b@ops.example.jp, server: \"127.0.0.1:{port}\", tls: none, username: ops, password_env: UNYO_TEST_NO_SUCH_PASSWORD }}\n"
        ),
        "refused, nopass",
    );
    let e = deliver(notify.channel("refused").expect("ch"), &message(), &note())
        .await
        .expect_err("refused");
    assert_eq!(
        e,
        format!("email refused: connection refused (127.0.0.1:{port})")
    );
    let e = deliver(notify.channel("nopass").expect("ch"), &message(), &note())
        .await
        .expect_err("no password");
    assert_eq!(
        e,
        "email nopass: environment variable `UNYO_TEST_NO_SUCH_PASSWORD` is not set"
    );
}

// ---------------------------------------------------------------------------------------------
// commands

fn sh(name: &str, script: &str, args: &[&Path], timeout_ms: u64) -> Channel {
    let mut argv = vec![
        "/bin/sh".to_owned(),
        "-c".into(),
        script.into(),
        "sh".into(),
    ];
    argv.extend(args.iter().map(|p| p.display().to_string()));
    channel(
        name,
        ChannelKind::Command(CommandChannel {
            argv,
            timeout: std::time::Duration::from_millis(timeout_ms),
            workdir: None,
            hidden_env: Vec::new(),
        }),
    )
}

#[tokio::test]
async fn command_gets_the_incident_on_stdin_and_the_message_in_env() {
    let dir = tempfile::tempdir().expect("tempdir");
    let json = dir.path().join("in.json");
    let subject = dir.path().join("subject.txt");
    let ch = sh(
        "duty-phone",
        r#"cat > "$1"; printf '%s' "$UNYO_NOTIFY_SUBJECT" > "$2"; printf '%s' "$UNYO_NOTIFY_TEXT" | head -c 9 >&2; echo paged duty"#,
        &[&json, &subject],
        30_000,
    );
    let msg = message();
    assert_eq!(
        deliver(&ch, &msg, &note()).await.as_deref(),
        Ok("exit 0: paged duty")
    );
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("stdin copy")).expect("json");
    assert_eq!(v["id"], 12);
    assert_eq!(v["severity"], "high");
    assert_eq!(v["summary"], "ステップ dump が終了コード 3 で終了しました");
    assert_eq!(v["step"], "dump");
    assert_eq!(
        std::fs::read_to_string(&subject).expect("subject"),
        msg.subject
    );
}

#[tokio::test]
async fn failing_command_reports_its_exit_code_and_first_error_line() {
    let ch = sh(
        "duty-phone",
        "echo 'no modem' >&2; echo 'second line' >&2; exit 3",
        &[],
        30_000,
    );
    assert_eq!(
        deliver(&ch, &message(), &note()).await,
        Err("command duty-phone: exit 3: no modem".to_owned())
    );
    let missing = channel(
        "pager",
        ChannelKind::Command(CommandChannel {
            argv: vec!["/nonexistent/page".into()],
            timeout: std::time::Duration::from_secs(5),
            workdir: None,
            hidden_env: Vec::new(),
        }),
    );
    assert_eq!(
        deliver(&missing, &message(), &note()).await,
        Err("command pager: cannot start `/nonexistent/page`: not found".to_owned())
    );
}

#[tokio::test]
async fn command_past_its_timeout_is_killed_with_its_group() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("pid");
    // A background child too: the whole process group must go.
    let ch = sh(
        "duty-phone",
        r#"echo $$ > "$1"; sleep 60 & sleep 60"#,
        &[&pid_file],
        500,
    );
    let e = deliver(&ch, &message(), &note())
        .await
        .expect_err("timed out");
    assert_eq!(
        e,
        "command duty-phone: no result within 500ms; its process group was killed"
    );
    let pgid: i64 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    wait_for("the command's process group to end", || {
        live_group_members(pgid).is_empty().then_some(())
    });
}

// ---------------------------------------------------------------------------------------------
// settings

#[test]
fn validate_reports_every_notify_problem_with_its_place() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        r#"timezone: Asia/Tokyo
notify:
  language: jp
  desk_hours: { calendar: city, from: "8:30am", to: "17:30" }
  wake: hgih
  channels:
    desk-mail:
      email: { to: [desk-at-city], from: unyo@ops.example.jp, server: "smtp.city.example.jp:25", tls: none }
    ops-chat:
      webhook: { url: "ftp://hooks.example.jp/services/T0/B0/sEcReT" }
    duty-phone:
      command: { argv: [/usr/local/bin/page], timeout: 30x }
    pager:
      webhook: { url_env: UNYO_PAGER_URL }
      command: { argv: [page] }
    sms:
      webhook: { url_env: "bad-name" }
  desk:
    - after: 5m
      notify: [desk-mail, ops-chta]
    - notify: []
  emergency:
    - notify: [duty-phone]
    - after: 15x
      notify: [duty-phone, duty-phone]
"#,
    );
    let err = refused_definitions(&t);
    let expected = [
        "error: unyo.yaml:3:13: `notify.language`: unknown language `jp` (did you mean `ja`?); expected `ja` or `en`",
        "error: unyo.yaml:4:39: `notify.desk_hours.from`: bad time `8:30am` (expected `HH:MM`, e.g. `06:00`)",
        "error: unyo.yaml:5:9: `notify.wake`: unknown severity `hgih` (did you mean `high`?); expected one of: low, medium, high, critical",
        "error: unyo.yaml:8:21: channel `desk-mail`: `to`: bad address `desk-at-city`: ",
        "error: unyo.yaml:8:71: channel `desk-mail`: `tls: none` sends mail unencrypted, so it is allowed only to a server on this machine",
        "error: unyo.yaml:10:23: channel `ops-chat`: `url` must be an `http://` or `https://` URL",
        "error: unyo.yaml:12:56: channel `duty-phone`: `timeout`: bad duration `30x`",
        "error: unyo.yaml:14:7: channel `pager` must have exactly one of `email`, `webhook`, `command` (it has 2)",
        "error: unyo.yaml:17:27: channel `sms`: `url_env` must name an environment variable (letters, digits, `_`), not `bad-name`",
        "error: unyo.yaml:19:14: `notify.desk`: the first level is notified at once; `after` belongs on the levels that follow",
        "error: unyo.yaml:20:27: `notify.desk`: unknown channel `ops-chta` (did you mean `ops-chat`?)",
        "error: unyo.yaml:21:7: `notify.desk`: level 2 needs `after` (how long to wait for an acknowledgement after level 1)",
        "error: unyo.yaml:21:15: `notify.desk`: level 2 notifies nobody (`notify` is empty)",
        "error: unyo.yaml:24:14: `notify.emergency`: `after`: bad duration `15x`",
        "error: unyo.yaml:25:28: `notify.emergency`: channel `duty-phone` is listed twice in level 2",
    ];
    for e in expected {
        assert!(err.contains(e), "missing {e:?} in:\n{err}");
    }
    assert!(err.ends_with("15 problems\n"), "{err}");
    // A webhook URL is a secret even when it is wrong.
    assert!(!err.contains("sEcReT"), "{err}");
}

#[test]
fn unknown_keys_deep_inside_notify_are_reported_with_their_place() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "notify:\n  langauge: en\n  desk_hours: { form: \"09:00\" }\n  channels:\n    m:\n      email: { to: [a@b.jp], from: c@d.jp, server: localhost, tls: none, pasword_env: X }\n      webhok: { url: \"https://x.example\" }\n  desk:\n    - notify: [m]\n      afer: 5m\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: unyo.yaml:2:3: unknown key `langauge` (did you mean `language`?)\n\
         error: unyo.yaml:3:17: unknown key `form` (did you mean `from`?)\n\
         error: unyo.yaml:6:74: unknown key `pasword_env` (did you mean `password_env`?)\n\
         error: unyo.yaml:7:7: unknown key `webhok` (did you mean `webhook`?)\n\
         error: unyo.yaml:10:7: unknown key `afer` (did you mean `after`?)\n\
         5 problems\n"
    );
}

/// The `notify:` example of the docs validates.
#[test]
fn readme_notify_example_validates() {
    let found = crate::readme::find_block("yaml", "starting with notify:", |b| {
        b.starts_with("notify:\n")
    });
    let block = &found.text;
    let t = Tree::new();
    t.file("unyo.yaml", block)
        .file(
            "schedules/city.yaml",
            "calendars:\n  city: { weekends: [sat, sun], holidays: japan, closed: [\"12-29..01-03\"] }\n",
        )
        .file("templates/notify/opened.subject.hbs", "[unyo] {{job}} #{{id}}\n");
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "{}: {}", found.at(0), both(&out));
}
