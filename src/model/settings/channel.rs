//! A notify channel of `unyo.yaml` (e-mail through SMTP, webhook, command), validated; what may
//! be shown of a URL that can hold a token.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::lower;
use crate::model::values::parse_duration;
use crate::spec::{ChannelSpec, Diagnostic, Diagnostics, diag};

/// A named way of reaching people.
#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
}

/// What a channel sends through.
#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(EmailChannel),
    Webhook(WebhookUrl),
    Command(CommandChannel),
}

/// Mail through an SMTP server.
#[derive(Debug, Clone)]
pub struct EmailChannel {
    pub to: Vec<lettre::message::Mailbox>,
    pub from: lettre::message::Mailbox,
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub auth: Option<SmtpAuth>,
}

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP; accepted for loopback servers only (a local relay).
    None,
    /// STARTTLS is required; a server that does not offer it is a failure.
    Starttls,
}

/// SMTP login. The password is never held: it is read from `password_env` at send time.
#[derive(Debug, Clone)]
pub struct SmtpAuth {
    pub username: String,
    pub password_env: String,
}

/// Where a webhook posts to. The URL usually holds a token, so it is a secret: `Debug` shows
/// the scheme and host only, and the environment form is preferred.
#[derive(Clone, PartialEq, Eq)]
pub enum WebhookUrl {
    /// Written in `unyo.yaml` (`url:`).
    Url(String),
    /// Read from this environment variable at send time (`url_env:`).
    Env(String),
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebhookUrl::Url(url) => write!(f, "Url({})", url_origin(url)),
            WebhookUrl::Env(name) => write!(f, "Env({name})"),
        }
    }
}

/// A program run without a shell; the incident is its stdin as JSON.
#[derive(Debug, Clone)]
pub struct CommandChannel {
    pub argv: Vec<String>,
    pub timeout: Duration,
    /// Where it runs: the definition root (so relative paths in `argv` mean the same
    /// whatever folder the daemon was started from); `None`: the caller's folder.
    pub workdir: Option<PathBuf>,
    /// unyo's own secret variables (every channel's `password_env` and `url_env`), removed
    /// from the program's environment: it is told the message, not unyo's credentials.
    pub hidden_env: Vec<String>,
}

/// Default time a command channel may take.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// `https://hooks.example/services/T0/B1/secret` → `https://hooks.example`: what may be shown
/// of a URL that can hold a token (scheme, host and port, never path, query or user info).
pub fn url_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            (None, _) => format!("{}://", u.scheme()),
        },
        Err(_) => "(not a URL)".to_owned(),
    }
}

/// True for `NAME` of an environment variable: letters, digits and `_`, not starting with a digit.
pub(super) fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `host`, `host:port`, `[v6]:port` → host and port.
pub(super) fn parse_server(text: &str) -> Result<(String, Option<u16>), String> {
    let bad = || format!("bad server `{text}` (expected `host` or `host:port`)");
    let t = text.trim();
    let (host, port) = if let Some(rest) = t.strip_prefix('[') {
        let (h, after) = rest.split_once(']').ok_or_else(bad)?;
        match after {
            "" => (h, None),
            p => (h, Some(p.strip_prefix(':').ok_or_else(bad)?)),
        }
    } else if t.matches(':').count() == 1 {
        let (h, p) = t.split_once(':').ok_or_else(bad)?;
        (h, Some(p))
    } else {
        (t, None)
    };
    if host.is_empty() || host.contains(|c: char| c.is_whitespace() || c == '/' || c == '@') {
        return Err(bad());
    }
    let port = match port {
        None => None,
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Some(n),
            _ => return Err(bad()),
        },
    };
    Ok((host.to_owned(), port))
}

/// A host that is this machine: `localhost` or a loopback address.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Validates one channel; `None` when it has problems (reported into `diags`).
pub(super) fn channel(
    name: &str,
    raw: &Spanned<ChannelSpec>,
    root: &Path,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<ChannelKind> {
    let before = diags.len();
    let spec = &raw.value;
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        diags.push(Diagnostic::spanned(
            file,
            raw,
            format!("channel name `{name}` may hold only letters, digits, `-`, `_` and `.`"),
        ));
    }
    let kinds = usize::from(spec.email.is_some())
        + usize::from(spec.webhook.is_some())
        + usize::from(spec.command.is_some());
    if kinds != 1 {
        diags.push(Diagnostic::spanned(
            file,
            raw,
            format!(
                "channel `{name}` must have exactly one of `email`, `webhook`, `command` (it has {kinds})"
            ),
        ));
        return None;
    }
    let mut err = |at: &Spanned<String>, msg: String| {
        diags.push(Diagnostic::spanned(
            file,
            at,
            format!("channel `{name}`: {msg}"),
        ));
    };
    let kind = if let Some(e) = &spec.email {
        let e = &e.value;
        let mut to = Vec::new();
        if e.to.value.is_empty() {
            diags.push(Diagnostic::spanned(
                file,
                &e.to,
                format!("channel `{name}`: `to` names no address"),
            ));
        }
        let mut err = |at: &Spanned<String>, msg: String| {
            diags.push(Diagnostic::spanned(
                file,
                at,
                format!("channel `{name}`: {msg}"),
            ));
        };
        for addr in &e.to.value {
            match addr.value.trim().parse::<lettre::message::Mailbox>() {
                Ok(m) => to.push(m),
                Err(x) => err(
                    addr,
                    format!(
                        "`to`: bad address `{}`: {}",
                        addr.value,
                        lower(&x.to_string())
                    ),
                ),
            }
        }
        let from = match e.from.value.trim().parse::<lettre::message::Mailbox>() {
            Ok(m) => Some(m),
            Err(x) => {
                err(
                    &e.from,
                    format!("`from`: bad address `{}`: {x}", e.from.value),
                );
                None
            }
        };
        let tls = match e.tls.as_ref().map(|t| t.value.as_str()) {
            None | Some("starttls") => SmtpTls::Starttls,
            Some("none") => SmtpTls::None,
            Some(other) => {
                if let Some(t) = &e.tls {
                    err(
                        t,
                        format!(
                            "`tls`: unknown value `{other}`{}; expected `starttls` or `none`",
                            diag::hint(other, ["starttls", "none"])
                        ),
                    );
                }
                SmtpTls::Starttls
            }
        };
        let server = match parse_server(&e.server.value) {
            Ok((host, port)) => {
                if tls == SmtpTls::None && !is_loopback(&host) {
                    err(
                        &e.server,
                        format!(
                            "`tls: none` sends mail unencrypted, so it is allowed only to a server on this machine (`127.0.0.1`, `::1`, `localhost`), not `{host}`; use `tls: starttls`"
                        ),
                    );
                }
                let default_port = match tls {
                    SmtpTls::None => 25,
                    SmtpTls::Starttls => 587,
                };
                Some((host, port.unwrap_or(default_port)))
            }
            Err(m) => {
                err(&e.server, format!("`server`: {m}"));
                None
            }
        };
        let auth = match (&e.username, &e.password_env) {
            (None, None) => None,
            (Some(u), Some(p)) => {
                if !is_env_name(&p.value) {
                    err(
                        p,
                        format!(
                            "`password_env` must name an environment variable (letters, digits, `_`), not `{}`",
                            p.value
                        ),
                    );
                }
                if u.value.trim().is_empty() {
                    err(u, "`username` is empty".to_owned());
                }
                Some(SmtpAuth {
                    username: u.value.clone(),
                    password_env: p.value.clone(),
                })
            }
            (Some(u), None) => {
                err(u, "`username` needs `password_env` (the environment variable holding the password)".to_owned());
                None
            }
            (None, Some(p)) => {
                err(p, "`password_env` needs `username`".to_owned());
                None
            }
        };
        match (from, server) {
            (Some(from), Some((host, port))) => Some(ChannelKind::Email(EmailChannel {
                to,
                from,
                host,
                port,
                tls,
                auth,
            })),
            _ => None,
        }
    } else if let Some(w) = &spec.webhook {
        match (&w.value.url, &w.value.url_env) {
            (Some(u), None) => {
                // The URL is not repeated in messages: it usually holds a token.
                match reqwest::Url::parse(u.value.trim()) {
                    Ok(parsed)
                        if matches!(parsed.scheme(), "http" | "https")
                            && parsed.host_str().is_some() =>
                    {
                        Some(ChannelKind::Webhook(WebhookUrl::Url(
                            u.value.trim().to_owned(),
                        )))
                    }
                    _ => {
                        err(u, "`url` must be an `http://` or `https://` URL".to_owned());
                        None
                    }
                }
            }
            (None, Some(v)) => {
                if is_env_name(&v.value) {
                    Some(ChannelKind::Webhook(WebhookUrl::Env(v.value.clone())))
                } else {
                    err(
                        v,
                        format!(
                            "`url_env` must name an environment variable (letters, digits, `_`), not `{}`",
                            v.value
                        ),
                    );
                    None
                }
            }
            _ => {
                diags.push(Diagnostic::spanned(
                    file,
                    w,
                    format!("channel `{name}`: a webhook needs exactly one of `url` and `url_env`"),
                ));
                None
            }
        }
    } else if let Some(c) = &spec.command {
        let c = &c.value;
        let mut timeout = DEFAULT_COMMAND_TIMEOUT;
        if let Some(t) = &c.timeout {
            match parse_duration(&t.value) {
                Ok(d) if !d.is_zero() => timeout = d,
                Ok(_) => err(t, "`timeout` must be longer than zero".to_owned()),
                Err(m) => err(t, format!("`timeout`: {m}")),
            }
        }
        match c.argv.value.first() {
            None => {
                diags.push(Diagnostic::spanned(
                    file,
                    &c.argv,
                    format!("channel `{name}`: `argv` is empty"),
                ));
                None
            }
            Some(program) if program.value.trim().is_empty() => {
                err(program, "`argv`: the program is empty".to_owned());
                None
            }
            Some(_) => Some(ChannelKind::Command(CommandChannel {
                argv: c.argv.value.iter().map(|a| a.value.clone()).collect(),
                timeout,
                workdir: Some(root.to_path_buf()),
                hidden_env: Vec::new(),
            })),
        }
    } else {
        None
    };
    if diags.len() == before { kind } else { None }
}
