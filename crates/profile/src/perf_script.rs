//! `perf script` text: a header line per sample (`comm pid/tid time: period event:`), then one
//! indented line per frame, leaf first (`addr symbol+off (dso)`), then a blank line.

use crate::{strip_rust_hash, Profile, ProfileError, ValueType};

/// Read `perf script` output. When the event is a clock (`cpu-clock`, `task-clock`) its period is
/// nanoseconds and becomes a `cpu` column beside the sample count; other events keep their name.
pub fn parse(text: &str, source: &str) -> Result<Profile, ProfileError> {
    // A file from elsewhere: its offsets may be runtime addresses (a recording without call
    // graphs) and its binaries may have changed since, so neither is kept.
    parse_with(text, source, None, false)
}

/// Like [`parse`], for what perflab just recorded: leaves out the samples of process `skip_pid`
/// (perflab's own wrapper) and keeps, per frame, the offset perf prints for it in its binary's
/// file (what [`crate::symbolize::resolve`] turns into addresses and source lines), and each
/// binary's path in [`Profile::binaries`].
pub fn parse_recorded(
    text: &str,
    source: &str,
    skip_pid: Option<u32>,
) -> Result<Profile, ProfileError> {
    parse_with(text, source, skip_pid, true)
}

fn parse_with(
    text: &str,
    source: &str,
    skip_pid: Option<u32>,
    offsets: bool,
) -> Result<Profile, ProfileError> {
    let mut skipping = false;
    let mut p = Profile::new(vec![ValueType::new("samples", "count")]);
    let mut stack: Vec<u32> = Vec::new();
    let mut current: Option<i64> = None; // period of the sample being read
    let mut event_kind: Option<String> = None;
    let mut saw_header = false;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            if let Some(period) = current.take() {
                if !skipping {
                    flush(&mut p, &mut stack, period);
                }
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if !line.starts_with([' ', '\t']) {
            if let Some(period) = current.take() {
                if !skipping {
                    flush(&mut p, &mut stack, period);
                }
            }
            let (event, period) = header(line).ok_or_else(|| {
                ProfileError::malformed(source, Some(n + 1), "not a perf script sample header")
            })?;
            skipping = skip_pid.is_some() && header_pid(line) == skip_pid;
            if event_kind.is_none() {
                let (kind, unit) = match event_base(event) {
                    "cpu-clock" | "task-clock" => ("cpu", "nanoseconds"),
                    other => (other, "count"),
                };
                p.sample_types.push(ValueType::new(kind, unit));
                event_kind = Some(event.to_string());
            }
            current = Some(period);
            saw_header = true;
            continue;
        }
        if current.is_none() {
            return Err(ProfileError::malformed(
                source,
                Some(n + 1),
                "a frame line before any sample header",
            ));
        }
        if skipping {
            continue;
        }
        if let Some(f) = frame(line) {
            let offset = f.offset.filter(|_| offsets && f.path.is_some());
            if let (true, Some(name), Some(path)) = (offsets, f.module, f.path) {
                if p.binary(name).is_none() {
                    p.binaries.push(crate::Binary {
                        name: name.to_string(),
                        path: path.to_string(),
                        ..crate::Binary::default()
                    });
                }
            }
            stack.push(p.intern_at(&f.function, f.module, offset));
        }
    }
    // perf ends every line with a newline, and every frame line with its `(dso)`: anything
    // else is a file cut short, whose last sample would be counted with half a stack.
    let last = text.lines().count();
    let cut_frame = (text.lines().last()).is_some_and(|l| {
        l.starts_with([' ', '\t']) && !l.trim().is_empty() && !l.trim_end().ends_with(')')
    });
    if (!text.is_empty() && !text.ends_with('\n')) || cut_frame {
        return Err(ProfileError::malformed(
            source,
            Some(last),
            "truncated: the last line is cut short",
        ));
    }
    if let Some(period) = current.take() {
        if !skipping {
            flush(&mut p, &mut stack, period);
        }
    }
    if !saw_header {
        return Err(ProfileError::malformed(source, None, "no samples"));
    }
    Ok(p)
}

/// The event name without its trailing colon and modifiers (`cycles:u:` is `cycles`).
fn event_base(event: &str) -> &str {
    let e = event.trim_end_matches(':');
    match e.rsplit_once(':') {
        Some((base, m)) if !m.is_empty() && m.chars().all(|c| "ukhpPGHIDSW".contains(c)) => base,
        _ => e,
    }
}

fn flush(p: &mut Profile, stack: &mut Vec<u32>, period: i64) {
    stack.reverse(); // perf prints the leaf first
    p.add(stack, &[1, period]);
    p.raw_samples += 1;
    stack.clear();
}

/// The event name and period of a header line. The command name may contain spaces, so the event
/// is found as the first `name:` token after the command that is not a timestamp.
fn header(line: &str) -> Option<(&str, i64)> {
    let tokens: Vec<&str> = line.split_whitespace().collect();
    for i in 1..tokens.len() {
        let t = tokens[i];
        let Some(stripped) = t.strip_suffix(':') else {
            continue;
        };
        if stripped.parse::<f64>().is_ok() || stripped.is_empty() {
            continue; // the timestamp
        }
        let period = tokens[i - 1].parse::<i64>().unwrap_or(1).max(1);
        return Some((t, period));
    }
    None
}

/// The pid of a header line: the first `pid/tid` (or bare number) token after the command.
fn header_pid(line: &str) -> Option<u32> {
    line.split_whitespace().skip(1).find_map(|t| {
        let pid = t.split_once('/').map_or(t, |(p, _)| p);
        pid.parse().ok()
    })
}

/// One frame line of a sample.
struct FrameLine<'a> {
    function: std::borrow::Cow<'a, str>,
    /// The dso's file name.
    module: Option<&'a str>,
    /// The dso's path, for a file (not `[kernel.kallsyms]`, `[vdso]`, `//anon`).
    path: Option<&'a str>,
    /// The number perf prints: in a call chain, the offset in the dso's file.
    offset: Option<u64>,
}

/// One frame line, `addr sym+0xoff (dso)`; lines that are not frames (srcline) give `None`.
fn frame(line: &str) -> Option<FrameLine<'_>> {
    let body = line.trim();
    let (first, rest) = body.split_once(' ').unwrap_or((body, ""));
    let address =
        (!first.is_empty() && first.bytes().all(|b| b.is_ascii_hexdigit())).then_some(first);
    let rest = if first.bytes().all(|b| b.is_ascii_hexdigit()) {
        rest.trim_start()
    } else if line.starts_with('\t') {
        body // no address column
    } else {
        return None; // a srcline (`  file.c:12`) or other annotation
    };
    let (sym, dso) = match rest.rfind(" (") {
        Some(pos) if rest.ends_with(')') => (&rest[..pos], Some(&rest[pos + 2..rest.len() - 1])),
        _ => (rest, None),
    };
    let sym = match sym.rfind("+0x") {
        Some(pos) if sym[pos + 3..].bytes().all(|b| b.is_ascii_hexdigit()) => &sym[..pos],
        _ => sym,
    };
    let sym = strip_rust_hash(sym.trim());
    let module = dso
        .filter(|d| *d != "inlined" && *d != "[unknown]")
        .map(|d| {
            if d.starts_with('[') {
                d
            } else {
                d.rsplit('/').next().unwrap_or(d)
            }
        });
    // Code without symbols in a known binary is split by address, as perf shows it, rather
    // than merged into one `[unknown]` row that hides where in the binary the time went.
    let function = match (sym, address, module) {
        ("" | "[unknown]", Some(ip), Some(_)) => format!("0x{ip}").into(),
        ("", _, _) => "[unknown]".into(),
        (s, _, _) => s.into(),
    };
    let path = dso.filter(|d| d.starts_with('/') && !d.starts_with("//"));
    Some(FrameLine {
        function,
        module,
        path,
        offset: address.and_then(|a| u64::from_str_radix(a, 16).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "hot  5388  8039.488561:    2004008 cpu-clock: \n\
\t            1181 hot_loop+0x38 (/tmp/x/hot)\n\
\t            1088 main (/tmp/x/hot)\n\
\t           2724a __libc_start_call_main+0x7a (/usr/lib/x86_64-linux-gnu/libc.so.6)\n\
\n\
my prog 12/12  8039.490570:    1000000 cpu-clock:u: \n\
\t            1181 hot_loop+0x38 (/tmp/x/hot)\n\
\x20\x20hot.c:3\n\
\t            1088 main (/tmp/x/hot)\n\
\n\
hot  5388  8039.5:    3000000 cpu-clock: \n\
\tffffffff8100 entry_SYSCALL_64+0x10 ([kernel.kallsyms])\n\
\t            7f00 [unknown] ([unknown])\n\
\t            4242 std::vector<int, std::allocator<int> >::push_back(int const&) (/a/b)\n\
\t            9999 alloc::fmt::format::h0123456789abcdef (/a/b)\n";

    #[test]
    fn reads_stacks_periods_and_modules() {
        let p = parse(TEXT, "t").unwrap();
        assert_eq!(p.sample_types[1], ValueType::new("cpu", "nanoseconds"));
        assert_eq!(p.total(0), 3);
        assert_eq!(p.total(1), 6_004_008);
        assert_eq!(p.raw_samples, 3);
        let folded = p.folded(1);
        assert!(folded.contains(&("__libc_start_call_main;main;hot_loop".into(), 2004008)));
        assert!(folded.contains(&("main;hot_loop".into(), 1_000_000)));
        assert!(folded.contains(&(
            "alloc::fmt::format;std::vector<int, std::allocator<int> >::push_back(int const&);[unknown];entry_SYSCALL_64"
                .into(),
            3_000_000
        )));
        let k = p
            .frames
            .iter()
            .find(|f| f.function == "entry_SYSCALL_64")
            .unwrap();
        assert!(k.is_kernel());
        let h = p.frames.iter().find(|f| f.function == "hot_loop").unwrap();
        assert_eq!(h.module.as_deref(), Some("hot"));
    }

    #[test]
    fn a_process_can_be_left_out() {
        let p = parse_recorded(TEXT, "t", Some(12)).unwrap();
        assert_eq!(p.total(0), 2);
        assert_eq!(header_pid("my prog 12/13  1.0:  5 cpu-clock:"), Some(12));
    }

    #[test]
    fn a_recording_keeps_file_offsets_and_binary_paths() {
        let p = parse_recorded(TEXT, "t", None).unwrap();
        let at = |name: &str| -> Vec<Option<u64>> {
            (p.frames.iter().filter(|f| f.function == name))
                .map(|f| f.address)
                .collect()
        };
        assert_eq!(at("hot_loop"), [Some(0x1181)]);
        assert_eq!(at("__libc_start_call_main"), [Some(0x2724a)]);
        // No file behind the kernel or an unknown dso: no offset to keep.
        assert_eq!(at("entry_SYSCALL_64"), [None]);
        assert_eq!(at("[unknown]"), [None]);
        let paths: Vec<(&str, &str)> = (p.binaries.iter())
            .map(|b| (b.name.as_str(), b.path.as_str()))
            .collect();
        assert_eq!(
            paths,
            [
                ("hot", "/tmp/x/hot"),
                ("libc.so.6", "/usr/lib/x86_64-linux-gnu/libc.so.6"),
                ("b", "/a/b")
            ]
        );
        // A file from elsewhere keeps neither.
        let q = parse(TEXT, "t").unwrap();
        assert!(q.frames.iter().all(|f| f.address.is_none()) && q.binaries.is_empty());
    }

    #[test]
    fn foreign_text_is_refused_with_a_line() {
        let e = parse("\tframe first\n", "x.txt").unwrap_err().to_string();
        assert_eq!(e, "x.txt:1: a frame line before any sample header");
        assert!(parse("", "x").is_err());
        assert!(parse("{\"json\": true}\n", "x").is_err());
    }
}
