//! `unyo act archive-year` and `unyo act verify-archive`: the archive of a closing fiscal
//! year, made by the fiscal-year rollover before the new year's parameters are set.
//!
//! An archive is a folder `DEST/FY<year>/` holding `business.db` (a consistent online copy of
//! the database, `VACUUM INTO`), one `<table>.csv` per archived table with that table's rows of
//! the year (`fiscal_year = <year>`; UTF-8 with a byte-order mark and CRLF line ends, so that
//! Excel opens it with its Japanese text intact), `MANIFEST.sha256` (`sha256sum` format) and,
//! once verified, `VERIFIED`. It is built in a hidden folder beside it and renamed into place,
//! so `FY<year>/` is never half written; an existing one is never overwritten, which makes a
//! second rollover of the same year refuse rather than archive the year again. Files the
//! manifest does not list (the rollover's `SUMMARY.txt`) are not verified.

use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};

use super::backup::{DB_FILE, MANIFEST, VERIFIED, hash_file, online_copy, read_manifest};
use super::{ActError, db, io};

/// What an archive holds.
#[derive(Debug)]
pub struct Report {
    pub folder: PathBuf,
    pub year: i32,
    /// Each archived table and its rows of the year.
    pub tables: Vec<(String, u64)>,
}

/// The folder of a year's archive under `dest`.
pub fn folder(dest: &Path, year: i32) -> PathBuf {
    dest.join(format!("FY{year}"))
}

fn check_table_name(t: &str) -> Result<(), ActError> {
    let ok = t
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(ActError::Failed(format!(
            "table `{t}`: a table name is letters, digits and `_`"
        )))
    }
}

/// Archives fiscal year `year` of the database `src` into `DEST/FY<year>/`.
pub fn run(src: &Path, dest: &Path, year: i32, tables: &[String]) -> Result<Report, ActError> {
    if !src.is_file() {
        return Err(ActError::Failed(format!(
            "database `{}` does not exist",
            src.display()
        )));
    }
    for t in tables {
        check_table_name(t)?;
    }
    let target = folder(dest, year);
    if target.exists() {
        let state = if target.join(VERIFIED).is_file() {
            "it was archived already"
        } else {
            "it is not verified: check it and remove it before archiving the year again"
        };
        return Err(ActError::Failed(format!(
            "archive `{}` exists ({state}); nothing written",
            target.display()
        )));
    }
    std::fs::create_dir_all(dest).map_err(io("create", dest))?;
    let building = dest.join(format!(".FY{year}.partial-{}", std::process::id()));
    if building.exists() {
        std::fs::remove_dir_all(&building).map_err(io("remove", &building))?;
    }
    std::fs::create_dir(&building).map_err(io("create", &building))?;
    let made = build(src, &building, year, tables);
    let made = made.and_then(|counts| {
        verify_at(&building, year)?;
        let verified = building.join(VERIFIED);
        std::fs::write(&verified, format!("FY{year}\n")).map_err(io("write", &verified))?;
        std::fs::rename(&building, &target).map_err(io("rename into place", &target))?;
        Ok(counts)
    });
    match made {
        Ok(tables) => Ok(Report {
            folder: target,
            year,
            tables,
        }),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&building);
            Err(e)
        }
    }
}

fn build(
    src: &Path,
    folder: &Path,
    year: i32,
    tables: &[String],
) -> Result<Vec<(String, u64)>, ActError> {
    let copy = folder.join(DB_FILE);
    online_copy(src, &copy)?;
    let mut manifest = format!("{}  {DB_FILE}\n", hash_file(&copy)?);
    // The rows come from the copy: the same snapshot as the archived database.
    let conn =
        Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(&copy))?;
    let mut counts = Vec::new();
    for table in tables {
        let columns = columns(&conn, &copy, table)?;
        if !columns.iter().any(|c| c == "fiscal_year") {
            return Err(ActError::Failed(format!(
                "table `{table}` of `{}` has no `fiscal_year` column",
                src.display()
            )));
        }
        let name = format!("{table}.csv");
        let path = folder.join(&name);
        let rows = export(&conn, &copy, table, &columns, year, &path)?;
        manifest.push_str(&format!("{}  {name}\n", hash_file(&path)?));
        counts.push((table.clone(), rows));
    }
    let path = folder.join(MANIFEST);
    std::fs::write(&path, manifest).map_err(io("write", &path))?;
    Ok(counts)
}

fn columns(conn: &Connection, file: &Path, table: &str) -> Result<Vec<String>, ActError> {
    let mut stmt = conn
        .prepare("SELECT name FROM pragma_table_info(?1)")
        .map_err(db(file))?;
    let cols = stmt
        .query_map([table], |r| r.get::<_, String>(0))
        .map_err(db(file))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db(file))?;
    if cols.is_empty() {
        return Err(ActError::Failed(format!(
            "`{}` has no table `{table}`",
            file.display()
        )));
    }
    Ok(cols)
}

/// One CSV field: quoted when it holds a comma, a quote or a line break.
fn field(text: &str) -> String {
    crate::domain::csv::field(text).into_owned()
}

fn export(
    conn: &Connection,
    file: &Path,
    table: &str,
    columns: &[String],
    year: i32,
    path: &Path,
) -> Result<u64, ActError> {
    use std::io::Write;
    let out = std::fs::File::create(path).map_err(io("create", path))?;
    let mut out = std::io::BufWriter::new(out);
    let mut text = String::from("\u{feff}");
    text.push_str(
        &columns
            .iter()
            .map(|c| field(c))
            .collect::<Vec<_>>()
            .join(","),
    );
    text.push_str("\r\n");
    // The name was checked to be letters, digits and `_`; the year is bound.
    let sql = format!("SELECT * FROM \"{table}\" WHERE fiscal_year = ?1 ORDER BY 1");
    let mut stmt = conn.prepare(&sql).map_err(db(file))?;
    let mut rows = stmt.query([year]).map_err(db(file))?;
    let mut n = 0u64;
    while let Some(row) = rows.next().map_err(db(file))? {
        let mut fields = Vec::with_capacity(columns.len());
        for i in 0..columns.len() {
            fields.push(match row.get_ref(i).map_err(db(file))? {
                ValueRef::Null => String::new(),
                ValueRef::Integer(v) => v.to_string(),
                ValueRef::Real(v) => v.to_string(),
                ValueRef::Text(t) => field(&String::from_utf8_lossy(t)),
                ValueRef::Blob(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
            });
        }
        text.push_str(&fields.join(","));
        text.push_str("\r\n");
        n += 1;
        if text.len() > 64 * 1024 {
            out.write_all(text.as_bytes()).map_err(io("write", path))?;
            text.clear();
        }
    }
    out.write_all(text.as_bytes()).map_err(io("write", path))?;
    out.flush().map_err(io("write", path))?;
    Ok(n)
}

/// CSV records after the header: line breaks outside quotes.
fn records(text: &str) -> u64 {
    let mut quoted = false;
    let mut n = 0u64;
    for c in text.chars() {
        match c {
            '"' => quoted = !quoted,
            '\n' if !quoted => n += 1,
            _ => {}
        }
    }
    n.saturating_sub(1)
}

/// Checks the archive folder of `year`: see [`verify_at`]; the year is read from its name.
pub fn verify(folder: &Path) -> Result<Report, ActError> {
    let year = folder
        .file_name()
        .and_then(|n| n.to_str())
        .and_then(|n| n.strip_prefix("FY"))
        .and_then(|y| y.parse::<i32>().ok())
        .ok_or_else(|| {
            ActError::Failed(format!(
                "`{}` is not a year's archive folder (FY<year>)",
                folder.display()
            ))
        })?;
    if !folder.join(VERIFIED).is_file() {
        return Err(ActError::Failed(format!(
            "archive `{}` was never verified (no {VERIFIED})",
            folder.display()
        )));
    }
    let tables = verify_at(folder, year)?;
    Ok(Report {
        folder: folder.to_owned(),
        year,
        tables,
    })
}

/// Every file of the manifest has its SHA-256, the database copy passes
/// `PRAGMA integrity_check`, and each CSV holds as many rows as its table has of `year` in the
/// copy.
fn verify_at(folder: &Path, year: i32) -> Result<Vec<(String, u64)>, ActError> {
    let fail = |m: String| {
        ActError::Failed(format!(
            "archive `{}` does not verify: {m}",
            folder.display()
        ))
    };
    let manifest = read_manifest(folder)?;
    if !manifest.contains_key(DB_FILE) {
        return Err(fail(format!("{MANIFEST} has no line for {DB_FILE}")));
    }
    for (name, hash) in &manifest {
        if name.contains('/') || name.starts_with('.') {
            return Err(fail(format!(
                "{MANIFEST} lists `{name}`, not a file of the folder"
            )));
        }
        let path = folder.join(name);
        if !path.is_file() {
            return Err(fail(format!("`{name}` is missing")));
        }
        if &hash_file(&path)? != hash {
            return Err(fail(format!(
                "`{name}` does not match its SHA-256 in {MANIFEST}"
            )));
        }
    }
    let copy = folder.join(DB_FILE);
    if let Some(problem) = super::backup::integrity_problem(&copy)? {
        return Err(fail(format!("integrity check of {DB_FILE}: {problem}")));
    }
    let conn =
        Connection::open_with_flags(&copy, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(&copy))?;
    let mut counts = Vec::new();
    for name in manifest.keys() {
        let Some(table) = name.strip_suffix(".csv") else {
            continue;
        };
        check_table_name(table)?;
        let expected: i64 = conn
            .query_row(
                &format!("SELECT count(*) FROM \"{table}\" WHERE fiscal_year = ?1"),
                [year],
                |r| r.get(0),
            )
            .map_err(db(&copy))?;
        let path = folder.join(name);
        let text = std::fs::read_to_string(&path).map_err(io("read", &path))?;
        let found = records(&text);
        if i64::try_from(found).ok() != Some(expected) {
            return Err(fail(format!(
                "`{name}` holds {found} rows, `{table}` of {DB_FILE} {expected} of FY{year}"
            )));
        }
        counts.push((table.to_owned(), found));
    }
    Ok(counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_are_quoted_and_records_counted() {
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(field("plain"), "plain");
        assert_eq!(records("\u{feff}a,b\r\n1,\"x\r\ny\"\r\n2,z\r\n"), 2);
        assert_eq!(records("a,b\r\n"), 0);
    }

    #[test]
    fn a_table_name_is_an_identifier() {
        assert!(check_table_name("tax_records").is_ok());
        assert!(check_table_name("x\"; DROP TABLE y; --").is_err());
        assert!(check_table_name("").is_err());
    }
}
