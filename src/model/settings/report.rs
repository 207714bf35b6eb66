//! `report:` of `unyo.yaml`: the folder of replacement report templates and the date style.

use std::path::PathBuf;

use crate::spec::diag;

/// How a Japanese report writes the year of its period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DateStyle {
    /// `令和8年10月分`.
    Era,
    /// `2026年10月分`.
    Western,
    /// `令和8年(2026年)10月分`.
    #[default]
    Both,
}

impl DateStyle {
    const NAMES: [&str; 3] = ["era", "western", "both"];

    pub(super) fn parse(text: &str) -> Result<DateStyle, String> {
        match text.trim() {
            "era" => Ok(DateStyle::Era),
            "western" => Ok(DateStyle::Western),
            "both" => Ok(DateStyle::Both),
            other => Err(format!(
                "unknown date style `{other}`{}; expected `era`, `western` or `both`",
                diag::hint(other, DateStyle::NAMES)
            )),
        }
    }
}

/// The files a `report.templates` folder may hold; each one present replaces the shipped
/// report template of the same name.
pub const REPORT_TEMPLATE_FILES: [&str; 3] =
    ["monthly.ja.md.hbs", "monthly.en.md.hbs", "monthly.html.hbs"];

/// `report:` of `unyo.yaml`, validated.
#[derive(Debug, Clone, Default)]
pub struct ReportSettings {
    /// A folder (absolute) whose templates replace the shipped ones, file by file.
    pub templates: Option<PathBuf>,
    pub date_style: DateStyle,
    /// The cover's contract (`report.contract`), author and approver; each one line.
    pub contract: Option<String>,
    pub author: Option<String>,
    pub approver: Option<String>,
}

/// A line of the report's cover (`report.contract`, `.author`, `.approver`): one line, not
/// blank.
pub(super) fn cover_line(key: &str, text: &str) -> Result<String, String> {
    let text = text.trim();
    if text.is_empty() {
        Err(format!("`report.{key}` is empty (leave it out instead)"))
    } else if text.contains(['\n', '\r']) {
        Err(format!("`report.{key}` must be one line"))
    } else {
        Ok(text.to_owned())
    }
}
