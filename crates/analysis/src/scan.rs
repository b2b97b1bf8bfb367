//! The scan diff: which functions' flat share of the CPU moved between a baseline and now.

use std::collections::BTreeMap;

use perflab_model::profile::FunctionDelta;

/// The `n` functions whose share moved most either way (by at least 0.1 pp), biggest move
/// first, so the largest improvements are kept beside the largest regressions; shares are
/// fractions of each side's total.
pub fn deltas(
    base: &BTreeMap<String, f64>,
    current: &BTreeMap<String, f64>,
    n: usize,
) -> Vec<FunctionDelta> {
    let names: std::collections::BTreeSet<&String> = base.keys().chain(current.keys()).collect();
    let mut rows: Vec<FunctionDelta> = names
        .into_iter()
        .map(|f| FunctionDelta {
            function: f.clone(),
            base_share: base.get(f).copied().unwrap_or(0.0),
            current_share: current.get(f).copied().unwrap_or(0.0),
        })
        .filter(|d| (d.current_share - d.base_share).abs() >= 0.001)
        .collect();
    let moved = |d: &FunctionDelta| (d.current_share - d.base_share).abs();
    rows.sort_by(|a, b| {
        moved(b)
            .total_cmp(&moved(a))
            .then(a.function.cmp(&b.function))
    });
    rows.truncate(n);
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hotter_first_and_small_moves_left_out() {
        let base: BTreeMap<String, f64> =
            [("a".into(), 0.5), ("b".into(), 0.3), ("c".into(), 0.25)].into();
        let now: BTreeMap<String, f64> =
            [("a".into(), 0.3), ("b".into(), 0.3005), ("d".into(), 0.4)].into();
        let d = deltas(&base, &now, 10);
        let names: Vec<&str> = d.iter().map(|x| x.function.as_str()).collect();
        assert_eq!(names, ["d", "c", "a"]);
        assert_eq!(deltas(&base, &now, 1).len(), 1);
        // Many functions a little hotter do not crowd out one much faster.
        let base: BTreeMap<String, f64> = (0..20)
            .map(|i| (format!("f{i}"), 0.01))
            .chain([("fixed".to_string(), 0.5)])
            .collect();
        let now: BTreeMap<String, f64> = (0..20)
            .map(|i| (format!("f{i}"), 0.03))
            .chain([("fixed".to_string(), 0.1)])
            .collect();
        assert_eq!(deltas(&base, &now, 5)[0].function, "fixed");
    }
}
