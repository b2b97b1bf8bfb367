//! Change points against Apache Otava 0.8.0 on seeded histories (`tests/data/otava/make.py`
//! made `histories.json` with Otava's own `compute_change_points`): the same points, within one
//! run, on noise (none), steps, two steps, small shifts in long series and a block spike.

use perflab_analysis::history::{change_points, ChangePointOptions};

#[test]
fn same_change_points_as_otava() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/otava/histories.json"
    ))
    .unwrap();
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut exact = 0;
    let cases = doc["cases"].as_array().unwrap();
    for case in cases {
        let series: Vec<f64> = case["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        let want: Vec<usize> = case["change_points"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        let otava = ChangePointOptions {
            min_magnitude: 0.0,
            ..ChangePointOptions::default()
        };
        let got: Vec<usize> = change_points(&series, &otava)
            .iter()
            .map(|c| c.index)
            .collect();
        let name = case["name"].as_str().unwrap();
        assert_eq!(got.len(), want.len(), "{name}: {got:?} vs Otava {want:?}");
        for (g, w) in got.iter().zip(&want) {
            assert!(g.abs_diff(*w) <= 1, "{name}: {got:?} vs Otava {want:?}");
        }
        exact += usize::from(got == want);
        if name.starts_with("noise") {
            assert!(got.is_empty(), "{name}: noise raised {got:?}");
        }
    }
    println!(
        "{exact} of {} histories give exactly Otava's points",
        cases.len()
    );
}

#[test]
fn a_step_is_found_with_its_size_and_direction() {
    let mut series: Vec<f64> = (0..30).map(|i| 100.0 + (i % 3) as f64).collect();
    series.extend((0..30).map(|i| 130.0 + (i % 3) as f64));
    let cps = change_points(&series, &ChangePointOptions::default());
    assert_eq!(cps.len(), 1, "{cps:?}");
    assert_eq!(cps[0].index, 30);
    assert!(
        (cps[0].change() - 0.2970).abs() < 0.01,
        "{}",
        cps[0].change()
    );
    assert!(cps[0].p_value < 1e-10);
}

/// Long noise-only histories (1% log-normal noise, 400 runs each, seeded) raise nothing with the
/// defaults (a 3% minimum change); with Otava's minimum of 0 they report blips and sub-percent
/// "shifts". The counts are printed for docs/statistics.md.
#[test]
fn long_noise_histories_raise_nothing_by_default() {
    let mut x: u64 = 42;
    let mut uniform = move || {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64 + 1e-12
    };
    let mut raised_at_zero = 0;
    let mut counts = [0usize; 3];
    for _ in 0..40 {
        let series: Vec<f64> = (0..400)
            .map(|_| {
                let (u, v) = (uniform(), uniform());
                let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
                1000.0 * (0.01 * z).exp()
            })
            .collect();
        let found = change_points(&series, &ChangePointOptions::default());
        assert!(found.is_empty(), "noise raised {found:?}");
        for (i, m) in [0.02, 0.03, 0.05].iter().enumerate() {
            let o = ChangePointOptions {
                min_magnitude: *m,
                ..ChangePointOptions::default()
            };
            counts[i] += change_points(&series, &o).len();
        }
        let otava = ChangePointOptions {
            min_magnitude: 0.0,
            ..ChangePointOptions::default()
        };
        raised_at_zero += change_points(&series, &otava).len();
    }
    println!(
        "40 noise histories: min 0 -> {raised_at_zero}, 2% -> {}, 3% -> {}, 5% -> {}",
        counts[0], counts[1], counts[2]
    );
}
