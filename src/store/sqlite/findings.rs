//! The monitoring's records in SQLite: the due time of a run's slot, a job's last
//! successful durations, and the `findings` table (one row per run and kind, written once).

use super::*;

pub(super) fn finding_row(row: &Row<'_>) -> Result<FindingRow, StoreError> {
    let date: String = col(row, "business_date")?;
    Ok(FindingRow {
        id: col(row, "id")?,
        run_id: col(row, "run_id")?,
        job: col(row, "job")?,
        step: col(row, "step")?,
        kind: col(row, "kind")?,
        at: time(row, "at")?,
        business_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(format!("business_date `{date}`: {e}")))?,
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

impl MonitorStore for SqliteStore {
    fn slot_due_at(&self, run_id: i64) -> Pending<Option<DateTime<Utc>>> {
        self.read(move |c| {
            let mut found = all(
                c,
                "reading the slot of a run",
                "SELECT due_at FROM slots WHERE run_id = ? ORDER BY id LIMIT 1",
                [run_id],
                |r| time(r, "due_at"),
            )?;
            Ok(found.pop())
        })
    }

    fn recent_durations(&self, job: &str, before: i64, limit: i64) -> Pending<Vec<DurationSample>> {
        let job = job.to_owned();
        self.read(move |c| {
            let rows = all(
                c,
                "reading durations",
                "SELECT id, business_date, started_at, ended_at FROM runs \
                 WHERE job = ? AND id < ? AND status = 'succeeded' \
                 AND started_at IS NOT NULL AND ended_at IS NOT NULL \
                 ORDER BY id DESC LIMIT ?",
                params![job, before, limit],
                |r| {
                    let date: String = col(r, "business_date")?;
                    let took = time(r, "ended_at")? - time(r, "started_at")?;
                    Ok(DurationSample {
                        run_id: col(r, "id")?,
                        business_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").map_err(
                            |e| StoreError::Corrupt(format!("business_date `{date}`: {e}")),
                        )?,
                        seconds: took.num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6,
                    })
                },
            )?;
            Ok(rows)
        })
    }

    fn record_finding(&self, f: &NewFinding) -> Pending<bool> {
        let f = f.clone();
        self.write("recording a finding", move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO findings (run_id, job, step, kind, at, business_date, deadline, \
                     observed, expected, spread, samples, day_class, detail) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (run_id, kind) DO NOTHING",
                )?
                .execute(params![
                    f.run_id,
                    f.job,
                    f.step,
                    f.kind.token(),
                    ts(f.at),
                    f.business_date.format("%Y-%m-%d").to_string(),
                    f.deadline.map(ts),
                    f.observed,
                    f.expected,
                    f.spread,
                    f.samples,
                    f.day_class.map(|d| d.token()),
                    f.detail,
                ])?;
            Ok(n == 1)
        })
    }

    fn set_finding_incident(&self, run_id: i64, kind: &str, incident_id: i64) -> Pending<()> {
        let kind = kind.to_owned();
        self.write("noting a finding's incident", move |c| {
            c.prepare_cached("UPDATE findings SET incident_id = ? WHERE run_id = ? AND kind = ?")?
                .execute(params![incident_id, run_id, kind])?;
            Ok(())
        })
    }

    fn run_findings(&self, run_id: i64) -> Pending<Vec<FindingRow>> {
        self.read(move |c| {
            all(
                c,
                "reading a run's findings",
                "SELECT * FROM findings WHERE run_id = ? ORDER BY at, id",
                [run_id],
                finding_row,
            )
        })
    }

    fn list_findings(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Pending<Vec<FindingRow>> {
        self.read(move |c| {
            all(
                c,
                "reading findings",
                "SELECT * FROM findings WHERE at >= ? AND at < ? ORDER BY at, id",
                params![ts(from), ts(to)],
                finding_row,
            )
        })
    }
}
