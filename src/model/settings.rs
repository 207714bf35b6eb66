//! Validated settings: `unyo.yaml` merged over the defaults, every path made absolute.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::values::{parse_clock, parse_duration, parse_size};
use crate::spec::{
    self, ChannelSpec, Diagnostic, Diagnostics, LevelSpec, NotifySpec, SettingsSpec, Severity, diag,
};

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

/// How incidents are opened, and when their reports are due.
#[derive(Debug, Clone)]
pub struct IncidentSettings {
    /// Severity for a failed run whose runbook rule names none.
    pub severity: Severity,
    /// Resolve a job's open incidents when it next succeeds.
    pub auto_resolve: bool,
    /// Time allowed for the report, per severity.
    pub deadlines: Vec<(Severity, Duration)>,
}

impl Default for IncidentSettings {
    fn default() -> Self {
        let h = |n: u64| Duration::from_secs(n * 3600);
        IncidentSettings {
            severity: Severity::Medium,
            auto_resolve: false,
            deadlines: vec![
                (Severity::Critical, h(2)),
                (Severity::High, h(24)),
                (Severity::Medium, h(72)),
                (Severity::Low, h(168)),
            ],
        }
    }
}

impl IncidentSettings {
    /// Time allowed for the report on an incident of this severity.
    pub fn report_deadline(&self, severity: Severity) -> Option<Duration> {
        self.deadlines
            .iter()
            .find(|(s, _)| *s == severity)
            .map(|(_, d)| *d)
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
}

/// How a Japanese report writes the year of its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// `令和8年10月分`.
    Era,
    /// `2026年10月分`.
    Western,
    /// `令和8年(2026年)10月分`.
    #[default]
    Both,
}

impl DateStyle {
    const NAMES: [&str; 3] = ["era", "western", "both"];

    fn parse(text: &str) -> Result<DateStyle, String> {
        match text.trim() {
            "era" => Ok(DateStyle::Era),
            "western" => Ok(DateStyle::Western),
            "both" => Ok(DateStyle::Both),
            other => Err(format!(
                "unknown date style `{other}`{}; expected `era`, `western` or `both`",
                diag::hint(other, DateStyle::NAMES)
            )),
        }
    }
}

/// The files a `report.templates` folder may hold; each one present replaces the shipped
/// report template of the same name.
pub const REPORT_TEMPLATE_FILES: [&str; 3] =
    ["monthly.ja.md.hbs", "monthly.en.md.hbs", "monthly.html.hbs"];

/// `report:` of `unyo.yaml`, validated.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    /// A folder (absolute) whose templates replace the shipped ones, file by file.
    pub templates: Option<PathBuf>,
    pub date_style: DateStyle,
}

impl Settings {
    /// Who hears nothing: one line per gap in `notify:` (none at all, or a route left empty),
    /// naming the severities and the hours whose incidents reach nobody. `unyo validate` and
    /// the daemon's start print them as warnings; they are not errors, since a set-up may
    /// mean it.
    pub fn unheard(&self) -> Vec<String> {
        let place = match &self.file {
            Some(f) => f
                .strip_prefix(&self.root)
                .unwrap_or(f)
                .display()
                .to_string(),
            None => "unyo.yaml".to_owned(),
        };
        let Some(n) = &self.notify else {
            return vec![format!(
                "{place}: no `notify:`, so incidents reach nobody: failed runs and missed slots \
                 are only recorded, and waiting approvals are not announced"
            )];
        };
        let hours = format!(
            "{}–{} {}",
            n.desk_hours.from.format("%H:%M"),
            n.desk_hours.to.format("%H:%M"),
            match &n.desk_hours.calendar {
                Some(c) => format!("on the business days of calendar `{}`", c.value),
                None => "Monday to Friday".to_owned(),
            }
        );
        let words = |list: Vec<Severity>| -> String {
            let names: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
            match names.split_last() {
                Some((last, [])) => (*last).to_owned(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            }
        };
        let woken: Vec<Severity> = Severity::ALL
            .iter()
            .copied()
            .filter(|s| *s >= n.wake)
            .collect();
        let not_woken: Vec<Severity> = Severity::ALL
            .iter()
            .copied()
            .filter(|s| *s < n.wake)
            .collect();
        let mut out = Vec::new();
        if n.desk.is_empty() {
            out.push(format!(
                "{place}: `notify.desk` is empty, so incidents of every severity opened in desk \
                 hours ({hours}) reach nobody, and waiting approvals are not announced"
            ));
        }
        if n.emergency.is_empty() {
            out.push(format!(
                "{place}: `notify.emergency` is empty, so incidents of severity {} opened out \
                 of desk hours ({hours}) reach nobody",
                words(woken)
            ));
        }
        if n.after_hours.is_empty() && !not_woken.is_empty() {
            out.push(format!(
                "{place}: `notify.after_hours` is empty, so incidents of severity {} opened \
                 out of desk hours ({hours}) reach nobody",
                words(not_woken)
            ));
        }
        out
    }

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

/// `service:` of `unyo.yaml`, validated: what the service as a whole promises the client,
/// each item measured by the report when it is given. Window and job names keep their place
/// in `unyo.yaml`: they live in `schedules/` and `jobs/`, so the catalog loader checks them
/// ([`Service::check_references`]).
#[derive(Debug, Clone, Default)]
pub struct Service {
    /// Windows that are not planned service time (`hours.except`).
    pub except: Vec<Spanned<String>>,
    /// Jobs whose runs are announced stops: their span is out of the planned service time.
    pub planned_stops: Vec<Spanned<String>>,
    pub availability: Option<AvailabilityTarget>,
    /// Incident opened → first notification delivered, per incident.
    pub first_notice: Option<Duration>,
    /// Incident opened → resolved, per incident.
    pub recovery: Option<Duration>,
    pub backups: Option<BackupTarget>,
}

/// `service.availability`.
#[derive(Debug, Clone)]
pub struct AvailabilityTarget {
    /// Percent, more than 0 and at most 100.
    pub target: f64,
    /// The probe job: a failed run opens an outage, its next succeeded run closes it.
    pub probe: Spanned<String>,
}

/// `service.backups`.
#[derive(Debug, Clone)]
pub struct BackupTarget {
    pub jobs: Vec<Spanned<String>>,
    /// Percent of the slots due whose run must succeed.
    pub target: f64,
}

impl Service {
    /// The window and job names of `service:` that name nothing, each with its kind
    /// (`window` or `job`) and message. `windows` and `jobs` are the names the catalog found.
    pub fn check_references<'a>(
        &'a self,
        windows: &[String],
        jobs: &[String],
    ) -> Vec<(&'a Spanned<String>, &'static str, String)> {
        let mut out = Vec::new();
        let mut check =
            |v: &'a Spanned<String>, key: &str, what: &'static str, names: &[String]| {
                if !names.contains(&v.value) {
                    let hint = diag::hint(&v.value, names.iter().map(String::as_str));
                    let msg = format!("`service.{key}`: unknown {what} `{}`{hint}", v.value);
                    out.push((v, what, msg));
                }
            };
        for w in &self.except {
            check(w, "hours.except", "window", windows);
        }
        for j in &self.planned_stops {
            check(j, "planned_stops", "job", jobs);
        }
        if let Some(a) = &self.availability {
            check(&a.probe, "availability.probe", "job", jobs);
        }
        for j in self.backups.iter().flat_map(|b| &b.jobs) {
            check(j, "backups.jobs", "job", jobs);
        }
        out
    }
}

/// A percentage of `service:`: more than 0, at most 100.
fn percentage(v: &Spanned<f64>, key: &str, file: &Path, diags: &mut Diagnostics) -> Option<f64> {
    if v.value > 0.0 && v.value <= 100.0 {
        Some(v.value)
    } else {
        diags.push(Diagnostic::spanned(
            file,
            v,
            format!(
                "`service.{key}`: {} is not a percentage (more than 0, at most 100)",
                v.value
            ),
        ));
        None
    }
}

/// Validates `service:`; every problem goes into `diags`.
fn service(
    raw: &Spanned<crate::spec::ServiceSpec>,
    file: &Path,
    diags: &mut Diagnostics,
) -> Service {
    let spec = &raw.value;
    let mut out = Service {
        except: spec
            .hours
            .as_ref()
            .map(|h| h.value.except.clone())
            .unwrap_or_default(),
        planned_stops: spec.planned_stops.clone(),
        ..Service::default()
    };
    let mut duration = |v: &Option<Spanned<String>>, key: &str| -> Option<Duration> {
        let v = v.as_ref()?;
        match parse_duration(&v.value) {
            Ok(d) if d.is_zero() => {
                diags.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("`service.{key}` must be longer than zero"),
                ));
                None
            }
            Ok(d) => Some(d),
            Err(m) => {
                diags.push(Diagnostic::spanned(
                    file,
                    v,
                    format!("`service.{key}`: {m}"),
                ));
                None
            }
        }
    };
    out.first_notice = duration(&spec.first_notice, "first_notice");
    out.recovery = duration(&spec.recovery, "recovery");
    if let Some(a) = &spec.availability {
        let target = a
            .value
            .target
            .as_ref()
            .and_then(|t| percentage(t, "availability.target", file, diags));
        for (missing, what) in [
            (
                a.value.target.is_none(),
                "`target` (the agreed percentage, e.g. 99.5)",
            ),
            (
                a.value.probe.is_none(),
                "`probe` (the job whose runs tell whether the service is up)",
            ),
        ] {
            if missing {
                diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`service.availability`: missing required key {what}"),
                ));
            }
        }
        if let (Some(target), Some(probe)) = (target, &a.value.probe) {
            out.availability = Some(AvailabilityTarget {
                target,
                probe: probe.clone(),
            });
        }
    }
    if let Some(b) = &spec.backups {
        let target = match &b.value.target {
            Some(t) => percentage(t, "backups.target", file, diags),
            None => Some(100.0),
        };
        if b.value.jobs.is_empty() {
            diags.push(Diagnostic::spanned(
                file,
                b,
                "`service.backups`: `jobs` names no job (the backup jobs whose slots are counted)",
            ));
        } else if let Some(target) = target {
            out.backups = Some(BackupTarget {
                jobs: b.value.jobs.clone(),
                target,
            });
        }
    }
    out
}

/// The language of the shipped notification templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Ja,
    En,
}

impl Language {
    /// `ja` or `en`, as written in `unyo.yaml`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
}

/// The files a `notify.templates` folder may hold; each one present replaces the shipped
/// template of the same name in the configured language.
pub const NOTIFY_TEMPLATE_FILES: [&str; 8] = [
    "approval.subject.hbs",
    "approval.text.hbs",
    "opened.subject.hbs",
    "opened.text.hbs",
    "escalated.subject.hbs",
    "escalated.text.hbs",
    "recurred.subject.hbs",
    "recurred.text.hbs",
];

/// How incidents reach people: `notify:` of `unyo.yaml`, validated. Every channel named by a
/// level exists, and every route has at least one level.
#[derive(Debug, Clone)]
pub struct Notify {
    pub language: Language,
    /// A folder (absolute) whose templates replace the shipped ones.
    pub templates: Option<PathBuf>,
    pub desk_hours: DeskHours,
    /// Out of desk hours, incidents of this severity and above take the `emergency` route.
    pub wake: Severity,
    /// Channels by name, in the order written.
    pub channels: IndexMap<String, Channel>,
    /// The route in desk hours.
    pub desk: Vec<Level>,
    /// The route out of desk hours for severity `wake` and above (default: `desk`).
    pub emergency: Vec<Level>,
    /// The route out of desk hours below `wake` (default: the first level of `desk`, with no
    /// escalation).
    pub after_hours: Vec<Level>,
}

impl Notify {
    /// The problem with `desk_hours.calendar`, when it names no calendar of `schedules/`.
    /// Calendars are defined in schedule files, so the settings cannot check this name; the
    /// catalog loader calls this with the names it found and reports the message at
    /// `desk_hours.calendar`'s position.
    pub fn check_calendar(&self, calendars: &[String]) -> Option<String> {
        let name = &self.desk_hours.calendar.as_ref()?.value;
        if calendars.iter().any(|c| c == name) {
            return None;
        }
        let hint = diag::hint(name, calendars.iter().map(String::as_str));
        Some(format!(
            "`notify.desk_hours`: unknown calendar `{name}`{hint}"
        ))
    }

    /// A channel by name.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }
}

/// When the service desk is staffed: business days of a calendar, `from` ≤ local time < `to`.
#[derive(Debug, Clone)]
pub struct DeskHours {
    /// A calendar of `schedules/` with its place in `unyo.yaml`; `None`: Monday to Friday.
    pub calendar: Option<Spanned<String>>,
    pub from: NaiveTime,
    pub to: NaiveTime,
}

/// One escalation level: the channels notified together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// How long after the previous level this one is notified if nobody acknowledged; zero for
    /// the first level, which is notified at once.
    pub after: Duration,
    /// Channel names, each one a key of [`Notify::channels`].
    pub notify: Vec<String>,
}

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

/// True for `NAME` of an environment variable: letters, digits and `_`, not starting with a digit.
fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `host`, `host:port`, `[v6]:port` → host and port.
fn parse_server(text: &str) -> Result<(String, Option<u16>), String> {
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

fn parse_severity(text: &str) -> Result<Severity, String> {
    const NAMES: [&str; 4] = ["low", "medium", "high", "critical"];
    match text {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        other => Err(format!(
            "unknown severity `{other}`{}; expected one of: {}",
            diag::hint(other, NAMES),
            NAMES.join(", ")
        )),
    }
}

/// Validates `notify:`. Returns `None` when something is wrong; every problem is in `diags`.
fn notify(
    raw: &Spanned<NotifySpec>,
    root: &Path,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<Notify> {
    let before = diags.len();
    let spec = &raw.value;
    let mut err =
        |at: &Spanned<String>, msg: String| diags.push(Diagnostic::spanned(file, at, msg));

    let mut language = Language::Ja;
    if let Some(l) = &spec.language {
        match l.value.as_str() {
            "ja" => language = Language::Ja,
            "en" => language = Language::En,
            other => err(
                l,
                format!(
                    "`notify.language`: unknown language `{other}`{}; expected `ja` or `en`",
                    diag::hint(other, ["ja", "en"])
                ),
            ),
        }
    }

    let mut templates = None;
    if let Some(t) = &spec.templates {
        let dir = root.join(&t.value);
        for problem in check_template_folder(&dir, &t.value, &NOTIFY_TEMPLATE_FILES) {
            err(t, format!("`notify.templates`: {problem}"));
        }
        templates = Some(dir);
    }

    let mut wake = Severity::High;
    if let Some(w) = &spec.wake {
        match parse_severity(w.value.trim()) {
            Ok(s) => wake = s,
            Err(m) => err(w, format!("`notify.wake`: {m}")),
        }
    }

    let mut desk_hours = DeskHours {
        calendar: None,
        from: NaiveTime::from_hms_opt(8, 30, 0).unwrap_or(NaiveTime::MIN),
        to: NaiveTime::from_hms_opt(17, 30, 0).unwrap_or(NaiveTime::MIN),
    };
    if let Some(dh) = &spec.desk_hours {
        desk_hours.calendar = dh.value.calendar.clone();
        let mut clock = |v: &Option<Spanned<String>>, key: &str, into: &mut NaiveTime| {
            if let Some(v) = v {
                match parse_clock(&v.value) {
                    Ok(t) => *into = t,
                    Err(m) => err(v, format!("`notify.desk_hours.{key}`: {m}")),
                }
            }
        };
        clock(&dh.value.from, "from", &mut desk_hours.from);
        clock(&dh.value.to, "to", &mut desk_hours.to);
        if desk_hours.from >= desk_hours.to {
            diags.push(Diagnostic::spanned(
                file,
                dh,
                "`notify.desk_hours`: `from` must be before `to` (desk hours end on the day they begin)",
            ));
        }
    }

    let mut channels = IndexMap::new();
    for (name, ch) in &spec.channels {
        if let Some(kind) = channel(name, ch, root, file, diags) {
            channels.insert(
                name.clone(),
                Channel {
                    name: name.clone(),
                    kind,
                },
            );
        }
    }

    let names: Vec<&str> = spec.channels.keys().map(String::as_str).collect();
    let desk = match &spec.desk {
        Some(d) => levels("desk", d, &names, file, diags),
        None => {
            diags.push(Diagnostic::spanned(
                file,
                raw,
                "`notify`: missing required key `desk` (the levels notified in desk hours)",
            ));
            Vec::new()
        }
    };
    let emergency = match &spec.emergency {
        Some(e) => levels("emergency", e, &names, file, diags),
        None => desk.clone(),
    };
    let after_hours = match &spec.after_hours {
        Some(a) => levels("after_hours", a, &names, file, diags),
        None => desk
            .first()
            .map(|l| Level {
                after: Duration::ZERO,
                notify: l.notify.clone(),
            })
            .into_iter()
            .collect(),
    };

    (diags.len() == before).then_some(Notify {
        language,
        templates,
        desk_hours,
        wake,
        channels,
        desk,
        emergency,
        after_hours,
    })
}

/// Why a template does not compile, without the parser's list of every token it expected.
pub fn template_compile_reason(e: &handlebars::TemplateError) -> String {
    let reason = e.reason().to_string().to_lowercase();
    match reason.split_once(": expected") {
        Some((head, _)) => format!("{head} (an unclosed `{{{{#...}}}}` block or a stray `{{{{`?)"),
        None => reason,
    }
}

/// The problems of a template folder: it must exist, hold only the template names `known`,
/// and each template must compile.
fn check_template_folder(dir: &Path, shown: &str, known: &[&str]) -> Vec<String> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) => return vec![format!("cannot read folder `{shown}`: {}", io_reason(&e))],
    };
    let mut problems = Vec::new();
    let mut files: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    files.sort();
    for path in files {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !name.ends_with(".hbs") {
            continue;
        }
        if !known.contains(&name) {
            problems.push(format!(
                "unknown template file `{name}`{}; expected one of: {}",
                diag::hint(name, known.iter().copied()),
                known.join(", ")
            ));
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                if let Err(e) = handlebars::Template::compile(&text) {
                    let at = e.pos().map_or(String::new(), |(l, c)| format!(":{l}:{c}"));
                    problems.push(format!(
                        "`{name}{at}` does not compile: {}",
                        template_compile_reason(&e)
                    ));
                }
            }
            Err(e) => problems.push(format!("cannot read `{name}`: {}", io_reason(&e))),
        }
    }
    problems
}

/// Validates one channel; `None` when it has problems (reported into `diags`).
fn channel(
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

/// Validates the levels of one route.
fn levels(
    route: &str,
    raw: &Spanned<Vec<Spanned<LevelSpec>>>,
    channels: &[&str],
    file: &Path,
    diags: &mut Diagnostics,
) -> Vec<Level> {
    // An empty route is allowed: nobody is told of its incidents, which `unyo validate`
    // and the daemon's start say (`Settings::unheard`).
    let mut out = Vec::new();
    for (i, level) in raw.value.iter().enumerate() {
        let n = i + 1;
        let spec = &level.value;
        let mut after = Duration::ZERO;
        match (&spec.after, i) {
            (Some(a), 0) => diags.push(Diagnostic::spanned(
                file,
                a,
                format!(
                    "`notify.{route}`: the first level is notified at once; `after` belongs on the levels that follow"
                ),
            )),
            (None, 0) => {}
            (None, _) => diags.push(Diagnostic::spanned(
                file,
                level,
                format!(
                    "`notify.{route}`: level {n} needs `after` (how long to wait for an acknowledgement after level {i})"
                ),
            )),
            (Some(a), _) => match parse_duration(&a.value) {
                Ok(d) if !d.is_zero() => after = d,
                Ok(_) => diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`notify.{route}`: `after` must be longer than zero"),
                )),
                Err(m) => diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`notify.{route}`: `after`: {m}"),
                )),
            },
        }
        if spec.notify.value.is_empty() {
            diags.push(Diagnostic::spanned(
                file,
                &spec.notify,
                format!("`notify.{route}`: level {n} notifies nobody (`notify` is empty)"),
            ));
        }
        let mut notify: Vec<String> = Vec::new();
        for ch in &spec.notify.value {
            if !channels.contains(&ch.value.as_str()) {
                diags.push(Diagnostic::spanned(
                    file,
                    ch,
                    format!(
                        "`notify.{route}`: unknown channel `{}`{}",
                        ch.value,
                        diag::hint(&ch.value, channels.iter().copied())
                    ),
                ));
            } else if notify.contains(&ch.value) {
                diags.push(Diagnostic::spanned(
                    file,
                    ch,
                    format!(
                        "`notify.{route}`: channel `{}` is listed twice in level {n}",
                        ch.value
                    ),
                ));
            } else {
                notify.push(ch.value.clone());
            }
        }
        out.push(Level { after, notify });
    }
    out
}

/// Makes a path absolute against the current directory without touching the filesystem.
pub fn absolute(p: &Path) -> PathBuf {
    std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://unyo:s3cret@db:5432/ops"),
            "postgres://unyo:***@db:5432/ops"
        );
        assert_eq!(redact_url("postgres://db/ops"), "postgres://db/ops");
        let d = Database::Postgres("postgres://u:pw@h/d".into());
        assert!(!format!("{d:?}{d}").contains("pw"));
    }

    #[test]
    fn defaults_without_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let s = Settings::load(dir.path()).expect("defaults");
        assert_eq!(s.database, Database::Sqlite(dir.path().join("var/unyo.db")));
        assert_eq!(s.timezone, chrono_tz::Asia::Tokyo);
        assert_eq!(s.log_dir, dir.path().join("var/log"));
    }

    fn load_notify(yaml: &str) -> Result<Notify, String> {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join(SETTINGS_FILE), yaml).expect("write");
        match Settings::load(dir.path()) {
            Ok(s) => s.notify.ok_or_else(|| "no notify".to_owned()),
            Err(e) => Err(e.to_string()),
        }
    }

    const CHANNELS: &str = "notify:\n  channels:\n    mail:\n      email: { to: [desk@city.example.jp, \"Duty <duty@city.example.jp>\"], from: unyo@ops.example.jp, server: smtp.city.example.jp, username: ops, password_env: UNYO_SMTP_PASSWORD }\n    chat:\n      webhook: { url: \"https://hooks.example.jp/services/T0/B0/tOkEn\" }\n    phone:\n      command: { argv: [/usr/local/bin/page, --to, duty] }\n";

    #[test]
    fn notify_defaults_fill_the_other_routes() {
        let n = load_notify(&format!(
            "{CHANNELS}  desk:\n    - notify: [mail, chat]\n    - after: 30m\n      notify: [phone]\n"
        ))
        .expect("valid");
        assert_eq!(n.language, Language::Ja);
        assert_eq!(n.wake, Severity::High);
        assert_eq!(n.desk_hours.from.to_string(), "08:30:00");
        assert_eq!(n.desk_hours.to.to_string(), "17:30:00");
        assert!(n.desk_hours.calendar.is_none());
        assert_eq!(n.desk.len(), 2);
        assert_eq!(n.desk[1].after, Duration::from_secs(1800));
        assert_eq!(n.emergency, n.desk);
        assert_eq!(
            n.after_hours,
            vec![Level {
                after: Duration::ZERO,
                notify: vec!["mail".into(), "chat".into()]
            }]
        );
        let Some(ChannelKind::Email(mail)) = n.channel("mail").map(|c| &c.kind) else {
            panic!("mail is an email channel");
        };
        assert_eq!(mail.to.len(), 2);
        assert_eq!(
            (mail.host.as_str(), mail.port),
            ("smtp.city.example.jp", 587)
        );
        assert_eq!(mail.tls, SmtpTls::Starttls);
        let Some(ChannelKind::Command(cmd)) = n.channel("phone").map(|c| &c.kind) else {
            panic!("phone is a command channel");
        };
        assert_eq!(cmd.timeout, DEFAULT_COMMAND_TIMEOUT);
        assert_eq!(cmd.argv, ["/usr/local/bin/page", "--to", "duty"]);
    }

    #[test]
    fn secrets_stay_out_of_debug() {
        let n = load_notify(&format!("{CHANNELS}  desk:\n    - notify: [chat]\n")).expect("valid");
        let shown = format!("{n:?}");
        assert!(!shown.contains("tOkEn"), "{shown}");
        assert!(!shown.contains("/services"), "{shown}");
        assert!(shown.contains("Url(https://hooks.example.jp)"), "{shown}");
        assert!(shown.contains("UNYO_SMTP_PASSWORD"), "{shown}");
        assert_eq!(
            url_origin("https://user:pw@hooks.example.jp:8443/x/y?token=z"),
            "https://hooks.example.jp:8443"
        );
        assert_eq!(url_origin("not a url"), "(not a URL)");
    }

    #[test]
    fn desk_hours_calendar_is_checked_against_schedules() {
        let n = load_notify(&format!(
            "{CHANNELS}  desk_hours: {{ calendar: ctiy }}\n  desk:\n    - notify: [mail]\n"
        ))
        .expect("valid");
        assert_eq!(n.check_calendar(&["ctiy".into()]), None);
        assert_eq!(
            n.check_calendar(&["city".into(), "office".into()])
                .as_deref(),
            Some("`notify.desk_hours`: unknown calendar `ctiy` (did you mean `city`?)")
        );
        let none =
            load_notify(&format!("{CHANNELS}  desk:\n    - notify: [mail]\n")).expect("valid");
        assert_eq!(none.check_calendar(&[]), None);
    }

    #[test]
    fn notify_needs_desk_levels_and_sane_hours() {
        let e = load_notify(&format!(
            "{CHANNELS}  desk_hours: {{ from: \"18:00\", to: \"09:00\" }}\n"
        ))
        .expect_err("invalid");
        assert!(
            e.contains("unyo.yaml:2:3: `notify`: missing required key `desk`"),
            "{e}"
        );
        assert!(e.contains("`from` must be before `to`"), "{e}");
        assert!(e.contains("2 problems"), "{e}");
    }

    #[test]
    fn plain_smtp_only_to_this_machine() {
        for (server, ok) in [
            ("127.0.0.1:2525", true),
            ("[::1]:25", true),
            ("localhost", true),
            ("smtp.example.jp:25", false),
            ("10.0.0.5", false),
        ] {
            let yaml = format!(
                "notify:\n  channels:\n    m:\n      email: {{ to: [a@b.jp], from: c@d.jp, server: \"{server}\", tls: none }}\n  desk:\n    - notify: [m]\n"
            );
            assert_eq!(load_notify(&yaml).is_ok(), ok, "{server}");
        }
        assert_eq!(parse_server("[::1]:25"), Ok(("::1".into(), Some(25))));
        assert_eq!(parse_server("::1"), Ok(("::1".into(), None)));
        assert!(parse_server("host:0").is_err());
        assert!(parse_server("host:port").is_err());
        assert!(parse_server("").is_err());
        assert!(is_env_name("UNYO_SMTP_PASSWORD") && !is_env_name("1X") && !is_env_name("A-B"));
    }

    #[test]
    fn reports_every_bad_setting() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(SETTINGS_FILE),
            "timezone: Mars/Olympus\nday_start: '25:00'\nfiscal_year_start: 13\n",
        )
        .expect("write");
        let err = Settings::load(dir.path()).expect_err("invalid");
        let text = err.to_string();
        assert_eq!(err.len(), 3, "{text}");
        assert!(
            text.contains("unyo.yaml:1:11: unknown time zone `Mars/Olympus`"),
            "{text}"
        );
        assert!(text.contains("unyo.yaml:2:"), "{text}");
    }
}
