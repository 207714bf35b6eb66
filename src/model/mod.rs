//! The validated catalog: jobs, steps, runbooks, calendars, windows and schedules as the rest
//! of unyo sees them, built from `spec` types by [`Catalog::load`].
//!
//! A catalog is immutable once built; a reload builds a new one and swaps it whole. Every
//! reference in it has been checked (needs, runbooks, calendars, windows, jobs), so code
//! downstream never meets a dangling name. This module does no I/O beyond reading the
//! definition files, and never runs anything.

mod business_day;
pub mod param_value;
mod settings;
pub mod template;
mod validate;
pub mod values;

pub use business_day::BusinessDay;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use indexmap::IndexMap;

pub use settings::{
    AvailabilityTarget, BackupTarget, DEFAULT_NODE_TIMEOUT, Database, Host, IncidentSettings,
    NodeSettings, SETTINGS_FILE, Service, Settings, absolute, is_label, redact_url,
};
pub use settings::{
    Channel, ChannelKind, CommandChannel, DEFAULT_COMMAND_TIMEOUT, DEFAULT_PLUGINS, DateStyle,
    DeskHours, EmailChannel, Language, Level, LogFormat, LogSettings, LogTo, NOTIFY_TEMPLATE_FILES,
    Notify, REPORT_TEMPLATE_FILES, ReportSettings, SmtpAuth, SmtpTls, WebhookUrl,
    template_compile_reason, url_origin,
};
pub use settings::{Proxy, TlsFiles, WebAccess};
pub use validate::shell_line_is_safe;

pub use crate::spec::{
    Backoff, ClosedDay, HolidaySet, MisfirePolicy, OnInterrupt, Overlap, ParamType, Severity,
    WindowPolicy,
};

/// Everything defined under one root.
#[derive(Debug, Clone)]
pub struct Catalog {
    pub jobs: BTreeMap<String, Arc<Job>>,
    pub runbooks: BTreeMap<String, Arc<Runbook>>,
    pub calendars: BTreeMap<String, Calendar>,
    pub windows: BTreeMap<String, Window>,
    pub schedules: Vec<Schedule>,
    /// SHA-256 over every definition file (names and contents), recorded with each run.
    pub digest: String,
    /// Every `user:` a step runs as, as the problem it is when unyo cannot switch users (not
    /// root): `unyo validate` reports them then (other commands only read definitions).
    pub run_as: Vec<crate::spec::Diagnostic>,
}

impl Catalog {
    /// The environment variables that hold secret parameters (`from_env` of every job): a
    /// step gets one only through its own job's `env:`.
    pub fn secret_env(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for p in self.jobs.values().flat_map(|j| j.params.values()) {
            if let Some(var) = &p.from_env
                && !names.contains(var)
            {
                names.push(var.clone());
            }
        }
        names
    }
}

/// A job: steps forming a DAG, plus parameters and defaults.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    /// The file it came from, relative to the root.
    pub file: PathBuf,
    /// SHA-256 of that file, recorded with each run.
    pub digest: String,
    /// The display name (`title:`) the report shows, 「title」 with the name in parentheses.
    pub title: Option<String>,
    pub description: Option<String>,
    pub params: IndexMap<String, Param>,
    pub window: Option<String>,
    pub avoid: Option<String>,
    pub outside_window: WindowPolicy,
    /// Jobs whose run for the same business date must succeed first.
    pub after: Vec<String>,
    pub wait_timeout: Duration,
    pub on_interrupt: OnInterrupt,
    /// The labels a node must have to run it (`runs_on`); empty: any node.
    pub runs_on: Vec<String>,
    /// How long a run waits for a live node with those labels before an incident.
    pub node_wait: Duration,
    /// May be submitted with `unyo submit`.
    pub adhoc: bool,
    /// The submitter of a run may not approve its gates.
    pub separate_approver: bool,
    /// Who may act on it (submit, cancel, rerun, hold, release); both empty: everyone.
    pub allowed_users: Vec<String>,
    pub allowed_groups: Vec<String>,
    /// What the job promises the client (`sla:`), measured by the monthly report.
    pub sla: Option<JobSla>,
    /// When its runs are late (`start_delay`, `end_delay`, `max_runtime`): watched while
    /// they go on.
    pub lateness: crate::domain::lateness::Limits,
    /// How its successful runs' durations are judged against their baseline.
    pub slowdown: Slowdown,
    /// Steps in declaration order; `needs` are indexes into this list.
    pub steps: Vec<Step>,
}

impl Job {
    /// Whether a node with `labels` may run this job (it has every label of `runs_on`).
    pub fn runs_on_node(&self, labels: &[String]) -> bool {
        self.runs_on.iter().all(|l| labels.contains(l))
    }

    pub fn step(&self, name: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.name == name)
    }
}

/// A job's service level. Each item is optional; a job without `sla:` is reported without
/// one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobSla {
    /// A scheduled run has succeeded by this local time of its slot's day (or of the next
    /// day, when the slot comes later in the day than this time).
    pub complete_by: Option<NaiveTime>,
    /// Percent (0 < rate <= 100) of the month's runs that must succeed.
    pub success_rate: Option<f64>,
    /// No run may take longer.
    pub max_duration: Option<Duration>,
}

/// A job's slowdown detection (`slowdown:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slowdown {
    /// Judge the job's durations at all.
    pub enabled: bool,
    /// The baseline is made of this many last successful runs of the same day class.
    pub runs: usize,
    /// A flagged run opens an incident too.
    pub incident: bool,
}

/// The longest `title:` (of a job), in characters: what fits a report table's cell.
pub const TITLE_MAX: usize = 40;

/// The baseline's size when `slowdown.runs` is not given.
pub const DEFAULT_BASELINE_RUNS: usize = 20;

impl Default for Slowdown {
    fn default() -> Slowdown {
        Slowdown {
            enabled: true,
            runs: DEFAULT_BASELINE_RUNS,
            incident: false,
        }
    }
}

/// A job parameter.
#[derive(Debug, Clone, Default)]
pub struct Param {
    pub kind: ParamType,
    pub description: Option<String>,
    pub required: bool,
    pub default: Option<String>,
    /// `string`: the whole value must match.
    pub pattern: Option<regex::Regex>,
    pub max_len: Option<usize>,
    /// `int` bounds.
    pub min: Option<i64>,
    pub max: Option<i64>,
    /// `enum`, `list`: the values allowed (for `list`, for each item).
    pub values: Vec<String>,
    /// `path`: absolute folders the value must stay inside.
    pub roots: Vec<PathBuf>,
    /// `string`: the type the value must have by the value of another parameter (an enum):
    /// that parameter's name, and its values with their types.
    pub type_by: Option<(String, IndexMap<String, ValueType>)>,
    /// Stored and shown as `***`, reaching steps only through their environment.
    pub secret: bool,
    /// A secret's value when none is given: this variable of the environment of the unyo
    /// process that runs the step.
    pub from_env: Option<String>,
}

impl Param {
    /// Whether a parameter of this name is secret when its declaration does not say:
    /// `password`, `passwd`, `secret`, `token`, `credential(s)`, `apikey`, `api_key`,
    /// `private_key` or `access_key` as parts of the name between `_` (any case), or the
    /// name ending in one of the first ones (`dbpassword`).
    pub fn secret_by_name(name: &str) -> bool {
        const WORDS: [&str; 8] = [
            "password",
            "passwd",
            "secret",
            "secrets",
            "token",
            "credential",
            "credentials",
            "apikey",
        ];
        let lower = name.to_ascii_lowercase();
        let parts: Vec<&str> = lower.split('_').collect();
        parts.iter().any(|p| WORDS.contains(p))
            || parts
                .windows(2)
                .any(|w| w[1] == "key" && ["api", "private", "access"].contains(&w[0]))
            || ["password", "passwd", "secret", "token"]
                .iter()
                .any(|w| lower.ends_with(w))
    }
}

/// The type a value must have (`type_by:`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    Int,
    Float,
    Bool,
    Date,
    String,
}

impl ValueType {
    pub const NAMES: [&str; 5] = ["int", "float", "bool", "date", "string"];

    pub fn parse(text: &str) -> Option<ValueType> {
        Some(match text {
            "int" => ValueType::Int,
            "float" => ValueType::Float,
            "bool" => ValueType::Bool,
            "date" => ValueType::Date,
            "string" => ValueType::String,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ValueType::Int => "int",
            ValueType::Float => "float",
            ValueType::Bool => "bool",
            ValueType::Date => "date",
            ValueType::String => "string",
        }
    }

    /// Whether `value` is of this type (`8` is a float too).
    pub fn accepts(self, value: &str) -> bool {
        match self {
            ValueType::Int => value.parse::<i64>().is_ok(),
            ValueType::Float => value.parse::<f64>().is_ok_and(f64::is_finite),
            ValueType::Bool => value == "true" || value == "false",
            ValueType::Date => NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok(),
            ValueType::String => true,
        }
    }
}

/// What a step runs. Strings are handlebars templates rendered per run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Executed directly, one template per argument.
    Argv(Vec<String>),
    /// A line for `/bin/sh -c`; values rendered into it are always shell-quoted.
    Shell(String),
    /// Wait for an operator's `unyo approve` (or `reject`), up to the step's timeout.
    Approval { message: Option<String> },
}

/// One step of a job, with the job's defaults already applied.
#[derive(Debug, Clone)]
pub struct Step {
    pub name: String,
    pub description: Option<String>,
    pub action: Action,
    /// Indexes of the steps this one needs.
    pub needs: Vec<usize>,
    /// Environment templates (job-level first, step-level overriding).
    pub env: Vec<(String, String)>,
    /// Working directory template, relative to the root; `None` means the root.
    pub workdir: Option<String>,
    pub timeout: Option<Duration>,
    pub runbook: Option<String>,
    /// Runs once all its needs have ended, whatever their status (`always: true`); a need
    /// that failed or was skipped does not skip it.
    pub always: bool,
    /// Exit-code ranges (inclusive) with which the step declines by itself (`refuse_exit`,
    /// the step's own, else the job's): it ends `refused`, not `failed`.
    pub refuse_exit: Vec<(i32, i32)>,
    /// A running attempt that prints nothing for this long is stuck (the step's
    /// `stuck_after`, else the job's).
    pub stuck_after: Option<Duration>,
    /// The server of `hosts:` it runs on through `ssh` (the step's own, else the job's).
    pub host: Option<String>,
    /// The operating-system user a local step runs as (the step's own, else the job's).
    pub user: Option<String>,
    /// A health check (`check:`): the action runs its plugin, whose exit code 0-3 is a
    /// result for the target, not the step's success or failure.
    pub check: Option<Check>,
    /// The labels a node must have to run this step (the step's `runs_on`); empty: it runs
    /// where its run runs.
    pub runs_on: Vec<String>,
}

/// What a check step keeps beside its plugin's command (the step's `Action::Argv`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The target's name, unique in the catalog.
    pub target: String,
    pub kind: crate::domain::check::TargetKind,
    pub thresholds: crate::domain::check::Thresholds,
    /// Severity of the incident when it goes down; `None`: the settings' default.
    pub severity: Option<Severity>,
}

impl Step {
    /// Whether a node with `labels` may run this step (it has every label of the step's
    /// `runs_on`).
    pub fn runs_on_node(&self, labels: &[String]) -> bool {
        self.runs_on.iter().all(|l| labels.contains(l))
    }

    /// Whether exit code `code` means the step refused.
    pub fn refuses_with(&self, code: i32) -> bool {
        self.refuse_exit
            .iter()
            .any(|&(a, b)| (a..=b).contains(&code))
    }
}

/// A runbook: ordered rules, the first match wins.
#[derive(Debug, Clone)]
pub struct Runbook {
    pub name: String,
    pub file: PathBuf,
    pub description: Option<String>,
    pub rules: Vec<Rule>,
}

/// One runbook rule.
#[derive(Debug, Clone)]
pub struct Rule {
    pub description: Option<String>,
    pub matcher: Match,
    pub retry: Option<Retry>,
    pub remediate: Option<Remediation>,
    pub escalate: Option<Severity>,
    /// Mark the step failed but let dependents run.
    pub keep_going: bool,
}

/// Conditions on a failed attempt; all present ones must hold. Empty means any failure.
#[derive(Debug, Clone, Default)]
pub struct Match {
    pub exit_codes: Vec<(i32, i32)>,
    pub signals: Vec<i32>,
    pub timeout: Option<bool>,
    /// `ssh` could not reach the step's host (not the command's own exit 255).
    pub connection_failed: Option<bool>,
    pub stdout: Option<regex::Regex>,
    pub stderr: Option<regex::Regex>,
    pub output: Option<regex::Regex>,
    pub elapsed_over: Option<Duration>,
}

/// Retry policy of a rule.
#[derive(Debug, Clone)]
pub struct Retry {
    pub max: u32,
    pub backoff: Backoff,
    pub initial: Duration,
    pub max_delay: Duration,
    pub jitter: Duration,
}

/// A remediation command run before a retry.
#[derive(Debug, Clone)]
pub struct Remediation {
    pub action: Action,
    pub timeout: Duration,
}

/// Which days are business days.
#[derive(Debug, Clone)]
pub struct Calendar {
    pub name: String,
    pub weekends: Vec<chrono::Weekday>,
    pub holidays: HolidaySet,
    pub closed: Vec<DayRule>,
    pub open: Vec<NaiveDate>,
}

/// A closed-day entry of a calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayRule {
    /// Every year, from (month, day) to (month, day) inclusive; may wrap over New Year.
    Yearly { from: (u32, u32), to: (u32, u32) },
    /// Dated span, inclusive.
    Dates { from: NaiveDate, to: NaiveDate },
}

/// How long a run waits for its `after` jobs when the job does not say.
pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(6 * 3600);
/// How long a run waits for a node with its job's labels before an incident, unless the
/// job's `node_wait` says.
pub const DEFAULT_NODE_WAIT: Duration = Duration::from_secs(600);

/// A named span of clock time; `from > to` crosses midnight.
#[derive(Debug, Clone)]
pub struct Window {
    pub name: String,
    pub from: NaiveTime,
    pub to: NaiveTime,
}

/// A schedule entry binding a job to time.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub name: String,
    pub job: String,
    pub cron: String,
    pub timezone: Tz,
    pub calendar: Option<String>,
    pub closed_day: ClosedDay,
    /// Only slots on this business day of the month or fiscal year (needs `calendar`).
    pub business_day: Option<BusinessDay>,
    pub misfire: MisfirePolicy,
    pub misfire_within: Option<Duration>,
    pub misfire_max: u32,
    /// The severity of the incident a missed slot opens; `None`: the slot is only recorded
    /// (`missed: { incident: false }`).
    pub missed: Option<Severity>,
    pub overlap: Overlap,
    pub params: IndexMap<String, String>,
}

impl Catalog {
    /// Reads and validates every definition under the settings' root, reporting all
    /// problems at once.
    pub fn load(settings: &Settings) -> Result<Catalog, crate::spec::Diagnostics> {
        validate::load(settings)
    }

    /// One line for `unyo validate`.
    pub fn summary(&self) -> String {
        fn n(count: usize, word: &str) -> String {
            format!("{count} {word}{}", if count == 1 { "" } else { "s" })
        }
        format!(
            "{}, {}, {}",
            n(self.jobs.len(), "job"),
            n(self.schedules.len(), "schedule"),
            n(self.runbooks.len(), "runbook")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::Param;

    #[test]
    fn obvious_names_are_secret() {
        for name in [
            "db_password",
            "PGPASSWORD",
            "passwd",
            "api_token",
            "client_secret",
            "API_KEY",
            "apikey",
            "private_key",
            "credentials",
        ] {
            assert!(Param::secret_by_name(name), "{name}");
        }
        for name in ["department", "key", "passport_no", "monkey", "keyword"] {
            assert!(!Param::secret_by_name(name), "{name}");
        }
    }
}
