//! The monitoring's records in PostgreSQL: the due time of a run's slot, a job's last
//! successful durations, and the `findings` table (one row per run and kind, written once:
//! `UNIQUE (run_id, kind)` decides between racing watchers).

use super::*;

pub(super) fn finding_row(row: &PgRow) -> Result<FindingRow, StoreError> {
    Ok(FindingRow {
        id: col(row, "id")?,
        run_id: col(row, "run_id")?,
        job: col(row, "job")?,
        step: col(row, "step")?,
        kind: col(row, "kind")?,
        at: time(row, "at")?,
        business_date: date(row, "business_date")?,
        deadline: opt_time(row, "deadline")?,
        observed: col(row, "observed")?,
        expected: col(row, "expected")?,
        spread: col(row, "spread")?,
        samples: col(row, "samples")?,
        day_class: col(row, "day_class")?,
        detail: col(row, "detail")?,
        incident_id: col(row, "incident_id")?,
    })
}

impl MonitorStore for PgStore {
    fn slot_due_at(&self, run_id: i64) -> Pending<Option<DateTime<Utc>>> {
        self.read("reading the slot of a run", move |pg| {
            let row = pg.fetch_optional(
                q("SELECT due_at FROM slots WHERE run_id = $1 ORDER BY id LIMIT 1").bind(run_id),
            )?;
            Ok(row.as_ref().map(|r| time(r, "due_at")).transpose()?)
        })
    }

    fn recent_durations(&self, job: &str, before: i64, limit: i64) -> Pending<Vec<DurationSample>> {
        let job = job.to_owned();
        self.read("reading durations", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT id, business_date, started_at, ended_at FROM runs \
                   WHERE job = $1 AND id < $2 AND status = 'succeeded' \
                   AND started_at IS NOT NULL AND ended_at IS NOT NULL \
                   ORDER BY id DESC LIMIT $3")
                .bind(job)
                .bind(before)
                .bind(limit),
            )?;
            map_all(rows, |r| {
                let took = time(r, "ended_at")? - time(r, "started_at")?;
                Ok(DurationSample {
                    run_id: col(r, "id")?,
                    business_date: date(r, "business_date")?,
                    seconds: took.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
                })
            })
        })
    }

    fn record_finding(&self, f: &NewFinding) -> Pending<bool> {
        let f = f.clone();
        self.write("recording a finding", move |pg| {
            let n = pg.execute(
                q(
                    "INSERT INTO findings (run_id, job, step, kind, at, business_date, deadline, \
                     observed, expected, spread, samples, day_class, detail) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
                     ON CONFLICT (run_id, kind) DO NOTHING",
                )
                .bind(f.run_id)
                .bind(f.job)
                .bind(f.step)
                .bind(f.kind.token())
                .bind(f.at)
                .bind(f.business_date)
                .bind(f.deadline)
                .bind(f.observed)
                .bind(f.expected)
                .bind(f.spread)
                .bind(f.samples)
                .bind(f.day_class.map(|d| d.token()))
                .bind(f.detail),
            )?;
            Ok(n == 1)
        })
    }

    fn set_finding_incident(&self, run_id: i64, kind: &str, incident_id: i64) -> Pending<()> {
        let kind = kind.to_owned();
        self.write("noting a finding's incident", move |pg| {
            pg.execute(
                q("UPDATE findings SET incident_id = $1 WHERE run_id = $2 AND kind = $3")
                    .bind(incident_id)
                    .bind(run_id)
                    .bind(kind),
            )?;
            Ok(())
        })
    }

    fn run_findings(&self, run_id: i64) -> Pending<Vec<FindingRow>> {
        self.read("reading a run's findings", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM findings WHERE run_id = $1 ORDER BY at, id").bind(run_id),
            )?;
            map_all(rows, finding_row)
        })
    }

    fn list_findings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<Vec<FindingRow>> {
        self.read("reading findings", move |pg| {
            let rows = pg.fetch_all(
                q("SELECT * FROM findings WHERE at >= $1 AND at < $2 ORDER BY at, id")
                    .bind(from)
                    .bind(to),
            )?;
            map_all(rows, finding_row)
        })
    }
}
