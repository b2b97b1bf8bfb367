//! Known-answer tests against numbers produced by benchstat's own code (golang/perf benchmath and
//! go-moremath), kept in `tests/data/` with their provenance in `tests/data/README.md`.

use perflab_stats::{mann_whitney_u, median_ci_orders, min_p_value, summarize};
use serde_json::Value;

fn load(name: &str) -> Vec<Value> {
    let path = format!("{}/tests/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("fixture is readable");
    serde_json::from_str(&text).expect("fixture is JSON")
}

fn num(v: &Value) -> f64 {
    match v {
        Value::String(s) if s == "-Inf" => f64::NEG_INFINITY,
        Value::String(s) if s == "+Inf" || s == "Inf" => f64::INFINITY,
        Value::String(s) if s == "NaN" => f64::NAN,
        other => other.as_f64().expect("a number"),
    }
}

fn floats(v: &Value) -> Vec<f64> {
    v.as_array().expect("array").iter().map(num).collect()
}

#[test]
fn median_ci_orders_match_benchstat_table_for_every_n_and_level() {
    let table = load("quantileci-median-table.json");
    assert_eq!(table.len(), 300);
    for row in &table {
        let n = row["n"].as_u64().unwrap() as usize;
        let level = row["requested_confidence"].as_f64().unwrap();
        let got = median_ci_orders(n, level);
        let want = (
            row["lo_order_1based"].as_u64().unwrap() as usize,
            row["hi_order_1based"].as_u64().unwrap() as usize,
        );
        assert_eq!((got.lo, got.hi), want, "n={n} level={level}");
        let achieved = row["actual_confidence"].as_f64().unwrap();
        assert!(
            (got.confidence_level - achieved).abs() < 1e-9,
            "n={n} level={level}: {} vs {achieved}",
            got.confidence_level
        );
    }
}

#[test]
fn medians_intervals_and_p_values_match_benchmath_on_all_51_pairs() {
    let cases = load("benchmath-exact-values.json");
    assert_eq!(cases.len(), 51);
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let old = floats(&case["old_sorted"]);
        let new = floats(&case["new_sorted"]);
        for (sample, key) in [(&old, "old_median_summary"), (&new, "new_median_summary")] {
            let want = &case[key];
            let s = summarize(sample, 0.95);
            assert_eq!(s.center, num(&want["Center"]), "{name} {key} center");
            assert_eq!(s.ci_low, num(&want["Lo"]), "{name} {key} lo");
            assert_eq!(s.ci_high, num(&want["Hi"]), "{name} {key} hi");
            assert!((s.confidence_level - num(&want["Confidence"])).abs() < 1e-12);
            let warned = want["Warnings"].as_array().is_some_and(|w| !w.is_empty());
            assert_eq!(s.need_for_ci.is_some(), warned, "{name} {key} warning");
            if let Some(n) = s.need_for_ci {
                let text = format!("need >= {n} samples for confidence interval at level 0.95");
                assert_eq!(want["Warnings"][0].as_str().unwrap(), text);
            }
        }
        let test = mann_whitney_u(&old, &new).unwrap();
        let want_p = num(&case["p_value_two_sided"]);
        assert!(
            (test.p_value - want_p).abs() < 1e-9,
            "{name}: p {} vs {want_p}",
            test.p_value
        );
        let want_u = num(&case["u_statistic_old_first"]);
        if !want_u.is_nan() {
            assert_eq!(test.u, want_u, "{name} U");
        }
        // benchstat prints a delta exactly when p <= alpha.
        let shown = case["formatted_delta_alpha_0.05"].as_str().unwrap() != "~";
        assert_eq!(test.p_value <= 0.05, shown, "{name} verdict");
        let warnings: Vec<&str> = case["comparison_warnings"]
            .as_array()
            .map(|w| w.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert_eq!(
            min_p_value(old.len(), new.len()) > 0.05,
            warnings.iter().any(|w| w.starts_with("need >=")),
            "{name} sample-size warning"
        );
        assert_eq!(
            test.all_equal,
            warnings.contains(&"all samples are equal"),
            "{name} all equal"
        );
    }
}
