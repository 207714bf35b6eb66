//! Schedule slots, watermarks and the daemons that decide them, in PostgreSQL.
//!
//! Several daemons may plan the same schedule at once: `UNIQUE (schedule, fire_time)` decides
//! which of them records a slot (`INSERT … ON CONFLICT DO NOTHING RETURNING id`: a racing
//! insert waits for the first one's transaction and then inserts nothing), and only the one
//! that inserted the slot makes its run. A watermark moves only forward, in one conditional
//! upsert.

use super::runs::insert_run;
use super::*;

pub(super) fn slot_row(row: &PgRow) -> Result<SlotRow, StoreError> {
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

pub(super) fn daemon_row(row: &PgRow) -> Result<DaemonRow, StoreError> {
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
    pg: &mut Pg,
    slots: &[NewSlot],
    mut watermarks: Vec<(String, DateTime<Utc>)>,
) -> Result<Vec<Option<i64>>, Fail> {
    // In the caller's order, as SQLite does: slot and run ids follow it.
    let mut made = Vec::with_capacity(slots.len());
    for s in slots {
        let inserted = pg.fetch_optional(
            q(
                "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, \
                     decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (schedule, fire_time) DO NOTHING RETURNING id",
            )
            .bind(s.schedule.clone())
            .bind(s.job.clone())
            .bind(s.fire_time)
            .bind(s.due_at)
            .bind(s.outcome.as_str())
            .bind(s.reason.clone())
            .bind(s.decided_at),
        )?;
        let slot_id: Option<i64> = inserted.as_ref().map(|r| col(r, "id")).transpose()?;
        let run_id = if let (Some(slot_id), Some(run)) = (slot_id, &s.run) {
            let run_id = insert_run(pg, run)?;
            pg.execute(
                q("UPDATE slots SET run_id = $1 WHERE id = $2")
                    .bind(run_id)
                    .bind(slot_id),
            )?;
            Some(run_id)
        } else {
            None
        };
        made.push(run_id);
    }
    // One order of keys whatever order the caller gave, so two daemons moving the
    // same watermarks wait for each other rather than deadlock.
    watermarks.sort_by(|a, b| a.0.cmp(&b.0));
    for (schedule, through) in watermarks {
        pg.execute(
            q(
                "INSERT INTO watermarks (schedule, through) VALUES ($1, $2) \
                     ON CONFLICT (schedule) DO UPDATE SET through = excluded.through \
                     WHERE excluded.through > watermarks.through",
            )
            .bind(schedule)
            .bind(through),
        )?;
    }
    Ok(made)
}

impl SlotStore for PgStore {
    fn record_slots(
        &self,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        let (slots, watermarks) = (slots.to_vec(), watermarks.to_vec());
        self.write("recording slots", move |pg| {
            insert_slots(pg, &slots, watermarks)
        })
    }

    fn watermarks(&self) -> Pending<Vec<(String, DateTime<Utc>)>> {
        self.read("reading watermarks", move |pg| {
            let rows = pg.fetch_all(q("SELECT schedule, through FROM watermarks"))?;
            map_all(rows, |r| Ok((col(r, "schedule")?, time(r, "through")?)))
        })
    }

    fn list_slots(&self, schedule: Option<&str>, limit: i64) -> Pending<Vec<SlotRow>> {
        let schedule = schedule.map(str::to_owned);
        self.read("listing slots", move |pg| {
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM slots WHERE ($1::text IS NULL OR schedule = $1) \
                     ORDER BY fire_time DESC, id DESC LIMIT $2",
                )
                .bind(schedule)
                .bind(limit),
            )?;
            map_all(rows, slot_row)
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
        self.write("registering the daemon", move |pg| {
            let row = pg.fetch_one(
                q(
                    "INSERT INTO daemons (host, pid, version, started_at, heartbeat_at) \
                     VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(host)
                .bind(i64::from(pid))
                .bind(version)
                .bind(at),
            )?;
            Ok(col(&row, "id")?)
        })
    }

    fn heartbeat(&self, daemon_id: i64, at: DateTime<Utc>, stopped: bool) -> Pending<()> {
        self.write("recording the daemon's heartbeat", move |pg| {
            let stopped_at = stopped.then_some(at);
            pg.execute(
                q("UPDATE daemons SET heartbeat_at = $1, \
                   stopped_at = COALESCE($2, stopped_at) WHERE id = $3")
                .bind(at)
                .bind(stopped_at)
                .bind(daemon_id),
            )?;
            Ok(())
        })
    }

    fn daemons(&self, limit: i64) -> Pending<Vec<DaemonRow>> {
        self.read("listing daemons", move |pg| {
            let rows =
                pg.fetch_all(q("SELECT * FROM daemons ORDER BY id DESC LIMIT $1").bind(limit))?;
            map_all(rows, daemon_row)
        })
    }
}
