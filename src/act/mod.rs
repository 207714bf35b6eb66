//! Built-in actions: work where unyo must understand the data (a consistent database copy,
//! a verified archive, a parameter flag, a closing fiscal year's archive, a read-only extract
//! to CSV). Jobs call them as ordinary steps, `argv: ["{{unyo}}", act, backup, ...]`; each is a
//! plain function on paths, so it runs the same from a job, from the command line and from a
//! test.

pub mod archive;
pub mod backup;
pub mod extract;
pub mod maintenance;
pub mod params;
pub mod permissions;
pub mod restore;

use std::path::{Path, PathBuf};

/// What an action ends with when it fails; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum ActError {
    /// The data is not what it should be (a backup that does not verify, a refused restore):
    /// the action's outcome is a failure, exit 1.
    #[error("{0}")]
    Failed(String),
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("database `{}`: {source}", path.display())]
    Db {
        path: PathBuf,
        #[source]
        source: rusqlite::Error,
    },
}

pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> ActError {
    let path = path.to_owned();
    move |source| ActError::Io {
        action,
        path,
        source,
    }
}

pub(crate) fn db(path: &Path) -> impl FnOnce(rusqlite::Error) -> ActError {
    let path = path.to_owned();
    move |source| ActError::Db { path, source }
}

/// Holds an exclusive lock on the folder of `path` while a file in it is read, changed and
/// renamed into place: two unyo processes editing a parameter file there take turns, and
/// neither loses the other's change. A lock on the file itself would not do, since the
/// rename replaces it. The lock is released when the returned handle is dropped.
pub(crate) fn edit_lock(path: &Path) -> Result<std::fs::File, ActError> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let handle = std::fs::File::open(dir).map_err(io("open", dir))?;
    handle.lock().map_err(io("lock", dir))?;
    Ok(handle)
}
