//! Keeping a YAML file's comments and layout when one value changes: for the common case, a
//! one-line scalar at a key path of block maps (`counters:` / `  receipt_no: 1  # note`), only
//! that value's text is replaced, a new key is one added line and a removed key one removed
//! line. Anything else (flow style, lists, quoted keys, multi-line values, anchors) is left to
//! the caller's full rewrite: [`edit`] returns `None` then, and also whenever the edited text
//! does not read back as exactly the tree the change should give.

use super::Node;

/// A non-blank, non-comment line's indentation, `None` for the others.
fn indent(line: &str) -> Option<usize> {
    let t = line.trim_start_matches(' ');
    if t.trim().is_empty() || t.starts_with('#') {
        None
    } else {
        Some(line.len() - t.len())
    }
}

fn body(line: &str) -> &str {
    line.trim_end_matches(['\n', '\r'])
}

/// The rest of a line after `key:` at exactly `ind` spaces, when it is that key's line.
fn after_key<'l>(line: &'l str, ind: usize, key: &str) -> Option<&'l str> {
    let b = body(line);
    if indent(b) != Some(ind) {
        return None;
    }
    let rest = b[ind..].strip_prefix(key)?.strip_prefix(':')?;
    (rest.is_empty() || rest.starts_with([' ', '\t'])).then_some(rest)
}

/// Where the scalar of `rest` (the text after `key:`) ends: before a trailing ` # comment`.
fn scalar_end(rest: &str) -> Option<usize> {
    let lead = rest.len() - rest.trim_start().len();
    let v = &rest[lead..];
    let b = v.as_bytes();
    let mut i = 0;
    match b.first() {
        None => return None,
        // Block scalars, flow collections, anchors, aliases, tags: not a one-line scalar.
        Some(b'|' | b'>' | b'[' | b'{' | b'&' | b'*' | b'!') => return None,
        Some(q @ (b'"' | b'\'')) => {
            i = 1;
            loop {
                match b.get(i) {
                    None => return None,
                    Some(b'\\') if *q == b'"' => i += 2,
                    Some(c) if c == q => {
                        if *q == b'\'' && b.get(i + 1) == Some(&b'\'') {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    }
                    Some(_) => i += 1,
                }
            }
        }
        Some(_) => {}
    }
    let end = (i..b.len())
        .find(|&j| b[j] == b'#' && j > 0 && (b[j - 1] == b' ' || b[j - 1] == b'\t'))
        .unwrap_or(b.len());
    Some(lead + v[..end].trim_end().len())
}

/// A scalar as YAML text on one line.
fn render(v: &Node) -> Option<String> {
    let text = match v {
        Node::Seq(_) | Node::Map(_) => return None,
        other => serde_saphyr::to_string(other).ok()?,
    };
    let text = text.trim_end_matches('\n');
    let text = text.strip_prefix("--- ").unwrap_or(text);
    (!text.contains('\n') && !text.is_empty()).then(|| text.to_owned())
}

/// The lines `start..end` of the block under the line `parent` (indented deeper than
/// `parent_ind`), and the indentation of its entries.
fn block(lines: &[&str], parent: usize, parent_ind: usize) -> (usize, usize, Option<usize>) {
    let start = parent + 1;
    let mut end = start;
    let mut child = None;
    for (i, l) in lines.iter().enumerate().skip(start) {
        match indent(body(l)) {
            Some(n) if n <= parent_ind => break,
            Some(n) => {
                child.get_or_insert(n);
                end = i + 1;
            }
            None => {}
        }
    }
    (start, end, child)
}

/// The text with the value at `segs` set (`Some`) or removed (`None`), when that can be done
/// on its line(s) and reads back as `expected`; `None` otherwise.
pub(super) fn edit(
    text: &str,
    segs: &[&str],
    value: Option<&Node>,
    expected: &Node,
) -> Option<String> {
    let mut lines: Vec<&str> = text.split_inclusive('\n').collect();
    let (last, parents) = segs.split_last()?;
    // The block of the parent map: lines [start, end) at indentation `ind`.
    let (mut start, mut end, mut ind) = (0, lines.len(), Some(0));
    for seg in parents {
        let i = ind?;
        let at = (start..end).find(|&n| after_key(lines[n], i, seg).is_some())?;
        let rest = after_key(lines[at], i, seg)?;
        if !(rest.trim().is_empty() || rest.trim_start().starts_with('#')) {
            return None;
        }
        let (s, e, c) = block(&lines, at, i);
        if c.is_some_and(|c| c <= i) {
            return None;
        }
        (start, end, ind) = (s, e, c);
    }
    let found = ind.and_then(|i| (start..end).find(|&n| after_key(lines[n], i, last).is_some()));
    let replaced: String;
    let added: String;
    match (found, value) {
        (Some(n), Some(v)) => {
            let i = ind?;
            let rest = after_key(lines[n], i, last)?;
            let cut = scalar_end(rest)?;
            let lead = rest.len() - rest.trim_start().len();
            let prefix_len = i + last.len() + 1;
            let line = lines[n];
            replaced = format!(
                "{}{}{}{}",
                &line[..prefix_len],
                &rest[..lead],
                render(v)?,
                &line[prefix_len + cut..]
            );
            lines[n] = &replaced;
        }
        (Some(n), None) => {
            // Only a one-line value: the next lines must not belong to it.
            if n + 1 < end && indent(body(lines[n + 1])).is_some_and(|x| Some(x) > ind) {
                return None;
            }
            lines.remove(n);
        }
        (None, Some(v)) => {
            let i = ind.or_else(|| parents.is_empty().then_some(0))?;
            let eol = if lines.first().is_some_and(|l| l.ends_with("\r\n")) {
                "\r\n"
            } else {
                "\n"
            };
            let at = if parents.is_empty() { lines.len() } else { end };
            if at == 0 && !parents.is_empty() {
                return None;
            }
            let mut pre = String::new();
            if at > 0 && !lines[at - 1].ends_with('\n') {
                pre.push_str(eol);
            }
            added = format!("{pre}{}{last}: {}{eol}", " ".repeat(i), render(v)?);
            lines.insert(at, &added);
        }
        (None, None) => return Some(text.to_owned()),
    }
    let out = lines.concat();
    let back: Node = serde_saphyr::from_str(&out).ok()?;
    (back == *expected).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "# The online system's parameters.\n\
        maintenance: false   # the nightly backup sets it\n\
        fiscal_year: 2026\n\
        name: \"みどり野 # 市\"  # quoted\n\
        counters:\n\
        \x20 # the last number issued\n\
        \x20 receipt_no: 12 # per year\n\
        \x20 resident_no: 20000\n\
        list:\n\
        \x20 - 1\n";

    fn apply(key: &str, v: Option<Node>) -> Option<String> {
        let segs: Vec<&str> = key.split('.').collect();
        let mut root: Node = serde_saphyr::from_str(TEXT).expect("yaml");
        super::super::put(&mut root, key, v.clone()).expect("put");
        edit(TEXT, &segs, v.as_ref(), &root)
    }

    #[test]
    fn only_the_value_changes() {
        assert_eq!(
            apply("counters.receipt_no", Some(Node::Int(0))).as_deref(),
            Some(TEXT.replace("receipt_no: 12 #", "receipt_no: 0 #").as_str())
        );
        assert_eq!(
            apply("fiscal_year", Some(Node::Int(2027))).as_deref(),
            Some(TEXT.replace("2026", "2027").as_str())
        );
        assert_eq!(
            apply("maintenance", Some(Node::Bool(true))).as_deref(),
            Some(TEXT.replace("false", "true").as_str())
        );
        let out = apply("name", Some(Node::Str("a: b # c".into()))).expect("edited");
        let back: Node = serde_saphyr::from_str(&out).expect("yaml");
        assert_eq!(
            super::super::get(&back, "name").expect("get"),
            Some(Node::Str("a: b # c".into()))
        );
        assert!(out.contains("  # quoted\n"), "{out}");
        // A string that reads as a number is quoted.
        let out = apply("counters.resident_no", Some(Node::Str("10".into()))).expect("edited");
        let back: Node = serde_saphyr::from_str(&out).expect("yaml");
        assert_eq!(
            super::super::get(&back, "counters.resident_no").expect("get"),
            Some(Node::Str("10".into()))
        );
    }

    #[test]
    fn added_and_removed_keys_are_one_line() {
        let out = apply("counters.max_sessions", Some(Node::Int(50))).expect("added");
        assert_eq!(
            out,
            TEXT.replace(
                "  resident_no: 20000\n",
                "  resident_no: 20000\n  max_sessions: 50\n"
            )
        );
        let out = apply("counters.resident_no", None).expect("removed");
        assert_eq!(out, TEXT.replace("  resident_no: 20000\n", ""));
        let out = apply("tax_rate_percent", Some(Node::Int(10))).expect("top");
        assert_eq!(out, format!("{TEXT}tax_rate_percent: 10\n"));
    }

    #[test]
    fn anything_else_is_left_to_the_full_rewrite() {
        assert_eq!(apply("list.0", Some(Node::Int(2))), None);
        assert_eq!(apply("counters", Some(Node::Int(2))), None);
    }
}
