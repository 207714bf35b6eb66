//! Health checks and the figures monitors read, in SQLite. What a result does to its target
//! is decided by `domain::check::next`, and what a target coming back up does to its
//! incident by `domain::incident::recovered`; this file reads the current rows, asks, and
//! writes what was decided. For `/metrics` it reads the figures of now in one snapshot, and
//! the runs ended and slots decided after given ids (the caller keeps the counts).

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

impl CheckStore for SqliteStore {
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
                let recovery =
                    incident::recovered(id, status, None, &job, run_id.unwrap_or(0), true);
                let text = format!("target `{target}` is up again");
                record_recovery(c, id, &at, run_id, &recovery, &text)?;
            }
            Ok(ids)
        })
    }

    fn metric_facts(&self) -> Pending<MetricFacts> {
        self.read(move |c| {
            let action = "reading the metrics";
            let q = query_err(action);
            // One snapshot for every figure.
            c.execute_batch("BEGIN").map_err(&q)?;
            let facts = metric_facts(c);
            let _ = c.execute_batch("COMMIT");
            facts.map_err(q)
        })
    }

    fn runs_since(&self, from_id: i64, limit: i64) -> Pending<RunsSince> {
        self.read(move |c| {
            let action = "reading the runs that ended";
            let q = query_err(action);
            c.execute_batch("BEGIN").map_err(&q)?;
            let read = (|| {
                let ended = all(
                    c,
                    action,
                    "SELECT r.id, r.job, r.status, r.queued_at, r.started_at, r.ended_at, \
                     (SELECT s.due_at FROM slots s WHERE s.run_id = r.id) AS due_at \
                     FROM runs r WHERE r.id >= ? AND r.status NOT IN ('queued', 'running') \
                     AND r.ended_at IS NOT NULL ORDER BY r.id LIMIT ?",
                    [from_id, limit],
                    |row| {
                        Ok(EndedRun {
                            id: col(row, "id")?,
                            job: col(row, "job")?,
                            status: col(row, "status")?,
                            queued_at: time(row, "queued_at")?,
                            started_at: opt_time(row, "started_at")?,
                            ended_at: time(row, "ended_at")?,
                            due_at: opt_time(row, "due_at")?,
                        })
                    },
                )?;
                let (oldest_active, max_id): (Option<i64>, Option<i64>) = c
                    .prepare_cached(
                        "SELECT (SELECT MIN(id) FROM runs WHERE status IN ('queued', 'running')), \
                         (SELECT MAX(id) FROM runs)",
                    )
                    .and_then(|mut st| st.query_row([], |r| Ok((r.get(0)?, r.get(1)?))))
                    .map_err(&q)?;
                Ok(RunsSince {
                    ended,
                    oldest_active,
                    max_id: max_id.unwrap_or(0),
                })
            })();
            let _ = c.execute_batch("COMMIT");
            read
        })
    }

    fn slots_not_run(&self, after_id: i64) -> Pending<SlotsSince> {
        self.read(move |c| {
            let action = "reading the slots that made no run";
            let q = query_err(action);
            c.execute_batch("BEGIN").map_err(&q)?;
            let read = (|| {
                let not_run = all(
                    c,
                    action,
                    "SELECT id, job, outcome FROM slots WHERE id > ? \
                     AND (outcome = 'missed' OR outcome LIKE 'skipped%') ORDER BY id",
                    [after_id],
                    |row| Ok((col(row, "id")?, col(row, "job")?, col(row, "outcome")?)),
                )?;
                let max_id: Option<i64> = c
                    .prepare_cached("SELECT MAX(id) FROM slots")
                    .and_then(|mut st| st.query_row([], |r| r.get(0)))
                    .map_err(&q)?;
                Ok(SlotsSince {
                    not_run,
                    max_id: max_id.unwrap_or(0),
                })
            })();
            let _ = c.execute_batch("COMMIT");
            read
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

fn metric_facts(c: &Connection) -> rusqlite::Result<MetricFacts> {
    let active = c
        .prepare_cached(
            "SELECT status, COUNT(*) FROM runs WHERE status IN ('queued', 'running') \
             GROUP BY status ORDER BY status",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let incidents: Vec<(String, String, i64)> = c
        .prepare_cached(
            "SELECT severity, status, COUNT(*) FROM incidents WHERE status <> 'resolved' \
             GROUP BY severity, status ORDER BY severity, status",
        )?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let incidents = incidents
        .into_iter()
        .filter_map(|(sev, status, n)| sev.parse().ok().map(|s| (s, status, n)))
        .collect();
    let beat: Option<String> = c
        .prepare_cached("SELECT MAX(heartbeat_at) FROM daemons WHERE stopped_at IS NULL")?
        .query_row([], |r| r.get(0))?;
    let heartbeat = beat
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    Ok(MetricFacts {
        active,
        incidents,
        heartbeat,
    })
}
