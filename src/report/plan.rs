//! The next period's plan: the forecast of its slots and the closed days of each calendar.

use std::collections::BTreeMap;

use chrono::Duration;

use super::{Count, Period, Plan, PlanEvent};
use crate::model::{Catalog, Settings};

pub(super) fn plan(period: &Period, catalog: &Catalog, settings: &Settings) -> Plan {
    let (tz, day_start) = (settings.timezone, settings.day_start);
    let Some(next) = period.next(tz, day_start) else {
        return Plan::default();
    };
    let (coming, _) = crate::schedule::forecast::forecast(
        settings,
        catalog,
        None,
        next.from,
        next.to - Duration::nanoseconds(1),
        200_000,
    );
    let mut jobs: BTreeMap<&str, u64> = BTreeMap::new();
    for c in coming
        .iter()
        .filter(|c| matches!(c.decision, "run" | "moved" | "waits"))
    {
        *jobs.entry(c.job.as_str()).or_default() += 1;
    }
    let events = coming
        .iter()
        .filter(|c| jobs.get(c.job.as_str()).is_some_and(|&n| n <= 2))
        .filter(|c| matches!(c.decision, "run" | "moved" | "waits"))
        .map(|c| PlanEvent {
            date: c
                .due_at
                .with_timezone(&tz)
                .format("%Y-%m-%d %H:%M")
                .to_string(),
            what: c.job.clone(),
            what_ja: c.job.clone(),
        })
        .collect();
    let mut closed_days = Vec::new();
    for d in next.days() {
        for (name, cal) in &catalog.calendars {
            if let Some(why) = cal.closed(d)
                && !matches!(why, crate::calendar::Closed::Weekend(_))
            {
                closed_days.push(PlanEvent {
                    date: d.to_string(),
                    what: format!("{name}: {why}"),
                    what_ja: format!("{}(カレンダー {name})", closed_ja(&why)),
                });
            }
        }
    }
    Plan {
        period: next.label(),
        jobs: jobs
            .into_iter()
            .map(|(name, count)| Count {
                name: name.to_owned(),
                count,
            })
            .collect(),
        events,
        closed_days,
    }
}

/// Why a day is closed, in Japanese: a holiday by its Japanese name (the report's plan, the
/// dashboard's calendar).
pub fn closed_ja(why: &crate::calendar::Closed) -> String {
    use crate::calendar::Closed;
    match why {
        Closed::ClosedRule { year_end: true, .. } => "年末年始の休業".to_owned(),
        Closed::ClosedRule { rule, .. } => format!("休業日({rule})"),
        Closed::Holiday(h) => format!("祝日 {}", h.name),
        Closed::Weekend(_) => "週末".to_owned(),
    }
}
