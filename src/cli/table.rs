//! Plain-text tables: left-aligned columns, two spaces apart. A cell is never cut: ids, job
//! names, paths, hashes and notes are what operators copy. On a terminal the last column (a
//! reason, a note, a path) wraps at spaces onto continuation lines when a row would be wider
//! than the terminal (`COLUMNS`, else the terminal's size, else 80 columns); a word longer than
//! the room left is kept whole. Into a pipe or a file every row stays one line, whole. No
//! colour: the output is the same with and without `NO_COLOR`.

use std::io::IsTerminal;

/// The width when a terminal does not say its own.
pub const WIDTH: usize = 80;

/// The width tables fit in: `None` (no limit) when stdout is not a terminal, else `COLUMNS`,
/// else the terminal's size, else [`WIDTH`].
pub fn width() -> Option<usize> {
    let stdout = std::io::stdout();
    if !stdout.is_terminal() {
        return None;
    }
    let columns = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0);
    Some(
        columns
            .or_else(|| terminal_size::terminal_size_of(&stdout).map(|(w, _)| usize::from(w.0)))
            .unwrap_or(WIDTH),
    )
}

/// A table with a header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Keep every row on one line, also on a terminal (lines that are read with grep, one
    /// per date).
    one_line: bool,
}

impl Table {
    pub fn new(header: &[&str]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
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

    /// The table for stdout: wrapped to the terminal's width, or whole rows into a pipe.
    pub fn render(&self) -> String {
        self.render_within(width())
    }

    /// The table with its last column wrapped within `width` columns (`None`: never).
    pub fn render_within(&self, width: Option<usize>) -> String {
        let all: Vec<&Vec<String>> = std::iter::once(&self.header).chain(&self.rows).collect();
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
        let room = match width {
            Some(w) if !self.one_line => w.saturating_sub(start).max(20),
            _ => usize::MAX,
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
                    let w = widths.get(i).copied().unwrap_or(0);
                    line.push_str(&" ".repeat(w.saturating_sub(c.chars().count()) + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// Splits text into lines of at most `room` characters, at spaces; a longer word stays whole
/// on a line of its own.
fn wrap(text: &str, room: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut current = String::new();
    let len = |s: &str| s.chars().count();
    for word in text.split(' ') {
        if !current.is_empty() && len(&current) + 1 + len(word) > room {
            lines.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    lines.push(current);
    lines
}

/// A time for a short column: `MM-DD HH:MM`, with the year in front when it is not the year
/// of `now` (both in `tz`).
pub fn short_time(
    t: chrono::DateTime<chrono::Utc>,
    now: chrono::DateTime<chrono::Utc>,
    tz: chrono_tz::Tz,
) -> String {
    use chrono::Datelike;
    let local = t.with_timezone(&tz);
    if local.year() == now.with_timezone(&tz).year() {
        local.format("%m-%d %H:%M").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M").to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_and_never_cuts() {
        let mut t = Table::new(&["ID", "JOB"]);
        t.row(vec!["1".into(), "a-very-long-name".into()]);
        t.row(vec!["22".into(), "b".into()]);
        assert_eq!(
            t.render_within(Some(80)),
            "ID  JOB\n1   a-very-long-name\n22  b\n"
        );
    }

    #[test]
    fn the_last_column_wraps_within_the_terminal_width() {
        let mut t = Table::new(&["ID", "REASON"]);
        let long = "word ".repeat(40);
        t.row(vec!["7".into(), long.trim_end().into()]);
        let text = t.render_within(Some(WIDTH));
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
        // A wider terminal takes more per line.
        assert!(t.render_within(Some(220)).lines().count() < text.lines().count());
    }

    #[test]
    fn a_path_longer_than_the_room_is_never_split() {
        let path = format!("/srv/{}/extract.csv", "d".repeat(100));
        let hash = "ab".repeat(32);
        let mut t = Table::new(&["SHA256", "FILE"]);
        t.row(vec![hash.clone(), path.clone()]);
        for width in [Some(80), Some(220), None] {
            let text = t.render_within(width);
            assert!(text.contains(&path), "{text}");
            assert!(text.contains(&hash), "{text}");
        }
    }

    #[test]
    fn piped_rows_stay_one_line() {
        let mut t = Table::new(&["ID", "NOTE"]);
        let note = "a note ".repeat(40);
        t.row(vec!["1".into(), note.trim_end().into()]);
        assert_eq!(t.render_within(None).lines().count(), 2);
    }

    #[test]
    fn short_times_show_the_year_when_it_is_not_this_one() {
        use chrono::TimeZone;
        let tz = chrono_tz::Asia::Tokyo;
        let at = |y, m, d| {
            tz.with_ymd_and_hms(y, m, d, 9, 0, 0)
                .single()
                .expect("time")
                .to_utc()
        };
        let now = at(2026, 12, 5);
        assert_eq!(short_time(at(2026, 12, 24), now, tz), "12-24 09:00");
        assert_eq!(short_time(at(2027, 4, 1), now, tz), "2027-04-01 09:00");
    }
}
