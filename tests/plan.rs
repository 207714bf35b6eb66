//! The yearly report's draft of the coming fiscal year's work plan (次年度作業計画(案)) against
//! `unyo next` over the same year: the same slots, the same count per job, the same moved and
//! skipped slots with the same reasons, through the real binary on the shipped definitions.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::helper::{Tree, both, text};

/// The shipped definitions and two more schedules: a month-end close that moves to the
/// business day before a closed day, and a night job that waits for its window.
fn tree() -> Tree {
    let t = Tree::from_repo(&["jobs", "runbooks", "schedules"]);
    t.job(
        "month-end",
        "title: 月末締め\nsteps:\n  a:\n    run: echo close\n",
    );
    t.job(
        "night-sum",
        "title: 夜間集計\nwindow: night\nsteps:\n  a:\n    run: echo sum\n",
    );
    t.file(
        "schedules/more.yaml",
        "schedules:\n  - job: month-end\n    cron: \"0 20 L * *\"\n    calendar: city\n    closed_day: previous_business_day\n  - job: night-sum\n    cron: \"0 14 * * 1\"\n",
    );
    t
}

fn ok(t: &Tree, args: &[&str]) -> String {
    let out = t.run(args);
    assert!(out.status.success(), "{args:?}: {}", both(&out));
    text(&out.stdout)
}

/// `YYYY-MM-DD HH:MM` in Tokyo, as the report writes times.
fn tokyo(utc: &Value) -> String {
    let t: DateTime<Utc> = utc.as_str().expect("time").parse().expect("rfc 3339");
    t.with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

#[test]
fn the_yearly_plan_matches_unyo_next_for_the_coming_fiscal_year() {
    let t = tree();
    // The report of fiscal 2027 plans fiscal 2028: 1 April 2028 is a Saturday, 1 October 2028
    // a Sunday.
    let report: Value = serde_json::from_str(&ok(
        &t,
        &[
            "report",
            "yearly",
            "--fiscal-year",
            "2027",
            "--format",
            "json",
        ],
    ))
    .expect("report json");
    let plan = &report["plan"];
    assert_eq!(plan["period"], "FY2028");
    let draft = &plan["draft"];
    assert_eq!(draft["rollover"], "2028-04-01");
    assert_eq!(draft["rollover_ja"], "令和10年(2028年)4月1日");
    let next: Vec<Value> = serde_json::from_str(&ok(
        &t,
        &[
            "next",
            "--from",
            "2028-04-01",
            "--to",
            "2029-03-31 23:59:59",
            "--limit",
            "1000000",
            "--json",
        ],
    ))
    .expect("next json");
    assert!(next.len() > 140_000, "{}", next.len());

    // The same count of runs per job.
    let runs = |d: &str| matches!(d, "run" | "moved" | "waits");
    let mut per_job: BTreeMap<String, u64> = BTreeMap::new();
    for c in next
        .iter()
        .filter(|c| runs(c["decision"].as_str().expect("field")))
    {
        *per_job
            .entry(c["job"].as_str().expect("field").to_owned())
            .or_default() += 1;
    }
    let planned: BTreeMap<String, u64> = plan["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .map(|j| {
            (
                j["name"].as_str().expect("field").to_owned(),
                j["count"].as_u64().expect("field"),
            )
        })
        .collect();
    assert_eq!(planned, per_job);

    // Each schedule: the same runs, moves and skips, the same first and last run, and every
    // slot not run at its fire time with the same decision and reason.
    let schedules = draft["schedules"].as_array().expect("schedules");
    assert_eq!(schedules.len(), 13, "every schedule of the definitions");
    for s in schedules {
        let name = s["schedule"].as_str().expect("field");
        let mine: Vec<&Value> = next.iter().filter(|c| c["schedule"] == name).collect();
        let count = |d: &str| mine.iter().filter(|c| c["decision"] == d).count() as u64;
        let running: Vec<&&Value> = mine
            .iter()
            .filter(|c| runs(c["decision"].as_str().expect("field")))
            .collect();
        assert_eq!(s["runs"], running.len() as u64, "{name}");
        assert_eq!(s["moved"], count("moved"), "{name}");
        assert_eq!(s["skipped"], count("skipped"), "{name}");
        assert_eq!(s["first"], tokyo(&running[0]["due_at"]), "{name}");
        assert_eq!(
            s["last"],
            tokyo(&running[running.len() - 1]["due_at"]),
            "{name}"
        );
        let want: Vec<(String, String, String, String)> = mine
            .iter()
            .filter(|c| c["decision"] != "run")
            .map(|c| {
                (
                    tokyo(&c["fire_time"]),
                    tokyo(&c["due_at"]),
                    c["decision"].as_str().expect("field").to_owned(),
                    c["reason"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let got: Vec<(String, String, String, String)> = s["shifts"]
            .as_array()
            .expect("shifts")
            .iter()
            .map(|x| {
                (
                    x["fire"].as_str().expect("field").to_owned(),
                    x["due"].as_str().expect("field").to_owned(),
                    x["decision"].as_str().expect("field").to_owned(),
                    x["reason"].as_str().expect("field").to_owned(),
                )
            })
            .collect();
        assert_eq!(got, want, "{name}");
        let grouped: u64 = s["shift_groups"]
            .as_array()
            .expect("groups")
            .iter()
            .map(|g| g["count"].as_u64().expect("field"))
            .sum();
        assert_eq!(grouped, want.len() as u64, "{name}");
    }

    // What that means for the HR transfers, the rollover and the month-end close, by hand.
    let of = |job: &str| {
        schedules
            .iter()
            .find(|s| s["job"] == job)
            .unwrap_or_else(|| panic!("{job}"))
    };
    let hr = of("hr-transfer");
    assert_eq!(
        (hr["runs"].as_u64(), hr["moved"].as_u64()),
        (Some(2), Some(2))
    );
    let moves: Vec<(&str, &str, &str)> = hr["shifts"]
        .as_array()
        .expect("field")
        .iter()
        .map(|x| {
            (
                x["fire"].as_str().expect("field"),
                x["due"].as_str().expect("field"),
                x["reason_ja"].as_str().expect("field"),
            )
        })
        .collect();
    assert_eq!(
        moves,
        vec![
            (
                "2028-04-01 07:00",
                "2028-04-03 07:00",
                "土曜日のため営業日へ移動"
            ),
            (
                "2028-10-01 07:00",
                "2028-10-02 07:00",
                "日曜日のため営業日へ移動"
            ),
        ]
    );
    let rollover = of("fiscal-year-rollover");
    assert_eq!(
        rollover["first"], "2028-04-01 06:00",
        "on the Saturday itself"
    );
    assert_eq!(rollover["moved"], 0);
    assert_eq!(rollover["days_rule_ja"], "休業日も実行");
    let close = of("month-end");
    assert_eq!(close["runs"], 12);
    // 30 September 2028 is a Saturday: the close moves to Friday the 29th.
    assert!(
        close["shifts"]
            .as_array()
            .expect("field")
            .iter()
            .any(|x| x["fire"] == "2028-09-30 20:00"
                && x["due"] == "2028-09-29 20:00"
                && x["decision"] == "moved"),
        "{close}"
    );
    let night = of("night-sum");
    assert_eq!(
        night["runs"], 52,
        "every Monday of the year, waiting for its window"
    );
    assert!(
        night["shifts"]
            .as_array()
            .expect("field")
            .iter()
            .all(|x| x["decision"] == "waits" && x["reason_ja"] == "実行時間帯まで待機"),
        "{night}"
    );
    // Grouped for reading, the 52 waits are one line, without any one slot's opening time.
    let groups = night["shift_groups"].as_array().expect("groups");
    assert_eq!(groups.len(), 1, "{night}");
    assert_eq!(groups[0]["count"], 52);
    assert_eq!(groups[0]["reason"], "waiting for window `night`");
    let disk = of("disk-report");
    assert!(
        disk["shift_groups"]
            .as_array()
            .expect("field")
            .iter()
            .any(|g| g["reason_ja"] == "年末年始の休業のため見送り" && g["count"] == 6),
        "{disk}"
    );

    // The Japanese report says it in Japanese: the rollover day, the HR transfers by their
    // title with their moves, and no open proposal yet.
    let md = ok(
        &t,
        &["report", "yearly", "--fiscal-year", "2027", "--lang", "ja"],
    );
    for want in [
        "## 10. 次年度作業計画(案)(令和10年度(2028年度))",
        "- 年度切替日: 令和10年(2028年)4月1日",
        "- 2028-04-01 06:00 「年度切替」(fiscal-year-rollover)",
        "- 2028-04-03 07:00 「人事異動の反映」(hr-transfer)",
        "- 2028-10-02 07:00 「人事異動の反映」(hr-transfer)",
        "| 「人事異動の反映」(hr-transfer) | city | 休業日は翌営業日に移動 | 2 | 07:00 | 2 | 2 | 0 | 2028-04-03 07:00 | 2028-10-02 07:00 |",
        "- 「人事異動の反映」(hr-transfer): 土曜日のため営業日へ移動 1件(04-01→04-03)、日曜日のため営業日へ移動 1件(10-01→10-02)",
        "| 「稼働確認」(health-check) | - | 毎日(休業日なし) | 365 | 30分ごと(00:00〜23:30) | 17520 |",
        "### 改善提案(次年度に継続するもの)\n\nなし\n",
    ] {
        assert!(md.contains(want), "missing {want:?} in:\n{md}");
    }
    // A monthly report has no draft.
    let month: Value = serde_json::from_str(&ok(
        &t,
        &[
            "report", "monthly", "--month", "2027-10", "--format", "json",
        ],
    ))
    .expect("json");
    assert!(month["plan"].get("draft").is_none(), "{}", month["plan"]);
}
