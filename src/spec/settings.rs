//! Raw settings file (`unyo.yaml`). Every key is optional; defaults live in `model::Settings`.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use std::sync::LazyLock;

use super::keys::{Child, Shape, fields_of};
use super::notify::{NOTIFY, NotifySpec};
use super::{FileSpec, Scalar, leaf};

static INCIDENTS: LazyLock<Shape> = LazyLock::new(leaf::<IncidentsSpec>);
static REPORT: LazyLock<Shape> = LazyLock::new(leaf::<ReportSpec>);
static SERVICE_HOURS: LazyLock<Shape> = LazyLock::new(leaf::<ServiceHoursSpec>);
static AVAILABILITY: LazyLock<Shape> = LazyLock::new(leaf::<AvailabilitySpec>);
static BACKUPS: LazyLock<Shape> = LazyLock::new(leaf::<BackupsSpec>);
static HOST: LazyLock<Shape> = LazyLock::new(leaf::<HostSpec>);
static DEPARTMENT: LazyLock<Shape> = LazyLock::new(leaf::<DepartmentSpec>);
static SERVICE: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<ServiceSpec>(),
    children: vec![
        ("hours", Child::Struct(&SERVICE_HOURS)),
        ("availability", Child::Struct(&AVAILABILITY)),
        ("backups", Child::Struct(&BACKUPS)),
    ],
});
static CHECKS: LazyLock<Shape> = LazyLock::new(leaf::<ChecksSpec>);
static METRICS: LazyLock<Shape> = LazyLock::new(leaf::<MetricsSpec>);
static WEB_TLS: LazyLock<Shape> = LazyLock::new(leaf::<WebTlsSpec>);
static WEB: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<WebSpec>(),
    children: vec![("tls", Child::Struct(&WEB_TLS))],
});
static LOG: LazyLock<Shape> = LazyLock::new(leaf::<LogSpec>);
static NODE: LazyLock<Shape> = LazyLock::new(leaf::<NodeSpec>);
static DESK_CONSULTATION: LazyLock<Shape> = LazyLock::new(leaf::<DeskConsultationSpec>);
static DESK: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<DeskSpec>(),
    children: vec![("consultation", Child::Struct(&DESK_CONSULTATION))],
});
static PROPOSALS: LazyLock<Shape> = LazyLock::new(leaf::<ProposalsSpec>);
static SETTINGS: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<SettingsSpec>(),
    children: vec![
        ("checks", Child::Struct(&CHECKS)),
        ("metrics", Child::Struct(&METRICS)),
        ("web", Child::Struct(&WEB)),
        ("log", Child::Struct(&LOG)),
        ("node", Child::Struct(&NODE)),
        ("desk", Child::Struct(&DESK)),
        ("proposals", Child::Struct(&PROPOSALS)),
        ("incidents", Child::Struct(&INCIDENTS)),
        ("notify", Child::Struct(&NOTIFY)),
        ("report", Child::Struct(&REPORT)),
        ("service", Child::Struct(&SERVICE)),
        ("hosts", Child::MapOf(&HOST)),
        ("departments", Child::MapOf(&DEPARTMENT)),
    ],
});

impl FileSpec for SettingsSpec {
    fn shape() -> &'static Shape {
        &SETTINGS
    }
}

/// `unyo.yaml` as written.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SettingsSpec {
    /// Create the demo environment (`<data_dir>/city`) at the daemon's first start.
    pub demo: Option<bool>,
    /// How incidents are opened and when their reports are due.
    pub incidents: Option<IncidentsSpec>,
    /// `sqlite:PATH` (relative to the root) or a `postgres://` URL.
    pub database: Option<Spanned<String>>,
    pub data_dir: Option<Spanned<String>>,
    pub log_dir: Option<Spanned<String>>,
    /// The operating-system group that may read unyo's records and the data it writes.
    pub group: Option<Spanned<String>>,
    pub timezone: Option<Spanned<String>>,
    /// `HH:MM` at which a business date begins.
    pub day_start: Option<Spanned<String>>,
    /// Month (1-12) in which the fiscal year begins.
    pub fiscal_year_start: Option<Spanned<u32>>,
    /// Steps run at once by one run (default: number of cores).
    pub parallel: Option<Spanned<u32>>,
    /// Largest step log per attempt, e.g. `10MiB`.
    pub log_limit: Option<Spanned<String>>,
    /// Time between SIGTERM and SIGKILL when a step is stopped.
    pub kill_grace: Option<Spanned<String>>,
    /// How long a stopping daemon lets running steps finish before it stops them.
    pub shutdown_grace: Option<Spanned<String>>,
    /// Runbook for steps and jobs that name none.
    pub default_runbook: Option<Spanned<String>>,
    /// Free values for templates, as `settings.vars.NAME`.
    #[serde(default)]
    pub vars: IndexMap<String, Spanned<Scalar>>,
    /// How incidents reach people: channels, desk hours, routes.
    pub notify: Option<Spanned<NotifySpec>>,
    /// What the service as a whole promises the client; the report measures it.
    pub service: Option<Spanned<ServiceSpec>>,
    /// How the monthly and yearly reports are written.
    pub report: Option<ReportSpec>,
    /// Servers without a unyo daemon that steps reach through `ssh` (`host:` of a step).
    #[serde(default)]
    pub hosts: IndexMap<String, Spanned<HostSpec>>,
    /// Health checks: where their plugins are.
    pub checks: Option<ChecksSpec>,
    /// The daemon's Prometheus endpoint (off without it).
    pub metrics: Option<MetricsSpec>,
    /// The daemon's dashboard (off without it).
    pub web: Option<WebSpec>,
    /// The daemon's own log: format and destination.
    pub log: Option<LogSpec>,
    /// This server as a node of an installation whose daemons share one PostgreSQL.
    pub node: Option<NodeSpec>,
    /// The service desk: answer deadlines per category, when a request needs the city's
    /// consultation.
    pub desk: Option<DeskSpec>,
    /// When the records make an improvement proposal (`unyo proposals`, the report's
    /// 改善提案).
    pub proposals: Option<ProposalsSpec>,
    /// The city's departments by code (`tax`), each with the name an official reads
    /// (`title: 税務課`): desk requests name one, the report shows its title.
    #[serde(default)]
    pub departments: IndexMap<String, Spanned<DepartmentSpec>>,
}

/// `proposals:` in unyo.yaml: the thresholds of the improvement proposals.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProposalsSpec {
    /// Months looked back over, the period's month included (default 6).
    pub months: Option<Spanned<u32>>,
    /// Fewest months with enough successful runs for a trend (default 3).
    pub trend_months: Option<Spanned<u32>>,
    /// Fewest successful runs in a month for its median to count (default 4).
    pub trend_runs: Option<Spanned<u32>>,
    /// Fitted rise per month, percent of the typical duration, from which a job is getting
    /// slower (default 5).
    pub slower_percent: Option<Spanned<f64>>,
    /// A deadline or capacity reached within this many months is proposed (default 12).
    pub horizon_months: Option<Spanned<f64>>,
    /// Incidents of one cause class, over the months looked back over, from which it recurs
    /// (default 3).
    pub recurring: Option<Spanned<u32>>,
    /// A service level is at risk with no more than this percentage of its allowance left
    /// (default 20).
    pub sla_at_risk_percent: Option<Spanned<f64>>,
    /// A service level has a wide margin with no more than this percentage of its allowance
    /// used (default 10).
    pub sla_wide_percent: Option<Spanned<f64>>,
    /// Fewest measured runs, incidents or slots for a wide margin (default 20).
    pub sla_samples: Option<Spanned<u64>>,
    /// Days a health check flapped on in the period from which it is proposed (default 2).
    pub flap_days: Option<Spanned<u32>>,
    /// Times a runbook rule fired, over the months looked back over, from which it is a
    /// candidate for a permanent fix (default 10).
    pub rule_firings: Option<Spanned<u32>>,
    /// Percent of capacity a disk or data size may reach (default 90).
    pub capacity_percent: Option<Spanned<f64>>,
}

/// One department of `departments:` in unyo.yaml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepartmentSpec {
    /// The department's name as officials write it (`税務課`).
    pub title: Spanned<String>,
}

/// `desk:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeskSpec {
    /// Time allowed for the first answer, per category (`fault: 1h`, `inquiry: 1 business
    /// day`).
    #[serde(default)]
    pub deadlines: IndexMap<String, Spanned<String>>,
    /// Above what a request needs the city's consultation.
    pub consultation: Option<DeskConsultationSpec>,
}

/// `desk.consultation:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DeskConsultationSpec {
    /// Cost in yen above which the city is consulted.
    pub cost: Option<Spanned<u64>>,
    /// Effort above which the city is consulted, in hours (`16h`).
    pub effort: Option<Spanned<String>>,
}

/// `node:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NodeSpec {
    /// The node's name (default: the host name).
    pub name: Option<Spanned<String>>,
    /// What work this node takes: steps and jobs name the labels they need (`runs_on`).
    pub labels: Option<Spanned<Vec<String>>>,
    /// How long a node may miss its heartbeats before the others declare it dead and take
    /// its work over (default `30s`).
    pub timeout: Option<Spanned<String>>,
}

/// `checks:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ChecksSpec {
    /// The folder of the plugins a check names by file name (default
    /// `/usr/lib/nagios/plugins`, Debian's `monitoring-plugins`).
    pub plugins: Option<Spanned<String>>,
}

/// `metrics:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MetricsSpec {
    /// `HOST:PORT` the daemon serves `/metrics` on, e.g. `127.0.0.1:9464`.
    pub listen: Option<Spanned<String>>,
}

/// `web:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebSpec {
    /// `HOST:PORT` the daemon serves the dashboard on, e.g. `127.0.0.1:8480`. An address
    /// other than loopback needs `tls` or `behind_proxy`, and `public_name`.
    pub listen: Option<Spanned<String>>,
    /// How long a dashboard login lasts without a request (idle expiry; default `30m`).
    pub session: Option<Spanned<String>>,
    /// Serve HTTPS with this certificate and key (PEM files).
    pub tls: Option<Spanned<WebTlsSpec>>,
    /// A reverse proxy in front terminates TLS: reading needs a login, and the proxy's
    /// `X-Forwarded-Proto` and `X-Forwarded-For` are believed (from `proxies` only).
    pub behind_proxy: Option<Spanned<bool>>,
    /// The addresses the proxy connects from (default: loopback, `127.0.0.1` and `::1`).
    pub proxies: Option<Spanned<Vec<String>>>,
    /// The name users reach the dashboard by (`unyo.city.example`): the `Host` it answers
    /// besides loopback names.
    pub public_name: Option<Spanned<String>>,
}

/// `web.tls:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WebTlsSpec {
    /// The certificate chain, PEM (the server's certificate first).
    pub cert: Option<Spanned<String>>,
    /// The certificate's private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key: Option<Spanned<String>>,
}

/// `log:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// `text` (default) or `json` (one JSON object a line).
    pub format: Option<Spanned<String>>,
    /// `stderr` (default; journald under systemd) or `files` (`<log_dir>/unyo.log.YYYY-MM-DD`).
    pub to: Option<Spanned<String>>,
    /// With `to: files`: how many daily files are kept (default 30).
    pub keep_days: Option<Spanned<u32>>,
}

/// One server of `hosts:` in unyo.yaml.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    /// Name or IP address.
    pub address: Spanned<String>,
    /// TCP port of its sshd (default 22).
    pub port: Option<Spanned<u32>>,
    /// The user unyo logs in as.
    pub user: Spanned<String>,
    /// The private key (relative to the root, or absolute); default: ssh's own for the
    /// user unyo runs as.
    pub identity: Option<Spanned<String>>,
    /// The host's public key, `TYPE BASE64` as in a known-hosts line; the only key accepted.
    pub host_key: Spanned<String>,
}

/// `report:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ReportSpec {
    /// A folder (relative to the root) whose templates replace the shipped report templates.
    pub templates: Option<Spanned<String>>,
    /// How a Japanese report writes its period: `era`, `western` or `both`.
    pub date_style: Option<Spanned<String>>,
    /// The contract the report is delivered under, as its cover states it (its name and
    /// number).
    pub contract: Option<Spanned<String>>,
    /// The cover's author line (作成者); left blank to be signed when absent.
    pub author: Option<Spanned<String>>,
    /// The cover's approver line (承認者); left blank to be signed when absent.
    pub approver: Option<Spanned<String>>,
}

/// `incidents:` in unyo.yaml.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct IncidentsSpec {
    /// Severity of an incident for a failed run whose runbook rule names none.
    pub severity: Option<super::Severity>,
    /// Resolve a job's open incidents when it next succeeds (a note is added either way).
    pub auto_resolve: Option<bool>,
    /// Time allowed for the report on an incident, per severity (`high: 1d`).
    #[serde(default)]
    pub report_deadline: IndexMap<String, Spanned<String>>,
}

/// `service:` in unyo.yaml: the service-level items of the contract, each optional. Names
/// (windows, jobs) and values (durations, percentages) are checked by `model`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Planned service time: every hour of the period but these windows.
    pub hours: Option<Spanned<ServiceHoursSpec>>,
    /// Jobs whose runs are announced stops, taken out of the planned service time.
    #[serde(default)]
    pub planned_stops: Vec<Spanned<String>>,
    pub availability: Option<Spanned<AvailabilitySpec>>,
    /// Incident opened to its first delivered notification, per incident.
    pub first_notice: Option<Spanned<String>>,
    /// Incident opened to resolved, per incident.
    pub recovery: Option<Spanned<String>>,
    pub backups: Option<Spanned<BackupsSpec>>,
}

/// `service.hours`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ServiceHoursSpec {
    /// Windows of `schedules/*.yaml` that are not service time.
    #[serde(default)]
    pub except: Vec<Spanned<String>>,
}

/// `service.availability`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AvailabilitySpec {
    /// Percent of the planned service time the service must be up.
    pub target: Option<Spanned<f64>>,
    /// The job whose failed runs open an outage and whose succeeded runs close it.
    pub probe: Option<Spanned<String>>,
}

/// `service.backups`.
#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BackupsSpec {
    /// The backup jobs whose scheduled slots are counted.
    #[serde(default)]
    pub jobs: Vec<Spanned<String>>,
    /// Percent of the slots due whose run must succeed (default 100).
    pub target: Option<Spanned<f64>>,
}
