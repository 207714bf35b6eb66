//! Raw job files (`jobs/*.yaml`): one job, its parameters and its steps.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use std::sync::LazyLock;

use super::keys::{Child, Shape, fields_of};
use super::runbook::CodeSpec;
use super::{FileSpec, Scalar, leaf};

static PARAM: LazyLock<Shape> = LazyLock::new(leaf::<ParamSpec>);
static APPROVAL: LazyLock<Shape> = LazyLock::new(leaf::<ApprovalSpec>);
static SLA: LazyLock<Shape> = LazyLock::new(leaf::<SlaSpec>);
static SLOWDOWN: LazyLock<Shape> = LazyLock::new(leaf::<SlowdownSpec>);
static CHECK: LazyLock<Shape> = LazyLock::new(leaf::<CheckSpec>);
static STEP: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<StepSpec>(),
    children: vec![
        ("approval", Child::Struct(&APPROVAL)),
        ("check", Child::Struct(&CHECK)),
    ],
});
static JOB: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<JobSpec>(),
    children: vec![
        ("params", Child::MapOf(&PARAM)),
        ("steps", Child::MapOf(&STEP)),
        ("sla", Child::Struct(&SLA)),
        ("slowdown", Child::Struct(&SLOWDOWN)),
    ],
});

impl FileSpec for JobSpec {
    fn shape() -> &'static Shape {
        &JOB
    }
}

/// A job as written. The file name is the job name unless `name:` says otherwise.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    pub name: Option<Spanned<String>>,
    /// The name an official reads in the report (`月次バックアップ`): one line, at most
    /// 40 characters (`model::TITLE_MAX`); the report shows the job by its name without it.
    pub title: Option<Spanned<String>>,
    pub description: Option<String>,
    #[serde(default)]
    pub params: IndexMap<String, Spanned<ParamSpec>>,
    /// Environment for every step (a step's own `env` wins).
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    /// Working directory for every step, relative to the root (a step's own wins).
    pub workdir: Option<Spanned<String>>,
    /// Default step timeout.
    pub timeout: Option<Spanned<String>>,
    /// Runbook applied to steps that name none.
    pub runbook: Option<Spanned<String>>,
    /// Exit codes (or ranges) with which a step declines by itself, for steps that give
    /// none (see `StepSpec::refuse_exit`).
    pub refuse_exit: Option<Vec<Spanned<CodeSpec>>>,
    /// The server of `hosts:` (unyo.yaml) every step runs on, through `ssh`, unless the
    /// step names its own.
    pub host: Option<Spanned<String>>,
    /// The operating-system user every local step runs as, unless the step names its own.
    pub user: Option<Spanned<String>>,
    /// Window the job must run inside.
    pub window: Option<Spanned<String>>,
    /// Window the job must keep out of.
    pub avoid: Option<Spanned<String>>,
    /// What a run that becomes due outside its window (or inside its `avoid` window) does.
    pub outside_window: Option<WindowPolicy>,
    /// Jobs whose run for the same business date must have succeeded before this job starts.
    pub after: Option<Spanned<Vec<String>>>,
    /// How long a run waits for its `after` jobs before it fails.
    pub wait_timeout: Option<Spanned<String>>,
    /// What the daemon does with a run that a crash or a shutdown interrupted.
    pub on_interrupt: Option<OnInterrupt>,
    /// The labels a node must have (`node.labels` of its unyo.yaml) to run this job, when
    /// several servers share one database; any node when absent.
    pub runs_on: Option<Spanned<Vec<String>>>,
    /// How long a run waits for a live node with those labels before an incident
    /// (default `10m`).
    pub node_wait: Option<Spanned<String>>,
    /// The operator who submitted a run may not approve its gates.
    #[serde(default)]
    pub separate_approver: bool,
    /// May be submitted by operators with `unyo submit`.
    #[serde(default)]
    pub adhoc: bool,
    /// Operating-system users who may submit, cancel, rerun, hold and release it.
    pub allowed_users: Option<Vec<String>>,
    /// Operating-system groups whose members may do so.
    pub allowed_groups: Option<Vec<String>>,
    /// What the job promises the client; the monthly report measures it.
    pub sla: Option<Spanned<SlaSpec>>,
    /// A run has started by then: a duration after its slot (`30m`) or a business time of
    /// day (`"05:00"`). Watched while the run waits and when it starts.
    pub start_delay: Option<Spanned<String>>,
    /// A run has ended by then (same forms): one still going then is an incident at once.
    pub end_delay: Option<Spanned<String>>,
    /// A run may run this long; past it, an incident while it goes on.
    pub max_runtime: Option<Spanned<String>>,
    /// A step that prints nothing for this long is stuck (an incident); a step's own wins.
    pub stuck_after: Option<Spanned<String>>,
    /// How this job's durations are watched against their baseline.
    pub slowdown: Option<Spanned<SlowdownSpec>>,
    pub steps: IndexMap<String, Spanned<StepSpec>>,
}

/// A job's service level, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlaSpec {
    /// A scheduled run has succeeded by this local time (`HH:MM`) of its slot's day, or of
    /// the next day when the slot is later than that time.
    pub complete_by: Option<Spanned<String>>,
    /// Percent of the month's runs that must succeed.
    pub success_rate: Option<Spanned<f64>>,
    /// No run may take longer.
    pub max_duration: Option<Spanned<String>>,
}

/// Slowdown detection of a job, as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowdownSpec {
    /// The baseline is made of this many last successful runs of the same day class.
    pub runs: Option<Spanned<u32>>,
    /// A slow (or suspiciously fast) run also opens an incident, not only a finding.
    #[serde(default)]
    pub incident: bool,
    /// `false`: this job's durations are not judged at all.
    pub enabled: Option<bool>,
}

/// What a run due outside its window does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum WindowPolicy {
    /// Wait for the window to open (recorded as waiting).
    #[default]
    Wait,
    /// Skip the slot (recorded as skipped).
    Skip,
}

/// What happens to a run that was interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum OnInterrupt {
    /// Leave it interrupted for an operator to look at.
    #[default]
    Leave,
    /// Queue a new run with the same parameters and business date.
    Rerun,
}

/// An approval gate: the step waits for `unyo approve` or `unyo reject`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApprovalSpec {
    /// What the approver is asked, shown by `unyo status` and `unyo show`.
    pub message: Option<String>,
}

/// A health check: a Nagios-compatible plugin run as the step's command, its exit code read
/// as OK, WARNING, CRITICAL or UNKNOWN and its target's up/down state kept from consecutive
/// results.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// The plugin: a file name in the settings' `checks.plugins` folder
    /// (`/usr/lib/nagios/plugins`), or a path (relative to the root, or absolute).
    pub plugin: Spanned<String>,
    /// Its arguments, each a template like `argv`'s.
    #[serde(default)]
    pub args: Vec<String>,
    /// The name of what is checked (default: `JOB.STEP`); one check per target.
    pub target: Option<Spanned<String>>,
    /// What kind of target it is: `software`, `hardware`, `network` or `access`.
    pub kind: Spanned<String>,
    /// Consecutive CRITICAL results that take the target down (default 3).
    pub down_after: Option<Spanned<u32>>,
    /// Consecutive OK or WARNING results that bring it back up (default 1).
    pub up_after: Option<Spanned<u32>>,
    /// Severity of the incident opened when the target goes down (default: the settings'
    /// `incidents.severity`).
    pub severity: Option<super::Severity>,
}

/// One step: exactly one of `argv`, `run`, `approval` or `check`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub description: Option<String>,
    pub argv: Option<Spanned<Vec<String>>>,
    pub run: Option<Spanned<String>>,
    /// Wait for an operator's approval (its `timeout` is the step's).
    pub approval: Option<Spanned<ApprovalSpec>>,
    /// Run a health-check plugin (its `timeout` is the step's).
    pub check: Option<Spanned<CheckSpec>>,
    /// One position for the whole list: a span per item made big DAGs slow to load.
    pub needs: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub env: IndexMap<String, Spanned<String>>,
    pub workdir: Option<Spanned<String>>,
    pub timeout: Option<Spanned<String>>,
    pub runbook: Option<Spanned<String>>,
    /// The server of `hosts:` (unyo.yaml) this step runs on, through `ssh`.
    pub host: Option<Spanned<String>>,
    /// The operating-system user this (local) step runs as.
    pub user: Option<Spanned<String>>,
    /// Run once every need has ended, whatever its status (a clean-up that must happen).
    #[serde(default)]
    pub always: bool,
    /// Exit codes (or ranges like `"64-78"`) that mean "refused: nothing to do, or not now":
    /// the step ends `refused` with its last line of output as the reason, the steps that
    /// need it are skipped, and the run ends `refused`: no runbook, no incident.
    pub refuse_exit: Option<Vec<Spanned<CodeSpec>>>,
    /// A running attempt that prints nothing for this long is stuck (overrides the job's).
    pub stuck_after: Option<Spanned<String>>,
    /// The labels a node must have to run this step, when it runs elsewhere than its run
    /// (one job backs up the database on the DB server and copies the dump on the file
    /// server); where its run runs when absent.
    pub runs_on: Option<Spanned<Vec<String>>>,
}

/// The declared type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ParamType {
    #[default]
    String,
    Int,
    Bool,
    Date,
    /// `YYYY-MM`, or `previous` / `current` (months of the business date).
    Month,
    /// One of `values`.
    Enum,
    /// Comma-separated items, each one of `values`, none twice (`name,kana`).
    List,
    /// A file or folder that must stay inside one of `roots`.
    Path,
}

/// A job parameter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    #[serde(rename = "type", default)]
    pub kind: ParamType,
    pub description: Option<String>,
    #[serde(default)]
    pub required: bool,
    pub default: Option<Spanned<Scalar>>,
    /// `string`: a regular expression the whole value must match.
    pub pattern: Option<Spanned<String>>,
    /// `string`: the longest value, in characters.
    pub max_len: Option<Spanned<u32>>,
    /// `int`: the smallest value.
    pub min: Option<Spanned<i64>>,
    /// `int`: the largest value.
    pub max: Option<Spanned<i64>>,
    /// `enum`, `list`: the values allowed.
    pub values: Option<Spanned<Vec<String>>>,
    /// `path`: folders the value must stay inside (relative to the root, or absolute).
    pub roots: Option<Spanned<Vec<String>>>,
    /// `string`: the type the value must have, by the value of an enum parameter:
    /// `type_by: { key: { tax_rate_percent: int, maintenance: bool } }` (`int`, `float`,
    /// `bool`, `date` or `string`).
    pub type_by: Option<Spanned<IndexMap<String, IndexMap<String, String>>>>,
    /// Stored and shown as `***` and passed to steps only through their environment. A
    /// name holding `password`, `passwd`, `secret`, `token`, `api_key`, `credential` (as a
    /// part between `_`) is secret unless this says `false`.
    pub secret: Option<bool>,
    /// A secret's value when none is given: this variable of the environment of the unyo
    /// process that runs the step (the daemon's for a queued run).
    pub from_env: Option<Spanned<String>>,
}
