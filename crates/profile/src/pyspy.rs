//! py-spy, the CPU backend for Python programs: it reads the interpreter's own frames, so every
//! stack is whole (`<module> → main → hot_loop`) with file and line on every CPython 3.x, where
//! perf sees only the interpreter's loop (3.11) or Python functions without callers (3.12+).
//! Its `--format raw` output is folded stacks whose frames read `NAME (FILE:LINE)`.

use crate::{Frame, Profile, ProfileError, ValueType};

/// A py-spy frame `hot_loop (app/x.py:12)` as a function with its file and line; a frame
/// without that shape (a native frame with `--native`) keeps its whole text as the name.
fn frame(text: &str) -> Frame {
    let parsed = text.strip_suffix(')').and_then(|t| {
        let (name, place) = t.rsplit_once(" (")?;
        let (file, line) = place.rsplit_once(':')?;
        Some((name, file, line.parse::<u32>().ok()?))
    });
    match parsed {
        Some((name, file, line)) => Frame {
            function: name.to_string(),
            file: Some(file.to_string()),
            line: Some(line),
            module: None,
            address: None,
        },
        None => Frame::function(text),
    }
}

/// Read py-spy's raw output, sampled at `rate` Hz: columns `samples` and `cpu` (nanoseconds,
/// one sampling period a sample).
///
/// # Errors
/// A line that is not `frames COUNT` (file and line in the message), or no stacks at all.
pub fn parse(text: &str, source: &str, rate: u32) -> Result<Profile, ProfileError> {
    let mut p = Profile::new(vec![
        ValueType::new("samples", "count"),
        ValueType::new("cpu", "nanoseconds"),
    ]);
    let period = 1e9 / f64::from(rate.max(1));
    let mut stack = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end();
        if line.is_empty() {
            continue;
        }
        let (frames, count) = line
            .rsplit_once(' ')
            .and_then(|(f, c)| Some((f, c.parse::<i64>().ok()?)))
            .ok_or_else(|| {
                ProfileError::malformed(source, Some(n + 1), "expected 'frame;frame COUNT'")
            })?;
        stack.clear();
        for f in frames.split(';').filter(|f| !f.is_empty()) {
            stack.push(p.intern(frame(f)));
        }
        p.add(&stack, &[count, (count as f64 * period).round() as i64]);
        p.raw_samples += count.max(0) as u64;
    }
    if p.samples.is_empty() {
        return Err(ProfileError::malformed(source, None, "no stacks"));
    }
    Ok(p)
}

/// Whether `argv` runs Python: the interpreter itself (`python3`, `python3.12`, `pypy` is not
/// CPython and is left to perf), or a script whose `#!` line names it.
pub fn is_python(argv: &[String]) -> bool {
    let Some(first) = argv.first() else {
        return false;
    };
    let interpreter = |word: &str| {
        let base = word.rsplit('/').next().unwrap_or(word);
        base == "python"
            || base
                .strip_prefix("python")
                .is_some_and(|v| !v.is_empty() && v.chars().all(|c| c.is_ascii_digit() || c == '.'))
    };
    if interpreter(first) {
        return true;
    }
    if first == "env" || first.ends_with("/env") {
        return argv.get(1).is_some_and(|w| interpreter(w));
    }
    let Some(path) = crate::elf::resolve_program(first) else {
        return false;
    };
    let mut head = [0u8; 128];
    let n = std::fs::File::open(path)
        .and_then(|mut f| std::io::Read::read(&mut f, &mut head))
        .unwrap_or(0);
    let head = String::from_utf8_lossy(&head[..n]);
    head.strip_prefix("#!")
        .and_then(|l| l.lines().next())
        .is_some_and(|l| l.split_whitespace().any(interpreter))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_keep_function_file_and_line() {
        let text = "<module> (hot.py:11);main (hot.py:9);hot_loop (hot.py:3) 52\n\
                    <module> (hot.py:11);main (hot.py:9);hot_loop (hot.py:4) 8\n";
        let p = parse(text, "raw.txt", 100).unwrap();
        assert_eq!(p.samples.len(), 2);
        let leaf = &p.frames[*p.samples[0].stack.last().unwrap() as usize];
        assert_eq!(leaf.function, "hot_loop");
        assert_eq!(leaf.file.as_deref(), Some("hot.py"));
        assert_eq!(leaf.line, Some(3));
        assert_eq!(p.samples[0].values, vec![52, 520_000_000]);
        let bad = parse("main (x.py:1) many\n", "raw.txt", 100).unwrap_err();
        assert!(bad.to_string().contains("raw.txt:1"), "{bad}");
    }

    #[test]
    fn python_programs_are_recognised() {
        let v = |w: &[&str]| w.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(is_python(&v(&["python3", "x.py"])));
        assert!(is_python(&v(&["/usr/bin/python3.12", "-m", "x"])));
        assert!(is_python(&v(&["env", "python", "x.py"])));
        assert!(!is_python(&v(&["pythonista"])));
        assert!(!is_python(&v(&["sh", "-c", "python3 x.py"])));
    }
}
