//! Rendering a computed report: JSON (the figures as they are), Markdown (Japanese or
//! English, from handlebars templates embedded in the binary). The output depends only on
//! the report, never on the time it is rendered, so the same month renders to the same bytes.

use handlebars::{Context, Handlebars, Helper, Output, RenderContext, RenderError};

use super::Monthly;

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

/// Why a report could not be rendered.
#[derive(Debug, thiserror::Error)]
pub enum RenderFailure {
    #[error("the {0} form of the report is not available yet; use --format md or json")]
    NotYet(&'static str),
    #[error("report template `{name}`: {message}")]
    Template { name: String, message: String },
}

/// Renders the monthly report.
pub fn monthly(report: &Monthly, lang: Lang, format: Format) -> Result<String, RenderFailure> {
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
            let (name, text) = match lang {
                Lang::Ja => ("monthly.ja.md", MONTHLY_JA_MD),
                Lang::En => ("monthly.en.md", MONTHLY_EN_MD),
            };
            let mut h = registry(lang);
            h.register_template_string(name, text)
                .map_err(|e| RenderFailure::Template {
                    name: name.to_owned(),
                    message: e.to_string(),
                })?;
            h.render(name, report).map_err(|e| RenderFailure::Template {
                name: name.to_owned(),
                message: e.to_string(),
            })
        }
        Format::Html => Err(RenderFailure::NotYet("HTML")),
        Format::Csv => Err(RenderFailure::NotYet("CSV")),
    }
}

/// Strict templates, no HTML escaping (Markdown), and the helpers the templates use:
/// `t` (a token in the report's language), `cell` (text safe in a table cell), `num` (a
/// number or `-`), `yesno`.
fn registry(lang: Lang) -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    h.register_escape_fn(handlebars::no_escape);
    h.register_helper(
        "t",
        Box::new(
            move |helper: &Helper<'_>,
                  _: &Handlebars<'_>,
                  _: &Context,
                  _: &mut RenderContext<'_, '_>,
                  out: &mut dyn Output|
                  -> Result<(), RenderError> {
                let token = helper
                    .param(0)
                    .and_then(|p| p.value().as_str())
                    .unwrap_or_default();
                out.write(word(lang, token))?;
                Ok(())
            },
        ),
    );
    h.register_helper(
        "cell",
        Box::new(
            |helper: &Helper<'_>,
             _: &Handlebars<'_>,
             _: &Context,
             _: &mut RenderContext<'_, '_>,
             out: &mut dyn Output|
             -> Result<(), RenderError> {
                let text = match helper.param(0).map(|p| p.value()) {
                    Some(serde_json::Value::String(s)) => s.clone(),
                    Some(serde_json::Value::Null) | None => "-".to_owned(),
                    Some(v) => v.to_string(),
                };
                out.write(&text.replace('|', "\\|").replace(['\r', '\n'], " "))?;
                Ok(())
            },
        ),
    );
    h.register_helper(
        "num",
        Box::new(
            |helper: &Helper<'_>,
             _: &Handlebars<'_>,
             _: &Context,
             _: &mut RenderContext<'_, '_>,
             out: &mut dyn Output|
             -> Result<(), RenderError> {
                let text = match helper.param(0).map(|p| p.value()) {
                    Some(serde_json::Value::Number(n)) => n.to_string(),
                    _ => "-".to_owned(),
                };
                out.write(&text)?;
                Ok(())
            },
        ),
    );
    h.register_helper(
        "yesno",
        Box::new(
            move |helper: &Helper<'_>,
                  _: &Handlebars<'_>,
                  _: &Context,
                  _: &mut RenderContext<'_, '_>,
                  out: &mut dyn Output|
                  -> Result<(), RenderError> {
                let word = match helper.param(0).map(|p| p.value()) {
                    Some(serde_json::Value::Bool(true)) => word(lang, "yes"),
                    Some(serde_json::Value::Bool(false)) => word(lang, "no"),
                    _ => "-",
                };
                out.write(word)?;
                Ok(())
            },
        ),
    );
    h
}

/// A token of the records (a trigger, a kind of abnormal end, a status) in the report's
/// language; an unknown token as it is.
fn word(lang: Lang, token: &str) -> &str {
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
        _ => token,
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
        _ => token,
    };
    match lang {
        Lang::Ja => ja,
        Lang::En => en,
    }
}
