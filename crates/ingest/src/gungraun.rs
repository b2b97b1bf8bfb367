//! gungraun's (formerly iai-callgrind's) console text, and the older iai's: instruction counts
//! and cache estimates per benchmark, counted under valgrind, so they do not move with the
//! machine's load.
//!
//! ```text
//! fib::fib_group::bench_fib short:(10)
//!   Instructions:                    2158|1802        (+19.7558%) [+1.19756x]
//!   Estimated Cycles:                3211|2643        (+21.4907%) [+1.21491x]
//! ```
//!
//! A header line names the benchmark (its arguments may wrap onto more lines); each indented
//! `Label: NEW|OLD` line is a metric, of which the new value is kept. `======= DHAT =====`-style
//! lines start another tool's metrics, named with the tool as a prefix. Colour escapes (a
//! terminal's run) are removed first.

use perflab_model::{Benchmark, Better, Metric, Unit};

use crate::{coalesce, parse_number, Format, IngestError, Parsed};

/// Text without ANSI escape sequences (`ESC [ … letter`).
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether a text line holds a metric (`  Instructions: 123|N/A …`).
pub(crate) fn is_metric_line(line: &str) -> bool {
    let l = line.trim_start();
    l.starts_with("Instructions:") || l.starts_with("Estimated Cycles:")
}

/// Lines around the results that are not benchmark names.
fn is_chatter(line: &str) -> bool {
    const STARTS: [&str; 9] = [
        "running ",
        "test result:",
        "Running ",
        "Gungraun result",
        "Iai-Callgrind result",
        "Benchmarking",
        "warning:",
        "Finished ",
        "Compiling ",
    ];
    STARTS.iter().any(|s| line.starts_with(s))
}

/// `Total read+write` → `total_read_write`.
fn metric_name(label: &str) -> String {
    let mut out = String::new();
    for c in label.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    out.trim_end_matches('_').to_string()
}

/// The benchmark's key from its header: `path id:(args)` → `path/id`.
fn benchmark_name(header: &str) -> String {
    let header = header.trim();
    match header.split_once(char::is_whitespace) {
        Some((path, rest)) => {
            let id = rest.split(':').next().unwrap_or("").trim();
            if id.is_empty() {
                path.to_string()
            } else {
                format!("{path}/{id}")
            }
        }
        None => header.to_string(),
    }
}

/// Parse gungraun or iai console output.
///
/// # Errors
/// [`IngestError::Syntax`] for a metric line before any benchmark name, or whose value is
/// not a number.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let text = strip_ansi(text);
    let mut out: Vec<Benchmark> = Vec::new();
    let mut header: Option<String> = None;
    // Metrics seen since the header: a non-indented line after them starts a new header.
    let mut in_metrics = false;
    let mut tool = String::new();
    let mut harness = "gungraun";
    for (i, raw) in text.lines().enumerate() {
        if raw.starts_with("Iai-Callgrind result") {
            harness = "iai-callgrind";
        }
        if raw.trim().is_empty() || is_chatter(raw.trim_start()) {
            // A benchmark's block ends here.
            header = None;
            in_metrics = false;
            continue;
        }
        let syntax = |message: String| IngestError::Syntax {
            source_name: source.into(),
            line: i + 1,
            message,
        };
        let indented = raw.starts_with(' ') || raw.starts_with('\t');
        let line = raw.trim();
        if !indented {
            match (&mut header, in_metrics) {
                // A benchmark's arguments that wrapped onto another line.
                (Some(h), false) => {
                    h.push(' ');
                    h.push_str(line);
                }
                _ => {
                    header = Some(line.to_string());
                    tool.clear();
                    in_metrics = false;
                }
            }
            continue;
        }
        if line.starts_with("=====") {
            let name = line.trim_matches(|c: char| c == '=' || c.is_whitespace());
            tool = match name.to_ascii_lowercase().as_str() {
                "callgrind" | "cachegrind" => String::new(),
                other => format!("{}_", metric_name(other)),
            };
            continue;
        }
        let Some((label, rest)) = line.split_once(':') else {
            continue;
        };
        let value = rest
            .trim()
            .split(['|', ' '])
            .next()
            .unwrap_or("")
            .to_string();
        let Some(h) = header.as_deref() else {
            return Err(syntax(format!(
                "{label}: a metric before any benchmark name"
            )));
        };
        let v = parse_number(&value)
            .ok_or_else(|| syntax(format!("{label}: {value:?} is not a number")))?;
        // The first metric of a block starts its benchmark (the same name again, a later run,
        // becomes more samples when the blocks are merged).
        let starts = !in_metrics;
        in_metrics = true;
        let name = benchmark_name(h);
        let metric = format!("{tool}{}", metric_name(label));
        let (unit, better, v) = if label.contains("Rate") {
            let better = if label.contains("Hit") {
                Better::Higher
            } else {
                Better::Lower
            };
            (Unit::ratio(), better, v / 100.0)
        } else {
            (Unit::count(), Better::Lower, v)
        };
        let mut m = Metric::new(metric, unit, vec![v]);
        m.better = better;
        match out.last_mut().filter(|_| !starts) {
            Some(b) => b.metrics.push(m),
            None => {
                let mut b = Benchmark::new(name);
                b.metrics.push(m);
                out.push(b);
            }
        }
    }
    Ok(Parsed::new(Format::Gungraun, harness, coalesce(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_wrap_and_colour_is_removed() {
        let text = "\u{1b}[32mcrate::group::bench\u{1b}[0m \u{1b}[36mshort\u{1b}[0m:\u{1b}[1;34m10\u{1b}[0m\n  Instructions:     \u{1b}[1m  1734\u{1b}[0m|N/A  (*)\n\
crate::group::wrapped id:string with two\nlines\n  Instructions:  7|N/A  (*)\n  I1 Miss Rate:  10.0000|N/A\n";
        let p = parse(text, "t").unwrap();
        let names: Vec<String> = p.benchmarks.iter().map(Benchmark::key).collect();
        assert_eq!(
            names,
            ["crate::group::bench/short", "crate::group::wrapped/id"]
        );
        assert_eq!(p.benchmarks[0].metrics[0].samples, vec![1734.0]);
        let rate = p.benchmarks[1].metric("i1_miss_rate").unwrap();
        assert_eq!((rate.samples[0], rate.better), (0.1, Better::Lower));
    }

    #[test]
    fn a_metric_without_a_benchmark_or_a_number_is_an_error_with_its_line() {
        let e = parse("\n  Instructions: 5|N/A\n", "out.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "out.txt:2: Instructions: a metric before any benchmark name"
        );
        let e = parse("b\n  Instructions: many|N/A\n", "out.txt").unwrap_err();
        assert!(e.to_string().starts_with("out.txt:2: Instructions:"), "{e}");
    }
}
