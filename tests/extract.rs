//! `unyo act extract`, `unyo extracts` and the shipped `euc-extract` job, on fresh demo
//! environments in temp dirs: the CSV opens with the right encoding and row count.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use rusqlite::Connection;
use sha2::{Digest, Sha256};

use crate::helper::{Tree, both, text};

fn assert_exit(out: &Output, code: i32) {
    assert_eq!(out.status.code(), Some(code), "{}", both(out));
}

fn demo() -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "queries"]);
    assert_exit(&t.run(&["demo", "init"]), 0);
    t
}

const DB: &str = "var/city/business.db";
const BY_DEPARTMENT: &str = "SELECT id, name, kana, birth_date, department FROM residents \
                             WHERE department = :department ORDER BY id";

fn count(t: &Tree, sql: &str) -> i64 {
    Connection::open(t.path(DB))
        .expect("open")
        .query_row(sql, [], |r| r.get(0))
        .expect(sql)
}

/// `unyo act extract` with a statement written to `query.sql` and the file at `out`.
fn extract(t: &Tree, sql: &str, out: &str, extra: &[&str]) -> Output {
    t.file("query.sql", sql);
    let mut args = vec![
        "act".to_owned(),
        "extract".to_owned(),
        "--db".to_owned(),
        t.path(DB).display().to_string(),
        "--sql".to_owned(),
        t.path("query.sql").display().to_string(),
        "--out".to_owned(),
        t.path(out).display().to_string(),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    t.unyo().args(&args).output().expect("run unyo")
}

/// RFC 4180: quoted fields with doubled quotes, CRLF after every record.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut field) = (Vec::new(), Vec::new(), String::new());
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' => quoted = true,
            ',' => row.push(std::mem::take(&mut field)),
            '\r' => {
                assert_eq!(chars.next(), Some('\n'), "CR without LF");
                row.push(std::mem::take(&mut field));
                rows.push(std::mem::take(&mut row));
            }
            '\n' => panic!("a bare LF ends a line"),
            _ => field.push(c),
        }
    }
    assert!(
        field.is_empty() && row.is_empty() && !quoted,
        "the last record is not ended by CRLF"
    );
    rows
}

/// The text of a UTF-8 file with BOM (which must be there).
fn utf8_bom(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read csv");
    assert_eq!(bytes.get(..3), Some(&b"\xEF\xBB\xBF"[..]), "no BOM");
    String::from_utf8(bytes[3..].to_vec()).expect("utf-8")
}

/// The text of a Shift_JIS file, decoded strictly.
fn shift_jis(path: &Path) -> String {
    let bytes = std::fs::read(path).expect("read csv");
    encoding_rs::SHIFT_JIS
        .decode_without_bom_handling_and_without_replacement(&bytes)
        .expect("valid Shift_JIS")
        .into_owned()
}

fn sha256(path: &Path) -> String {
    format!(
        "{:x}",
        Sha256::digest(std::fs::read(path).expect("read file"))
    )
}

fn extracts(t: &Tree) -> Vec<serde_json::Value> {
    let out = t.run(&["extracts", "--json"]);
    assert_exit(&out, 0);
    serde_json::from_slice(&out.stdout).expect("extracts json")
}

/// Files in a folder (none left half-written).
fn files_in(dir: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(dir) {
        Ok(entries) => entries.map(|e| e.expect("entry").path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn utf8_extract_has_a_bom_the_rows_of_an_independent_count_and_is_recorded() {
    let t = demo();
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/tax.csv",
        &["--param", "department=tax"],
    );
    assert_exit(&out, 0);
    let file = t.path("out/tax.csv");
    let rows = parse_csv(&utf8_bom(&file));
    let expected = count(
        &t,
        "SELECT count(*) FROM residents WHERE department = 'tax'",
    );
    assert!(expected > 1000, "{expected}");
    assert_eq!(rows[0], ["id", "name", "kana", "birth_date", "department"]);
    assert_eq!(rows.len() as i64 - 1, expected);
    assert!(rows[1..].iter().all(|r| r.len() == 5 && r[4] == "tax"));
    // Japanese text arrives as it is in the database.
    let first_name: String = Connection::open(t.path(DB))
        .expect("open")
        .query_row(
            "SELECT name FROM residents WHERE department = 'tax' ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("name");
    assert_eq!(rows[1][1], first_name);
    assert!(!first_name.is_ascii(), "{first_name}");

    let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
    let hash = sha256(&file);
    assert_eq!(
        text(&out.stdout),
        format!("{expected} rows, sha256 {hash}, {}\n", file.display())
    );

    let recorded = extracts(&t);
    assert_eq!(recorded.len(), 1);
    let r = &recorded[0];
    assert_eq!(r["rows"], expected);
    assert_eq!(r["sha256"], hash.as_str());
    assert_eq!(r["out_file"], file.display().to_string());
    assert_eq!(r["encoding"], "utf-8-bom");
    assert_eq!(r["params"], serde_json::json!({"department": "tax"}));
    assert_eq!(
        r["columns"],
        serde_json::json!(["id", "name", "kana", "birth_date", "department"])
    );
    assert!(r["run_id"].is_null() && r["job"].is_null());

    let audit = t.run(&["audit", "--json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).expect("audit");
    let last = audit.last().expect("an audit entry");
    assert_eq!(
        (&last["action"], &last["outcome"]),
        (&"extract".into(), &"done".into())
    );
}

/// Issue 13 item 16: the table cut the path into 20-character pieces and the SHA-256 to 12
/// characters. Piped (this test's stdout is not a terminal), both are printed whole, on the
/// extract's one line.
#[test]
fn extracts_table_prints_the_long_path_and_the_whole_sha256_when_piped() {
    let t = demo();
    let out_rel = format!(
        "out/{}department-tax-residents-for-the-annual-review.csv",
        "nested-folder-with-a-long-name/".repeat(3)
    );
    let out = extract(&t, BY_DEPARTMENT, &out_rel, &["--param", "department=tax"]);
    assert_exit(&out, 0);
    let file = t.path(&out_rel).display().to_string();
    assert!(file.len() > 150, "{file}");
    let hash = sha256(&t.path(&out_rel));
    let table = t.run(&["extracts"]);
    assert_exit(&table, 0);
    let text = text(&table.stdout);
    let line = text
        .lines()
        .find(|l| l.contains(&hash))
        .unwrap_or_else(|| panic!("the whole sha256 {hash}:\n{text}"));
    assert!(line.ends_with(&file), "the whole path on its line:\n{text}");
    assert_eq!(text.lines().count(), 2, "header and one line:\n{text}");
    assert!(!text.contains('…'), "{text}");
}

#[test]
fn shift_jis_extract_decodes_to_the_same_rows_as_the_utf8_one() {
    let t = demo();
    let args = ["--param", "department=welfare", "--columns", "kana,name,id"];
    assert_exit(&extract(&t, BY_DEPARTMENT, "out/utf8.csv", &args), 0);
    let mut sjis_args = args.to_vec();
    sjis_args.extend(["--encoding", "shift_jis"]);
    assert_exit(&extract(&t, BY_DEPARTMENT, "out/sjis.csv", &sjis_args), 0);
    let utf8 = utf8_bom(&t.path("out/utf8.csv"));
    let sjis_bytes = std::fs::read(t.path("out/sjis.csv")).expect("read");
    assert!(
        std::str::from_utf8(&sjis_bytes).is_err(),
        "Japanese text in Shift_JIS is not UTF-8"
    );
    let sjis = shift_jis(&t.path("out/sjis.csv"));
    assert_eq!(sjis, utf8);
    let rows = parse_csv(&sjis);
    assert_eq!(rows[0], ["kana", "name", "id"]);
    assert_eq!(
        rows.len() as i64 - 1,
        count(
            &t,
            "SELECT count(*) FROM residents WHERE department = 'welfare'"
        )
    );
    let recorded = extracts(&t);
    assert_eq!(recorded[0]["encoding"], "shift_jis");
    assert_eq!(
        recorded[0]["sha256"],
        sha256(&t.path("out/sjis.csv")).as_str()
    );
}

#[test]
fn fields_are_quoted_per_rfc_4180_and_null_is_empty() {
    let t = demo();
    let out = extract(
        &t,
        "SELECT 'a,b' AS comma, 'say \"hi\"' AS quote, NULL AS empty, \
         'two' || char(13, 10) || 'lines' AS lines, 42 AS n, 1.5 AS x;",
        "out/q.csv",
        &[],
    );
    assert_exit(&out, 0);
    let raw = utf8_bom(&t.path("out/q.csv"));
    assert_eq!(
        raw,
        "comma,quote,empty,lines,n,x\r\n\"a,b\",\"say \"\"hi\"\"\",,\"two\r\nlines\",42,1.5\r\n"
    );
    assert_eq!(
        parse_csv(&raw)[1],
        ["a,b", "say \"hi\"", "", "two\r\nlines", "42", "1.5"]
    );
}

#[test]
fn an_unmappable_character_names_row_and_column_and_leaves_no_file() {
    let t = demo();
    // 𠮷 (U+20BB7, the "tsuchi-yoshi" of 吉田) has no Shift_JIS form.
    Connection::open(t.path(DB))
        .expect("open")
        .execute(
            "INSERT INTO residents (id, name, kana, birth_date, address, department) \
             VALUES (20001, '𠮷田 花子', 'ヨシダ ハナコ', '1990-05-05', '市内', 'tax')",
            [],
        )
        .expect("insert");
    let row = count(
        &t,
        "SELECT count(*) FROM residents WHERE department = 'tax'",
    );
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/tax/sjis.csv",
        &["--param", "department=tax", "--encoding", "shift_jis"],
    );
    assert_exit(&out, 1);
    let said = text(&out.stderr);
    assert!(
        said.contains(&format!(
            "row {row}, column name: character '𠮷' (U+20BB7) has no Shift_JIS form"
        )),
        "{said}"
    );
    assert_eq!(files_in(&t.path("out/tax")), Vec::<PathBuf>::new());
    assert!(extracts(&t).is_empty());
    // The same rows in UTF-8 are fine.
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/tax/utf8.csv",
        &["--param", "department=tax"],
    );
    assert_exit(&out, 0);
    let rows = parse_csv(&utf8_bom(&t.path("out/tax/utf8.csv")));
    assert_eq!(rows.len() as i64 - 1, row);
    assert_eq!(rows[row as usize][1], "𠮷田 花子");
}

/// A resident registered as a formula comes out as text Excel will not run, unless the
/// extract says `--allow-formulas`; numbers are untouched.
#[test]
fn text_that_looks_like_a_formula_is_written_as_text() {
    let t = demo();
    Connection::open(t.path(DB))
        .expect("open")
        .execute(
            "INSERT INTO residents (id, name, kana, birth_date, address, department) \
             VALUES (20001, '=HYPERLINK(\"http://evil.example\",\"x\")', '@SUM(1)', \
                     '-12', '市内', 'tax')",
            [],
        )
        .expect("insert");
    let last = |file: &str| {
        let rows = parse_csv(&utf8_bom(&t.path(file)));
        rows.last().cloned().expect("a row")
    };
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/tax/guarded.csv",
        &[
            "--param",
            "department=tax",
            "--columns",
            "id,name,kana,birth_date",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        last("out/tax/guarded.csv"),
        [
            "20001",
            "'=HYPERLINK(\"http://evil.example\",\"x\")",
            "'@SUM(1)",
            "-12"
        ]
    );
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/tax/raw.csv",
        &[
            "--param",
            "department=tax",
            "--columns",
            "id,name,kana,birth_date",
            "--allow-formulas",
        ],
    );
    assert_exit(&out, 0);
    assert_eq!(
        last("out/tax/raw.csv"),
        [
            "20001",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "@SUM(1)",
            "-12"
        ]
    );
}

#[test]
fn statements_that_could_write_and_more_than_one_are_refused() {
    let t = demo();
    let before = count(&t, "SELECT count(*) FROM residents");
    for (sql, why) in [
        ("DELETE FROM residents", "could change the database"),
        (
            "INSERT INTO departments (code, name) VALUES ('x', 'y')",
            "could change the database",
        ),
        (
            "SELECT 1; DELETE FROM residents",
            "holds more than one statement",
        ),
        ("SELECT 1; SELECT 2", "holds more than one statement"),
        ("-- nothing here\n", "holds no statement"),
        ("ATTACH DATABASE 'other.db' AS other", "returns no columns"),
    ] {
        let out = extract(&t, sql, "out/x.csv", &[]);
        assert_exit(&out, 1);
        assert!(text(&out.stderr).contains(why), "{sql}: {}", both(&out));
        assert!(!t.path("out/x.csv").exists(), "{sql}");
    }
    assert_eq!(count(&t, "SELECT count(*) FROM residents"), before);
    assert!(!t.path("other.db").exists());
    // Every refusal is on the audit trail; none is recorded as an extract.
    assert!(extracts(&t).is_empty());
    let audit = t.run(&["audit", "--json"]);
    let audit: Vec<serde_json::Value> = serde_json::from_slice(&audit.stdout).expect("audit");
    let refused = audit
        .iter()
        .filter(|a| a["action"] == "extract" && a["outcome"] == "refused")
        .count();
    assert_eq!(refused, 6);
}

#[test]
fn named_parameters_must_all_be_given_and_all_be_used_and_are_only_values() {
    let t = demo();
    let out = extract(&t, BY_DEPARTMENT, "out/x.csv", &[]);
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("no value for parameter `department`"),
        "{}",
        both(&out)
    );
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/x.csv",
        &["--param", "department=tax", "--param", "month=2026-10"],
    );
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("does not use parameter `month`"),
        "{}",
        both(&out)
    );
    let out = extract(
        &t,
        "SELECT id FROM residents WHERE department = ?",
        "out/x.csv",
        &[],
    );
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("write named parameters"),
        "{}",
        both(&out)
    );
    assert!(!t.path("out/x.csv").exists());
    // A value that reads like SQL is only a value: no rows match, nothing is changed.
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/x.csv",
        &["--param", "department=tax' OR '1'='1"],
    );
    assert_exit(&out, 0);
    assert_eq!(parse_csv(&utf8_bom(&t.path("out/x.csv"))).len(), 1);
}

#[test]
fn an_unknown_column_is_refused_with_the_available_ones() {
    let t = demo();
    let out = extract(
        &t,
        BY_DEPARTMENT,
        "out/x.csv",
        &["--param", "department=tax", "--columns", "name,adress"],
    );
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains(
            "column `adress` is not in the result; it has: id, name, kana, birth_date, department"
        ),
        "{}",
        both(&out)
    );
    assert!(!t.path("out/x.csv").exists());
}

#[test]
fn the_file_is_given_the_requested_group() {
    let t = demo();
    let gid = nix::unistd::getegid();
    let group = nix::unistd::Group::from_gid(gid)
        .expect("look up group")
        .expect("the test's group has a name");
    let out = extract(
        &t,
        "SELECT 1 AS one",
        "out/g.csv",
        &["--group", &group.name],
    );
    assert_exit(&out, 0);
    let meta = std::fs::metadata(t.path("out/g.csv")).expect("meta");
    assert_eq!(meta.gid(), gid.as_raw());
    assert_eq!(meta.permissions().mode() & 0o777, 0o640);
    assert_eq!(extracts(&t)[0]["group"], group.name.as_str());

    let out = extract(
        &t,
        "SELECT 1 AS one",
        "out/h.csv",
        &["--group", "no-such-group-here"],
    );
    assert_exit(&out, 1);
    assert!(
        text(&out.stderr).contains("unknown group `no-such-group-here`"),
        "{}",
        both(&out)
    );
    assert!(!t.path("out/h.csv").exists());
}

#[test]
fn the_euc_extract_job_writes_the_chosen_columns_of_its_department_and_month() {
    let t = demo();
    let out = t.run(&[
        "run",
        "euc-extract",
        "-p",
        "department=welfare",
        "-p",
        "month=2026-11",
        "-p",
        "columns=name,age",
        "-p",
        "encoding=shift_jis",
    ]);
    assert_exit(&out, 0);
    let file = t.path("var/city/extracts/welfare/residents-2026-11-1.csv");
    let rows = parse_csv(&shift_jis(&file));
    assert_eq!(rows[0], ["name", "age"]);
    // Independently: welfare residents born in November of an earlier year, and their age.
    let conn = Connection::open(t.path(DB)).expect("open");
    let mut stmt = conn
        .prepare(
            "SELECT name, birth_date FROM residents WHERE department = 'welfare' \
             AND substr(birth_date, 6, 2) = '11' AND birth_date < '2026-11' ORDER BY id",
        )
        .expect("prepare");
    let expected: Vec<Vec<String>> = stmt
        .query_map([], |r| {
            let (name, born): (String, String) = (r.get(0)?, r.get(1)?);
            let year: i64 = born[..4].parse().expect("year");
            Ok(vec![name, (2026 - year).to_string()])
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert!(expected.len() > 100, "{}", expected.len());
    assert_eq!(rows[1..], expected[..]);
    let r = &extracts(&t)[0];
    assert_eq!(
        (&r["run_id"], &r["job"]),
        (&1.into(), &"euc-extract".into())
    );
    assert_eq!(r["rows"], expected.len());
    assert_eq!(r["sha256"], sha256(&file).as_str());

    // A column outside the allowed list is refused before anything runs.
    let out = t.run(&[
        "run",
        "euc-extract",
        "-p",
        "department=tax",
        "-p",
        "columns=name,tax_amount",
    ]);
    assert_exit(&out, 3);
    assert!(
        text(&out.stderr).contains("parameter `columns`: `tax_amount` is not one of"),
        "{}",
        both(&out)
    );
    assert_eq!(extracts(&t).len(), 1);
}

/// Whether the shipped `night` window (22:00-06:00, Asia/Tokyo) is open now.
fn night_is_open() -> bool {
    use chrono::Timelike;
    let hour = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .hour();
    !(6..22).contains(&hour)
}

#[test]
fn submitting_euc_extract_defers_it_to_the_night_window() {
    let t = demo();
    let open_before = night_is_open();
    let out = t.run(&["submit", "euc-extract", "-p", "department=tax"]);
    let open_after = night_is_open();
    assert_exit(&out, 0);
    let id: i64 = text(&out.stdout).trim().parse().expect("run id");
    let (status, not_before): (String, Option<String>) = Connection::open(t.path("var/unyo.db"))
        .expect("open")
        .query_row(
            &format!("SELECT status, not_before FROM runs WHERE id = {id}"),
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("run");
    assert_eq!(status, "queued");
    if open_before != open_after {
        return; // the window opened or closed while it was submitted
    }
    if open_before {
        assert_eq!(not_before, None);
        assert!(text(&out.stderr).contains("window `night` is open"));
    } else {
        let at = chrono::DateTime::parse_from_rfc3339(&not_before.expect("not_before"))
            .expect("time")
            .with_timezone(&chrono_tz::Asia::Tokyo);
        assert_eq!(at.format("%H:%M").to_string(), "22:00");
        assert!(at > chrono::Utc::now() && at < chrono::Utc::now() + chrono::Duration::hours(17));
        assert!(
            text(&out.stderr).contains("(when window `night` (22:00–06:00) opens)"),
            "{}",
            both(&out)
        );
    }
}

#[test]
fn a_bad_department_is_one_error_not_also_a_missing_parameter() {
    // Only the real error: `finance` is not allowed. A parameter given with a bad value was
    // also reported "`department` is required".
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules", "queries"]);
    let out = t.run(&["submit", "euc-extract", "-p", "department=finance"]);
    assert_exit(&out, 3);
    assert_eq!(
        text(&out.stderr),
        "error: parameter `department`: `finance` is not one of: tax, welfare, citizens, \
         planning, it\n"
    );
}
