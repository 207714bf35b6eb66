//! TEMPORARY: the incident helpers `checks.rs` and `reports.rs` use, ported here only so
//! they can be tested while `incidents.rs` is being ported elsewhere. `incidents.rs` is to
//! provide the same `pub(super)` functions (`record_recovery`, `incident_row`) with the same
//! shape; at the merge this file is removed and its callers use those.

use super::*;
use crate::domain::incident;

pub(super) fn incident_row(row: &PgRow) -> Result<IncidentRow, StoreError> {
    Ok(IncidentRow {
        id: col(row, "id")?,
        opened_at: time(row, "opened_at")?,
        severity: col::<String>(row, "severity")?
            .parse()
            .map_err(StoreError::Corrupt)?,
        job: col(row, "job")?,
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        failure_class: col(row, "failure_class")?,
        summary: col(row, "summary")?,
        log_excerpt: col(row, "log_excerpt")?,
        rule: col(row, "rule")?,
        status: token(row, "status")?,
        occurrences: col(row, "occurrences")?,
        last_seen_at: time(row, "last_seen_at")?,
        acknowledged_by: col(row, "acknowledged_by")?,
        acknowledged_at: opt_time(row, "acknowledged_at")?,
        resolved_by: col(row, "resolved_by")?,
        resolved_at: opt_time(row, "resolved_at")?,
        cause: col(row, "cause")?,
        countermeasure: col(row, "countermeasure")?,
        report_deadline: opt_time(row, "report_deadline")?,
        escalation_level: col(row, "escalation_level")?,
        next_escalation_at: opt_time(row, "next_escalation_at")?,
        route: col(row, "route")?,
    })
}

/// Records what `incident::recovered` decided for incident `id` (locked by the caller),
/// with `text` in its history: resolved by unyo (its pending messages withdrawn), or a note.
pub(super) fn record_recovery(
    pg: &mut Pg,
    id: i64,
    at: DateTime<Utc>,
    run_id: Option<i64>,
    recovery: &incident::Recovery,
    text: &str,
) -> Result<(), Fail> {
    match recovery {
        incident::Recovery::Resolve { withdraw, .. } => {
            pg.execute(
                q(
                    "UPDATE incidents SET status = $1, resolved_by = $2, resolved_at = $3, \
                     next_escalation_at = NULL, cause = COALESCE(cause, $4), \
                     countermeasure = COALESCE(countermeasure, $5) WHERE id = $6",
                )
                .bind(IncidentStatus::Resolved.as_str())
                .bind(incident::UNYO)
                .bind(at)
                .bind(incident::UNYO_CAUSE)
                .bind(incident::UNYO_COUNTERMEASURE)
                .bind(id),
            )?;
            incident_log(pg, id, at, "resolved", incident::UNYO, run_id, text)?;
            pg.execute(
                q(
                    "UPDATE notifications SET status = 'withdrawn', reason = $1 \
                     WHERE incident_id = $2 AND status = 'pending' AND level >= $3",
                )
                .bind(withdraw.reason.clone())
                .bind(id)
                .bind(withdraw.from_level),
            )?;
        }
        incident::Recovery::Note { .. } => {
            incident_log(pg, id, at, "note", incident::UNYO, run_id, text)?;
        }
    }
    Ok(())
}

/// Adds an entry to an incident's history inside the caller's transaction.
fn incident_log(
    pg: &mut Pg,
    id: i64,
    at: DateTime<Utc>,
    kind: &'static str,
    actor: &'static str,
    run_id: Option<i64>,
    text: &str,
) -> Result<(), Fail> {
    pg.execute(
        q(
            "INSERT INTO incident_events (incident_id, at, kind, actor, run_id, text) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(at)
        .bind(kind)
        .bind(actor)
        .bind(run_id)
        .bind(text.to_owned()),
    )?;
    Ok(())
}
