//! Raw definitions exactly as written in YAML (`unyo.yaml`, `jobs/`, `runbooks/`, `schedules/`),
//! and reading them from disk with limits against hostile input.
//!
//! Every type here mirrors the file format one to one and denies unknown keys; values that need
//! checking later carry their YAML position (`Spanned`). Nothing outside `model` uses these
//! types: validation turns them into the catalog. This module never interprets values
//! (durations, cron, references); `model` does.

pub mod diag;
mod job;
mod keys;
mod notify;
mod runbook;
mod schedule;
mod settings;

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

pub use diag::{Diagnostic, Diagnostics};
pub use job::{
    CheckSpec, JobSpec, OnInterrupt, ParamSpec, ParamType, SlaSpec, SlowdownSpec, StepSpec,
    WindowPolicy,
};
pub use notify::{
    ChannelSpec, CommandSpec, DeskHoursSpec, EmailSpec, LevelSpec, NotifySpec, WebhookSpec,
};
pub use runbook::{
    Backoff, CodeSpec, EscalateSpec, MatchMapSpec, MatchSpec, RemediateSpec, RetrySpec, RuleSpec,
    RunbookSpec, Severity,
};
pub use schedule::{
    CalendarSpec, ClosedDay, HolidaySet, MisfirePolicy, MisfireSpec, Overlap, ScheduleFileSpec,
    ScheduleSpec, WeekdaySpec, WindowSpec,
};
pub use settings::{
    AvailabilitySpec, BackupsSpec, ChecksSpec, DepartmentSpec, DeskConsultationSpec, DeskSpec,
    HostSpec, LogSpec, MetricsSpec, NodeSpec, ProposalsSpec, ServiceHoursSpec, ServiceSpec,
    SettingsSpec, WebSpec, WebTlsSpec,
};

/// Largest definition file accepted; a job tree is text written by people.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A scalar written as a string, number or boolean, kept as the text the template will see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar(pub String);

impl<'de> serde::Deserialize<'de> for Scalar {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// One definition file as read from disk.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// The path shown to operators (relative to the root).
    pub display: PathBuf,
    pub text: String,
}

/// Reads a definition file, refusing huge or non-UTF-8 files with a diagnostic.
pub fn read_source(root: &Path, path: &Path) -> Result<SourceFile, Diagnostic> {
    let display = path.strip_prefix(root).unwrap_or(path).to_path_buf();
    let meta = std::fs::metadata(path)
        .map_err(|e| Diagnostic::file(&display, format!("cannot read: {e}")))?;
    if meta.len() > MAX_FILE_BYTES {
        return Err(Diagnostic::file(
            &display,
            format!(
                "file is {} bytes; definition files are limited to {} bytes",
                meta.len(),
                MAX_FILE_BYTES
            ),
        ));
    }
    let bytes =
        std::fs::read(path).map_err(|e| Diagnostic::file(&display, format!("cannot read: {e}")))?;
    let text = String::from_utf8(bytes).map_err(|e| not_utf8(&display, &e))?;
    Ok(SourceFile { display, text })
}

/// Where a file stops being UTF-8, by line and column (in characters), with the bytes there.
fn not_utf8(display: &Path, e: &std::string::FromUtf8Error) -> Diagnostic {
    let bytes = e.as_bytes();
    let good = e.utf8_error().valid_up_to();
    let before = &bytes[..good];
    let line_start = before
        .iter()
        .rposition(|b| *b == b'\n')
        .map_or(0, |i| i + 1);
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    // The prefix is valid UTF-8 up to `good`, so this line's part of it reads as text.
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    let bad_len = e
        .utf8_error()
        .error_len()
        .unwrap_or(bytes.len() - good)
        .max(1);
    let shown: Vec<String> = bytes[good..]
        .iter()
        .take(bad_len)
        .map(|b| format!("\\x{b:02X}"))
        .collect();
    Diagnostic::new(
        display,
        u32::try_from(line).unwrap_or(u32::MAX),
        u32::try_from(column).unwrap_or(u32::MAX),
        format!(
            "not valid UTF-8 (bytes `{}`); save the file as UTF-8 (Shift_JIS and EUC-JP are not read)",
            shown.join("")
        ),
    )
}

/// The YAML files of one definition folder (`*.yaml`, `*.yml`), sorted by name.
/// A missing folder is an empty list.
pub fn yaml_files(dir: &Path) -> Result<Vec<PathBuf>, std::io::Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let is_yaml = matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        );
        if is_yaml && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

pub(crate) fn options() -> serde_saphyr::Options {
    let mut o = serde_saphyr::Options::default();
    let mut budget = serde_saphyr::Budget::default();
    budget.max_depth = 32;
    budget.max_nodes = 100_000;
    budget.max_events = 400_000;
    budget.max_aliases = 1_000;
    budget.max_anchors = 1_000;
    budget.max_documents = 1;
    budget.max_total_scalar_bytes = MAX_FILE_BYTES as usize;
    budget.max_reader_input_bytes = Some(MAX_FILE_BYTES as usize);
    o.budget = Some(budget);
    o.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::Error;
    o.with_snippet = false;
    o
}

/// A raw type that is the whole of one file, and the keys it accepts at every level.
pub trait FileSpec: DeserializeOwned {
    fn shape() -> &'static keys::Shape;
}

/// Parses one file into its raw type. Every unknown or duplicate key is reported at once;
/// past those, the first problem of the file (a wrong type, a missing key) is reported.
pub fn parse<T: FileSpec>(src: &SourceFile) -> Result<T, Vec<Diagnostic>> {
    if src.text.trim().is_empty() {
        return Err(vec![Diagnostic::file(&src.display, "file is empty")]);
    }
    serde_saphyr::from_str_with_options(&src.text, options()).map_err(|e| {
        // Only a file with a problem pays for the key pass.
        let key_problems = keys::check(&src.display, &src.text, T::shape());
        if key_problems.is_empty() {
            vec![to_diagnostic(&src.display, &e)]
        } else {
            key_problems
        }
    })
}

/// Parses one file into its raw type, reading past its unknown and duplicate keys where it
/// can, so that the rest of the file is still checked: every such key is reported, and the
/// file is read again without them (each with the lines below it, so the positions of
/// everything else stay as written). `None` when the file cannot be read even so; the
/// diagnostics then say why.
pub fn parse_lenient<T: FileSpec>(src: &SourceFile) -> (Option<T>, Vec<Diagnostic>) {
    match parse::<T>(src) {
        Ok(v) => (Some(v), Vec::new()),
        Err(diags) => {
            let is_key = |d: &Diagnostic| {
                d.line > 0
                    && (d.message.starts_with("unknown key `")
                        || d.message.starts_with("duplicate key `"))
            };
            if diags.is_empty() || !diags.iter().all(is_key) {
                return (None, diags);
            }
            let places: Vec<(u32, u32)> = diags.iter().map(|d| (d.line, d.column)).collect();
            let reread = keys::without(&src.text, &places)
                .and_then(|text| serde_saphyr::from_str_with_options::<T>(&text, options()).ok());
            (reread, diags)
        }
    }
}

/// A shape with no nested structs.
fn leaf<'de, T: serde::Deserialize<'de>>() -> keys::Shape {
    keys::Shape {
        fields: keys::fields_of::<T>(),
        children: Vec::new(),
    }
}

/// Rewrites a YAML error in the house style (lowercase, names in backticks, a hint).
fn to_diagnostic(file: &Path, e: &serde_saphyr::Error) -> Diagnostic {
    use serde_saphyr::Error as E;
    let e = e.without_snippet();
    let message = match e {
        E::SerdeUnknownField {
            field, expected, ..
        } => {
            let mut m = format!("unknown key `{field}`");
            m.push_str(&diag::hint(field, expected.iter().copied()));
            if diag::did_you_mean(field, expected.iter().copied()).is_none() && !expected.is_empty()
            {
                m.push_str(&format!("; expected one of: {}", expected.join(", ")));
            }
            m
        }
        E::SerdeUnknownVariant {
            variant, expected, ..
        } => {
            let mut m = format!("unknown value `{variant}`");
            m.push_str(&diag::hint(variant, expected.iter().copied()));
            m.push_str(&format!("; expected one of: {}", expected.join(", ")));
            m
        }
        E::SerdeMissingField { field, .. } => format!("missing required key `{field}`"),
        E::DuplicateMappingKey { key: Some(k), .. } => format!("duplicate key `{k}`"),
        E::DuplicateMappingKey { key: None, .. } => "duplicate key".to_owned(),
        E::Budget { .. } => format!("file is too large or too deeply nested to accept: {e}"),
        other => {
            let text = other.to_string();
            // The library prefixes its own position; we print ours in front instead.
            let text = strip_position(&text).trim_end_matches('.');
            if let Some(rest) = text.strip_prefix("invalid type: ") {
                format!("wrong type: {rest}")
            } else if text.starts_with("expected ") {
                format!("wrong type: {text}")
            } else {
                text.to_owned()
            }
        }
    };
    match e.location() {
        Some(loc) => Diagnostic::at(file, loc, lowercase_first(&message)),
        None => Diagnostic::file(file, lowercase_first(&message)),
    }
}

fn strip_position(text: &str) -> &str {
    // "line 3 column 5: message" or "message at line 3, column 5"
    let text = text.trim();
    if let Some(rest) = text.strip_prefix("error: ") {
        return strip_position(rest);
    }
    match text.find(" at line ") {
        Some(i) => &text[..i],
        None => text,
    }
}

fn lowercase_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) if f.is_uppercase() && !c.clone().next().is_some_and(char::is_uppercase) => {
            f.to_lowercase().chain(c).collect()
        }
        _ => s.to_owned(),
    }
}
