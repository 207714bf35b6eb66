use chrono::{Duration, TimeZone};

use super::*;
use crate::domain::check::{CheckStatus, TargetKind};
use crate::store::{EndedRun, RunsSince, SlotsSince};

fn at(s: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_790_000_000 + s, 0)
        .single()
        .expect("instant")
}

fn ms(t: i64) -> Duration {
    Duration::milliseconds(t)
}

/// A run of `job` that ended with `status`: queued at `queued`, started `wait_ms` later and
/// ended `took_ms` after that.
fn run(id: i64, job: &str, status: &str, queued: i64, wait_ms: i64, took_ms: i64) -> EndedRun {
    EndedRun {
        id,
        job: job.into(),
        status: status.into(),
        queued_at: at(queued),
        started_at: Some(at(queued) + ms(wait_ms)),
        ended_at: at(queued) + ms(wait_ms + took_ms),
        due_at: None,
    }
}

/// The counts a tally makes of `runs` and of `not_run` slots (job, outcome).
fn counted(runs: Vec<EndedRun>, not_run: &[(&str, &str)]) -> std::sync::Arc<Counts> {
    let mut t = Tally::default();
    let max_id = runs.len() as i64;
    t.add_runs(&RunsSince {
        ended: runs,
        oldest_active: None,
        max_id,
    });
    t.add_slots(&SlotsSince {
        not_run: not_run
            .iter()
            .zip(1..)
            .map(|((j, o), id)| (id, (*j).to_owned(), (*o).to_owned()))
            .collect(),
        max_id: not_run.len() as i64,
    });
    t.counts()
}

#[test]
fn a_snapshot_renders_every_family_with_escaped_labels_and_merged_durations() {
    let counts = counted(
        vec![
            run(1, "back\"up", "failed", 0, 250, 2000),
            run(2, "back\"up", "succeeded", 0, 10_000, 1000),
            run(3, "back\"up", "succeeded", 0, 10_000, 500),
            run(4, "backup", "succeeded", -20, 10_000, 10_000),
        ],
        &[("backup", "skipped_closed_day"); 4],
    );
    let facts = MetricFacts {
        active: vec![("running".into(), 3)],
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
        counts: &counts,
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
        "unyo_queue_wait_seconds_sum 30.25",
        "unyo_run_duration_seconds_sum{unyo_job=\"backup\"} 10",
        "unyo_missed_slots_total{unyo_job=\"backup\",reason=\"closed_day\"} 4",
        "unyo_job_last_success_timestamp_seconds{unyo_job=\"backup\"} 1790000000",
        "unyo_job_last_success_timestamp_seconds{unyo_job=\"back\\\"up\"} 1790000011",
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
    // 250 jobs, each with three failed and three succeeded runs, two of them within a second.
    let runs: Vec<EndedRun> = (0..250)
        .flat_map(|j| {
            (0..6).map(move |r| {
                let status = if r < 3 { "failed" } else { "succeeded" };
                let took = if r % 3 == 0 { 500 } else { 20_000 };
                run(j * 6 + r + 1, &format!("job-{j:04}"), status, 0, 0, took)
            })
        })
        .collect();
    let counts = counted(runs, &[]);
    let facts = MetricFacts {
        active: Vec::new(),
        incidents: Vec::new(),
        heartbeat: Some(at(5)),
    };
    let next = std::sync::Arc::new(vec![("job-0001".to_owned(), at(100))]);
    let whole = render(&Snapshot {
        version: "0.1.0",
        now: at(10),
        facts: &facts,
        counts: &counts,
        targets: &[],
        changes: &[],
        next_slots: &next,
    });
    let parts: Vec<String> =
        Exposition::new("0.1.0", at(10), facts, counts, Vec::new(), Vec::new(), next).collect();
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
