//! Daemons as nodes, fencing and leases in SQLite, timed by the caller's `now` (one
//! machine, one clock).

use super::*;

/// The node's row as the newest daemon of its name shows it, with the runs its process
/// owns.
const NODES: &str = "SELECT d.*, COALESCE(d.node, d.host) AS name, \
     (SELECT count(*) FROM runs r WHERE r.status = 'running' \
      AND substr(r.owner, 1, length(d.host || ':' || d.pid || ':')) = d.host || ':' || d.pid || ':') \
     AS running, \
     (SELECT expires_at FROM leases l WHERE l.name = 'planner' AND l.daemon_id = d.id) \
     AS planner_until \
     FROM daemons d WHERE d.id IN (SELECT max(id) FROM daemons GROUP BY COALESCE(node, host)) \
     ORDER BY name";

fn labels(row: &Row<'_>) -> Result<Vec<String>, StoreError> {
    let text: String = col(row, "labels")?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("labels: {e}")))
}

fn seconds(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// Fails a write of daemon `daemon_id` once another daemon fenced it.
pub(super) fn check_fence(c: &Connection, daemon_id: i64) -> rusqlite::Result<()> {
    let fenced: bool = c
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM daemons WHERE id = ? AND fenced_at IS NOT NULL)",
        )?
        .query_row([daemon_id], |r| r.get(0))?;
    if fenced {
        return Err(carry(StoreError::Fenced { daemon_id }));
    }
    Ok(())
}

impl NodeStore for SqliteStore {
    fn wakeups(&self) -> Option<Arc<tokio::sync::Notify>> {
        None
    }

    fn fence_writes(&self, daemon_id: i64) {
        self.fence
            .store(daemon_id, std::sync::atomic::Ordering::Release);
    }

    fn register_node(&self, node: &NewNode, now: DateTime<Utc>) -> Pending<i64> {
        let node = node.clone();
        self.write("registering the daemon", move |c| {
            let labels = serde_json::Value::from(node.labels.clone()).to_string();
            c.prepare_cached(
                "INSERT INTO daemons (host, pid, version, started_at, heartbeat_at, node, \
                 labels) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            )?
            .query_row(
                params![
                    node.host,
                    i64::from(node.pid),
                    node.version,
                    ts(now),
                    ts(now),
                    node.name,
                    labels
                ],
                |r| r.get(0),
            )
        })
    }

    fn beat(&self, daemon_id: i64, now: DateTime<Utc>) -> Pending<Beat> {
        self.write("recording the daemon's heartbeat", move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE daemons SET heartbeat_at = ? WHERE id = ? AND fenced_at IS NULL",
                )?
                .execute(params![ts(now), daemon_id])?;
            if n == 1 {
                return Ok(Beat::Alive { at: now });
            }
            let known: bool = c
                .prepare_cached("SELECT EXISTS (SELECT 1 FROM daemons WHERE id = ?)")?
                .query_row([daemon_id], |r| r.get(0))?;
            if known {
                Ok(Beat::Fenced)
            } else {
                Err(carry(StoreError::NotFound {
                    what: "daemon",
                    id: daemon_id,
                }))
            }
        })
    }

    fn nodes(&self, now: DateTime<Utc>, timeout: std::time::Duration) -> Pending<Vec<NodeRow>> {
        self.read(move |c| {
            all(c, "listing nodes", NODES, [], |r| {
                let heartbeat_at = time(r, "heartbeat_at")?;
                let stopped_at = opt_time(r, "stopped_at")?;
                let fenced_at = opt_time(r, "fenced_at")?;
                let age = now - heartbeat_at;
                Ok(NodeRow {
                    daemon_id: col(r, "id")?,
                    name: col(r, "name")?,
                    labels: labels(r)?,
                    host: col(r, "host")?,
                    pid: col(r, "pid")?,
                    version: col(r, "version")?,
                    started_at: time(r, "started_at")?,
                    heartbeat_at,
                    stopped_at,
                    fenced_at,
                    fenced_by: col(r, "fenced_by")?,
                    alive: stopped_at.is_none() && fenced_at.is_none() && age <= seconds(timeout),
                    beat_age: age.num_milliseconds() as f64 / 1000.0,
                    running: col(r, "running")?,
                    planner: col::<Option<String>>(r, "planner_until")?
                        .is_some_and(|until| until > ts(now)),
                })
            })
        })
    }

    fn fence_dead(
        &self,
        by: i64,
        now: DateTime<Utc>,
        timeout: std::time::Duration,
    ) -> Pending<Vec<FencedDaemon>> {
        self.write("fencing daemons that stopped beating", move |c| {
            let fencer_alive: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM daemons WHERE id = ? \
                     AND fenced_at IS NULL AND stopped_at IS NULL)",
                )?
                .query_row([by], |r| r.get(0))?;
            if !fencer_alive {
                return Ok(Vec::new());
            }
            let before = ts(now - seconds(timeout));
            let dead: Vec<FencedDaemon> = c
                .prepare_cached(
                    "UPDATE daemons SET fenced_at = ?, fenced_by = ? WHERE id <> ? \
                     AND stopped_at IS NULL AND fenced_at IS NULL AND heartbeat_at < ? \
                     RETURNING id, node, host, pid",
                )?
                .query_map(params![ts(now), by, by, before], |r| {
                    Ok(FencedDaemon {
                        daemon_id: r.get(0)?,
                        node: r.get(1)?,
                        host: r.get(2)?,
                        pid: r.get(3)?,
                    })
                })?
                .collect::<rusqlite::Result<_>>()?;
            // Their leases end (expired, so the next holder's term grows).
            let mut end_leases =
                c.prepare_cached("UPDATE leases SET expires_at = ? WHERE daemon_id = ?")?;
            for d in &dead {
                end_leases.execute(params![ts(DateTime::UNIX_EPOCH), d.daemon_id])?;
            }
            Ok(dead)
        })
    }

    fn take_lease(
        &self,
        name: &str,
        daemon_id: i64,
        now: DateTime<Utc>,
        length: std::time::Duration,
    ) -> Pending<Option<Lease>> {
        let name = name.to_owned();
        self.write("taking a lease", move |c| {
            let eligible: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM daemons WHERE id = ? \
                     AND fenced_at IS NULL AND stopped_at IS NULL)",
                )?
                .query_row([daemon_id], |r| r.get(0))?;
            if !eligible {
                return Ok(None);
            }
            let held: Option<(i64, i64, String)> = c
                .prepare_cached("SELECT daemon_id, term, expires_at FROM leases WHERE name = ?")?
                .query_row([&name], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                .optional()?;
            let until = ts(now + seconds(length));
            let term = match held {
                None => 1,
                Some((holder, term, _)) if holder == daemon_id => term,
                Some((_, term, expires)) if expires < ts(now) => term + 1,
                Some(_) => return Ok(None),
            };
            c.prepare_cached(
                "INSERT INTO leases (name, daemon_id, term, expires_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (name) DO UPDATE SET daemon_id = excluded.daemon_id, \
                 term = excluded.term, expires_at = excluded.expires_at",
            )?
            .execute(params![name, daemon_id, term, until])?;
            Ok(Some(Lease {
                name,
                daemon_id,
                term,
            }))
        })
    }

    fn record_planned(
        &self,
        lease: &Lease,
        now: DateTime<Utc>,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        let (lease, slots, watermarks) = (lease.clone(), slots.to_vec(), watermarks.to_vec());
        self.write("recording slots", move |c| {
            let held: bool = c
                .prepare_cached(
                    "SELECT EXISTS (SELECT 1 FROM leases WHERE name = ? AND daemon_id = ? \
                     AND term = ? AND expires_at > ?)",
                )?
                .query_row(
                    params![lease.name, lease.daemon_id, lease.term, ts(now)],
                    |r| r.get(0),
                )?;
            if !held {
                return Err(carry(StoreError::LeaseLost {
                    name: lease.name.clone(),
                    term: lease.term,
                }));
            }
            super::slots::insert_slots(c, &slots, &watermarks)
        })
    }
}
