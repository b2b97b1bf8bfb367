//! The two-sided Mann-Whitney U test, computed as go-moremath (and so benchstat) computes it.
//!
//! Small samples get the exact distribution of U: without ties for n1, n2 ≤ 50, and conditional on
//! the observed tie pattern for n1, n2 ≤ 25 (the counting behind Cheung & Klotz's algorithm, done
//! here as a dynamic program over tie groups). Larger samples use the normal approximation with
//! tie and continuity correction. Counts are exact integers (u128 holds C(100, 50)), so exact
//! p-values carry no rounding beyond the final division.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use crate::{normal_cdf, StatsError};

const MAX_EXACT: usize = 50;
const MAX_EXACT_TIES: usize = 25;

/// Result of a Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample (the number of (x, y) pairs with x > y, ties counting ½).
    pub u: f64,
    /// Two-sided p-value.
    pub p_value: f64,
    /// Whether the exact distribution was used (else the normal approximation).
    pub exact: bool,
    /// Every value of both samples is the same: no test is possible and p is 1.
    pub all_equal: bool,
}

/// Two-sided Mann-Whitney U test of `x` against `y`.
///
/// # Errors
/// [`StatsError::EmptySample`] when either side is empty, [`StatsError::NaN`] when a value is NaN.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Result<MannWhitney, StatsError> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return Err(StatsError::EmptySample);
    }
    if x.iter().chain(y).any(|v| v.is_nan()) {
        return Err(StatsError::NaN);
    }
    let mut merged: Vec<(f64, bool)> = x
        .iter()
        .map(|&v| (v, true))
        .chain(y.iter().map(|&v| (v, false)))
        .collect();
    merged.sort_by(|a, b| a.0.total_cmp(&b.0));

    // Rank sum of x with mid-ranks for ties; `groups` are the tie group sizes in order.
    let mut rank_sum = 0.0;
    let mut groups = Vec::new();
    let mut i = 0;
    while i < merged.len() {
        let start = i;
        let mut in_x = 0usize;
        while i < merged.len() && merged[i].0 == merged[start].0 {
            in_x += usize::from(merged[i].1);
            i += 1;
        }
        let mid_rank = (start + 1 + i) as f64 / 2.0;
        rank_sum += mid_rank * in_x as f64;
        groups.push(i - start);
    }
    let u1 = rank_sum - (n1 * (n1 + 1)) as f64 / 2.0;
    let ties = groups.len() != n1 + n2;

    if groups.len() == 1 {
        return Ok(MannWhitney {
            u: u1,
            p_value: 1.0,
            exact: true,
            all_equal: true,
        });
    }
    let exact = if ties {
        n1 <= MAX_EXACT_TIES && n2 <= MAX_EXACT_TIES
    } else {
        n1 <= MAX_EXACT && n2 <= MAX_EXACT
    };
    let p_value = if exact {
        {
            // go-moremath doubles the lower tail; that equals this two-sided mass whenever the
            // distribution is symmetric (always without ties), but unlike it this does not
            // depend on which sample comes first when a tie pattern is lopsided.
            let tail = if ties {
                u_distribution(n1, n2, &groups).two_sided(u1)
            } else {
                no_ties_distribution(n1, n2).two_sided(u1)
            };
            tail.min(1.0)
        }
    } else {
        let n = (n1 + n2) as f64;
        let tie_term: f64 = groups
            .iter()
            .map(|&t| {
                let t = t as f64;
                t * t * t - t
            })
            .sum();
        let mean = (n1 * n2) as f64 / 2.0;
        let sigma = ((n1 * n2) as f64 * ((n + 1.0) - tie_term / (n * (n - 1.0))) / 12.0).sqrt();
        let mut numer = u1 - mean;
        numer -= numer.signum() * 0.5;
        let z = numer / sigma;
        2.0 * normal_cdf(z).min(1.0 - normal_cdf(z))
    };
    Ok(MannWhitney {
        u: u1,
        p_value,
        exact,
        all_equal: false,
    })
}

/// The smallest two-sided p-value any pair of samples of these sizes can reach (no ties):
/// when it exceeds α no difference can ever be significant.
pub fn min_p_value(n1: usize, n2: usize) -> f64 {
    if n1 == 0 || n2 == 0 {
        return 1.0;
    }
    let k = n1.min(n2);
    let n = n1 + n2;
    let choose = (0..k).fold(1.0f64, |acc, i| acc * (n - i) as f64 / (i + 1) as f64);
    (2.0 / choose).min(1.0)
}

/// Exact distribution of 2U as counts of arrangements.
struct UDistribution {
    counts: Vec<u128>,
    total: u128,
}

impl UDistribution {
    /// P(|U − μ| ≥ |u − μ|): the mass at least as far from the centre as `u`, on both sides.
    fn two_sided(&self, u: f64) -> f64 {
        // In doubled units the centre is n1·n2 and every count index is an integer.
        let centre = (self.counts.len() - 1) as f64 / 2.0;
        let dist = (2.0 * u - centre).abs();
        let far: u128 = self
            .counts
            .iter()
            .enumerate()
            .filter(|(i, _)| (*i as f64 - centre).abs() >= dist - 1e-9)
            .map(|(_, &c)| c)
            .sum();
        far as f64 / self.total as f64
    }
}

fn no_ties_distribution(n1: usize, n2: usize) -> std::sync::Arc<UDistribution> {
    type Cache = Mutex<HashMap<(usize, usize), std::sync::Arc<UDistribution>>>;
    // Without ties the distribution depends on the sizes alone; suites repeat the same sizes.
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Some(d) = cache.lock().ok().and_then(|c| c.get(&(n1, n2)).cloned()) {
        return d;
    }
    let groups = vec![1; n1 + n2];
    let d = std::sync::Arc::new(u_distribution(n1, n2, &groups));
    if let Ok(mut c) = cache.lock() {
        c.insert((n1, n2), d.clone());
    }
    d
}

/// Distribution of 2·U₁ over all ways to split the tie groups between the samples, weighted by
/// the number of arrangements each split has.
fn u_distribution(n1: usize, n2: usize, groups: &[usize]) -> UDistribution {
    let width = 2 * n1 * n2 + 1;
    // dp[k1 * width + u2]: arrangements of the groups seen so far with k1 values from x.
    let mut dp = vec![0u128; (n1 + 1) * width];
    let mut next = vec![0u128; (n1 + 1) * width];
    dp[0] = 1;
    let mut placed = 0usize;
    let mut max_u2 = 0usize;
    for &t in groups {
        next.iter_mut().for_each(|c| *c = 0);
        let mut new_max = 0;
        for k1 in 0..=n1.min(placed) {
            let j2 = placed - k1;
            if j2 > n2 {
                continue;
            }
            for a in 0..=t.min(n1 - k1) {
                let b = t - a;
                if j2 + b > n2 {
                    continue;
                }
                let weight = choose_u128(t, a);
                let shift = a * (2 * j2 + b);
                let row = &dp[k1 * width..k1 * width + max_u2 + 1];
                let dst = (k1 + a) * width + shift;
                for (u2, &c) in row.iter().enumerate() {
                    if c != 0 {
                        next[dst + u2] += c * weight;
                    }
                }
                new_max = new_max.max(max_u2 + shift);
            }
        }
        std::mem::swap(&mut dp, &mut next);
        placed += t;
        max_u2 = new_max.min(width - 1);
    }
    let counts = dp[n1 * width..(n1 + 1) * width].to_vec();
    let total = counts.iter().sum();
    UDistribution { counts, total }
}

fn choose_u128(n: usize, k: usize) -> u128 {
    let k = k.min(n - k);
    let mut acc: u128 = 1;
    for i in 0..k {
        acc = acc * (n - i) as u128 / (i + 1) as u128;
    }
    acc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_without_ties_known_value() {
        // Complete separation of 5 vs 5: p = 2 / C(10, 5) = 2/252.
        let r = mann_whitney_u(&[1.0, 2.0, 3.0, 4.0, 5.0], &[6.0, 7.0, 8.0, 9.0, 10.0]).unwrap();
        assert_eq!(r.u, 0.0);
        assert!((r.p_value - 2.0 / 252.0).abs() < 1e-15);
        assert!(r.exact);
    }

    #[test]
    fn all_equal_gives_one() {
        let r = mann_whitney_u(&[1.0; 4], &[1.0; 3]).unwrap();
        assert!(r.all_equal);
        assert_eq!(r.p_value, 1.0);
    }

    #[test]
    fn empty_and_nan_are_errors() {
        assert_eq!(mann_whitney_u(&[], &[1.0]), Err(StatsError::EmptySample));
        assert_eq!(mann_whitney_u(&[f64::NAN], &[1.0]), Err(StatsError::NaN));
    }

    #[test]
    fn min_p_value_says_four_samples_at_alpha_005() {
        assert!(min_p_value(3, 3) > 0.05);
        assert!(min_p_value(4, 4) <= 0.05);
        assert_eq!(min_p_value(1, 1), 1.0);
    }
}
