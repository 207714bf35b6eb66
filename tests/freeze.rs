//! Freezing a report: only of a period that has ended (a report of one still running says it
//! is preliminary, 速報, in every form), and superseding a frozen report only on purpose,
//! recorded and audited, the old one kept and `unyo report verify` telling which stands.
//!
//! "Now" is the real clock: the current month is open and a month of last year has ended,
//! whenever the tests run.

use std::path::PathBuf;

use chrono::Utc;
use rusqlite::Connection;
use unyo::model::Settings;
use unyo::report::Period;

use crate::helper::{Tree, both, text};

/// A month that ended long ago.
const CLOSED: &str = "2025-11";

/// The current month (business date in the shipped settings' zone and day start), and when
/// it ends, as the refusal names it.
fn current_month(t: &Tree) -> (String, String) {
    let s = Settings::defaults(t.root());
    let today = unyo::calendar::business_date(Utc::now(), s.timezone, s.day_start);
    let month = today.format("%Y-%m").to_string();
    let period = Period::parse(&month, s.timezone, s.day_start).expect("period");
    let ends = period
        .to
        .with_timezone(&s.timezone)
        .format("%Y-%m-%d %H:%M")
        .to_string();
    (month, ends)
}

fn frozen_rows(t: &Tree) -> i64 {
    Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .query_row("SELECT count(*) FROM frozen_reports", [], |r| r.get(0))
        .expect("count")
}

fn audit(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["audit", "--json"]);
    serde_json::from_slice::<Vec<serde_json::Value>>(&out.stdout).expect("audit json")
}

#[test]
fn freezing_the_current_month_is_refused_and_names_its_end() {
    let t = Tree::new();
    let (month, ends) = current_month(&t);
    let out_file = t.path("current.md");
    let out = t.run(&[
        "report",
        "monthly",
        "--month",
        &month,
        "--freeze",
        "--out",
        &out_file.display().to_string(),
    ]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));
    let msg = text(&out.stderr);
    assert!(
        msg.contains(&format!(
            "report monthly {month} (ja, md): the period has not ended: it ends on {ends} \
             (Asia/Tokyo, operating days start at 00:00)"
        )) && msg.contains("preliminary (速報)"),
        "{msg}"
    );
    assert!(!out_file.exists());
    assert_eq!(frozen_rows(&t), 0);
    // Refused and audited like any refused action.
    let entries = audit(&t);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["action"], "report.freeze");
    assert_eq!(entries[0]["outcome"], "refused");
    assert_eq!(entries[0]["user"], unyo::domain::host::os_user().as_str());
    assert!(
        entries[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains(&ends)),
        "{entries:?}"
    );

    // The fiscal year that is running is refused the same way; writing either is fine.
    let s = Settings::defaults(t.root());
    let year = unyo::engine::dates(&s, Utc::now()).1.to_string();
    let out = t.run(&["report", "yearly", "--fiscal-year", &year, "--freeze"]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));
    assert!(
        text(&out.stderr).contains(&format!("it ends on {}-04-01 00:00", s_year(&year) + 1)),
        "{}",
        both(&out)
    );
    assert!(
        t.run(&["report", "monthly", "--month", &month])
            .status
            .success()
    );
    assert_eq!(frozen_rows(&t), 0);
}

fn s_year(y: &str) -> i32 {
    y.parse().expect("year")
}

#[test]
fn a_report_of_an_open_month_says_it_is_preliminary_and_of_a_closed_one_does_not() {
    let t = Tree::new();
    let (open, _) = current_month(&t);
    let render = |month: &str, args: &[&str]| {
        let mut a = vec!["report", "monthly", "--month", month];
        a.extend_from_slice(args);
        let out = t.run(&a);
        assert!(out.status.success(), "{}", both(&out));
        text(&out.stdout)
    };
    let md_ja = render(&open, &[]);
    assert!(
        md_ja.starts_with("# 【速報】月次運用報告書")
            && md_ja.contains("> **速報**: 対象期間の終了"),
        "{md_ja}"
    );
    let md_en = render(&open, &["--lang", "en"]);
    assert!(
        md_en.starts_with("# PRELIMINARY: Monthly operations report")
            && md_en.contains("> **Preliminary**: made before the period ended"),
        "{md_en}"
    );
    for lang in ["ja", "en"] {
        let html = render(&open, &["--format", "html", "--lang", lang]);
        assert!(html.contains("<p class=\"preliminary\">"), "{html}");
    }
    let html = render(&open, &["--format", "html"]);
    assert!(html.contains("<h1>【速報】"), "{html}");
    let json: serde_json::Value =
        serde_json::from_str(&render(&open, &["--format", "json"])).expect("json");
    assert_eq!(json["preliminary"], true);
    let csv = render(&open, &["--format", "csv"]);
    assert!(
        csv.contains("速報,対象期間の終了前に作成した速報値です"),
        "{csv}"
    );

    // A month that has ended says none of it.
    for lang in ["ja", "en"] {
        let md = render(CLOSED, &["--lang", lang]);
        assert!(
            !md.contains("速報") && !md.to_lowercase().contains("preliminary"),
            "{md}"
        );
        let html = render(CLOSED, &["--format", "html", "--lang", lang]);
        assert!(
            !html.contains("class=\"preliminary\"") && !html.contains("速報"),
            "{html}"
        );
        let csv = render(CLOSED, &["--format", "csv", "--lang", lang]);
        assert!(
            !csv.contains("速報") && !csv.contains("preliminary"),
            "{csv}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_str(&render(CLOSED, &["--format", "json"])).expect("json");
    assert_eq!(json["preliminary"], false);
}

#[test]
fn superseding_a_frozen_report_keeps_both_is_audited_and_verify_says_which_stands() {
    let t = Tree::new();
    let old = t.path("old.md").display().to_string();
    let new = t.path("new.md").display().to_string();
    let freeze = |out: &str, extra: &[&str]| {
        let mut a = vec![
            "report", "monthly", "--month", CLOSED, "--freeze", "--out", out,
        ];
        a.extend_from_slice(extra);
        t.run(&a)
    };
    assert!(freeze(&old, &[]).status.success());
    // Other bytes for the same report: the city wants Western dates now.
    t.file("unyo.yaml", "report:\n  date_style: western\n");
    let out = freeze(&new, &[]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("the frozen one stands (to replace it, recorded: --supersede"),
        "{}",
        both(&out)
    );
    // A reason is required.
    assert_eq!(freeze(&new, &["--supersede"]).status.code(), Some(64));
    let out = freeze(&new, &["--supersede", "--reason", "  "]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert_eq!(frozen_rows(&t), 1);

    let why = "the city asked for Western dates";
    let out = freeze(&new, &["--supersede", "--reason", why]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("frozen as report 2")
            && text(&out.stderr).contains("superseding report 1"),
        "{}",
        both(&out)
    );
    assert_eq!(frozen_rows(&t), 2);
    let user = unyo::domain::host::os_user();

    // The old file: unaltered, but superseded (by which, when, by whom, why): exit 1.
    let out = t.run(&["report", "verify", &old]);
    assert_eq!(out.status.code(), Some(1), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains("unaltered: frozen report 1 (monthly 2025-11, ja, md)")
            && said.contains("SUPERSEDED by report 2")
            && said.contains(&format!("by {user}: {why}")),
        "{said}"
    );
    // The new one stands, and says what it replaced.
    let out = t.run(&["report", "verify", &new]);
    assert!(out.status.success(), "{}", both(&out));
    let said = text(&out.stdout);
    assert!(
        said.contains("frozen report 2")
            && said.contains(&format!("it superseded report 1: {why}"))
            && said.contains("current: it stands"),
        "{said}"
    );
    // Rendered again, the current one is found with the same bytes: nothing to do.
    let out = freeze(&t.path("again.md").display().to_string(), &[]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(text(&out.stderr).contains("frozen before as report 2"));

    // Audited: who and why.
    let entries = audit(&t);
    let s = entries
        .iter()
        .find(|e| e["action"] == "report.supersede")
        .unwrap_or_else(|| panic!("{entries:?}"));
    assert_eq!(s["outcome"], "done");
    assert_eq!(s["user"], user.as_str());
    assert_eq!(s["args"]["reason"], why);
    assert_eq!(s["args"]["supersedes"], 1);

    // The store keeps both and stays append-only; a report is superseded once, and only by
    // one of the same report.
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    let (supersedes, reason): (i64, String) = c
        .query_row(
            "SELECT supersedes, reason FROM frozen_reports WHERE id = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("row 2");
    assert_eq!((supersedes, reason.as_str()), (1, why));
    for sql in [
        "UPDATE frozen_reports SET reason = 'x' WHERE id = 2",
        "DELETE FROM frozen_reports WHERE id = 1",
    ] {
        let err = c.execute(sql, []).expect_err(sql);
        assert!(
            err.to_string().contains("frozen reports never change"),
            "{err}"
        );
    }
    let insert = |period: &str, supersedes: i64| {
        c.execute(
            "INSERT INTO frozen_reports (kind, period, lang, format, data_from, data_to, sha256, \
             body, frozen_at, frozen_by, supersedes, reason) \
             SELECT kind, ?1, lang, format, data_from, data_to, 'x', 'x', frozen_at, 'x', ?2, 'x' \
             FROM frozen_reports WHERE id = 1",
            rusqlite::params![period, supersedes],
        )
    };
    assert!(insert(CLOSED, 1).is_err(), "superseded twice");
    let err = insert("2025-10", 2).expect_err("another report");
    assert!(err.to_string().contains("same report"), "{err}");
}

/// The regression: `--freeze` of a month still running froze a partial month, and from then on
/// the shipped `monthly-report` job failed for that month ("the frozen one stands") with a high
/// incident, for ever. Now the freeze is refused, the job run for an open month ends refused
/// with no incident, and a partial report frozen by an older unyo is superseded, recorded, by
/// the job's run once the month has ended.
#[test]
fn a_partial_month_freeze_made_the_monthly_report_job_fail_forever() {
    let t = Tree::new();
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for f in ["jobs/monthly-report.yaml", "runbooks/escalate.yaml"] {
        t.file(f, &std::fs::read_to_string(repo.join(f)).expect("shipped"));
    }
    let (open, _) = current_month(&t);
    let out = t.run(&["report", "monthly", "--month", &open, "--freeze"]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));

    // The job for the month that runs: refused, nothing frozen, no incident.
    let out = t.run(&["run", "monthly-report", "-p", "month=current"]);
    assert_eq!(out.status.code(), Some(5), "{}", both(&out));
    let r = t.show(1);
    assert_eq!(r["status"], "refused", "{r:#}");
    assert!(
        r["reason"]
            .as_str()
            .is_some_and(|s| s.contains("step `report-ja` refused") && s.contains("has not ended")),
        "{r:#}"
    );
    assert_eq!(frozen_rows(&t), 0);
    let incidents = t.run(&["incidents", "--json"]);
    assert_eq!(text(&incidents.stdout).trim(), "[]", "{}", both(&incidents));

    // A database where an older unyo froze a partial month (frozen on the 5th, before the
    // month ended), in the three forms the job freezes.
    let s = Settings::defaults(t.root());
    let period = Period::parse(CLOSED, s.timezone, s.day_start).expect("period");
    let ts = |d: chrono::DateTime<Utc>| d.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    for (lang, format) in [("ja", "md"), ("en", "md"), ("ja", "json")] {
        c.execute(
            "INSERT INTO frozen_reports (kind, period, lang, format, data_from, data_to, sha256, \
             body, frozen_at, frozen_by) VALUES ('monthly', ?1, ?2, ?3, ?4, ?5, ?6, 'partial', \
             ?7, 'someone')",
            rusqlite::params![
                CLOSED,
                lang,
                format,
                ts(period.from),
                ts(period.to),
                "0".repeat(64),
                ts(period.from + chrono::Duration::days(4)),
            ],
        )
        .expect("insert");
    }
    // Once the month has ended, the job's run succeeds, twice.
    for round in 0..2 {
        let out = t.run(&["run", "monthly-report", "-p", &format!("month={CLOSED}")]);
        assert_eq!(out.status.code(), Some(0), "round {round}: {}", both(&out));
    }
    let incidents = t.run(&["incidents", "--json"]);
    assert_eq!(text(&incidents.stdout).trim(), "[]", "{}", both(&incidents));
    assert_eq!(frozen_rows(&t), 6);
    for file in [
        "monthly-2025-11.ja.md",
        "monthly-2025-11.en.md",
        "monthly-2025-11.json",
    ] {
        let path = t.path(&format!("var/reports/{file}"));
        let out = t.run(&["report", "verify", &path.display().to_string()]);
        assert!(out.status.success(), "{file}: {}", both(&out));
        assert!(
            text(&out.stdout).contains("was preliminary: frozen on 2025-11-05"),
            "{file}: {}",
            both(&out)
        );
    }
    let supersedes = audit(&t)
        .iter()
        .filter(|e| e["action"] == "report.supersede" && e["outcome"] == "done")
        .count();
    assert_eq!(supersedes, 3);
}

/// A database frozen reports were written to before migration 15 keeps them, ids and bytes,
/// through the table's rebuild: they still verify, current.
#[test]
fn migration_15_keeps_the_reports_frozen_before_it() {
    use sha2::Digest as _;
    let t = Tree::new();
    std::fs::create_dir_all(t.path("var")).expect("var");
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    c.execute_batch(
        "CREATE TABLE schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .expect("schema_migrations");
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("migrations")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "sql"))
        .collect();
    files.sort();
    for f in files {
        let name = f.file_name().expect("name").to_string_lossy().into_owned();
        let version: i64 = name[..4].parse().expect("version");
        if version > 14 {
            continue;
        }
        c.execute_batch(&std::fs::read_to_string(&f).expect("sql"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        c.execute(
            "INSERT INTO schema_migrations VALUES (?1, ?2, '2026-11-01T00:00:00Z')",
            rusqlite::params![version, name],
        )
        .expect("record");
    }
    let body = "# signed in November\n";
    let sha = format!("{:x}", sha2::Sha256::digest(body.as_bytes()));
    c.execute(
        "INSERT INTO frozen_reports (id, kind, period, lang, format, data_from, data_to, sha256, \
         body, frozen_at, frozen_by) VALUES (7, 'monthly', '2026-10', 'ja', 'md', \
         '2026-09-30T15:00:00.000000Z', '2026-10-31T15:00:00.000000Z', ?1, ?2, \
         '2026-11-02T01:00:00.000000Z', 'sato')",
        rusqlite::params![sha, body.as_bytes()],
    )
    .expect("frozen before migration 15");
    drop(c);
    let file = t.path("signed.md");
    std::fs::write(&file, body).expect("write");
    let out = t.run(&["report", "verify", &file.display().to_string()]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stdout).contains("frozen report 7 (monthly 2026-10, ja, md)")
            && text(&out.stdout).contains("by sato")
            && text(&out.stdout).contains("current: it stands"),
        "{}",
        both(&out)
    );
    let c = Connection::open(t.path("var/unyo.db")).expect("open");
    let (version, next): (i64, i64) = c
        .query_row(
            "SELECT (SELECT max(version) FROM schema_migrations), \
             (SELECT seq FROM sqlite_sequence WHERE name = 'frozen_reports')",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("versions");
    assert!(version >= 15);
    assert_eq!(next, 7, "new ids go on after the kept ones");
    let err = c
        .execute("DELETE FROM frozen_reports", [])
        .expect_err("append-only");
    assert!(
        err.to_string().contains("frozen reports never change"),
        "{err}"
    );
}
