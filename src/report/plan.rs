//! The next period's plan: the forecast of its slots and the closed days of each calendar.
//! A yearly report's plan is also the draft of the coming fiscal year's work plan
//! (次年度作業計画(案)): the fiscal-year rollover date, every schedule with its calendar and
//! what the closed days do to its slots (counted from the same forecast as `unyo next`, so the
//! two always agree), and the improvement proposals still open.

use std::collections::BTreeMap;

use chrono::Duration;

use super::{Count, Draft, Period, Plan, PlanEvent, PlanSchedule, PlanShift, ShiftGroup, date_ja};
use crate::model::{Catalog, Settings};
use crate::schedule::forecast::Coming;

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
    let draft = period
        .is_year()
        .then(|| draft(&next, &coming, catalog, settings));
    Plan {
        draft,
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

/// The draft of the coming fiscal year `next` from its forecast `coming`.
fn draft(next: &Period, coming: &[Coming], catalog: &Catalog, settings: &Settings) -> Draft {
    let tz = settings.timezone;
    let first_day = next.from.with_timezone(&tz).date_naive();
    let schedules = catalog
        .schedules
        .iter()
        .map(|s| {
            let mine: Vec<&Coming> = coming.iter().filter(|c| c.schedule == s.name).collect();
            schedule_year(s, &mine, catalog, settings)
        })
        .collect::<Vec<PlanSchedule>>();
    Draft {
        any_shifts: schedules.iter().any(|s| !s.shifts.is_empty()),
        rollover: first_day.to_string(),
        rollover_ja: date_ja(first_day, settings.report.date_style),
        year_ja: super::period::label_ja_year(next.year, settings.report.date_style),
        schedules,
        proposals: Vec::new(),
    }
}

fn schedule_year(
    s: &crate::model::Schedule,
    mine: &[&Coming],
    catalog: &Catalog,
    settings: &Settings,
) -> PlanSchedule {
    use crate::model::ClosedDay;
    let tz = settings.timezone;
    let local = |t: chrono::DateTime<chrono::Utc>| {
        t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string()
    };
    let calendar = s.calendar.as_ref().and_then(|c| catalog.calendars.get(c));
    let running: Vec<&&Coming> = mine
        .iter()
        .filter(|c| matches!(c.decision, "run" | "moved" | "waits"))
        .collect();
    let mut days = std::collections::BTreeSet::new();
    let mut times = std::collections::BTreeSet::new();
    for c in &running {
        let at = c.due_at.with_timezone(&tz);
        days.insert(at.date_naive());
        times.insert(at.time());
    }
    let (times_ja, times_en) = describe_times(&times);
    let shifts: Vec<PlanShift> = mine
        .iter()
        .filter(|c| c.decision != "run")
        .map(|c| {
            let fire_day = c.fire_time.with_timezone(&s.timezone).date_naive();
            let why_ja = reason_ja(c, calendar.and_then(|cal| cal.closed(fire_day)));
            PlanShift {
                fire: local(c.fire_time),
                due: local(c.due_at),
                decision: c.decision.to_owned(),
                reason: c.reason.clone().unwrap_or_default(),
                reason_ja: why_ja,
            }
        })
        .collect();
    let mut shift_groups: Vec<ShiftGroup> = Vec::new();
    for (c, shift) in mine.iter().filter(|c| c.decision != "run").zip(&shifts) {
        let fire_day = c.fire_time.with_timezone(&s.timezone).date_naive();
        // Skipped weekends are many and their reason says it all; a move is listed by its day.
        let weekend = c.decision != "moved"
            && calendar.is_some_and(|cal| {
                matches!(
                    cal.closed(fire_day),
                    Some(crate::calendar::Closed::Weekend(_))
                )
            });
        let day = match c.decision {
            "moved" => format!(
                "{}→{}",
                fire_day.format("%m-%d"),
                c.due_at.with_timezone(&tz).format("%m-%d")
            ),
            _ => fire_day.format("%m-%d").to_string(),
        };
        match shift_groups
            .iter_mut()
            .find(|g| g.decision == shift.decision && g.reason_ja == shift.reason_ja)
        {
            Some(g) => {
                g.count += 1;
                if !weekend {
                    g.dates.push(day);
                }
            }
            None => shift_groups.push(ShiftGroup {
                decision: shift.decision.clone(),
                // A window's reason names when it opens for this slot; the group's does not.
                reason: shift
                    .reason
                    .split(" (opens ")
                    .next()
                    .and_then(|r| r.split(" (until ").next())
                    .unwrap_or_default()
                    .to_owned(),
                reason_ja: shift.reason_ja.clone(),
                count: 1,
                dates: if weekend { Vec::new() } else { vec![day] },
            }),
        }
    }
    PlanSchedule {
        schedule: s.name.clone(),
        job: s.job.clone(),
        calendar: s.calendar.clone(),
        closed_day: match (&s.calendar, s.closed_day) {
            (None, _) => "every_day",
            (Some(_), ClosedDay::Run) => "run",
            (Some(_), ClosedDay::Skip) => "skip",
            (Some(_), ClosedDay::NextBusinessDay) => "next_business_day",
            (Some(_), ClosedDay::PreviousBusinessDay) => "previous_business_day",
        }
        .to_owned(),
        days_rule_ja: days_rule_ja(s),
        days_rule_en: days_rule_en(s),
        runs: running.len() as u64,
        moved: mine.iter().filter(|c| c.decision == "moved").count() as u64,
        skipped: mine.iter().filter(|c| c.decision == "skipped").count() as u64,
        days: days.len() as u64,
        times_ja,
        times_en,
        first: running.first().map(|c| local(c.due_at)),
        last: running.last().map(|c| local(c.due_at)),
        shifts,
        shift_groups,
    }
}

/// Which days a schedule runs on and what a closed day does to it, in Japanese.
fn days_rule_ja(s: &crate::model::Schedule) -> String {
    use crate::model::{BusinessDay, ClosedDay};
    if let Some(day) = s.business_day {
        return match day {
            BusinessDay::Nth(n) => format!("各月の第{n}営業日"),
            BusinessDay::NthLast(1) => "各月の最終営業日".to_owned(),
            BusinessDay::NthLast(n) => format!("各月の最終営業日から{n}番目"),
            BusinessDay::FirstOfFiscalYear => "年度の最初の営業日".to_owned(),
            BusinessDay::LastOfFiscalYear => "年度の最後の営業日".to_owned(),
        };
    }
    match (&s.calendar, s.closed_day) {
        (None, _) => "毎日(休業日なし)",
        (Some(_), ClosedDay::Run) => "休業日も実行",
        (Some(_), ClosedDay::Skip) => "休業日は見送り",
        (Some(_), ClosedDay::NextBusinessDay) => "休業日は翌営業日に移動",
        (Some(_), ClosedDay::PreviousBusinessDay) => "休業日は前営業日に移動",
    }
    .to_owned()
}

/// The same in English.
fn days_rule_en(s: &crate::model::Schedule) -> String {
    use crate::model::ClosedDay;
    if let Some(day) = s.business_day {
        return format!("on the {day}");
    }
    match (&s.calendar, s.closed_day) {
        (None, _) => "every day (no closed days)",
        (Some(_), ClosedDay::Run) => "runs on closed days too",
        (Some(_), ClosedDay::Skip) => "skipped on closed days",
        (Some(_), ClosedDay::NextBusinessDay) => "moved to the next business day",
        (Some(_), ClosedDay::PreviousBusinessDay) => "moved to the previous business day",
    }
    .to_owned()
}

/// The times of day runs start, for reading: each time when there are few, else the
/// interval between them and the first and last time of the day.
fn describe_times(times: &std::collections::BTreeSet<chrono::NaiveTime>) -> (String, String) {
    let hm = |t: &chrono::NaiveTime| t.format("%H:%M").to_string();
    if times.is_empty() {
        return ("-".to_owned(), "-".to_owned());
    }
    if times.len() <= 4 {
        let all: Vec<String> = times.iter().map(hm).collect();
        return (all.join("、"), all.join(", "));
    }
    let list: Vec<&chrono::NaiveTime> = times.iter().collect();
    let gaps: std::collections::BTreeSet<i64> = list
        .windows(2)
        .map(|w| (*w[1] - *w[0]).num_minutes())
        .collect();
    let (first, last) = (hm(list[0]), hm(list[list.len() - 1]));
    match gaps.iter().next() {
        Some(gap) if gaps.len() == 1 => (
            format!("{gap}分ごと({first}〜{last})"),
            format!("every {gap} min ({first}–{last})"),
        ),
        _ => (
            format!("1日{}回({first}〜{last})", times.len()),
            format!("{} times a day ({first}–{last})", times.len()),
        ),
    }
}

/// Why a slot is not run at its fire time, in Japanese: the closed day of its fire date by
/// its Japanese name, or the job's window.
fn reason_ja(c: &Coming, closed: Option<crate::calendar::Closed>) -> String {
    let closed = closed.map(|why| match &why {
        crate::calendar::Closed::Weekend(day) => weekday_ja(*day).to_owned(),
        crate::calendar::Closed::Holiday(h) => format!("{}(祝日)", h.name),
        other => closed_ja(other),
    });
    let window = c
        .reason
        .as_deref()
        .is_some_and(|r| r.contains("window"))
        .then_some(match c.decision {
            "waits" => "実行時間帯まで待機",
            _ => "実行時間帯の外のため見送り",
        });
    let mut parts: Vec<String> = Vec::new();
    match (closed, c.decision) {
        (Some(day), "moved") => parts.push(format!("{day}のため営業日へ移動")),
        (Some(day), "skipped") if window.is_none() => parts.push(format!("{day}のため見送り")),
        (Some(day), _) => parts.push(day),
        (None, _) => {}
    }
    parts.extend(window.map(str::to_owned));
    if parts.is_empty() {
        parts.push("予定の変更".to_owned());
    }
    parts.join("、")
}

fn weekday_ja(day: chrono::Weekday) -> &'static str {
    use chrono::Weekday;
    match day {
        Weekday::Mon => "月曜日",
        Weekday::Tue => "火曜日",
        Weekday::Wed => "水曜日",
        Weekday::Thu => "木曜日",
        Weekday::Fri => "金曜日",
        Weekday::Sat => "土曜日",
        Weekday::Sun => "日曜日",
    }
}
