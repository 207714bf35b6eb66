//! Incidents: the record that reaches a person when a run ends abnormally or a runbook rule
//! says `escalate`. Opening one computes its report deadline from the settings and keeps
//! one incident per job and failure class while it is unresolved (further failures add
//! occurrences). The lifecycle `open → acknowledged → resolved` is carried out by the store
//! and driven by the operator's commands.
//!
//! This module decides nothing about runs and sends nothing itself.

pub mod notifier;

use chrono::{DateTime, Utc};

use crate::model::{Settings, Severity};
use crate::store::{IncidentOpened, NewIncident, Store, StoreError};

/// Lines of output kept in an incident's log excerpt.
const EXCERPT_LINES: usize = 20;

/// What is known when an incident is raised.
#[derive(Debug, Clone)]
pub struct Raise<'a> {
    pub severity: Severity,
    pub job: &'a str,
    pub run_id: Option<i64>,
    pub step: Option<&'a str>,
    pub failure_class: &'a str,
    pub summary: String,
    pub log_excerpt: String,
    pub rule: Option<String>,
    /// When the failure was seen, from the caller's clock: the incident's time and the
    /// start of its report deadline.
    pub at: DateTime<Utc>,
}

/// Opens an incident (or adds an occurrence to the open one of the same job and failure
/// class).
pub async fn raise(
    store: &dyn Store,
    settings: &Settings,
    r: Raise<'_>,
) -> Result<IncidentOpened, StoreError> {
    raise_counted(store, settings, r, 1).await
}

/// The incident of a monitoring finding just recorded (lateness, a stuck step, a slow or fast
/// run): raised through the routes with the finding's kind as its failure class, and noted
/// on the finding. The daemon's queue check and the run's watcher both call it.
pub async fn raise_finding(
    store: &dyn Store,
    settings: &Settings,
    f: &crate::store::NewFinding,
) -> Result<IncidentOpened, StoreError> {
    let opened = raise(
        store,
        settings,
        Raise {
            severity: settings.incidents.severity,
            job: &f.job,
            run_id: Some(f.run_id),
            step: f.step.as_deref(),
            failure_class: f.kind.token(),
            summary: f.detail.clone(),
            log_excerpt: String::new(),
            rule: None,
            at: f.at,
        },
    )
    .await?;
    store
        .set_finding_incident(f.run_id, f.kind.token(), opened.id)
        .await?;
    Ok(opened)
}

/// Like [`raise`], for `occurrences` occurrences of the same failure seen at once (the slots
/// of one schedule missed while the daemon was down): one incident, or one more event on
/// the open one, whose count grows by `occurrences`, so people get one message, not one
/// per slot.
pub async fn raise_counted(
    store: &dyn Store,
    settings: &Settings,
    r: Raise<'_>,
    occurrences: i64,
) -> Result<IncidentOpened, StoreError> {
    let at = r.at;
    let deadline = settings
        .incidents
        .report_deadline(r.severity)
        .and_then(|d| chrono::Duration::from_std(d).ok())
        .map(|d| at + d);
    let opened = store
        .open_incident(&NewIncident {
            at,
            severity: r.severity,
            job: r.job.to_owned(),
            run_id: r.run_id,
            step: r.step.map(str::to_owned),
            failure_class: r.failure_class.to_owned(),
            summary: r.summary.clone(),
            log_excerpt: r.log_excerpt,
            rule: r.rule,
            report_deadline: deadline,
            actor: "unyo".to_owned(),
            occurrences: occurrences.max(1),
        })
        .await?;
    if opened.new {
        tracing::warn!(
            incident = opened.id,
            severity = %r.severity,
            "incident opened: {}",
            r.summary
        );
    } else {
        tracing::warn!(incident = opened.id, "incident recurred: {}", r.summary);
    }
    Ok(opened)
}

/// The last lines of a step's output for an incident: stderr, else stdout.
pub fn excerpt(stdout: &str, stderr: &str) -> String {
    let text = if stderr.trim().is_empty() {
        stdout
    } else {
        stderr
    };
    let lines: Vec<&str> = text.trim_end().lines().collect();
    lines[lines.len().saturating_sub(EXCERPT_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpt_prefers_stderr_and_keeps_the_last_lines() {
        assert_eq!(excerpt("out\n", ""), "out");
        assert_eq!(excerpt("out", "err\n"), "err");
        let many: String = (1..=30).map(|i| format!("line {i}\n")).collect();
        let e = excerpt("", &many);
        assert_eq!(e.lines().count(), 20);
        assert!(e.starts_with("line 11") && e.ends_with("line 30"));
    }
}
