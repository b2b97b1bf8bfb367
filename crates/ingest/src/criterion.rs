//! criterion.rs: the `target/criterion` tree (raw samples, preferred) and its console text.
//!
//! In the tree every benchmark directory holds `new/` (the latest run), `base/` or a named
//! baseline, and `change/`. `new/sample.json` has the total time of each sample and its
//! iteration count, so a sample's time per iteration is `times[i] / iters[i]`: the raw data
//! criterion's own statistics start from. Both the 0.3+ layout (`{"iters": [...], "times":
//! [...]}`) and the older one (`[[iters], [times]]`) are read.
//!
//! The console text only has criterion's estimate `[low point high]`: it gives one sample (the
//! point estimate), which `compare` then reports as a single sample.

use std::path::{Path, PathBuf};

use perflab_model::{Benchmark, Better, Metric, Unit};
use serde_json::Value;

use crate::{coalesce, field_error, json_error, time_scale, Format, IngestError, Parsed};

/// Parse criterion's console output.
///
/// # Errors
/// [`IngestError::Syntax`] for a `time:` line whose estimate cannot be read.
pub fn parse_text(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let mut out: Vec<Benchmark> = Vec::new();
    let mut last_name: Option<String> = None;
    let mut current: Option<usize> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = strip_ansi(raw);
        let trimmed = line.trim();
        if trimmed.is_empty() {
            continue;
        }
        let syntax = |message: String| IngestError::Syntax {
            source_name: source.into(),
            line: i + 1,
            message,
        };
        if let Some(pos) = trimmed.find("time:") {
            let Some(estimate) = bracketed(&trimmed[pos..]) else {
                continue;
            };
            // `change:` blocks repeat `time:` with percentages: not a measurement.
            if estimate.contains('%') {
                continue;
            }
            let before = trimmed[..pos].trim();
            let name = if before.is_empty() {
                last_name
                    .clone()
                    .ok_or_else(|| syntax("time: line with no benchmark name".into()))?
            } else {
                before.to_string()
            };
            let (value, unit) = middle(estimate)
                .ok_or_else(|| syntax(format!("cannot read estimate [{estimate}]")))?;
            let scale =
                time_scale(unit).ok_or_else(|| syntax(format!("unknown time unit {unit:?}")))?;
            let mut b = Benchmark::new(name);
            b.metrics.push(Metric::new(
                "time",
                Unit::seconds(),
                vec![crate::scaled(value, scale)],
            ));
            out.push(b);
            current = Some(out.len() - 1);
            continue;
        }
        if let Some(pos) = trimmed.find("thrpt:") {
            let estimate = bracketed(&trimmed[pos..]).filter(|e| !e.contains('%'));
            if let (Some(idx), Some(estimate)) = (current, estimate) {
                if let Some((value, unit)) = middle(estimate) {
                    if let Some((scale, unit)) = throughput_unit(unit) {
                        let mut m =
                            Metric::new("throughput", unit, vec![crate::scaled(value, scale)]);
                        m.better = Better::Higher;
                        out[idx].metrics.push(m);
                    }
                }
            }
            continue;
        }
        if is_noise(trimmed) {
            continue;
        }
        // A name printed on its own line (criterion does this for long names).
        if !raw.starts_with(' ') {
            last_name = Some(trimmed.to_string());
            current = None;
        }
    }
    Ok(Parsed::new(
        Format::CriterionText,
        "criterion",
        coalesce(out),
    ))
}

fn is_noise(line: &str) -> bool {
    const PREFIXES: [&str; 14] = [
        "Benchmarking ",
        "Found ",
        "change:",
        "Performance has",
        "No change",
        "Change within",
        "Running ",
        "running ",
        "test ",
        "Gnuplot",
        "WARNING",
        "Warning",
        "Compiling",
        "Finished",
    ];
    PREFIXES.iter().any(|p| line.starts_with(p))
        || line.contains("(p = ")
        || line.starts_with(|c: char| c.is_ascii_digit())
}

fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
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

fn bracketed(s: &str) -> Option<&str> {
    let start = s.find('[')?;
    let end = s[start..].find(']')? + start;
    Some(&s[start + 1..end])
}

/// The point estimate of `low u point u high u`.
fn middle(estimate: &str) -> Option<(f64, &str)> {
    let w: Vec<&str> = estimate.split_whitespace().collect();
    if w.len() != 6 {
        return None;
    }
    Some((w[2].parse().ok()?, w[3]))
}

fn throughput_unit(unit: &str) -> Option<(f64, Unit)> {
    const K: f64 = 1024.0;
    Some(match unit {
        "B/s" => (1.0, Unit::bytes_per_sec()),
        "KiB/s" => (K, Unit::bytes_per_sec()),
        "MiB/s" => (K * K, Unit::bytes_per_sec()),
        "GiB/s" => (K * K * K, Unit::bytes_per_sec()),
        "KB/s" => (1e3, Unit::bytes_per_sec()),
        "MB/s" => (1e6, Unit::bytes_per_sec()),
        "GB/s" => (1e9, Unit::bytes_per_sec()),
        "elem/s" => (1.0, Unit::per_sec()),
        "Kelem/s" => (1e3, Unit::per_sec()),
        "Melem/s" => (1e6, Unit::per_sec()),
        "Gelem/s" => (1e9, Unit::per_sec()),
        _ => return None,
    })
}

/// Read a `target/criterion` directory (or one benchmark's directory inside it).
///
/// # Errors
/// [`IngestError::Io`] when the tree cannot be walked, JSON and field errors naming the file.
pub fn parse_dir(root: &Path, source: &str) -> Result<Parsed, IngestError> {
    parse_dir_since(root, source, None)
}

/// Read only the benchmarks whose `new/sample.json` was written at or after `since` (the ones a
/// `cargo bench` that started then ran), so an old result of a benchmark that no longer exists,
/// or was filtered out of this run, is never mixed in.
///
/// # Errors
/// As [`parse_dir`].
pub fn parse_dir_since(
    root: &Path,
    source: &str,
    since: Option<std::time::SystemTime>,
) -> Result<Parsed, IngestError> {
    let mut samples = Vec::new();
    walk(root, &mut samples).map_err(|error| IngestError::Io {
        source_name: source.into(),
        error,
    })?;
    if let Some(t) = since {
        samples.retain(|p| {
            std::fs::metadata(p)
                .and_then(|m| m.modified())
                .is_ok_and(|m| m >= t)
        });
    }
    samples.sort();
    let mut out = Vec::new();
    for sample_path in samples {
        let dir = sample_path.parent().unwrap_or(root);
        out.push(read_benchmark(dir)?);
    }
    let parsed = Parsed::new(Format::CriterionDir, "criterion", coalesce(out));
    if parsed.benchmarks.is_empty() {
        return Err(IngestError::Empty {
            source_name: source.into(),
            format: Format::CriterionDir,
            why: String::new(),
        });
    }
    Ok(parsed)
}

/// Collect every `new/sample.json` under `dir`.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if entry.file_type()?.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                let s = path.join("sample.json");
                if s.is_file() {
                    out.push(s);
                }
            } else if path.file_name().is_some_and(|n| n != "report") {
                walk(&path, out)?;
            }
        }
    }
    Ok(())
}

fn read_json(path: &Path) -> Result<Value, IngestError> {
    let source = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|error| IngestError::Io {
        source_name: source.clone(),
        error,
    })?;
    serde_json::from_str(&text).map_err(|e| json_error(&source, Format::CriterionDir, e))
}

fn read_benchmark(new_dir: &Path) -> Result<Benchmark, IngestError> {
    let sample_path = new_dir.join("sample.json");
    let sample_src = sample_path.display().to_string();
    let sample = read_json(&sample_path)?;
    let (iters, times) = match &sample {
        Value::Object(o) => (o.get("iters"), o.get("times")),
        Value::Array(a) if a.len() == 2 => (a.first(), a.get(1)),
        _ => (None, None),
    };
    let floats = |v: Option<&Value>, field: &str| -> Result<Vec<f64>, IngestError> {
        v.and_then(Value::as_array)
            .and_then(|a| a.iter().map(Value::as_f64).collect::<Option<Vec<f64>>>())
            .ok_or_else(|| field_error(&sample_src, field, "missing or not a list of numbers"))
    };
    let iters = floats(iters, "iters")?;
    let times = floats(times, "times")?;
    if iters.len() != times.len() || iters.iter().any(|&n| n <= 0.0) {
        return Err(field_error(
            &sample_src,
            "iters",
            "iteration counts must be positive and match the times",
        ));
    }
    let per_iter: Vec<f64> = times.iter().zip(&iters).map(|(t, n)| t / n / 1e9).collect();

    let bench_path = new_dir.join("benchmark.json");
    let meta = if bench_path.is_file() {
        Some(read_json(&bench_path)?)
    } else {
        None
    };
    let text = |k: &str| {
        meta.as_ref()
            .and_then(|m| m.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    // Criterion's own id (`req/req`, `header/count_001`, `fib/iterative/20`) is the name users
    // see in criterion's output and type after `cargo bench --`, so it is the key here too.
    let id = text("full_id")
        .or_else(|| {
            let parts = [text("group_id"), text("function_id"), text("value_str")];
            let parts: Vec<String> = parts.into_iter().flatten().collect();
            (!parts.is_empty()).then(|| parts.join("/"))
        })
        .or_else(|| text("title"))
        .unwrap_or_else(|| {
            let dir = new_dir.parent().unwrap_or(new_dir);
            dir.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        });
    let mut b = Benchmark::new(id);
    // `Throughput::Bytes(n)` / `Elements(n)` (also the `BytesDecimal` spelling): per iteration,
    // so each sample's throughput is n over its time per iteration.
    let throughput = meta
        .as_ref()
        .and_then(|m| m.get("throughput"))
        .and_then(Value::as_object)
        .and_then(|o| o.iter().next())
        .and_then(|(kind, n)| Some((kind.clone(), n.as_f64()?)));
    if let Some((kind, n)) = throughput {
        let unit = if kind.starts_with("Bytes") {
            Unit::bytes_per_sec()
        } else {
            Unit::per_sec()
        };
        let rates = per_iter.iter().map(|t| n / t).collect();
        let mut m = Metric::new("throughput", unit, rates);
        m.better = perflab_model::Better::Higher;
        b.metrics.push(m);
    }
    b.iterations = iters.iter().map(|&n| n as u64).collect();
    b.metrics
        .insert(0, Metric::new("time", Unit::seconds(), per_iter));
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_results_written_since_the_run_began_are_read() {
        let dir =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/criterion-dir/generated-0.5.1");
        let all = parse_dir_since(&dir, "t", Some(std::time::UNIX_EPOCH)).unwrap();
        assert_eq!(all.benchmarks.len(), 5);
        let b = &all.benchmarks[0];
        assert!(b.name.starts_with("fib/"), "criterion's own id: {}", b.name);
        assert!(b.params.is_empty());
        assert_eq!(b.iterations.len(), b.metrics[0].samples.len());
        let later = std::time::SystemTime::now() + std::time::Duration::from_secs(3600);
        assert!(matches!(
            parse_dir_since(&dir, "t", Some(later)),
            Err(IngestError::Empty { .. })
        ));
    }
}
