//! Importing schedules written in other formats into unyo's job and schedule files.
//!
//! An importer turns its source into an [`Import`]: the files to write, built as text with
//! every string double-quoted (so no command, value or name can change the YAML around it),
//! and a report of what was not carried over or was changed. [`write`] puts the files under
//! a folder, checking every target first so a refusal leaves nothing half-written. Nothing
//! here loads or runs the result; the CLI validates the folder after writing.

pub mod crontab;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::model::shell_line_is_safe;
use crate::model::template::Renderer;

/// One file an import writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// Relative to the output folder, e.g. `jobs/backup.yaml`.
    pub path: PathBuf,
    pub text: String,
}

/// Something the operator should know: a thing not carried over, changed, or skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// The source line it is about; `None` for the source as a whole.
    pub line: Option<usize>,
    pub text: String,
}

/// The outcome of converting one source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Import {
    pub files: Vec<File>,
    /// Entries carried over (one job and one schedule entry each).
    pub entries: usize,
    /// In source order; notes about the whole source last.
    pub notes: Vec<Note>,
}

/// Why [`write`] wrote nothing or stopped.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// Targets that exist while overwriting was not asked for; nothing was written.
    #[error("{} already exist{}; nothing written (--force overwrites)", list(.0), if .0.len() == 1 { "s" } else { "" })]
    Exists(Vec<PathBuf>),
    #[error("cannot write `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn list(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| format!("`{}`", p.display()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The targets of `files` under `out` that exist already.
pub fn existing(out: &Path, files: &[File]) -> Vec<PathBuf> {
    files
        .iter()
        .map(|f| out.join(&f.path))
        .filter(|p| p.symlink_metadata().is_ok())
        .collect()
}

/// Writes `files` under `out`. Without `force`, every target is checked first and an
/// existing one means nothing is written.
pub fn write(out: &Path, files: &[File], force: bool) -> Result<(), WriteError> {
    if !force {
        let taken = existing(out, files);
        if !taken.is_empty() {
            return Err(WriteError::Exists(taken));
        }
    }
    for f in files {
        let path = out.join(&f.path);
        let io = |source| WriteError::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut open = std::fs::OpenOptions::new();
        open.write(true);
        if force {
            open.create(true).truncate(true);
        } else {
            // A file that appeared since the check is still not overwritten.
            open.create_new(true);
        }
        let mut file = open.open(&path).map_err(io)?;
        std::io::Write::write_all(&mut file, f.text.as_bytes()).map_err(io)?;
    }
    Ok(())
}

/// `s` as a YAML double-quoted scalar that reads back as exactly `s`: quotes and backslashes
/// escaped, and every character YAML does not allow raw in a document written as an escape.
pub fn yaml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if yaml_printable(c) => out.push(c),
            c => escape_char(&mut out, c),
        }
    }
    out.push('"');
    out
}

/// `s` as the text of a one-line YAML comment: anything that could end the line or is not
/// allowed raw is written as an escape, so the comment stays one line.
pub fn yaml_comment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c == '\t' || (yaml_printable(c) && c != '\u{85}' && c != '\u{2028}' && c != '\u{2029}') {
            out.push(c);
        } else {
            escape_char(&mut out, c);
        }
    }
    out
}

/// Characters YAML accepts raw in a document (its printable set), less the byte-order mark.
fn yaml_printable(c: char) -> bool {
    matches!(
        u32::from(c),
        0x20..=0x7E | 0x85 | 0xA0..=0xD7FF | 0xE000..=0xFEFE | 0xFF00..=0xFFFD | 0x10000..=0x10_FFFF
    )
}

fn escape_char(out: &mut String, c: char) {
    let n = u32::from(c);
    // Writing to a String cannot fail.
    let _ = if n <= 0xFF {
        write!(out, "\\x{n:02X}")
    } else if n <= 0xFFFF {
        write!(out, "\\u{n:04X}")
    } else {
        write!(out, "\\U{n:08X}")
    };
}

/// `s` lower-cased with every run of characters outside `[a-z0-9]` made one `-`, without a
/// leading or trailing `-`, at most `max` characters. May be empty.
pub fn slug(s: &str, max: usize) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if out.len() >= max {
            break;
        }
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(max);
    while out.ends_with('-') {
        out.pop();
    }
    out
}

/// Writes `text` as a template that renders to exactly `text`: a `run:` line (`shell`) or an
/// `env` value. Each `{{` becomes `\{{`, the template engine's escape for a literal `{{`.
///
/// Refused, with the reason: a backslash right before `{{` (the engine reads `\{{` as the
/// escape itself and there is no way to write a literal backslash there), `{{{` or `{{&` in a
/// `run:` line (refused there whatever their form). The result is checked by rendering it.
pub fn literal_template(text: &str, shell: bool) -> Result<String, String> {
    if !text.contains("{{") {
        return Ok(text.to_owned());
    }
    let mut out = String::with_capacity(text.len() + 8);
    let mut rest = text;
    while let Some(at) = rest.find("{{") {
        let (before, after) = rest.split_at(at);
        if before.ends_with('\\') {
            return Err(
                "a backslash right before `{{` cannot stay literal in a unyo template".to_owned(),
            );
        }
        out.push_str(before);
        out.push_str("\\{{");
        rest = after.get(2..).unwrap_or_default();
    }
    out.push_str(rest);
    if shell && !shell_line_is_safe(&out) {
        return Err("`{{{` and `{{&` cannot stay literal in a unyo `run:` line".to_owned());
    }
    let renderer = Renderer::new();
    let data = serde_json::json!({});
    let rendered = if shell {
        renderer.shell(&out, &data)
    } else {
        renderer.plain(&out, &data)
    };
    match rendered {
        Ok(r) if r == text => Ok(out),
        Ok(_) => Err("`{{` cannot be kept literal here in a unyo template".to_owned()),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_strings_read_back_exactly() {
        for s in [
            "",
            "plain",
            "a: b # c",
            "\"quoted\" and 'single'",
            "back\\slash \\n not a newline",
            "line1\nline2\r\n\ttab",
            "データ ✓ 🚀",
            "\u{0}\u{1}\u{7}\u{1b}[0m\u{7f}\u{80}\u{85}\u{9f}\u{feff}\u{fffe}\u{2028}",
            "- item",
            "{ flow: map }",
            "[1, 2]",
            "*alias &anchor !tag %directive @at `tick`",
            "null",
            "~",
            "yes",
            "0x1F",
            "  leading and trailing  ",
        ] {
            let doc = format!("v: {}\n", yaml_string(s));
            let back: std::collections::BTreeMap<String, String> =
                serde_saphyr::from_str(&doc).unwrap_or_else(|e| panic!("{doc:?}: {e}"));
            assert_eq!(back.get("v").map(String::as_str), Some(s), "{doc:?}");
        }
    }

    #[test]
    fn comments_stay_one_line() {
        let c = yaml_comment("a\nb\rc\u{2028}d\u{85}e\u{1b}f\tg");
        assert!(
            !c.contains(['\n', '\r', '\u{2028}', '\u{85}', '\u{1b}']),
            "{c}"
        );
        let doc = format!("# {c}\nv: \"x\"\n");
        let back: std::collections::BTreeMap<String, String> =
            serde_saphyr::from_str(&doc).expect("parses");
        assert_eq!(back.get("v").map(String::as_str), Some("x"));
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Backup.SH", 40), "backup-sh");
        assert_eq!(slug("--a__b--", 40), "a-b");
        assert_eq!(slug("データ", 40), "");
        assert_eq!(slug(&"x".repeat(50), 40).len(), 40);
        assert_eq!(slug("abc-def", 4), "abc");
    }

    #[test]
    fn literal_templates_render_as_written() {
        let data = serde_json::json!({});
        let r = Renderer::new();
        for text in [
            "echo plain",
            "echo '{{x}}' \"{{ y }}\" {{{{z}}}}",
            "echo }} {{",
            "a{{b{{c}}",
        ] {
            let t = literal_template(text, true).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.shell(&t, &data).as_deref(), Ok(text), "{t}");
            let t = literal_template(text, false).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(r.plain(&t, &data).as_deref(), Ok(text), "{t}");
        }
        // An env value may hold `{{{`; a `run:` line may not.
        let t = literal_template("x{{{y}}}", false).expect("plain");
        assert_eq!(r.plain(&t, &data).as_deref(), Ok("x{{{y}}}"));
        assert!(literal_template("x{{{y}}}", true).is_err());
        assert!(literal_template("echo {{&y}}", true).is_err());
        assert!(literal_template(r"echo \{{y}}", true).is_err());
        // Text outside `{{ }}` is not a parameter reference.
        assert_eq!(
            literal_template("{{x}} ./params.sh", true).as_deref(),
            Ok(r"\{{x}} ./params.sh")
        );
        assert_eq!(
            literal_template("./params.sh", true).as_deref(),
            Ok("./params.sh")
        );
    }
}
