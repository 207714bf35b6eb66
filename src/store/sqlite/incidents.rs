//! Incidents and their history in SQLite. What a failure, an operator's change or a
//! recovery does to an incident is decided by `domain::incident`; this file reads the
//! current row, asks, and writes what was decided.

use super::*;

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
            let existing: Option<(i64, String)> = c
                .prepare_cached(
                    "SELECT id, severity FROM incidents WHERE job = ? AND failure_class = ? \
                     AND status <> 'resolved'",
                )?
                .query_row(params![n.job, n.failure_class], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((id, severity)) = existing {
                let higher = severity
                    .parse::<Severity>()
                    .map_or(true, |s| n.severity > s);
                // A higher severity brings its (shorter) report deadline with it.
                c.prepare_cached(
                    "UPDATE incidents SET occurrences = occurrences + ?, last_seen_at = ?, \
                     severity = CASE WHEN ? THEN ? ELSE severity END, \
                     report_deadline = CASE WHEN ? AND ? IS NOT NULL \
                       THEN min(COALESCE(report_deadline, ?), ?) ELSE report_deadline END \
                     WHERE id = ?",
                )?
                .execute(params![
                    n.occurrences.max(1),
                    at,
                    higher,
                    n.severity.as_str(),
                    higher,
                    n.report_deadline.map(ts),
                    n.report_deadline.map(ts),
                    n.report_deadline.map(ts),
                    id
                ])?;
                let text = if higher {
                    format!("{} (severity raised to {})", n.summary, n.severity)
                } else {
                    n.summary.clone()
                };
                incident_log(c, id, &at, "occurrence", &n.actor, n.run_id, &text)?;
                return Ok(IncidentOpened { id, new: false });
            }
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO incidents (opened_at, severity, job, run_id, step, \
                     failure_class, summary, log_excerpt, rule, status, last_seen_at, \
                     report_deadline, occurrences) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id",
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
                        at,
                        n.report_deadline.map(ts),
                        n.occurrences.max(1),
                    ],
                    |r| r.get(0),
                )?;
            incident_log(c, id, &at, "opened", &n.actor, n.run_id, &n.summary)?;
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
    ) -> Pending<Result<IncidentRow, String>> {
        let (change, actor) = (change.clone(), actor.to_owned());
        let result = self.write_now("changing an incident", move |c| {
            let Some(row) = incident_by_id(c, id)? else {
                return Ok(Err(super::no_such_incident(id)));
            };
            let Ok(row) = row else {
                return Ok(Err(format!("incident {id} cannot be read")));
            };
            let at = ts(at);
            match &change {
                IncidentChange::Acknowledge => {
                    if row.status != IncidentStatus::Open {
                        let by = match row.status {
                            IncidentStatus::Resolved => row.resolved_by.as_deref(),
                            _ => row.acknowledged_by.as_deref(),
                        };
                        return Ok(Err(format!(
                            "incident {id} is {} already (by {})",
                            row.status,
                            by.unwrap_or("unknown")
                        )));
                    }
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'acknowledged', acknowledged_by = ?, \
                         acknowledged_at = ?, next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![actor, at, id])?;
                    incident_log(c, id, &at, "acknowledged", &actor, None, "")?;
                    withdraw_messages(
                        c,
                        id,
                        2,
                        &format!("incident {id} was acknowledged by {actor}"),
                    )?;
                }
                IncidentChange::Resolve {
                    cause,
                    countermeasure,
                } => {
                    // One that unyo closed when the job recovered can still be given its
                    // cause and countermeasure by a person.
                    if row.status == IncidentStatus::Resolved
                        && row.resolved_by.as_deref() != Some("unyo")
                    {
                        return Ok(Err(format!(
                            "incident {id} is resolved already (by {})",
                            row.resolved_by.as_deref().unwrap_or("unknown")
                        )));
                    }
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'resolved', resolved_by = ?, \
                         resolved_at = ?, cause = ?, countermeasure = ?, \
                         acknowledged_by = COALESCE(acknowledged_by, ?), \
                         acknowledged_at = COALESCE(acknowledged_at, ?), \
                         next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![
                        actor,
                        at,
                        cause,
                        countermeasure,
                        actor,
                        at,
                        id
                    ])?;
                    incident_log(
                        c,
                        id,
                        &at,
                        "resolved",
                        &actor,
                        None,
                        &format!("cause: {cause}; countermeasure: {countermeasure}"),
                    )?;
                    withdraw_messages(c, id, 1, &format!("incident {id} was resolved by {actor}"))?;
                }
            }
            Ok(incident_by_id(c, id)?
                .and_then(Result::ok)
                .ok_or_else(|| format!("incident {id} vanished")))
        });
        Box::pin(std::future::ready(result))
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
            let rows: Vec<(i64, String, Option<i64>)> = c
                .prepare_cached(
                    "SELECT id, status, run_id FROM incidents WHERE job = ? \
                     AND status <> 'resolved' ORDER BY id",
                )?
                .query_map([&job], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let at = ts(at);
            let mut ids = Vec::with_capacity(rows.len());
            for (id, status, opened_by_run) in &rows {
                ids.push(*id);
                let id = *id;
                let text = format!("`{job}` succeeded again in run {run_id}");
                // Only an incident nobody took on, opened by an earlier run: one a person
                // acknowledged is theirs to close, and a run's own retry that worked does
                // not close the incident it opened.
                if resolve && status == "open" && *opened_by_run != Some(run_id) {
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'resolved', resolved_by = 'unyo', \
                         resolved_at = ?, next_escalation_at = NULL, \
                         cause = COALESCE(cause, 'not recorded: unyo closed it when the job succeeded again'), \
                         countermeasure = COALESCE(countermeasure, 'not recorded') WHERE id = ?",
                    )?
                    .execute(params![at, id])?;
                    incident_log(c, id, &at, "resolved", "unyo", Some(run_id), &text)?;
                    withdraw_messages(
                        c,
                        id,
                        1,
                        &format!("incident {id} was resolved: {text}"),
                    )?;
                } else {
                    incident_log(c, id, &at, "note", "unyo", Some(run_id), &text)?;
                }
            }
            Ok(ids)
        })
    }
}
