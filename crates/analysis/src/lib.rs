//! Stage: **analyse** (policy). Turns model values into decisions: a [`Comparison`] of a base
//! against a current set of benchmarks, with benchstat's statistics and perflab's regression
//! gate, and a [`check`] of results against targets.
//!
//! The statistics are benchstat's (median, order-statistic CI, Mann-Whitney U; `~` when
//! p > α). The gate adds what CI needs: a row fails only when its change is in the worse
//! direction, larger than the change allowed for that metric, and significant after a
//! multiple-comparison correction across all rows (Holm by default). When samples are too few
//! for the test ever to reach α, the gate falls back to the threshold alone and says so.
//!
//! ```
//! use perflab_analysis::{compare, CompareOptions, Verdict};
//! use perflab_model::{Benchmark, Metric, Unit};
//! let bench = |v: &[f64]| {
//!     let mut b = Benchmark::new("parse");
//!     b.metrics.push(Metric::new("time", Unit::seconds(), v.to_vec()));
//!     vec![b]
//! };
//! let base = bench(&[1.0, 1.1, 0.9, 1.0, 1.05, 0.95]);
//! let current = bench(&[2.0, 2.1, 1.9, 2.0, 2.05, 1.95]);
//! let c = compare(&base, &current, &CompareOptions::default()).unwrap();
//! assert_eq!(c.rows[0].verdict, Verdict::Regression);
//! assert!(!c.gate.passed);
//! ```

mod check;
pub mod checklist;
pub mod commit;
pub mod config;
mod gate;
mod glob;
pub mod history;
pub mod scan;

use std::collections::BTreeMap;

use perflab_model::{Benchmark, Better, Unit};
use perflab_stats as stats;
use serde::Serialize;

pub use check::{check, Level, LevelOp, Status, Target, TargetResult};
pub use glob::{benchmark_matches, glob_match};

/// Errors of the analyses.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// Base and current share no benchmark and metric.
    #[error("no benchmark in common between base ({base}) and current ({current})")]
    NothingInCommon {
        /// Some base keys.
        base: String,
        /// Some current keys.
        current: String,
    },
    /// A level such as `< 5ms` could not be read.
    #[error("invalid level: {error}")]
    Level {
        /// The text.
        text: String,
        /// Why (shown in the message, so not chained again).
        error: perflab_model::QuantityError,
    },
    /// A field of a target is wrong (`.target: invalid level …`).
    #[error(".{field}: {error}")]
    Field {
        /// `target` or `critical`.
        field: &'static str,
        /// What is wrong with it.
        error: Box<AnalysisError>,
    },
    /// A target that cannot work as written.
    #[error("{message}")]
    Target {
        /// What is wrong.
        message: String,
    },
    /// `--col` named a parameter with fewer than two values.
    #[error("parameter {param:?} has {found} value(s) among the benchmarks; --col needs two or more (params seen: {seen})")]
    Column {
        /// The parameter.
        param: String,
        /// How many values it has.
        found: usize,
        /// Params that exist.
        seen: String,
    },
    /// `perflab.toml` is wrong: the message names the file, and the line where it can.
    #[error("{message}")]
    Config {
        /// `FILE[:LINE]: what is wrong`.
        message: String,
    },
}

/// Multiple-comparison correction applied before the gate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Correction {
    /// Each row on its own.
    None,
    /// Holm–Bonferroni (family-wise error rate).
    #[default]
    Holm,
    /// Benjamini–Hochberg (false discovery rate).
    Bh,
}

/// An allowed change for a metric, optionally for matching benchmarks only.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// Glob over benchmark keys; `None` matches all.
    pub benchmark: Option<String>,
    /// Metric name; `*` matches all.
    pub metric: String,
    /// Largest tolerated change in the worse direction, as a fraction (0.2 = 20%).
    pub max_change: f64,
}

/// Options of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareOptions {
    /// Significance level α.
    pub alpha: f64,
    /// Confidence level of the median intervals.
    pub confidence_level: f64,
    /// Correction across rows for the gate.
    pub correction: Correction,
    /// Allowed change when no rule matches (fraction).
    pub default_max_change: f64,
    /// Per-metric and per-benchmark allowed changes; later rules win among equals, and a rule
    /// naming benchmarks beats one that does not.
    pub rules: Vec<Rule>,
    /// Label of the base side.
    pub base_label: String,
    /// Label of the current side.
    pub current_label: String,
    /// A benchmark or metric present on one side only fails the gate (`--fail-on-missing`).
    pub fail_on_missing: bool,
    /// An inconclusive row fails the gate (`--fail-on-inconclusive`).
    pub fail_on_inconclusive: bool,
}

impl Default for CompareOptions {
    fn default() -> Self {
        CompareOptions {
            alpha: 0.05,
            confidence_level: 0.95,
            correction: Correction::Holm,
            default_max_change: 0.10,
            rules: Vec::new(),
            base_label: "base".into(),
            current_label: "current".into(),
            fail_on_missing: false,
            fail_on_inconclusive: false,
        }
    }
}

impl Correction {
    /// `none`, `holm` or `bh`.
    pub fn from_name(name: &str) -> Option<Correction> {
        match name {
            "none" => Some(Correction::None),
            "holm" => Some(Correction::Holm),
            "bh" => Some(Correction::Bh),
            _ => None,
        }
    }
}

impl CompareOptions {
    /// Check the levels are probabilities; `what` prefixes the field names (`--`, `compare.`).
    ///
    /// # Errors
    /// [`AnalysisError::Target`] naming the field.
    pub fn validate(&self, what: &str) -> Result<(), AnalysisError> {
        for (name, v) in [("alpha", self.alpha), ("confidence", self.confidence_level)] {
            if !(v > 0.0 && v < 1.0) {
                return Err(AnalysisError::Target {
                    message: format!("{what}{name} {v} must be between 0 and 1"),
                });
            }
        }
        Ok(())
    }

    /// The allowed change for a benchmark key and metric.
    pub fn max_change(&self, key: &str, metric: &str) -> f64 {
        self.max_change_for(&Benchmark::new(key), metric)
    }

    /// The allowed change for a benchmark and metric (patterns match as targets do, see
    /// [`benchmark_matches`]).
    pub fn max_change_for(&self, b: &Benchmark, metric: &str) -> f64 {
        let mut best: Option<(bool, f64)> = None;
        for r in &self.rules {
            let metric_ok = r.metric == "*" || r.metric == metric;
            let bench_ok = r
                .benchmark
                .as_deref()
                .is_none_or(|g| benchmark_matches(g, &b.name, &b.params));
            if metric_ok && bench_ok {
                let specific = r.benchmark.is_some();
                if best.is_none_or(|(s, _)| specific || !s) {
                    best = Some((specific, r.max_change));
                }
            }
        }
        best.map_or(self.default_max_change, |(_, m)| m)
    }
}

/// One side of a comparison row.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Side {
    /// Number of samples.
    pub n: usize,
    /// Median, in base units.
    pub median: f64,
    /// Lower bound of the median's CI (`null` in JSON when unbounded).
    #[serde(serialize_with = "finite_or_null")]
    pub ci_low: f64,
    /// Upper bound of the median's CI.
    #[serde(serialize_with = "finite_or_null")]
    pub ci_high: f64,
}

fn finite_or_null<S: serde::Serializer>(v: &f64, s: S) -> Result<S::Ok, S::Error> {
    if v.is_finite() {
        s.serialize_f64(*v)
    } else {
        s.serialize_none()
    }
}

fn opt_finite<S: serde::Serializer>(v: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(x) if x.is_finite() => s.serialize_f64(*x),
        _ => s.serialize_none(),
    }
}

/// What a row says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// No significant change (benchstat's `~`).
    #[serde(rename = "~")]
    Same,
    /// Significant change in the better direction.
    Improvement,
    /// Significant change in the worse direction, within what the rules allow.
    Worse,
    /// A regression that fails the gate.
    Regression,
    /// The noise is too large to tell whether the change is beyond the allowed change: the
    /// interval reaches past it, but the gate's test cannot confirm a regression. Passes the
    /// gate unless `--fail-on-inconclusive`.
    Inconclusive,
    /// The row could not be tested (a test errored): the gate fails closed.
    Error,
}

impl Verdict {
    /// `~`, `improvement`, `worse` or `regression`.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Same => "~",
            Verdict::Improvement => "improvement",
            Verdict::Worse => "worse",
            Verdict::Regression => "regression",
            Verdict::Inconclusive => "inconclusive",
            Verdict::Error => "error",
        }
    }
}

/// How the gate treats a row (see `docs/statistics.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Samples vary: the row joins the gate's family and is tested (Welch's t on log values).
    Tested,
    /// Every sample of each side is the same value (B/op, allocs/op, counts), two or more a
    /// side: compared exactly against the allowed change, outside the family.
    Exact,
    /// Computed from another metric of the same benchmark (MB/s from ns/op): shown with
    /// benchstat's numbers, gated through the metric it comes from, outside the family.
    Derived,
    /// A side has a single sample: no test; decided on the allowed change alone.
    Untested,
}

/// One benchmark × metric comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Benchmark name.
    pub benchmark: String,
    /// Benchmark params.
    pub params: BTreeMap<String, String>,
    /// Metric name.
    pub metric: String,
    /// Unit of medians and bounds.
    pub unit: Unit,
    /// Direction of improvement.
    pub better: Better,
    /// Base side.
    pub base: Side,
    /// Current side.
    pub current: Side,
    /// `current / base − 1` (0.05 = +5%); `null` when base is 0 and current is not.
    #[serde(serialize_with = "opt_finite")]
    pub change: Option<f64>,
    /// Two-sided Mann-Whitney U p-value (benchstat's); `null` when there is no test.
    #[serde(serialize_with = "opt_finite")]
    pub p_value: Option<f64>,
    /// The gate's one-sided p-value for a change in the worse direction (Welch's t on log
    /// values); `null` outside the family.
    #[serde(serialize_with = "opt_finite")]
    pub gate_p: Option<f64>,
    /// `gate_p` after the correction across the family.
    #[serde(serialize_with = "opt_finite")]
    pub p_adjusted: Option<f64>,
    /// Rounds the gate compared pair by pair (`compare A..B`); `null` when it pooled samples.
    pub gate_rounds: Option<usize>,
    /// The change `gate_p` tests against: the allowed change when the gate compared rounds (a
    /// regression must be shown beyond it), 0 when it pooled samples (see docs/statistics.md).
    pub gate_against: f64,
    /// Lower one-sided bound (at 1 − α) of the change the gate's test estimates.
    #[serde(serialize_with = "opt_finite")]
    pub gate_ci_low: Option<f64>,
    /// Upper one-sided bound (at 1 − α) of that change.
    #[serde(serialize_with = "opt_finite")]
    pub gate_ci_high: Option<f64>,
    /// The noise the gate saw: the standard deviation of one round's change (or of one sample),
    /// as a fraction.
    #[serde(serialize_with = "opt_finite")]
    pub noise: Option<f64>,
    /// For an inconclusive row: the rounds (or samples a side) that would likely decide it.
    pub needed: Option<usize>,
    /// How the gate treats the row.
    pub role: Role,
    /// The verdict.
    pub verdict: Verdict,
    /// The allowed change that applied (fraction).
    pub allowed_change: f64,
    /// Notes: too few samples, all samples equal, no test.
    pub warnings: Vec<String>,
    /// Label of the base column.
    pub base_label: String,
    /// Label of the current column.
    pub current_label: String,
    /// The gate's test, kept to word the verdict.
    #[serde(skip)]
    pub(crate) test: Option<gate::GateTest>,
}

impl Row {
    /// `name/param=value…`, the benchmark's identity.
    pub fn key(&self) -> String {
        let mut b = Benchmark::new(self.benchmark.clone());
        b.params = self.params.clone();
        b.key()
    }

    /// Whether the row shows a change (benchstat prints the delta, or the gate decided).
    pub fn significant(&self) -> bool {
        !matches!(self.verdict, Verdict::Same)
    }
}

/// Geometric-mean summary of one metric across the suite.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Geomean {
    /// Metric name.
    pub metric: String,
    /// Unit.
    pub unit: Unit,
    /// Geomean of base medians.
    #[serde(serialize_with = "opt_finite")]
    pub base: Option<f64>,
    /// Geomean of current medians.
    #[serde(serialize_with = "opt_finite")]
    pub current: Option<f64>,
    /// Geomean of the per-row ratios, minus one.
    #[serde(serialize_with = "opt_finite")]
    pub change: Option<f64>,
    /// Rows it summarises.
    pub rows: usize,
    /// The package (`pkg` param) it summarises, when the rows have one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pkg: Option<String>,
    /// Label of the base column (several pairs exist with `--col`).
    pub base_label: String,
    /// Label of the current column.
    pub current_label: String,
    /// Why it is missing or partial.
    pub warnings: Vec<String>,
}

/// The gate's decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Gate {
    /// True when no row regressed and no row errored.
    pub passed: bool,
    /// Number of regressing rows.
    pub regressions: usize,
    /// Rows whose test errored (they fail the gate).
    pub errors: usize,
    /// Rows the noise left undecided (they fail the gate with `fail_on_inconclusive`).
    pub inconclusive: usize,
    /// Inconclusive rows fail the gate.
    pub fail_on_inconclusive: bool,
    /// Benchmarks or metrics on one side only fail the gate (`--fail-on-missing`).
    pub missing_fails: bool,
    /// Rows in the family the correction is taken over (role `tested`), counted before any
    /// filter, so a filter never changes a verdict.
    pub family: usize,
    /// The test behind `gate_p`.
    pub test: &'static str,
    /// What the reader should know about the gate's reach.
    pub notes: Vec<String>,
}

/// A full comparison.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Always `perflab.compare.v1`.
    pub schema: &'static str,
    /// Significance level used.
    pub alpha: f64,
    /// Confidence level of the intervals.
    pub confidence_level: f64,
    /// Correction used for the gate.
    pub correction: Correction,
    /// One row per benchmark and metric present on both sides.
    pub rows: Vec<Row>,
    /// One row per metric (and column pair).
    pub geomean: Vec<Geomean>,
    /// Benchmarks or metrics present on one side only, and other notes.
    pub warnings: Vec<String>,
    /// Benchmarks (or one metric of them) present on one side only.
    pub missing: Vec<Missing>,
    /// With `compare --aa`: the smallest regression each tested row could show (see
    /// [`detectable`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub detectable: Vec<Detectable>,
    /// The gate.
    pub gate: Gate,
}

/// How small a regression one row could show with these samples: the answer of an A/A run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detectable {
    /// The benchmark's identity.
    pub benchmark: String,
    /// The metric.
    pub metric: String,
    /// The smallest change in the worse direction the gate's test calls significant at α
    /// divided by the family size (the correction's strictest step); `null` when not even a
    /// 100× change would be.
    #[serde(serialize_with = "opt_finite")]
    pub test_change: Option<f64>,
    /// What the gate would flag: the larger of `test_change` and the allowed change.
    #[serde(serialize_with = "opt_finite")]
    pub gate_change: Option<f64>,
}

/// For every tested row of `comparison`, the smallest slowdown that its samples would reveal:
/// the current samples are shifted in the worse direction until the gate's test (Welch's t on
/// log values, at α over the family size) calls the shift significant. Run on two sides of the
/// same code (an A/A run), this is how noisy the machine is for each benchmark.
pub fn detectable(
    base: &[Benchmark],
    current: &[Benchmark],
    comparison: &Comparison,
    opts: &CompareOptions,
) -> Vec<Detectable> {
    let level = opts.alpha / comparison.gate.family.max(1) as f64;
    type Samples = (Vec<f64>, Vec<u32>);
    let samples = |set: &[Benchmark], key: &str, metric: &str| -> Option<Samples> {
        let b = set.iter().find(|b| b.key() == key)?;
        let m = b.metric(metric)?;
        Some((
            m.samples.clone(),
            b.rounds_of(m).unwrap_or_default().to_vec(),
        ))
    };
    let mut out = Vec::new();
    for r in comparison.rows.iter().filter(|r| r.role == Role::Tested) {
        let key = r.key();
        let (Some((b, rb)), Some((c, rc))) = (
            samples(base, &key, &r.metric),
            samples(current, &key, &r.metric),
        ) else {
            continue;
        };
        let rounds = (!rb.is_empty() && !rc.is_empty()).then_some((&rb[..], &rc[..]));
        let flags = |shift: f64| {
            let factor = match r.better {
                perflab_model::Better::Lower => 1.0 + shift,
                perflab_model::Better::Higher => 1.0 / (1.0 + shift),
            };
            let moved: Vec<f64> = c.iter().map(|v| v * factor).collect();
            gate::gate_test(&b, &moved, r.better, rounds, 0.0).is_ok_and(|t| t.p <= level)
        };
        // The test's p falls as the shift grows (a shift moves every log value alike).
        let test_change = if flags(0.0) {
            Some(0.0)
        } else if !flags(100.0) {
            None
        } else {
            let (mut lo, mut hi) = (0.0, 100.0);
            for _ in 0..60 {
                let mid = (lo + hi) / 2.0;
                if flags(mid) {
                    hi = mid;
                } else {
                    lo = mid;
                }
            }
            Some(hi)
        };
        out.push(Detectable {
            benchmark: key,
            metric: r.metric.clone(),
            test_change,
            gate_change: test_change.map(|t| t.max(r.allowed_change)),
        });
    }
    out
}

/// A benchmark, or a metric of one, that only one side has.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Missing {
    /// The benchmark's identity (`name/param=value…`).
    pub benchmark: String,
    /// The metric, when the benchmark is on both sides but this metric is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metric: Option<String>,
    /// The label of the side that has it.
    pub only_in: String,
}

impl Comparison {
    /// Count regressions and errors among the rows and decide `gate.passed`.
    pub fn recount(&mut self) {
        let count = |v: Verdict| self.rows.iter().filter(|r| r.verdict == v).count();
        self.gate.regressions = count(Verdict::Regression);
        self.gate.errors = count(Verdict::Error);
        self.gate.inconclusive = count(Verdict::Inconclusive);
        let missing = self.gate.missing_fails && !self.missing.is_empty();
        let undecided = self.gate.fail_on_inconclusive && self.gate.inconclusive > 0;
        self.gate.passed =
            self.gate.regressions == 0 && self.gate.errors == 0 && !missing && !undecided;
    }

    /// Keep only the rows `keep` accepts (`--filter`, `--metric`). Verdicts were decided over
    /// the whole comparison and do not change; the gate is recounted over the rows kept, and
    /// geomeans are recomputed from them.
    pub fn retain(&mut self, keep: impl Fn(&Row) -> bool) {
        let before = self.rows.len();
        self.rows.retain(|r| keep(r));
        if self.rows.len() != before {
            let mut geomean = Vec::new();
            let mut pairs: Vec<(String, String)> = Vec::new();
            for r in &self.rows {
                let p = (r.base_label.clone(), r.current_label.clone());
                if !pairs.contains(&p) {
                    pairs.push(p);
                }
            }
            for (b, c) in pairs {
                let rows: Vec<Row> = self
                    .rows
                    .iter()
                    .filter(|r| r.base_label == b && r.current_label == c)
                    .cloned()
                    .collect();
                geomean.extend(geomeans(&rows, 0));
            }
            self.geomean = geomean;
            self.gate.notes.push(format!(
                "{} of {before} rows shown; verdicts are those of the whole comparison (family of {})",
                self.rows.len(),
                self.gate.family
            ));
        }
        self.recount();
    }
}

/// The JSON schema name of comparisons.
pub const COMPARE_SCHEMA: &str = "perflab.compare.v1";

fn side(samples: &[f64], confidence_level: f64) -> (Side, stats::Summary) {
    let s = stats::summarize(samples, confidence_level);
    (
        Side {
            n: s.n,
            median: s.center,
            ci_low: s.ci_low,
            ci_high: s.ci_high,
        },
        s,
    )
}

/// Compare `current` against `base`, matching benchmarks by identity and metrics by name.
///
/// # Errors
/// [`AnalysisError::NothingInCommon`] when no benchmark and metric is on both sides.
pub fn compare(
    base: &[Benchmark],
    current: &[Benchmark],
    opts: &CompareOptions,
) -> Result<Comparison, AnalysisError> {
    compare_many(
        &[(base, current, &opts.base_label, &opts.current_label)],
        opts,
    )
}

/// Compare several sets against one base (benchstat with three or more inputs): every row of
/// every pair is one family for the gate.
///
/// # Errors
/// [`AnalysisError::NothingInCommon`] when no pair shares a benchmark and metric.
pub fn compare_each(
    base: (&[Benchmark], &str),
    currents: &[(&[Benchmark], &str)],
    opts: &CompareOptions,
) -> Result<Comparison, AnalysisError> {
    let base_label = base.1.to_string();
    let labels: Vec<String> = currents.iter().map(|c| c.1.to_string()).collect();
    let pairs: Vec<Pair<'_>> = currents
        .iter()
        .zip(&labels)
        .map(|(c, l)| (base.0, c.0, &base_label, l))
        .collect();
    compare_many(&pairs, opts)
}

/// The benchmarks with these params removed from their identity (benchstat's `-ignore`), so
/// runs from machines with different core counts (`procs`) or packages compare; benchmarks
/// that become the same merge their samples.
pub fn ignore_params(benchmarks: &[Benchmark], keys: &[String]) -> Vec<Benchmark> {
    let mut out: Vec<Benchmark> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    for b in benchmarks {
        let mut b = b.clone();
        b.params.retain(|k, _| !keys.contains(k));
        match index.get(&b.key()) {
            Some(&i) => out[i].absorb(b),
            None => {
                index.insert(b.key(), out.len());
                out.push(b);
            }
        }
    }
    out
}

type Pair<'a> = (&'a [Benchmark], &'a [Benchmark], &'a String, &'a String);

fn compare_many(pairs: &[Pair<'_>], opts: &CompareOptions) -> Result<Comparison, AnalysisError> {
    let mut rows = Vec::new();
    let mut warnings = Vec::new();
    let mut missing = Vec::new();
    let mut geomean = Vec::new();
    for &(base, current, base_label, current_label) in pairs {
        let mut lack = |benchmark: &str, metric: Option<&str>, only_in: &str| {
            missing.push(Missing {
                benchmark: benchmark.to_string(),
                metric: metric.map(str::to_string),
                only_in: only_in.to_string(),
            });
        };
        let start = rows.len();
        let cur_index: BTreeMap<String, &Benchmark> =
            current.iter().map(|b| (b.key(), b)).collect();
        let base_keys: std::collections::HashSet<String> =
            base.iter().map(Benchmark::key).collect();
        for b in base {
            let key = b.key();
            let Some(c) = cur_index.get(&key) else {
                warnings.push(format!("{key}: only in {base_label}"));
                lack(&key, None, base_label);
                continue;
            };
            for m in &b.metrics {
                let Some(cm) = c
                    .metrics
                    .iter()
                    .find(|x| x.name == m.name && x.unit == m.unit)
                else {
                    warnings.push(format!("{key}: metric {} only in {base_label}", m.name));
                    lack(&key, Some(&m.name), base_label);
                    continue;
                };
                if m.samples.is_empty() || cm.samples.is_empty() {
                    warnings.push(format!("{key}: metric {} has no samples", m.name));
                    continue;
                }
                let derived = gate::is_derived(&m.name, &m.unit)
                    && b.metric("time").is_some()
                    && c.metric("time").is_some();
                rows.push(compare_metric(
                    (b, m),
                    (c, cm),
                    derived,
                    opts,
                    base_label,
                    current_label,
                ));
            }
        }
        for c in current {
            if !base_keys.contains(&c.key()) {
                warnings.push(format!("{}: only in {current_label}", c.key()));
                lack(&c.key(), None, current_label);
            }
        }
        geomean.extend(geomeans(&rows[start..], base.len().max(current.len())));
    }
    if rows.is_empty() {
        let keys = |set: &[Benchmark]| {
            let mut k: Vec<String> = set.iter().take(3).map(Benchmark::key).collect();
            if set.len() > 3 {
                k.push(format!("… {} in all", set.len()));
            }
            if k.is_empty() {
                "none".to_string()
            } else {
                k.join(", ")
            }
        };
        let (b, c) = pairs.first().map_or((&[][..], &[][..]), |p| (p.0, p.1));
        return Err(AnalysisError::NothingInCommon {
            base: keys(b),
            current: keys(c),
        });
    }
    let (family, notes) = gate::apply(&mut rows, opts);
    let mut c = Comparison {
        schema: COMPARE_SCHEMA,
        alpha: opts.alpha,
        confidence_level: opts.confidence_level,
        correction: opts.correction,
        rows,
        geomean,
        warnings,
        missing,
        detectable: Vec::new(),
        gate: Gate {
            passed: true,
            regressions: 0,
            errors: 0,
            inconclusive: 0,
            fail_on_inconclusive: opts.fail_on_inconclusive,
            missing_fails: opts.fail_on_missing,
            family,
            test: gate::TEST_NAME,
            notes,
        },
    };
    c.recount();
    Ok(c)
}

#[allow(clippy::too_many_arguments)]
fn compare_metric(
    (b, m): (&Benchmark, &perflab_model::Metric),
    (c, cm): (&Benchmark, &perflab_model::Metric),
    derived: bool,
    opts: &CompareOptions,
    base_label: &str,
    current_label: &str,
) -> Row {
    let cur_samples = &cm.samples[..];
    let (base_side, bs) = side(&m.samples, opts.confidence_level);
    let (cur_side, cs) = side(cur_samples, opts.confidence_level);
    let mut warnings = Vec::new();
    for s in [&bs, &cs] {
        if let Some(n) = s.need_for_ci {
            let w = format!(
                "need >= {n} samples for confidence interval at level {}",
                opts.confidence_level
            );
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
    }
    let change = if base_side.median == 0.0 {
        (cur_side.median == 0.0).then_some(0.0)
    } else {
        Some(cur_side.median / base_side.median - 1.0)
    };
    let mut verdict = Verdict::Same;
    let p_value = match stats::mann_whitney_u(&m.samples, cur_samples) {
        Ok(t) => {
            if t.all_equal {
                warnings.push("all samples are equal".into());
            }
            Some(t.p_value)
        }
        Err(e) => {
            warnings.push(format!("the rank test failed ({e}); the gate fails closed"));
            verdict = Verdict::Error;
            None
        }
    };
    let role = gate::role(&m.samples, cur_samples, derived);
    let rounds = b.rounds_of(m).zip(c.rounds_of(cm));
    let allowed_change = opts.max_change_for(b, &m.name);
    let mut test = None;
    let gate_p = match role {
        Role::Tested => {
            match gate::gate_test(&m.samples, cur_samples, m.better, rounds, allowed_change) {
                Ok(t) => {
                    if t.left_out > 0 {
                        let what = if t.rounds.is_some() {
                            "round(s) left out of the gate's test (more than 8σ on the worse side of the rounds' median change)"
                        } else {
                            "sample(s) left out of the gate's test (more than 8σ on the worse side of their side's median)"
                        };
                        debug_assert_eq!(gate::OUTLIER_SIGMAS, 8.0, "the wording above");
                        warnings.push(format!("{} extreme {what}", t.left_out));
                    }
                    test = Some(t);
                    Some(t.p)
                }
                Err(e) => {
                    warnings.push(format!(
                        "the gate's test failed ({e}); the gate fails closed"
                    ));
                    verdict = Verdict::Error;
                    None
                }
            }
        }
        Role::Untested => {
            warnings.push(
                "a single sample on a side: no test possible; gated on the allowed change alone"
                    .into(),
            );
            None
        }
        Role::Exact => None,
        Role::Derived => None,
    };
    let bounds = test.map(|t| t.change_bounds(1.0 - opts.alpha, m.better, stats::mean(&m.samples)));
    Row {
        benchmark: b.name.clone(),
        params: b.params.clone(),
        metric: m.name.clone(),
        unit: m.unit.clone(),
        better: m.better,
        base: base_side,
        current: cur_side,
        change,
        p_value,
        gate_p,
        p_adjusted: None,
        gate_rounds: test.and_then(|t| t.rounds),
        gate_against: if test.is_some_and(|t| t.rounds.is_some()) {
            allowed_change
        } else {
            0.0
        },
        gate_ci_low: bounds.map(|b| b.0),
        gate_ci_high: bounds.map(|b| b.1),
        noise: test.filter(|t| t.logs).map(|t| t.spread.exp() - 1.0),
        needed: None,
        test,
        role,
        verdict,
        allowed_change,
        warnings,
        base_label: base_label.to_string(),
        current_label: current_label.to_string(),
    }
}

fn geomeans(rows: &[Row], _suite: usize) -> Vec<Geomean> {
    // One geomean per metric and package, as benchstat prints one table per package.
    let mut by_metric: BTreeMap<(String, Unit, Option<String>), Vec<&Row>> = BTreeMap::new();
    for r in rows {
        by_metric
            .entry((
                r.metric.clone(),
                r.unit.clone(),
                r.params.get("pkg").cloned(),
            ))
            .or_default()
            .push(r);
    }
    let mut out = Vec::new();
    for ((metric, unit, pkg), rs) in by_metric {
        if rs.len() < 2 {
            continue;
        }
        let base: Vec<f64> = rs.iter().map(|r| r.base.median).collect();
        let cur: Vec<f64> = rs.iter().map(|r| r.current.median).collect();
        let ratios: Vec<f64> = rs
            .iter()
            .map(|r| match r.change {
                // 0 → 0 is no change (benchstat's ratio 1).
                Some(c) => c + 1.0,
                None => f64::NAN,
            })
            .collect();
        let mut warnings = Vec::new();
        let (gb, gc) = (stats::geomean(&base), stats::geomean(&cur));
        if gb.is_none() || gc.is_none() {
            warnings.push("summaries must be > 0 to compute geomean".into());
        }
        out.push(Geomean {
            metric,
            unit,
            base: gb,
            current: gc,
            change: stats::geomean(&ratios).map(|g| g - 1.0),
            rows: rs.len(),
            pkg,
            base_label: rs[0].base_label.clone(),
            current_label: rs[0].current_label.clone(),
            warnings,
        });
    }
    out
}

/// Compare across the values of one parameter in a single set (benchstat's `-col`): the first
/// value seen is the base, every other value is compared against it.
///
/// # Errors
/// [`AnalysisError::Column`] when the parameter has fewer than two values;
/// [`AnalysisError::NothingInCommon`] when no benchmark exists for two values.
pub fn compare_by_param(
    benchmarks: &[Benchmark],
    param: &str,
    opts: &CompareOptions,
) -> Result<Comparison, AnalysisError> {
    let mut values: Vec<String> = Vec::new();
    for b in benchmarks {
        if let Some(v) = b.params.get(param) {
            if !values.contains(v) {
                values.push(v.clone());
            }
        }
    }
    if values.len() < 2 {
        let mut seen: Vec<&String> = benchmarks.iter().flat_map(|b| b.params.keys()).collect();
        seen.sort();
        seen.dedup();
        return Err(AnalysisError::Column {
            param: param.into(),
            found: values.len(),
            seen: if seen.is_empty() {
                "none".into()
            } else {
                seen.iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    }
    let column = |v: &str| -> Vec<Benchmark> {
        benchmarks
            .iter()
            .filter(|b| b.params.get(param).map(String::as_str) == Some(v))
            .map(|b| {
                let mut b = b.clone();
                b.params.remove(param);
                b
            })
            .collect()
    };
    let base = column(&values[0]);
    let labels: Vec<String> = values.iter().map(|v| format!("{param}={v}")).collect();
    let others: Vec<Vec<Benchmark>> = values[1..].iter().map(|v| column(v)).collect();
    let pairs: Vec<Pair<'_>> = others
        .iter()
        .zip(&labels[1..])
        .map(|(o, l)| (&base[..], &o[..], &labels[0], l))
        .collect();
    compare_many(&pairs, opts)
}

/// Facts about the machine and toolchain that differ between two runs: numbers from different
/// CPUs or configurations are not comparable, and the user should know.
pub fn config_differences(base: &perflab_model::Run, current: &perflab_model::Run) -> Vec<String> {
    let mut out = Vec::new();
    for (k, b) in &base.labels {
        if let Some(c) = current.labels.get(k) {
            if b != c && !matches!(k.as_str(), "profiler") {
                out.push(format!("base and current differ in {k}: {b:?} vs {c:?}"));
            }
        }
    }
    if let (Some(b), Some(c)) = (&base.host, &current.host) {
        if b.cpu.is_some() && c.cpu.is_some() && b.cpu != c.cpu && !base.labels.contains_key("cpu")
        {
            out.push(format!(
                "base and current ran on different CPUs: {:?} vs {:?}",
                b.cpu.as_deref().unwrap_or(""),
                c.cpu.as_deref().unwrap_or("")
            ));
        }
        if b.cores != c.cores {
            out.push(format!(
                "base and current ran with {} and {} cores",
                b.cores, c.cores
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests;
