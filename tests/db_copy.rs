//! `unyo db copy --to postgres://…`: a real SQLite installation with history (a synthetic
//! month, a foreground run, a held job, a finding, health-check results, a frozen report and
//! the one superseding it) copied by the real binary into a fresh PostgreSQL database: every
//! row of every table equal (read from both databases directly), ids kept, new ids after the
//! copied ones, the frozen bytes and hashes equal; a target holding rows refused and left as
//! it was, a copy whose check fails rolled back, a running daemon refused, and the password of
//! the URL never printed.

use std::collections::BTreeMap;
use std::path::Path;

use sha2::{Digest, Sha256};
use sqlx::{Connection, Row};

use crate::helper::pg::FreshDb;
use crate::helper::{Daemon, Tree, both, text};

/// A month that ended long ago, filled by `synth-history`.
const MONTH: &str = "2025-10";

/// A password put into the URLs given to `db copy` (the test server trusts every local
/// connection, so it is never checked): it must never be printed.
const PASSWORD: &str = "Pw-never-printed-7f3a";

/// `url` with [`PASSWORD`] as the password of its user.
fn with_password(url: &str) -> String {
    url.replacen("postgres@", &format!("postgres:{PASSWORD}@"), 1)
}

/// An installation with some of everything: what `db copy` must carry over.
fn installation() -> Tree {
    let t = Tree::new();
    t.job("nightly", "steps:\n  s:\n    run: echo nightly\n");
    let ok = |args: &[&str]| {
        let out = t.run(args);
        assert!(out.status.success(), "unyo {args:?}: {}", both(&out));
        out
    };
    ok(&["synth-history", "--month", MONTH, "--runs", "2000"]);
    ok(&["run", "nightly"]);
    ok(&["hold", "nightly", "--reason", "moving to PostgreSQL"]);
    // A service-desk request with a run and an incident linked, closed.
    ok(&[
        "desk",
        "open",
        "--requester",
        "山田",
        "--department",
        "税務課",
        "--category",
        "request",
        "課税データの抽出",
    ]);
    ok(&["desk", "link", "1", "--run", "1"]);
    ok(&["desk", "link", "1", "--incident", "1"]);
    ok(&["desk", "close", "1", "--result", "抽出済み"]);
    monitoring(&t.path("var/unyo.db"));
    let old = t.path("old.md").display().to_string();
    let new = t.path("new.md").display().to_string();
    ok(&[
        "report", "monthly", "--month", MONTH, "--freeze", "--out", &old,
    ]);
    // Other bytes for the same report: superseded, so the copy carries a chain.
    t.file("unyo.yaml", "report:\n  date_style: western\n");
    ok(&[
        "report",
        "monthly",
        "--month",
        MONTH,
        "--freeze",
        "--out",
        &new,
        "--supersede",
        "--reason",
        "the city asked for Western dates",
    ]);
    t
}

/// A finding and health-check results (floats, dates and flags the other records lack),
/// through the SQLite store.
fn monitoring(db: &Path) {
    use chrono::{TimeZone, Utc};
    use unyo::domain::baseline::DayClass;
    use unyo::domain::check::{CheckStatus, TargetKind, Thresholds};
    use unyo::domain::lateness::Breach;
    use unyo::store::prelude::*;
    use unyo::store::{NewCheckResult, NewFinding, SqliteStore};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let store = SqliteStore::open(db).await.expect("open");
        let at = Utc
            .with_ymd_and_hms(2025, 10, 31, 23, 0, 0)
            .single()
            .expect("time");
        let recorded = store
            .record_finding(&NewFinding {
                run_id: 1,
                job: "nightly-backup".to_owned(),
                step: Some("dump".to_owned()),
                kind: Breach::Slow,
                at,
                business_date: chrono::NaiveDate::from_ymd_opt(2025, 10, 31).expect("date"),
                deadline: Some(at),
                observed: Some(180.25),
                expected: Some(60.5),
                spread: Some(4.125),
                samples: Some(20),
                day_class: Some(DayClass::MonthEnd),
                detail: "run took 3m00s".to_owned(),
            })
            .await
            .expect("finding");
        assert!(recorded);
        // Two nodes, the second planning and fencing the first (a row that names a later
        // one), with their labels.
        let node = |name: &str, pid: u32| unyo::store::NewNode {
            name: name.to_owned(),
            labels: vec!["db".to_owned(), "tax".to_owned()],
            host: format!("{name}.city.example"),
            pid,
            version: "0.1.0".to_owned(),
        };
        store
            .register_node(&node("ops1", 10), at)
            .await
            .expect("node");
        let ops2 = store
            .register_node(&node("ops2", 20), at)
            .await
            .expect("node");
        let later = at + chrono::Duration::hours(1);
        store.beat(ops2, later).await.expect("beat");
        store
            .take_lease("planner", ops2, later, std::time::Duration::from_secs(6))
            .await
            .expect("lease")
            .expect("free");
        let fenced = store
            .fence_dead(ops2, later, std::time::Duration::from_secs(30))
            .await
            .expect("fence");
        assert!(
            fenced.iter().any(|d| d.node.as_deref() == Some("ops1")),
            "{fenced:?}"
        );
        // A step handed over to a node labelled `db`, taken by ops2 and cancelled.
        let attempt = store
            .start_attempt(&unyo::store::NewAttempt {
                run_id: 1,
                step: "dump".to_owned(),
                attempt: 9,
                command: serde_json::json!({"runs_on": ["db"]}),
                log_path: "/var/log/unyo/1.dump.9.log".to_owned(),
                started_at: later,
            })
            .await
            .expect("attempt");
        store
            .delegate(attempt, &["db".to_owned()])
            .await
            .expect("delegate");
        rusqlite::Connection::open(db)
            .expect("open")
            .execute(
                "UPDATE delegations SET daemon_id = ?1, taken_at = ?2, progress = 512 \
                 WHERE attempt_id = ?3",
                rusqlite::params![
                    ops2,
                    later.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    attempt
                ],
            )
            .expect("taken");
        assert!(store.cancel_delegated(attempt).await.expect("cancel"));
        store
            .end_delegated(attempt, ops2, &serde_json::json!({"Failed": "cancelled"}))
            .await
            .expect("end");
        for (minutes, status) in [(0, CheckStatus::Ok), (30, CheckStatus::Critical)] {
            store
                .record_check(&NewCheckResult {
                    target: "web".to_owned(),
                    kind: TargetKind::Network,
                    job: "watch-web".to_owned(),
                    step: "http".to_owned(),
                    run_id: Some(1),
                    at: at + chrono::Duration::minutes(minutes),
                    status,
                    output: format!("HTTP {status}"),
                    perfdata: "time=0.01s;;;0".to_owned(),
                    thresholds: Thresholds {
                        down_after: 1,
                        up_after: 1,
                    },
                })
                .await
                .expect("check");
        }
        // A dashboard user with a session (its hash, as the dashboard keeps it).
        let user = unyo::store::WebUser {
            name: "sato".to_owned(),
            role: unyo::store::Role::Operator,
            password_hash: unyo::web::auth::hash_password("a long password").expect("hash"),
            created_at: at,
            password_set_at: at,
        };
        assert!(store.add_web_user(&user).await.expect("web user"));
        store
            .open_web_session(&unyo::store::NewSession {
                token_hash: unyo::web::auth::token_hash("a token"),
                user: "sato".to_owned(),
                at,
                expires_at: at + chrono::Duration::minutes(30),
            })
            .await
            .expect("web session");
    });
}

/// A fresh database on the test server, and a connection to it.
struct Target {
    db: FreshDb,
    rt: tokio::runtime::Runtime,
}

impl Target {
    fn new() -> Target {
        Target {
            db: FreshDb::create(),
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
        }
    }

    /// Rows of `sql`, every column read as text.
    fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        self.rt.block_on(async {
            let mut c = sqlx::PgConnection::connect(&self.db.url)
                .await
                .expect("connect");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .fetch_all(&mut c)
                .await
                .unwrap_or_else(|e| panic!("{sql}: {e}"));
            let _ = c.close().await;
            rows.iter()
                .map(|r| {
                    (0..r.len())
                        .map(|i| r.try_get::<Option<String>, _>(i).expect("text"))
                        .collect()
                })
                .collect()
        })
    }

    fn count(&self, table: &str) -> i64 {
        self.rows(&format!("SELECT count(*)::text FROM \"{table}\""))[0][0]
            .as_deref()
            .expect("count")
            .parse()
            .expect("number")
    }

    /// Each unyo table and its columns with their types, in order.
    fn schema(&self) -> BTreeMap<String, Vec<(String, String)>> {
        let mut out: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
        for r in self.rows(
            "SELECT table_name::text, column_name::text, data_type::text \
             FROM information_schema.columns WHERE table_schema = current_schema() \
             AND table_name <> 'schema_migrations' ORDER BY table_name, ordinal_position",
        ) {
            let [t, c, ty] = [&r[0], &r[1], &r[2]].map(|v| v.clone().expect("name"));
            out.entry(t).or_default().push((c, ty));
        }
        out
    }

    /// Every row of `table` in the form [`sqlite_rows`] gives SQLite's, sorted.
    fn table(&self, table: &str, columns: &[(String, String)]) -> Vec<Vec<Option<String>>> {
        let exprs: Vec<String> = columns
            .iter()
            .map(|(c, ty)| match ty.as_str() {
                "timestamp with time zone" => format!(
                    "to_char(\"{c}\" AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
                ),
                "boolean" => format!("\"{c}\"::int::text"),
                "bytea" => format!("encode(\"{c}\", 'hex')"),
                _ => format!("\"{c}\"::text"),
            })
            .collect();
        let mut rows = self.rows(&format!("SELECT {} FROM \"{table}\"", exprs.join(", ")));
        for r in &mut rows {
            floats(r, columns);
        }
        rows.sort();
        rows
    }
}

/// Floats as one text, whichever database printed them.
fn floats(row: &mut [Option<String>], columns: &[(String, String)]) {
    for (v, (_, ty)) in row.iter_mut().zip(columns) {
        if ty == "double precision"
            && let Some(s) = v
        {
            *s = s.parse::<f64>().expect("float").to_string();
        }
    }
}

/// Every row of `table` of the SQLite file, its `columns` as text (blobs in hex), sorted.
fn sqlite_rows(db: &Path, table: &str, columns: &[(String, String)]) -> Vec<Vec<Option<String>>> {
    use rusqlite::types::ValueRef;
    let c = rusqlite::Connection::open(db).expect("open");
    let names: Vec<String> = columns.iter().map(|(c, _)| format!("\"{c}\"")).collect();
    let mut stmt = c
        .prepare(&format!("SELECT {} FROM \"{table}\"", names.join(", ")))
        .unwrap_or_else(|e| panic!("{table}: {e}"));
    let mut rows: Vec<Vec<Option<String>>> = stmt
        .query_map([], |r| {
            (0..columns.len())
                .map(|i| {
                    Ok(match r.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(f) => Some(f.to_string()),
                        ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => Some(b.iter().map(|x| format!("{x:02x}")).collect()),
                    })
                })
                .collect()
        })
        .expect("query")
        .collect::<rusqlite::Result<_>>()
        .expect("rows");
    for r in &mut rows {
        floats(r, columns);
    }
    rows.sort();
    rows
}

fn sqlite_count(db: &Path, table: &str) -> i64 {
    rusqlite::Connection::open(db)
        .expect("open")
        .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
            r.get(0)
        })
        .expect("count")
}

/// `unyo db copy --to URL` on `t`.
fn copy(t: &Tree, url: &str) -> std::process::Output {
    t.run(&["db", "copy", "--to", url])
}

/// Points the installation at the PostgreSQL database (without the password, as the copy
/// says to).
fn use_postgres(t: &Tree, url: &str) {
    t.file(
        "unyo.yaml",
        &format!("database: {url}\nreport:\n  date_style: western\n"),
    );
}

#[test]
fn a_copy_carries_every_row_with_its_id_and_checks_the_frozen_reports() {
    let t = installation();
    let db = t.path("var/unyo.db");
    let target = Target::new();
    let out = copy(&t, &with_password(&target.db.url));
    assert!(out.status.success(), "{}", both(&out));
    let said = both(&out);
    assert!(!said.contains(PASSWORD), "the password was printed: {said}");
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!("database: {}", target.db.url))
            && stdout.contains("PGPASSWORD")
            && stdout.contains("2 frozen reports hash to their recorded SHA-256"),
        "{said}"
    );

    // Every table of the schema, every row, every column: equal in both databases (the
    // audit trail has one more entry in PostgreSQL, the copy's own).
    let schema = target.schema();
    assert_eq!(schema.len(), 25, "{:?}", schema.keys());
    for (table, columns) in &schema {
        let in_sqlite = sqlite_rows(&db, table, columns);
        let mut in_pg = target.table(table, columns);
        if table == "audit" {
            let action = columns
                .iter()
                .position(|(c, _)| c == "action")
                .expect("action");
            let before = in_pg.len();
            in_pg.retain(|r| r[action].as_deref() != Some("db.copy"));
            assert_eq!(before, in_pg.len() + 1, "one entry records the copy");
        }
        assert!(!in_sqlite.is_empty(), "the installation has no {table}");
        assert_eq!(in_sqlite.len(), in_pg.len(), "{table}: rows");
        for (s, p) in in_sqlite.iter().zip(&in_pg) {
            assert_eq!(s, p, "{table}: a row differs");
        }
        // Counted in each database by itself too, as the copy's own check does.
        let extra = i64::from(table == "audit");
        assert_eq!(
            sqlite_count(&db, table) + extra,
            target.count(table),
            "{table}"
        );
    }
    // The self-references came across: a rerun's run, a rolled-back change's rollback, the
    // superseded report.
    for (sql, what) in [
        (
            "SELECT count(*)::text FROM runs WHERE rerun_of IS NOT NULL",
            "reruns",
        ),
        (
            "SELECT count(*)::text FROM param_changes WHERE rolled_back_by > id",
            "rollbacks",
        ),
        (
            "SELECT count(*)::text FROM frozen_reports WHERE supersedes IS NOT NULL",
            "superseding reports",
        ),
    ] {
        let n: i64 = target.rows(sql)[0][0]
            .as_deref()
            .expect("n")
            .parse()
            .expect("n");
        assert!(n > 0, "no {what} copied");
    }

    // The frozen bytes and their hashes, as handed to the client.
    let frozen =
        target.rows("SELECT id::text, sha256, encode(body, 'hex') FROM frozen_reports ORDER BY id");
    assert_eq!(frozen.len(), 2);
    for (row, file) in frozen.iter().zip(["old.md", "new.md"]) {
        let bytes = std::fs::read(t.path(file)).expect("report file");
        let hex: String = bytes.iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(row[2].as_deref(), Some(hex.as_str()), "{file}: bytes");
        let sha = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(row[1].as_deref(), Some(sha.as_str()), "{file}: sha256");
    }

    // The copy is on the new database's audit trail, after the copied entries.
    let last_copied = target.rows("SELECT max(id)::text FROM audit WHERE action <> 'db.copy'")[0]
        [0]
    .clone()
    .expect("id");
    let entry =
        target.rows("SELECT id::text, outcome, target, args FROM audit WHERE action = 'db.copy'");
    assert_eq!(entry.len(), 1);
    let copy_id: i64 = entry[0][0].as_deref().expect("id").parse().expect("id");
    assert_eq!(copy_id, last_copied.parse::<i64>().expect("id") + 1);
    assert_eq!(entry[0][1].as_deref(), Some("done"));
    for v in &entry[0] {
        assert!(!v.as_deref().unwrap_or("").contains(PASSWORD), "{entry:?}");
    }

    // The installation on PostgreSQL: a new run gets an id after the copied ones.
    let largest: i64 = target.rows("SELECT max(id)::text FROM runs")[0][0]
        .as_deref()
        .expect("max")
        .parse()
        .expect("max");
    assert_eq!(
        largest,
        rusqlite::Connection::open(&db)
            .expect("open")
            .query_row("SELECT max(id) FROM runs", [], |r| r.get::<_, i64>(0))
            .expect("max")
    );
    use_postgres(&t, &target.db.url);
    let out = t.run(&["run", "nightly", "--detach"]);
    assert!(out.status.success(), "{}", both(&out));
    let id: i64 = text(&out.stdout).trim().parse().expect("run id");
    assert_eq!(id, largest + 1);
    let audit = target.rows("SELECT max(id)::text FROM audit")[0][0]
        .as_deref()
        .expect("id")
        .parse::<i64>()
        .expect("id");
    assert_eq!(
        audit,
        copy_id + 1,
        "the run's audit entry follows the copy's"
    );
}

/// `unyo report verify` of the frozen files against the copied database: the superseded one
/// says so (exit 1), the current one stands (exit 0).
#[test]
fn report_verify_reads_the_copied_frozen_reports() {
    let t = installation();
    let target = Target::new();
    let out = copy(&t, &target.db.url);
    assert!(out.status.success(), "{}", both(&out));
    use_postgres(&t, &target.db.url);
    let old = t.path("old.md").display().to_string();
    let new = t.path("new.md").display().to_string();
    let out = t.run(&["report", "verify", &new]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("unaltered: frozen report 2")
            && text(&out.stdout).contains("current: it stands"),
        "{}",
        both(&out)
    );
    let out = t.run(&["report", "verify", &old]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("SUPERSEDED by report 2"),
        "{}",
        both(&out)
    );
}

#[test]
fn a_target_holding_rows_is_refused_and_left_as_it_was() {
    let t = installation();
    let target = Target::new();
    let out = copy(&t, &target.db.url);
    assert!(out.status.success(), "{}", both(&out));
    let before: Vec<(String, i64)> = target
        .schema()
        .keys()
        .map(|k| (k.clone(), target.count(k)))
        .collect();
    let max_audit = target.rows("SELECT max(id)::text FROM audit");

    let out = copy(&t, &with_password(&target.db.url));
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let err = text(&out.stderr);
    let runs = before.iter().find(|(t, _)| t == "runs").expect("runs").1;
    assert!(
        err.contains("the PostgreSQL database is not empty")
            && err.contains(&format!("runs ({runs} rows)"))
            && err.contains("changed nothing"),
        "{}",
        both(&out)
    );
    assert!(!both(&out).contains(PASSWORD), "{}", both(&out));
    let after: Vec<(String, i64)> = before
        .iter()
        .map(|(k, _)| (k.clone(), target.count(k)))
        .collect();
    assert_eq!(before, after);
    assert_eq!(max_audit, target.rows("SELECT max(id)::text FROM audit"));
}

/// A check that fails (a frozen report whose body no longer hashes to its SHA-256) rolls the
/// whole copy back: the target holds no row.
#[test]
fn a_copy_whose_check_fails_commits_nothing() {
    let t = installation();
    let db = t.path("var/unyo.db");
    let c = rusqlite::Connection::open(&db).expect("open");
    c.execute_batch(
        "DROP TRIGGER frozen_reports_no_update; \
         UPDATE frozen_reports SET body = CAST('altered' AS BLOB) WHERE id = 1;",
    )
    .expect("alter a frozen report");
    drop(c);
    let target = Target::new();
    let out = copy(&t, &target.db.url);
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("the copy was rolled back, nothing was committed")
            && text(&out.stderr).contains("frozen report 1 records sha256"),
        "{}",
        both(&out)
    );
    for table in target.schema().keys() {
        assert_eq!(target.count(table), 0, "{table}");
    }
}

#[test]
fn a_running_daemon_is_refused() {
    let t = Tree::new();
    t.job("nightly", "steps:\n  s:\n    run: echo nightly\n");
    let out = t.run(&["run", "nightly"]);
    assert!(out.status.success(), "{}", both(&out));
    let target = Target::new();
    let daemon = Daemon::start(&t);
    let out = copy(&t, &target.db.url);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("the unyo daemon is running on sqlite:")
            && text(&out.stderr).contains("stop it first"),
        "{}",
        both(&out)
    );
    drop(daemon);
    assert!(
        target.schema().is_empty(),
        "nothing was written, not even the schema"
    );
}

#[test]
fn what_is_not_a_sqlite_installation_or_a_postgres_url_is_refused() {
    let t = Tree::new();
    // No database yet: nothing to copy.
    let out = copy(&t, "postgres://postgres@127.0.0.1/none");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("nothing to copy"),
        "{}",
        both(&out)
    );
    // Not a PostgreSQL URL: said without the password.
    let out = copy(&t, &format!("mysql://root:{PASSWORD}@db/unyo"));
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("is not a PostgreSQL URL") && !both(&out).contains(PASSWORD),
        "{}",
        both(&out)
    );
    // An installation on PostgreSQL already.
    t.file("unyo.yaml", "database: postgres://unyo@db1/unyo\n");
    let out = copy(&t, "postgres://postgres@127.0.0.1/other");
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("is PostgreSQL already"),
        "{}",
        both(&out)
    );
}

/// A server that refuses the connection (no such database): the error names the database
/// without the password.
#[test]
fn a_failed_connection_never_prints_the_password() {
    let t = Tree::new();
    t.job("nightly", "steps:\n  s:\n    run: echo nightly\n");
    assert!(t.run(&["run", "nightly"]).status.success());
    let url = crate::helper::pg::with_database(
        &with_password(&crate::helper::pg::server_url()),
        "unyo_no_such_database",
    );
    let out = copy(&t, &format!("{url}?password={PASSWORD}"));
    assert_eq!(out.status.code(), Some(4), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("unyo_no_such_database") && !both(&out).contains(PASSWORD),
        "{}",
        both(&out)
    );
}
