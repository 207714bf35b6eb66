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
pub use job::{JobSpec, OnInterrupt, ParamSpec, ParamType, SlaSpec, StepSpec, WindowPolicy};
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
pub use settings::{AvailabilitySpec, BackupsSpec, ServiceHoursSpec, ServiceSpec, SettingsSpec};

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
    let text = String::from_utf8(bytes)
        .map_err(|e| Diagnostic::file(&display, format!("not valid UTF-8: {e}")))?;
    Ok(SourceFile { display, text })
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
