//! k6-style thresholds: `p99<5ms`, `error_rate<0.01`, `rps>10000`, `search.p99<5ms`. A name
//! that matches no metric or scenario is an error, never a silent pass.

use perflab_model::load::{ScenarioSummary, ThresholdResult};

use crate::LoadError;

/// A parsed threshold.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    /// As written.
    pub expression: String,
    /// Scenario name, or `None` for `all`.
    pub scenario: Option<String>,
    /// Metric name.
    pub metric: String,
    /// `<`, `<=`, `>`, `>=`.
    pub op: String,
    /// Bound in base units.
    pub value: f64,
}

/// The target's own costs a threshold may name (`--watch-metrics`).
pub const TARGET_METRICS: [&str; 5] = [
    "cpu_per_request",
    "allocs_per_request",
    "memory_per_request",
    "gc_pause_p99",
    "gc_pause_max",
];

/// The whole test's connections a threshold may name (k6's `http_req_connecting`): not one
/// scenario's, since scenarios share their connections.
pub const CONNECT_METRICS: [&str; 5] = [
    "connect_p50",
    "connect_p95",
    "connect_p99",
    "connect_max",
    "slow_connects",
];

/// The metrics a threshold may name.
pub const METRICS: [&str; 23] = [
    "p50",
    "p90",
    "p95",
    "p99",
    "p99.9",
    "p99_9",
    "p99.99",
    "max",
    "mean",
    "error_rate",
    "rps",
    "checks",
    "requests",
    "cpu_per_request",
    "allocs_per_request",
    "memory_per_request",
    "gc_pause_p99",
    "gc_pause_max",
    "connect_p50",
    "connect_p95",
    "connect_p99",
    "connect_max",
    "slow_connects",
];

impl Threshold {
    /// Parse one threshold; `scenarios` are the names that exist.
    ///
    /// # Errors
    /// Bad syntax, an unknown metric or an unknown scenario.
    pub fn parse(text: &str, scenarios: &[String]) -> Result<Threshold, LoadError> {
        let err = |m: String| LoadError::Config {
            message: format!("threshold {text:?}: {m}"),
        };
        let t = text.trim();
        let pos = t
            .find(['<', '>'])
            .ok_or_else(|| err("expected <, <=, > or >= (e.g. p99<5ms)".into()))?;
        let (lhs, rest) = t.split_at(pos);
        let (op, rhs) = if let Some(r) = rest.strip_prefix("<=") {
            ("<=", r)
        } else if let Some(r) = rest.strip_prefix(">=") {
            (">=", r)
        } else {
            (&rest[..1], &rest[1..])
        };
        let lhs = lhs.trim();
        // `search.p99` names a scenario, but `p99.9` is a metric.
        let (scenario, metric) = match lhs.rsplit_once('.') {
            Some((s, m)) if !METRICS.contains(&lhs) && !s.is_empty() => {
                (Some(s.to_string()), m.to_string())
            }
            _ => (None, lhs.to_string()),
        };
        let (scenario, metric) = match (&scenario, METRICS.contains(&metric.as_str())) {
            // `search.p99.9`: the split above took `9`; retry with the metric's own dot.
            (Some(s), false) => match s.rsplit_once('.') {
                Some((sc, m)) if METRICS.contains(&format!("{m}.{metric}").as_str()) => {
                    (Some(sc.to_string()), format!("{m}.{metric}"))
                }
                _ => (scenario.clone(), metric),
            },
            _ => (scenario, metric),
        };
        if !METRICS.contains(&metric.as_str()) {
            return Err(err(format!(
                "unknown metric {metric:?} (use {})",
                METRICS.join(", ")
            )));
        }
        if let Some(s) = scenario.as_ref().filter(|s| *s != "all") {
            if CONNECT_METRICS.contains(&metric.as_str()) {
                return Err(err(format!(
                    "{metric} is the whole test's (scenarios share their connections): write it without {s:?}"
                )));
            }
        }
        if let Some(s) = &scenario {
            if s != "all" && !scenarios.contains(s) {
                return Err(err(format!(
                    "unknown scenario {s:?} (scenarios: {})",
                    scenarios.join(", ")
                )));
            }
        }
        let value = parse_value(rhs.trim(), &metric).map_err(|e| err(e.to_string()))?;
        Ok(Threshold {
            expression: t.to_string(),
            scenario: scenario.filter(|s| s != "all"),
            metric,
            op: op.to_string(),
            value,
        })
    }

    /// The observed value in a summary.
    pub fn observe(&self, s: &ScenarioSummary) -> f64 {
        let l = &s.latency;
        match self.metric.as_str() {
            "p50" => l.p50,
            "p90" => l.p90,
            "p95" => l.p95,
            "p99" => l.p99,
            "p99.9" | "p99_9" => l.p99_9,
            "p99.99" => decode_quantile(s, 0.9999).unwrap_or(l.max),
            "max" => l.max,
            "mean" => l.mean,
            "error_rate" => s.error_rate,
            "rps" => s.rps,
            "requests" => s.requests as f64,
            "checks" => {
                let (p, t) = s
                    .checks
                    .iter()
                    .fold((0, 0), |(p, t), c| (p + c.passed, t + c.total));
                if t == 0 {
                    1.0
                } else {
                    p as f64 / t as f64
                }
            }
            _ => f64::NAN,
        }
    }

    /// Whether the metric is a latency (computed over the requests that succeeded).
    pub fn is_latency(&self) -> bool {
        self.metric.starts_with('p') || self.metric == "max" || self.metric == "mean"
    }

    /// Whether the metric is one of the target's own costs (`--watch-metrics`).
    pub fn is_target_metric(&self) -> bool {
        TARGET_METRICS.contains(&self.metric.as_str())
    }

    /// Evaluate against a whole load summary: the target's costs from its metrics, the rest
    /// from the threshold's scenario (`all` unless named).
    pub fn evaluate_load(&self, s: &perflab_model::load::LoadSummary) -> ThresholdResult {
        if CONNECT_METRICS.contains(&self.metric.as_str()) {
            return self.evaluate_connects(s.connects.as_ref());
        }
        if !self.is_target_metric() {
            let scenario = s
                .scenarios
                .get(self.scenario.as_deref().unwrap_or("all"))
                .cloned()
                .unwrap_or_default();
            return self.evaluate(&scenario);
        }
        let found = s
            .target_metrics
            .as_ref()
            .and_then(|t| t.derived.get(&self.metric).copied());
        match found {
            Some(v) => self.observed(v),
            None => self.cannot_pass(format!(
                "the target's metrics have no {} (it exports none of the series it is made from)",
                self.metric
            )),
        }
    }

    /// A connect threshold: `slow_connects` counts (none opened is none slow); a connect time
    /// with no connection opened fails, as a latency with no successful request does.
    fn evaluate_connects(&self, c: Option<&perflab_model::load::Connects>) -> ThresholdResult {
        if self.metric == "slow_connects" {
            return self.observed(c.map_or(0.0, |c| c.slow as f64));
        }
        let Some(c) = c.filter(|c| c.opened > 0) else {
            return self.cannot_pass(
                "no connection was opened: a connect-time threshold cannot pass".into(),
            );
        };
        let t = &c.time;
        self.observed(match self.metric.as_str() {
            "connect_p50" => t.p50,
            "connect_p95" => t.p95,
            "connect_p99" => t.p99,
            _ => t.max,
        })
    }

    fn holds(&self, v: f64) -> bool {
        match self.op.as_str() {
            "<" => v < self.value,
            "<=" => v <= self.value,
            ">" => v > self.value,
            _ => v >= self.value,
        }
    }

    /// The result of observing `v`.
    fn observed(&self, v: f64) -> ThresholdResult {
        ThresholdResult {
            expression: self.expression.clone(),
            observed: v,
            unit: Some(unit_of(&self.metric)),
            passed: self.holds(v),
            note: None,
        }
    }

    /// A failed result with no value to observe, and why.
    fn cannot_pass(&self, why: String) -> ThresholdResult {
        ThresholdResult {
            expression: self.expression.clone(),
            observed: 0.0,
            unit: Some(unit_of(&self.metric)),
            passed: false,
            note: Some(why),
        }
    }

    /// Evaluate against a summary. A latency threshold with no successful request fails: a
    /// dead server has no latency to be fast with.
    pub fn evaluate(&self, s: &ScenarioSummary) -> ThresholdResult {
        if self.is_latency() && s.requests.saturating_sub(s.failed) == 0 {
            return self.cannot_pass(format!(
                "no successful request (of {}): a latency threshold cannot pass",
                s.requests
            ));
        }
        self.observed(self.observe(s))
    }
}

fn decode_quantile(s: &ScenarioSummary, q: f64) -> Option<f64> {
    let h = crate::record::decode_histogram(&s.latency_histogram).ok()?;
    Some(h.value_at_quantile(q) as f64 / 1e9)
}

/// The bound in base units, in perflab's one quantity grammar: latencies need a time unit (a
/// bare `5` is refused, not read as milliseconds here and seconds elsewhere), `%` is a fraction.
fn parse_value(text: &str, metric: &str) -> Result<f64, perflab_model::QuantityError> {
    let unit = match unit_of(metric) {
        // A rate is written as a fraction or a percentage, both counts to the grammar.
        u if u.as_str() == "ratio" => perflab_model::Unit::count(),
        u => u,
    };
    perflab_model::parse_quantity(text)?.value_for(&unit, metric, text)
}

/// The unit a metric is observed in.
pub fn unit_of(metric: &str) -> perflab_model::Unit {
    use perflab_model::Unit;
    match metric {
        "cpu_per_request" | "gc_pause_p99" | "gc_pause_max" => Unit::seconds(),
        "memory_per_request" => Unit::bytes(),
        "allocs_per_request" | "requests" | "slow_connects" => Unit::count(),
        m if m.starts_with("connect_") => Unit::seconds(),
        "error_rate" | "checks" => Unit::ratio(),
        m if m.starts_with('p') || m == "max" || m == "mean" => Unit::seconds(),
        "rps" => Unit::per_sec(),
        _ => Unit::count(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        vec!["search".into(), "insert".into()]
    }

    #[test]
    fn parses_k6_style_thresholds() {
        let t = Threshold::parse("p99<5ms", &names()).unwrap();
        assert_eq!(
            (
                t.scenario.as_deref(),
                t.metric.as_str(),
                t.op.as_str(),
                t.value
            ),
            (None, "p99", "<", 0.005)
        );
        let t = Threshold::parse("search.p99.9<=20ms", &names()).unwrap();
        assert_eq!(
            (t.scenario.as_deref(), t.metric.as_str()),
            (Some("search"), "p99.9")
        );
        let t = Threshold::parse("p99.9<1s", &names()).unwrap();
        assert_eq!(
            (t.scenario, t.metric.as_str(), t.value),
            (None, "p99.9", 1.0)
        );
        let t = Threshold::parse("rps>10k", &names()).unwrap();
        assert_eq!(t.value, 10_000.0);
        let t = Threshold::parse("error_rate<1%", &names()).unwrap();
        assert_eq!(t.value, 0.01);
        assert!(Threshold::parse("p(99)<5", &names()).is_err());
    }

    #[test]
    fn connect_thresholds_are_the_whole_tests() {
        use perflab_model::load::{Connects, LoadSummary};
        let t = Threshold::parse("connect_p99<10ms", &names()).unwrap();
        assert_eq!((t.metric.as_str(), t.value), ("connect_p99", 0.010));
        let e = Threshold::parse("search.connect_p99<10ms", &names()).unwrap_err();
        assert!(e.to_string().contains("the whole test's"), "{e}");
        assert!(
            Threshold::parse("connect_p99<10", &names()).is_err(),
            "a time needs a unit"
        );
        let mut s = LoadSummary::default();
        // No connection: a connect time cannot pass, and none was slow.
        let r = t.evaluate_load(&s);
        assert!(!r.passed && r.note.is_some(), "{r:?}");
        let slow = Threshold::parse("slow_connects<1", &names()).unwrap();
        assert!(slow.evaluate_load(&s).passed);
        let mut c = Connects {
            opened: 10,
            slow: 2,
            ..Connects::default()
        };
        c.time.p99 = 1.02;
        c.time.max = 1.03;
        s.connects = Some(c);
        let r = t.evaluate_load(&s);
        assert!(!r.passed && r.observed == 1.02, "{r:?}");
        assert_eq!(r.unit.as_ref().map(|u| u.as_str()), Some("s"));
        assert!(!slow.evaluate_load(&s).passed);
        let max = Threshold::parse("connect_max<2s", &names()).unwrap();
        assert!(max.evaluate_load(&s).passed);
    }

    #[test]
    fn unknown_names_are_errors() {
        let e = Threshold::parse("p98<5ms", &names()).unwrap_err();
        assert!(e.to_string().contains("unknown metric \"p98\""), "{e}");
        let e = Threshold::parse("serch.p99<5ms", &names()).unwrap_err();
        assert!(
            e.to_string()
                .contains("unknown scenario \"serch\" (scenarios: search, insert)"),
            "{e}"
        );
        let e = Threshold::parse("p99 5ms", &names()).unwrap_err();
        assert!(e.to_string().contains("expected <"), "{e}");
    }

    #[test]
    fn a_latency_threshold_without_a_successful_request_fails() {
        let s = ScenarioSummary {
            requests: 40,
            failed: 40,
            ..Default::default()
        };
        let r = Threshold::parse("p99<5ms", &[]).unwrap().evaluate(&s);
        assert!(!r.passed);
        assert!(r.note.unwrap().contains("no successful request (of 40)"));
        // Nothing sent at all: the same.
        let r = Threshold::parse("max<1s", &[])
            .unwrap()
            .evaluate(&ScenarioSummary::default());
        assert!(!r.passed);
        // Rates and counts still read as they are.
        let r = Threshold::parse("error_rate<0.5", &[])
            .unwrap()
            .evaluate(&s);
        assert!(r.passed && r.note.is_none());
    }

    #[test]
    fn evaluates() {
        let mut s = ScenarioSummary {
            requests: 10,
            ..Default::default()
        };
        s.latency.p99 = 0.004;
        s.error_rate = 0.02;
        let ok = Threshold::parse("p99<5ms", &[]).unwrap().evaluate(&s);
        assert!(ok.passed);
        let bad = Threshold::parse("error_rate<0.01", &[])
            .unwrap()
            .evaluate(&s);
        assert!(!bad.passed);
        assert_eq!(bad.observed, 0.02);
    }
}
