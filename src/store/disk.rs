//! Whether the file system holding the database is full, and which one it is: a full disk
//! shows through SQLite as "disk I/O error" (it cannot grow its shared-memory or WAL file)
//! as often as "database or disk is full", so the store asks the file system itself.
//!
//! It also keeps the reserve: a small file beside the database, written while there is
//! room and deleted when a full disk stops a run, so that the run's end can still be
//! recorded with its cause.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Below this many free bytes a file system counts as full: SQLite cannot add a page to
/// its WAL and index.
const FULL_BELOW: u64 = 64 * 1024;
/// The size of the reserve beside the database.
const RESERVE_BYTES: usize = 512 * 1024;

/// A full file system: where it is mounted and how much room is left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Full {
    /// The mount point of the file system holding the file.
    pub mount: PathBuf,
    /// Bytes still available to this process.
    pub available: u64,
}

/// The file system holding `file` (or its folder) when it is full; `None` when there is
/// room, or when it cannot be told.
pub fn full(file: &Path) -> Option<Full> {
    let dir = existing_ancestor(file)?;
    let st = nix::sys::statvfs::statvfs(dir.as_path()).ok()?;
    // root may use the blocks a file system keeps back for it; others may not.
    let blocks = if nix::unistd::geteuid().is_root() {
        st.blocks_free()
    } else {
        st.blocks_available()
    };
    let available = blocks.saturating_mul(st.fragment_size());
    (available < FULL_BELOW).then(|| Full {
        mount: mount_point(&dir).unwrap_or(dir),
        available,
    })
}

/// `file` itself when it exists, else its nearest existing folder.
fn existing_ancestor(file: &Path) -> Option<PathBuf> {
    let mut p = std::path::absolute(file).ok()?;
    loop {
        if p.exists() {
            return p.canonicalize().ok().or(Some(p));
        }
        if !p.pop() {
            return None;
        }
    }
}

/// The mount point holding `path` (canonical), from `/proc/self/mountinfo`: the longest
/// mount point that is a prefix of it.
fn mount_point(path: &Path) -> Option<PathBuf> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .map(|m| PathBuf::from(unescape(m)))
        .filter(|m| path.starts_with(m))
        .max_by_key(|m| m.as_os_str().len())
}

/// Mount points escape space, tab, newline and backslash as `\ooo` octal.
fn unescape(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len());
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && let Some(code) = b
                .get(i + 1..i + 4)
                .and_then(|o| std::str::from_utf8(o).ok())
                .and_then(|o| u8::from_str_radix(o, 8).ok())
        {
            out.push(code);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The reserve file of a database: `<database>.reserve`.
pub fn reserve_path(database: &Path) -> PathBuf {
    let mut p = database.as_os_str().to_owned();
    p.push(".reserve");
    p.into()
}

/// Writes the reserve when it is missing and there is room for it; a failure leaves no
/// partial file and is not an error (the reserve only helps).
pub fn keep_reserve(database: &Path) {
    let path = reserve_path(database);
    if path.exists() || !room_for_reserve(database) {
        return;
    }
    let written = std::fs::File::create(&path).and_then(|mut f| {
        // Zeros written out (not a sparse file): the blocks are really taken.
        f.write_all(&vec![0u8; RESERVE_BYTES])?;
        f.sync_all()
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&path);
    }
}

/// Whether the file system has room for the reserve and as much again: a reserve just
/// given up on a full disk is not taken back until space has been freed.
fn room_for_reserve(database: &Path) -> bool {
    let Some(dir) = existing_ancestor(database) else {
        return false;
    };
    nix::sys::statvfs::statvfs(dir.as_path()).is_ok_and(|st| {
        st.blocks_available().saturating_mul(st.fragment_size()) >= 2 * RESERVE_BYTES as u64
    })
}

/// Deletes the reserve to make room on a full disk; whether there was one.
pub fn release_reserve(database: &Path) -> bool {
    std::fs::remove_file(reserve_path(database)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_are_unescaped() {
        assert_eq!(unescape(r"/mnt/with\040space"), "/mnt/with space");
        assert_eq!(unescape(r"/plain"), "/plain");
        assert_eq!(unescape(r"/odd\"), r"/odd\");
    }

    #[test]
    fn the_root_file_system_holds_everything() {
        assert!(mount_point(Path::new("/")).is_some());
        let m = mount_point(Path::new("/proc/self")).expect("a mount point");
        assert_eq!(m, PathBuf::from("/proc"));
    }

    #[test]
    fn a_folder_with_room_is_not_full() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(full(&dir.path().join("absent/unyo.db")), None);
    }
}
