//! CSV as unyo writes it (extracts, archives, reports): one field quoted when RFC 4180 asks for
//! it, and text a spreadsheet would run as a formula guarded.

/// Text a spreadsheet would read as a formula (a first character `=`, `+`, `-`, `@`, tab or
/// CR: a resident registered as `=HYPERLINK(...)`) gets a leading `'`, so Excel shows it as
/// text and runs nothing when the file is opened. Text that is a plain number (`-5`, `+3.5`)
/// is left as it is.
pub fn guard_formula(value: &mut String) {
    let risky = value.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && value.trim().parse::<f64>().is_err() {
        value.insert(0, '\'');
    }
}

/// One CSV field, quoted when RFC 4180 asks for it (a comma, a quote, CR or LF inside;
/// quotes doubled).
pub fn field(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\"")).into()
    } else {
        value.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_a_spreadsheet_would_run_is_written_as_text() {
        let guarded = |v: &str| {
            let mut v = v.to_owned();
            guard_formula(&mut v);
            v
        };
        assert_eq!(
            guarded("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(guarded("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(guarded("+81-3-1234"), "'+81-3-1234");
        assert_eq!(guarded("\t=1"), "'\t=1");
        assert_eq!(guarded("-5"), "-5");
        assert_eq!(guarded("+3.5"), "+3.5");
        assert_eq!(guarded("佐藤 花子"), "佐藤 花子");
        assert_eq!(guarded("a=b"), "a=b");
    }

    #[test]
    fn fields_are_quoted_only_when_rfc_4180_needs_it() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("山田 太郎"), "山田 太郎");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\rhere"), "\"cr\rhere\"");
        assert_eq!(field("\""), "\"\"\"\"");
    }
}
