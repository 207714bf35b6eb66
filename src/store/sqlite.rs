//! The SQLite store: one file, WAL journal, `BEGIN IMMEDIATE` for every write so that
//! concurrent writers wait on the busy timeout instead of failing on a lock upgrade.
//!
//! `synchronous = NORMAL` in WAL mode: a commit survives a crash of unyo or of a step, and
//! the last commits may be lost only if the machine itself loses power.

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteRow,
    SqliteSynchronous,
};
use sqlx::{Row, Sqlite, Transaction};

use super::*;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");

/// A store in one SQLite file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
}

fn q(action: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| StoreError::Query { action, source }
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let open_err = |source| StoreError::Open {
            database: format!("sqlite:{}", path.display()),
            source,
        };
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
        }
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(30))
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await
            .map_err(open_err)?;
        // Two processes opening a new database at once would both create its tables: the
        // migration runs under an exclusive lock on a file beside the database.
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        let lock = tokio::task::spawn_blocking(move || {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&lock_path)?;
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
                .map_err(|(_, errno)| std::io::Error::from(errno))
        })
        .await
        .map_err(|e| open_err(sqlx::Error::Io(std::io::Error::other(e))))?
        .map_err(|e| open_err(sqlx::Error::Io(e)))?;
        let migrated = MIGRATOR.run(&pool).await;
        drop(lock);
        migrated.map_err(StoreError::Migrate)?;
        Ok(SqliteStore { pool })
    }

    async fn write(&self) -> Result<Transaction<'static, Sqlite>, StoreError> {
        self.pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(q("starting a write transaction"))
    }
}

fn parse<T: FromStr<Err = String>>(row: &SqliteRow, col: &str) -> Result<T, StoreError> {
    let text: String = row.try_get(col).map_err(q("reading a row"))?;
    text.parse().map_err(StoreError::Corrupt)
}

fn json(row: &SqliteRow, col: &str) -> Result<serde_json::Value, StoreError> {
    let text: String = row.try_get(col).map_err(q("reading a row"))?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
}

fn get<'r, T: sqlx::Decode<'r, Sqlite> + sqlx::Type<Sqlite>>(
    row: &'r SqliteRow,
    col: &str,
) -> Result<T, StoreError> {
    row.try_get(col).map_err(q("reading a row"))
}

fn run_row(row: &SqliteRow) -> Result<RunRow, StoreError> {
    let date: String = get(row, "business_date")?;
    Ok(RunRow {
        id: get(row, "id")?,
        job: get(row, "job")?,
        trigger: parse(row, "trigger")?,
        params: json(row, "params")?,
        status: parse(row, "status")?,
        reason: get(row, "reason")?,
        business_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(format!("business_date `{date}`: {e}")))?,
        fiscal_year: get(row, "fiscal_year")?,
        queued_at: get(row, "queued_at")?,
        started_at: get(row, "started_at")?,
        ended_at: get(row, "ended_at")?,
        requested_by: get(row, "requested_by")?,
        host: get(row, "host")?,
        job_digest: get(row, "job_digest")?,
        catalog_digest: get(row, "catalog_digest")?,
    })
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_run(&self, run: &NewRun) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        let started = (run.status == RunStatus::Running).then_some(run.at);
        let id: i64 = sqlx::query(
            "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, \
             queued_at, started_at, requested_by, host, job_digest, catalog_digest) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(&run.job)
        .bind(run.trigger.as_str())
        .bind(run.params.to_string())
        .bind(run.status.as_str())
        .bind(run.business_date.format("%Y-%m-%d").to_string())
        .bind(run.fiscal_year)
        .bind(run.at)
        .bind(started)
        .bind(&run.requested_by)
        .bind(&run.host)
        .bind(&run.job_digest)
        .bind(&run.catalog_digest)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(q("recording a run"))?;
        for (i, step) in run.steps.iter().enumerate() {
            sqlx::query("INSERT INTO steps (run_id, name, position, status) VALUES (?, ?, ?, ?)")
                .bind(id)
                .bind(step)
                .bind(i as i64)
                .bind(StepStatus::Pending.as_str())
                .execute(&mut *tx)
                .await
                .map_err(q("recording the steps of a run"))?;
        }
        tx.commit().await.map_err(q("committing a new run"))?;
        Ok(id)
    }

    async fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE runs SET status = ?, reason = COALESCE(?, reason), \
             started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) ELSE started_at END, \
             ended_at = CASE WHEN ? THEN ? ELSE ended_at END WHERE id = ?",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(status.as_str())
        .bind(at)
        .bind(status.is_final())
        .bind(at)
        .bind(run_id)
        .execute(&mut *tx)
        .await
        .map_err(q("updating a run"))?;
        tx.commit().await.map_err(q("committing a run update"))
    }

    async fn start_attempt(&self, a: &NewAttempt) -> Result<i64, StoreError> {
        let mut tx = self.write().await?;
        let id: i64 = sqlx::query(
            "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, started_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(a.run_id)
        .bind(&a.step)
        .bind(a.attempt)
        .bind(AttemptStatus::Running.as_str())
        .bind(a.command.to_string())
        .bind(&a.log_path)
        .bind(a.started_at)
        .fetch_one(&mut *tx)
        .await
        .and_then(|r| r.try_get(0))
        .map_err(q("recording an attempt"))?;
        sqlx::query(
            "UPDATE steps SET status = ?, attempts = ?, started_at = COALESCE(started_at, ?) \
             WHERE run_id = ? AND name = ?",
        )
        .bind(StepStatus::Running.as_str())
        .bind(a.attempt)
        .bind(a.started_at)
        .bind(a.run_id)
        .bind(&a.step)
        .execute(&mut *tx)
        .await
        .map_err(q("marking a step running"))?;
        tx.commit().await.map_err(q("committing an attempt"))?;
        Ok(id)
    }

    async fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query("UPDATE attempts SET pid = ? WHERE id = ?")
            .bind(i64::from(pid))
            .bind(attempt_id)
            .execute(&mut *tx)
            .await
            .map_err(q("recording a process id"))?;
        tx.commit().await.map_err(q("committing a process id"))
    }

    async fn finish_attempt(&self, attempt_id: i64, e: &AttemptEnd) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let row = sqlx::query(
            "UPDATE attempts SET status = ?, ended_at = ?, exit_code = ?, signal = ?, error = ?, \
             stdout_tail = ?, stderr_tail = ?, log_bytes = ?, log_dropped = ? WHERE id = ? \
             RETURNING run_id, step",
        )
        .bind(e.status.as_str())
        .bind(e.ended_at)
        .bind(e.exit_code)
        .bind(e.signal)
        .bind(&e.error)
        .bind(&e.stdout_tail)
        .bind(&e.stderr_tail)
        .bind(e.log_bytes)
        .bind(e.log_dropped)
        .bind(attempt_id)
        .fetch_one(&mut *tx)
        .await
        .map_err(q("recording the end of an attempt"))?;
        let run_id: i64 = get(&row, "run_id")?;
        let step: String = get(&row, "step")?;
        let ended = (e.step_status != StepStatus::Running).then_some(e.ended_at);
        sqlx::query(
            "UPDATE steps SET status = ?, reason = ?, ended_at = ? WHERE run_id = ? AND name = ?",
        )
        .bind(e.step_status.as_str())
        .bind(&e.step_reason)
        .bind(ended)
        .bind(run_id)
        .bind(&step)
        .execute(&mut *tx)
        .await
        .map_err(q("updating a step"))?;
        tx.commit()
            .await
            .map_err(q("committing the end of an attempt"))
    }

    async fn end_step(
        &self,
        run_id: i64,
        step: &str,
        status: StepStatus,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        sqlx::query(
            "UPDATE steps SET status = ?, reason = ?, ended_at = ? WHERE run_id = ? AND name = ?",
        )
        .bind(status.as_str())
        .bind(reason)
        .bind(at)
        .bind(run_id)
        .bind(step)
        .execute(&mut *tx)
        .await
        .map_err(q("ending a step"))?;
        tx.commit().await.map_err(q("committing a step"))
    }

    async fn list_runs(&self, f: &RunFilter) -> Result<Vec<RunRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT * FROM runs WHERE (? IS NULL OR job = ?) AND (? IS NULL OR status = ?) \
             ORDER BY id DESC LIMIT ?",
        )
        .bind(&f.job)
        .bind(&f.job)
        .bind(f.status.map(RunStatus::as_str))
        .bind(f.status.map(RunStatus::as_str))
        .bind(f.limit)
        .fetch_all(&self.pool)
        .await
        .map_err(q("listing runs"))?;
        rows.iter().map(run_row).collect()
    }

    async fn get_run(&self, run_id: i64) -> Result<Option<RunDetail>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_optional(&self.pool)
            .await
            .map_err(q("reading a run"))?
        else {
            return Ok(None);
        };
        let run = run_row(&row)?;
        let steps = sqlx::query("SELECT * FROM steps WHERE run_id = ? ORDER BY position")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading steps"))?
            .iter()
            .map(|r| {
                Ok(StepRow {
                    name: get(r, "name")?,
                    position: get(r, "position")?,
                    status: parse(r, "status")?,
                    reason: get(r, "reason")?,
                    attempts: get(r, "attempts")?,
                    started_at: get(r, "started_at")?,
                    ended_at: get(r, "ended_at")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let attempts = sqlx::query("SELECT * FROM attempts WHERE run_id = ? ORDER BY id")
            .bind(run_id)
            .fetch_all(&self.pool)
            .await
            .map_err(q("reading attempts"))?
            .iter()
            .map(|r| {
                Ok(AttemptRow {
                    id: get(r, "id")?,
                    step: get(r, "step")?,
                    attempt: get(r, "attempt")?,
                    status: parse(r, "status")?,
                    command: json(r, "command")?,
                    log_path: get(r, "log_path")?,
                    pid: get(r, "pid")?,
                    started_at: get(r, "started_at")?,
                    ended_at: get(r, "ended_at")?,
                    exit_code: get(r, "exit_code")?,
                    signal: get(r, "signal")?,
                    error: get(r, "error")?,
                    stdout_tail: get(r, "stdout_tail")?,
                    stderr_tail: get(r, "stderr_tail")?,
                    log_bytes: get(r, "log_bytes")?,
                    log_dropped: get(r, "log_dropped")?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Some(RunDetail {
            run,
            steps,
            attempts,
        }))
    }
}
