//! Names are data: a benchmark name, label or param comes from outside and must not change the
//! document it lands in. Each format gets its own escaping.

/// For a terminal: control characters (ESC, CR, BEL, C1…) are shown as `\x1b`-style escapes, so a
/// name cannot move the cursor, recolour the screen or fake a line.
pub fn terminal(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            let n = u32::from(c);
            if n <= 0xff {
                out.push_str(&format!("\\x{n:02x}"));
            } else {
                out.push_str(&format!("\\u{{{n:x}}}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// For a Markdown table cell (a pull-request comment): `|` cannot split the cell, a newline cannot
/// end the row, `<`/`>`/`&` cannot open HTML, and emphasis, code and link marks stay literal.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in terminal(s).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '|' | '*' | '_' | '`' | '[' | ']' | '\\' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// For HTML text and attribute values.
pub fn html(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_shows_control_characters() {
        assert_eq!(terminal("a\x1b[31mred\r\n"), "a\\x1b[31mred\\x0d\\x0a");
        assert_eq!(terminal("plain µs"), "plain µs");
    }

    #[test]
    fn markdown_cannot_break_a_table_or_open_html() {
        let m = markdown("A|B\n<img src=x>*bold*");
        assert!(!m.contains('\n') && !m.contains('<'), "{m}");
        assert_eq!(m, "A\\|B\\\\x0a&lt;img src=x&gt;\\*bold\\*");
    }

    #[test]
    fn html_escapes_quotes_too() {
        assert_eq!(html("<a href=\"x\">'"), "&lt;a href=&quot;x&quot;&gt;&#39;");
    }
}
