//! Targets and budgets: `p99 < 5ms` as a target and `< 10ms` as the critical level, as the
//! seeds' performance plans write them. A target that matches no result is an error, never a
//! silent pass.

use perflab_model::{Benchmark, Unit};
use serde::Serialize;

use crate::{benchmark_matches, AnalysisError};

/// Comparison operator of a level (the model's one bound grammar).
pub type LevelOp = perflab_model::BoundOp;

/// A bound such as `< 5ms` or `> 10000/s`, in base units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// Operator.
    pub op: LevelOp,
    /// Bound in base units (seconds, bytes, per second, fractions).
    pub value: f64,
    /// The text as written.
    pub text: String,
    /// What the bound measures, checked against the metric it is applied to.
    pub quantity: perflab_model::Quantity,
}

impl Level {
    /// Parse `< 5ms`, `<=1.5s`, `> 10k/s`, `< 1 MiB`, `< 8`, `< 1%` (see
    /// [`perflab_model::quantity`]).
    ///
    /// # Errors
    /// [`AnalysisError::Level`] naming what could not be read.
    pub fn parse(text: &str) -> Result<Level, AnalysisError> {
        let b = perflab_model::parse_bound(text).map_err(|e| AnalysisError::Level {
            text: text.into(),
            error: e,
        })?;
        Ok(Level {
            op: b.op,
            value: b.quantity.value,
            text: b.text,
            quantity: b.quantity,
        })
    }

    /// Whether `value` satisfies the bound.
    pub fn holds(&self, value: f64) -> bool {
        self.op.holds(value, self.value)
    }
}

/// A target from `perflab.toml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// Glob over benchmark keys.
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// The level to meet.
    pub target: Level,
    /// The level that must never be missed.
    pub critical: Option<Level>,
}

impl Target {
    /// A target from its texts, as `perflab.toml` writes it.
    ///
    /// # Errors
    /// [`AnalysisError::Level`] for a level that does not parse; [`AnalysisError::Target`] when
    /// the target and the critical level point in different directions.
    pub fn parse(
        benchmark: &str,
        metric: &str,
        target: &str,
        critical: Option<&str>,
    ) -> Result<Target, AnalysisError> {
        let field = |field: &'static str| {
            move |e: AnalysisError| AnalysisError::Field {
                field,
                error: Box::new(e),
            }
        };
        let t = Level::parse(target).map_err(field("target"))?;
        let c = critical
            .map(Level::parse)
            .transpose()
            .map_err(field("critical"))?;
        if let Some(c) = &c {
            if t.op.is_upper() != c.op.is_upper() {
                return Err(AnalysisError::Target {
                    message: format!(
                        "target {target:?} and critical {:?} point in different directions",
                        c.text
                    ),
                });
            }
        }
        Ok(Target {
            benchmark: benchmark.into(),
            metric: metric.into(),
            target: t,
            critical: c,
        })
    }
}

/// Outcome of one target on one benchmark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Target met.
    Pass,
    /// Target missed, critical level met.
    Warn,
    /// Critical level missed (or target missed with no critical level).
    Fail,
}

impl Status {
    /// The emoji the seeds' reports use.
    pub fn emoji(self) -> &'static str {
        match self {
            Status::Pass => "✅",
            Status::Warn => "⚠️",
            Status::Fail => "❌",
        }
    }
}

/// One target checked against one benchmark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetResult {
    /// Benchmark key.
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// Unit of `value`.
    pub unit: Unit,
    /// The median of the metric's samples.
    pub value: f64,
    /// Number of samples.
    pub n: usize,
    /// The target as written.
    pub target: String,
    /// The critical level as written.
    pub critical: Option<String>,
    /// The outcome.
    pub status: Status,
}

/// Check every target against the benchmarks it matches; the value checked is the median.
///
/// A target with no critical level fails when missed: a missed budget is not a warning unless
/// the config says how far it may slip.
///
/// # Errors
/// [`AnalysisError::Level`] is not returned here (levels are parsed before); a target that
/// matches nothing yields an error string in the second list.
pub fn check(benchmarks: &[Benchmark], targets: &[Target]) -> (Vec<TargetResult>, Vec<String>) {
    let mut out = Vec::new();
    let mut unmatched = Vec::new();
    for t in targets {
        let mut hit = false;
        for b in benchmarks {
            let key = b.key();
            if !benchmark_matches(&t.benchmark, &b.name, &b.params) {
                continue;
            }
            let Some(m) = b.metric(&t.metric) else {
                continue;
            };
            if m.samples.is_empty() {
                continue;
            }
            hit = true;
            let what = format!("metric {}", m.name);
            let fits = [Some(&t.target), t.critical.as_ref()]
                .into_iter()
                .flatten()
                .map(|l| l.quantity.value_for(&m.unit, &what, &l.text))
                .find_map(Result::err);
            if let Some(e) = fits {
                unmatched.push(format!("target {} {}: {e}", t.benchmark, t.metric));
                continue;
            }
            let s = perflab_stats::sorted(&m.samples);
            let value = perflab_stats::quantile(&s, 0.5);
            let status = if t.target.holds(value) {
                Status::Pass
            } else if t.critical.as_ref().is_some_and(|c| c.holds(value)) {
                Status::Warn
            } else {
                Status::Fail
            };
            out.push(TargetResult {
                benchmark: key,
                metric: t.metric.clone(),
                unit: m.unit.clone(),
                value,
                n: m.samples.len(),
                target: t.target.text.clone(),
                critical: t.critical.as_ref().map(|c| c.text.clone()),
                status,
            });
        }
        if !hit {
            let mut metrics: Vec<&str> = benchmarks
                .iter()
                .flat_map(|b| b.metrics.iter().map(|m| m.name.as_str()))
                .collect();
            metrics.sort_unstable();
            metrics.dedup();
            let mut names: Vec<&str> = benchmarks.iter().map(|b| b.name.as_str()).collect();
            names.dedup();
            let more = names.len().saturating_sub(8);
            names.truncate(8);
            let more = if more > 0 {
                format!(", … {more} more")
            } else {
                String::new()
            };
            unmatched.push(format!(
                "target {} {} matches no benchmark with that metric (benchmarks here: {}{more}; metrics: {})",
                t.benchmark,
                t.metric,
                names.join(", "),
                metrics.join(", ")
            ));
        }
    }
    (out, unmatched)
}
