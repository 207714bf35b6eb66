//! `incidents:` of `unyo.yaml`: the default severity, `auto_resolve`, and the time allowed
//! for an incident's report per severity.

use std::time::Duration;

use crate::spec::Severity;

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
