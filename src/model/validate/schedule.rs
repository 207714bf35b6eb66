//! Checking a schedule entry: its job and parameters, cron expression (located to the field at
//! fault), time zone, calendar, `closed_day`, `business_day`, misfire and `missed`.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use chrono_tz::Tz;
use indexmap::IndexMap;

use super::Ctx;
use crate::model::{ClosedDay, Job, MisfirePolicy, Schedule, Settings};
use crate::spec::{Diagnostic, diag};

pub(super) fn schedule(
    cx: &mut Ctx<'_>,
    file: &Path,
    spec: &crate::spec::ScheduleSpec,
    settings: &Settings,
    jobs: &[String],
    calendars: &[String],
    jobs_model: &BTreeMap<String, Arc<Job>>,
) -> Option<Schedule> {
    let before = cx.diags.len();
    cx.reference(file, &spec.job, "job", jobs);
    if let Some(n) = &spec.name {
        cx.name(file, n, "schedule");
    }
    let cron = spec.cron.value.trim().to_owned();
    if let Err(m) = crate::domain::cron::parse_cron(&cron) {
        let message = format!(
            "invalid cron expression `{cron}`: {}",
            m.trim_end_matches('.')
        );
        // Point at the field at fault when the value is written as it reads (plain, or in
        // quotes without escapes): its span is then the text, or the text and two quotes.
        let at = spec.cron.referenced;
        let written = u64::try_from(spec.cron.value.chars().count()).unwrap_or(u64::MAX);
        let quote = match at.span().len() {
            n if n == written => Some(0),
            n if n == written.saturating_add(2) => Some(1),
            _ => None,
        };
        match (
            quote,
            crate::domain::cron::cron_fault_offset(&spec.cron.value),
        ) {
            (Some(q), Some(offset)) if at.line() > 0 => {
                let column = usize::try_from(at.column()).unwrap_or(0) + q + offset;
                cx.diags.push(Diagnostic::new(
                    file,
                    u32::try_from(at.line()).unwrap_or(u32::MAX),
                    u32::try_from(column).unwrap_or(u32::MAX),
                    message,
                ));
            }
            _ => cx.err(file, &spec.cron, message),
        }
    }
    let timezone = match &spec.timezone {
        Some(tz) => tz.value.parse::<Tz>().unwrap_or_else(|_| {
            cx.err(
                file,
                tz,
                format!("unknown time zone `{}` (e.g. `Asia/Tokyo`)", tz.value),
            );
            settings.timezone
        }),
        None => settings.timezone,
    };
    if let Some(c) = &spec.calendar {
        cx.reference(file, c, "calendar", calendars);
    }
    // Naming a calendar means closed days do not run, unless `closed_day` says otherwise.
    let closed_day = spec.closed_day.unwrap_or(if spec.calendar.is_some() {
        ClosedDay::Skip
    } else {
        ClosedDay::Run
    });
    let business_day = spec.business_day.as_ref().and_then(|b| {
        if spec.calendar.is_none() {
            cx.err(
                file,
                b,
                "`business_day` needs a `calendar` to know which days are business days",
            );
        }
        match b.value.0.parse::<crate::model::BusinessDay>() {
            Ok(d) => Some(d),
            Err(m) => {
                cx.err(file, b, format!("`business_day`: {m}"));
                None
            }
        }
    });
    if closed_day != ClosedDay::Run && spec.calendar.is_none() {
        cx.err(
            file,
            &spec.job,
            "`closed_day` needs a `calendar` to know which days are closed",
        );
    }
    let (misfire, misfire_within, misfire_max) = match &spec.misfire {
        Some(m) => (
            m.policy,
            cx.duration(file, &m.within, "within"),
            m.max.unwrap_or(10),
        ),
        None => (MisfirePolicy::Skip, None, 10),
    };
    let missed = match &spec.missed {
        None => Some(settings.incidents.severity),
        Some(m) => match (m.value.incident, m.value.severity) {
            (Some(false), Some(_)) => {
                cx.err(
                    file,
                    m,
                    "`missed`: `severity` has no use with `incident: false` (a missed slot is only recorded then)",
                );
                None
            }
            (Some(false), None) => None,
            (_, severity) => Some(severity.unwrap_or(settings.incidents.severity)),
        },
    };
    // The job's declared parameters (a job that did not validate is not checked against).
    let declared = jobs_model.get(&spec.job.value).map(|j| &j.params);
    let mut params = IndexMap::new();
    for (k, v) in &spec.params {
        match declared.map(|d| (d, d.get(k))) {
            Some((d, None)) => {
                let hint = diag::hint(k, d.keys().map(String::as_str));
                let msg = format!("job `{}` has no parameter `{k}`{hint}", spec.job.value);
                cx.err(file, v, msg);
            }
            Some((_, Some(p))) if p.secret => {
                cx.err(
                    file,
                    v,
                    format!(
                        "parameter `{k}` of job `{}` is secret: a definition file is no place \
                         for its value (declare `from_env` in the job and set that variable \
                         for the daemon)",
                        spec.job.value
                    ),
                );
            }
            Some((_, Some(_))) => {
                if let Some(p) = jobs_model
                    .get(&spec.job.value)
                    .and_then(|j| j.params.get(k))
                    && let Err(m) = crate::model::param_value::check_value(
                        p,
                        &v.value.0,
                        chrono::Utc::now().date_naive(),
                        cx.root,
                    )
                {
                    cx.err(file, v, format!("parameter `{k}`: {m}"));
                }
            }
            None => {}
        }
        params.insert(k.clone(), v.value.0.clone());
    }
    if let Some(declared) = declared {
        for (k, p) in declared {
            if p.required && p.from_env.is_none() && !spec.params.contains_key(k) {
                let how = if p.secret {
                    "it is secret: declare `from_env` in the job and set that variable for \
                     the daemon"
                } else {
                    "give it under `params:`"
                };
                cx.err(
                    file,
                    &spec.job,
                    format!("job `{}` needs parameter `{k}`; {how}", spec.job.value),
                );
            }
        }
    }
    let name = spec
        .name
        .as_ref()
        .map_or_else(|| spec.job.value.clone(), |n| n.value.clone());
    (cx.diags.len() == before).then(|| Schedule {
        name,
        job: spec.job.value.clone(),
        cron,
        timezone,
        calendar: spec.calendar.as_ref().map(|c| c.value.clone()),
        closed_day,
        business_day,
        misfire,
        misfire_within,
        misfire_max,
        missed,
        overlap: spec.overlap.unwrap_or_default(),
        params,
    })
}
