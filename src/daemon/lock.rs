//! The daemon lock: one daemon per SQLite database (the lock beside its file), or per
//! installation on this machine when the daemons of several servers share a PostgreSQL
//! (the lock in its data folder; the other servers' daemons are nodes of their own). The
//! holder's pid is in the file for the refusal of a second one.

use std::fs::File;
use std::path::PathBuf;

use crate::error::Error;
use crate::model::{Database, Settings};

/// Takes the daemon lock beside the database file.
pub(super) fn lock(settings: &Settings) -> Result<File, Error> {
    let path: PathBuf = match &settings.database {
        Database::Sqlite(db) => {
            let mut p = db.clone().into_os_string();
            p.push(".daemon.lock");
            p.into()
        }
        Database::Postgres(_) => settings.data_dir.join("daemon.lock"),
    };
    let io = |action: String| move |source| Error::Io { action, source };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(format!("cannot create {}", dir.display())))?;
        crate::files::protect(dir, settings.group.as_ref().map(|(_, gid)| *gid)).map_err(|e| {
            Error::Io {
                action: format!("cannot make {} private", e.path.display()),
                source: e.source,
            }
        })?;
    }
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(io(format!("cannot open {}", path.display())))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            let holder = holder.trim();
            return Err(Error::Request(format!(
                "another unyo daemon is running on {}{}",
                match &settings.database {
                    Database::Sqlite(_) => settings.database.to_string(),
                    Database::Postgres(_) => format!(
                        "{} as node `{}` from {}",
                        settings.database,
                        settings.node.name,
                        settings.root.display()
                    ),
                },
                if holder.is_empty() {
                    String::new()
                } else {
                    format!(" (pid {holder})")
                }
            )));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io(format!("cannot lock {}", path.display()))(e));
        }
    }
    let _ = file.set_len(0);
    let _ = std::io::Write::write_all(&mut &file, std::process::id().to_string().as_bytes());
    Ok(file)
}
