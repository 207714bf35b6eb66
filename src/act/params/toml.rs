//! TOML parameter files through `toml_edit`, which keeps comments, spaces and order: a set
//! value takes over the old value's surrounding spaces and trailing comment, so only its own
//! text changes. Key paths walk tables, inline tables, dotted keys and (by index) arrays and
//! arrays of tables.

use std::path::Path;

use indexmap::IndexMap;
use toml_edit::{Array, DocumentMut, InlineTable, Item, Value};

use super::{Node, segments};
use crate::act::ActError;

fn parse(path: &Path, text: &str) -> Result<DocumentMut, ActError> {
    text.parse::<DocumentMut>().map_err(|e| {
        let at = e
            .span()
            .map(|s| {
                let (line, col) = line_col(text, s.start);
                format!(":{line}:{col}")
            })
            .unwrap_or_default();
        ActError::Failed(format!(
            "{}{at}: {}",
            path.display(),
            e.message().trim_end()
        ))
    })
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The whole file as a tree.
pub(super) fn load(path: &Path, text: &str) -> Result<Node, ActError> {
    Ok(item_node(parse(path, text)?.as_item()))
}

fn value_node(v: &Value) -> Node {
    match v {
        Value::String(s) => Node::Str(s.value().clone()),
        Value::Integer(i) => Node::Int(*i.value()),
        Value::Float(f) => Node::Float(*f.value()),
        Value::Boolean(b) => Node::Bool(*b.value()),
        Value::Datetime(d) => Node::Str(d.value().to_string()),
        Value::Array(a) => Node::Seq(a.iter().map(value_node).collect()),
        Value::InlineTable(t) => Node::Map(
            t.iter()
                .map(|(k, v)| (k.to_owned(), value_node(v)))
                .collect::<IndexMap<_, _>>(),
        ),
    }
}

fn item_node(item: &Item) -> Node {
    match item {
        Item::None => Node::Null,
        Item::Value(v) => value_node(v),
        Item::Table(t) => Node::Map(
            t.iter()
                .map(|(k, v)| (k.to_owned(), item_node(v)))
                .collect::<IndexMap<_, _>>(),
        ),
        Item::ArrayOfTables(a) => Node::Seq(
            a.iter()
                .map(|t| {
                    Node::Map(
                        t.iter()
                            .map(|(k, v)| (k.to_owned(), item_node(v)))
                            .collect::<IndexMap<_, _>>(),
                    )
                })
                .collect(),
        ),
    }
}

/// A node as a TOML value; TOML has no null.
fn toml_value(key: &str, node: &Node) -> Result<Value, ActError> {
    Ok(match node {
        Node::Null => {
            return Err(ActError::Failed(format!(
                "key `{key}`: TOML has no null value (give `--value '\"null\"'` for the text)"
            )));
        }
        Node::Bool(b) => Value::from(*b),
        Node::Int(i) => Value::from(*i),
        Node::Float(f) => Value::from(*f),
        Node::Str(s) => Value::from(s.as_str()),
        Node::Seq(items) => {
            let mut a = Array::new();
            for n in items {
                a.push(toml_value(key, n)?);
            }
            Value::Array(a)
        }
        Node::Map(m) => {
            let mut t = InlineTable::new();
            for (k, n) in m {
                t.insert(k, toml_value(key, n)?);
            }
            Value::InlineTable(t)
        }
    })
}

/// The new value, keeping the spaces and comment around the old one.
fn decorated(mut new: Value, old: &Value) -> Value {
    *new.decor_mut() = old.decor().clone();
    new
}

/// Sets (`Some`) or removes (`None`) the value at `key` in the text of a TOML file; returns
/// the value before and the new text.
pub(super) fn set(
    path: &Path,
    text: &str,
    key: &str,
    value: Option<Node>,
) -> Result<(Option<Node>, String), ActError> {
    let mut doc = parse(path, text)?;
    let segs = segments(key)?;
    let new = value.as_ref().map(|n| toml_value(key, n)).transpose()?;
    let w = Walk {
        path,
        key,
        segs: &segs,
    };
    let before = w.item(doc.as_item_mut(), 0, new)?;
    Ok((before, doc.to_string()))
}

/// A key path being followed: `segs[depth]` is the next name.
struct Walk<'a> {
    path: &'a Path,
    key: &'a str,
    segs: &'a [&'a str],
}

impl Walk<'_> {
    fn fail(&self, m: String) -> ActError {
        ActError::Failed(format!("{}: key `{}`: {m}", self.path.display(), self.key))
    }

    fn missing(&self, depth: usize) -> ActError {
        self.fail(format!(
            "`{}` does not exist (only the last part of a key path is created)",
            self.segs[..=depth].join(".")
        ))
    }

    fn not_table(&self, depth: usize) -> ActError {
        self.fail(format!("`{}` is not a table", self.segs[..depth].join(".")))
    }

    fn is_last(&self, depth: usize) -> bool {
        depth + 1 >= self.segs.len()
    }

    fn item(
        &self,
        item: &mut Item,
        depth: usize,
        new: Option<Value>,
    ) -> Result<Option<Node>, ActError> {
        let seg = self.segs[depth];
        match item {
            Item::Value(v) => self.value(v, depth, new),
            Item::ArrayOfTables(a) => {
                if self.is_last(depth) {
                    return Err(self.fail(format!(
                        "`{}` is an array of tables: set its keys one by one",
                        self.segs[..depth].join(".")
                    )));
                }
                let t = seg
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| a.get_mut(n))
                    .ok_or_else(|| self.missing(depth))?;
                let next = self.segs[depth + 1];
                if self.is_last(depth + 1) {
                    return self.last_in_table(t, next, new);
                }
                let child = t.get_mut(next).ok_or_else(|| self.missing(depth + 1))?;
                self.item(child, depth + 2, new)
            }
            Item::Table(_) | Item::None => {
                let Some(t) = item.as_table_like_mut() else {
                    return Err(self.not_table(depth));
                };
                if self.is_last(depth) {
                    return self.last_in_table(t, seg, new);
                }
                let child = t.get_mut(seg).ok_or_else(|| self.missing(depth))?;
                self.item(child, depth + 1, new)
            }
        }
    }

    fn value(
        &self,
        v: &mut Value,
        depth: usize,
        new: Option<Value>,
    ) -> Result<Option<Node>, ActError> {
        let seg = self.segs[depth];
        if self.is_last(depth) {
            return self.last_in_value(v, seg, depth, new);
        }
        let child = match v {
            Value::Array(a) => seg.parse::<usize>().ok().and_then(|n| a.get_mut(n)),
            Value::InlineTable(t) => t.get_mut(seg),
            _ => return Err(self.not_table(depth)),
        }
        .ok_or_else(|| self.missing(depth))?;
        self.value(child, depth + 1, new)
    }

    fn last_in_table(
        &self,
        t: &mut dyn toml_edit::TableLike,
        last: &str,
        new: Option<Value>,
    ) -> Result<Option<Node>, ActError> {
        let Some(new) = new else {
            return Ok(t.remove(last).as_ref().map(item_node));
        };
        match t.get_mut(last) {
            Some(Item::Value(old)) => {
                let before = value_node(old);
                *old = decorated(new, old);
                Ok(Some(before))
            }
            Some(Item::None) | None => {
                t.insert(last, Item::Value(new));
                Ok(None)
            }
            Some(_) => Err(self.fail(format!("`{last}` is a table: set its keys one by one"))),
        }
    }

    /// The last segment inside an inline value (an array item or an inline table's key).
    fn last_in_value(
        &self,
        v: &mut Value,
        last: &str,
        depth: usize,
        new: Option<Value>,
    ) -> Result<Option<Node>, ActError> {
        match v {
            Value::InlineTable(t) => match (t.get_mut(last), new) {
                (_, None) => Ok(t.remove(last).as_ref().map(value_node)),
                (Some(old), Some(new)) => {
                    let before = value_node(old);
                    *old = decorated(new, old);
                    Ok(Some(before))
                }
                (None, Some(new)) => {
                    t.insert(last, new);
                    Ok(None)
                }
            },
            Value::Array(a) => match (last.parse::<usize>().ok().and_then(|n| a.get_mut(n)), new) {
                (Some(old), Some(new)) => {
                    let before = value_node(old);
                    *old = decorated(new, old);
                    Ok(Some(before))
                }
                _ => Err(self.fail(format!(
                    "`{last}` is not an item of the list (lists are changed item by item)"
                ))),
            },
            _ => Err(self.not_table(depth)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# top comment\n\
        fiscal_year = 2026 # the year\n\
        \n\
        [counters]\n\
        # numbered per year\n\
        receipt_no   =   12   # last issued\n\
        name = \"x\"\n\
        \n\
        [db.pool]\n\
        size = 4\n\
        inline = { a = 1, b = [1, 2] }\n\
        \n\
        [[servers]]\n\
        host = \"a\"\n\
        [[servers]]\n\
        host = \"b\"\n";

    fn set_ok(key: &str, v: Option<Node>) -> (Option<Node>, String) {
        set(Path::new("p.toml"), TEXT, key, v).expect("set")
    }

    #[test]
    fn only_the_value_changes() {
        let (before, out) = set_ok("counters.receipt_no", Some(Node::Int(0)));
        assert_eq!(before, Some(Node::Int(12)));
        assert_eq!(
            out,
            TEXT.replace(
                "receipt_no   =   12   # last issued",
                "receipt_no   =   0   # last issued"
            )
        );
        let (before, out) = set_ok("fiscal_year", Some(Node::Int(2027)));
        assert_eq!(before, Some(Node::Int(2026)));
        assert_eq!(out, TEXT.replace("2026 #", "2027 #"));
        let (_, out) = set_ok("counters.name", Some(Node::Str("y z".into())));
        assert_eq!(out, TEXT.replace("name = \"x\"", "name = \"y z\""));
    }

    #[test]
    fn nested_tables_inline_tables_and_arrays() {
        let (b, out) = set_ok("db.pool.size", Some(Node::Bool(true)));
        assert_eq!(b, Some(Node::Int(4)));
        assert!(out.contains("size = true\n"), "{out}");
        let (b, out) = set_ok("db.pool.inline.a", Some(Node::Float(2.5)));
        assert_eq!(b, Some(Node::Int(1)));
        assert!(out.contains("inline = { a = 2.5, b = [1, 2] }"), "{out}");
        let (b, out) = set_ok("db.pool.inline.b.1", Some(Node::Int(7)));
        assert_eq!(b, Some(Node::Int(2)));
        assert!(out.contains("b = [1, 7]"), "{out}");
        let (b, out) = set_ok("servers.1.host", Some(Node::Str("c".into())));
        assert_eq!(b, Some(Node::Str("b".into())));
        assert!(
            out.contains("host = \"a\"\n[[servers]]\nhost = \"c\"\n"),
            "{out}"
        );
    }

    #[test]
    fn a_new_key_is_added_and_removed_again() {
        let (b, out) = set_ok("counters.notice_no", Some(Node::Int(1)));
        assert_eq!(b, None);
        assert!(out.contains("notice_no = 1\n"), "{out}");
        let (b, back) = set(Path::new("p.toml"), &out, "counters.notice_no", None).expect("rm");
        assert_eq!(b, Some(Node::Int(1)));
        assert_eq!(back, TEXT);
    }

    #[test]
    fn errors_name_the_file_the_line_and_the_key() {
        let e = set(Path::new("p.toml"), TEXT, "limits.max", Some(Node::Int(1)))
            .expect_err("missing table");
        assert!(e.to_string().contains("`limits` does not exist"), "{e}");
        let e = set(
            Path::new("p.toml"),
            TEXT,
            "fiscal_year.x",
            Some(Node::Int(1)),
        )
        .expect_err("scalar parent");
        assert!(e.to_string().contains("fiscal_year.x"), "{e}");
        let e =
            set(Path::new("p.toml"), TEXT, "counters", Some(Node::Int(1))).expect_err("a table");
        assert!(e.to_string().contains("is a table"), "{e}");
        let e = set(
            Path::new("p.toml"),
            "a = 1\nb = = 2\n",
            "a",
            Some(Node::Int(1)),
        )
        .expect_err("syntax");
        assert!(e.to_string().starts_with("p.toml:2:"), "{e}");
        let e = set(Path::new("p.toml"), TEXT, "fiscal_year", Some(Node::Null)).expect_err("null");
        assert!(e.to_string().contains("no null"), "{e}");
    }
}
