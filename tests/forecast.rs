//! `unyo next`: the coming slots with the reason for each decision, from the definitions
//! alone.

use crate::helper::{Tree, both, text};

fn city_tree() -> Tree {
    let t = Tree::from_repo(&["schedules"]);
    t.job("close", "steps:\n  a:\n    run: echo close\n");
    t.job(
        "extract",
        "window: night\nsteps:\n  a:\n    run: echo extract\n",
    );
    t.file(
        "schedules/more.yaml",
        "schedules:\n  - job: close\n    cron: \"0 9 * * *\"\n    calendar: city\n    closed_day: next_business_day\n  - job: extract\n    cron: \"0 14 * * 1\"\n",
    );
    t
}

#[test]
fn next_shows_moved_and_waiting_slots_with_their_reasons() {
    let t = city_tree();
    // The shipped jobs are not in this tree; only their schedules would be, so drop them.
    std::fs::write(
        t.path("schedules/city.yaml"),
        std::fs::read_to_string(t.path("schedules/city.yaml"))
            .expect("read")
            .split("\nschedules:")
            .next()
            .expect("head"),
    )
    .expect("write");
    let out = t.run(&[
        "next",
        "close",
        "--from",
        "2027-01-01",
        "--to",
        "2027-01-06",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "2027-01-04 09:00  close  moved from 2027-01-02 09:00, closed (year-end closure)\n"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("2027-01-05 09:00  close  run\n"),
        "{stdout}"
    );
    // Every slot of the closure (from 12-29) is due on the 4th, plus the 4th and the 5th.
    assert_eq!(stdout.lines().count(), 1 + 6 + 1 + 1, "{stdout}");
    let out = t.run(&[
        "next",
        "--from",
        "2027-01-04",
        "--to",
        "2027-01-05",
        "--json",
    ]);
    assert!(out.status.success(), "{}", both(&out));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let extract = v
        .as_array()
        .expect("array")
        .iter()
        .find(|c| c["job"] == "extract")
        .expect("the Monday extract");
    assert_eq!(extract["decision"], "waits");
    assert_eq!(extract["due_at"], "2027-01-04T05:00:00Z");
    assert!(
        extract["reason"]
            .as_str()
            .is_some_and(|r| r.contains("waiting for window `night` (opens 2027-01-04 22:00)")),
        "{extract}"
    );
    let out = t.run(&["next", "nope"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    let out = t.run(&["next", "--from", "yesterday"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(text(&out.stderr).contains("--from: bad time `yesterday`"));
}
