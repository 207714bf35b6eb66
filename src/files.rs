//! Who may read what unyo writes. Everything unyo creates holds records or city data (the
//! database, step logs, backups, archives, reports, extracts), so nothing it creates is
//! readable by others: the process mask always withholds every permission from others (files
//! 0640 and folders 0750 under the usual 022), and steps inherit it. The settings' `group`
//! is the group that may read: the data and log folders belong to it with the set-group-id
//! bit, so what is created in them belongs to it too.
//!
//! Owns the process's file-creation mask and the mode and group of the data folder, the log
//! folder and the database files; must not decide anything about runs.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{Mode, umask};

/// Permissions others never get.
const OTHERS: u32 = 0o007;

/// Withholds every permission from others in what this process (and every process it starts)
/// creates, keeping the rest of the mask it was given.
pub fn restrict_umask() {
    let old = umask(Mode::empty());
    umask(old | Mode::from_bits_truncate(OTHERS));
}

/// What went wrong making a folder or file private.
#[derive(Debug, thiserror::Error)]
#[error("{path}: cannot {action}: {source}")]
pub struct FilesError {
    pub path: PathBuf,
    pub action: String,
    #[source]
    pub source: std::io::Error,
}

/// Takes every permission of others away from `path` (when it exists and this user owns it),
/// and gives it to `group` (a folder also with the set-group-id bit, so what is made in it
/// belongs to the group). A path owned by another user is left alone: a reading command of an
/// operator in unyo's group must not fail on it.
pub fn protect(path: &Path, group: Option<u32>) -> Result<(), FilesError> {
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() || meta.uid() != nix::unistd::geteuid().as_raw() {
        return Ok(());
    }
    let err = |action: &str| {
        let action = action.to_owned();
        move |source| FilesError {
            path: path.to_owned(),
            action,
            source,
        }
    };
    if let Some(gid) = group
        && meta.gid() != gid
    {
        std::os::unix::fs::lchown(path, None, Some(gid))
            .map_err(err(&format!("give it to group {gid}")))?;
    }
    let mut mode = meta.mode() & 0o7777 & !OTHERS;
    if group.is_some() && meta.is_dir() {
        mode |= 0o2000;
    }
    if mode != meta.mode() & 0o7777 {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(err(&format!("set its mode to {mode:o}")))?;
    }
    Ok(())
}

/// The database file of a SQLite path with its journal files.
pub fn database_files(db: &Path) -> Vec<PathBuf> {
    let mut out = vec![db.to_owned()];
    for ext in ["-wal", "-shm", "-journal"] {
        let mut p = db.as_os_str().to_owned();
        p.push(ext);
        out.push(PathBuf::from(p));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protect_takes_others_away_and_keeps_the_rest() {
        let dir = tempfile::tempdir().expect("temp dir");
        let f = dir.path().join("unyo.db");
        std::fs::write(&f, "x").expect("write");
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o664)).expect("chmod");
        protect(&f, None).expect("protect");
        let mode = std::fs::metadata(&f).expect("meta").mode() & 0o7777;
        assert_eq!(mode, 0o660);
        let gid = nix::unistd::getegid().as_raw();
        protect(dir.path(), Some(gid)).expect("protect dir");
        let mode = std::fs::metadata(dir.path()).expect("meta").mode() & 0o7777;
        assert_eq!(mode & 0o2007, 0o2000, "{mode:o}");
        // A path that does not exist is no error.
        protect(&dir.path().join("missing"), None).expect("missing");
    }
}
