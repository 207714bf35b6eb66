//! The daemon's own log (`log:` of unyo.yaml): JSON lines in daily files under `log_dir`,
//! named by the UTC date, the oldest beyond `keep_days` removed, not readable by others;
//! text on stderr by default.

use std::os::unix::fs::PermissionsExt;

use crate::helper::{Daemon, Tree, wait_for};

#[test]
fn json_lines_go_to_daily_files_and_old_files_beyond_keep_days_go() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "log:\n  format: json\n  to: files\n  keep_days: 2\n",
    );
    t.job("nightly", "steps:\n  a:\n    run: echo done\n");
    for day in ["2026-01-01", "2026-01-02", "2026-01-03"] {
        t.file(&format!("var/log/unyo.{day}.log"), "{}\n");
    }
    let d = Daemon::start(&t);
    let today = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let file = t.path(&format!("var/log/unyo.{today}.log"));
    let text = wait_for("the start line in the daily file", || {
        let text = std::fs::read_to_string(&file).ok()?;
        text.contains("unyo daemon started").then_some(text)
    });
    for line in text.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
        assert!(
            v["timestamp"]
                .as_str()
                .is_some_and(|t| t.ends_with("+09:00")),
            "{line}"
        );
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{line}"
        );
    }
    let mode = std::fs::metadata(&file).expect("file").permissions().mode();
    assert_eq!(mode & 0o007, 0, "readable by others: {mode:o}");
    let mut names: Vec<String> = std::fs::read_dir(t.path("var/log"))
        .expect("dir")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        vec![
            "unyo.2026-01-03.log".to_owned(),
            format!("unyo.{today}.log")
        ]
    );
    // Nothing of the log on stderr, but the start line people read.
    assert!(!d.log().contains("\"level\""), "{}", d.log());
    assert_eq!(d.stop(), Some(0));
}

#[test]
fn log_settings_are_checked() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "log:\n  format: xml\n  to: syslog\n  keep_days: 0\nmetrics:\n  listen: localhost\n",
    );
    let out = t.run(&["validate"]);
    assert_eq!(out.status.code(), Some(2));
    let err = crate::helper::text(&out.stderr);
    for m in [
        "`log.format`: `xml` is not `text` or `json`",
        "`log.to`: `syslog` is not `stderr` or `files`",
        "`log.keep_days` must be at least 1",
        "`metrics.listen`: `localhost` is not HOST:PORT",
    ] {
        assert!(err.contains(m), "no `{m}` in {err}");
    }
}
