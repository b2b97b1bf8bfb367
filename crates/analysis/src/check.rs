//! Targets and budgets: `p99 < 5ms` as a target and `< 10ms` as the critical level, as the
//! seeds' performance plans write them. A target that matches no result is an error, never a
//! silent pass.

use perflab_model::{Benchmark, Unit};
use serde::Serialize;

use crate::{benchmark_matches, AnalysisError};

/// Comparison operator of a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LevelOp {
    /// `<`
    #[serde(rename = "<")]
    Lt,
    /// `<=`
    #[serde(rename = "<=")]
    Le,
    /// `>`
    #[serde(rename = ">")]
    Gt,
    /// `>=`
    #[serde(rename = ">=")]
    Ge,
}

/// A bound such as `< 5ms` or `> 10000/s`, in base units.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Level {
    /// Operator.
    pub op: LevelOp,
    /// Bound in base units (seconds, bytes, per second).
    pub value: f64,
    /// The text as written.
    pub text: String,
}

impl Level {
    /// Parse `< 5ms`, `<=1.5s`, `> 10k/s`, `< 1 MiB`, `< 8`, `< 1%`.
    ///
    /// # Errors
    /// [`AnalysisError::Level`] naming what could not be read.
    pub fn parse(text: &str) -> Result<Level, AnalysisError> {
        let err = |reason: &str| AnalysisError::Level {
            text: text.into(),
            reason: reason.into(),
        };
        let t = text.trim();
        let (op, rest) = if let Some(r) = t.strip_prefix("<=") {
            (LevelOp::Le, r)
        } else if let Some(r) = t.strip_prefix(">=") {
            (LevelOp::Ge, r)
        } else if let Some(r) = t.strip_prefix('<') {
            (LevelOp::Lt, r)
        } else if let Some(r) = t.strip_prefix('>') {
            (LevelOp::Gt, r)
        } else {
            return Err(err("start with <, <=, > or >="));
        };
        let rest = rest.trim().replace('_', "");
        let split = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '-' || c == 'e' || c == '+'))
            .unwrap_or(rest.len());
        let (num, unit) = rest.split_at(split);
        let number: f64 = num
            .parse()
            .map_err(|_| err("expected a number after the operator"))?;
        let factor = unit_factor(unit.trim()).ok_or_else(|| {
            err("unknown unit (use ns, us, ms, s, m, B, KB, KiB, MB, MiB, GB, GiB, /s, k/s, %)")
        })?;
        Ok(Level {
            op,
            value: number * factor,
            text: t.to_string(),
        })
    }

    /// Whether `value` satisfies the bound.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            LevelOp::Lt => value < self.value,
            LevelOp::Le => value <= self.value,
            LevelOp::Gt => value > self.value,
            LevelOp::Ge => value >= self.value,
        }
    }
}

fn unit_factor(unit: &str) -> Option<f64> {
    let u = unit.trim_start_matches(' ');
    let rate = |prefix: &str| -> Option<f64> {
        Some(match prefix {
            "" => 1.0,
            "k" | "K" => 1e3,
            "M" => 1e6,
            "G" => 1e9,
            _ => return None,
        })
    };
    if let Some(p) = u.strip_suffix("/s") {
        // `10k/s`, `10k req/s`, `10000/s`, `5 MB/s`
        let p = p.trim_end_matches("req").trim_end_matches("ops").trim();
        if let Some(b) = bytes_factor(p) {
            return Some(b);
        }
        return rate(p);
    }
    Some(match u {
        "" | "x" => 1.0,
        "k" | "K" => 1e3,
        "M" => 1e6,
        "ns" => 1e-9,
        "us" | "µs" | "μs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "m" | "min" => 60.0,
        "%" => 1.0,
        other => return bytes_factor(other),
    })
}

fn bytes_factor(u: &str) -> Option<f64> {
    Some(match u {
        "B" => 1.0,
        "KB" | "kB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    })
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
