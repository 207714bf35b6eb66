//! Reading rows: a column by name, tokens and JSON values read back (a value that does not
//! read is `StoreError::Corrupt`). Times, dates and numbers are PostgreSQL's own types and
//! read as such (`col::<DateTime<Utc>>`, `col::<NaiveDate>`, `col::<i64>`, `col::<bool>`).

use sqlx::Row as _;
use sqlx::postgres::PgRow;

use super::*;

/// The column `name`, as `T`.
pub(super) fn col<T>(row: &PgRow, name: &str) -> Result<T, StoreError>
where
    T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

/// A token column (a status, a trigger ...), parsed.
pub(super) fn token<T: FromStr<Err = String>>(row: &PgRow, name: &str) -> Result<T, StoreError> {
    col::<String>(row, name)?
        .parse()
        .map_err(StoreError::Corrupt)
}

/// An optional token column, parsed.
pub(super) fn opt_token<T: FromStr<Err = String>>(
    row: &PgRow,
    name: &str,
) -> Result<Option<T>, StoreError> {
    col::<Option<String>>(row, name)?
        .map(|t| t.parse().map_err(StoreError::Corrupt))
        .transpose()
}

/// A JSON value kept as text.
pub(super) fn json(row: &PgRow, name: &str) -> Result<serde_json::Value, StoreError> {
    let text: String = col(row, name)?;
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("{name}: {e}")))
}

/// An optional JSON value kept as text.
pub(super) fn opt_json(row: &PgRow, name: &str) -> Result<Option<serde_json::Value>, StoreError> {
    col::<Option<String>>(row, name)?
        .map(|t| serde_json::from_str(&t).map_err(|e| StoreError::Corrupt(format!("{name}: {e}"))))
        .transpose()
}

/// A time column.
pub(super) fn time(row: &PgRow, name: &str) -> Result<DateTime<Utc>, StoreError> {
    col(row, name)
}

/// An optional time column.
pub(super) fn opt_time(row: &PgRow, name: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
    col(row, name)
}

/// A date column.
pub(super) fn date(row: &PgRow, name: &str) -> Result<NaiveDate, StoreError> {
    col(row, name)
}
