//! Validated settings: `unyo.yaml` merged over the defaults, every path made absolute.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use chrono_tz::Tz;
use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::Severity;
use super::values::{parse_clock, parse_duration, parse_size};
use crate::spec::{self, Diagnostic, Diagnostics, SettingsSpec};

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
        self.default_runbook = raw.default_runbook.clone();
        self.vars = raw
            .vars
            .iter()
            .map(|(k, v)| (k.clone(), v.value.0.clone()))
            .collect();
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
