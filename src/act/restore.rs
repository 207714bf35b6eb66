//! `unyo act restore`: puts a verified backup back. The folder must hold `VERIFIED` and must
//! verify again now; the database is copied beside its place and renamed over it, the
//! directory tree is extracted beside its place and swapped in, so neither is ever half
//! written.

use std::path::{Path, PathBuf};

use super::backup::{ARCHIVE, DB_FILE, VERIFIED, verify};
use super::{ActError, io};

/// Restores `backup` to the database `db` and the folder `dir`.
pub fn run(backup: &Path, db: &Path, dir: &Path) -> Result<(), ActError> {
    if !backup.join(VERIFIED).is_file() {
        return Err(ActError::Failed(format!(
            "backup `{}` was never verified (no {VERIFIED}): refusing to restore it",
            backup.display()
        )));
    }
    verify(backup).map_err(|e| match e {
        ActError::Failed(m) => ActError::Failed(format!("{m}: refusing to restore it")),
        other => other,
    })?;

    let tmp = beside(db, "restore")?;
    std::fs::copy(backup.join(DB_FILE), &tmp).map_err(io("copy the backup to", &tmp))?;
    if let Ok(meta) = std::fs::metadata(db) {
        let _ = std::fs::set_permissions(&tmp, meta.permissions());
    }
    // A write-ahead log of the old database must not be replayed onto the restored one.
    for suffix in ["-wal", "-shm"] {
        let side = PathBuf::from(format!("{}{suffix}", db.display()));
        if side.exists() {
            std::fs::remove_file(&side).map_err(io("remove", &side))?;
        }
    }
    std::fs::rename(&tmp, db).map_err(io("replace", db))?;

    let new = beside(dir, "restore")?;
    let old = beside(dir, "old")?;
    for p in [&new, &old] {
        if p.exists() {
            std::fs::remove_dir_all(p).map_err(io("remove", p))?;
        }
    }
    std::fs::create_dir_all(&new).map_err(io("create", &new))?;
    let archive = backup.join(ARCHIVE);
    let file = std::fs::File::open(&archive).map_err(io("open", &archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.set_preserve_permissions(true);
    if let Err(e) = tar.unpack(&new) {
        let _ = std::fs::remove_dir_all(&new);
        return Err(ActError::Io {
            action: "extract",
            path: archive,
            source: e,
        });
    }
    if dir.exists() {
        std::fs::rename(dir, &old).map_err(io("move aside", dir))?;
    }
    std::fs::rename(&new, dir).map_err(io("put in place", dir))?;
    if old.exists() {
        std::fs::remove_dir_all(&old).map_err(io("remove", &old))?;
    }
    Ok(())
}

/// A temp path in the same folder as `path` (so a rename stays on one filesystem).
fn beside(path: &Path, what: &str) -> Result<PathBuf, ActError> {
    let name = path
        .file_name()
        .ok_or_else(|| ActError::Failed(format!("`{}` names no file or folder", path.display())))?;
    Ok(path.with_file_name(format!(
        ".{}.{what}-{}",
        name.to_string_lossy(),
        std::process::id()
    )))
}
