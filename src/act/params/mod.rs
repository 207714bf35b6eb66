//! `unyo act param-set`: sets one value of a structured parameter file by key path
//! (`counters.max_sessions`). YAML (`.yaml`, `.yml`), JSON (`.json`), TOML (`.toml`, through
//! `toml_edit`) and INI (`.ini`, edited line by line) files; the file is read whole, changed
//! and written back beside itself and renamed into place, keeping its permissions. Key order
//! is kept. TOML and INI files keep every comment and space: only the changed value's text
//! differs. A YAML file does too when a one-line scalar of a block map is set, added or removed
//! (`yaml.rs`, checked by reading the result back); otherwise it is written anew and loses its
//! comments. JSON has none to keep.

mod ini;
mod toml;
mod yaml;

use std::path::Path;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::maintenance::write_atomic;
use super::{ActError, io};

/// A value of a parameter file, keys in file order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(IndexMap<String, Node>),
}

impl Node {
    /// The value as JSON, as it is recorded.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }

    /// A recorded JSON value as a node.
    pub fn from_json(v: &serde_json::Value) -> Node {
        serde_json::from_value(v.clone()).unwrap_or(Node::Null)
    }

    /// A command-line value read as a YAML scalar: `10` a number, `true` a bool, anything
    /// else (including what would read as a list or a map) the string as given.
    pub fn scalar(text: &str) -> Node {
        if text.trim().is_empty() {
            return Node::Str(text.to_owned());
        }
        match serde_saphyr::from_str::<Node>(text) {
            Ok(Node::Seq(_) | Node::Map(_)) | Err(_) => Node::Str(text.to_owned()),
            Ok(n) => n,
        }
    }
}

/// The kinds of parameter file, by extension.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Format {
    Yaml,
    Json,
    Toml,
    Ini,
}

/// The format of a parameter file by its extension.
pub fn format(path: &Path) -> Result<Format, ActError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml" | "yml") => Ok(Format::Yaml),
        Some("json") => Ok(Format::Json),
        Some("toml") => Ok(Format::Toml),
        Some("ini") => Ok(Format::Ini),
        _ => Err(ActError::Failed(format!(
            "{}: parameter files must be YAML (.yaml, .yml), JSON (.json), TOML (.toml) or \
             INI (.ini)",
            path.display()
        ))),
    }
}

/// What a command-line value becomes in a file of this format: in an INI file the text as
/// given (INI values are text); elsewhere a YAML scalar ([`Node::scalar`]).
pub fn parse_value(path: &Path, text: &str) -> Result<Node, ActError> {
    Ok(match format(path)? {
        Format::Ini => Node::Str(text.to_owned()),
        Format::Yaml | Format::Json | Format::Toml => Node::scalar(text),
    })
}

fn read(path: &Path) -> Result<String, ActError> {
    std::fs::read_to_string(path).map_err(io("read", path))
}

/// Reads a YAML, JSON or TOML parameter file as a tree (an INI file: use [`value`]).
pub fn load(path: &Path) -> Result<Node, ActError> {
    let fmt = format(path)?;
    let text = read(path)?;
    let parsed = match fmt {
        Format::Yaml => serde_saphyr::from_str::<Node>(&text).map_err(|e| e.to_string()),
        Format::Json => serde_json::from_str::<Node>(&text).map_err(|e| e.to_string()),
        Format::Toml => return toml::load(path, &text),
        Format::Ini => return ini::Ini::parse(path, &text).map(|i| i.tree()),
    };
    parsed.map_err(|e| ActError::Failed(format!("{}: {e}", path.display())))
}

/// The value at `key` of the file at `path`, `None` when absent.
pub fn value(path: &Path, key: &str) -> Result<Option<Node>, ActError> {
    if format(path)? == Format::Ini {
        let text = read(path)?;
        return ini::Ini::parse(path, &text)?.get(key);
    }
    get(&load(path)?, key)
}

fn save(path: &Path, root: &Node) -> Result<(), ActError> {
    let text = match format(path)? {
        Format::Json => serde_json::to_string_pretty(root)
            .map(|t| t + "\n")
            .map_err(|e| e.to_string()),
        _ => serde_saphyr::to_string(root).map_err(|e| e.to_string()),
    };
    let text = text.map_err(|e| ActError::Failed(format!("{}: {e}", path.display())))?;
    write_atomic(path, text.as_bytes())
}

fn segments(key: &str) -> Result<Vec<&str>, ActError> {
    let parts: Vec<&str> = key.split('.').collect();
    if parts.iter().any(|p| p.is_empty()) {
        return Err(ActError::Failed(format!(
            "key `{key}`: write a key path as names joined by dots (`counters.max_sessions`)"
        )));
    }
    Ok(parts)
}

fn child<'a>(node: &'a Node, seg: &str) -> Option<&'a Node> {
    match node {
        Node::Map(m) => m.get(seg),
        Node::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get(i)),
        _ => None,
    }
}

fn child_mut<'a>(node: &'a mut Node, seg: &str) -> Option<&'a mut Node> {
    match node {
        Node::Map(m) => m.get_mut(seg),
        Node::Seq(s) => seg.parse::<usize>().ok().and_then(|i| s.get_mut(i)),
        _ => None,
    }
}

/// The value at `key`, `None` when absent.
pub fn get(root: &Node, key: &str) -> Result<Option<Node>, ActError> {
    let mut node = root;
    for seg in segments(key)? {
        match child(node, seg) {
            Some(n) => node = n,
            None => return Ok(None),
        }
    }
    Ok(Some(node.clone()))
}

/// Sets (`Some`) or removes (`None`) the value at `key`; returns what was there.
fn put(root: &mut Node, key: &str, value: Option<Node>) -> Result<Option<Node>, ActError> {
    let segs = segments(key)?;
    let Some((last, parents)) = segs.split_last() else {
        return Err(ActError::Failed(format!("key `{key}` is empty")));
    };
    let mut node = root;
    for (i, seg) in parents.iter().enumerate() {
        node = child_mut(node, seg).ok_or_else(|| {
            ActError::Failed(format!(
                "key `{key}`: `{}` does not exist (only the last part of a key path is created)",
                segs[..=i].join(".")
            ))
        })?;
    }
    match (node, value) {
        (Node::Map(m), Some(v)) => Ok(m.insert((*last).to_owned(), v)),
        (Node::Map(m), None) => Ok(m.shift_remove(*last)),
        (Node::Seq(s), v) => {
            let slot = last.parse::<usize>().ok().and_then(|i| s.get_mut(i));
            match (slot, v) {
                (Some(slot), Some(v)) => Ok(Some(std::mem::replace(slot, v))),
                _ => Err(ActError::Failed(format!(
                    "key `{key}`: `{last}` is not an item of the list (lists are changed \
                     item by item)"
                ))),
            }
        }
        _ => Err(ActError::Failed(format!(
            "key `{key}`: `{}` is not a map",
            parents.join(".")
        ))),
    }
}

/// Sets (`Some`) or removes (`None`) the value at `key` of the file at `path`, written
/// atomically; returns the value before (`None`: absent). A YAML file keeps its comments and
/// layout when only one-line scalars of block maps change (else it is written anew), a TOML or
/// INI file always: only the changed value's text differs.
pub fn set(path: &Path, key: &str, value: Option<Node>) -> Result<Option<Node>, ActError> {
    set_if(path, key, value, |_| Ok(()))
}

/// [`set`], once `check` accepts the value the key has now; the check and the write are one
/// step for every other unyo process editing a file in the same folder.
pub fn set_if(
    path: &Path,
    key: &str,
    value: Option<Node>,
    check: impl FnOnce(Option<Node>) -> Result<(), ActError>,
) -> Result<Option<Node>, ActError> {
    set_with(path, key, |now| check(now).map(|()| value)).map(|(before, _)| before)
}

/// Sets the value `decide` makes of the value the key has now (`None`: removes the key);
/// `decide` refusing writes nothing. Reading, deciding and writing are one step for every
/// other unyo process editing a file in the same folder. Returns the value before and the
/// value written.
pub fn set_with(
    path: &Path,
    key: &str,
    decide: impl FnOnce(Option<Node>) -> Result<Option<Node>, ActError>,
) -> Result<(Option<Node>, Option<Node>), ActError> {
    let _lock = super::edit_lock(path)?;
    let value = decide(self::value(path, key)?)?;
    let written = value.clone();
    let before = match format(path)? {
        Format::Toml => {
            let text = read(path)?;
            let (before, out) = toml::set(path, &text, key, value)?;
            write_atomic(path, out.as_bytes())?;
            Ok(before)
        }
        Format::Ini => {
            let text = read(path)?;
            let (before, out) = ini::Ini::parse(path, &text)?.set(key, value)?;
            write_atomic(path, out.as_bytes())?;
            Ok(before)
        }
        Format::Yaml => {
            let text = read(path)?;
            let mut root = serde_saphyr::from_str::<Node>(&text)
                .map_err(|e| ActError::Failed(format!("{}: {e}", path.display())))?;
            let before = put(&mut root, key, value.clone())?;
            match yaml::edit(&text, &segments(key)?, value.as_ref(), &root) {
                Some(out) => write_atomic(path, out.as_bytes())?,
                None => save(path, &root)?,
            }
            Ok(before)
        }
        Format::Json => {
            let mut root = load(path)?;
            let before = put(&mut root, key, value)?;
            save(path, &root)?;
            Ok(before)
        }
    }?;
    Ok((before, written))
}

/// The type of a value, as messages name it.
fn type_name(n: &Node) -> &'static str {
    match n {
        Node::Null => "null",
        Node::Bool(_) => "bool",
        Node::Int(_) => "int",
        Node::Float(_) => "float",
        Node::Str(_) => "string",
        Node::Seq(_) => "list",
        Node::Map(_) => "map",
    }
}

/// What an INI value's text reads as: `int` (`-12`), `float` (`8.5`), `bool` (`true`,
/// `false`, `yes`, `no`, `on`, `off`, any case) or `string` (anything else, and empty).
pub fn ini_type(text: &str) -> &'static str {
    let t = text.trim();
    if t.parse::<i64>().is_ok() {
        "int"
    } else if t.contains('.') && t.parse::<f64>().is_ok_and(f64::is_finite) {
        "float"
    } else if ["true", "false", "yes", "no", "on", "off"]
        .iter()
        .any(|b| t.eq_ignore_ascii_case(b))
    {
        "bool"
    } else {
        "string"
    }
}

/// The value a command-line `text` becomes at `key`, whose value is `now`: it keeps the type
/// of the value it replaces. An int stays an int, a bool a bool, a float a float (an int
/// given is written as a float), a string a string (`8` given is written as the string
/// `"8"`); a key that is absent or null takes the value as [`parse_value`] reads it. In an
/// INI file, where every value is text, the type is what the text reads as ([`ini_type`]):
/// an int stays an int, a float a number, a bool one of the bool words; a string takes any
/// text. A list or a map is never replaced by a scalar. A refusal names the file, the key,
/// its type and the value.
pub fn typed(path: &Path, key: &str, now: Option<&Node>, text: &str) -> Result<Node, ActError> {
    let refuse = |ty: &str, now: String| {
        ActError::Failed(format!(
            "{}: `{key}` is of type {ty} (now {now}); `{text}` is not {}: nothing written",
            path.display(),
            article(ty)
        ))
    };
    if format(path)? == Format::Ini {
        let Some(Node::Str(now)) = now else {
            return Ok(Node::Str(text.to_owned()));
        };
        let (want, got) = (ini_type(now), ini_type(text));
        let fits = match want {
            "string" => true,
            "float" => got == "float" || got == "int",
            _ => got == want,
        };
        return if fits {
            Ok(Node::Str(text.to_owned()))
        } else {
            Err(refuse(want, format!("`{now}`")))
        };
    }
    let new = parse_value(path, text)?;
    match (now, new) {
        (None | Some(Node::Null), new) => Ok(new),
        (Some(Node::Str(_)), _) => Ok(Node::Str(text.to_owned())),
        (Some(Node::Int(_)), new @ Node::Int(_))
        | (Some(Node::Bool(_)), new @ Node::Bool(_))
        | (Some(Node::Float(_)), new @ Node::Float(_)) => Ok(new),
        #[allow(clippy::cast_precision_loss)]
        (Some(Node::Float(_)), Node::Int(i)) => Ok(Node::Float(i as f64)),
        (Some(old), _) => Err(refuse(type_name(old), old.to_json().to_string())),
    }
}

/// `an int`, `a bool`.
fn article(ty: &str) -> String {
    if ty.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {ty}")
    } else {
        format!("a {ty}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_keep_their_type() {
        assert_eq!(Node::scalar("10"), Node::Int(10));
        assert_eq!(Node::scalar("true"), Node::Bool(true));
        assert_eq!(Node::scalar("8.5"), Node::Float(8.5));
        assert_eq!(Node::scalar("abc"), Node::Str("abc".into()));
        assert_eq!(Node::scalar("[1, 2]"), Node::Str("[1, 2]".into()));
        assert_eq!(Node::scalar(""), Node::Str(String::new()));
    }

    #[test]
    fn a_missing_parent_is_an_error_naming_the_key() {
        let mut root: Node = serde_saphyr::from_str("a:\n  b: 1\n").expect("yaml");
        assert_eq!(
            put(&mut root, "a.c", Some(Node::Int(2))).expect("put"),
            None
        );
        let e = put(&mut root, "x.y.z", Some(Node::Int(2))).expect_err("missing");
        assert!(
            e.to_string().contains("x.y.z") && e.to_string().contains("`x`"),
            "{e}"
        );
        let e = put(&mut root, "a.b.c", Some(Node::Int(2))).expect_err("scalar");
        assert!(e.to_string().contains("a.b.c"), "{e}");
    }
}
