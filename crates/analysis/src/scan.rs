//! The scan diff: which functions' flat share of the CPU moved between a baseline and now.

use std::collections::BTreeMap;

use perflab_model::profile::FunctionDelta;

/// The `n` functions whose share moved most (by at least 0.1 pp), hotter first; shares are
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
    rows.sort_by(|a, b| {
        (b.current_share - b.base_share)
            .total_cmp(&(a.current_share - a.base_share))
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
        assert_eq!(names, ["d", "a", "c"]);
        assert_eq!(deltas(&base, &now, 1).len(), 1);
    }
}
