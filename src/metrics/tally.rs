//! The counts of ended runs and of slots that made no run, kept between scrapes so that each
//! scrape reads only what is new (`Store::runs_since`, `Store::slots_not_run`): ended runs
//! and decided slots never change, so a run is counted once, when it is first seen ended.
//!
//! Runs end out of id order (a long run ends after later short ones), so the tally keeps the
//! lowest id that may still end (`from`: every run below it is counted) and the ids above it
//! counted already. Pure: the caller reads the store and hands the rows in.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{DURATION_BUCKETS, WAIT_BUCKETS};
use crate::store::{EndedRun, Histogram, MetricFacts, RunTally, RunsSince, SlotsSince};

/// What the scrapes have counted so far.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    /// Every run below this id has ended and is counted.
    from: i64,
    /// Runs at or above `from` counted already.
    seen: BTreeSet<i64>,
    runs: BTreeMap<(String, String), RunTally>,
    last_success: BTreeMap<String, DateTime<Utc>>,
    fire_delay: Histogram,
    queue_wait: Histogram,
    /// Every slot up to this id is counted.
    slots_through: i64,
    not_run: BTreeMap<(String, String), i64>,
}

fn empty(bounds: usize) -> Histogram {
    Histogram {
        count: 0,
        sum: 0.0,
        buckets: vec![0; bounds],
    }
}

fn observe(h: &mut Histogram, bounds: &[f64], v: f64) {
    if h.buckets.len() != bounds.len() {
        *h = empty(bounds.len());
    }
    h.count += 1;
    h.sum += v;
    for (b, n) in bounds.iter().zip(h.buckets.iter_mut()) {
        if v <= *b {
            *n += 1;
        }
    }
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
        let t = self
            .runs
            .entry((r.job.clone(), r.status.clone()))
            .or_insert_with(|| RunTally {
                job: r.job.clone(),
                status: r.status.clone(),
                count: 0,
                duration: empty(DURATION_BUCKETS.len()),
            });
        t.count += 1;
        if let Some(started) = r.started_at {
            observe(
                &mut t.duration,
                &DURATION_BUCKETS,
                seconds(started, r.ended_at),
            );
            observe(
                &mut self.queue_wait,
                &WAIT_BUCKETS,
                seconds(r.queued_at, started).max(0.0),
            );
            if let Some(due) = r.due_at {
                observe(
                    &mut self.fire_delay,
                    &WAIT_BUCKETS,
                    seconds(due, started).max(0.0),
                );
            }
        }
        if r.status == "succeeded" {
            let last = self.last_success.entry(r.job.clone()).or_insert(r.ended_at);
            *last = (*last).max(r.ended_at);
        }
    }

    /// Counts the slots of `read` not counted yet.
    pub fn add_slots(&mut self, read: &SlotsSince) {
        for (id, job, outcome) in &read.not_run {
            if *id <= self.slots_through {
                continue;
            }
            *self
                .not_run
                .entry((job.clone(), outcome.clone()))
                .or_insert(0) += 1;
        }
        self.slots_through = self.slots_through.max(read.max_id);
    }

    /// Puts the counts into `facts` (which holds the figures of now).
    pub fn fill(&self, facts: &mut MetricFacts) {
        facts.runs = self.runs.values().cloned().collect();
        facts.not_run = self
            .not_run
            .iter()
            .map(|((j, o), n)| (j.clone(), o.clone(), *n))
            .collect();
        facts.last_success = self
            .last_success
            .iter()
            .map(|(j, t)| (j.clone(), *t))
            .collect();
        facts.fire_delay = if self.fire_delay.buckets.is_empty() {
            empty(WAIT_BUCKETS.len())
        } else {
            self.fire_delay.clone()
        };
        facts.queue_wait = if self.queue_wait.buckets.is_empty() {
            empty(WAIT_BUCKETS.len())
        } else {
            self.queue_wait.clone()
        };
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
        let mut f = MetricFacts::default();
        t.fill(&mut f);
        let counts: Vec<(String, String, i64, i64)> = f
            .runs
            .iter()
            .map(|r| {
                (
                    r.job.clone(),
                    r.status.clone(),
                    r.count,
                    r.duration.buckets[1],
                )
            })
            .collect();
        // Bucket 1 is `le 5`: only the 3 s run.
        assert_eq!(
            counts,
            vec![
                ("a".into(), "failed".into(), 1, 0),
                ("a".into(), "succeeded".into(), 2, 1)
            ]
        );
        assert_eq!(f.last_success, vec![("a".to_owned(), at(12))]);
        assert_eq!(f.queue_wait.count, 3);
        assert!((f.queue_wait.sum - 6.0).abs() < 1e-9);
        assert_eq!(f.fire_delay.count, 3);
        assert_eq!(f.fire_delay.buckets[2], 3, "1 s <= le 1");
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
        let mut f = MetricFacts::default();
        t.fill(&mut f);
        assert_eq!(f.not_run, vec![("a".to_owned(), "missed".to_owned(), 1)]);
    }
}
