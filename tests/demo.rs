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
/// A demo environment in a fresh tree.
fn demo() -> Tree {
    let t = Tree::new();
    assert_exit(&t.run(&["demo", "init"]), 0);
    t
}

fn db_hash(db: &Path) -> Vec<String> {
    ["departments", "residents", "staff", "tax_records"]
        .iter()
        .map(|t| table_hash(db, t))
        .collect()
}

/// `unyo act backup` of the demo into `backups/`; returns the backup folder.
fn backup(t: &Tree) -> std::path::PathBuf {
    let out = t.run(&[
        "act",
        "backup",
        "--db",
        &t.path("var/city/business.db").display().to_string(),
        "--dir",
        &t.path("var/city/share").display().to_string(),
        "--dest",
        &t.path("backups").display().to_string(),
    ]);
    assert_exit(&out, 0);
    let folders: Vec<_> = std::fs::read_dir(t.path("backups"))
        .expect("backups")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    folders[0].clone()
}

fn restore(t: &Tree, folder: &Path) -> Output {
    t.run(&[
        "act",
        "restore",
        "--backup",
        &folder.display().to_string(),
        "--db",
        &t.path("var/city/business.db").display().to_string(),
        "--dir",
        &t.path("var/city/share").display().to_string(),
    ])
}

#[test]
fn a_backup_verifies_and_restores_to_an_identical_database_and_share() {
    let t = demo();
    let db = t.path("var/city/business.db");
    let before = db_hash(&db);
    let memo = t.path("var/city/share/tax/memo-tax.txt");
    let memo_text = std::fs::read_to_string(&memo).expect("memo");

    let folder = backup(&t);
    for f in ["business.db", "share.tar.gz", "MANIFEST.sha256", "VERIFIED"] {
        assert!(folder.join(f).is_file(), "{f}");
    }
    let manifest = std::fs::read_to_string(folder.join("MANIFEST.sha256")).expect("manifest");
    assert!(manifest.lines().any(|l| l.ends_with("  business.db")));
    assert!(
        manifest
            .lines()
            .any(|l| l.ends_with("  share/tax/memo-tax.txt"))
    );
    assert_eq!(manifest.lines().count(), 1 + 15, "{manifest}");

    // The city works on: rows change, a file changes, one is added, one is removed.
    let conn = Connection::open(&db).expect("open");
    conn.execute_batch(
        "UPDATE residents SET address = 'moved' WHERE id < 100;
         DELETE FROM tax_records WHERE id % 7 = 0;
         INSERT INTO staff (id, name, department) VALUES ('S9999', '新人', 'it');",
    )
    .expect("change");
    drop(conn);
    std::fs::write(&memo, "overwritten").expect("write");
    std::fs::write(t.path("var/city/share/tax/new.txt"), "new").expect("write");
    std::fs::remove_file(t.path("var/city/share/it/README.txt")).expect("rm");
    assert_ne!(db_hash(&db), before);

    let out = restore(&t, &folder);
    assert_exit(&out, 0);
    assert_eq!(db_hash(&db), before);
    assert_eq!(std::fs::read_to_string(&memo).expect("memo"), memo_text);
    assert!(!t.path("var/city/share/tax/new.txt").exists());
    assert!(t.path("var/city/share/it/README.txt").is_file());
    // Nothing is left beside them.
    let left: Vec<_> = std::fs::read_dir(t.path("var/city"))
        .expect("city")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_corrupted_archive_or_an_unverified_backup_is_refused_by_restore() {
    let t = demo();
    let folder = backup(&t);
    let archive = folder.join("share.tar.gz");
    let mut bytes = std::fs::read(&archive).expect("archive");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive, bytes).expect("write");
    std::fs::write(t.path("var/city/share/tax/memo-tax.txt"), "changed").expect("write");

    let out = restore(&t, &folder);
    assert_exit(&out, 1);
    let msg = both(&out);
    assert!(
        msg.contains("does not verify") && msg.contains("share.tar.gz"),
        "{msg}"
    );
    assert!(msg.contains("refusing to restore"), "{msg}");
    // Nothing was touched.
    assert_eq!(
        std::fs::read_to_string(t.path("var/city/share/tax/memo-tax.txt")).expect("memo"),
        "changed"
    );

    std::fs::remove_file(folder.join("VERIFIED")).expect("rm");
    let out = restore(&t, &folder);
    assert_exit(&out, 1);
    assert!(both(&out).contains("never verified"), "{}", both(&out));
}

#[test]
fn rotation_keeps_the_newest_daily_backups_and_the_newest_of_each_month() {
    let dir = tempfile::tempdir().expect("temp");
    let make = |name: &str, verified: bool| {
        let p = dir.path().join(name);
        std::fs::create_dir_all(&p).expect("mkdir");
        if verified {
            std::fs::write(p.join("VERIFIED"), "").expect("write");
        }
    };
    for day in 10..=20 {
        make(&format!("202605{day}-003000"), true);
    }
    for name in [
        "20260415-003000",
        "20260401-003000",
        "20260301-003000",
        "20250601-003000",
        "20250501-003000",
    ] {
        make(name, true);
    }
    make("20260520-020000", false); // newer than every verified one: may still be written
    make("20260511-120000", false); // an old failed backup
    make("notes", true); // not a backup folder
    let now = chrono::NaiveDate::from_ymd_opt(2026, 5, 20)
        .and_then(|d| d.and_hms_opt(3, 0, 0))
        .expect("now");
    let deleted = unyo::act::backup::rotate(dir.path(), now, 7, 12).expect("rotate");
    let names = |v: Vec<std::path::PathBuf>| -> Vec<String> {
        let mut n: Vec<String> = v
            .iter()
            .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
            .collect();
        n.sort();
        n
    };
    assert_eq!(
        names(deleted),
        [
            "20250501-003000",
            "20260401-003000",
            "20260510-003000",
            "20260511-003000",
            "20260511-120000",
            "20260512-003000",
            "20260513-003000",
        ]
    );
    let left = names(
        std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").path())
            .collect(),
    );
    assert_eq!(
        left,
        [
            "20250601-003000",
            "20260301-003000",
            "20260415-003000",
            "20260514-003000",
            "20260515-003000",
            "20260516-003000",
            "20260517-003000",
            "20260518-003000",
            "20260519-003000",
            "20260520-003000",
            "20260520-020000",
            "notes",
        ]
    );
}

#[test]
fn nightly_backup_runs_on_a_fresh_demo_and_lifts_maintenance() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    assert_exit(&t.run(&["demo", "init"]), 0);
    let out = t.run(&["run", "nightly-backup"]);
    assert_exit(&out, 0);
    let params = std::fs::read_to_string(t.path("var/city/online/params.yaml")).expect("params");
    assert!(
        params.lines().any(|l| l == "maintenance: false"),
        "{params}"
    );
    let folders: Vec<_> = std::fs::read_dir(t.path("var/backups/city"))
        .expect("backups")
        .map(|e| e.expect("entry").path())
        .collect();
    assert_eq!(folders.len(), 1);
    assert!(folders[0].join("VERIFIED").is_file());

    // A backup that fails (the database is gone) still lifts maintenance; the run fails.
    std::fs::remove_file(t.path("var/city/business.db")).expect("rm");
    let out = t.run(&["run", "nightly-backup"]);
    assert_exit(&out, 1);
    let params = std::fs::read_to_string(t.path("var/city/online/params.yaml")).expect("params");
    assert!(
        params.lines().any(|l| l == "maintenance: false"),
        "{params}"
    );
    assert!(
        both(&out).contains("lift-maintenance  succeeded"),
        "{}",
        both(&out)
    );
}

/// The daemon creates the demo only where `unyo.yaml` asks for it.
#[test]
fn the_daemon_creates_the_demo_only_when_asked() {
    use std::process::Stdio;
    let start_and_stop = |t: &Tree| {
        let mut d = std::process::Command::new(env!("CARGO_BIN_EXE_unyo"))
            .env_remove("UNYO_ROOT")
            .arg("--root")
            .arg(t.root())
            .arg("daemon")
            .stderr(Stdio::piped())
            .spawn()
            .expect("daemon");
        crate::helper::wait_for("the daemon's database", || {
            t.path("var/unyo.db").exists().then_some(())
        });
        std::thread::sleep(std::time::Duration::from_millis(500));
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(d.id() as i32),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("term");
        assert!(d.wait().expect("wait").success());
    };
    let plain = Tree::new();
    start_and_stop(&plain);
    assert!(
        !plain.path("var/city").exists(),
        "no demo without `demo: true`"
    );
    let demo = Tree::new();
    demo.file("unyo.yaml", "demo: true\n");
    start_and_stop(&demo);
    assert!(demo.path("var/city/business.db").is_file());
}

/// Issue 13 item 15: a backup at 07:16 in Tokyo was named `20261204-221626`, in the machine's
/// UTC. The folder is named in the configured zone (here Asia/Kolkata, +05:30, never the same
/// clock time as UTC), also when the shipped job runs it as a step on a UTC machine.
#[test]
fn the_backup_folder_is_named_in_the_configured_zone() {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    t.file("unyo.yaml", "timezone: Asia/Kolkata\n");
    assert_exit(&t.run(&["demo", "init"]), 0);
    let zone = chrono_tz::Asia::Kolkata;
    let local = |t: chrono::DateTime<chrono::Utc>| t.with_timezone(&zone).naive_local();
    let before = local(chrono::Utc::now());
    let out = t
        .unyo()
        .env("TZ", "UTC")
        .args(["run", "nightly-backup"])
        .output()
        .expect("run");
    assert_exit(&out, 0);
    let after = local(chrono::Utc::now());
    let folders: Vec<String> = std::fs::read_dir(t.path("var/backups/city"))
        .expect("backups")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(folders.len(), 1, "{folders:?}");
    let named = chrono::NaiveDateTime::parse_from_str(&folders[0], "%Y%m%d-%H%M%S")
        .expect("a YYYYMMDD-HHMMSS name");
    let second = chrono::Duration::seconds(1);
    assert!(
        before - second <= named && named <= after + second,
        "{named} is not Kolkata time between {before} and {after}"
    );
    let verified = std::fs::read_to_string(
        t.path("var/backups/city")
            .join(&folders[0])
            .join("VERIFIED"),
    )
    .expect("VERIFIED");
    assert!(verified.trim_end().ends_with("+05:30"), "{verified}");
}
