//! Go's benchmark output as benchstat users know it: procs, -ignore, several inputs, config
//! warnings, per-package geomeans, and a stored run exported back to the Go format.

mod common;

use common::{data, json, stderr, Lab};

fn other_machine(lab: &Lab) -> String {
    // The same results as printed on a 4-core machine with another CPU.
    let text = std::fs::read_to_string(data("gobench/slow.txt"))
        .unwrap()
        .replace("-2 ", "-4 ")
        .replace("-2\t", "-4\t")
        .replace("cpu: Intel(R) Xeon(R) Processor", "cpu: AMD EPYC 7B13");
    lab.write("other.txt", &text).display().to_string()
}

#[test]
fn ignore_procs_compares_runs_from_machines_with_different_core_counts() {
    let lab = Lab::new();
    let other = other_machine(&lab);
    let out = lab
        .cmd()
        .args(["compare", &data("gobench/base.txt"), &other])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "no benchmark in common without --ignore"
    );
    assert!(
        stderr(&out).contains("no benchmark in common"),
        "{}",
        stderr(&out)
    );
    let out = lab
        .cmd()
        .args([
            "compare",
            &data("gobench/base.txt"),
            &other,
            "--ignore",
            "procs",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("warning: base and current differ in cpu: \"Intel(R) Xeon(R) Processor\" vs \"AMD EPYC 7B13\""),
        "{}",
        stderr(&out)
    );
    let doc = json(&out.stdout);
    assert!(doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r["params"].get("procs").is_none()));
}

#[test]
fn three_inputs_compare_each_with_the_first() {
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args([
            "compare",
            &data("gobench/base.txt"),
            &data("gobench/base-again.txt"),
            &data("gobench/slow.txt"),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let doc = json(&out.stdout);
    let labels: std::collections::BTreeSet<String> = doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["current_label"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        labels.into_iter().collect::<Vec<_>>(),
        ["base-again.txt", "slow.txt"]
    );
    // Regressions only against slow.txt.
    for r in doc["rows"].as_array().unwrap() {
        if r["verdict"] == "regression" {
            assert_eq!(r["current_label"], "slow.txt", "{r}");
        }
    }
    // One geomean per metric, column pair and package.
    let g = doc["geomean"].as_array().unwrap();
    assert!(g.iter().all(|g| g["pkg"] == "example.com/textkit"), "{g:?}");
}

#[test]
fn procs_column_compares_gomaxprocs_values() {
    let lab = Lab::new();
    let one = std::fs::read_to_string(data("gobench/base.txt"))
        .unwrap()
        .replace("-2 ", " ")
        .replace("-2\t", "\t");
    let mixed = format!(
        "{one}{}",
        std::fs::read_to_string(data("gobench/base.txt")).unwrap()
    );
    let f = lab.write("cpus.txt", &mixed);
    let out = lab
        .cmd()
        .args([
            "compare",
            f.to_str().unwrap(),
            "--col",
            "procs",
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let doc = json(&out.stdout);
    let r = &doc["rows"][0];
    assert_eq!(
        (r["base_label"].as_str(), r["current_label"].as_str()),
        (Some("procs=1"), Some("procs=2"))
    );
    // size-1024 at GOMAXPROCS=1 is a name, not procs=1024.
    assert!(doc["rows"]
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["benchmark"] == "Index/size-1024"));
}

#[test]
fn show_exports_a_stored_run_that_benchstat_format_reads_back() {
    let lab = Lab::new();
    assert!(lab
        .cmd()
        .args(["import", &data("gobench/base.txt")])
        .output()
        .unwrap()
        .status
        .success());
    let out = lab
        .cmd()
        .args(["show", "latest", "--format", "gotest"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("pkg: example.com/textkit\n"), "{text}");
    // Each line keeps go test's own iteration count.
    assert!(
        text.contains("BenchmarkIndex/size-1024-2 4216358 288.3 ns/op"),
        "{text}"
    );
    let back = lab.write("back.txt", &text);
    let cmp = lab
        .cmd()
        .args([
            "compare",
            &data("gobench/base.txt"),
            back.to_str().unwrap(),
            "--format",
            "json",
        ])
        .output()
        .unwrap();
    assert_eq!(cmp.status.code(), Some(0), "{}", stderr(&cmp));
    let doc = json(&cmp.stdout);
    for r in doc["rows"].as_array().unwrap() {
        assert_eq!(r["base"]["median"], r["current"]["median"], "{r}");
    }
    let js = lab.cmd().args(["show", "latest"]).output().unwrap();
    assert_eq!(json(&js.stdout)["schema"], "perflab.result.v1");
}

#[test]
fn comparing_a_run_with_itself_is_warned_about() {
    let lab = Lab::new();
    assert!(lab
        .cmd()
        .args(["import", &data("gobench/base.txt")])
        .output()
        .unwrap()
        .status
        .success());
    let out = lab
        .cmd()
        .args(["compare", "latest", "latest"])
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("is the same run as the base"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn config_sets_a_custom_metric_direction() {
    let lab = Lab::new();
    let run = |v: f64| {
        (0..6)
            .map(|i| {
                format!(
                    "BenchmarkCache-2 10 100 ns/op {} hit_ratio\n",
                    v + 0.001 * i as f64
                )
            })
            .collect::<String>()
    };
    let a = lab.write("a.txt", &run(0.50));
    let b = lab.write("b.txt", &run(0.90));
    let cmp = |lab: &Lab| {
        json(
            &lab.cmd()
                .args([
                    "compare",
                    a.to_str().unwrap(),
                    b.to_str().unwrap(),
                    "--format",
                    "json",
                ])
                .output()
                .unwrap()
                .stdout,
        )
    };
    let verdict = |doc: &serde_json::Value| {
        doc["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["metric"] == "hit_ratio")
            .unwrap()["verdict"]
            .clone()
    };
    assert_eq!(
        verdict(&cmp(&lab)),
        "regression",
        "by default a rising unknown metric is worse"
    );
    lab.write("perflab.toml", "[metric.hit_ratio]\nbetter = \"higher\"\n");
    assert_eq!(verdict(&cmp(&lab)), "improvement");
    lab.write("perflab.toml", "[metric.hit_ratio]\nbetter = \"up\"\n");
    let out = lab
        .cmd()
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("metric.hit_ratio.better = \"up\": use \"higher\" or \"lower\""),
        "{}",
        stderr(&out)
    );
}

#[test]
fn targets_match_the_names_compare_prints() {
    let lab = Lab::new();
    lab.write(
        "perflab.toml",
        "[[target]]\nbenchmark = \"Index/size-1024/*\"\nmetric = \"time\"\ntarget = \"< 1s\"\n",
    );
    let out = lab
        .cmd()
        .args(["check", &data("gobench/base.txt"), "--json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["results"].as_array().map(Vec::len), Some(1), "{doc}");
    lab.write(
        "perflab.toml",
        "[[target]]\nbenchmark = \"Nope*\"\nmetric = \"time\"\ntarget = \"< 1s\"\n",
    );
    let out = lab
        .cmd()
        .args(["check", &data("gobench/base.txt")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("(benchmarks here: Words, Upper, Count"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn alerts_find_the_run_where_a_series_shifted() {
    let lab = Lab::new();
    let mut ids = Vec::new();
    for i in 0..30 {
        let centre = if i < 15 { 100.0 } else { 130.0 };
        let text: String = (0..5)
            .map(|k| {
                format!(
                    "BenchmarkParse-2 10 {} ns/op\nBenchmarkFlat-2 10 {} ns/op\n",
                    centre + (i % 3 + k) as f64,
                    50 + (i + k) % 4
                )
            })
            .collect();
        let f = lab.write(&format!("r{i}.txt"), &text);
        let out = lab
            .cmd()
            .args(["import", "--json", f.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        ids.push(json(&out.stdout)["id"].as_str().unwrap().to_string());
    }
    let out = lab.cmd().args(["alerts", "--json"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out.stdout);
    let alerts = doc["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "only Parse shifted: {doc}");
    let a = &alerts[0];
    assert_eq!(a["benchmark"], "Parse/procs=2");
    assert_eq!(a["metric"], "time");
    assert_eq!(a["direction"], "regression");
    assert_eq!(
        a["run_id"],
        ids[15].as_str(),
        "the first run after the change"
    );
    assert!((a["change"].as_f64().unwrap() - 0.30).abs() < 0.02, "{a}");
    let text = lab.cmd().args(["log", "--alerts"]).output().unwrap();
    assert!(String::from_utf8_lossy(&text.stdout).contains("regression"));
}
