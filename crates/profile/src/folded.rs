//! Folded stacks, the flamegraph toolkit's exchange format: one line per stack, frames root
//! first separated by `;`, then a space and the value (`main;parse;memcpy 42`).

use crate::{Profile, ProfileError, ValueType};

/// Append a frame name, replacing the separators the format cannot carry.
pub(crate) fn push_name(out: &mut String, name: &str) {
    if name.contains([';', '\n']) {
        out.extend(name.chars().map(|c| match c {
            ';' => ':',
            '\n' => ' ',
            c => c,
        }));
    } else {
        out.push_str(name);
    }
}

/// Read folded stacks. The values are sample counts unless `value_type` says otherwise. A line
/// may carry a second value (differential input); only the first is read.
pub fn parse(text: &str, source: &str, value_type: ValueType) -> Result<Profile, ProfileError> {
    let mut p = Profile::new(vec![value_type]);
    let mut stack = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (frames, value) = split_value(line).ok_or_else(|| {
            ProfileError::malformed(source, Some(n + 1), "expected 'a;b;c COUNT'")
        })?;
        stack.clear();
        for f in frames.split(';').filter(|f| !f.is_empty()) {
            stack.push(p.intern_fn(f, None));
        }
        p.add(&stack, &[value]);
        p.raw_samples += value.max(0) as u64;
    }
    if p.samples.is_empty() {
        return Err(ProfileError::malformed(source, None, "no stacks"));
    }
    Ok(p)
}

/// Split `stack value [value2]` into the stack and the first value.
fn split_value(line: &str) -> Option<(&str, i64)> {
    let (head, last) = line.rsplit_once(' ')?;
    let last_v: f64 = last.parse().ok()?;
    // Differential lines carry two counts: `stack before after`.
    if let Some((stack, first)) = head.rsplit_once(' ') {
        if let Ok(v) = first.parse::<f64>() {
            return Some((stack, v.round() as i64));
        }
    }
    Some((head, last_v.round() as i64))
}

/// Write column `index` as folded text.
pub fn write(profile: &Profile, index: usize) -> String {
    let mut out = String::new();
    for (stack, v) in profile.folded(index) {
        out.push_str(&stack);
        out.push(' ');
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let text = "main;a;b 3\nmain;c 2\nmain 1\n";
        let p = parse(text, "t", ValueType::new("samples", "count")).unwrap();
        assert_eq!(p.total(0), 6);
        assert_eq!(write(&p, 0), "main 1\nmain;a;b 3\nmain;c 2\n");
    }

    #[test]
    fn names_with_spaces_and_differential_lines_read() {
        let p = parse(
            "main;<Vec<T> as Drop>::drop 5\nmain;x 1 4\n",
            "t",
            ValueType::new("samples", "count"),
        )
        .unwrap();
        assert_eq!(p.total(0), 6);
        assert!(p
            .frames
            .iter()
            .any(|f| f.function == "<Vec<T> as Drop>::drop"));
    }

    #[test]
    fn malformed_lines_name_the_line() {
        let e = parse(
            "main 1\nno-count-here\n",
            "f.folded",
            ValueType::new("s", "count"),
        );
        assert_eq!(
            e.unwrap_err().to_string(),
            "f.folded:2: expected 'a;b;c COUNT'"
        );
        assert!(parse("", "f", ValueType::new("s", "count")).is_err());
    }
}
