//! The incidents of the period, one line each.

use chrono::{DateTime, Utc};

use super::{IncidentLine, Period};
use crate::store::{IncidentRow, IncidentStatus, ReportFacts};

pub(super) fn incident_lines(
    period: &Period,
    facts: &ReportFacts,
    local: &dyn Fn(DateTime<Utc>) -> String,
) -> Vec<IncidentLine> {
    facts
        .incidents
        .iter()
        .map(|i| {
            // Resolved (with cause and countermeasure) by the deadline; an unresolved one
            // counts as missed once the deadline has passed by the period's end.
            let deadline_met = i.report_deadline.map(|d| match i.resolved_at {
                Some(r) => r <= d,
                None => d >= period.to,
            });
            IncidentLine {
                id: i.id,
                opened_at: local(i.opened_at),
                severity: i.severity.as_str().to_owned(),
                job: i.job.clone(),
                run_id: i.run_id,
                summary: i.summary.clone(),
                event_ja: event_ja(i),
                failure_class: i.failure_class.clone(),
                status: if i.status == IncidentStatus::Resolved
                    && i.resolved_at.is_some_and(|r| r >= period.to)
                {
                    "acknowledged".to_owned()
                } else {
                    i.status.as_str().to_owned()
                },
                occurrences: i.occurrences,
                acknowledged_at: i.acknowledged_at.map(local),
                resolved_at: i.resolved_at.filter(|r| *r < period.to).map(local),
                cause: i.cause.clone(),
                countermeasure: i.countermeasure.clone(),
                report_deadline: i.report_deadline.map(local),
                deadline_met,
            }
        })
        .collect()
}

/// A failure class (`exit 3`, `timeout`, `killed by SIGKILL`, `target down: db`) as a
/// Japanese predicate; a class a runbook named itself is an abnormal end.
pub(super) fn class_ja(class: &str) -> String {
    if let Some(code) = class.strip_prefix("exit ") {
        return format!("終了コード {code} で異常終了");
    }
    if let Some(target) = class.strip_prefix(crate::domain::check::TARGET_DOWN) {
        return format!("監視対象「{target}」が停止");
    }
    if class.starts_with("killed by") {
        return "強制終了".to_owned();
    }
    match class {
        "timeout" => "タイムアウト",
        "interrupted" => "中断",
        "not started" => "起動失敗",
        "no node" => "実行できるノードがなく待機",
        "connection failed" => "接続先のサーバーに接続できず異常終了",
        "host key changed" => "接続先のサーバーの鍵が変わっていたため異常終了",
        crate::runbook::MISSED_CLASS => "予定の実行なし",
        _ => "異常終了",
    }
    .to_owned()
}

/// What happened, in Japanese, from the incident's structured fields.
fn event_ja(i: &IncidentRow) -> String {
    let what = class_ja(&i.failure_class);
    let step = i
        .step
        .as_deref()
        .filter(|s| !s.is_empty())
        .map(|s| format!("のステップ「{s}」"));
    match (i.run_id, step) {
        (Some(run), Some(step)) => format!("実行 {run} {step}が{what}"),
        (Some(run), None) => format!("実行 {run} が{what}"),
        (None, Some(step)) => format!("ジョブ{step}が{what}"),
        (None, None) => what,
    }
}
