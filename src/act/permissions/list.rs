//! The transfer list (CSV: `staff_id,name,from,to,effective`, RFC 4180, UTF-8): its records
//! read with the line and column of each field, every problem at once.

use std::collections::HashMap;
use std::path::Path;

use chrono::NaiveDate;

use crate::act::{ActError, io};

/// The columns of a transfer list, in the order the sample list has them.
pub const COLUMNS: [&str; 5] = ["staff_id", "name", "from", "to", "effective"];

/// One line of a transfer list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The line of the file (1 = the header).
    pub line: usize,
    pub staff_id: String,
    pub name: String,
    pub from: String,
    pub to: String,
    pub effective: NaiveDate,
    /// Where each field starts (characters, from 1), in the order of [`COLUMNS`].
    pub cols: [usize; 5],
}

impl Transfer {
    /// The column where field `name` starts.
    pub fn col(&self, name: &str) -> usize {
        COLUMNS
            .iter()
            .position(|c| *c == name)
            .and_then(|i| self.cols.get(i).copied())
            .unwrap_or(1)
    }
}

/// A field of a CSV record: its text and the column (characters, from 1) where it starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Field {
    col: usize,
    text: String,
}

/// A CSV record and the line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Record {
    line: usize,
    fields: Vec<Field>,
}

/// A problem found at a place in a file, printed `file:line:column: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: usize,
    pub col: usize,
    pub message: String,
}

/// Splits CSV text (RFC 4180: `"` quotes a field, `""` inside it is one `"`, fields may span
/// lines inside quotes; CRLF or LF) into records. A leading byte-order mark is dropped. Lines
/// that are empty are skipped.
pub(super) fn parse_csv(text: &str) -> Result<Vec<Record>, Problem> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut records = Vec::new();
    let mut fields: Vec<Field> = Vec::new();
    let mut field = String::new();
    let (mut line, mut col) = (1usize, 1usize);
    let mut record_line = 1;
    let mut field_col = 1;
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    col += 2;
                    field.push('"');
                }
                '"' => {
                    quoted = false;
                    col += 1;
                }
                '\n' => {
                    field.push('\n');
                    line += 1;
                    col = 1;
                }
                _ => {
                    field.push(c);
                    col += 1;
                }
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                was_quoted = true;
                at_field_start = false;
                col += 1;
            }
            '"' => {
                return Err(Problem {
                    line,
                    col,
                    message: "a `\"` inside an unquoted field (quote the whole field and \
                              write `\"\"` for a quote)"
                        .to_owned(),
                });
            }
            ',' => {
                fields.push(Field {
                    col: field_col,
                    text: std::mem::take(&mut field),
                });
                col += 1;
                field_col = col;
                at_field_start = true;
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                let empty = fields.is_empty() && field.is_empty() && !was_quoted;
                if !empty {
                    fields.push(Field {
                        col: field_col,
                        text: std::mem::take(&mut field),
                    });
                    records.push(Record {
                        line: record_line,
                        fields: std::mem::take(&mut fields),
                    });
                }
                line += 1;
                col = 1;
                field_col = 1;
                record_line = line;
                at_field_start = true;
                was_quoted = false;
            }
            _ => {
                if was_quoted {
                    return Err(Problem {
                        line,
                        col,
                        message: "text after the closing `\"` of a quoted field".to_owned(),
                    });
                }
                field.push(c);
                at_field_start = false;
                col += 1;
            }
        }
    }
    if quoted {
        return Err(Problem {
            line,
            col,
            message: "a quoted field is not closed".to_owned(),
        });
    }
    if !(fields.is_empty() && field.is_empty() && !was_quoted) {
        fields.push(Field {
            col: field_col,
            text: field,
        });
        records.push(Record {
            line: record_line,
            fields,
        });
    }
    Ok(records)
}

/// Reads the lines of a transfer list: the header names the five columns (in any order);
/// every field must be present and `effective` a date. Problems are all collected.
pub fn parse_list(text: &str) -> Result<Vec<Transfer>, Vec<Problem>> {
    let records = parse_csv(text).map_err(|p| vec![p])?;
    let Some((header, rows)) = records.split_first() else {
        return Err(vec![Problem {
            line: 1,
            col: 1,
            message: format!("the list is empty; its header is `{}`", COLUMNS.join(",")),
        }]);
    };
    let mut problems = Vec::new();
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (i, f) in header.fields.iter().enumerate() {
        let name = f.text.trim();
        if !COLUMNS.contains(&name) {
            problems.push(Problem {
                line: header.line,
                col: f.col,
                message: format!(
                    "unknown column `{name}`{}; the columns are `{}`",
                    crate::spec::diag::hint(name, COLUMNS.iter().copied()),
                    COLUMNS.join(",")
                ),
            });
        } else if let Some(&known) = COLUMNS.iter().find(|c| **c == name)
            && index.insert(known, i).is_some()
        {
            problems.push(Problem {
                line: header.line,
                col: f.col,
                message: format!("column `{name}` is named twice"),
            });
        }
    }
    for c in COLUMNS {
        if !index.contains_key(c) {
            problems.push(Problem {
                line: header.line,
                col: 1,
                message: format!(
                    "the header has no column `{c}`; it must be `{}`",
                    COLUMNS.join(",")
                ),
            });
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut out = Vec::new();
    for r in rows {
        if r.fields.len() != header.fields.len() {
            problems.push(Problem {
                line: r.line,
                col: 1,
                message: format!(
                    "{} fields, the header has {}",
                    r.fields.len(),
                    header.fields.len()
                ),
            });
            continue;
        }
        let get = |name: &str| -> &Field {
            // Every column is in `index` (checked above) and every row has as many fields.
            &r.fields[index.get(name).copied().unwrap_or(0)]
        };
        let mut bad = false;
        for c in COLUMNS {
            if get(c).text.trim().is_empty() {
                problems.push(Problem {
                    line: r.line,
                    col: get(c).col,
                    message: format!("column `{c}` is empty"),
                });
                bad = true;
            }
        }
        let eff = get("effective");
        let effective = match NaiveDate::parse_from_str(eff.text.trim(), "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(_) if !eff.text.trim().is_empty() => {
                problems.push(Problem {
                    line: r.line,
                    col: eff.col,
                    message: format!(
                        "column `effective`: `{}` is not a date (`YYYY-MM-DD`)",
                        eff.text
                    ),
                });
                None
            }
            Err(_) => None,
        };
        if let (Some(effective), false) = (effective, bad) {
            out.push(Transfer {
                line: r.line,
                staff_id: get("staff_id").text.trim().to_owned(),
                name: get("name").text.trim().to_owned(),
                from: get("from").text.trim().to_owned(),
                to: get("to").text.trim().to_owned(),
                effective,
                cols: COLUMNS.map(|c| get(c).col),
            });
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

/// Reads a transfer list file; problems name the file, line and column.
pub fn read_list(path: &Path) -> Result<Vec<Transfer>, ActError> {
    let bytes = std::fs::read(path).map_err(io("read", path))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        ActError::Failed(format!(
            "{}: not UTF-8 (byte {}); save the list as UTF-8 CSV",
            path.display(),
            e.utf8_error().valid_up_to()
        ))
    })?;
    parse_list(&text).map_err(|ps| problems_error(path, &ps))
}

/// Problems as one failure, one line each: `file:line:column: message`.
pub fn problems_error(path: &Path, problems: &[Problem]) -> ActError {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| format!("{}:{}:{}: {}", path.display(), p.line, p.col, p.message))
        .collect();
    ActError::Failed(format!(
        "{}\n{} problem{} in the transfer list; nothing changed",
        lines.join("\n"),
        problems.len(),
        if problems.len() == 1 { "" } else { "s" }
    ))
}
