use chrono::{Duration, TimeZone};

use super::*;

/// Six months of 30 days from 2026-05-01 (UTC); the last is the period.
fn months() -> Vec<Month> {
    let start = Utc
        .with_ymd_and_hms(2026, 5, 1, 0, 0, 0)
        .single()
        .expect("a time");
    (0..6)
        .map(|i| Month {
            label: format!("m{i}"),
            from: start + Duration::days(30 * i),
            to: start + Duration::days(30 * (i + 1)),
        })
        .collect()
}

fn day(month: i64, day: i64, hour: i64) -> DateTime<Utc> {
    months()[month as usize].from + Duration::days(day) + Duration::hours(hour)
}

fn days_of(t: DateTime<Utc>) -> NaiveDate {
    t.date_naive()
}

/// A repeatable spread in [-1, 1].
struct Noise(u64);
impl Noise {
    fn next(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as f64 / (1u64 << 31) as f64) * 2.0 - 1.0
    }
}

/// Daily runs of `job` starting 00:30 after a 06:00 day start (end offset: 18.5 h + run),
/// the typical duration `base * (1 + growth)^month`, each run ±`spread` of it.
fn history(job: &str, base: f64, growth: f64, spread: f64) -> Vec<RunSample> {
    let mut noise = Noise(7);
    let mut out = Vec::new();
    for m in 0..6 {
        for d in 0..30 {
            let typical = base * (1.0 + growth).powi(m as i32);
            let seconds = typical * (1.0 + spread * noise.next());
            out.push(RunSample {
                job: job.to_owned(),
                id: m * 100 + d,
                started_at: day(m, d, 15),
                seconds,
                elapsed: seconds,
                end_offset: 18.5 * 3600.0 + seconds,
            });
        }
    }
    out
}

fn run(records: &Records) -> Vec<Proposal> {
    proposals(
        records,
        &Span::last_month(months()),
        &Thresholds::default(),
        &days_of,
    )
}

fn kinds(p: &[Proposal]) -> Vec<(Kind, String)> {
    p.iter().map(|p| (p.kind, p.subject.clone())).collect()
}

#[test]
fn median_of_odd_even_and_empty() {
    assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    assert_eq!(median(&[]), None);
}

#[test]
fn theil_sen_fits_a_line_and_one_far_month_moves_it_little() {
    let line: Vec<(f64, f64)> = (0..6)
        .map(|x| (x as f64, 100.0 + 10.0 * x as f64))
        .collect();
    let fit = theil_sen(&line).expect("a line");
    assert!((fit.slope - 10.0).abs() < 1e-9, "{fit:?}");
    assert!((fit.intercept - 100.0).abs() < 1e-9, "{fit:?}");
    let mut off = line.clone();
    off[2].1 = 1000.0;
    let fit = theil_sen(&off).expect("a line");
    // Least squares would give a slope near 0 or far above; the median of pairs stays.
    assert!((fit.slope - 10.0).abs() < 3.0, "{fit:?}");
    assert_eq!(theil_sen(&[(1.0, 2.0)]), None);
}

#[test]
fn a_fitted_line_reaches_a_level_in_so_many_steps() {
    let fit = Fit {
        slope: 10.0,
        intercept: 100.0,
    };
    assert_eq!(fit.reaches(5.0, 200.0), Some(5.0));
    assert_eq!(fit.reaches(5.0, 120.0), Some(0.0));
    let flat = Fit {
        slope: 0.0,
        intercept: 100.0,
    };
    assert_eq!(flat.reaches(5.0, 200.0), None);
}

#[test]
fn a_job_getting_slower_is_proposed_with_its_monthly_medians_and_projection() {
    // 2 h at 00:30, 10 % slower a month: the sixth month ends near 03:45 + growth, so
    // 06:00 is reached within the year.
    let records = Records {
        runs: history("backup", 7200.0, 0.10, 0.2),
        limits: vec![Limit {
            job: "backup".into(),
            kind: LimitKind::CompleteBy,
            seconds: 24.0 * 3600.0,
            text: "06:00".into(),
        }],
        ..Default::default()
    };
    let p = run(&records);
    assert_eq!(kinds(&p), vec![(Kind::Slower, "backup".to_owned())]);
    let Evidence::Slower {
        months,
        percent,
        projection,
        runs,
        ..
    } = &p[0].evidence
    else {
        panic!("{p:?}")
    };
    assert_eq!(months.len(), 6);
    assert!(months[5].median > months[0].median * 1.4, "{months:?}");
    assert!(*percent > 8.0 && *percent < 16.0, "{percent}");
    let projection = projection.as_ref().expect("a projection");
    assert_eq!(projection.limit.kind, LimitKind::CompleteBy);
    // Ends near 18.5 h + 3.2 h after the day start, 24 h is ~2.3 h away at ~0.3 h a month.
    assert!(
        projection.months > 3.0 && projection.months < 12.0,
        "{projection:?}"
    );
    assert_eq!(runs.len(), EVIDENCE_RUNS);
    assert!(runs.iter().all(|r| (500..600).contains(r)), "{runs:?}");
}

#[test]
fn ordinary_variation_of_twenty_percent_proposes_no_slower_job() {
    let records = Records {
        runs: history("backup", 7200.0, 0.0, 0.2),
        ..Default::default()
    };
    assert!(run(&records).is_empty());
}

#[test]
fn a_slower_job_far_from_its_deadline_has_no_projection() {
    let records = Records {
        runs: history("report", 60.0, 0.10, 0.1),
        limits: vec![Limit {
            job: "report".into(),
            kind: LimitKind::MaxRuntime,
            seconds: 36_000.0,
            text: "10h".into(),
        }],
        ..Default::default()
    };
    let p = run(&records);
    let Evidence::Slower { projection, .. } = &p[0].evidence else {
        panic!("{p:?}")
    };
    assert_eq!(projection, &None);
}

fn incident(id: i64, month: i64, class: &str, cause: Option<&str>) -> IncidentSample {
    IncidentSample {
        id,
        opened_at: day(month, 3, 1),
        job: "billing".into(),
        step: Some("load".into()),
        failure_class: class.into(),
        occurrences: 1,
        last_seen_at: day(month, 3, 1),
        cause: cause.map(str::to_owned),
    }
}

#[test]
fn incidents_of_one_cause_class_recurring_are_proposed_with_their_causes() {
    let records = Records {
        incidents: vec![
            incident(1, 1, "exit 3", Some("lock left by the load")),
            incident(2, 3, "exit 3", Some("lock left by the load")),
            incident(3, 5, "exit 3", None),
            incident(4, 5, "timeout", None),
        ],
        ..Default::default()
    };
    let p = run(&records);
    assert_eq!(kinds(&p), vec![(Kind::Recurring, "billing".to_owned())]);
    let Evidence::Recurring {
        incidents,
        failure_class,
        causes,
        occurrences,
        ..
    } = &p[0].evidence
    else {
        panic!("{p:?}")
    };
    assert_eq!(incidents, &vec![1, 2, 3]);
    assert_eq!(failure_class, "exit 3");
    assert_eq!(occurrences, &3);
    assert_eq!(causes, &vec!["lock left by the load".to_owned()]);
}

#[test]
fn a_rare_incident_or_one_not_recurring_in_the_period_proposes_nothing() {
    let rare = Records {
        incidents: vec![
            incident(1, 5, "exit 3", None),
            incident(2, 5, "timeout", None),
        ],
        ..Default::default()
    };
    assert!(run(&rare).is_empty());
    let past = Records {
        incidents: vec![
            incident(1, 1, "exit 3", None),
            incident(2, 2, "exit 3", None),
            incident(3, 3, "exit 3", None),
        ],
        ..Default::default()
    };
    assert!(run(&past).is_empty(), "none of them in the period");
}

#[test]
fn an_incident_kept_open_that_recurs_into_the_period_is_proposed() {
    // Opened in July, seen again twice since, the last time in the period.
    let records = Records {
        incidents: vec![IncidentSample {
            occurrences: 3,
            last_seen_at: day(5, 2, 1),
            ..incident(1, 1, "exit 3", None)
        }],
        ..Default::default()
    };
    let p = run(&records);
    assert_eq!(kinds(&p), vec![(Kind::Recurring, "billing".to_owned())]);
    let Evidence::Recurring { occurrences, .. } = &p[0].evidence else {
        panic!("{p:?}")
    };
    assert_eq!(*occurrences, 3);
}

fn rate(item: &str, target: f64, ok: u64, total: u64) -> SlaMeasure {
    SlaMeasure {
        subject: "service".into(),
        item: item.into(),
        agreed: format!("{target}%"),
        measure: Measure::Rate { target, ok },
        total,
    }
}

#[test]
fn service_levels_near_the_target_or_far_above_it_are_proposed() {
    let records = Records {
        sla: vec![
            // 99 % of 1,000 allows 10 failures: 9 used 90 % of it.
            rate("success_rate", 99.0, 991, 1000),
            // None of 10 allowed used.
            rate("availability", 99.0, 1000, 1000),
            // 5 of 10: ordinary.
            rate("backups", 99.0, 995, 1000),
            SlaMeasure {
                subject: "backup".into(),
                item: "max_duration".into(),
                agreed: "1h".into(),
                measure: Measure::Limit {
                    limit: 3600.0,
                    worst: 3300.0,
                },
                total: 30,
            },
        ],
        ..Default::default()
    };
    let p = run(&records);
    assert_eq!(
        kinds(&p),
        vec![
            (Kind::SlaAtRisk, "backup".to_owned()),
            (Kind::SlaAtRisk, "service".to_owned()),
            (Kind::SlaMargin, "service".to_owned()),
        ]
    );
    let Evidence::Sla {
        item,
        used,
        measured,
        ..
    } = &p[1].evidence
    else {
        panic!()
    };
    assert_eq!(
        (item.as_str(), *used, *measured),
        ("success_rate", 90.0, 99.1)
    );
    let Evidence::Sla { item, used, .. } = &p[2].evidence else {
        panic!()
    };
    assert_eq!((item.as_str(), *used), ("availability", 0.0));
}

#[test]
fn a_wide_margin_needs_enough_samples_and_a_broken_level_is_left_to_the_report() {
    let records = Records {
        sla: vec![
            rate("success_rate", 99.0, 10, 10),
            rate("backups", 100.0, 29, 30),
            rate("first_notice", 100.0, 30, 30),
            rate("availability", 99.0, 980, 1000),
        ],
        ..Default::default()
    };
    assert!(run(&records).is_empty());
    // Exactly at its target: met, with nothing left.
    let p = run(&Records {
        sla: vec![rate("availability", 99.0, 990, 1000)],
        ..Default::default()
    });
    assert_eq!(kinds(&p), vec![(Kind::SlaAtRisk, "service".to_owned())]);
}

#[test]
fn a_check_flapping_on_two_days_is_proposed_and_a_stable_one_is_not() {
    let flaps = |d: i64| (0..4).map(move |h| day(5, d, h * 2));
    let records = Records {
        checks: vec![
            TargetChanges {
                target: "db".into(),
                changes: flaps(2).chain(flaps(9)).collect(),
            },
            TargetChanges {
                // Down once, up once: an outage, not flapping.
                target: "web".into(),
                changes: vec![day(5, 2, 1), day(5, 2, 3)],
            },
            TargetChanges {
                // Flapped once only.
                target: "nfs".into(),
                changes: flaps(4).collect(),
            },
        ],
        ..Default::default()
    };
    let p = run(&records);
    assert_eq!(kinds(&p), vec![(Kind::Flapping, "db".to_owned())]);
    let Evidence::Flapping { days, changes } = &p[0].evidence else {
        panic!()
    };
    assert_eq!(days, &vec![days_of(day(5, 2, 0)), days_of(day(5, 9, 0))]);
    assert_eq!(*changes, 8);
}

fn firing(run_id: i64, month: i64, rule: &str) -> RuleFiring {
    RuleFiring {
        rule: rule.into(),
        job: "billing".into(),
        step: "load".into(),
        run_id,
        at: day(month, run_id % 28, 1),
    }
}

#[test]
fn a_rule_firing_often_is_proposed_and_a_rare_one_is_not() {
    let mut firings: Vec<RuleFiring> = (0..12)
        .map(|i| firing(i, i % 6, "db-transient#1: database is locked"))
        .collect();
    firings.extend((0..3).map(|i| firing(100 + i, 5, "db-transient#2: timeout")));
    let p = run(&Records {
        firings,
        ..Default::default()
    });
    assert_eq!(
        kinds(&p),
        vec![(
            Kind::FrequentRule,
            "db-transient#1: database is locked".to_owned()
        )]
    );
    let Evidence::FrequentRule {
        firings,
        runs,
        run_count,
        months,
        ..
    } = &p[0].evidence
    else {
        panic!()
    };
    assert_eq!((*firings, *run_count), (12, 12));
    assert_eq!(runs, &vec![0, 1, 2, 3, 4]);
    assert_eq!(months.iter().map(|m| m.1).sum::<usize>(), 12);
}

fn disk(target: &str, start: f64, per_day: f64) -> Vec<UsageSample> {
    (0..180)
        .map(|d| UsageSample {
            target: target.into(),
            label: "/".into(),
            unit: "MB".into(),
            at: months()[0].from + Duration::days(d) + Duration::hours(3),
            value: start + per_day * d as f64 + if d % 2 == 0 { 20.0 } else { -20.0 },
            max: 10_000.0,
        })
        .collect()
}

#[test]
fn a_disk_growing_towards_its_capacity_is_proposed_and_a_stable_one_is_not() {
    let mut usage = disk("db-disk", 5000.0, 15.0);
    usage.extend(disk("web-disk", 5000.0, 0.0));
    let p = run(&Records {
        usage,
        ..Default::default()
    });
    assert_eq!(kinds(&p), vec![(Kind::Capacity, "db-disk".to_owned())]);
    let Evidence::Capacity {
        last,
        max,
        slope,
        months,
        ..
    } = &p[0].evidence
    else {
        panic!()
    };
    // 15 MB a day: ~457 MB a month; from ~7,685 MB to 9,000 MB (90 %) in ~2.9 months.
    assert_eq!(*max, 10_000.0);
    assert!((*last - 7685.0).abs() < 30.0, "{last}");
    assert!((*slope - 456.6).abs() < 5.0, "{slope}");
    assert!(*months > 2.5 && *months < 3.3, "{months}");
}

#[test]
fn nothing_in_the_records_proposes_nothing() {
    assert!(run(&Records::default()).is_empty());
    assert!(
        proposals(
            &Records::default(),
            &Span::last_month(Vec::new()),
            &Thresholds::default(),
            &days_of
        )
        .is_empty()
    );
}
