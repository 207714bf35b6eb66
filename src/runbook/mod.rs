//! Runbooks applied: which rule of a step's runbook fits a failed attempt, and what that rule
//! says to do about it (retry after a delay, run a remediation first, open an incident, let
//! dependents run).
//!
//! Pure functions of the catalog and the failed attempt; the engine carries the plan out and
//! records it. Nothing here runs a process or touches the database.

use std::time::Duration;

use crate::exec::Exit;
use crate::model::{Backoff, Catalog, Match, Remediation, Retry, Rule, Runbook, Severity};

/// What a failed attempt looked like.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    /// How the process ended; `None` when it could not be started.
    pub exit: Option<Exit>,
    pub timed_out: bool,
    pub stdout: &'a str,
    pub stderr: &'a str,
    pub elapsed: Duration,
    /// `ssh` could not reach the step's host; there is no exit code of the command.
    pub connection_failed: bool,
}

/// The rule that fits, with its runbook and position (1-based, as people count).
#[derive(Debug, Clone, Copy)]
pub struct Matched<'a> {
    pub runbook: &'a Runbook,
    pub number: usize,
    pub rule: &'a Rule,
}

impl Matched<'_> {
    /// `transient#1 (Temporary failure or a locked database)`, for records and messages.
    pub fn label(&self) -> String {
        match &self.rule.description {
            Some(d) => format!("{}#{} ({d})", self.runbook.name, self.number),
            None => format!("{}#{}", self.runbook.name, self.number),
        }
    }
}

/// Whether every condition of `m` holds for the failure (no condition: any failure).
pub fn matches(m: &Match, f: &Failure<'_>) -> bool {
    if !m.exit_codes.is_empty() {
        let Some(Exit::Code(code)) = f.exit else {
            return false;
        };
        if !m
            .exit_codes
            .iter()
            .any(|(lo, hi)| (*lo..=*hi).contains(&code))
        {
            return false;
        }
    }
    if !m.signals.is_empty() {
        let Some(Exit::Signal(sig)) = f.exit else {
            return false;
        };
        if !m.signals.contains(&sig) {
            return false;
        }
    }
    if let Some(t) = m.timeout
        && t != f.timed_out
    {
        return false;
    }
    if let Some(c) = m.connection_failed
        && c != f.connection_failed
    {
        return false;
    }
    if let Some(re) = &m.stdout
        && !re.is_match(f.stdout)
    {
        return false;
    }
    if let Some(re) = &m.stderr
        && !re.is_match(f.stderr)
    {
        return false;
    }
    if let Some(re) = &m.output
        && !re.is_match(f.stdout)
        && !re.is_match(f.stderr)
    {
        return false;
    }
    if let Some(d) = m.elapsed_over
        && f.elapsed <= d
    {
        return false;
    }
    true
}

/// The first rule of the step's runbook (or else the settings' default runbook) that fits.
pub fn find<'a>(
    catalog: &'a Catalog,
    runbook: Option<&str>,
    default: Option<&str>,
    failure: &Failure<'_>,
) -> Option<Matched<'a>> {
    let rb = catalog.runbooks.get(runbook.or(default)?)?;
    rb.rules
        .iter()
        .enumerate()
        .find(|(_, r)| matches(&r.matcher, failure))
        .map(|(i, rule)| Matched {
            runbook: rb,
            number: i + 1,
            rule,
        })
}

/// What to do about one failed attempt.
#[derive(Debug, Clone)]
pub struct Plan<'a> {
    /// Retry as retry number `n` (1 = the first retry) after `delay`.
    pub retry: Option<(u32, Duration)>,
    /// Run this before the retry (or before giving up).
    pub remediate: Option<&'a Remediation>,
    pub escalate: Option<Severity>,
    /// The step fails, but the steps that need it run.
    pub keep_going: bool,
    /// The rule would retry, but its retries are used up.
    pub exhausted: bool,
}

/// The plan for attempt number `attempt` (1-based) of a step under `rule`; `jitter` is a
/// fraction in [0, 1) picked by the caller.
pub fn plan(rule: &Rule, attempt: i64, jitter: f64) -> Plan<'_> {
    let done = u32::try_from(attempt.saturating_sub(1)).unwrap_or(u32::MAX);
    let retry = rule
        .retry
        .as_ref()
        .and_then(|r| (done < r.max).then(|| (done + 1, delay(r, done + 1, jitter))));
    Plan {
        exhausted: rule.retry.is_some() && retry.is_none(),
        retry,
        remediate: rule.remediate.as_ref(),
        escalate: rule.escalate,
        keep_going: rule.keep_going,
    }
}

/// The wait before retry number `n` (1-based): `initial` each time (fixed) or doubling
/// (exponential), at most `max_delay`, plus up to `jitter` picked by `fraction`.
pub fn delay(r: &Retry, n: u32, fraction: f64) -> Duration {
    let base = match r.backoff {
        Backoff::Fixed => r.initial,
        Backoff::Exponential => {
            let factor = 2u32.saturating_pow(n.saturating_sub(1).min(30));
            r.initial.saturating_mul(factor)
        }
    };
    let base = base.min(r.max_delay);
    base + r.jitter.mul_f64(fraction.clamp(0.0, 1.0))
}

/// A cheap fraction in [0, 1) for jitter, from the clock's nanoseconds.
pub fn jitter_fraction() -> f64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    f64::from(nanos % 1_000_000) / 1_000_000.0
}

/// The failure class of the incident of a schedule's missed slots (no run failed: the
/// daemon was down, or the misfire policy skipped them).
pub const MISSED_CLASS: &str = "missed";

/// The failure class an incident is kept under: runs failing the same way add occurrences
/// to one incident rather than opening new ones.
pub fn failure_class(exit: Option<Exit>, timed_out: bool, interrupted: bool) -> String {
    if interrupted {
        return "interrupted".to_owned();
    }
    if timed_out {
        return "timeout".to_owned();
    }
    match exit {
        Some(e) => crate::exec::describe_exit(e),
        None => "not started".to_owned(),
    }
}

/// The failure class of a recorded attempt: `connection failed` or `host key changed` when
/// its `error` says ssh could not reach the host (see `exec::remote`), else [`failure_class`].
pub fn failure_class_of(exit: Option<Exit>, timed_out: bool, error: Option<&str>) -> String {
    match error.and_then(crate::exec::remote::class_of_error) {
        Some(class) => class.to_owned(),
        None => failure_class(exit, timed_out, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(exit: Option<Exit>) -> Failure<'static> {
        Failure {
            exit,
            timed_out: false,
            stdout: "",
            stderr: "",
            elapsed: Duration::from_secs(1),
            connection_failed: false,
        }
    }

    #[test]
    fn conditions_must_all_hold() {
        let mut m = Match {
            exit_codes: vec![(75, 75), (64, 70)],
            ..Match::default()
        };
        assert!(matches(&m, &failure(Some(Exit::Code(75)))));
        assert!(matches(&m, &failure(Some(Exit::Code(66)))));
        assert!(!matches(&m, &failure(Some(Exit::Code(1)))));
        assert!(!matches(&m, &failure(Some(Exit::Signal(9)))));
        assert!(!matches(&m, &failure(None)));
        m.stderr = Some(regex::Regex::new("(?i)database is locked").expect("re"));
        let mut f = failure(Some(Exit::Code(75)));
        assert!(!matches(&m, &f));
        f.stderr = "Error: Database is LOCKED";
        assert!(matches(&m, &f));
        let t = Match {
            timeout: Some(true),
            ..Match::default()
        };
        assert!(!matches(&t, &f));
        f.timed_out = true;
        assert!(matches(&t, &f));
        let slow = Match {
            elapsed_over: Some(Duration::from_secs(60)),
            ..Match::default()
        };
        assert!(!matches(&slow, &f));
        f.elapsed = Duration::from_secs(61);
        assert!(matches(&slow, &f));
        assert!(matches(&Match::default(), &failure(None)), "any");
        let sig = Match {
            signals: vec![9],
            ..Match::default()
        };
        assert!(matches(&sig, &failure(Some(Exit::Signal(9)))));
        assert!(!matches(&sig, &failure(Some(Exit::Code(9)))));
    }

    #[test]
    fn delays_grow_and_are_capped() {
        let r = Retry {
            max: 5,
            backoff: Backoff::Exponential,
            initial: Duration::from_secs(30),
            max_delay: Duration::from_secs(100),
            jitter: Duration::from_secs(10),
        };
        assert_eq!(delay(&r, 1, 0.0), Duration::from_secs(30));
        assert_eq!(delay(&r, 2, 0.0), Duration::from_secs(60));
        assert_eq!(delay(&r, 3, 0.0), Duration::from_secs(100));
        assert_eq!(delay(&r, 40, 0.0), Duration::from_secs(100));
        assert_eq!(delay(&r, 1, 0.5), Duration::from_secs(35));
        let fixed = Retry {
            backoff: Backoff::Fixed,
            ..r
        };
        assert_eq!(delay(&fixed, 3, 0.0), Duration::from_secs(30));
    }

    #[test]
    fn retries_run_out() {
        let rule = Rule {
            description: None,
            matcher: Match::default(),
            retry: Some(Retry {
                max: 2,
                backoff: Backoff::Fixed,
                initial: Duration::from_secs(1),
                max_delay: Duration::from_secs(1),
                jitter: Duration::ZERO,
            }),
            remediate: None,
            escalate: Some(Severity::High),
            keep_going: false,
        };
        assert_eq!(plan(&rule, 1, 0.0).retry, Some((1, Duration::from_secs(1))));
        assert_eq!(plan(&rule, 2, 0.0).retry, Some((2, Duration::from_secs(1))));
        let last = plan(&rule, 3, 0.0);
        assert_eq!(last.retry, None);
        assert!(last.exhausted);
        assert_eq!(last.escalate, Some(Severity::High));
    }
}
