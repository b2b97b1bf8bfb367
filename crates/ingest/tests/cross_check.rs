//! Cross-check against github-action-benchmark's expected parses of the same inputs
//! (`tests/data/expected-extract-results.json`, its Jest snapshot). That tool keeps only one
//! number per benchmark and unit; every such number must appear in perflab's parse, in the
//! same benchmark, once converted back to that tool's unit.

use std::path::Path;

use perflab_ingest::parse_path;
use serde_json::Value;

fn to_base(value: f64, unit: &str) -> Option<(&'static str, f64)> {
    Some(match unit {
        "ns/op" | "ns/iter" => ("time", value / 1e9),
        "B/op" => ("bytes_per_op", value),
        "allocs/op" => ("allocs_per_op", value),
        "MB/s" => ("throughput", value * 1e6),
        "cycles/iter" => ("cycles", value),
        "MS/s" => ("MS/s", value),
        _ => return None,
    })
}

#[test]
fn every_number_github_action_benchmark_extracts_is_in_perflabs_parse() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(data.join("expected-extract-results.json")).unwrap(),
    )
    .unwrap();
    let inputs = [
        ("go_output.txt", "gotest/gab-go_output.txt"),
        (
            "go_single_package_output.txt",
            "gotest/gab-go_single_package_output.txt",
        ),
        (
            "go_fiber_duplicate_names_output.txt",
            "gotest/gab-go_fiber_duplicate_names_output.txt",
        ),
        ("cargo_output.txt", "libtest/gab-cargo_output.txt"),
        ("cargo_output2.txt", "libtest/gab-cargo_output2.txt"),
        ("cargo_output3.txt", "libtest/gab-cargo_output3.txt"),
        (
            "cargo_output_units.txt",
            "libtest/gab-cargo_output_units.txt",
        ),
        (
            "criterion_output.txt",
            "libtest/gab-criterion_bencher_output.txt",
        ),
        ("googlecpp_output.json", "gbench/gab-googlecpp_output.json"),
    ];
    let mut checked = 0;
    for (key, file) in inputs {
        let parsed = parse_path(&data.join(file), None).unwrap();
        for bench in expected[key]["expected_benches"].as_array().unwrap() {
            let unit = bench["unit"].as_str().unwrap();
            let value = bench["value"].as_f64().unwrap();
            let name = bench["name"].as_str().unwrap();
            let short = name.trim_start_matches("Benchmark");
            let Some((metric, want)) = to_base(value, unit) else {
                continue; // that tool's combined-unit artefacts
            };
            let found = parsed.benchmarks.iter().any(|b| {
                let key = b.key();
                (key.contains(short.split('/').next().unwrap()) || short.contains(&b.name))
                    && b.metric(metric).is_some_and(|m| {
                        m.samples
                            .iter()
                            .any(|s| ((s - want) / want).abs() < 1e-12 || (s - want).abs() < 1e-300)
                    })
            });
            assert!(found, "{key}: {name} {value} {unit} not found");
            checked += 1;
        }
    }
    assert!(checked >= 40, "only {checked} values checked");
}
