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

/// Whether a benchmark pattern names this benchmark. Users type the key `compare` prints
/// (`Search/size=1000`, with the params shared by the table left in its header), so a pattern
/// matches when it matches the whole key or the name, or when its plain segments match the
/// name and each `key=value` segment matches one of the params (a `*` segment allows the rest):
/// `Hash/size=64/*` names `Hash` with `size=64` whatever its `pkg` and `procs`.
pub fn benchmark_matches(
    pattern: &str,
    name: &str,
    params: &std::collections::BTreeMap<String, String>,
) -> bool {
    let mut key = name.to_string();
    for (k, v) in params {
        key.push_str(&format!("/{k}={v}"));
    }
    if glob_match(pattern, &key) || glob_match(pattern, name) {
        return true;
    }
    let mut name_parts = Vec::new();
    let mut constraints = Vec::new();
    for seg in pattern.split('/') {
        match seg.split_once('=') {
            Some((k, v)) if !k.is_empty() && !k.contains('*') => constraints.push((k, v)),
            _ => name_parts.push(seg),
        }
    }
    if constraints.is_empty() {
        return false;
    }
    while name_parts.len() > 1 && name_parts.last() == Some(&"*") {
        name_parts.pop();
    }
    let name_pattern = name_parts.join("/");
    let name_ok = name_pattern.is_empty() || name_pattern == "*" || glob_match(&name_pattern, name);
    name_ok
        && constraints
            .iter()
            .all(|(k, v)| params.get(*k).is_some_and(|actual| glob_match(v, actual)))
}

#[cfg(test)]
mod tests {
    use super::{benchmark_matches, glob_match};

    #[test]
    fn patterns_match_the_key_users_see() {
        let params: std::collections::BTreeMap<String, String> =
            [("pkg", "example.com/x"), ("procs", "8"), ("size", "64")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
        for yes in [
            "Hash",
            "Hash*",
            "Hash/size=64",
            "Hash/size=64/*",
            "Hash/size=6?",
            "*/size=64",
            "Hash/pkg=example.com/x/procs=8/size=64",
        ] {
            assert!(benchmark_matches(yes, "Hash", &params), "{yes}");
        }
        for no in [
            "Hash/size=128",
            "Hash/size=64/threads=2",
            "Other/size=64",
            "Hashes",
        ] {
            assert!(!benchmark_matches(no, "Hash", &params), "{no}");
        }
    }

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
