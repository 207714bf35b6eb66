//! `unyo calendar`: the shipped `city` calendar day by day, its JSON, and the errors that name
//! calendars and years.

use crate::helper::{Tree, both, text};

/// The shipped definitions (jobs and runbooks too, so the schedules' references resolve).
fn shipped() -> Tree {
    Tree::from_repo(&["jobs", "runbooks", "schedules"])
}

#[test]
fn city_calendar_2027_day_by_day() {
    let t = shipped();
    let out = t.run(&["calendar", "--year", "2027"]);
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    // A header, 365 days, the summary.
    assert_eq!(lines.len(), 367, "{stdout}");
    assert_eq!(lines[0], "DATE        DAY  STATUS    REASON");
    for expected in [
        "2027-01-01  Fri  closed    year-end closure",
        "2027-01-02  Sat  closed    year-end closure",
        "2027-01-03  Sun  closed    year-end closure",
        "2027-01-04  Mon  business",
        "2027-01-11  Mon  closed    public holiday 成人の日 (Coming of Age Day)",
        "2027-03-21  Sun  closed    public holiday 春分の日 (Vernal Equinox Day)",
        "2027-03-22  Mon  closed    public holiday 春分の日 振替休日 (Substitute holiday for Vernal Equinox Day)",
        "2027-03-31  Wed  business",
        "2027-04-01  Thu  business",
        "2027-05-04  Tue  closed    public holiday みどりの日 (Greenery Day)",
        "2027-12-25  Sat  closed    weekend (Sat)",
        "2027-12-28  Tue  business",
        "2027-12-29  Wed  closed    year-end closure",
        "2027-12-31  Fri  closed    year-end closure",
    ] {
        assert!(
            lines.contains(&expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // Counted independently from the holiday oracle: 104 weekend days; 17 holidays, of which
    // 03-21 is a Sunday and 01-01 inside the closure, leave 15 weekdays; the year-end closure
    // adds 4 weekdays (01-01, 12-29..12-31). 104 + 15 + 4 = 123 closed, 365 − 123 = 242.
    assert_eq!(lines[366], "2027: 242 business days, 123 closed");
}

#[test]
fn closed_days_only() {
    let t = shipped();
    let out = t.run(&["calendar", "--year", "2027", "--closed"]);
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1 + 123 + 1, "{stdout}");
    assert!(
        lines[1..124].iter().all(|l| l.contains("  closed  ")),
        "{stdout}"
    );
    assert_eq!(lines[1], "2027-01-01  Fri  closed  year-end closure");
    assert_eq!(lines[124], "2027: 242 business days, 123 closed");
}

#[test]
fn json_lists_every_day() {
    let t = shipped();
    let out = t.run(&["calendar", "--year", "2027", "--json"]);
    assert!(out.status.success(), "{}", both(&out));
    let days: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let days = days.as_array().expect("an array");
    assert_eq!(days.len(), 365);
    assert_eq!(
        days[1],
        serde_json::json!({
            "date": "2027-01-02",
            "weekday": "Sat",
            "business": false,
            "reason": "year-end closure",
        })
    );
    assert_eq!(
        days[3],
        serde_json::json!({
            "date": "2027-01-04",
            "weekday": "Mon",
            "business": true,
            "reason": null,
        })
    );
    let business = days.iter().filter(|d| d["business"] == true).count();
    assert_eq!(business, 242);

    let out = t.run(&["calendar", "--year", "2027", "--json", "--closed"]);
    assert!(out.status.success(), "{}", both(&out));
    let closed: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(closed.as_array().map(Vec::len), Some(123));
}

#[test]
fn unknown_calendar_is_a_bad_request() {
    let t = shipped();
    let out = t.run(&["calendar", "--calendar", "ctiy", "--year", "2027"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(out.stdout.is_empty(), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: unknown calendar `ctiy` (did you mean `city`?); calendars: city\n"
    );
}

#[test]
fn year_outside_the_holiday_rules() {
    let t = shipped();
    let out = t.run(&["calendar", "--year", "2100"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert!(
        text(&out.stderr).contains("year 2100 is outside 1970–2099"),
        "{}",
        both(&out)
    );
}

#[test]
fn several_calendars_need_a_name() {
    let t = Tree::new();
    t.file(
        "schedules/calendars.yaml",
        "calendars:\n  city: { holidays: japan, closed: [\"12-29..01-03\"] }\n  plant: { weekends: [sun], holidays: none, open: [\"2027-01-03\"] }\n",
    );
    let out = t.run(&["calendar", "--year", "2027"]);
    assert_eq!(out.status.code(), Some(3), "{}", both(&out));
    assert_eq!(
        text(&out.stderr),
        "error: 2 calendars are defined (city, plant); choose one with `--calendar`\n"
    );

    let out = t.run(&["calendar", "--year", "2027", "--calendar", "plant"]);
    assert!(out.status.success(), "{}", both(&out));
    let stdout = text(&out.stdout);
    for expected in [
        "2027-01-01  Fri  business",
        "2027-01-02  Sat  business",
        "2027-01-03  Sun  business",
        "2027-01-10  Sun  closed    weekend (Sun)",
        "2027-01-11  Mon  business",
        // 52 Sundays, one of them open.
        "2027: 314 business days, 51 closed",
    ] {
        assert!(
            stdout.lines().any(|l| l == expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
}
