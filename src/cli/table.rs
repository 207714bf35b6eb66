//! Plain-text tables that fit a terminal: left-aligned columns, two spaces apart, long cells
//! cut with an ellipsis.

/// A table with a header row.
#[derive(Debug, Default)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    /// Widest a column may grow (characters), per column.
    max: Vec<usize>,
}

impl Table {
    pub fn new(header: &[&str], max: &[usize]) -> Table {
        Table {
            header: header.iter().map(|h| (*h).to_owned()).collect(),
            rows: Vec::new(),
            max: max.to_vec(),
        }
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
        let mut out = String::new();
        for r in &all {
            let mut line = String::new();
            for (i, c) in r.iter().enumerate() {
                if i + 1 == r.len() {
                    line.push_str(c);
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
}
