use chrono::TimeZone;

use super::*;

const T: Thresholds = Thresholds {
    down_after: 3,
    up_after: 2,
};

fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
        .single()
        .expect("instant")
        + Duration::minutes(minutes)
}

/// Feeds results to a fresh target; returns the changes and the final tally.
fn feed(results: &[CheckStatus]) -> (Vec<Change>, Tally) {
    let mut tally = Tally::default();
    let mut changes = Vec::new();
    for r in results {
        let (t, c) = next(tally, *r, T);
        tally = t;
        changes.push(c);
    }
    (changes, tally)
}

#[test]
fn exit_codes_0_to_3_are_the_nagios_statuses_and_others_are_none() {
    assert_eq!(CheckStatus::from_exit(0), Some(CheckStatus::Ok));
    assert_eq!(CheckStatus::from_exit(1), Some(CheckStatus::Warning));
    assert_eq!(CheckStatus::from_exit(2), Some(CheckStatus::Critical));
    assert_eq!(CheckStatus::from_exit(3), Some(CheckStatus::Unknown));
    assert_eq!(CheckStatus::from_exit(4), None);
    assert_eq!(CheckStatus::from_exit(-1), None);
    assert_eq!(CheckStatus::from_exit(127), None);
    for s in CheckStatus::ALL {
        assert_eq!(s.as_str().parse::<CheckStatus>(), Ok(s));
        assert_eq!(CheckStatus::from_exit(s.code()), Some(s));
    }
}

#[test]
fn a_target_goes_down_after_down_after_criticals_in_a_row() {
    use CheckStatus::*;
    let (changes, tally) = feed(&[Critical, Critical, Ok, Critical, Critical]);
    assert!(changes.iter().all(|c| *c == Change::Same), "{changes:?}");
    assert_eq!(
        tally,
        Tally {
            state: TargetState::Up,
            streak: 2
        }
    );
    let (changes, tally) = feed(&[Critical, Critical, Critical]);
    assert_eq!(changes.last(), Some(&Change::WentDown));
    assert_eq!(
        tally,
        Tally {
            state: TargetState::Down,
            streak: 0
        }
    );
}

#[test]
fn a_warning_counts_for_the_target_and_an_unknown_counts_neither_way() {
    use CheckStatus::*;
    let (changes, tally) = feed(&[Critical, Critical, Unknown, Critical]);
    assert_eq!(changes.last(), Some(&Change::WentDown));
    assert_eq!(tally.state, TargetState::Down);
    let (_, tally) = feed(&[Critical, Critical, Warning, Critical]);
    assert_eq!(
        tally,
        Tally {
            state: TargetState::Up,
            streak: 1
        }
    );
}

#[test]
fn a_down_target_comes_up_after_up_after_good_results_in_a_row() {
    use CheckStatus::*;
    let (changes, tally) = feed(&[Critical, Critical, Critical, Ok, Critical, Ok, Warning]);
    assert_eq!(
        changes,
        vec![
            Change::Same,
            Change::Same,
            Change::WentDown,
            Change::Same,
            Change::Same,
            Change::Same,
            Change::CameUp
        ]
    );
    assert_eq!(tally, Tally::default());
}

#[test]
fn thresholds_of_zero_act_as_one() {
    let t = Thresholds {
        down_after: 0,
        up_after: 0,
    };
    let (tally, change) = next(Tally::default(), CheckStatus::Critical, t);
    assert_eq!((tally.state, change), (TargetState::Down, Change::WentDown));
}

#[test]
fn the_status_line_and_performance_data_are_read() {
    let out = parse_output(
        "TCP OK - 0.000 second response time on 127.0.0.1 port 8080|time=0.000123s;;;0.000000;10.000000\n",
    );
    assert_eq!(
        out.text,
        "TCP OK - 0.000 second response time on 127.0.0.1 port 8080"
    );
    assert_eq!(out.perf.len(), 1);
    let p = &out.perf[0];
    assert_eq!((p.label.as_str(), p.unit.as_str()), ("time", "s"));
    assert!((p.value - 0.000123).abs() < 1e-12);
    assert_eq!((p.warn.as_deref(), p.crit.as_deref()), (None, None));
    assert_eq!((p.min, p.max), (Some(0.0), Some(10.0)));
}

#[test]
fn quoted_labels_ranges_and_long_output_perfdata_are_read() {
    let out = parse_output(
        "DISK OK - free space: / 3326 MB (56%);| '/ root'=2643MB;5948;5958;0;5968\nlong text\nmore | load1=0.5;@1:2;~:4 bad\n load5=0.25\n",
    );
    assert_eq!(out.text, "DISK OK - free space: / 3326 MB (56%);");
    let labels: Vec<&str> = out.perf.iter().map(|p| p.label.as_str()).collect();
    assert_eq!(labels, vec!["/ root", "load1", "load5"]);
    assert_eq!(out.perf[0].unit, "MB");
    assert_eq!(out.perf[1].warn.as_deref(), Some("@1:2"));
    assert_eq!(out.perf[1].crit.as_deref(), Some("~:4"));
    assert!(
        out.raw.contains("bad"),
        "unreadable items stay in raw: {}",
        out.raw
    );
}

#[test]
fn output_without_perfdata_has_none() {
    let out = parse_output("PROCS OK: 3 processes\n");
    assert_eq!(out.text, "PROCS OK: 3 processes");
    assert!(out.raw.is_empty() && out.perf.is_empty());
    assert_eq!(parse_output(""), PluginOutput::default());
}

#[test]
fn a_target_class_is_not_resolved_by_its_jobs_success() {
    assert!(!recovers_with_job(&target_class("online-web")));
    assert!(recovers_with_job("exit 1"));
    assert!(recovers_with_job("missed"));
}

#[test]
fn time_up_follows_the_changes_and_starts_from_the_state_before_the_period() {
    let up = TargetState::Up;
    let down = TargetState::Down;
    // Never changed: up all along.
    assert_eq!(time_up(&[], at(0), at(100)), Duration::minutes(100));
    // Down from before the period to minute 30, then down again 60..70.
    let changes = [(at(-10), down), (at(30), up), (at(60), down), (at(70), up)];
    assert_eq!(time_up(&changes, at(0), at(100)), Duration::minutes(60));
    // A change after the period changes nothing in it.
    let later = [(at(150), down)];
    assert_eq!(time_up(&later, at(0), at(100)), Duration::minutes(100));
    // Down at the end.
    let end_down = [(at(90), down)];
    assert_eq!(time_up(&end_down, at(0), at(100)), Duration::minutes(90));
}

#[test]
fn four_changes_within_a_day_are_flapping() {
    let changes = [at(0), at(60), at(120), at(180)];
    assert!(flapping(&changes, at(200)));
    assert!(!flapping(&changes[..3], at(200)));
    // A day later they are history.
    assert!(!flapping(&changes, at(180 + 24 * 60)));
    assert_eq!(flaps(&changes), vec![at(180)]);
    let spread = [at(0), at(600), at(1200), at(1800)];
    assert!(flaps(&spread).is_empty());
}
