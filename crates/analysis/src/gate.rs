//! The regression gate: which rows join the family, the test behind each, and the verdicts.
//!
//! benchstat's per-row numbers (median, interval, Mann-Whitney p, `~`) stay as they are; the gate
//! decides on top of them:
//! - rows whose samples are all equal on each side (B/op, allocs/op, one sample a side) are
//!   compared exactly against the allowed change; they carry no noise, so they need no test and
//!   do not dilute the family;
//! - rows derived from another metric of the benchmark (MB/s is bytes ÷ ns/op) are gated through
//!   that metric, so one slowdown is not counted, and corrected for, twice;
//! - every other row joins the family and is tested with a one-sided Welch t-test on log values
//!   (benchmark times are close to log-normal), after leaving out at most one sample in five
//!   that lies far (> 8σ, σ from the pooled MAD) on the slow side of its side's median: the 2×
//!   outliers that interference causes. Rank tests cannot reach a corrected level at `-count 5`
//!   (their smallest p is 2/252); this test can, and its error rates are measured in
//!   `tests/gate_power.rs` and written in `docs/statistics.md`.

use perflab_model::{Better, Unit};
use perflab_stats as stats;

use crate::{CompareOptions, Correction, Role, Row, Verdict};

/// Name of the gate's test, as the JSON says it.
pub(crate) const TEST_NAME: &str = "welch-t-log";

/// Samples further than this many robust standard deviations on the slow side of their side's
/// median are left out of the gate's test.
pub(crate) const OUTLIER_SIGMAS: f64 = 8.0;

/// A metric that harnesses compute from the time and a fixed size (Go's MB/s, criterion's
/// throughput, Google Benchmark's bytes and items per second).
pub(crate) fn is_derived(name: &str, unit: &Unit) -> bool {
    matches!(name, "throughput" | "items_per_second") && unit.0.ends_with("/s")
}

fn constant(v: &[f64]) -> bool {
    v.windows(2).all(|w| w[0] == w[1])
}

/// How the gate treats a row with these samples.
pub(crate) fn role(base: &[f64], current: &[f64], derived: bool) -> Role {
    if derived {
        Role::Derived
    } else if base.len() < 2 || current.len() < 2 {
        Role::Untested
    } else if constant(base) && constant(current) {
        Role::Exact
    } else {
        Role::Tested
    }
}

/// The gate's test of one row.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GateTest {
    /// One-sided p-value for a change in the worse direction.
    pub(crate) p: f64,
    /// Samples left out as extreme.
    pub(crate) left_out: usize,
}

/// One-sided Welch t-test that `current` is worse than `base`, on log values when every value
/// is positive.
pub(crate) fn gate_test(
    base: &[f64],
    current: &[f64],
    better: Better,
) -> Result<GateTest, stats::StatsError> {
    let positive = base.iter().chain(current).all(|&v| v > 0.0);
    let tr = |v: &[f64]| -> Vec<f64> {
        if positive {
            v.iter().map(|x| x.ln()).collect()
        } else {
            v.to_vec()
        }
    };
    // Orient so that "worse" is "greater".
    let sign = if better == Better::Lower { 1.0 } else { -1.0 };
    let b: Vec<f64> = tr(base).into_iter().map(|x| sign * x).collect();
    let c: Vec<f64> = tr(current).into_iter().map(|x| sign * x).collect();
    let (kb, kc) = trim_slow_outliers(&b, &c);
    let left_out = b.len() - kb.len() + c.len() - kc.len();
    match stats::welch_t_greater(&kb, &kc) {
        Ok(t) => Ok(GateTest {
            p: t.p_greater,
            left_out,
        }),
        Err(stats::StatsError::NoVariance) if left_out > 0 => {
            let t = stats::welch_t_greater(&b, &c)?;
            Ok(GateTest {
                p: t.p_greater,
                left_out: 0,
            })
        }
        Err(e) => Err(e),
    }
}

/// The median by selection (O(n)), not a full sort: the gate runs on a million samples too.
fn median(v: &[f64]) -> f64 {
    let mut w = v.to_vec();
    let n = w.len();
    if n == 0 {
        return f64::NAN;
    }
    let (_, &mut hi, _) = w.select_nth_unstable_by(n / 2, f64::total_cmp);
    if n % 2 == 1 {
        return hi;
    }
    let lo = w[..n / 2].iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (lo + hi) / 2.0
}

/// Each side without its far slow outliers (at most one sample in five per side).
fn trim_slow_outliers(b: &[f64], c: &[f64]) -> (Vec<f64>, Vec<f64>) {
    let (mb, mc) = (median(b), median(c));
    let deviations: Vec<f64> = b
        .iter()
        .map(|x| (x - mb).abs())
        .chain(c.iter().map(|x| (x - mc).abs()))
        .collect();
    let sigma = 1.4826 * median(&deviations);
    if sigma.is_nan() || sigma <= 0.0 {
        return (b.to_vec(), c.to_vec());
    }
    let trim = |v: &[f64], m: f64| -> Vec<f64> {
        // At most one in five, the farthest first: keep values within the fence, and of those
        // beyond it keep all but the `cap` largest.
        let limit = m + OUTLIER_SIGMAS * sigma;
        let cap = v.len() / 5;
        let mut beyond: Vec<f64> = v.iter().copied().filter(|&x| x > limit).collect();
        if beyond.is_empty() || cap == 0 {
            return v.to_vec();
        }
        beyond.sort_by(|a, b| b.total_cmp(a));
        let dropped = beyond.len().min(cap);
        let threshold = beyond[dropped - 1];
        let mut skip = dropped;
        v.iter()
            .copied()
            .filter(|&x| {
                if skip > 0 && x >= threshold && x > limit {
                    skip -= 1;
                    false
                } else {
                    true
                }
            })
            .collect()
    };
    (trim(b, mb), trim(c, mc))
}

/// Decide every row's verdict. Returns the family size and notes on the gate's reach.
pub(crate) fn apply(rows: &mut [Row], opts: &CompareOptions) -> (usize, Vec<String>) {
    let raw: Vec<f64> = rows
        .iter()
        .map(|r| match (r.role, r.gate_p) {
            (Role::Tested, Some(p)) => p,
            _ => f64::NAN,
        })
        .collect();
    let family = raw.iter().filter(|p| !p.is_nan()).count();
    let adjusted = match opts.correction {
        Correction::None => raw.clone(),
        Correction::Holm => stats::holm(&raw),
        Correction::Bh => stats::benjamini_hochberg(&raw),
    };
    for (row, adj) in rows.iter_mut().zip(adjusted) {
        if row.verdict == Verdict::Error {
            continue;
        }
        let worse = match (row.change, row.better) {
            (Some(c), Better::Lower) => c > 0.0,
            (Some(c), Better::Higher) => c < 0.0,
            // From zero to something: worse when lower is better.
            (None, b) => b == Better::Lower,
        };
        let magnitude = row.change.map_or(f64::INFINITY, f64::abs);
        let beyond = magnitude > row.allowed_change;
        let rank_significant = row.p_value.is_some_and(|p| p <= opts.alpha);
        let directional = |significant: bool| match (significant, worse) {
            (false, _) => Verdict::Same,
            (true, false) => Verdict::Improvement,
            (true, true) => Verdict::Worse,
        };
        row.verdict = match row.role {
            Role::Tested => {
                row.p_adjusted = Some(adj);
                let gate_significant = adj <= opts.alpha;
                if worse && beyond && gate_significant {
                    if !rank_significant {
                        row.warnings.push(format!(
                            "benchstat's rank test cannot decide this row (p={:.3}); the gate's test can (corrected p={adj:.2e})",
                            row.p_value.unwrap_or(1.0)
                        ));
                    }
                    Verdict::Regression
                } else {
                    // Below the gate, the row says what benchstat says.
                    directional(rank_significant)
                }
            }
            Role::Exact | Role::Untested => {
                if magnitude == 0.0 || (row.role == Role::Untested && !beyond) {
                    Verdict::Same
                } else if !worse {
                    Verdict::Improvement
                } else if beyond {
                    Verdict::Regression
                } else {
                    Verdict::Worse
                }
            }
            Role::Derived => {
                row.warnings
                    .push("derived from time: gated through the time row".into());
                directional(rank_significant)
            }
        };
    }
    (family, reach_notes(rows, family, opts))
}

/// Say when benchstat's rank test could not reach the corrected level with these sample sizes.
fn reach_notes(rows: &[Row], family: usize, opts: &CompareOptions) -> Vec<String> {
    let level = match opts.correction {
        Correction::None => opts.alpha,
        _ => opts.alpha / family.max(1) as f64,
    };
    let smallest = rows
        .iter()
        .filter(|r| r.role == Role::Tested)
        .map(|r| r.base.n.min(r.current.n))
        .min();
    let Some(smallest) = smallest else {
        return Vec::new();
    };
    let need = (2..=1000).find(|&k| stats::min_p_value(k, k) <= level);
    match need {
        Some(k) if smallest < k => vec![format!(
            "with {family} rows in the family, a rank test needs n >= {k} per side to reach α={} after correction (smallest here: {smallest}); the gate uses Welch's t on log values, which can reach it with fewer",
            opts.alpha
        )],
        _ => Vec::new(),
    }
}
