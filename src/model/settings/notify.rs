//! `notify:` of `unyo.yaml`: language and templates, desk hours, `wake`, and the routes
//! (`desk`, `emergency`, `after_hours`) as levels of channels; and who hears nothing
//! ([`Settings::unheard`]).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::NaiveTime;
use indexmap::IndexMap;
use serde_saphyr::Spanned;

use super::channel::{Channel, channel};
use super::{Settings, check_template_folder};
use crate::model::values::{parse_clock, parse_duration};
use crate::spec::{Diagnostic, Diagnostics, LevelSpec, NotifySpec, Severity, diag};

impl Settings {
    /// Who hears nothing: one line per gap in `notify:` (none at all, or a route left empty),
    /// naming the severities and the hours whose incidents reach nobody. `unyo validate` and
    /// the daemon's start print them as warnings; they are not errors, since a set-up may
    /// mean it.
    pub fn unheard(&self) -> Vec<String> {
        let place = match &self.file {
            Some(f) => f
                .strip_prefix(&self.root)
                .unwrap_or(f)
                .display()
                .to_string(),
            None => "unyo.yaml".to_owned(),
        };
        let Some(n) = &self.notify else {
            return vec![format!(
                "{place}: no `notify:`, so incidents reach nobody: failed runs and missed slots \
                 are only recorded, and waiting approvals are not announced"
            )];
        };
        let hours = format!(
            "{}–{} {}",
            n.desk_hours.from.format("%H:%M"),
            n.desk_hours.to.format("%H:%M"),
            match &n.desk_hours.calendar {
                Some(c) => format!("on the business days of calendar `{}`", c.value),
                None => "Monday to Friday".to_owned(),
            }
        );
        let words = |list: Vec<Severity>| -> String {
            let names: Vec<&str> = list.iter().map(|s| s.as_str()).collect();
            match names.split_last() {
                Some((last, [])) => (*last).to_owned(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            }
        };
        let woken: Vec<Severity> = Severity::ALL
            .iter()
            .copied()
            .filter(|s| *s >= n.wake)
            .collect();
        let not_woken: Vec<Severity> = Severity::ALL
            .iter()
            .copied()
            .filter(|s| *s < n.wake)
            .collect();
        let mut out = Vec::new();
        if n.desk.is_empty() {
            out.push(format!(
                "{place}: `notify.desk` is empty, so incidents of every severity opened in desk \
                 hours ({hours}) reach nobody, and waiting approvals are not announced"
            ));
        }
        if n.emergency.is_empty() {
            out.push(format!(
                "{place}: `notify.emergency` is empty, so incidents of severity {} opened out \
                 of desk hours ({hours}) reach nobody",
                words(woken)
            ));
        }
        if n.after_hours.is_empty() && !not_woken.is_empty() {
            out.push(format!(
                "{place}: `notify.after_hours` is empty, so incidents of severity {} opened \
                 out of desk hours ({hours}) reach nobody",
                words(not_woken)
            ));
        }
        out
    }
}

/// The language of the shipped notification templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Language {
    #[default]
    Ja,
    En,
}

impl Language {
    /// `ja` or `en`, as written in `unyo.yaml`.
    pub fn code(self) -> &'static str {
        match self {
            Language::Ja => "ja",
            Language::En => "en",
        }
    }
}

/// The files a `notify.templates` folder may hold; each one present replaces the shipped
/// template of the same name in the configured language.
pub const NOTIFY_TEMPLATE_FILES: [&str; 8] = [
    "approval.subject.hbs",
    "approval.text.hbs",
    "opened.subject.hbs",
    "opened.text.hbs",
    "escalated.subject.hbs",
    "escalated.text.hbs",
    "recurred.subject.hbs",
    "recurred.text.hbs",
];

/// How incidents reach people: `notify:` of `unyo.yaml`, validated. Every channel named by a
/// level exists, and every route has at least one level.
#[derive(Debug, Clone)]
pub struct Notify {
    pub language: Language,
    /// A folder (absolute) whose templates replace the shipped ones.
    pub templates: Option<PathBuf>,
    pub desk_hours: DeskHours,
    /// Out of desk hours, incidents of this severity and above take the `emergency` route.
    pub wake: Severity,
    /// Channels by name, in the order written.
    pub channels: IndexMap<String, Channel>,
    /// The route in desk hours.
    pub desk: Vec<Level>,
    /// The route out of desk hours for severity `wake` and above (default: `desk`).
    pub emergency: Vec<Level>,
    /// The route out of desk hours below `wake` (default: the first level of `desk`, with no
    /// escalation).
    pub after_hours: Vec<Level>,
}

impl Notify {
    /// The problem with `desk_hours.calendar`, when it names no calendar of `schedules/`.
    /// Calendars are defined in schedule files, so the settings cannot check this name; the
    /// catalog loader calls this with the names it found and reports the message at
    /// `desk_hours.calendar`'s position.
    pub fn check_calendar(&self, calendars: &[String]) -> Option<String> {
        let name = &self.desk_hours.calendar.as_ref()?.value;
        if calendars.iter().any(|c| c == name) {
            return None;
        }
        let hint = diag::hint(name, calendars.iter().map(String::as_str));
        Some(format!(
            "`notify.desk_hours`: unknown calendar `{name}`{hint}"
        ))
    }

    /// A channel by name.
    pub fn channel(&self, name: &str) -> Option<&Channel> {
        self.channels.get(name)
    }
}

/// When the service desk is staffed: business days of a calendar, `from` ≤ local time < `to`.
#[derive(Debug, Clone)]
pub struct DeskHours {
    /// A calendar of `schedules/` with its place in `unyo.yaml`; `None`: Monday to Friday.
    pub calendar: Option<Spanned<String>>,
    pub from: NaiveTime,
    pub to: NaiveTime,
}

/// One escalation level: the channels notified together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Level {
    /// How long after the previous level this one is notified if nobody acknowledged; zero for
    /// the first level, which is notified at once.
    pub after: Duration,
    /// Channel names, each one a key of [`Notify::channels`].
    pub notify: Vec<String>,
}

fn parse_severity(text: &str) -> Result<Severity, String> {
    const NAMES: [&str; 4] = ["low", "medium", "high", "critical"];
    match text {
        "low" => Ok(Severity::Low),
        "medium" => Ok(Severity::Medium),
        "high" => Ok(Severity::High),
        "critical" => Ok(Severity::Critical),
        other => Err(format!(
            "unknown severity `{other}`{}; expected one of: {}",
            diag::hint(other, NAMES),
            NAMES.join(", ")
        )),
    }
}

/// Validates `notify:`. Returns `None` when something is wrong; every problem is in `diags`.
pub(super) fn notify(
    raw: &Spanned<NotifySpec>,
    root: &Path,
    file: &Path,
    diags: &mut Diagnostics,
) -> Option<Notify> {
    let before = diags.len();
    let spec = &raw.value;
    let mut err =
        |at: &Spanned<String>, msg: String| diags.push(Diagnostic::spanned(file, at, msg));

    let mut language = Language::Ja;
    if let Some(l) = &spec.language {
        match l.value.as_str() {
            "ja" => language = Language::Ja,
            "en" => language = Language::En,
            other => err(
                l,
                format!(
                    "`notify.language`: unknown language `{other}`{}; expected `ja` or `en`",
                    diag::hint(other, ["ja", "en"])
                ),
            ),
        }
    }

    let mut templates = None;
    if let Some(t) = &spec.templates {
        let dir = root.join(&t.value);
        for problem in check_template_folder(&dir, &t.value, &NOTIFY_TEMPLATE_FILES) {
            err(t, format!("`notify.templates`: {problem}"));
        }
        templates = Some(dir);
    }

    let mut wake = Severity::High;
    if let Some(w) = &spec.wake {
        match parse_severity(w.value.trim()) {
            Ok(s) => wake = s,
            Err(m) => err(w, format!("`notify.wake`: {m}")),
        }
    }

    let mut desk_hours = DeskHours {
        calendar: None,
        from: NaiveTime::from_hms_opt(8, 30, 0).unwrap_or(NaiveTime::MIN),
        to: NaiveTime::from_hms_opt(17, 30, 0).unwrap_or(NaiveTime::MIN),
    };
    if let Some(dh) = &spec.desk_hours {
        desk_hours.calendar = dh.value.calendar.clone();
        let mut clock = |v: &Option<Spanned<String>>, key: &str, into: &mut NaiveTime| {
            if let Some(v) = v {
                match parse_clock(&v.value) {
                    Ok(t) => *into = t,
                    Err(m) => err(v, format!("`notify.desk_hours.{key}`: {m}")),
                }
            }
        };
        clock(&dh.value.from, "from", &mut desk_hours.from);
        clock(&dh.value.to, "to", &mut desk_hours.to);
        if desk_hours.from >= desk_hours.to {
            diags.push(Diagnostic::spanned(
                file,
                dh,
                "`notify.desk_hours`: `from` must be before `to` (desk hours end on the day they begin)",
            ));
        }
    }

    let mut channels = IndexMap::new();
    for (name, ch) in &spec.channels {
        if let Some(kind) = channel(name, ch, root, file, diags) {
            channels.insert(
                name.clone(),
                Channel {
                    name: name.clone(),
                    kind,
                },
            );
        }
    }

    let names: Vec<&str> = spec.channels.keys().map(String::as_str).collect();
    let desk = match &spec.desk {
        Some(d) => levels("desk", d, &names, file, diags),
        None => {
            diags.push(Diagnostic::spanned(
                file,
                raw,
                "`notify`: missing required key `desk` (the levels notified in desk hours)",
            ));
            Vec::new()
        }
    };
    let emergency = match &spec.emergency {
        Some(e) => levels("emergency", e, &names, file, diags),
        None => desk.clone(),
    };
    let after_hours = match &spec.after_hours {
        Some(a) => levels("after_hours", a, &names, file, diags),
        None => desk
            .first()
            .map(|l| Level {
                after: Duration::ZERO,
                notify: l.notify.clone(),
            })
            .into_iter()
            .collect(),
    };

    (diags.len() == before).then_some(Notify {
        language,
        templates,
        desk_hours,
        wake,
        channels,
        desk,
        emergency,
        after_hours,
    })
}

/// Validates the levels of one route.
fn levels(
    route: &str,
    raw: &Spanned<Vec<Spanned<LevelSpec>>>,
    channels: &[&str],
    file: &Path,
    diags: &mut Diagnostics,
) -> Vec<Level> {
    // An empty route is allowed: nobody is told of its incidents, which `unyo validate`
    // and the daemon's start say (`Settings::unheard`).
    let mut out = Vec::new();
    for (i, level) in raw.value.iter().enumerate() {
        let n = i + 1;
        let spec = &level.value;
        let mut after = Duration::ZERO;
        match (&spec.after, i) {
            (Some(a), 0) => diags.push(Diagnostic::spanned(
                file,
                a,
                format!(
                    "`notify.{route}`: the first level is notified at once; `after` belongs on the levels that follow"
                ),
            )),
            (None, 0) => {}
            (None, _) => diags.push(Diagnostic::spanned(
                file,
                level,
                format!(
                    "`notify.{route}`: level {n} needs `after` (how long to wait for an acknowledgement after level {i})"
                ),
            )),
            (Some(a), _) => match parse_duration(&a.value) {
                Ok(d) if !d.is_zero() => after = d,
                Ok(_) => diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`notify.{route}`: `after` must be longer than zero"),
                )),
                Err(m) => diags.push(Diagnostic::spanned(
                    file,
                    a,
                    format!("`notify.{route}`: `after`: {m}"),
                )),
            },
        }
        if spec.notify.value.is_empty() {
            diags.push(Diagnostic::spanned(
                file,
                &spec.notify,
                format!("`notify.{route}`: level {n} notifies nobody (`notify` is empty)"),
            ));
        }
        let mut notify: Vec<String> = Vec::new();
        for ch in &spec.notify.value {
            if !channels.contains(&ch.value.as_str()) {
                diags.push(Diagnostic::spanned(
                    file,
                    ch,
                    format!(
                        "`notify.{route}`: unknown channel `{}`{}",
                        ch.value,
                        diag::hint(&ch.value, channels.iter().copied())
                    ),
                ));
            } else if notify.contains(&ch.value) {
                diags.push(Diagnostic::spanned(
                    file,
                    ch,
                    format!(
                        "`notify.{route}`: channel `{}` is listed twice in level {n}",
                        ch.value
                    ),
                ));
            } else {
                notify.push(ch.value.clone());
            }
        }
        out.push(Level { after, notify });
    }
    out
}
