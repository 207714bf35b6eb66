//! What Today reads of a business date, in PostgreSQL (indexes `runs_business_date` and
//! `runs_business_date_id`, migration 0009; the planner chooses with its statistics).

use super::runs::run_row;
use super::slots::slot_row;
use super::*;

/// A run's node: the host of the daemon that owns it (its owner token is `HOST:PID:START`),
/// else the host that queued it.
macro_rules! node {
    () => {
        "COALESCE(CASE WHEN strpos(owner, ':') > 0 THEN split_part(owner, ':', 1) \
         ELSE owner END, host)"
    };
}

impl DayStore for PgStore {
    fn business_day(&self, filter: &DayFilter) -> Pending<BusinessDay> {
        let f = filter.clone();
        self.read("reading the runs of a business date", move |pg| {
            let rows = pg.fetch_all(
                q(concat!(
                    "SELECT status, ",
                    node!(),
                    " AS node, COUNT(*) AS n FROM runs \
                     WHERE business_date = $1 GROUP BY status, node ORDER BY status, node"
                ))
                .bind(f.date),
            )?;
            let counts = map_all(rows, |r| {
                Ok(DayCount {
                    status: token(r, "status")?,
                    node: col(r, "node")?,
                    runs: col(r, "n")?,
                })
            })?;
            let statuses: Vec<String> = f.statuses.iter().map(|s| s.as_str().to_owned()).collect();
            let rows = pg.fetch_all(
                q(concat!(
                    "SELECT * FROM runs WHERE business_date = $1 \
                     AND (cardinality($2::text[]) = 0 OR status = ANY ($2)) \
                     AND ($3::text IS NULL OR ",
                    node!(),
                    " = $3) ORDER BY id DESC LIMIT $4"
                ))
                .bind(f.date)
                .bind(statuses)
                .bind(f.node)
                .bind(f.limit),
            )?;
            Ok(BusinessDay {
                counts,
                runs: map_all(rows, run_row)?,
            })
        })
    }

    fn missed_slots(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: i64,
    ) -> Pending<MissedSlots> {
        self.read("reading missed slots", move |pg| {
            let row = pg.fetch_one(
                q("SELECT COUNT(*) AS n FROM slots \
                   WHERE outcome = 'missed' AND due_at >= $1 AND due_at < $2")
                .bind(from)
                .bind(to),
            )?;
            let count: i64 = col(&row, "n")?;
            let rows = pg.fetch_all(
                q(
                    "SELECT * FROM slots WHERE outcome = 'missed' AND due_at >= $1 AND due_at < $2 \
                   ORDER BY due_at, id LIMIT $3",
                )
                .bind(from)
                .bind(to)
                .bind(limit),
            )?;
            Ok(MissedSlots {
                count,
                slots: map_all(rows, slot_row)?,
            })
        })
    }
}
