//! hyperfine `--export-json` (1.x). Each result's `times` are the wall-clock samples in seconds;
//! `parameters` (from `-P`/`-L`) become params; `memory_usage_byte` (hyperfine ≥ 1.20) becomes
//! the `rss` metric.

use perflab_model::{Benchmark, Metric, Unit};
use serde_json::Value;

use crate::{coalesce, field_error, json_error, Format, IngestError, Parsed};

/// The template a `-P`/`-L` run came from: each parameter's value in the rendered command put
/// back as `{name}` (longest values first), so `sleep 0.1` with `t=0.1` is `sleep {t}` and
/// every value of a sweep is one benchmark with a `t` param (`--col t` compares them).
fn template(command: &str, params: &std::collections::BTreeMap<String, String>) -> String {
    let mut by_len: Vec<(&String, &String)> =
        params.iter().filter(|(_, v)| !v.is_empty()).collect();
    by_len.sort_by_key(|b| std::cmp::Reverse(b.1.len()));
    let mut out = command.to_string();
    for (k, v) in by_len {
        out = out.replace(v.as_str(), &format!("{{{k}}}"));
    }
    out
}

/// Parse hyperfine JSON.
///
/// # Errors
/// JSON errors with line and column; field errors for results without `command` or `times`.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let doc: Value =
        serde_json::from_str(text).map_err(|e| json_error(source, Format::Hyperfine, e))?;
    let rows = doc
        .get("results")
        .and_then(Value::as_array)
        .ok_or_else(|| field_error(source, "results", "missing (is this hyperfine JSON?)"))?;
    let mut out = Vec::new();
    let mut commands: Vec<String> = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        let field = |f: &str| format!("results[{i}].{f}");
        let command = row
            .get("command")
            .and_then(Value::as_str)
            .ok_or_else(|| field_error(source, field("command"), "missing"))?;
        let times = match row.get("times").and_then(Value::as_array) {
            Some(t) => t
                .iter()
                .map(Value::as_f64)
                .collect::<Option<Vec<f64>>>()
                .ok_or_else(|| field_error(source, field("times"), "not a list of numbers"))?,
            // Exports without raw times still carry the mean.
            None => vec![row.get("mean").and_then(Value::as_f64).ok_or_else(|| {
                field_error(
                    source,
                    field("mean"),
                    "missing, and no \"times\" either (is this hyperfine ≥1.0 output?)",
                )
            })?],
        };
        let mut b = Benchmark::new(command);
        if let Some(params) = row.get("parameters").and_then(Value::as_object) {
            for (k, v) in params {
                let s = v.as_str().map_or_else(|| v.to_string(), str::to_string);
                b.params.insert(k.clone(), s);
            }
            b.name = template(command, &b.params);
        }
        b.metrics.push(Metric::new("time", Unit::seconds(), times));
        if let Some(mem) = row.get("memory_usage_byte").and_then(Value::as_array) {
            let rss: Vec<f64> = mem.iter().filter_map(Value::as_f64).collect();
            if !rss.is_empty() {
                b.metrics.push(Metric::new("rss", Unit::bytes(), rss));
            }
        }
        commands.push(command.to_string());
        out.push(b);
    }
    // The JSON keeps no template: a value that also occurs elsewhere in the command
    // (`dd bs=10 count=10`) would give each value of one sweep a different name. When the
    // results of a sweep (same param names) disagree on their template, keep the commands.
    let sweep = |b: &Benchmark| b.params.keys().cloned().collect::<Vec<_>>();
    for i in 0..out.len() {
        let consistent = (0..out.len())
            .filter(|&j| sweep(&out[j]) == sweep(&out[i]) && !out[i].params.is_empty())
            .all(|j| out[j].name == out[i].name)
            || out.iter().filter(|o| sweep(o) == sweep(&out[i])).count() < 2;
        if !consistent && !out[i].params.is_empty() {
            for j in 0..out.len() {
                if sweep(&out[j]) == sweep(&out[i]) {
                    out[j].name = commands[j].clone();
                }
            }
        }
    }
    Ok(Parsed::new(Format::Hyperfine, "hyperfine", coalesce(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_is_named_by_one_template_or_keeps_its_commands() {
        let doc = |cmds: &[(&str, &str)]| {
            let rows: Vec<String> = cmds
                .iter()
                .map(|(c, v)| {
                    format!(r#"{{"command":"{c}","times":[0.1,0.2],"parameters":{{"n":"{v}"}}}}"#)
                })
                .collect();
            format!(r#"{{"results":[{}]}}"#, rows.join(","))
        };
        let p = parse(&doc(&[("sleep 0.01", "1"), ("sleep 0.02", "2")]), "h").unwrap();
        assert!(p.benchmarks.iter().all(|b| b.name == "sleep 0.0{n}"));
        // 10 occurs twice in the first command only: the templates disagree, keep commands.
        let p = parse(
            &doc(&[("dd bs=10 count=10", "10"), ("dd bs=100 count=10", "100")]),
            "h",
        )
        .unwrap();
        let names: Vec<&str> = p.benchmarks.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, ["dd bs=10 count=10", "dd bs=100 count=10"]);
    }
}
