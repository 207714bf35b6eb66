//! `unyo check`'s judgement, decided without a database: from the daemon's heartbeat age,
//! the slots missed lately, the unresolved incidents by severity and the health-check
//! targets down, one Nagios status and one line (`UNYO CRITICAL - …|perfdata`), so the
//! city's Zabbix, Nagios or JP1 can call `unyo check` as a plugin.
//!
//! CRITICAL: no daemon is running (never started, stopped, or its heartbeat is older than
//! `heartbeat_critical`), an incident of severity high or critical nobody acknowledged,
//! a target down. WARNING: a heartbeat older than `heartbeat_warning`, a slot missed within
//! the look-back, any other unresolved incident. OK otherwise. UNKNOWN is the caller's: the
//! records could not be read.

use std::time::Duration;

use super::check::CheckStatus;
use super::severity::Severity;

/// What `unyo check` read.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Facts {
    /// Age of the newest heartbeat of a daemon that has not stopped; `None`: none runs.
    pub heartbeat_age: Option<Duration>,
    /// Slots missed within the look-back, by job.
    pub missed: Vec<(String, i64)>,
    /// Unresolved incidents: severity, acknowledged, count.
    pub incidents: Vec<(Severity, bool, i64)>,
    /// Targets down, by name.
    pub down: Vec<String>,
    /// Targets recorded.
    pub targets: usize,
}

/// The thresholds of `unyo check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub heartbeat_warning: Duration,
    pub heartbeat_critical: Duration,
}

impl Default for Limits {
    /// The daemon beats every 10 s: a minute without one is late, three are a dead daemon.
    fn default() -> Self {
        Limits {
            heartbeat_warning: Duration::from_secs(60),
            heartbeat_critical: Duration::from_secs(180),
        }
    }
}

/// The status and the line `unyo check` prints.
pub fn judge(f: &Facts, l: &Limits) -> (CheckStatus, String) {
    let mut status = CheckStatus::Ok;
    let mut raise = |s: CheckStatus| status = status.max(s);
    let mut parts = Vec::new();
    match f.heartbeat_age {
        None => {
            raise(CheckStatus::Critical);
            parts.push("no daemon running".to_owned());
        }
        Some(age) => {
            if age >= l.heartbeat_critical {
                raise(CheckStatus::Critical);
            } else if age >= l.heartbeat_warning {
                raise(CheckStatus::Warning);
            }
            parts.push(format!("daemon heartbeat {} s ago", age.as_secs()));
        }
    }
    if !f.down.is_empty() {
        raise(CheckStatus::Critical);
        parts.push(format!(
            "{} of {} target{} down ({})",
            f.down.len(),
            f.targets,
            if f.targets == 1 { "" } else { "s" },
            f.down.join(", ")
        ));
    } else if f.targets > 0 {
        parts.push(format!(
            "{} target{} up",
            f.targets,
            if f.targets == 1 { "" } else { "s" }
        ));
    }
    let unresolved: i64 = f.incidents.iter().map(|(.., n)| n).sum();
    if unresolved > 0 {
        let mut by: Vec<String> = Vec::new();
        for sev in Severity::ALL.iter().rev() {
            for acked in [false, true] {
                let n: i64 = f
                    .incidents
                    .iter()
                    .filter(|(s, a, _)| s == sev && *a == acked)
                    .map(|(.., n)| n)
                    .sum();
                if n == 0 {
                    continue;
                }
                if !acked && *sev >= Severity::High {
                    raise(CheckStatus::Critical);
                } else {
                    raise(CheckStatus::Warning);
                }
                let how = if acked { "acknowledged" } else { "open" };
                by.push(format!("{n} {sev} {how}"));
            }
        }
        parts.push(format!("incidents: {}", by.join(", ")));
    }
    let missed: i64 = f.missed.iter().map(|(_, n)| n).sum();
    if missed > 0 {
        raise(CheckStatus::Warning);
        let jobs: Vec<&str> = f.missed.iter().map(|(j, _)| j.as_str()).collect();
        parts.push(format!("{missed} slot(s) missed ({})", jobs.join(", ")));
    }
    let age = f
        .heartbeat_age
        .map_or_else(String::new, |a| a.as_secs().to_string());
    let perf = format!(
        "heartbeat_age={age}s;{};{};0 targets_down={};;;0 incidents_unresolved={unresolved};;;0 missed_slots={missed};;;0",
        l.heartbeat_warning.as_secs(),
        l.heartbeat_critical.as_secs(),
        f.down.len()
    );
    (
        status,
        format!("UNYO {} - {}|{perf}", status.nagios(), parts.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alive() -> Facts {
        Facts {
            heartbeat_age: Some(Duration::from_secs(5)),
            ..Facts::default()
        }
    }

    #[test]
    fn a_beating_daemon_with_nothing_wrong_is_ok() {
        let (s, line) = judge(&alive(), &Limits::default());
        assert_eq!(s, CheckStatus::Ok);
        assert_eq!(
            line,
            "UNYO OK - daemon heartbeat 5 s ago|heartbeat_age=5s;60;180;0 targets_down=0;;;0 incidents_unresolved=0;;;0 missed_slots=0;;;0"
        );
    }

    #[test]
    fn no_daemon_or_an_old_heartbeat_is_critical_and_a_late_one_a_warning() {
        let (s, line) = judge(&Facts::default(), &Limits::default());
        assert_eq!(s, CheckStatus::Critical);
        assert!(
            line.starts_with("UNYO CRITICAL - no daemon running|heartbeat_age=s;"),
            "{line}"
        );
        let late = Facts {
            heartbeat_age: Some(Duration::from_secs(61)),
            ..Facts::default()
        };
        assert_eq!(judge(&late, &Limits::default()).0, CheckStatus::Warning);
        let dead = Facts {
            heartbeat_age: Some(Duration::from_secs(180)),
            ..Facts::default()
        };
        assert_eq!(judge(&dead, &Limits::default()).0, CheckStatus::Critical);
    }

    #[test]
    fn incidents_targets_and_missed_slots_raise_the_status() {
        let mut f = alive();
        f.incidents = vec![(Severity::Medium, false, 2)];
        assert_eq!(judge(&f, &Limits::default()).0, CheckStatus::Warning);
        f.incidents.push((Severity::High, true, 1));
        assert_eq!(judge(&f, &Limits::default()).0, CheckStatus::Warning);
        f.incidents.push((Severity::High, false, 1));
        let (s, line) = judge(&f, &Limits::default());
        assert_eq!(s, CheckStatus::Critical);
        assert!(
            line.contains("incidents: 1 high open, 1 high acknowledged, 2 medium open"),
            "{line}"
        );
        let mut f = alive();
        f.missed = vec![("backup".into(), 2)];
        let (s, line) = judge(&f, &Limits::default());
        assert_eq!(s, CheckStatus::Warning);
        assert!(line.contains("2 slot(s) missed (backup)"), "{line}");
        f.targets = 3;
        f.down = vec!["online-web".into()];
        let (s, line) = judge(&f, &Limits::default());
        assert_eq!(s, CheckStatus::Critical);
        assert!(line.contains("1 of 3 targets down (online-web)"), "{line}");
    }
}
