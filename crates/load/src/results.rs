//! A load run in the shared model: per scenario (and `all`) its latency percentiles, its
//! throughput and its error rate as metrics, so compare, check and report read load results
//! like any other; and the percentile spectrum of a summary.

use perflab_model::load::{LoadSummary, Percentiles};
use perflab_model::{Benchmark, Better, Metric, Unit};

use crate::options::{LoadOptions, Model};

/// The model's view of a load run: per scenario (and `all`) the latency percentiles, the
/// throughput and the error rate, so compare, check and report work on load results.
pub fn benchmarks(s: &LoadSummary) -> Vec<Benchmark> {
    let mut out = Vec::new();
    // The quick form's one scenario is the same as `all`: keep one copy.
    let only_default = s.scenarios.len() == 2 && s.scenarios.contains_key("default");
    for (name, sc) in &s.scenarios {
        if only_default && name == "default" {
            continue;
        }
        let mut b = Benchmark::new(name.clone());
        let l: &Percentiles = &sc.latency;
        for (m, v) in [
            ("p50", l.p50),
            ("p90", l.p90),
            ("p95", l.p95),
            ("p99", l.p99),
            ("p99_9", l.p99_9),
            // No `max`: one extreme request decides it, so comparing it between runs would
            // raise false alarms. It stays in the load summary and in thresholds.
            ("mean", l.mean),
        ] {
            if sc.requests > 0 {
                b.metrics.push(Metric::new(m, Unit::seconds(), vec![v]));
            }
        }
        let rps_samples: Vec<f64> = if name == "all" {
            // Whole seconds of the measured part: a sample per second for the statistics.
            s.series
                .iter()
                .filter(|p| (p.t as f64) + 1.0 <= s.measured_seconds)
                .map(|p| p.requests as f64)
                .collect()
        } else {
            Vec::new()
        };
        let rps_samples = if rps_samples.is_empty() {
            vec![sc.rps]
        } else {
            rps_samples
        };
        b.metrics
            .push(Metric::new("rps", Unit::per_sec(), rps_samples));
        let mut e = Metric::new("error_rate", Unit("ratio".into()), vec![sc.error_rate]);
        e.better = Better::Lower;
        b.metrics.push(e);
        out.push(b);
    }
    out
}

/// One line of the percentile spectrum: quantile, value in seconds, requests at or below it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpectrumPoint {
    /// The quantile (0.5 … 1.0).
    pub quantile: f64,
    /// Latency at it, seconds.
    pub seconds: f64,
    /// Requests at or below it.
    pub count: u64,
}

/// The HDR spectrum of all requests (empty when there were none).
pub fn spectrum(s: &LoadSummary) -> Vec<SpectrumPoint> {
    let Some(all) = s.scenarios.get("all") else {
        return Vec::new();
    };
    if all.latency_histogram.is_empty() {
        return Vec::new();
    }
    let Ok(h) = crate::decode_histogram(&all.latency_histogram) else {
        return Vec::new();
    };
    [0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0]
        .into_iter()
        .map(|q| SpectrumPoint {
            quantile: q,
            seconds: h.value_at_quantile(q) as f64 / 1e9,
            count: h.count_between(0, h.value_at_quantile(q)),
        })
        .collect()
}

impl LoadOptions {
    /// `closed model, 64 virtual users` or `open model, 1000/s fixed arrivals, 64 connections`.
    pub fn describe_model(&self) -> String {
        match &self.model {
            Model::Closed { vus: 0, .. } => "closed model, staged virtual users".to_string(),
            Model::Closed { vus, .. } => format!("closed model, {vus} virtual users"),
            Model::Open {
                rate,
                max_connections,
                poisson,
                ..
            } => format!(
                "open model, {}/s {} arrivals, {max_connections} connections",
                rate,
                if *poisson { "poisson" } else { "fixed" }
            ),
        }
    }
}
