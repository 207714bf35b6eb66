//! The daemon's side of planning: per schedule, the parsed cron expression, the watermark
//! (every slot due at or before it is decided and recorded) and the next due time; turning
//! the planner's decisions into slot rows and runs.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use croner::Cron;

use crate::engine;
use crate::model::{Catalog, Settings};
use crate::schedule::plan::{self, ActiveRun, Facts, Plan, Start};
use crate::store::{HoldRow, NewSlot, RunRow, RunStatus, SlotOutcome};

/// One schedule's planning state.
struct Entry {
    cron: Cron,
    /// Every slot due at or before this instant has been decided.
    watermark: DateTime<Utc>,
    /// The watermark is not in the database yet (a new schedule).
    unsaved: bool,
    next_due: Option<DateTime<Utc>>,
}

/// Planning state of every schedule of the catalog.
pub(super) struct Planner {
    entries: HashMap<String, Entry>,
}

/// Slots decided in one pass, ready to be recorded.
pub(super) struct Decided {
    pub slots: Vec<NewSlot>,
    pub watermarks: Vec<(String, DateTime<Utc>)>,
    /// Per schedule, the running runs its new run replaces.
    pub replace: HashMap<String, Vec<i64>>,
}

impl Planner {
    /// Planning state for `catalog`, continuing from the recorded watermarks; a schedule
    /// without one starts at `now` (nothing before its first start is owed).
    pub fn new(
        settings: &Settings,
        catalog: &Catalog,
        saved: Vec<(String, DateTime<Utc>)>,
        now: DateTime<Utc>,
    ) -> Planner {
        let saved: HashMap<String, DateTime<Utc>> = saved.into_iter().collect();
        let mut p = Planner {
            entries: HashMap::new(),
        };
        p.load(settings, catalog, |name| saved.get(name).copied(), now);
        p
    }

    fn load(
        &mut self,
        settings: &Settings,
        catalog: &Catalog,
        known: impl Fn(&str) -> Option<DateTime<Utc>>,
        now: DateTime<Utc>,
    ) {
        let mut entries = HashMap::new();
        for s in &catalog.schedules {
            // Validation parsed every expression already.
            let Ok(cron) = crate::domain::cron::parse_cron(&s.cron) else {
                continue;
            };
            let (watermark, unsaved) = match known(&s.name) {
                Some(w) => (w, false),
                None => (now, true),
            };
            let mut e = Entry {
                cron,
                watermark,
                unsaved,
                next_due: None,
            };
            e.next_due = plan_of(settings, catalog, s, &e.cron).next_due(watermark);
            entries.insert(s.name.clone(), e);
        }
        self.entries = entries;
    }

    /// Moves each schedule on to its recorded watermark when that is later than its own
    /// (another node planned meanwhile), in place: the schedules' parsed expressions are
    /// kept, not made again.
    pub fn catch_up(
        &mut self,
        settings: &Settings,
        catalog: &Catalog,
        saved: Vec<(String, DateTime<Utc>)>,
    ) {
        for (name, through) in saved {
            let Some(e) = self.entries.get_mut(&name) else {
                continue;
            };
            if e.unsaved || through > e.watermark {
                e.watermark = through;
                e.unsaved = false;
                if let Some(s) = catalog.schedules.iter().find(|s| s.name == name) {
                    e.next_due = plan_of(settings, catalog, s, &e.cron).next_due(through);
                }
            }
        }
    }

    /// Keeps the watermarks of schedules that are still there; new ones start at `now`.
    pub fn reload(&mut self, settings: &Settings, catalog: &Catalog, now: DateTime<Utc>) {
        let old: HashMap<String, (DateTime<Utc>, bool)> = self
            .entries
            .iter()
            .map(|(k, e)| (k.clone(), (e.watermark, e.unsaved)))
            .collect();
        self.load(settings, catalog, |n| old.get(n).map(|o| o.0), now);
        for (name, e) in &mut self.entries {
            if let Some((_, unsaved)) = old.get(name) {
                e.unsaved = *unsaved;
            }
        }
    }

    /// The earliest instant a slot is due.
    pub fn next_due(&self) -> Option<DateTime<Utc>> {
        self.entries.values().filter_map(|e| e.next_due).min()
    }

    /// Each scheduled job's next due slot (the soonest of its schedules), by job name.
    pub fn next_by_job(&self, catalog: &Catalog) -> Vec<(String, DateTime<Utc>)> {
        let mut next: std::collections::BTreeMap<&str, DateTime<Utc>> = Default::default();
        for s in &catalog.schedules {
            let Some(due) = self.entries.get(&s.name).and_then(|e| e.next_due) else {
                continue;
            };
            next.entry(s.job.as_str())
                .and_modify(|d| *d = (*d).min(due))
                .or_insert(due);
        }
        next.into_iter().map(|(j, d)| (j.to_owned(), d)).collect()
    }

    /// Whether a pass at `now` has anything to decide or record.
    pub fn anything_due(&self, now: DateTime<Utc>) -> bool {
        self.entries
            .values()
            .any(|e| e.unsaved || e.next_due.is_some_and(|d| d <= now))
    }

    /// Decides every slot due by `now`.
    pub fn decide(
        &self,
        settings: &Settings,
        catalog: &Catalog,
        active: &[RunRow],
        held: &HashMap<String, HoldRow>,
        now: DateTime<Utc>,
    ) -> Decided {
        let mut out = Decided {
            slots: Vec::new(),
            watermarks: Vec::new(),
            replace: HashMap::new(),
        };
        for s in &catalog.schedules {
            let Some(e) = self.entries.get(&s.name) else {
                continue;
            };
            let due = e.next_due.is_some_and(|d| d <= now);
            if !due && !e.unsaved {
                continue;
            }
            out.watermarks.push((s.name.clone(), now.max(e.watermark)));
            let Some(job) = catalog.jobs.get(&s.job) else {
                continue;
            };
            let p = plan_of(settings, catalog, s, &e.cron);
            let occurrences = p.occurrences(e.watermark, now);
            let job_active: Vec<ActiveRun> = active
                .iter()
                .filter(|r| r.job == s.job)
                .map(|r| ActiveRun {
                    id: r.id,
                    status: r.status,
                })
                .collect();
            let facts = Facts {
                now,
                active: &job_active,
                windows: &catalog.windows,
                window_tz: settings.timezone,
                display_tz: s.timezone,
            };
            let mut decisions = plan::decide(s, job, &occurrences, facts);
            if let Some(h) = held.get(&s.job) {
                // A held job's slots are recorded, and start nothing.
                for d in decisions
                    .iter_mut()
                    .filter(|d| d.outcome != SlotOutcome::SkippedClosedDay)
                {
                    d.outcome = SlotOutcome::Held;
                    d.start = None;
                    d.reason = Some(format!(
                        "`{}` held by {} since {}{}",
                        s.job,
                        h.held_by,
                        h.held_at
                            .with_timezone(&settings.timezone)
                            .format("%Y-%m-%d %H:%M"),
                        if h.reason.is_empty() {
                            String::new()
                        } else {
                            format!(": {}", h.reason)
                        }
                    ));
                }
            }
            for d in decisions {
                let run = d.start.as_ref().map(|start| {
                    let (trigger, status, not_before) = match start {
                        Start::Now { trigger, .. } => (*trigger, RunStatus::Running, None),
                        Start::Queue {
                            trigger,
                            not_before,
                        } => (*trigger, RunStatus::Queued, *not_before),
                    };
                    let given: Vec<(String, String)> = s
                        .params
                        .iter()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect();
                    // Validation checked the schedule's parameters against the job.
                    let today = engine::dates(settings, d.due_at).0;
                    let values = engine::params::resolve(job, &given, today, &settings.root)
                        .unwrap_or_default();
                    let mut r = engine::new_run(
                        settings,
                        catalog,
                        job,
                        &values,
                        trigger,
                        status,
                        now,
                        "unyo-daemon",
                    );
                    // The run belongs to the business date of its slot, even when late.
                    let (bd, fy) = engine::dates(settings, d.due_at);
                    r.business_date = bd;
                    r.fiscal_year = fy;
                    r.not_before = not_before;
                    r.schedule = Some(s.name.clone());
                    r
                });
                if let Some(Start::Now { replace, .. }) = &d.start
                    && !replace.is_empty()
                {
                    out.replace.insert(s.name.clone(), replace.clone());
                }
                out.slots.push(NewSlot {
                    schedule: s.name.clone(),
                    job: s.job.clone(),
                    fire_time: d.fire_time,
                    due_at: d.due_at,
                    outcome: d.outcome,
                    reason: d.reason,
                    run,
                    decided_at: now,
                });
            }
        }
        out
    }

    /// The decisions are recorded: move the watermarks and the next due times.
    pub fn committed(&mut self, settings: &Settings, catalog: &Catalog, decided: &Decided) {
        for (name, through) in &decided.watermarks {
            let Some(s) = catalog.schedules.iter().find(|s| s.name == *name) else {
                continue;
            };
            if let Some(e) = self.entries.get_mut(name) {
                e.watermark = *through;
                e.unsaved = false;
                e.next_due = plan_of(settings, catalog, s, &e.cron).next_due(*through);
            }
        }
    }
}

fn plan_of<'a>(
    settings: &Settings,
    catalog: &'a Catalog,
    s: &'a crate::model::Schedule,
    cron: &'a Cron,
) -> Plan<'a> {
    Plan {
        schedule: s,
        cron,
        calendar: s.calendar.as_ref().and_then(|c| catalog.calendars.get(c)),
        fiscal_year_start: settings.fiscal_year_start,
    }
}
