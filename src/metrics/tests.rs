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

/// The endpoint sends the exposition a part at a time: the parts put together are the
/// whole text, a job's histogram is never cut, and no part holds more than a hundred jobs'.
#[test]
fn the_exposition_in_parts_is_the_whole_text_and_no_part_is_large() {
    let n = DURATION_BUCKETS.len();
    let runs: Vec<RunTally> = (0..250)
        .flat_map(|j| {
            ["failed", "succeeded"].map(|status| RunTally {
                job: format!("job-{j:04}"),
                status: status.into(),
                count: 3,
                duration: h(3, 30.0, vec![1; n]),
            })
        })
        .collect();
    let facts = MetricFacts {
        runs,
        active: Vec::new(),
        not_run: Vec::new(),
        last_success: vec![("job-0001".into(), at(0))],
        fire_delay: h(0, 0.0, vec![0; WAIT_BUCKETS.len()]),
        queue_wait: h(0, 0.0, vec![0; WAIT_BUCKETS.len()]),
        incidents: Vec::new(),
        heartbeat: Some(at(5)),
    };
    let next = std::sync::Arc::new(vec![("job-0001".to_owned(), at(100))]);
    let whole = render(&Snapshot {
        version: "0.1.0",
        now: at(10),
        facts: &facts,
        targets: &[],
        changes: &[],
        next_slots: &next,
    });
    let parts: Vec<String> =
        Exposition::new("0.1.0", at(10), facts, Vec::new(), Vec::new(), next).collect();
    assert_eq!(parts.concat(), whole);
    // The head, three parts of histograms (100, 100 and 50 jobs), the rest.
    assert_eq!(
        parts.len(),
        5,
        "{:?}",
        parts.iter().map(String::len).collect::<Vec<_>>()
    );
    // Each job's two statuses merged into one histogram: 6 runs.
    for (part, first, last) in [(1, 0, 99), (2, 100, 199), (3, 200, 249)] {
        let part = &parts[part];
        assert!(
            part.starts_with(&format!(
                "unyo_run_duration_seconds_bucket{{unyo_job=\"job-{first:04}\",le=\"1\"}} 2\n"
            )),
            "{part}"
        );
        assert!(
            part.ends_with(&format!(
                "unyo_run_duration_seconds_count{{unyo_job=\"job-{last:04}\"}} 6\n"
            )),
            "{part}"
        );
    }
    assert!(parts.iter().all(|p| p.len() < 128 * 1024));
}
