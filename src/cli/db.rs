//! `unyo db copy --to postgres://…`: moves an installation from its SQLite file to a new,
//! empty PostgreSQL database (`store::copy_sqlite` copies and checks), then says what to
//! change in `unyo.yaml`. It holds the daemon lock of the SQLite database while it copies (a
//! running daemon is refused, none starts meanwhile), records the copy in the target's audit
//! trail, and never prints a password: the URL is shown without it, wherever it was given.

use std::io::Write;
use std::path::{Path, PathBuf};

use chrono::Utc;

use super::table::Table;
use crate::error::Error;
use crate::model::{Database, Settings};
use crate::store::{AuditEntry, CopyError, StoreError, without_password};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copy the whole history of the installation's SQLite database (runs, steps, attempts,
    /// slots, incidents, notifications, audit, frozen reports ...) into a new, empty
    /// PostgreSQL database, checked before it is committed.
    ///
    /// The copy is one transaction: every table with its ids, then the checks (as many rows in
    /// each table as in the SQLite file, every frozen report's body hashing to its recorded
    /// SHA-256), then the copy's own audit entry; nothing is committed unless every check
    /// passed. A database that holds any row of unyo is refused and left as it was. Stop the
    /// daemon first: a running one is refused (exit 3). The SQLite file is only read, and stays
    /// as it was. The password comes from `PGPASSWORD` or `~/.pgpass` (it may also be in the
    /// URL; it is never printed). Then set `database: postgres://…` in unyo.yaml, without the
    /// password.
    ///
    /// Guide: docs/guide/operating.md.
    Copy(CopyArgs),
}

#[derive(Debug, clap::Args)]
pub struct CopyArgs {
    /// The new PostgreSQL database: `postgres://USER@HOST[:PORT]/DATABASE` (its password
    /// from `PGPASSWORD` or `~/.pgpass`).
    #[arg(long, value_name = "URL")]
    pub to: TargetUrl,
}

/// The target URL as given: it may hold a password, so it never prints as it is (not even in
/// clap's or `Debug`'s messages).
#[derive(Clone)]
pub struct TargetUrl(String);

impl std::fmt::Debug for TargetUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&without_password(&self.0))
    }
}

impl std::str::FromStr for TargetUrl {
    // Never refused here: clap would quote the value in its message.
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(TargetUrl(s.to_owned()))
    }
}

pub async fn run(settings: &Settings, cmd: Command) -> Result<(), Error> {
    match cmd {
        Command::Copy(args) => copy(settings, args).await,
    }
}

async fn copy(settings: &Settings, args: CopyArgs) -> Result<(), Error> {
    let url = args.to.0.trim().to_owned();
    let shown = without_password(&url);
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(Error::Request(format!(
            "--to: `{shown}` is not a PostgreSQL URL (postgres://USER@HOST/DATABASE)"
        )));
    }
    let source = match &settings.database {
        Database::Sqlite(path) => path.clone(),
        Database::Postgres(configured) => {
            return Err(Error::Request(format!(
                "the installation's database is PostgreSQL already (`database: {}` in \
                 unyo.yaml): `unyo db copy` copies a SQLite database into PostgreSQL",
                without_password(configured)
            )));
        }
    };
    if !source.exists() {
        return Err(Error::Request(format!(
            "no SQLite database at {}: nothing to copy",
            source.display()
        )));
    }
    // Held until the copy has committed: no daemon records anything in the SQLite file that
    // the copy would miss.
    let _lock = hold_daemon_lock(&source, &settings.database)?;
    let from = settings.database.to_string();
    let target = format!("database {shown}");
    let audit_args = serde_json::json!({ "from": from, "to": shown });
    eprintln!("copying {from} into {shown}");
    let progress = |table: &'static str, rows: i64| {
        let _ = writeln!(std::io::stderr(), "  {table}: {rows} rows");
    };
    let copied = crate::store::copy_sqlite(source.clone(), url.clone(), progress, {
        let from = from.clone();
        move |tables: &[(&'static str, i64)]| AuditEntry {
            at: Utc::now(),
            user: crate::domain::host::os_user(),
            host: crate::domain::host::hostname(),
            action: "db.copy".to_owned(),
            target,
            args: audit_args,
            outcome: "done".to_owned(),
            detail: format!(
                "copied {} rows of {} tables from {from}",
                tables.iter().map(|(_, n)| n).sum::<i64>(),
                tables.len()
            ),
        }
    })
    .await
    .map_err(|e| match e {
        CopyError::NotEmpty(_) | CopyError::Source(_) => Error::Request(e.to_string()),
        CopyError::Check(m) => Error::Store(StoreError::Query {
            action: "checking the copy",
            message: format!("the copy was rolled back, nothing was committed: {m}"),
        }),
        CopyError::Store(e) => Error::Store(e),
    })?;

    let mut t = Table::new(&["TABLE", "ROWS"]);
    let mut total = 0;
    for (table, rows) in &copied.tables {
        t.row(vec![(*table).to_owned(), rows.to_string()]);
        total += rows;
    }
    t.row(vec!["total".to_owned(), total.to_string()]);
    let mut text = format!(
        "copied {from} into {shown} in {:.2} s:\n\n{}\n",
        copied.seconds,
        t.render()
    );
    text.push_str(&format!(
        "checked before the commit: every table holds as many rows as in the SQLite file; \
         {} frozen report{} hash{} to {} recorded SHA-256; new rows get ids after the copied \
         ones. The copy is audit entry {} of the new database.\n\n",
        copied.frozen_checked,
        if copied.frozen_checked == 1 { "" } else { "s" },
        if copied.frozen_checked == 1 { "es" } else { "" },
        if copied.frozen_checked == 1 {
            "its"
        } else {
            "their"
        },
        copied.audit_id
    ));
    text.push_str(&format!(
        "next:\n\
         1. with the daemon still stopped, set in {}:\n\
         \x20      database: {shown}\n\
         2. give the password to unyo through PGPASSWORD (in the daemon's service \
         environment) or ~/.pgpass of the user unyo runs as; never write it into unyo.yaml\n\
         3. start the daemon. `unyo report verify FILE` checks a frozen report against the new \
         database. Keep {} as it is, as the record of the copy: unyo no longer writes it.\n",
        settings
            .file
            .as_deref()
            .unwrap_or(&settings.root.join(crate::model::SETTINGS_FILE))
            .display(),
        source.display()
    ));
    super::out(&text);
    Ok(())
}

/// Takes the daemon lock of the SQLite database (`<database>.daemon.lock`, as the daemon
/// does) for as long as the returned file is kept: a daemon running on it is refused, and
/// none starts while the copy runs.
fn hold_daemon_lock(db: &Path, database: &Database) -> Result<std::fs::File, Error> {
    let mut path = db.as_os_str().to_owned();
    path.push(".daemon.lock");
    let path = PathBuf::from(path);
    let io = |action: String| move |source| Error::Io { action, source };
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            Err(Error::Request(format!(
                "the unyo daemon is running on {database}{}: stop it first, so that nothing is \
                 recorded in the SQLite database after it is copied",
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            )))
        }
        Err(std::fs::TryLockError::Error(e)) => {
            Err(io(format!("cannot lock {}", path.display()))(e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_given_never_prints_its_password() {
        let url: TargetUrl = "postgres://unyo:s3cret@db1/unyo?password=s3cret"
            .parse()
            .expect("any text");
        assert_eq!(format!("{url:?}"), "postgres://unyo@db1/unyo");
    }
}
