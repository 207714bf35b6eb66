//! The SQLite store: one file, WAL journal, one write connection used in the calling thread
//! and a read connection for queries.
//!
//! Writes are queued in the order they are called and committed in the calling thread: a
//! write's future yields once, so that the other tasks ready in the same turn of the
//! runtime can queue theirs, then commits everything queued in one transaction (group
//! commit; each write in its own savepoint, so one failing write fails alone). The future
//! resolves only after the commit, so "recorded" always means "on disk". When one step ends
//! and the next starts, the end and the start share one commit. A write takes a few tens of
//! microseconds, less than handing it to another thread and waiting for that thread to be
//! scheduled on a busy machine (BENCHMARKS.md measured both). Transactions start with
//! `BEGIN IMMEDIATE`, so another process writing the same file makes us wait on the busy
//! timeout (other writers hold the lock for milliseconds) instead of failing on a lock
//! upgrade. The write connection copies the WAL back into the database file whenever
//! the WAL reaches 1,000 pages (SQLite's default): one `fsync` every few hundred writes.
//!
//! `synchronous = NORMAL` in WAL mode: a commit survives a crash of unyo or of a step; the
//! last commits may be lost only if the machine itself loses power.

#[path = "sqlite_bulk.rs"]
mod bulk;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::*;

/// Migrations, applied in order; a version once released never changes (forward-only).
/// Versions need not be contiguous: every version listed here and not yet recorded in
/// `schema_migrations` is applied, so a migration merged from another branch with a lower
/// number than one applied already is still applied.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "runs",
        include_str!("../../migrations/sqlite/0001_runs.sql"),
    ),
    (
        2,
        "scheduler",
        include_str!("../../migrations/sqlite/0002_scheduler.sql"),
    ),
    (
        3,
        "incidents",
        include_str!("../../migrations/sqlite/0003_incidents.sql"),
    ),
    (
        4,
        "notifications",
        include_str!("../../migrations/sqlite/0004_notifications.sql"),
    ),
    (
        5,
        "audit",
        include_str!("../../migrations/sqlite/0005_audit.sql"),
    ),
    (
        6,
        "cancel",
        include_str!("../../migrations/sqlite/0006_cancel.sql"),
    ),
    (
        7,
        "holds",
        include_str!("../../migrations/sqlite/0007_holds.sql"),
    ),
    (
        8,
        "submit",
        include_str!("../../migrations/sqlite/0008_submit.sql"),
    ),
    (
        9,
        "gates",
        include_str!("../../migrations/sqlite/0009_gates.sql"),
    ),
    (
        10,
        "param_changes",
        include_str!("../../migrations/sqlite/0010_param_changes.sql"),
    ),
    (
        11,
        "extracts",
        include_str!("../../migrations/sqlite/0011_extracts.sql"),
    ),
    (
        12,
        "permission_changes",
        include_str!("../../migrations/sqlite/0012_permission_changes.sql"),
    ),
    (
        13,
        "report",
        include_str!("../../migrations/sqlite/0013_report.sql"),
    ),
    (
        14,
        "frozen_reports",
        include_str!("../../migrations/sqlite/0014_frozen_reports.sql"),
    ),
    (
        15,
        "superseded_reports",
        include_str!("../../migrations/sqlite/0015_superseded_reports.sql"),
    ),
    (
        17,
        "mask_secrets",
        include_str!("../../migrations/sqlite/0017_mask_secrets.sql"),
    ),
    (
        19,
        "signals",
        include_str!("../../migrations/sqlite/0019_signals.sql"),
    ),
    (
        20,
        "operator_time",
        include_str!("../../migrations/sqlite/0020_operator_time.sql"),
    ),
];

/// How long a write waits for another process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    /// The database file, to tell a full disk from other failures.
    path: Arc<PathBuf>,
    writer: Arc<Mutex<Connection>>,
    /// Writes called but not yet committed, in call order.
    queued: Arc<Mutex<Vec<QueuedWrite>>>,
    reader: Arc<Mutex<Connection>>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// A queued write: given the open transaction (or why it could not begin), it runs its
/// statements and returns what reports its outcome once the commit is known.
type QueuedWrite = Box<dyn FnOnce(Result<&Connection, &str>) -> Reply + Send>;
/// Reports a write's outcome, given the commit's.
type Reply = Box<dyn FnOnce(Result<(), &str>) + Send>;

fn query_err(action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| StoreError::Query {
        action,
        message: e.to_string(),
    }
}

/// Times are stored as RFC 3339 UTC text with microseconds, which sorts as it reads.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// A failure on a full disk becomes [`StoreError::DiskFull`], naming the file system.
pub(crate) fn classify(path: &Path, e: StoreError) -> StoreError {
    let detail = match &e {
        StoreError::Open { message, .. } => format!("opening it: {message}"),
        StoreError::Migrate(m) => format!("updating its schema: {m}"),
        StoreError::Query { action, message } => format!("{action}: {message}"),
        _ => return e,
    };
    let lower = detail.to_lowercase();
    let looks_full = ["disk i/o error", "disk is full", "no space left"]
        .iter()
        .any(|w| lower.contains(w));
    if !looks_full {
        return e;
    }
    match super::disk::full(path) {
        Some(full) => StoreError::DiskFull {
            file: path.display().to_string(),
            mount: full.mount.display().to_string(),
            detail,
        },
        None => e,
    }
}

/// A read-only connection to an existing database. `immutable` reads the file without
/// locks or the WAL index: the last resort on a full disk, where SQLite cannot even
/// create its shared-memory file.
fn connect_read(path: &Path, immutable: bool) -> rusqlite::Result<Connection> {
    use rusqlite::OpenFlags;
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(*b)),
        }
    }
    uri.push_str(if immutable {
        "?immutable=1"
    } else {
        "?mode=ro"
    });
    // Paths are bytes; a non-UTF-8 path is not expected under a unyo root, and would have
    // failed above as text anyway.
    let conn = Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// Whether every migration this unyo knows is recorded in the database.
fn schema_current(conn: &Connection) -> rusqlite::Result<bool> {
    let applied: std::collections::HashSet<i64> = conn
        .prepare("SELECT version FROM schema_migrations")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    Ok(MIGRATIONS.iter().all(|m| applied.contains(&m.0)))
}

fn connect(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // Switching a new file to WAL needs a lock that SQLite does not wait for: when another
    // process is opening the same new file at this moment, try again.
    let start = std::time::Instant::now();
    loop {
        match conn.pragma_update(None, "journal_mode", "WAL") {
            Ok(()) => break,
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && start.elapsed() < BUSY_TIMEOUT =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(e),
        }
    }
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(conn)
}

/// Applies pending migrations inside one `BEGIN IMMEDIATE` transaction, so two processes
/// opening a new database at once apply each migration exactly once.
fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let err = |e: rusqlite::Error| StoreError::Migrate(e.to_string());
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .map_err(err)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .map_err(err)?;
    let current: i64 = tx
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if current > newest {
        return Err(StoreError::Migrate(format!(
            "the database is at schema version {current}, newer than this unyo knows ({newest}); \
             use a newer unyo"
        )));
    }
    if current == 0 {
        let foreign: i64 = tx
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' \
                 AND name NOT IN ('schema_migrations', 'sqlite_sequence')",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        if foreign > 0 {
            return Err(StoreError::Migrate(
                "the file holds tables that unyo did not create; point `database:` in \
                 unyo.yaml at a new file, or move this one away"
                    .to_owned(),
            ));
        }
    }
    let applied: std::collections::HashSet<i64> = tx
        .prepare("SELECT version FROM schema_migrations")
        .and_then(|mut s| {
            s.query_map([], |r| r.get(0))?
                .collect::<rusqlite::Result<_>>()
        })
        .map_err(err)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        tx.execute_batch(sql).map_err(|e| {
            // SQLite's message quotes the whole script; its first line is the problem.
            let text = e.to_string();
            let first = text.split(" in ").next().unwrap_or(&text).to_owned();
            StoreError::Migrate(format!("migration {version} ({name}): {first}"))
        })?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
            params![version, name, ts(Utc::now())],
        )
        .map_err(err)?;
    }
    tx.commit().map_err(err)
}

/// A connection left unusable by an earlier failure in this process.
fn poisoned() -> StoreError {
    StoreError::Query {
        action: "using the database",
        message: "an earlier failure in this process left the connection unusable; \
                  run the command again"
            .to_owned(),
    }
}

/// A write whose reply was lost: its transaction never ran.
fn not_committed(action: &'static str) -> StoreError {
    StoreError::Query {
        action,
        message: "the write was not committed".to_owned(),
    }
}

/// Runs one queued write inside the shared transaction: its changes are undone alone when
/// it fails.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
) -> rusqlite::Result<T> {
    run_cached(conn, "SAVEPOINT write")?;
    match f(conn) {
        Ok(v) => {
            run_cached(conn, "RELEASE write")?;
            Ok(v)
        }
        Err(e) => {
            let _ = run_cached(conn, "ROLLBACK TO write");
            let _ = run_cached(conn, "RELEASE write");
            Err(e)
        }
    }
}

/// Runs a statement without parameters through the statement cache.
fn run_cached(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([]).map(|_| ())
}

/// Opens one connection to the database file (creating the file and its folder if needed),
/// set up as the store's own connections are, and applies pending migrations. The store
/// opens its write connection so; `synth` uses it to write in bulk.
pub(crate) fn open_migrated(path: &Path) -> Result<Connection, StoreError> {
    let open_err = |message: String| StoreError::Open {
        database: format!("sqlite:{}", path.display()),
        message,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| open_err(format!("cannot create {}: {e}", dir.display())))?;
    }
    let mut conn = connect(path).map_err(|e| open_err(e.to_string()))?;
    migrate(&mut conn)?;
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating if needed) the database file and applies pending migrations.
    pub async fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || SqliteStore::open_blocking(path))
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?
    }

    /// Opens an existing database read-only (see [`super::open_read`]); a missing file or
    /// a schema with migrations pending is opened as [`SqliteStore::open`] does. Its writes
    /// fail ("attempt to write a readonly database").
    pub async fn open_read(path: &Path) -> Result<SqliteStore, StoreError> {
        let path = path.to_path_buf();
        tokio::task::spawn_blocking(move || SqliteStore::open_read_blocking(path))
            .await
            .map_err(|e| StoreError::Migrate(e.to_string()))?
    }

    fn open_read_blocking(path: PathBuf) -> Result<SqliteStore, StoreError> {
        if !path.exists() {
            return SqliteStore::open_blocking(path);
        }
        let open_err = |e: rusqlite::Error| {
            classify(
                &path,
                StoreError::Open {
                    database: format!("sqlite:{}", path.display()),
                    message: e.to_string(),
                },
            )
        };
        let usable = |immutable: bool| {
            let conn = connect_read(&path, immutable)?;
            let current = schema_current(&conn)?;
            Ok::<_, rusqlite::Error>((conn, current))
        };
        let (conn, current) = match usable(false) {
            Ok(c) => c,
            Err(e) => match open_err(e) {
                // SQLite cannot make room for its WAL index: read the file as it is. What
                // the WAL holds is not seen; a WAL that is not empty is said.
                StoreError::DiskFull { .. } => {
                    let c = usable(true).map_err(open_err)?;
                    let mut wal = path.as_os_str().to_owned();
                    wal.push("-wal");
                    if std::fs::metadata(&wal).is_ok_and(|m| m.len() > 0) {
                        eprintln!(
                            "warning: the disk is full: {} is read without its write-ahead log, \
                             so the latest changes may be missing",
                            path.display()
                        );
                    }
                    c
                }
                // Anything else (a database another process is creating right now, without
                // its tables yet): open it as a writer does, which waits for that.
                _ => return SqliteStore::open_blocking(path),
            },
        };
        if !current {
            drop(conn);
            return SqliteStore::open_blocking(path);
        }
        let write = connect_read(&path, false)
            .or_else(|_| connect_read(&path, true))
            .map_err(open_err)?;
        Ok(SqliteStore {
            path: Arc::new(path),
            writer: Arc::new(Mutex::new(write)),
            queued: Arc::new(Mutex::new(Vec::new())),
            reader: Arc::new(Mutex::new(conn)),
        })
    }

    fn open_blocking(path: PathBuf) -> Result<SqliteStore, StoreError> {
        let write = open_migrated(&path).map_err(|e| classify(&path, e))?;
        let read = connect(&path).map_err(|e| {
            classify(
                &path,
                StoreError::Open {
                    database: format!("sqlite:{}", path.display()),
                    message: e.to_string(),
                },
            )
        })?;
        super::disk::keep_reserve(&path);
        Ok(SqliteStore {
            path: Arc::new(path),
            writer: Arc::new(Mutex::new(write)),
            queued: Arc::new(Mutex::new(Vec::new())),
            reader: Arc::new(Mutex::new(read)),
        })
    }

    /// Queues `f` and returns a future that commits it, with whatever else is queued by
    /// then, and resolves once the commit is done.
    fn write<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Pending<T> {
        let reply = self.queue(action, f);
        let store = self.clone();
        Box::pin(async move {
            tokio::task::yield_now().await;
            let done = match store.commit_queued() {
                Ok(()) => reply.await.map_err(|_| not_committed(action))?,
                Err(e) => Err(e),
            };
            done.map_err(|e| classify(&store.path, e))
        })
    }

    /// Queues `f`, commits at once (with anything queued before it) and returns its result.
    fn write_now<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let mut reply = self.queue(action, f);
        let done = match self.commit_queued() {
            Ok(()) => reply.try_recv().map_err(|_| not_committed(action))?,
            Err(e) => Err(e),
        };
        done.map_err(|e| classify(&self.path, e))
    }

    fn queue<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<Result<T, StoreError>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let write: QueuedWrite = Box::new(move |conn| {
            let ran = match conn {
                Ok(c) => in_savepoint(c, f).map_err(query_err(action)),
                Err(m) => Err(StoreError::Query {
                    action: "starting a write transaction",
                    message: m.to_owned(),
                }),
            };
            Box::new(move |committed: Result<(), &str>| {
                let outcome = match (ran, committed) {
                    (Err(e), _) => Err(e),
                    (Ok(v), Ok(())) => Ok(v),
                    (Ok(_), Err(m)) => Err(StoreError::Query {
                        action: "committing",
                        message: m.to_owned(),
                    }),
                };
                let _ = tx.send(outcome);
            })
        });
        match self.queued.lock() {
            Ok(mut q) => q.push(write),
            // The reply is dropped with the write: its future reports it not committed.
            Err(_) => drop(write),
        }
        rx
    }

    /// Commits every queued write in one `BEGIN IMMEDIATE` transaction. Replies are sent
    /// while the write lock is held, so a write whose commit another caller did is answered
    /// by the time this returns.
    fn commit_queued(&self) -> Result<(), StoreError> {
        let conn = self.writer.lock().map_err(|_| poisoned())?;
        let conn = &*conn;
        let writes = std::mem::take(&mut *self.queued.lock().map_err(|_| poisoned())?);
        if writes.is_empty() {
            return Ok(());
        }
        if let Err(e) = run_cached(conn, "BEGIN IMMEDIATE") {
            let message = e.to_string();
            for w in writes {
                w(Err(&message))(Err(&message));
            }
            return Ok(());
        }
        let replies: Vec<Reply> = writes.into_iter().map(|w| w(Ok(conn))).collect();
        let committed = run_cached(conn, "COMMIT").map_err(|e| {
            let _ = run_cached(conn, "ROLLBACK");
            e.to_string()
        });
        for reply in replies {
            reply(match &committed {
                Ok(()) => Ok(()),
                Err(m) => Err(m.as_str()),
            });
        }
        Ok(())
    }

    /// Runs `f` on the read connection on a blocking thread.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        let reader = self.reader.clone();
        let path = self.path.clone();
        Box::pin(async move {
            tokio::task::spawn_blocking(move || {
                let conn = reader.lock().map_err(|_| poisoned())?;
                f(&conn)
            })
            .await
            .map_err(|e| StoreError::Query {
                action: "reading",
                message: e.to_string(),
            })?
            .map_err(|e| classify(&path, e))
        })
    }
}

/// A column a row mapper reads: by name (`"status"`), or at its place in a SELECT list that
/// names its columns ([`Listed`]), which spares a name lookup per value on long reads.
trait Column: std::fmt::Display + Copy {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T>;
}

impl Column for &str {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self)
    }
}

/// A column of a fixed SELECT list, at its index, with its name for errors.
#[derive(Debug, Clone, Copy)]
struct Listed {
    at: usize,
    name: &'static str,
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Column for Listed {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self.at)
    }
}

/// The column `name` of the SELECT list `columns`. Mappers name only columns of their list
/// (tested); a name missing from it reads past the row's end and is reported as corrupt.
fn listed(columns: &'static [&'static str], name: &'static str) -> Listed {
    Listed {
        at: columns
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX),
        name,
    }
}

fn col<T: rusqlite::types::FromSql>(row: &Row<'_>, name: impl Column) -> Result<T, StoreError> {
    name.get(row)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn token<T: FromStr<Err = String>>(row: &Row<'_>, name: impl Column) -> Result<T, StoreError> {
    col::<String>(row, name)?
        .parse()
        .map_err(StoreError::Corrupt)
}

fn time(row: &Row<'_>, name: impl Column) -> Result<DateTime<Utc>, StoreError> {
    let text: String = col(row, name)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{name} `{text}`: {e}")))
}

fn opt_time(row: &Row<'_>, name: impl Column) -> Result<Option<DateTime<Utc>>, StoreError> {
    match col::<Option<String>>(row, name)? {
        None => Ok(None),
        Some(_) => time(row, name).map(Some),
    }
}

fn json(row: &Row<'_>, name: impl Column) -> Result<serde_json::Value, StoreError> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

fn opt_json(row: &Row<'_>, name: impl Column) -> Result<Option<serde_json::Value>, StoreError> {
    match col::<Option<String>>(row, name)? {
        None => Ok(None),
        Some(_) => json(row, name).map(Some),
    }
}

fn param_change_row(row: &Row<'_>) -> Result<ParamChange, StoreError> {
    Ok(ParamChange {
        id: col(row, "id")?,
        at: time(row, "at")?,
        file: col(row, "file")?,
        key: col(row, "key")?,
        before: opt_json(row, "before")?,
        after: opt_json(row, "after")?,
        reason: col(row, "reason")?,
        run_id: col(row, "run_id")?,
        user: col(row, "user")?,
        rolled_back_by: col(row, "rolled_back_by")?,
    })
}

fn permission_change_row(r: &Row<'_>) -> Result<PermissionChange, StoreError> {
    Ok(PermissionChange {
        id: col(r, "id")?,
        at: time(r, "at")?,
        batch: col(r, "batch")?,
        run_id: col(r, "run_id")?,
        staff_id: col(r, "staff_id")?,
        name: col(r, "name")?,
        department: col(r, "department")?,
        kind: col(r, "kind")?,
        target: col(r, "target")?,
        op: col(r, "op")?,
        outcome: col(r, "outcome")?,
        reason: col(r, "reason")?,
        undo_of: col(r, "undo_of")?,
        user: col(r, "user")?,
    })
}

fn frozen_report_row(r: &Row<'_>) -> Result<FrozenReport, StoreError> {
    Ok(FrozenReport {
        id: col(r, "id")?,
        kind: col(r, "kind")?,
        period: col(r, "period")?,
        lang: col(r, "lang")?,
        format: col(r, "format")?,
        data_from: time(r, "data_from")?,
        data_to: time(r, "data_to")?,
        sha256: col(r, "sha256")?,
        frozen_at: time(r, "frozen_at")?,
        frozen_by: col(r, "frozen_by")?,
        supersedes: col(r, "supersedes")?,
        reason: col(r, "reason")?,
        superseded_by: col(r, "superseded_by")?,
    })
}

const FROZEN_COLUMNS: &str = "id, kind, period, lang, format, data_from, data_to, sha256, \
     frozen_at, frozen_by, supersedes, reason, \
     (SELECT s.id FROM frozen_reports s WHERE s.supersedes = frozen_reports.id) AS superseded_by";

/// The slots due in a period, counted by job, outcome and reason while they are read (a
/// month may hold a million; sorting them to group them cost more than reading them).
/// The period's slots counted by job, outcome and reason, read once; on the way, each slot
/// of `detail` (the service's backup jobs) is kept whole, with its run's status.
fn slot_counts(
    c: &Connection,
    from: &str,
    to: &str,
    detail: &[String],
) -> Result<(Vec<SlotCount>, Vec<JobSlot>), StoreError> {
    let action = "reading a period's slots";
    let mut kept: Vec<JobSlot> = Vec::new();
    let mut jobs: Vec<String> = Vec::new();
    let mut job_index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut counts: std::collections::HashMap<(usize, SlotOutcome, Option<String>), i64> =
        std::collections::HashMap::new();
    let mut stmt = c
        .prepare_cached(
            "SELECT job, outcome, reason, due_at, run_id FROM slots \
             WHERE due_at >= ?1 AND due_at < ?2 ORDER BY due_at, id",
        )
        .map_err(query_err(action))?;
    let mut rows = stmt.query([from, to]).map_err(query_err(action))?;
    while let Some(r) = rows.next().map_err(query_err(action))? {
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            match r.get_ref(i).map_err(query_err(action))? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => v
                    .as_str()
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("slots column {i}: {e}"))),
            }
        };
        let job = text(0)?.unwrap_or_default();
        let j = match job_index.get(job) {
            Some(&j) => j,
            None => {
                jobs.push(job.to_owned());
                job_index.insert(job.to_owned(), jobs.len() - 1);
                jobs.len() - 1
            }
        };
        let outcome: SlotOutcome = text(1)?
            .unwrap_or_default()
            .parse()
            .map_err(StoreError::Corrupt)?;
        let reason = text(2)?.map(str::to_owned);
        if detail.iter().any(|d| d == job) {
            let due = text(3)?.unwrap_or_default();
            kept.push(JobSlot {
                job: job.to_owned(),
                due_at: DateTime::parse_from_rfc3339(due)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| StoreError::Corrupt(format!("due_at `{due}`: {e}")))?,
                outcome,
                run_id: r.get(4).map_err(query_err(action))?,
                run_status: None,
            });
        }
        *counts.entry((j, outcome, reason)).or_default() += 1;
    }
    drop(rows);
    let mut status = c
        .prepare_cached("SELECT status FROM runs WHERE id = ?1")
        .map_err(query_err(action))?;
    for slot in &mut kept {
        if let Some(id) = slot.run_id {
            let token: Option<String> = status
                .query_row([id], |r| r.get(0))
                .optional()
                .map_err(query_err(action))?;
            slot.run_status = token
                .map(|t| t.parse().map_err(StoreError::Corrupt))
                .transpose()?;
        }
    }
    let mut out: Vec<SlotCount> = counts
        .into_iter()
        .map(|((j, outcome, reason), count)| SlotCount {
            job: jobs[j].clone(),
            outcome,
            reason,
            count,
        })
        .collect();
    out.sort_by(|a, b| {
        (&a.job, a.outcome.as_str(), &a.reason).cmp(&(&b.job, b.outcome.as_str(), &b.reason))
    });
    Ok((out, kept))
}

/// The runs of a period, read by column position (a month may hold a million): job names
/// and digests interned.
fn run_facts(
    c: &Connection,
    from: &str,
    to: &str,
    facts: &mut ReportFacts,
) -> Result<(), StoreError> {
    let action = "reading a period's runs";
    let mut jobs: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut digests: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let intern =
        |map: &mut std::collections::HashMap<String, u32>, names: &mut Vec<String>, text: &str| {
            if let Some(&i) = map.get(text) {
                return i;
            }
            let i = u32::try_from(names.len()).unwrap_or(u32::MAX);
            map.insert(text.to_owned(), i);
            names.push(text.to_owned());
            i
        };
    let instant = |text: &str, what: &str| {
        DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|e| StoreError::Corrupt(format!("{what} `{text}`: {e}")))
    };
    let mut stmt = c
        .prepare_cached(
            "SELECT id, job, job_digest, trigger, status, queued_at, started_at, ended_at \
             FROM runs WHERE queued_at >= ?1 AND queued_at < ?2 ORDER BY queued_at, id",
        )
        .map_err(query_err(action))?;
    let mut rows = stmt.query([from, to]).map_err(query_err(action))?;
    while let Some(r) = rows.next().map_err(query_err(action))? {
        let text = |i: usize| -> Result<Option<&str>, StoreError> {
            match r.get_ref(i).map_err(query_err(action))? {
                rusqlite::types::ValueRef::Null => Ok(None),
                v => v
                    .as_str()
                    .map(Some)
                    .map_err(|e| StoreError::Corrupt(format!("runs column {i}: {e}"))),
            }
        };
        let need = |i: usize| -> Result<&str, StoreError> {
            text(i)?.ok_or_else(|| StoreError::Corrupt(format!("runs column {i} is NULL")))
        };
        let job = intern(&mut jobs, &mut facts.jobs, need(1)?);
        let digest = intern(&mut digests, &mut facts.digests, need(2)?);
        facts.runs.push(RunFact {
            id: r.get(0).map_err(query_err(action))?,
            job,
            digest,
            trigger: need(3)?.parse().map_err(StoreError::Corrupt)?,
            status: need(4)?.parse().map_err(StoreError::Corrupt)?,
            queued_at: instant(need(5)?, "queued_at")?,
            started_at: text(6)?.map(|t| instant(t, "started_at")).transpose()?,
            ended_at: text(7)?.map(|t| instant(t, "ended_at")).transpose()?,
        });
    }
    Ok(())
}

fn extract_row(row: &Row<'_>) -> Result<ExtractRow, StoreError> {
    Ok(ExtractRow {
        id: col(row, "id")?,
        at: time(row, "at")?,
        run_id: col(row, "run_id")?,
        job: col(row, "job")?,
        db: col(row, "db")?,
        sql_file: col(row, "sql_file")?,
        out_file: col(row, "out_file")?,
        encoding: col(row, "encoding")?,
        rows: col(row, "rows")?,
        sha256: col(row, "sha256")?,
        columns: json(row, "columns")?,
        params: json(row, "params")?,
        user: col(row, "user")?,
        group: col(row, "group")?,
    })
}

fn run_row(row: &Row<'_>) -> Result<RunRow, StoreError> {
    let date: String = col(row, "business_date")?;
    Ok(RunRow {
        id: col(row, "id")?,
        job: col(row, "job")?,
        trigger: token(row, "trigger")?,
        params: json(row, "params")?,
        status: token(row, "status")?,
        reason: col(row, "reason")?,
        business_date: NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| StoreError::Corrupt(format!("business_date `{date}`: {e}")))?,
        fiscal_year: col(row, "fiscal_year")?,
        queued_at: time(row, "queued_at")?,
        started_at: opt_time(row, "started_at")?,
        ended_at: opt_time(row, "ended_at")?,
        requested_by: col(row, "requested_by")?,
        host: col(row, "host")?,
        job_digest: col(row, "job_digest")?,
        catalog_digest: col(row, "catalog_digest")?,
        owner: col(row, "owner")?,
        not_before: opt_time(row, "not_before")?,
        schedule: col(row, "schedule")?,
        rerun_of: col(row, "rerun_of")?,
        comment: col(row, "comment")?,
        business_date_given: col::<i64>(row, "business_date_given")? != 0,
        outside_window: col(row, "outside_window")?,
    })
}

fn slot_row(row: &Row<'_>) -> Result<SlotRow, StoreError> {
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

fn gate_row(row: &Row<'_>) -> Result<GateRow, StoreError> {
    Ok(GateRow {
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        requested_at: time(row, "requested_at")?,
        timeout_at: opt_time(row, "timeout_at")?,
        decision: col(row, "decision")?,
        decided_by: col(row, "decided_by")?,
        decided_at: opt_time(row, "decided_at")?,
        comment: col(row, "comment")?,
    })
}

fn daemon_row(row: &Row<'_>) -> Result<DaemonRow, StoreError> {
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

/// Inserts a run and its pending steps inside the caller's transaction.
fn insert_run(c: &Connection, run: &NewRun) -> rusqlite::Result<i64> {
    let started = (run.status == RunStatus::Running).then(|| ts(run.at));
    let id: i64 = c
        .prepare_cached(
            "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, \
             queued_at, started_at, requested_by, host, job_digest, catalog_digest, owner, \
             not_before, schedule, rerun_of, comment, business_date_given, outside_window) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        )?
        .query_row(
            params![
                run.job,
                run.trigger.as_str(),
                run.params.to_string(),
                run.status.as_str(),
                run.business_date.format("%Y-%m-%d").to_string(),
                run.fiscal_year,
                ts(run.at),
                started,
                run.requested_by,
                run.host,
                run.job_digest,
                run.catalog_digest,
                run.owner,
                run.not_before.map(ts),
                run.schedule,
                run.rerun_of,
                run.comment,
                run.business_date_given,
                run.outside_window,
            ],
            |r| r.get(0),
        )?;
    let mut step = c.prepare_cached(
        "INSERT INTO steps (run_id, name, position, status) VALUES (?, ?, ?, 'pending')",
    )?;
    for (i, name) in run.steps.iter().enumerate() {
        step.execute(params![id, name, i as i64])?;
    }
    if !run.kept_steps.is_empty() {
        let reason = match run.rerun_of {
            Some(old) => format!("kept from run {old}"),
            None => "kept".to_owned(),
        };
        let mut keep = c.prepare_cached(
            "UPDATE steps SET status = 'succeeded', reason = ? WHERE run_id = ? AND name = ?",
        )?;
        for name in &run.kept_steps {
            keep.execute(params![reason, id, name])?;
        }
    }
    Ok(id)
}

/// The columns `step_row` reads, in the order its SELECT lists them.
const STEP_COLUMNS: &[&str] = &[
    "name",
    "position",
    "status",
    "reason",
    "attempts",
    "started_at",
    "ended_at",
    "retry_at",
    "continued",
];

fn step_row(row: &Row<'_>) -> Result<StepRow, StoreError> {
    let c = |name| listed(STEP_COLUMNS, name);
    Ok(StepRow {
        name: col(row, c("name"))?,
        position: col(row, c("position"))?,
        status: token(row, c("status"))?,
        reason: col(row, c("reason"))?,
        attempts: col(row, c("attempts"))?,
        started_at: opt_time(row, c("started_at"))?,
        ended_at: opt_time(row, c("ended_at"))?,
        retry_at: opt_time(row, c("retry_at"))?,
        continued: col::<i64>(row, c("continued"))? != 0,
    })
}

/// The columns `attempt_row` reads, in the order its SELECT lists them.
const ATTEMPT_COLUMNS: &[&str] = &[
    "id",
    "step",
    "attempt",
    "status",
    "command",
    "log_path",
    "pid",
    "started_at",
    "ended_at",
    "exit_code",
    "signal",
    "error",
    "stdout_tail",
    "stderr_tail",
    "log_bytes",
    "log_dropped",
    "rule",
    "action",
    "remediation",
];

fn attempt_row(row: &Row<'_>) -> Result<AttemptRow, StoreError> {
    let c = |name| listed(ATTEMPT_COLUMNS, name);
    Ok(AttemptRow {
        id: col(row, c("id"))?,
        step: col(row, c("step"))?,
        attempt: col(row, c("attempt"))?,
        status: token(row, c("status"))?,
        command: json(row, c("command"))?,
        log_path: col(row, c("log_path"))?,
        pid: col(row, c("pid"))?,
        started_at: time(row, c("started_at"))?,
        ended_at: opt_time(row, c("ended_at"))?,
        exit_code: col(row, c("exit_code"))?,
        signal: col(row, c("signal"))?,
        error: col(row, c("error"))?,
        stdout_tail: col(row, c("stdout_tail"))?,
        stderr_tail: col(row, c("stderr_tail"))?,
        log_bytes: col(row, c("log_bytes"))?,
        log_dropped: col(row, c("log_dropped"))?,
        rule: col(row, c("rule"))?,
        action: col(row, c("action"))?,
        remediation: opt_json(row, c("remediation"))?,
    })
}

fn incident_row(row: &Row<'_>) -> Result<IncidentRow, StoreError> {
    Ok(IncidentRow {
        id: col(row, "id")?,
        opened_at: time(row, "opened_at")?,
        severity: col::<String>(row, "severity")?
            .parse()
            .map_err(StoreError::Corrupt)?,
        job: col(row, "job")?,
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        failure_class: col(row, "failure_class")?,
        summary: col(row, "summary")?,
        log_excerpt: col(row, "log_excerpt")?,
        rule: col(row, "rule")?,
        status: token(row, "status")?,
        occurrences: col(row, "occurrences")?,
        last_seen_at: time(row, "last_seen_at")?,
        acknowledged_by: col(row, "acknowledged_by")?,
        acknowledged_at: opt_time(row, "acknowledged_at")?,
        resolved_by: col(row, "resolved_by")?,
        resolved_at: opt_time(row, "resolved_at")?,
        cause: col(row, "cause")?,
        countermeasure: col(row, "countermeasure")?,
        report_deadline: opt_time(row, "report_deadline")?,
        escalation_level: col(row, "escalation_level")?,
        next_escalation_at: opt_time(row, "next_escalation_at")?,
        route: col(row, "route")?,
    })
}

fn notification_row(row: &Row<'_>) -> Result<NotificationRow, StoreError> {
    Ok(NotificationRow {
        id: col(row, "id")?,
        incident_id: col(row, "incident_id")?,
        run_id: col(row, "run_id")?,
        step: col(row, "step")?,
        event: col(row, "event")?,
        route: col(row, "route")?,
        level: col(row, "level")?,
        channel: col(row, "channel")?,
        created_at: time(row, "created_at")?,
        status: token(row, "status")?,
        attempts: col(row, "attempts")?,
        next_attempt_at: time(row, "next_attempt_at")?,
        last_error: col(row, "last_error")?,
        receipt: col(row, "receipt")?,
        sent_at: opt_time(row, "sent_at")?,
        reason: col(row, "reason")?,
    })
}

fn incident_event(row: &Row<'_>) -> Result<IncidentEvent, StoreError> {
    Ok(IncidentEvent {
        at: time(row, "at")?,
        kind: col(row, "kind")?,
        actor: col(row, "actor")?,
        run_id: col(row, "run_id")?,
        text: col(row, "text")?,
    })
}

/// Withdraws the pending messages of an incident from contact level `from_level` up, with
/// the reason, inside the caller's transaction: they are never sent nor tried again.
fn withdraw_messages(
    c: &Connection,
    incident_id: i64,
    from_level: i64,
    reason: &str,
) -> rusqlite::Result<usize> {
    c.prepare_cached(
        "UPDATE notifications SET status = 'withdrawn', reason = ? \
         WHERE incident_id = ? AND status = 'pending' AND level >= ?",
    )?
    .execute(params![reason, incident_id, from_level])
}

/// Adds an entry to an incident's history inside the caller's transaction.
fn incident_log(
    c: &Connection,
    id: i64,
    at: &str,
    kind: &str,
    actor: &str,
    run_id: Option<i64>,
    text: &str,
) -> rusqlite::Result<()> {
    c.prepare_cached(
        "INSERT INTO incident_events (incident_id, at, kind, actor, run_id, text) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![id, at, kind, actor, run_id, text])?;
    Ok(())
}

/// Reads one incident inside the caller's transaction.
fn incident_by_id(
    c: &Connection,
    id: i64,
) -> rusqlite::Result<Option<Result<IncidentRow, StoreError>>> {
    c.prepare_cached("SELECT * FROM incidents WHERE id = ?")?
        .query_row([id], |r| Ok(incident_row(r)))
        .optional()
}

/// Collects mapped rows of a query.
fn all<T>(
    conn: &Connection,
    action: &'static str,
    sql: &str,
    args: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(query_err(action))?;
    let mut rows = stmt.query(args).map_err(query_err(action))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(query_err(action))? {
        out.push(map(row)?);
    }
    Ok(out)
}

impl Store for SqliteStore {
    fn create_run(&self, run: &NewRun) -> Pending<i64> {
        let run = run.clone();
        self.write("recording a run", move |c| insert_run(c, &run))
    }

    fn set_run_status(
        &self,
        run_id: i64,
        status: RunStatus,
        at: DateTime<Utc>,
        reason: Option<&str>,
    ) -> Pending<()> {
        let reason = reason.map(str::to_owned);
        self.write("updating a run", move |c| {
            let at = ts(at);
            let started = (status == RunStatus::Running).then(|| at.clone());
            let ended = status.is_final().then(|| at.clone());
            c.prepare_cached(
                "UPDATE runs SET status = ?, reason = COALESCE(?, reason), \
                 started_at = COALESCE(started_at, ?), ended_at = COALESCE(?, ended_at) \
                 WHERE id = ?",
            )?
            .execute(params![status.as_str(), reason, started, ended, run_id])?;
            if status == RunStatus::Interrupted {
                c.prepare_cached(
                    "UPDATE attempts SET status = 'interrupted', ended_at = ? \
                     WHERE run_id = ? AND status = 'running'",
                )?
                .execute(params![at, run_id])?;
                c.prepare_cached(
                    "UPDATE steps SET status = 'interrupted', reason = COALESCE(?, reason), \
                     ended_at = ?, retry_at = NULL \
                     WHERE run_id = ? AND status IN ('running', 'waiting_retry')",
                )?
                .execute(params![reason, at, run_id])?;
            }
            if status.is_final() {
                c.prepare_cached(
                    "UPDATE steps SET status = 'cancelled', reason = COALESCE(?, reason), \
                     ended_at = ? WHERE run_id = ? AND status = 'pending'",
                )?
                .execute(params![reason, at, run_id])?;
            }
            Ok(())
        })
    }

    fn start_attempt(&self, a: &NewAttempt) -> Pending<i64> {
        let a = a.clone();
        self.write("recording an attempt", move |c| {
            let started = ts(a.started_at);
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, \
                     started_at) VALUES (?, ?, ?, 'running', ?, ?, ?) RETURNING id",
                )?
                .query_row(
                    params![
                        a.run_id,
                        a.step,
                        a.attempt,
                        a.command.to_string(),
                        a.log_path,
                        started
                    ],
                    |r| r.get(0),
                )?;
            c.prepare_cached(
                "UPDATE steps SET status = 'running', attempts = ?, retry_at = NULL, \
                 started_at = COALESCE(started_at, ?) WHERE run_id = ? AND name = ?",
            )?
            .execute(params![a.attempt, started, a.run_id, a.step])?;
            Ok(id)
        })
    }

    fn set_attempt_pid(&self, attempt_id: i64, pid: u32) -> Pending<()> {
        self.write("recording a process id", move |c| {
            c.prepare_cached("UPDATE attempts SET pid = ? WHERE id = ?")?
                .execute(params![i64::from(pid), attempt_id])?;
            Ok(())
        })
    }

    fn finish_attempt(&self, attempt_id: i64, e: &AttemptEnd) -> Pending<()> {
        let e = e.clone();
        self.write("recording the end of an attempt", move |c| {
            let ended = ts(e.ended_at);
            let (run_id, step): (i64, String) = c
                .prepare_cached(
                    "UPDATE attempts SET status = ?, ended_at = ?, exit_code = ?, signal = ?, \
                     error = ?, stdout_tail = ?, stderr_tail = ?, log_bytes = ?, \
                     log_dropped = ?, pid = COALESCE(pid, ?), rule = ?, action = ?, \
                     remediation = ? WHERE id = ? RETURNING run_id, step",
                )?
                .query_row(
                    params![
                        e.status.as_str(),
                        ended,
                        e.exit_code,
                        e.signal,
                        e.error,
                        e.stdout_tail,
                        e.stderr_tail,
                        e.log_bytes,
                        e.log_dropped,
                        e.pid.map(i64::from),
                        e.rule,
                        e.action,
                        e.remediation.as_ref().map(|r| r.to_string()),
                        attempt_id
                    ],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
            let step_ended = (!matches!(
                e.step_status,
                StepStatus::Running | StepStatus::WaitingRetry
            ))
            .then_some(ended);
            c.prepare_cached(
                "UPDATE steps SET status = ?, reason = ?, ended_at = ?, retry_at = ?, \
                 continued = ? WHERE run_id = ? AND name = ?",
            )?
            .execute(params![
                e.step_status.as_str(),
                e.step_reason,
                step_ended,
                e.retry_at.map(ts),
                i64::from(e.continued),
                run_id,
                step
            ])?;
            Ok(())
        })
    }

    fn end_step(
        &self,
        run_id: i64,
        step: &str,
        status: StepStatus,
        at: DateTime<Utc>,
        reason: &str,
    ) -> Pending<()> {
        let (step, reason) = (step.to_owned(), reason.to_owned());
        self.write("ending a step", move |c| {
            c.prepare_cached(
                "UPDATE steps SET status = ?, reason = ?, ended_at = ? \
                 WHERE run_id = ? AND name = ?",
            )?
            .execute(params![status.as_str(), reason, ts(at), run_id, step])?;
            Ok(())
        })
    }

    fn list_runs(&self, f: &RunFilter) -> Pending<Vec<RunRow>> {
        let f = f.clone();
        self.read(move |c| {
            all(
                c,
                "listing runs",
                "SELECT * FROM runs WHERE (?1 IS NULL OR job = ?1) AND (?2 IS NULL OR status = ?2) \
                 ORDER BY id DESC LIMIT ?3",
                params![f.job, f.status.map(RunStatus::as_str), f.limit],
                run_row,
            )
        })
    }

    fn get_run(&self, run_id: i64) -> Pending<Option<RunDetail>> {
        self.read(move |c| {
            let run = c
                .prepare_cached("SELECT * FROM runs WHERE id = ?")
                .and_then(|mut s| s.query_row([run_id], |r| Ok(run_row(r))).optional())
                .map_err(query_err("reading a run"))?
                .transpose()?;
            let Some(run) = run else {
                return Ok(None);
            };
            static STEPS: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "SELECT {} FROM steps WHERE run_id = ? ORDER BY position",
                    STEP_COLUMNS.join(", ")
                )
            });
            static ATTEMPTS: LazyLock<String> = LazyLock::new(|| {
                format!(
                    "SELECT {} FROM attempts WHERE run_id = ? ORDER BY id",
                    ATTEMPT_COLUMNS.join(", ")
                )
            });
            let steps = all(c, "reading steps", &STEPS, [run_id], step_row)?;
            let attempts = all(c, "reading attempts", &ATTEMPTS, [run_id], attempt_row)?;
            Ok(Some(RunDetail {
                run,
                steps,
                attempts,
            }))
        })
    }

    fn record_slots(
        &self,
        slots: &[NewSlot],
        watermarks: &[(String, DateTime<Utc>)],
    ) -> Pending<Vec<Option<i64>>> {
        let (slots, watermarks) = (slots.to_vec(), watermarks.to_vec());
        self.write("recording slots", move |c| {
            let mut made = Vec::with_capacity(slots.len());
            for s in &slots {
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
            for (schedule, through) in &watermarks {
                mark.execute(params![schedule, ts(*through)])?;
            }
            Ok(made)
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

    fn active_runs(&self) -> Pending<Vec<RunRow>> {
        self.read(|c| {
            all(
                c,
                "listing active runs",
                "SELECT * FROM runs WHERE status IN ('queued', 'running') ORDER BY id",
                [],
                run_row,
            )
        })
    }

    fn claim_run(&self, run_id: i64, owner: &str, at: DateTime<Utc>) -> Pending<bool> {
        let owner = owner.to_owned();
        self.write("claiming a queued run", move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE runs SET status = 'running', owner = ?, started_at = ?, \
                     reason = NULL WHERE id = ? AND status = 'queued'",
                )?
                .execute(params![owner, ts(at), run_id])?;
            Ok(changed == 1)
        })
    }

    fn take_over(&self, run_id: i64, old_owner: Option<&str>, new_owner: &str) -> Pending<bool> {
        let (old, new) = (old_owner.map(str::to_owned), new_owner.to_owned());
        self.write("taking over a run", move |c| {
            let changed = c
                .prepare_cached(
                    "UPDATE runs SET owner = ? WHERE id = ? AND status = 'running' \
                     AND owner IS ?",
                )?
                .execute(params![new, run_id, old])?;
            Ok(changed == 1)
        })
    }

    fn defer_run(&self, run_id: i64, not_before: DateTime<Utc>, reason: &str) -> Pending<()> {
        let reason = reason.to_owned();
        self.write("deferring a queued run", move |c| {
            c.prepare_cached(
                "UPDATE runs SET not_before = ?, reason = ? WHERE id = ? AND status = 'queued'",
            )?
            .execute(params![ts(not_before), reason, run_id])?;
            Ok(())
        })
    }

    fn succeeded(&self, job: &str, business_date: NaiveDate) -> Pending<bool> {
        let job = job.to_owned();
        self.read(move |c| {
            c.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM runs WHERE job = ? AND business_date = ? \
                 AND status = 'succeeded')",
            )
            .and_then(|mut s| {
                s.query_row(
                    params![job, business_date.format("%Y-%m-%d").to_string()],
                    |r| r.get(0),
                )
            })
            .map_err(query_err("reading runs"))
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

    fn open_incident(&self, n: &NewIncident) -> Pending<IncidentOpened> {
        let n = n.clone();
        self.write("recording an incident", move |c| {
            let at = ts(n.at);
            let existing: Option<(i64, String)> = c
                .prepare_cached(
                    "SELECT id, severity FROM incidents WHERE job = ? AND failure_class = ? \
                     AND status <> 'resolved'",
                )?
                .query_row(params![n.job, n.failure_class], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })
                .optional()?;
            if let Some((id, severity)) = existing {
                let higher = severity
                    .parse::<Severity>()
                    .map_or(true, |s| n.severity > s);
                // A higher severity brings its (shorter) report deadline with it.
                c.prepare_cached(
                    "UPDATE incidents SET occurrences = occurrences + ?, last_seen_at = ?, \
                     severity = CASE WHEN ? THEN ? ELSE severity END, \
                     report_deadline = CASE WHEN ? AND ? IS NOT NULL \
                       THEN min(COALESCE(report_deadline, ?), ?) ELSE report_deadline END \
                     WHERE id = ?",
                )?
                .execute(params![
                    n.occurrences.max(1),
                    at,
                    higher,
                    n.severity.as_str(),
                    higher,
                    n.report_deadline.map(ts),
                    n.report_deadline.map(ts),
                    n.report_deadline.map(ts),
                    id
                ])?;
                let text = if higher {
                    format!("{} (severity raised to {})", n.summary, n.severity)
                } else {
                    n.summary.clone()
                };
                incident_log(c, id, &at, "occurrence", &n.actor, n.run_id, &text)?;
                return Ok(IncidentOpened { id, new: false });
            }
            let id: i64 = c
                .prepare_cached(
                    "INSERT INTO incidents (opened_at, severity, job, run_id, step, \
                     failure_class, summary, log_excerpt, rule, status, last_seen_at, \
                     report_deadline, occurrences) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?, ?) RETURNING id",
                )?
                .query_row(
                    params![
                        at,
                        n.severity.as_str(),
                        n.job,
                        n.run_id,
                        n.step,
                        n.failure_class,
                        n.summary,
                        n.log_excerpt,
                        n.rule,
                        at,
                        n.report_deadline.map(ts),
                        n.occurrences.max(1),
                    ],
                    |r| r.get(0),
                )?;
            incident_log(c, id, &at, "opened", &n.actor, n.run_id, &n.summary)?;
            Ok(IncidentOpened { id, new: true })
        })
    }

    fn list_incidents(
        &self,
        status: Option<IncidentStatus>,
        limit: i64,
    ) -> Pending<Vec<IncidentRow>> {
        self.read(move |c| {
            all(
                c,
                "listing incidents",
                "SELECT * FROM incidents WHERE (?1 IS NULL OR status = ?1) \
                 ORDER BY id DESC LIMIT ?2",
                params![status.map(IncidentStatus::as_str), limit],
                incident_row,
            )
        })
    }

    fn get_incident(&self, id: i64) -> Pending<Option<(IncidentRow, Vec<IncidentEvent>)>> {
        self.read(move |c| {
            let Some(row) = incident_by_id(c, id)
                .map_err(query_err("reading an incident"))?
                .transpose()?
            else {
                return Ok(None);
            };
            let events = all(
                c,
                "reading an incident's history",
                "SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id",
                [id],
                incident_event,
            )?;
            Ok(Some((row, events)))
        })
    }

    fn change_incident(
        &self,
        id: i64,
        change: &IncidentChange,
        actor: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<IncidentRow, String>> {
        let (change, actor) = (change.clone(), actor.to_owned());
        let result = self.write_now("changing an incident", move |c| {
            let Some(row) = incident_by_id(c, id)? else {
                return Ok(Err(super::no_such_incident(id)));
            };
            let Ok(row) = row else {
                return Ok(Err(format!("incident {id} cannot be read")));
            };
            let at = ts(at);
            match &change {
                IncidentChange::Acknowledge => {
                    if row.status != IncidentStatus::Open {
                        let by = match row.status {
                            IncidentStatus::Resolved => row.resolved_by.as_deref(),
                            _ => row.acknowledged_by.as_deref(),
                        };
                        return Ok(Err(format!(
                            "incident {id} is {} already (by {})",
                            row.status,
                            by.unwrap_or("unknown")
                        )));
                    }
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'acknowledged', acknowledged_by = ?, \
                         acknowledged_at = ?, next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![actor, at, id])?;
                    incident_log(c, id, &at, "acknowledged", &actor, None, "")?;
                    withdraw_messages(
                        c,
                        id,
                        2,
                        &format!("incident {id} was acknowledged by {actor}"),
                    )?;
                }
                IncidentChange::Resolve {
                    cause,
                    countermeasure,
                } => {
                    // One that unyo closed when the job recovered can still be given its
                    // cause and countermeasure by a person.
                    if row.status == IncidentStatus::Resolved
                        && row.resolved_by.as_deref() != Some("unyo")
                    {
                        return Ok(Err(format!(
                            "incident {id} is resolved already (by {})",
                            row.resolved_by.as_deref().unwrap_or("unknown")
                        )));
                    }
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'resolved', resolved_by = ?, \
                         resolved_at = ?, cause = ?, countermeasure = ?, \
                         acknowledged_by = COALESCE(acknowledged_by, ?), \
                         acknowledged_at = COALESCE(acknowledged_at, ?), \
                         next_escalation_at = NULL WHERE id = ?",
                    )?
                    .execute(params![
                        actor,
                        at,
                        cause,
                        countermeasure,
                        actor,
                        at,
                        id
                    ])?;
                    incident_log(
                        c,
                        id,
                        &at,
                        "resolved",
                        &actor,
                        None,
                        &format!("cause: {cause}; countermeasure: {countermeasure}"),
                    )?;
                    withdraw_messages(c, id, 1, &format!("incident {id} was resolved by {actor}"))?;
                }
            }
            Ok(incident_by_id(c, id)?
                .and_then(Result::ok)
                .ok_or_else(|| format!("incident {id} vanished")))
        });
        Box::pin(std::future::ready(result))
    }

    fn request_cancel(&self, run_id: i64, user: &str, at: DateTime<Utc>) -> Pending<CancelOutcome> {
        let user = user.to_owned();
        self.write("requesting a cancel", move |c| {
            let row: Option<(String, Option<String>)> = c
                .prepare_cached("SELECT status, owner FROM runs WHERE id = ?")?
                .query_row([run_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            let Some((status, owner)) = row else {
                return Ok(CancelOutcome::Unknown);
            };
            let at = ts(at);
            match status.as_str() {
                "queued" => {
                    let reason = format!("cancelled by {user} before it started");
                    c.prepare_cached(
                        "UPDATE runs SET status = 'cancelled', reason = ?, ended_at = ?, \
                         cancel_requested_by = ?, cancel_requested_at = ? WHERE id = ?",
                    )?
                    .execute(params![reason, at, user, at, run_id])?;
                    c.prepare_cached(
                        "UPDATE steps SET status = 'cancelled', reason = ?, ended_at = ? \
                         WHERE run_id = ? AND status = 'pending'",
                    )?
                    .execute(params![reason, at, run_id])?;
                    Ok(CancelOutcome::Cancelled)
                }
                "running" => {
                    c.prepare_cached(
                        "UPDATE runs SET cancel_requested_by = ?, cancel_requested_at = ? \
                         WHERE id = ?",
                    )?
                    .execute(params![user, at, run_id])?;
                    Ok(CancelOutcome::Requested { owner })
                }
                other => Ok(CancelOutcome::Ended(
                    other.parse().unwrap_or(RunStatus::Failed),
                )),
            }
        })
    }

    fn open_gate(
        &self,
        run_id: i64,
        step: &str,
        at: DateTime<Utc>,
        timeout_at: Option<DateTime<Utc>>,
        reason: &str,
    ) -> Pending<()> {
        let (step, reason) = (step.to_owned(), reason.to_owned());
        self.write("opening an approval gate", move |c| {
            let at = ts(at);
            c.prepare_cached(
                "INSERT INTO gates (run_id, step, requested_at, timeout_at) VALUES (?, ?, ?, ?) \
                 ON CONFLICT (run_id, step) DO NOTHING",
            )?
            .execute(params![run_id, step, at, timeout_at.map(ts)])?;
            c.prepare_cached(
                "UPDATE steps SET status = 'waiting_approval', reason = ?, \
                 started_at = COALESCE(started_at, ?) WHERE run_id = ? AND name = ?",
            )?
            .execute(params![reason, at, run_id, step])?;
            Ok(())
        })
    }

    fn gate(&self, run_id: i64, step: &str) -> Pending<Option<GateRow>> {
        let step = step.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached("SELECT * FROM gates WHERE run_id = ? AND step = ?")
                .and_then(|mut s| {
                    s.query_row(params![run_id, step], |r| Ok(gate_row(r)))
                        .optional()
                })
                .map_err(query_err("reading an approval gate"))?;
            row.transpose()
        })
    }

    fn decide_gate(
        &self,
        run_id: i64,
        step: &str,
        approve: bool,
        user: &str,
        comment: &str,
        at: DateTime<Utc>,
    ) -> Pending<Result<(), String>> {
        let (step, user, comment) = (step.to_owned(), user.to_owned(), comment.to_owned());
        let result = self.write_now("deciding an approval gate", move |c| {
            let current: Option<(Option<String>, Option<String>, String)> = c
                .prepare_cached(
                    "SELECT g.decision, g.decided_by, s.status FROM gates g \
                     JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                     WHERE g.run_id = ? AND g.step = ?",
                )?
                .query_row(params![run_id, step], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })
                .optional()?;
            match current {
                None => Ok(Err(format!(
                    "run {run_id} has no approval step `{step}` waiting"
                ))),
                Some((Some(d), by, _)) => Ok(Err(format!(
                    "step `{step}` of run {run_id} was {d} already by {}",
                    by.unwrap_or_default()
                ))),
                Some((None, _, status)) if status != "waiting_approval" => Ok(Err(format!(
                    "step `{step}` of run {run_id} is not waiting for approval ({status})"
                ))),
                Some(_) => {
                    c.prepare_cached(
                        "UPDATE gates SET decision = ?, decided_by = ?, decided_at = ?, \
                         comment = ? WHERE run_id = ? AND step = ?",
                    )?
                    .execute(params![
                        if approve { "approved" } else { "rejected" },
                        user,
                        ts(at),
                        comment,
                        run_id,
                        step
                    ])?;
                    c.prepare_cached(
                        "UPDATE notifications SET status = 'withdrawn', reason = ? \
                         WHERE run_id = ? AND step = ? AND status = 'pending'",
                    )?
                    .execute(params![
                        format!(
                            "step `{step}` of run {run_id} was {} by {user}",
                            if approve { "approved" } else { "rejected" }
                        ),
                        run_id,
                        step
                    ])?;
                    Ok(Ok(()))
                }
            }
        });
        Box::pin(std::future::ready(result))
    }

    fn hold(&self, job: &str, user: &str, at: DateTime<Utc>, reason: &str) -> Pending<bool> {
        let (job, user, reason) = (job.to_owned(), user.to_owned(), reason.to_owned());
        self.write("holding a job", move |c| {
            let n = c
                .prepare_cached(
                    "INSERT INTO holds (job, held_by, held_at, reason) VALUES (?, ?, ?, ?) \
                     ON CONFLICT (job) DO NOTHING",
                )?
                .execute(params![job, user, ts(at), reason])?;
            Ok(n == 1)
        })
    }

    fn release(&self, job: &str) -> Pending<bool> {
        let job = job.to_owned();
        self.write("releasing a job", move |c| {
            let n = c
                .prepare_cached("DELETE FROM holds WHERE job = ?")?
                .execute([job])?;
            Ok(n == 1)
        })
    }

    fn holds(&self) -> Pending<Vec<HoldRow>> {
        self.read(|c| {
            all(
                c,
                "reading holds",
                "SELECT * FROM holds ORDER BY job",
                [],
                |r| {
                    Ok(HoldRow {
                        job: col(r, "job")?,
                        held_by: col(r, "held_by")?,
                        held_at: time(r, "held_at")?,
                        reason: col(r, "reason")?,
                    })
                },
            )
        })
    }

    fn cancel_requested(&self, run_id: i64) -> Pending<Option<String>> {
        self.read(move |c| {
            c.prepare_cached("SELECT cancel_requested_by FROM runs WHERE id = ?")
                .and_then(|mut s| s.query_row([run_id], |r| r.get(0)).optional())
                .map(Option::flatten)
                .map_err(query_err("reading a cancel request"))
        })
    }

    fn audit(&self, e: &AuditEntry) -> Pending<()> {
        let e = e.clone();
        self.write("recording an operator action", move |c| {
            c.prepare_cached(
                "INSERT INTO audit (at, user, host, action, target, args, outcome, detail) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(e.at),
                e.user,
                e.host,
                e.action,
                e.target,
                e.args.to_string(),
                e.outcome,
                e.detail
            ])?;
            Ok(())
        })
    }

    fn list_audit(
        &self,
        since: Option<DateTime<Utc>>,
        user: Option<&str>,
        limit: i64,
    ) -> Pending<Vec<AuditEntry>> {
        let user = user.map(str::to_owned);
        self.read(move |c| {
            all(
                c,
                "reading the audit trail",
                "SELECT * FROM (SELECT * FROM audit WHERE (?1 IS NULL OR at >= ?1) \
                 AND (?2 IS NULL OR user = ?2) ORDER BY id DESC LIMIT ?3) ORDER BY id",
                params![since.map(ts), user, limit],
                |r| {
                    Ok(AuditEntry {
                        at: time(r, "at")?,
                        user: col(r, "user")?,
                        host: col(r, "host")?,
                        action: col(r, "action")?,
                        target: col(r, "target")?,
                        args: json(r, "args")?,
                        outcome: col(r, "outcome")?,
                        detail: col(r, "detail")?,
                    })
                },
            )
        })
    }

    fn record_param_change(&self, change: &NewParamChange) -> Pending<i64> {
        let ch = change.clone();
        self.write("recording a parameter change", move |c| {
            c.prepare_cached(
                "INSERT INTO param_changes (at, file, key, before, after, reason, run_id, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(ch.at),
                ch.file,
                ch.key,
                ch.before.as_ref().map(ToString::to_string),
                ch.after.as_ref().map(ToString::to_string),
                ch.reason,
                ch.run_id,
                ch.user
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    fn list_param_changes(&self, key: Option<&str>, limit: i64) -> Pending<Vec<ParamChange>> {
        let key = key.map(str::to_owned);
        self.read(move |c| {
            all(
                c,
                "reading parameter changes",
                "SELECT * FROM param_changes WHERE (?1 IS NULL OR key = ?1) \
                 ORDER BY id DESC LIMIT ?2",
                params![key, limit],
                param_change_row,
            )
        })
    }

    fn get_param_change(&self, id: i64) -> Pending<Option<ParamChange>> {
        self.read(move |c| {
            Ok(all(
                c,
                "reading a parameter change",
                "SELECT * FROM param_changes WHERE id = ?",
                [id],
                param_change_row,
            )?
            .into_iter()
            .next())
        })
    }

    fn mark_rolled_back(&self, id: i64, by: i64) -> Pending<bool> {
        self.write("marking a parameter change rolled back", move |c| {
            let n = c
                .prepare_cached(
                    "UPDATE param_changes SET rolled_back_by = ? \
                     WHERE id = ? AND rolled_back_by IS NULL",
                )?
                .execute([by, id])?;
            Ok(n == 1)
        })
    }

    fn record_extract(&self, extract: &NewExtract) -> Pending<i64> {
        let x = extract.clone();
        self.write("recording an extract", move |c| {
            c.prepare_cached(
                "INSERT INTO extracts (at, run_id, job, db, sql_file, out_file, encoding, rows, \
                 sha256, columns, params, user, \"group\") \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?
            .execute(params![
                ts(x.at),
                x.run_id,
                x.job,
                x.db,
                x.sql_file,
                x.out_file,
                x.encoding,
                x.rows,
                x.sha256,
                x.columns.to_string(),
                x.params.to_string(),
                x.user,
                x.group
            ])?;
            Ok(c.last_insert_rowid())
        })
    }

    fn freeze_report(&self, report: &NewFrozenReport) -> Pending<Freeze> {
        let n = report.clone();
        let sha = report.sha256.clone();
        let store = self.clone();
        Box::pin(async move {
            let found = store.write("freezing a report", move |c| {
                // The current one: the row of this report no other supersedes.
                let before = c
                    .prepare_cached(&format!(
                        "SELECT {FROZEN_COLUMNS} FROM frozen_reports \
                         WHERE kind = ?1 AND period = ?2 AND lang = ?3 AND format = ?4 \
                         AND NOT EXISTS (SELECT 1 FROM frozen_reports s \
                         WHERE s.supersedes = frozen_reports.id)"
                    ))?
                    .query_row(params![n.kind, n.period, n.lang, n.format], |r| {
                        Ok(frozen_report_row(r))
                    })
                    .optional()?;
                let supersedes = match (before, &n.supersede) {
                    (None, None) => None,
                    (None, Some(_)) => return Ok(Err(None)),
                    (Some(before), None) => return Ok(Err(Some(before))),
                    (Some(Ok(before)), Some(_)) if before.sha256 == n.sha256 => {
                        return Ok(Err(Some(Ok(before))));
                    }
                    (Some(Ok(before)), Some(_)) => Some(before),
                    (Some(Err(e)), Some(_)) => return Ok(Err(Some(Err(e)))),
                };
                c.prepare_cached(
                    "INSERT INTO frozen_reports (kind, period, lang, format, data_from, data_to, \
                     sha256, body, frozen_at, frozen_by, supersedes, reason) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )?
                .execute(params![
                    n.kind,
                    n.period,
                    n.lang,
                    n.format,
                    ts(n.data_from),
                    ts(n.data_to),
                    n.sha256,
                    n.body,
                    ts(n.frozen_at),
                    n.frozen_by,
                    supersedes.as_ref().map(|b| b.id),
                    n.supersede
                ])?;
                let new = FrozenReport {
                    id: c.last_insert_rowid(),
                    kind: n.kind,
                    period: n.period,
                    lang: n.lang,
                    format: n.format,
                    data_from: n.data_from,
                    data_to: n.data_to,
                    sha256: n.sha256,
                    frozen_at: n.frozen_at,
                    frozen_by: n.frozen_by,
                    supersedes: supersedes.as_ref().map(|b| b.id),
                    reason: n.supersede,
                    superseded_by: None,
                };
                Ok(Ok((new, supersedes)))
            });
            Ok(match found.await? {
                Ok((new, None)) => Freeze::Frozen(new),
                Ok((new, Some(old))) => Freeze::Superseded {
                    old: Box::new(FrozenReport {
                        superseded_by: Some(new.id),
                        ..old
                    }),
                    new: Box::new(new),
                },
                Err(None) => Freeze::NothingToSupersede,
                Err(Some(before)) => {
                    let before = before?;
                    if before.sha256 == sha {
                        Freeze::Already(before)
                    } else {
                        Freeze::Differs(before)
                    }
                }
            })
        })
    }

    fn frozen_report(&self, id: i64) -> Pending<Option<FrozenReport>> {
        self.read(move |c| {
            Ok(all(
                c,
                "reading a frozen report",
                &format!("SELECT {FROZEN_COLUMNS} FROM frozen_reports WHERE id = ?1"),
                [id],
                frozen_report_row,
            )?
            .into_iter()
            .next())
        })
    }

    fn frozen_reports_by_hash(&self, sha256: &str) -> Pending<Vec<FrozenReport>> {
        let sha256 = sha256.to_owned();
        self.read(move |c| {
            all(
                c,
                "reading frozen reports",
                &format!(
                    "SELECT {FROZEN_COLUMNS} FROM frozen_reports WHERE sha256 = ?1 ORDER BY id"
                ),
                [&sha256],
                frozen_report_row,
            )
        })
    }

    fn report_facts(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        slot_jobs: &[String],
    ) -> Pending<ReportFacts> {
        let slot_jobs = slot_jobs.to_vec();
        self.read(move |c| {
            let (from, to) = (ts(from), ts(to));
            let mut facts = ReportFacts::default();
            run_facts(c, &from, &to, &mut facts)?;
            (facts.slots, facts.job_slots) = slot_counts(c, &from, &to, &slot_jobs)?;
            facts.attempts = all(
                c,
                "reading a period's attempts",
                // From the few notable attempts (a partial index) to their runs, not from
                // a month of runs to all their attempts.
                "SELECT r.job AS job, a.status AS status, a.signal IS NOT NULL AS signalled, \
                 a.attempt > 1 AS retry, count(*) AS n \
                 FROM attempts a CROSS JOIN runs r ON r.id = a.run_id \
                 WHERE (a.status <> 'succeeded' OR a.attempt > 1) \
                 AND r.queued_at >= ?1 AND r.queued_at < ?2 \
                 GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4",
                [&from, &to],
                |r| {
                    Ok(AttemptCount {
                        job: col(r, "job")?,
                        status: token(r, "status")?,
                        signalled: col(r, "signalled")?,
                        retry: col(r, "retry")?,
                        count: col(r, "n")?,
                    })
                },
            )?;
            facts.incidents = all(
                c,
                "reading a period's incidents",
                "SELECT * FROM incidents WHERE (opened_at >= ?1 AND opened_at < ?2) \
                 OR (opened_at < ?1 AND (resolved_at IS NULL OR resolved_at >= ?1)) ORDER BY id",
                [&from, &to],
                incident_row,
            )?;
            facts.param_changes = all(
                c,
                "reading a period's parameter changes",
                "SELECT * FROM param_changes WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                param_change_row,
            )?;
            facts.extracts = all(
                c,
                "reading a period's extracts",
                "SELECT * FROM extracts WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                extract_row,
            )?;
            facts.permission_changes = all(
                c,
                "reading a period's permission changes",
                "SELECT * FROM permission_changes WHERE at >= ?1 AND at < ?2 ORDER BY id",
                [&from, &to],
                permission_change_row,
            )?;
            facts.submitted = all(
                c,
                "reading a period's submitted runs",
                "SELECT * FROM runs WHERE trigger = 'submit' AND queued_at >= ?1 \
                 AND queued_at < ?2 ORDER BY id",
                [&from, &to],
                run_row,
            )?;
            facts.refusals = all(
                c,
                "reading a period's refused runs",
                "SELECT job, reason, count(*) AS n FROM runs WHERE status = 'refused' \
                 AND queued_at >= ?1 AND queued_at < ?2 GROUP BY job, reason ORDER BY job, reason",
                [&from, &to],
                |r| {
                    Ok(RefusalCount {
                        job: col(r, "job")?,
                        reason: col(r, "reason")?,
                        count: col(r, "n")?,
                    })
                },
            )?;
            // Through `notifications_incident`: the messages of the period's incidents only.
            facts.first_notified = all(
                c,
                "reading first notifications",
                "SELECT n.incident_id AS id, min(n.sent_at) AS sent_at FROM notifications n \
                 WHERE n.status = 'sent' AND n.sent_at IS NOT NULL AND n.incident_id IN \
                 (SELECT id FROM incidents WHERE (opened_at >= ?1 AND opened_at < ?2) \
                 OR (opened_at < ?1 AND (resolved_at IS NULL OR resolved_at >= ?1))) \
                 GROUP BY n.incident_id ORDER BY n.incident_id",
                [&from, &to],
                |r| Ok((col(r, "id")?, time(r, "sent_at")?)),
            )?;
            Ok(facts)
        })
    }

    fn list_extracts(&self, limit: i64) -> Pending<Vec<ExtractRow>> {
        self.read(move |c| {
            all(
                c,
                "reading extracts",
                "SELECT * FROM extracts ORDER BY id DESC LIMIT ?",
                [limit],
                extract_row,
            )
        })
    }

    fn record_permission_changes(&self, changes: &[NewPermissionChange]) -> Pending<Vec<i64>> {
        let changes = changes.to_vec();
        self.write("recording permission changes", move |c| {
            let mut ids = Vec::with_capacity(changes.len());
            let mut ins = c.prepare_cached(
                "INSERT INTO permission_changes (at, batch, run_id, staff_id, name, department, \
                 kind, target, op, outcome, reason, undo_of, user) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )?;
            for ch in &changes {
                ins.execute(params![
                    ts(ch.at),
                    ch.batch,
                    ch.run_id,
                    ch.staff_id,
                    ch.name,
                    ch.department,
                    ch.kind,
                    ch.target,
                    ch.op,
                    ch.outcome,
                    ch.reason,
                    ch.undo_of,
                    ch.user
                ])?;
                ids.push(c.last_insert_rowid());
            }
            Ok(ids)
        })
    }

    fn list_permission_changes(&self, filter: &PermissionFilter) -> Pending<Vec<PermissionChange>> {
        let f = filter.clone();
        self.read(move |c| {
            all(
                c,
                "reading permission changes",
                "SELECT * FROM permission_changes WHERE (?1 IS NULL OR department = ?1) \
                 AND (?2 IS NULL OR staff_id = ?2) AND (?3 IS NULL OR batch = ?3) \
                 ORDER BY id DESC LIMIT ?4",
                params![f.department, f.staff_id, f.batch, f.limit],
                permission_change_row,
            )
        })
    }

    fn notification_work(&self, now: DateTime<Utc>, limit: i64) -> Pending<NotificationWork> {
        self.read(move |c| {
            let unrouted = all(
                c,
                "reading incidents to notify",
                "SELECT * FROM incidents WHERE route IS NULL ORDER BY id LIMIT ?",
                [limit],
                incident_row,
            )?;
            let recurred = all(
                c,
                "reading occurrences to notify",
                "SELECT e.id AS event_id, i.* FROM incident_events e \
                 JOIN incidents i ON i.id = e.incident_id \
                 WHERE e.kind = 'occurrence' AND e.notified = 0 AND i.route IS NOT NULL \
                 ORDER BY e.id LIMIT ?",
                [limit],
                |r| Ok((col(r, "event_id")?, incident_row(r)?)),
            )?;
            let escalations = all(
                c,
                "reading escalations due",
                "SELECT * FROM incidents WHERE status = 'open' AND next_escalation_at <= ? \
                 ORDER BY next_escalation_at LIMIT ?",
                params![ts(now), limit],
                incident_row,
            )?;
            let gates = all(
                c,
                "reading approval gates waiting",
                "SELECT g.run_id, g.step, r.job, g.requested_at, g.timeout_at, g.announced_at, \
                 g.reminded_at FROM gates g \
                 JOIN steps s ON s.run_id = g.run_id AND s.name = g.step \
                 JOIN runs r ON r.id = g.run_id \
                 WHERE g.decision IS NULL AND s.status = 'waiting_approval' \
                 AND (g.announced_at IS NULL \
                      OR (g.reminded_at IS NULL AND g.timeout_at IS NOT NULL)) \
                 ORDER BY g.requested_at LIMIT ?",
                [limit],
                |r| {
                    Ok(WaitingGate {
                        run_id: col(r, "run_id")?,
                        step: col(r, "step")?,
                        job: col(r, "job")?,
                        requested_at: time(r, "requested_at")?,
                        timeout_at: opt_time(r, "timeout_at")?,
                        announced_at: opt_time(r, "announced_at")?,
                        reminded_at: opt_time(r, "reminded_at")?,
                    })
                },
            )?;
            Ok(NotificationWork {
                unrouted,
                recurred,
                escalations,
                gates,
            })
        })
    }

    fn plan_notifications(&self, plan: &NotificationPlan) -> Pending<bool> {
        let p = plan.clone();
        self.write("writing notifications", move |c| {
            let at = ts(p.at);
            let changed = c
                .prepare_cached(
                    "UPDATE incidents SET route = ?, escalation_level = ?, \
                     next_escalation_at = ? WHERE id = ? AND (NOT ? OR status = 'open')",
                )?
                .execute(params![
                    p.route,
                    p.level,
                    p.next_escalation_at.map(ts),
                    p.incident_id,
                    p.only_if_open
                ])?;
            if let Some(e) = p.event_id {
                c.prepare_cached("UPDATE incident_events SET notified = 1 WHERE id = ?")?
                    .execute([e])?;
            }
            if changed == 0 {
                return Ok(false);
            }
            let mut add = c.prepare_cached(
                "INSERT INTO notifications (incident_id, event, route, level, channel, \
                 created_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
            )?;
            for m in &p.messages {
                add.execute(params![
                    p.incident_id,
                    m.event,
                    p.route,
                    m.level,
                    m.channel,
                    at,
                    at
                ])?;
            }
            Ok(true)
        })
    }

    fn plan_gate_notice(&self, notice: &GateNotice) -> Pending<bool> {
        let n = notice.clone();
        self.write("writing an approval notice", move |c| {
            let at = ts(n.at);
            let changed = c
                .prepare_cached(
                    "UPDATE gates SET \
                     announced_at = CASE WHEN ? THEN COALESCE(announced_at, ?) ELSE announced_at END, \
                     reminded_at = CASE WHEN ? THEN COALESCE(reminded_at, ?) ELSE reminded_at END \
                     WHERE run_id = ? AND step = ? AND decision IS NULL \
                     AND EXISTS (SELECT 1 FROM steps s WHERE s.run_id = gates.run_id \
                                 AND s.name = gates.step AND s.status = 'waiting_approval')",
                )?
                .execute(params![n.announce, at, n.remind, at, n.run_id, n.step])?;
            if changed == 0 {
                return Ok(false);
            }
            let mut add = c.prepare_cached(
                "INSERT INTO notifications (run_id, step, event, route, level, channel, \
                 created_at, status, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', ?)",
            )?;
            for m in &n.messages {
                add.execute(params![
                    n.run_id, n.step, m.event, n.route, m.level, m.channel, at, at
                ])?;
            }
            Ok(true)
        })
    }

    fn due_notifications(&self, now: DateTime<Utc>, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read(move |c| {
            all(
                c,
                "reading notifications due",
                "SELECT * FROM notifications WHERE status = 'pending' AND next_attempt_at <= ? \
                 ORDER BY next_attempt_at, id LIMIT ?",
                params![ts(now), limit],
                notification_row,
            )
        })
    }

    fn notification_tried(
        &self,
        id: i64,
        result: Result<String, String>,
        at: DateTime<Utc>,
        retry_at: Option<DateTime<Utc>>,
    ) -> Pending<()> {
        self.write("recording a delivery", move |c| {
            let at = ts(at);
            match &result {
                Ok(receipt) => c
                    .prepare_cached(
                        "UPDATE notifications SET status = 'sent', attempts = attempts + 1, \
                         receipt = ?, sent_at = ?, last_error = NULL WHERE id = ?",
                    )?
                    .execute(params![receipt, at, id])?,
                Err(why) => c
                    .prepare_cached(
                        "UPDATE notifications SET attempts = attempts + 1, last_error = ?, \
                         status = CASE WHEN ? IS NULL THEN 'failed' ELSE 'pending' END, \
                         next_attempt_at = COALESCE(?, next_attempt_at) WHERE id = ?",
                    )?
                    .execute(params![why, retry_at.map(ts), retry_at.map(ts), id])?,
            };
            Ok(())
        })
    }

    fn list_notifications(&self, failed: bool, limit: i64) -> Pending<Vec<NotificationRow>> {
        self.read(move |c| {
            all(
                c,
                "listing notifications",
                "SELECT * FROM notifications WHERE (NOT ?1 OR status = 'failed') \
                 ORDER BY id DESC LIMIT ?2",
                params![failed, limit],
                notification_row,
            )
        })
    }

    fn job_recovered(
        &self,
        job: &str,
        run_id: i64,
        at: DateTime<Utc>,
        resolve: bool,
    ) -> Pending<Vec<i64>> {
        let job = job.to_owned();
        self.write("noting a recovery on incidents", move |c| {
            let rows: Vec<(i64, String, Option<i64>)> = c
                .prepare_cached(
                    "SELECT id, status, run_id FROM incidents WHERE job = ? \
                     AND status <> 'resolved' ORDER BY id",
                )?
                .query_map([&job], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                .collect::<rusqlite::Result<_>>()?;
            let at = ts(at);
            let mut ids = Vec::with_capacity(rows.len());
            for (id, status, opened_by_run) in &rows {
                ids.push(*id);
                let id = *id;
                let text = format!("`{job}` succeeded again in run {run_id}");
                // Only an incident nobody took on, opened by an earlier run: one a person
                // acknowledged is theirs to close, and a run's own retry that worked does
                // not close the incident it opened.
                if resolve && status == "open" && *opened_by_run != Some(run_id) {
                    c.prepare_cached(
                        "UPDATE incidents SET status = 'resolved', resolved_by = 'unyo', \
                         resolved_at = ?, next_escalation_at = NULL, \
                         cause = COALESCE(cause, 'not recorded: unyo closed it when the job succeeded again'), \
                         countermeasure = COALESCE(countermeasure, 'not recorded') WHERE id = ?",
                    )?
                    .execute(params![at, id])?;
                    incident_log(c, id, &at, "resolved", "unyo", Some(run_id), &text)?;
                    withdraw_messages(
                        c,
                        id,
                        1,
                        &format!("incident {id} was resolved: {text}"),
                    )?;
                } else {
                    incident_log(c, id, &at, "note", "unyo", Some(run_id), &text)?;
                }
            }
            Ok(ids)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_database_newer_than_itself() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("unyo.db");
        let mut conn = connect(&path).expect("connect");
        migrate(&mut conn).expect("migrate");
        conn.execute(
            "INSERT INTO schema_migrations VALUES (999, 'future', '2030-01-01T00:00:00Z')",
            [],
        )
        .expect("insert");
        let err = migrate(&mut conn).expect_err("newer schema");
        assert!(err.to_string().contains("schema version 999"), "{err}");
    }

    /// Migration numbers may have gaps, and one merged later with a lower number than the
    /// newest applied is still applied.
    #[test]
    fn a_known_migration_missing_below_the_newest_is_applied() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("unyo.db");
        let mut conn = connect(&path).expect("connect");
        migrate(&mut conn).expect("migrate");
        conn.execute_batch(
            "DROP TABLE param_changes; DELETE FROM schema_migrations WHERE version = 10;",
        )
        .expect("forget 10");
        migrate(&mut conn).expect("migrate again");
        let n: i64 = conn
            .query_row("SELECT count(*) FROM param_changes", [], |r| r.get(0))
            .expect("param_changes is back");
        assert_eq!(n, 0);
        let versions: Vec<i64> = conn
            .prepare("SELECT version FROM schema_migrations ORDER BY version")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<rusqlite::Result<_>>()
            .expect("rows");
        let known: Vec<i64> = MIGRATIONS.iter().map(|m| m.0).collect();
        assert_eq!(versions, known);
    }

    /// Secret values an earlier version stored in clear are masked by migration 17.
    #[test]
    fn secrets_stored_in_clear_before_are_masked() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("unyo.db");
        let mut conn = connect(&path).expect("connect");
        migrate(&mut conn).expect("migrate");
        conn.execute_batch(
            r#"DELETE FROM schema_migrations WHERE version = 17;
            INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year,
                queued_at, requested_by, host, job_digest, catalog_digest)
            VALUES ('login', 'manual', '{"user":"app","db_password":"hunter2","api_token":""}',
                'succeeded', '2026-12-01', 2026, '2026-12-01T00:00:00Z', 'ops', 'h', '', '');
            INSERT INTO audit (at, user, host, action, target, args, outcome, detail) VALUES
                ('2026-12-01T00:00:00Z', 'ops', 'h', 'run', 'job login',
                 '{"params":{"user":"app","db_password":"hunter2"},"parallel":2}', 'done', 'x'),
                ('2026-12-01T00:00:00Z', 'ops', 'h', 'submit', 'job login',
                 '{"params":["user=app","DB_PASSWORD=hunter2","x=a=b"],"at":null}', 'done', 'x'),
                ('2026-12-01T00:00:00Z', 'ops', 'h', 'param.set', 'param db.password',
                 '{"file":"/a.yaml","key":"db.password","value":"hunter2","reason":"","expect":null}',
                 'done', 'change 1: "old1" -> "hunter2"');
            INSERT INTO param_changes (at, file, key, before, after, reason, user)
            VALUES ('2026-12-01T00:00:00Z', '/a.yaml', 'db.password', '"old1"', '"hunter2"', '', 'ops');"#,
        )
        .expect("rows of an earlier version");
        migrate(&mut conn).expect("migrate again");
        let text = |sql: &str| -> String { conn.query_row(sql, [], |r| r.get(0)).expect(sql) };
        assert_eq!(
            text("SELECT params FROM runs"),
            r#"{"user":"app","db_password":"***","api_token":""}"#
        );
        assert_eq!(
            text("SELECT group_concat(args, ' | ') FROM audit ORDER BY id"),
            r#"{"params":{"user":"app","db_password":"***"},"parallel":2} | {"params":["user=app","DB_PASSWORD=***","x=a=b"],"at":null} | {"file":"/a.yaml","key":"db.password","value":"***","reason":"","expect":null}"#
        );
        assert_eq!(
            text("SELECT detail FROM audit WHERE action = 'param.set'"),
            r#"change 1: "***" -> "***""#
        );
        assert_eq!(
            text("SELECT before || ' ' || after FROM param_changes"),
            r#""***" "***""#
        );
        // The audit trail is append-only again.
        assert!(conn.execute("DELETE FROM audit", []).is_err());
    }

    #[test]
    fn refuses_a_database_it_did_not_create() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("other.db");
        let mut conn = connect(&path).expect("connect");
        conn.execute_batch("CREATE TABLE runs (id INTEGER)")
            .expect("create");
        let err = migrate(&mut conn).expect_err("foreign tables");
        assert!(
            err.to_string().contains("tables that unyo did not create"),
            "{err}"
        );
    }

    /// Writes queued in the same turn share a commit; one that fails fails alone, the
    /// others are committed, and every caller gets its own outcome.
    #[test]
    fn queued_writes_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("unyo.db");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let store = SqliteStore::open(&path).await.expect("open");
            store
                .write("creating", |c| {
                    c.execute_batch("CREATE TABLE scratch (x INTEGER UNIQUE)")
                })
                .await
                .expect("create");
            let insert = |x: i64| {
                store.write("inserting", move |c| {
                    c.execute("INSERT INTO scratch (x) VALUES (?)", [x])
                })
            };
            let (a, b, c) = tokio::join!(insert(1), insert(1), insert(2));
            assert_eq!(a.expect("first insert"), 1);
            let err = b.expect_err("duplicate");
            assert!(err.to_string().contains("UNIQUE"), "{err}");
            assert_eq!(c.expect("third insert"), 1);
            assert!(store.queued.lock().expect("queue").is_empty());
        });
        let conn = Connection::open(&path).expect("reopen");
        let xs: Vec<i64> = conn
            .prepare("SELECT x FROM scratch ORDER BY x")
            .expect("prepare")
            .query_map([], |r| r.get(0))
            .expect("query")
            .collect::<Result<_, _>>()
            .expect("rows");
        assert_eq!(xs, [1, 2]);
    }

    /// `write_now` commits what was queued before it, first.
    #[test]
    fn write_now_commits_earlier_queued_writes_in_order() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("unyo.db");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let store = SqliteStore::open(&path).await.expect("open");
            store
                .write("creating", |c| {
                    c.execute_batch("CREATE TABLE scratch (x INTEGER PRIMARY KEY, y TEXT)")
                })
                .await
                .expect("create");
            let queued = store.write("inserting", |c| {
                c.execute("INSERT INTO scratch (x, y) VALUES (1, 'queued')", [])
            });
            let seen: String = store
                .write_now("reading back", |c| {
                    c.query_row("SELECT y FROM scratch WHERE x = 1", [], |r| r.get(0))
                })
                .expect("write_now");
            assert_eq!(seen, "queued");
            assert_eq!(queued.await.expect("queued write"), 1);
        });
    }

    #[test]
    fn times_sort_as_text() {
        let a = ts(DateTime::from_timestamp(1_700_000_000, 5_000).expect("t"));
        let b = ts(DateTime::from_timestamp(1_700_000_000, 60_000).expect("t"));
        assert!(a < b, "{a} {b}");
        assert!(a.ends_with('Z'));
    }
}
