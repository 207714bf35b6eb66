//! The health-check part of the report's monitoring section (稼働監視の状況): per target kind
//! (software, hardware, network, access) and per target, the availability over the period
//! (time up from the targets' state changes, `domain::check::time_up`), how often each went
//! down, the incidents its going down opened, and the targets that flapped (changed state
//! four times or more within a day, `domain::check::flaps`), with the days they did.
//!
//! Pure: it reads the targets and their changes the caller gives (`Store::targets`,
//! `Store::target_changes`) and the period's incidents (`ReportFacts::incidents`).

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Serialize;

use crate::domain::check::{TargetKind, TargetState, flaps, target_class, time_up};
use crate::store::{IncidentRow, TargetChange, TargetRow};

/// One target over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetLine {
    pub target: String,
    pub kind: String,
    pub job: String,
    /// Percent of the period it was up (of the part after its first result).
    pub availability: f64,
    /// Times it went down in the period.
    pub downs: u64,
    /// Incidents its going down opened in the period.
    pub incidents: u64,
    /// Local days on which it flapped.
    pub flapped: Vec<NaiveDate>,
    /// Its state at the end of the period.
    pub state_at_end: String,
}

/// One kind of target over the period.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KindLine {
    pub kind: String,
    pub targets: u64,
    /// Percent of the time its targets were up, all together.
    pub availability: f64,
    pub downs: u64,
    pub incidents: u64,
}

/// The health checks of a period.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Checks {
    pub kinds: Vec<KindLine>,
    pub targets: Vec<TargetLine>,
    /// The names of the targets that flapped, most days first.
    pub flapping: Vec<String>,
}

/// The checks of `[from, to)`. A target is measured from its first result (or the period's
/// start, if earlier); a target first seen after the period is left out.
pub fn checks(
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    targets: &[TargetRow],
    changes: &[TargetChange],
    incidents: &[IncidentRow],
    tz: Tz,
) -> Checks {
    let mut by_target: BTreeMap<&str, Vec<&TargetChange>> = BTreeMap::new();
    for c in changes.iter().filter(|c| c.at < to) {
        by_target.entry(c.target.as_str()).or_default().push(c);
    }
    let mut lines = Vec::new();
    // kind → (up seconds, measured seconds, targets, downs, incidents)
    let mut kinds: BTreeMap<TargetKind, (i64, i64, u64, u64, u64)> = BTreeMap::new();
    for t in targets {
        let mine = by_target
            .get(t.target.as_str())
            .cloned()
            .unwrap_or_default();
        // First seen: its first result is not kept here, but a target's `since` before any
        // change is its first result; a change is always after it.
        let first = mine.first().map_or(t.since, |c| c.at.min(t.since));
        let start = from.max(if mine.is_empty() { t.since } else { first });
        if start >= to {
            continue;
        }
        let states: Vec<(DateTime<Utc>, TargetState)> =
            mine.iter().map(|c| (c.at, c.state)).collect();
        let up = time_up(&states, start, to).num_seconds();
        let measured = (to - start).num_seconds().max(1);
        let in_period: Vec<&&TargetChange> =
            mine.iter().filter(|c| c.at >= from && c.at < to).collect();
        let downs = in_period
            .iter()
            .filter(|c| c.state == TargetState::Down)
            .count() as u64;
        let class = target_class(&t.target);
        let opened = incidents
            .iter()
            .filter(|i| i.failure_class == class && i.opened_at >= from && i.opened_at < to)
            .count() as u64;
        let instants: Vec<DateTime<Utc>> = mine.iter().map(|c| c.at).collect();
        let mut flapped: Vec<NaiveDate> = flaps(&instants)
            .into_iter()
            .filter(|at| *at >= from && *at < to)
            .map(|at| at.with_timezone(&tz).date_naive())
            .collect();
        flapped.dedup();
        let state_at_end = states
            .iter()
            .rev()
            .find(|(at, _)| *at < to)
            .map_or(TargetState::Up, |(_, s)| *s);
        let k = kinds.entry(t.kind).or_default();
        k.0 += up;
        k.1 += measured;
        k.2 += 1;
        k.3 += downs;
        k.4 += opened;
        lines.push(TargetLine {
            target: t.target.clone(),
            kind: t.kind.to_string(),
            job: t.job.clone(),
            availability: percent(up, measured),
            downs,
            incidents: opened,
            flapped,
            state_at_end: state_at_end.to_string(),
        });
    }
    let mut flapping: Vec<&TargetLine> = lines.iter().filter(|l| !l.flapped.is_empty()).collect();
    flapping.sort_by(|a, b| {
        b.flapped
            .len()
            .cmp(&a.flapped.len())
            .then(a.target.cmp(&b.target))
    });
    Checks {
        flapping: flapping.iter().map(|l| l.target.clone()).collect(),
        kinds: kinds
            .into_iter()
            .map(
                |(kind, (up, measured, targets, downs, incidents))| KindLine {
                    kind: kind.to_string(),
                    targets,
                    availability: percent(up, measured),
                    downs,
                    incidents,
                },
            )
            .collect(),
        targets: lines,
    }
}

/// `part / whole` in percent, rounded to two decimals.
fn percent(part: i64, whole: i64) -> f64 {
    if whole <= 0 {
        return 100.0;
    }
    (part as f64 * 10_000.0 / whole as f64).round() / 100.0
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::domain::check::CheckStatus;

    fn at(hours: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0)
            .single()
            .expect("t")
            + Duration::hours(hours)
    }

    fn target(name: &str, kind: TargetKind, since: DateTime<Utc>) -> TargetRow {
        TargetRow {
            target: name.into(),
            kind,
            job: "watch".into(),
            step: "s".into(),
            state: TargetState::Up,
            streak: 0,
            since,
            last_status: CheckStatus::Ok,
            last_output: String::new(),
            last_perfdata: String::new(),
            last_at: since,
            results: 1,
        }
    }

    fn change(name: &str, hours: i64, state: TargetState) -> TargetChange {
        TargetChange {
            target: name.into(),
            kind: TargetKind::Network,
            at: at(hours),
            state,
            output: String::new(),
        }
    }

    #[test]
    fn availability_downs_flapping_and_kinds_over_a_period() {
        use TargetState::*;
        let month = (at(0), at(30 * 24));
        let targets = vec![
            target("web", TargetKind::Network, at(-100)),
            target("disk", TargetKind::Hardware, at(-100)),
            // First result half-way through the period: measured from then.
            target("late", TargetKind::Hardware, at(15 * 24)),
            // Seen only after the period.
            target("next", TargetKind::Access, at(31 * 24)),
        ];
        let changes = vec![
            // Down across the period's start until hour 12, then down again 48..54.
            change("web", -2, Down),
            change("web", 12, Up),
            change("web", 48, Down),
            change("web", 54, Up),
            // Flaps on day 10: four changes within a day.
            change("disk", 240, Down),
            change("disk", 241, Up),
            change("disk", 242, Down),
            change("disk", 243, Up),
        ];
        let incident_row = crate::store::IncidentRow {
            id: 1,
            opened_at: at(48),
            severity: crate::domain::severity::Severity::High,
            job: "watch".into(),
            run_id: None,
            step: None,
            failure_class: target_class("web"),
            summary: String::new(),
            log_excerpt: String::new(),
            rule: None,
            status: crate::store::IncidentStatus::Resolved,
            occurrences: 1,
            last_seen_at: at(48),
            acknowledged_by: None,
            acknowledged_at: None,
            resolved_by: None,
            resolved_at: None,
            cause: None,
            countermeasure: None,
            report_deadline: None,
            escalation_level: 0,
            next_escalation_at: None,
            route: None,
        };
        let c = checks(
            month.0,
            month.1,
            &targets,
            &changes,
            &[incident_row],
            chrono_tz::Asia::Tokyo,
        );
        let names: Vec<&str> = c.targets.iter().map(|t| t.target.as_str()).collect();
        assert_eq!(names, vec!["web", "disk", "late"]);
        let web = &c.targets[0];
        // 18 hours down of 720.
        assert_eq!(web.availability, 97.5);
        assert_eq!((web.downs, web.incidents), (1, 1));
        assert_eq!(web.state_at_end, "up");
        let disk = &c.targets[1];
        assert_eq!(disk.downs, 2);
        assert_eq!(
            disk.flapped,
            vec![NaiveDate::from_ymd_opt(2026, 11, 11).expect("day")]
        );
        assert_eq!(c.targets[2].availability, 100.0);
        assert_eq!(c.flapping, vec!["disk"]);
        let kinds: Vec<(&str, u64, u64)> = c
            .kinds
            .iter()
            .map(|k| (k.kind.as_str(), k.targets, k.downs))
            .collect();
        assert_eq!(kinds, vec![("hardware", 2, 2), ("network", 1, 1)]);
    }
}
