//! Rendering a computed report: JSON (the figures as they are), Markdown (Japanese or
//! English, from handlebars templates embedded in the binary). The output depends only on
//! the report, never on the time it is rendered, so the same month renders to the same bytes.

use std::path::Path;

use handlebars::{Context, Handlebars, Helper, Output, RenderContext, RenderError};

use super::Report;

/// The languages a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    Ja,
    En,
}

/// The forms a report is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Html,
    Md,
    Csv,
    Json,
}

const MONTHLY_JA_MD: &str = include_str!("templates/monthly.ja.md.hbs");
const MONTHLY_EN_MD: &str = include_str!("templates/monthly.en.md.hbs");
const MONTHLY_HTML: &str = include_str!("templates/monthly.html.hbs");

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderFailure {
    #[error("report template `{name}`: {message}")]
    Template { name: String, message: String },
}

/// A template: its name, shown in errors (the file's path for an override), and its text.
struct Source {
    shown: String,
    text: std::borrow::Cow<'static, str>,
}

/// The template `file` (one of `REPORT_TEMPLATE_FILES`): from the `report.templates` folder
/// when it holds one, else the shipped one. An override is the city's own form, so one that
/// cannot be read is an error, never a silent fall back to the shipped form.
fn source(
    file: &str,
    shipped: &'static str,
    overrides: Option<&Path>,
) -> Result<Source, RenderFailure> {
    if let Some(path) = overrides.map(|dir| dir.join(file)).filter(|p| p.exists()) {
        let shown = path.display().to_string();
        return match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Source {
                shown,
                text: text.into(),
            }),
            Err(e) => Err(RenderFailure::Template {
                name: shown,
                message: format!("cannot read it: {e}"),
            }),
        };
    }
    Ok(Source {
        shown: file.to_owned(),
        text: shipped.into(),
    })
}

/// Renders a report (monthly or yearly), with the templates of `overrides` (the
/// `report.templates` folder) in place of the shipped ones where it has them.
pub fn report(
    report: &Report,
    lang: Lang,
    format: Format,
    overrides: Option<&Path>,
) -> Result<String, RenderFailure> {
    match format {
        Format::Json => {
            let mut text =
                serde_json::to_string_pretty(report).map_err(|e| RenderFailure::Template {
                    name: "json".to_owned(),
                    message: e.to_string(),
                })?;
            text.push('\n');
            Ok(text)
        }
        Format::Md => {
            let template = match lang {
                Lang::Ja => source("monthly.ja.md.hbs", MONTHLY_JA_MD, overrides)?,
                Lang::En => source("monthly.en.md.hbs", MONTHLY_EN_MD, overrides)?,
            };
            render(registry(lang, false), &template, report).map(|text| single_blank_lines(&text))
        }
        Format::Html => {
            let mut context =
                serde_json::to_value(report).map_err(|e| RenderFailure::Template {
                    name: "html".to_owned(),
                    message: e.to_string(),
                })?;
            context["svg"] = serde_json::json!({
                "daily": super::chart::daily(&report.charts.daily, lang),
                "trend": super::chart::trend(&report.charts, &report.job_titles, lang),
            });
            context["lang"] = serde_json::json!(match lang {
                Lang::Ja => "ja",
                Lang::En => "en",
            });
            let template = source("monthly.html.hbs", MONTHLY_HTML, overrides)?;
            render(registry(lang, true), &template, &context)
        }
        Format::Csv => Ok(csv(report, lang)),
    }
}

fn render(
    mut h: Handlebars<'static>,
    template: &Source,
    context: &impl serde::Serialize,
) -> Result<String, RenderFailure> {
    let name = template.shown.as_str();
    h.register_template_string(name, &template.text)
        .map_err(|e| {
            let at = e.pos().map_or(String::new(), |(l, c)| format!(":{l}:{c}"));
            RenderFailure::Template {
                name: format!("{name}{at}"),
                message: crate::model::template_compile_reason(&e),
            }
        })?;
    h.render(name, context).map_err(|e| {
        let at = e.line_no.map_or(String::new(), |l| {
            format!(":{l}:{}", e.column_no.unwrap_or(0))
        });
        let message = match e.reason() {
            handlebars::RenderErrorReason::MissingVariable(Some(v)) => {
                format!("`{v}` is not a field of the report (`--format json` shows every field)")
            }
            other => other.to_string(),
        };
        RenderFailure::Template {
            name: format!("{name}{at}"),
            message,
        }
    })
}

/// Markdown with at most one blank line in a row: a template's conditional blocks leave
/// their own line breaks behind, which a reader of the plain text should not see.
fn single_blank_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank = 0;
    for line in text.split_inclusive('\n') {
        if line.trim().is_empty() {
            blank += 1;
            if blank > 1 {
                continue;
            }
        } else {
            blank = 0;
        }
        out.push_str(line);
    }
    out
}

/// Escapes text for HTML.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A helper that maps its first parameter (`null` when absent) to text, written escaped
/// for the form (HTML escaped; Markdown as it is).
fn text_helper(
    html: bool,
    f: impl Fn(&serde_json::Value) -> String + Send + Sync + 'static,
) -> Box<dyn handlebars::HelperDef + Send + Sync> {
    Box::new(
        move |helper: &Helper<'_>,
              _: &Handlebars<'_>,
              _: &Context,
              _: &mut RenderContext<'_, '_>,
              out: &mut dyn Output|
              -> Result<(), RenderError> {
            let text = f(helper
                .param(0)
                .map_or(&serde_json::Value::Null, |p| p.value()));
            out.write(&if html { html_escape(&text) } else { text })?;
            Ok(())
        },
    )
}

/// Strict templates and the helpers they use: `t` (a token in the report's language),
/// `cell` (text safe in a table cell: escaped for HTML, or for Markdown), `num` (a number or
/// `-`), `yesno`. HTML templates escape `{{...}}` (a job or incident text never becomes
/// markup); Markdown ones do not.
fn registry(lang: Lang, html: bool) -> Handlebars<'static> {
    use serde_json::Value;
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    if html {
        h.register_escape_fn(html_escape);
    } else {
        h.register_escape_fn(handlebars::no_escape);
    }
    h.register_helper(
        "t",
        text_helper(html, move |v| {
            word(lang, v.as_str().unwrap_or_default()).to_owned()
        }),
    );
    h.register_helper(
        "cell",
        text_helper(html, move |v| {
            let text = match v {
                Value::String(s) => s.clone(),
                Value::Null => "-".to_owned(),
                v => v.to_string(),
            };
            if html {
                text
            } else {
                text.replace('|', "\\|").replace(['\r', '\n'], " ")
            }
        }),
    );
    h.register_helper("jobname", Box::new(JobName { lang, html }));
    h.register_helper("dept", Box::new(DeptName { lang, html }));
    h.register_helper(
        "num",
        text_helper(html, |v| match v {
            Value::Number(n) => n.to_string(),
            _ => "-".to_owned(),
        }),
    );
    h.register_helper(
        "yesno",
        text_helper(html, move |v| match v {
            Value::Bool(b) => word(lang, if *b { "yes" } else { "no" }).to_owned(),
            _ => "-".to_owned(),
        }),
    );
    h
}

/// The `jobname` helper: a job as an official reads it. In Japanese a job with a `title:` is
/// 「title」(name); any other job, and every job in English, by its name. Escaped like `cell`.
struct JobName {
    lang: Lang,
    html: bool,
}

impl handlebars::HelperDef for JobName {
    fn call<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> Result<(), RenderError> {
        let name = match helper.param(0).map(|p| p.value()) {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => "-".to_owned(),
        };
        let title = ctx.data()["job_titles"][name.as_str()].as_str();
        let text = match (self.lang, title) {
            (Lang::Ja, Some(title)) => format!("「{title}」({name})"),
            _ => name,
        };
        out.write(&if self.html {
            html_escape(&text)
        } else {
            text.replace('|', "\\|").replace(['\r', '\n'], " ")
        })?;
        Ok(())
    }
}

/// The `dept` helper: a department as an official reads it. In Japanese a department of
/// `departments:` by its title alone (税務課); any other, and every one in English, by its
/// code; `-` for none. Escaped like `cell`.
struct DeptName {
    lang: Lang,
    html: bool,
}

impl handlebars::HelperDef for DeptName {
    fn call<'reg: 'rc, 'rc>(
        &self,
        helper: &Helper<'rc>,
        _: &'reg Handlebars<'reg>,
        ctx: &'rc Context,
        _: &mut RenderContext<'reg, 'rc>,
        out: &mut dyn Output,
    ) -> Result<(), RenderError> {
        let code = match helper.param(0).map(|p| p.value()) {
            Some(serde_json::Value::String(s)) => s.clone(),
            _ => "-".to_owned(),
        };
        let title = ctx.data()["department_titles"][code.as_str()].as_str();
        let text = match (self.lang, title) {
            (Lang::Ja, Some(title)) => title.to_owned(),
            _ => code,
        };
        out.write(&if self.html {
            html_escape(&text)
        } else {
            text.replace('|', "\\|").replace(['\r', '\n'], " ")
        })?;
        Ok(())
    }
}

/// A department in the report's language: its title in Japanese when it has one, else its
/// code.
fn department(r: &Report, lang: Lang, code: &str) -> String {
    match (lang, r.department_titles.get(code)) {
        (Lang::Ja, Some(title)) => title.clone(),
        _ => code.to_owned(),
    }
}

/// A token of the records (a trigger, a kind of abnormal end, a status) in the report's
/// language; an unknown token as it is.
pub fn word(lang: Lang, token: &str) -> &str {
    let ja = match token {
        "manual" => "手動",
        "schedule" => "スケジュール",
        "submit" => "依頼(随時)",
        "catch_up" => "遅延実行",
        "retry" => "再試行",
        "dependency" => "依存",
        "recovery" => "復旧",
        "rerun" => "再実行",
        "abnormal_exit" => "異常終了",
        "killed" => "強制終了",
        "timed_out" => "タイムアウト",
        "failed_to_start" => "起動失敗",
        "interrupted" => "中断",
        "cancelled" => "取消",
        "succeeded" => "正常終了",
        "failed" => "異常終了",
        "queued" => "待機中",
        "running" => "実行中",
        "open" => "未対応",
        "acknowledged" => "対応中",
        "resolved" => "解決",
        "low" => "低",
        "medium" => "中",
        "high" => "高",
        "critical" => "緊急",
        "complete_by" => "完了期限",
        "success_rate" => "正常終了率",
        "max_duration" => "最大処理時間",
        "yes" => "達成",
        "no" => "未達",
        "summary" => "総括",
        "service_levels" => "サービスレベル",
        "jobs" => "ジョブ別実績",
        "incidents" => "インシデント",
        "adhoc" => "随時依頼",
        "parameter_changes" => "パラメータ変更",
        "permission_changes" => "権限変更",
        "definition_changes" => "定義変更",
        "item" => "項目",
        "value" => "値",
        "job" => "ジョブ",
        "software" => "ソフトウェア",
        "hardware" => "ハードウェア",
        "network" => "ネットワーク",
        "access" => "アクセス",
        "up" => "稼働",
        "down" => "停止",
        "agreed" => "協定値",
        "ok" => "達成件数",
        "total" => "対象件数",
        "rate" => "率(%)",
        "met" => "判定",
        "slots" => "予定",
        "runs" => "実行",
        "missed" => "未実行",
        "late" => "遅延",
        "mean_seconds" => "平均(秒)",
        "p95_seconds" => "95%(秒)",
        "previous_mean_seconds" => "前月平均(秒)",
        "mean_change_percent" => "増減(%)",
        "id" => "番号",
        "opened" => "発生日時",
        "severity" => "重要度",
        "cause" => "原因",
        "countermeasure" => "対応内容",
        "status" => "状態",
        "report_deadline" => "報告期限",
        "in_time" => "期限内",
        "run" => "実行",
        "received" => "受付日時",
        "requester" => "依頼者",
        "parameters" => "パラメータ",
        "reason" => "理由",
        "result" => "結果",
        "rows" => "件数",
        "at" => "日時",
        "key" => "項目",
        "before" => "変更前",
        "after" => "変更後",
        "user" => "実施者",
        "rolled_back" => "切戻し",
        "department" => "部署",
        "granted" => "付与",
        "revoked" => "削除",
        "skipped" => "見送り",
        "first_run" => "新定義での最初の実行",
        "fingerprint" => "定義の指紋",
        "period" => "対象期間",
        "unfinished" => "期間末に未完了",
        "incidents_opened" => "インシデント発生",
        "incidents_resolved" => "インシデント解決",
        "mtta_minutes" => "平均受付時間(分)",
        "mttr_minutes" => "平均解決時間(分)",
        "sla_met" => "SLA 達成",
        "retries" => "再試行",
        "other" => "その他",
        "summary_text" => "事象",
        "scheduled" => "予定件数",
        "weekend" => "土日",
        "year_end" => "年末年始",
        "yes_plain" => "あり",
        "no_plain" => "なし",
        "availability" => "稼働率",
        "first_notice" => "障害通知時間",
        "recovery_time" => "復旧時間",
        "backups" => "定時バックアップ率",
        "reports_in_time" => "報告期限遵守",
        "service" => "サービス全体",
        "unit" => "単位",
        "seconds" => "秒",
        "outages" => "停止",
        "planned_stops" => "計画停止",
        "from" => "開始",
        "to" => "終了",
        "minutes" => "時間(分)",
        "counted_minutes" => "計上(分)",
        "opened_by" => "停止を検知した実行",
        "closed_by" => "復旧を確認した実行",
        "skipped_overlap" => "見送り(前回の実行中)",
        "skipped_window" => "見送り(時間帯外)",
        "skipped_closed_day" => "見送り(休業日)",
        "waiting_window" => "時間帯待ち",
        "held" => "保留",
        "shifted" => "移動",
        "started" => "開始",
        "refused" => "見送り(ジョブ自身の判断、障害ではない)",
        "refused_short" => "見送り",
        "refusals" => "ジョブ自身による見送り",
        "preliminary" => "速報",
        "preliminary_text" => "対象期間の終了前に作成した速報値です。確定値ではありません。",
        "count" => "件数",
        "desk_total" => "合計",
        "empty_table" => "なし",
        "request" => "依頼",
        "consultation" => "相談",
        "inquiry" => "問合せ",
        "fault" => "障害連絡",
        "triaged" => "受付済",
        "assigned" => "担当決定",
        "escalated" => "エスカレーション中",
        "closed" => "完了",
        "in_progress" => "対応中",
        "desk_categories" => "サービスデスク(区分別)",
        "desk_departments" => "サービスデスク(部署別)",
        "desk_consultations" => "市との協議が必要な依頼",
        "category" => "区分",
        "received_count" => "受付件数",
        "answered_in_time" => "期限内回答",
        "answer_late" => "期限超過",
        "open_at_end" => "期末未完了",
        "consultations" => "要協議",
        "request_no" => "依頼番号",
        "submitted_by" => "受付者",
        "text" => "内容",
        _ => super::monitoring::word_ja(token)
            .or_else(|| super::proposals::word_ja(token))
            .unwrap_or(token),
    };
    let en = match token {
        "catch_up" => "catch-up",
        "abnormal_exit" => "abnormal exit",
        "failed_to_start" => "failed to start",
        "timed_out" => "timed out",
        "complete_by" => "complete by",
        "success_rate" => "success rate",
        "max_duration" => "longest run",
        "yes" => "met",
        "no" => "not met",
        "summary_text" => "what happened",
        "scheduled" => "scheduled runs",
        "weekend" => "weekend",
        "year_end" => "year-end closure",
        "yes_plain" => "yes",
        "no_plain" => "no",
        "mean_seconds" => "mean (s)",
        "p95_seconds" => "p95 (s)",
        "previous_mean_seconds" => "previous mean (s)",
        "mean_change_percent" => "change (%)",
        "mtta_minutes" => "mean time to acknowledge (min)",
        "mttr_minutes" => "mean time to resolve (min)",
        "incidents_opened" => "incidents opened",
        "incidents_resolved" => "incidents resolved",
        "sla_met" => "SLA items met",
        "report_deadline" => "report due",
        "in_time" => "in time",
        "first_run" => "first run on the new definition",
        "first_notice" => "first notice of an incident",
        "recovery_time" => "recovery time",
        "backups" => "scheduled backups completed",
        "reports_in_time" => "incident reports in time",
        "service" => "service as a whole",
        "planned_stops" => "planned stops",
        "counted_minutes" => "counted minutes",
        "opened_by" => "run that found it",
        "closed_by" => "run that cleared it",
        "skipped_overlap" => "skipped (still running)",
        "skipped_window" => "skipped (outside its window)",
        "skipped_closed_day" => "skipped (closed day)",
        "waiting_window" => "waiting for its window",
        "refused" => "refused by the job itself (not failures)",
        "refused_short" => "refused",
        "refusals" => "refused by the job itself",
        "preliminary_text" => "made before the period ended: preliminary figures, not final ones",
        "fault" => "fault report",
        "desk_total" => "total",
        "empty_table" => "none",
        "in_progress" => "in progress",
        "desk_categories" => "service desk by category",
        "desk_departments" => "service desk by department",
        "desk_consultations" => "requests needing the city's consultation",
        "received_count" => "received",
        "answered_in_time" => "answered in time",
        "answer_late" => "past the deadline",
        "open_at_end" => "open at the end",
        "consultations" => "consultation needed",
        "request_no" => "request",
        "submitted_by" => "submitted by",
        "text" => "request text",
        _ => super::monitoring::word_en(token)
            .or_else(|| super::proposals::word_en(token))
            .unwrap_or(token),
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}

/// The report's tables as one CSV file for a spreadsheet: UTF-8 with a byte-order mark (so
/// Japanese Excel reads it as UTF-8), CRLF, each table after a line naming it and a header
/// line in the report's language, tables separated by an empty line.
fn csv(r: &Report, lang: Lang) -> String {
    let mut out = String::from("\u{feff}");
    let opt = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let mut table = |title: &str, header: &[&str], rows: Vec<Vec<String>>| {
        if out.len() > 3 {
            out.push_str("\r\n");
        }
        line(&mut out, &[word(lang, title).to_owned()]);
        line(
            &mut out,
            &header
                .iter()
                .map(|h| word(lang, h).to_owned())
                .collect::<Vec<_>>(),
        );
        for row in rows {
            line(&mut out, &row);
        }
    };
    let s = &r.summary;
    let mut summary = Vec::new();
    if r.preliminary {
        summary.push(vec![
            "preliminary".to_owned(),
            word(lang, "preliminary_text").to_owned(),
        ]);
    }
    summary.extend([
        vec!["period".to_owned(), r.period.label.clone()],
        vec!["runs".to_owned(), s.runs.to_string()],
        vec!["succeeded".to_owned(), s.succeeded.to_string()],
        vec!["failed".to_owned(), s.failed.to_string()],
        vec!["interrupted".to_owned(), s.interrupted.to_string()],
        vec!["cancelled".to_owned(), s.cancelled.to_string()],
        vec!["refused".to_owned(), s.refused.to_string()],
        vec!["unfinished".to_owned(), s.unfinished.to_string()],
        vec!["success_rate".to_owned(), opt(s.success_rate)],
        vec!["retries".to_owned(), s.retries.to_string()],
        vec![
            "incidents_opened".to_owned(),
            s.incidents_opened.to_string(),
        ],
        vec![
            "incidents_resolved".to_owned(),
            s.incidents_resolved.to_string(),
        ],
        vec!["mtta_minutes".to_owned(), opt(s.mtta_minutes)],
        vec!["mttr_minutes".to_owned(), opt(s.mttr_minutes)],
        vec![
            "sla_met".to_owned(),
            format!("{}/{}", s.sla_met, s.sla_items),
        ],
    ]);
    for c in s.by_trigger.iter().chain(&s.abnormal_ends) {
        summary.push(vec![c.name.clone(), c.count.to_string()]);
    }
    for row in &mut summary {
        row[0] = word(lang, &row[0]).to_owned();
    }
    table("summary", &["item", "value"], summary);
    if !r.refusals.is_empty() {
        table(
            "refusals",
            &["job", "reason", "count"],
            r.refusals
                .iter()
                .map(|f| vec![f.job.clone(), f.reason.clone(), f.count.to_string()])
                .collect(),
        );
    }
    table(
        "service_levels",
        &["job", "item", "agreed", "ok", "total", "rate", "met"],
        r.sla
            .iter()
            .map(|i| {
                vec![
                    i.job.clone(),
                    word(lang, &i.item).to_owned(),
                    i.agreed.clone(),
                    i.ok.to_string(),
                    i.total.to_string(),
                    opt(i.rate),
                    word(lang, if i.met { "yes" } else { "no" }).to_owned(),
                ]
            })
            .collect(),
    );
    table(
        "service",
        &["item", "agreed", "unit", "ok", "total", "rate", "met"],
        r.service
            .iter()
            .map(|i| {
                vec![
                    word(lang, &i.item).to_owned(),
                    i.agreed.clone(),
                    word(lang, &i.unit).to_owned(),
                    i.ok.to_string(),
                    i.total.to_string(),
                    opt(i.rate),
                    word(lang, if i.met { "yes" } else { "no" }).to_owned(),
                ]
            })
            .collect(),
    );
    let none = || String::new();
    table(
        "outages",
        &[
            "from",
            "to",
            "minutes",
            "counted_minutes",
            "opened_by",
            "closed_by",
        ],
        r.availability
            .iter()
            .flat_map(|a| &a.outages)
            .map(|o| {
                vec![
                    o.from.clone(),
                    o.to.clone().unwrap_or_else(none),
                    o.minutes.to_string(),
                    o.counted_minutes.to_string(),
                    o.opened_by.to_string(),
                    o.closed_by.map_or_else(none, |c| c.to_string()),
                ]
            })
            .collect(),
    );
    table(
        "planned_stops",
        &["job", "run", "from", "to", "status", "minutes"],
        r.availability
            .iter()
            .flat_map(|a| &a.stops)
            .map(|s| {
                vec![
                    s.job.clone(),
                    s.run.to_string(),
                    s.from.clone(),
                    s.to.clone().unwrap_or_else(none),
                    word(lang, &s.status).to_owned(),
                    s.minutes.to_string(),
                ]
            })
            .collect(),
    );
    table(
        "jobs",
        &[
            "job",
            "slots",
            "runs",
            "succeeded",
            "failed",
            "missed",
            "late",
            "mean_seconds",
            "p95_seconds",
            "previous_mean_seconds",
            "mean_change_percent",
        ],
        r.jobs
            .iter()
            .map(|j| {
                vec![
                    j.job.clone(),
                    j.slots.to_string(),
                    j.runs.to_string(),
                    j.succeeded.to_string(),
                    j.failed.to_string(),
                    j.missed.to_string(),
                    j.late.to_string(),
                    opt(j.mean_seconds),
                    opt(j.p95_seconds),
                    opt(j.previous_mean_seconds),
                    opt(j.mean_change_percent),
                ]
            })
            .collect(),
    );
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    table(
        "incidents",
        &[
            "id",
            "opened",
            "severity",
            "job",
            "summary",
            "cause",
            "countermeasure",
            "status",
            "report_deadline",
            "in_time",
        ],
        r.incidents
            .iter()
            .map(|i| {
                vec![
                    i.id.to_string(),
                    i.opened_at.clone(),
                    word(lang, &i.severity).to_owned(),
                    i.job.clone(),
                    match lang {
                        Lang::Ja => i.event_ja.clone(),
                        Lang::En => i.summary.clone(),
                    },
                    text(&i.cause),
                    text(&i.countermeasure),
                    word(lang, &i.status).to_owned(),
                    text(&i.report_deadline),
                    i.deadline_met.map_or(String::new(), |m| {
                        word(lang, if m { "yes" } else { "no" }).to_owned()
                    }),
                ]
            })
            .collect(),
    );
    let desk_rows = |lines: &[super::DeskCount], translate: bool| -> Vec<Vec<String>> {
        lines
            .iter()
            .chain(std::iter::once(&r.desk.total))
            .filter(|_| !r.desk.by_department.is_empty())
            .map(|c| {
                vec![
                    if translate || c.name == "total" {
                        word(
                            lang,
                            if c.name == "total" {
                                "desk_total"
                            } else {
                                &c.name
                            },
                        )
                        .to_owned()
                    } else {
                        department(r, lang, &c.name)
                    },
                    c.received.to_string(),
                    c.answered_in_time.to_string(),
                    c.late.to_string(),
                    c.open_at_end.to_string(),
                    c.consultations.to_string(),
                ]
            })
            .collect()
    };
    let desk_header = [
        "received_count",
        "answered_in_time",
        "answer_late",
        "open_at_end",
        "consultations",
    ];
    let header = |first: &'static str| -> Vec<&'static str> {
        std::iter::once(first).chain(desk_header).collect()
    };
    table(
        "desk_categories",
        &header("category"),
        desk_rows(&r.desk.by_category, true),
    );
    table(
        "desk_departments",
        &header("department"),
        desk_rows(&r.desk.by_department, false),
    );
    table(
        "desk_consultations",
        &["id", "received", "department", "category", "text", "status"],
        r.desk
            .consultations
            .iter()
            .map(|c| {
                vec![
                    c.id.to_string(),
                    c.opened_at.clone(),
                    department(r, lang, &c.department),
                    word(lang, &c.category).to_owned(),
                    c.text.clone(),
                    word(lang, &c.status).to_owned(),
                ]
            })
            .collect(),
    );
    table(
        "adhoc",
        &[
            "run",
            "received",
            "request_no",
            "requester",
            "department",
            "submitted_by",
            "job",
            "parameters",
            "reason",
            "result",
            "rows",
        ],
        r.adhoc
            .iter()
            .map(|a| {
                vec![
                    a.run_id.to_string(),
                    a.at.clone(),
                    a.request.map_or(String::new(), |n| n.to_string()),
                    text(&a.request_requester),
                    a.department
                        .as_deref()
                        .map_or_else(String::new, |d| department(r, lang, d)),
                    a.requester.clone(),
                    a.job.clone(),
                    a.params.clone(),
                    text(&a.reason),
                    word(lang, &a.result).to_owned(),
                    a.rows.map_or(String::new(), |n| n.to_string()),
                ]
            })
            .collect(),
    );
    table(
        "parameter_changes",
        &[
            "id",
            "at",
            "key",
            "before",
            "after",
            "user",
            "reason",
            "rolled_back",
        ],
        r.changes
            .parameters
            .iter()
            .map(|p| {
                vec![
                    p.id.to_string(),
                    p.at.clone(),
                    p.key.clone(),
                    p.before.clone(),
                    p.after.clone(),
                    p.user.clone(),
                    match lang {
                        Lang::Ja => p.reason_ja.clone(),
                        Lang::En => p.reason.clone(),
                    },
                    word(lang, if p.rolled_back { "yes" } else { "no" }).to_owned(),
                ]
            })
            .collect(),
    );
    for (title, header, mut rows) in super::monitoring::csv_tables(&r.monitoring) {
        for row in &mut rows {
            // The kind and the day class, in the report's language.
            for i in [3, 11] {
                if let Some(cell) = row.get_mut(i).filter(|_| title == "monitoring_findings") {
                    *cell = word(lang, cell).to_owned();
                }
            }
        }
        table(title, &header, rows);
    }
    table(
        "permission_changes",
        &["department", "granted", "revoked", "skipped"],
        r.changes
            .permissions
            .iter()
            .map(|p| {
                vec![
                    department(r, lang, &p.department),
                    p.grants.to_string(),
                    p.revokes.to_string(),
                    p.skipped.to_string(),
                ]
            })
            .collect(),
    );
    table(
        "definition_changes",
        &["job", "first_run", "at", "fingerprint"],
        r.changes
            .definitions
            .iter()
            .map(|d| {
                vec![
                    d.job.clone(),
                    d.first_run.to_string(),
                    d.at.clone(),
                    d.digest.clone(),
                ]
            })
            .collect(),
    );
    table(
        "proposals",
        &[
            "number",
            "proposal_kind",
            "subject",
            "evidence",
            "proposed_action",
        ],
        r.proposals
            .iter()
            .map(|p| match lang {
                Lang::Ja => vec![
                    p.number.to_string(),
                    p.kind_ja.clone(),
                    p.subject_ja.clone(),
                    p.evidence_ja.clone(),
                    p.action_ja.clone(),
                ],
                Lang::En => vec![
                    p.number.to_string(),
                    p.kind_en.clone(),
                    p.subject_en.clone(),
                    p.evidence_en.clone(),
                    p.action_en.clone(),
                ],
            })
            .collect(),
    );
    out
}

/// One CSV record, fields quoted as RFC 4180 asks, and guarded against formulas as an
/// extract's are.
fn line(out: &mut String, fields: &[String]) {
    let fields: Vec<String> = fields
        .iter()
        .map(|f| {
            let mut f = f.clone();
            crate::domain::csv::guard_formula(&mut f);
            crate::domain::csv::field(&f).into_owned()
        })
        .collect();
    out.push_str(&fields.join(","));
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_one_blank_line_in_a_row() {
        assert_eq!(
            single_blank_lines("# a\n\n\n\nb\n  \n\nc\n\n"),
            "# a\n\nb\n  \nc\n\n"
        );
        assert_eq!(single_blank_lines("a\nb\n"), "a\nb\n");
    }
}
