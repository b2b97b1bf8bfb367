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
