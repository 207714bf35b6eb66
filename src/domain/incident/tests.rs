//! Every incident transition, the refused ones included.

use chrono::TimeZone;

use super::*;

fn t(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, h, 0, 0)
        .single()
        .expect("time")
}

fn failure(severity: Severity, deadline: Option<DateTime<Utc>>) -> Failure<'static> {
    Failure {
        severity,
        summary: "`backup` failed",
        report_deadline: deadline,
        occurrences: 1,
    }
}

#[test]
fn a_first_failure_opens_an_incident_of_at_least_one_occurrence() {
    let f = Failure {
        occurrences: 0,
        ..failure(Severity::High, Some(t(9)))
    };
    assert_eq!(
        open(&f),
        Opened {
            occurrences: 1,
            text: "`backup` failed".to_owned()
        }
    );
    let missed = Failure {
        occurrences: 3,
        ..failure(Severity::Low, None)
    };
    assert_eq!(open(&missed).occurrences, 3);
}

#[test]
fn a_repeat_of_equal_or_lower_severity_adds_an_occurrence_and_changes_nothing_else() {
    let existing = Unresolved {
        severity: Some(Severity::High),
        report_deadline: Some(t(12)),
    };
    for severity in [Severity::High, Severity::Medium, Severity::Low] {
        assert_eq!(
            recur(&existing, &failure(severity, Some(t(8)))),
            Recurred {
                add: 1,
                severity: Severity::High,
                report_deadline: Some(t(12)),
                text: "`backup` failed".to_owned(),
            }
        );
    }
    let missed = Failure {
        occurrences: 4,
        ..failure(Severity::Low, None)
    };
    assert_eq!(recur(&existing, &missed).add, 4);
}

#[test]
fn a_higher_severity_is_raised_and_brings_the_earlier_deadline() {
    let existing = Unresolved {
        severity: Some(Severity::Medium),
        report_deadline: Some(t(12)),
    };
    assert_eq!(
        recur(&existing, &failure(Severity::Critical, Some(t(8)))),
        Recurred {
            add: 1,
            severity: Severity::Critical,
            report_deadline: Some(t(8)),
            text: "`backup` failed (severity raised to critical)".to_owned(),
        }
    );
    // A later deadline of the higher severity does not move the earlier one.
    let later = recur(&existing, &failure(Severity::High, Some(t(20))));
    assert_eq!(later.report_deadline, Some(t(12)));
    assert_eq!(later.severity, Severity::High);
    // No deadline for the higher severity keeps the recorded one.
    let none = recur(&existing, &failure(Severity::High, None));
    assert_eq!(none.report_deadline, Some(t(12)));
    // None recorded: the new one.
    let unset = Unresolved {
        severity: Some(Severity::Low),
        report_deadline: None,
    };
    let raised = recur(&unset, &failure(Severity::High, Some(t(7))));
    assert_eq!(raised.report_deadline, Some(t(7)));
}

#[test]
fn a_recorded_severity_that_does_not_read_is_replaced() {
    let existing = Unresolved {
        severity: None,
        report_deadline: None,
    };
    let raised = recur(&existing, &failure(Severity::Low, Some(t(6))));
    assert_eq!(raised.severity, Severity::Low);
    assert_eq!(raised.report_deadline, Some(t(6)));
    assert!(
        raised.text.ends_with("(severity raised to low)"),
        "{}",
        raised.text
    );
}

fn current(status: IncidentStatus) -> Current<'static> {
    Current {
        status,
        acknowledged_by: Some("alice"),
        resolved_by: Some("bob"),
    }
}

fn resolve() -> IncidentChange {
    IncidentChange::Resolve {
        cause: "disk".to_owned(),
        countermeasure: "bigger disk".to_owned(),
    }
}

#[test]
fn acknowledging_an_open_incident_withdraws_later_levels() {
    let done = change(
        7,
        Some(&current(IncidentStatus::Open)),
        &IncidentChange::Acknowledge,
        "carol",
    )
    .expect("accepted");
    assert_eq!(
        done,
        Transition {
            status: IncidentStatus::Acknowledged,
            event: "acknowledged",
            text: String::new(),
            withdraw: Withdrawal {
                from_level: 2,
                reason: "incident 7 was acknowledged by carol".to_owned()
            },
        }
    );
}

#[test]
fn acknowledging_twice_or_after_resolution_is_refused_naming_who() {
    let again = change(
        7,
        Some(&current(IncidentStatus::Acknowledged)),
        &IncidentChange::Acknowledge,
        "carol",
    )
    .expect_err("refused");
    assert_eq!(
        again.to_string(),
        "incident 7 is acknowledged already (by alice)"
    );
    let resolved = change(
        7,
        Some(&current(IncidentStatus::Resolved)),
        &IncidentChange::Acknowledge,
        "carol",
    )
    .expect_err("refused");
    assert_eq!(
        resolved.to_string(),
        "incident 7 is resolved already (by bob)"
    );
    let nobody = Current {
        status: IncidentStatus::Acknowledged,
        acknowledged_by: None,
        resolved_by: None,
    };
    let unknown =
        change(7, Some(&nobody), &IncidentChange::Acknowledge, "carol").expect_err("refused");
    assert_eq!(
        unknown.to_string(),
        "incident 7 is acknowledged already (by unknown)"
    );
}

#[test]
fn resolving_an_open_or_acknowledged_incident_withdraws_every_message() {
    for status in [IncidentStatus::Open, IncidentStatus::Acknowledged] {
        let done = change(3, Some(&current(status)), &resolve(), "dave").expect("accepted");
        assert_eq!(
            done,
            Transition {
                status: IncidentStatus::Resolved,
                event: "resolved",
                text: "cause: disk; countermeasure: bigger disk".to_owned(),
                withdraw: Withdrawal {
                    from_level: 1,
                    reason: "incident 3 was resolved by dave".to_owned()
                },
            }
        );
    }
}

#[test]
fn resolving_a_resolved_incident_is_refused_unless_unyo_resolved_it() {
    let refused = change(
        3,
        Some(&current(IncidentStatus::Resolved)),
        &resolve(),
        "dave",
    )
    .expect_err("refused");
    assert_eq!(
        refused.to_string(),
        "incident 3 is resolved already (by bob)"
    );
    let by_unyo = Current {
        status: IncidentStatus::Resolved,
        acknowledged_by: None,
        resolved_by: Some(UNYO),
    };
    let done = change(3, Some(&by_unyo), &resolve(), "dave").expect("a person may describe it");
    assert_eq!(done.status, IncidentStatus::Resolved);
}

#[test]
fn a_change_to_an_incident_not_recorded_is_refused() {
    let refused = change(42, None, &IncidentChange::Acknowledge, "carol").expect_err("refused");
    assert_eq!(refused, Refusal::NotFound { id: 42 });
    assert_eq!(refused.to_string(), "no incident 42 is recorded");
    assert_eq!(
        Refusal::Unreadable { id: 42 }.to_string(),
        "incident 42 cannot be read"
    );
}

#[test]
fn a_recovery_resolves_only_an_open_incident_of_an_earlier_run_when_asked() {
    assert_eq!(
        recovered(5, Some(IncidentStatus::Open), Some(10), "backup", 11, true),
        Recovery::Resolve {
            text: "`backup` succeeded again in run 11".to_owned(),
            withdraw: Withdrawal {
                from_level: 1,
                reason: "incident 5 was resolved: `backup` succeeded again in run 11".to_owned()
            },
        }
    );
    let note = Recovery::Note {
        text: "`backup` succeeded again in run 11".to_owned(),
    };
    // Not asked to resolve.
    assert_eq!(
        recovered(5, Some(IncidentStatus::Open), Some(10), "backup", 11, false),
        note
    );
    // Someone took it on.
    assert_eq!(
        recovered(
            5,
            Some(IncidentStatus::Acknowledged),
            Some(10),
            "backup",
            11,
            true
        ),
        note
    );
    // The run's own retry worked.
    assert_eq!(
        recovered(5, Some(IncidentStatus::Open), Some(11), "backup", 11, true),
        note
    );
    // A status that does not read is not taken for open.
    assert_eq!(recovered(5, None, Some(10), "backup", 11, true), note);
    // An incident no run opened (missed slots) is resolved.
    assert!(matches!(
        recovered(5, Some(IncidentStatus::Open), None, "backup", 11, true),
        Recovery::Resolve { .. }
    ));
}
