//! Incidents and their history in PostgreSQL. What a failure, an operator's change or a
//! recovery does to an incident is decided by `domain::incident`; this file reads the
//! current row, asks, and writes what was decided.
//!
//! Other processes write at the same time (READ COMMITTED): a write that decides from an
//! incident it read locks that row first (`FOR UPDATE`), and a failure with no unresolved
//! incident of its job and class inserts one only if none appeared meanwhile (`ON CONFLICT`
//! on the partial unique index `incidents_open`), so racing failures open one incident.

use super::*;
use crate::domain::incident;

/// How many times `open_incident` looks for the unresolved incident again after another
/// writer's appeared between its look and its insert (once is the usual most).
const OPEN_TRIES: usize = 5;

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

pub(super) fn incident_event(row: &PgRow) -> Result<IncidentEvent, StoreError> {
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
    pg: &mut Pg,
    incident_id: i64,
    from_level: i64,
    reason: &str,
) -> Result<u64, Fail> {
    pg.execute(
        q(
            "UPDATE notifications SET status = 'withdrawn', reason = $1 \
             WHERE incident_id = $2 AND status = 'pending' AND level >= $3",
        )
        .bind(reason.to_owned())
        .bind(incident_id)
        .bind(from_level),
    )
}

/// Records what `incident::recovered` decided for incident `id`, with `text` in its
/// history: resolved by unyo (its pending messages withdrawn), or a note.
///
/// The caller has locked the incident's row (`SELECT … FOR UPDATE`) when it read the
/// status that `incident::recovered` decided from, inside the same transaction.
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
                q("UPDATE incidents SET status = $1, resolved_by = $2, \
                   resolved_at = $3, next_escalation_at = NULL, \
                   cause = COALESCE(cause, $4), \
                   countermeasure = COALESCE(countermeasure, $5) WHERE id = $6")
                .bind(IncidentStatus::Resolved.as_str())
                .bind(incident::UNYO)
                .bind(at)
                .bind(incident::UNYO_CAUSE)
                .bind(incident::UNYO_COUNTERMEASURE)
                .bind(id),
            )?;
            incident_log(pg, id, at, "resolved", incident::UNYO, run_id, text)?;
            withdraw_messages(pg, id, withdraw.from_level, &withdraw.reason)?;
        }
        incident::Recovery::Note { .. } => {
            incident_log(pg, id, at, "note", incident::UNYO, run_id, text)?;
        }
    }
    Ok(())
}

/// Adds an entry to an incident's history inside the caller's transaction.
pub(super) fn incident_log(
    pg: &mut Pg,
    id: i64,
    at: DateTime<Utc>,
    kind: &str,
    actor: &str,
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
        .bind(kind.to_owned())
        .bind(actor.to_owned())
        .bind(run_id)
        .bind(text.to_owned()),
    )?;
    Ok(())
}

/// Reads one incident inside the caller's transaction, its row locked until the end of it
/// (`lock`) or not.
pub(super) fn incident_by_id(
    pg: &mut Pg,
    id: i64,
    lock: bool,
) -> Result<Option<Result<IncidentRow, StoreError>>, Fail> {
    let sql = if lock {
        q("SELECT * FROM incidents WHERE id = $1 FOR UPDATE")
    } else {
        q("SELECT * FROM incidents WHERE id = $1")
    };
    Ok(pg.fetch_optional(sql.bind(id))?.as_ref().map(incident_row))
}

/// The unresolved incident of `job` and `class`, its row locked: its id, its severity as
/// recorded and its report deadline.
fn unresolved(
    pg: &mut Pg,
    job: &str,
    class: &str,
) -> Result<Option<(i64, incident::Unresolved)>, Fail> {
    let Some(row) = pg.fetch_optional(
        q(
            "SELECT id, severity, report_deadline FROM incidents WHERE job = $1 \
             AND failure_class = $2 AND status <> 'resolved' FOR UPDATE",
        )
        .bind(job.to_owned())
        .bind(class.to_owned()),
    )?
    else {
        return Ok(None);
    };
    let recorded = incident::Unresolved {
        severity: col::<String>(&row, "severity")?.parse().ok(),
        report_deadline: opt_time(&row, "report_deadline")?,
    };
    Ok(Some((col(&row, "id")?, recorded)))
}

impl IncidentStore for PgStore {
    fn open_incident(&self, n: &NewIncident) -> Pending<IncidentOpened> {
        let n = n.clone();
        self.write("recording an incident", move |pg| {
            let failure = incident::Failure {
                severity: n.severity,
                summary: &n.summary,
                report_deadline: n.report_deadline,
                occurrences: n.occurrences,
            };
            for _ in 0..OPEN_TRIES {
                if let Some((id, recorded)) = unresolved(pg, &n.job, &n.failure_class)? {
                    let recurred = incident::recur(&recorded, &failure);
                    pg.execute(
                        q("UPDATE incidents SET occurrences = occurrences + $1, \
                           last_seen_at = $2, severity = $3, report_deadline = $4 WHERE id = $5")
                        .bind(recurred.add)
                        .bind(n.at)
                        .bind(recurred.severity.as_str())
                        .bind(recurred.report_deadline)
                        .bind(id),
                    )?;
                    incident_log(
                        pg,
                        id,
                        n.at,
                        "occurrence",
                        &n.actor,
                        n.run_id,
                        &recurred.text,
                    )?;
                    return Ok(IncidentOpened { id, new: false });
                }
                let opened = incident::open(&failure);
                // Another writer may have opened it since the look above: then nothing is
                // inserted (after waiting for its transaction to end) and it is looked for
                // again.
                let inserted = pg.fetch_optional(
                    q(
                        "INSERT INTO incidents (opened_at, severity, job, run_id, step, \
                         failure_class, summary, log_excerpt, rule, status, last_seen_at, \
                         report_deadline, occurrences) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $1, $11, $12) \
                         ON CONFLICT (job, failure_class) WHERE status <> 'resolved' DO NOTHING \
                         RETURNING id",
                    )
                    .bind(n.at)
                    .bind(n.severity.as_str())
                    .bind(n.job.clone())
                    .bind(n.run_id)
                    .bind(n.step.clone())
                    .bind(n.failure_class.clone())
                    .bind(n.summary.clone())
                    .bind(n.log_excerpt.clone())
                    .bind(n.rule.clone())
                    .bind(IncidentStatus::Open.as_str())
                    .bind(n.report_deadline)
                    .bind(opened.occurrences),
                )?;
                if let Some(row) = inserted {
                    let id: i64 = col(&row, "id")?;
                    incident_log(pg, id, n.at, "opened", &n.actor, n.run_id, &opened.text)?;
                    return Ok(IncidentOpened { id, new: true });
                }
            }
            Err(Fail::Store(StoreError::Busy {
                action: "recording an incident",
                message: format!(
                    "the unresolved incident of `{}` ({}) kept changing under other writers",
                    n.job, n.failure_class
                ),
            }))
        })
    }

    fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: i64,
    ) -> Pending<Vec<IncidentRow>> {
        self.read("listing incidents", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM incidents WHERE ($1::text IS NULL OR status = $1) \
                     ORDER BY id DESC LIMIT $2",
                )
                .bind(status.map(IncidentStatus::as_str))
                .bind(limit),
            )?;
            map_all(rows, incident_row)
        })
    }

    fn get_incident(&self, id: i64) -> Pending<Option<(IncidentRow, Vec<IncidentEvent>)>> {
        self.read("reading an incident", move |pg| {
            let Some(row) = incident_by_id(pg, id, false)?.transpose()? else {
                return Ok(None);
            };
            let events = pg.fetch_all(
                q("SELECT * FROM incident_events WHERE incident_id = $1 ORDER BY id").bind(id),
            )?;
            Ok(Some((row, map_all(events, incident_event)?)))
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
        self.write("changing an incident", move |pg| {
            // Locked: a racing operator's change waits, then reads the outcome of this one.
            let row = match incident_by_id(pg, id, true)? {
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
            match &change {
                IncidentChange::Acknowledge => {
                    pg.execute(
                        q("UPDATE incidents SET status = $1, acknowledged_by = $2, \
                           acknowledged_at = $3, next_escalation_at = NULL WHERE id = $4")
                        .bind(done.status.as_str())
                        .bind(actor.clone())
                        .bind(at)
                        .bind(id),
                    )?;
                }
                IncidentChange::Resolve {
                    cause,
                    countermeasure,
                } => {
                    pg.execute(
                        q("UPDATE incidents SET status = $1, resolved_by = $2, \
                           resolved_at = $3, cause = $4, countermeasure = $5, \
                           acknowledged_by = COALESCE(acknowledged_by, $2), \
                           acknowledged_at = COALESCE(acknowledged_at, $3), \
                           next_escalation_at = NULL WHERE id = $6")
                        .bind(done.status.as_str())
                        .bind(actor.clone())
                        .bind(at)
                        .bind(cause.clone())
                        .bind(countermeasure.clone())
                        .bind(id),
                    )?;
                }
            }
            incident_log(pg, id, at, done.event, &actor, None, &done.text)?;
            withdraw_messages(pg, id, done.withdraw.from_level, &done.withdraw.reason)?;
            Ok(incident_by_id(pg, id, false)?
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
        self.write("noting a recovery on incidents", move |pg| {
            // Locked: what each one becomes depends on its status (open or acknowledged).
            let rows = pg.fetch_all(
                q(
                    "SELECT id, status, run_id, failure_class FROM incidents WHERE job = $1 \
                     AND status <> 'resolved' ORDER BY id FOR UPDATE",
                )
                .bind(job.clone()),
            )?;
            let rows = map_all(rows, |r| {
                Ok((
                    col::<i64>(r, "id")?,
                    col::<String>(r, "status")?,
                    col::<Option<i64>>(r, "run_id")?,
                    col::<String>(r, "failure_class")?,
                ))
            })?;
            // A target's incident waits for the target, not for its check's run.
            let rows = rows
                .into_iter()
                .filter(|(.., class)| crate::domain::check::recovers_with_job(class))
                .map(|(id, status, run, _)| (id, status, run));
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
                record_recovery(pg, id, at, Some(run_id), &recovery, &text)?;
            }
            Ok(ids)
        })
    }
}
