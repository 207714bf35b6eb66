//! `unyo db copy`: an installation's whole history moved from its SQLite file into a new,
//! empty PostgreSQL database, once, when the installation moves up.
//!
//! The source is opened read-only and read inside one read transaction: one snapshot,
//! whatever writes the file meanwhile. The target's schema is brought up first (the
//! migrations [`PgStore::open`] applies). Then ONE transaction locks every unyo table
//! against other writers, refuses a target that holds any row (naming what it found), inserts
//! every table's rows in primary-key order, in batches (`INSERT … SELECT * FROM unnest(…)`,
//! one array per column), ids kept and each value converted to its PostgreSQL type (RFC 3339
//! text to `timestamptz`, `YYYY-MM-DD` to `date`, 0/1 to `boolean`, blobs to `bytea`, JSON
//! text kept byte for byte), checks the deferred foreign keys, checks the copy (each table
//! holds as many rows as the source's, every frozen report's body hashes to its recorded
//! SHA-256), moves every identity past the largest id copied (and past SQLite's own
//! `sqlite_sequence`, so no id is ever given twice) and records the copy in the audit trail.
//! It commits only when all of that passed: a copy that fails leaves the target without a row.
//! (A sequence moved before a failure stays moved: PostgreSQL's sequences are outside
//! transactions. The ids of an empty database only start later.)
//!
//! [`TABLES`] is what is copied: every table of the SQLite schema with its columns and their
//! PostgreSQL types, in an order where a row's foreign keys point at rows inserted before it,
//! except the three that point into their own table (`runs.rerun_of`, `daemons.fenced_by`, and
//! `param_changes.rolled_back_by`, which names a later row): those are `DEFERRABLE` in the
//! schema and deferred here. Frozen reports go one row a statement, in id order, so the
//! insert trigger that checks a superseded report sees the one it supersedes. Both schemas
//! are compared with [`TABLES`] before anything is written: a SQLite table or column missing
//! here, or a column of these tables that either side has and the other lacks, stops the copy
//! rather than losing or inventing values.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use rusqlite::types::ValueRef;

use super::*;

mod tables;

use tables::*;

/// The SQLite tables that are the migrations' own, not copied (nor are SQLite's own
/// `sqlite_…` tables: `sqlite_sequence`, an `ANALYZE`'s `sqlite_stat1`).
const NOT_COPIED: &[&str] = &["schema_migrations"];

/// Why a copy did not happen. Whatever the reason, the target holds no row of it.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// The target holds rows already: each unyo table that does, and how many.
    #[error(
        "the PostgreSQL database is not empty: it holds {}; `unyo db copy` copies only into a \
         new, empty database, and changed nothing",
        found(.0)
    )]
    NotEmpty(Vec<(&'static str, i64)>),
    /// The source cannot be copied as it is: not a unyo database, a schema this unyo does not
    /// copy, a value that does not convert.
    #[error("{0}")]
    Source(String),
    /// A check of the copy failed: it was rolled back.
    #[error("the copy was rolled back, nothing was committed: {0}")]
    Check(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// `runs (3 rows), audit (1 row)`.
fn found(tables: &[(&'static str, i64)]) -> String {
    tables
        .iter()
        .map(|(t, n)| format!("{t} ({n} row{})", if *n == 1 { "" } else { "s" }))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a copy did.
#[derive(Debug, Clone)]
pub struct Copied {
    /// Each table and its rows, in the order copied (as many in the source as in the target).
    pub tables: Vec<(&'static str, i64)>,
    /// Frozen reports whose body was checked against its SHA-256.
    pub frozen_checked: i64,
    /// The id of the audit entry that records the copy.
    pub audit_id: i64,
    pub seconds: f64,
}

/// Copies the SQLite database at `source` into the empty PostgreSQL database at `url` (see
/// the module's header). `progress` is told each table once it is copied; `audit` makes the
/// audit entry recorded in the target with the copy, given the rows per table.
pub async fn copy_sqlite(
    source: PathBuf,
    url: String,
    progress: impl Fn(&'static str, i64) + Send + 'static,
    audit: impl FnOnce(&[(&'static str, i64)]) -> AuditEntry + Send + 'static,
) -> Result<Copied, CopyError> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    // The connection's own runtime cannot run inside the caller's: a thread of its own.
    std::thread::Builder::new()
        .name("unyo-db-copy".to_owned())
        .spawn(move || {
            let _ = tx.send(copy_blocking(&source, &url, &progress, audit));
        })
        .map_err(|e| StoreError::Io {
            action: "copying the database",
            message: format!("cannot start the copying thread: {e}"),
        })?;
    rx.await.map_err(|_| {
        CopyError::Store(StoreError::Query {
            action: "copying the database",
            message: "the copying thread ended without an answer; nothing was committed".to_owned(),
        })
    })?
}

/// `url` without its password, wherever it was given (`user:secret@host`,
/// `?password=secret`): what may be printed, and what goes into unyo.yaml.
pub fn without_password(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let mut out = match base.find("://") {
        Some(i) => {
            let (scheme, rest) = base.split_at(i + 3);
            let authority_end = rest.find('/').unwrap_or(rest.len());
            match rest[..authority_end].rfind('@') {
                Some(at) => {
                    let user = rest[..at].split(':').next().unwrap_or_default();
                    format!("{scheme}{user}{}", &rest[at..])
                }
                None => base.to_owned(),
            }
        }
        None => base.to_owned(),
    };
    if let Some(q) = query {
        let kept: Vec<&str> = q
            .split('&')
            .filter(|p| {
                !p.split('=')
                    .next()
                    .unwrap_or_default()
                    .eq_ignore_ascii_case("password")
            })
            .collect();
        if !kept.is_empty() {
            out.push('?');
            out.push_str(&kept.join("&"));
        }
    }
    // And what the settings' own redaction would hide, should the forms above miss one.
    crate::model::redact_url(&out)
}

/// A failed PostgreSQL statement, naming what was being done.
fn sql(action: &'static str) -> impl Fn(Fail) -> CopyError {
    move |f| CopyError::Store(fail(action)(f))
}

/// A failed SQLite statement on the source.
fn source_err(e: rusqlite::Error) -> CopyError {
    CopyError::Source(format!("reading the SQLite database: {e}"))
}

fn copy_blocking(
    source: &Path,
    url: &str,
    progress: &dyn Fn(&'static str, i64),
    audit: impl FnOnce(&[(&'static str, i64)]) -> AuditEntry,
) -> Result<Copied, CopyError> {
    let started = Instant::now();
    let mut src = open_source(source)?;
    // One snapshot of the source for everything read from it.
    let snapshot = src.transaction().map_err(source_err)?;
    check_source(&snapshot)?;
    let counts = source_counts(&snapshot)?;

    // Every message names the database without its password, wherever the URL held it
    // (`redact_url` masks only `user:password@`).
    let database = without_password(url);
    if let Err(e) = PgConnectOptions::from_str(url) {
        return Err(CopyError::Store(StoreError::Open {
            database,
            message: format!("not a PostgreSQL URL: {e}"),
        }));
    }
    let mut pg = Pg::new(options(url)?).map_err(|e| StoreError::Open {
        database: database.clone(),
        message: format!("cannot start a runtime for the connection: {e}"),
    })?;
    pg.connect().map_err(|e| StoreError::Open {
        database: database.clone(),
        message: pg_error("connecting", &e).to_string(),
    })?;
    migrate(&mut pg)?;
    check_target(&mut pg)?;

    pg.batch("BEGIN").map_err(sql("starting the copy"))?;
    pg.hold(true);
    let epoch = pg.epoch();
    let copied = copy_in(&mut pg, &snapshot, &counts, progress, audit);
    let committed = match copied {
        Ok(c) if pg.epoch() == epoch => match pg.batch("COMMIT") {
            Ok(()) => Ok(c),
            Err(e) => {
                let _ = pg.batch("ROLLBACK");
                Err(sql("committing the copy")(e))
            }
        },
        Ok(_) => Err(CopyError::Store(StoreError::Io {
            action: "copying the database",
            message: "the connection to PostgreSQL broke during the copy; nothing was committed"
                .to_owned(),
        })),
        Err(e) => {
            let _ = pg.batch("ROLLBACK");
            Err(e)
        }
    };
    pg.hold(false);
    pg.close();
    let mut copied = committed?;
    copied.seconds = started.elapsed().as_secs_f64();
    Ok(copied)
}

/// Everything inside the copy's transaction.
fn copy_in(
    pg: &mut Pg,
    src: &rusqlite::Connection,
    counts: &[(&'static str, i64)],
    progress: &dyn Fn(&'static str, i64),
    audit: impl FnOnce(&[(&'static str, i64)]) -> AuditEntry,
) -> Result<Copied, CopyError> {
    pg.batch(LOCK_WAIT).map_err(sql("starting the copy"))?;
    // No other session writes a unyo table until the copy commits; readers still read.
    let names: Vec<String> = TABLES.iter().map(|t| format!("\"{}\"", t.name)).collect();
    pg.execute(sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {} IN EXCLUSIVE MODE",
        names.join(", ")
    ))))
    .map_err(sql("locking the tables to copy into"))?;
    let held = target_counts(pg)?;
    let nonempty: Vec<(&'static str, i64)> = held.into_iter().filter(|(_, n)| *n > 0).collect();
    if !nonempty.is_empty() {
        return Err(CopyError::NotEmpty(nonempty));
    }
    pg.batch("SET CONSTRAINTS ALL DEFERRED")
        .map_err(sql("starting the copy"))?;
    let mut largest = Vec::new();
    for t in TABLES {
        let (rows, max_id) = copy_table(pg, src, t)?;
        progress(t.name, rows);
        if t.identity {
            largest.push((t.name, max_id));
        }
    }
    // The deferred foreign keys (a rerun's run, a rollback's change) are checked now, inside
    // the transaction, rather than by the COMMIT.
    pg.batch("SET CONSTRAINTS ALL IMMEDIATE")
        .map_err(sql("checking the copied references"))?;

    // The checks.
    let copied = target_counts(pg)?;
    let differ: Vec<String> = counts
        .iter()
        .zip(&copied)
        .filter(|((_, s), (_, c))| s != c)
        .map(|((t, s), (_, c))| format!("{t}: {s} rows in SQLite, {c} in PostgreSQL"))
        .collect();
    if !differ.is_empty() {
        return Err(CopyError::Check(differ.join("; ")));
    }
    let altered = pg
        .fetch_all(q(
            "SELECT id, sha256, encode(sha256(body), 'hex') AS actual FROM frozen_reports \
             WHERE encode(sha256(body), 'hex') <> sha256 ORDER BY id",
        ))
        .map_err(sql("checking the frozen reports"))?;
    if !altered.is_empty() {
        let listed = altered
            .iter()
            .map(|r| {
                Ok(format!(
                    "frozen report {} records sha256 {} but its body hashes to {}",
                    col::<i64>(r, "id")?,
                    col::<String>(r, "sha256")?,
                    col::<String>(r, "actual")?
                ))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        return Err(CopyError::Check(listed.join("; ")));
    }
    let frozen_checked = copied
        .iter()
        .find(|(t, _)| *t == "frozen_reports")
        .map_or(0, |(_, n)| *n);

    // New rows get new ids: past the largest copied, and past any SQLite ever gave.
    let given = sqlite_sequence(src)?;
    for (table, max_id) in largest {
        let last = given
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n)
            .max(max_id);
        if last > 0 {
            pg.execute(
                q("SELECT setval(pg_get_serial_sequence($1, 'id'), $2)")
                    .bind(table)
                    .bind(last),
            )
            .map_err(sql("moving the ids past the copied ones"))?;
        }
    }

    let entry = audit(&copied);
    let row = pg
        .fetch_one(
            q(
                "INSERT INTO audit (at, \"user\", host, action, target, args, outcome, detail) \
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
            )
            .bind(entry.at)
            .bind(entry.user)
            .bind(entry.host)
            .bind(entry.action)
            .bind(entry.target)
            .bind(entry.args.to_string())
            .bind(entry.outcome)
            .bind(entry.detail),
        )
        .map_err(sql("recording the copy in the audit trail"))?;
    Ok(Copied {
        tables: copied,
        frozen_checked,
        audit_id: col(&row, "id")?,
        seconds: 0.0,
    })
}

/// Opens the SQLite database read-only (`mode=ro`: SQLite writes nothing into it).
fn open_source(path: &Path) -> Result<rusqlite::Connection, CopyError> {
    use rusqlite::OpenFlags;
    if !path.exists() {
        return Err(CopyError::Source(format!(
            "no SQLite database at {}: nothing to copy",
            path.display()
        )));
    }
    let mut uri = String::from("file:");
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b'?' | b'#' | b'%' => uri.push_str(&format!("%{b:02X}")),
            _ => uri.push(char::from(*b)),
        }
    }
    uri.push_str("?mode=ro");
    let conn = rusqlite::Connection::open_with_flags(
        &uri,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
    )
    .and_then(|c| {
        c.busy_timeout(std::time::Duration::from_secs(30))?;
        Ok(c)
    })
    .map_err(|e| {
        CopyError::Source(format!(
            "cannot open the SQLite database {} read-only: {e}",
            path.display()
        ))
    })?;
    Ok(conn)
}

/// The source holds exactly the tables and columns of [`TABLES`].
fn check_source(src: &rusqlite::Connection) -> Result<(), CopyError> {
    let names = |sql: &str, args: &[&dyn rusqlite::ToSql]| -> Result<Vec<String>, CopyError> {
        let mut stmt = src.prepare(sql).map_err(source_err)?;
        let rows = stmt
            .query_map(args, |r| r.get::<_, String>(0))
            .map_err(source_err)?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
            .map_err(source_err)
    };
    let tables = names(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
        &[],
    )?;
    if !tables.iter().any(|t| t == "schema_migrations") {
        return Err(CopyError::Source(
            "the SQLite file is not a unyo database (it has no `schema_migrations`)".to_owned(),
        ));
    }
    let mut problems = Vec::new();
    for t in &tables {
        if !NOT_COPIED.contains(&t.as_str())
            && !t.starts_with("sqlite_")
            && !TABLES.iter().any(|k| k.name == t)
        {
            problems.push(format!("table `{t}` is not one this unyo copies"));
        }
    }
    for t in TABLES {
        if !tables.iter().any(|n| n == t.name) {
            problems.push(format!("table `{}` is missing", t.name));
            continue;
        }
        let columns = names("SELECT name FROM pragma_table_info(?1)", &[&t.name])?;
        compare(t, columns.iter().map(|c| (c.as_str(), None)), &mut problems);
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CopyError::Source(format!(
        "the SQLite database is not at the schema this unyo copies ({}): a database of an \
         older unyo is brought up to date by any command of this one that opens it (`unyo \
         status`); one of a newer unyo is copied by that newer unyo",
        problems.join("; ")
    )))
}

/// The target's tables of [`TABLES`] have exactly their columns and types. (Tables of the
/// PostgreSQL schema that SQLite's lacks are not this copy's concern: a table SQLite has and
/// [`TABLES`] lacks stops the copy in [`check_source`].)
fn check_target(pg: &mut Pg) -> Result<(), CopyError> {
    let names: Vec<&str> = TABLES.iter().map(|t| t.name).collect();
    let rows = pg
        .fetch_all(
            q(
                "SELECT table_name::text AS t, column_name::text AS c, data_type::text AS ty \
               FROM information_schema.columns WHERE table_schema = current_schema() \
               AND table_name = ANY($1) ORDER BY table_name, ordinal_position",
            )
            .bind(names),
        )
        .map_err(sql("reading the PostgreSQL schema"))?;
    let mut found: Vec<(String, String, String)> = Vec::with_capacity(rows.len());
    for r in &rows {
        found.push((col(r, "t")?, col(r, "c")?, col(r, "ty")?));
    }
    let mut problems = Vec::new();
    for t in TABLES {
        let columns: Vec<(&str, Option<&str>)> = found
            .iter()
            .filter(|(n, _, _)| n == t.name)
            .map(|(_, c, ty)| (c.as_str(), Some(ty.as_str())))
            .collect();
        if columns.is_empty() {
            problems.push(format!("table `{}` is missing", t.name));
            continue;
        }
        compare(t, columns.into_iter(), &mut problems);
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(CopyError::Store(StoreError::Migrate(format!(
        "the PostgreSQL schema is not the one this unyo copies into ({})",
        problems.join("; ")
    ))))
}

/// Adds to `problems` how `columns` (with their PostgreSQL types, when known) differ from
/// `t`'s.
fn compare<'a>(
    t: &Table,
    columns: impl Iterator<Item = (&'a str, Option<&'a str>)>,
    problems: &mut Vec<String>,
) {
    let columns: Vec<_> = columns.collect();
    for (c, ty) in &columns {
        match t.columns.iter().find(|(n, _)| n == c) {
            None => problems.push(format!("`{}.{c}` is not copied by this unyo", t.name)),
            Some((_, kind)) => {
                if let Some(ty) = ty
                    && *ty != kind.pg()
                {
                    problems.push(format!(
                        "`{}.{c}` is {ty}, not {} as this unyo copies it",
                        t.name,
                        kind.pg()
                    ));
                }
            }
        }
    }
    for (n, _) in t.columns {
        if !columns.iter().any(|(c, _)| c == n) {
            problems.push(format!("`{}.{n}` is missing", t.name));
        }
    }
}

/// Rows per table of the source, in [`TABLES`] order.
fn source_counts(src: &rusqlite::Connection) -> Result<Vec<(&'static str, i64)>, CopyError> {
    TABLES
        .iter()
        .map(|t| {
            let n: i64 = src
                .query_row(&format!("SELECT count(*) FROM \"{}\"", t.name), [], |r| {
                    r.get(0)
                })
                .map_err(source_err)?;
            Ok((t.name, n))
        })
        .collect()
}

/// Rows per table of the target, in [`TABLES`] order.
fn target_counts(pg: &mut Pg) -> Result<Vec<(&'static str, i64)>, CopyError> {
    let mut out = Vec::with_capacity(TABLES.len());
    for t in TABLES {
        let row = pg
            .fetch_one(sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) AS n FROM \"{}\"",
                t.name
            ))))
            .map_err(sql("counting the rows of the PostgreSQL database"))?;
        out.push((t.name, col::<i64>(&row, "n")?));
    }
    Ok(out)
}

/// The last id SQLite gave in each AUTOINCREMENT table (`sqlite_sequence`), rows deleted
/// since included.
fn sqlite_sequence(src: &rusqlite::Connection) -> Result<Vec<(String, i64)>, CopyError> {
    let mut stmt = src
        .prepare("SELECT name, seq FROM sqlite_sequence")
        .map_err(source_err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(source_err)?;
    rows.collect::<rusqlite::Result<Vec<_>>>()
        .map_err(source_err)
}

/// One column's values of a batch, as the array bound for its `unnest`.
enum Values {
    Int(Vec<Option<i64>>),
    Int4(Vec<Option<i32>>),
    Text(Vec<Option<String>>),
    Time(Vec<Option<DateTime<Utc>>>),
    Date(Vec<Option<NaiveDate>>),
    Bool(Vec<Option<bool>>),
    Float(Vec<Option<f64>>),
    Bytes(Vec<Option<Vec<u8>>>),
}

impl Values {
    fn new(kind: Kind, capacity: usize) -> Values {
        match kind {
            Kind::Int => Values::Int(Vec::with_capacity(capacity)),
            Kind::Int4 => Values::Int4(Vec::with_capacity(capacity)),
            Kind::Text => Values::Text(Vec::with_capacity(capacity)),
            Kind::Time => Values::Time(Vec::with_capacity(capacity)),
            Kind::Date => Values::Date(Vec::with_capacity(capacity)),
            Kind::Bool => Values::Bool(Vec::with_capacity(capacity)),
            Kind::Float => Values::Float(Vec::with_capacity(capacity)),
            Kind::Bytes => Values::Bytes(Vec::with_capacity(capacity)),
        }
    }

    /// Adds the SQLite value `v`, converted; returns the bytes it adds to the batch, or why
    /// it does not convert.
    fn push(&mut self, v: ValueRef<'_>) -> Result<usize, String> {
        fn text(b: &[u8]) -> Result<&str, String> {
            std::str::from_utf8(b).map_err(|e| format!("text that is not UTF-8 ({e})"))
        }
        let null = matches!(v, ValueRef::Null);
        let wrong = |want: &str| format!("{} where {want} was expected", describe(v));
        match self {
            Values::Int(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(i),
                _ => return Err(wrong("an integer")),
            }),
            Values::Int4(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Integer(i) => Some(
                    i32::try_from(i).map_err(|_| format!("{i} is out of the range of integer"))?,
                ),
                _ => return Err(wrong("an integer")),
            }),
            Values::Bool(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Integer(0) => Some(false),
                ValueRef::Integer(1) => Some(true),
                _ => return Err(wrong("0 or 1")),
            }),
            Values::Float(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Real(f) => Some(f),
                ValueRef::Integer(i) => Some(i as f64),
                _ => return Err(wrong("a number")),
            }),
            Values::Text(out) => {
                let s = match v {
                    ValueRef::Null => None,
                    ValueRef::Text(b) => {
                        let s = text(b)?;
                        // PostgreSQL's text holds no NUL: one (only ever in the output tails
                        // of earlier versions) is copied as U+FFFD, as unyo writes it now.
                        if s.contains('\0') {
                            Some(s.replace('\0', "\u{FFFD}"))
                        } else {
                            Some(s.to_owned())
                        }
                    }
                    _ => return Err(wrong("text")),
                };
                let n = s.as_ref().map_or(0, String::len);
                out.push(s);
                return Ok(n);
            }
            Values::Time(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Text(b) => {
                    let s = text(b)?;
                    Some(
                        DateTime::parse_from_rfc3339(s)
                            .map_err(|e| format!("`{s}` is not an RFC 3339 time ({e})"))?
                            .with_timezone(&Utc),
                    )
                }
                _ => return Err(wrong("an RFC 3339 time")),
            }),
            Values::Date(out) => out.push(match v {
                ValueRef::Null => None,
                ValueRef::Text(b) => {
                    let s = text(b)?;
                    Some(
                        NaiveDate::parse_from_str(s, "%Y-%m-%d")
                            .map_err(|e| format!("`{s}` is not a date YYYY-MM-DD ({e})"))?,
                    )
                }
                _ => return Err(wrong("a date YYYY-MM-DD")),
            }),
            Values::Bytes(out) => {
                let b = match v {
                    ValueRef::Null => None,
                    ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
                    _ => return Err(wrong("a blob")),
                };
                let n = b.as_ref().map_or(0, Vec::len);
                out.push(b);
                return Ok(n);
            }
        }
        Ok(if null { 1 } else { 8 })
    }

    fn bind(self, q: Q) -> Q {
        match self {
            Values::Int(v) => q.bind(v),
            Values::Int4(v) => q.bind(v),
            Values::Text(v) => q.bind(v),
            Values::Time(v) => q.bind(v),
            Values::Date(v) => q.bind(v),
            Values::Bool(v) => q.bind(v),
            Values::Float(v) => q.bind(v),
            Values::Bytes(v) => q.bind(v),
        }
    }
}

/// A SQLite value, for a message: its type and, when short, itself.
fn describe(v: ValueRef<'_>) -> String {
    match v {
        ValueRef::Null => "NULL".to_owned(),
        ValueRef::Integer(i) => format!("the integer {i}"),
        ValueRef::Real(f) => format!("the real {f}"),
        ValueRef::Text(b) if b.len() <= 40 => {
            format!("the text `{}`", String::from_utf8_lossy(b))
        }
        ValueRef::Text(b) => format!("a text of {} bytes", b.len()),
        ValueRef::Blob(b) => format!("a blob of {} bytes", b.len()),
    }
}

/// `id 42`, `run_id 3, name load`: the row a message is about.
fn key_of(t: &Table, row: &rusqlite::Row<'_>) -> String {
    t.key
        .iter()
        .map(|k| {
            let at = t.columns.iter().position(|(n, _)| n == k).unwrap_or(0);
            let v = match row.get_ref(at) {
                Ok(ValueRef::Integer(i)) => i.to_string(),
                Ok(ValueRef::Text(b)) => String::from_utf8_lossy(b).into_owned(),
                Ok(other) => describe(other),
                Err(e) => e.to_string(),
            };
            format!("{k} {v}")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Copies one table's rows; returns how many, and the largest `id` (0 without one).
fn copy_table(pg: &mut Pg, src: &rusqlite::Connection, t: &Table) -> Result<(i64, i64), CopyError> {
    let quoted: Vec<String> = t.columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let select = format!(
        "SELECT {} FROM \"{}\" ORDER BY {}",
        quoted.join(", "),
        t.name,
        t.key
            .iter()
            .map(|k| format!("\"{k}\""))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let arrays: Vec<String> = t
        .columns
        .iter()
        .enumerate()
        .map(|(i, (_, k))| format!("${}::{}", i + 1, k.array()))
        .collect();
    // Built from the names above only; every value is bound.
    let insert: Arc<str> = Arc::from(format!(
        "INSERT INTO \"{}\" ({}) SELECT * FROM unnest({})",
        t.name,
        quoted.join(", "),
        arrays.join(", ")
    ));
    let id_at = match t.identity {
        true => t.columns.iter().position(|(n, _)| *n == "id"),
        false => None,
    };
    let mut stmt = src.prepare(&select).map_err(source_err)?;
    let mut rows = stmt.query([]).map_err(source_err)?;
    let fresh = || -> Vec<Values> {
        t.columns
            .iter()
            .map(|(_, k)| Values::new(*k, t.batch.min(1024)))
            .collect()
    };
    let mut batch = fresh();
    let (mut in_batch, mut bytes) = (0usize, 0usize);
    let (mut copied, mut max_id) = (0i64, 0i64);
    let flush = |pg: &mut Pg, batch: Vec<Values>, n: usize| -> Result<i64, CopyError> {
        let mut q = sqlx::query(sqlx::AssertSqlSafe(insert.clone()));
        for v in batch {
            q = v.bind(q);
        }
        let done = pg.execute(q).map_err(sql("copying rows into PostgreSQL"))?;
        if done != n as u64 {
            return Err(CopyError::Check(format!(
                "{}: {n} rows sent, {done} inserted",
                t.name
            )));
        }
        Ok(n as i64)
    };
    while let Some(row) = rows.next().map_err(source_err)? {
        for (i, (name, _)) in t.columns.iter().enumerate() {
            let v = row.get_ref(i).map_err(source_err)?;
            if Some(i) == id_at
                && let ValueRef::Integer(id) = v
            {
                max_id = max_id.max(id);
            }
            bytes += batch[i].push(v).map_err(|why| {
                CopyError::Source(format!(
                    "`{}.{name}` of the row with {}: {why}; nothing was copied",
                    t.name,
                    key_of(t, row)
                ))
            })?;
        }
        in_batch += 1;
        if in_batch >= t.batch || bytes >= BATCH_BYTES {
            copied += flush(pg, std::mem::replace(&mut batch, fresh()), in_batch)?;
            (in_batch, bytes) = (0, 0);
        }
    }
    if in_batch > 0 {
        copied += flush(pg, batch, in_batch)?;
    }
    Ok((copied, max_id))
}

#[cfg(test)]
mod tests;
