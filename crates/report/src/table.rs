//! A minimal aligned table: the first column left-aligned, the others right-aligned, widths
//! counted in characters (µ and ± are one column each). Cells may carry a [`Tone`]; colour is
//! added after padding, so escape codes never count toward a width.

use crate::style::{Style, Tone};

/// Rows of cells under a header.
#[derive(Debug, Clone)]
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
    tones: Vec<Vec<Tone>>,
    left_from: usize,
}

impl Table {
    /// A table with these column names.
    pub fn new(header: Vec<String>) -> Table {
        Table {
            header,
            rows: Vec::new(),
            tones: Vec::new(),
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
        self.tones.push(Vec::new());
    }

    /// Colour cell `col` of the last row in `tone` (terminal text only).
    pub fn tone_last(&mut self, col: usize, tone: Tone) {
        if let Some(t) = self.tones.last_mut() {
            if t.len() <= col {
                t.resize(col + 1, Tone::Plain);
            }
            t[col] = tone;
        }
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
        self.render_styled(Style::Plain)
    }

    /// Space-aligned text, the header bold and toned cells coloured when `style` is ANSI.
    pub fn render_styled(&self, style: Style) -> String {
        let w = self.widths();
        let mut out = String::new();
        let line = |cells: &[String], tones: &dyn Fn(usize) -> Tone, out: &mut String| {
            let mut parts = Vec::new();
            for (i, width) in w.iter().enumerate() {
                let c = cells.get(i).map_or("", String::as_str);
                let pad = " ".repeat(width - c.chars().count());
                let c = style.paint(tones(i), c);
                if i == 0 || i >= self.left_from {
                    parts.push(format!("{c}{pad}"));
                } else {
                    parts.push(format!("{pad}{c}"));
                }
            }
            out.push_str(parts.join("  ").trim_end());
            out.push('\n');
        };
        line(&self.header, &|_| Tone::Strong, &mut out);
        for (r, t) in self.rows.iter().zip(&self.tones) {
            line(r, &|i| t.get(i).copied().unwrap_or_default(), &mut out);
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

    fn strip(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for c in chars.by_ref() {
                    if c == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn aligns_by_characters() {
        let mut t = Table::new(vec!["name".into(), "value".into()]);
        t.row(vec!["a".into(), "1.0µs".into()]);
        t.row(vec!["longer".into(), "10s".into()]);
        assert_eq!(
            t.render_text(),
            "name    value\na       1.0µs\nlonger    10s\n"
        );
        t.tone_last(1, Tone::Bad);
        let styled = t.render_styled(Style::Ansi);
        let bare: String = strip(&styled);
        assert_eq!(bare, t.render_text(), "colour must not move a column");
        assert!(styled.contains("\x1b[1m"), "header bold: {styled:?}");
        assert_eq!(
            t.render_markdown(),
            "| name | value |\n|---|---:|\n| a | 1.0µs |\n| longer | 10s |\n"
        );
    }
}
