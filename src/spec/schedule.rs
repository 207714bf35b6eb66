//! Raw schedule files (`schedules/*.yaml`): calendars, windows and the schedule entries that
//! bind jobs to time.

use indexmap::IndexMap;
use serde::Deserialize;
use serde_saphyr::Spanned;

use std::sync::LazyLock;

use super::keys::{Child, Shape, fields_of};
use super::{FileSpec, Scalar, leaf};

static CALENDAR: LazyLock<Shape> = LazyLock::new(leaf::<CalendarSpec>);
static WINDOW: LazyLock<Shape> = LazyLock::new(leaf::<WindowSpec>);
static MISFIRE: LazyLock<Shape> = LazyLock::new(leaf::<MisfireSpec>);
static MISSED: LazyLock<Shape> = LazyLock::new(leaf::<MissedSpec>);
static SCHEDULE: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<ScheduleSpec>(),
    children: vec![
        ("misfire", Child::Struct(&MISFIRE)),
        ("missed", Child::Struct(&MISSED)),
    ],
});
static FILE: LazyLock<Shape> = LazyLock::new(|| Shape {
    fields: fields_of::<ScheduleFileSpec>(),
    children: vec![
        ("calendars", Child::MapOf(&CALENDAR)),
        ("windows", Child::MapOf(&WINDOW)),
        ("schedules", Child::SeqOf(&SCHEDULE)),
    ],
});

impl FileSpec for ScheduleFileSpec {
    fn shape() -> &'static Shape {
        &FILE
    }
}

/// One schedule file; every section is optional and files are merged.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleFileSpec {
    #[serde(default)]
    pub calendars: IndexMap<String, Spanned<CalendarSpec>>,
    #[serde(default)]
    pub windows: IndexMap<String, Spanned<WindowSpec>>,
    #[serde(default)]
    pub schedules: Vec<Spanned<ScheduleSpec>>,
}

/// Days of the week.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekdaySpec {
    Mon,
    Tue,
    Wed,
    Thu,
    Fri,
    Sat,
    Sun,
}

/// Which public holidays close the calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HolidaySet {
    Japan,
    None,
}

/// A business-day calendar.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    pub description: Option<String>,
    pub weekends: Option<Vec<WeekdaySpec>>,
    pub holidays: Option<HolidaySet>,
    /// Closed days: `MM-DD`, `MM-DD..MM-DD` (every year), `YYYY-MM-DD` or a dated range.
    #[serde(default)]
    pub closed: Vec<Spanned<String>>,
    /// Extra open days (`YYYY-MM-DD`), overriding everything else.
    #[serde(default)]
    pub open: Vec<Spanned<String>>,
}

/// A named span of clock time; may cross midnight.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    pub description: Option<String>,
    pub from: Spanned<String>,
    pub to: Spanned<String>,
}

/// What a slot on a closed day does. The default is `skip` when the schedule names a
/// calendar (and `run`, which never asks a calendar, when it names none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClosedDay {
    /// Run anyway.
    Run,
    Skip,
    NextBusinessDay,
    PreviousBusinessDay,
}

/// What happens to slots missed while the daemon was down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum MisfirePolicy {
    #[default]
    Skip,
    RunOnce,
    RunAll,
}

/// Misfire handling.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MisfireSpec {
    pub policy: MisfirePolicy,
    pub within: Option<Spanned<String>>,
    pub max: Option<u32>,
}

/// What a missed slot (the daemon was down, or the misfire policy skipped it) does besides
/// its slot row: open an incident of `severity` (default: `incidents.severity` of
/// `unyo.yaml`), or, with `incident: false`, nothing more.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MissedSpec {
    pub severity: Option<super::Severity>,
    pub incident: Option<bool>,
}

/// What a slot does while the job's previous run still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Overlap {
    #[default]
    Forbid,
    Queue,
    Allow,
    Replace,
}

/// One schedule entry.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    pub name: Option<Spanned<String>>,
    pub description: Option<String>,
    pub job: Spanned<String>,
    pub cron: Spanned<String>,
    pub timezone: Option<Spanned<String>>,
    pub calendar: Option<Spanned<String>>,
    pub closed_day: Option<ClosedDay>,
    /// Only the slots on this business day: `1`..`23` of the month, `-1` (last) .. `-23`,
    /// `first`, `last`, `first_of_fiscal_year`, `last_of_fiscal_year`.
    pub business_day: Option<Spanned<Scalar>>,
    pub misfire: Option<MisfireSpec>,
    /// What a missed slot does.
    pub missed: Option<Spanned<MissedSpec>>,
    pub overlap: Option<Overlap>,
    #[serde(default)]
    pub params: IndexMap<String, Spanned<Scalar>>,
}
