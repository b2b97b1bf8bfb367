//! Bencher Metric Format: `{"bench": {"measure": {"value": 1.0, "lower_value": …}}}`.
//!
//! Bencher's built-in measures have known units (`latency` in ns, `throughput` in operations
//! per second, `file-size` in bytes, `build-time` in seconds); any other measure keeps its name
//! as its unit and is taken as lower-is-better.

use perflab_model::{Benchmark, Better, Metric, Unit};
use serde_json::Value;

use crate::{field_error, json_error, Format, IngestError, Parsed};

/// Parse a BMF document.
///
/// # Errors
/// JSON errors with line and column; field errors for measures without a numeric `value`.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let doc: Value = serde_json::from_str(text).map_err(|e| json_error(source, Format::Bmf, e))?;
    let benches = doc
        .as_object()
        .ok_or_else(|| field_error(source, "$", "a BMF document is an object of benchmarks"))?;
    let mut out = Vec::new();
    for (name, measures) in benches {
        let measures = measures
            .as_object()
            .ok_or_else(|| field_error(source, name.as_str(), "expected an object of measures"))?;
        let mut b = Benchmark::new(name.as_str());
        for (measure, m) in measures {
            let value = m.get("value").and_then(Value::as_f64).ok_or_else(|| {
                field_error(
                    source,
                    format!("{name}.{measure}.value"),
                    "missing or not a number",
                )
            })?;
            let (metric, unit, scale, better) = match measure.as_str() {
                "latency" => ("time", Unit::seconds(), 1e-9, Better::Lower),
                "throughput" => ("throughput", Unit::per_sec(), 1.0, Better::Higher),
                "file-size" => ("file_size", Unit::bytes(), 1.0, Better::Lower),
                "build-time" => ("build_time", Unit::seconds(), 1.0, Better::Lower),
                other => (other, Unit(other.to_string()), 1.0, Better::Lower),
            };
            let mut metric = Metric::new(metric, unit, vec![crate::scaled(value, scale)]);
            metric.better = better;
            b.metrics.push(metric);
        }
        out.push(b);
    }
    Ok(Parsed::new(Format::Bmf, "bencher", out))
}
