//! Welch's unequal-variance t-test, one-sided, and the Student t distribution it needs.
//!
//! The gate uses it where rank tests cannot reach the corrected level: with 5 samples a side the
//! smallest two-sided Mann-Whitney p is 2/252 ≈ 0.008, so a Holm family of 20 rows (α/20 = 0.0025)
//! could never fail. Benchmark times are close to log-normal, so the test is run on log values
//! (see `docs/statistics.md`). The t distribution's tail comes from the regularised incomplete
//! beta function, computed by its continued fraction (Lentz's method) because no small, kept crate
//! offers it without a large numerics dependency.

use crate::StatsError;

/// Result of a one-sided Welch t-test of "y's mean is greater than x's".
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchT {
    /// The t statistic, `(mean(y) − mean(x)) / se`.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// One-sided p-value: the chance of a t this large or larger when the means are equal.
    pub p_greater: f64,
    /// The estimated difference, `mean(y) − mean(x)` (or the mean difference of a paired test).
    pub estimate: f64,
    /// Its standard error.
    pub se: f64,
}

impl WelchT {
    /// The one-sided bounds `(low, high)` of the difference at `confidence` each: the true
    /// difference is above `low` (and, separately, below `high`) with that confidence.
    pub fn bounds(&self, confidence: f64) -> (f64, f64) {
        let q = student_t_quantile(confidence, self.df);
        (self.estimate - q * self.se, self.estimate + q * self.se)
    }
}

/// One-sided one-sample t-test that the mean of `d` is greater than zero: the paired test, when
/// `d` holds the differences of matched pairs (the rounds of an A/B run).
///
/// # Errors
/// [`StatsError::EmptySample`] with fewer than two values, [`StatsError::NaN`] for non-finite
/// values, [`StatsError::NoVariance`] when every difference is the same.
pub fn paired_t_greater(d: &[f64]) -> Result<WelchT, StatsError> {
    if d.len() < 2 {
        return Err(StatsError::EmptySample);
    }
    if d.iter().any(|v| !v.is_finite()) {
        return Err(StatsError::NaN);
    }
    let n = d.len() as f64;
    let m = crate::mean(d);
    let var = d.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / (n - 1.0);
    let se = (var / n).sqrt();
    if se <= 0.0 || !se.is_finite() {
        return Err(StatsError::NoVariance);
    }
    let t = m / se;
    Ok(WelchT {
        t,
        df: n - 1.0,
        p_greater: student_t_sf(t, n - 1.0),
        estimate: m,
        se,
    })
}

/// The quantile of Student's t distribution: the `t` with `P(T ≤ t) = p`, found by bisection
/// on [`student_t_sf`] (44 halvings of a bracket a few units wide: far below the precision that matters here).
pub fn student_t_quantile(p: f64, df: f64) -> f64 {
    if !(p > 0.0 && p < 1.0) || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if p < 0.5 {
        return -student_t_quantile(1.0 - p, df);
    }
    let tail = 1.0 - p;
    let mut hi = 1.0;
    while student_t_sf(hi, df) > tail {
        hi *= 2.0;
        if hi > 1e12 {
            return f64::INFINITY;
        }
    }
    let mut lo = 0.0;
    for _ in 0..44 {
        let mid = (lo + hi) / 2.0;
        if student_t_sf(mid, df) > tail {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    (lo + hi) / 2.0
}

/// One-sided Welch t-test that `y` has a greater mean than `x`.
///
/// Each side needs two or more values. When both sides have zero variance the test is undefined
/// ([`StatsError::NoVariance`]); callers decide such rows exactly.
///
/// # Errors
/// [`StatsError::EmptySample`] with fewer than two values a side, [`StatsError::NaN`] for
/// non-finite values, [`StatsError::NoVariance`] when both sides are constant.
pub fn welch_t_greater(x: &[f64], y: &[f64]) -> Result<WelchT, StatsError> {
    if x.len() < 2 || y.len() < 2 {
        return Err(StatsError::EmptySample);
    }
    if x.iter().chain(y).any(|v| !v.is_finite()) {
        return Err(StatsError::NaN);
    }
    let (nx, ny) = (x.len() as f64, y.len() as f64);
    let (mx, my) = (crate::mean(x), crate::mean(y));
    let vx = x.iter().map(|v| (v - mx) * (v - mx)).sum::<f64>() / (nx - 1.0);
    let vy = y.iter().map(|v| (v - my) * (v - my)).sum::<f64>() / (ny - 1.0);
    let (ax, ay) = (vx / nx, vy / ny);
    let se2 = ax + ay;
    if se2 <= 0.0 || !se2.is_finite() {
        return Err(StatsError::NoVariance);
    }
    let t = (my - mx) / se2.sqrt();
    let df = se2 * se2 / (ax * ax / (nx - 1.0) + ay * ay / (ny - 1.0));
    Ok(WelchT {
        t,
        df,
        p_greater: student_t_sf(t, df),
        estimate: my - mx,
        se: se2.sqrt(),
    })
}

/// Upper tail `P(T > t)` of Student's t distribution with `df` degrees of freedom.
pub fn student_t_sf(t: f64, df: f64) -> f64 {
    if t.is_nan() || df.is_nan() || df <= 0.0 {
        return f64::NAN;
    }
    if t == f64::INFINITY {
        return 0.0;
    }
    if t == f64::NEG_INFINITY {
        return 1.0;
    }
    // P(|T| > |t|) = I_{df/(df+t²)}(df/2, 1/2).
    let x = df / (df + t * t);
    let two_tail = regularized_beta(x, df / 2.0, 0.5);
    if t >= 0.0 {
        two_tail / 2.0
    } else {
        1.0 - two_tail / 2.0
    }
}

/// The regularised incomplete beta function `I_x(a, b)`.
pub fn regularized_beta(x: f64, a: f64, b: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let ln_front =
        a * x.ln() + b * (1.0 - x).ln() - (libm::lgamma(a) + libm::lgamma(b) - libm::lgamma(a + b));
    // The continued fraction converges fast for x < (a + 1) / (a + b + 2); use symmetry above.
    if x < (a + 1.0) / (a + b + 2.0) {
        ln_front.exp() * beta_fraction(x, a, b) / a
    } else {
        1.0 - ln_front.exp() * beta_fraction(1.0 - x, b, a) / b
    }
}

fn beta_fraction(x: f64, a: f64, b: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut h = d;
    for m in 1..500 {
        let m = f64::from(m);
        let m2 = 2.0 * m;
        let even = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        for coef in [
            even,
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ] {
            d = 1.0 + coef * d;
            if d.abs() < TINY {
                d = TINY;
            }
            c = 1.0 + coef / c;
            if c.abs() < TINY {
                c = TINY;
            }
            d = 1.0 / d;
            h *= d * c;
        }
        // The last factor's distance from one tells convergence.
        if (d * c - 1.0).abs() < 1e-15 {
            break;
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_tail_matches_scipy() {
        // scipy.stats.t.sf(t, df)
        let cases = [
            (2.0, 5.0, 0.050_969_739_414_929_174),
            (3.2, 18.0, 0.002_481_244_998_003_627),
            (-1.0, 3.0, 0.804_498_890_522_114_8),
            (0.0, 7.0, 0.5),
            (10.0, 2.5, 0.002_220_747_883_653_711_7),
            (1.5, 200.0, 0.067_595_660_613_517_45),
        ];
        for (t, df, want) in cases {
            let got = student_t_sf(t, df);
            assert!(
                (got - want).abs() < 1e-9 * want.max(1e-3),
                "t={t} df={df}: {got} vs {want}"
            );
        }
    }

    #[test]
    fn welch_matches_scipy() {
        // scipy.stats.ttest_ind(y, x, equal_var=False, alternative="greater")
        let x = [1.0, 2.0, 3.0, 4.0, 5.0];
        let y = [3.0, 4.5, 5.0, 6.5, 8.0, 9.0];
        let w = welch_t_greater(&x, &y).unwrap();
        assert!((w.t - 2.581_988_897_471_611).abs() < 1e-12, "{w:?}");
        assert!((w.df - 8.804_347_826_086_959).abs() < 1e-9, "{w:?}");
        assert!(
            (w.p_greater - 0.015_056_389_227_989_532).abs() < 1e-9,
            "{w:?}"
        );
    }

    #[test]
    fn paired_test_and_quantiles_match_scipy() {
        // scipy.stats.ttest_1samp(d, 0, alternative="greater")
        let d = [0.1, 0.3, -0.05, 0.2, 0.15, 0.02];
        let t = paired_t_greater(&d).unwrap();
        assert!((t.t - 2.338_451_288_861_871_4).abs() < 1e-12, "{t:?}");
        assert!(
            (t.p_greater - 0.033_254_080_994_679_39).abs() < 1e-9,
            "{t:?}"
        );
        assert_eq!(t.df, 5.0);
        // scipy.stats.t.ppf(p, df)
        for (p, df, want) in [
            (0.95, 4.0, 2.131_846_786_326_649_5),
            (0.975, 9.0, 2.262_157_162_798_205),
            (0.99, 2.5, 5.353_111_173_030_872),
            (0.999, 30.0, 3.385_184_866_829_304_5),
            (0.5, 3.0, 0.0),
        ] {
            let got = student_t_quantile(p, df);
            assert!((got - want).abs() < 1e-9, "p={p} df={df}: {got} vs {want}");
            if p != 0.5 {
                assert!((student_t_quantile(1.0 - p, df) + want).abs() < 1e-9);
            }
        }
        let (lo, hi) = t.bounds(0.95);
        assert!(lo < t.estimate && t.estimate < hi);
        assert!(((hi - lo) / 2.0 - student_t_quantile(0.95, 5.0) * t.se).abs() < 1e-12);
        assert_eq!(paired_t_greater(&[0.1, 0.1]), Err(StatsError::NoVariance));
        assert_eq!(paired_t_greater(&[0.1]), Err(StatsError::EmptySample));
    }

    #[test]
    fn constant_sides_have_no_test() {
        assert_eq!(
            welch_t_greater(&[1.0, 1.0], &[2.0, 2.0]),
            Err(StatsError::NoVariance)
        );
        assert_eq!(
            welch_t_greater(&[1.0], &[2.0, 3.0]),
            Err(StatsError::EmptySample)
        );
    }
}
