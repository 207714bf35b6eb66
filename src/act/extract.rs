//! `unyo act extract`: a data extract for city staff (EUC). One SQL statement from a file,
//! run read-only against a SQLite database with named parameters bound as values, written
//! as CSV (RFC 4180, CRLF line ends, NULL as an empty field) in UTF-8 with a byte order mark
//! (what Japanese Excel needs to read UTF-8) or in Shift_JIS.
//!
//! Nothing a requester gives becomes SQL: parameter values are bound (`:name`), and the
//! columns they choose select among the result's columns by name. The database is opened
//! read-only with `query_only` on, and a statement that could write (or more than one) is
//! refused before it runs. The file is written beside its place, made `0640` (and given the
//! requester's group), synced and renamed into place, so a failed extract leaves no file.

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags};
use sha2::{Digest, Sha256};

use super::{ActError, db, io};
use crate::domain::csv::{field, guard_formula};

/// The output file's mode: the owner writes, the group reads, nobody else.
pub const MODE: u32 = 0o640;

/// How the CSV file is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// UTF-8 with a byte order mark (EF BB BF), so Japanese Excel reads it as UTF-8.
    #[default]
    Utf8Bom,
    /// Shift_JIS (as Windows reads it, WHATWG's encoder); a character it has no form for is
    /// an error.
    ShiftJis,
}

impl Encoding {
    /// The token on the command line and in the record.
    pub fn token(self) -> &'static str {
        match self {
            Encoding::Utf8Bom => "utf-8-bom",
            Encoding::ShiftJis => "shift_jis",
        }
    }
}

impl std::str::FromStr for Encoding {
    type Err = String;
    fn from_str(s: &str) -> Result<Encoding, String> {
        match s {
            "utf-8-bom" => Ok(Encoding::Utf8Bom),
            "shift_jis" => Ok(Encoding::ShiftJis),
            _ => Err(format!("`{s}` is not an encoding: utf-8-bom or shift_jis")),
        }
    }
}

/// What to extract and where.
#[derive(Debug, Clone)]
pub struct Extract {
    pub db: PathBuf,
    pub sql: PathBuf,
    pub out: PathBuf,
    /// Values of the statement's named parameters (`:name`), by name without the colon.
    pub params: Vec<(String, String)>,
    /// The result columns to write, in this order; `None`: all of them.
    pub columns: Option<Vec<String>>,
    pub encoding: Encoding,
    /// The group the file is given (its members may read it).
    pub group: Option<String>,
    /// Text that a spreadsheet would take for a formula is written as text (see
    /// [`guard_formula`](crate::domain::csv::guard_formula)); `false` writes it as it is.
    pub guard_formulas: bool,
}

/// What an extract wrote.
#[derive(Debug, Clone)]
pub struct Report {
    pub out: PathBuf,
    /// Data rows (the header not counted).
    pub rows: u64,
    /// SHA-256 of the file's bytes, byte order mark included.
    pub sha256: String,
    /// The columns written, in order.
    pub columns: Vec<String>,
}

fn failed(m: String) -> ActError {
    ActError::Failed(m)
}

/// Runs the extract and writes the file.
pub fn run(x: &Extract) -> Result<Report, ActError> {
    let sql = std::fs::read_to_string(&x.sql).map_err(io("read", &x.sql))?;
    if !x.db.is_file() {
        return Err(failed(format!(
            "database `{}` does not exist",
            x.db.display()
        )));
    }
    let gid = x.group.as_deref().map(group_id).transpose()?;
    let conn =
        Connection::open_with_flags(&x.db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(db(&x.db))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(db(&x.db))?;
    conn.pragma_update(None, "query_only", "ON")
        .map_err(db(&x.db))?;
    let sql_name = x.sql.display();
    let mut stmt = conn.prepare(&sql).map_err(|e| match e {
        rusqlite::Error::MultipleStatement => failed(format!(
            "{sql_name}: holds more than one statement; an extract is one SELECT"
        )),
        rusqlite::Error::Empty => failed(format!("{sql_name}: holds no statement")),
        e => failed(format!("{sql_name}: {e}")),
    })?;
    if !stmt.readonly() {
        return Err(failed(format!(
            "{sql_name}: the statement could change the database; an extract only reads"
        )));
    }
    if stmt.column_count() == 0 {
        return Err(failed(format!(
            "{sql_name}: the statement returns no columns; an extract is a SELECT"
        )));
    }
    bind(&mut stmt, &x.params, &sql_name.to_string())?;

    let names: Vec<String> = stmt.column_names().map(str::to_owned).collect();
    let picked =
        pick(&names, x.columns.as_deref()).map_err(|e| failed(format!("{sql_name}: {e}")))?;
    let columns: Vec<String> = picked.iter().map(|i| names[*i].clone()).collect();

    let dir = match x.out.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o750)
        .create(&dir)
        .map_err(io("create", &dir))?;
    let mut tmp = Temp::create(&x.out)?;
    let mut w = Csv::new(BufWriter::new(&tmp.file), x.encoding);
    w.bom().map_err(io("write", &tmp.path))?;
    w.record(&columns)
        .map_err(|e| record_failed(e, "header", &columns, &x.out, &tmp.path))?;

    let mut rows = stmt.raw_query();
    let mut n: u64 = 0;
    let mut fields = Vec::with_capacity(picked.len());
    while let Some(row) = rows.next().map_err(db(&x.db))? {
        n += 1;
        fields.clear();
        for (&i, name) in picked.iter().zip(&columns) {
            let value = row.get_ref(i).map_err(db(&x.db))?;
            let mut value = text(value).map_err(|why| {
                failed(format!(
                    "{}: row {n}, column {name}: {why}",
                    x.out.display()
                ))
            })?;
            if x.guard_formulas && matches!(row.get_ref(i), Ok(ValueRef::Text(_))) {
                guard_formula(&mut value);
            }
            fields.push(value);
        }
        w.record(&fields)
            .map_err(|e| record_failed(e, &format!("row {n}"), &columns, &x.out, &tmp.path))?;
    }
    let sha256 = w.finish().map_err(io("write", &tmp.path))?;
    tmp.file
        .set_permissions(std::fs::Permissions::from_mode(MODE))
        .map_err(io("set the mode of", &tmp.path))?;
    if let Some(gid) = gid {
        std::os::unix::fs::fchown(&tmp.file, None, Some(gid)).map_err(|e| {
            failed(format!(
                "cannot give `{}` to group `{}`: {e}",
                x.out.display(),
                x.group.as_deref().unwrap_or_default()
            ))
        })?;
    }
    tmp.file.sync_all().map_err(io("sync", &tmp.path))?;
    tmp.commit(&x.out)?;
    if let Ok(d) = File::open(&dir) {
        // The rename is durable once the folder is synced; a failure here loses nothing.
        let _ = d.sync_all();
    }
    Ok(Report {
        out: x.out.clone(),
        rows: n,
        sha256,
        columns,
    })
}

/// A group's id by name.
fn group_id(name: &str) -> Result<u32, ActError> {
    match nix::unistd::Group::from_name(name) {
        Ok(Some(g)) => Ok(g.gid.as_raw()),
        Ok(None) => Err(failed(format!("unknown group `{name}`"))),
        Err(e) => Err(failed(format!("cannot look up group `{name}`: {e}"))),
    }
}

/// Binds every named parameter of the statement from `given`: each must be given, and each
/// given one must be used.
fn bind(
    stmt: &mut rusqlite::Statement<'_>,
    given: &[(String, String)],
    sql_name: &str,
) -> Result<(), ActError> {
    let mut used = vec![false; given.len()];
    for (i, (k, _)) in given.iter().enumerate() {
        if given[..i].iter().any(|(p, _)| p == k) {
            return Err(failed(format!("parameter `{k}` is given twice")));
        }
    }
    let mut missing = Vec::new();
    for index in 1..=stmt.parameter_count() {
        let Some(name) = stmt.parameter_name(index).map(str::to_owned) else {
            return Err(failed(format!(
                "{sql_name}: parameter {index} has no name; write named parameters (`:name`)"
            )));
        };
        let bare = name.get(1..).unwrap_or_default();
        match given.iter().position(|(k, _)| k == bare) {
            Some(at) => {
                used[at] = true;
                stmt.raw_bind_parameter(index, given[at].1.as_str())
                    .map_err(|e| failed(format!("{sql_name}: parameter `{bare}`: {e}")))?;
            }
            None => missing.push(format!("`{bare}`")),
        }
    }
    if !missing.is_empty() {
        return Err(failed(format!(
            "{sql_name}: no value for parameter {} (give --param NAME=VALUE)",
            missing.join(", ")
        )));
    }
    let unused: Vec<String> = given
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|((k, _), _)| format!("`{k}`"))
        .collect();
    if !unused.is_empty() {
        return Err(failed(format!(
            "{sql_name}: does not use parameter {}",
            unused.join(", ")
        )));
    }
    Ok(())
}

/// The indexes of the columns to write: all, or the chosen ones in their order.
fn pick(names: &[String], chosen: Option<&[String]>) -> Result<Vec<usize>, ActError> {
    let Some(chosen) = chosen else {
        return Ok((0..names.len()).collect());
    };
    if chosen.is_empty() {
        return Err(failed("--columns names no column".to_owned()));
    }
    let mut out: Vec<usize> = Vec::new();
    for c in chosen {
        let mut found = names.iter().enumerate().filter(|(_, n)| *n == c);
        match (found.next(), found.next()) {
            (Some((i, _)), None) if out.contains(&i) => {
                return Err(failed(format!("column `{c}` is chosen twice")));
            }
            (Some((i, _)), None) => out.push(i),
            (Some(_), Some(_)) => {
                return Err(failed(format!(
                    "column `{c}` appears more than once in the result; name it with AS"
                )));
            }
            (None, _) => {
                return Err(failed(format!(
                    "column `{c}` is not in the result; it has: {}{}",
                    names.join(", "),
                    crate::spec::diag::hint(c, names.iter().map(String::as_str))
                )));
            }
        }
    }
    Ok(out)
}

/// A value as CSV text: NULL empty, numbers as SQLite prints them, text as it is.
fn text(v: ValueRef<'_>) -> Result<String, String> {
    match v {
        ValueRef::Null => Ok(String::new()),
        ValueRef::Integer(i) => Ok(i.to_string()),
        ValueRef::Real(f) => Ok(f.to_string()),
        ValueRef::Text(t) => {
            String::from_utf8(t.to_vec()).map_err(|_| "the text is not valid UTF-8".to_owned())
        }
        ValueRef::Blob(_) => Err("a BLOB cannot be written to CSV".to_owned()),
    }
}

/// Why a record could not be written.
#[derive(Debug)]
enum RecordError {
    /// Field `index` holds a character Shift_JIS cannot encode.
    Unmappable {
        index: usize,
        ch: char,
    },
    Io(std::io::Error),
}

/// The error for a record (`place`: `row 3`, `header`) of the file `out`, written at `tmp`.
fn record_failed(
    e: RecordError,
    place: &str,
    columns: &[String],
    out: &Path,
    tmp: &Path,
) -> ActError {
    match e {
        RecordError::Unmappable { index, ch } => failed(format!(
            "{}: {place}, {}",
            out.display(),
            unmappable(columns.get(index).map_or("?", String::as_str), ch)
        )),
        RecordError::Io(e) => io("write", tmp)(e),
    }
}

fn unmappable(column: &str, ch: char) -> String {
    format!(
        "column {column}: character '{ch}' (U+{:04X}) has no Shift_JIS form",
        ch as u32
    )
}

/// Writes records in the chosen encoding and hashes every byte written.
struct Csv<W: Write> {
    out: W,
    encoding: Encoding,
    hash: Sha256,
    line: Vec<u8>,
}

impl<W: Write> Csv<W> {
    fn new(out: W, encoding: Encoding) -> Csv<W> {
        Csv {
            out,
            encoding,
            hash: Sha256::new(),
            line: Vec::new(),
        }
    }

    fn put(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.hash.update(bytes);
        self.out.write_all(bytes)
    }

    fn bom(&mut self) -> std::io::Result<()> {
        if self.encoding == Encoding::Utf8Bom {
            self.put(b"\xEF\xBB\xBF")?;
        }
        Ok(())
    }

    /// One line: the fields, quoted as needed, joined by commas, ended by CRLF.
    fn record<S: AsRef<str>>(&mut self, fields: &[S]) -> Result<(), RecordError> {
        self.line.clear();
        for (i, f) in fields.iter().enumerate() {
            if i > 0 {
                self.line.push(b',');
            }
            let f = field(f.as_ref());
            match self.encoding {
                Encoding::Utf8Bom => self.line.extend_from_slice(f.as_bytes()),
                Encoding::ShiftJis => {
                    let (bytes, _, bad) = encoding_rs::SHIFT_JIS.encode(&f);
                    if bad {
                        let ch = f
                            .chars()
                            .find(|c| encoding_rs::SHIFT_JIS.encode(c.encode_utf8(&mut [0; 4])).2)
                            .unwrap_or(char::REPLACEMENT_CHARACTER);
                        return Err(RecordError::Unmappable { index: i, ch });
                    }
                    self.line.extend_from_slice(&bytes);
                }
            }
        }
        self.line.extend_from_slice(b"\r\n");
        let line = std::mem::take(&mut self.line);
        let r = self.put(&line).map_err(RecordError::Io);
        self.line = line;
        r
    }

    /// Flushes and returns the SHA-256 of everything written.
    fn finish(mut self) -> std::io::Result<String> {
        self.out.flush()?;
        Ok(format!("{:x}", self.hash.finalize()))
    }
}

/// The file being written beside its place; removed unless it was renamed into place.
struct Temp {
    path: PathBuf,
    file: File,
    done: bool,
}

impl Temp {
    fn create(out: &Path) -> Result<Temp, ActError> {
        let name = out
            .file_name()
            .ok_or_else(|| failed(format!("`{}` is not a file name", out.display())))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(format!(".{}.tmp", std::process::id()));
        let path = out.with_file_name(tmp_name);
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(io("create", &path))?;
        Ok(Temp {
            path,
            file,
            done: false,
        })
    }

    fn commit(&mut self, out: &Path) -> Result<(), ActError> {
        std::fs::rename(&self.path, out).map_err(io("rename into place", out))?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Temp {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(encoding: Encoding, fields: &[&str]) -> Result<Vec<u8>, RecordError> {
        let mut buf = Vec::new();
        let mut w = Csv::new(&mut buf, encoding);
        w.record(fields)?;
        w.finish().map_err(RecordError::Io)?;
        Ok(buf)
    }

    #[test]
    fn records_end_with_crlf_and_shift_jis_encodes_japanese() {
        let utf8 = line(Encoding::Utf8Bom, &["1", "山田, 太郎", ""]).expect("utf-8");
        assert_eq!(utf8, "1,\"山田, 太郎\",\r\n".as_bytes());
        let sjis = line(Encoding::ShiftJis, &["1", "山田"]).expect("sjis");
        assert_eq!(sjis, b"1,\x8e\x52\x93\x63\r\n");
    }

    #[test]
    fn an_unmappable_character_names_its_field() {
        match line(Encoding::ShiftJis, &["1", "吉田", "𠮷田"]) {
            Err(RecordError::Unmappable { index, ch }) => {
                assert_eq!((index, ch), (2, '𠮷'));
            }
            other => panic!("expected unmappable, got {other:?}"),
        }
        assert_eq!(
            unmappable("name", '𠮷'),
            "column name: character '𠮷' (U+20BB7) has no Shift_JIS form"
        );
    }

    #[test]
    fn the_hash_covers_every_byte_written() {
        let mut buf = Vec::new();
        let mut w = Csv::new(&mut buf, Encoding::Utf8Bom);
        w.bom().expect("bom");
        w.record(&["a"]).expect("record");
        let hash = w.finish().expect("finish");
        assert_eq!(buf, b"\xEF\xBB\xBFa\r\n");
        assert_eq!(hash, format!("{:x}", Sha256::digest(&buf)));
    }

    #[test]
    fn columns_are_chosen_by_name_in_the_order_given() {
        let names: Vec<String> = ["id", "name", "kana"].map(String::from).to_vec();
        let pick_of = |c: &[&str]| {
            let c: Vec<String> = c.iter().map(|s| (*s).to_owned()).collect();
            pick(&names, Some(&c))
        };
        assert_eq!(pick(&names, None).expect("all"), [0, 1, 2]);
        assert_eq!(pick_of(&["kana", "id"]).expect("two"), [2, 0]);
        let e = pick_of(&["nmae"]).expect_err("unknown").to_string();
        assert!(
            e.contains("column `nmae` is not in the result; it has: id, name, kana")
                && e.contains("did you mean `name`"),
            "{e}"
        );
        assert!(pick_of(&["id", "id"]).is_err());
    }
}
