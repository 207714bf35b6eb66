//! `unyo act backup`: a consistent online copy of a SQLite database (`VACUUM INTO`, which reads
//! one snapshot while the system goes on writing) and a compressed archive of a directory tree,
//! a SHA-256 manifest of both, verification, then rotation.
//!
//! A backup is a folder `DEST/<YYYYMMDD-HHMMSS>/` (the time in the configured zone) holding `business.db`, `share.tar.gz`,
//! `MANIFEST.sha256` (`sha256sum` format: the database copy, then each file of the archive as
//! `share/<path>`) and, only once verification passed, `VERIFIED`. Restore refuses a folder
//! without it.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, NaiveDateTime};
use chrono_tz::Tz;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use super::{ActError, db, io};

pub const DB_FILE: &str = "business.db";
pub const ARCHIVE: &str = "share.tar.gz";
pub const MANIFEST: &str = "MANIFEST.sha256";
pub const VERIFIED: &str = "VERIFIED";
/// How archive members are named in the manifest.
const PREFIX: &str = "share/";
const STAMP: &str = "%Y%m%d-%H%M%S";

/// What to back up and where.
#[derive(Debug, Clone)]
pub struct Backup {
    pub db: PathBuf,
    pub dir: PathBuf,
    pub dest: PathBuf,
    pub keep_daily: usize,
    pub keep_monthly: usize,
}

/// What a backup did.
#[derive(Debug)]
pub struct Report {
    pub folder: PathBuf,
    pub files: usize,
    pub deleted: Vec<PathBuf>,
}

/// Makes, verifies and rotates one backup at `now` (in the configured zone: its clock time
/// names the folder; `VERIFIED` holds it with the zone's offset).
pub fn run(b: &Backup, at: DateTime<Tz>) -> Result<Report, ActError> {
    let now = at.naive_local();
    if !b.db.is_file() {
        return Err(ActError::Failed(format!(
            "database `{}` does not exist",
            b.db.display()
        )));
    }
    if !b.dir.is_dir() {
        return Err(ActError::Failed(format!(
            "folder `{}` does not exist",
            b.dir.display()
        )));
    }
    std::fs::create_dir_all(&b.dest).map_err(io("create", &b.dest))?;
    let folder = b.dest.join(now.format(STAMP).to_string());
    if folder.exists() {
        return Err(ActError::Failed(format!(
            "backup folder `{}` exists already",
            folder.display()
        )));
    }
    std::fs::create_dir(&folder).map_err(io("create", &folder))?;

    let copy = folder.join(DB_FILE);
    online_copy(&b.db, &copy)?;

    let mut manifest = format!("{}  {DB_FILE}\n", hash_file(&copy)?);
    let archive = folder.join(ARCHIVE);
    let files = write_archive(&b.dir, &archive)?;
    for (name, hash) in &files {
        manifest.push_str(&format!("{hash}  {PREFIX}{name}\n"));
    }
    let manifest_path = folder.join(MANIFEST);
    std::fs::write(&manifest_path, manifest).map_err(io("write", &manifest_path))?;

    verify(&folder)?;
    let verified = folder.join(VERIFIED);
    std::fs::write(
        &verified,
        format!("{}\n", at.format("%Y-%m-%d %H:%M:%S %:z")),
    )
    .map_err(io("write", &verified))?;

    let deleted = rotate(&b.dest, now, b.keep_daily, b.keep_monthly)?;
    Ok(Report {
        folder,
        files: files.len(),
        deleted,
    })
}

/// A consistent copy of the SQLite database `src` at `copy` (`VACUUM INTO`: one snapshot,
/// while others go on writing).
pub(crate) fn online_copy(src: &Path, copy: &Path) -> Result<(), ActError> {
    let conn =
        Connection::open_with_flags(src, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(src))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(db(src))?;
    let target = copy.to_str().ok_or_else(|| {
        ActError::Failed(format!("backup path `{}` is not UTF-8", copy.display()))
    })?;
    conn.execute("VACUUM INTO ?1", [target]).map_err(db(src))?;
    Ok(())
}

pub(crate) fn hash_file(path: &Path) -> Result<String, ActError> {
    let mut f = std::fs::File::open(path).map_err(io("open", path))?;
    hash_reader(&mut f).map_err(io("read", path))
}

fn hash_reader(r: &mut impl Read) -> std::io::Result<String> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(format!("{:x}", h.finalize()))
}

/// Archives `dir` (paths relative to it, in sorted order, symbolic links kept as links) and
/// returns each regular file's path and SHA-256.
fn write_archive(dir: &Path, archive: &Path) -> Result<BTreeMap<String, String>, ActError> {
    let file = std::fs::File::create(archive).map_err(io("create", archive))?;
    let gz = flate2::write::GzEncoder::new(file, flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let mut hashes = BTreeMap::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let full = dir.join(&rel);
        let mut entries: Vec<_> = std::fs::read_dir(&full)
            .map_err(io("read", &full))?
            .collect::<Result<_, _>>()
            .map_err(io("read", &full))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries.iter().rev() {
            let path = e.path();
            let name = rel.join(e.file_name());
            let kind = e.file_type().map_err(io("read", &path))?;
            let name_text = name.to_str().ok_or_else(|| {
                ActError::Failed(format!("file name `{}` is not UTF-8", path.display()))
            })?;
            if kind.is_dir() {
                tar.append_dir(&name, &path).map_err(io("archive", &path))?;
                stack.push(name);
            } else {
                if kind.is_file() {
                    hashes.insert(name_text.to_owned(), hash_file(&path)?);
                }
                tar.append_path_with_name(&path, &name)
                    .map_err(io("archive", &path))?;
            }
        }
    }
    let gz = tar.into_inner().map_err(io("write", archive))?;
    gz.finish().map_err(io("write", archive))?;
    Ok(hashes)
}

/// Reads a manifest: `name -> hash`.
pub(crate) fn read_manifest(folder: &Path) -> Result<BTreeMap<String, String>, ActError> {
    let path = folder.join(MANIFEST);
    let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ") else {
            return Err(ActError::Failed(format!(
                "{}:{}: not `HASH  NAME`",
                path.display(),
                n + 1
            )));
        };
        out.insert(name.to_owned(), hash.to_owned());
    }
    Ok(out)
}

/// `PRAGMA integrity_check` of a database copy, opened read-only: `None` when it says `ok`,
/// else its first finding.
pub(crate) fn integrity_problem(copy: &Path) -> Result<Option<String>, ActError> {
    let conn =
        Connection::open_with_flags(copy, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(copy))?;
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(db(copy))?;
    Ok((check != "ok").then_some(check))
}

/// Checks a backup folder: the database copy's hash and `PRAGMA integrity_check`, and that the
/// archive holds exactly the files of the manifest with the same hashes.
pub fn verify(folder: &Path) -> Result<(), ActError> {
    let manifest = read_manifest(folder)?;
    let fail = |m: String| {
        ActError::Failed(format!(
            "backup `{}` does not verify: {m}",
            folder.display()
        ))
    };
    let copy = folder.join(DB_FILE);
    let expected = manifest
        .get(DB_FILE)
        .ok_or_else(|| fail(format!("{MANIFEST} has no line for {DB_FILE}")))?;
    if &hash_file(&copy)? != expected {
        return Err(fail(format!(
            "{DB_FILE} does not match its SHA-256 in {MANIFEST}"
        )));
    }
    if let Some(problem) = integrity_problem(&copy)? {
        return Err(fail(format!("integrity check of {DB_FILE}: {problem}")));
    }

    let archive = folder.join(ARCHIVE);
    let file = std::fs::File::open(&archive).map_err(io("open", &archive))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let bad = |e: std::io::Error| fail(format!("{ARCHIVE} cannot be read: {e}"));
    let mut found = BTreeMap::new();
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let name = format!("{PREFIX}{}", entry.path().map_err(bad)?.display());
        let hash = hash_reader(&mut entry).map_err(bad)?;
        found.insert(name, hash);
    }
    let listed: BTreeMap<_, _> = manifest
        .iter()
        .filter(|(k, _)| k.starts_with(PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    for (name, hash) in &listed {
        match found.get(name) {
            None => return Err(fail(format!("{ARCHIVE} lacks `{name}`"))),
            Some(h) if h != hash => {
                return Err(fail(format!(
                    "`{name}` in {ARCHIVE} does not match its SHA-256"
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = found.keys().find(|k| !listed.contains_key(*k)) {
        return Err(fail(format!(
            "{ARCHIVE} holds `{extra}`, which {MANIFEST} does not list"
        )));
    }
    Ok(())
}

/// Deletes the backups that rotation does not keep: the newest `daily` verified backups and
/// the newest verified backup of each of the last `monthly` calendar months (counting the
/// month of `now`) stay. A folder without `VERIFIED` newer than the newest verified backup is
/// left alone (it may still be written); older ones are deleted. Returns what was deleted.
pub fn rotate(
    dest: &Path,
    now: NaiveDateTime,
    daily: usize,
    monthly: usize,
) -> Result<Vec<PathBuf>, ActError> {
    let mut backups: Vec<(NaiveDateTime, PathBuf, bool)> = Vec::new();
    for e in std::fs::read_dir(dest).map_err(io("read", dest))? {
        let e = e.map_err(io("read", dest))?;
        let path = e.path();
        let Some(at) = e
            .file_name()
            .to_str()
            .and_then(|n| NaiveDateTime::parse_from_str(n, STAMP).ok())
        else {
            continue;
        };
        if path.is_dir() {
            let verified = path.join(VERIFIED).is_file();
            backups.push((at, path, verified));
        }
    }
    backups.sort_by_key(|b| std::cmp::Reverse(b.0));
    let month = |t: &NaiveDateTime| t.year() * 12 + t.month0() as i32;
    let this_month = month(&now);
    let newest_verified = backups.iter().find(|b| b.2).map(|b| b.0);
    let mut keep = vec![false; backups.len()];
    let mut kept_months = Vec::new();
    let mut daily_left = daily;
    for (i, (at, _, verified)) in backups.iter().enumerate() {
        if !verified {
            keep[i] = newest_verified.is_none_or(|n| *at > n);
            continue;
        }
        if daily_left > 0 {
            daily_left -= 1;
            keep[i] = true;
        }
        let m = month(at);
        if this_month - m < monthly as i32 && !kept_months.contains(&m) {
            kept_months.push(m);
            keep[i] = true;
        }
    }
    let mut deleted = Vec::new();
    for ((_, path, _), kept) in backups.into_iter().zip(keep) {
        if !kept {
            std::fs::remove_dir_all(&path).map_err(io("delete", &path))?;
            deleted.push(path);
        }
    }
    deleted.sort();
    Ok(deleted)
}
