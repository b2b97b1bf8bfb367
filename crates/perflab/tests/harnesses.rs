//! perflab driving real harnesses end to end: the Go toolchain, hyperfine and pytest-benchmark
//! (installed by `.ci/run`). A test whose tool is missing says so on stderr and checks nothing
//! else; CI has them all.

mod common;

use common::{have, json, stderr, Lab};

fn samples(metric: &serde_json::Value) -> usize {
    metric["samples"].as_array().map_or(0, Vec::len)
}

#[test]
fn go_test_bench_with_count_benchmem_subbenchmarks_and_custom_metrics() {
    if !have("go") {
        common::skip("go", "go is not installed");
        return;
    }
    let lab = Lab::new();
    lab.write("go.mod", "module example.com/sum\n\ngo 1.18\n");
    lab.write(
        "sum_test.go",
        r#"package sum

import (
	"fmt"
	"testing"
)

var sink []int

func BenchmarkSum(b *testing.B) {
	for _, n := range []int{10, 1000} {
		b.Run(fmt.Sprintf("size=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				s := make([]int, n)
				for j := range s {
					s[j] = j
				}
				sink = s
			}
			b.ReportMetric(float64(n)/2, "widgets/op")
		})
	}
}
"#,
    );
    let out = lab
        .cmd()
        .env("GOCACHE", lab.path("gocache"))
        .env("GOPATH", lab.path("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .args([
            "bench",
            "--json",
            "--no-store",
            "--",
            "go",
            "test",
            "-run",
            "^$",
            "-bench",
            ".",
            "-benchmem",
            "-benchtime",
            "2000x",
            "-count",
            "3",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["tool"]["name"], "go test");
    let benches = doc["benchmarks"].as_array().unwrap();
    assert_eq!(benches.len(), 2, "{benches:?}");
    for b in benches {
        assert_eq!(b["name"], "Sum");
        assert_eq!(b["params"]["pkg"], "example.com/sum");
        assert!(b["params"]["procs"].is_string());
        let metrics = b["metrics"].as_array().unwrap();
        let names: Vec<&str> = metrics
            .iter()
            .map(|m| m["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["time", "widgets/op", "bytes_per_op", "allocs_per_op"]
        );
        assert!(metrics.iter().all(|m| samples(m) == 3));
    }
    assert_eq!(benches[0]["params"]["size"], "10");
    assert_eq!(benches[0]["metrics"][1]["samples"][0], 5.0);
    assert_eq!(
        benches[1]["metrics"][3]["samples"][0], 1.0,
        "one allocation per op"
    );
    // The byte count is the real one: 1000 ints of 8 bytes, in Go's 8 KiB size class. B/op is
    // an average over the iterations, so the runtime's own rare allocation during the run can
    // add a byte (seen once: 8193 on a busy machine).
    let bytes = benches[1]["metrics"][2]["samples"][0].as_f64().unwrap();
    assert!((8192.0..8192.0 * 1.01).contains(&bytes), "{bytes} B/op");
}

#[test]
fn hyperfine_json_imports_and_compares() {
    if !have("hyperfine") {
        common::skip("hyperfine", "hyperfine is not installed");
        return;
    }
    let lab = Lab::new();
    let status = std::process::Command::new("hyperfine")
        .current_dir(lab.dir.path())
        .args([
            "--runs",
            "5",
            "--style",
            "none",
            "-N",
            "--export-json",
            "h.json",
            "sleep 0.01",
            "sleep 0.03",
        ])
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", stderr(&status));
    let out = lab
        .cmd()
        .args(["import", "--json", "--no-store", "h.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["tool"]["name"], "hyperfine");
    let b = &doc["benchmarks"][1];
    assert_eq!(b["name"], "sleep 0.03");
    assert_eq!(samples(&b["metrics"][0]), 5);
    assert!(b["metrics"][0]["samples"][0].as_f64().unwrap() >= 0.03);
    // Same file on both sides: nothing changes, the gate passes.
    lab.cmd()
        .args(["compare", "h.json", "h.json"])
        .assert()
        .success();
}

#[test]
fn pytest_benchmark_json_keeps_every_round() {
    let has = std::process::Command::new("python3")
        .args(["-c", "import pytest_benchmark"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        common::skip("pytest-benchmark", "pytest-benchmark is not installed");
        return;
    }
    let lab = Lab::new();
    lab.write(
        "test_fib.py",
        "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n\n\
def test_fib(benchmark):\n    assert benchmark(fib, 12) == 144\n",
    );
    let out = std::process::Command::new("python3")
        .current_dir(lab.dir.path())
        .args([
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-json",
            "b.json",
            "--benchmark-min-rounds",
            "7",
            "--benchmark-max-time",
            "0.05",
            "test_fib.py",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = lab
        .cmd()
        .args(["import", "--json", "--no-store", "b.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["tool"]["name"], "pytest-benchmark");
    assert_eq!(doc["benchmarks"][0]["name"], "test_fib");
    assert!(samples(&doc["benchmarks"][0]["metrics"][0]) >= 7);
}

#[test]
fn bench_asks_hyperfine_for_json_and_names_runs_by_their_template() {
    if !have("hyperfine") {
        common::skip("hyperfine", "hyperfine is not installed");
        return;
    }
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args([
            "bench",
            "--json",
            "--no-store",
            "--",
            "hyperfine",
            "-N",
            "--runs",
            "3",
            "--style",
            "none",
            "-P",
            "t",
            "1",
            "2",
            "sleep 0.0{t}",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("note: added --export-json"),
        "{}",
        stderr(&out)
    );
    let doc = json(&out.stdout);
    let b = doc["benchmarks"].as_array().unwrap();
    assert_eq!(b.len(), 2, "{doc}");
    for (i, t) in ["1", "2"].iter().enumerate() {
        assert_eq!(b[i]["name"], "sleep 0.0{t}");
        assert_eq!(b[i]["params"]["t"], *t);
        assert_eq!(
            samples(&b[i]["metrics"][0]),
            3,
            "raw times, not the summary"
        );
    }
}

#[test]
fn bench_asks_pytest_benchmark_for_json() {
    let has = std::process::Command::new("python3")
        .args(["-c", "import pytest_benchmark"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        common::skip("pytest-benchmark", "pytest-benchmark is not installed");
        return;
    }
    let lab = Lab::new();
    lab.write(
        "test_sum.py",
        "def test_sum(benchmark):\n    assert benchmark(sum, range(100)) == 4950\n",
    );
    let out = lab
        .cmd()
        .args([
            "bench",
            "--json",
            "--no-store",
            "--",
            "python3",
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--benchmark-min-rounds=5",
            "test_sum.py",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let doc = json(&out.stdout);
    assert_eq!(doc["tool"]["name"], "pytest-benchmark", "{doc}");
    assert!(samples(&doc["benchmarks"][0]["metrics"][0]) >= 5);
}

#[test]
fn pytest_through_a_shell_gives_the_rows_of_a_direct_run() {
    let has = std::process::Command::new("python3")
        .args(["-c", "import pytest_benchmark"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has {
        common::skip("pytest-benchmark", "pytest-benchmark is not installed");
        return;
    }
    let lab = Lab::new();
    lab.write(
        "test_sum.py",
        "def test_sum(benchmark):\n    assert benchmark(sum, range(100)) == 4950\n\ndef test_len(benchmark):\n    benchmark(len, [1, 2])\n",
    );
    let bench = |command: &[&str]| {
        let out = lab
            .cmd()
            .args(["bench", "--json", "--no-store", "--"])
            .args(command)
            .output()
            .unwrap();
        assert!(out.status.success(), "{command:?}: {}", stderr(&out));
        let doc = json(&out.stdout);
        assert_eq!(
            doc["tool"]["name"], "pytest-benchmark",
            "{command:?}: {doc}"
        );
        let mut names: Vec<String> = doc["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["name"].as_str().unwrap().to_string())
            .collect();
        names.sort();
        names
    };
    let args = "-q -p no:cacheprovider --benchmark-min-rounds=5 test_sum.py";
    let direct: Vec<&str> = ["python3", "-m", "pytest"]
        .into_iter()
        .chain(args.split(' '))
        .collect();
    let direct = bench(&direct);
    assert_eq!(direct.len(), 2, "{direct:?}");
    let shell = bench(&[
        "sh",
        "-c",
        &format!("PYTHONDONTWRITEBYTECODE=1 python3 -m pytest {args}"),
    ]);
    assert_eq!(shell, direct);
}
