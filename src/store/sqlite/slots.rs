//! Schedule slots, their watermarks, and the daemons that decided them, in SQLite.

use super::*;

pub(super) fn slot_row(row: &Row<'_>) -> Result<SlotRow, StoreError> {
    Ok(SlotRow {
        id: col(row, "id")?,
        schedule: col(row, "schedule")?,
        job: col(row, "job")?,
        fire_time: time(row, "fire_time")?,
        due_at: time(row, "due_at")?,
        outcome: token(row, "outcome")?,
        reason: col(row, "reason")?,
        run_id: col(row, "run_id")?,
        decided_at: time(row, "decided_at")?,
    })
}

pub(super) fn daemon_row(row: &Row<'_>) -> Result<DaemonRow, StoreError> {
    Ok(DaemonRow {
        id: col(row, "id")?,
        host: col(row, "host")?,
        pid: col(row, "pid")?,
        version: col(row, "version")?,
        started_at: time(row, "started_at")?,
        heartbeat_at: time(row, "heartbeat_at")?,
        stopped_at: opt_time(row, "stopped_at")?,
    })
}

/// Records decided slots (with the runs they make) and moves the watermarks, inside the
/// caller's transaction (see `SlotStore::record_slots`).
pub(super) fn insert_slots(
    c: &Connection,
    slots: &[NewSlot],
    watermarks: &[(String, DateTime<Utc>)],
) -> rusqlite::Result<Vec<Option<i64>>> {
    let mut made = Vec::with_capacity(slots.len());
    for s in slots {
        let slot_id: Option<i64> = c
            .prepare_cached(
                "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, \
                     decided_at) VALUES (?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (schedule, fire_time) DO NOTHING RETURNING id",
            )?
            .query_row(
                params![
                    s.schedule,
                    s.job,
                    ts(s.fire_time),
                    ts(s.due_at),
                    s.outcome.as_str(),
                    s.reason,
                    ts(s.decided_at)
                ],
                |r| r.get(0),
            )
            .optional()?;
        let run_id = match (slot_id, &s.run) {
            (Some(slot_id), Some(run)) => {
                let run_id = insert_run(c, run)?;
                c.prepare_cached("UPDATE slots SET run_id = ? WHERE id = ?")?
                    .execute(params![run_id, slot_id])?;
                Some(run_id)
            }
            _ => None,
        };
        made.push(run_id);
    }
    let mut mark = c.prepare_cached(
        "INSERT INTO watermarks (schedule, through) VALUES (?, ?) \
             ON CONFLICT (schedule) DO UPDATE SET through = excluded.through \
             WHERE excluded.through > watermarks.through",
    )?;
    for (schedule, through) in watermarks {
        mark.execute(params![schedule, ts(*through)])?;
    }
    Ok(made)
}

impl SlotStore for SqliteStore {
    fn record_slots(
        &self,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        let (slots, watermarks) = (slots.to_vec(), watermarks.to_vec());
        self.write("recording slots", move |c| {
            insert_slots(c, &slots, &watermarks)
        })
    }

    fn watermarks(&self) -> Pending<Vec<(String, DateTime<Utc>)>> {
        self.read(|c| {
            all(
                c,
                "reading watermarks",
                "SELECT schedule, through FROM watermarks",
                [],
                |r| Ok((col(r, "schedule")?, time(r, "through")?)),
            )
        })
    }

    fn list_slots(&self, schedule: Option<&str>, limit: i64) -> Pending<Vec<SlotRow>> {
        let schedule = schedule.map(str::to_owned);
        self.read(move |c| {
            all(
                c,
                "listing slots",
                "SELECT * FROM slots WHERE (?1 IS NULL OR schedule = ?1) \
                 ORDER BY fire_time DESC, id DESC LIMIT ?2",
                params![schedule, limit],
                slot_row,
            )
        })
    }

    fn register_daemon(
        &self,
        host: &str,
        pid: u32,
        version: &str,
        at: DateTime<Utc>,
    ) -> Pending<i64> {
        let (host, version) = (host.to_owned(), version.to_owned());
        self.write("registering the daemon", move |c| {
            c.prepare_cached(
                "INSERT INTO daemons (host, pid, version, started_at, heartbeat_at) \
                 VALUES (?, ?, ?, ?, ?) RETURNING id",
            )?
            .query_row(
                params![host, i64::from(pid), version, ts(at), ts(at)],
                |r| r.get(0),
            )
        })
    }

    fn heartbeat(&self, daemon_id: i64, at: DateTime<Utc>, stopped: bool) -> Pending<()> {
        self.write("recording the daemon's heartbeat", move |c| {
            let stopped_at = stopped.then(|| ts(at));
            c.prepare_cached(
                "UPDATE daemons SET heartbeat_at = ?, stopped_at = COALESCE(?, stopped_at) \
                 WHERE id = ?",
            )?
            .execute(params![ts(at), stopped_at, daemon_id])?;
            Ok(())
        })
    }

    fn daemons(&self, limit: i64) -> Pending<Vec<DaemonRow>> {
        self.read(move |c| {
            all(
                c,
                "listing daemons",
                "SELECT * FROM daemons ORDER BY id DESC LIMIT ?",
                [limit],
                daemon_row,
            )
        })
    }
}
