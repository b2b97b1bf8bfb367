//! Shell-style globs (`*` any run, `?` one character) for benchmark names in rules and targets:
//! enough for `Search*` or `*/size=1024*`, without a regex engine.

/// Whether `text` matches `pattern` in full.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn globs() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("Search*", "Search/size=10"));
        assert!(!glob_match("Search*", "search"));
        assert!(glob_match("a?c", "abc"));
        assert!(glob_match("*size=1024*", "X/size=1024/procs=8"));
        assert!(!glob_match("a*b", "acbd"));
        assert!(glob_match("", ""));
    }
}
