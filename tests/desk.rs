//! `unyo desk` with the real binary: a request through its life with its events and audit
//! entries, an overdue request flagged, bad input refused with nothing recorded, and a run
//! submitted for a request that the report's ad-hoc table shows with its request.

use crate::helper::{Tree, both, text, wait_for};

fn ok(t: &Tree, args: &[&str]) -> String {
    let out = t.run(args);
    assert!(out.status.success(), "{args:?}: {}", both(&out));
    text(&out.stdout)
}

fn json(t: &Tree, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(t, args)).expect("json")
}

/// The desk's audit entries: (action, target, outcome).
fn desk_audit(t: &Tree) -> Vec<(String, String, String)> {
    json(t, &["audit", "--json"])
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["action"].as_str().is_some_and(|a| a.starts_with("desk.")))
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_owned(),
                e["target"].as_str().unwrap_or_default().to_owned(),
                e["outcome"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn open_fault(t: &Tree) -> String {
    ok(
        t,
        &[
            "desk",
            "open",
            "--requester",
            "山田 花子",
            "--department",
            "税務課",
            "--channel",
            "phone",
            "--category",
            "fault",
            "証明書が印刷できない",
        ],
    )
}

#[test]
fn a_request_through_its_life_is_recorded_and_audited() {
    let t = Tree::new();
    let said = open_fault(&t);
    assert!(
        said.starts_with("request 1 opened (fault); answer due "),
        "{said}"
    );
    for (args, now) in [
        (vec!["triage", "1", "--note", "調査します"], "triaged"),
        (vec!["assign", "1", "--to", "tanaka"], "assigned"),
        (
            vec![
                "escalate",
                "1",
                "--to",
                "vendor",
                "--reason",
                "printer hardware",
            ],
            "escalated",
        ),
        (vec!["consult", "1", "--cost", "300000"], "escalated"),
        (vec!["close", "1", "--result", "プリンタを交換"], "closed"),
    ] {
        let mut all = vec!["desk"];
        all.extend(args);
        let said = ok(&t, &all);
        assert!(said.starts_with(&format!("request 1 {now} by ")), "{said}");
    }
    let r = json(&t, &["desk", "show", "1", "--json"]);
    assert_eq!(r["status"], "closed");
    assert_eq!(r["category"], "fault");
    assert_eq!(r["assignee"], "tanaka");
    assert_eq!(r["escalated_to"], "vendor");
    assert_eq!(r["consultation"], "cost 300000 yen over 100000 yen");
    assert_eq!(r["result"], "プリンタを交換");
    assert_eq!(r["overdue"], false);
    assert!(r["answered_at"].is_string(), "answered at the triage: {r}");
    let events: Vec<(String, String)> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["kind"].as_str().unwrap_or_default().to_owned(),
                e["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let own = |k: &str, v: &str| (k.to_owned(), v.to_owned());
    assert_eq!(
        events,
        vec![
            own("opened", "fault from 山田 花子 (税務課) by phone"),
            own("triaged", "category fault; 調査します"),
            own("assigned", "to tanaka"),
            own("escalated", "to vendor: printer hardware"),
            own("consultation", "cost 300000 yen over 100000 yen"),
            own("closed", "プリンタを交換"),
        ]
    );
    let actor = r["events"][0]["actor"].as_str().expect("actor").to_owned();
    assert!(
        r["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["actor"] == actor.as_str())
    );
    let target = "request 1".to_owned();
    let done = |a: &str| (a.to_owned(), target.clone(), "done".to_owned());
    assert_eq!(
        desk_audit(&t),
        vec![
            done("desk.open"),
            done("desk.triage"),
            done("desk.assign"),
            done("desk.escalate"),
            done("desk.consult"),
            done("desk.close"),
        ]
    );
    // The text form shows the same, and a closed request is no longer listed by default.
    let shown = ok(&t, &["desk", "show", "1"]);
    assert!(
        shown.contains("consultation:  cost 300000 yen over 100000 yen")
            && shown.contains("result:        プリンタを交換"),
        "{shown}"
    );
    assert_eq!(ok(&t, &["desk", "list"]), "no requests recorded\n");
    assert!(ok(&t, &["desk", "list", "--all"]).contains("証明書が印刷できない"));
}

#[test]
fn a_request_past_its_answer_deadline_is_flagged_until_answered() {
    let t = Tree::new();
    t.file("unyo.yaml", "desk:\n  deadlines:\n    fault: 1s\n");
    open_fault(&t);
    ok(
        &t,
        &[
            "desk",
            "open",
            "--requester",
            "佐藤",
            "--department",
            "市民課",
            "--category",
            "inquiry",
            "窓口の件数",
        ],
    );
    let listed = wait_for("the fault to be overdue", || {
        let l = ok(&t, &["desk", "list"]);
        l.contains("open!").then_some(l)
    });
    assert_eq!(
        listed.matches("open!").count(),
        1,
        "only the fault: {listed}"
    );
    assert!(
        listed.contains("! = past its answer deadline and not answered"),
        "{listed}"
    );
    let list = json(&t, &["desk", "list", "--json"]);
    let overdue: Vec<bool> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|r| r["overdue"].as_bool().expect("bool"))
        .collect();
    assert_eq!(overdue, vec![true, false]);
    assert!(ok(&t, &["desk", "show", "1"]).contains("(answer overdue)"));
    let status = ok(&t, &["status"]);
    assert!(
        status.contains("requests:   2 not closed, 1 past their answer deadline"),
        "{status}"
    );
    // Answered (late): no longer flagged, and `show` says it was late.
    ok(&t, &["desk", "triage", "1"]);
    assert!(!ok(&t, &["desk", "list"]).contains('!'));
    assert!(ok(&t, &["desk", "show", "1"]).contains("(late)"));
}

#[test]
fn bad_input_is_refused_clearly_and_nothing_is_recorded() {
    let t = Tree::new();
    let out = t.run(&[
        "desk",
        "open",
        "--requester",
        "佐藤",
        "--department",
        "市民課",
        "--category",
        "complaint",
        "x",
    ]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains(
            "unknown category `complaint`; expected one of: request, consultation, inquiry, fault"
        ),
        "{}",
        both(&out)
    );
    let out = t.run(&[
        "desk",
        "open",
        "--requester",
        " ",
        "--department",
        "市民課",
        "--category",
        "inquiry",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(text(&out.stderr).contains("--requester must not be empty"));
    assert_eq!(ok(&t, &["desk", "list", "--all"]), "no requests recorded\n");

    open_fault(&t);
    ok(&t, &["desk", "close", "1", "--result", "done"]);
    let before = json(&t, &["desk", "show", "1", "--json"]);
    for (args, said) in [
        (
            vec!["desk", "close", "1", "--result", "again"],
            "request 1 is closed already (by ",
        ),
        (
            vec!["desk", "assign", "9", "--to", "x"],
            "no request 9 is recorded",
        ),
        (
            vec!["desk", "consult", "1", "--effort", "2"],
            "no consultation needed: the estimate is within the thresholds",
        ),
    ] {
        let out = t.run(&args);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", both(&out));
        assert!(text(&out.stderr).contains(said), "{args:?}: {}", both(&out));
    }
    let out = t.run(&["desk", "show", "9"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("no request 9 is recorded"));
    assert_eq!(
        json(&t, &["desk", "show", "1", "--json"]),
        before,
        "nothing written"
    );
    // The refusals the store decided are audited as refused, as an incident's are.
    let refused: Vec<(String, String)> = desk_audit(&t)
        .into_iter()
        .filter(|(_, _, o)| o == "refused")
        .map(|(a, target, _)| (a, target))
        .collect();
    assert_eq!(
        refused,
        vec![
            ("desk.close".to_owned(), "request 1".to_owned()),
            ("desk.assign".to_owned(), "request 9".to_owned()),
        ]
    );
}

#[test]
fn a_run_submitted_for_a_request_shows_in_the_reports_adhoc_table() {
    let t = Tree::new();
    t.job(
        "extract",
        "adhoc: true\nsteps:\n  a:\n    run: echo extracted\n",
    );
    open_fault(&t);
    let out = t.run(&[
        "submit",
        "extract",
        "--request",
        "1",
        "--reason",
        "課税データ",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    assert_eq!(text(&out.stdout), "1\n");
    assert!(text(&out.stderr).contains("(request 1)"), "{}", both(&out));
    let r = json(&t, &["desk", "show", "1", "--json"]);
    let linked: Vec<&serde_json::Value> = r["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["kind"] == "linked")
        .collect();
    assert_eq!(linked.len(), 1, "{r}");
    assert_eq!(linked[0]["run_id"], 1);
    assert!(ok(&t, &["desk", "show", "1"]).contains("runs:          1"));
    assert_eq!(
        desk_audit(&t)[1],
        (
            "desk.link".to_owned(),
            "request 1".to_owned(),
            "done".to_owned()
        ),
        "the link is audited as `desk link` is"
    );

    // Unknown and closed requests are refused before anything is queued.
    for (n, said) in [
        ("7", "no request 7 is recorded"),
        ("1", "request 1 is closed"),
    ] {
        if n == "1" {
            ok(&t, &["desk", "close", "1", "--result", "抽出済み"]);
        }
        let out = t.run(&["submit", "extract", "--request", n]);
        assert_eq!(out.status.code(), Some(3), "{}", both(&out));
        assert!(text(&out.stderr).contains(said), "{}", both(&out));
    }
    assert_eq!(
        json(&t, &["runs", "--json"])
            .as_array()
            .expect("runs")
            .len(),
        1,
        "no run queued for a refused request"
    );

    // The month's report (preliminary) shows the run with its request.
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m")
        .to_string();
    let report = json(
        &t,
        &["report", "monthly", "--month", &month, "--format", "json"],
    );
    let adhoc = &report["adhoc"][0];
    assert_eq!(adhoc["run_id"], 1);
    assert_eq!(adhoc["request"], 1);
    assert_eq!(adhoc["request_requester"], "山田 花子");
    assert_eq!(adhoc["department"], "税務課");
    assert_eq!(report["desk"]["total"]["received"], 1);
    let ja = ok(&t, &["report", "monthly", "--month", &month]);
    assert!(ja.contains("| 1 | 山田 花子 | 税務課 |"), "{ja}");
    assert!(ja.contains("| 障害連絡 | 1 |"), "{ja}");
}

/// With `departments:` in unyo.yaml a request names a department by its code or its title
/// and is recorded by its code; an unknown one is refused and nothing is recorded (a
/// misspelt department would be counted apart in every report after). The Japanese report
/// shows each department by its title, the English one by its code.
#[test]
fn departments_are_named_by_code_or_title_and_the_report_shows_their_titles() {
    let t = Tree::new();
    t.file(
        "unyo.yaml",
        "departments:\n  tax: { title: 税務課 }\n  citizens: { title: 市民課 }\n",
    );
    t.job(
        "extract",
        "adhoc: true\nsteps:\n  a:\n    run: echo extracted\n",
    );
    let open = |department: &str| {
        t.run(&[
            "desk",
            "open",
            "--requester",
            "山田 花子",
            "--department",
            department,
            "--category",
            "request",
            "課税データの抽出",
        ])
    };
    for unknown in ["総務課", "citizen"] {
        let out = open(unknown);
        assert_eq!(out.status.code(), Some(3), "{}", both(&out));
        assert!(
            text(&out.stderr).contains(&format!("--department: unknown department `{unknown}`")),
            "{}",
            both(&out)
        );
    }
    let out = open("citizen");
    assert!(
        text(&out.stderr).contains("(did you mean `citizens`?); the departments of unyo.yaml are: tax (税務課), citizens (市民課)"),
        "{}",
        both(&out)
    );
    assert_eq!(ok(&t, &["desk", "list", "--all"]), "no requests recorded\n");

    for (department, code) in [("税務課", "tax"), ("citizens", "citizens")] {
        let out = open(department);
        assert!(out.status.success(), "{}", both(&out));
        let id = text(&out.stdout)
            .split_whitespace()
            .nth(1)
            .expect("id")
            .to_owned();
        let r = json(&t, &["desk", "show", &id, "--json"]);
        assert_eq!(r["department"], code, "{r}");
    }
    // The audit records the code, as the request does.
    let opened = json(&t, &["audit", "--json"]);
    let departments: Vec<&str> = opened
        .as_array()
        .expect("array")
        .iter()
        .filter(|e| e["action"] == "desk.open")
        .filter_map(|e| e["args"]["department"].as_str())
        .collect();
    assert_eq!(departments.len(), 2, "{opened}");
    assert!(departments.contains(&"tax") && departments.contains(&"citizens"));
    // Listing by title finds the request recorded by code.
    let listed = json(&t, &["desk", "list", "--department", "税務課", "--json"]);
    assert_eq!(listed.as_array().expect("array").len(), 1, "{listed}");
    assert!(ok(&t, &["desk", "show", "1"]).contains("(tax 税務課)"));

    let out = t.run(&["submit", "extract", "--request", "1"]);
    assert!(out.status.success(), "{}", both(&out));
    let month = chrono::Utc::now()
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m")
        .to_string();
    let report = |args: &[&str]| {
        let mut all = vec!["report", "monthly", "--month", month.as_str()];
        all.extend_from_slice(args);
        ok(&t, &all)
    };
    let ja = report(&["--lang", "ja"]);
    for want in [
        "| 市民課 | 1 | 0 | 0 | 1 | 0 |",
        "| 税務課 | 1 | 0 | 0 | 1 | 0 |",
        "| 1 | 山田 花子 | 税務課 |",
    ] {
        assert!(ja.contains(want), "missing {want:?} in:\n{ja}");
    }
    assert!(!ja.contains("| tax |") && !ja.contains("citizens"), "{ja}");
    let en = report(&["--lang", "en"]);
    assert!(
        en.contains("| tax | 1 |") && en.contains("| 1 | 山田 花子 | tax |"),
        "{en}"
    );
    let html = report(&["--lang", "ja", "--format", "html"]);
    assert!(
        html.contains("<td>税務課</td>") && !html.contains(">tax<"),
        "{html}"
    );
    let csv = report(&["--lang", "ja", "--format", "csv"]);
    assert!(csv.contains("\r\n税務課,1,0,0,1,0\r\n"), "{csv}");
    assert_eq!(
        json(
            &t,
            &["report", "monthly", "--month", &month, "--format", "json"]
        )["department_titles"]["tax"],
        "税務課"
    );
}
