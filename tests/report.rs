//! `unyo report monthly` over a small history written into a real unyo database: every
//! figure of the summary is checked against an independent query, the SLA evidence names
//! the runs that broke it, and the Markdown forms match their golden files.

use std::path::PathBuf;

use rusqlite::{Connection, params};

use crate::helper::{Tree, both, refused_definitions, text};

const BACKUP: &str = r#"title: 夜間バックアップ
description: Nightly backup
sla: { complete_by: "06:00", success_rate: 100, max_duration: 1h }
steps:
  copy:
    run: "true"
"#;

const EXTRACT: &str = r#"title: 職員向け抽出
description: Extract for staff
adhoc: true
params:
  department: { type: string }
  db_password: { type: string }
steps:
  extract:
    run: "true"
"#;

const PROBE: &str =
    "title: 稼働確認\ndescription: Is the service up?\nsteps:\n  check:\n    run: \"true\"\n";

const ROLLOVER: &str =
    "title: 年度切替\ndescription: An announced stop\nsteps:\n  roll:\n    run: \"true\"\n";

/// The service levels of the contract: the backup window is not service time.
const SETTINGS: &str = r#"service:
  hours: { except: [backup] }
  planned_stops: [rollover]
  availability: { target: 99.5, probe: probe }
  first_notice: 1h
  recovery: 24h
  backups: { jobs: [backup], target: 100 }
"#;

const SCHEDULES: &str = r#"calendars:
  city:
    weekends: [sat, sun]
    holidays: japan
    closed: ["12-29..01-03"]
windows:
  backup: { from: "00:00", to: "06:00" }
schedules:
  - job: backup
    cron: "30 0 * * *"
"#;

/// October 2026 in Tokyo is [2026-09-30T15:00Z, 2026-10-31T15:00Z).
const FROM: &str = "2026-09-30T15:00:00.000000Z";
const TO: &str = "2026-10-31T15:00:00.000000Z";

/// A UTC instant for a Tokyo local time in 2026.
fn jst(month: u32, day: u32, hh: u32, mm: u32) -> String {
    let local = chrono::NaiveDate::from_ymd_opt(2026, month, day)
        .and_then(|d| d.and_hms_opt(hh, mm, 0))
        .expect("date");
    let utc = local - chrono::Duration::hours(9);
    format!("{}Z", utc.format("%Y-%m-%dT%H:%M:%S%.6f"))
}

struct Run<'a> {
    job: &'a str,
    trigger: &'a str,
    status: &'a str,
    queued: String,
    ended: String,
    digest: &'a str,
    params: &'a str,
    by: &'a str,
    comment: Option<&'a str>,
}

fn insert_run(c: &Connection, r: &Run<'_>) -> i64 {
    c.execute(
        "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, queued_at, \
         started_at, ended_at, requested_by, host, job_digest, catalog_digest, comment) \
         VALUES (?1, ?2, ?3, ?4, substr(?5, 1, 10), 2026, ?5, ?5, ?6, ?7, 'ops1', ?8, 'c', ?9)",
        params![
            r.job, r.trigger, r.params, r.status, r.queued, r.ended, r.by, r.digest, r.comment
        ],
    )
    .expect("insert run");
    c.last_insert_rowid()
}

fn insert_attempt(c: &Connection, run: i64, attempt: i64, status: &str, exit: Option<i64>) {
    c.execute(
        "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, started_at, \
         ended_at, exit_code) SELECT id, 'copy', ?2, ?3, '[]', '-', queued_at, ended_at, ?4 \
         FROM runs WHERE id = ?1",
        params![run, attempt, status, exit],
    )
    .expect("insert attempt");
}

fn insert_slot(c: &Connection, due: &str, outcome: &str, reason: Option<&str>, run: Option<i64>) {
    c.execute(
        "INSERT INTO slots (schedule, job, fire_time, due_at, outcome, reason, run_id, decided_at) \
         VALUES ('s#1', 'backup', ?1, ?1, ?2, ?3, ?4, ?1)",
        params![due, outcome, reason, run],
    )
    .expect("insert slot");
}

fn backup(
    day: u32,
    status: &'static str,
    end: (u32, u32, u32),
    digest: &'static str,
) -> Run<'static> {
    Run {
        job: "backup",
        trigger: "schedule",
        status,
        queued: jst(10, day, 0, 30),
        ended: jst(10, end.0, end.1, end.2),
        digest,
        params: "{}",
        by: "unyo",
        comment: None,
    }
}

/// The history of October 2026 (and one run of September, for the trend).
fn history(t: &Tree) {
    let c = Connection::open(t.path("var/unyo.db")).expect("open db");
    // September: one 10-minute backup.
    let sep = Run {
        queued: jst(9, 30, 0, 30),
        ended: jst(9, 30, 0, 40),
        ..backup(1, "succeeded", (1, 0, 0), "d1")
    };
    insert_run(&c, &sep);
    let r1 = insert_run(&c, &backup(1, "succeeded", (1, 1, 0), "d1")); // 30 min, in time
    let r2 = insert_run(&c, &backup(2, "succeeded", (2, 6, 30), "d1")); // after 06:00
    let r3 = insert_run(&c, &backup(3, "failed", (3, 2, 0), "d1")); // failed
    let r4 = insert_run(&c, &backup(4, "succeeded", (4, 1, 10), "d2")); // new definition
    let r5 = insert_run(&c, &backup(5, "succeeded", (5, 1, 40), "d2")); // 70 min
    for r in [r1, r2, r4, r5] {
        insert_attempt(&c, r, 1, "succeeded", Some(0));
    }
    insert_attempt(&c, r3, 1, "failed", Some(1));
    insert_attempt(&c, r3, 2, "timed_out", None);
    for (day, run) in [(1, r1), (2, r2), (3, r3), (4, r4), (5, r5)] {
        insert_slot(&c, &jst(10, day, 0, 30), "started", None, Some(run));
    }
    insert_slot(
        &c,
        &jst(10, 6, 0, 30),
        "missed",
        Some("the daemon was down"),
        None,
    );
    insert_slot(
        &c,
        &jst(10, 7, 0, 30),
        "skipped_overlap",
        Some("run 5 still running"),
        None,
    );

    // What the monitoring found: run 2 still going at 06:00, run 5 far slower than usual.
    c.execute(
        "INSERT INTO findings (run_id, job, kind, at, business_date, deadline, observed, \
         detail) VALUES (?1, 'backup', 'end_delay', ?2, '2026-10-02', ?3, 1.0, 'late')",
        params![
            r2,
            jst(10, 2, 6, 0).replace(":00.000000Z", ":01.000000Z"),
            jst(10, 2, 6, 0)
        ],
    )
    .expect("insert finding");
    c.execute(
        "INSERT INTO findings (run_id, job, kind, at, business_date, observed, expected, spread, \
         samples, day_class, detail) VALUES (?1, 'backup', 'slow', ?2, '2026-10-05', 4200.0, \
         1800.0, 120.0, 20, 'ordinary', 'slow')",
        params![r5, jst(10, 5, 1, 40)],
    )
    .expect("insert finding");

    let x = insert_run(
        &c,
        &Run {
            job: "extract",
            trigger: "submit",
            status: "succeeded",
            queued: jst(10, 10, 22, 0),
            ended: jst(10, 10, 22, 5),
            digest: "e1",
            params: r#"{"db_password":"hunter2","department":"tax"}"#,
            by: "tanaka",
            comment: Some("依頼票 4711"),
        },
    );
    insert_attempt(&c, x, 1, "succeeded", Some(0));
    c.execute(
        "INSERT INTO extracts (at, run_id, job, db, sql_file, out_file, encoding, rows, sha256, \
         columns, params, user) VALUES (?1, ?2, 'extract', 'b.db', 'q.sql', 'o.csv', 'utf-8-bom', \
         42, 'ab', '[]', '{}', 'unyo')",
        params![jst(10, 10, 22, 5), x],
    )
    .expect("insert extract");

    // Service-desk requests (as `unyo desk` records them): one opened in September and still
    // open; in October a request answered in time whose run is the extract, a consultation
    // answered and closed, a fault answered late and needing the city's consultation, and an
    // inquiry of the 30th not yet due at the month's end.
    let request = |opened: &str,
                   requester: &str,
                   department: &str,
                   category: &str,
                   text: &str,
                   due: &str,
                   answered: Option<&str>,
                   consultation: Option<&str>,
                   closed: Option<&str>| {
        c.query_row(
            "INSERT INTO requests (opened_at, opened_by, requester, department, channel, \
             category, text, status, due_at, answered_at, consultation, closed_at, closed_by, \
             result) VALUES (?1, 'sato', ?2, ?3, 'phone', ?4, ?5, \
             CASE WHEN ?9 IS NOT NULL THEN 'closed' WHEN ?7 IS NULL THEN 'open' ELSE 'triaged' END, ?6, ?7, ?8, ?9, \
             CASE WHEN ?9 IS NULL THEN NULL ELSE 'sato' END, \
             CASE WHEN ?9 IS NULL THEN NULL ELSE '対応済み' END) RETURNING id",
            params![
                opened,
                requester,
                department,
                category,
                text,
                due,
                answered,
                consultation,
                closed
            ],
            |r| r.get::<_, i64>(0),
        )
        .expect("insert request")
    };
    request(
        &jst(9, 29, 10, 0),
        "鈴木",
        "税務課",
        "request",
        "端末の増設",
        &jst(10, 2, 10, 0),
        Some(&jst(9, 29, 11, 0)),
        None,
        None,
    );
    let b = request(
        &jst(10, 10, 9, 0),
        "山田",
        "税務課",
        "request",
        "課税データの抽出",
        &jst(10, 15, 9, 0),
        Some(&jst(10, 10, 9, 30)),
        None,
        Some(&jst(10, 10, 22, 30)),
    );
    c.execute(
        "INSERT INTO request_events (request_id, at, actor, kind, text, run_id) \
         VALUES (?1, ?2, 'tanaka', 'linked', 'run', ?3)",
        params![b, jst(10, 10, 22, 0), x],
    )
    .expect("link the extract");
    request(
        &jst(10, 5, 10, 0),
        "高橋",
        "企画課",
        "consultation",
        "帳票の様式変更",
        &jst(10, 13, 10, 0),
        Some(&jst(10, 6, 9, 0)),
        None,
        Some(&jst(10, 6, 17, 0)),
    );
    request(
        &jst(10, 20, 10, 0),
        "佐藤",
        "市民課",
        "fault",
        "証明書が印刷できない",
        &jst(10, 20, 11, 0),
        Some(&jst(10, 20, 12, 0)),
        Some("cost 300000 yen over 100000 yen"),
        None,
    );
    request(
        &jst(10, 30, 16, 0),
        "伊藤",
        "市民課",
        "inquiry",
        "窓口の受付件数",
        &jst(11, 2, 16, 0),
        None,
        None,
        None,
    );

    // Incidents: one handled in time, one still open past its deadline.
    c.execute(
        "INSERT INTO incidents (opened_at, severity, job, run_id, failure_class, summary, status, \
         last_seen_at, acknowledged_by, acknowledged_at, resolved_by, resolved_at, cause, \
         countermeasure, report_deadline) VALUES (?1, 'high', 'backup', ?2, 'exit 1', \
         'backup failed | disk', 'resolved', ?1, 'sato', ?3, 'sato', ?4, '容量不足', \
         '古いバックアップを削除', ?5)",
        params![
            jst(10, 3, 2, 0),
            r3,
            jst(10, 3, 2, 20),
            jst(10, 3, 4, 0),
            jst(10, 3, 12, 0)
        ],
    )
    .expect("insert incident");
    c.execute(
        "INSERT INTO incidents (opened_at, severity, job, failure_class, summary, status, \
         last_seen_at, report_deadline) VALUES (?1, 'medium', 'backup', 'timeout', \
         'backup slow', 'open', ?1, ?2)",
        params![jst(10, 20, 3, 0), jst(10, 21, 17, 0)],
    )
    .expect("insert incident");
    c.execute(
        "INSERT INTO param_changes (at, file, key, before, after, reason, user) \
         VALUES (?1, 'params.yaml', 'tax_rate_percent', '10', '8', '条例第12号', 'suzuki')",
        params![jst(10, 15, 9, 0)],
    )
    .expect("insert change");

    // The probe: up at 22:00 on the 3rd, down at 23:00, up again at 01:00 on the 4th (the
    // hour after midnight is the backup window); down at 10:30 on the 12th during the
    // announced stop (10:00-11:00), up at 11:30; down at 23:30 on the 31st, up again only
    // at 07:00 on 1 November.
    for (month, day, hh, mm, status) in [
        (10, 3, 22, 0, "succeeded"),
        (10, 3, 23, 0, "failed"),
        (10, 4, 1, 0, "succeeded"),
        (10, 12, 10, 30, "failed"),
        (10, 12, 11, 30, "succeeded"),
        (10, 31, 23, 30, "failed"),
        (11, 1, 7, 0, "succeeded"),
    ] {
        let at = jst(month, day, hh, mm);
        insert_run(
            &c,
            &Run {
                job: "probe",
                trigger: "schedule",
                status,
                queued: at.clone(),
                ended: at,
                digest: "p1",
                params: "{}",
                by: "unyo",
                comment: None,
            },
        );
    }
    insert_run(
        &c,
        &Run {
            job: "rollover",
            trigger: "manual",
            status: "succeeded",
            queued: jst(10, 12, 10, 0),
            ended: jst(10, 12, 11, 0),
            digest: "f1",
            params: "{}",
            by: "sato",
            comment: None,
        },
    );
    // The outbox: incident 1 first told at 02:05 (5 min, in time), again at 02:35; for
    // incident 2 the first try failed and the first delivery came at 05:00 (2 h: late).
    for (incident, created, status, sent) in [
        (1, jst(10, 3, 2, 0), "sent", Some(jst(10, 3, 2, 5))),
        (1, jst(10, 3, 2, 30), "sent", Some(jst(10, 3, 2, 35))),
        (2, jst(10, 20, 3, 0), "failed", None),
        (2, jst(10, 20, 4, 50), "sent", Some(jst(10, 20, 5, 0))),
    ] {
        c.execute(
            "INSERT INTO notifications (incident_id, event, route, level, channel, created_at, \
             status, attempts, next_attempt_at, sent_at) \
             VALUES (?1, 'opened', 'desk', 1, 'mail', ?2, ?3, 1, ?2, ?4)",
            params![incident, created, status, sent],
        )
        .expect("insert notification");
    }
}

fn tree() -> Tree {
    let t = Tree::new();
    t.job("backup", BACKUP)
        .job("extract", EXTRACT)
        .job("probe", PROBE)
        .job("rollover", ROLLOVER)
        .file("unyo.yaml", SETTINGS)
        .file("schedules/city.yaml", SCHEDULES);
    // Any command that opens the store creates the database with every migration.
    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    history(&t);
    t
}

fn count(t: &Tree, sql: &str) -> i64 {
    Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .query_row(sql, params![FROM, TO], |r| r.get(0))
        .expect(sql)
}

fn report(t: &Tree, args: &[&str]) -> String {
    let mut all = vec!["report", "monthly", "--month", "2026-10"];
    all.extend_from_slice(args);
    let out = t.run(&all);
    assert!(out.status.success(), "{}", both(&out));
    text(&out.stdout)
}

#[test]
fn every_summary_figure_matches_an_independent_query() {
    let t = tree();
    let r: serde_json::Value =
        serde_json::from_str(&report(&t, &["--format", "json"])).expect("json");
    let s = &r["summary"];
    let runs = "FROM runs WHERE queued_at >= ?1 AND queued_at < ?2";
    assert_eq!(s["runs"], count(&t, &format!("SELECT count(*) {runs}")));
    // The backups, the extract, seven probe runs (one in November) and the rollover.
    assert_eq!(s["runs"], 13);
    assert_eq!(
        s["succeeded"],
        count(
            &t,
            &format!("SELECT count(*) {runs} AND status = 'succeeded'")
        )
    );
    assert_eq!(
        s["failed"],
        count(&t, &format!("SELECT count(*) {runs} AND status = 'failed'"))
    );
    assert_eq!(s["success_rate"], 69.23, "9 of 13");
    assert_eq!(
        s["retries"],
        count(
            &t,
            "SELECT count(*) FROM attempts a JOIN runs r ON r.id = a.run_id \
             WHERE r.queued_at >= ?1 AND r.queued_at < ?2 AND a.attempt > 1"
        )
    );
    assert_eq!(
        s["by_trigger"],
        serde_json::json!([
            {"name": "manual", "count": 1},
            {"name": "schedule", "count": 11},
            {"name": "submit", "count": 1}
        ])
    );
    assert_eq!(
        s["abnormal_ends"],
        serde_json::json!([{"name": "abnormal_exit", "count": 1}, {"name": "timed_out", "count": 1}])
    );
    assert_eq!(
        s["incidents_opened"],
        count(
            &t,
            "SELECT count(*) FROM incidents WHERE opened_at >= ?1 AND opened_at < ?2"
        )
    );
    assert_eq!(
        s["incidents_resolved"],
        count(
            &t,
            "SELECT count(*) FROM incidents WHERE resolved_at >= ?1 AND resolved_at < ?2"
        )
    );
    assert_eq!(s["mtta_minutes"], 20.0);
    assert_eq!(s["mttr_minutes"], 120.0);
    // Three items of the backup job and five of the service; only availability is met.
    assert_eq!(s["sla_items"], 8);
    assert_eq!(s["sla_met"], 1);

    let backup = &r["jobs"][0];
    assert_eq!(backup["job"], "backup");
    assert_eq!(backup["slots"], 7);
    assert_eq!(backup["runs"], 5);
    assert_eq!(backup["missed"], 1);
    assert_eq!(backup["late"], 2, "one succeeded after 06:00, one failed");
    assert_eq!(
        backup["skipped"],
        serde_json::json!([{"outcome": "skipped_overlap", "reason": null, "reason_ja": null, "count": 1}])
    );
    // Durations 30, 360, 90, 40, 70 minutes: mean 118 min, p95 (nearest rank) 360 min.
    assert_eq!(backup["mean_seconds"], 7080.0);
    assert_eq!(backup["p95_seconds"], 21600.0);
    assert_eq!(backup["previous_mean_seconds"], 600.0);
    assert_eq!(backup["mean_change_percent"], 1080.0);

    let sla = r["sla"].as_array().expect("sla");
    let item = |name: &str| {
        sla.iter()
            .find(|i| i["item"] == name)
            .unwrap_or_else(|| panic!("no {name} in {sla:?}"))
    };
    // Due: the scheduled runs and the slots missed without a run (the 6th); in time: 3.
    let complete_by = item("complete_by");
    let due = count(
        &t,
        "SELECT (SELECT count(*) FROM runs WHERE job = 'backup' AND trigger IN ('schedule', \
         'catch_up') AND queued_at >= ?1 AND queued_at < ?2) + (SELECT count(*) FROM slots \
         WHERE job = 'backup' AND outcome = 'missed' AND due_at >= ?1 AND due_at < ?2)",
    );
    assert_eq!(due, 6);
    assert_eq!(
        (&complete_by["ok"], &complete_by["total"]),
        (&3.into(), &due.into())
    );
    assert_eq!(complete_by["met"], false);
    assert_eq!(
        complete_by["breaches"],
        serde_json::json!([
            {"date": "2026-10-02", "run": 3, "status": "succeeded", "ended": "06:30", "took": null},
            {"date": "2026-10-03", "run": 4, "status": "failed", "ended": null, "took": null},
            {"date": "2026-10-06", "run": null, "status": "missed", "ended": null, "took": null}
        ])
    );
    let rate = item("success_rate");
    assert_eq!(rate["rate"], 80.0);
    assert_eq!((&rate["ok"], &rate["total"]), (&4.into(), &5.into()));
    assert_eq!(rate["met"], false);
    let took: Vec<_> = item("max_duration")["breaches"]
        .as_array()
        .expect("breaches")
        .iter()
        .map(|b| (b["run"].clone(), b["took"].clone()))
        .collect();
    assert_eq!(
        took,
        [(3, "6h00m"), (4, "1h30m"), (6, "1h10m")].map(|(r, d)| (r.into(), d.into()))
    );

    let incidents = r["incidents"].as_array().expect("incidents");
    assert_eq!(incidents.len(), 2);
    assert_eq!(incidents[0]["deadline_met"], true);
    assert_eq!(
        incidents[1]["deadline_met"], false,
        "open past its deadline"
    );

    let adhoc = &r["adhoc"][0];
    assert_eq!(adhoc["requester"], "tanaka");
    assert_eq!(adhoc["params"], "db_password=***, department=tax");
    assert_eq!(adhoc["rows"], 42);
    assert_eq!(adhoc["reason"], "依頼票 4711");

    assert_eq!(r["changes"]["parameters"][0]["after"], "8");
    let defs = r["changes"]["definitions"].as_array().expect("definitions");
    assert_eq!(defs.len(), 1);
    assert_eq!(defs[0]["job"], "backup");
    assert_eq!(defs[0]["first_run"], 5);

    assert_eq!(r["plan"]["period"], "2026-11");
    assert_eq!(
        r["plan"]["jobs"],
        serde_json::json!([{"name": "backup", "count": 30}])
    );
    let closed = r["plan"]["closed_days"].as_array().expect("closed days");
    assert!(
        closed.iter().any(|d| d["date"] == "2026-11-03"),
        "Culture Day: {closed:?}"
    );
}

/// Every service item against hand arithmetic or a query of its own: availability over the
/// planned service time (the backup window and the announced stop out), first notice from
/// the outbox, recovery, backups per slot, incident reports in time.
#[test]
fn service_items_match_hand_arithmetic_and_the_outbox() {
    let t = tree();
    let r: serde_json::Value = serde_json::from_slice(
        &t.run(&[
            "report", "monthly", "--month", "2026-10", "--format", "json",
        ])
        .stdout,
    )
    .expect("json");
    let service = r["service"].as_array().expect("service");
    let item = |name: &str| {
        service
            .iter()
            .find(|i| i["item"] == name)
            .unwrap_or_else(|| panic!("no {name} in {service:?}"))
    };
    let names: Vec<_> = service.iter().map(|i| i["item"].clone()).collect();
    assert_eq!(
        names,
        [
            "availability",
            "first_notice",
            "recovery_time",
            "backups",
            "reports_in_time"
        ]
    );

    // October: 31 days of 24 h = 44,640 min; the backup window (00:00-06:00) takes 6 h a
    // day, 11,160 min, leaving 33,480 min of service hours; the rollover (10:00-11:00 on
    // the 12th) takes 60 of them: 33,420 min planned.
    let a = &r["availability"];
    assert_eq!(a["period_minutes"], 44640.0);
    assert_eq!(a["stop_minutes"], 60.0);
    assert_eq!(a["service_minutes"], 33420.0);
    assert_eq!(a["service_seconds"], 33420 * 60);
    // Outages: 23:00 on the 3rd to 01:00 on the 4th (120 min, of which 00:00-01:00 is the
    // backup window: 60 counted); 10:30-11:30 on the 12th (60 min, 10:30-11:00 inside the
    // stop: 30 counted); 23:30 on the 31st to the month's end (30 min, all counted).
    let outages: Vec<_> = a["outages"]
        .as_array()
        .expect("outages")
        .iter()
        .map(|o| {
            (
                o["from"].as_str().unwrap_or_default().to_owned(),
                o["to"].clone(),
                o["minutes"].as_f64().unwrap_or_default(),
                o["counted_minutes"].as_f64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        outages,
        [
            (
                "2026-10-03 23:00".to_owned(),
                serde_json::json!("2026-10-04 01:00"),
                120.0,
                60.0
            ),
            (
                "2026-10-12 10:30".to_owned(),
                serde_json::json!("2026-10-12 11:30"),
                60.0,
                30.0
            ),
            (
                "2026-10-31 23:30".to_owned(),
                serde_json::Value::Null,
                30.0,
                30.0
            ),
        ]
    );
    // The runs that opened and closed each, by a query of their own.
    let probe_ids: Vec<i64> = {
        let c = Connection::open(t.path("var/unyo.db")).expect("open");
        let mut st = c
            .prepare("SELECT id FROM runs WHERE job = 'probe' ORDER BY queued_at")
            .expect("prepare");
        st.query_map([], |r| r.get(0))
            .expect("query")
            .map(|x| x.expect("id"))
            .collect()
    };
    let ends: Vec<_> = a["outages"]
        .as_array()
        .expect("outages")
        .iter()
        .map(|o| (o["opened_by"].clone(), o["closed_by"].clone()))
        .collect();
    let id = |i: usize| serde_json::json!(probe_ids[i]);
    assert_eq!(
        ends,
        [
            (id(1), id(2)),
            (id(3), id(4)),
            (id(5), serde_json::Value::Null)
        ]
    );
    assert_eq!(a["outage_minutes"], 120.0);
    let stops = a["stops"].as_array().expect("stops");
    assert_eq!(stops.len(), 1);
    assert_eq!(
        (
            &stops[0]["job"],
            &stops[0]["from"],
            &stops[0]["to"],
            &stops[0]["minutes"]
        ),
        (
            &"rollover".into(),
            &"2026-10-12 10:00".into(),
            &"2026-10-12 11:00".into(),
            &60.0.into()
        )
    );
    // (33,420 − 120) / 33,420 = 99.6409...%: 99.64, at least 99.5.
    let av = item("availability");
    assert_eq!(
        (&av["ok"], &av["total"]),
        (&(33300 * 60).into(), &(33420 * 60).into())
    );
    assert_eq!(av["rate"], 99.64);
    assert_eq!(av["met"], true);

    // First notice within 1 h: the outbox's first delivery per incident, by a query.
    let first: Vec<(i64, String)> = {
        let c = Connection::open(t.path("var/unyo.db")).expect("open");
        let mut st = c
            .prepare(
                "SELECT i.id, min(n.sent_at) FROM incidents i JOIN notifications n \
                 ON n.incident_id = i.id AND n.status = 'sent' GROUP BY i.id ORDER BY i.id",
            )
            .expect("prepare");
        st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("query")
            .map(|x| x.expect("row"))
            .collect()
    };
    assert_eq!(first, [(1, jst(10, 3, 2, 5)), (2, jst(10, 20, 5, 0))]);
    let notice = item("first_notice");
    assert_eq!(
        (&notice["ok"], &notice["total"], &notice["met"]),
        (&1.into(), &2.into(), &false.into())
    );
    assert_eq!(notice["agreed"], "1h00m");
    // Incident 2: opened 03:00, first delivered 05:00 (the failed try does not count).
    assert_eq!(
        notice["breaches"],
        serde_json::json!([{"at": "2026-10-20 03:00", "incident": 2, "run": null,
            "status": null, "due": null, "done_at": "2026-10-20 05:00", "minutes": 120.0}])
    );

    // Recovery within 24 h: incident 1 resolved after 2 h; incident 2 still open when its
    // 24 h ran out (03:00 on the 21st, before the month's end).
    let recovery = item("recovery_time");
    assert_eq!(
        (&recovery["ok"], &recovery["total"], &recovery["met"]),
        (&1.into(), &2.into(), &false.into())
    );
    let broke: Vec<_> = recovery["breaches"]
        .as_array()
        .expect("breaches")
        .iter()
        .map(|b| (b["incident"].clone(), b["done_at"].clone()))
        .collect();
    assert_eq!(broke, [(2.into(), serde_json::Value::Null)]);

    // Backups: every slot of the job due in October (none on a closed day) whose run
    // succeeded, by a query of its own.
    let (ok, due) = {
        let c = Connection::open(t.path("var/unyo.db")).expect("open");
        c.query_row(
            "SELECT sum(r.status = 'succeeded'), count(*) FROM slots s \
             LEFT JOIN runs r ON r.id = s.run_id WHERE s.job = 'backup' \
             AND s.due_at >= ?1 AND s.due_at < ?2 AND s.outcome <> 'skipped_closed_day'",
            params![FROM, TO],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)),
        )
        .expect("slots")
    };
    assert_eq!((ok, due), (4, 7));
    let backups = item("backups");
    assert_eq!(
        (&backups["ok"], &backups["total"]),
        (&ok.into(), &due.into())
    );
    assert_eq!(backups["rate"], 57.14, "4 / 7 = 57.142...%, rounded down");
    assert_eq!(backups["met"], false);
    let slots: Vec<_> = backups["breaches"]
        .as_array()
        .expect("breaches")
        .iter()
        .map(|b| (b["at"].clone(), b["run"].clone(), b["status"].clone()))
        .collect();
    assert_eq!(
        slots,
        [
            ("2026-10-03 00:30".into(), 4.into(), "failed".into()),
            (
                "2026-10-06 00:30".into(),
                serde_json::Value::Null,
                "missed".into()
            ),
            (
                "2026-10-07 00:30".into(),
                serde_json::Value::Null,
                "skipped_overlap".into()
            ),
        ]
    );

    // Incident reports in time: the incidents' own `deadline_met`.
    let reports = item("reports_in_time");
    let met = r["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter(|i| i["deadline_met"] == true)
        .count();
    assert_eq!(
        (&reports["ok"], &reports["total"]),
        (&met.into(), &2.into())
    );
    assert_eq!(reports["breaches"][0]["due"], "2026-10-21 17:00");

    // November: the probe was still down when the month began (its last October run
    // failed), until 07:00; 00:00-06:00 is the backup window, so 60 min count.
    let nov: serde_json::Value = serde_json::from_slice(
        &t.run(&[
            "report", "monthly", "--month", "2026-11", "--format", "json",
        ])
        .stdout,
    )
    .expect("json");
    let o = &nov["availability"]["outages"][0];
    assert_eq!(
        (&o["from"], &o["to"]),
        (&"2026-11-01 00:00".into(), &"2026-11-01 07:00".into())
    );
    assert_eq!(
        (&o["minutes"], &o["counted_minutes"]),
        (&420.0.into(), &60.0.into())
    );
    assert_eq!(o["opened_by"], probe_ids[5]);
    // 30 days of 18 h = 32,400 min; (32,400 − 60) / 32,400 = 99.8148...%.
    assert_eq!(nov["availability"]["service_minutes"], 32400.0);
    assert_eq!(nov["service"][0]["rate"], 99.81);

    // The CSV form carries the service table and the outages.
    let csv = report(&t, &["--format", "csv", "--lang", "en"]);
    assert!(csv.contains("\r\nservice as a whole\r\nitem,agreed,unit,ok,total,rate,met\r\navailability,99.5%,seconds,1998000,2005200,99.64,met\r\n"), "{csv}");
    assert!(
        csv.contains("\r\noutages\r\nfrom,to,minutes,counted minutes,"),
        "{csv}"
    );
    let ja = report(&t, &["--format", "csv"]);
    assert!(ja.contains("\r\n稼働率,99.5%,秒,"), "{ja}");
    let html = report(&t, &["--format", "html"]);
    assert!(html.contains("<h3>稼働状況・計画停止</h3>") && html.contains("定時バックアップ率"));
}

/// The service-desk section counts the month's requests as they stood at its end: by
/// category (all four, in the city's order) and department, answered within their deadline,
/// open at the end (the one of September too), consultations; the extract's run shows its
/// request. The figures are those of the requests `history` records.
#[test]
fn the_desk_section_counts_the_months_requests() {
    let t = tree();
    let r: serde_json::Value =
        serde_json::from_str(&report(&t, &["--format", "json"])).expect("json");
    let line = |l: &serde_json::Value| {
        (
            l["name"].as_str().unwrap_or_default().to_owned(),
            [
                &l["received"],
                &l["answered_in_time"],
                &l["late"],
                &l["open_at_end"],
                &l["consultations"],
            ]
            .map(|v| v.as_u64().unwrap_or(99)),
        )
    };
    let lines = |key: &str| -> Vec<(String, [u64; 5])> {
        r["desk"][key]
            .as_array()
            .expect("lines")
            .iter()
            .map(line)
            .collect()
    };
    let own = |n: &str, v: [u64; 5]| (n.to_owned(), v);
    assert_eq!(
        lines("by_category"),
        vec![
            own("request", [1, 1, 0, 1, 0]),
            own("consultation", [1, 1, 0, 0, 0]),
            own("inquiry", [1, 0, 0, 1, 0]),
            own("fault", [1, 0, 1, 1, 1]),
        ]
    );
    assert_eq!(
        lines("by_department"),
        vec![
            own("企画課", [1, 1, 0, 0, 0]),
            own("市民課", [2, 0, 1, 2, 1]),
            own("税務課", [1, 1, 0, 1, 0]),
        ]
    );
    assert_eq!(line(&r["desk"]["total"]).1, [4, 2, 1, 3, 1]);
    let consultations = r["desk"]["consultations"].as_array().expect("list");
    assert_eq!(consultations.len(), 1);
    assert_eq!(consultations[0]["text"], "証明書が印刷できない");
    let extract = &r["adhoc"][0];
    assert_eq!(
        (
            &extract["request_requester"],
            &extract["department"],
            extract["request"].is_i64()
        ),
        (
            &serde_json::json!("山田"),
            &serde_json::json!("税務課"),
            true
        )
    );
    // The Japanese forms name the categories in Japanese and no table of the section is empty.
    let ja = report(&t, &[]);
    assert!(
        ja.contains("| 障害連絡 | 1 | 0 | 1 | 1 | 1 |")
            && ja.contains("| 合計 | 4 | 2 | 1 | 3 | 1 |"),
        "{ja}"
    );
    let html = report(&t, &["--format", "html"]);
    assert!(
        html.contains("<td>相談</td>") && html.contains("<caption>部署別</caption>"),
        "{html}"
    );
    let csv = report(&t, &["--format", "csv", "--lang", "en"]);
    assert!(
        csv.contains("\r\nservice desk by category\r\ncategory,received,answered in time,past the deadline,open at the end,consultation needed\r\nrequest,1,1,0,1,0\r\n"),
        "{csv}"
    );
}

fn golden(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name)
}

/// The tree of the golden reports: the history of [`tree`] with everything a report the city
/// signs carries: a cover with the contract and who signs, the departments by code with
/// their titles, and schedules whose coming fiscal year has a rollover, HR transfers and a
/// month-end close moved off closed days (the yearly report's draft plan).
fn golden_tree() -> Tree {
    let t = tree();
    t.job(
        "close",
        "title: 月末締め\ndescription: Month-end close\nsteps:\n  a:\n    run: \"true\"\n",
    )
    .job(
        "transfer",
        "title: 人事異動の反映\ndescription: HR transfers\nsteps:\n  a:\n    run: \"true\"\n",
    )
    .file(
        "schedules/plan.yaml",
        "schedules:\n  - job: rollover\n    cron: \"0 6 1 4 *\"\n    calendar: city\n    closed_day: run\n  \
         - job: transfer\n    cron: \"0 7 1 4,10 *\"\n    calendar: city\n    closed_day: next_business_day\n  \
         - job: close\n    cron: \"0 20 L * *\"\n    calendar: city\n    closed_day: previous_business_day\n",
    )
    .file(
        "unyo.yaml",
        &format!(
            "{SETTINGS}report:\n  contract: 基幹系システム運用保守業務委託(契約番号 R8-0123)\n  \
             author: 運用太郎\n  approver: 政策企画課長\n\
             departments:\n  tax: {{ title: 税務課 }}\n  planning: {{ title: 企画課 }}\n  \
             citizens: {{ title: 市民課 }}\n"
        ),
    );
    // The requests name their departments by code, as `unyo desk open` records them; one
    // more, answered and closed in March 2026, is fiscal 2025's (the yearly golden's year,
    // which has ended, so its report is final and reads the same on any day).
    Connection::open(t.path("var/unyo.db"))
        .expect("open db")
        .execute_batch(
            "UPDATE requests SET department = CASE department WHEN '税務課' THEN 'tax' \
             WHEN '企画課' THEN 'planning' WHEN '市民課' THEN 'citizens' END; \
             INSERT INTO requests (opened_at, opened_by, requester, department, channel, \
             category, text, status, due_at, answered_at, consultation, closed_at, closed_by, \
             result) VALUES ('2026-03-09T01:00:00.000000Z', 'sato', '高橋', 'citizens', \
             'counter', 'inquiry', '住民票の写しの交付件数', 'closed', \
             '2026-03-10T01:00:00.000000Z', '2026-03-09T02:00:00.000000Z', NULL, \
             '2026-03-09T03:00:00.000000Z', 'sato', '回答済み');",
        )
        .expect("departments by code");
    t
}

fn yearly(t: &Tree, args: &[&str]) -> String {
    let mut all = vec!["report", "yearly", "--fiscal-year", "2025"];
    all.extend_from_slice(args);
    let out = t.run(&all);
    assert!(out.status.success(), "{}", both(&out));
    text(&out.stdout)
}

/// The Markdown forms of a month and of its fiscal year, in both languages, are the golden
/// files, byte for byte, and rendering twice gives the same bytes: the cover, every section
/// with the service desk, and the next month's plan or the next year's draft work plan.
/// `UNYO_UPDATE_GOLDEN=1` writes the files anew (then read the diff).
#[test]
fn markdown_reports_match_their_golden_files() {
    let t = golden_tree();
    for (lang, file, yearly_report) in [
        ("ja", "report-2026-10.ja.md", false),
        ("en", "report-2026-10.en.md", false),
        ("ja", "report-FY2025.ja.md", true),
        ("en", "report-FY2025.en.md", true),
    ] {
        let render = || {
            if yearly_report {
                yearly(&t, &["--lang", lang])
            } else {
                report(&t, &["--lang", lang])
            }
        };
        let text = render();
        assert_eq!(text, render(), "rendered twice");
        let path = golden(file);
        if std::env::var_os("UNYO_UPDATE_GOLDEN").is_some() {
            std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
            std::fs::write(&path, &text).expect("write golden");
        }
        let want = std::fs::read_to_string(&path).expect("golden file");
        assert_eq!(text, want, "{file}");
    }
    // The secret never reaches the report.
    assert!(!report(&t, &["--lang", "en"]).contains("hunter2"));
}

#[test]
fn bad_months_are_refused() {
    let t = tree();
    for bad in ["2026-13", "2026", "october"] {
        let out = t.run(&["report", "monthly", "--month", bad]);
        assert_eq!(out.status.code(), Some(3), "{}", both(&out));
        assert!(
            text(&out.stderr).contains("--month: bad month"),
            "{}",
            both(&out)
        );
    }
}

/// A frozen report verifies byte for byte; re-rendering the month gives the same bytes; one
/// changed byte, or a report of data changed since, does not verify; freezing again with
/// other bytes is refused and audited, and the frozen rows cannot be changed.
#[test]
fn a_frozen_report_verifies_and_an_altered_one_does_not() {
    let t = tree();
    let file = t.path("report-2026-10.md");
    let file_s = file.display().to_string();
    let out = t.run(&[
        "report", "monthly", "--month", "2026-10", "--freeze", "--out", &file_s,
    ]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("frozen as report 1, sha256 "),
        "{}",
        both(&out)
    );

    let out = t.run(&["report", "verify", &file_s]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("unaltered: frozen report 1 (monthly 2026-10, ja, md)"),
        "{}",
        both(&out)
    );
    // Rendered again from the same data: the same bytes, and freezing again changes nothing.
    let again = t.path("again.md");
    let again_s = again.display().to_string();
    let out = t.run(&[
        "report", "monthly", "--month", "2026-10", "--freeze", "--out", &again_s,
    ]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("the same bytes"),
        "{}",
        both(&out)
    );
    assert_eq!(
        std::fs::read(&file).expect("frozen"),
        std::fs::read(&again).expect("again")
    );

    // One byte changed: not verified.
    let mut bytes = std::fs::read(&file).expect("read");
    let at = bytes.iter().position(|&b| b == b'6').expect("a digit");
    bytes[at] = b'7';
    std::fs::write(&again, &bytes).expect("write");
    let out = t.run(&["report", "verify", &again_s]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("not a frozen report, or altered"),
        "{}",
        both(&out)
    );

    // The data changes (a late resolution is recorded): the month renders differently, and
    // freezing it again is refused; the frozen report still verifies.
    Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .execute(
            "UPDATE incidents SET status = 'resolved', resolved_at = ?1, cause = 'x', \
             countermeasure = 'y' WHERE id = 2",
            [jst(10, 25, 9, 0)],
        )
        .expect("update");
    let out = t.run(&["report", "monthly", "--month", "2026-10", "--freeze"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("with other bytes"),
        "{}",
        both(&out)
    );
    assert!(t.run(&["report", "verify", &file_s]).status.success());
    let audit = t.run(&["audit", "--json"]);
    let entries: serde_json::Value = serde_json::from_slice(&audit.stdout).expect("audit json");
    let freezes: Vec<_> = entries
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["action"] == "report.freeze")
        .map(|e| e["outcome"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(freezes.len(), 2, "{entries}");
    assert!(freezes.contains(&"done".to_owned()) && freezes.contains(&"refused".to_owned()));

    // The database refuses to change a frozen report.
    let err = Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .execute("UPDATE frozen_reports SET body = 'x'", [])
        .expect_err("frozen");
    assert!(
        err.to_string().contains("frozen reports never change"),
        "{err}"
    );
}

/// The yearly report of a fiscal year is the sum of its twelve monthly reports.
#[test]
fn the_yearly_report_is_the_sum_of_its_months() {
    let t = tree();
    let json = |args: &[&str]| -> serde_json::Value {
        let mut all = vec!["report"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--format", "json"]);
        let out = t.run(&all);
        assert!(out.status.success(), "{}", both(&out));
        serde_json::from_slice(&out.stdout).expect("json")
    };
    let year = json(&["yearly", "--fiscal-year", "2026"]);
    assert_eq!(year["period"]["label"], "FY2026");
    assert_eq!(year["period"]["kind"], "yearly");
    assert_eq!(year["period"]["label_ja"], "令和8年度(2026年度)");
    assert_eq!(year["period"]["from"], "2026-04-01T00:00:00+09:00");
    assert_eq!(year["period"]["to"], "2027-04-01T00:00:00+09:00");
    assert_eq!(year["plan"]["period"], "FY2027");
    let months: Vec<serde_json::Value> = (0..12)
        .map(|i| {
            let (y, m) = if i < 9 { (2026, 4 + i) } else { (2027, i - 8) };
            json(&["monthly", "--month", &format!("{y}-{m:02}")])
        })
        .collect();
    for field in [
        "runs",
        "succeeded",
        "failed",
        "cancelled",
        "interrupted",
        "retries",
        "incidents_opened",
        "incidents_resolved",
    ] {
        let sum: u64 = months
            .iter()
            .map(|m| m["summary"][field].as_u64().expect(field))
            .sum();
        assert_eq!(year["summary"][field], sum, "{field}");
    }
    assert_eq!(
        year["summary"]["runs"], 15,
        "September's run, October's thirteen, November's probe"
    );
    // Availability sums by time: the planned service time and the outage time of the year
    // are the sums of its months' (in whole seconds), and the rate is computed from them,
    // not averaged. The outage from 23:30 on 31 October to 07:00 on 1 November is one
    // outage in the year, split at the month's end in the months: 30 min in October, and
    // 06:00-07:00 (after the backup window) in November.
    let availability = |r: &serde_json::Value, field: &str| -> i64 {
        r["availability"][field].as_i64().expect(field)
    };
    for field in ["service_seconds", "stop_seconds", "outage_seconds"] {
        let sum: i64 = months.iter().map(|m| availability(m, field)).sum();
        assert_eq!(availability(&year, field), sum, "{field}");
    }
    assert_eq!(
        availability(&months[7], "outage_seconds"),
        60 * 60,
        "November"
    );
    assert_eq!(availability(&year, "outage_seconds"), 180 * 60);
    let planned = availability(&year, "service_seconds");
    assert_eq!(
        planned,
        // 365 days of 18 hours, less the one-hour rollover.
        (365 * 18 * 60 - 60) * 60
    );
    let item = |r: &serde_json::Value, name: &str| -> serde_json::Value {
        r["service"]
            .as_array()
            .expect("service")
            .iter()
            .find(|i| i["item"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name}"))
    };
    let rate = item(&year, "availability")["rate"].as_f64().expect("rate");
    let exact = ((planned - 180 * 60) * 10_000 / planned) as f64 / 100.0;
    assert_eq!(rate, exact);
    for name in [
        "availability",
        "first_notice",
        "recovery_time",
        "backups",
        "reports_in_time",
    ] {
        for field in ["ok", "total"] {
            let sum: u64 = months
                .iter()
                .map(|m| item(m, name)[field].as_u64().expect(field))
                .sum();
            assert_eq!(item(&year, name)[field], sum, "{name} {field}");
        }
    }
    let by_job = |r: &serde_json::Value, field: &str| -> u64 {
        r["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .filter(|j| j["job"] == "backup")
            .map(|j| j[field].as_u64().expect(field))
            .sum()
    };
    for field in ["slots", "runs", "succeeded", "failed", "missed", "late"] {
        let sum: u64 = months.iter().map(|m| by_job(m, field)).sum();
        assert_eq!(by_job(&year, field), sum, "backup {field}");
    }
    let kinds = |r: &serde_json::Value| -> u64 {
        r["summary"]["abnormal_ends"]
            .as_array()
            .expect("kinds")
            .iter()
            .map(|k| k["count"].as_u64().expect("count"))
            .sum()
    };
    assert_eq!(kinds(&year), months.iter().map(kinds).sum::<u64>());

    // A yearly report of a year that has ended freezes and verifies like a monthly one (one
    // still running is refused: tests/freeze.rs).
    let file = t.path("fy2025.md").display().to_string();
    let out = t.run(&[
        "report",
        "yearly",
        "--fiscal-year",
        "2025",
        "--freeze",
        "--out",
        &file,
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let out = t.run(&["report", "verify", &file]);
    assert!(
        text(&out.stdout).contains("(yearly FY2025, ja, md)"),
        "{}",
        both(&out)
    );
    let md = std::fs::read_to_string(t.path("fy2025.md")).expect("read");
    assert!(
        md.starts_with("# 年次運用報告書 令和7年度(2025年度)"),
        "{md}"
    );
}

/// The shipped `monthly-report` job writes the month's report in Japanese, English and JSON
/// under var/reports/, each frozen and verifiable; run again on the same data it succeeds
/// and changes nothing.
#[test]
fn the_shipped_monthly_report_job_writes_and_freezes_the_reports() {
    let t = tree();
    let shipped = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("jobs/monthly-report.yaml");
    t.job(
        "monthly-report",
        &std::fs::read_to_string(shipped).expect("shipped job"),
    );
    let runbook = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("runbooks/escalate.yaml");
    t.file(
        "runbooks/escalate.yaml",
        &std::fs::read_to_string(runbook).expect("shipped runbook"),
    );
    for round in 0..2 {
        let out = t.run(&["run", "monthly-report", "-p", "month=2026-10"]);
        assert!(out.status.success(), "round {round}: {}", both(&out));
    }
    for (file, starts) in [
        (
            "monthly-2026-10.ja.md",
            "# 月次運用報告書 令和8年(2026年)10月分",
        ),
        (
            "monthly-2026-10.en.md",
            "# Monthly operations report, October 2026",
        ),
        ("monthly-2026-10.json", "{"),
    ] {
        let path = t.path(&format!("var/reports/{file}"));
        let body = std::fs::read_to_string(&path).expect(file);
        assert!(body.starts_with(starts), "{file}: {body}");
        let out = t.run(&["report", "verify", &path.display().to_string()]);
        assert!(out.status.success(), "{file}: {}", both(&out));
    }
    let frozen: i64 = Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .query_row("SELECT count(*) FROM frozen_reports", [], |r| r.get(0))
        .expect("count");
    assert_eq!(frozen, 3);
}

/// `--format csv`: the tables for a spreadsheet, UTF-8 with a byte-order mark, CRLF, each
/// table after its name and a header line in the report's language.
#[test]
fn the_csv_form_holds_every_table() {
    let t = tree();
    let raw = report(&t, &["--format", "csv", "--lang", "en"]);
    let body = raw.strip_prefix('\u{feff}').expect("byte-order mark");
    assert!(body.contains("\r\n") && !body.replace("\r\n", "").contains('\n'));
    let lines: Vec<&str> = body.split("\r\n").collect();
    let after = |title: &str| -> Vec<&str> {
        let at = lines
            .iter()
            .position(|l| *l == title)
            .unwrap_or_else(|| panic!("no table {title} in {body}"));
        lines[at + 1..]
            .iter()
            .take_while(|l| !l.is_empty())
            .copied()
            .collect()
    };
    let jobs = after("jobs");
    assert!(
        jobs[0].starts_with("job,slots,runs,succeeded,failed,missed,late"),
        "{jobs:?}"
    );
    assert!(
        jobs[1].starts_with("backup,7,5,4,1,1,2,7080,21600,600,1080"),
        "{jobs:?}"
    );
    let incidents = after("incidents");
    assert_eq!(incidents.len(), 3, "{incidents:?}");
    assert!(
        incidents[1].contains("\"backup failed | disk\"")
            || incidents[1].contains("backup failed | disk")
    );
    let adhoc = after("adhoc");
    assert!(
        adhoc[1].contains("\"db_password=***, department=tax\""),
        "{adhoc:?}"
    );
    assert!(!body.contains("hunter2"));
    let ja = report(&t, &["--format", "csv"]);
    assert!(
        ja.contains("\r\nジョブ別実績\r\nジョブ,予定,実行,正常終了,異常終了,未実行,遅延"),
        "{ja}"
    );
    // The Japanese CSV says what happened in Japanese, as the Japanese HTML and Markdown do.
    assert!(
        ja.contains(",実行 4 が終了コード 1 で異常終了,容量不足,"),
        "{ja}"
    );
    assert!(!ja.contains("backup failed"), "{ja}");
}

/// `--format html`: one self-contained page (no script, no outside resource) with the print
/// rules for A4, both charts as inline SVG, and every text from the records escaped.
#[test]
fn the_html_form_is_one_self_contained_page_with_its_charts() {
    let t = tree();
    // An incident whose text would be markup.
    Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .execute(
            "UPDATE incidents SET summary = '<b>bold</b> & <script>alert(1)</script>' WHERE id = 2",
            [],
        )
        .expect("update");
    let html = report(&t, &["--format", "html", "--lang", "en"]);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("@page { size: A4;"));
    assert!(
        html.contains(r#"@bottom-center { content: counter(page) " / " counter(pages);"#),
        "page numbers"
    );
    // Every table's header row is a `<thead>`, repeated on each page it runs over (two of
    // them the monitoring's lateness and slowdowns, three the service desk's, one the
    // improvement proposals; no job got slower, so no trend table).
    assert_eq!(
        html.matches("<table").count(),
        19,
        "the cover's signatures and 18"
    );
    assert_eq!(html.matches("<thead><tr><th>").count(), 19, "{html}");
    assert!(html.contains("thead { display: table-header-group; }"));
    assert_eq!(html.matches("<svg").count(), 2, "two charts");
    assert!(!html.contains("<script"), "no script at all");
    assert!(
        html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;"),
        "escaped"
    );
    // Nothing loaded from elsewhere, in markup or in the style sheet (the PDF is printed
    // from this page: tests/report_pdf.rs), in either language.
    let ja = report(&t, &["--format", "html"]);
    for page in [&html, &ja] {
        for outside in [
            "http://", "https://", "src=", "href=", "<link", "url(", "@import", "<iframe",
            "<object", "<embed",
        ] {
            let found = page
                .match_indices(outside)
                .any(|(i, _)| !page[..i].ends_with("xmlns=\""));
            assert!(!found, "{outside} in a self-contained page");
        }
    }
    // Runs on eight days of October, a bar for each outcome of a day: the backups of the
    // 1st, 2nd, 4th (with a probe) and 5th and the extract of the 10th succeeded (one bar
    // each); the 3rd has the failed backup and probe and a succeeded probe (two), the 12th
    // the rollover and a probe that succeeded and one that failed (two), the 31st a failed
    // probe (one): ten.
    let daily = &html[html.find("<svg").expect("svg")..];
    let daily = &daily[..daily.find("</svg>").expect("end")];
    assert_eq!(
        daily.matches("<rect").count(),
        10,
        "one bar per outcome of a day"
    );
    assert!(daily.contains("<title>2026-10-03 1</title>"), "{daily}");
    assert!(html.contains("Monthly operations report, October 2026"));
    assert!(
        ja.contains("<html lang=\"ja\">") && ja.contains("月次運用報告書 令和8年(2026年)10月分")
    );
    assert_eq!(
        ja,
        report(&t, &["--format", "html"]),
        "the same bytes twice"
    );
}

/// A `report.templates` folder replaces a shipped template file by file (the others stay
/// shipped); a template that does not compile is refused by `unyo validate` with its file,
/// line and column; `report.date_style` writes the period as the city writes dates.
#[test]
fn a_template_folder_and_the_date_style_shape_the_report() {
    let t = tree();
    let shipped_en = report(&t, &["--lang", "en"]);
    // The tree's own settings (its `service:`), with a `report:` block added.
    let with = |report: &str| format!("{SETTINGS}report:\n{report}");
    t.file(
        "forms/monthly.ja.md.hbs",
        "市役所様式 {{period.label_ja}}: {{summary.runs}} 件{{#each sla}} / {{job}} {{t item}} {{yesno met}}{{/each}}\n",
    );
    t.file(
        "unyo.yaml",
        &with("  templates: forms\n  date_style: western\n"),
    );
    let out = t.run(&["validate"]);
    assert!(out.status.success(), "{}", both(&out));
    let runs = count(
        &t,
        "SELECT count(*) FROM runs WHERE queued_at >= ?1 AND queued_at < ?2",
    );
    assert_eq!(
        report(&t, &["--lang", "ja"]),
        format!(
            "市役所様式 2026年10月分: {runs} 件 / backup 完了期限 未達 / backup 正常終了率 未達 / backup 最大処理時間 未達\n"
        )
    );
    // The English Markdown has no override: still the shipped form.
    assert_eq!(report(&t, &["--lang", "en"]), shipped_en);

    t.file(
        "unyo.yaml",
        "report:\n  templates: forms\n  date_style: era\n",
    );
    assert!(report(&t, &["--lang", "ja"]).starts_with("市役所様式 令和8年10月分:"));
    t.file("unyo.yaml", &with("  templates: forms\n"));
    assert!(report(&t, &["--lang", "ja"]).starts_with("市役所様式 令和8年(2026年)10月分:"));

    // Mistakes are named where they are.
    t.file("forms/monthly.html.hbs", "<p>\n{{#each sla}}{{job}}\n");
    t.file("forms/monthly.md.hbs", "x");
    t.file(
        "unyo.yaml",
        "report:\n  templates: forms\n  date_style: reiwa\n  dates: era\n",
    );
    let err = refused_definitions(&t);
    assert!(err.contains("unyo.yaml:4:3: unknown key `dates`"), "{err}");
    t.file(
        "unyo.yaml",
        "report:\n  templates: forms\n  date_style: reiwa\n",
    );
    let err = refused_definitions(&t);
    for want in [
        "unyo.yaml:2:14: `report.templates`: `monthly.html.hbs:3:1` does not compile",
        "unyo.yaml:2:14: `report.templates`: unknown template file `monthly.md.hbs`",
        "unyo.yaml:3:15: `report.date_style`: unknown date style `reiwa`",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
    // A report is not written from a broken form.
    let out = t.run(&[
        "report", "monthly", "--month", "2026-10", "--format", "html",
    ]);
    assert_ne!(out.status.code(), Some(0), "{}", both(&out));
    t.file("unyo.yaml", "report:\n  templates: missing-folder\n");
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("`report.templates`: cannot read folder `missing-folder`"),
        "{}",
        both(&out)
    );
}

/// The desk hours of `notify:` are stated with the service levels, in every form; a report
/// without `notify:` states none.
#[test]
fn the_desk_hours_are_stated_with_the_service_levels() {
    let t = tree();
    assert!(!report(&t, &["--lang", "en"]).contains("Service desk hours"));
    t.file(
        "unyo.yaml",
        &format!(
            "{SETTINGS}notify:\n  desk_hours: {{ calendar: city, from: \"08:45\", to: \"17:15\" }}\n  \
             channels:\n    desk:\n      command: {{ argv: [\"true\"] }}\n  desk:\n    - notify: [desk]\n"
        ),
    );
    let json: serde_json::Value =
        serde_json::from_str(&report(&t, &["--format", "json"])).expect("json");
    assert_eq!(
        json["desk_hours"],
        serde_json::json!({"from": "08:45", "to": "17:15", "calendar": "city"})
    );
    let en = report(&t, &["--lang", "en"]);
    assert!(
        en.contains(
            "Service desk hours: 08:45–17:15 on the business days of calendar city (out of them, \
             incidents are notified by the emergency route)"
        ),
        "{en}"
    );
    let ja = report(&t, &["--lang", "ja"]);
    assert!(
        ja.contains("サービスデスクの受付時間: カレンダー city の営業日 08:45〜17:15"),
        "{ja}"
    );
    let html = report(&t, &["--lang", "ja", "--format", "html"]);
    assert!(
        html.contains("<p>サービスデスクの受付時間: カレンダー city の営業日 08:45〜17:15"),
        "{html}"
    );
}

/// A regression test: the mean time to resolve was taken over the incidents opened in the
/// period (one resolved next month counted, one opened last month and resolved in this one
/// did not), while the count beside it is of the resolutions inside the period.
#[test]
fn mean_time_to_resolve_counts_only_resolutions_inside_the_period() {
    let t = tree();
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    let incident = |opened: String, resolved: String| {
        c.execute(
            "INSERT INTO incidents (opened_at, severity, job, failure_class, summary, status, \
             last_seen_at, resolved_by, resolved_at, cause, countermeasure) VALUES \
             (?1, 'low', 'backup', 'exit 2', 'x', 'resolved', ?1, 'sato', ?2, 'c', 'm')",
            params![opened, resolved],
        )
        .expect("insert incident");
    };
    // Opened in September, resolved in October after 360 minutes: counts.
    incident(jst(9, 30, 20, 0), jst(10, 1, 2, 0));
    // Opened in October, resolved in November after 840 minutes: does not.
    incident(jst(10, 31, 20, 0), jst(11, 1, 10, 0));
    drop(c);
    let r: serde_json::Value =
        serde_json::from_str(&report(&t, &["--format", "json"])).expect("json");
    let s = &r["summary"];
    assert_eq!(
        s["incidents_resolved"],
        count(
            &t,
            "SELECT count(*) FROM incidents WHERE resolved_at >= ?1 AND resolved_at < ?2"
        )
    );
    assert_eq!(
        s["incidents_resolved"], 2,
        "the history's one and September's"
    );
    // (120 + 360) / 2: the history's incident 1 and September's, not November's 840.
    assert_eq!(s["mttr_minutes"], 240.0);
}

/// The cover: the contract, the period as a date range in the date style, and the author
/// and approver lines with their date lines, in the Markdown and HTML of both languages;
/// without `report.author` the lines are blank to be signed.
#[test]
fn the_cover_names_the_contract_the_period_and_who_signs() {
    let t = tree();
    let ja = report(&t, &["--lang", "ja"]);
    assert!(
        ja.contains("- 対象期間: 令和8年(2026年)10月1日〜令和8年(2026年)10月31日"),
        "{ja}"
    );
    assert!(ja.contains("| 作成者 | 　 | 　　年　　月　　日 |"), "{ja}");
    assert!(!ja.contains("契約:"), "no contract set: {ja}");

    t.file(
        "unyo.yaml",
        &format!(
            "{SETTINGS}report:\n  contract: 基幹系システム運用保守業務委託(契約番号 R8-0123)\n  \
             author: 運用太郎\n  approver: 政策企画課長\n  date_style: era\n"
        ),
    );
    let ja = report(&t, &["--lang", "ja"]);
    for want in [
        "- 契約: 基幹系システム運用保守業務委託(契約番号 R8-0123)",
        "- 対象期間: 令和8年10月1日〜令和8年10月31日(各日 00:00 開始",
        "| 作成者 | 運用太郎 | 　　年　　月　　日 |",
        "| 承認者 | 政策企画課長 | 　　年　　月　　日 |",
    ] {
        assert!(ja.contains(want), "{want:?} in\n{ja}");
    }
    let en = report(&t, &["--lang", "en"]);
    for want in [
        "- Contract: 基幹系システム運用保守業務委託(契約番号 R8-0123)",
        "- Period: 1 October 2026 to 31 October 2026",
        "| Author | 運用太郎 | |",
        "| Approver | 政策企画課長 | |",
    ] {
        assert!(en.contains(want), "{want:?} in\n{en}");
    }
    let html = report(&t, &["--lang", "ja", "--format", "html"]);
    for want in [
        "<li>契約: 基幹系システム運用保守業務委託(契約番号 R8-0123)</li>",
        "<li>対象期間: 令和8年10月1日〜令和8年10月31日(各日 00:00 開始",
        "<tr><th>作成者</th><td>運用太郎</td><td class=\"date\">年　　月　　日</td></tr>",
        "<tr><th>承認者</th><td>政策企画課長</td><td class=\"date\">年　　月　　日</td></tr>",
    ] {
        assert!(html.contains(want), "{want:?} in\n{html}");
    }
    t.file(
        "unyo.yaml",
        &format!("{SETTINGS}report:\n  date_style: western\n"),
    );
    assert!(
        report(&t, &["--lang", "ja"]).contains("- 対象期間: 2026年10月1日〜2026年10月31日("),
        "western"
    );

    // Checked like the other `report:` settings, at their place.
    t.file("unyo.yaml", "report:\n  aprover: x\n");
    let err = refused_definitions(&t);
    assert!(
        err.contains("unyo.yaml:2:3: unknown key `aprover` (did you mean `approver`?)"),
        "{err}"
    );
    t.file(
        "unyo.yaml",
        "report:\n  contract: \"  \"\n  author: \"a\\nb\"\n",
    );
    let err = refused_definitions(&t);
    for want in [
        "unyo.yaml:2:13: `report.contract` is empty",
        "unyo.yaml:3:11: `report.author` must be one line",
    ] {
        assert!(err.contains(want), "missing {want:?} in:\n{err}");
    }
}

/// The visible text of an HTML page: without its style and script elements, its tags and
/// its character references for markup.
fn visible_text(html: &str) -> String {
    let mut text = html.to_owned();
    for element in ["style", "script", "title"] {
        let (open, close) = (format!("<{element}"), format!("</{element}>"));
        while let Some(from) = text.find(&open) {
            let Some(to) = text[from..].find(&close) else {
                break;
            };
            text.replace_range(from..from + to + close.len(), " ");
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut in_tag = false;
    for ch in text.chars() {
        match ch {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The ASCII words of `text` an official would read as English: every run of ASCII letters
/// that is not a job's name in parentheses after its title, nor in `allowed`.
fn english_words(text: &str, job_codes: &[&str], allowed: &[&str]) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    // A job by its title is 「title」(code): the code in parentheses is allowed.
    let mut cleaned = String::new();
    while let Some(i) = rest.find("」(") {
        cleaned.push_str(&rest[..i]);
        let after = &rest[i + "」(".len()..];
        match after.find(')') {
            Some(j) if job_codes.contains(&&after[..j]) => {
                rest = &after[j + ')'.len_utf8()..];
            }
            _ => {
                cleaned.push_str("」(");
                rest = after;
            }
        }
    }
    cleaned.push_str(rest);
    for word in cleaned.split(|c: char| !c.is_ascii_alphabetic()) {
        if !word.is_empty() && !allowed.contains(&word) {
            found.push(word.to_owned());
        }
    }
    found.sort();
    found.dedup();
    found
}

/// In the Japanese HTML report nothing an official reads is English or a code token: every
/// ASCII word of its visible text (tags, styles and scripts stripped) is a job's code in
/// parentheses after its title, or in the allowed list of units, zones and abbreviations
/// the contract itself uses; the test names every other word it finds.
#[test]
fn the_japanese_html_has_no_english_word_outside_the_allowed_list() {
    let t = golden_tree();
    // The month, and the fiscal year with its draft work plan of the next year.
    let html = [
        report(&t, &["--lang", "ja", "--format", "html"]),
        yearly(&t, &["--lang", "ja", "--format", "html"]),
    ];
    assert!(html[1].contains("次年度作業計画(案)"), "{}", html[1]);
    let text = visible_text(&html.concat());
    let found = english_words(
        &text,
        &[
            "backup", "extract", "probe", "rollover", "close", "transfer",
        ],
        &[
            // The contract's number, as the cover states it.
            "R",
            // The time zone, as the cover states it.
            "Asia",
            "Tokyo",
            // Abbreviations of the contract's own text, and the hours and minutes of a
            // duration (`1h00m`).
            "SLA",
            "MAD",
            "h",
            "m",
            // Ids: the users who acted, a definition's fingerprint (hex).
            "tanaka",
            "suzuki",
            "d",
            // Codes of the definitions that have no display name: the calendar, the
            // window, parameters with their values.
            "city",
            "backup",
            "db",
            "password",
            "department",
            "tax",
            "rate",
            "percent",
        ],
    );
    assert!(
        found.is_empty(),
        "English words in the Japanese HTML: {found:?}\n{text}"
    );
    // The check finds what it is for.
    assert_eq!(
        english_words("「夜間」(backup) failed (probe)", &["backup"], &[]),
        vec!["failed", "probe"]
    );
}

/// The Japanese HTML carries every caption of the Japanese Markdown (each line that names
/// what follows, `パラメータ変更:`) and every column of its tables with its unit, and an empty
/// table says なし in both: this history changed no permission.
#[test]
fn the_japanese_html_carries_the_markdowns_captions_and_says_nashi_when_empty() {
    let t = golden_tree();
    for (md, html) in [
        (
            report(&t, &["--lang", "ja"]),
            report(&t, &["--lang", "ja", "--format", "html"]),
        ),
        (
            yearly(&t, &["--lang", "ja"]),
            yearly(&t, &["--lang", "ja", "--format", "html"]),
        ),
    ] {
        captions_and_columns_in_the_html(&md, &html);
    }
    // The year's draft plan names its captions, and carries the year's proposals (here the
    // one of section 9) into the next.
    let md = yearly(&t, &["--lang", "ja"]);
    assert!(md.contains("休業日による移動・見送り:\n"), "{md}");
    assert!(
        md.contains("### 改善提案(次年度に継続するもの)\n\n- サービスレベルの見直し: "),
        "{md}"
    );
    let squeezed: String = visible_text(&yearly(&t, &["--lang", "ja", "--format", "html"]))
        .split_whitespace()
        .collect();
    assert!(
        squeezed.contains("改善提案(次年度に継続するもの)サービスレベルの見直し:"),
        "{squeezed}"
    );
}

fn captions_and_columns_in_the_html(md: &str, html: &str) {
    let text = visible_text(html);
    let missing: Vec<&str> = md
        .lines()
        .filter_map(|l| l.strip_suffix(':'))
        .filter(|caption| !text.contains(caption))
        .collect();
    assert!(
        missing.is_empty(),
        "captions of the Markdown not in the HTML: {missing:?}"
    );
    // Every column of every Markdown table is in the HTML under the same name, its unit
    // with it (`平均(秒)` in both, never seconds in one and minutes in the other).
    let lines: Vec<&str> = md.lines().collect();
    let columns: Vec<&str> = lines
        .windows(2)
        .filter(|w| w[0].starts_with('|') && w[1].starts_with("|---"))
        .flat_map(|w| w[0].trim_matches('|').split('|').map(str::trim))
        .filter(|c| !c.is_empty())
        .collect();
    assert!(columns.contains(&"平均(秒)"), "{columns:?}");
    let missing: Vec<&&str> = columns.iter().filter(|c| !text.contains(**c)).collect();
    assert!(
        missing.is_empty(),
        "columns of the Markdown not in the HTML: {missing:?}"
    );
    assert!(md.contains("権限変更(部署別):\nなし\n"), "{md}");
    let squeezed: String = text.split_whitespace().collect();
    assert!(
        squeezed.contains("権限変更(部署別)部署付与削除見送りなし"),
        "{squeezed}"
    );
}
