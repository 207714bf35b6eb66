//! The Prometheus text exposition of what unyo knows (`/metrics`, served by the daemon):
//! runs by job and status, run durations, slot fire delay and queue wait as histograms,
//! slots that made no run by reason, each job's last success and next slot, active runs,
//! unresolved incidents by severity, health-check targets (up, last status, flapping, their
//! plugins' performance data), the daemon's heartbeat and the build.
//!
//! Jobs are labelled `unyo_job`, not `job`: Prometheus gives every scraped series the label
//! `job` of its scrape configuration, and would rename ours to `exported_job`.
//!
//! `render` is pure: it formats a [`Snapshot`] the caller read (the store's `metric_facts`
//! and `targets`, the counts of ended runs and slots a [`Tally`] keeps between scrapes,
//! the planner's next slots). Names follow Prometheus conventions: base
//! units (`_seconds`), `_total` counters, `_timestamp_seconds` instants; `promtool check
//! metrics` finds nothing to say. This module reads nothing and serves nothing.

mod tally;

pub use tally::{Counts, Histogram, JobCounts, Tally};

use std::fmt::Write as _;

use chrono::{DateTime, Utc};

use crate::domain::check::{TargetState, flapping, parse_perfdata};
use crate::domain::severity::Severity;
use crate::store::{MetricFacts, TargetChange, TargetRow};

/// Bounds of the run-duration buckets, in seconds: a second to six hours.
pub const DURATION_BUCKETS: [f64; 11] = [
    1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 21600.0,
];
/// Bounds of the fire-delay and queue-wait buckets, in seconds.
pub const WAIT_BUCKETS: [f64; 9] = [0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0];

/// The media type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything one scrape shows.
#[derive(Debug)]
pub struct Snapshot<'a> {
    pub version: &'a str,
    pub now: DateTime<Utc>,
    pub facts: &'a MetricFacts,
    /// The counts of ended runs and of slots that made no run.
    pub counts: &'a Counts,
    pub targets: &'a [TargetRow],
    /// State changes of the targets (for flapping); older ones than a day do not matter.
    pub changes: &'a [TargetChange],
    /// Each scheduled job's next slot.
    pub next_slots: &'a [(String, DateTime<Utc>)],
}

/// A label value escaped for the text format (backslash, double quote, newline).
fn esc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// A float as the text format writes it.
fn num(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

fn seconds(t: DateTime<Utc>) -> String {
    num(t.timestamp_millis() as f64 / 1000.0)
}

fn head(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// `name_bucket`, `_sum` and `_count` lines of one histogram; `labels` is `""` or
/// `k="v",` pairs each followed by a comma.
fn histogram<const N: usize>(
    out: &mut String,
    name: &str,
    labels: &str,
    bounds: &[f64; N],
    h: &Histogram<N>,
) {
    for (b, n) in bounds.iter().zip(&h.buckets) {
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{}\"}} {n}", num(*b));
    }
    let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", h.count);
    let bare = labels.trim_end_matches(',');
    let braces = |s: &str| {
        if s.is_empty() {
            String::new()
        } else {
            format!("{{{s}}}")
        }
    };
    let _ = writeln!(out, "{name}_sum{} {}", braces(bare), num(h.sum));
    let _ = writeln!(out, "{name}_count{} {}", braces(bare), h.count);
}

/// The exposition of one scrape, whole (the endpoint sends it in parts: [`Exposition`]).
pub fn render(s: &Snapshot<'_>) -> String {
    let mut out = render_head(s);
    let mut from = 0;
    while from < s.counts.jobs.len() {
        from = render_durations(&mut out, s, from, usize::MAX);
    }
    out.push_str(&render_tail(s));
    out
}

/// Jobs whose duration histograms make one part of a streamed exposition (about 60 KiB).
const JOBS_PER_PART: usize = 100;

/// The exposition of one scrape, rendered a part at a time as it is sent, from what the
/// scrape read (owned): the runs by job, the duration histograms of [`JOBS_PER_PART`] jobs
/// at a time, then the rest. Only one part is held at once, instead of the whole text (a
/// megabyte with 1,000 jobs).
#[derive(Debug)]
pub struct Exposition {
    version: String,
    now: DateTime<Utc>,
    facts: MetricFacts,
    counts: std::sync::Arc<Counts>,
    targets: Vec<TargetRow>,
    changes: Vec<TargetChange>,
    next_slots: std::sync::Arc<Vec<(String, DateTime<Utc>)>>,
    next: Part,
}

/// The next part of an [`Exposition`] to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Head,
    /// The duration histograms from this index of `counts.jobs`, then the rest.
    Durations(usize),
    Done,
}

impl Exposition {
    pub fn new(
        version: &str,
        now: DateTime<Utc>,
        facts: MetricFacts,
        counts: std::sync::Arc<Counts>,
        targets: Vec<TargetRow>,
        changes: Vec<TargetChange>,
        next_slots: std::sync::Arc<Vec<(String, DateTime<Utc>)>>,
    ) -> Exposition {
        Exposition {
            version: version.to_owned(),
            now,
            facts,
            counts,
            targets,
            changes,
            next_slots,
            next: Part::Head,
        }
    }
}

impl Iterator for Exposition {
    type Item = String;

    fn next(&mut self) -> Option<String> {
        let s = Snapshot {
            version: &self.version,
            now: self.now,
            facts: &self.facts,
            counts: &self.counts,
            targets: &self.targets,
            changes: &self.changes,
            next_slots: &self.next_slots,
        };
        let runs = self.counts.jobs.len();
        let (text, next) = match self.next {
            Part::Head => (render_head(&s), Part::Durations(0)),
            Part::Durations(from) if from < runs => {
                let mut out = String::with_capacity(JOBS_PER_PART * 600);
                let to = render_durations(&mut out, &s, from, JOBS_PER_PART);
                (out, Part::Durations(to))
            }
            Part::Durations(_) => (render_tail(&s), Part::Done),
            Part::Done => return None,
        };
        self.next = next;
        Some(text)
    }
}

/// The build, the runs by job and status, and the head of the duration histograms.
fn render_head(s: &Snapshot<'_>) -> String {
    // About 60 bytes a line, a line a job and status.
    let mut out = String::with_capacity(4096 + s.counts.jobs.len() * 128);
    head(
        &mut out,
        "unyo_build_info",
        "gauge",
        "The running unyo's version.",
    );
    let _ = writeln!(out, "unyo_build_info{{version=\"{}\"}} 1", esc(s.version));

    head(
        &mut out,
        "unyo_runs_total",
        "counter",
        "Runs that ended, by job and status.",
    );
    for (job, c) in &s.counts.jobs {
        let job = esc(job);
        for (status, n) in &c.runs {
            let _ = writeln!(
                out,
                "unyo_runs_total{{unyo_job=\"{job}\",status=\"{status}\"}} {n}"
            );
        }
    }

    head(
        &mut out,
        "unyo_run_duration_seconds",
        "histogram",
        "Time from a run's start to its end, by job.",
    );
    out
}

/// The duration histograms of up to `jobs` jobs with ended runs, from index `from` of
/// `counts.jobs`; returns the index after them.
fn render_durations(out: &mut String, s: &Snapshot<'_>, from: usize, jobs: usize) -> usize {
    let all = &s.counts.jobs;
    let mut i = from;
    let mut done = 0;
    while i < all.len() && done < jobs {
        let (job, c) = &all[i];
        i += 1;
        if c.runs.is_empty() {
            continue;
        }
        let labels = format!("unyo_job=\"{}\",", esc(job));
        histogram(
            out,
            "unyo_run_duration_seconds",
            &labels,
            &DURATION_BUCKETS,
            &c.duration,
        );
        done += 1;
    }
    i
}

/// Everything after the duration histograms.
fn render_tail(s: &Snapshot<'_>) -> String {
    let f = s.facts;
    let mut out = String::with_capacity(16 * 1024 + s.next_slots.len() * 80);
    head(
        &mut out,
        "unyo_runs_active",
        "gauge",
        "Runs queued or running now, by status.",
    );
    for status in ["queued", "running"] {
        let n = f
            .active
            .iter()
            .find(|(s, _)| s == status)
            .map_or(0, |(_, n)| *n);
        let _ = writeln!(out, "unyo_runs_active{{status=\"{status}\"}} {n}");
    }

    head(
        &mut out,
        "unyo_slot_fire_delay_seconds",
        "histogram",
        "Time from a slot being due to its run's start.",
    );
    histogram(
        &mut out,
        "unyo_slot_fire_delay_seconds",
        "",
        &WAIT_BUCKETS,
        &s.counts.fire_delay,
    );
    head(
        &mut out,
        "unyo_queue_wait_seconds",
        "histogram",
        "Time from a run being queued to its start.",
    );
    histogram(
        &mut out,
        "unyo_queue_wait_seconds",
        "",
        &WAIT_BUCKETS,
        &s.counts.queue_wait,
    );

    head(
        &mut out,
        "unyo_missed_slots_total",
        "counter",
        "Slots that made no run, by job and reason (missed, closed_day, overlap, window).",
    );
    for (job, c) in &s.counts.jobs {
        for (outcome, n) in &c.not_run {
            let outcome = outcome.as_str();
            let reason = outcome.strip_prefix("skipped_").unwrap_or(outcome);
            let _ = writeln!(
                out,
                "unyo_missed_slots_total{{unyo_job=\"{}\",reason=\"{reason}\"}} {n}",
                esc(job)
            );
        }
    }

    head(
        &mut out,
        "unyo_job_last_success_timestamp_seconds",
        "gauge",
        "When each job's last successful run ended.",
    );
    for (job, t) in s
        .counts
        .jobs
        .iter()
        .filter_map(|(j, c)| c.last_success.map(|t| (j, t)))
    {
        let _ = writeln!(
            out,
            "unyo_job_last_success_timestamp_seconds{{unyo_job=\"{}\"}} {}",
            esc(job),
            seconds(t)
        );
    }
    head(
        &mut out,
        "unyo_job_next_slot_timestamp_seconds",
        "gauge",
        "When each scheduled job's next slot is due.",
    );
    for (job, t) in s.next_slots {
        let _ = writeln!(
            out,
            "unyo_job_next_slot_timestamp_seconds{{unyo_job=\"{}\"}} {}",
            esc(job),
            seconds(*t)
        );
    }

    head(
        &mut out,
        "unyo_incidents_unresolved",
        "gauge",
        "Incidents not resolved, by severity and status (open, acknowledged).",
    );
    for sev in Severity::ALL {
        for status in ["open", "acknowledged"] {
            let n = f
                .incidents
                .iter()
                .filter(|(s, st, _)| s == sev && st == status)
                .map(|(.., n)| n)
                .sum::<i64>();
            let _ = writeln!(
                out,
                "unyo_incidents_unresolved{{severity=\"{sev}\",status=\"{status}\"}} {n}"
            );
        }
    }

    targets(&mut out, s);

    head(
        &mut out,
        "unyo_daemon_heartbeat_timestamp_seconds",
        "gauge",
        "The newest heartbeat of a running daemon.",
    );
    if let Some(t) = f.heartbeat {
        let _ = writeln!(
            out,
            "unyo_daemon_heartbeat_timestamp_seconds {}",
            seconds(t)
        );
    }
    out
}

/// The health-check targets' gauges.
fn targets(out: &mut String, s: &Snapshot<'_>) {
    let label = |t: &TargetRow| format!("target=\"{}\",kind=\"{}\"", esc(&t.target), t.kind);
    head(
        out,
        "unyo_check_target_up",
        "gauge",
        "1 when a health-check target is up, 0 when down.",
    );
    for t in s.targets {
        let up = i32::from(t.state == TargetState::Up);
        let _ = writeln!(out, "unyo_check_target_up{{{}}} {up}", label(t));
    }
    head(
        out,
        "unyo_check_status",
        "gauge",
        "A target's last result: 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN.",
    );
    for t in s.targets {
        let _ = writeln!(
            out,
            "unyo_check_status{{{}}} {}",
            label(t),
            t.last_status.code()
        );
    }
    head(
        out,
        "unyo_check_last_result_timestamp_seconds",
        "gauge",
        "When a target's last result was recorded.",
    );
    for t in s.targets {
        let _ = writeln!(
            out,
            "unyo_check_last_result_timestamp_seconds{{{}}} {}",
            label(t),
            seconds(t.last_at)
        );
    }
    head(
        out,
        "unyo_check_target_flapping",
        "gauge",
        "1 when a target changed state 4 times or more in the last 24 hours.",
    );
    for t in s.targets {
        let at: Vec<DateTime<Utc>> = s
            .changes
            .iter()
            .filter(|c| c.target == t.target)
            .map(|c| c.at)
            .collect();
        let _ = writeln!(
            out,
            "unyo_check_target_flapping{{{}}} {}",
            label(t),
            i32::from(flapping(&at, s.now))
        );
    }
    head(
        out,
        "unyo_check_perfdata",
        "gauge",
        "The performance data of a target's last result, by label and unit as the plugin printed them.",
    );
    for t in s.targets {
        for p in parse_perfdata(&t.last_perfdata) {
            let _ = writeln!(
                out,
                "unyo_check_perfdata{{{},label=\"{}\",unit=\"{}\"}} {}",
                label(t),
                esc(&p.label),
                esc(&p.unit),
                num(p.value)
            );
        }
    }
}

#[cfg(test)]
mod tests;
