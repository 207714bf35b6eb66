//! What Today reads of a business date, in SQLite (migration 0032): the date's runs counted
//! from the index `runs_business_date` alone, listed through it or `runs_business_date_id`,
//! without reading the other days' runs.

use super::slots::slot_row;
use super::*;

/// A run's node: the host of the daemon that owns it (its owner token is `HOST:PID:START`),
/// else the host that queued it.
const NODE: &str = "COALESCE(CASE WHEN instr(owner, ':') > 0 \
                    THEN substr(owner, 1, instr(owner, ':') - 1) ELSE owner END, host)";

/// A filter that keeps fewer than one run in this many of the date's is read through the
/// status index.
const RARE: i64 = 10;

/// `?, ?, …`: one placeholder for each of `n` values.
fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

impl DayStore for SqliteStore {
    fn business_day(&self, filter: &DayFilter) -> Pending<BusinessDay> {
        let f = filter.clone();
        self.read(move |c| {
            let date = f.date.format("%Y-%m-%d").to_string();
            let counts = all(
                c,
                "counting the runs of a business date",
                &format!(
                    "SELECT status, {NODE} AS node, COUNT(*) AS n FROM runs \
                     WHERE business_date = ? GROUP BY status, node ORDER BY status, node"
                ),
                [&date],
                |row| {
                    Ok(DayCount {
                        status: token(row, "status")?,
                        node: col(row, "node")?,
                        runs: col(row, "n")?,
                    })
                },
            )?;
            let statuses = if f.statuses.is_empty() {
                String::new()
            } else {
                format!(" AND status IN ({})", placeholders(f.statuses.len()))
            };
            let node = if f.node.is_some() {
                format!(" AND {NODE} = ?")
            } else {
                String::new()
            };
            // The counts say how many runs the filter keeps: a few (a status that is rare)
            // are found through the status index and sorted; many, by walking the date's
            // runs newest first until the limit. SQLite, without statistics, would walk the
            // whole date for a rare status.
            let day = BusinessDay {
                counts,
                runs: Vec::new(),
            };
            let total: i64 = day.counts.iter().map(|c| c.runs).sum();
            let index = if !f.statuses.is_empty() && day.matching(&f) * RARE < total {
                "runs_business_date"
            } else {
                "runs_business_date_id"
            };
            let sql = format!(
                "SELECT * FROM runs INDEXED BY {index} WHERE business_date = ?{statuses}{node} \
                 ORDER BY id DESC LIMIT ?"
            );
            let mut args: Vec<rusqlite::types::Value> = vec![date.into()];
            args.extend(f.statuses.iter().map(|s| s.as_str().to_owned().into()));
            args.extend(f.node.iter().map(|n| n.clone().into()));
            args.push(f.limit.into());
            let runs = all(
                c,
                "listing the runs of a business date",
                &sql,
                rusqlite::params_from_iter(args),
                run_row,
            )?;
            Ok(BusinessDay { runs, ..day })
        })
    }

    fn missed_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Pending<MissedSlots> {
        self.read(move |c| {
            let count: i64 = c
                .prepare_cached(
                    "SELECT COUNT(*) FROM slots \
                     WHERE outcome = 'missed' AND due_at >= ? AND due_at < ?",
                )
                .and_then(|mut s| s.query_row(params![ts(from), ts(to)], |r| r.get(0)))
                .map_err(query_err("counting missed slots"))?;
            let slots = all(
                c,
                "listing missed slots",
                "SELECT * FROM slots WHERE outcome = 'missed' AND due_at >= ? AND due_at < ? \
                 ORDER BY due_at, id LIMIT ?",
                params![ts(from), ts(to), limit],
                slot_row,
            )?;
            Ok(MissedSlots { count, slots })
        })
    }
}
