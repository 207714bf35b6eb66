//! Planning the generated `batch-NNN` jobs that carry the bulk of a large month: how many
//! jobs, their schedules over the month's segments (business days, nights, outages), and the
//! fate of each of their runs.

use super::jobs::{self, Job};
use super::plan::{Extra, FailKind, Fate, LoneSlot, OPERATORS, Planner, Reason, item};
use super::{DAY, HOUR, MS, Rng, SEC, Spec, SynthError, Us};
use crate::store::{SlotOutcome, Trigger};

/// Generated jobs carrying `total` runs: about 5,000 runs a job, at most 200 jobs.
pub(super) fn batch(
    p: &mut Planner<'_>,
    jobs: &mut Vec<Job>,
    spec: &Spec,
    total: u64,
) -> Result<(), SynthError> {
    if total == 0 {
        return Ok(());
    }
    let count = total.div_ceil(5_000).clamp(total.min(5), 200) as usize;
    // Quotas in proportion to weights 1-10, summing to `total` exactly.
    let weights: Vec<u64> = (0..count)
        .map(|j| 1 + Rng::for_item(spec.seed, item::BATCH_JOB, j as u64).below(10))
        .collect();
    let sum: u64 = weights.iter().sum();
    let mut quotas: Vec<u64> = weights.iter().map(|w| total * w / sum).collect();
    let mut left = total - quotas.iter().sum::<u64>();
    let mut j = 0;
    while left > 0 {
        quotas[j % count] += 1;
        left -= 1;
        j += 1;
    }
    for (j, &quota) in quotas.iter().enumerate() {
        if quota == 0 {
            continue;
        }
        let mut rng = Rng::for_item(spec.seed, item::BATCH_RUNS, j as u64);
        let calendar = j % 4 == 3;
        let run_once = j % 3 == 1;
        let night = j % 5 == 4;
        let segments = segments(p, calendar, night);
        let avail: Us = segments
            .iter()
            .filter(|s| s.kind == Seg::Avail)
            .map(|s| s.end - s.start)
            .sum();
        let period = avail / quota as i64;
        if period < SEC {
            return Err(SynthError::TooManyRuns {
                runs: spec.runs,
                maximum: spec.runs / 2,
            });
        }
        let job_idx = jobs.len();
        jobs.push(jobs::batch(j + 1, spec.seed, period / 4));
        let steps = jobs[job_idx].steps.len() as u64;
        let phase = rng.below((period / SEC).max(1) as u64) as i64 * SEC;
        let first = p.runs.len();
        // Regular runs, `quota` of them evenly over the available time.
        let mut k: i64 = 0;
        let mut offset_in = 0;
        let mut made = 0u64;
        for s in &segments {
            match s.kind {
                Seg::Avail => {
                    while made < quota {
                        let pos = phase.min(period - SEC) + k * period;
                        if pos >= offset_in + (s.end - s.start) {
                            break;
                        }
                        let fire = (s.start + pos - offset_in) / SEC * SEC;
                        k += 1;
                        made += 1;
                        let mut r = p.run(
                            job_idx,
                            Trigger::Schedule,
                            fire + rng.range(1, 5) * MS,
                            Some(Planner::slot(fire)),
                        );
                        r.fate = batch_fate(&mut rng, steps);
                        p.add(r);
                    }
                    offset_in += s.end - s.start;
                }
                Seg::Closed | Seg::Down(_) => {
                    let mut t = s.start + (phase % period);
                    let mut last = None;
                    while t < s.end {
                        let fire = t / SEC * SEC;
                        match s.kind {
                            Seg::Closed => {
                                let closed = p
                                    .cal
                                    .closed(p.m.local_date(fire))
                                    .map_or_else(|| "closed".to_owned(), |c| c.to_string());
                                p.lone.push(LoneSlot {
                                    job: job_idx as u32,
                                    decided: fire + 2 * MS,
                                    fire,
                                    due: fire,
                                    outcome: SlotOutcome::SkippedClosedDay,
                                    reason: Reason::Text(format!("closed: {closed}").into()),
                                });
                            }
                            Seg::Down(o) => {
                                let o = p.outages[o];
                                if let Some(prev) = last.replace(fire) {
                                    let policy = if run_once { "run_once" } else { "skip" };
                                    p.missed(job_idx, prev, o, policy);
                                }
                            }
                            Seg::Avail | Seg::Quiet => {}
                        }
                        t += period;
                    }
                    // The latest slot of an outage: caught up (run_once), or not.
                    if let (Seg::Down(o), Some(fire)) = (s.kind, last) {
                        let o = p.outages[o];
                        let up_minutes = p.m.local_minutes(o.up);
                        if !run_once {
                            p.missed(job_idx, fire, o, "skip");
                        } else if night && (6 * 60..22 * 60).contains(&up_minutes) {
                            p.lone.push(LoneSlot {
                                job: job_idx as u32,
                                decided: o.up + 3 * MS,
                                fire,
                                due: fire,
                                outcome: SlotOutcome::SkippedWindow,
                                reason: Reason::Text(
                                    "outside window `night` (outside_window: skip)".into(),
                                ),
                            });
                        } else {
                            let slot = Planner::slot(fire);
                            let mut r = p.run(
                                job_idx,
                                Trigger::CatchUp,
                                o.up + rng.range(3, 9) * MS,
                                Some(slot),
                            );
                            r.fate = batch_fate(&mut rng, steps);
                            p.add(r);
                        }
                    }
                }
                Seg::Quiet => {}
            }
        }
        // A long run now and then makes its next slot overlap (overlap: forbid).
        if period >= 20 * SEC && quota >= 50 {
            for i in first..p.runs.len() {
                let r = &p.runs[i];
                if r.trigger != Trigger::Schedule || r.fate != Fate::Ok || !rng.chance(0.002) {
                    continue;
                }
                let (key, fire) = (r.key, r.slot.as_ref().map_or(r.queued, |s| s.fire));
                let at = (fire + period / 2) / SEC * SEC;
                if p.outage_at(at).is_some() || at >= p.last_start {
                    continue;
                }
                p.runs[i].fate = Fate::Slow {
                    total: period * 6 / 10,
                };
                p.lone.push(LoneSlot {
                    job: job_idx as u32,
                    decided: at + 2 * MS,
                    fire: at,
                    due: at,
                    outcome: SlotOutcome::SkippedOverlap,
                    reason: Reason::Overlap(key),
                });
            }
        }
        // Operators rerun some failed runs the next business morning.
        let mut reruns = Vec::new();
        if quota >= 200 {
            for i in first..p.runs.len() {
                let r = &p.runs[i];
                if !matches!(r.fate, Fate::Fail { .. }) || reruns.len() >= 50 || !rng.chance(0.25) {
                    continue;
                }
                let mut d = p.m.local_date(r.queued) + chrono::Days::new(1);
                while !p.cal.is_business_day(d) {
                    d = d + chrono::Days::new(1);
                }
                let at = p.m.at(d, 9, 5, 0) + rng.range(0, 5400) * SEC;
                if at >= p.last_start {
                    continue;
                }
                let mut again = p.run(job_idx, Trigger::Rerun, at, None);
                again.business = r.business;
                again.by = rng.below(OPERATORS.len() as u64) as u8;
                again.extra = Extra::Rerun(r.key);
                reruns.push(again);
            }
        }
        let extra = (p.runs.len() - first) as u64 + reruns.len() as u64 - quota;
        // Keep exactly `quota`: the job's last regular runs give way to the catch-ups and
        // reruns (the overlap slots they caused go with them).
        let rerun_of: Vec<u32> = reruns
            .iter()
            .filter_map(|r| match r.extra {
                Extra::Rerun(k) => Some(k),
                _ => None,
            })
            .collect();
        let mut drop = extra;
        let mut i = p.runs.len();
        while drop > 0 && i > first {
            i -= 1;
            if p.runs[i].trigger == Trigger::Schedule && !rerun_of.contains(&p.runs[i].key) {
                let gone = p.runs.remove(i);
                p.lone
                    .retain(|s| !matches!(s.reason, Reason::Overlap(k) if k == gone.key));
                drop -= 1;
            }
        }
        for again in reruns {
            p.add(again);
        }
    }
    Ok(())
}

fn batch_fate(rng: &mut Rng, steps: u64) -> Fate {
    let x = rng.unit();
    let step = rng.below(steps) as u8;
    if x < 0.0012 {
        Fate::Fail {
            step,
            kind: FailKind::Exit(*rng.pick(&[1, 1, 2, 3, 127, 4])),
        }
    } else if x < 0.0015 {
        Fate::Fail {
            step,
            kind: FailKind::Kill,
        }
    } else if x < 0.0017 {
        Fate::Fail {
            step,
            kind: FailKind::TempfailExhausted,
        }
    } else if x < 0.0057 {
        Fate::RetryOk {
            step,
            locked: rng.chance(0.5),
        }
    } else if x < 0.0059 {
        Fate::Cancelled {
            after: rng.range(1, 20) * SEC,
            by: rng.below(OPERATORS.len() as u64) as u8,
        }
    } else {
        Fate::Ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Seg {
    /// Slots here start runs.
    Avail,
    /// A closed day of the calendar: slots skipped.
    Closed,
    /// The daemon was down (outage index): slots missed or caught up.
    Down(usize),
    /// No slots (outside the job's cron hours, the month's last hours).
    Quiet,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    start: Us,
    end: Us,
    kind: Seg,
}

/// The month cut into spans for a generated job.
fn segments(p: &Planner<'_>, calendar: bool, night: bool) -> Vec<Segment> {
    let m = p.m;
    let mut out: Vec<Segment> = Vec::new();
    let mut push = |start: Us, end: Us, kind: Seg| {
        if end <= start {
            return;
        }
        match out.last_mut() {
            Some(l) if l.kind == kind && l.end == start => l.end = end,
            _ => out.push(Segment { start, end, kind }),
        }
    };
    for &d in &m.days {
        let (d0, d1) = (m.at(d, 0, 0, 0), m.at(d, 0, 0, 0) + DAY);
        if calendar && !p.cal.is_business_day(d) {
            push(d0, d1, Seg::Closed);
            continue;
        }
        let spans: Vec<(Us, Us)> = if night {
            vec![(d0, d0 + 6 * HOUR), (d0 + 22 * HOUR, d1)]
        } else {
            vec![(d0, d1)]
        };
        let mut cursor = d0;
        for (a, b) in spans {
            push(cursor, a, Seg::Quiet);
            // Cut out the outages.
            let mut t = a;
            for (i, o) in p.outages.iter().enumerate() {
                if o.up <= t || o.down >= b {
                    continue;
                }
                push(t, o.down.max(t), Seg::Avail);
                push(o.down.max(t), o.up.min(b), Seg::Down(i));
                t = o.up.min(b);
            }
            push(t, b, Seg::Avail);
            cursor = b;
        }
        push(cursor, d1, Seg::Quiet);
    }
    // Nothing starts in the last hours, so every run ends inside the month.
    let mut cut = Vec::with_capacity(out.len());
    for s in out {
        if s.start >= p.last_start {
            continue;
        }
        cut.push(Segment {
            end: s.end.min(p.last_start),
            ..s
        });
    }
    cut
}
