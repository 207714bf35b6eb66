//! Planning a month: which runs happen when, what each slot became, and how each run will
//! end (its fate), before anything is written. Runs are planned job by job and sorted by the
//! time they were queued afterwards, so row ids follow time as in a real database.

use chrono::{NaiveDate, Weekday};

use super::jobs::{self, Job, Paths};
use super::{HOUR, MIN, MS, Month, Rng, SEC, Spec, SynthError, Us};
use crate::model::{Calendar, DayRule, HolidaySet};
use crate::store::{SlotOutcome, Trigger};

/// The operators (invented accounts on the operations server).
pub(crate) const OPERATORS: [&str; 6] = [
    "tanaka.h",
    "suzuki.y",
    "takahashi.m",
    "watanabe.k",
    "ito.a",
    "yamamoto.s",
];
/// Who queues the scheduled runs.
pub(crate) const DAEMON_USER: &str = "unyo-daemon";
/// The account the daemon's steps run as.
pub(crate) const SERVICE_USER: &str = "unyo";

/// How a run will end.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Fate {
    Ok,
    /// The step's first attempt fails passingly (exit 75, or a locked database); the retry
    /// succeeds.
    RetryOk {
        step: u8,
        locked: bool,
    },
    /// The step's first attempt runs into its timeout (incident, high); the retry succeeds
    /// after `retry_len`.
    TimeoutThenOk {
        step: u8,
        retry_len: Us,
    },
    /// The disk is full: remediation, incident (high), the retry succeeds.
    DiskFullThenOk {
        step: u8,
    },
    /// The step fails for good.
    Fail {
        step: u8,
        kind: FailKind,
    },
    /// An operator cancels the running run after `after`.
    Cancelled {
        after: Us,
        by: u8,
    },
    /// An operator cancels the queued run at `at`, before it starts.
    CancelledQueued {
        at: Us,
        by: u8,
    },
    /// The run takes `total` (a hung check, a slow batch that its next slot overlaps).
    Slow {
        total: Us,
    },
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum FailKind {
    Exit(i32),
    Kill,
    /// Exit 75 on every attempt, until the retries run out.
    TempfailExhausted,
}

/// What else a run carries.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Extra {
    None,
    /// `unyo rerun` of the run with this key.
    Rerun(u32),
    /// `unyo run JOB` in the foreground.
    Manual,
    Extract {
        dept: u8,
        rows: u32,
    },
    Param {
        change: u8,
    },
    Hr,
    Rollover,
}

/// A slot that made a run (decided when the run was queued).
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub fire: Us,
    pub due: Us,
    pub outcome: SlotOutcome,
    pub reason: Option<Box<str>>,
}

/// A planned run.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub key: u32,
    pub job: u32,
    pub trigger: Trigger,
    pub queued: Us,
    pub start: Us,
    /// The instant whose business date the run belongs to.
    pub business: Us,
    pub not_before: Option<Us>,
    pub slot: Option<Slot>,
    pub fate: Fate,
    pub seed: u64,
    /// Index into OPERATORS, or `u8::MAX` for the daemon.
    pub by: u8,
    pub extra: Extra,
}

/// Why a slot made no run.
#[derive(Debug, Clone)]
pub(crate) enum Reason {
    Text(Box<str>),
    /// Skipped because this run (by key) was still active.
    Overlap(u32),
}

/// A slot that made no run.
#[derive(Debug, Clone)]
pub(crate) struct LoneSlot {
    pub job: u32,
    pub decided: Us,
    pub fire: Us,
    pub due: Us,
    pub outcome: SlotOutcome,
    pub reason: Reason,
}

/// A time the daemon was down: it died (or was stopped) at `down` and started again at `up`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Outage {
    pub down: Us,
    pub up: Us,
    /// Stopped by an operator (planned), not crashed.
    pub planned: bool,
}

/// A definition change: from `at`, job `job` has definition version `version`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Change {
    pub at: Us,
    pub job: u32,
}

/// Everything planned for the month.
#[derive(Debug)]
pub(crate) struct Plan {
    pub jobs: Vec<Job>,
    pub runs: Vec<Planned>,
    pub lone: Vec<LoneSlot>,
    pub outages: Vec<Outage>,
    pub changes: Vec<Change>,
    /// Parameter changes submitted: (key, before, after, effective date, rolled back).
    pub params: Vec<ParamPlan>,
    pub seed: u64,
}

#[derive(Debug, Clone)]
pub(crate) struct ParamPlan {
    pub key: &'static str,
    pub before: &'static str,
    pub after: &'static str,
    pub effective: NaiveDate,
    /// An operator rolls it back at this time.
    pub rollback: Option<(Us, u8)>,
}

/// The city calendar of `schedules/city.yaml`.
pub(crate) fn city_calendar() -> Calendar {
    Calendar {
        name: "city".to_owned(),
        weekends: vec![Weekday::Sat, Weekday::Sun],
        holidays: HolidaySet::Japan,
        closed: vec![DayRule::Yearly {
            from: (12, 29),
            to: (1, 3),
        }],
        open: Vec::new(),
    }
}

/// Item kinds for [`Rng::for_item`].
pub(crate) mod item {
    pub const RUN: u64 = 1;
    pub const BATCH_JOB: u64 = 3;
    pub const BATCH_RUNS: u64 = 4;
    pub const INCIDENT: u64 = 5;
    pub const MONTH: u64 = 6;
}

pub(super) struct Planner<'a> {
    pub m: &'a Month,
    pub cal: Calendar,
    pub seed: u64,
    pub runs: Vec<Planned>,
    pub lone: Vec<LoneSlot>,
    pub outages: Vec<Outage>,
    /// The last instant a run may start (runs end inside the month).
    pub last_start: Us,
    pub next_key: u32,
}

impl Planner<'_> {
    pub fn add(&mut self, mut p: Planned) -> u32 {
        let key = self.next_key;
        self.next_key += 1;
        p.key = key;
        p.seed = Rng::for_item(self.seed, super::plan::item::RUN, u64::from(key)).next();
        self.runs.push(p);
        key
    }

    pub fn outage_at(&self, t: Us) -> Option<Outage> {
        self.outages
            .iter()
            .copied()
            .find(|o| o.down <= t && t < o.up)
    }

    /// The first instant at or after `t` when the daemon runs.
    pub fn daemon_up(&self, t: Us) -> Us {
        match self.outage_at(t) {
            Some(o) => o.up + 450 * MS,
            None => t,
        }
    }

    pub fn business_day(&self, d: NaiveDate) -> bool {
        self.cal.is_business_day(d)
    }

    pub fn run(&self, job: usize, trigger: Trigger, queued: Us, slot: Option<Slot>) -> Planned {
        Planned {
            key: 0,
            job: job as u32,
            trigger,
            queued,
            start: queued,
            business: slot.as_ref().map_or(queued, |s| s.due),
            not_before: None,
            slot,
            fate: Fate::Ok,
            seed: 0,
            by: u8::MAX,
            extra: Extra::None,
        }
    }

    pub fn slot(fire: Us) -> Slot {
        Slot {
            fire,
            due: fire,
            outcome: SlotOutcome::Started,
            reason: None,
        }
    }

    pub fn missed(&mut self, job: usize, fire: Us, o: Outage, policy: &str) {
        let decided = o.up + 3 * MS;
        let mins = (decided - fire) / MIN;
        self.lone.push(LoneSlot {
            job: job as u32,
            decided,
            fire,
            due: fire,
            outcome: SlotOutcome::Missed,
            reason: Reason::Text(
                match policy {
                    "run_once" => format!(
                        "missed: due {} (misfire: run_once runs only the latest)",
                        self.m.show(fire)
                    ),
                    _ => format!(
                        "missed: due {} ({mins} min ago; misfire: {policy})",
                        self.m.show(fire)
                    ),
                }
                .into(),
            ),
        });
    }
}

/// Plans the month.
pub(crate) fn plan(spec: &Spec, m: &Month) -> Result<Plan, SynthError> {
    let paths = Paths {
        root: spec.root.display().to_string(),
        data: spec.data_dir.display().to_string(),
        logs: spec.log_dir.display().to_string(),
    };
    let mut rng = Rng::for_item(spec.seed, item::MONTH, 0);
    let n_days = m.days.len();
    // Two outages: a crash in the night of the 9th (the backup is running), and a planned
    // restart shortly before 06:00 on the 20th (an OS patch).
    let crash_day = m.days[8.min(n_days - 1)];
    let patch_day = m.days[19.min(n_days - 1)];
    let outages = vec![
        Outage {
            down: m.at(crash_day, 1, 47, 12) + rng.range(0, 900) * MS,
            up: m.at(crash_day, 3, 22, 5) + rng.range(0, 900) * MS,
            planned: false,
        },
        Outage {
            down: m.at(patch_day, 5, 52, 30),
            up: m.at(patch_day, 6, 7, 41),
            planned: true,
        },
    ];
    let mut p = Planner {
        m,
        cal: city_calendar(),
        seed: spec.seed,
        runs: Vec::new(),
        lone: Vec::new(),
        outages,
        last_start: m.end - 3 * HOUR,
        next_key: 0,
    };
    let mut jobs = jobs::shipped(&paths);
    let params = shipped(&mut p, &mut rng);
    let fixed = p.runs.len() as u64;
    if spec.runs < fixed {
        return Err(SynthError::TooFewRuns {
            runs: spec.runs,
            minimum: fixed,
        });
    }
    super::batch::batch(&mut p, &mut jobs, spec, spec.runs - fixed)?;
    // Definition changes: the backup gets a longer timeout on the 14th, the disk report a new
    // threshold on the 21st.
    let changes = vec![
        Change {
            at: m.at(m.days[13.min(n_days - 1)], 10, 12, 40),
            job: jobs::NIGHTLY_BACKUP as u32,
        },
        Change {
            at: m.at(m.days[20.min(n_days - 1)], 15, 41, 3),
            job: jobs::DISK_REPORT as u32,
        },
    ];
    let Planner {
        mut runs,
        mut lone,
        outages,
        ..
    } = p;
    runs.sort_by_key(|r| (r.queued, r.job, r.key));
    lone.sort_by_key(|s| (s.decided, s.job, s.fire));
    Ok(Plan {
        jobs,
        runs,
        lone,
        outages,
        changes,
        params,
        seed: spec.seed,
    })
}

/// The shipped jobs on their schedules, the operators' requests and reruns.
fn shipped(p: &mut Planner<'_>, rng: &mut Rng) -> Vec<ParamPlan> {
    let m = p.m;
    let days = m.days.clone();
    let n = days.len();
    // Nights whose backup runs long (timeout, retry, ends after 06:00) or fills the disk.
    let late_nights = [
        days[rng.range(2, 6) as usize % n],
        days[rng.range(22, 26) as usize % n],
    ];
    let disk_full_night = days[rng.range(15, 18) as usize % n];
    let hung_check = (
        days[rng.range(10, 13) as usize % n],
        rng.range(9, 16) as u32,
    );
    let failed_checks = [
        (days[rng.range(3, 8) as usize % n], rng.range(0, 47) as u32),
        (
            days[rng.range(24, 27) as usize % n],
            rng.range(0, 47) as u32,
        ),
    ];
    let failed_report = {
        let mut d = days[rng.range(13, 16) as usize % n];
        while !p.business_day(d) {
            d = d + chrono::Days::new(1);
        }
        d
    };
    let mut hung_key = None;
    for (di, &d) in days.iter().enumerate() {
        // health-check: */30, overlap: forbid, misfire: skip.
        for half in 0..48u32 {
            let fire = m.at(d, half / 2, (half % 2) * 30, 0);
            if let Some(o) = p.outage_at(fire) {
                p.missed(jobs::HEALTH_CHECK, fire, o, "skip");
                continue;
            }
            if let Some(k) = hung_key.take() {
                p.lone.push(LoneSlot {
                    job: jobs::HEALTH_CHECK as u32,
                    decided: fire + 2 * MS,
                    fire,
                    due: fire,
                    outcome: SlotOutcome::SkippedOverlap,
                    reason: Reason::Overlap(k),
                });
                continue;
            }
            let mut r = p.run(
                jobs::HEALTH_CHECK,
                Trigger::Schedule,
                fire + rng.range(1, 4) * MS,
                Some(Planner::slot(fire)),
            );
            if (d, half) == hung_check {
                r.fate = Fate::Slow {
                    total: rng.range(38, 52) * MIN,
                };
                hung_key = Some(p.add(r));
                continue;
            }
            if failed_checks.contains(&(d, half)) {
                r.fate = Fate::Fail {
                    step: 1,
                    kind: FailKind::Exit(1),
                };
            }
            p.add(r);
        }
        // nightly-backup: 00:30, window backup, misfire run_once within 5h.
        let fire = m.at(d, 0, 30, 0);
        let mut r = p.run(
            jobs::NIGHTLY_BACKUP,
            Trigger::Schedule,
            fire + rng.range(1, 4) * MS,
            Some(Planner::slot(fire)),
        );
        let crash = p.outages[0];
        if m.local_date(crash.down) == d {
            // Still running when the daemon dies: interrupted; an operator reruns it in the
            // morning, and it ends long after 06:00.
            r.fate = Fate::Slow {
                total: crash.down - r.start + 25 * MIN,
            };
            let key = p.add(r);
            let at = m.at(d, 8, 41, 0) + rng.range(0, 600) * SEC;
            let mut again = p.run(jobs::NIGHTLY_BACKUP, Trigger::Rerun, at, None);
            again.business = fire;
            again.by = rng.below(OPERATORS.len() as u64) as u8;
            again.extra = Extra::Rerun(key);
            p.add(again);
        } else {
            if late_nights.contains(&d) {
                r.fate = Fate::TimeoutThenOk {
                    step: 1,
                    retry_len: rng.range(210, 228) * MIN,
                };
            } else if d == disk_full_night {
                r.fate = Fate::DiskFullThenOk { step: 1 };
            }
            p.add(r);
        }
        // log-cleanup: 05:10, misfire run_once within 6h.
        let fire = m.at(d, 5, 10, 0);
        let r = p.run(
            jobs::LOG_CLEANUP,
            Trigger::Schedule,
            fire + rng.range(1, 4) * MS,
            Some(Planner::slot(fire)),
        );
        p.add(r);
        // disk-report: 08:00 on business days (closed_day: skip).
        let fire = m.at(d, 8, 0, 0);
        if let Some(closed) = p.cal.closed(d) {
            p.lone.push(LoneSlot {
                job: jobs::DISK_REPORT as u32,
                decided: fire + 2 * MS,
                fire,
                due: fire,
                outcome: SlotOutcome::SkippedClosedDay,
                reason: Reason::Text(format!("closed: {closed}").into()),
            });
        } else {
            let mut r = p.run(
                jobs::DISK_REPORT,
                Trigger::Schedule,
                fire + rng.range(1, 4) * MS,
                Some(Planner::slot(fire)),
            );
            if d == failed_report {
                r.fate = Fate::Fail {
                    step: 3,
                    kind: FailKind::Exit(1),
                };
                let key = p.add(r);
                let at = fire + rng.range(45, 95) * MIN;
                let mut again = p.run(jobs::DISK_REPORT, Trigger::Rerun, at, None);
                again.business = fire;
                again.by = rng.below(OPERATORS.len() as u64) as u8;
                again.extra = Extra::Rerun(key);
                p.add(again);
            } else {
                p.add(r);
            }
        }
        // Operators run a check or a report by hand now and then.
        if p.business_day(d) && di % 4 == 1 {
            let job = if di % 8 == 1 {
                jobs::DISK_REPORT
            } else {
                jobs::HEALTH_CHECK
            };
            let at = m.at(d, 9, 0, 0) + rng.range(0, 7 * 3600) * SEC;
            let mut r = p.run(job, Trigger::Manual, at, None);
            r.by = rng.below(OPERATORS.len() as u64) as u8;
            r.extra = Extra::Manual;
            p.add(r);
        }
    }
    // HR transfers on 1 April and 1 October, 07:00, moved to the next business day.
    if m.month == 4 || m.month == 10 {
        let first = days[0];
        let fire = m.at(first, 7, 0, 0);
        let (due, outcome, reason) = match p.cal.closed(first) {
            None => (fire, SlotOutcome::Started, None),
            Some(closed) => {
                let next = p.cal.next_business_day(first).unwrap_or(first);
                let due = m.at(next, 7, 0, 0);
                (
                    due,
                    SlotOutcome::Shifted,
                    Some(
                        format!(
                            "closed: {closed}; moved from {} to {}",
                            m.show(fire),
                            m.show(due)
                        )
                        .into(),
                    ),
                )
            }
        };
        let slot = Slot {
            fire,
            due,
            outcome,
            reason,
        };
        let mut r = p.run(
            jobs::HR_TRANSFER,
            Trigger::Schedule,
            due + 3 * MS,
            Some(slot),
        );
        r.extra = Extra::Hr;
        p.add(r);
    }
    // The fiscal-year rollover on 1 April at 06:00 (closed_day: run).
    if m.month == 4 {
        let fire = m.at(days[0], 6, 0, 0);
        let mut r = p.run(
            jobs::FISCAL_YEAR_ROLLOVER,
            Trigger::Schedule,
            fire + 2 * MS,
            Some(Planner::slot(fire)),
        );
        r.extra = Extra::Rollover;
        p.add(r);
    }
    // Data extracts for the departments, submitted in office hours, run in the night window.
    let business: Vec<NaiveDate> = days
        .iter()
        .copied()
        .filter(|d| p.business_day(*d) && *d < days[n - 1])
        .collect();
    let extracts = 10 + rng.below(8);
    let cancelled = rng.below(extracts);
    for i in 0..extracts {
        let d = *rng.pick(&business);
        let at = m.at(d, 9, 0, 0) + rng.range(0, 8 * 3600) * SEC + rng.range(0, 999_999);
        let mut r = p.run(jobs::EUC_EXTRACT, Trigger::Submit, at, None);
        let nb = m.at(d, 22, 0, 0);
        r.not_before = Some(nb);
        r.start = p.daemon_up(nb + rng.range(50, 480) * MS);
        r.by = rng.below(OPERATORS.len() as u64) as u8;
        r.extra = Extra::Extract {
            dept: rng.below(crate::demo::DEPARTMENTS.len() as u64) as u8,
            rows: rng.range(40, 2400) as u32,
        };
        if i == cancelled {
            r.fate = Fate::CancelledQueued {
                at: at + rng.range(20, 180) * MIN,
                by: r.by,
            };
        }
        p.add(r);
    }
    // Parameter changes, submitted days ahead for 06:00 on their effective date; the second
    // is rolled back the next morning.
    const CHANGES: [(&str, &str, &str); 3] = [
        ("counters.max_sessions", "200", "250"),
        ("tax_rate_percent", "10", "8"),
        ("counters.max_sessions", "250", "300"),
    ];
    let mut params = Vec::new();
    for (i, (key, before, after)) in CHANGES.iter().enumerate() {
        let submit_day = (2 + i * 7 + rng.below(3) as usize).min(n - 3);
        let d = days[submit_day];
        let effective = days[(submit_day + 2 + rng.below(4) as usize).min(n - 2)];
        let at = m.at(d, 10, 0, 0) + rng.range(0, 6 * 3600) * SEC;
        let mut r = p.run(jobs::PARAM_CHANGE, Trigger::Submit, at, None);
        let nb = m.at(effective, 6, 0, 0);
        r.not_before = Some(nb);
        r.start = p.daemon_up(nb + rng.range(50, 480) * MS);
        r.by = rng.below(OPERATORS.len() as u64) as u8;
        r.extra = Extra::Param { change: i as u8 };
        p.add(r);
        params.push(ParamPlan {
            key,
            before,
            after,
            effective,
            rollback: (i == 1).then(|| {
                (
                    m.at(effective, 9, 12, 0) + rng.range(0, 3600) * SEC,
                    rng.below(OPERATORS.len() as u64) as u8,
                )
            }),
        });
    }
    params
}
