//! The key check that runs before a file is deserialized: every unknown and every duplicate
//! key of a file, each with its position, in one go.
//!
//! Deserializing stops at a file's first problem; an operator who mistyped three keys would
//! otherwise fix them one run at a time. This pass reads the file as plain nested mappings
//! and sequences and compares every key with the fields of the `spec` type that will read
//! it. The field names come from the serde derives themselves, so they cannot drift from
//! the types.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;

use super::Scalar;
use super::diag::{self, Diagnostic};

/// A document as nested mappings and sequences, keeping where each key was written.
#[derive(Debug)]
enum Node {
    Map(Vec<(Spanned<Scalar>, Node)>),
    Seq(Vec<Node>),
    Scalar,
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Node;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(k) = map.next_key::<Spanned<Scalar>>()? {
                    entries.push((k, map.next_value::<Node>()?));
                }
                Ok(Node::Map(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(n) = seq.next_element::<Node>()? {
                    items.push(n);
                }
                Ok(Node::Seq(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Scalar)
            }
        }
        d.deserialize_any(V)
    }
}

/// Where a key's value leads.
#[derive(Debug, Clone, Copy)]
pub enum Child {
    /// A struct with these fields.
    Struct(&'static Shape),
    /// A map of names to structs (`steps:`, `params:`, `calendars:`).
    MapOf(&'static Shape),
    /// A sequence of structs (`rules:`, `schedules:`).
    SeqOf(&'static Shape),
}

/// The keys a struct accepts, and the shapes below those that hold structs.
#[derive(Debug)]
pub struct Shape {
    pub fields: &'static [&'static str],
    pub children: Vec<(&'static str, Child)>,
}

/// The field names of a struct, read from its serde derive.
pub fn fields_of<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Grab<'a>(&'a mut &'static [&'static str]);
    #[derive(Debug)]
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> Deserializer<'de> for Grab<'_> {
        type Error = Stop;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            *self.0 = fields;
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Grab(&mut fields));
    fields
}

/// Reads `text` as plain YAML and reports every unknown and duplicate key against `shape`.
/// Returns nothing when the file cannot even be read as YAML: the typed pass reports that.
pub fn check(file: &Path, text: &str, shape: &Shape) -> Vec<Diagnostic> {
    let mut options = super::options();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::PassThrough;
    let Ok(node) = serde_saphyr::from_str_with_options::<Node>(text, options) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    walk(file, &node, shape, &mut out);
    out
}

/// `text` with the keys at `places` (1-based line and column) taken out, each with its value:
/// the key's line and the more indented lines below it become empty lines, so every other
/// line keeps its number and its columns. `None` when a key does not begin its line (a key
/// in a flow mapping `{ a: 1 }` or right after a sequence's `- `): then it cannot be cut out
/// by lines.
pub fn without(text: &str, places: &[(u32, u32)]) -> Option<String> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let indent = |l: &str| l.chars().take_while(|c| *c == ' ').count();
    let blank = |l: &str| {
        let t = l.trim();
        t.is_empty() || t.starts_with('#')
    };
    for &(line, column) in places {
        let at = usize::try_from(line).ok()?.checked_sub(1)?;
        let col = usize::try_from(column).ok()?.checked_sub(1)?;
        let first = lines.get(at)?;
        if indent(first) != col {
            return None;
        }
        lines[at] = "\n";
        let mut next = at + 1;
        while let Some(l) = lines.get(next) {
            if !blank(l) && indent(l) <= col {
                break;
            }
            lines[next] = "\n";
            next += 1;
        }
    }
    Some(lines.concat())
}

fn walk(file: &Path, node: &Node, shape: &Shape, out: &mut Vec<Diagnostic>) {
    let Node::Map(entries) = node else { return };
    let mut seen: HashMap<&str, ()> = HashMap::new();
    for (key, value) in entries {
        let name = key.value.0.as_str();
        if seen.insert(name, ()).is_some() {
            out.push(Diagnostic::spanned(
                file,
                key,
                format!("duplicate key `{name}`"),
            ));
            continue;
        }
        if !shape.fields.contains(&name) {
            let mut m = format!("unknown key `{name}`");
            m.push_str(&diag::hint(name, shape.fields.iter().copied()));
            if diag::did_you_mean(name, shape.fields.iter().copied()).is_none() {
                m.push_str(&format!("; expected one of: {}", shape.fields.join(", ")));
            }
            out.push(Diagnostic::spanned(file, key, m));
            continue;
        }
        let Some((_, child)) = shape.children.iter().find(|(k, _)| *k == name) else {
            continue;
        };
        match (child, value) {
            (Child::Struct(s), v) => walk(file, v, s, out),
            (Child::MapOf(s), Node::Map(items)) => {
                let mut names: HashMap<&str, ()> = HashMap::new();
                for (k, v) in items {
                    if names.insert(k.value.0.as_str(), ()).is_some() {
                        out.push(Diagnostic::spanned(
                            file,
                            k,
                            format!("duplicate key `{}`", k.value.0),
                        ));
                    }
                    walk(file, v, s, out);
                }
            }
            (Child::SeqOf(s), Node::Seq(items)) => {
                for v in items {
                    walk(file, v, s, out);
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        run: String,
        needs: Vec<String>,
    }

    #[derive(Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        description: String,
        steps: std::collections::BTreeMap<String, Inner>,
    }

    fn shape() -> Shape {
        let inner: &'static Shape = Box::leak(Box::new(Shape {
            fields: fields_of::<Inner>(),
            children: vec![],
        }));
        Shape {
            fields: fields_of::<Outer>(),
            children: vec![("steps", Child::MapOf(inner))],
        }
    }

    #[test]
    fn reads_field_names_from_serde() {
        assert_eq!(fields_of::<Inner>(), ["run", "needs"]);
    }

    #[test]
    fn keys_are_cut_out_with_their_values_and_lines_kept() {
        let text = "a: 1\nsteps:\n  x:\n    run: echo\n    timout:\n      - 5s\n\n    needs: [z]\n";
        assert_eq!(
            without(text, &[(5, 5)]).as_deref(),
            Some("a: 1\nsteps:\n  x:\n    run: echo\n\n\n\n    needs: [z]\n")
        );
        assert_eq!(without("s: { a: 1, b: 2 }\n", &[(1, 12)]), None);
        assert_eq!(without("r:\n  - a: 1\n", &[(2, 5)]), None);
    }

    #[test]
    fn reports_every_unknown_and_duplicate_key() {
        let text = "descripton: x\nsteps:\n  a:\n    rnu: echo\n    neds: []\n  a:\n    run: x\n";
        let d = check(Path::new("f.yaml"), text, &shape());
        let got: Vec<String> = d.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "error: f.yaml:1:1: unknown key `descripton` (did you mean `description`?)",
                "error: f.yaml:4:5: unknown key `rnu` (did you mean `run`?)",
                "error: f.yaml:5:5: unknown key `neds` (did you mean `needs`?)",
                "error: f.yaml:6:3: duplicate key `a`",
            ]
        );
    }
}
