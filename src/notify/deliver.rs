//! Sending one rendered message through one channel: a webhook POST, a mail through SMTP, or a
//! command run without a shell.
//!
//! Each delivery is bounded in time (10 s for webhooks and mail, the channel's `timeout` for
//! commands) and ends in a one-line receipt or a one-line failure that names the channel kind
//! and name. Secrets stay out of both: a webhook URL is shown as scheme, host and port only,
//! passwords and URLs read from the environment are read at send time and never repeated.
//! This module records nothing and does not retry; the caller decides what a failure means.

use std::error::Error as StdError;
use std::os::unix::process::ExitStatusExt;
use std::process::Stdio;
use std::time::Duration;

use lettre::AsyncTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

use super::message::{ApprovalNote, IncidentNote, Message};
use crate::model::values::format_duration;
use crate::model::{Channel, ChannelKind, CommandChannel, EmailChannel, SmtpTls, WebhookUrl};

/// How long a webhook or a mail may take, connection included.
pub const NETWORK_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest part of a server's or a command's answer quoted in a receipt or failure.
const QUOTE_CHARS: usize = 200;

/// Sends `msg` about `note` through `channel`. `Ok` holds a short receipt (`HTTP 200`,
/// `250 2.0.0 Ok: queued`, `exit 0`), `Err` one line saying why it failed.
pub async fn deliver(
    channel: &Channel,
    msg: &Message,
    note: &IncidentNote,
) -> Result<String, String> {
    let json =
        serde_json::to_value(note).map_err(|e| format!("cannot encode the incident: {e}"))?;
    send(channel, msg, "incident", &json).await
}

/// Sends `msg` about a waiting approval gate through `channel`: like [`deliver`], with the
/// gate as the JSON object (`approval` in a webhook's body, the standard input of a command).
pub async fn deliver_approval(
    channel: &Channel,
    msg: &Message,
    note: &ApprovalNote,
) -> Result<String, String> {
    let json =
        serde_json::to_value(note).map_err(|e| format!("cannot encode the approval: {e}"))?;
    send(channel, msg, "approval", &json).await
}

async fn send(
    channel: &Channel,
    msg: &Message,
    key: &str,
    json: &serde_json::Value,
) -> Result<String, String> {
    let name = &channel.name;
    match &channel.kind {
        ChannelKind::Webhook(url) => webhook(url, msg, key, json)
            .await
            .map_err(|e| format!("webhook {name}: {e}")),
        ChannelKind::Email(mail) => email(mail, msg)
            .await
            .map_err(|e| format!("email {name}: {e}")),
        ChannelKind::Command(cmd) => command(cmd, msg, json)
            .await
            .map_err(|e| format!("command {name}: {e}")),
    }
}

// ---------------------------------------------------------------------------------------------
// webhook

async fn webhook(
    url: &WebhookUrl,
    msg: &Message,
    key: &str,
    json: &serde_json::Value,
) -> Result<String, String> {
    let url = match url {
        WebhookUrl::Url(u) => u.clone(),
        WebhookUrl::Env(var) => env_value(var)?,
    };
    let parsed = reqwest::Url::parse(&url)
        .ok()
        .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
        .ok_or_else(|| "the URL is not an http:// or https:// URL".to_owned())?;
    let place = place_of(&parsed);
    let mut body = serde_json::Map::new();
    body.insert(
        "text".to_owned(),
        format!("{}\n{}", msg.subject, msg.text).into(),
    );
    body.insert(key.to_owned(), json.clone());
    let body = serde_json::Value::Object(body);
    let body = serde_json::to_vec(&body).map_err(|e| format!("cannot encode the message: {e}"))?;
    install_tls_provider();
    let mut client = reqwest::Client::builder();
    if parsed.host_str().is_some_and(is_loopback_host) {
        // A receiver on this machine is never reached through a proxy.
        client = client.no_proxy();
    }
    let client = client
        .connect_timeout(NETWORK_TIMEOUT)
        .timeout(NETWORK_TIMEOUT)
        // A redirect of a POST is not followed: it would send the incident somewhere unplanned.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("unyo/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("cannot set up HTTP: {}", chain(&e.without_url())))?;
    let sent = client
        .post(parsed)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body(body)
        .send()
        .await;
    let mut response = match sent {
        Ok(r) => r,
        Err(e) => return Err(scrub(&http_failure(e, &place), &url)),
    };
    let status = response.status();
    if status.is_success() {
        return Ok(format!("HTTP {}", status.as_u16()));
    }
    // A little of the answer tells why (`invalid_token`, `no_service`); never the whole page.
    let mut answer = Vec::new();
    while answer.len() < 4096 {
        match tokio::time::timeout(NETWORK_TIMEOUT, response.chunk()).await {
            Ok(Ok(Some(chunk))) => answer.extend_from_slice(&chunk),
            _ => break,
        }
    }
    let answer = first_line(&String::from_utf8_lossy(&answer));
    let mut m = format!("HTTP {status} from {place}");
    if !answer.is_empty() {
        m.push_str(": ");
        m.push_str(&answer);
    }
    Err(scrub(&m, &url))
}

/// reqwest needs a process-wide rustls crypto provider; unyo uses ring (no C toolchain beyond
/// a C compiler, no OpenSSL). Installing twice is harmless: the first one stays.
fn install_tls_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `localhost`, `127.0.0.1`, `[::1]`: a receiver on this machine.
fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// `host:port` of a URL: where it connects, without path or query (which may hold a token).
fn place_of(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fn http_failure(e: reqwest::Error, place: &str) -> String {
    let e = e.without_url();
    if e.is_timeout() {
        return format!(
            "no answer within {} ({place})",
            format_duration(NETWORK_TIMEOUT)
        );
    }
    if let Some(io) = io_cause(&e) {
        return format!("{} ({place})", io_text(io));
    }
    format!("{} ({place})", chain(&e))
}

/// Replaces the URL and its path, if they appear in a message, by its origin.
fn scrub(message: &str, url: &str) -> String {
    let mut m = message.replace(url, &crate::model::url_origin(url));
    if let Ok(u) = reqwest::Url::parse(url) {
        let path = u.path();
        if path.len() > 1 {
            m = m.replace(path, "/…");
        }
        if let Some(q) = u.query() {
            m = m.replace(q, "…");
        }
    }
    m
}

// ---------------------------------------------------------------------------------------------
// email

async fn email(mail: &EmailChannel, msg: &Message) -> Result<String, String> {
    let place = if mail.host.contains(':') {
        format!("[{}]:{}", mail.host, mail.port)
    } else {
        format!("{}:{}", mail.host, mail.port)
    };
    let mut builder = lettre::Message::builder()
        .from(mail.from.clone())
        .subject(msg.subject.clone())
        .header(lettre::message::header::ContentType::TEXT_PLAIN);
    for to in &mail.to {
        builder = builder.to(to.clone());
    }
    let message = builder
        .body(msg.text.clone())
        .map_err(|e| format!("cannot build the mail: {e}"))?;

    install_tls_provider();
    let mut transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(mail.host.as_str())
        .port(mail.port)
        .timeout(Some(NETWORK_TIMEOUT));
    if mail.tls == SmtpTls::Starttls {
        let params = TlsParameters::new(mail.host.clone())
            .map_err(|e| format!("cannot set up TLS: {}", chain(&e)))?;
        transport = transport.tls(Tls::Required(params));
    }
    if let Some(auth) = &mail.auth {
        let password = env_value(&auth.password_env)?;
        transport = transport.credentials(Credentials::new(auth.username.clone(), password));
    }
    let transport = transport.build();
    match tokio::time::timeout(NETWORK_TIMEOUT, transport.send(message)).await {
        Err(_) => Err(format!(
            "no answer within {} ({place})",
            format_duration(NETWORK_TIMEOUT)
        )),
        Ok(Ok(response)) => {
            let code = response.code().to_string();
            let text = response.message().next().unwrap_or("");
            Ok(format!("{code} {}", clip(text)).trim_end().to_owned())
        }
        Ok(Err(e)) => Err(smtp_failure(&e, &place)),
    }
}

fn smtp_failure(e: &lettre::transport::smtp::Error, place: &str) -> String {
    if let Some(code) = e.status() {
        // The server's own words, e.g. `550 5.1.1 <x@y>: Recipient address rejected`.
        let said = e
            .source()
            .map(|s| first_line(&s.to_string()))
            .unwrap_or_default();
        return format!("{code} {said} ({place})").replace("  ", " ");
    }
    if e.is_timeout() {
        return format!(
            "no answer within {} ({place})",
            format_duration(NETWORK_TIMEOUT)
        );
    }
    if let Some(io) = io_cause(e) {
        return format!("{} ({place})", io_text(io));
    }
    if e.is_tls() {
        return format!("TLS failed ({place}): {}", chain(e));
    }
    format!("{} ({place})", chain(e))
}

// ---------------------------------------------------------------------------------------------
// command

async fn command(
    cmd: &CommandChannel,
    msg: &Message,
    json: &serde_json::Value,
) -> Result<String, String> {
    let Some((program, args)) = cmd.argv.split_first() else {
        return Err("`argv` is empty".to_owned());
    };
    let input = serde_json::to_vec(json).map_err(|e| format!("cannot encode the message: {e}"))?;
    let mut command = tokio::process::Command::new(program);
    if let Some(dir) = &cmd.workdir {
        command.current_dir(dir);
    }
    for name in &cmd.hidden_env {
        command.env_remove(name);
    }
    command
        .args(args)
        // An environment value cannot hold NUL; a log excerpt might.
        .env("UNYO_NOTIFY_SUBJECT", msg.subject.replace('\0', ""))
        .env("UNYO_NOTIFY_TEXT", msg.text.replace('\0', ""))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // Its own process group, so a timeout ends everything it started.
        .process_group(0)
        .kill_on_drop(true);
    // Registered as ours: the sweep after a step never takes it for a step's orphan.
    let (mut child, _registration) = crate::exec::escaped::spawn_own(&mut command)
        .map_err(|e| format!("cannot start `{program}`: {}", io_text(&e)))?;
    let group = child.id().and_then(|id| i32::try_from(id).ok());
    let stdin = child.stdin.take();
    let stdout = child.stdout.take().map(|s| tokio::spawn(read_capped(s)));
    let stderr = child.stderr.take().map(|s| tokio::spawn(read_capped(s)));

    let run = async {
        if let Some(mut stdin) = stdin {
            // A program that does not read its input is fine: ignore a closed pipe.
            let _ = stdin.write_all(&input).await;
            let _ = stdin.shutdown().await;
        }
        child.wait().await
    };
    let status = match tokio::time::timeout(cmd.timeout, run).await {
        Ok(Ok(status)) => status,
        Ok(Err(e)) => return Err(format!("cannot wait for `{program}`: {}", io_text(&e))),
        Err(_) => {
            if let Some(pgid) = group {
                let _ = nix::sys::signal::killpg(
                    nix::unistd::Pid::from_raw(pgid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            let _ = child.wait().await;
            return Err(format!(
                "no result within {}; its process group was killed",
                format_duration(cmd.timeout)
            ));
        }
    };
    // Whatever it left running may still hold the pipes: wait for them only briefly.
    let collect = |task: Option<tokio::task::JoinHandle<Vec<u8>>>| async move {
        match task {
            Some(t) => match tokio::time::timeout(Duration::from_secs(1), t).await {
                Ok(Ok(bytes)) => first_line(&String::from_utf8_lossy(&bytes)),
                _ => String::new(),
            },
            None => String::new(),
        }
    };
    let out = collect(stdout).await;
    let err = collect(stderr).await;
    match (status.code(), status.signal()) {
        (Some(0), _) if out.is_empty() => Ok("exit 0".to_owned()),
        (Some(0), _) => Ok(format!("exit 0: {out}")),
        (Some(code), _) if err.is_empty() => Err(format!("exit {code}")),
        (Some(code), _) => Err(format!("exit {code}: {err}")),
        (None, Some(sig)) => Err(format!("killed by signal {sig}")),
        (None, None) => Err("ended without an exit status".to_owned()),
    }
}

/// Reads a pipe to its end, keeping the first 64 KiB.
async fn read_capped(mut r: impl AsyncRead + Unpin) -> Vec<u8> {
    const CAP: usize = 64 * 1024;
    let mut kept = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf).await {
            Ok(0) | Err(_) => return kept,
            Ok(n) => {
                let room = CAP.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// shared

/// The value of an environment variable named in `unyo.yaml`; the failure names the variable,
/// never a value.
fn env_value(var: &str) -> Result<String, String> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        Ok(_) => Err(format!("environment variable `{var}` is empty")),
        Err(std::env::VarError::NotPresent) => {
            Err(format!("environment variable `{var}` is not set"))
        }
        Err(std::env::VarError::NotUnicode(_)) => {
            Err(format!("environment variable `{var}` is not valid UTF-8"))
        }
    }
}

/// The first I/O error in an error's chain: the most precise reason a connection failed.
fn io_cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a std::io::Error> {
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            // An I/O error may itself wrap the real cause (a TLS alert, a resolver error).
            return match io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<std::io::Error>())
            {
                Some(inner) => Some(inner),
                None => Some(io),
            };
        }
        cur = err.source();
    }
    None
}

/// An I/O error as an operator reads it: `connection refused`, `timed out`.
fn io_text(e: &std::io::Error) -> String {
    use std::io::ErrorKind as K;
    let known = match e.kind() {
        K::ConnectionRefused => Some("connection refused"),
        K::ConnectionReset => Some("connection reset"),
        K::ConnectionAborted => Some("connection aborted"),
        K::TimedOut => Some("timed out"),
        K::NotFound => Some("not found"),
        K::PermissionDenied => Some("permission denied"),
        K::HostUnreachable => Some("host unreachable"),
        K::NetworkUnreachable => Some("network unreachable"),
        K::AddrNotAvailable => Some("address not available"),
        K::UnexpectedEof => Some("connection closed early"),
        _ => None,
    };
    match known {
        Some(k) => k.to_owned(),
        None => lower_first(&strip_os_error(&e.to_string())),
    }
}

/// An error and its causes on one line, without repeats.
fn chain(e: &(dyn StdError + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = strip_os_error(&err.to_string());
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = err.source();
    }
    first_line(&lower_first(&parts.join(": ")))
}

/// `Connection refused (os error 111)` → `Connection refused`.
fn strip_os_error(s: &str) -> String {
    match s.find(" (os error ") {
        Some(i) => s[..i].to_owned(),
        None => s.to_owned(),
    }
}

fn lower_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if f.is_uppercase() && !c.clone().next().is_some_and(char::is_uppercase) => {
            f.to_lowercase().chain(c).collect()
        }
        _ => s.to_owned(),
    }
}

/// The first non-empty line, trimmed and clipped.
fn first_line(s: &str) -> String {
    clip(
        s.lines()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or(""),
    )
}

fn clip(s: &str) -> String {
    match s.char_indices().nth(QUOTE_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_hides_paths_and_queries() {
        let url = "https://hooks.example.jp/services/T000/B000/sEcReT?token=abc";
        let m = scrub(
            &format!("failed for {url} and /services/T000/B000/sEcReT"),
            url,
        );
        assert!(!m.contains("sEcReT"), "{m}");
        assert!(!m.contains("abc"), "{m}");
        assert!(m.contains("https://hooks.example.jp"), "{m}");
    }

    #[test]
    fn loopback_receivers_skip_proxies() {
        for h in ["localhost", "127.0.0.1", "[::1]", "127.0.0.2"] {
            assert!(is_loopback_host(h), "{h}");
        }
        for h in ["hooks.example.jp", "10.0.0.1", "[2001:db8::1]"] {
            assert!(!is_loopback_host(h), "{h}");
        }
    }

    #[test]
    fn io_errors_read_plainly() {
        let e = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        assert_eq!(io_text(&e), "connection refused");
        assert_eq!(strip_os_error("No such file (os error 2)"), "No such file");
        assert_eq!(first_line("\n  first \nsecond"), "first");
        assert_eq!(clip(&"x".repeat(300)).chars().count(), QUOTE_CHARS + 1);
    }

    #[test]
    fn missing_environment_names_the_variable_only() {
        let e = env_value("UNYO_TEST_SURELY_UNSET_VARIABLE").expect_err("unset");
        assert_eq!(
            e,
            "environment variable `UNYO_TEST_SURELY_UNSET_VARIABLE` is not set"
        );
    }
}
