//! What a report holds, every figure as it is shown: the period, the summary, the job lines,
//! SLA and service items, incidents, refusals, ad-hoc runs, changes, the next period's plan and
//! the charts' data. The renderers read these and nothing else.

use serde::Serialize;

use super::{Availability, ServiceItem};

/// A report (of a month or of a fiscal year), every figure as it is shown.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    /// The cover: the contract, the period as a date range, the author and approver lines.
    pub cover: Cover,
    /// The display name (`title:`) of each job that has one, by job name: the Japanese
    /// report shows such a job as 「title」(name).
    pub job_titles: std::collections::BTreeMap<String, String>,
    /// The title of each department of `departments:` in unyo.yaml, by code: the Japanese
    /// report shows a department by its title (税務課, not `tax`).
    pub department_titles: std::collections::BTreeMap<String, String>,
    /// The period had not ended when the report was computed: its figures are preliminary
    /// (速報) and will change; such a report cannot be frozen.
    pub preliminary: bool,
    pub period: PeriodInfo,
    pub summary: Summary,
    pub jobs: Vec<JobLine>,
    pub sla: Vec<SlaItem>,
    /// The service-level items of `service:` (empty without it).
    pub service: Vec<ServiceItem>,
    /// The planned service time, its outages and planned stops (with `service.availability`).
    pub availability: Option<Availability>,
    pub incidents: Vec<IncidentLine>,
    /// What the monitoring found: lateness, stuck steps, slowdowns, and the trends.
    pub monitoring: super::Monitoring,
    /// Runs that refused by themselves (a step's `refuse_exit`), by job and reason: not
    /// failures, not successes.
    pub refusals: Vec<RefusalLine>,
    /// The service desk's requests (サービスデスク): by category and department, answered
    /// in time, open at the period's end, consultations needed.
    pub desk: Desk,
    pub adhoc: Vec<AdhocLine>,
    pub changes: Changes,
    pub plan: Plan,
    pub charts: Charts,
    /// When the service desk takes calls (`notify.desk_hours`), stated with the service
    /// levels; `None` without `notify:`.
    pub desk_hours: Option<DeskHoursLine>,
    /// Health checks by target kind and target (稼働監視の状況); `None` when no target was
    /// ever checked (then the report has no such section, and its JSON no such key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checks: Option<super::checks::Checks>,
    /// Improvement proposals (改善提案) drawn from the records of the months looked back
    /// over, each with its evidence and the suggested action.
    pub proposals: Vec<super::ProposalLine>,
}

/// The report's cover (表紙): what the city signs.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cover {
    /// `report.contract` (the contract's name and number); `None` when not set.
    pub contract: Option<String>,
    /// The period's first to last day in the date style: `令和8年10月1日〜令和8年10月31日`.
    pub range_ja: String,
    /// `1 October 2026 to 31 October 2026`.
    pub range_en: String,
    /// When the period ends, in the date style and the configured zone, for the Japanese
    /// preliminary banner: `令和8年(2026年)11月1日 00:00`.
    pub ends_ja: String,
    /// `report.author` and `report.approver`: printed on their lines, else the lines are
    /// left blank to be signed; their date lines are always blank.
    pub author: Option<String>,
    pub approver: Option<String>,
}

/// The desk hours as the report states them.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DeskHoursLine {
    pub from: String,
    pub to: String,
    /// The calendar whose business days are desk days; `None`: Monday to Friday.
    pub calendar: Option<String>,
}

/// What the charts of the HTML form draw.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Charts {
    /// Every operating day of the period with its runs by outcome.
    pub daily: Vec<DayRuns>,
    /// The slowest jobs (by mean duration, at most [`TREND_JOBS`]): each day's mean duration.
    pub trend: Vec<Trend>,
}

/// How many of the slowest jobs the duration chart follows.
pub const TREND_JOBS: usize = 3;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DayRuns {
    pub date: String,
    pub succeeded: u64,
    pub failed: u64,
    /// Cancelled, interrupted, unfinished.
    pub other: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Trend {
    pub job: String,
    /// Per operating day with runs that ended: the day and the mean duration in seconds.
    pub points: Vec<(String, f64)>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PeriodInfo {
    /// `monthly` or `yearly`.
    pub kind: String,
    /// `2026-10`, `FY2026`.
    pub label: String,
    /// `令和8年(2026年)10月分`.
    pub label_ja: String,
    /// `October 2026`.
    pub label_en: String,
    pub from: String,
    pub to: String,
    pub timezone: String,
    /// When an operating day begins (`00:00`, `06:00`).
    pub day_start: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Summary {
    pub runs: u64,
    /// Trigger token and runs, in the order of `Trigger::ALL`, those with none left out.
    pub by_trigger: Vec<Count>,
    pub succeeded: u64,
    pub failed: u64,
    pub cancelled: u64,
    pub interrupted: u64,
    /// Declined by themselves (`refuse_exit`): neither failures nor successes.
    pub refused: u64,
    /// Queued or running when the period ended.
    pub unfinished: u64,
    /// Succeeded of the ended runs that did not refuse, percent with two decimals; `None`
    /// without such runs.
    pub success_rate: Option<f64>,
    /// Attempts after the first.
    pub retries: u64,
    /// Attempts that ended abnormally, by kind.
    pub abnormal_ends: Vec<Count>,
    pub incidents_opened: u64,
    pub incidents_resolved: u64,
    /// Mean time from opening to acknowledgement (or resolution, when that came first), in
    /// minutes, over the incidents opened in the period that were acknowledged.
    pub mtta_minutes: Option<f64>,
    /// Mean time from opening to resolution, in minutes.
    pub mttr_minutes: Option<f64>,
    pub sla_items: u64,
    pub sla_met: u64,
}

/// Slots of a job skipped for one reason: the outcome token (`skipped_closed_day`,
/// `skipped_overlap`, `skipped_window`, `held`) and, for a closed day, its kind (`weekend`,
/// `year_end`, a holiday's name, a closed rule) or, for a hold, the operator's reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Skip {
    pub outcome: String,
    pub reason: Option<String>,
    /// The same for the Japanese report: a holiday by its Japanese name only (`スポーツの日`
    /// where `reason` is `スポーツの日 (Sports Day)`); other reasons as `reason`.
    pub reason_ja: Option<String>,
    pub count: u64,
}

/// Runs of a job that refused for one reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct RefusalLine {
    pub job: String,
    pub reason: String,
    pub count: u64,
}

/// A name and how many.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Count {
    pub name: String,
    pub count: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct JobLine {
    pub job: String,
    pub slots: u64,
    pub runs: u64,
    pub succeeded: u64,
    pub failed: u64,
    /// Slots recorded `missed`.
    pub missed: u64,
    /// Slots skipped, by outcome (and, for closed days and holds, why).
    pub skipped: Vec<Skip>,
    /// Scheduled runs that had not succeeded by the job's `complete_by`.
    pub late: u64,
    pub mean_seconds: Option<f64>,
    pub p95_seconds: Option<f64>,
    pub previous_mean_seconds: Option<f64>,
    pub previous_p95_seconds: Option<f64>,
    /// Change of the mean against the previous month, percent.
    pub mean_change_percent: Option<f64>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SlaItem {
    pub job: String,
    /// `complete_by`, `success_rate` or `max_duration`.
    pub item: String,
    pub agreed: String,
    /// Runs that kept the promise, of `total` it applies to (`complete_by`: scheduled runs;
    /// `success_rate`: ended runs; `max_duration`: runs).
    pub ok: u64,
    pub total: u64,
    /// `success_rate`: the measured percentage.
    pub rate: Option<f64>,
    pub met: bool,
    /// The runs that broke it, at most [`EVIDENCE`]; `more` says how many are left out.
    pub breaches: Vec<Breach>,
    pub more: u64,
}

/// A run that broke an SLA item: its day, its id, how it ended (status, and the local end
/// time for a late success) and how long it took. A slot that was missed (no run at all)
/// breaks `complete_by` too: it has no run and the status `missed`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Breach {
    pub date: String,
    pub run: Option<i64>,
    pub status: String,
    pub ended: Option<String>,
    pub took: Option<String>,
}

/// How many breaches an SLA item lists by name.
pub const EVIDENCE: usize = 20;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IncidentLine {
    pub id: i64,
    pub opened_at: String,
    pub severity: String,
    pub job: String,
    pub run_id: Option<i64>,
    pub summary: String,
    /// What happened in Japanese, written from the incident's run, step and failure class
    /// (the summary unyo wrote is English): `実行 3 のステップ「load」が終了コード 3 で異常終了`.
    pub event_ja: String,
    pub failure_class: String,
    pub status: String,
    pub occurrences: i64,
    pub acknowledged_at: Option<String>,
    pub resolved_at: Option<String>,
    pub cause: Option<String>,
    pub countermeasure: Option<String>,
    pub report_deadline: Option<String>,
    /// Resolved (its report in) by the deadline; `None` without a deadline.
    pub deadline_met: Option<bool>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdhocLine {
    pub run_id: i64,
    pub at: String,
    pub requester: String,
    pub job: String,
    /// `name=value` pairs, secrets shown as `***`.
    pub params: String,
    pub reason: Option<String>,
    pub result: String,
    /// Rows of the extract the run wrote, if it wrote one.
    pub rows: Option<i64>,
    /// The service-desk request the run serves (`submit --request`, `desk link`), its
    /// requester and department.
    pub request: Option<i64>,
    pub request_requester: Option<String>,
    pub department: Option<String>,
}

/// The service desk in the period, every request counted as it stood at the period's end.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Desk {
    /// One line per category (request, consultation, inquiry, fault), always all four.
    pub by_category: Vec<DeskCount>,
    /// One line per department with a request, by name.
    pub by_department: Vec<DeskCount>,
    pub total: DeskCount,
    /// The requests that need the city's consultation, by number.
    pub consultations: Vec<ConsultationLine>,
}

/// Requests of one category or department.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct DeskCount {
    /// The category's token, or the department's name.
    pub name: String,
    /// Opened in the period.
    pub received: u64,
    /// Of those, answered (triaged or closed) by their due time, within the period.
    pub answered_in_time: u64,
    /// Of those, answered after their due time, or not answered and past it at the end.
    pub late: u64,
    /// Not closed at the period's end (opened in it or before).
    pub open_at_end: u64,
    /// Marked as needing the city's consultation.
    pub consultations: u64,
}

/// A request that needs the city's consultation.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ConsultationLine {
    pub id: i64,
    pub opened_at: String,
    pub department: String,
    /// The category's token.
    pub category: String,
    pub text: String,
    /// Its state at the period's end, as a token.
    pub status: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Changes {
    pub parameters: Vec<ParamLine>,
    /// Grants and revokes applied, by department.
    pub permissions: Vec<PermissionLine>,
    /// Jobs whose definition file changed during the month: the first run on the new file.
    pub definitions: Vec<DefinitionLine>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ParamLine {
    pub id: i64,
    pub at: String,
    pub key: String,
    pub before: String,
    pub after: String,
    pub user: String,
    pub reason: String,
    /// The same for the Japanese report: a reason unyo wrote itself in Japanese
    /// (`予定変更(2026-10-07 施行)` for `scheduled change effective 2026-10-07`, `変更 2 の
    /// 切戻し` for `rollback of change 2`); an operator's reason as written.
    pub reason_ja: String,
    pub rolled_back: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PermissionLine {
    pub department: String,
    pub grants: u64,
    pub revokes: u64,
    pub skipped: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct DefinitionLine {
    pub job: String,
    pub first_run: i64,
    pub at: String,
    pub digest: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct Plan {
    /// The period planned: the next month, or the next fiscal year.
    pub period: String,
    /// Scheduled runs by job.
    pub jobs: Vec<Count>,
    /// Jobs that run at most twice in the month, each run with its day.
    pub events: Vec<PlanEvent>,
    /// Closed days of each calendar, with the reason.
    pub closed_days: Vec<PlanEvent>,
    /// The yearly report's draft of the coming fiscal year's work plan (次年度作業計画(案));
    /// `None` in a monthly report (then its JSON has no such key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub draft: Option<Draft>,
}

/// The draft of the coming fiscal year's work plan: when the year rolls over, each schedule
/// with its calendar and what the closed days do to it, and the open improvement proposals.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct Draft {
    /// The coming fiscal year's first day (年度切替日), `2027-04-01`.
    pub rollover: String,
    /// The same in the report's date style: `令和9年(2027年)4月1日`.
    pub rollover_ja: String,
    /// The coming fiscal year in the date style: `令和9年度(2027年度)`.
    pub year_ja: String,
    /// Every schedule of the definitions, in their order, with its year.
    pub schedules: Vec<PlanSchedule>,
    /// Some slot of some schedule is moved, skipped or waits.
    pub any_shifts: bool,
    /// The year's improvement proposals (the report's own section), carried into the
    /// plan (`report::proposals::add` fills them); the report says なし / none while there
    /// are none.
    pub proposals: Vec<PlanProposal>,
}

/// One schedule over the coming fiscal year, counted as `unyo next` forecasts it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
pub struct PlanSchedule {
    pub schedule: String,
    pub job: String,
    /// The schedule's calendar; `None`: every day is a day to run.
    pub calendar: Option<String>,
    /// What a closed day does to a slot, as a token: `run`, `skip`, `next_business_day`,
    /// `previous_business_day`; `every_day` without a calendar.
    pub closed_day: String,
    /// Which days it runs and what a closed day does, for reading: `休業日は翌営業日に移動`,
    /// `各月の第1営業日`.
    pub days_rule_ja: String,
    pub days_rule_en: String,
    /// Slots that will run (on time, moved, or waiting for their window).
    pub runs: u64,
    /// Of those, slots moved off a closed day.
    pub moved: u64,
    /// Slots that will not run (a closed day, or outside the job's window).
    pub skipped: u64,
    /// Days with at least one run.
    pub days: u64,
    /// The times of day the runs start: `08:00`, or `30分ごと(00:00〜23:30)`.
    pub times_ja: String,
    pub times_en: String,
    /// The first and the last run (`YYYY-MM-DD HH:MM`, local).
    pub first: Option<String>,
    pub last: Option<String>,
    /// Every slot not run at its fire time, as `unyo next` says it.
    pub shifts: Vec<PlanShift>,
    /// The same grouped by decision and reason, for reading.
    pub shift_groups: Vec<ShiftGroup>,
}

/// A slot moved, skipped or waiting for its window.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanShift {
    /// The fire time and when it is due (`YYYY-MM-DD HH:MM`, local).
    pub fire: String,
    pub due: String,
    /// `moved`, `skipped` or `waits`, as `unyo next` says it.
    pub decision: String,
    /// Why, as `unyo next` says it.
    pub reason: String,
    /// Why, in Japanese: the closed day by its Japanese name.
    pub reason_ja: String,
}

/// Slots of one schedule with the same decision and reason.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ShiftGroup {
    pub decision: String,
    pub reason: String,
    pub reason_ja: String,
    pub count: u64,
    /// The days (`MM-DD`, or `MM-DD→MM-DD` for a move); empty for skipped weekends, which
    /// the reason says in full.
    pub dates: Vec<String>,
}

/// An open improvement proposal as the plan carries it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanProposal {
    /// The proposal's kind, as a token.
    pub kind: String,
    pub title: String,
    pub title_ja: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PlanEvent {
    pub date: String,
    pub what: String,
    /// The same in Japanese: a closed day by its Japanese name (`文化の日(祝日、カレンダー
    /// city)`); a job's run by the job's name, which the report shows by its title.
    pub what_ja: String,
}
