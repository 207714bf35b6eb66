//! Notification messages: an [`IncidentNote`] (the incident as one JSON object) rendered into
//! a subject line and a plain-text body by handlebars templates in strict mode.
//!
//! Templates ship in Japanese and English (`templates/{ja,en}/EVENT.{subject,text}.hbs`, built
//! into the binary). A `notify.templates` folder may replace any of them by file name; an
//! override that is missing, unreadable, does not compile or fails to render is logged as a
//! warning and the shipped template is used instead. Rendering never fails and never panics:
//! a message always goes out. This module does not send anything.

use std::collections::BTreeSet;
use std::path::Path;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use handlebars::Handlebars;
use serde::{Deserialize, Serialize};

use crate::domain::severity::Severity;
use crate::model::{Language, NOTIFY_TEMPLATE_FILES, Notify};

/// What happened to the incident that the message tells about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// A new incident.
    Opened,
    /// Nobody acknowledged in time: the next level is notified.
    Escalated,
    /// A new occurrence of an incident that is still open.
    Recurred,
}

impl Event {
    /// `opened`, `escalated` or `recurred`: the first part of the template file names.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::Opened => "opened",
            Event::Escalated => "escalated",
            Event::Recurred => "recurred",
        }
    }
}

/// The incident as templates, webhooks and commands see it (one JSON object). Optional fields
/// are `null` when absent, so templates test them with `{{#if run_id}}`. It reads back from
/// its own JSON, so a caller may keep it (an outbox row) and render or send it later.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IncidentNote {
    pub id: i64,
    /// `low`, `medium`, `high` or `critical`.
    pub severity: Severity,
    pub job: String,
    pub run_id: Option<i64>,
    pub step: Option<String>,
    /// What kind of failure (`exit`, `timeout`, `signal`, `interrupted`, `missed`, `late`, ...).
    pub failure_class: String,
    /// One line saying what happened.
    pub summary: String,
    /// The end of the log; the caller bounds its size.
    pub log_excerpt: String,
    /// RFC 3339, UTC.
    pub opened_at: DateTime<Utc>,
    /// The same instant in the settings' time zone, see [`local_time`].
    pub opened_at_local: String,
    /// `open`, `acknowledged` or `resolved`.
    pub status: String,
    pub occurrences: u32,
    /// The runbook rule that raised the incident.
    pub rule: Option<String>,
    /// When the report on the incident is due, local time.
    pub report_deadline: Option<String>,
    /// The machine that saw the failure.
    pub host: String,
    pub event: Event,
    /// The escalation level (1 = first) this message goes to.
    pub level: u32,
    /// For `escalated`: how long the incident has gone unacknowledged.
    pub unacknowledged_minutes: Option<u64>,
    /// The level (1-based) told next if nobody acknowledges; `None` when this route has no
    /// further level, so the message does not promise one.
    pub next_level: Option<u32>,
}

/// A step waiting for an operator's approval, as its notices see it (one JSON object, like
/// [`IncidentNote`]). A waiting gate is not an incident: it has no severity and no
/// escalation; it is told when the wait begins and once more before its timeout.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApprovalNote {
    /// `approval_waiting` (the wait began) or `approval_reminder` (its timeout is near).
    pub event: String,
    /// True for the reminder.
    pub reminder: bool,
    pub job: String,
    pub run_id: i64,
    pub step: String,
    /// The approval step's `message`.
    pub message: Option<String>,
    /// The run's business date, `YYYY-MM-DD`.
    pub business_date: String,
    /// RFC 3339, UTC.
    pub requested_at: DateTime<Utc>,
    pub requested_at_local: String,
    pub timeout_at: Option<DateTime<Utc>>,
    pub timeout_at_local: Option<String>,
    /// For the reminder: minutes left before the timeout.
    pub minutes_left: Option<u64>,
    /// The commands that decide: `unyo approve RUN STEP`, `unyo reject RUN STEP`.
    pub approve: String,
    pub reject: String,
    pub host: String,
}

/// The events of an approval gate's notices.
pub const APPROVAL_WAITING: &str = "approval_waiting";
pub const APPROVAL_REMINDER: &str = "approval_reminder";

/// An instant as operators read it in the settings' time zone: `2026-11-24 02:31:05 JST`.
pub fn local_time(at: DateTime<Utc>, tz: Tz) -> String {
    at.with_timezone(&tz)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// A rendered notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// One line.
    pub subject: String,
    pub text: String,
}

/// Longest subject line sent; longer ones are cut.
const MAX_SUBJECT_CHARS: usize = 250;

/// The templates of one language, with the overrides of a `notify.templates` folder.
#[derive(Debug)]
pub struct Templates {
    language: Language,
    shipped: Handlebars<'static>,
    custom: Handlebars<'static>,
}

impl Templates {
    /// The shipped templates of a language.
    pub fn shipped(language: Language) -> Templates {
        let mut shipped = registry();
        for (name, text) in shipped_sources(language) {
            if let Err(e) = shipped.register_template_string(name, text) {
                // Shipped templates are tested; if one broke, the plain fallback still goes out.
                tracing::error!(template = name, error = %e, "shipped notification template does not compile");
            }
        }
        Templates {
            language,
            shipped,
            custom: registry(),
        }
    }

    /// The templates `notify:` asks for: the shipped ones of its language, replaced file by
    /// file by its `templates` folder. Problems with the folder are logged as warnings.
    pub fn new(notify: &Notify) -> Templates {
        let mut t = Templates::shipped(notify.language);
        if let Some(dir) = &notify.templates {
            t.load_overrides(dir);
        }
        t
    }

    fn load_overrides(&mut self, dir: &Path) {
        let mut found = BTreeSet::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) => {
                tracing::warn!(folder = %dir.display(), error = %e, "cannot read notification templates; using the shipped ones");
                return;
            }
        };
        for entry in entries.flatten() {
            if let Some(name) = entry.file_name().to_str() {
                found.insert(name.to_owned());
            }
        }
        for file in NOTIFY_TEMPLATE_FILES {
            if !found.contains(file) {
                tracing::debug!(template = file, "no override; using the shipped template");
                continue;
            }
            let path = dir.join(file);
            let name = template_name(file);
            let text = match read_small(&path) {
                Ok(t) => t,
                Err(e) => {
                    tracing::warn!(template = %path.display(), error = %e, "cannot read notification template; using the shipped one");
                    continue;
                }
            };
            if let Err(e) = self.custom.register_template_string(name, text) {
                tracing::warn!(template = %path.display(), error = %e, "notification template does not compile; using the shipped one");
            }
        }
    }

    /// Renders the message for `note.event`. Never fails: an override that cannot render
    /// falls back to the shipped template, and that to a plain built-in text.
    pub fn render(&self, note: &IncidentNote) -> Message {
        let data = self.data(note);
        let event = note.event.as_str();
        let subject = self
            .render_one(&format!("{event}.subject"), &data)
            .unwrap_or_else(|| self.plain_subject(note));
        let text = self
            .render_one(&format!("{event}.text"), &data)
            .unwrap_or_else(|| self.plain_text(note));
        Message {
            subject: one_line(&subject),
            text,
        }
    }

    /// Renders the notice of a waiting approval gate (`approval.subject`, `approval.text`).
    /// Never fails, like [`Templates::render`].
    pub fn render_approval(&self, note: &ApprovalNote) -> Message {
        let mut data = serde_json::to_value(note).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(map) = data.as_object_mut() {
            map.insert("language".into(), self.language.code().into());
        }
        let subject = self
            .render_one("approval.subject", &data)
            .unwrap_or_else(|| {
                format!(
                    "[unyo][{}] {} {} (run {})",
                    note.event, note.job, note.step, note.run_id
                )
            });
        let text = self.render_one("approval.text", &data).unwrap_or_else(|| {
            format!(
                "step {} of job {} (run {}) waits for approval: {}\n",
                note.step, note.job, note.run_id, note.approve
            )
        });
        Message {
            subject: one_line(&subject),
            text,
        }
    }

    fn render_one(&self, name: &str, data: &serde_json::Value) -> Option<String> {
        if self.custom.has_template(name) {
            match self.custom.render(name, data) {
                Ok(s) => return Some(s),
                Err(e) => {
                    tracing::warn!(template = name, error = %e, "notification template does not render; using the shipped one");
                }
            }
        }
        match self.shipped.render(name, data) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::error!(template = name, error = %e, "shipped notification template does not render");
                None
            }
        }
    }

    /// The note with the words of the language added (`severity_label`, `status_label`,
    /// `failure_label`).
    fn data(&self, note: &IncidentNote) -> serde_json::Value {
        let mut data = serde_json::to_value(note).unwrap_or_else(|_| serde_json::json!({}));
        if let Some(map) = data.as_object_mut() {
            let l = self.language;
            map.insert(
                "severity_label".into(),
                severity_label(l, note.severity).into(),
            );
            map.insert("status_label".into(), status_label(l, &note.status).into());
            map.insert(
                "failure_label".into(),
                failure_label(l, &note.failure_class).into(),
            );
            map.insert("language".into(), l.code().into());
        }
        data
    }

    fn plain_subject(&self, note: &IncidentNote) -> String {
        format!(
            "[unyo][{}] {} {} #{}",
            note.severity.as_str(),
            note.job,
            note.event.as_str(),
            note.id
        )
    }

    fn plain_text(&self, note: &IncidentNote) -> String {
        format!(
            "incident #{} ({}), job {}: {}\n{}\n",
            note.id,
            note.event.as_str(),
            note.job,
            note.summary,
            note.log_excerpt
        )
    }
}

fn registry() -> Handlebars<'static> {
    let mut h = Handlebars::new();
    h.set_strict_mode(true);
    // Plain text, not HTML.
    h.register_escape_fn(handlebars::no_escape);
    h
}

/// `opened.subject.hbs` → `opened.subject`.
fn template_name(file: &str) -> &str {
    file.strip_suffix(".hbs").unwrap_or(file)
}

/// Template files are small; a huge one is a mistake, not a template.
fn read_small(path: &Path) -> Result<String, String> {
    const LIMIT: u64 = 64 * 1024;
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > LIMIT {
        return Err(format!(
            "{} bytes; templates are limited to {LIMIT}",
            meta.len()
        ));
    }
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}

fn shipped_sources(language: Language) -> [(&'static str, &'static str); 8] {
    match language {
        Language::Ja => [
            (
                "approval.subject",
                include_str!("templates/ja/approval.subject.hbs"),
            ),
            (
                "approval.text",
                include_str!("templates/ja/approval.text.hbs"),
            ),
            (
                "opened.subject",
                include_str!("templates/ja/opened.subject.hbs"),
            ),
            ("opened.text", include_str!("templates/ja/opened.text.hbs")),
            (
                "escalated.subject",
                include_str!("templates/ja/escalated.subject.hbs"),
            ),
            (
                "escalated.text",
                include_str!("templates/ja/escalated.text.hbs"),
            ),
            (
                "recurred.subject",
                include_str!("templates/ja/recurred.subject.hbs"),
            ),
            (
                "recurred.text",
                include_str!("templates/ja/recurred.text.hbs"),
            ),
        ],
        Language::En => [
            (
                "approval.subject",
                include_str!("templates/en/approval.subject.hbs"),
            ),
            (
                "approval.text",
                include_str!("templates/en/approval.text.hbs"),
            ),
            (
                "opened.subject",
                include_str!("templates/en/opened.subject.hbs"),
            ),
            ("opened.text", include_str!("templates/en/opened.text.hbs")),
            (
                "escalated.subject",
                include_str!("templates/en/escalated.subject.hbs"),
            ),
            (
                "escalated.text",
                include_str!("templates/en/escalated.text.hbs"),
            ),
            (
                "recurred.subject",
                include_str!("templates/en/recurred.subject.hbs"),
            ),
            (
                "recurred.text",
                include_str!("templates/en/recurred.text.hbs"),
            ),
        ],
    }
}

/// Newlines in a subject would break mail headers and chat titles.
fn one_line(s: &str) -> String {
    let joined = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match joined.char_indices().nth(MAX_SUBJECT_CHARS) {
        Some((cut, _)) => format!("{}…", &joined[..cut]),
        None => joined,
    }
}

fn severity_label(l: Language, s: Severity) -> &'static str {
    match (l, s) {
        (Language::Ja, Severity::Low) => "低",
        (Language::Ja, Severity::Medium) => "中",
        (Language::Ja, Severity::High) => "高",
        (Language::Ja, Severity::Critical) => "緊急",
        (Language::En, s) => s.as_str(),
    }
}

fn status_label(l: Language, status: &str) -> String {
    let word = match (l, status) {
        (Language::Ja, "open") => "未対応",
        (Language::Ja, "acknowledged") => "対応中",
        (Language::Ja, "resolved") => "解決済み",
        (_, other) => other,
    };
    word.to_owned()
}

fn failure_label(l: Language, class: &str) -> &'static str {
    match (l, class) {
        (Language::Ja, "exit" | "exit_code" | "failed") => "異常終了",
        (Language::Ja, "timeout") => "タイムアウト",
        (Language::Ja, "signal" | "killed") => "強制終了",
        (Language::Ja, "interrupted") => "中断",
        (Language::Ja, "missed") => "実行漏れ",
        (Language::Ja, "late") => "開始遅延",
        (Language::Ja, "slow") => "処理遅延",
        (Language::Ja, "stuck") => "停止状態",
        (Language::Ja, _) => "異常",
        (Language::En, "exit" | "exit_code" | "failed") => "abnormal end",
        (Language::En, "timeout") => "timeout",
        (Language::En, "signal" | "killed") => "killed by a signal",
        (Language::En, "interrupted") => "interrupted",
        (Language::En, "missed") => "missed run",
        (Language::En, "late") => "late start",
        (Language::En, "slow") => "slow run",
        (Language::En, "stuck") => "stuck run",
        (Language::En, _) => "failure",
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn note(event: Event) -> IncidentNote {
        let opened = Utc
            .with_ymd_and_hms(2026, 11, 23, 17, 31, 5)
            .single()
            .expect("time");
        IncidentNote {
            id: 12,
            severity: Severity::High,
            job: "nightly-backup".into(),
            run_id: Some(345),
            step: Some("dump".into()),
            failure_class: "exit".into(),
            summary: "ステップ dump が終了コード 3 で終了しました".into(),
            log_excerpt: "pg_dump: error: connection refused".into(),
            opened_at: opened,
            opened_at_local: local_time(opened, chrono_tz::Asia::Tokyo),
            status: "open".into(),
            occurrences: 1,
            rule: Some("db-transient#2".into()),
            report_deadline: None,
            host: "ops01".into(),
            event,
            level: 1,
            unacknowledged_minutes: None,
            next_level: Some(2),
        }
    }

    #[test]
    fn japanese_subjects_read_naturally() {
        let t = Templates::shipped(Language::Ja);
        let m = t.render(&note(Event::Opened));
        assert_eq!(
            m.subject,
            "[unyo][重大度: 高] nightly-backup 異常終了 (インシデント #12)"
        );
        assert!(
            m.text
                .starts_with("ジョブ nightly-backup で異常終了が発生しました。"),
            "{}",
            m.text
        );
        assert!(m.text.contains("実行番号: 345\n"), "{}", m.text);
        assert!(m.text.contains("状態: 未対応\n"), "{}", m.text);
        assert!(
            m.text.contains("発生日時: 2026-11-24 02:31:05 JST\n"),
            "{}",
            m.text
        );
        assert!(
            m.text.contains("適用ルール: db-transient#2\n"),
            "{}",
            m.text
        );
        assert!(!m.text.contains("報告期限"), "{}", m.text);

        let mut esc = note(Event::Escalated);
        esc.level = 2;
        esc.unacknowledged_minutes = Some(30);
        let m = t.render(&esc);
        assert_eq!(
            m.subject,
            "[unyo][重大度: 高][エスカレーション: 第2段階] nightly-backup 異常終了 (インシデント #12)"
        );
        assert!(
            m.text.starts_with("インシデント #12 (nightly-backup 異常終了) が 30 分間確認済みになっていないため、第2段階の連絡先に通知しています。\n"),
            "{}",
            m.text
        );

        let mut rec = note(Event::Recurred);
        rec.occurrences = 3;
        let m = t.render(&rec);
        assert_eq!(
            m.subject,
            "[unyo][重大度: 高][再発: 3回目] nightly-backup 異常終了 (インシデント #12)"
        );
    }

    #[test]
    fn english_templates_and_absent_fields() {
        let t = Templates::shipped(Language::En);
        let mut n = note(Event::Opened);
        n.run_id = None;
        n.step = None;
        n.rule = None;
        n.log_excerpt = String::new();
        n.failure_class = "timeout".into();
        let m = t.render(&n);
        assert_eq!(
            m.subject,
            "[unyo][severity: high] nightly-backup: timeout (incident #12)"
        );
        assert!(!m.text.contains("run:"), "{}", m.text);
        assert!(!m.text.contains("step:"), "{}", m.text);
        assert!(!m.text.contains("Log excerpt"), "{}", m.text);
        assert!(
            m.text.contains("  job:          nightly-backup\n"),
            "{}",
            m.text
        );
        for event in [Event::Escalated, Event::Recurred] {
            let m = t.render(&note(event));
            assert!(m.subject.starts_with("[unyo][severity: high]"), "{m:?}");
        }
    }

    /// Regression: a message promised the next contact even when its route has no next
    /// level (an after-hours route of one level).
    #[test]
    fn the_next_contact_is_promised_only_when_there_is_one() {
        let ja = Templates::shipped(Language::Ja);
        let en = Templates::shipped(Language::En);
        for event in [Event::Opened, Event::Escalated, Event::Recurred] {
            let mut n = note(event);
            n.next_level = Some(3);
            let text = ja.render(&n).text;
            assert!(
                text.contains("確認済みにならない場合、第3段階の連絡先にも通知されます。\n"),
                "{text}"
            );
            let text = en.render(&n).text;
            assert!(
                text.contains(
                    "If nobody acknowledges it, the contacts of level 3 are notified next.\n"
                ),
                "{text}"
            );
            n.next_level = None;
            let text = ja.render(&n).text;
            assert!(!text.contains("確認済みにならない場合"), "{text}");
            assert!(
                text.ends_with("にしてください。\n--\nunyo 運用ジョブ管理\n"),
                "{text}"
            );
            let text = en.render(&n).text;
            assert!(!text.contains("notified next"), "{text}");
            assert!(
                text.ends_with("acknowledge the incident.\n--\nunyo operations runner\n"),
                "{text}"
            );
        }
    }

    #[test]
    fn every_shipped_template_renders_in_both_languages() {
        for lang in [Language::Ja, Language::En] {
            let t = Templates::shipped(lang);
            for event in [Event::Opened, Event::Escalated, Event::Recurred] {
                let data = t.data(&note(event));
                for part in ["subject", "text"] {
                    let name = format!("{}.{part}", event.as_str());
                    assert!(t.shipped.has_template(&name), "{name}");
                    t.shipped
                        .render(&name, &data)
                        .unwrap_or_else(|e| panic!("{lang:?} {name}: {e}"));
                }
            }
        }
    }

    #[test]
    fn overrides_replace_by_file_name_and_fall_back_when_broken() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("opened.subject.hbs"),
            "障害 {{job}} #{{id}}\n",
        )
        .expect("write");
        // Reads a field that does not exist: strict mode refuses it at render time.
        std::fs::write(dir.path().join("opened.text.hbs"), "{{no_such_field}}").expect("write");
        // Does not compile.
        std::fs::write(dir.path().join("recurred.subject.hbs"), "{{#if}}").expect("write");
        let mut t = Templates::shipped(Language::Ja);
        t.load_overrides(dir.path());
        let m = t.render(&note(Event::Opened));
        assert_eq!(m.subject, "障害 nightly-backup #12");
        assert!(m.text.starts_with("ジョブ nightly-backup で"), "{}", m.text);
        let m = t.render(&note(Event::Recurred));
        assert!(m.subject.starts_with("[unyo][重大度: 高][再発"), "{m:?}");

        // A folder that is gone leaves the shipped templates.
        let mut t = Templates::shipped(Language::En);
        t.load_overrides(&dir.path().join("missing"));
        assert!(
            t.render(&note(Event::Opened))
                .subject
                .starts_with("[unyo][severity")
        );
    }

    #[test]
    fn subjects_are_one_bounded_line() {
        assert_eq!(one_line(" a\n b \r\n c "), "a b c");
        let long = "長".repeat(400);
        let cut = one_line(&long);
        assert_eq!(cut.chars().count(), MAX_SUBJECT_CHARS + 1);
    }

    #[test]
    fn note_serializes_as_one_object_with_nulls() {
        let v = serde_json::to_value(note(Event::Opened)).expect("json");
        assert_eq!(v["severity"], "high");
        assert_eq!(v["event"], "opened");
        assert_eq!(v["opened_at"], "2026-11-23T17:31:05Z");
        assert!(v["report_deadline"].is_null());
        assert_eq!(v["run_id"], 345);
        let back: IncidentNote = serde_json::from_value(v.clone()).expect("reads back");
        assert_eq!(serde_json::to_value(&back).expect("json"), v);
        assert_eq!(back.severity, Severity::High);
    }
}
