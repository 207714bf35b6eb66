//! Reading rows: a column by name or by its place in a SELECT list, tokens, times and JSON
//! values read back (a value that does not read is `StoreError::Corrupt`), and collecting
//! a query's mapped rows.

use super::*;

/// A column a row mapper reads: by name (`"status"`), or at its place in a SELECT list that
/// names its columns ([`Listed`]), which spares a name lookup per value on long reads.
pub(super) trait Column: std::fmt::Display + Copy {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T>;
}

impl Column for &str {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self)
    }
}

/// A column of a fixed SELECT list, at its index, with its name for errors.
#[derive(Debug, Clone, Copy)]
pub(super) struct Listed {
    at: usize,
    name: &'static str,
}

impl std::fmt::Display for Listed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl Column for Listed {
    fn get<T: rusqlite::types::FromSql>(self, row: &Row<'_>) -> rusqlite::Result<T> {
        row.get(self.at)
    }
}

/// The column `name` of the SELECT list `columns`. Mappers name only columns of their list
/// (tested); a name missing from it reads past the row's end and is reported as corrupt.
pub(super) fn listed(columns: &'static [&'static str], name: &'static str) -> Listed {
    Listed {
        at: columns
            .iter()
            .position(|c| *c == name)
            .unwrap_or(usize::MAX),
        name,
    }
}

pub(super) fn col<T: rusqlite::types::FromSql>(
    row: &Row<'_>,
    name: impl Column,
) -> Result<T, StoreError> {
    name.get(row)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

pub(super) fn token<T: FromStr<Err = String>>(
    row: &Row<'_>,
    name: impl Column,
) -> Result<T, StoreError> {
    col::<String>(row, name)?
        .parse()
        .map_err(StoreError::Corrupt)
}

pub(super) fn time(row: &Row<'_>, name: impl Column) -> Result<DateTime<Utc>, StoreError> {
    let text: String = col(row, name)?;
    DateTime::parse_from_rfc3339(&text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| StoreError::Corrupt(format!("{name} `{text}`: {e}")))
}

pub(super) fn opt_time(
    row: &Row<'_>,
    name: impl Column,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    match col::<Option<String>>(row, name)? {
        None => Ok(None),
        Some(_) => time(row, name).map(Some),
    }
}

pub(super) fn json(row: &Row<'_>, name: impl Column) -> Result<serde_json::Value, StoreError> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

pub(super) fn opt_json(
    row: &Row<'_>,
    name: impl Column,
) -> Result<Option<serde_json::Value>, StoreError> {
    match col::<Option<String>>(row, name)? {
        None => Ok(None),
        Some(_) => json(row, name).map(Some),
    }
}

/// Collects mapped rows of a query.
pub(super) fn all<T>(
    conn: &Connection,
    action: &'static str,
    sql: &str,
    args: impl rusqlite::Params,
    map: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(query_err(action))?;
    let mut rows = stmt.query(args).map_err(query_err(action))?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(query_err(action))? {
        out.push(map(row)?);
    }
    Ok(out)
}
