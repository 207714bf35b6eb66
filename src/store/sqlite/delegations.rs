//! Steps handed over to another node, in SQLite. One daemon writes an SQLite file, so a
//! hand-over is taken only where a test (or a second process) takes it; the rules are the
//! PostgreSQL store's all the same.

use super::*;

/// A hand-over as both sides read it, with whether its taker is gone (stopped, fenced, or
/// replaced by a newer daemon of its node).
const DELEGATION: &str = "SELECT g.attempt_id, g.run_id, g.labels, g.daemon_id, \
     COALESCE(d.node, d.host) AS node, g.taken_at, g.cancel, g.progress, g.outcome, \
     r.status = 'running' AS run_running, \
     d.id IS NOT NULL AND (d.stopped_at IS NOT NULL OR d.fenced_at IS NOT NULL \
       OR EXISTS (SELECT 1 FROM daemons n WHERE COALESCE(n.node, n.host) = \
                  COALESCE(d.node, d.host) AND n.id > d.id)) AS taker_gone \
     FROM delegations g JOIN runs r ON r.id = g.run_id \
     LEFT JOIN daemons d ON d.id = g.daemon_id WHERE g.attempt_id = ?";

/// What a taker needs of a hand-over, by its attempt.
const DELEGATED: &str = "SELECT a.id, a.run_id, r.job, a.step, a.attempt FROM attempts a \
     JOIN runs r ON r.id = a.run_id WHERE a.id = ?";

fn parse_labels(text: &str) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(text)
        .map_err(|e| carry(StoreError::Corrupt(format!("delegation labels: {e}"))))
}

fn delegated(c: &Connection, attempt_id: i64) -> rusqlite::Result<Delegated> {
    c.prepare_cached(DELEGATED)?.query_row([attempt_id], |r| {
        Ok(Delegated {
            attempt_id: r.get(0)?,
            run_id: r.get(1)?,
            job: r.get(2)?,
            step: r.get(3)?,
            attempt: r.get(4)?,
        })
    })
}

impl DelegationStore for SqliteStore {
    fn delegate(&self, attempt_id: i64, labels: &[String]) -> Pending<()> {
        let labels = serde_json::Value::from(labels.to_vec()).to_string();
        self.write("handing a step over to another node", move |c| {
            c.prepare_cached(
                "INSERT INTO delegations (attempt_id, run_id, labels) \
                 SELECT id, run_id, ? FROM attempts WHERE id = ?",
            )?
            .execute(params![labels, attempt_id])?;
            Ok(())
        })
    }

    fn take_delegated(
        &self,
        daemon_id: i64,
        labels: &[String],
        now: DateTime<Utc>,
        limit: i64,
    ) -> Pending<Vec<Delegated>> {
        let mine = labels.to_vec();
        self.write("taking steps handed over to this node", move |c| {
            let eligible: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM daemons WHERE id = ? \
                     AND fenced_at IS NULL AND stopped_at IS NULL)",
                )?
                .query_row([daemon_id], |r| r.get(0))?;
            if !eligible {
                return Ok(Vec::new());
            }
            let open: Vec<(i64, String)> = c
                .prepare_cached(
                    "SELECT g.attempt_id, g.labels FROM delegations g \
                     JOIN runs r ON r.id = g.run_id WHERE g.daemon_id IS NULL \
                     AND g.cancel = 0 AND g.outcome IS NULL AND r.status = 'running' \
                     ORDER BY g.attempt_id",
                )?
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let mut taken = Vec::new();
            for (id, wanted) in open {
                if taken.len() as i64 >= limit {
                    break;
                }
                if !parse_labels(&wanted)?.iter().all(|l| mine.contains(l)) {
                    continue;
                }
                let n = c
                    .prepare_cached(
                        "UPDATE delegations SET daemon_id = ?, taken_at = ? \
                         WHERE attempt_id = ? AND daemon_id IS NULL",
                    )?
                    .execute(params![daemon_id, ts(now), id])?;
                if n == 1 {
                    taken.push(delegated(c, id)?);
                }
            }
            Ok(taken)
        })
    }

    fn delegated_started(
        &self,
        attempt_id: i64,
        command: &serde_json::Value,
        log_path: &str,
    ) -> Pending<()> {
        let (command, log_path) = (command.to_string(), log_path.to_owned());
        self.write("recording the command of a handed-over step", move |c| {
            c.prepare_cached("UPDATE attempts SET command = ?, log_path = ? WHERE id = ?")?
                .execute(params![command, log_path, attempt_id])?;
            Ok(())
        })
    }

    fn delegation(&self, attempt_id: i64) -> Pending<Option<Delegation>> {
        self.read(move |c| {
            let rows = all(
                c,
                "reading a handed-over step",
                DELEGATION,
                [attempt_id],
                |r| {
                    Ok(Delegation {
                        attempt_id: col(r, "attempt_id")?,
                        run_id: col(r, "run_id")?,
                        labels: parse_labels(&col::<String>(r, "labels")?)
                            .map_err(|e| StoreError::Corrupt(format!("delegation labels: {e}")))?,
                        daemon_id: col(r, "daemon_id")?,
                        node: col(r, "node")?,
                        taken_at: opt_time(r, "taken_at")?,
                        taker_gone: col(r, "taker_gone")?,
                        cancel: col(r, "cancel")?,
                        run_running: col(r, "run_running")?,
                        progress: col(r, "progress")?,
                        outcome: opt_json(r, "outcome")?,
                    })
                },
            )?;
            Ok(rows.into_iter().next())
        })
    }

    fn delegated_progress(&self, attempt_id: i64, bytes: i64) -> Pending<()> {
        self.write("recording a handed-over step's output", move |c| {
            c.prepare_cached("UPDATE delegations SET progress = ? WHERE attempt_id = ?")?
                .execute(params![bytes, attempt_id])?;
            Ok(())
        })
    }

    fn cancel_delegated(&self, attempt_id: i64) -> Pending<bool> {
        self.write("asking a handed-over step to stop", move |c| {
            let taken: Option<bool> = c
                .prepare_cached(
                    "UPDATE delegations SET cancel = 1 WHERE attempt_id = ? \
                     RETURNING daemon_id IS NOT NULL",
                )?
                .query_row([attempt_id], |r| r.get(0))
                .optional()?;
            Ok(taken.unwrap_or(false))
        })
    }

    fn end_delegated(
        &self,
        attempt_id: i64,
        daemon_id: i64,
        outcome: &serde_json::Value,
    ) -> Pending<bool> {
        let outcome = outcome.to_string();
        self.write("recording how a handed-over step ended", move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE delegations SET outcome = ? WHERE attempt_id = ? \
                     AND daemon_id = ? AND outcome IS NULL",
                )?
                .execute(params![outcome, attempt_id, daemon_id])?;
            Ok(n == 1)
        })
    }

    fn end_left(
        &self,
        node: &str,
        daemon_id: i64,
        outcome: &serde_json::Value,
    ) -> Pending<Vec<Delegated>> {
        let (node, outcome) = (node.to_owned(), outcome.to_string());
        self.write(
            "ending the steps an earlier daemon of this node left",
            move |c| {
                let ids: Vec<i64> = c
                    .prepare_cached(
                        "UPDATE delegations SET outcome = ? WHERE outcome IS NULL AND daemon_id IN \
                     (SELECT id FROM daemons WHERE COALESCE(node, host) = ? AND id <> ?) \
                     RETURNING attempt_id",
                    )?
                    .query_map(params![outcome, node, daemon_id], |r| r.get(0))?
                    .collect::<rusqlite::Result<_>>()?;
                let mut left = ids
                    .into_iter()
                    .map(|id| delegated(c, id))
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                left.sort_by_key(|d| d.attempt_id);
                Ok(left)
            },
        )
    }
}
