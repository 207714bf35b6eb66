//! The SQLite store: one file, WAL journal, a write connection owned by the store's writer
//! thread (`writer.rs`) and a read connection for queries (on tokio's blocking threads).
//! One file per aggregate beside this one (`runs`, `slots`, `incidents`, `outbox`,
//! `records`, `reports`) implements its trait with its row mappers; `rows.rs` reads
//! columns. This file opens the database, applies the migrations and maps SQLite's
//! failures to [`StoreError`] (`sqlite_error`, the one place its result codes are read).
//!
//! Writes are sent to the writer in the order they are called; it commits everything
//! waiting in one transaction (group commit; each write in its own savepoint, so one
//! failing write fails alone). The future resolves only after the commit, so "recorded"
//! always means "on disk". Transactions start with `BEGIN IMMEDIATE`, so another process
//! writing the same file makes the writer wait on the busy timeout (other writers hold the
//! lock for milliseconds) instead of failing on a lock upgrade; only the writer thread
//! waits, never a task of the async runtime. The write connection copies the WAL back into
//! the database file whenever the WAL reaches 1,000 pages (SQLite's default): one `fsync`
//! every few hundred writes.
//!
//! `synchronous = NORMAL` in WAL mode: a commit survives a crash of unyo or of a step; the
//! last commits may be lost only if the machine itself loses power.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use super::*;

mod bulk;
mod checks;
mod delegations;
mod desk;
mod findings;
mod incidents;
mod nodes;
mod outbox;
mod reader;
mod records;
mod reports;
mod rows;
mod runs;
mod slots;
mod today;
mod web;
mod writer;

use incidents::*;
use reader::Reader;
use records::*;
use rows::*;
use runs::*;
use writer::{QueuedWrite, Tx, Writer, Written, in_savepoint};

/// Migrations, applied in order; a version once released never changes (forward-only).
/// Versions need not be contiguous: every version listed here and not yet recorded in
/// `schema_migrations` is applied, so a migration merged from another branch with a lower
/// number than one applied already is still applied.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "runs",
        include_str!("../../../migrations/sqlite/0001_runs.sql"),
    ),
    (
        2,
        "scheduler",
        include_str!("../../../migrations/sqlite/0002_scheduler.sql"),
    ),
    (
        3,
        "incidents",
        include_str!("../../../migrations/sqlite/0003_incidents.sql"),
    ),
    (
        4,
        "notifications",
        include_str!("../../../migrations/sqlite/0004_notifications.sql"),
    ),
    (
        5,
        "audit",
        include_str!("../../../migrations/sqlite/0005_audit.sql"),
    ),
    (
        6,
        "cancel",
        include_str!("../../../migrations/sqlite/0006_cancel.sql"),
    ),
    (
        7,
        "holds",
        include_str!("../../../migrations/sqlite/0007_holds.sql"),
    ),
    (
        8,
        "submit",
        include_str!("../../../migrations/sqlite/0008_submit.sql"),
    ),
    (
        9,
        "gates",
        include_str!("../../../migrations/sqlite/0009_gates.sql"),
    ),
    (
        10,
        "param_changes",
        include_str!("../../../migrations/sqlite/0010_param_changes.sql"),
    ),
    (
        11,
        "extracts",
        include_str!("../../../migrations/sqlite/0011_extracts.sql"),
    ),
    (
        12,
        "permission_changes",
        include_str!("../../../migrations/sqlite/0012_permission_changes.sql"),
    ),
    (
        13,
        "report",
        include_str!("../../../migrations/sqlite/0013_report.sql"),
    ),
    (
        14,
        "frozen_reports",
        include_str!("../../../migrations/sqlite/0014_frozen_reports.sql"),
    ),
    (
        15,
        "superseded_reports",
        include_str!("../../../migrations/sqlite/0015_superseded_reports.sql"),
    ),
    (
        17,
        "mask_secrets",
        include_str!("../../../migrations/sqlite/0017_mask_secrets.sql"),
    ),
    (
        19,
        "signals",
        include_str!("../../../migrations/sqlite/0019_signals.sql"),
    ),
    (
        20,
        "operator_time",
        include_str!("../../../migrations/sqlite/0020_operator_time.sql"),
    ),
    (
        21,
        "findings",
        include_str!("../../../migrations/sqlite/0021_findings.sql"),
    ),
    (
        22,
        "checks",
        include_str!("../../../migrations/sqlite/0022_checks.sql"),
    ),
    (
        23,
        "notable_attempts",
        include_str!("../../../migrations/sqlite/0023_notable_attempts.sql"),
    ),
    (
        24,
        "nodes",
        include_str!("../../../migrations/sqlite/0024_nodes.sql"),
    ),
    (
        25,
        "delegations",
        include_str!("../../../migrations/sqlite/0025_delegations.sql"),
    ),
    (
        27,
        "desk",
        include_str!("../../../migrations/sqlite/0027_desk.sql"),
    ),
    (
        28,
        "web_users",
        include_str!("../../../migrations/sqlite/0028_web_users.sql"),
    ),
    (
        31,
        "city_role",
        include_str!("../../../migrations/sqlite/0031_city_role.sql"),
    ),
    (
        32,
        "business_date",
        include_str!("../../../migrations/sqlite/0032_business_date.sql"),
    ),
];

/// The read connection's page cache, in KiB as `PRAGMA cache_size` takes it (negative).
const READ_CACHE_KIB: i64 = -512;

/// How long a write waits for another process holding the database.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// A store in one SQLite file.
#[derive(Clone)]
pub struct SqliteStore {
    /// The database file, to tell a full disk from other failures.
    path: Arc<PathBuf>,
    /// The thread that owns the write connection.
    writer: Arc<Writer>,
    /// The thread that owns the read connection.
    reader: Arc<Reader>,
    /// The daemon whose fence every write checks (0: none; see `NodeStore::fence_writes`).
    fence: Arc<std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// A failed statement as a [`StoreError`] that keeps its cause: the one place SQLite's
/// result codes are read.
pub(super) fn sqlite_error(action: &'static str, e: &rusqlite::Error) -> StoreError {
    use rusqlite::ErrorCode;
    if let rusqlite::Error::ToSqlConversionFailure(carried) = e
        && let Some(e) = carried.downcast_ref::<StoreError>()
    {
        return e.clone();
    }
    let message = e.to_string();
    let code = match e {
        rusqlite::Error::SqliteFailure(f, _) => Some(f.code),
        _ => None,
    };
    match code {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Busy { action, message }
        }
        Some(ErrorCode::ConstraintViolation) => StoreError::Constraint { action, message },
        Some(ErrorCode::DiskFull | ErrorCode::SystemIoFailure | ErrorCode::CannotOpen) => {
            StoreError::Io { action, message }
        }
        _ => StoreError::Query { action, message },
    }
}

/// Carries a [`StoreError`] out of a write through rusqlite's error type, so the write's
/// savepoint is rolled back and its caller gets the error as it was.
pub(super) fn carry(e: StoreError) -> rusqlite::Error {
    rusqlite::Error::ToSqlConversionFailure(Box::new(e))
}

/// [`sqlite_error`] for `map_err`.
fn query_err(action: &'static str) -> impl Fn(rusqlite::Error) -> StoreError {
    move |e| sqlite_error(action, &e)
}

/// A write whose reply was lost: the writer thread is gone, its transaction never ran.
fn not_committed(action: &'static str) -> StoreError {
    StoreError::Query {
        action,
        message: "the write was not committed".to_owned(),
    }
}

/// Starts the writer thread of the database at `path`.
fn start_reader(path: &Path, conn: Connection) -> Result<Reader, StoreError> {
    Reader::start(conn).map_err(|e| StoreError::Open {
        database: format!("sqlite:{}", path.display()),
        message: format!("cannot start the reader thread: {e}"),
    })
}

fn start_writer(path: &Path, conn: Connection) -> Result<Writer, StoreError> {
    Writer::start(conn).map_err(|e| StoreError::Open {
        database: format!("sqlite:{}", path.display()),
        message: format!("cannot start the writer thread: {e}"),
    })
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
        StoreError::Query { action, message }
        | StoreError::Io { action, message }
        | StoreError::Busy { action, message }
        | StoreError::Constraint { action, message } => format!("{action}: {message}"),
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
    // The last connection to close would checkpoint the whole log (fsyncs and a copy) at the
    // end of every command: the log is left to the next opener instead, and checkpointed by
    // whoever writes once it has grown (the writer thread, or SQLite's automatic checkpoint).
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE,
        true,
    )?;
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
        let writer = Arc::new(start_writer(&path, write)?);
        let reader = Arc::new(start_reader(&path, conn)?);
        Ok(SqliteStore {
            path: Arc::new(path),
            writer,
            reader,
            fence: Arc::default(),
        })
    }

    fn open_blocking(path: PathBuf) -> Result<SqliteStore, StoreError> {
        let write = open_migrated(&path).map_err(|e| classify(&path, e))?;
        let read = connect(&path)
            .and_then(|c| {
                // The reads scan (a month of runs, the history the metrics count once): the
                // system's page cache holds the file; SQLite's own, per connection, need not
                // hold 2 MiB of it for the life of the daemon.
                c.pragma_update(None, "cache_size", READ_CACHE_KIB)?;
                Ok(c)
            })
            .map_err(|e| {
                classify(
                    &path,
                    StoreError::Open {
                        database: format!("sqlite:{}", path.display()),
                        message: e.to_string(),
                    },
                )
            })?;
        super::disk::keep_reserve(&path);
        let writer = Arc::new(start_writer(&path, write)?);
        let reader = Arc::new(start_reader(&path, read)?);
        Ok(SqliteStore {
            path: Arc::new(path),
            writer,
            reader,
            fence: Arc::default(),
        })
    }

    /// Sends `f` to the writer and returns a future that resolves once it is committed
    /// (with whatever else was waiting by then).
    fn write<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Pending<T> {
        self.write_with(action, f, false)
    }

    /// [`Self::write`] for a brief write (a few rows by key, once per step), which is
    /// committed at once in the calling thread when that cannot wait (see `writer`).
    fn write_brief<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Pending<T> {
        self.write_with(action, f, true)
    }

    fn write_with<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        brief: bool,
    ) -> Pending<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.queue(
            action,
            f,
            move |outcome| {
                let _ = tx.send(outcome);
            },
            brief,
        );
        let path = self.path.clone();
        Box::pin(async move {
            rx.await
                .map_err(|_| not_committed(action))?
                .map_err(|e| classify(&path, e))
        })
    }

    /// Sends `f` to the writer and blocks until it is committed (with anything sent before
    /// it): for a caller outside the async runtime.
    #[cfg(test)]
    fn write_now<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.queue(
            action,
            f,
            move |outcome| {
                let _ = tx.send(outcome);
            },
            false,
        );
        rx.recv()
            .map_err(|_| not_committed(action))?
            .map_err(|e| classify(&self.path, e))
    }

    /// Hands `f` to the writer (`brief`: it may commit it at once); `answer` gets its
    /// outcome once the commit is known.
    fn queue<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
        answer: impl FnOnce(Result<T, StoreError>) + Send + 'static,
        brief: bool,
    ) {
        let fence = self.fence.load(std::sync::atomic::Ordering::Acquire);
        let f = move |c: &Connection| {
            if fence != 0 {
                nodes::check_fence(c, fence)?;
            }
            f(c)
        };
        let write: QueuedWrite = Box::new(move |tx| {
            let ran = match tx {
                // Alone in its transaction, which is undone as a whole if it fails.
                Ok(Tx { conn, alone: true }) => f(conn).map_err(|e| sqlite_error(action, &e)),
                Ok(Tx { conn, alone: false }) => {
                    in_savepoint(conn, f).map_err(|e| sqlite_error(action, &e))
                }
                Err(e) => Err(e.clone()),
            };
            let ok = ran.is_ok();
            Written {
                ok,
                reply: Box::new(move |committed: Result<(), &StoreError>| {
                    answer(match (ran, committed) {
                        (Err(e), _) => Err(e),
                        (Ok(v), Ok(())) => Ok(v),
                        (Ok(_), Err(e)) => Err(e.clone()),
                    });
                }),
            }
        });
        if brief {
            self.writer.send_brief(write);
        } else {
            self.writer.send(write);
        }
    }

    /// Runs `f` on the read connection, on the reader thread.
    fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Pending<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.reader.send(Box::new(move |c| {
            let _ = tx.send(f(c));
        }));
        let path = self.path.clone();
        Box::pin(async move {
            let lost = |what: &str| StoreError::Query {
                action: "reading",
                message: what.to_owned(),
            };
            if !sent {
                return Err(lost("the reader thread has stopped"));
            }
            rx.await
                .map_err(|_| lost("the read panicked"))?
                .map_err(|e| classify(&path, e))
        })
    }
}

#[cfg(test)]
mod tests;
