//! The PostgreSQL store: the same traits as the SQLite store, over one PostgreSQL database
//! that every unyo daemon and command of an installation shares (`database: postgres://…`).
//!
//! One file per aggregate beside this one implements its trait; `rows.rs` reads columns.
//! This file opens the database, applies the migrations (`migrations/postgres/`, under an
//! advisory lock so that daemons starting together apply each once) and maps PostgreSQL's
//! failures to [`StoreError`] (`pg_error`, the one place its error codes are read).
//!
//! Connections are owned by threads (`session.rs`): one writer (`writer.rs`: writes
//! committed in the order they were issued, group commit) and [`READERS`] readers. The
//! password comes from `PGPASSWORD` or `~/.pgpass` (libpq's own conventions), never from
//! `unyo.yaml`, and no statement or bound value is logged.

use std::str::FromStr;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgRow};

use super::*;

mod rows;
mod session;
mod writer;

mod bulk;
mod checks;
mod copy;
mod delegations;
mod desk;
mod findings;
mod incidents;
mod nodes;
mod outbox;
mod records;
mod reports;
mod runs;
mod slots;
mod today;
mod web;

pub use copy::{Copied, CopyError, copy_sqlite, without_password};
use rows::*;
use session::{Fail, Pg, Q, Threads};
use writer::{QueuedWrite, Tx, Written, in_savepoint};

/// Migrations, applied in order; a version once released never changes (forward-only).
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "schema",
        include_str!("../../../migrations/postgres/0001_schema.sql"),
    ),
    (
        2,
        "nodes",
        include_str!("../../../migrations/postgres/0002_nodes.sql"),
    ),
    (
        3,
        "delegations",
        include_str!("../../../migrations/postgres/0003_delegations.sql"),
    ),
    (
        5,
        "desk",
        include_str!("../../../migrations/postgres/0005_desk.sql"),
    ),
    (
        6,
        "web_users",
        include_str!("../../../migrations/postgres/0006_web_users.sql"),
    ),
    (
        9,
        "city_role",
        include_str!("../../../migrations/postgres/0009_city_role.sql"),
    ),
    (
        10,
        "business_date",
        include_str!("../../../migrations/postgres/0010_business_date.sql"),
    ),
];

/// Threads reading, each with its own connection.
const READERS: usize = 2;

/// The key of the advisory lock that migrations are applied under.
const MIGRATION_LOCK: i64 = 0x756e_796f_0001; // "unyo", 1

/// A store in one PostgreSQL database.
#[derive(Clone)]
pub struct PgStore {
    /// The URL without its password, for messages.
    database: Arc<str>,
    /// The URL as given (it may hold a password: never shown), for the listener.
    url: Arc<str>,
    writer: Arc<Threads<QueuedWrite>>,
    readers: Arc<Threads<session::Job>>,
    /// The daemon whose fence every write transaction checks (0: none).
    fence: Arc<std::sync::atomic::AtomicI64>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("database", &self.database)
            .finish_non_exhaustive()
    }
}

/// A failed statement as a [`StoreError`] that keeps its cause: the one place PostgreSQL's
/// error codes (SQLSTATE) are read.
pub(super) fn pg_error(action: &'static str, e: &sqlx::Error) -> StoreError {
    let message = match e {
        sqlx::Error::Database(d) => d.message().to_owned(),
        other => other.to_string(),
    };
    if session::broken(e) {
        return StoreError::Unreachable {
            action,
            message: format!("PostgreSQL: {message}"),
        };
    }
    let code = match e {
        sqlx::Error::Database(d) => d.code().map(|c| c.into_owned()),
        _ => None,
    };
    match code.as_deref() {
        // serialization_failure, deadlock_detected, lock_not_available, query_canceled
        Some("40001" | "40P01" | "55P03" | "57014") => StoreError::Busy { action, message },
        // integrity_constraint_violation and its kinds (unique, foreign key, check, not null,
        // and the triggers' restrict_violation)
        Some(c) if c.starts_with("23") => StoreError::Constraint { action, message },
        // insufficient_resources (disk_full, out_of_memory ...), system errors
        Some(c) if c.starts_with("53") || c.starts_with("58") => StoreError::Io { action, message },
        _ => StoreError::Query { action, message },
    }
}

/// [`Fail`] as a [`StoreError`], naming what was being done.
fn fail(action: &'static str) -> impl Fn(Fail) -> StoreError {
    move |f| match f {
        Fail::Sql(e) => pg_error(action, &e),
        Fail::Store(e) => e,
    }
}

/// A write whose reply was lost: the writer thread is gone, its transaction never ran.
fn not_committed(action: &'static str) -> StoreError {
    StoreError::Query {
        action,
        message: "the write was not committed".to_owned(),
    }
}

/// `postgres://…` as connection options: the password, when the URL holds none, from
/// `PGPASSWORD` or `~/.pgpass`; statements never logged.
fn options(url: &str) -> Result<PgConnectOptions, StoreError> {
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::Open {
        database: crate::model::redact_url(url),
        message: format!("not a PostgreSQL URL: {e}"),
    })?;
    Ok(options
        .application_name("unyo")
        .log_statements(tracing::log::LevelFilter::Off)
        .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::ZERO))
}

/// Applies pending migrations in one transaction, under an advisory lock, so daemons
/// opening a new database at once apply each migration exactly once.
fn migrate(pg: &mut Pg) -> Result<(), StoreError> {
    let err = |f: Fail| match f {
        Fail::Sql(e) => StoreError::Migrate(pg_error("migrating", &e).to_string()),
        Fail::Store(e) => e,
    };
    pg.batch("BEGIN").map_err(err)?;
    let done = migrate_in(pg);
    match done {
        Ok(()) => pg.batch("COMMIT").map_err(err),
        Err(e) => {
            let _ = pg.batch("ROLLBACK");
            Err(e)
        }
    }
}

fn migrate_in(pg: &mut Pg) -> Result<(), StoreError> {
    let err = |f: Fail| match f {
        Fail::Sql(e) => StoreError::Migrate(pg_error("migrating", &e).to_string()),
        Fail::Store(e) => e,
    };
    pg.execute(sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(MIGRATION_LOCK))
        .map_err(err)?;
    let exists: bool = col(
        &pg.fetch_one(sqlx::query(
            "SELECT to_regclass('schema_migrations') IS NOT NULL AS e",
        ))
        .map_err(err)?,
        "e",
    )?;
    if !exists {
        let foreign: i64 = col(
            &pg.fetch_one(sqlx::query(
                "SELECT count(*) AS n FROM pg_tables WHERE schemaname = current_schema()",
            ))
            .map_err(err)?,
            "n",
        )?;
        if foreign > 0 {
            return Err(StoreError::Migrate(
                "the database holds tables that unyo did not create; point `database:` in \
                 unyo.yaml at a new, empty database"
                    .to_owned(),
            ));
        }
        pg.batch(
            "CREATE TABLE schema_migrations (
                 version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)",
        )
        .map_err(err)?;
    }
    let applied: std::collections::HashSet<i64> = pg
        .fetch_all(sqlx::query("SELECT version FROM schema_migrations"))
        .map_err(err)?
        .iter()
        .map(|r| col(r, "version"))
        .collect::<Result<_, _>>()?;
    let newest = MIGRATIONS.last().map_or(0, |m| m.0);
    if let Some(current) = applied.iter().max()
        && *current > newest
    {
        return Err(StoreError::Migrate(format!(
            "the database is at schema version {current}, newer than this unyo knows ({newest}); \
             use a newer unyo"
        )));
    }
    for (version, name, sql) in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        pg.script((*sql).to_owned()).map_err(|f| match f {
            Fail::Sql(e) => StoreError::Migrate(format!(
                "migration {version} ({name}): {}",
                pg_error("migrating", &e)
            )),
            Fail::Store(e) => e,
        })?;
        pg.execute(
            sqlx::query(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, now())",
            )
            .bind(*version)
            .bind(*name),
        )
        .map_err(err)?;
    }
    Ok(())
}

impl PgStore {
    /// Connects to the database at `url` and applies pending migrations.
    pub async fn open(url: &str) -> Result<PgStore, StoreError> {
        let options = options(url)?;
        let database: Arc<str> = Arc::from(crate::model::redact_url(url));
        let open_err = |message: String| StoreError::Open {
            database: database.to_string(),
            message,
        };
        let fence: Arc<std::sync::atomic::AtomicI64> = Arc::default();
        let theirs = fence.clone();
        let writer = Threads::start("unyo-pg-writer", 1, &options, move |pg, jobs| {
            writer::serve(pg, jobs, &theirs)
        })
        .map_err(|e| open_err(format!("cannot start the writer thread: {e}")))?;
        let readers = Threads::start("unyo-pg-reader", READERS, &options, session::serve_each)
            .map_err(|e| open_err(format!("cannot start the reader threads: {e}")))?;
        let store = PgStore {
            database: database.clone(),
            url: Arc::from(url),
            writer: Arc::new(writer),
            readers: Arc::new(readers),
            fence,
        };
        // Connect and migrate on a reader's connection, outside any write transaction.
        store
            .setup(move |pg| {
                pg.connect().map_err(|e| StoreError::Open {
                    database: database.to_string(),
                    message: pg_error("connecting", &e).to_string(),
                })?;
                migrate(pg)
            })
            .await?;
        Ok(store)
    }

    /// Runs `f` on a reader's connection outside any transaction: connecting and
    /// migrating when the store opens.
    async fn setup(
        &self,
        f: impl FnOnce(&mut Pg) -> Result<(), StoreError> + Send + 'static,
    ) -> Result<(), StoreError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let sent = self.readers.send(Box::new(move |pg| {
            let _ = tx.send(f(pg));
        }));
        if !sent {
            return Err(not_committed("opening the database"));
        }
        rx.await
            .map_err(|_| not_committed("opening the database"))?
    }

    /// Sends `f` to the writer and returns a future that resolves once it is committed
    /// (with whatever else was waiting by then).
    fn write<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&mut Pg) -> Result<T, Fail> + Send + 'static,
    ) -> Pending<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let write: QueuedWrite = Box::new(move |t| {
            let ran = match t {
                // Alone in its transaction, which is undone as a whole if it fails.
                Ok(Tx { pg, alone: true }) => f(pg).map_err(fail(action)),
                Ok(Tx { pg, alone: false }) => in_savepoint(pg, f).map_err(fail(action)),
                Err(e) => Err(e.clone()),
            };
            let ok = ran.is_ok();
            Written {
                ok,
                reply: Box::new(move |committed: Result<(), &StoreError>| {
                    let _ = tx.send(match (ran, committed) {
                        (Err(e), _) => Err(e),
                        (Ok(v), Ok(())) => Ok(v),
                        (Ok(_), Err(e)) => Err(e.clone()),
                    });
                }),
            }
        });
        self.writer.send(write);
        Box::pin(async move { rx.await.map_err(|_| not_committed(action))? })
    }

    /// Runs `f` on a reader's connection.
    fn read<T: Send + 'static>(
        &self,
        action: &'static str,
        f: impl FnOnce(&mut Pg) -> Result<T, Fail> + Send + 'static,
    ) -> Pending<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.readers.send(Box::new(move |pg| {
            let _ = tx.send(f(pg).map_err(fail(action)));
        }));
        Box::pin(async move {
            rx.await.map_err(|_| StoreError::Query {
                action,
                message: "the reading thread is gone".to_owned(),
            })?
        })
    }
}

/// A query with its SQL (`$1`, `$2` … for values, bound in order with `.bind(v)`).
fn q(sql: &'static str) -> Q {
    sqlx::query(sql)
}

/// Collects mapped rows.
fn map_all<T>(
    rows: Vec<PgRow>,
    map: impl Fn(&PgRow) -> Result<T, StoreError>,
) -> Result<Vec<T>, Fail> {
    rows.iter().map(|r| map(r).map_err(Fail::Store)).collect()
}
