//! The monthly report's HTML form printed to PDF by headless Chromium, as the city receives
//! it: A4 pages, every section heading and the figures of the JSON form in the text (so the
//! Japanese font was there and the page was not blank), page numbers in the footer, no
//! URL or date header, and no console message from the page. Chromium, `pdfinfo` and
//! `pdftotext` must be installed (Debian's `chromium`, `fonts-noto-cjk`, `poppler-utils`;
//! `.ci/run` installs them): without them these tests fail, they never skip.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::helper::{Tree, both, text};

/// A hung browser fails the test after this long instead of hanging it.
const CHROMIUM_TIMEOUT: Duration = Duration::from_secs(60);

/// The shipped definitions and settings (with their `service:` levels, and the cover's
/// contract, author and approver added) and a synthetic October 2026 (`unyo synth-history`,
/// seed 1).
fn tree() -> Tree {
    let t = Tree::from_repo(&["jobs", "schedules", "runbooks"]);
    let settings = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("unyo.yaml");
    t.file(
        "unyo.yaml",
        &format!(
            "{}\n{COVER}",
            std::fs::read_to_string(settings).expect("the shipped unyo.yaml")
        ),
    );
    let out = t.run(&["synth-history", "--month", "2026-10", "--runs", "2000"]);
    assert!(out.status.success(), "{}", both(&out));
    t
}

/// The cover's settings the printed reports show.
const COVER: &str = "report:\n  contract: 基幹系システム運用保守業務委託(契約番号 R8-0123)\n  \
                     author: 運用太郎\n  approver: 政策企画課長\n";

/// What each language's cover prints (compared without white space): the contract, the
/// period as a date range, the author and approver lines with their date lines (blank in
/// English, where no date is pre-printed).
const COVER_JA: [&str; 4] = [
    "契約:基幹系システム運用保守業務委託(契約番号R8-0123)",
    "対象期間:令和8年(2026年)10月1日〜令和8年(2026年)10月31日",
    "作成者運用太郎年月日",
    "承認者政策企画課長年月日",
];
const COVER_EN: [&str; 4] = [
    "Contract:基幹系システム運用保守業務委託(契約番号R8-0123)",
    "Period:1October2026to31October2026",
    "Author運用太郎",
    "Approver政策企画課長",
];

/// Writes the report of October 2026 in this language and form to `file` under the tree.
fn report(t: &Tree, lang: &str, format: &str, file: &str) -> std::path::PathBuf {
    let path = t.path(file);
    let out = t.run(&[
        "report",
        "monthly",
        "--month",
        "2026-10",
        "--lang",
        lang,
        "--format",
        format,
        "--out",
        &path.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", both(&out));
    path
}

/// What one Chromium print left behind.
struct Printed {
    pdf: std::path::PathBuf,
    stderr: String,
}

/// Prints `html` to `pdf` with headless Chromium in a fresh profile, logging to stderr; the
/// browser's process group is killed when it outlives [`CHROMIUM_TIMEOUT`].
fn print(html: &Path, pdf: &Path) -> Printed {
    let dir = tempfile::tempdir().expect("temp dir");
    let err_path = dir.path().join("stderr");
    let err = std::fs::File::create(&err_path).expect("stderr file");
    let mut child = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            "--enable-logging=stderr",
            "--v=0",
            "--no-pdf-header-footer",
        ])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", html.display()))
        .env_remove("DISPLAY")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(err)
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot start chromium ({e}): install Debian's `chromium` (.ci/run does)")
        });
    let group = nix::unistd::Pid::from_raw(i32::try_from(child.id()).expect("pid"));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait for chromium") {
            break status;
        }
        if start.elapsed() > CHROMIUM_TIMEOUT {
            let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
            let _ = child.wait();
            panic!(
                "chromium did not finish printing {} within {CHROMIUM_TIMEOUT:?}; killed\n{}",
                html.display(),
                std::fs::read_to_string(&err_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever of the browser is left in its group goes with it.
    let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
    let stderr = std::fs::read_to_string(&err_path).expect("chromium stderr");
    assert!(status.success(), "chromium: {status}\n{stderr}");
    assert!(
        pdf.is_file(),
        "chromium wrote no {}\n{stderr}",
        pdf.display()
    );
    Printed {
        pdf: pdf.to_owned(),
        stderr,
    }
}

/// The console messages of the page in Chromium's log. Chromium 156 logs every message of
/// an ordinary page at INFO (`[…:INFO:CONSOLE:12] "text", source: file://… (12)`), whatever
/// its level, so any one of them counts: the report has no script to log anything.
fn console_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE:") || l.contains(":CONSOLE("))
        .collect()
}

/// Runs a poppler tool on `pdf` (its last argument but `after`) and returns its stdout.
fn poppler(tool: &str, args: &[&str], pdf: &Path, after: &[&str]) -> String {
    let out = Command::new(tool)
        .args(args)
        .arg(pdf)
        .args(after)
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run {tool} ({e}): install Debian's `poppler-utils` (.ci/run does)")
        });
    assert!(out.status.success(), "{tool}: {}", both(&out));
    text(&out.stdout)
}

/// The size of every page in points, from `pdfinfo -f 1 -l N`.
fn page_sizes(pdf: &Path) -> Vec<(f64, f64)> {
    poppler("pdfinfo", &["-f", "1", "-l", "9999"], pdf, &[])
        .lines()
        .filter(|l| l.starts_with("Page ") && l.contains(" size:"))
        .map(|l| {
            let dims = l.split_once("size:").expect("size").1;
            let mut it = dims.split_whitespace();
            let w = it.next().expect("width").parse().expect("width");
            assert_eq!(it.next(), Some("x"), "{l}");
            let h = it.next().expect("height").parse().expect("height");
            (w, h)
        })
        .collect()
}

/// The text without white space.
fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

/// Headings as the template writes them, per language.
const HEADINGS_JA: &[&str] = &[
    "月次運用報告書 令和8年(2026年)10月分",
    "1. 総括",
    "2. サービスレベル達成状況",
    "3. ジョブ別実績",
    "4. 稼働監視の状況",
    "5. 障害・インシデント",
    "6. サービスデスク(問合せ対応状況)",
    "7. 随時依頼への対応",
    "8. 変更管理",
    "9. 改善提案",
    "10. 次月予定(2026-11)",
];
const HEADINGS_EN: &[&str] = &[
    "Monthly operations report, October 2026",
    "1. Summary",
    "2. Service levels",
    "3. Jobs",
    "4. Monitoring",
    "5. Incidents",
    "6. Service desk",
    "7. Ad-hoc requests",
    "8. Changes",
    "9. Improvement proposals",
    "10. Next month (2026-11)",
];

/// The pages of each language's PDF of the fixed history (the cover included), as observed with Chromium 156 and
/// Noto Sans CJK JP. Stable: `synth-history` writes the same rows for the same month, runs and
/// seed, the report renders them to the same bytes, and the page depends on nothing else
/// but the shipped definitions, the template's print rules and the font. A change to any of
/// those may move a page break: look at the pages (`pdftoppm -png -r 60`), then pin anew.
const PAGES_JA: usize = 7;
const PAGES_EN: usize = 7;

/// The Japanese and English reports of the synthetic October print to A4 PDFs of the pinned
/// number of pages holding every heading and the figures of the JSON form, without a console
/// message, without the browser's URL/date header.
#[test]
fn the_html_report_prints_to_a4_pdf_in_both_languages() {
    let t = tree();
    let json: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(report(&t, "en", "json", "report.json")).expect("json"),
    )
    .expect("parse json");
    let s = &json["summary"];
    // Figures of the JSON form, written as the HTML writes them.
    let mut figures: Vec<String> = ["runs", "succeeded", "mtta_minutes", "mttr_minutes"]
        .iter()
        .map(|k| s[*k].to_string())
        .collect();
    figures.push(format!("{}%", s["success_rate"]));
    figures.push(format!("{} / {}", s["sla_met"], s["sla_items"]));
    let adhoc = &json["adhoc"][0];
    figures.push(adhoc["requester"].as_str().expect("requester").to_owned());
    figures.push(adhoc["rows"].to_string());
    assert_eq!(s["runs"], 2000, "the fixed history");

    for (lang, headings, pages, adhoc_header, cover) in [
        ("ja", HEADINGS_JA, PAGES_JA, "依頼者", COVER_JA),
        ("en", HEADINGS_EN, PAGES_EN, "requester", COVER_EN),
    ] {
        let html = report(&t, lang, "html", &format!("report.{lang}.html"));
        let printed = print(&html, &t.path(&format!("report.{lang}.pdf")));

        let sizes = page_sizes(&printed.pdf);
        assert!(sizes.len() > 1, "{lang}: page breaks exercised: {sizes:?}");
        assert_eq!(sizes.len(), pages, "{lang}: pages");
        for (w, h) in &sizes {
            assert!(
                (w - 595.0).abs() < 1.0 && (h - 842.0).abs() < 1.0,
                "{lang}: not A4: {sizes:?}"
            );
        }

        // pdftotext drops the narrow spaces of small type ("3 / 6" comes out "3/6"), so the
        // text is compared without white space.
        let pdf_text = poppler("pdftotext", &["-enc", "UTF-8"], &printed.pdf, &["-"]);
        let flat = squeeze(&pdf_text);
        for h in headings {
            assert!(
                flat.contains(&squeeze(h)),
                "{lang}: no heading {h:?} in\n{pdf_text}"
            );
        }
        // The cover is on the first page; its rows read in order with `-layout`.
        let first = poppler(
            "pdftotext",
            &["-enc", "UTF-8", "-layout", "-f", "1", "-l", "1"],
            &printed.pdf,
            &["-"],
        );
        for c in cover {
            assert!(
                squeeze(&first).contains(c),
                "{lang}: no cover line {c:?} on the first page:\n{first}"
            );
        }
        for f in &figures {
            assert!(
                flat.contains(&squeeze(f)),
                "{lang}: no {f:?} in\n{pdf_text}"
            );
        }
        // The bottom margin of every page (its last 45 pt) holds its number "n / N" (the
        // @page margin box) and nothing else.
        let mut adhoc_headers = 0;
        for n in 1..=sizes.len() {
            let n_s = n.to_string();
            let page = poppler(
                "pdftotext",
                &["-enc", "UTF-8", "-f", &n_s, "-l", &n_s],
                &printed.pdf,
                &["-"],
            );
            adhoc_headers += usize::from(squeeze(&page).contains(adhoc_header));
            let footer = poppler(
                "pdftotext",
                &[
                    "-enc", "UTF-8", "-f", &n_s, "-l", &n_s, "-x", "0", "-y", "797", "-W", "595",
                    "-H", "45",
                ],
                &printed.pdf,
                &["-"],
            );
            assert_eq!(
                squeeze(&footer),
                format!("{n}/{}", sizes.len()),
                "{lang}: the foot of page {n}"
            );
        }
        // The ad-hoc requests table runs over a page break in this history, and its header row
        // (`<thead>`) is printed again on the next page.
        assert!(
            adhoc_headers >= 2,
            "{lang}: the ad-hoc requests' header {adhoc_header:?} on {adhoc_headers} page(s)"
        );
        // No header or footer of the browser's own: no URL, no file name.
        assert!(
            !pdf_text.contains("file:") && !pdf_text.contains(&format!("report.{lang}.html")),
            "{lang}: a browser header or footer in\n{pdf_text}"
        );
        let console = console_lines(&printed.stderr);
        assert!(console.is_empty(), "{lang}: console messages: {console:#?}");
    }
}

/// The console detector finds a page's `console.error`: the check above cannot pass only
/// because Chromium logged nothing.
#[test]
fn the_console_detector_finds_an_error_of_a_control_page() {
    let dir = tempfile::tempdir().expect("temp dir");
    let html = dir.path().join("control.html");
    std::fs::write(
        &html,
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body><p>control</p>\
         <script>console.error(\"unyo control error 4711\");</script></body></html>\n",
    )
    .expect("write control page");
    let printed = print(&html, &dir.path().join("control.pdf"));
    let console = console_lines(&printed.stderr);
    assert!(
        console
            .iter()
            .any(|l| l.contains("unyo control error 4711") && l.contains("control.html")),
        "the control page's console.error was not found in\n{}",
        printed.stderr
    );
    assert_eq!(console.len(), 1, "{console:#?}");
}

/// A report of the month under way prints its preliminary banner (速報) on paper too.
#[test]
fn a_preliminary_report_prints_its_banner() {
    let t = Tree::new();
    let s = unyo::model::Settings::defaults(t.root());
    let today = unyo::calendar::business_date(chrono::Utc::now(), s.timezone, s.day_start);
    let month = today.format("%Y-%m").to_string();
    let html = t.path("open.html");
    let out = t.run(&[
        "report",
        "monthly",
        "--month",
        &month,
        "--format",
        "html",
        "--out",
        &html.display().to_string(),
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let printed = print(&html, &t.path("open.pdf"));
    let words = squeeze(&poppler("pdftotext", &[], &printed.pdf, &["-"]));
    assert!(
        words.contains("【速報】月次運用報告書")
            && words.contains("速報値です。確定値ではありません。"),
        "{words}"
    );
}

/// The yearly report of fiscal 2026 prints with its closing section, the draft of fiscal
/// 2027's work plan: its heading and sub-headings, the rollover date, the HR transfers' rule
/// in the plan table and the proposals carried into it, in both languages, A4, numbered, no console message.
#[test]
fn the_yearly_report_prints_its_draft_plan_of_the_next_year() {
    let t = tree();
    for (lang, wants) in [
        (
            "ja",
            [
                "10. 次年度作業計画(案)(令和9年度(2027年度))",
                "主要日程",
                "年度切替日: 令和9年(2027年)4月1日",
                "定期作業の予定",
                "休業日は翌営業日に移動",
                "改善提案(次年度に継続するもの)",
            ],
        ),
        (
            "en",
            [
                "10. Draft work plan of the next fiscal year (FY2027)",
                "Key dates",
                "Fiscal-year rollover: 2027-04-01",
                "Scheduled work",
                "moved to the next business day",
                "Improvement proposals carried into the year",
            ],
        ),
    ] {
        let html = t.path(&format!("year.{lang}.html"));
        let out = t.run(&[
            "report",
            "yearly",
            "--fiscal-year",
            "2026",
            "--lang",
            lang,
            "--format",
            "html",
            "--out",
            &html.display().to_string(),
        ]);
        assert!(out.status.success(), "{}", both(&out));
        let printed = print(&html, &t.path(&format!("year.{lang}.pdf")));
        let sizes = page_sizes(&printed.pdf);
        assert!(
            sizes
                .iter()
                .all(|(w, h)| (w - 595.0).abs() < 1.0 && (h - 842.0).abs() < 1.0),
            "{lang}: not A4: {sizes:?}"
        );
        let pdf_text = poppler("pdftotext", &["-enc", "UTF-8"], &printed.pdf, &["-"]);
        let flat = squeeze(&pdf_text);
        for want in wants {
            assert!(
                flat.contains(&squeeze(want)),
                "{lang}: no {want:?} in\n{pdf_text}"
            );
        }
        // The plan closes the report: its heading is on the last pages, after section 8.
        let last = sizes.len().to_string();
        let tail = poppler(
            "pdftotext",
            &["-enc", "UTF-8", "-f", &last, "-l", &last],
            &printed.pdf,
            &["-"],
        );
        assert!(
            squeeze(&tail).contains(&squeeze(wants[5])),
            "{lang}: the proposals are not on the last page:\n{tail}"
        );
        let console = console_lines(&printed.stderr);
        assert!(console.is_empty(), "{lang}: console messages: {console:#?}");
    }
}
