//! The service-level items of the report (`service:` of `unyo.yaml`): availability over the
//! planned service time (with its outages and planned stops), time to the first
//! notification and to recovery of each incident, scheduled backups that succeeded, and
//! incident reports in time. Pure: the period's facts (and the previous period's, for the
//! state at its start), the catalog and the settings give the items.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use super::Period;
use super::interval::{self, Span};
use crate::model::{Catalog, Service, Settings, Window};
use crate::store::{IncidentRow, ReportFacts, RunFact, RunStatus, SlotOutcome};

/// One service-level item: what is agreed, what was measured, met or not, and the
/// incidents or slots that broke it (availability's evidence is [`Availability`]).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceItem {
    /// `availability`, `first_notice`, `recovery_time`, `backups` or `reports_in_time`.
    pub item: String,
    /// `99.5%`, `1h00m`, `100%`.
    pub agreed: String,
    /// What `ok` and `total` count: `seconds` (availability: available of planned service
    /// time), `incidents` or `slots`.
    pub unit: String,
    pub ok: u64,
    pub total: u64,
    /// Percent, rounded down to two decimals (so a shown rate at the target is met);
    /// `None` when there is nothing to measure.
    pub rate: Option<f64>,
    pub met: bool,
    /// The incidents or slots that broke it, at most [`super::EVIDENCE`]; `more` says how many
    /// are left out.
    pub breaches: Vec<ServiceBreach>,
    pub more: u64,
}

/// An incident or a slot that broke a service item.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ServiceBreach {
    /// When the incident was opened, or the slot was due (local).
    pub at: String,
    pub incident: Option<i64>,
    pub run: Option<i64>,
    /// A slot: its run's status, or the slot's outcome when it made no run.
    pub status: Option<String>,
    /// An incident's report deadline (local).
    pub due: Option<String>,
    /// When the incident was notified or resolved (local), if it was by the period's end.
    pub done_at: Option<String>,
    /// Minutes from opening to `done_at`.
    pub minutes: Option<f64>,
}

/// The planned service time of the period and what stopped it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Availability {
    pub probe: String,
    /// The windows that are not service time.
    pub except: Vec<String>,
    /// The period, in minutes.
    pub period_minutes: f64,
    /// Planned service time: the period without the excepted windows and the planned stops.
    pub service_minutes: f64,
    /// Planned stops inside the service hours (taken out of the planned service time).
    pub stop_minutes: f64,
    /// Outages inside the planned service time.
    pub outage_minutes: f64,
    /// The same in seconds, exact: a year's are the sums of its months'.
    pub service_seconds: i64,
    pub stop_seconds: i64,
    pub outage_seconds: i64,
    pub outages: Vec<Outage>,
    pub stops: Vec<Stop>,
}

/// From a failed run of the probe to its next succeeded run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Outage {
    pub from: String,
    /// `None`: still down at the period's end (counted to the end).
    pub to: Option<String>,
    /// The whole outage inside the period, and the part inside the planned service time.
    pub minutes: f64,
    pub counted_minutes: f64,
    /// The probe run that opened it (of the previous period, when it was down at the start)
    /// and the one that closed it.
    pub opened_by: i64,
    pub closed_by: Option<i64>,
}

/// A run of a planned-stop job.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Stop {
    pub job: String,
    pub run: i64,
    pub status: String,
    pub from: String,
    /// `None`: not ended by the period's end.
    pub to: Option<String>,
    /// The part inside the service hours, taken out of the planned service time.
    pub minutes: f64,
}

/// The service items (in the order of `service:`'s keys, then report deadlines) and the
/// availability detail; nothing without `service:`.
pub fn items(
    period: &Period,
    facts: &ReportFacts,
    previous: &ReportFacts,
    catalog: &Catalog,
    settings: &Settings,
) -> (Vec<ServiceItem>, Option<Availability>) {
    let Some(service) = &settings.service else {
        return (Vec::new(), None);
    };
    let tz = settings.timezone;
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let mut items = Vec::new();
    let mut detail = None;
    if let Some(a) = &service.availability {
        let av = availability(
            period,
            facts,
            previous,
            &catalog.windows,
            tz,
            service,
            &local,
        );
        let (ok, total) = (av.service_seconds - av.outage_seconds, av.service_seconds);
        items.push(ServiceItem {
            item: "availability".to_owned(),
            agreed: format!("{}%", a.target),
            unit: "seconds".to_owned(),
            ok: ok as u64,
            total: total as u64,
            rate: floor_percent(ok as u64, total as u64),
            met: total == 0 || ok as f64 * 100.0 >= a.target * total as f64,
            breaches: Vec::new(),
            more: 0,
        });
        detail = Some(av);
    }
    let opened: Vec<_> = facts
        .incidents
        .iter()
        .filter(|i| i.opened_at >= period.from && i.opened_at < period.to)
        .collect();
    let minutes = |a: DateTime<Utc>, b: DateTime<Utc>| super::round2(to_minutes(b - a));
    // An incident keeps a time limit when the event came within it; one whose limit had
    // not passed by the period's end has not broken it.
    let timed = |what: &str,
                 limit: std::time::Duration,
                 event: &dyn Fn(&IncidentRow) -> Option<DateTime<Utc>>| {
        let limit = Duration::from_std(limit).unwrap_or(Duration::MAX);
        let mut breaches = Vec::new();
        for i in &opened {
            let done = event(i).filter(|t| *t < period.to);
            let deadline = i.opened_at.checked_add_signed(limit);
            let kept = match (done, deadline) {
                (Some(t), Some(d)) => t <= d,
                (None, Some(d)) => d >= period.to,
                (_, None) => true,
            };
            if !kept {
                breaches.push(ServiceBreach {
                    at: local(i.opened_at),
                    incident: Some(i.id),
                    run: i.run_id,
                    status: None,
                    due: None,
                    done_at: done.map(local),
                    minutes: done.map(|t| minutes(i.opened_at, t)),
                });
            }
        }
        item(
            what,
            crate::model::values::format_duration(limit.to_std().unwrap_or_default()),
            "incidents",
            opened.len() as u64,
            breaches,
        )
    };
    if let Some(limit) = service.first_notice {
        let first = |incident: &IncidentRow| {
            facts
                .first_notified
                .binary_search_by_key(&incident.id, |(i, _)| *i)
                .ok()
                .map(|k| facts.first_notified[k].1)
        };
        items.push(timed("first_notice", limit, &first));
    }
    if let Some(limit) = service.recovery {
        let resolved = |incident: &IncidentRow| incident.resolved_at;
        items.push(timed("recovery_time", limit, &resolved));
    }
    if let Some(b) = &service.backups {
        let jobs: Vec<&str> = b.jobs.iter().map(|j| j.value.as_str()).collect();
        let due: Vec<_> = facts
            .job_slots
            .iter()
            .filter(|s| jobs.contains(&s.job.as_str()))
            // A day the calendar closes has no backup due.
            .filter(|s| s.outcome != SlotOutcome::SkippedClosedDay)
            .collect();
        let breaches: Vec<ServiceBreach> = due
            .iter()
            .filter(|s| s.run_status != Some(RunStatus::Succeeded))
            .map(|s| ServiceBreach {
                at: local(s.due_at),
                incident: None,
                run: s.run_id,
                status: Some(
                    s.run_status
                        .map_or_else(|| s.outcome.to_string(), |r| r.as_str().to_owned()),
                ),
                due: None,
                done_at: None,
                minutes: None,
            })
            .collect();
        let total = due.len() as u64;
        let ok = total - breaches.len() as u64;
        let mut line = item(
            "backups",
            format!("{}%", b.target),
            "slots",
            total,
            breaches,
        );
        line.rate = floor_percent(ok, total);
        line.met = total == 0 || ok as f64 * 100.0 >= b.target * total as f64;
        items.push(line);
    }
    // Incident reports in time, over the incidents opened in the period that have a deadline.
    let with_deadline: Vec<_> = opened
        .iter()
        .filter(|i| i.report_deadline.is_some())
        .collect();
    let breaches = with_deadline
        .iter()
        .filter_map(|i| {
            let d = i.report_deadline?;
            let resolved = i.resolved_at.filter(|r| *r < period.to);
            let met = match i.resolved_at {
                Some(r) => r <= d,
                None => d >= period.to,
            };
            (!met).then(|| ServiceBreach {
                at: local(i.opened_at),
                incident: Some(i.id),
                run: i.run_id,
                status: None,
                due: Some(local(d)),
                done_at: resolved.map(local),
                minutes: None,
            })
        })
        .collect();
    items.push(item(
        "reports_in_time",
        "100%".to_owned(),
        "incidents",
        with_deadline.len() as u64,
        breaches,
    ));
    (items, detail)
}

/// An item counted in whole incidents or slots: met when nothing broke it.
fn item(
    what: &str,
    agreed: String,
    unit: &str,
    total: u64,
    breaches: Vec<ServiceBreach>,
) -> ServiceItem {
    let ok = total - breaches.len() as u64;
    let met = breaches.is_empty();
    let (breaches, more) = super::cap(breaches);
    ServiceItem {
        item: what.to_owned(),
        agreed,
        unit: unit.to_owned(),
        ok,
        total,
        rate: floor_percent(ok, total),
        met,
        breaches,
        more,
    }
}

/// `part` of `whole` in percent, rounded down to two decimals, in integers (no float error
/// can turn 57.00 into 56.99).
pub fn floor_percent(part: u64, whole: u64) -> Option<f64> {
    (whole > 0).then(|| (u128::from(part) * 10_000 / u128::from(whole)) as f64 / 100.0)
}

fn to_minutes(d: Duration) -> f64 {
    d.num_milliseconds() as f64 / 60_000.0
}

/// When a probe run looked at the service: its start (its queue time, if it never started).
fn sampled(r: &RunFact) -> DateTime<Utc> {
    second(r.started_at.unwrap_or(r.queued_at))
}

/// Times are taken to the whole second, so every length is whole seconds and the figures
/// of a year are exactly the sums of its months'.
fn second(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(0)
}

fn runs_of<'a>(facts: &'a ReportFacts, job: &str) -> Vec<&'a RunFact> {
    let Some(index) = facts.jobs.iter().position(|j| j == job) else {
        return Vec::new();
    };
    facts
        .runs
        .iter()
        .filter(|r| r.job as usize == index)
        .collect()
}

fn availability(
    period: &Period,
    facts: &ReportFacts,
    previous: &ReportFacts,
    windows: &BTreeMap<String, Window>,
    tz: Tz,
    service: &Service,
    local: &dyn Fn(DateTime<Utc>) -> String,
) -> Availability {
    let whole = Span::new(period.from, period.to);
    let probe = service
        .availability
        .as_ref()
        .map(|a| a.probe.value.clone())
        .unwrap_or_default();

    // Service hours: the period without the excepted windows.
    let mut closed = Vec::new();
    for name in &service.except {
        if let Some(w) = windows.get(&name.value) {
            closed.extend(interval::window_spans(w, tz, whole));
        }
    }
    let hours = interval::subtract(&[whole], &interval::normalize(closed));

    // Planned stops: the span of each run of a planned-stop job that meets the period (a run
    // queued in the previous period may still have been running into this one).
    let mut stops = Vec::new();
    let mut stop_spans = Vec::new();
    for name in &service.planned_stops {
        let job = &name.value;
        let mut runs = runs_of(previous, job);
        runs.extend(runs_of(facts, job));
        for r in runs {
            let Some(start) = r.started_at.map(second) else {
                continue;
            };
            let end = r.ended_at.map_or(period.to, second);
            let span = Span::new(start, end).clip(whole);
            if span.is_empty() {
                continue;
            }
            stops.push(Stop {
                job: job.clone(),
                run: r.id,
                status: r.status.as_str().to_owned(),
                from: local(span.from),
                to: r.ended_at.filter(|e| *e < period.to).map(local),
                minutes: super::round2(to_minutes(interval::overlap(span, &hours))),
            });
            stop_spans.push(span);
        }
    }
    let stop_set = interval::normalize(stop_spans);
    let planned = interval::subtract(&hours, &stop_set);

    // Outages: the probe's runs in order of when they looked; a failed one opens an outage
    // (unless one is open), the next succeeded one closes it. The last run of the previous
    // period says whether the service was down when this one began.
    let mut probes = runs_of(facts, &probe);
    probes.sort_by_key(|r| (sampled(r), r.id));
    let before = runs_of(previous, &probe)
        .into_iter()
        .filter(|r| matches!(r.status, RunStatus::Succeeded | RunStatus::Failed))
        .filter(|r| sampled(r) < period.from)
        .max_by_key(|r| (sampled(r), r.id));
    let mut open: Option<(DateTime<Utc>, i64)> = before
        .filter(|r| r.status == RunStatus::Failed)
        .map(|r| (period.from, r.id));
    let mut spans: Vec<(Span, i64, Option<i64>)> = Vec::new();
    for r in probes {
        let t = sampled(r).clamp(period.from, period.to);
        match r.status {
            RunStatus::Failed if open.is_none() => open = Some((t, r.id)),
            RunStatus::Succeeded => {
                if let Some((from, by)) = open.take() {
                    spans.push((Span::new(from, t), by, Some(r.id)));
                }
            }
            _ => {}
        }
    }
    if let Some((from, by)) = open {
        spans.push((Span::new(from, period.to), by, None));
    }
    let mut outage_total = Duration::zero();
    let outages = spans
        .into_iter()
        .map(|(span, opened_by, closed_by)| {
            let counted = interval::overlap(span, &planned);
            outage_total += counted;
            Outage {
                from: local(span.from),
                to: closed_by.map(|_| local(span.to)),
                minutes: super::round2(to_minutes(span.len())),
                counted_minutes: super::round2(to_minutes(counted)),
                opened_by,
                closed_by,
            }
        })
        .collect();

    let service_time = interval::total(&planned);
    let stop_time = interval::total(&hours) - service_time;
    Availability {
        probe,
        except: service.except.iter().map(|w| w.value.clone()).collect(),
        period_minutes: super::round2(to_minutes(whole.len())),
        service_minutes: super::round2(to_minutes(service_time)),
        stop_minutes: super::round2(to_minutes(stop_time)),
        outage_minutes: super::round2(to_minutes(outage_total)),
        service_seconds: service_time.num_seconds(),
        stop_seconds: stop_time.num_seconds(),
        outage_seconds: outage_total.num_seconds(),
        outages,
        stops,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AvailabilityTarget;
    use crate::store::Trigger;
    use chrono::{NaiveTime, TimeZone};
    use serde_saphyr::{Location, Spanned};

    fn tokyo() -> Tz {
        "Asia/Tokyo".parse().expect("tz")
    }

    fn at(month: u32, day: u32, hh: u32, mm: u32) -> DateTime<Utc> {
        tokyo()
            .with_ymd_and_hms(2026, month, day, hh, mm, 0)
            .single()
            .expect("time")
            .with_timezone(&Utc)
    }

    fn name(s: &str) -> Spanned<String> {
        Spanned::new(s.to_owned(), Location::UNKNOWN, Location::UNKNOWN)
    }

    /// A run: id, job, status, start, end.
    type Run = (i64, u32, RunStatus, DateTime<Utc>, DateTime<Utc>);

    /// Facts with runs of `probe` (job 0) and `stop` (job 1).
    fn facts(runs: &[Run]) -> ReportFacts {
        ReportFacts {
            jobs: vec!["probe".into(), "stop".into()],
            digests: vec!["d".into()],
            runs: runs
                .iter()
                .map(|&(id, job, status, start, end)| RunFact {
                    id,
                    job,
                    digest: 0,
                    trigger: Trigger::Schedule,
                    status,
                    queued_at: start,
                    started_at: Some(start),
                    ended_at: Some(end),
                })
                .collect(),
            ..ReportFacts::default()
        }
    }

    /// Two days, 1–3 October, with the night window 22:00–06:00 out of service, a planned
    /// stop 10:00–12:00 on the 2nd, and the probe down at the start (its last run of the
    /// previous period failed), down again across the stop, and down at the end.
    #[test]
    fn availability_by_hand() {
        use RunStatus::{Cancelled, Failed, Succeeded};
        let hm = |h, m| NaiveTime::from_hms_opt(h, m, 0).expect("time");
        let windows = BTreeMap::from([(
            "night".to_owned(),
            Window {
                name: "night".into(),
                from: hm(22, 0),
                to: hm(6, 0),
            },
        )]);
        let period = Period {
            year: 2026,
            month: 10,
            months: 1,
            from: at(10, 1, 0, 0),
            to: at(10, 3, 0, 0),
        };
        let service = Service {
            except: vec![name("night")],
            planned_stops: vec![name("stop")],
            availability: Some(AvailabilityTarget {
                target: 99.5,
                probe: name("probe"),
            }),
            ..Service::default()
        };
        let min = Duration::minutes(1);
        let previous = facts(&[
            (1, 0, Succeeded, at(9, 30, 22, 0), at(9, 30, 22, 0) + min),
            (2, 0, Failed, at(9, 30, 23, 0), at(9, 30, 23, 0) + min),
        ]);
        let now = facts(&[
            (3, 0, Succeeded, at(10, 1, 7, 0), at(10, 1, 7, 0) + min),
            (4, 1, Succeeded, at(10, 2, 10, 0), at(10, 2, 12, 0)),
            (5, 0, Failed, at(10, 2, 11, 0), at(10, 2, 11, 0) + min),
            (6, 0, Failed, at(10, 2, 11, 30), at(10, 2, 11, 30) + min),
            (7, 0, Succeeded, at(10, 2, 13, 0), at(10, 2, 13, 0) + min),
            (8, 0, Failed, at(10, 2, 21, 0), at(10, 2, 21, 0) + min),
            (9, 0, Cancelled, at(10, 2, 21, 30), at(10, 2, 21, 30) + min),
        ]);
        let local = |t: DateTime<Utc>| t.with_timezone(&tokyo()).format("%d %H:%M").to_string();
        let a = availability(
            &period,
            &now,
            &previous,
            &windows,
            tokyo(),
            &service,
            &local,
        );
        // Service hours: 48 h − the night (00–06 on the 1st, 22–06, 22–24 on the 2nd:
        // 6 + 8 + 2 = 16 h) = 32 h; without the 2 h stop, 30 h = 1800 min.
        assert_eq!(a.service_minutes, 1800.0);
        assert_eq!(a.stop_minutes, 120.0);
        assert_eq!(a.service_seconds, 1800 * 60);
        let seen: Vec<_> = a
            .outages
            .iter()
            .map(|o| {
                (
                    o.from.as_str(),
                    o.to.as_deref(),
                    o.minutes,
                    o.counted_minutes,
                    o.opened_by,
                    o.closed_by,
                )
            })
            .collect();
        assert_eq!(
            seen,
            vec![
                // Down since run 2 of the previous period: 00:00–07:00, only 06:00–07:00
                // is service time.
                ("01 00:00", Some("01 07:00"), 420.0, 60.0, 2, Some(3)),
                // 11:00–13:00, run 6 failing again opens nothing; 11:00–12:00 is the stop.
                ("02 11:00", Some("02 13:00"), 120.0, 60.0, 5, Some(7)),
                // 21:00 to the period's end; 22:00–24:00 is the night; the cancelled run
                // closes nothing.
                ("02 21:00", None, 180.0, 60.0, 8, None),
            ]
        );
        assert_eq!(a.outage_minutes, 180.0);
        // (1800 − 180) / 1800 = 90 %.
        assert_eq!(floor_percent((1800 - 180) * 60, 1800 * 60), Some(90.0));
        assert_eq!(a.stops.len(), 1);
        assert_eq!((a.stops[0].run, a.stops[0].minutes), (4, 120.0));
    }

    #[test]
    fn percentages_are_rounded_down_exactly() {
        assert_eq!(floor_percent(57, 100), Some(57.0));
        assert_eq!(floor_percent(2, 3), Some(66.66));
        assert_eq!(floor_percent(33330, 33420), Some(99.73));
        assert_eq!(floor_percent(0, 0), None);
    }
}
