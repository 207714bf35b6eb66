//! INI parameter files, edited line by line: a set rewrites the one line of the key (only the
//! value's text changes), a new key is one added line, a removed key one removed line; every
//! other byte stays.
//!
//! The dialect: `[section]` headers; `key = value` or `key: value` lines (the first `=` or `:`
//! ends the key); keys before any section are addressed as `key`, the others as
//! `section.key` (a section name may hold dots: the last part of a key path is the key);
//! whole-line comments start with `;` or `#`, and a `;` or `#` after a space ends the value
//! (an inline comment). Values are text, spaces around them are not part of them, quotes are
//! kept as written. A section or key that appears twice is an error naming both lines.

use std::path::Path;

use indexmap::IndexMap;

use super::{Node, segments};
use crate::act::ActError;

/// One parsed line of a key: where its value is.
#[derive(Debug)]
struct Entry {
    line: usize,
    /// Byte range of the value within the line (without the line ending).
    value: std::ops::Range<usize>,
}

#[derive(Debug, Default)]
struct Section {
    /// Line of the header (`None` for the keys before any section).
    header: Option<usize>,
    keys: IndexMap<String, Entry>,
}

/// A parsed INI file: its lines (each with its line ending) and where every key is.
#[derive(Debug)]
pub(super) struct Ini<'a> {
    path: &'a Path,
    lines: Vec<&'a str>,
    /// `""` is the part before the first section.
    sections: IndexMap<String, Section>,
}

fn body(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// Where an inline comment starts in a value: a `;` or `#` after a space or tab.
fn comment_start(v: &str) -> Option<usize> {
    let b = v.as_bytes();
    (1..b.len())
        .find(|&i| (b[i] == b';' || b[i] == b'#') && (b[i - 1] == b' ' || b[i - 1] == b'\t'))
}

impl<'a> Ini<'a> {
    pub(super) fn parse(path: &'a Path, text: &'a str) -> Result<Ini<'a>, ActError> {
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        let mut sections: IndexMap<String, Section> = IndexMap::new();
        sections.insert(String::new(), Section::default());
        let mut current = String::new();
        let at =
            |n: usize, m: String| ActError::Failed(format!("{}:{}: {m}", path.display(), n + 1));
        for (n, line) in lines.iter().enumerate() {
            let b = body(line);
            let t = b.trim();
            if t.is_empty() || t.starts_with(';') || t.starts_with('#') {
                continue;
            }
            if let Some(rest) = t.strip_prefix('[') {
                let Some((name, after)) = rest.split_once(']') else {
                    return Err(at(n, format!("section header `{t}` has no `]`")));
                };
                let after = after.trim();
                if !(after.is_empty() || after.starts_with(';') || after.starts_with('#')) {
                    return Err(at(n, format!("text after the section header: `{after}`")));
                }
                let name = name.trim().to_owned();
                if name.is_empty() {
                    return Err(at(n, "a section needs a name".to_owned()));
                }
                if let Some(first) = sections.get(&name).and_then(|s| s.header) {
                    return Err(at(
                        n,
                        format!(
                            "section `[{name}]` appears again (first at line {})",
                            first + 1
                        ),
                    ));
                }
                sections.insert(
                    name.clone(),
                    Section {
                        header: Some(n),
                        keys: IndexMap::new(),
                    },
                );
                current = name;
                continue;
            }
            let Some(d) = b.find(['=', ':']) else {
                return Err(at(
                    n,
                    format!("`{t}` is not `key = value`, `[section]` or a comment"),
                ));
            };
            let key = b[..d].trim();
            if key.is_empty() {
                return Err(at(n, format!("`{t}` has no key")));
            }
            let raw = &b[d + 1..];
            let lead = raw.len() - raw.trim_start().len();
            let rest = &raw[lead..];
            let end = comment_start(rest).unwrap_or(rest.len());
            let value = rest[..end].trim_end();
            let start = d + 1 + lead;
            let section = sections.entry(current.clone()).or_default();
            if let Some(first) = section.keys.get(key) {
                let place = if current.is_empty() {
                    "before the first section".to_owned()
                } else {
                    format!("of section `[{current}]`")
                };
                return Err(at(
                    n,
                    format!(
                        "key `{key}` {place} appears again (first at line {})",
                        first.line + 1
                    ),
                ));
            }
            section.keys.insert(
                key.to_owned(),
                Entry {
                    line: n,
                    value: start..start + value.len(),
                },
            );
        }
        Ok(Ini {
            path,
            lines,
            sections,
        })
    }

    fn value_of(&self, e: &Entry) -> String {
        body(self.lines[e.line])
            .get(e.value.clone())
            .unwrap_or_default()
            .to_owned()
    }

    /// The whole file as a tree: the keys before any section, then a map per section.
    pub(super) fn tree(&self) -> Node {
        let mut root = IndexMap::new();
        for (name, s) in &self.sections {
            let keys: IndexMap<String, Node> = s
                .keys
                .iter()
                .map(|(k, e)| (k.clone(), Node::Str(self.value_of(e))))
                .collect();
            if name.is_empty() {
                root.extend(keys);
            } else {
                root.insert(name.clone(), Node::Map(keys));
            }
        }
        Node::Map(root)
    }

    /// Section and key of a key path.
    fn locate<'k>(&self, key: &'k str) -> Result<(String, &'k str), ActError> {
        let segs = segments(key)?;
        let Some((last, parents)) = segs.split_last() else {
            return Err(ActError::Failed(format!("key `{key}` is empty")));
        };
        let section = parents.join(".");
        if !self.sections.contains_key(&section) {
            return Err(ActError::Failed(format!(
                "{}: key `{key}`: there is no section `[{section}]`",
                self.path.display()
            )));
        }
        if parents.is_empty() && self.sections.get(*last).is_some_and(|s| s.header.is_some()) {
            return Err(ActError::Failed(format!(
                "{}: key `{key}`: `[{last}]` is a section: give `{last}.KEY`",
                self.path.display()
            )));
        }
        Ok((section, last))
    }

    pub(super) fn get(&self, key: &str) -> Result<Option<Node>, ActError> {
        let (section, name) = self.locate(key)?;
        Ok(self
            .sections
            .get(&section)
            .and_then(|s| s.keys.get(name))
            .map(|e| Node::Str(self.value_of(e))))
    }

    /// Sets (`Some`) or removes (`None`) the value at `key`; returns the value before and the
    /// new text.
    pub(super) fn set(
        &self,
        key: &str,
        value: Option<Node>,
    ) -> Result<(Option<Node>, String), ActError> {
        let (section, name) = self.locate(key)?;
        let text = value.map(|v| self.text_of(key, v)).transpose()?;
        let Some(s) = self.sections.get(&section) else {
            return Err(ActError::Failed(format!(
                "{}: key `{key}`: there is no section `[{section}]`",
                self.path.display()
            )));
        };
        let mut lines: Vec<String> = self.lines.iter().map(|l| (*l).to_owned()).collect();
        let before = s.keys.get(name).map(|e| Node::Str(self.value_of(e)));
        match (s.keys.get(name), text) {
            (Some(e), Some(text)) => {
                let line = self.lines[e.line];
                lines[e.line] = format!("{}{text}{}", &line[..e.value.start], &line[e.value.end..]);
            }
            (Some(e), None) => lines[e.line].clear(),
            (None, Some(text)) => {
                let eol = if self.lines.first().is_some_and(|l| l.ends_with("\r\n")) {
                    "\r\n"
                } else {
                    "\n"
                };
                // After the section's last key, else its header; the keys before any section
                // go before the first header.
                let at = match (s.keys.values().last(), s.header) {
                    (Some(e), _) => e.line + 1,
                    (None, Some(h)) => h + 1,
                    (None, None) => self
                        .sections
                        .values()
                        .find_map(|s| s.header)
                        .unwrap_or(lines.len()),
                };
                if let Some(prev) = at.checked_sub(1).and_then(|i| lines.get_mut(i))
                    && !prev.ends_with('\n')
                {
                    prev.push_str(eol);
                }
                lines.insert(at, format!("{name} = {text}{eol}"));
            }
            (None, None) => {}
        }
        Ok((before, lines.concat()))
    }

    /// A value as the text of an INI line, refused when it would not read back the same.
    fn text_of(&self, key: &str, v: Node) -> Result<String, ActError> {
        let text = match v {
            Node::Str(s) => s,
            Node::Int(i) => i.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Bool(b) => b.to_string(),
            Node::Null | Node::Seq(_) | Node::Map(_) => {
                return Err(ActError::Failed(format!(
                    "{}: key `{key}`: an INI value is one line of text",
                    self.path.display()
                )));
            }
        };
        if text.chars().any(char::is_control)
            || text.trim() != text
            || comment_start(&text).is_some()
        {
            return Err(ActError::Failed(format!(
                "{}: key `{key}`: `{}` cannot be an INI value (line breaks, control characters, \
                 spaces at either end and a `;` or `#` after a space are not kept)",
                self.path.display(),
                text.escape_debug()
            )));
        }
        Ok(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "; online system\n\
        mode = live\n\
        \n\
        [counters]\n\
        # numbered per fiscal year\n\
        receipt_no   =   12   ; last issued\n\
        notice_no: 3\n\
        \n\
        [db.pool]\n\
        url = http://db:5432/x?a=b\n";

    fn ini() -> Ini<'static> {
        Ini::parse(Path::new("p.ini"), TEXT).expect("parse")
    }

    #[test]
    fn reads_keys_sections_and_inline_comments() {
        let i = ini();
        assert_eq!(i.get("mode").expect("get"), Some(Node::Str("live".into())));
        assert_eq!(
            i.get("counters.receipt_no").expect("get"),
            Some(Node::Str("12".into()))
        );
        assert_eq!(
            i.get("counters.notice_no").expect("get"),
            Some(Node::Str("3".into()))
        );
        assert_eq!(
            i.get("db.pool.url").expect("get"),
            Some(Node::Str("http://db:5432/x?a=b".into()))
        );
        assert_eq!(i.get("counters.x").expect("get"), None);
    }

    #[test]
    fn only_the_value_changes() {
        let (before, out) = ini()
            .set("counters.receipt_no", Some(Node::Str("0".into())))
            .expect("set");
        assert_eq!(before, Some(Node::Str("12".into())));
        assert_eq!(out, TEXT.replace("=   12   ; last", "=   0   ; last"));
        let (_, out) = ini().set("mode", Some(Node::Int(5))).expect("set");
        assert_eq!(out, TEXT.replace("mode = live", "mode = 5"));
    }

    #[test]
    fn a_new_key_is_one_line_and_its_removal_restores_the_file() {
        let (before, out) = ini()
            .set("counters.certificate_no", Some(Node::Str("1".into())))
            .expect("set");
        assert_eq!(before, None);
        assert!(
            out.contains("notice_no: 3\ncertificate_no = 1\n\n[db.pool]"),
            "{out}"
        );
        let again = Ini::parse(Path::new("p.ini"), &out).expect("parse");
        let (before, back) = again.set("counters.certificate_no", None).expect("rm");
        assert_eq!(before, Some(Node::Str("1".into())));
        assert_eq!(back, TEXT);
        let (_, out) = ini().set("top", Some(Node::Str("x".into()))).expect("top");
        assert!(out.contains("mode = live\ntop = x\n\n[counters]"), "{out}");
    }

    #[test]
    fn errors_name_the_line_the_section_and_the_key() {
        let e = ini()
            .set("limits.max", Some(Node::Str("1".into())))
            .expect_err("no section");
        assert!(e.to_string().contains("no section `[limits]`"), "{e}");
        let e = Ini::parse(Path::new("p.ini"), "[a]\nx = 1\n[b]\n[a]\n").expect_err("dup");
        assert_eq!(
            e.to_string(),
            "p.ini:4: section `[a]` appears again (first at line 1)"
        );
        let e = Ini::parse(Path::new("p.ini"), "[a]\nx = 1\n\nx=2\n").expect_err("dup key");
        assert_eq!(
            e.to_string(),
            "p.ini:4: key `x` of section `[a]` appears again (first at line 2)"
        );
        let e = Ini::parse(Path::new("p.ini"), "x\n").expect_err("junk");
        assert!(e.to_string().starts_with("p.ini:1:"), "{e}");
        let e = ini()
            .set("mode", Some(Node::Str("a ; b".into())))
            .expect_err("comment in value");
        assert!(e.to_string().contains("cannot be an INI value"), "{e}");
        let e = ini()
            .set("counters", Some(Node::Str("1".into())))
            .expect_err("a section");
        assert!(e.to_string().contains("is a section"), "{e}");
    }
}
