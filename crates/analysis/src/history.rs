//! Change points in a history: persistent shifts in a series of medians (one per run), found
//! without hand-set thresholds, as Apache Otava (Hunter) finds them: E-Divisive means
//! (Matteson & James) in sliding windows with a relaxed Student t significance ("weak" change
//! points), then a merge step that removes the weakest until every remaining one is significant
//! at `max_p_value` and larger than `min_magnitude`. The implementation follows Otava's
//! `compute_change_points` step for step (ties, window stepping, the t-test on population
//! standard deviations) and is checked against its output on seeded histories
//! (`tests/change_points.rs`).

use perflab_stats as stats;
use serde::Serialize;

/// Settings of the detection: Otava's window and significance, and a minimum change of 3%.
/// Otava's own default minimum is 0, which on long noise-only histories reports short blips and
/// sub-percent "shifts" as significant (measured in `tests/change_points.rs`: 15 change points
/// in 40 histories of 400 runs with 1% noise; 2 at a 2% minimum; none at 3%). Set
/// `min_magnitude: 0.0` for Otava's exact behaviour.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChangePointOptions {
    /// Points per sliding window.
    pub window_len: usize,
    /// Significance a change point must reach.
    pub max_p_value: f64,
    /// Smallest relative change kept (0 keeps every significant one).
    pub min_magnitude: f64,
}

impl Default for ChangePointOptions {
    fn default() -> Self {
        ChangePointOptions {
            window_len: 50,
            max_p_value: 0.001,
            min_magnitude: 0.03,
        }
    }
}

/// A persistent shift: the series differs from `index` on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangePoint {
    /// Index of the first value after the change.
    pub index: usize,
    /// Mean of the values since the previous change point.
    pub mean_before: f64,
    /// Mean of the values until the next change point.
    pub mean_after: f64,
    /// Two-sided Student t p-value of the two segments.
    pub p_value: f64,
}

impl ChangePoint {
    /// `mean_after / mean_before − 1`.
    pub fn change(&self) -> f64 {
        if self.mean_before == 0.0 {
            0.0
        } else {
            self.mean_after / self.mean_before - 1.0
        }
    }

    fn magnitude(&self) -> f64 {
        let back = if self.mean_after == 0.0 {
            0.0
        } else {
            self.mean_before / self.mean_after - 1.0
        };
        self.change().abs().max(back.abs())
    }
}

/// Student's two-sample t-test as Otava calls it: population standard deviations passed where
/// sample ones are expected, pooled variance, two-sided.
fn t_test(left: &[f64], right: &[f64]) -> (f64, f64, f64) {
    let (n1, n2) = (left.len() as f64, right.len() as f64);
    let (m1, m2) = (stats::mean(left), stats::mean(right));
    if left.len() + right.len() <= 2 {
        return (m1, m2, 1.0);
    }
    let pop_var =
        |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / v.len() as f64;
    let (v1, v2) = (pop_var(left, m1), pop_var(right, m2));
    let df = n1 + n2 - 2.0;
    let pooled = ((n1 - 1.0) * v1 + (n2 - 1.0) * v2) / df;
    let se = (pooled * (1.0 / n1 + 1.0 / n2)).sqrt();
    let t = (m1 - m2) / se;
    let p = if t.is_nan() {
        1.0
    } else {
        (2.0 * stats::student_t_sf(t.abs(), df)).min(1.0)
    };
    (m1, m2, p)
}

/// Segments between sorted change points over `0..len`.
fn intervals(points: &[usize], len: usize) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut start = 0;
    for &p in points.iter().chain(std::iter::once(&len)) {
        if p != start {
            out.push((start, p));
        }
        start = p;
    }
    out
}

/// The statistics of a change point at `index` given the other points.
fn stats_at(series: &[f64], index: usize, points: &[usize]) -> ChangePoint {
    let iv = intervals(points, series.len());
    let (l, r) = iv
        .iter()
        .enumerate()
        .find_map(|(i, &(a, b))| {
            if b == index {
                iv.get(i + 1).map(|&next| ((a, b), next))
            } else if a < index && index < b {
                Some(((a, index), (index, b)))
            } else {
                None
            }
        })
        .unwrap_or(((0, index), (index, series.len())));
    let (mean_before, mean_after, p_value) = t_test(&series[l.0..l.1], &series[r.0..r.1]);
    ChangePoint {
        index,
        mean_before,
        mean_after,
        p_value,
    }
}

/// The E-Divisive candidate in `z[start..end]`: the τ maximising Q(τ, κ) over start < τ < κ ≤
/// end, the first in (τ, κ) order on ties, with its Q. As in Otava, Q is a square matrix whose
/// cells below the diagonal (κ ≤ τ) hold 0, so when every real Q is negative the first such cell
/// (τ = start + 2) wins with Q = 0: reproduced here so the same points are found.
fn candidate(z: &[f64], start: usize, end: usize) -> (usize, f64) {
    // prefix[j - start][t - start] = Σ d(i, j) for i in start..t (t ≤ j), summed left to right
    // as the direct sums are: each Q(τ, κ) then costs O(1) and a segment O(L²), not O(L³).
    let len = end - start;
    let mut prefix = vec![0.0; len * (len + 1)];
    for j in 0..len {
        let row = &mut prefix[j * (len + 1)..(j + 1) * (len + 1)];
        let mut acc = 0.0;
        for (t, cell) in row.iter_mut().enumerate().take(j + 1).skip(1) {
            acc += (z[start + t - 1] - z[start + j]).abs();
            *cell = acc;
        }
    }
    let p = |j: usize, t: usize| prefix[(j - start) * (len + 1) + (t - start)];
    let mut best = (start + 1, f64::NEG_INFINITY);
    let mut within_x = 0.0;
    for tau in start + 1..end {
        // X = z[start..tau], Y = z[tau..kappa].
        within_x += p(tau - 1, tau - 1);
        let n = (tau - start) as f64;
        if tau > start + 1 && 0.0 > best.1 {
            best = (tau, 0.0);
        }
        let (mut cross, mut within_y) = (0.0, 0.0);
        for kappa in tau + 1..=end {
            let j = kappa - 1;
            cross += p(j, tau);
            within_y += p(j, j) - p(j, tau);
            let m = (kappa - tau) as f64;
            let b = if n > 1.0 {
                2.0 * m / (m + n) / (n - 1.0) * within_x
            } else {
                0.0
            };
            let c = if m > 1.0 {
                2.0 * n / (m + n) / (m - 1.0) * within_y
            } else {
                0.0
            };
            let q = 2.0 / (m + n) * cross - b - c;
            if q > best.1 {
                best = (tau, q);
            }
        }
    }
    best
}

/// E-Divisive on one window: split the segment with the best candidate while it is significant.
fn divisive(window: &[f64], max_p: f64) -> Vec<usize> {
    let mut points: Vec<usize> = Vec::new();
    loop {
        let best = intervals(&points, window.len())
            .into_iter()
            .filter(|(a, b)| b - a > 1)
            .map(|(a, b)| candidate(window, a, b))
            .fold(None::<(usize, f64)>, |acc, c| match acc {
                Some(a) if a.1 >= c.1 => Some(a),
                _ => Some(c),
            });
        let Some((index, _)) = best else {
            return points;
        };
        if stats_at(window, index, &points).p_value <= max_p {
            points.push(index);
            points.sort_unstable();
        } else {
            return points;
        }
    }
}

/// Change points of a series (oldest first).
pub fn change_points(series: &[f64], opts: &ChangePointOptions) -> Vec<ChangePoint> {
    let w = opts.window_len.max(2);
    let first_pass = if opts.max_p_value < 0.05 {
        opts.max_p_value * 10.0
    } else if opts.max_p_value < 0.5 {
        opts.max_p_value * 2.0
    } else {
        opts.max_p_value
    };
    // Split: weak change points from overlapping windows.
    let mut weak: Vec<usize> = Vec::new();
    let step = w / 2;
    let mut start = 0;
    while start < series.len() {
        let end = (start + w).min(series.len());
        let found: Vec<usize> = divisive(&series[start..end], first_pass)
            .into_iter()
            .map(|i| i + start)
            .collect();
        let last = found.last().copied().unwrap_or(0);
        for p in found {
            if !weak.contains(&p) {
                weak.push(p);
            }
        }
        start = last.max(start + step.max(1));
    }
    weak.sort_unstable();
    let mut points: Vec<ChangePoint> = weak.iter().map(|&i| stats_at(series, i, &weak)).collect();
    // Merge: drop the weakest until all are significant and large enough.
    while !points.is_empty() {
        let by_p = (0..points.len()).fold(0, |best, i| {
            if points[i].p_value > points[best].p_value {
                i
            } else {
                best
            }
        });
        let mut weakest = by_p;
        if points[by_p].p_value < opts.max_p_value {
            weakest = (0..points.len()).fold(0, |best, i| {
                if points[i].magnitude() < points[best].magnitude() {
                    i
                } else {
                    best
                }
            });
            if points[weakest].magnitude() > opts.min_magnitude {
                return points;
            }
        }
        points.remove(weakest);
        let idx: Vec<usize> = points.iter().map(|p| p.index).collect();
        // As Otava does: recompute the points now at the removed one's position and the next.
        for i in [weakest, weakest + 1] {
            if i < points.len() {
                points[i] = stats_at(series, points[i].index, &idx);
            }
        }
    }
    points
}

/// Whether a change point made things worse or better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// Worse in the metric's direction.
    Regression,
    /// Better.
    Improvement,
}

/// A change point of one benchmark × metric series, tied to the run where it starts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Alert {
    /// Stable id: FNV-1a of benchmark, metric and run (the same alert keeps it across calls).
    pub id: String,
    /// Someone acknowledged it (set by the store's caller).
    pub acknowledged: bool,
    /// Benchmark key.
    pub benchmark: String,
    /// Metric name.
    pub metric: String,
    /// The first run after the change.
    pub run_id: String,
    /// The branch of the series (a series is benchmark × metric × branch).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// The commit of the first run after the change.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// The machine class of the series (its runs' `testbed` label), when they say.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub testbed: Option<String>,
    /// Who acknowledged it (the token's name), when it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_by: Option<String>,
    /// When it was acknowledged (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acknowledged_at: Option<String>,
    /// `mean_after / mean_before − 1`.
    pub change: f64,
    /// Its p-value.
    pub p_value: f64,
    /// Regression or improvement.
    pub direction: Direction,
}

/// FNV-1a (64-bit) of the alert's identity, in hex: stable across versions and platforms.
pub fn alert_id(benchmark: &str, metric: &str, run_id: &str) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in [benchmark, metric, run_id].join("\0").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{h:016x}")
}

/// The alerts of one series: `medians[i]` was measured by `run_ids[i]`, oldest first.
pub fn alerts(
    benchmark: &str,
    metric: &str,
    better: perflab_model::Better,
    medians: &[f64],
    run_ids: &[String],
    opts: &ChangePointOptions,
) -> Vec<Alert> {
    change_points(medians, opts)
        .into_iter()
        .filter_map(|c| {
            let run_id = run_ids.get(c.index)?.clone();
            let up = c.change() > 0.0;
            let worse = up == (better == perflab_model::Better::Lower);
            Some(Alert {
                id: alert_id(benchmark, metric, &run_id),
                acknowledged: false,
                benchmark: benchmark.to_string(),
                metric: metric.to_string(),
                run_id,
                branch: None,
                commit: None,
                testbed: None,
                acknowledged_by: None,
                acknowledged_at: None,
                change: c.change(),
                p_value: c.p_value,
                direction: if worse {
                    Direction::Regression
                } else {
                    Direction::Improvement
                },
            })
        })
        .collect()
}
