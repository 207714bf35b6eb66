//! `unyo synth-history`: a generated month is accepted by the reading commands, which proves
//! the rows fit the store's readers (no `unexpected value` errors).

use crate::helper::{Tree, both, text};

#[test]
fn a_generated_month_reads_back_through_the_operator_commands() {
    let t = Tree::new();
    let out = t.run(&["synth-history", "--month", "2026-10", "--runs", "2000"]);
    assert!(out.status.success(), "{}", both(&out));
    assert!(
        text(&out.stdout).starts_with("2026-10: 2000 runs,"),
        "{}",
        both(&out)
    );

    let out = t.run(&["runs", "--json", "--limit", "5000"]);
    assert!(out.status.success(), "{}", both(&out));
    let runs: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("runs json");
    assert_eq!(runs.len(), 2000);
    // One run of each kind the month holds: every step and attempt reads back.
    let mut seen = std::collections::BTreeSet::new();
    for r in &runs {
        let key = (
            r["job"].as_str().unwrap_or("").to_owned(),
            r["status"].as_str().unwrap_or("").to_owned(),
            r["trigger"].as_str().unwrap_or("").to_owned(),
        );
        if key.0.starts_with("batch-") && !seen.is_empty() && key.1 == "succeeded" {
            continue;
        }
        if seen.insert(key) {
            let id = r["id"].as_i64().expect("id");
            let shown = t.show(id);
            assert_eq!(shown["id"], id, "{shown:#}");
            let out = t.run(&["show", &id.to_string()]);
            assert!(out.status.success(), "{}", both(&out));
        }
    }
    assert!(seen.len() >= 15, "{seen:?}");

    for args in [
        &["incidents"][..],
        &["incidents", "--json"],
        &["incident", "show", "1"],
        &["slots", "--limit", "3000"],
        &["slots", "--json", "--limit", "3000"],
        &["audit"],
        &["extracts"],
        &["notifications"],
        &["params", "history"],
        &["permissions", "history"],
    ] {
        let out = t.run(args);
        assert!(out.status.success(), "unyo {args:?}: {}", both(&out));
        assert!(
            !text(&out.stdout).trim().is_empty(),
            "unyo {args:?} printed nothing"
        );
        assert!(
            !text(&out.stderr).contains("unexpected value"),
            "unyo {args:?}: {}",
            both(&out)
        );
    }

    // A database with runs is not filled again.
    let out = t.run(&["synth-history", "--month", "2026-10", "--runs", "2000"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("holds 2000 runs already"),
        "{}",
        both(&out)
    );
}
