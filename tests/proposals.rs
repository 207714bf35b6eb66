//! `unyo proposals` and the report's 改善提案 over six months of history written into a real
//! unyo database: each kind of proposal comes from the pattern put into the history, with
//! its evidence, and none from the ordinary records beside it (a job varying ±20 % a run, a
//! rare incident, a rule that fired twice, a check that went down once, a stable disk).

use chrono::{DateTime, Duration, TimeZone, Utc};
use rusqlite::{Connection, params};
use std::path::PathBuf;

use crate::helper::{Tree, both, text};

/// Confined to the backup window, to finish by 06:00; 10 % slower each month.
const BACKUP: &str = r#"title: 夜間バックアップ
description: Nightly backup
window: backup
sla: { complete_by: "06:00", success_rate: 90 }
steps:
  copy:
    run: "true"
"#;

/// 26 minutes against a 30-minute promise; fails now and then the same way.
const BILLING: &str = r#"title: 料金計算
description: Billing
sla: { max_duration: 30m }
steps:
  load:
    run: "true"
"#;

/// Ten minutes ±20 % a run, every month alike, well inside its hour.
const STABLE: &str = r#"title: 住民記録更新
description: Resident records
sla: { max_duration: 1h }
steps:
  update:
    run: "true"
"#;

const SCHEDULES: &str = r#"windows:
  backup: { from: "00:00", to: "06:00" }
schedules:
  - job: backup
    cron: "30 0 * * *"
"#;

/// A Tokyo local time in 2026 as the database writes an instant.
fn jst(month: u32, day: u32, hh: u32, mm: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .with_ymd_and_hms(2026, month, day, hh, mm, 0)
        .single()
        .expect("a local time")
        .with_timezone(&Utc)
}

fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// A repeatable spread in [-1, 1].
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    }
}

fn insert_run(c: &Connection, job: &str, status: &str, start: DateTime<Utc>, seconds: f64) -> i64 {
    let end = start + Duration::milliseconds((seconds * 1000.0) as i64);
    c.execute(
        "INSERT INTO runs (job, trigger, params, status, business_date, fiscal_year, queued_at, \
         started_at, ended_at, requested_by, host, job_digest, catalog_digest) \
         VALUES (?1, 'schedule', '{}', ?2, ?3, 2026, ?4, ?4, ?5, 'unyo', 'ops1', 'd', 'c')",
        params![
            job,
            status,
            start
                .with_timezone(&chrono_tz::Asia::Tokyo)
                .date_naive()
                .to_string(),
            ts(start),
            ts(end)
        ],
    )
    .expect("insert run");
    c.last_insert_rowid()
}

fn days(month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 => 28,
        _ => 31,
    }
}

fn insert_target(c: &Connection, target: &str, kind: &str) {
    c.execute(
        "INSERT INTO check_targets (target, kind, job, step, state, streak, since, last_status, \
         last_output, last_perfdata, last_at, results) VALUES (?1, ?2, 'watch', 'check', 'up', \
         0, ?3, 'ok', 'OK', '', ?3, 1)",
        params![target, kind, ts(jst(5, 1, 0, 0))],
    )
    .expect("insert target");
}

fn insert_result(
    c: &Connection,
    target: &str,
    at: DateTime<Utc>,
    perfdata: &str,
    change: Option<&str>,
) {
    c.execute(
        "INSERT INTO check_results (target, at, status, output, perfdata, state, changed) \
         VALUES (?1, ?2, ?3, 'text', ?4, ?5, ?6)",
        params![
            target,
            ts(at),
            if change == Some("down") {
                "critical"
            } else {
                "ok"
            },
            perfdata,
            change.unwrap_or("up"),
            i64::from(change.is_some())
        ],
    )
    .expect("insert result");
}

fn insert_incident(
    c: &Connection,
    job: &str,
    step: &str,
    class: &str,
    at: DateTime<Utc>,
    cause: Option<&str>,
) -> i64 {
    c.execute(
        "INSERT INTO incidents (opened_at, severity, job, step, failure_class, summary, status, \
         last_seen_at, resolved_at, resolved_by, cause, countermeasure) \
         VALUES (?1, 'high', ?2, ?3, ?4, 'failed', ?5, ?1, ?6, ?7, ?8, ?9)",
        params![
            ts(at),
            job,
            step,
            class,
            if cause.is_some() { "resolved" } else { "open" },
            cause.map(|_| ts(at + Duration::hours(2))),
            cause.map(|_| "tanaka"),
            cause,
            cause.map(|_| "再実行")
        ],
    )
    .expect("insert incident");
    c.last_insert_rowid()
}

/// A failed run of billing whose attempt a runbook rule matched.
fn firing(c: &Connection, at: DateTime<Utc>, rule: &str) -> i64 {
    let run = insert_run(c, "billing", "failed", at, 60.0);
    c.execute(
        "INSERT INTO attempts (run_id, step, attempt, status, command, log_path, started_at, \
         ended_at, exit_code, rule) SELECT id, 'load', 1, 'failed', '[]', '-', queued_at, \
         ended_at, 75, ?2 FROM runs WHERE id = ?1",
        params![run, rule],
    )
    .expect("insert attempt");
    run
}

/// May to October 2026.
const MONTHS: [u32; 6] = [5, 6, 7, 8, 9, 10];

/// Six months of history holding each pattern once, and ordinary records beside them.
fn history(t: &Tree) {
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    c.execute_batch("BEGIN").expect("begin");
    let mut noise = Noise(11);
    for (m, month) in MONTHS.iter().enumerate() {
        for day in 1..=days(*month) {
            // 2 h in May, 10 % more each month, each run ±20 %.
            let typical = 7200.0 * 1.1f64.powi(m as i32);
            insert_run(
                &c,
                "backup",
                "succeeded",
                jst(*month, day, 0, 30),
                typical * (1.0 + 0.2 * noise.next()),
            );
            insert_run(
                &c,
                "stable",
                "succeeded",
                jst(*month, day, 9, 0),
                600.0 * (1.0 + 0.2 * noise.next()),
            );
        }
    }
    for day in 1..=31 {
        insert_run(
            &c,
            "billing",
            "succeeded",
            jst(10, day, 20, 0),
            1560.0 * (1.0 + 0.05 * noise.next()),
        );
    }
    // The same step failing the same way in July, September and October; a timeout once.
    for (month, cause) in [
        (7, Some("ロックの解放漏れ")),
        (9, Some("ロックの解放漏れ")),
        (10, None),
    ] {
        insert_incident(&c, "billing", "load", "exit 3", jst(month, 3, 21, 0), cause);
    }
    insert_incident(
        &c,
        "stable",
        "update",
        "timeout",
        jst(10, 7, 9, 30),
        Some("一時的な負荷"),
    );
    // The lock rule three times a month from July; the timeout rule twice.
    for month in [7, 8, 9, 10] {
        for day in [5, 12, 19] {
            firing(
                &c,
                jst(month, day, 22, 0),
                "db-transient#1 (database is locked)",
            );
        }
    }
    for day in [6, 13] {
        firing(&c, jst(10, day, 22, 0), "db-transient#2 (timeout)");
    }
    // db-server goes down and up twice on 2 and 9 October; web once on 5 October.
    insert_target(&c, "db-server", "network");
    insert_target(&c, "web", "network");
    for day in [2, 9] {
        for (h, state) in [(1, "down"), (3, "up"), (5, "down"), (7, "up")] {
            insert_result(&c, "db-server", jst(10, day, h, 0), "", Some(state));
        }
    }
    insert_result(&c, "web", jst(10, 5, 1, 0), "", Some("down"));
    insert_result(&c, "web", jst(10, 5, 3, 0), "", Some("up"));
    // data-disk grows 15 MB a day towards its 10,000 MB; log-disk stays near 3,000 MB.
    insert_target(&c, "data-disk", "hardware");
    insert_target(&c, "log-disk", "hardware");
    let mut d = 0;
    for month in MONTHS {
        for day in 1..=days(month) {
            let wobble = if d % 2 == 0 { 20.0 } else { -20.0 };
            let at = jst(month, day, 3, 0);
            insert_result(
                &c,
                "data-disk",
                at,
                &format!(
                    "/data={}MB;8000;9000;0;10000",
                    5000.0 + 15.0 * d as f64 + wobble
                ),
                None,
            );
            insert_result(
                &c,
                "log-disk",
                at,
                &format!("/var/log={}MB;8000;9000;0;10000", 3000.0 + wobble),
                None,
            );
            d += 1;
        }
    }
    c.execute_batch("COMMIT").expect("commit");
}

fn tree() -> Tree {
    let t = Tree::new();
    t.job("backup", BACKUP)
        .job("billing", BILLING)
        .job("stable", STABLE)
        .file("schedules/city.yaml", SCHEDULES);
    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    history(&t);
    t
}

fn proposals_json(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["proposals", "--month", "2026-10", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    serde_json::from_slice(&out.stdout).expect("json")
}

fn find<'a>(all: &'a [serde_json::Value], kind: &str) -> &'a serde_json::Value {
    all.iter()
        .find(|p| p["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {all:#?}"))
}

#[test]
fn each_pattern_in_the_history_is_proposed_with_its_evidence_and_nothing_else() {
    let t = tree();
    let all = proposals_json(&t);
    let kinds: Vec<(String, String)> = all
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap_or_default().to_owned(),
                p["subject"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("slower", "backup"),
        ("recurring", "billing"),
        ("sla_at_risk", "billing"),
        ("sla_margin", "backup"),
        ("flapping", "db-server"),
        ("frequent_rule", "db-transient#1 (database is locked)"),
        ("capacity", "data-disk"),
    ]
    .iter()
    .map(|(k, s)| ((*k).to_owned(), (*s).to_owned()))
    .collect();
    assert_eq!(kinds, expected, "{all:#?}");

    // The trend: six monthly medians rising ~10 %, projected against 06:00.
    let slower = &find(&all, "slower")["detail"]["evidence"];
    let months = slower["months"].as_array().expect("months");
    assert_eq!(months.len(), 6);
    assert_eq!(months[0]["month"], "2026-05");
    assert_eq!(months[5]["runs"], 31);
    let (first, last) = (
        months[0]["median"].as_f64().expect("a value"),
        months[5]["median"].as_f64().expect("a value"),
    );
    assert!(last / first > 1.4 && last / first < 1.9, "{months:?}");
    let percent = slower["percent"].as_f64().expect("a value");
    assert!((7.0..14.0).contains(&percent), "{percent}");
    let projection = &slower["projection"];
    assert_eq!(projection["limit"]["kind"], "complete_by");
    assert_eq!(projection["limit"]["text"], "06:00");
    let in_months = projection["months"].as_f64().expect("a value");
    assert!((4.0..12.0).contains(&in_months), "{projection}");

    // The recurring cause class: its three incidents and the cause recorded.
    let recurring = &find(&all, "recurring")["detail"]["evidence"];
    assert_eq!(recurring["failure_class"], "exit 3");
    assert_eq!(recurring["step"], "load");
    assert_eq!(recurring["incidents"].as_array().expect("a value").len(), 3);
    assert_eq!(recurring["causes"], serde_json::json!(["ロックの解放漏れ"]));

    // The service levels: billing's longest run near its 30 minutes, backup's success far
    // above its 90 %.
    let at_risk = &find(&all, "sla_at_risk")["detail"]["evidence"];
    assert_eq!(at_risk["item"], "max_duration");
    let used = at_risk["used"].as_f64().expect("a value");
    assert!((85.0..100.0).contains(&used), "{at_risk}");
    let margin = &find(&all, "sla_margin")["detail"]["evidence"];
    assert_eq!(margin["item"], "success_rate");
    assert_eq!(margin["used"], 0.0);
    assert_eq!(margin["total"], 31);

    let flapping = &find(&all, "flapping")["detail"]["evidence"];
    assert_eq!(
        flapping["days"],
        serde_json::json!(["2026-10-02", "2026-10-09"])
    );
    assert_eq!(flapping["changes"], 8);

    let rule = &find(&all, "frequent_rule")["detail"]["evidence"];
    assert_eq!(rule["firings"], 12);
    assert_eq!(rule["run_count"], 12);
    assert_eq!(rule["runs"].as_array().expect("a value").len(), 5);

    let capacity = &find(&all, "capacity")["detail"]["evidence"];
    assert_eq!(capacity["label"], "/data");
    assert_eq!(capacity["max"], 10000.0);
    let m = capacity["months"].as_f64().expect("a value");
    assert!((2.0..3.5).contains(&m), "{capacity}");

    // The table an operator reads says the same.
    let out = t.run(&["proposals", "--month", "2026-10"]);
    assert!(out.status.success(), "{}", both(&out));
    let table = text(&out.stdout);
    assert!(
        table.starts_with("improvement proposals of 2026-10 (looking back over 6 months)"),
        "{table}"
    );
    for (kind, subject) in &expected {
        assert!(
            table
                .lines()
                .any(|l| l.contains(kind.as_str()) && l.contains(subject.as_str())),
            "no {kind} {subject} in\n{table}"
        );
    }
    assert!(
        table.contains("passes its sla complete_by 06:00 in about"),
        "{table}"
    );
}

#[test]
fn thresholds_in_unyo_yaml_change_what_is_proposed_and_bad_ones_are_refused() {
    let t = tree();
    // Stricter: a rule must fire 20 times, an incident recur 4 times.
    t.file(
        "unyo.yaml",
        "proposals:\n  rule_firings: 20\n  recurring: 4\n",
    );
    let all = proposals_json(&t);
    assert!(
        all.iter()
            .all(|p| p["kind"] != "frequent_rule" && p["kind"] != "recurring"),
        "{all:#?}"
    );
    assert!(all.iter().any(|p| p["kind"] == "slower"));
    t.file("unyo.yaml", "proposals:\n  months: 0\n");
    let out = t.run(&["proposals", "--month", "2026-10"]);
    assert!(!out.status.success());
    let err = both(&out);
    assert!(err.contains("unyo.yaml:2:"), "{err}");
    assert!(
        err.contains("`proposals.months` must be from 1 to 60"),
        "{err}"
    );
    t.file("unyo.yaml", "proposals:\n  capacity_percnt: 80\n");
    let out = t.run(&["proposals", "--month", "2026-10"]);
    assert!(!out.status.success());
    let err = both(&out);
    assert!(
        err.contains("unyo.yaml:2:") && err.contains("capacity_percnt"),
        "{err}"
    );
    assert!(err.contains("capacity_percent"), "a hint: {err}");
}

#[test]
fn a_history_without_patterns_proposes_nothing() {
    let t = Tree::new();
    t.job("stable", STABLE);
    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    let mut noise = Noise(3);
    for month in MONTHS {
        for day in 1..=days(month) {
            insert_run(
                &c,
                "stable",
                "succeeded",
                jst(month, day, 9, 0),
                600.0 * (1.0 + 0.2 * noise.next()),
            );
        }
    }
    insert_incident(&c, "stable", "update", "timeout", jst(10, 7, 9, 30), None);
    drop(c);
    let out = t.run(&["proposals", "--month", "2026-10"]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(
        text(&out.stdout),
        "improvement proposals of 2026-10 (looking back over 6 months)\nnone\n"
    );
    let md = report(&t, &["--lang", "ja"]);
    assert!(md.contains("## 9. 改善提案\n\nなし\n"), "{md}");
    let md = report(&t, &["--lang", "en"]);
    assert!(md.contains("## 9. Improvement proposals\n\nnone\n"), "{md}");
    let html = report(&t, &["--lang", "ja", "--format", "html"]);
    let section = between(&html, "9. 改善提案", "</section>");
    assert!(section.contains(">なし<"), "{section}");
}

fn report(t: &Tree, args: &[&str]) -> String {
    let mut all = vec!["report", "monthly", "--month", "2026-10"];
    all.extend_from_slice(args);
    let out = t.run(&all);
    assert!(out.status.success(), "{}", both(&out));
    text(&out.stdout)
}

fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let at = text
        .find(from)
        .unwrap_or_else(|| panic!("no {from} in {text}"));
    let rest = &text[at..];
    &rest[..rest.find(to).unwrap_or(rest.len())]
}

/// The visible text of HTML: tags dropped.
fn visible(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for ch in html.chars() {
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
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
}

/// The section's ASCII words an official would read as English: every run of ASCII letters
/// but the codes in parentheses (jobs after their title, the runbook) and the ids and units
/// allowed.
fn english_words(text: &str, allowed: &[&str]) -> Vec<String> {
    let mut cleaned = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('(') {
        cleaned.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find(')') {
            Some(j) => rest = &after[j + 1..],
            None => rest = after,
        }
    }
    cleaned.push_str(rest);
    let mut found: Vec<String> = cleaned
        .split(|c: char| !c.is_ascii_alphabetic())
        .filter(|w| !w.is_empty() && !allowed.contains(w))
        .map(str::to_owned)
        .collect();
    found.sort();
    found.dedup();
    found
}

#[test]
fn the_reports_section_says_each_proposal_in_both_languages() {
    let t = tree();
    let ja = report(&t, &["--lang", "ja"]);
    let section = between(&ja, "## 9. 改善提案", "## 10. 次月予定");
    // The whole section, as the README's sample month shows it: `UNYO_UPDATE_GOLDEN=1`
    // writes it anew (then read the diff).
    let golden =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/golden/proposals-2026-10.ja.md");
    if std::env::var_os("UNYO_UPDATE_GOLDEN").is_some() {
        std::fs::write(&golden, section).expect("write golden");
    }
    assert_eq!(
        section,
        std::fs::read_to_string(&golden).expect("golden file"),
        "{}",
        golden.display()
    );
    assert!(
        section.contains("| 1 | 処理時間の増加 | 「夜間バックアップ」(backup) |"),
        "{section}"
    );
    assert!(
        section.contains("完了期限(06:00)を超える見込み"),
        "{section}"
    );
    assert!(
        section.contains("| 同じ原因の障害の再発 | 「料金計算」(billing) |"),
        "{section}"
    );
    assert!(
        section.contains("ステップ(load)の障害(終了コード 3 で異常終了)が"),
        "{section}"
    );
    assert!(
        section.contains("記録された原因: ロックの解放漏れ"),
        "{section}"
    );
    assert!(
        section.contains("| 監視対象の状態の不安定 | 監視対象「db-server」 |"),
        "{section}"
    );
    assert!(
        section.contains("| 復旧手順(db-transient)の規則1 |"),
        "{section}"
    );
    assert!(
        section.contains("約") && section.contains("か月後に容量の90%に達する見込み"),
        "{section}"
    );
    assert_eq!(
        section.matches("\n| ").count(),
        8,
        "a header and seven proposals: {section}"
    );

    let en = report(&t, &["--lang", "en"]);
    let section = between(&en, "## 9. Improvement proposals", "## 10. Next month");
    assert!(
        section.contains("| 1 | job getting slower | backup |"),
        "{section}"
    );
    assert!(
        section.contains("passes its sla complete_by 06:00 in about"),
        "{section}"
    );
    assert!(
        section.contains("| service level with a wide margin | backup |"),
        "{section}"
    );

    // The Japanese HTML carries the same rows, in Japanese: no English word but the codes
    // in parentheses, the targets' names and the units.
    let html = report(&t, &["--lang", "ja", "--format", "html"]);
    let shown = visible(between(&html, "9. 改善提案", "</section>"));
    assert_eq!(shown.matches("監視対象「db-server」").count(), 1, "{shown}");
    let found = english_words(&shown, &["db", "server", "data", "disk", "MB"]);
    assert!(
        found.is_empty(),
        "English words in the Japanese section: {found:?}\n{shown}"
    );
    // The check finds what it is for.
    assert_eq!(
        english_words("「夜間」(backup) failed", &[]),
        vec!["failed"]
    );

    // The yearly report of the fiscal year carries the section too.
    let out = t.run(&["report", "yearly", "--fiscal-year", "2026"]);
    assert!(out.status.success(), "{}", both(&out));
    let yearly = text(&out.stdout);
    assert!(yearly.contains("## 9. 改善提案"), "{yearly}");
    assert!(yearly.contains("「夜間バックアップ」(backup)"), "{yearly}");

    let csv = report(&t, &["--format", "csv"]);
    assert!(
        csv.contains("\r\n改善提案\r\n番号,種別,対象,根拠,提案\r\n1,処理時間の増加,"),
        "{csv}"
    );
}

/// Slower each month by a quarter of an hour; no promise of its own.
const NIGHTLY: &str =
    "title: 夜間集計\ndescription: Nightly totals\nsteps:\n  sum:\n    run: \"true\"\n";
const LOAD: &str = "title: 取込\ndescription: Load\nsteps:\n  load:\n    run: \"true\"\n";

fn new_run(job: &str, step: &str, at: DateTime<Utc>) -> unyo::store::NewRun {
    use unyo::store::{RunStatus, Trigger};
    unyo::store::NewRun {
        job: job.to_owned(),
        trigger: Trigger::Schedule,
        params: serde_json::json!({}),
        status: RunStatus::Running,
        business_date: at.with_timezone(&chrono_tz::Asia::Tokyo).date_naive(),
        fiscal_year: 2026,
        at,
        requested_by: "unyo".to_owned(),
        host: "ops1".to_owned(),
        job_digest: "j".repeat(64),
        catalog_digest: "c".repeat(64),
        steps: vec![step.to_owned()],
        owner: None,
        not_before: None,
        schedule: None,
        rerun_of: None,
        kept_steps: Vec::new(),
        comment: None,
        business_date_given: false,
        outside_window: None,
    }
}

/// The records as the engine, the incident code and the checks write them (through the
/// store, with its tokens and rules: an incident kept open gathers its occurrences), read
/// back by the real binary.
#[tokio::test]
async fn records_written_through_the_store_give_their_proposals() {
    use unyo::domain::check::{CheckStatus, TargetKind, Thresholds};
    use unyo::model::Severity;
    use unyo::store::prelude::{CheckStore, IncidentStore, RunStore};
    use unyo::store::{
        AttemptEnd, AttemptStatus, NewAttempt, NewCheckResult, NewIncident, RunStatus, SqliteStore,
        StepStatus,
    };
    let t = Tree::new();
    t.job("nightly", NIGHTLY).job("load", LOAD);
    let out = t.run(&["runs"]);
    assert!(out.status.success(), "{}", both(&out));
    let store = SqliteStore::open(&t.path("var/unyo.db"))
        .await
        .expect("store");
    // Five successful runs a month from July, an hour in July and a quarter more each month.
    for (m, month) in [7u32, 8, 9, 10].iter().enumerate() {
        for day in [1, 6, 11, 16, 21] {
            let start = jst(*month, day, 1, 0);
            let id = store
                .create_run(&new_run("nightly", "sum", start))
                .await
                .expect("run");
            let took = Duration::minutes(60 + 15 * m as i64 + i64::from(day % 3));
            store
                .set_run_status(id, RunStatus::Succeeded, start + took, None)
                .await
                .expect("end");
        }
    }
    // Ten failed loads the lock rule matched, from August.
    for (month, day) in (8..=10u32)
        .flat_map(|m| [2, 9, 16, 23].map(move |d| (m, d)))
        .take(10)
    {
        let start = jst(month, day, 22, 0);
        let run = store
            .create_run(&new_run("load", "load", start))
            .await
            .expect("run");
        let attempt = store
            .start_attempt(&NewAttempt {
                run_id: run,
                step: "load".to_owned(),
                attempt: 1,
                command: serde_json::json!({"run": "true"}),
                log_path: "-".to_owned(),
                started_at: start,
            })
            .await
            .expect("attempt");
        store
            .finish_attempt(
                attempt,
                &AttemptEnd {
                    status: AttemptStatus::Failed,
                    pid: None,
                    ended_at: start + Duration::minutes(1),
                    exit_code: Some(75),
                    signal: None,
                    error: None,
                    stdout_tail: String::new(),
                    stderr_tail: String::new(),
                    log_bytes: 0,
                    log_dropped: 0,
                    step_status: StepStatus::Failed,
                    step_reason: None,
                    rule: Some("db-transient#1 (database is locked)".to_owned()),
                    action: None,
                    remediation: None,
                    retry_at: None,
                    continued: false,
                },
            )
            .await
            .expect("finish");
        store
            .set_run_status(run, RunStatus::Failed, start + Duration::minutes(1), None)
            .await
            .expect("end");
    }
    // The same failure in August, September and October: one incident kept open.
    for month in [8, 9, 10] {
        store
            .open_incident(&NewIncident {
                at: jst(month, 3, 22, 0),
                severity: Severity::High,
                job: "load".to_owned(),
                run_id: None,
                step: Some("load".to_owned()),
                failure_class: "exit 75".to_owned(),
                summary: "load failed".to_owned(),
                log_excerpt: String::new(),
                rule: None,
                report_deadline: None,
                actor: "unyo".to_owned(),
                occurrences: 1,
            })
            .await
            .expect("incident");
    }
    let check = |target: &str, kind, at, status, perfdata: String| NewCheckResult {
        target: target.to_owned(),
        kind,
        job: "watch".to_owned(),
        step: "check".to_owned(),
        run_id: None,
        at,
        status,
        output: "text".to_owned(),
        perfdata,
        thresholds: Thresholds {
            down_after: 1,
            up_after: 1,
        },
    };
    // The disk grows 20 MB a day from August; db-server flaps on 2 and 9 October.
    let mut at = jst(8, 1, 3, 0);
    let mut d = 0.0;
    while at < jst(11, 1, 0, 0) {
        let used = format!("/data={}MB;;;0;10000", 6000.0 + 20.0 * d);
        store
            .record_check(&check(
                "data-disk",
                TargetKind::Hardware,
                at,
                CheckStatus::Ok,
                used,
            ))
            .await
            .expect("disk");
        at += Duration::days(1);
        d += 1.0;
    }
    for day in [2, 9] {
        for (h, status) in [
            (1, CheckStatus::Critical),
            (3, CheckStatus::Ok),
            (5, CheckStatus::Critical),
            (7, CheckStatus::Ok),
        ] {
            store
                .record_check(&check(
                    "db-server",
                    TargetKind::Network,
                    jst(10, day, h, 0),
                    status,
                    String::new(),
                ))
                .await
                .expect("check");
        }
    }
    drop(store);

    let all = proposals_json(&t);
    let kinds: Vec<(&str, &str)> = all
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().unwrap_or_default(),
                p["subject"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("slower", "nightly"),
            ("recurring", "load"),
            ("flapping", "db-server"),
            ("frequent_rule", "db-transient#1 (database is locked)"),
            ("capacity", "data-disk"),
        ],
        "{all:#?}"
    );
    let recurring = &find(&all, "recurring")["detail"]["evidence"];
    assert_eq!(recurring["incidents"], serde_json::json!([1]));
    assert_eq!(recurring["occurrences"], 3);
    let rule = &find(&all, "frequent_rule")["detail"]["evidence"];
    assert_eq!(rule["firings"], 10);
    let slower = &find(&all, "slower")["detail"]["evidence"];
    assert_eq!(slower["months"].as_array().expect("months").len(), 4);
    assert_eq!(slower["projection"], serde_json::Value::Null, "no deadline");
}
