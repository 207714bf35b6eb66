//! Steps handed over to another node, in PostgreSQL: taken with `FOR UPDATE SKIP LOCKED`
//! (daemons taking at once each get other rows), stamped by the database's clock.

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
     LEFT JOIN daemons d ON d.id = g.daemon_id WHERE g.attempt_id = $1";

fn parse_labels(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("delegation labels: {e}")))
}

fn delegated(r: &PgRow) -> Result<Delegated, StoreError> {
    Ok(Delegated {
        attempt_id: col(r, "id")?,
        run_id: col(r, "run_id")?,
        job: col(r, "job")?,
        step: col(r, "step")?,
        attempt: col(r, "attempt")?,
    })
}

impl DelegationStore for PgStore {
    fn delegate(&self, attempt_id: i64, labels: &[String]) -> Pending<()> {
        let labels = serde_json::Value::from(labels.to_vec()).to_string();
        self.write("handing a step over to another node", move |pg| {
            pg.execute(
                q("INSERT INTO delegations (attempt_id, run_id, labels) \
                   SELECT id, run_id, $1 FROM attempts WHERE id = $2")
                .bind(labels)
                .bind(attempt_id),
            )?;
            super::nodes::wake(pg, "delegated")
        })
    }

    fn take_delegated(
        &self,
        daemon_id: i64,
        labels: &[String],
        _now: DateTime<Utc>,
        limit: i64,
    ) -> Pending<Vec<Delegated>> {
        let mine = labels.to_vec();
        self.write("taking steps handed over to this node", move |pg| {
            let eligible = pg
                .fetch_optional(
                    q("SELECT 1 AS one FROM daemons WHERE id = $1 \
                       AND fenced_at IS NULL AND stopped_at IS NULL")
                    .bind(daemon_id),
                )?
                .is_some();
            if !eligible {
                return Ok(Vec::new());
            }
            // Rows another daemon is taking are skipped, not waited for.
            let open = pg.fetch_all(q("SELECT g.attempt_id, g.labels FROM delegations g \
                   JOIN runs r ON r.id = g.run_id WHERE g.daemon_id IS NULL \
                   AND NOT g.cancel AND g.outcome IS NULL AND r.status = 'running' \
                   ORDER BY g.attempt_id FOR UPDATE OF g SKIP LOCKED"))?;
            let mut ids = Vec::new();
            for r in &open {
                if ids.len() as i64 >= limit {
                    break;
                }
                let wanted = parse_labels(&col::<String>(r, "labels")?)?;
                if wanted.iter().all(|l| mine.contains(l)) {
                    ids.push(col::<i64>(r, "attempt_id")?);
                }
            }
            if ids.is_empty() {
                return Ok(Vec::new());
            }
            pg.execute(
                q(
                    "UPDATE delegations SET daemon_id = $1, taken_at = clock_timestamp() \
                   WHERE attempt_id = ANY($2)",
                )
                .bind(daemon_id)
                .bind(ids.clone()),
            )?;
            let rows = pg.fetch_all(
                q(
                    "SELECT a.id, a.run_id, r.job, a.step, a.attempt FROM attempts a \
                   JOIN runs r ON r.id = a.run_id WHERE a.id = ANY($1) ORDER BY a.id",
                )
                .bind(ids),
            )?;
            map_all(rows, delegated)
        })
    }

    fn delegated_started(
        &self,
        attempt_id: i64,
        command: &serde_json::Value,
        log_path: &str,
    ) -> Pending<()> {
        let (command, log_path) = (command.to_string(), log_path.to_owned());
        self.write("recording the command of a handed-over step", move |pg| {
            pg.execute(
                q("UPDATE attempts SET command = $1, log_path = $2 WHERE id = $3")
                    .bind(command)
                    .bind(log_path)
                    .bind(attempt_id),
            )?;
            Ok(())
        })
    }

    fn delegation(&self, attempt_id: i64) -> Pending<Option<Delegation>> {
        self.read("reading a handed-over step", move |pg| {
            let Some(r) = pg.fetch_optional(q(DELEGATION).bind(attempt_id))? else {
                return Ok(None);
            };
            let d = (|| {
                Ok::<_, StoreError>(Delegation {
                    attempt_id: col(&r, "attempt_id")?,
                    run_id: col(&r, "run_id")?,
                    labels: parse_labels(&col::<String>(&r, "labels")?)?,
                    daemon_id: col(&r, "daemon_id")?,
                    node: col(&r, "node")?,
                    taken_at: opt_time(&r, "taken_at")?,
                    taker_gone: col::<Option<bool>>(&r, "taker_gone")?.unwrap_or(false),
                    cancel: col(&r, "cancel")?,
                    run_running: col(&r, "run_running")?,
                    progress: col(&r, "progress")?,
                    outcome: opt_json(&r, "outcome")?,
                })
            })()
            .map_err(Fail::Store)?;
            Ok(Some(d))
        })
    }

    fn delegated_progress(&self, attempt_id: i64, bytes: i64) -> Pending<()> {
        self.write("recording a handed-over step's output", move |pg| {
            pg.execute(
                q("UPDATE delegations SET progress = $1 WHERE attempt_id = $2")
                    .bind(bytes)
                    .bind(attempt_id),
            )?;
            Ok(())
        })
    }

    fn cancel_delegated(&self, attempt_id: i64) -> Pending<bool> {
        self.write("asking a handed-over step to stop", move |pg| {
            // Waits for a daemon taking it now, then reads whether it did.
            let taken = pg.fetch_optional(
                q(
                    "UPDATE delegations SET cancel = TRUE WHERE attempt_id = $1 \
                   RETURNING daemon_id IS NOT NULL AS taken",
                )
                .bind(attempt_id),
            )?;
            let taken = match taken {
                Some(r) => col::<bool>(&r, "taken").map_err(Fail::Store)?,
                None => false,
            };
            if taken {
                super::nodes::wake(pg, "cancel")?;
            }
            Ok(taken)
        })
    }

    fn end_delegated(
        &self,
        attempt_id: i64,
        daemon_id: i64,
        outcome: &serde_json::Value,
    ) -> Pending<bool> {
        let outcome = outcome.to_string();
        self.write("recording how a handed-over step ended", move |pg| {
            let n = pg.execute(
                q("UPDATE delegations SET outcome = $1 WHERE attempt_id = $2 \
                   AND daemon_id = $3 AND outcome IS NULL")
                .bind(outcome)
                .bind(attempt_id)
                .bind(daemon_id),
            )?;
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
            move |pg| {
                let rows = pg.fetch_all(
                    q(
                        "WITH left_ AS (UPDATE delegations SET outcome = $1 WHERE outcome IS NULL \
                   AND daemon_id IN (SELECT id FROM daemons WHERE COALESCE(node, host) = $2 \
                   AND id <> $3) RETURNING attempt_id) \
                   SELECT a.id, a.run_id, r.job, a.step, a.attempt FROM left_ \
                   JOIN attempts a ON a.id = left_.attempt_id JOIN runs r ON r.id = a.run_id \
                   ORDER BY a.id",
                    )
                    .bind(outcome)
                    .bind(node)
                    .bind(daemon_id),
                )?;
                map_all(rows, delegated)
            },
        )
    }
}
