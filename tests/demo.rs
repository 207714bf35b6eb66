//! The demo environment (`unyo demo init`) and the built-in actions the shipped jobs call
//! (`unyo act backup|restore|maintenance`), on fresh demo environments in temp dirs.

use std::path::Path;
use std::process::Output;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::helper::{Tree, both};

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

fn count(db: &Path, table: &str) -> i64 {
    let conn = Connection::open(db).expect("open db");
    conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
        .expect("count")
}

#[test]
fn demo_init_creates_the_city_and_refuses_a_second_time_without_force() {
    let t = Tree::new();
    let out = t.run(&["demo", "init"]);
    assert_exit(&out, 0);
    let listed = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(listed.contains("business.db") && listed.contains("online/params.yaml"));
    let db = t.path("var/city/business.db");
    for (table, rows) in [
        ("residents", 20_000),
        ("tax_records", 20_000),
        ("staff", 300),
        ("departments", 5),
    ] {
        assert_eq!(count(&db, table), rows, "{table}");
    }
    let conn = Connection::open(&db).expect("open db");
    let codes: Vec<String> = conn
        .prepare("SELECT code FROM departments ORDER BY code")
        .expect("prepare")
        .query_map([], |r| r.get(0))
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(codes, ["citizens", "it", "planning", "tax", "welfare"]);
    for code in &codes {
        let dir = t.path(&format!("var/city/share/{code}"));
        assert!(dir.join("README.txt").is_file(), "{}", dir.display());
        assert!(dir.join("monthly-cases.csv").is_file());
    }
    let directory: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(t.path("var/city/directory.json")).expect("directory"),
    )
    .expect("json");
    assert_eq!(directory["staff"].as_array().map(Vec::len), Some(300));
    assert_eq!(
        directory["staff"][0]["groups"][0]
            .as_str()
            .map(|g| g.starts_with("dept-")),
        Some(true)
    );
    let params = std::fs::read_to_string(t.path("var/city/online/params.yaml")).expect("params");
    for line in [
        "maintenance: false",
        "fiscal_year: 2026",
        "tax_rate_percent: 10",
        "counters:",
    ] {
        assert!(params.lines().any(|l| l == line), "{line} in {params}");
    }

    // A second time it refuses and leaves the environment as it is.
    std::fs::write(t.path("var/city/share/tax/mine.txt"), "kept").expect("write");
    let out = t.run(&["demo", "init"]);
    assert_exit(&out, 3);
    assert!(both(&out).contains("--force"), "{}", both(&out));
    assert!(t.path("var/city/share/tax/mine.txt").exists());

    // With --force it is created anew, identical: the data comes from a fixed seed.
    let before = table_hash(&db, "residents");
    assert_exit(&t.run(&["demo", "init", "--force"]), 0);
    assert!(!t.path("var/city/share/tax/mine.txt").exists());
    assert_eq!(table_hash(&db, "residents"), before);
}

/// A SHA-256 of every row of a table in id order.
fn table_hash(db: &Path, table: &str) -> String {
    let conn = Connection::open(db).expect("open db");
    let mut stmt = conn
        .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
        .expect("prepare");
    let n = stmt.column_count();
    let mut rows = stmt.query([]).expect("query");
    let mut h = Sha256::new();
    while let Some(row) = rows.next().expect("row") {
        for i in 0..n {
            let v: rusqlite::types::Value = row.get(i).expect("value");
            h.update(format!("{v:?}\u{1f}").as_bytes());
        }
        h.update(b"\x1e");
    }
    format!("{:x}", h.finalize())
}
