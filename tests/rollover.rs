//! The shipped `fiscal-year-rollover` job on fresh demo environments: nothing changes before
//! the attending operator's approval, then the closing year is archived and the new year's
//! parameters are set; a rejection changes nothing, and a second run refuses.
//!
//! unyo takes a run's business date from the clock, so the tests do not wait for 1 April:
//! they make the demo's parameter file say the year before the current fiscal year, which is
//! what it says on the morning of 1 April.

use std::path::Path;
use std::process::Output;

use rusqlite::Connection;

use crate::helper::{Tree, both, step, text, wait_for};

const JOB: &str = "fiscal-year-rollover";
const PARAMS: &str = "var/city/online/params.yaml";

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

/// The fiscal year a run started now belongs to (shipped settings: Asia/Tokyo, day start
/// 00:00, April).
fn this_fiscal_year() -> i32 {
    let settings = unyo::model::Settings::defaults(Path::new("."));
    unyo::engine::dates(&settings, chrono::Utc::now()).1
}

/// A demo whose parameter file says `closing`, with tax records of that year.
fn demo_before_rollover(closing: i32) -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    assert_exit(&t.run(&["demo", "init"]), 0);
    let path = t.path(PARAMS);
    let params = std::fs::read_to_string(&path).expect("params");
    assert!(params.contains("\nfiscal_year: 2026\n"), "{params}");
    let params = params.replace(
        "\nfiscal_year: 2026\n",
        &format!("\nfiscal_year: {closing}\n"),
    );
    std::fs::write(&path, params).expect("write");
    // The demo's records are of 2023-2025; a later closing year gets a few of its own.
    let conn = Connection::open(t.path("var/city/business.db")).expect("db");
    if tax_rows(&conn, closing) == 0 {
        for r in 1..=5 {
            conn.execute(
                "INSERT INTO tax_records (resident_id, fiscal_year, amount) VALUES (?1, ?2, 1000)",
                rusqlite::params![r, closing],
            )
            .expect("insert");
        }
    }
    t
}

fn tax_rows(conn: &Connection, year: i32) -> i64 {
    conn.query_row(
        "SELECT count(*) FROM tax_records WHERE fiscal_year = ?1",
        [year],
        |r| r.get(0),
    )
    .expect("count")
}

fn read(t: &Tree, rel: &str) -> String {
    std::fs::read_to_string(t.path(rel)).expect("read")
}

fn history(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["params", "history", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).expect("history json")
}

/// `unyo run JOB` in a thread, as an operator starts it; returns its output when it ends.
fn background_run(t: &Tree) -> std::thread::JoinHandle<Output> {
    let mut cmd = t.unyo();
    cmd.args(["run", JOB]);
    std::thread::spawn(move || cmd.output().expect("run"))
}

fn wait_for_gate(t: &Tree, run: i64) {
    wait_for("the rollover to wait for approval", || {
        std::fs::metadata(t.path("var/unyo.db")).ok()?;
        // The run is recorded a moment after the database file appears: until then, not yet.
        let out = t.run(&["show", &run.to_string(), "--json"]);
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
        (step(&r, "attend")["status"] == "waiting_approval").then_some(())
    });
}

fn archive_dir(t: &Tree, year: i32) -> std::path::PathBuf {
    t.path(&format!("var/city/archive/FY{year}"))
}

/// The data rows of the archived CSV: (fiscal_year column, row count).
fn csv_years(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("csv");
    let mut lines = text.split("\r\n").filter(|l| !l.is_empty());
    assert_eq!(
        lines.next(),
        Some("\u{feff}id,resident_id,fiscal_year,amount")
    );
    lines
        .map(|l| l.split(',').nth(2).expect("fiscal_year").to_owned())
        .collect()
}

#[test]
fn the_rollover_archives_and_sets_the_new_year_only_after_approval() {
    let new = this_fiscal_year();
    let closing = new - 1;
    let t = demo_before_rollover(closing);
    let before = read(&t, PARAMS);

    let handle = background_run(&t);
    wait_for_gate(&t, 1);
    // Waiting for the operator: nothing is changed, nothing archived.
    assert_eq!(read(&t, PARAMS), before);
    assert!(!t.path("var/city/archive").exists());
    assert!(history(&t).is_empty());
    let r = t.show(1);
    assert_eq!(step(&r, "check-year")["status"], "succeeded");
    assert_eq!(step(&r, "maintenance-on")["status"], "pending");

    let out = t.run(&["approve", "1", "attend", "--comment", "attending: sato"]);
    assert_exit(&out, 0);
    let run = handle.join().expect("join");
    assert_exit(&run, 0);

    // The archive of the closing year: verified, with exactly that year's tax records.
    let dir = archive_dir(&t, closing);
    for f in [
        "business.db",
        "tax_records.csv",
        "MANIFEST.sha256",
        "VERIFIED",
        "SUMMARY.txt",
    ] {
        assert!(dir.join(f).is_file(), "{f} in {}", dir.display());
    }
    let out = t.run(&["act", "verify-archive", "--dir", &dir.display().to_string()]);
    assert_exit(&out, 0);
    let conn = Connection::open(t.path("var/city/business.db")).expect("db");
    let rows = tax_rows(&conn, closing);
    assert!(rows > 0);
    let years = csv_years(&dir.join("tax_records.csv"));
    assert_eq!(years.len() as i64, rows);
    assert!(years.iter().all(|y| *y == closing.to_string()), "{years:?}");
    assert!(
        text(&out.stdout).contains(&format!("tax_records.csv ({rows} rows)")),
        "{}",
        both(&out)
    );

    // The new year's parameters; the per-year counters reset, the others and the comments
    // kept; the online system open again.
    let after = read(&t, PARAMS);
    let expected = before
        .replace(
            &format!("\nfiscal_year: {closing}\n"),
            &format!("\nfiscal_year: {new}\n"),
        )
        .replace("  receipt_no: 1\n", "  receipt_no: 0\n")
        .replace("  notice_no: 1\n", "  notice_no: 0\n")
        .replace("  certificate_no: 1\n", "  certificate_no: 0\n");
    assert_eq!(after, expected);
    assert!(after.contains("  resident_no: 20000\n"), "{after}");
    assert!(after.contains("\nmaintenance: false\n"), "{after}");

    // Every change is recorded with the run.
    let h = history(&t);
    let changes: Vec<(String, serde_json::Value, serde_json::Value)> = h
        .iter()
        .rev()
        .map(|c| {
            assert_eq!(c["run_id"], 1);
            (
                c["key"].as_str().expect("key").to_owned(),
                c["before"].clone(),
                c["after"].clone(),
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            ("fiscal_year".to_owned(), closing.into(), new.into()),
            ("counters.receipt_no".to_owned(), 1.into(), 0.into()),
            ("counters.notice_no".to_owned(), 1.into(), 0.into()),
            ("counters.certificate_no".to_owned(), 1.into(), 0.into()),
        ]
    );
    assert_eq!(h[3]["reason"], format!("rollover FY{closing} -> FY{new}"));

    // The summary is in the step's log and in the archive.
    let summary = std::fs::read_to_string(dir.join("SUMMARY.txt")).expect("summary");
    assert!(
        summary.starts_with(&format!(
            "fiscal-year rollover: FY{closing} closed, FY{new} opened\n"
        )),
        "{summary}"
    );
    let logs = t.run(&["logs", "1", "--step", "summary"]);
    assert!(
        text(&logs.stdout).contains(&format!("FY{closing} verified")),
        "{}",
        both(&logs)
    );

    // A second run the same year refuses at once: nothing archived again, nothing changed,
    // and no incident (a refusal, not a failure); the online system is opened all the same.
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.sha256")).expect("manifest");
    let out = t.run(&["run", JOB]);
    assert_exit(&out, 5);
    let r = t.show(2);
    assert_eq!(r["status"], "refused");
    assert_eq!(step(&r, "check-year")["status"], "refused");
    assert_eq!(step(&r, "attend")["status"], "skipped");
    assert_eq!(step(&r, "archive")["status"], "skipped");
    assert_eq!(step(&r, "lift-maintenance")["status"], "succeeded");
    assert_eq!(incidents(&t), 0);
    let logs = t.run(&["logs", "2", "--step", "check-year"]);
    assert!(
        both(&logs).contains(&format!("`fiscal_year` is {new}, not {closing}")),
        "{}",
        both(&logs)
    );
    assert_eq!(read(&t, PARAMS), after);
    assert_eq!(history(&t).len(), 4);
    assert_eq!(
        std::fs::read_to_string(dir.join("MANIFEST.sha256")).expect("manifest"),
        manifest
    );
}

fn incidents(t: &Tree) -> usize {
    let out = t.run(&["incidents", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout)
        .expect("incidents json")
        .len()
}

/// The rollover of a year rolled over already, run twice: each run ends refused with the
/// reason (the parameter file says the new year), opens no incident, changes nothing, and
/// still lifts maintenance; a parameter file that cannot be read is a failure with an
/// incident, not a refusal.
#[test]
fn a_rollover_run_twice_in_a_year_refuses_without_an_incident() {
    let year = this_fiscal_year();
    let t = demo_before_rollover(year);
    let before = read(&t, PARAMS);
    for run in 1..=2 {
        let out = t.run(&["run", JOB]);
        assert_exit(&out, 5);
        let r = t.show(run);
        assert_eq!(r["status"], "refused", "{r:#}");
        let why = format!("`fiscal_year` is {year}, not {}", year - 1);
        assert!(
            r["reason"]
                .as_str()
                .is_some_and(|s| s.starts_with("step `check-year` refused: /") && s.contains(&why)),
            "{r:#}"
        );
        assert_eq!(step(&r, "check-year")["status"], "refused");
        assert_eq!(step(&r, "attend")["status"], "skipped");
        assert_eq!(step(&r, "lift-maintenance")["status"], "succeeded");
    }
    assert_eq!(incidents(&t), 0);
    assert_eq!(read(&t, PARAMS), before);
    assert!(history(&t).is_empty());
    assert!(!t.path("var/city/archive").exists());
    let out = t.run(&["runs", "--json"]);
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("runs");
    assert!(runs.iter().all(|r| r["status"] == "refused"), "{runs:?}");

    // `param-check` tells the refusal (5) from a file it cannot read (4).
    let file = t.path(PARAMS).display().to_string();
    let check = |file: &str| t.run(&["act", "param-check", "--file", file, "fiscal_year=1999"]);
    assert_exit(&check(&file), 5);
    let missing = t.path("var/city/online/nothing.yaml").display().to_string();
    assert_exit(&check(&missing), 4);
    std::fs::remove_file(t.path(PARAMS)).expect("remove");
    let out = t.run(&["run", JOB]);
    assert_exit(&out, 1);
    assert_eq!(t.show(3)["status"], "failed");
    assert!(incidents(&t) >= 1);
}

#[test]
fn a_rejected_rollover_changes_nothing() {
    let closing = this_fiscal_year() - 1;
    let t = demo_before_rollover(closing);
    let before = read(&t, PARAMS);
    let handle = background_run(&t);
    wait_for_gate(&t, 1);
    let out = t.run(&["reject", "1", "attend", "--reason", "nobody attends today"]);
    assert_exit(&out, 0);
    assert_exit(&handle.join().expect("join"), 1);
    let r = t.show(1);
    assert_eq!(r["status"], "failed");
    for s in ["maintenance-on", "archive", "new-year", "reset-receipt-no"] {
        assert_eq!(step(&r, s)["status"], "skipped", "{s}");
    }
    assert_eq!(read(&t, PARAMS), before);
    assert!(!t.path("var/city/archive").exists());
    assert!(history(&t).is_empty());
}

#[test]
fn archive_year_refuses_an_existing_year_and_a_bad_table() {
    let t = demo_before_rollover(2025);
    let db = t.path("var/city/business.db").display().to_string();
    let dest = t.path("var/city/archive").display().to_string();
    let archive = |table: &str| {
        t.run(&[
            "act",
            "archive-year",
            "--db",
            &db,
            "--dest",
            &dest,
            "--year",
            "2025",
            "--table",
            table,
        ])
    };
    let out = archive("staff");
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("table `staff`") && both(&out).contains("no `fiscal_year` column"),
        "{}",
        both(&out)
    );
    let out = archive("tax_records; DROP TABLE staff");
    assert_exit(&out, 1);
    assert!(!t.path("var/city/archive/FY2025").exists());

    assert_exit(&archive("tax_records"), 0);
    let out = archive("tax_records");
    assert_exit(&out, 1);
    assert!(both(&out).contains("archived already"), "{}", both(&out));

    // A changed file no longer verifies.
    let csv = t.path("var/city/archive/FY2025/tax_records.csv");
    let changed = std::fs::read_to_string(&csv)
        .expect("csv")
        .replacen(",2025,", ",2024,", 1);
    std::fs::write(&csv, changed).expect("write");
    let out = t.run(&[
        "act",
        "verify-archive",
        "--dir",
        &t.path("var/city/archive/FY2025").display().to_string(),
    ]);
    assert_exit(&out, 1);
    assert!(
        both(&out).contains("`tax_records.csv` does not match its SHA-256"),
        "{}",
        both(&out)
    );
}
