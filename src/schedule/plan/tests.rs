//! Slots under calendars, closed-day shifts, business days, DST, misfires, overlap and windows.

use std::collections::BTreeMap;

use chrono::{TimeZone, Weekday};
use indexmap::IndexMap;

use super::*;
use crate::domain::status::{RunStatus, SlotOutcome, Trigger};
use crate::model::{DayRule, HolidaySet, Job, MisfirePolicy, Overlap, Window, WindowPolicy};

const TOKYO: Tz = chrono_tz::Asia::Tokyo;
const BERLIN: Tz = chrono_tz::Europe::Berlin;

fn at(tz: Tz, y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    tz.with_ymd_and_hms(y, m, d, h, min, 0)
        .earliest()
        .expect("time")
        .with_timezone(&Utc)
}

fn schedule(cron: &str, tz: Tz) -> Schedule {
    Schedule {
        name: "s".into(),
        job: "j".into(),
        cron: cron.into(),
        timezone: tz,
        calendar: None,
        closed_day: ClosedDay::Run,
        business_day: None,
        misfire: MisfirePolicy::Skip,
        misfire_within: None,
        misfire_max: 10,
        missed: None,
        overlap: Overlap::Forbid,
        params: IndexMap::new(),
    }
}

/// Weekends and the year-end closure; no public holidays, so the cases do not depend
/// on the holiday computation.
fn office() -> Calendar {
    Calendar {
        name: "office".into(),
        weekends: vec![Weekday::Sat, Weekday::Sun],
        holidays: HolidaySet::None,
        closed: vec![DayRule::Yearly {
            from: (12, 29),
            to: (1, 3),
        }],
        open: vec![],
    }
}

fn job() -> Job {
    Job {
        name: "j".into(),
        file: "jobs/j.yaml".into(),
        digest: String::new(),
        title: None,
        description: None,
        params: IndexMap::new(),
        window: None,
        avoid: None,
        outside_window: WindowPolicy::Wait,
        after: vec![],
        wait_timeout: Duration::from_secs(3600),
        on_interrupt: crate::model::OnInterrupt::Leave,
        runs_on: Vec::new(),
        node_wait: crate::model::DEFAULT_NODE_WAIT,
        adhoc: false,
        separate_approver: false,
        allowed_users: vec![],
        allowed_groups: vec![],
        sla: None,
        lateness: Default::default(),
        slowdown: Default::default(),
        steps: vec![],
    }
}

fn slots(
    s: &Schedule,
    cal: Option<&Calendar>,
    after: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<Occurrence> {
    let cron = crate::domain::cron::parse_cron(&s.cron).expect("cron");
    Plan {
        schedule: s,
        cron: &cron,
        calendar: cal,
        fiscal_year_start: 4,
    }
    .occurrences(after, until)
}

fn local(v: &[Occurrence], tz: Tz) -> Vec<String> {
    v.iter()
        .map(|o| {
            let f = o.fire_time.with_timezone(&tz).format("%m-%d %H:%M");
            let d = o.due_at.with_timezone(&tz).format("%m-%d %H:%M");
            match &o.shift {
                Shift::None => format!("{f}"),
                Shift::Moved { .. } => format!("{f}->{d}"),
                Shift::Skipped { .. } => format!("{f} skipped"),
            }
        })
        .collect()
}

#[test]
fn daily_slots_in_tokyo() {
    let s = schedule("30 0 * * *", TOKYO);
    let v = slots(
        &s,
        None,
        at(TOKYO, 2026, 11, 25, 0, 30),
        at(TOKYO, 2026, 11, 28, 0, 30),
    );
    // `after` is exclusive, `until` inclusive.
    assert_eq!(
        local(&v, TOKYO),
        ["11-26 00:30", "11-27 00:30", "11-28 00:30"]
    );
}

#[test]
fn berlin_spring_forward_fires_once_after_the_gap() {
    // 2027-03-28: clocks go from 02:00 to 03:00; 02:30 does not exist.
    let s = schedule("30 2 * * *", BERLIN);
    let v = slots(
        &s,
        None,
        at(BERLIN, 2027, 3, 27, 12, 0),
        at(BERLIN, 2027, 3, 29, 12, 0),
    );
    let utc: Vec<String> = v
        .iter()
        .map(|o| o.due_at.format("%m-%d %H:%M").to_string())
        .collect();
    // 03-28: the first instant after the gap (03:00 CEST = 01:00 UTC); 03-29 02:30 CEST.
    assert_eq!(utc, ["03-28 01:00", "03-29 00:30"]);
}

#[test]
fn berlin_fall_back_fires_a_fixed_time_once() {
    // 2027-10-31: 02:00-03:00 happens twice.
    let s = schedule("30 2 * * *", BERLIN);
    let v = slots(
        &s,
        None,
        at(BERLIN, 2027, 10, 30, 12, 0),
        at(BERLIN, 2027, 11, 1, 12, 0),
    );
    assert_eq!(v.len(), 2, "{:?}", local(&v, BERLIN));
    // Hourly slots: that day has 25 hours, and each hour is a slot.
    let hourly = schedule("0 * * * *", BERLIN);
    let v = slots(
        &hourly,
        None,
        at(BERLIN, 2027, 10, 30, 23, 30),
        at(BERLIN, 2027, 10, 31, 23, 30),
    );
    assert_eq!(v.len(), 25, "{:?}", local(&v, BERLIN));
    let mut due: Vec<_> = v.iter().map(|o| o.due_at).collect();
    due.dedup();
    assert_eq!(due.len(), 25, "no instant twice");
}

#[test]
fn closed_days_skip_or_move() {
    let cal = office();
    let mut s = schedule("0 9 * * *", TOKYO);
    s.calendar = Some("office".into());
    let (from, to) = (at(TOKYO, 2026, 12, 27, 12, 0), at(TOKYO, 2027, 1, 5, 12, 0));
    s.closed_day = ClosedDay::Skip;
    let v = slots(&s, Some(&cal), from, to);
    assert_eq!(
        local(&v, TOKYO),
        [
            "12-28 09:00",
            "12-29 09:00 skipped",
            "12-30 09:00 skipped",
            "12-31 09:00 skipped",
            "01-01 09:00 skipped",
            "01-02 09:00 skipped",
            "01-03 09:00 skipped",
            "01-04 09:00",
            "01-05 09:00"
        ]
    );
    assert!(matches!(&v[5].shift, Shift::Skipped { closed } if closed == "year-end closure"));
    s.closed_day = ClosedDay::NextBusinessDay;
    let v = slots(&s, Some(&cal), from, to);
    assert_eq!(
        local(&v, TOKYO),
        [
            // The weekend before `from` moves into the range.
            "12-26 09:00->12-28 09:00",
            "12-27 09:00->12-28 09:00",
            "12-28 09:00",
            "12-29 09:00->01-04 09:00",
            "12-30 09:00->01-04 09:00",
            "12-31 09:00->01-04 09:00",
            "01-01 09:00->01-04 09:00",
            "01-02 09:00->01-04 09:00",
            "01-03 09:00->01-04 09:00",
            "01-04 09:00",
            "01-05 09:00"
        ]
    );
    // Moved slots are found even when the planner starts after their fire time.
    let v = slots(&s, Some(&cal), at(TOKYO, 2027, 1, 3, 12, 0), to);
    assert_eq!(v.len(), 8, "{:?}", local(&v, TOKYO));
    s.closed_day = ClosedDay::PreviousBusinessDay;
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2026, 12, 28, 12, 0),
        at(TOKYO, 2026, 12, 28, 23, 0),
    );
    // Nothing is due on 12-28 after 12:00: the closure's slots move to 12-28 09:00.
    assert!(v.is_empty(), "{:?}", local(&v, TOKYO));
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2026, 12, 28, 0, 0),
        at(TOKYO, 2026, 12, 28, 23, 0),
    );
    assert_eq!(
        v.len(),
        7,
        "12-28 itself and the six closed days: {:?}",
        local(&v, TOKYO)
    );
}

#[test]
fn month_end_on_a_weekend_moves_to_the_previous_business_day() {
    let cal = office();
    let mut s = schedule("0 20 L * *", TOKYO);
    s.calendar = Some("office".into());
    s.closed_day = ClosedDay::PreviousBusinessDay;
    // 2027-01-31 is a Sunday: due Friday 2027-01-29 20:00.
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2027, 1, 15, 0, 0),
        at(TOKYO, 2027, 2, 15, 0, 0),
    );
    assert_eq!(local(&v, TOKYO), ["01-31 20:00->01-29 20:00"]);
    let cron = crate::domain::cron::parse_cron(&s.cron).expect("cron");
    let p = Plan {
        schedule: &s,
        cron: &cron,
        calendar: Some(&cal),
        fiscal_year_start: 4,
    };
    assert_eq!(
        p.next_due(at(TOKYO, 2027, 1, 15, 0, 0)),
        Some(at(TOKYO, 2027, 1, 29, 20, 0))
    );
}

/// The city calendar: weekends, Japanese public holidays, the year-end closure.
fn city() -> Calendar {
    Calendar {
        holidays: HolidaySet::Japan,
        ..office()
    }
}

#[test]
fn public_holidays_move_slots_and_business_day_expressions_pick_days() {
    let cal = city();
    let mut s = schedule("0 9 * * *", TOKYO);
    s.calendar = Some("city".into());
    s.closed_day = ClosedDay::NextBusinessDay;
    // 2027-01-11 is Coming of Age Day (second Monday of January).
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2027, 1, 11, 0, 0),
        at(TOKYO, 2027, 1, 12, 12, 0),
    );
    // The weekend and the holiday before it all move to Tuesday the 12th.
    assert_eq!(
        local(&v, TOKYO),
        [
            "01-09 09:00->01-12 09:00",
            "01-10 09:00->01-12 09:00",
            "01-11 09:00->01-12 09:00",
            "01-12 09:00"
        ]
    );
    assert!(matches!(&v[2].shift, Shift::Moved { closed } if closed.contains("成人の日")));
    // The 3rd business day of January 2027 is the 6th (1-3 closed, 4 Mon, 5 Tue, 6 Wed).
    s.closed_day = ClosedDay::Run;
    s.business_day = Some("3".parse().expect("business day"));
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2026, 12, 20, 0, 0),
        at(TOKYO, 2027, 3, 1, 0, 0),
    );
    assert_eq!(local(&v, TOKYO), ["01-06 09:00", "02-03 09:00"]);
    // The last business day of each month, and of the fiscal year.
    s.business_day = Some("last".parse().expect("business day"));
    let v = slots(
        &s,
        Some(&cal),
        at(TOKYO, 2027, 1, 1, 0, 0),
        at(TOKYO, 2027, 4, 1, 0, 0),
    );
    assert_eq!(
        local(&v, TOKYO),
        ["01-29 09:00", "02-26 09:00", "03-31 09:00"]
    );
    s.business_day = Some("first_of_fiscal_year".parse().expect("business day"));
    let cron = crate::domain::cron::parse_cron(&s.cron).expect("cron");
    let p = Plan {
        schedule: &s,
        cron: &cron,
        calendar: Some(&cal),
        fiscal_year_start: 4,
    };
    assert_eq!(
        p.next_due(at(TOKYO, 2026, 11, 25, 0, 0)),
        Some(at(TOKYO, 2027, 4, 1, 9, 0))
    );
}

fn facts<'a>(
    now: DateTime<Utc>,
    active: &'a [ActiveRun],
    windows: &'a BTreeMap<String, Window>,
) -> Facts<'a> {
    Facts {
        now,
        active,
        windows,
        window_tz: TOKYO,
        display_tz: TOKYO,
    }
}

fn hourly_missed(s: &Schedule, now: DateTime<Utc>) -> Vec<Decision> {
    // The daemon was down from 02:00 to `now`.
    let v = slots(s, None, at(TOKYO, 2026, 11, 25, 2, 0), now);
    decide(s, &job(), &v, facts(now, &[], &BTreeMap::new()))
}

fn outcomes(d: &[Decision]) -> Vec<&'static str> {
    d.iter().map(|d| d.outcome.as_str()).collect()
}

#[test]
fn misfire_policies() {
    let now = at(TOKYO, 2026, 11, 25, 6, 30);
    let mut s = schedule("0 * * * *", TOKYO);
    assert_eq!(outcomes(&hourly_missed(&s, now)), ["missed"; 4]);
    s.misfire = MisfirePolicy::RunOnce;
    let d = hourly_missed(&s, now);
    assert_eq!(outcomes(&d), ["missed", "missed", "missed", "started"]);
    assert_eq!(
        d[3].start,
        Some(Start::Now {
            trigger: Trigger::CatchUp,
            replace: vec![]
        })
    );
    s.misfire_within = Some(Duration::from_secs(20 * 60));
    assert_eq!(
        outcomes(&hourly_missed(&s, now)),
        ["missed"; 4],
        "06:00 is 30 min late"
    );
    s.misfire = MisfirePolicy::RunAll;
    s.misfire_within = Some(Duration::from_secs(2 * 3600));
    s.misfire_max = 2;
    let d = hourly_missed(&s, now);
    // 03:00 is too late; 04:00 is over the cap; 05:00 and 06:00 run one after another.
    assert_eq!(outcomes(&d), ["missed", "missed", "started", "queued"]);
    assert!(
        d[0].reason
            .as_deref()
            .is_some_and(|r| r.contains("later than `within`")),
        "{:?}",
        d[0].reason
    );
    // A slot due just now is on time, whatever the policy.
    s.misfire = MisfirePolicy::Skip;
    let now = at(TOKYO, 2026, 11, 25, 7, 0) + chrono::Duration::milliseconds(3);
    let v = slots(&s, None, at(TOKYO, 2026, 11, 25, 6, 30), now);
    let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
    assert_eq!(outcomes(&d), ["started"]);
    assert_eq!(
        d[0].start,
        Some(Start::Now {
            trigger: Trigger::Schedule,
            replace: vec![]
        })
    );
}

#[test]
fn overlap_policies() {
    let now = at(TOKYO, 2026, 11, 25, 9, 0);
    let mut s = schedule("0 9 * * *", TOKYO);
    let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
    let active = [ActiveRun {
        id: 41,
        status: RunStatus::Running,
    }];
    let windows = BTreeMap::new();
    let one = |s: &Schedule| decide(s, &job(), &v, facts(now, &active, &windows)).remove(0);
    let d = one(&s);
    assert_eq!(d.outcome, SlotOutcome::SkippedOverlap);
    assert!(d.reason.as_deref().is_some_and(|r| r.contains("run 41")));
    s.overlap = Overlap::Queue;
    let d = one(&s);
    assert_eq!(d.outcome, SlotOutcome::Queued);
    assert!(matches!(
        d.start,
        Some(Start::Queue {
            not_before: None,
            ..
        })
    ));
    s.overlap = Overlap::Allow;
    assert_eq!(one(&s).outcome, SlotOutcome::Started);
    s.overlap = Overlap::Replace;
    let d = one(&s);
    assert_eq!(
        d.start,
        Some(Start::Now {
            trigger: Trigger::Schedule,
            replace: vec![41]
        })
    );
}

#[test]
fn merged_slots_make_one_run() {
    let cal = office();
    let mut s = schedule("0 9 * * *", TOKYO);
    s.calendar = Some("office".into());
    s.closed_day = ClosedDay::NextBusinessDay;
    s.overlap = Overlap::Allow;
    let now = at(TOKYO, 2027, 1, 4, 9, 0);
    let v = slots(&s, Some(&cal), at(TOKYO, 2027, 1, 4, 8, 0), now);
    let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
    let runs = d.iter().filter(|d| d.start.is_some()).count();
    assert_eq!(runs, 1, "{d:?}");
    assert_eq!(d.len(), 7);
    assert_eq!(d[0].outcome, SlotOutcome::Shifted);
    assert!(
        d[0].reason
            .as_deref()
            .is_some_and(|r| r.contains("moved from 2026-12-29 09:00 to 2027-01-04 09:00")),
        "{:?}",
        d[0].reason
    );
    assert!(d[1].reason.as_deref().is_some_and(|r| r.contains("merged")));
}

#[test]
fn a_caught_up_slot_runs_once_with_the_slots_merged_into_it() {
    let cal = office();
    let mut s = schedule("0 9 * * *", TOKYO);
    s.calendar = Some("office".into());
    s.closed_day = ClosedDay::NextBusinessDay;
    s.misfire = MisfirePolicy::RunOnce;
    // Down from Friday 10:00 to Monday 10:00: Saturday's and Sunday's slots moved to
    // Monday 09:00, which is an hour late.
    let now = at(TOKYO, 2026, 11, 30, 10, 0);
    let v = slots(&s, Some(&cal), at(TOKYO, 2026, 11, 27, 10, 0), now);
    assert_eq!(v.len(), 3);
    let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
    let started: Vec<&Decision> = d.iter().filter(|d| d.start.is_some()).collect();
    assert_eq!(started.len(), 1, "{d:#?}");
    assert_eq!(
        started[0].start,
        Some(Start::Now {
            trigger: Trigger::CatchUp,
            replace: vec![]
        })
    );
    assert!(
        d.iter()
            .all(|d| d.outcome == SlotOutcome::Shifted || d.outcome == SlotOutcome::Started),
        "{d:#?}"
    );
    // With `skip`, the merged slots are missed with their primary.
    s.misfire = MisfirePolicy::Skip;
    let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
    assert!(d.iter().all(|d| d.outcome == SlotOutcome::Missed), "{d:#?}");
    assert!(
        d[1].reason
            .as_deref()
            .is_some_and(|r| r.contains("which was missed"))
    );
}

#[test]
fn a_day_of_downtime_of_an_every_second_schedule_is_decided_at_once() {
    let mut s = schedule("* * * * * *", TOKYO);
    s.misfire = MisfirePolicy::RunOnce;
    let now = at(TOKYO, 2026, 11, 26, 12, 0);
    let v = slots(&s, None, now - chrono::Duration::days(1), now);
    assert_eq!(v.len(), 86_400);
    let d = decide(&s, &job(), &v, facts(now, &[], &BTreeMap::new()));
    let started = d.iter().filter(|d| d.start.is_some()).count();
    // The last 60 s are on time: the first of them starts, the rest overlap it; the
    // late ones are missed but for the latest (run_once), which overlaps too.
    assert_eq!(started, 1);
    let missed = d
        .iter()
        .filter(|d| d.outcome == SlotOutcome::Missed)
        .count();
    assert!(missed > 86_000, "{missed}");
}

#[test]
fn windows_make_a_slot_wait_or_skip() {
    let mut windows = BTreeMap::new();
    windows.insert(
        "night".to_owned(),
        Window {
            name: "night".into(),
            from: chrono::NaiveTime::from_hms_opt(22, 0, 0).expect("time"),
            to: chrono::NaiveTime::from_hms_opt(6, 0, 0).expect("time"),
        },
    );
    let s = schedule("0 14 * * *", TOKYO);
    let now = at(TOKYO, 2026, 11, 25, 14, 0);
    let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
    let mut j = job();
    j.window = Some("night".into());
    let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
    assert_eq!(d.outcome, SlotOutcome::WaitingWindow);
    assert_eq!(
        d.start,
        Some(Start::Queue {
            trigger: Trigger::Schedule,
            not_before: Some(at(TOKYO, 2026, 11, 25, 22, 0))
        })
    );
    j.outside_window = WindowPolicy::Skip;
    let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
    assert_eq!(d.outcome, SlotOutcome::SkippedWindow);
    assert_eq!(d.start, None);
    // `avoid`: a slot inside the window waits for it to close.
    let s = schedule("0 23 * * *", TOKYO);
    let now = at(TOKYO, 2026, 11, 25, 23, 0);
    let v = slots(&s, None, now - chrono::Duration::minutes(1), now);
    let mut j = job();
    j.avoid = Some("night".into());
    let d = decide(&s, &j, &v, facts(now, &[], &windows)).remove(0);
    assert_eq!(d.outcome, SlotOutcome::WaitingWindow);
    assert_eq!(
        d.start,
        Some(Start::Queue {
            trigger: Trigger::Schedule,
            not_before: Some(at(TOKYO, 2026, 11, 26, 6, 0))
        })
    );
}
