//! What becomes of each slot of a schedule due by `now`: run now, queue behind the job's
//! running run, replace it, or skip it (overlap, window, held), and a misfire's catch-up; and
//! how long a queued run waits for its window.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::window;
use super::{MISFIRE_AFTER, Occurrence, Shift};
use crate::domain::status::{RunStatus, SlotOutcome, Trigger};
use crate::model::{Job, MisfirePolicy, Overlap, Schedule, Window, WindowPolicy};

/// A run that is queued or running, as the planner sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveRun {
    pub id: i64,
    pub status: RunStatus,
}

/// How a slot starts its run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Start {
    /// Start now; `replace` are the running runs it stops first.
    Now { trigger: Trigger, replace: Vec<i64> },
    /// Queue the run; it starts when the job's running run has ended, its `after` jobs have
    /// succeeded and `not_before` has passed.
    Queue {
        trigger: Trigger,
        not_before: Option<DateTime<Utc>>,
    },
}

/// What becomes of one slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub fire_time: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub outcome: SlotOutcome,
    pub reason: Option<String>,
    pub start: Option<Start>,
}

/// What the daemon knows when it decides.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub now: DateTime<Utc>,
    /// Queued and running runs of the schedule's job.
    pub active: &'a [ActiveRun],
    pub windows: &'a BTreeMap<String, Window>,
    /// The zone windows are read in.
    pub window_tz: Tz,
    /// The zone times are shown in, in reasons.
    pub display_tz: Tz,
}

fn show(t: DateTime<Utc>, tz: Tz) -> String {
    t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
}

/// Decides every slot of one schedule due by `facts.now` (as `occurrences` returned them).
pub fn decide(
    schedule: &Schedule,
    job: &Job,
    slots: &[Occurrence],
    facts: Facts<'_>,
) -> Vec<Decision> {
    let now = facts.now;
    let tz = facts.display_tz;
    let late_after = chrono::Duration::from_std(MISFIRE_AFTER).unwrap_or_default();
    let within = schedule
        .misfire_within
        .and_then(|w| chrono::Duration::from_std(w).ok());
    let mut out: Vec<Decision> = Vec::with_capacity(slots.len());
    // Which slots may run: on-time ones always, late ones per the misfire policy.
    let mut runnable: Vec<(usize, bool)> = Vec::new();
    // Slots due at the same instant make one run: the first is the primary, the others
    // follow its fate. The misfire policy counts primaries only.
    let mut first_due: BTreeMap<DateTime<Utc>, usize> = BTreeMap::new();
    let primary: Vec<Option<usize>> = slots
        .iter()
        .enumerate()
        .map(|(i, o)| {
            if matches!(o.shift, Shift::Skipped { .. }) {
                return None;
            }
            Some(*first_due.entry(o.due_at).or_insert(i))
        })
        .collect();
    let late_idx: Vec<usize> = slots
        .iter()
        .enumerate()
        .filter(|(i, o)| now - o.due_at > late_after && primary[*i] == Some(*i))
        .map(|(i, _)| i)
        .collect();
    // Merged slots: their index in `slots` (and in `out`, the same), and their primary's.
    let mut merged: Vec<(usize, usize)> = Vec::new();
    // Flags by slot index (a long downtime of an every-second schedule has many slots).
    let mut late = vec![false; slots.len()];
    for &i in &late_idx {
        late[i] = true;
    }
    let mut keep_late = vec![false; slots.len()];
    let kept: &[usize] = match schedule.misfire {
        MisfirePolicy::Skip => &[],
        MisfirePolicy::RunOnce => &late_idx[late_idx.len().saturating_sub(1)..],
        MisfirePolicy::RunAll => {
            &late_idx[late_idx.len().saturating_sub(schedule.misfire_max as usize)..]
        }
    };
    for &i in kept {
        keep_late[i] = true;
    }
    for (i, o) in slots.iter().enumerate() {
        let mut d = Decision {
            fire_time: o.fire_time,
            due_at: o.due_at,
            outcome: SlotOutcome::Started,
            reason: None,
            start: None,
        };
        if let Shift::Skipped { closed } = &o.shift {
            d.outcome = SlotOutcome::SkippedClosedDay;
            d.reason = Some(format!("closed: {closed}"));
            out.push(d);
            continue;
        }
        if let Some(p) = primary[i].filter(|p| *p != i) {
            merged.push((i, p));
            out.push(d);
            continue;
        }
        let is_late = late[i];
        if is_late {
            let lateness = now - o.due_at;
            let policy = match schedule.misfire {
                MisfirePolicy::Skip => "skip",
                MisfirePolicy::RunOnce => "run_once",
                MisfirePolicy::RunAll => "run_all",
            };
            let too_late = within.is_some_and(|w| lateness > w);
            if !keep_late[i] || too_late {
                d.outcome = SlotOutcome::Missed;
                let mins = lateness.num_minutes();
                d.reason = Some(if too_late {
                    format!(
                        "missed: due {} ({mins} min ago), later than `within` allows",
                        show(o.due_at, tz)
                    )
                } else if schedule.misfire == MisfirePolicy::RunOnce {
                    format!(
                        "missed: due {} (misfire: run_once runs only the latest)",
                        show(o.due_at, tz)
                    )
                } else if schedule.misfire == MisfirePolicy::RunAll {
                    format!(
                        "missed: due {} (misfire: run_all runs at most {})",
                        show(o.due_at, tz),
                        schedule.misfire_max
                    )
                } else {
                    format!(
                        "missed: due {} ({mins} min ago; misfire: {policy})",
                        show(o.due_at, tz)
                    )
                });
                out.push(d);
                continue;
            }
        }
        runnable.push((out.len(), is_late));
        if let Shift::Moved { closed } = &o.shift {
            d.outcome = SlotOutcome::Shifted;
            d.reason = Some(format!(
                "closed: {closed}; moved from {} to {}",
                show(o.fire_time, tz),
                show(o.due_at, tz)
            ));
        }
        out.push(d);
    }

    let running: Vec<i64> = facts
        .active
        .iter()
        .filter(|r| r.status == RunStatus::Running)
        .map(|r| r.id)
        .collect();
    let mut busy = facts.active.first().map(|r| r.id);
    for (idx, late) in runnable {
        let ours = busy_is_ours(&out, idx);
        let d = &mut out[idx];
        let trigger = if late {
            Trigger::CatchUp
        } else {
            Trigger::Schedule
        };
        let add_reason = |d: &mut Decision, text: String| {
            d.reason = Some(match d.reason.take() {
                Some(r) => format!("{r}; {text}"),
                None => text,
            });
        };
        let mut queue = false;
        let mut caught_up = false;
        let mut replace = Vec::new();
        if let Some(other) = busy {
            match schedule.overlap {
                // Several caught-up slots of one schedule run one after the other.
                _ if late && schedule.misfire == MisfirePolicy::RunAll && ours => {
                    queue = true;
                    caught_up = true;
                }
                Overlap::Forbid => {
                    d.outcome = SlotOutcome::SkippedOverlap;
                    add_reason(
                        d,
                        format!(
                            "run {other} of `{}` is still active (overlap: forbid)",
                            job.name
                        ),
                    );
                    continue;
                }
                Overlap::Queue => queue = true,
                Overlap::Allow => {}
                Overlap::Replace => replace = running.clone(),
            }
        }
        // Windows are checked at the moment of starting.
        if let Some((until, why)) = window_wait(job, now, &facts) {
            match until {
                Some(t) if job.outside_window == WindowPolicy::Wait => {
                    d.outcome = SlotOutcome::WaitingWindow;
                    add_reason(d, why);
                    d.start = Some(Start::Queue {
                        trigger,
                        not_before: Some(t),
                    });
                    busy = busy.or(Some(0));
                }
                _ => {
                    d.outcome = SlotOutcome::SkippedWindow;
                    add_reason(d, why);
                }
            }
            continue;
        }
        if queue || !job.after.is_empty() {
            if caught_up {
                d.outcome = SlotOutcome::Queued;
                add_reason(
                    d,
                    "caught up after the slot before it (misfire: run_all)".to_owned(),
                );
            } else if queue {
                d.outcome = SlotOutcome::Queued;
                add_reason(
                    d,
                    "queued behind the job's active run (overlap: queue)".to_owned(),
                );
            } else {
                add_reason(
                    d,
                    format!(
                        "waits for {} (after)",
                        job.after
                            .iter()
                            .map(|a| format!("`{a}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            d.start = Some(Start::Queue {
                trigger,
                not_before: None,
            });
        } else {
            d.start = Some(Start::Now { trigger, replace });
        }
        busy = busy.or(Some(0));
    }
    // A merged slot shares its primary's run, or its fate.
    for (m, p) in merged {
        let (primary_fire, primary_outcome, primary_started) =
            (out[p].fire_time, out[p].outcome, out[p].start.is_some());
        let moved = match &slots[m].shift {
            Shift::Moved { closed } => format!("closed: {closed}; "),
            _ => String::new(),
        };
        let d = &mut out[m];
        if primary_started {
            d.outcome = SlotOutcome::Shifted;
            d.reason = Some(format!(
                "{moved}merged into the slot of {} (due at the same time, one run)",
                show(primary_fire, tz)
            ));
        } else {
            d.outcome = primary_outcome;
            d.reason = Some(format!(
                "{moved}merged into the slot of {}, which was {primary_outcome}",
                show(primary_fire, tz)
            ));
        }
    }
    out
}

/// True when an earlier slot of this batch made a run (so the job is busy with our own).
fn busy_is_ours(out: &[Decision], idx: usize) -> bool {
    out[..idx].iter().any(|d| d.start.is_some())
}

/// Whether the job's window keeps it from starting at `now`: until when (None: never in
/// reach) and why.
pub fn window_wait(
    job: &Job,
    now: DateTime<Utc>,
    facts: &Facts<'_>,
) -> Option<(Option<DateTime<Utc>>, String)> {
    let tz = facts.window_tz;
    if let Some(w) = job.window.as_ref().and_then(|w| facts.windows.get(w))
        && !window::contains(w, now, tz)
    {
        let opens = window::next_open(w, now, tz);
        let why = match (job.outside_window, opens) {
            (WindowPolicy::Wait, Some(t)) => {
                format!(
                    "waiting for window `{}` (opens {})",
                    w.name,
                    show(t, facts.display_tz)
                )
            }
            _ => format!("outside window `{}` (outside_window: skip)", w.name),
        };
        return Some((opens, why));
    }
    if let Some(w) = job.avoid.as_ref().and_then(|w| facts.windows.get(w))
        && window::contains(w, now, tz)
    {
        let closes = window::next_close(w, now, tz);
        let why = match (job.outside_window, closes) {
            (WindowPolicy::Wait, Some(t)) => format!(
                "keeping out of window `{}` (until {})",
                w.name,
                show(t, facts.display_tz)
            ),
            _ => format!(
                "inside window `{}`, which it avoids (outside_window: skip)",
                w.name
            ),
        };
        return Some((closes, why));
    }
    None
}
