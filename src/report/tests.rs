//! Periods and their labels, duration statistics, skip reasons, secrets kept out.

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;

use super::changes::secret;
use super::jobs::{skip_reason, stats};
use super::*;
use crate::model::DateStyle;
use crate::store::SlotOutcome;

/// A period ends when its last operating day does: with days starting at 06:00, December
/// 2026 in Tokyo runs until 2027-01-01 06:00, and a report made before then is
/// preliminary.
#[test]
fn a_period_ends_with_its_last_operating_day() {
    let tz = chrono_tz::Asia::Tokyo;
    let six = NaiveTime::from_hms_opt(6, 0, 0).expect("06:00");
    let december = Period::month(2026, 12, tz, six).expect("month");
    let at = |d: u32, h: u32, m: u32| {
        crate::schedule::window::local_instant(
            tz,
            NaiveDate::from_ymd_opt(2027, 1, d).expect("day"),
            NaiveTime::from_hms_opt(h, m, 0).expect("time"),
        )
        .expect("instant")
    };
    assert!(!december.ended(at(1, 5, 59)));
    assert!(december.ended(at(1, 6, 0)));
    let year = Period::fiscal_year(2026, 4, tz, six).expect("year");
    assert!(!year.ended(at(1, 6, 0)));
}

#[test]
fn era_labels() {
    let both = DateStyle::Both;
    assert_eq!(label_ja(2026, 11, both), "令和8年(2026年)11月分");
    assert_eq!(label_ja(2019, 5, both), "令和元年(2019年)5月分");
    assert_eq!(label_ja(2019, 4, both), "平成31年(2019年)4月分");
    assert_eq!(label_ja(1989, 4, both), "平成元年(1989年)4月分");
    assert_eq!(label_ja(1988, 12, both), "昭和63年(1988年)12月分");
    assert_eq!(label_ja(2026, 11, DateStyle::Era), "令和8年11月分");
    assert_eq!(label_ja(2019, 4, DateStyle::Era), "平成31年4月分");
    assert_eq!(label_ja(2026, 11, DateStyle::Western), "2026年11月分");
    assert_eq!(label_ja_year(2026, both), "令和8年度(2026年度)");
    assert_eq!(label_ja_year(2019, both), "令和元年度(2019年度)");
    assert_eq!(label_ja_year(2018, DateStyle::Era), "平成30年度");
    assert_eq!(label_ja_year(1988, DateStyle::Era), "昭和63年度");
    assert_eq!(label_ja_year(2026, DateStyle::Western), "2026年度");
}

#[test]
fn a_month_in_tokyo_starts_at_the_day_start() {
    let tz: Tz = "Asia/Tokyo".parse().expect("tz");
    let p = Period::parse("2026-10", tz, NaiveTime::MIN).expect("month");
    assert_eq!(p.from.to_rfc3339(), "2026-09-30T15:00:00+00:00");
    assert_eq!(p.to.to_rfc3339(), "2026-10-31T15:00:00+00:00");
    let six = NaiveTime::from_hms_opt(6, 0, 0).expect("time");
    let p = Period::parse("2026-12", tz, six).expect("month");
    assert_eq!(p.to.to_rfc3339(), "2026-12-31T21:00:00+00:00");
    for bad in ["2026-13", "2026", "26-01", "x-y", "2026-00"] {
        assert!(Period::parse(bad, tz, NaiveTime::MIN).is_err(), "{bad}");
    }
}

#[test]
fn p95_is_the_nearest_rank() {
    let xs: Vec<f64> = (1..=100).map(f64::from).collect();
    assert_eq!(stats(xs), (Some(50.5), Some(95.0)));
    assert_eq!(stats(vec![7.0]), (Some(7.0), Some(7.0)));
    assert_eq!(stats(vec![]), (None, None));
}

#[test]
fn skips_are_told_apart_by_what_the_reader_needs() {
    let closed = |r: &str| skip_reason(SlotOutcome::SkippedClosedDay, Some(r));
    assert_eq!(closed("closed: weekend (Sat)").as_deref(), Some("weekend"));
    assert_eq!(closed("closed: weekend (Sun)").as_deref(), Some("weekend"));
    assert_eq!(
        closed("closed: year-end closure").as_deref(),
        Some("year_end")
    );
    assert_eq!(
        closed("closed: public holiday スポーツの日 (Sports Day)").as_deref(),
        Some("スポーツの日 (Sports Day)")
    );
    assert_eq!(
        closed("closed: closed (2027-05-06); no business day within 31 days").as_deref(),
        Some("closed (2027-05-06)")
    );
    let overlap = "run 842 of `batch-001` is still active (overlap: forbid)";
    assert_eq!(
        skip_reason(SlotOutcome::SkippedOverlap, Some(overlap)),
        None
    );
    assert_eq!(
        skip_reason(SlotOutcome::Held, Some("maintenance")).as_deref(),
        Some("maintenance")
    );
}

#[test]
fn secrets_are_not_shown() {
    assert!(secret("db_password") && secret("API_TOKEN") && !secret("department"));
}

/// The desk's figures as things stood at the period's end, or at `now` for a preliminary
/// report: a request not answered and not yet due is not late, one answered after the end
/// is not answered in the period, and one closed after the end is open at it.
#[test]
fn desk_figures_stand_at_the_periods_end_or_now() {
    use crate::store::{Category, DeskFacts, RequestRow, RequestStatus};
    let tz = chrono_tz::Asia::Tokyo;
    let october = Period::month(2026, 10, tz, NaiveTime::MIN).expect("month");
    let h = |hours: i64| october.from + chrono::Duration::hours(hours);
    let row =
        |id: i64, opened: i64, due: i64, answered: Option<i64>, closed: Option<i64>| RequestRow {
            id,
            opened_at: h(opened),
            opened_by: "sato".to_owned(),
            requester: "山田".to_owned(),
            department: "税務課".to_owned(),
            channel: "phone".to_owned(),
            category: Category::Inquiry,
            text: "件数".to_owned(),
            status: if closed.is_some() {
                RequestStatus::Closed
            } else {
                RequestStatus::Open
            },
            due_at: h(due),
            answered_at: answered.map(h),
            assignee: None,
            escalated_to: None,
            consultation: None,
            closed_at: closed.map(h),
            closed_by: closed.map(|_| "sato".to_owned()),
            result: None,
        };
    let end = 31 * 24;
    let facts = DeskFacts {
        requests: vec![
            // Answered in time, closed after the month: open at its end.
            row(1, 10, 34, Some(11), Some(end + 5)),
            // Due in the month's last hour, answered after it: late at the end.
            row(2, end - 10, end - 1, Some(end + 2), None),
            // Due after the month: neither answered nor late.
            row(3, end - 2, end + 22, None, None),
        ],
        runs: Vec::new(),
    };
    let local = |t: DateTime<Utc>| t.to_rfc3339();
    let at_end = desk::desk(&october, &facts, &local, h(end + 100));
    let t = &at_end.total;
    assert_eq!(
        (t.received, t.answered_in_time, t.late, t.open_at_end),
        (3, 1, 1, 3)
    );
    // Made in the month, 20 hours before its end: request 2 is not due yet.
    let early = desk::desk(&october, &facts, &local, h(end - 20));
    let t = &early.total;
    assert_eq!(
        (t.received, t.answered_in_time, t.late, t.open_at_end),
        (1, 1, 0, 1)
    );
    assert_eq!(
        at_end.by_category.len(),
        4,
        "every category, in the city's order"
    );
    assert_eq!(at_end.by_category[2].name, "inquiry");
}

/// The cover writes the period as a date range in the date style; a fiscal year runs from
/// its first April day to the last day of March, an era change inside it named day by day.
#[test]
fn the_cover_writes_the_period_as_a_date_range() {
    let tz = chrono_tz::Asia::Tokyo;
    let midnight = NaiveTime::MIN;
    let november = Period::month(2026, 11, tz, midnight).expect("month");
    assert_eq!(
        period::range(&november, DateStyle::Era).0,
        "令和8年11月1日〜令和8年11月30日"
    );
    assert_eq!(
        period::range(&november, DateStyle::Western),
        (
            "2026年11月1日〜2026年11月30日".to_owned(),
            "1 November 2026 to 30 November 2026".to_owned()
        )
    );
    let fy2018 = Period::fiscal_year(2018, 4, tz, midnight).expect("year");
    assert_eq!(
        period::range(&fy2018, DateStyle::Both).0,
        "平成30年(2018年)4月1日〜平成31年(2019年)3月31日"
    );
    let may = NaiveDate::from_ymd_opt(2019, 5, 1).expect("day");
    assert_eq!(date_ja(may, DateStyle::Era), "令和元年5月1日");
}

/// An incident's failure class reads as Japanese; one a runbook named itself is an abnormal
/// end, never the English token.
#[test]
fn failure_classes_read_as_japanese() {
    for (class, ja) in [
        ("exit 3", "終了コード 3 で異常終了"),
        ("timeout", "タイムアウト"),
        ("killed by SIGKILL", "強制終了"),
        ("interrupted", "中断"),
        ("missed", "予定の実行なし"),
        ("target down: db", "監視対象「db」が停止"),
        ("disk quota", "異常終了"),
    ] {
        assert_eq!(incidents::class_ja(class), ja, "{class}");
    }
}

/// What unyo wrote itself reads as Japanese in the Japanese report: the shipped
/// `param-change` job's and `params rollback`'s default reasons, a holiday's name; an
/// operator's own words stay as written.
#[test]
fn reasons_unyo_wrote_read_as_japanese() {
    assert_eq!(
        super::changes::reason_ja("scheduled change effective 2026-10-07"),
        "予定変更(2026-10-07 施行)"
    );
    assert_eq!(
        super::changes::reason_ja("rollback of change 2"),
        "変更 2 の切戻し"
    );
    assert_eq!(
        super::changes::reason_ja("rollback of change two"),
        "rollback of change two"
    );
    assert_eq!(super::changes::reason_ja("条例第12号"), "条例第12号");
    assert_eq!(
        super::jobs::holiday_ja("スポーツの日 (Sports Day)"),
        "スポーツの日"
    );
    assert_eq!(super::jobs::holiday_ja("weekend"), "weekend");
}
