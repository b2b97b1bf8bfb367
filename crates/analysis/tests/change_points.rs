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
        let got: Vec<usize> = change_points(&series, &ChangePointOptions::default())
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
