//! A run in the Go benchmark format, so benchstat (or anything that reads `go test -bench`
//! output) can read what perflab stored: one line per sample index, the metrics of that sample
//! as `value unit` pairs, `pkg:` lines grouping benchmarks, labels as config lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use perflab_model::{Benchmark, Metric, Run};

/// The Go unit of a metric and the factor from perflab's base unit to it (negative: divide by
/// its magnitude, which undoes the reader's multiplication exactly).
fn go_unit(m: &Metric) -> (String, f64) {
    match (m.name.as_str(), m.unit.as_str()) {
        ("time", "s") => ("ns/op".into(), 1e9),
        ("bytes_per_op", "B") => ("B/op".into(), 1.0),
        ("allocs_per_op", _) => ("allocs/op".into(), 1.0),
        ("throughput", "B/s") => ("MB/s".into(), -1e6),
        (name, _) => (clean(name), 1.0),
    }
}

/// A field without whitespace (the format splits on it).
fn clean(s: &str) -> String {
    let c: String = s
        .chars()
        .map(|c| {
            if c.is_whitespace() || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    if c.is_empty() {
        "_".into()
    } else {
        c
    }
}

fn go_name(b: &Benchmark) -> String {
    let mut name = format!("Benchmark{}", clean(&b.name));
    for (k, v) in &b.params {
        if k != "procs" && k != "pkg" {
            let _ = write!(name, "/{}={}", clean(k), clean(v));
        }
    }
    if let Some(p) = b.params.get("procs") {
        let _ = write!(name, "-{}", clean(p));
    }
    name
}

/// The run as `go test -bench` text.
pub fn run_gotest(run: &Run) -> String {
    let mut out = String::new();
    for (k, v) in &run.labels {
        if !k.is_empty()
            && k.starts_with(|c: char| c.is_lowercase())
            && !k.contains(char::is_whitespace)
        {
            let _ = writeln!(out, "{k}: {}", v.replace(['\n', '\r'], " "));
        }
    }
    let mut by_pkg: BTreeMap<&str, Vec<&Benchmark>> = BTreeMap::new();
    for b in &run.benchmarks {
        by_pkg
            .entry(b.params.get("pkg").map_or("", String::as_str))
            .or_default()
            .push(b);
    }
    for (pkg, benchmarks) in by_pkg {
        if !pkg.is_empty() {
            let _ = writeln!(out, "pkg: {}", clean(pkg));
        }
        for b in benchmarks {
            let name = go_name(b);
            let rows = b.metrics.iter().map(|m| m.samples.len()).max().unwrap_or(0);
            for i in 0..rows {
                // Go's N where the harness said it (perflab's own samples are one run each).
                let n = b.iterations.get(i).copied().unwrap_or(1);
                let _ = write!(out, "{name} {n}");
                for m in &b.metrics {
                    if let Some(v) = m.samples.get(i) {
                        let (unit, factor) = go_unit(m);
                        let v = if factor < 0.0 {
                            v / -factor
                        } else {
                            v * factor
                        };
                        let _ = write!(out, " {v} {unit}");
                    }
                }
                out.push('\n');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use perflab_model::{RunKind, Unit};

    #[test]
    fn writes_what_the_go_reader_reads_back() {
        let mut run = Run::new(RunKind::Import);
        run.labels.insert("goos".into(), "linux".into());
        let mut b = Benchmark::new("Encode")
            .with_param("format", "json")
            .with_param("procs", "8")
            .with_param("pkg", "example.com/x");
        b.metrics
            .push(Metric::new("time", Unit::seconds(), vec![1.5e-6, 1.6e-6]));
        b.metrics
            .push(Metric::new("bytes_per_op", Unit::bytes(), vec![64.0, 64.0]));
        run.benchmarks.push(b);
        let text = run_gotest(&run);
        assert_eq!(
            text,
            "goos: linux\npkg: example.com/x\nBenchmarkEncode/format=json-8 1 1500 ns/op 64 B/op\nBenchmarkEncode/format=json-8 1 1600 ns/op 64 B/op\n"
        );
    }
}
