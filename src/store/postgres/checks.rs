//! Health checks and the figures monitors read, in PostgreSQL. What a result does to its
//! target is decided by `domain::check::next`, and what a target coming back up does to its
//! incident by `domain::incident::recovered`; this file reads the current rows (locked, as
//! other daemons record results of the same targets), asks, and writes what was decided.
//! For `/metrics` it reads the figures of now in one snapshot, and the runs ended and slots
//! decided after given ids (the caller keeps the counts).

use super::incidents::record_recovery;
use super::*;
use crate::domain::check::{self, Change, Tally};
use crate::domain::incident;

/// How often recording a result tries again after a racing first result of the same new
/// target was recorded first.
const CHECK_TRIES: usize = 3;

/// Runs `f` inside one read-only snapshot (`REPEATABLE READ`): every statement of it sees
/// the database as of its first. The transaction ends whatever `f` returns; a connection
/// that breaks inside it fails the read rather than go on outside the snapshot.
pub(super) fn in_snapshot<T>(
    pg: &mut Pg,
    f: impl FnOnce(&mut Pg) -> Result<T, Fail>,
) -> Result<T, Fail> {
    pg.batch("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")?;
    pg.hold(true);
    let read = f(pg);
    // A read-only transaction has nothing to keep: how it ends changes no answer.
    let _ = pg.batch(if read.is_ok() { "COMMIT" } else { "ROLLBACK" });
    pg.hold(false);
    read
}

/// A count column kept as `bigint` that unyo holds as `u32`.
fn count_u32(row: &PgRow, name: &str) -> Result<u32, StoreError> {
    let n: i64 = col(row, name)?;
    u32::try_from(n).map_err(|e| StoreError::Corrupt(format!("{name} {n}: {e}")))
}

fn target_row(row: &PgRow) -> Result<TargetRow, StoreError> {
    Ok(TargetRow {
        target: col(row, "target")?,
        kind: token(row, "kind")?,
        job: col(row, "job")?,
        step: col(row, "step")?,
        state: token(row, "state")?,
        streak: count_u32(row, "streak")?,
        since: time(row, "since")?,
        last_status: token(row, "last_status")?,
        last_output: col(row, "last_output")?,
        last_perfdata: col(row, "last_perfdata")?,
        last_at: time(row, "last_at")?,
        results: col(row, "results")?,
    })
}

/// Writes the target's state after `r` (its row locked, or not there yet); returns the new
/// tally and the change, or `None` when a racing first result of the same new target was
/// recorded first (nothing written: read it and decide again).
fn next_state(pg: &mut Pg, r: &NewCheckResult) -> Result<Option<(Tally, Change)>, Fail> {
    let before = pg.fetch_optional(
        q("SELECT state, streak FROM check_targets WHERE target = $1 FOR UPDATE")
            .bind(r.target.clone()),
    )?;
    let Some(before) = before else {
        let (after, change) = check::next(Tally::default(), r.status, r.thresholds);
        let n = pg.execute(
            q(
                "INSERT INTO check_targets (target, kind, job, step, state, streak, since, \
                 last_status, last_output, last_perfdata, last_at, results) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $7, 1) \
                 ON CONFLICT (target) DO NOTHING",
            )
            .bind(r.target.clone())
            .bind(r.kind.as_str())
            .bind(r.job.clone())
            .bind(r.step.clone())
            .bind(after.state.as_str())
            .bind(i64::from(after.streak))
            .bind(r.at)
            .bind(r.status.as_str())
            .bind(r.output.clone())
            .bind(r.perfdata.clone()),
        )?;
        return Ok((n == 1).then_some((after, change)));
    };
    let tally = Tally {
        state: token(&before, "state")?,
        streak: count_u32(&before, "streak")?,
    };
    let (after, change) = check::next(tally, r.status, r.thresholds);
    pg.execute(
        q(
            "UPDATE check_targets SET kind = $2, job = $3, step = $4, state = $5, streak = $6, \
             since = CASE WHEN $11 THEN $7 ELSE since END, last_status = $8, \
             last_output = $9, last_perfdata = $10, last_at = $7, results = results + 1 \
             WHERE target = $1",
        )
        .bind(r.target.clone())
        .bind(r.kind.as_str())
        .bind(r.job.clone())
        .bind(r.step.clone())
        .bind(after.state.as_str())
        .bind(i64::from(after.streak))
        .bind(r.at)
        .bind(r.status.as_str())
        .bind(r.output.clone())
        .bind(r.perfdata.clone())
        .bind(change != Change::Same),
    )?;
    Ok(Some((after, change)))
}

impl CheckStore for PgStore {
    fn record_check(&self, result: &NewCheckResult) -> Pending<CheckRecorded> {
        let r = result.clone();
        self.write("recording a check result", move |pg| {
            let mut decided = None;
            for _ in 0..CHECK_TRIES {
                decided = next_state(pg, &r)?;
                if decided.is_some() {
                    break;
                }
            }
            let Some((after, change)) = decided else {
                return Err(Fail::Store(StoreError::Busy {
                    action: "recording a check result",
                    message: "other results of the same new target kept winning; try again"
                        .to_owned(),
                }));
            };
            let row = pg.fetch_one(
                q(
                    "INSERT INTO check_results (target, run_id, at, status, output, perfdata, \
                     state, changed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
                )
                .bind(r.target)
                .bind(r.run_id)
                .bind(r.at)
                .bind(r.status.as_str())
                .bind(r.output)
                .bind(r.perfdata)
                .bind(after.state.as_str())
                .bind(change != Change::Same),
            )?;
            Ok(CheckRecorded {
                id: col(&row, "id")?,
                state: after.state,
                streak: after.streak,
                change,
            })
        })
    }

    fn targets(&self) -> Pending<Vec<TargetRow>> {
        self.read("listing check targets", move |pg| {
            let rows = pg.fetch_all(q(
                "SELECT target, kind, job, step, state, streak, since, last_status, \
                 last_output, last_perfdata, last_at, results FROM check_targets \
                 ORDER BY target COLLATE \"C\"",
            ))?;
            map_all(rows, target_row)
        })
    }

    fn target_changes(&self, to: DateTime<Utc>) -> Pending<Vec<TargetChange>> {
        self.read("listing target state changes", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT r.target, t.kind, r.at, r.state, r.output FROM check_results r \
                     JOIN check_targets t ON t.target = r.target \
                     WHERE r.changed AND r.at < $1 ORDER BY r.at, r.id",
                )
                .bind(to),
            )?;
            map_all(rows, |row| {
                Ok(TargetChange {
                    target: col(row, "target")?,
                    kind: token(row, "kind")?,
                    at: time(row, "at")?,
                    state: token(row, "state")?,
                    output: col(row, "output")?,
                })
            })
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
        self.write("noting a target's recovery on its incident", move |pg| {
            let class = check::target_class(&target);
            // Locked: an operator acknowledging or resolving it meanwhile is waited for,
            // and one resolved meanwhile is left out.
            let rows = pg.fetch_all(
                q(
                    "SELECT id, status FROM incidents WHERE job = $1 AND failure_class = $2 \
                     AND status <> 'resolved' ORDER BY id FOR UPDATE",
                )
                .bind(job.clone())
                .bind(class),
            )?;
            let rows: Vec<(i64, String)> =
                map_all(rows, |r| Ok((col(r, "id")?, col(r, "status")?)))?;
            let mut ids = Vec::with_capacity(rows.len());
            for (id, status) in rows {
                ids.push(id);
                let status = status.parse().ok();
                // Resolved whatever run opened it: the target's coming back is the news.
                let recovery =
                    incident::recovered(id, status, None, &job, run_id.unwrap_or(0), true);
                let text = format!("target `{target}` is up again");
                record_recovery(pg, id, at, run_id, &recovery, &text)?;
            }
            Ok(ids)
        })
    }

    fn metric_facts(&self) -> Pending<MetricFacts> {
        // One snapshot for every figure.
        self.read("reading the metrics", move |pg| {
            in_snapshot(pg, metric_facts)
        })
    }

    fn runs_since(&self, from_id: i64, limit: i64) -> Pending<RunsSince> {
        self.read("reading the runs that ended", move |pg| {
            in_snapshot(pg, |pg| {
                let rows = pg.fetch_all(
                    q(
                        "SELECT r.id, r.job, r.status, r.queued_at, r.started_at, r.ended_at, \
                         (SELECT s.due_at FROM slots s WHERE s.run_id = r.id ORDER BY s.id \
                         LIMIT 1) AS due_at \
                         FROM runs r WHERE r.id >= $1 AND r.status NOT IN ('queued', 'running') \
                         AND r.ended_at IS NOT NULL ORDER BY r.id LIMIT $2",
                    )
                    .bind(from_id)
                    .bind(limit),
                )?;
                let ended = map_all(rows, |row| {
                    Ok(EndedRun {
                        id: col(row, "id")?,
                        job: col(row, "job")?,
                        status: col(row, "status")?,
                        queued_at: time(row, "queued_at")?,
                        started_at: opt_time(row, "started_at")?,
                        ended_at: time(row, "ended_at")?,
                        due_at: opt_time(row, "due_at")?,
                    })
                })?;
                let row = pg.fetch_one(q(
                    "SELECT (SELECT MIN(id) FROM runs WHERE status IN ('queued', 'running')) \
                     AS oldest_active, (SELECT MAX(id) FROM runs) AS max_id",
                ))?;
                Ok(RunsSince {
                    ended,
                    oldest_active: col(&row, "oldest_active")?,
                    max_id: col::<Option<i64>>(&row, "max_id")?.unwrap_or(0),
                })
            })
        })
    }

    fn slots_not_run(&self, after_id: i64) -> Pending<SlotsSince> {
        self.read("reading the slots that made no run", move |pg| {
            in_snapshot(pg, |pg| {
                // `LIKE` is SQLite's, which ignores the case of ASCII letters.
                let rows = pg.fetch_all(
                    q("SELECT id, job, outcome FROM slots WHERE id > $1 \
                       AND (outcome = 'missed' OR outcome ILIKE 'skipped%') ORDER BY id")
                    .bind(after_id),
                )?;
                let not_run = map_all(rows, |row| {
                    Ok((col(row, "id")?, col(row, "job")?, col(row, "outcome")?))
                })?;
                let row = pg.fetch_one(q("SELECT MAX(id) AS max_id FROM slots"))?;
                Ok(SlotsSince {
                    not_run,
                    max_id: col::<Option<i64>>(&row, "max_id")?.unwrap_or(0),
                })
            })
        })
    }

    fn missed_since(&self, since: DateTime<Utc>) -> Pending<Vec<(String, i64)>> {
        self.read("counting missed slots", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT job, COUNT(*) AS n FROM slots WHERE outcome = 'missed' \
                     AND due_at >= $1 GROUP BY job ORDER BY job COLLATE \"C\"",
                )
                .bind(since),
            )?;
            map_all(rows, |row| Ok((col(row, "job")?, col(row, "n")?)))
        })
    }
}

/// The figures of now `/metrics` shows, inside the caller's snapshot. Text is ordered byte
/// by byte, as SQLite orders it.
fn metric_facts(pg: &mut Pg) -> Result<MetricFacts, Fail> {
    let rows = pg.fetch_all(q(
        "SELECT status, COUNT(*) AS n FROM runs WHERE status IN ('queued', 'running') \
         GROUP BY status ORDER BY status COLLATE \"C\"",
    ))?;
    let active = map_all(rows, |r| Ok((col(r, "status")?, col(r, "n")?)))?;
    let rows = pg.fetch_all(q(
        "SELECT severity, status, COUNT(*) AS n FROM incidents WHERE status <> 'resolved' \
         GROUP BY severity, status ORDER BY severity COLLATE \"C\", status COLLATE \"C\"",
    ))?;
    let incidents: Vec<(String, String, i64)> = map_all(rows, |r| {
        Ok((col(r, "severity")?, col(r, "status")?, col(r, "n")?))
    })?;
    let incidents = incidents
        .into_iter()
        .filter_map(|(sev, status, n)| sev.parse().ok().map(|s| (s, status, n)))
        .collect();
    let row = pg.fetch_one(q(
        "SELECT MAX(heartbeat_at) AS beat FROM daemons WHERE stopped_at IS NULL",
    ))?;
    Ok(MetricFacts {
        active,
        incidents,
        heartbeat: opt_time(&row, "beat")?,
    })
}
