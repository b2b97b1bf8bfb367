//! The gate on real `go test -bench . -benchmem -count 5` output (tests/data/gobench): it fails
//! on real slowdowns, stays quiet on the same code run twice, and a filter never changes a
//! verdict.

mod common;

use common::{data, json, stderr, Lab};

fn compare(lab: &Lab, args: &[&str]) -> std::process::Output {
    lab.cmd()
        .arg("compare")
        .args(args)
        .output()
        .expect("perflab runs")
}

#[test]
fn real_benchmem_slowdown_fails_the_gate() {
    let lab = Lab::new();
    let out = compare(
        &lab,
        &[
            &data("gobench/base.txt"),
            &data("gobench/slow.txt"),
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out.stdout);
    let regressed: Vec<(String, String)> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["verdict"] == "regression")
        .map(|r| {
            (
                r["benchmark"].as_str().unwrap().to_string(),
                r["metric"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for name in ["Words", "Upper", "Count"] {
        assert!(
            regressed.contains(&(name.to_string(), "time".to_string())),
            "{name} time: {regressed:?}"
        );
    }
    // Derived MB/s rows never fail on their own; B/op and allocs/op compare exactly.
    assert!(
        regressed.iter().all(|(_, m)| m != "throughput"),
        "{regressed:?}"
    );
    assert!(regressed.contains(&("Words".into(), "allocs_per_op".into())));
    let roles: Vec<&str> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["benchmark"] == "Repeat")
        .map(|r| r["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["tested", "exact", "exact"]);
    assert_eq!(doc["gate"]["family"], 8);
}

#[test]
fn same_code_run_twice_passes() {
    let lab = Lab::new();
    let out = compare(
        &lab,
        &[&data("gobench/base.txt"), &data("gobench/base-again.txt")],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[test]
fn filter_and_metric_never_change_a_verdict() {
    let lab = Lab::new();
    let all = json(
        &compare(
            &lab,
            &[
                &data("gobench/base.txt"),
                &data("gobench/slow.txt"),
                "--format",
                "json",
            ],
        )
        .stdout,
    );
    let verdict = |doc: &serde_json::Value, bench: &str, metric: &str| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["benchmark"] == bench && r["metric"] == metric)
            .map(|r| (r["verdict"].clone(), r["p_adjusted"].clone()))
    };
    for args in [
        &["--filter", "Count"][..],
        &["--metric", "time", "--filter", "Count"][..],
        &["--metric", "time"][..],
    ] {
        let mut full = vec![
            data("gobench/base.txt"),
            data("gobench/slow.txt"),
            "--format".into(),
            "json".into(),
        ];
        full.extend(args.iter().map(|s| s.to_string()));
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        let out = compare(&lab, &full);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", stderr(&out));
        let some = json(&out.stdout);
        assert_eq!(
            verdict(&some, "Count", "time"),
            verdict(&all, "Count", "time"),
            "{args:?}"
        );
        assert_eq!(some["gate"]["family"], all["gate"]["family"], "{args:?}");
    }
    // Only unchanged rows shown: the gate passes, with the same verdicts.
    let out = compare(
        &lab,
        &[
            &data("gobench/base.txt"),
            &data("gobench/slow.txt"),
            "--filter",
            "Repeat",
        ],
    );
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("rows shown; verdicts are those of the whole comparison"),
        "{text}"
    );
}

#[test]
fn filter_that_matches_nothing_lists_the_names() {
    let lab = Lab::new();
    let out = compare(
        &lab,
        &[
            &data("gobench/base.txt"),
            &data("gobench/slow.txt"),
            "--filter",
            "Nope*",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: --filter/--metric matched no row (benchmarks: Words"),
        "{err}"
    );
}
