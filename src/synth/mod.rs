//! Synthetic history: a plausible month of runs written straight into a unyo SQLite database,
//! for the monthly report's golden tests and its benchmark (`unyo synth-history`).
//!
//! A month holds the shipped jobs on their shipped schedules (health checks every 30 minutes,
//! the nightly backup, the disk report on business days, log cleanup, HR transfers on 1 April
//! and 1 October, the fiscal-year rollover on 1 April), operators' ad-hoc extracts and
//! parameter changes, manual runs and reruns, two daemon outages (missed slots, catch-ups,
//! interrupted runs), failures with their runbook retries and incidents (acknowledged,
//! resolved, some after their report deadline), and, to reach the requested number of runs,
//! generated `batch-NNN` jobs. Two job definitions change mid-month, so `job_digest` and
//! `catalog_digest` change with them.
//!
//! Everything follows from the [`Spec`]: a seeded generator, no clock, no hash-map order, so
//! the same spec writes the same rows. Only `schema_migrations.applied_at` (when the schema
//! was created) differs between two databases. Nothing here writes SQL: the runs go through
//! the store's [`HistoryStore`] (each run whole, as the engine's calls would have left it,
//! all in one transaction), everything else through the [`crate::store::Store`] methods the
//! daemon and the operator commands use, so the rows hold the store's tokens, times, and
//! incident and notification rules. This module writes into a database that holds no runs
//! yet, and only then.

mod batch;
mod effects;
mod incidents;
mod jobs;
mod plan;
mod records;
mod runs;
mod simulate;

use std::path::{Path, PathBuf};
use std::time::Instant;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::store::SqliteStore;
use crate::store::bulk::HistoryStore;

pub(crate) type Us = i64;
pub(crate) const MS: Us = 1_000;
pub(crate) const SEC: Us = 1_000_000;
pub(crate) const MIN: Us = 60 * SEC;
pub(crate) const HOUR: Us = 60 * MIN;
pub(crate) const DAY: Us = 24 * HOUR;

/// What to generate.
#[derive(Debug, Clone)]
pub struct Spec {
    /// The month: (year, month 1-12).
    pub month: (i32, u32),
    /// Exactly this many runs.
    pub runs: u64,
    pub seed: u64,
    /// The zone the schedules and business dates follow.
    pub timezone: Tz,
    /// Where the operating day starts (business dates).
    pub day_start: NaiveTime,
    /// The first month of the fiscal year.
    pub fiscal_year_start: u32,
    /// The root, data and log folders that commands and log paths name.
    pub root: PathBuf,
    pub data_dir: PathBuf,
    pub log_dir: PathBuf,
    /// The operations server's host name.
    pub host: String,
}

impl Spec {
    /// A spec with unyo's defaults: Asia/Tokyo, the day starting at midnight, the fiscal year
    /// in April, an installation under `/srv/unyo` on host `ops01`.
    pub fn new(month: (i32, u32), runs: u64, seed: u64) -> Spec {
        Spec {
            month,
            runs,
            seed,
            timezone: chrono_tz::Asia::Tokyo,
            day_start: NaiveTime::MIN,
            fiscal_year_start: 4,
            root: PathBuf::from("/srv/unyo"),
            data_dir: PathBuf::from("/srv/unyo/var"),
            log_dir: PathBuf::from("/srv/unyo/var/log"),
            host: "ops01".to_owned(),
        }
    }
}

/// What was written.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Summary {
    pub runs: u64,
    pub steps: u64,
    pub attempts: u64,
    pub slots: u64,
    pub incidents: u64,
    pub incident_events: u64,
    pub extracts: u64,
    pub param_changes: u64,
    pub permission_changes: u64,
    pub audit: u64,
    /// Wall-clock seconds the generation took (not part of the data).
    pub seconds: f64,
}

/// Why nothing (or not everything) was generated.
#[derive(Debug, thiserror::Error)]
pub enum SynthError {
    #[error("month {year}-{month:02} is not a month unyo can generate (years 2000-2099)")]
    Month { year: i32, month: u32 },
    #[error(
        "{runs} runs are too few for a month of the shipped jobs' schedules: at least {minimum} \
         are needed"
    )]
    TooFewRuns { runs: u64, minimum: u64 },
    #[error("{runs} runs are too many for one month (at most {maximum})")]
    TooManyRuns { runs: u64, maximum: u64 },
    #[error(
        "database {} holds {runs} runs already; synthetic history goes only into a database \
         without runs (point --root at a new folder)",
        .database.display()
    )]
    NotEmpty { database: PathBuf, runs: i64 },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// At most this many runs in a month: more would put a generated job's slots less than a
/// second apart.
pub const MAX_RUNS: u64 = 200_000_000;

/// Opens (or creates, applying unyo's migrations) the SQLite database `db` and writes the
/// month `spec` describes into it. Refused when the database holds runs already.
pub async fn generate(db: &Path, spec: &Spec) -> Result<Summary, SynthError> {
    let began = Instant::now();
    let (year, month) = spec.month;
    let bounds = Month::new(year, month, spec.timezone).ok_or(SynthError::Month { year, month })?;
    if spec.runs > MAX_RUNS {
        return Err(SynthError::TooManyRuns {
            runs: spec.runs,
            maximum: MAX_RUNS,
        });
    }
    let plan = plan::plan(spec, &bounds)?;
    let store = SqliteStore::open(db).await?;
    let mut summary = write(&store, db, spec, bounds, plan).await?;
    summary.seconds = began.elapsed().as_secs_f64();
    Ok(summary)
}

/// Writes a planned month into `store`, which must hold no runs: the runs and slots in one
/// transaction, then what they left (incidents, side records, watermarks, daemons).
async fn write<S: HistoryStore>(
    store: &S,
    db: &Path,
    spec: &Spec,
    bounds: Month,
    plan: plan::Plan,
) -> Result<Summary, SynthError> {
    let existing = store.count_runs().await?;
    if existing > 0 {
        return Err(SynthError::NotEmpty {
            database: db.to_path_buf(),
            runs: existing,
        });
    }
    let owned = spec.clone();
    let (carried, spec_back, bounds, plan) = store
        .write_history("writing a synthetic month's runs", move |past| {
            let carried = runs::write_runs(past, &owned, &bounds, &plan)?;
            Ok((carried, owned, bounds, plan))
        })
        .await?;
    let mut w = runs::Writer::resume(&spec_back, &bounds, &plan, carried);
    w.incidents(store).await?;
    w.side_records(store).await?;
    w.daemons(store).await?;
    Ok(w.summary)
}

/// The month's bounds and its days, in the spec's zone.
#[derive(Debug, Clone)]
pub(crate) struct Month {
    pub year: i32,
    pub month: u32,
    pub tz: Tz,
    /// Local midnight of the 1st, and of the 1st of the next month.
    pub start: Us,
    pub end: Us,
    pub days: Vec<NaiveDate>,
}

impl Month {
    fn new(year: i32, month: u32, tz: Tz) -> Option<Month> {
        if !(2000..=2099).contains(&year) {
            return None;
        }
        let first = NaiveDate::from_ymd_opt(year, month, 1)?;
        let next = if month == 12 {
            NaiveDate::from_ymd_opt(year + 1, 1, 1)?
        } else {
            NaiveDate::from_ymd_opt(year, month + 1, 1)?
        };
        let days: Vec<NaiveDate> = first.iter_days().take_while(|d| *d < next).collect();
        Some(Month {
            year,
            month,
            tz,
            start: local(tz, first, 0, 0, 0),
            end: local(tz, next, 0, 0, 0),
            days,
        })
    }

    /// The instant of a local time on a date.
    pub fn at(&self, date: NaiveDate, h: u32, m: u32, s: u32) -> Us {
        local(self.tz, date, h, m, s)
    }

    /// A time as the planner shows it in reasons: `2026-10-09 02:00`.
    pub fn show(&self, t: Us) -> String {
        utc(t)
            .with_timezone(&self.tz)
            .format("%Y-%m-%d %H:%M")
            .to_string()
    }

    /// The local date and hour-minute of an instant.
    pub fn local_date(&self, t: Us) -> NaiveDate {
        utc(t).with_timezone(&self.tz).date_naive()
    }

    pub fn local_minutes(&self, t: Us) -> u32 {
        use chrono::Timelike;
        let l = utc(t).with_timezone(&self.tz);
        l.hour() * 60 + l.minute()
    }
}

fn local(tz: Tz, date: NaiveDate, h: u32, m: u32, s: u32) -> Us {
    let naive = date
        .and_hms_opt(h, m, s)
        .unwrap_or_else(|| date.and_time(NaiveTime::MIN));
    tz.from_local_datetime(&naive)
        .earliest()
        .unwrap_or_else(|| Utc.from_utc_datetime(&naive).with_timezone(&tz))
        .timestamp_micros()
}

pub(crate) fn utc(t: Us) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t).unwrap_or_default()
}

/// Formats an instant exactly as the store does (`ts`): RFC 3339, UTC, microseconds, `Z`.
/// Written out by hand because the generator formats tens of millions of them.
pub(crate) fn ts(t: Us) -> String {
    let secs = t.div_euclid(SEC);
    let micros = t.rem_euclid(SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}Z",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (Howard Hinnant's civil_from_days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// splitmix64: small, fast and the same everywhere.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// A generator for one thing (`what`, `n`) of the month, independent of the order in
    /// which things are generated.
    pub fn for_item(seed: u64, what: u64, n: u64) -> Rng {
        let mut r = Rng(seed ^ what.wrapping_mul(0xd1b5_4a32_d192_ed03));
        r.0 ^= r.next().wrapping_add(n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        r
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        if hi <= lo {
            return lo;
        }
        lo + self.below((hi - lo + 1) as u64) as i64
    }

    /// A fraction in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize % items.len().max(1)]
    }

    /// `base` varied by a factor between `1 - spread` and `1 + spread`, skewed to longer.
    pub fn vary(&mut self, base: Us, spread: f64) -> Us {
        let f = 1.0 - spread + 2.0 * spread * self.unit() * self.unit().sqrt();
        ((base as f64) * f.max(0.05)) as Us
    }
}

#[cfg(test)]
mod tests;
