//! Google Benchmark JSON (`--benchmark_format=json` or `--benchmark_out`).
//!
//! Iteration rows are samples (one per repetition). Aggregate rows (`_mean`, `_median`, …) are
//! derived from them and are skipped, unless a benchmark has only aggregates
//! (`--benchmark_report_aggregates_only`): then its median (or mean) is its one sample. Besides
//! `real_time` (metric `time`) and `cpu_time`, `bytes_per_second`, `items_per_second` and user
//! counters become metrics.

use std::collections::HashSet;

use perflab_model::{Benchmark, Better, Metric, Unit};
use serde_json::Value;

use crate::{coalesce, field_error, json_error, time_scale, Format, IngestError, Parsed};

const KNOWN: [&str; 19] = [
    "name",
    "family_index",
    "per_family_instance_index",
    "run_name",
    "run_type",
    "repetitions",
    "repetition_index",
    "threads",
    "iterations",
    "real_time",
    "cpu_time",
    "time_unit",
    "aggregate_name",
    "aggregate_unit",
    "bytes_per_second",
    "items_per_second",
    "label",
    "error_occurred",
    "error_message",
];

/// `BM_Copy/1024/threads:4` → `BM_Copy` with `arg=1024` and `threads=4`: the `key:value` parts
/// Google Benchmark writes (`threads:`, `repeats:`, `min_time:`, named `->ArgNames`) become those
/// params, plain numbers become `arg` (`arg2`, … after the first), so `--col threads` works.
fn named(full: &str) -> Benchmark {
    let mut parts = full.split('/');
    let mut b = Benchmark::new(parts.next().unwrap_or(full));
    let mut args = 0;
    let mut rest = Vec::new();
    for p in parts {
        if let Some((k, v)) = p.split_once(':') {
            if !k.is_empty() && !v.is_empty() {
                b.params.insert(k.to_string(), v.to_string());
                continue;
            }
        }
        if !p.is_empty() && p.bytes().all(|c| c.is_ascii_digit() || c == b'-') {
            args += 1;
            let key = if args == 1 {
                "arg".to_string()
            } else {
                format!("arg{args}")
            };
            b.params.insert(key, p.to_string());
            continue;
        }
        rest.push(p);
    }
    if !rest.is_empty() {
        b.name = format!("{}/{}", b.name, rest.join("/"));
    }
    b
}

/// Parse Google Benchmark JSON.
///
/// # Errors
/// JSON errors with line and column; field errors for rows without a name or times.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| json_error(source, Format::GoogleBenchmark, e))?;
    let rows = doc
        .get("benchmarks")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            field_error(
                source,
                "benchmarks",
                "missing (is this Google Benchmark JSON?)",
            )
        })?;
    let with_iterations: HashSet<&str> = rows
        .iter()
        .filter(|r| r.get("run_type").and_then(Value::as_str) != Some("aggregate"))
        .filter_map(run_name)
        .collect();
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let field = |f: &str| format!("benchmarks[{i}].{f}");
        let name = run_name(row).ok_or_else(|| field_error(source, field("name"), "missing"))?;
        if row.get("error_occurred").and_then(Value::as_bool) == Some(true) {
            let why = row
                .get("error_message")
                .and_then(Value::as_str)
                .unwrap_or("no message");
            let w = format!("{source}: benchmark {name} errored ({why}); left out");
            if !warnings.contains(&w) {
                warnings.push(w);
            }
            continue;
        }
        if row.get("run_type").and_then(Value::as_str) == Some("aggregate") {
            let agg = row.get("aggregate_name").and_then(Value::as_str);
            let wanted = if rows.iter().any(|r| {
                run_name(r) == Some(name)
                    && r.get("aggregate_name").and_then(Value::as_str) == Some("median")
            }) {
                "median"
            } else {
                "mean"
            };
            if with_iterations.contains(name) || agg != Some(wanted) {
                continue;
            }
        }
        let unit = row.get("time_unit").and_then(Value::as_str).unwrap_or("ns");
        let scale = time_scale(unit)
            .ok_or_else(|| field_error(source, field("time_unit"), "unknown time unit"))?;
        // Rows without times (some tools' placeholders) carry nothing to measure.
        let Some(real) = row.get("real_time").and_then(Value::as_f64) else {
            continue;
        };
        let mut b = named(name);
        b.metrics.push(Metric::new(
            "time",
            Unit::seconds(),
            vec![crate::scaled(real, scale)],
        ));
        if let Some(cpu) = row.get("cpu_time").and_then(Value::as_f64) {
            b.metrics.push(Metric::new(
                "cpu_time",
                Unit::seconds(),
                vec![crate::scaled(cpu, scale)],
            ));
        }
        if let Some(v) = row.get("bytes_per_second").and_then(Value::as_f64) {
            b.metrics
                .push(Metric::new("throughput", Unit::bytes_per_sec(), vec![v]));
        }
        if let Some(v) = row.get("items_per_second").and_then(Value::as_f64) {
            b.metrics
                .push(Metric::new("items_per_second", Unit::per_sec(), vec![v]));
        }
        if let Some(obj) = row.as_object() {
            for (k, v) in obj {
                if KNOWN.contains(&k.as_str()) {
                    continue;
                }
                if let Some(x) = v.as_f64() {
                    let mut m = Metric::new(k.clone(), Unit::count(), vec![x]);
                    if k.ends_with("per_second") || k.ends_with("_rate") {
                        m.unit = Unit::per_sec();
                        m.better = Better::Higher;
                    }
                    b.metrics.push(m);
                }
            }
        }
        out.push(b);
    }
    let mut parsed = Parsed::new(Format::GoogleBenchmark, "google benchmark", coalesce(out));
    parsed.warnings = warnings;
    if let Some(ctx) = doc.get("context").and_then(Value::as_object) {
        for key in [
            "host_name",
            "executable",
            "num_cpus",
            "library_build_type",
            "date",
        ] {
            if let Some(v) = ctx.get(key) {
                let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                parsed.labels.insert(key.to_string(), s);
            }
        }
    }
    Ok(parsed)
}

fn run_name(row: &Value) -> Option<&str> {
    row.get("run_name")
        .or_else(|| row.get("name"))
        .and_then(Value::as_str)
}
