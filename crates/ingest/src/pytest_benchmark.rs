//! pytest-benchmark JSON (`--benchmark-json` or a `.benchmarks/` save).
//!
//! `stats.data` holds every round's time per iteration when the run kept it
//! (`--benchmark-save-data` or the JSON export); otherwise only the summary exists and the
//! median stands as one sample. Parametrised tests keep their `params` as perflab params.

use perflab_model::{Benchmark, Metric, Unit};
use serde_json::Value;

use crate::{coalesce, field_error, json_error, Format, IngestError, Parsed};

/// Parse pytest-benchmark JSON.
///
/// # Errors
/// JSON errors with line and column; field errors for entries without a name or stats.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| json_error(source, Format::PytestBenchmark, e))?;
    let rows = doc
        .get("benchmarks")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            field_error(
                source,
                "benchmarks",
                "missing (is this pytest-benchmark JSON?)",
            )
        })?;
    let mut out = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let field = |f: &str| format!("benchmarks[{i}].{f}");
        let full = row
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(source, field("name"), "missing"))?;
        let stats = row
            .get("stats")
            .ok_or_else(|| field_error(source, field("stats"), "missing"))?;
        // A `data` list that was cut (non-numbers in it) no longer holds every round: fall back
        // to the summary rather than pass a partial sample off as the whole.
        let data: Option<Vec<f64>> = stats
            .get("data")
            .and_then(Value::as_array)
            .filter(|d| !d.is_empty())
            .and_then(|d| d.iter().map(Value::as_f64).collect());
        let samples: Vec<f64> = match data {
            Some(data) => data,
            None => vec![stats.get("median").and_then(Value::as_f64).ok_or_else(|| {
                field_error(source, field("stats.median"), "missing or not a number")
            })?],
        };
        let params = row.get("params").and_then(Value::as_object);
        let name = match (params, full.split_once('[')) {
            (Some(p), Some((base, _))) if !p.is_empty() => base,
            _ => full,
        };
        let mut b = Benchmark::new(name);
        if let Some(p) = params {
            for (k, v) in p {
                let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                b.params.insert(k.clone(), s);
            }
        }
        if let Some(group) = row.get("group").and_then(Value::as_str) {
            b.params.insert("group".into(), group.into());
        }
        b.metrics
            .push(Metric::new("time", Unit::seconds(), samples));
        out.push(b);
    }
    let mut parsed = Parsed::new(Format::PytestBenchmark, "pytest-benchmark", coalesce(out));
    parsed.tool.version = doc
        .get("version")
        .and_then(Value::as_str)
        .map(str::to_string);
    Ok(parsed)
}
