//! Daemons as nodes, fencing and leases in PostgreSQL, timed by the database's clock
//! (`now()`), whatever each node's own clock says; the `now` callers give is not read.

use super::*;

/// The node's row as the newest daemon of its name shows it, with the runs its process
/// owns and the age of its last beat by the database's clock.
const NODES: &str = "SELECT d.*, COALESCE(d.node, d.host) AS name, \
     EXTRACT(EPOCH FROM clock_timestamp() - d.heartbeat_at)::float8 AS age, \
     (SELECT count(*) FROM runs r WHERE r.status = 'running' \
      AND starts_with(r.owner, d.host || ':' || d.pid || ':')) AS running, \
     EXISTS (SELECT 1 FROM leases l WHERE l.name = 'planner' AND l.daemon_id = d.id \
             AND l.expires_at > clock_timestamp()) AS planner \
     FROM daemons d WHERE d.id IN (SELECT max(id) FROM daemons GROUP BY COALESCE(node, host)) \
     ORDER BY name";

fn labels(row: &PgRow) -> Result<Vec<String>, StoreError> {
    let text: String = col(row, "labels")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("labels: {e}")))
}

/// The channel the wake-ups go on.
pub(super) const WAKE: &str = "unyo";

/// Sends a wake-up to the daemons listening, when the write's transaction commits.
pub(super) fn wake(pg: &mut Pg, what: &'static str) -> Result<(), Fail> {
    pg.execute(q("SELECT pg_notify($1, $2)").bind(WAKE).bind(what))?;
    Ok(())
}

/// Listens for wake-ups on a thread of its own (its own connection, reconnected when it
/// breaks) until nobody holds `wake` but this thread.
fn listen(url: Arc<str>, wake: Arc<tokio::sync::Notify>) {
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    while Arc::strong_count(&wake) > 1 {
        let listened = rt.block_on(async {
            let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
            listener.listen(WAKE).await?;
            while Arc::strong_count(&wake) > 1 {
                match tokio::time::timeout(std::time::Duration::from_secs(1), listener.try_recv())
                    .await
                {
                    Ok(Ok(Some(_))) => wake.notify_one(),
                    // Reconnected: something may have been missed; look now.
                    Ok(Ok(None)) => wake.notify_one(),
                    Ok(Err(e)) => return Err(e),
                    Err(_) => {}
                }
            }
            Ok::<(), sqlx::Error>(())
        });
        if listened.is_err() {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}

impl NodeStore for PgStore {
    fn wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        let wake = Arc::new(tokio::sync::Notify::new());
        let (url, theirs) = (self.url.clone(), wake.clone());
        std::thread::Builder::new()
            .name("unyo-pg-listen".to_owned())
            .spawn(move || listen(url, theirs))
            .ok()?;
        Some(wake)
    }

    fn fence_writes(&self, daemon_id: i64) {
        self.fence
            .store(daemon_id, std::sync::atomic::Ordering::Release);
    }

    fn register_node(&self, node: &NewNode, _now: DateTime<Utc>) -> Pending<i64> {
        let node = node.clone();
        self.write("registering the daemon", move |pg| {
            let labels = serde_json::Value::from(node.labels.clone()).to_string();
            let row = pg.fetch_one(
                q(
                    "INSERT INTO daemons (host, pid, version, started_at, heartbeat_at, node, \
                   labels) VALUES ($1, $2, $3, clock_timestamp(), clock_timestamp(), $4, $5) \
                   RETURNING id",
                )
                .bind(node.host)
                .bind(i64::from(node.pid))
                .bind(node.version)
                .bind(node.name)
                .bind(labels),
            )?;
            Ok(col(&row, "id")?)
        })
    }

    fn beat(&self, daemon_id: i64, _now: DateTime<Utc>) -> Pending<Beat> {
        self.write("recording the daemon's heartbeat", move |pg| {
            let beat = pg.fetch_optional(
                q("UPDATE daemons SET heartbeat_at = clock_timestamp() \
                   WHERE id = $1 AND fenced_at IS NULL RETURNING heartbeat_at")
                .bind(daemon_id),
            )?;
            if let Some(row) = beat {
                return Ok(Beat::Alive {
                    at: time(&row, "heartbeat_at")?,
                });
            }
            let known = pg
                .fetch_optional(q("SELECT id FROM daemons WHERE id = $1").bind(daemon_id))?
                .is_some();
            if known {
                Ok(Beat::Fenced)
            } else {
                Err(StoreError::NotFound {
                    what: "daemon",
                    id: daemon_id,
                }
                .into())
            }
        })
    }

    fn nodes(&self, _now: DateTime<Utc>, timeout: std::time::Duration) -> Pending<Vec<NodeRow>> {
        self.read("listing nodes", move |pg| {
            let rows = pg.fetch_all(q(NODES))?;
            map_all(rows, |r| {
                let stopped_at = opt_time(r, "stopped_at")?;
                let fenced_at = opt_time(r, "fenced_at")?;
                let age: f64 = col(r, "age")?;
                Ok(NodeRow {
                    daemon_id: col(r, "id")?,
                    name: col(r, "name")?,
                    labels: labels(r)?,
                    host: col(r, "host")?,
                    pid: col(r, "pid")?,
                    version: col(r, "version")?,
                    started_at: time(r, "started_at")?,
                    heartbeat_at: time(r, "heartbeat_at")?,
                    stopped_at,
                    fenced_at,
                    fenced_by: col(r, "fenced_by")?,
                    alive: stopped_at.is_none()
                        && fenced_at.is_none()
                        && age <= timeout.as_secs_f64(),
                    beat_age: age,
                    running: col(r, "running")?,
                    planner: col(r, "planner")?,
                })
            })
        })
    }

    fn fence_dead(
        &self,
        by: i64,
        _now: DateTime<Utc>,
        timeout: std::time::Duration,
    ) -> Pending<Vec<FencedDaemon>> {
        self.write("fencing daemons that stopped beating", move |pg| {
            // Row locks make it once: a racing fencer re-reads `fenced_at` and skips the row,
            // and a beat of the daemon being fenced waits for this transaction, then finds
            // itself fenced.
            let rows = pg.fetch_all(
                q(
                    "UPDATE daemons SET fenced_at = clock_timestamp(), fenced_by = $1 \
                   WHERE id <> $1 AND stopped_at IS NULL AND fenced_at IS NULL \
                   AND heartbeat_at < clock_timestamp() - make_interval(secs => $2) \
                   AND EXISTS (SELECT 1 FROM daemons b WHERE b.id = $1 \
                               AND b.fenced_at IS NULL AND b.stopped_at IS NULL) \
                   RETURNING id, node, host, pid",
                )
                .bind(by)
                .bind(timeout.as_secs_f64()),
            )?;
            let dead = map_all(rows, |r| {
                Ok(FencedDaemon {
                    daemon_id: col(r, "id")?,
                    node: col(r, "node")?,
                    host: col(r, "host")?,
                    pid: col(r, "pid")?,
                })
            })?;
            let ids: Vec<i64> = dead.iter().map(|d| d.daemon_id).collect();
            if !ids.is_empty() {
                // Their leases end (expired, so the next holder's term grows).
                pg.execute(
                    q("UPDATE leases SET expires_at = '-infinity' WHERE daemon_id = ANY($1)")
                        .bind(ids),
                )?;
            }
            Ok(dead)
        })
    }

    fn take_lease(
        &self,
        name: &str,
        daemon_id: i64,
        _now: DateTime<Utc>,
        length: std::time::Duration,
    ) -> Pending<Option<Lease>> {
        let name = name.to_owned();
        self.write("taking a lease", move |pg| {
            // Taken when free or expired, renewed by its holder; the daemon must be neither
            // fenced nor stopped (the row is locked, so a fence waits for this).
            let row = pg.fetch_optional(
                q("INSERT INTO leases (name, daemon_id, term, expires_at) \
                   SELECT $1, $2, 1, clock_timestamp() + make_interval(secs => $3) \
                   FROM daemons d WHERE d.id = $2 AND d.fenced_at IS NULL \
                   AND d.stopped_at IS NULL FOR SHARE \
                   ON CONFLICT (name) DO UPDATE SET \
                   term = CASE WHEN leases.daemon_id = excluded.daemon_id THEN leases.term \
                               ELSE leases.term + 1 END, \
                   daemon_id = excluded.daemon_id, expires_at = excluded.expires_at \
                   WHERE leases.daemon_id = excluded.daemon_id \
                   OR leases.expires_at < clock_timestamp() \
                   RETURNING term")
                .bind(name.clone())
                .bind(daemon_id)
                .bind(length.as_secs_f64()),
            )?;
            Ok(match row {
                Some(r) => Some(Lease {
                    name,
                    daemon_id,
                    term: col(&r, "term")?,
                }),
                None => None,
            })
        })
    }

    fn record_planned(
        &self,
        lease: &Lease,
        _now: DateTime<Utc>,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        let (lease, slots, watermarks) = (lease.clone(), slots.to_vec(), watermarks.to_vec());
        self.write("recording slots", move |pg| {
            // Shared lock on the lease: another daemon's take waits for this commit, and a
            // lease already taken over (or expired) is not found.
            let held = pg.fetch_optional(
                q(
                    "SELECT term FROM leases WHERE name = $1 AND daemon_id = $2 AND term = $3 \
                   AND expires_at > clock_timestamp() FOR SHARE",
                )
                .bind(lease.name.clone())
                .bind(lease.daemon_id)
                .bind(lease.term),
            )?;
            if held.is_none() {
                return Err(StoreError::LeaseLost {
                    name: lease.name,
                    term: lease.term,
                }
                .into());
            }
            super::slots::insert_slots(pg, &slots, watermarks)
        })
    }
}
