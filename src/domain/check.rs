//! Health checks, decided without a database or a process: what a Nagios-compatible plugin's
//! exit code and output say (`CheckStatus`, `parse_output` with its performance data), the
//! up/down state of a target from consecutive results (`next`), the failure class its
//! incident is kept under, how long it was up in a period (`time_up`) and whether it flapped
//! (`flapping`). Every store persists these decisions the same way; none makes them itself.
//!
//! A result of `ok` or `warning` counts for the target (it answers, perhaps degraded), a
//! `critical` one against it, and an `unknown` one (the plugin could not tell: bad arguments,
//! its own time-out) neither way: it is recorded and moves no streak.

use chrono::{DateTime, Duration, Utc};

/// What a plugin reported, by its exit code (0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN).
/// Persisted as its lowercase token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CheckStatus {
    Ok,
    Warning,
    Critical,
    Unknown,
}

impl CheckStatus {
    /// Every status, by exit code.
    pub const ALL: [CheckStatus; 4] = [
        CheckStatus::Ok,
        CheckStatus::Warning,
        CheckStatus::Critical,
        CheckStatus::Unknown,
    ];

    /// The status a plugin's exit code means; `None` for any other code (the plugin did not
    /// speak the protocol: it could not start, or crashed).
    pub fn from_exit(code: i32) -> Option<CheckStatus> {
        usize::try_from(code)
            .ok()
            .and_then(|c| Self::ALL.get(c).copied())
    }

    /// The Nagios exit code (0-3).
    pub fn code(self) -> i32 {
        match self {
            CheckStatus::Ok => 0,
            CheckStatus::Warning => 1,
            CheckStatus::Critical => 2,
            CheckStatus::Unknown => 3,
        }
    }

    /// The persisted token.
    pub fn as_str(self) -> &'static str {
        match self {
            CheckStatus::Ok => "ok",
            CheckStatus::Warning => "warning",
            CheckStatus::Critical => "critical",
            CheckStatus::Unknown => "unknown",
        }
    }

    /// The word Nagios prints (`OK`, `WARNING` ...).
    pub fn nagios(self) -> &'static str {
        match self {
            CheckStatus::Ok => "OK",
            CheckStatus::Warning => "WARNING",
            CheckStatus::Critical => "CRITICAL",
            CheckStatus::Unknown => "UNKNOWN",
        }
    }
}

impl std::str::FromStr for CheckStatus {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown check status `{s}`"))
    }
}

impl std::fmt::Display for CheckStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a target answers. Persisted as `up` or `down`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TargetState {
    Up,
    Down,
}

impl TargetState {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetState::Up => "up",
            TargetState::Down => "down",
        }
    }
}

impl std::str::FromStr for TargetState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "up" => Ok(TargetState::Up),
            "down" => Ok(TargetState::Down),
            other => Err(format!("unknown target state `{other}`")),
        }
    }
}

impl std::fmt::Display for TargetState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What kind of thing a target is, as the city names them (software, hardware, network,
/// access). Persisted as its lowercase token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetKind {
    /// Processes, the online system's maintenance flag.
    Software,
    /// Disk, load, memory.
    Hardware,
    /// A TCP or HTTP service.
    Network,
    /// Failed logins, request counts from a log.
    Access,
}

impl TargetKind {
    pub const ALL: [TargetKind; 4] = [
        TargetKind::Software,
        TargetKind::Hardware,
        TargetKind::Network,
        TargetKind::Access,
    ];
    pub const NAMES: [&str; 4] = ["software", "hardware", "network", "access"];

    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Software => "software",
            TargetKind::Hardware => "hardware",
            TargetKind::Network => "network",
            TargetKind::Access => "access",
        }
    }
}

impl std::str::FromStr for TargetKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|v| v.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "unknown target kind `{s}`; expected one of: {}",
                    Self::NAMES.join(", ")
                )
            })
    }
}

impl std::fmt::Display for TargetKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One value of a plugin's performance data: `'label'=value[UOM];[warn];[crit];[min];[max]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Perf {
    pub label: String,
    pub value: f64,
    pub unit: String,
    pub warn: Option<String>,
    pub crit: Option<String>,
    pub min: Option<f64>,
    pub max: Option<f64>,
}

/// A plugin's output read: its first line of text (the status line, without the performance
/// data), and the performance data of every line, raw and parsed (items that do not read are
/// kept in `raw` only).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PluginOutput {
    pub text: String,
    pub raw: String,
    pub perf: Vec<Perf>,
}

/// Reads a plugin's standard output: `TEXT|PERFDATA` on the first line, then long text, in
/// which a `|` starts more performance data (Nagios plugin guidelines).
pub fn parse_output(stdout: &str) -> PluginOutput {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or("");
    let (text, mut raw) = match first.split_once('|') {
        Some((t, p)) => (t.trim().to_owned(), p.trim().to_owned()),
        None => (first.trim().to_owned(), String::new()),
    };
    let mut in_perf = false;
    for line in lines {
        let more = if in_perf {
            Some(line)
        } else {
            line.split_once('|').map(|(_, p)| {
                in_perf = true;
                p
            })
        };
        if let Some(p) = more.map(str::trim).filter(|p| !p.is_empty()) {
            if !raw.is_empty() {
                raw.push(' ');
            }
            raw.push_str(p);
        }
    }
    let perf = perf_items(&raw)
        .iter()
        .filter_map(|i| perf_item(i))
        .collect();
    PluginOutput {
        text: text.chars().take(1000).collect(),
        raw: raw.chars().take(4000).collect(),
        perf,
    }
}

/// Reads performance data as printed (items that do not read are left out).
pub fn parse_perfdata(raw: &str) -> Vec<Perf> {
    perf_items(raw)
        .iter()
        .filter_map(|i| perf_item(i))
        .collect()
}

/// Splits performance data into items at spaces outside single quotes.
fn perf_items(raw: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in raw.chars() {
        match c {
            '\'' => {
                quoted = !quoted;
                cur.push(c);
            }
            c if c.is_whitespace() && !quoted => {
                if !cur.is_empty() {
                    items.push(std::mem::take(&mut cur));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        items.push(cur);
    }
    items
}

fn perf_item(item: &str) -> Option<Perf> {
    let (label, rest) = item.rsplit_once('=')?;
    let label = label.trim_matches('\'').replace("''", "'");
    let mut fields = rest.split(';');
    let value_unit = fields.next()?;
    let split = value_unit
        .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E')))
        .unwrap_or(value_unit.len());
    let value: f64 = value_unit[..split]
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())?;
    let unit = value_unit[split..].to_owned();
    let text = |f: Option<&str>| f.map(str::to_owned).filter(|s| !s.is_empty());
    let (warn, crit) = (text(fields.next()), text(fields.next()));
    let num = |f: Option<&str>| f.and_then(|s| s.parse::<f64>().ok());
    let (min, max) = (num(fields.next()), num(fields.next()));
    if label.is_empty() {
        return None;
    }
    Some(Perf {
        label,
        value,
        unit,
        warn,
        crit,
        min,
        max,
    })
}

/// How many results turn a target's state: `down_after` consecutive `critical` ones take an
/// up target down, `up_after` consecutive `ok` or `warning` ones bring a down target up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    pub down_after: u32,
    pub up_after: u32,
}

/// A target's recorded state: up or down, and how many results in a row went against it.
/// A target never checked is up with no streak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub state: TargetState,
    pub streak: u32,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            state: TargetState::Up,
            streak: 0,
        }
    }
}

/// What a result did to its target's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The state stays (the streak may have moved).
    Same,
    /// It went down: an incident opens.
    WentDown,
    /// It came back up: its incident resolves.
    CameUp,
}

/// The target's state after one more result.
pub fn next(tally: Tally, result: CheckStatus, t: Thresholds) -> (Tally, Change) {
    let against = match (tally.state, result) {
        (_, CheckStatus::Unknown) => return (tally, Change::Same),
        (TargetState::Up, s) => s == CheckStatus::Critical,
        (TargetState::Down, s) => s != CheckStatus::Critical,
    };
    if !against {
        return (
            Tally {
                state: tally.state,
                streak: 0,
            },
            Change::Same,
        );
    }
    let streak = tally.streak.saturating_add(1);
    let needed = match tally.state {
        TargetState::Up => t.down_after,
        TargetState::Down => t.up_after,
    };
    if streak < needed.max(1) {
        return (
            Tally {
                state: tally.state,
                streak,
            },
            Change::Same,
        );
    }
    let (state, change) = match tally.state {
        TargetState::Up => (TargetState::Down, Change::WentDown),
        TargetState::Down => (TargetState::Up, Change::CameUp),
    };
    (Tally { state, streak: 0 }, change)
}

/// The start of the failure class under which a target's incident is kept: one unresolved
/// incident per job and target, resolved by the target coming back up (a successful run of
/// the check's job does not resolve it; see [`recovers_with_job`]).
pub const TARGET_DOWN: &str = "target down: ";

/// The failure class of target `target`'s incident.
pub fn target_class(target: &str) -> String {
    format!("{TARGET_DOWN}{target}")
}

/// Whether a job's successful run resolves an incident of this failure class: every class
/// but a target's, which only the target coming back up resolves (its check's run succeeds
/// while the target is still down).
pub fn recovers_with_job(failure_class: &str) -> bool {
    !failure_class.starts_with(TARGET_DOWN)
}

/// How long a target was up in `[from, to)`, from its state changes (oldest first, any
/// before `from` included to give the state at `from`). Before its first change a target
/// is up.
pub fn time_up(
    changes: &[(DateTime<Utc>, TargetState)],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Duration {
    let mut state = changes
        .iter()
        .take_while(|(at, _)| *at <= from)
        .last()
        .map_or(TargetState::Up, |(_, s)| *s);
    let mut since = from;
    let mut up = Duration::zero();
    for (at, s) in changes.iter().filter(|(at, _)| *at > from && *at < to) {
        if state == TargetState::Up {
            up += *at - since;
        }
        state = *s;
        since = *at;
    }
    if state == TargetState::Up && to > since {
        up += to - since;
    }
    up
}

/// State changes within this span of each other count towards flapping.
pub const FLAP_SPAN: Duration = Duration::hours(24);
/// A target flaps when it changed state this many times within [`FLAP_SPAN`]: down, up,
/// down and up again in a day.
pub const FLAP_CHANGES: usize = 4;

/// Whether the changes (instants, oldest first) ending at `until` show a target flapping:
/// at least [`FLAP_CHANGES`] of them within [`FLAP_SPAN`] before `until`.
pub fn flapping(changes: &[DateTime<Utc>], until: DateTime<Utc>) -> bool {
    changes
        .iter()
        .filter(|at| **at <= until && until - **at < FLAP_SPAN)
        .count()
        >= FLAP_CHANGES
}

/// The instants (of `changes`, oldest first) at which a target was flapping: each change
/// that completes [`FLAP_CHANGES`] changes within [`FLAP_SPAN`].
pub fn flaps(changes: &[DateTime<Utc>]) -> Vec<DateTime<Utc>> {
    changes
        .iter()
        .enumerate()
        .filter(|(i, at)| {
            *i + 1 >= FLAP_CHANGES && **at - changes[*i + 1 - FLAP_CHANGES] < FLAP_SPAN
        })
        .map(|(_, at)| *at)
        .collect()
}

#[cfg(test)]
mod tests;
