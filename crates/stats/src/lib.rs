//! Stage: **analyse** (pure math). Inputs are slices of `f64`; outputs are plain numbers.
//!
//! perflab's statistics follow benchstat v2 (golang/perf `benchmath`) so that a comparison made by
//! perflab and one made by benchstat on the same samples agree to the last printed digit:
//!
//! * the centre of a sample is its **median** ([`quantile`] uses Hyndman–Fan definition 8);
//! * its confidence interval is the distribution-free **order-statistic interval** for the median
//!   ([`median_ci_orders`]): exact binomial for n ≤ 30, normal approximation above;
//! * two samples are compared with the two-sided **Mann-Whitney U test** ([`mann_whitney_u`]):
//!   exact for small samples (with or without ties), normal approximation with tie and continuity
//!   correction otherwise;
//! * a suite is summarised by the **geometric mean** ([`geomean`]);
//! * many comparisons at once are corrected with [`holm`] or [`benjamini_hochberg`].
//!
//! Nothing here knows about benchmarks or units: that keeps the math testable against published
//! reference values.
//!
//! ```
//! use perflab_stats::{summarize, mann_whitney_u};
//! let old = [10.0, 11.0, 10.5, 10.2, 10.8, 10.1];
//! let new = [12.0, 12.5, 12.1, 12.7, 12.2, 12.3];
//! let s = summarize(&old, 0.95);
//! assert_eq!(s.center, 10.35);
//! let test = mann_whitney_u(&old, &new).unwrap();
//! assert!(test.p_value < 0.01);
//! ```

mod ci_table;
mod mwu;
mod welch;

pub use mwu::{mann_whitney_u, min_p_value, MannWhitney};
pub use welch::{
    paired_t_greater, regularized_beta, student_t_quantile, student_t_sf, welch_t_greater, WelchT,
};

/// Errors of the statistics functions.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StatsError {
    /// A test needs at least one value on each side.
    #[error("a sample is empty")]
    EmptySample,
    /// A value is NaN, so no order exists.
    #[error("a sample contains NaN")]
    NaN,
    /// Both samples are constant, so a t statistic has no scale.
    #[error("both samples are constant")]
    NoVariance,
}

/// The q-quantile of an ascending `sorted` slice, Hyndman–Fan definition 8 (median-unbiased,
/// the definition benchstat uses). For q = 0.5 it is the ordinary median.
///
/// Returns NaN for an empty slice.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if n == 1 {
        return sorted[0];
    }
    let h = (n as f64 + 1.0 / 3.0) * q + 1.0 / 3.0;
    if h <= 1.0 {
        return sorted[0];
    }
    if h >= n as f64 {
        return sorted[n - 1];
    }
    let lo = h.floor();
    let i = lo as usize - 1;
    sorted[i] + (h - lo) * (sorted[i + 1] - sorted[i])
}

/// Sort a copy of `values` ascending; NaN sorts last.
pub fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v
}

/// The order statistics that bound a confidence interval for the median of n values.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OrderCi {
    /// 1-based index of the lower bound in the sorted sample; 0 means minus infinity.
    pub lo: usize,
    /// 1-based index of the upper bound; n + 1 means plus infinity.
    pub hi: usize,
    /// The confidence level the interval actually achieves (≥ the one requested).
    pub confidence_level: f64,
}

/// Order statistics bounding the median's confidence interval at `confidence_level`.
///
/// The interval is the narrowest run of binomial cells whose mass reaches the requested level;
/// among equally narrow runs the one with the most mass, and then the leftmost, wins (benchstat's
/// left bias). Cells are exact binomial for n ≤ 30 and a continuity-corrected normal above.
pub fn median_ci_orders(n: usize, confidence_level: f64) -> OrderCi {
    let key = (confidence_level * 1000.0).round() as u32;
    if n <= 30 && (confidence_level * 1000.0 - key as f64).abs() < 1e-9 {
        if let Some(&(_, _, lo, hi, c)) = ci_table::MEDIAN_CI_TABLE
            .iter()
            .find(|row| row.0 == key && row.1 == n)
        {
            return OrderCi {
                lo,
                hi,
                confidence_level: c,
            };
        }
    }
    if n > EXHAUSTIVE_CI_MAX {
        return median_ci_orders_normal(n, confidence_level);
    }
    // Cell k is the event "exactly k values lie below the median".
    let cells: Vec<f64> = if n <= 30 {
        let total = 2f64.powi(n as i32);
        (0..=n).map(|k| binomial(n, k) / total).collect()
    } else {
        let mu = n as f64 / 2.0;
        let sigma = (n as f64).sqrt() / 2.0;
        (0..=n)
            .map(|k| {
                normal_cdf((k as f64 + 0.5 - mu) / sigma)
                    - normal_cdf((k as f64 - 0.5 - mu) / sigma)
            })
            .collect()
    };
    let mut prefix = vec![0.0; cells.len() + 1];
    for (i, c) in cells.iter().enumerate() {
        prefix[i + 1] = prefix[i] + c;
    }
    for width in 1..=cells.len() {
        let mut best: Option<(f64, usize)> = None;
        for a in 0..=(cells.len() - width) {
            let mass = prefix[a + width] - prefix[a];
            // Symmetric windows tie up to rounding: the leftmost wins.
            if mass >= confidence_level && best.is_none_or(|(m, _)| mass > m + 1e-12) {
                best = Some((mass, a));
            }
        }
        if let Some((mass, a)) = best {
            return OrderCi {
                lo: a,
                hi: a + width,
                confidence_level: mass,
            };
        }
    }
    OrderCi {
        lo: 0,
        hi: n + 1,
        confidence_level: 1.0,
    }
}

/// Up to this n the interval is found by trying every window (quadratic, as benchstat does);
/// above it by a binary search over widths of the centred windows, which is what the exhaustive
/// search finds for the symmetric normal cells (checked against it in the tests).
const EXHAUSTIVE_CI_MAX: usize = 2000;

fn median_ci_orders_normal(n: usize, confidence_level: f64) -> OrderCi {
    let mu = n as f64 / 2.0;
    let sigma = (n as f64).sqrt() / 2.0;
    // Mass of cells a..a+width (exactly a..a+width-1 values below the median), telescoped.
    let mass = |a: usize, width: usize| {
        normal_cdf((a as f64 + width as f64 - 0.5 - mu) / sigma)
            - normal_cdf((a as f64 - 0.5 - mu) / sigma)
    };
    // The best window of a width is one of the two centred ones; the leftmost wins a tie.
    let best = |width: usize| -> (f64, usize) {
        let free = n + 1 - width;
        let (left, right) = (free / 2, free.div_ceil(2));
        let (ml, mr) = (mass(left, width), mass(right, width));
        if mr > ml + 1e-12 {
            (mr, right)
        } else {
            (ml, left)
        }
    };
    let (mut lo, mut hi) = (1, n + 1);
    if best(hi).0 < confidence_level {
        return OrderCi {
            lo: 0,
            hi: n + 1,
            confidence_level: 1.0,
        };
    }
    while lo < hi {
        let mid = (lo + hi) / 2;
        if best(mid).0 >= confidence_level {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    let (m, a) = best(lo);
    OrderCi {
        lo: a,
        hi: a + lo,
        confidence_level: m,
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Standard normal cumulative distribution function.
pub fn normal_cdf(z: f64) -> f64 {
    0.5 * libm::erfc(-z / std::f64::consts::SQRT_2)
}

/// The median of a sample with its confidence interval, as benchstat reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Number of values.
    pub n: usize,
    /// The median.
    pub center: f64,
    /// Lower bound of the interval; `-inf` when the sample is too small.
    pub ci_low: f64,
    /// Upper bound of the interval; `+inf` when the sample is too small.
    pub ci_high: f64,
    /// The confidence level the interval achieves.
    pub confidence_level: f64,
    /// Smallest n that gives a finite interval at the requested level, when this one is not.
    pub need_for_ci: Option<usize>,
}

impl Summary {
    /// benchstat's `± x%`; see [`pct_range`].
    pub fn pct_range(&self) -> f64 {
        pct_range(self.center, self.ci_low, self.ci_high)
    }
}

/// benchstat's `± x%`: the larger relative distance from the centre to a bound, in percent.
/// Infinite when a bound is; 0 when centre and bounds are all zero.
///
/// The result is snapped to 1e-9 so that a value that is exactly 2.5% in decimal stays 2.5
/// after unit conversion (78 ns / 80 ns computed in seconds is 2.5000000000000018%), and rounds
/// the way benchstat's does.
pub fn pct_range(center: f64, ci_low: f64, ci_high: f64) -> f64 {
    if center == 0.0 && ci_low == 0.0 && ci_high == 0.0 {
        return 0.0;
    }
    let up = ci_high / center - 1.0;
    let down = 1.0 - ci_low / center;
    let x = 100.0 * up.max(down);
    if x.is_finite() {
        (x * 1e9).round() / 1e9
    } else {
        x
    }
}

/// Median and its order-statistic confidence interval (see [`median_ci_orders`]).
pub fn summarize(values: &[f64], confidence_level: f64) -> Summary {
    let s = sorted(values);
    let n = s.len();
    let center = quantile(&s, 0.5);
    if n == 0 {
        return Summary {
            n,
            center,
            ci_low: f64::NAN,
            ci_high: f64::NAN,
            confidence_level: 0.0,
            need_for_ci: None,
        };
    }
    let ci = median_ci_orders(n, confidence_level);
    let ci_low = if ci.lo == 0 {
        f64::NEG_INFINITY
    } else {
        s[ci.lo - 1]
    };
    let ci_high = if ci.hi > n {
        f64::INFINITY
    } else {
        s[ci.hi - 1]
    };
    let need_for_ci = if ci.lo == 0 || ci.hi > n {
        (n + 1..=1000).find(|&m| {
            let c = median_ci_orders(m, confidence_level);
            c.lo >= 1 && c.hi <= m
        })
    } else {
        None
    };
    Summary {
        n,
        center,
        ci_low,
        ci_high,
        confidence_level: ci.confidence_level,
        need_for_ci,
    }
}

/// Geometric mean of strictly positive values; `None` when any value is ≤ 0 or not finite, or
/// when there are none (benchstat refuses the same cases).
pub fn geomean(values: &[f64]) -> Option<f64> {
    if values.is_empty() || values.iter().any(|&v| v <= 0.0 || !v.is_finite()) {
        return None;
    }
    let log_sum: f64 = values.iter().map(|v| v.ln()).sum();
    Some((log_sum / values.len() as f64).exp())
}

/// Holm–Bonferroni step-down adjusted p-values, in the input's order. Controls the family-wise
/// error rate; NaN p-values (no test) pass through and do not count as hypotheses.
pub fn holm(p_values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    idx.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = idx.len();
    let mut out = p_values.to_vec();
    let mut running = 0.0f64;
    for (rank, &i) in idx.iter().enumerate() {
        let adj = ((m - rank) as f64 * p_values[i]).min(1.0);
        running = running.max(adj);
        out[i] = running;
    }
    out
}

/// Benjamini–Hochberg step-up adjusted p-values (false discovery rate), in the input's order.
pub fn benjamini_hochberg(p_values: &[f64]) -> Vec<f64> {
    let mut idx: Vec<usize> = (0..p_values.len())
        .filter(|&i| !p_values[i].is_nan())
        .collect();
    idx.sort_by(|&a, &b| p_values[a].total_cmp(&p_values[b]));
    let m = idx.len();
    let mut out = p_values.to_vec();
    let mut running = 1.0f64;
    for (rank, &i) in idx.iter().enumerate().rev() {
        let adj = (m as f64 / (rank + 1) as f64 * p_values[i]).min(1.0);
        running = running.min(adj);
        out[i] = running;
    }
    out
}

/// Mean of the values (NaN when empty).
pub fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Sample standard deviation (n − 1); NaN for fewer than two values.
pub fn std_dev(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return f64::NAN;
    }
    let m = mean(values);
    let ss: f64 = values.iter().map(|v| (v - m) * (v - m)).sum();
    (ss / (values.len() - 1) as f64).sqrt()
}

/// Indices of values outside Tukey's fences (k = 1.5 for mild, 3 for severe outliers).
pub fn tukey_outliers(values: &[f64], k: f64) -> Vec<usize> {
    let s = sorted(values);
    if s.len() < 4 {
        return Vec::new();
    }
    let q1 = quantile(&s, 0.25);
    let q3 = quantile(&s, 0.75);
    let iqr = q3 - q1;
    let (lo, hi) = (q1 - k * iqr, q3 + k * iqr);
    (0..values.len())
        .filter(|&i| values[i] < lo || values[i] > hi)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_type8_known_values() {
        let s = [1.0, 2.0, 3.0, 4.0];
        assert_eq!(quantile(&s, 0.5), 2.5);
        assert_eq!(quantile(&[7.0], 0.9), 7.0);
        assert!(quantile(&[], 0.5).is_nan());
        // R: quantile(1:10, 0.9, type = 8) = 9.633333 (h = (n + 1/3)p + 1/3)
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert!((quantile(&ten, 0.9) - 9.633_333_333_333_333).abs() < 1e-12);
        assert_eq!(quantile(&ten, 0.0), 1.0);
        assert_eq!(quantile(&ten, 1.0), 10.0);
    }

    #[test]
    fn geomean_refuses_non_positive() {
        assert_eq!(geomean(&[]), None);
        assert_eq!(geomean(&[1.0, 0.0]), None);
        assert_eq!(geomean(&[1.0, -2.0]), None);
        assert!((geomean(&[1.0, 4.0]).unwrap() - 2.0).abs() < 1e-12);
    }

    #[test]
    fn holm_matches_r_p_adjust() {
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "holm") = 0.03 0.06 0.06 0.02
        let adj = holm(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.03, 0.06, 0.06, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        // R: p.adjust(c(0.01, 0.04, 0.03, 0.005), "BH") = 0.02 0.04 0.04 0.02
        let adj = benjamini_hochberg(&[0.01, 0.04, 0.03, 0.005]);
        let want = [0.02, 0.04, 0.04, 0.02];
        for (a, w) in adj.iter().zip(want) {
            assert!((a - w).abs() < 1e-12, "{adj:?}");
        }
        let with_nan = holm(&[f64::NAN, 0.01]);
        assert!(with_nan[0].is_nan());
        assert_eq!(with_nan[1], 0.01);
    }

    #[test]
    fn small_samples_have_infinite_bounds_and_say_how_many_are_needed() {
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.95);
        assert_eq!(s.ci_low, f64::NEG_INFINITY);
        assert_eq!(s.ci_high, 5.0);
        assert_eq!(s.need_for_ci, Some(6));
        let s = summarize(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 0.95);
        assert_eq!((s.ci_low, s.ci_high, s.need_for_ci), (1.0, 6.0, None));
    }

    #[test]
    fn fast_median_ci_agrees_with_the_exhaustive_search() {
        for n in (31..=2000).step_by(7) {
            for level in [0.9, 0.95, 0.99] {
                let exhaustive = median_ci_orders(n, level);
                let fast = median_ci_orders_normal(n, level);
                assert_eq!(
                    (fast.lo, fast.hi),
                    (exhaustive.lo, exhaustive.hi),
                    "n={n} {level}"
                );
            }
        }
        // A million values: the binary search answers at once.
        let big = median_ci_orders(1_000_000, 0.95);
        assert!(
            big.lo < 500_000 && big.hi > 500_000 && big.hi - big.lo < 2_000,
            "{big:?}"
        );
    }

    #[test]
    fn tukey_flags_the_far_value() {
        let v = [10.0, 10.1, 9.9, 10.0, 10.2, 9.8, 50.0];
        assert_eq!(tukey_outliers(&v, 1.5), vec![6]);
    }
}
