//! Incidents and their history in SQLite. What a failure, an operator's change or a
//! recovery does to an incident is decided by `domain::incident`; this file reads the
//! current row, asks, and writes what was decided.

use super::*;
use crate::domain::incident;

pub(super) fn incident_row(row: &Row<'_>) -> Result<IncidentRow, StoreError> {
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

pub(super) fn incident_event(row: &Row<'_>) -> Result<IncidentEvent, StoreError> {
    Ok(IncidentEvent {
        at: time(row, "at")?,
        kind: col(row, "kind")?,
        actor: col(row, "actor")?,
        run_id: col(row, "run_id")?,
        text: col(row, "text")?,
    })
}

/// Withdraws the pending messages of an incident from contact level `from_level` up, with
/// the reason, inside the caller's transaction: they are never sent nor tried again.
pub(super) fn withdraw_messages(
    c: &Connection,
    incident_id: i64,
    from_level: i64,
    reason: &str,
) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "UPDATE notifications SET status = 'withdrawn', reason = ? \
         WHERE incident_id = ? AND status = 'pending' AND level >= ?",
    )?
    .execute(params![reason, incident_id, from_level])
}

/// Records what `incident::recovered` decided for incident `id`, with `text` in its
/// history: resolved by unyo (its pending messages withdrawn), or a note.
pub(super) fn record_recovery(
    c: &Connection,
    id: i64,
    at: &str,
    run_id: Option<i64>,
    recovery: &incident::Recovery,
    text: &str,
) -> rusqlite::Result<()> {
    match recovery {
        incident::Recovery::Resolve { withdraw, .. } => {
            c.prepare_cached(
                "UPDATE incidents SET status = ?, resolved_by = ?, \
                 resolved_at = ?, next_escalation_at = NULL, \
                 cause = COALESCE(cause, ?), \
                 countermeasure = COALESCE(countermeasure, ?) WHERE id = ?",
            )?
            .execute(params![
                IncidentStatus::Resolved.as_str(),
                incident::UNYO,
                at,
                incident::UNYO_CAUSE,
                incident::UNYO_COUNTERMEASURE,
                id
            ])?;
            incident_log(c, id, at, "resolved", incident::UNYO, run_id, text)?;
            withdraw_messages(c, id, withdraw.from_level, &withdraw.reason)?;
        }
        incident::Recovery::Note { .. } => {
            incident_log(c, id, at, "note", incident::UNYO, run_id, text)?;
        }
    }
    Ok(())
}

/// Adds an entry to an incident's history inside the caller's transaction.
pub(super) fn incident_log(
    c: &Connection,
    id: i64,
    at: &str,
    kind: &str,
    actor: &str,
    run_id: Option<i64>,
    text: &str,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO incident_events (incident_id, at, kind, actor, run_id, text) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![id, at, kind, actor, run_id, text])?;
    Ok(())
}

/// Reads one incident inside the caller's transaction.
pub(super) fn incident_by_id(
    c: &Connection,
    id: i64,
) -> rusqlite::Result<Option<Result<IncidentRow, StoreError>>> {
    c.prepare_cached("SELECT * FROM incidents WHERE id = ?")?
        .query_row([id], |r| Ok(incident_row(r)))
        .optional()
}

impl IncidentStore for SqliteStore {
    fn open_incident(&self, n: &NewIncident) -> Pending<IncidentOpened> {
        let n = n.clone();
        self.write("recording an incident", move |c| {
            let at = ts(n.at);
            let failure = incident::Failure {
                severity: n.severity,
                summary: &n.summary,
                report_deadline: n.report_deadline,
                occurrences: n.occurrences,
            };
            let existing = c
                .prepare_cached(
                    "SELECT id, severity, report_deadline FROM incidents WHERE job = ? \
                     AND failure_class = ? AND status <> 'resolved'",
                )?
                .query_row(params![n.job, n.failure_class], |r| {
                    Ok((
                        r.get::<_, i64>("id")?,
                        r.get::<_, String>("severity")?,
                        opt_time(r, "report_deadline"),
                    ))
                })
                .optional()?;
            if let Some((id, severity, deadline)) = existing {
                let recorded = incident::Unresolved {
                    severity: severity.parse().ok(),
                    report_deadline: deadline.map_err(carry)?,
                };
                let recurred = incident::recur(&recorded, &failure);
                c.prepare_cached(
                    "UPDATE incidents SET occurrences = occurrences + ?, last_seen_at = ?, \
                     severity = ?, report_deadline = ? WHERE id = ?",
                )?
                .execute(params![
                    recurred.add,
                    at,
                    recurred.severity.as_str(),
                    recurred.report_deadline.map(ts),
                    id
                ])?;
                incident_log(c, id, &at, "occurrence", &n.actor, n.run_id, &recurred.text)?;
                return Ok(IncidentOpened { id, new: false });
            }
            let opened = incident::open(&failure);
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO incidents (opened_at, severity, job, run_id, step, \
                     failure_class, summary, log_excerpt, rule, status, last_seen_at, \
                     report_deadline, occurrences) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                )?
                .query_row(
                    params![
                        at,
                        n.severity.as_str(),
                        n.job,
                        n.run_id,
                        n.step,
                        n.failure_class,
                        n.summary,
                        n.log_excerpt,
                        n.rule,
                        IncidentStatus::Open.as_str(),
                        at,
                        n.report_deadline.map(ts),
                        opened.occurrences,
                    ],
                    |r| r.get(0),
                )?;
            incident_log(c, id, &at, "opened", &n.actor, n.run_id, &opened.text)?;
            Ok(IncidentOpened { id, new: true })
        })
    }

    fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: i64,
    ) -> Pending<Vec<IncidentRow>> {
        self.read(move |c| {
            all(
                c,
                "listing incidents",
                "SELECT * FROM incidents WHERE (?1 IS NULL OR status = ?1) \
                 ORDER BY id DESC LIMIT ?2",
                params![status.map(IncidentStatus::as_str), limit],
                incident_row,
            )
        })
    }

    fn get_incident(&self, id: i64) -> Pending<Option<(IncidentRow, Vec<IncidentEvent>)>> {
        self.read(move |c| {
            let Some(row) = incident_by_id(c, id)
                .map_err(query_err("reading an incident"))?
                .transpose()?
            else {
                return Ok(None);
            };
            let events = all(
                c,
                "reading an incident's history",
                "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id",
                [id],
                incident_event,
            )?;
            Ok(Some((row, events)))
        })
    }

    fn change_incident(
        &self,
        id: i64,
        change: &IncidentChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<IncidentRow, IncidentRefusal>> {
        let (change, actor) = (change.clone(), actor.to_owned());
        self.write("changing an incident", move |c| {
            let row = match incident_by_id(c, id)? {
                None => None,
                Some(Err(_)) => return Ok(Err(IncidentRefusal::Unreadable { id })),
                Some(Ok(row)) => Some(row),
            };
            let current = row.as_ref().map(|r| incident::Current {
                status: r.status,
                acknowledged_by: r.acknowledged_by.as_deref(),
                resolved_by: r.resolved_by.as_deref(),
            });
            let done = match incident::change(id, current.as_ref(), &change, &actor) {
                Ok(done) => done,
                Err(refused) => return Ok(Err(refused)),
            };
            let at = ts(at);
            match &change {
                IncidentChange::Acknowledge => {
                    c.prepare_cached(
                        "UPDATE incidents SET status = ?, acknowledged_by = ?, \
                         acknowledged_at = ?, next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![done.status.as_str(), actor, at, id])?;
                }
                IncidentChange::Resolve {
                    cause,
                    countermeasure,
                } => {
                    c.prepare_cached(
                        "UPDATE incidents SET status = ?, resolved_by = ?, \
                         resolved_at = ?, cause = ?, countermeasure = ?, \
                         acknowledged_by = COALESCE(acknowledged_by, ?), \
                         acknowledged_at = COALESCE(acknowledged_at, ?), \
                         next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![
                        done.status.as_str(),
                        actor,
                        at,
                        cause,
                        countermeasure,
                        actor,
                        at,
                        id
                    ])?;
                }
            }
            incident_log(c, id, &at, done.event, &actor, None, &done.text)?;
            withdraw_messages(c, id, done.withdraw.from_level, &done.withdraw.reason)?;
            Ok(incident_by_id(c, id)?
                .and_then(Result::ok)
                .ok_or(IncidentRefusal::Vanished { id }))
        })
    }

    fn job_recovered(
        &self,
        job: &str,
        run_id: i64,
        at: DateTime<Utc>,
        resolve: bool,
    ) -> Pending<Vec<i64>> {
        let job = job.to_owned();
        self.write("noting a recovery on incidents", move |c| {
            let rows: Vec<(i64, String, Option<i64>, String)> = c
                .prepare_cached(
                    "SELECT id, status, run_id, failure_class FROM incidents WHERE job = ? \
                     AND status <> 'resolved' ORDER BY id",
                )?
                .query_map([&job], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?
                .collect::<rusqlite::Result<_>>()?;
            // A target's incident waits for the target, not for its check's run.
            let rows = rows
                .into_iter()
                .filter(|(.., class)| crate::domain::check::recovers_with_job(class))
                .map(|(id, status, run, _)| (id, status, run));
            let at = ts(at);
            let mut ids = Vec::new();
            for (id, status, opened_by_run) in rows {
                ids.push(id);
                let status = status.parse().ok();
                let recovery =
                    incident::recovered(id, status, opened_by_run, &job, run_id, resolve);
                let text = match &recovery {
                    incident::Recovery::Resolve { text, .. }
                    | incident::Recovery::Note { text } => text.clone(),
                };
                record_recovery(c, id, &at, Some(run_id), &recovery, &text)?;
            }
            Ok(ids)
        })
    }
}
