//! A load run in the shared model: per scenario (and `all`) its latency percentiles, its
//! throughput and its error rate as metrics, so compare, check and report read load results
//! like any other; and the percentile spectrum of a summary.

use perflab_model::load::{LatencyBucket, LoadSummary, Percentiles};
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
            // No successful request: no latency (a zero would read as a great improvement).
            if sc.requests > sc.failed {
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
    // The target's own costs per request, for `check` targets and `compare`.
    if let Some(t) = &s.target_metrics {
        let mut b = Benchmark::new("target");
        for (k, v) in &t.derived {
            let unit = match k.as_str() {
                "memory_per_request" => Unit::bytes(),
                "allocs_per_request" => Unit::count(),
                _ => Unit::seconds(),
            };
            let mut m = Metric::new(k.clone(), unit, vec![*v]);
            m.better = Better::Lower;
            b.metrics.push(m);
        }
        if !b.metrics.is_empty() {
            out.push(b);
        }
    }
    out
}

pub use perflab_model::load::SpectrumPoint;

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

/// The latency distribution of `all`'s successful requests: about 40 buckets whose bounds grow
/// by a fixed ratio from the fastest request to the slowest (a log axis: a 100 µs mode and a
/// 1 s stall are both visible), empty buckets included so the chart shows the gaps.
pub fn distribution(s: &LoadSummary) -> Vec<LatencyBucket> {
    let Some(all) = s.scenarios.get("all") else {
        return Vec::new();
    };
    let Ok(h) = crate::decode_histogram(&all.latency_histogram) else {
        return Vec::new();
    };
    if h.is_empty() {
        return Vec::new();
    }
    let (lo, hi) = (h.min().max(1) as f64, h.max().max(1) as f64);
    let buckets = 40usize;
    let ratio = if hi > lo {
        (hi / lo).powf(1.0 / buckets as f64)
    } else {
        1.0
    };
    let mut out = Vec::new();
    let mut below = 0u64;
    let mut prev = lo.floor() as u64 - 1;
    for i in 1..=buckets {
        let bound = if i == buckets || ratio == 1.0 {
            h.max()
        } else {
            (lo * ratio.powi(i as i32)).ceil() as u64
        };
        if bound <= prev {
            continue;
        }
        let upto = h.count_between(0, bound).max(below);
        out.push(LatencyBucket {
            le: h.highest_equivalent(bound) as f64 / 1e9,
            count: upto - below,
        });
        below = upto;
        prev = bound;
        if bound >= h.max() {
            break;
        }
    }
    out
}

impl LoadOptions {
    /// `closed model, 64 virtual users` or `open model, 1000/s fixed arrivals, 64 connections`.
    pub fn describe_model(&self) -> String {
        if !self.parts.is_empty() {
            let parts: Vec<String> = (self.parts.iter())
                .map(|p| {
                    format!(
                        "{} ({}: {})",
                        p.name,
                        p.executor,
                        p.options.describe_model()
                    )
                })
                .collect();
            return format!("{} executors: {}", parts.len(), parts.join("; "));
        }
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

    /// The whole plan for `--dry-run`: model, length, stages, each scenario with its first
    /// request rendered, and the thresholds. Nothing is sent.
    pub fn describe_plan(&self, thresholds: &[crate::threshold::Threshold]) -> String {
        use std::fmt::Write as _;
        if !self.parts.is_empty() {
            return self.describe_parts(thresholds);
        }
        let mut out = self.describe_length();
        self.describe_scenarios(&mut out);
        for t in thresholds {
            let _ = writeln!(out, "  threshold {}", t.expression);
        }
        out
    }

    /// A plan of executors side by side: each one's own plan.
    fn describe_parts(&self, thresholds: &[crate::threshold::Threshold]) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "perflab load plan (dry run: nothing is sent)\n  {} executors, side by side\n",
            self.parts.len()
        );
        for p in &self.parts {
            let _ = writeln!(out, "executor {} ({})", visible(&p.name), p.executor);
            if let Some(n) = p.options.per_vu_requests {
                let _ = writeln!(out, "  {n} requests per virtual user");
            }
            let inner = p.options.describe_plan(&[]);
            for line in inner.lines().skip(1) {
                let _ = writeln!(out, "{line}");
            }
        }
        for t in thresholds {
            let _ = writeln!(out, "  threshold {}", visible(&t.expression));
        }
        out
    }

    /// The model, think time or pacing, length, warm-up, budget, timeouts, stages, segment.
    fn describe_length(&self) -> String {
        use std::fmt::Write as _;
        let secs = |d: std::time::Duration| perflab_model::Unit::seconds().format(d.as_secs_f64());
        let mut out = format!(
            "perflab load plan (dry run: nothing is sent)\n  {}\n",
            self.describe_model()
        );
        if let Model::Closed {
            think_time,
            expected_rate,
            ..
        } = &self.model
        {
            if !think_time.is_zero() {
                let _ = writeln!(out, "  think time {}", secs(*think_time));
            }
            if let Some(r) = expected_rate {
                let _ = writeln!(out, "  each VU sends at most {r}/s, latency from when due");
            }
        }
        let _ = write!(out, "  length {}", secs(self.total_duration()));
        if !self.warmup.is_zero() {
            let _ = write!(out, " after a {} warm-up", secs(self.warmup));
        }
        if let Some(n) = self.max_requests {
            let _ = write!(out, ", at most {n} requests");
        }
        let _ = writeln!(
            out,
            "; timeout {}, grace {}",
            secs(self.timeout),
            secs(self.grace)
        );
        if !self.stages.is_empty() {
            let unit = if matches!(self.model, Model::Open { .. }) {
                "/s"
            } else {
                " VUs"
            };
            let stages: Vec<String> = self
                .stages
                .iter()
                .map(|s| format!("{} to {}{unit}", secs(s.duration), s.target))
                .collect();
            let _ = writeln!(out, "  stages: {}", stages.join(", then "));
        }
        if self.segment.1 > 1 {
            let _ = writeln!(out, "  segment {}/{}", self.segment.0, self.segment.1);
        }
        out
    }

    /// Each scenario's first request, rendered, with its checks, extractions and chain.
    fn describe_scenarios(&self, out: &mut String) {
        use std::fmt::Write as _;
        let total: u32 = self.scenarios.iter().map(|s| s.weight).sum();
        let mut rng = crate::template::Rng::new(0x5EED);
        for sc in &self.scenarios {
            let mut ctx = crate::template::RenderContext {
                seq: 0,
                rng: &mut rng,
                csv: sc.csv.as_ref(),
                vars: &[],
            };
            let mut path = String::new();
            sc.url.render(&mut ctx, &mut path);
            let scheme = if sc.tls { "https" } else { "http" };
            let _ = writeln!(
                out,
                "  scenario {} (weight {}, {:.0}%): {} {scheme}://{}{}",
                visible(&sc.name),
                sc.weight,
                f64::from(sc.weight) * 100.0 / f64::from(total.max(1)),
                sc.method,
                sc.authority,
                visible(&path)
            );
            for (name, t) in &sc.headers {
                let mut v = String::new();
                t.render(&mut ctx, &mut v);
                let _ = writeln!(out, "    {name}: {}", visible(&v));
            }
            if let Some(b) = &sc.body {
                let mut v = String::new();
                b.render(&mut ctx, &mut v);
                let shown: String = v.chars().take(200).collect();
                let more = if v.chars().count() > 200 { "…" } else { "" };
                let _ = writeln!(
                    out,
                    "    body ({} bytes): {}{more}",
                    v.len(),
                    visible(&shown)
                );
            }
            for c in &sc.checks {
                let _ = writeln!(out, "    check: {}", c.describe());
            }
            for (var, path) in &sc.extract {
                let _ = writeln!(out, "    extract var.{var} from the JSON at {path}");
            }
            if let Some(next) = sc.then {
                let _ = writeln!(out, "    then: {} (same VU)", self.scenarios[next].name);
            }
        }
    }
}

/// Control characters shown escaped (a dry run prints rendered templates to a terminal).
fn visible(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            if c.is_control() {
                c.escape_default().collect::<Vec<_>>()
            } else {
                vec![c]
            }
        })
        .collect()
}

#[cfg(test)]
mod distribution_tests {
    use super::*;

    #[test]
    fn the_distribution_counts_every_success_once_in_growing_buckets() {
        let mut h = crate::record::new_histogram();
        // A fast mode at 100–200 µs and a stalled tail at 0.5–1 s.
        for i in 0..10_000u64 {
            h.record(100_000 + i * 10).unwrap();
        }
        for i in 0..100u64 {
            h.record(500_000_000 + i * 5_000_000).unwrap();
        }
        let mut s = LoadSummary::default();
        s.scenarios.insert(
            "all".into(),
            perflab_model::load::ScenarioSummary {
                latency_histogram: crate::encode_histogram(&h),
                ..Default::default()
            },
        );
        let d = distribution(&s);
        assert!((10..=41).contains(&d.len()), "{} buckets", d.len());
        assert_eq!(d.iter().map(|b| b.count).sum::<u64>(), 10_100);
        assert!(d.windows(2).all(|w| w[0].le < w[1].le));
        // The gap between the mode and the tail is visible as empty buckets.
        assert!(d.iter().any(|b| b.count == 0));
        let last = d.last().unwrap();
        assert!((last.le - 0.995).abs() < 0.01, "{last:?}");
        // No histogram, no distribution.
        assert!(distribution(&LoadSummary::default()).is_empty());
    }
}
