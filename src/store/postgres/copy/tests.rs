//! `unyo db copy`'s own checks: the tables against the schema, conversions, passwords.

use super::*;

/// [`TABLES`] names every table of the SQLite schema of this unyo, with its columns.
#[test]
fn the_tables_are_the_sqlite_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("unyo.db");
    drop(crate::store::sqlite::open_migrated(&path).expect("migrated"));
    let src = open_source(&path).expect("open");
    check_source(&src).expect("the SQLite schema is the one copied");
    assert_eq!(TABLES.len(), 25);
}

/// A table or column this copy does not know stops it, named; SQLite's own tables do not.
#[test]
fn a_table_or_column_not_copied_is_named() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("unyo.db");
    let c = crate::store::sqlite::open_migrated(&path).expect("migrated");
    c.execute_batch(
        "ANALYZE; CREATE TABLE wagons (id INTEGER PRIMARY KEY); \
         ALTER TABLE runs ADD COLUMN wagon INTEGER; ALTER TABLE holds DROP COLUMN reason;",
    )
    .expect("change the schema");
    drop(c);
    let e = check_source(&open_source(&path).expect("open")).expect_err("refused");
    let e = e.to_string();
    for said in [
        "table `wagons` is not one this unyo copies",
        "`runs.wagon` is not copied by this unyo",
        "`holds.reason` is missing",
    ] {
        assert!(e.contains(said), "{e}");
    }
    assert!(!e.contains("sqlite_"), "{e}");
}

#[test]
fn values_convert_or_say_why() {
    let mut v = Values::new(Kind::Time, 1);
    assert!(
        v.push(ValueRef::Text(b"2026-10-01T00:00:00.123456Z"))
            .is_ok()
    );
    let e = v
        .push(ValueRef::Text(b"yesterday"))
        .expect_err("not a time");
    assert!(e.contains("`yesterday` is not an RFC 3339 time"), "{e}");
    let mut v = Values::new(Kind::Bool, 1);
    assert!(v.push(ValueRef::Integer(1)).is_ok());
    let e = v.push(ValueRef::Integer(2)).expect_err("not 0 or 1");
    assert!(e.contains("the integer 2 where 0 or 1"), "{e}");
    let mut v = Values::new(Kind::Int4, 1);
    let e = v.push(ValueRef::Integer(1 << 40)).expect_err("too large");
    assert!(e.contains("out of the range"), "{e}");
    // A NUL of an earlier version's output tail is copied as U+FFFD.
    let mut v = Values::new(Kind::Text, 1);
    assert_eq!(v.push(ValueRef::Text(b"a\0b")), Ok(5));
    let mut v = Values::new(Kind::Date, 1);
    assert!(v.push(ValueRef::Text(b"2026-12-05")).is_ok());
    assert!(v.push(ValueRef::Null).is_ok());
}

#[test]
fn a_password_is_never_shown() {
    for (given, shown) in [
        (
            "postgres://unyo:s3cret@db1:5432/unyo",
            "postgres://unyo@db1:5432/unyo",
        ),
        (
            "postgres://unyo@db1/unyo?password=s3cret&sslmode=require",
            "postgres://unyo@db1/unyo?sslmode=require",
        ),
        ("postgresql://u:p%40ss@h/d?PASSWORD=x", "postgresql://u@h/d"),
        ("postgres://unyo@db1/unyo", "postgres://unyo@db1/unyo"),
        ("postgres://db1/unyo", "postgres://db1/unyo"),
    ] {
        assert_eq!(without_password(given), shown);
    }
}
