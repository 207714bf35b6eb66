//! The counts of ended runs and of slots that made no run, kept between scrapes so that each
//! scrape reads only what is new (`Store::runs_since`, `Store::slots_not_run`): ended runs
//! and decided slots never change, so a run is counted once, when it is first seen ended.
//!
//! Runs end out of id order (a long run ends after later short ones), so the tally keeps the
//! lowest id that may still end (`from`: every run below it is counted) and the ids above it
//! counted already. Pure: the caller reads the store and hands the rows in.
//!
//! The counts are kept small, as they live as long as the daemon: a job's name once, the
//! statuses and outcomes as their tokens, the histograms as fixed arrays (about 250 bytes a
//! job). A scrape renders from [`Tally::counts`], shared, not copied; the next scrape's
//! additions copy them only while an earlier scrape is still sending.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::{DURATION_BUCKETS, WAIT_BUCKETS};
use crate::domain::status::{RunStatus, SlotOutcome};
use crate::store::{EndedRun, RunsSince, SlotsSince};

/// Observations counted into buckets: `buckets[i]` counts those at or below the i-th bound
/// (cumulative, as Prometheus has them).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Histogram<const N: usize> {
    pub count: u64,
    pub sum: f64,
    pub buckets: [u64; N],
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram {
            count: 0,
            sum: 0.0,
            buckets: [0; N],
        }
    }
}

impl<const N: usize> Histogram<N> {
    fn observe(&mut self, bounds: &[f64; N], v: f64) {
        self.count += 1;
        self.sum += v;
        for (b, n) in bounds.iter().zip(self.buckets.iter_mut()) {
            if v <= *b {
                *n += 1;
            }
        }
    }
}

/// What one job's runs and slots came to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobCounts {
    /// Ended runs by status, in the statuses' alphabetical order.
    pub runs: Vec<(RunStatus, u64)>,
    /// Seconds from start to end of the ended runs that started, whatever their status.
    pub duration: Histogram<{ DURATION_BUCKETS.len() }>,
    /// When its last successful run ended.
    pub last_success: Option<DateTime<Utc>>,
    /// Slots that made no run, by outcome, in the outcomes' alphabetical order.
    pub not_run: Vec<(SlotOutcome, u64)>,
}

/// Everything counted, by job.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    /// By job name, sorted.
    pub jobs: Vec<(Box<str>, JobCounts)>,
    /// Seconds from a slot being due to its run's start.
    pub fire_delay: Histogram<{ WAIT_BUCKETS.len() }>,
    /// Seconds from a run being queued to its start.
    pub queue_wait: Histogram<{ WAIT_BUCKETS.len() }>,
}

impl Counts {
    fn job(&mut self, name: &str) -> &mut JobCounts {
        let i = match self.jobs.binary_search_by(|(j, _)| (**j).cmp(name)) {
            Ok(i) => i,
            Err(i) => {
                self.jobs.insert(i, (name.into(), JobCounts::default()));
                i
            }
        };
        &mut self.jobs[i].1
    }
}

/// Adds one to the count of `key` in a list kept in the keys' alphabetical order.
fn bump<K: Copy + PartialEq>(list: &mut Vec<(K, u64)>, key: K, name: impl Fn(K) -> &'static str) {
    match list.iter_mut().find(|(k, _)| *k == key) {
        Some((_, n)) => *n += 1,
        None => {
            list.push((key, 1));
            list.sort_by_key(|(k, _)| name(*k));
        }
    }
}

/// What the scrapes have counted so far.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Every run below this id has ended and is counted.
    from: i64,
    /// Runs at or above `from` counted already.
    seen: BTreeSet<i64>,
    counts: Arc<Counts>,
    /// Every slot up to this id is counted.
    slots_through: i64,
}

fn seconds(from: DateTime<Utc>, to: DateTime<Utc>) -> f64 {
    (to - from).num_microseconds().unwrap_or(i64::MAX) as f64 / 1e6
}

impl Tally {
    /// The id to read ended runs from.
    pub fn runs_from(&self) -> i64 {
        self.from
    }

    /// The slot id to read slots after.
    pub fn slots_after(&self) -> i64 {
        self.slots_through
    }

    /// The counts so far, shared with the tally (cheap: no copy).
    pub fn counts(&self) -> Arc<Counts> {
        self.counts.clone()
    }

    /// Counts the runs of `read` not counted yet.
    pub fn add_runs(&mut self, read: &RunsSince) {
        for r in &read.ended {
            if r.id < self.from || !self.seen.insert(r.id) {
                continue;
            }
            self.count(r);
        }
    }

    /// After the reads of one scrape: every run below the lowest of their snapshots'
    /// `oldest_active` (or `max_id + 1`) was ended in the read that covered it, so it is
    /// counted.
    pub fn advance(&mut self, reads: impl IntoIterator<Item = (Option<i64>, i64)>) {
        let Some(from) = reads
            .into_iter()
            .map(|(oldest, max)| oldest.unwrap_or(max + 1))
            .min()
        else {
            return;
        };
        if from > self.from {
            self.from = from;
            self.seen = self.seen.split_off(&from);
        }
    }

    fn count(&mut self, r: &EndedRun) {
        // A status this build does not know (a newer one's record) is not counted.
        let Ok(status) = r.status.parse::<RunStatus>() else {
            return;
        };
        let counts = Arc::make_mut(&mut self.counts);
        if let Some(started) = r.started_at {
            counts
                .queue_wait
                .observe(&WAIT_BUCKETS, seconds(r.queued_at, started).max(0.0));
            if let Some(due) = r.due_at {
                counts
                    .fire_delay
                    .observe(&WAIT_BUCKETS, seconds(due, started).max(0.0));
            }
        }
        let job = counts.job(&r.job);
        bump(&mut job.runs, status, RunStatus::as_str);
        if let Some(started) = r.started_at {
            job.duration
                .observe(&DURATION_BUCKETS, seconds(started, r.ended_at));
        }
        if status == RunStatus::Succeeded {
            job.last_success = job.last_success.max(Some(r.ended_at));
        }
    }

    /// Counts the slots of `read` not counted yet.
    pub fn add_slots(&mut self, read: &SlotsSince) {
        for (id, job, outcome) in &read.not_run {
            if *id <= self.slots_through {
                continue;
            }
            let Ok(outcome) = outcome.parse::<SlotOutcome>() else {
                continue;
            };
            let job = Arc::make_mut(&mut self.counts).job(job);
            bump(&mut job.not_run, outcome, SlotOutcome::as_str);
        }
        self.slots_through = self.slots_through.max(read.max_id);
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .expect("t")
            + Duration::seconds(s)
    }

    fn ended(id: i64, job: &str, status: &str, took: i64) -> EndedRun {
        EndedRun {
            id,
            job: job.into(),
            status: status.into(),
            queued_at: at(0),
            started_at: Some(at(2)),
            ended_at: at(2 + took),
            due_at: Some(at(1)),
        }
    }

    #[test]
    fn each_run_is_counted_once_whatever_order_they_end_in() {
        let mut t = Tally::default();
        // Run 2 is still running: runs 1 and 3 end first.
        t.add_runs(&RunsSince {
            ended: vec![ended(1, "a", "succeeded", 3), ended(3, "a", "failed", 100)],
            oldest_active: Some(2),
            max_id: 3,
        });
        t.advance([(Some(2), 3)]);
        assert_eq!(t.runs_from(), 2);
        // The next read from 2 sees 3 again, and 2 now ended.
        t.add_runs(&RunsSince {
            ended: vec![ended(2, "a", "succeeded", 10), ended(3, "a", "failed", 100)],
            oldest_active: None,
            max_id: 3,
        });
        // Two reads in one scrape: the lower snapshot wins.
        t.advance([(None, 3), (Some(3), 5)]);
        assert_eq!(t.runs_from(), 3);
        t.advance([(None, 3)]);
        assert_eq!(t.runs_from(), 4);
        let c = t.counts();
        assert_eq!(c.jobs.len(), 1);
        let (name, a) = &c.jobs[0];
        assert_eq!(&**name, "a");
        assert_eq!(
            a.runs,
            vec![(RunStatus::Failed, 1), (RunStatus::Succeeded, 2)]
        );
        // One histogram for the job's three runs; bucket 1 is `le 5`: only the 3 s run.
        assert_eq!(a.duration.count, 3);
        assert_eq!(a.duration.buckets[1], 1);
        assert_eq!(a.last_success, Some(at(12)));
        assert_eq!(c.queue_wait.count, 3);
        assert!((c.queue_wait.sum - 6.0).abs() < 1e-9);
        assert_eq!(c.fire_delay.count, 3);
        assert_eq!(c.fire_delay.buckets[2], 3, "1 s <= le 1");
    }

    /// A scrape still sending holds the counts it rendered from; what the next scrape adds
    /// goes to a copy and the first sees none of it.
    #[test]
    fn counts_handed_to_a_scrape_do_not_change_under_it() {
        let mut t = Tally::default();
        let read = |id| RunsSince {
            ended: vec![ended(id, "a", "succeeded", 1)],
            oldest_active: None,
            max_id: id,
        };
        t.add_runs(&read(1));
        let sending = t.counts();
        t.add_runs(&read(2));
        assert_eq!(sending.jobs[0].1.runs, vec![(RunStatus::Succeeded, 1)]);
        assert_eq!(t.counts().jobs[0].1.runs, vec![(RunStatus::Succeeded, 2)]);
    }

    #[test]
    fn a_status_or_outcome_this_build_does_not_know_is_left_out() {
        let mut t = Tally::default();
        t.add_runs(&RunsSince {
            ended: vec![ended(1, "a", "vanished", 1), ended(2, "b", "failed", 1)],
            oldest_active: None,
            max_id: 2,
        });
        t.add_slots(&SlotsSince {
            not_run: vec![(1, "a".into(), "skipped_someday".into())],
            max_id: 1,
        });
        let c = t.counts();
        let names: Vec<&str> = c.jobs.iter().map(|(j, _)| &**j).collect();
        assert_eq!(names, ["b"]);
        assert_eq!(t.slots_after(), 1);
    }

    #[test]
    fn slots_are_counted_once() {
        let mut t = Tally::default();
        let read = SlotsSince {
            not_run: vec![(4, "a".into(), "missed".into())],
            max_id: 9,
        };
        t.add_slots(&read);
        t.add_slots(&read);
        assert_eq!(t.slots_after(), 9);
        let c = t.counts();
        assert_eq!(c.jobs[0].1.not_run, vec![(SlotOutcome::Missed, 1)]);
    }
}
