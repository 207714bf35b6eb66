use chrono::TimeZone;

use super::*;
use crate::domain::check::{CheckStatus, TargetKind};
use crate::store::RunTally;

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + s, 0)
        .single()
        .expect("instant")
}

fn h(count: i64, sum: f64, buckets: Vec<i64>) -> Histogram {
    Histogram {
        count,
        sum,
        buckets,
    }
}

#[test]
fn a_snapshot_renders_every_family_with_escaped_labels_and_merged_durations() {
    let n = DURATION_BUCKETS.len();
    let facts = MetricFacts {
        runs: vec![
            RunTally {
                job: "back\"up".into(),
                status: "failed".into(),
                count: 1,
                duration: h(
                    1,
                    2.0,
                    vec![0; n]
                        .into_iter()
                        .enumerate()
                        .map(|(i, _)| i64::from(i >= 1))
                        .collect(),
                ),
            },
            RunTally {
                job: "back\"up".into(),
                status: "succeeded".into(),
                count: 2,
                duration: h(2, 1.5, vec![2; n]),
            },
        ],
        active: vec![("running".into(), 3)],
        not_run: vec![("backup".into(), "skipped_closed_day".into(), 4)],
        last_success: vec![("backup".into(), at(0))],
        fire_delay: h(0, 0.0, vec![0; WAIT_BUCKETS.len()]),
        queue_wait: h(1, 0.25, vec![0, 1, 1, 1, 1, 1, 1, 1, 1]),
        incidents: vec![(Severity::High, "open".into(), 2)],
        heartbeat: Some(at(5)),
    };
    let targets = vec![TargetRow {
        target: "online-web".into(),
        kind: TargetKind::Network,
        job: "watch".into(),
        step: "http".into(),
        state: TargetState::Down,
        streak: 0,
        since: at(0),
        last_status: CheckStatus::Critical,
        last_output: "connection refused".into(),
        last_perfdata: "time=0.5s;1;2;0".into(),
        last_at: at(1),
        results: 5,
    }];
    let next = vec![("backup".to_owned(), at(100))];
    let text = render(&Snapshot {
        version: "0.1.0",
        now: at(10),
        facts: &facts,
        targets: &targets,
        changes: &[],
        next_slots: &next,
    });
    for line in [
        "unyo_build_info{version=\"0.1.0\"} 1",
        "unyo_runs_total{unyo_job=\"back\\\"up\",status=\"failed\"} 1",
        "unyo_runs_total{unyo_job=\"back\\\"up\",status=\"succeeded\"} 2",
        "unyo_run_duration_seconds_bucket{unyo_job=\"back\\\"up\",le=\"1\"} 2",
        "unyo_run_duration_seconds_bucket{unyo_job=\"back\\\"up\",le=\"5\"} 3",
        "unyo_run_duration_seconds_bucket{unyo_job=\"back\\\"up\",le=\"+Inf\"} 3",
        "unyo_run_duration_seconds_sum{unyo_job=\"back\\\"up\"} 3.5",
        "unyo_run_duration_seconds_count{unyo_job=\"back\\\"up\"} 3",
        "unyo_runs_active{status=\"queued\"} 0",
        "unyo_runs_active{status=\"running\"} 3",
        "unyo_queue_wait_seconds_bucket{le=\"0.5\"} 1",
        "unyo_queue_wait_seconds_sum 0.25",
        "unyo_missed_slots_total{unyo_job=\"backup\",reason=\"closed_day\"} 4",
        "unyo_job_last_success_timestamp_seconds{unyo_job=\"backup\"} 1790000000",
        "unyo_job_next_slot_timestamp_seconds{unyo_job=\"backup\"} 1790000100",
        "unyo_incidents_unresolved{severity=\"high\",status=\"open\"} 2",
        "unyo_incidents_unresolved{severity=\"low\",status=\"acknowledged\"} 0",
        "unyo_check_target_up{target=\"online-web\",kind=\"network\"} 0",
        "unyo_check_status{target=\"online-web\",kind=\"network\"} 2",
        "unyo_check_target_flapping{target=\"online-web\",kind=\"network\"} 0",
        "unyo_check_perfdata{target=\"online-web\",kind=\"network\",label=\"time\",unit=\"s\"} 0.5",
        "unyo_daemon_heartbeat_timestamp_seconds 1790000005",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "missing `{line}` in:\n{text}"
        );
    }
    // Every family is declared once, before its samples.
    let types = text.lines().filter(|l| l.starts_with("# TYPE ")).count();
    let helps = text.lines().filter(|l| l.starts_with("# HELP ")).count();
    assert_eq!(types, helps);
    assert_eq!(types, 16);
}
