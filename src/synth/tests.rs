use std::str::FromStr;

use rusqlite::Connection;
use rusqlite::types::ValueRef;

use super::*;
use crate::model::Severity;
use crate::store::{
    AttemptStatus, IncidentStatus, NotificationStatus, RunStatus, SlotOutcome, StepStatus, Trigger,
};

/// Generates as `unyo synth-history` does, on a runtime of its own.
fn generate(db: &std::path::Path, spec: &Spec) -> Result<Summary, SynthError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(super::generate(db, spec))
}

fn generated(spec: &Spec) -> (tempfile::TempDir, Connection, Summary) {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("var/unyo.db");
    let summary = generate(&db, spec).expect("generate");
    let conn = Connection::open(&db).expect("open");
    (dir, conn, summary)
}

/// Every row of every table (but the schema's creation time), as text, in a fixed order.
fn dump(conn: &Connection) -> Vec<String> {
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name <> 'schema_migrations' ORDER BY name",
        )
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .expect("tables");
    let mut out = Vec::new();
    for t in tables {
        let stmt = conn
            .prepare(&format!("SELECT * FROM \"{t}\""))
            .expect("select");
        let n = stmt.column_count();
        let order: Vec<String> = (1..=n).map(|i| i.to_string()).collect();
        let mut stmt = conn
            .prepare(&format!(
                "SELECT * FROM \"{t}\" ORDER BY {}",
                order.join(", ")
            ))
            .expect("select ordered");
        let mut rows = stmt.query([]).expect("query");
        while let Some(row) = rows.next().expect("row") {
            let mut line = format!("{t}:");
            for i in 0..n {
                let v = match row.get_ref(i).expect("value") {
                    ValueRef::Null => "NULL".to_owned(),
                    ValueRef::Integer(x) => x.to_string(),
                    ValueRef::Real(x) => x.to_string(),
                    ValueRef::Text(b) | ValueRef::Blob(b) => String::from_utf8_lossy(b).into(),
                };
                line.push_str(&v);
                line.push('|');
            }
            out.push(line);
        }
    }
    out
}

fn strings(conn: &Connection, sql: &str) -> Vec<String> {
    conn.prepare(sql)
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0))
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
}

#[test]
fn timestamps_are_formatted_as_the_store_formats_them() {
    let mut rng = Rng::new(7);
    for _ in 0..2_000 {
        let t = rng.range(0, 4_102_444_800) * SEC + rng.range(0, 999_999);
        assert_eq!(ts(t), crate::store::sqlite::ts(utc(t)));
    }
}

#[test]
fn the_same_spec_writes_the_same_rows_and_another_seed_others() {
    let spec = Spec::new((2026, 10), 4_000, 42);
    let (_a, a, sa) = generated(&spec);
    let (_b, b, sb) = generated(&spec);
    let (da, db) = (dump(&a), dump(&b));
    assert!(da.len() > 10_000, "{} rows", da.len());
    assert!(da == db, "two generations of one spec differ");
    assert_eq!(
        Summary { seconds: 0.0, ..sa },
        Summary { seconds: 0.0, ..sb }
    );
    let (_c, c, _) = generated(&Spec {
        seed: 43,
        ..spec.clone()
    });
    assert!(dump(&c) != da, "another seed wrote the same rows");
}

#[test]
fn exactly_the_runs_asked_for_all_inside_the_month() {
    for runs in [1_700, 2_000, 12_345] {
        let spec = Spec::new((2026, 10), runs, 5);
        let (_d, conn, summary) = generated(&spec);
        assert_eq!(summary.runs, runs);
        assert_eq!(count(&conn, "SELECT count(*) FROM runs") as u64, runs);
        // 2026-10-01 00:00 to 2026-11-01 00:00 in Tokyo.
        let (from, to) = ("2026-09-30T15:00:00.000000Z", "2026-10-31T15:00:00.000000Z");
        for (table, cols) in [
            ("runs", &["queued_at", "started_at", "ended_at"][..]),
            ("steps", &["started_at", "ended_at"][..]),
            ("attempts", &["started_at", "ended_at"][..]),
            ("slots", &["fire_time", "due_at", "decided_at"][..]),
            (
                "incidents",
                &["opened_at", "acknowledged_at", "resolved_at"][..],
            ),
            ("incident_events", &["at"][..]),
            ("audit", &["at"][..]),
            ("param_changes", &["at"][..]),
            ("extracts", &["at"][..]),
            ("permission_changes", &["at"][..]),
        ] {
            for c in cols {
                let outside = count(
                    &conn,
                    &format!("SELECT count(*) FROM {table} WHERE {c} < '{from}' OR {c} >= '{to}'"),
                );
                assert_eq!(outside, 0, "{table}.{c} outside the month");
            }
        }
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM runs WHERE business_date NOT LIKE '2026-10-%'"
            ),
            0
        );
        assert_eq!(
            count(
                &conn,
                "SELECT count(*) FROM runs WHERE ended_at < started_at"
            ),
            0
        );
    }
}

#[test]
fn every_row_belongs_to_what_it_names_and_every_token_parses() {
    let (_d, conn, summary) = generated(&Spec::new((2026, 10), 30_000, 9));
    // Foreign keys hold, and rows reached from runs exist.
    assert!(strings(&conn, "PRAGMA foreign_key_check").is_empty());
    for sql in [
        "SELECT count(*) FROM attempts a WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = a.run_id)",
        "SELECT count(*) FROM attempts a WHERE NOT EXISTS \
         (SELECT 1 FROM steps s WHERE s.run_id = a.run_id AND s.name = a.step)",
        "SELECT count(*) FROM steps s WHERE NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = s.run_id)",
        "SELECT count(*) FROM slots s WHERE s.run_id IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.id = s.run_id AND r.job = s.job)",
        "SELECT count(*) FROM runs WHERE rerun_of IS NOT NULL AND rerun_of >= id",
        "SELECT count(*) FROM steps s WHERE attempts <> \
         (SELECT count(*) FROM attempts a WHERE a.run_id = s.run_id AND a.step = s.name)",
        "SELECT count(*) FROM incident_events e WHERE NOT EXISTS \
         (SELECT 1 FROM incidents i WHERE i.id = e.incident_id)",
        "SELECT count(*) FROM attempts WHERE action LIKE '%#?%'",
        "SELECT count(*) FROM runs WHERE status IN ('succeeded', 'failed') AND EXISTS \
         (SELECT 1 FROM steps s WHERE s.run_id = runs.id AND s.status = 'pending')",
    ] {
        assert_eq!(count(&conn, sql), 0, "{sql}");
    }
    assert_eq!(
        count(&conn, "SELECT count(*) FROM attempts") as u64,
        summary.attempts
    );
    // Ids follow time, as in a database the daemon wrote.
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM runs a JOIN runs b ON b.id = a.id + 1 WHERE b.queued_at < a.queued_at"
        ),
        0
    );
    fn all<T: FromStr<Err = String>>(conn: &Connection, sql: &str) {
        for s in strings(conn, sql) {
            if let Err(e) = s.parse::<T>() {
                panic!("{sql}: {e}");
            }
        }
    }
    all::<RunStatus>(&conn, "SELECT DISTINCT status FROM runs");
    all::<Trigger>(&conn, "SELECT DISTINCT trigger FROM runs");
    all::<StepStatus>(&conn, "SELECT DISTINCT status FROM steps");
    all::<AttemptStatus>(&conn, "SELECT DISTINCT status FROM attempts");
    all::<SlotOutcome>(&conn, "SELECT DISTINCT outcome FROM slots");
    all::<IncidentStatus>(&conn, "SELECT DISTINCT status FROM incidents");
    all::<Severity>(&conn, "SELECT DISTINCT severity FROM incidents");
    all::<NotificationStatus>(&conn, "SELECT DISTINCT status FROM notifications");
    // What the month is meant to show is there.
    let have = |sql: &str| count(&conn, sql) > 0;
    for t in ["schedule", "manual", "submit", "rerun", "catch_up"] {
        assert!(
            have(&format!("SELECT count(*) FROM runs WHERE trigger = '{t}'")),
            "{t}"
        );
    }
    for s in ["succeeded", "failed", "interrupted", "cancelled"] {
        assert!(
            have(&format!("SELECT count(*) FROM runs WHERE status = '{s}'")),
            "{s}"
        );
    }
    for o in [
        "started",
        "shifted",
        "missed",
        "skipped_closed_day",
        "skipped_overlap",
        "skipped_window",
    ] {
        if o == "shifted" {
            continue; // 1 October 2026 is a Thursday: the HR transfer runs on time.
        }
        assert!(
            have(&format!("SELECT count(*) FROM slots WHERE outcome = '{o}'")),
            "{o}"
        );
    }
    for s in ["timed_out", "interrupted", "cancelled"] {
        assert!(
            have(&format!(
                "SELECT count(*) FROM attempts WHERE status = '{s}'"
            )),
            "{s}"
        );
    }
    assert!(have(
        "SELECT count(*) FROM attempts WHERE attempt = 2 AND status = 'succeeded'"
    ));
    assert!(have("SELECT count(*) FROM attempts WHERE signal = 9"));
    assert!(have(
        "SELECT count(*) FROM incidents WHERE resolved_at > report_deadline"
    ));
    assert!(have(
        "SELECT count(*) FROM incidents WHERE status <> 'resolved'"
    ));
    assert!(have("SELECT count(*) FROM incidents WHERE occurrences > 1"));
    // Backups that ended after 06:00 in Tokyo (21:00 UTC the day before).
    assert!(
        count(
            &conn,
            "SELECT count(*) FROM runs WHERE job = 'nightly-backup' \
             AND ended_at > date(business_date, '-1 day') || 'T21:00:00'"
        ) >= 3
    );
    for job in ["nightly-backup", "disk-report"] {
        assert_eq!(
            count(
                &conn,
                &format!("SELECT count(DISTINCT job_digest) FROM runs WHERE job = '{job}'")
            ),
            2,
            "{job}"
        );
    }
    assert_eq!(
        count(&conn, "SELECT count(DISTINCT catalog_digest) FROM runs"),
        3
    );
    assert!(have("SELECT count(*) FROM extracts"));
    assert!(have("SELECT count(*) FROM permission_changes"));
    assert!(have(
        "SELECT count(*) FROM param_changes WHERE rolled_back_by IS NOT NULL"
    ));
    for a in [
        "submit",
        "approve",
        "incident.ack",
        "incident.resolve",
        "rerun",
        "cancel",
    ] {
        assert!(
            have(&format!("SELECT count(*) FROM audit WHERE action = '{a}'")),
            "{a}"
        );
    }
    // The store's settings are back.
    assert_eq!(
        strings(&conn, "PRAGMA journal_mode"),
        vec!["wal".to_owned()]
    );
}

#[test]
fn april_brings_the_rollover_and_moves_a_closed_first() {
    // 1 April 2028 is a Saturday: the HR transfer moves to Monday the 3rd.
    let (_d, conn, _) = generated(&Spec::new((2028, 4), 2_500, 3));
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM runs r JOIN gates g ON g.run_id = r.id \
             WHERE r.job = 'fiscal-year-rollover' AND r.status = 'succeeded' AND g.decision = 'approved'"
        ),
        1
    );
    assert_eq!(
        count(
            &conn,
            "SELECT count(*) FROM param_changes WHERE key = 'fiscal_year' AND after = '2028'"
        ),
        1
    );
    assert_eq!(
        strings(
            &conn,
            "SELECT business_date FROM runs WHERE job = 'fiscal-year-rollover'"
        ),
        vec!["2028-04-01".to_owned()]
    );
    assert_eq!(
        strings(
            &conn,
            "SELECT outcome || ' ' || due_at FROM slots WHERE job = 'hr-transfer'"
        ),
        vec!["shifted 2028-04-02T22:00:00.000000Z".to_owned()]
    );
}

#[test]
fn too_few_runs_and_a_database_with_runs_are_refused() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("unyo.db");
    match generate(&db, &Spec::new((2026, 10), 100, 1)) {
        Err(SynthError::TooFewRuns { runs: 100, minimum }) => assert!(minimum > 1_000),
        other => panic!("{other:?}"),
    }
    generate(&db, &Spec::new((2026, 10), 2_000, 1)).expect("first");
    match generate(&db, &Spec::new((2026, 10), 2_000, 1)) {
        Err(e @ SynthError::NotEmpty { runs: 2_000, .. }) => {
            assert!(e.to_string().contains("holds 2000 runs already"), "{e}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        generate(&db, &Spec::new((2026, 13), 2_000, 1)),
        Err(SynthError::Month { .. })
    ));
}
