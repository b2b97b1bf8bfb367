//! Invariants that must hold for any sample.

use perflab_stats::{mann_whitney_u, quantile, sorted, summarize};
use proptest::prelude::*;

proptest! {
    #[test]
    fn quantiles_are_monotone(values in prop::collection::vec(-1e6f64..1e6, 1..200)) {
        let s = sorted(&values);
        let qs: Vec<f64> = (0..=20).map(|i| quantile(&s, f64::from(i) / 20.0)).collect();
        for w in qs.windows(2) {
            prop_assert!(w[0] <= w[1]);
        }
        prop_assert_eq!(qs[0], s[0]);
        prop_assert_eq!(qs[20], s[s.len() - 1]);
    }

    #[test]
    fn median_interval_contains_the_median(values in prop::collection::vec(0.0f64..1e3, 1..120)) {
        let s = summarize(&values, 0.95);
        prop_assert!(s.ci_low <= s.center && s.center <= s.ci_high);
        prop_assert!(s.confidence_level >= 0.95);
    }

    #[test]
    fn p_value_is_a_probability_and_symmetric(
        x in prop::collection::vec(0u8..20, 1..30),
        y in prop::collection::vec(0u8..20, 1..30),
    ) {
        let x: Vec<f64> = x.into_iter().map(f64::from).collect();
        let y: Vec<f64> = y.into_iter().map(f64::from).collect();
        let a = mann_whitney_u(&x, &y).unwrap();
        let b = mann_whitney_u(&y, &x).unwrap();
        prop_assert!((0.0..=1.0).contains(&a.p_value));
        prop_assert!((a.p_value - b.p_value).abs() < 1e-12);
        prop_assert!((a.u + b.u - (x.len() * y.len()) as f64).abs() < 1e-9);
    }
}
