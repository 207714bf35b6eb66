//! Health checks and the figures monitors read, in SQLite. What a result does to its target
//! is decided by `domain::check::next`, and what a target coming back up does to its
//! incident by `domain::incident::recovered`; this file reads the current rows, asks, and
//! writes what was decided. The metric figures are counted by SQL in one read.

use super::*;
use crate::domain::check::{self, Change, Tally};
use crate::domain::incident;

const TARGET_COLUMNS: &str = "target, kind, job, step, state, streak, since, last_status, \
     last_output, last_perfdata, last_at, results";

fn target_row(row: &Row<'_>) -> Result<TargetRow, StoreError> {
    Ok(TargetRow {
        target: col(row, "target")?,
        kind: token(row, "kind")?,
        job: col(row, "job")?,
        step: col(row, "step")?,
        state: token(row, "state")?,
        streak: col(row, "streak")?,
        since: time(row, "since")?,
        last_status: token(row, "last_status")?,
        last_output: col(row, "last_output")?,
        last_perfdata: col(row, "last_perfdata")?,
        last_at: time(row, "last_at")?,
        results: col(row, "results")?,
    })
}

/// Seconds between two timestamp columns, in SQL.
fn seconds(from: &str, to: &str) -> String {
    format!("(julianday({to}) - julianday({from})) * 86400.0")
}

/// The SELECT items counting `d` into cumulative buckets: `COUNT(d), TOTAL(d), SUM(d <= b)…`.
fn bucket_items(bounds: &[f64]) -> String {
    let mut items = String::from("COUNT(d), TOTAL(d)");
    for b in bounds {
        // A float written by Rust: a plain number, never text from outside.
        items.push_str(&format!(", COALESCE(SUM(d <= {b:?}), 0)"));
    }
    items
}

/// Reads a histogram from the row's columns starting at `first`.
fn histogram(row: &Row<'_>, first: usize, bounds: usize) -> rusqlite::Result<Histogram> {
    let mut buckets = Vec::with_capacity(bounds);
    for i in 0..bounds {
        buckets.push(row.get(first + 2 + i)?);
    }
    Ok(Histogram {
        count: row.get(first)?,
        sum: row.get(first + 1)?,
        buckets,
    })
}

impl MonitorStore for SqliteStore {
    fn record_check(&self, result: &NewCheckResult) -> Pending<CheckRecorded> {
        let r = result.clone();
        self.write("recording a check result", move |c| {
            let before: Option<(String, u32)> = c
                .prepare_cached("SELECT state, streak FROM check_targets WHERE target = ?")?
                .query_row([&r.target], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()?;
            let tally = match before {
                Some((state, streak)) => Tally {
                    state: state
                        .parse()
                        .map_err(|e: String| carry(StoreError::Corrupt(e)))?,
                    streak,
                },
                None => Tally::default(),
            };
            let (after, change) = check::next(tally, r.status, r.thresholds);
            let at = ts(r.at);
            let changed = change != Change::Same;
            c.prepare_cached(
                "INSERT INTO check_results (target, run_id, at, status, output, perfdata, \
                 state, changed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                r.target,
                r.run_id,
                at,
                r.status.as_str(),
                r.output,
                r.perfdata,
                after.state.as_str(),
                changed
            ])?;
            let id = c.last_insert_rowid();
            c.prepare_cached(
                "INSERT INTO check_targets (target, kind, job, step, state, streak, since, \
                 last_status, last_output, last_perfdata, last_at, results) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?7, 1) \
                 ON CONFLICT (target) DO UPDATE SET kind = ?2, job = ?3, step = ?4, \
                 state = ?5, streak = ?6, since = CASE WHEN ?11 THEN ?7 ELSE since END, \
                 last_status = ?8, last_output = ?9, last_perfdata = ?10, last_at = ?7, \
                 results = results + 1",
            )?
            .execute(params![
                r.target,
                r.kind.as_str(),
                r.job,
                r.step,
                after.state.as_str(),
                after.streak,
                at,
                r.status.as_str(),
                r.output,
                r.perfdata,
                changed
            ])?;
            Ok(CheckRecorded {
                id,
                state: after.state,
                streak: after.streak,
                change,
            })
        })
    }

    fn targets(&self) -> Pending<Vec<TargetRow>> {
        self.read(move |c| {
            all(
                c,
                "listing check targets",
                &format!("SELECT {TARGET_COLUMNS} FROM check_targets ORDER BY target"),
                [],
                target_row,
            )
        })
    }

    fn target_changes(&self, to: DateTime<Utc>) -> Pending<Vec<TargetChange>> {
        self.read(move |c| {
            all(
                c,
                "listing target state changes",
                "SELECT r.target, t.kind, r.at, r.state, r.output FROM check_results r \
                 JOIN check_targets t ON t.target = r.target \
                 WHERE r.changed = 1 AND r.at < ? ORDER BY r.at, r.id",
                [ts(to)],
                |row| {
                    Ok(TargetChange {
                        target: col(row, "target")?,
                        kind: token(row, "kind")?,
                        at: time(row, "at")?,
                        state: token(row, "state")?,
                        output: col(row, "output")?,
                    })
                },
            )
        })
    }

    fn target_recovered(
        &self,
        job: &str,
        target: &str,
        run_id: Option<i64>,
        at: DateTime<Utc>,
    ) -> Pending<Vec<i64>> {
        let job = job.to_owned();
        let target = target.to_owned();
        self.write("noting a target's recovery on its incident", move |c| {
            let class = check::target_class(&target);
            let rows: Vec<(i64, String)> = c
                .prepare_cached(
                    "SELECT id, status FROM incidents WHERE job = ? AND failure_class = ? \
                     AND status <> 'resolved' ORDER BY id",
                )?
                .query_map(params![job, class], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let at = ts(at);
            let mut ids = Vec::with_capacity(rows.len());
            for (id, status) in rows {
                ids.push(id);
                let status = status.parse().ok();
                // Resolved whatever run opened it: the target's coming back is the news.
                match incident::recovered(id, status, None, &job, run_id.unwrap_or(0), true) {
                    incident::Recovery::Resolve { withdraw, .. } => {
                        let text = format!("target `{target}` is up again");
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
                        incident_log(c, id, &at, "resolved", incident::UNYO, run_id, &text)?;
                        withdraw_messages(c, id, withdraw.from_level, &withdraw.reason)?;
                    }
                    incident::Recovery::Note { .. } => {
                        let text = format!("target `{target}` is up again");
                        incident_log(c, id, &at, "note", incident::UNYO, run_id, &text)?;
                    }
                }
            }
            Ok(ids)
        })
    }

    fn metric_facts(&self, duration_buckets: &[f64], wait_buckets: &[f64]) -> Pending<MetricFacts> {
        let durations = duration_buckets.to_vec();
        let waits = wait_buckets.to_vec();
        self.read(move |c| {
            let action = "reading the metrics";
            let q = query_err(action);
            // One snapshot for every figure.
            c.execute_batch("BEGIN").map_err(&q)?;
            let facts = metric_facts(c, &durations, &waits);
            let _ = c.execute_batch("COMMIT");
            facts.map_err(q)
        })
    }

    fn missed_since(&self, since: DateTime<Utc>) -> Pending<Vec<(String, i64)>> {
        self.read(move |c| {
            all(
                c,
                "counting missed slots",
                "SELECT job, COUNT(*) AS n FROM slots WHERE outcome = 'missed' AND due_at >= ? \
                 GROUP BY job ORDER BY job",
                [ts(since)],
                |row| Ok((col(row, "job")?, col(row, "n")?)),
            )
        })
    }
}

fn metric_facts(c: &Connection, durations: &[f64], waits: &[f64]) -> rusqlite::Result<MetricFacts> {
    let mut facts = MetricFacts::default();
    let sql = format!(
        "SELECT job, status, COUNT(*), {} FROM (SELECT job, status, \
         CASE WHEN started_at IS NOT NULL THEN {} END AS d FROM runs \
         WHERE status NOT IN ('queued', 'running')) GROUP BY job, status ORDER BY job, status",
        bucket_items(durations),
        seconds("started_at", "ended_at")
    );
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query([])?;
    while let Some(row) = rows.next()? {
        facts.runs.push(RunTally {
            job: row.get(0)?,
            status: row.get(1)?,
            count: row.get(2)?,
            duration: histogram(row, 3, durations.len())?,
        });
    }
    facts.active = c
        .prepare_cached(
            "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running') \
             GROUP BY status ORDER BY status",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    facts.not_run = c
        .prepare_cached(
            "SELECT job, outcome, COUNT(*) FROM slots \
             WHERE outcome = 'missed' OR outcome LIKE 'skipped%' \
             GROUP BY job, outcome ORDER BY job, outcome",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let success: Vec<(String, String)> = c
        .prepare_cached(
            "SELECT job, MAX(ended_at) FROM runs WHERE status = 'succeeded' \
             AND ended_at IS NOT NULL GROUP BY job ORDER BY job",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    facts.last_success = success
        .into_iter()
        .filter_map(|(job, t)| {
            DateTime::parse_from_rfc3339(&t)
                .ok()
                .map(|t| (job, t.with_timezone(&Utc)))
        })
        .collect();
    let sql = format!(
        "SELECT {} FROM (SELECT {} AS d FROM slots s JOIN runs r ON r.id = s.run_id \
         WHERE r.started_at IS NOT NULL)",
        bucket_items(waits),
        seconds("s.due_at", "r.started_at")
    );
    facts.fire_delay = c
        .prepare_cached(&sql)?
        .query_row([], |row| histogram(row, 0, waits.len()))?;
    let sql = format!(
        "SELECT {} FROM (SELECT {} AS d FROM runs WHERE started_at IS NOT NULL)",
        bucket_items(waits),
        seconds("queued_at", "started_at")
    );
    facts.queue_wait = c
        .prepare_cached(&sql)?
        .query_row([], |row| histogram(row, 0, waits.len()))?;
    let incidents: Vec<(String, String, i64)> = c
        .prepare_cached(
            "SELECT severity, status, COUNT(*) FROM incidents WHERE status <> 'resolved' \
             GROUP BY severity, status ORDER BY severity, status",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    facts.incidents = incidents
        .into_iter()
        .filter_map(|(sev, status, n)| sev.parse().ok().map(|s| (s, status, n)))
        .collect();
    let beat: Option<String> = c
        .prepare_cached("SELECT MAX(heartbeat_at) FROM daemons WHERE stopped_at IS NULL")?
        .query_row([], |r| r.get(0))?;
    facts.heartbeat = beat
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(facts)
}
