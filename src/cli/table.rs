//! Plain-text tables that fit an 80-column terminal: left-aligned columns, two spaces apart,
//! long cells cut with an ellipsis, and the last column (a reason, a summary) wrapped onto
//! continuation lines when a row would be wider than the terminal. No colour: the output is
//! the same on a terminal, in a pipe and with `NO_COLOR`.

/// The width tables fit in.
pub const WIDTH: usize = 80;

/// A table with a header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Widest a column may grow (characters), per column.
    max: Vec<usize>,
    /// Keep every row on one line (lines that are read with grep, one per date).
    one_line: bool,
}

impl Table {
    pub fn new(header: &[&str], max: &[usize]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            max: max.to_vec(),
            one_line: false,
        }
    }

    /// Never wrap the last column: each row stays one line, however wide.
    pub fn one_line(mut self) -> Table {
        self.one_line = true;
        self
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn render(&self) -> String {
        let cut = |s: &str, max: usize| -> String {
            if s.chars().count() <= max {
                s.to_owned()
            } else {
                let mut t: String = s.chars().take(max.saturating_sub(1)).collect();
                t.push('…');
                t
            }
        };
        let all: Vec<Vec<String>> = std::iter::once(&self.header)
            .chain(&self.rows)
            .map(|r| {
                r.iter()
                    .enumerate()
                    .map(|(i, c)| cut(c, self.max.get(i).copied().unwrap_or(usize::MAX)))
                    .collect()
            })
            .collect();
        let cols = self.header.len();
        let widths: Vec<usize> = (0..cols)
            .map(|i| {
                all.iter()
                    .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        // Where the last column starts, and how much room it has before the edge.
        let start: usize = widths[..cols.saturating_sub(1)].iter().map(|w| w + 2).sum();
        let room = if self.one_line {
            usize::MAX
        } else {
            WIDTH.saturating_sub(start).max(20)
        };
        let mut out = String::new();
        for r in &all {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    let mut pieces = wrap(c, room).into_iter();
                    line.push_str(&pieces.next().unwrap_or_default());
                    for more in pieces {
                        out.push_str(line.trim_end());
                        out.push('\n');
                        line = " ".repeat(start);
                        line.push_str(&more);
                    }
                } else {
                    line.push_str(c);
                    line.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Splits text into lines of at most `room` characters, at spaces where it can.
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    for word in text.split(' ') {
        let mut word = word.to_owned();
        let len = |s: &str| s.chars().count();
        if !current.is_empty() && len(&current) + 1 + len(&word) > room {
            lines.push(std::mem::take(&mut current));
        }
        while len(&word) > room {
            let head: String = word.chars().take(room).collect();
            word = word.chars().skip(room).collect();
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            lines.push(head);
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(&word);
    }
    lines.push(current);
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_cuts() {
        let mut t = Table::new(&["ID", "JOB"], &[6, 5]);
        t.row(vec!["1".into(), "a-very-long-name".into()]);
        t.row(vec!["22".into(), "b".into()]);
        assert_eq!(t.render(), "ID  JOB\n1   a-ve…\n22  b\n");
    }

    #[test]
    fn the_last_column_wraps_within_80_columns() {
        let mut t = Table::new(&["ID", "REASON"], &[4, 500]);
        let long = "word ".repeat(40);
        t.row(vec!["7".into(), long.trim_end().into()]);
        let text = t.render();
        assert!(text.lines().all(|l| l.chars().count() <= WIDTH), "{text}");
        assert!(
            text.lines().skip(2).all(|l| l.starts_with("    word")),
            "{text}"
        );
        let words: usize = text
            .lines()
            .skip(1)
            .map(|l| l.split_whitespace().filter(|w| *w == "word").count())
            .sum();
        assert_eq!(words, 40, "nothing is lost");
    }
}
