//! A minimal aligned table: the first column left-aligned, the others right-aligned, widths
//! counted in characters (µ and ± are one column each).

/// Rows of cells under a header.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    left_from: usize,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: Vec<String>) -> Table {
        Table {
            header,
            rows: Vec::new(),
            left_from: usize::MAX,
        }
    }

    /// Left-align the columns from index `i` on as well (names after numbers, as pprof does).
    pub fn left_align_from(mut self, i: usize) -> Table {
        self.left_from = i;
        self
    }

    /// Add a row (missing cells are blank).
    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn widths(&self) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for r in &self.rows {
            for (i, c) in r.iter().enumerate() {
                if i < w.len() {
                    w[i] = w[i].max(c.chars().count());
                }
            }
        }
        w
    }

    /// Space-aligned text.
    pub fn render_text(&self) -> String {
        let w = self.widths();
        let mut out = String::new();
        let line = |cells: &[String], out: &mut String| {
            let mut parts = Vec::new();
            for (i, width) in w.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = width - c.chars().count();
                if i == 0 || i >= self.left_from {
                    parts.push(format!("{c}{}", " ".repeat(pad)));
                } else {
                    parts.push(format!("{}{c}", " ".repeat(pad)));
                }
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(&self.header, &mut out);
        for r in &self.rows {
            line(r, &mut out);
        }
        out
    }

    /// A GitHub-flavoured Markdown table.
    /// Every cell is data and is escaped (`|`, HTML, emphasis), so a name cannot break the table.
    pub fn render_markdown(&self) -> String {
        let esc = crate::escape::markdown;
        let mut out = format!(
            "| {} |\n|{}|\n",
            self.header
                .iter()
                .map(|h| esc(h))
                .collect::<Vec<_>>()
                .join(" | "),
            self.header
                .iter()
                .enumerate()
                .map(|(i, _)| if i == 0 { "---" } else { "---:" })
                .collect::<Vec<_>>()
                .join("|")
        );
        for r in &self.rows {
            out.push_str(&format!(
                "| {} |\n",
                r.iter().map(|c| esc(c)).collect::<Vec<_>>().join(" | ")
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_by_characters() {
        let mut t = Table::new(vec!["name".into(), "value".into()]);
        t.row(vec!["a".into(), "1.0µs".into()]);
        t.row(vec!["longer".into(), "10s".into()]);
        assert_eq!(
            t.render_text(),
            "name    value\na       1.0µs\nlonger    10s\n"
        );
        assert_eq!(
            t.render_markdown(),
            "| name | value |\n|---|---:|\n| a | 1.0µs |\n| longer | 10s |\n"
        );
    }
}
