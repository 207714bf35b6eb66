//! Validated settings: `unyo.yaml` merged over the defaults, every path made absolute. This file
//! owns the settings as a whole, the paths and the database; each section of its own kind
//! (incidents, notify and its channels, service levels, report) is checked in its own file.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::values::{parse_clock, parse_duration, parse_size};
use crate::spec::{self, Diagnostic, Diagnostics, SettingsSpec, Severity};

mod channel;
mod departments;
mod desk;
mod hosts;
mod incidents;
mod monitor;
mod node;
mod notify;
mod proposals;
mod report;
mod service;
mod templates;
#[cfg(test)]
mod tests;
mod web;

pub use channel::{
    Channel, ChannelKind, CommandChannel, DEFAULT_COMMAND_TIMEOUT, EmailChannel, SmtpAuth, SmtpTls,
    WebhookUrl, url_origin,
};
pub use departments::Departments;
pub use desk::DeskSettings;
pub use hosts::Host;
pub use incidents::IncidentSettings;
pub use monitor::{DEFAULT_PLUGINS, LogFormat, LogSettings, LogTo};
pub use node::{DEFAULT_NODE_TIMEOUT, NodeSettings, is_label};
pub use notify::{DeskHours, Language, Level, NOTIFY_TEMPLATE_FILES, Notify};
pub use report::{DateStyle, REPORT_TEMPLATE_FILES, ReportSettings};
pub use service::{AvailabilityTarget, BackupTarget, Service};
pub use templates::template_compile_reason;
pub use web::{Proxy, TlsFiles, WebAccess};

use notify::notify;
use service::service;
use templates::check_template_folder;

/// The name of the settings file inside the root.
pub const SETTINGS_FILE: &str = "unyo.yaml";

/// Where runs are recorded.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite(PathBuf),
    Postgres(String),
}

impl fmt::Debug for Database {
    // A PostgreSQL URL may hold a password: never print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "Sqlite({})", p.display()),
            Database::Postgres(url) => write!(f, "Postgres({})", redact_url(url)),
        }
    }
}

impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(p) => write!(f, "sqlite:{}", p.display()),
            Database::Postgres(url) => f.write_str(&redact_url(url)),
        }
    }
}

/// `postgres://user:secret@host/db` → `postgres://user:***@host/db`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = redact_authority(base);
    if let Some(q) = query {
        // `?password=…` is a password too.
        let params: Vec<String> = q
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                _ => p.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&params.join("&"));
    }
    out
}

/// `scheme://user:secret@host/db` → `scheme://user:***@host/db`.
fn redact_authority(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return url.to_owned();
    };
    let rest = &url[scheme_end + 3..];
    let Some(at) = rest.find('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end + 3],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Settings with every default applied.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The definition root (absolute).
    pub root: PathBuf,
    /// The settings file, when there is one.
    pub file: Option<PathBuf>,
    pub database: Database,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The group that may read the records and data unyo writes (its name and id); others
    /// may never read them (`files`).
    pub group: Option<(String, u32)>,
    pub timezone: Tz,
    pub day_start: NaiveTime,
    pub fiscal_year_start: u32,
    pub parallel: usize,
    pub log_limit: u64,
    pub kill_grace: Duration,
    pub shutdown_grace: Duration,
    pub default_runbook: Option<Spanned<String>>,
    pub vars: IndexMap<String, String>,
    pub incidents: IncidentSettings,
    /// The daemon creates the demo environment when it is missing (the shipped `unyo.yaml`
    /// says so; a real installation does not).
    pub demo: bool,
    /// How incidents reach people; `None` when `unyo.yaml` has no `notify:`.
    pub notify: Option<Notify>,
    /// The service-level items of the contract; `None` when `unyo.yaml` has no `service:`.
    pub service: Option<Service>,
    /// How reports are written.
    pub report: ReportSettings,
    /// Servers steps reach through `ssh` (`hosts:`), by name.
    pub hosts: IndexMap<String, Host>,
    /// The folder of the plugins checks name by file name (`checks.plugins`).
    pub check_plugins: PathBuf,
    /// Where the daemon serves `/metrics`; `None` (the default): no endpoint.
    pub metrics: Option<std::net::SocketAddr>,
    /// Where the daemon serves the dashboard (`web.listen`); `None` (the default): no
    /// dashboard.
    pub web: Option<std::net::SocketAddr>,
    /// How the dashboard is reached (`web.tls`, `web.behind_proxy`, `web.public_name`).
    pub web_access: WebAccess,
    /// How long a dashboard login lasts without a request (`web.session`, default 30
    /// minutes): each request moves its end this far past now.
    pub web_session: Duration,
    /// The daemon's own log (`log:`).
    pub log: LogSettings,
    /// This server as a node (`node:`).
    pub node: NodeSettings,
    /// The service desk (`desk:`): answer deadlines, consultation thresholds.
    pub desk: DeskSettings,
    /// When the records make an improvement proposal (`proposals:`).
    pub proposals: crate::domain::proposals::Thresholds,
    /// The city's departments by code, with their titles (`departments:`); empty when not
    /// set, and then a request's department is taken as written.
    pub departments: Departments,
}

impl Settings {
    /// The defaults for a root with no `unyo.yaml`.
    pub fn defaults(root: &Path) -> Settings {
        Settings {
            root: root.to_path_buf(),
            file: None,
            database: Database::Sqlite(root.join("var/unyo.db")),
            data_dir: root.join("var"),
            log_dir: root.join("var/log"),
            group: None,
            timezone: chrono_tz::Asia::Tokyo,
            day_start: NaiveTime::MIN,
            fiscal_year_start: 4,
            parallel: std::thread::available_parallelism().map_or(2, usize::from),
            log_limit: 10 << 20,
            kill_grace: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
            default_runbook: None,
            vars: IndexMap::new(),
            incidents: IncidentSettings::default(),
            demo: false,
            notify: None,
            report: ReportSettings::default(),
            service: None,
            hosts: IndexMap::new(),
            check_plugins: PathBuf::from(DEFAULT_PLUGINS),
            metrics: None,
            web: None,
            web_access: WebAccess::default(),
            web_session: Duration::from_secs(30 * 60),
            log: LogSettings::default(),
            node: NodeSettings::default(),
            desk: DeskSettings::default(),
            proposals: Default::default(),
            departments: Departments::default(),
        }
    }

    /// Reads `ROOT/unyo.yaml` if present and applies it over the defaults.
    pub fn load(root: &Path) -> Result<Settings, Diagnostics> {
        let root = absolute(root);
        let mut settings = Settings::defaults(&root);
        let path = root.join(SETTINGS_FILE);
        if !path.exists() {
            return Ok(settings);
        }
        let mut diags = Diagnostics::default();
        let src = spec::read_source(&root, &path).map_err(|d| Diagnostics(vec![d]))?;
        let raw: SettingsSpec = spec::parse(&src).map_err(Diagnostics)?;
        settings.file = Some(path);
        settings.apply(&raw, &src.display, &mut diags);
        if diags.is_empty() {
            Ok(settings)
        } else {
            diags.sort();
            Err(diags)
        }
    }

    fn apply(&mut self, raw: &SettingsSpec, file: &Path, diags: &mut Diagnostics) {
        let root = self.root.clone();
        if let Some(db) = &raw.database {
            let url = db.value.trim();
            if let Some(path) = url.strip_prefix("sqlite:") {
                let path = path.trim_start_matches("//");
                if path.trim().is_empty() {
                    diags.push(Diagnostic::spanned(
                        file,
                        db,
                        "`database`: empty SQLite path",
                    ));
                }
                self.database = Database::Sqlite(root.join(path));
            } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
                self.database = Database::Postgres(url.to_owned());
            } else {
                diags.push(Diagnostic::spanned(
                    file,
                    db,
                    "`database` must start with `sqlite:` or `postgres://`",
                ));
            }
        }
        if let Some(d) = &raw.data_dir {
            self.data_dir = root.join(&d.value);
        }
        if let Some(d) = &raw.log_dir {
            self.log_dir = root.join(&d.value);
        }
        if let Some(g) = &raw.group {
            match nix::unistd::Group::from_name(&g.value) {
                Ok(Some(found)) => self.group = Some((g.value.clone(), found.gid.as_raw())),
                Ok(None) => diags.push(Diagnostic::spanned(
                    file,
                    g,
                    format!(
                        "`group`: no group `{}` on this machine (see /etc/group)",
                        g.value
                    ),
                )),
                Err(e) => diags.push(Diagnostic::spanned(
                    file,
                    g,
                    format!("`group`: cannot look up `{}`: {e}", g.value),
                )),
            }
        }
        if let Some(tz) = &raw.timezone {
            match tz.value.parse::<Tz>() {
                Ok(t) => self.timezone = t,
                Err(_) => diags.push(Diagnostic::spanned(
                    file,
                    tz,
                    format!("unknown time zone `{}` (e.g. `Asia/Tokyo`)", tz.value),
                )),
            }
        }
        if let Some(ds) = &raw.day_start {
            match parse_clock(&ds.value) {
                Ok(t) => self.day_start = t,
                Err(m) => diags.push(Diagnostic::spanned(file, ds, format!("`day_start`: {m}"))),
            }
        }
        if let Some(m) = &raw.fiscal_year_start {
            if (1..=12).contains(&m.value) {
                self.fiscal_year_start = m.value;
            } else {
                diags.push(Diagnostic::spanned(
                    file,
                    m,
                    format!("`fiscal_year_start` must be a month 1-12, not {}", m.value),
                ));
            }
        }
        if let Some(p) = &raw.parallel {
            if p.value == 0 {
                diags.push(Diagnostic::spanned(
                    file,
                    p,
                    "`parallel` must be at least 1".to_owned(),
                ));
            } else {
                self.parallel = p.value as usize;
            }
        }
        if let Some(l) = &raw.log_limit {
            match parse_size(&l.value) {
                Ok(n) => self.log_limit = n,
                Err(m) => diags.push(Diagnostic::spanned(file, l, format!("`log_limit`: {m}"))),
            }
        }
        if let Some(g) = &raw.kill_grace {
            match parse_duration(&g.value) {
                Ok(d) => self.kill_grace = d,
                Err(m) => diags.push(Diagnostic::spanned(file, g, format!("`kill_grace`: {m}"))),
            }
        }
        if let Some(g) = &raw.shutdown_grace {
            match parse_duration(&g.value) {
                Ok(d) => self.shutdown_grace = d,
                Err(m) => diags.push(Diagnostic::spanned(
                    file,
                    g,
                    format!("`shutdown_grace`: {m}"),
                )),
            }
        }
        if let Some(i) = &raw.incidents {
            if let Some(s) = i.severity {
                self.incidents.severity = s;
            }
            if let Some(a) = i.auto_resolve {
                self.incidents.auto_resolve = a;
            }
            for (name, d) in &i.report_deadline {
                let sev = match name.parse::<Severity>() {
                    Ok(s) => s,
                    Err(m) => {
                        diags.push(Diagnostic::spanned(
                            file,
                            d,
                            format!("`incidents.report_deadline`: {m}"),
                        ));
                        continue;
                    }
                };
                match parse_duration(&d.value) {
                    Ok(v) => {
                        self.incidents.deadlines.retain(|(s, _)| *s != sev);
                        self.incidents.deadlines.push((sev, v));
                    }
                    Err(m) => diags.push(Diagnostic::spanned(
                        file,
                        d,
                        format!("`incidents.report_deadline.{name}`: {m}"),
                    )),
                }
            }
        }
        self.demo = raw.demo.unwrap_or(false);
        self.default_runbook = raw.default_runbook.clone();
        self.vars = raw
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.value.0.clone()))
            .collect();
        if let Some(n) = &raw.notify {
            self.notify = notify(n, &root, file, diags);
            let hidden = self.secret_env();
            for c in self.notify.iter_mut().flat_map(|n| n.channels.values_mut()) {
                if let ChannelKind::Command(cmd) = &mut c.kind {
                    cmd.hidden_env.clone_from(&hidden);
                }
            }
        }
        if let Some(r) = &raw.report {
            if let Some(t) = &r.templates {
                let dir = root.join(&t.value);
                for problem in check_template_folder(&dir, &t.value, &REPORT_TEMPLATE_FILES) {
                    diags.push(Diagnostic::spanned(
                        file,
                        t,
                        format!("`report.templates`: {problem}"),
                    ));
                }
                self.report.templates = Some(dir);
            }
            for (key, spec, slot) in [
                ("contract", &r.contract, &mut self.report.contract),
                ("author", &r.author, &mut self.report.author),
                ("approver", &r.approver, &mut self.report.approver),
            ] {
                if let Some(s) = spec {
                    match report::cover_line(key, &s.value) {
                        Ok(text) => *slot = Some(text),
                        Err(m) => diags.push(Diagnostic::spanned(file, s, m)),
                    }
                }
            }
            if let Some(d) = &r.date_style {
                match DateStyle::parse(&d.value) {
                    Ok(style) => self.report.date_style = style,
                    Err(m) => diags.push(Diagnostic::spanned(
                        file,
                        d,
                        format!("`report.date_style`: {m}"),
                    )),
                }
            }
        }
        if let Some(s) = &raw.service {
            self.service = Some(service(s, file, diags));
        }
        self.hosts = hosts::hosts(&raw.hosts, &root, file, diags);
        if let Some(c) = &raw.checks
            && let Some(p) = monitor::plugins(c, &root)
        {
            self.check_plugins = p;
        }
        if let Some(m) = &raw.metrics {
            self.metrics = monitor::metrics(m, file, diags);
        }
        if let Some(w) = &raw.web {
            (self.web, self.web_access) = web::web(w, &root, file, diags);
            if let Some(d) = &w.session {
                match parse_duration(&d.value) {
                    Ok(v) if !v.is_zero() => self.web_session = v,
                    Ok(_) => diags.push(Diagnostic::spanned(
                        file,
                        d,
                        "`web.session`: a session must last longer than 0s".to_owned(),
                    )),
                    Err(m) => {
                        diags.push(Diagnostic::spanned(file, d, format!("`web.session`: {m}")))
                    }
                }
            }
        }
        if let Some(l) = &raw.log {
            self.log = monitor::log(l, file, diags);
        }
        if let Some(n) = &raw.node {
            self.node = node::node(n, file, diags);
        }
        if let Some(d) = &raw.desk {
            self.desk = desk::desk(d, file, diags);
        }
        if let Some(p) = &raw.proposals {
            self.proposals = proposals::proposals(p, file, diags);
        }
        self.departments = departments::departments(&raw.departments, file, diags);
    }

    /// The environment variables these settings name as holding unyo's own secrets: the
    /// SMTP passwords (`password_env`) and webhook URLs (`url_env`) of the notify channels.
    /// No step or remediation gets them (only the notifier reads them).
    pub fn secret_env(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for c in self.notify.iter().flat_map(|n| n.channels.values()) {
            let name = match &c.kind {
                ChannelKind::Email(EmailChannel {
                    auth: Some(auth), ..
                }) => &auth.password_env,
                ChannelKind::Webhook(WebhookUrl::Env(var)) => var,
                _ => continue,
            };
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
        names
    }

    /// The settings as templates see them (`{{settings.data_dir}}` ...).
    pub fn template_value(&self) -> serde_json::Value {
        serde_json::json!({
            "root": self.root.display().to_string(),
            "data_dir": self.data_dir.display().to_string(),
            "log_dir": self.log_dir.display().to_string(),
            "timezone": self.timezone.name(),
            "vars": self.vars,
        })
    }
}

/// `No such file or directory (os error 2)` → `no such file or directory`.
fn io_reason(e: &std::io::Error) -> String {
    let text = e.to_string();
    let text = text.split(" (os error ").next().unwrap_or(&text);
    lower(text)
}

fn lower(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_lowercase().chain(c).collect(),
        None => String::new(),
    }
}

/// Makes a path absolute against the current directory without touching the filesystem.
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}
