//! The Prometheus text exposition format (0.0.4) of a run or a report: for the node-exporter
//! textfile collector or a Pushgateway. Label values are escaped as the format requires
//! (`\`, `"`, newline), metric names are fixed, and only finite values are written.

use std::fmt::Write as _;

use perflab_model::Run;

use crate::ReportInput;

/// A label value, escaped.
pub fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn family(out: &mut String, name: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
}

/// The run's medians and sample counts per benchmark × metric, and its facts.
pub fn run_prometheus(run: &Run) -> String {
    let mut out = String::new();
    let git = run.git.as_ref();
    family(
        &mut out,
        "perflab_run_info",
        "The run this exposition describes (always 1).",
    );
    let _ = writeln!(
        out,
        "perflab_run_info{{run_id=\"{}\",kind=\"{}\",commit=\"{}\",branch=\"{}\"}} 1",
        label(&run.id),
        run.kind.as_str(),
        label(git.map_or("", |g| g.commit.as_str())),
        label(git.and_then(|g| g.branch.as_deref()).unwrap_or(""))
    );
    if let Some(ms) = perflab_model::parse_rfc3339_ms(&run.started_at) {
        family(
            &mut out,
            "perflab_run_start_time_seconds",
            "When the run started, Unix time.",
        );
        let _ = writeln!(out, "perflab_run_start_time_seconds {}", ms as f64 / 1000.0);
    }
    let mut medians = String::new();
    let mut counts = String::new();
    for b in &run.benchmarks {
        for m in &b.metrics {
            let s = perflab_stats::summarize(&m.samples, 0.95);
            if !s.center.is_finite() {
                continue;
            }
            let labels = format!(
                "benchmark=\"{}\",metric=\"{}\",unit=\"{}\",better=\"{}\"",
                label(&b.key()),
                label(&m.name),
                label(m.unit.as_str()),
                m.better.as_str()
            );
            let _ = writeln!(medians, "perflab_benchmark_median{{{labels}}} {}", s.center);
            let _ = writeln!(counts, "perflab_benchmark_samples{{{labels}}} {}", s.n);
        }
    }
    if !medians.is_empty() {
        family(
            &mut out,
            "perflab_benchmark_median",
            "Median of a benchmark's metric, in base units (seconds, bytes, per second).",
        );
        out.push_str(&medians);
        family(
            &mut out,
            "perflab_benchmark_samples",
            "Samples behind the median.",
        );
        out.push_str(&counts);
    }
    out
}

/// A report: the run, its targets (0 pass, 1 warn, 2 fail) and the comparison's gate.
pub fn report_prometheus(input: &ReportInput<'_>) -> String {
    let mut out = run_prometheus(input.run);
    if !input.targets.is_empty() {
        family(
            &mut out,
            "perflab_target_status",
            "Target check: 0 pass, 1 warn (target missed, critical met), 2 fail.",
        );
        for t in &input.targets {
            let v = match t.status {
                perflab_analysis::Status::Pass => 0,
                perflab_analysis::Status::Warn => 1,
                perflab_analysis::Status::Fail => 2,
            };
            let _ = writeln!(
                out,
                "perflab_target_status{{benchmark=\"{}\",metric=\"{}\",target=\"{}\"}} {v}",
                label(&t.benchmark),
                label(&t.metric),
                label(&t.target)
            );
        }
    }
    if let Some((_, c)) = &input.comparison {
        family(
            &mut out,
            "perflab_gate_regressions",
            "Rows of the comparison that fail the gate.",
        );
        let _ = writeln!(
            out,
            "perflab_gate_regressions {}",
            c.gate.regressions + c.gate.errors
        );
        family(
            &mut out,
            "perflab_gate_passed",
            "1 when the comparison's gate passed.",
        );
        let _ = writeln!(out, "perflab_gate_passed {}", u8::from(c.gate.passed));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
