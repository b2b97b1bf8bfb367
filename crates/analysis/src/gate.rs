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
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct GateTest {
    /// One-sided p-value for a change in the worse direction.
    pub(crate) p: f64,
    /// Samples (or rounds) left out as extreme.
    pub(crate) left_out: usize,
    /// Rounds compared pair by pair; `None` when the samples were pooled.
    pub(crate) rounds: Option<usize>,
    /// The test itself: estimate and standard error of the difference of (oriented) logs.
    pub(crate) t: stats::WelchT,
    /// Standard deviation of one unit of the test (a round's log ratio, or one log sample).
    pub(crate) spread: f64,
    /// Values were positive, so the test ran on logarithms.
    pub(crate) logs: bool,
}

impl GateTest {
    /// The one-sided bounds (each at `confidence`) of the change `current / base − 1`, in the
    /// row's own direction; `base_mean` converts a raw difference (tests on raw values).
    pub(crate) fn change_bounds(
        &self,
        confidence: f64,
        better: Better,
        base_mean: f64,
    ) -> (f64, f64) {
        let (lo, hi) = self.t.bounds(confidence);
        let sign = if better == Better::Lower { 1.0 } else { -1.0 };
        let (lo, hi) = if sign > 0.0 { (lo, hi) } else { (-hi, -lo) };
        if self.logs {
            (lo.exp() - 1.0, hi.exp() - 1.0)
        } else {
            (lo / base_mean.abs(), hi / base_mean.abs())
        }
    }

    /// How many rounds (or samples a side) would make the interval narrow enough to tell the
    /// estimate from the allowed change at `confidence`: `None` when the estimate sits on it.
    pub(crate) fn needed(&self, confidence: f64, allowed: f64, better: Better) -> Option<usize> {
        let limit = log_limit(allowed, better);
        let gap = (limit - self.t.estimate).abs();
        if !self.logs || gap <= 0.0 || !gap.is_finite() {
            return None;
        }
        let width = |n: usize| {
            let (se, df) = match self.rounds {
                Some(_) => (self.spread / (n as f64).sqrt(), n as f64 - 1.0),
                None => (self.spread * (2.0 / n as f64).sqrt(), 2.0 * n as f64 - 2.0),
            };
            stats::student_t_quantile(confidence, df) * se
        };
        // The width falls as n grows: double to bracket, then halve.
        const MOST: usize = 100_000;
        let mut hi = 2;
        while width(hi) >= gap {
            if hi >= MOST {
                return Some(MOST);
            }
            hi = (hi * 2).min(MOST);
        }
        let mut lo = hi / 2;
        if lo < 2 {
            return Some(2);
        }
        // width(lo) >= gap > width(hi)
        while hi - lo > 1 {
            let mid = (lo + hi) / 2;
            if width(mid) < gap {
                hi = mid;
            } else {
                lo = mid;
            }
        }
        Some(hi)
    }
}

/// Each round's summary of one side: the median of its (oriented, log) values in that round.
fn per_round(values: &[f64], rounds: &[u32]) -> std::collections::BTreeMap<u32, f64> {
    let mut by: std::collections::BTreeMap<u32, Vec<f64>> = Default::default();
    for (&v, &r) in values.iter().zip(rounds) {
        by.entry(r).or_default().push(v);
    }
    by.into_iter().map(|(r, v)| (r, median(&v))).collect()
}

/// One-sided test that `current` is worse than `base`, on log values when every value is
/// positive. With the round of every sample on both sides (`compare A..B`), the sides are
/// compared round by round: a paired t-test on the per-round differences of medians, so that
/// samples that shared a moment of the machine count once. Otherwise, Welch's t on the pooled
/// samples.
pub(crate) fn gate_test(
    base: &[f64],
    current: &[f64],
    better: Better,
    rounds: Option<(&[u32], &[u32])>,
    allowed: f64,
) -> Result<GateTest, stats::StatsError> {
    let positive = base.iter().chain(current).all(|&v| v > 0.0);
    // Orient so that "worse" is "greater".
    let sign = if better == Better::Lower { 1.0 } else { -1.0 };
    let tr = |v: &[f64]| -> Vec<f64> {
        v.iter()
            .map(|&x| sign * if positive { x.ln() } else { x })
            .collect()
    };
    let (b, c) = (tr(base), tr(current));
    if let Some((rb, rc)) = rounds {
        let (mb, mc) = (per_round(&b, rb), per_round(&c, rc));
        let d: Vec<f64> = mb
            .iter()
            .filter_map(|(r, vb)| mc.get(r).map(|vc| vc - vb))
            .collect();
        if d.len() >= 2 {
            return paired(
                &d,
                positive,
                if positive {
                    log_limit(allowed, better)
                } else {
                    0.0
                },
            );
        }
    }
    let (kb, kc) = trim_slow_outliers(&b, &c);
    let left_out = b.len() - kb.len() + c.len() - kc.len();
    let (t, left_out) = match stats::welch_t_greater(&kb, &kc) {
        Ok(t) => (t, left_out),
        Err(stats::StatsError::NoVariance) if left_out > 0 => (stats::welch_t_greater(&b, &c)?, 0),
        Err(e) => return Err(e),
    };
    let (nb, nc) = (b.len() as f64, c.len() as f64);
    Ok(GateTest {
        p: t.p_greater,
        left_out,
        rounds: None,
        t,
        // The per-sample spread that gives this standard error with these sizes.
        spread: t.se / (1.0 / nb + 1.0 / nc).sqrt(),
        logs: positive,
    })
}

/// The allowed change as an oriented log difference (worse is greater).
pub(crate) fn log_limit(allowed: f64, better: Better) -> f64 {
    if better == Better::Lower {
        (1.0 + allowed).ln()
    } else {
        -(1.0 - allowed.min(0.999_999)).ln()
    }
}

/// The paired test over rounds, after leaving out at most one round in five whose difference
/// lies far on the worse side (a burst that hit one side of a round alone), against `limit` (the allowed change as an oriented log
/// difference): its p is the chance of data this bad if the change were no larger than allowed.
fn paired(d: &[f64], logs: bool, limit: f64) -> Result<GateTest, stats::StatsError> {
    let (kept, _) = trim_slow_outliers(d, &[]);
    let left_out = d.len() - kept.len();
    let used = if left_out > 0 && kept.len() >= 2 {
        &kept[..]
    } else {
        d
    };
    let t = match stats::paired_t_greater(used) {
        Ok(t) => t,
        // Every round gave the same difference: the change is exact.
        Err(stats::StatsError::NoVariance) => {
            let m = used[0];
            stats::WelchT {
                t: m.signum() * f64::INFINITY,
                df: used.len() as f64 - 1.0,
                p_greater: if m > 0.0 { 0.0 } else { 1.0 },
                estimate: m,
                se: 0.0,
            }
        }
        Err(e) => return Err(e),
    };
    let p = if t.se > 0.0 {
        stats::student_t_sf((t.estimate - limit) / t.se, t.df)
    } else if t.estimate > limit {
        0.0
    } else {
        1.0
    };
    Ok(GateTest {
        p,
        left_out: d.len() - used.len(),
        rounds: Some(d.len()),
        spread: t.se * (used.len() as f64).sqrt(),
        t,
        logs,
    })
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
                } else if reaches_past_allowed(row) {
                    undecided(row, opts, family);
                    Verdict::Inconclusive
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

/// Whether the interval of the change reaches beyond the allowed change in the worse direction:
/// the data cannot rule out a regression the gate would fail.
fn reaches_past_allowed(row: &Row) -> bool {
    match (row.better, row.gate_ci_low, row.gate_ci_high) {
        (Better::Lower, _, Some(high)) => high > row.allowed_change,
        (Better::Higher, Some(low), _) => low < -row.allowed_change,
        _ => false,
    }
}

/// Word an inconclusive row: how far the change may go, the noise seen, and what would decide.
fn undecided(row: &mut Row, opts: &CompareOptions, family: usize) {
    let Some(test) = row.test else {
        return;
    };
    // At the correction's strictest step, so that the count is enough whatever the others do.
    let level = match opts.correction {
        Correction::None => opts.alpha,
        _ => opts.alpha / family.max(1) as f64,
    };
    row.needed = test.needed(1.0 - level, row.allowed_change, row.better);
    let reach = match row.better {
        Better::Lower => row.gate_ci_high,
        Better::Higher => row.gate_ci_low,
    }
    .unwrap_or(f64::NAN);
    let unit = if test.rounds.is_some() {
        "per round"
    } else {
        "per sample"
    };
    let noise = row
        .noise
        .map(|n| format!("; noise ±{:.1}% {unit}", n * 100.0))
        .unwrap_or_default();
    let what = if test.rounds.is_some() {
        "rounds"
    } else {
        "samples a side"
    };
    let have = test.rounds.unwrap_or(row.base.n.min(row.current.n));
    let need = match row.needed {
        Some(n) if n > have => format!("; about {n} {what} would tell (here {have})"),
        Some(_) => String::new(),
        None => format!("; the change sits on the allowed change: no number of {what} would tell"),
    };
    row.warnings.push(format!(
        "inconclusive: the change could be as large as {:+.1}% (allowed {:.0}%){noise}{need}",
        reach * 100.0,
        row.allowed_change * 100.0
    ));
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
