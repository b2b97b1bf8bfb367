//! The `/benchmark` modes as the seeds use them, end to end on projects made here: a Go service
//! (a package with benchmarks, a cmd/server with net/http/pprof), a criterion crate and a
//! pytest-benchmark project. Real toolchains, real servers on loopback, a real terminal
//! (a pseudo-terminal) for the interactive mode.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::{have, json, stderr, Lab};

macro_rules! need {
    ($cond:expr, $what:literal) => {
        if !$cond {
            common::skip($what, "it is not available here");
            return;
        }
    };
}

fn git(dir: &Path, args: &[&str]) {
    let out = Std::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .output()
        .expect("git runs");
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
}

fn write(root: &Path, path: &str, text: &str) {
    let p = root.join(path);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("dir");
    std::fs::write(p, text).expect("write");
}

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

const FACE: &str = r#"package service

import "strings"

// Search returns the names that contain q.
func Search(names []string, q string) []string {
	var out []string
	for _, n := range names {
		if strings.Contains(n, q) {
			out = append(out, n)
		}
	}
	return out
}
"#;

const FACE_TEST: &str = r#"package service

import (
	"fmt"
	"sync"
	"testing"
)

var names = func() []string {
	var n []string
	for i := 0; i < 2000; i++ {
		n = append(n, fmt.Sprintf("face-%d", i))
	}
	return n
}()

func BenchmarkFaceSearch(b *testing.B) {
	for i := 0; i < b.N; i++ {
		Search(names, "9")
	}
}

func BenchmarkFaceIndex(b *testing.B) {
	for i := 0; i < b.N; i++ {
		_ = fmt.Sprintf("face-%d", i)
	}
}

func BenchmarkFaceLock(b *testing.B) {
	var mu sync.Mutex
	total := 0
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			mu.Lock()
			total++
			mu.Unlock()
		}
	})
}
"#;

const SERVER: &str = r#"package main

import (
	"encoding/json"
	"flag"
	"net/http"
	_ "net/http/pprof"
	"time"

	"example.com/svc/internal/service"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	names := []string{"alice", "bob", "carol"}
	http.HandleFunc("/api/v1/faces/search", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(service.Search(names, r.URL.Query().Get("q")))
	})
	// Each request leaves a goroutine behind: a leak the checklist must see.
	http.HandleFunc("/leak", func(w http.ResponseWriter, r *http.Request) {
		go func() { time.Sleep(time.Hour) }()
		w.Write([]byte("ok"))
	})
	http.ListenAndServe(*addr, nil)
}
"#;

/// A Go service in a git repository on `main`, with `[load]` pointing at its server.
fn go_service(lab: &Lab) -> (PathBuf, u16) {
    let dir = lab.path("svc");
    std::fs::create_dir_all(&dir).expect("dir");
    let port = free_port();
    write(&dir, "go.mod", "module example.com/svc\n\ngo 1.18\n");
    write(&dir, "internal/service/face.go", FACE);
    write(&dir, "internal/service/face_test.go", FACE_TEST);
    write(&dir, "cmd/server/main.go", SERVER);
    write(
        &dir,
        "perflab.toml",
        &format!(
            "[load]\nbase_url = \"http://127.0.0.1:{port}\"\nserver = \"go run ./cmd/server -addr 127.0.0.1:{port}\"\n\n[[load.endpoint]]\npath = \"/api/v1/faces/search\"\nheaders = {{ \"X-Client\" = \"perflab-test\" }}\n"
        ),
    );
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "service"]);
    (dir, port)
}

fn go_env(c: &mut assert_cmd::Command, dir: &Path) {
    c.current_dir(dir)
        .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local");
}

fn names(run: &serde_json::Value) -> Vec<String> {
    run["benchmarks"]
        .as_array()
        .map(|b| {
            b.iter()
                .filter_map(|b| b["name"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn go_service_every_mode_in_the_projects_own_terms() {
    need!(have("go"), "go");
    let lab = Lab::new();
    let (dir, port) = go_service(&lab);
    let perflab = |args: &[&str]| {
        let mut c = lab.cmd();
        go_env(&mut c, &dir);
        c.args(args).output().expect("runs")
    };

    // bench NAME: only the matching benchmarks, in the package that has them.
    let out = perflab(&["bench", "FaceSearch", "--depth", "quick", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("./internal/service"),
        "{}",
        stderr(&out)
    );
    // The first run on main is the baseline of the next ones, and says so.
    assert!(
        stderr(&out).contains("the first run of main with these benchmarks"),
        "{}",
        stderr(&out)
    );
    let first = json(&out.stdout);
    let n = names(&first);
    assert!(n.iter().all(|n| n == "FaceSearch"), "{n:?}");
    // A second run is compared with the first (the latest run of main).
    let out = perflab(&["bench", "FaceSearch", "--depth", "quick"]);
    // One count each: shown, not gated (exit 0 whatever the noise).
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("shown, not gated"),
        "{}",
        stderr(&out)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        stderr(&out).contains("compared with main"),
        "{}",
        stderr(&out)
    );
    assert!(text.contains("gate:"), "{text}");
    // bench FILE: its package's benchmarks.
    let out = perflab(&[
        "bench",
        "internal/service/face.go",
        "--depth",
        "quick",
        "--json",
        "--baseline",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let n = names(&json(&out.stdout));
    assert!(
        n.contains(&"FaceIndex".to_string()) && n.contains(&"FaceLock".to_string()),
        "{n:?}"
    );
    // From inside a package, the project is found above it and perflab works from its root.
    let mut c = lab.cmd();
    go_env(&mut c, &dir.join("internal/service"));
    let out = c
        .args([
            "bench",
            "FaceIndex",
            "--depth",
            "quick",
            "--json",
            "--no-store",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("working in the project at"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&json(&out.stdout)), ["FaceIndex"]);
    // A name that matches nothing says what there is.
    let out = perflab(&["bench", "Nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("names no package or benchmark")
            && stderr(&out).contains("BenchmarkFaceSearch"),
        "{}",
        stderr(&out)
    );

    // scan: hot functions and allocation sites with source lines, from go test's own profiles.
    let out = perflab(&["scan", "--depth", "quick", "--json", "-o", "scan"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let scan = json(&out.stdout);
    let profile = &scan["profiles"][0];
    assert_eq!(profile["target"], "./internal/service", "{profile}");
    let sites = profile["alloc"]["sites"]
        .as_array()
        .expect("allocation sites");
    assert!(
        sites.iter().any(
            |s| s["function"] == "example.com/svc/internal/service.Search"
                && s["location"]
                    .as_str()
                    .is_some_and(|l| l.contains("face.go:"))
        ),
        "{sites:?}"
    );
    assert!(dir.join("scan/1-flamegraph.svg").exists());

    // profile PACKAGE: CPU, allocations, mutex contention and GC pauses.
    let out = perflab(&[
        "profile",
        "./internal/service",
        "--depth",
        "quick",
        "--json",
        "-o",
        "prof",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    let targets: Vec<String> = run["profiles"]
        .as_array()
        .expect("profiles")
        .iter()
        .filter_map(|p| p["target"].as_str().map(str::to_string))
        .collect();
    assert!(
        targets.iter().any(|t| t.ends_with("(mutex contention)")),
        "{targets:?}"
    );
    let n = names(&run);
    assert!(
        n.iter().any(|n| n.starts_with("gc/")),
        "GC pauses recorded: {n:?}"
    );
    assert!(
        n.contains(&"FaceSearch".to_string()),
        "the benchmarks' own figures: {n:?}"
    );

    // load /path: joined to [load] base_url, the server started from [load] server and stopped.
    let out = perflab(&[
        "load",
        "/api/v1/faces/search?q=a",
        "--vus",
        "100",
        "-d",
        "2s",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    assert_eq!(run["load"]["peak_vus"], 100);
    assert!(
        run["load"]["scenarios"]["all"]["requests"]
            .as_u64()
            .unwrap_or(0)
            > 0,
        "{run}"
    );
    assert!(
        stderr(&out).contains("starting `go run ./cmd/server"),
        "{}",
        stderr(&out)
    );
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the server was stopped"
    );

    // profile /path: net/http/pprof under load, goroutines and heap before and after.
    let out = perflab(&[
        "profile",
        "/api/v1/faces/search?q=a",
        "--depth",
        "quick",
        "--json",
        "-o",
        "live",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    assert!(
        names(&run).iter().any(|n| n.starts_with("server/")),
        "{run}"
    );
    assert!(dir.join("live/goroutine-flamegraph.svg").exists());

    // The checklist: every item decided from this commit's runs.
    let out = perflab(&["checklist", "--format", "json"]);
    let list = json(&out.stdout);
    let status = |list: &serde_json::Value, key: &str| -> String {
        list["items"]
            .as_array()
            .and_then(|i| i.iter().find(|i| i["key"] == key))
            .and_then(|i| i["status"].as_str())
            .unwrap_or("absent")
            .to_string()
    };
    assert_eq!(list["items"].as_array().map(Vec::len), Some(8), "{list}");
    assert_eq!(status(&list, "benchmark_exists"), "pass");
    assert_eq!(status(&list, "load_100"), "pass", "{list}");
    assert_eq!(status(&list, "goroutine_leak"), "pass", "{list}");
    assert_eq!(status(&list, "hot_paths"), "pass", "{list}");
    // Decided from the bench runs (pass or fail: one-count runs on a busy machine can differ).
    assert!(
        matches!(status(&list, "no_regression").as_str(), "pass" | "fail"),
        "{list}"
    );
    let evidence = list["items"][6]["evidence"].as_str().unwrap_or_default();
    assert!(evidence.contains("against main"), "{list}");
    assert_eq!(
        status(&list, "allocs"),
        "missing",
        "no allocs_per_op target: {list}"
    );
    // A leaking endpoint under load fails the goroutine item, and the checklist exits 1.
    let out = perflab(&[
        "profile",
        "/leak",
        "--depth",
        "quick",
        "--no-store",
        "--json",
        "-o",
        "leak",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let leak = json(&out.stdout);
    let server = leak["benchmarks"]
        .as_array()
        .and_then(|b| {
            b.iter()
                .find(|b| b["name"].as_str().is_some_and(|n| n.starts_with("server/")))
        })
        .expect("server figures")
        .clone();
    let value = |name: &str| {
        server["metrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == name))
            .and_then(|m| m["samples"][0].as_f64())
            .unwrap_or(0.0)
    };
    assert!(
        value("goroutines_after") > value("goroutines_before") + 100.0,
        "{server}"
    );
    let out = perflab(&["profile", "/leak", "--depth", "quick", "-o", "leak"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let out = perflab(&["checklist"]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("❌ No goroutine leak"), "{text}");

    // One report for the commit, joining every run.
    let out = perflab(&["report"]);
    let md = String::from_utf8_lossy(&out.stdout);
    for section in [
        "# Performance report",
        "## Summary",
        "## Hot Paths",
        "## Memory Hotspots",
        "## Comparison with the previous commit",
        "## Recommendations",
    ] {
        assert!(md.contains(section), "{section}: {md}");
    }
    assert!(
        md.contains("P99 latency") && md.contains("Allocations per op"),
        "{md}"
    );
    assert!(md.contains("service.Search"), "{md}");

    // compare alone: the working tree against the merge base of main.
    std::fs::write(
        dir.join("internal/service/face.go"),
        FACE.replace(
            "strings.Contains(n, q)",
            "strings.Contains(n, q) && len(n) > 0",
        ),
    )
    .expect("edit");
    let out = perflab(&["compare", "--rounds", "2", "--no-store"]);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    assert!(stderr(&out).contains("main...WORKTREE"), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("FaceSearch"));
}

/// `perflab` alone at a terminal asks, runs, and says the equivalent command; elsewhere it is
/// the help and exit 2.
#[test]
fn interactive_mode_through_a_terminal() {
    need!(have("go"), "go");
    need!(have("python3"), "python3");
    let lab = Lab::new();
    let (dir, _) = go_service(&lab);
    let steps = r#"[["Which operation?", "bench\r"], ["Which scope?", "\r"], ["Which benchmark?", "FaceSearch\r"], ["How deep?", "quick\r"]]"#;
    let out = Std::new("python3")
        .arg(common::data("pty_drive.py"))
        .arg(steps)
        .arg(assert_cmd::cargo::cargo_bin("perflab"))
        .current_dir(&dir)
        .env("PERFLAB_STORE", lab.path("history.db"))
        .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .expect("python3 runs");
    let seen = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{seen}{}", stderr(&out));
    assert!(
        seen.contains("running `perflab bench FaceSearch --depth quick`"),
        "{seen}"
    );
    assert!(seen.contains("allocs_per_op"), "the benchmark ran: {seen}");
    // Not a terminal: the help, exit 2.
    let mut c = lab.cmd();
    go_env(&mut c, &dir);
    let out = c.output().expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("Usage:") && stderr(&out).contains("no command given"),
        "{}",
        stderr(&out)
    );
}

/// The criterion fixture crate, built once into a target directory the profile tests share.
fn criterion_crate(lab: &Lab) -> PathBuf {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/profile/alloc-bench");
    let dir = lab.path("crate");
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs", "benches/parse.rs"] {
        let text = std::fs::read_to_string(src.join(file)).expect("fixture");
        write(&dir, file, &text);
    }
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "crate"]);
    dir
}

pub(crate) fn shared_cargo_target() -> PathBuf {
    std::env::temp_dir().join("perflab-test-criterion-target")
}

#[test]
fn criterion_crate_bench_scan_and_checklist() {
    let lab = Lab::new();
    let dir = criterion_crate(&lab);
    let perflab = |args: &[&str]| {
        lab.cmd()
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", shared_cargo_target())
            .env("CARGO_BUILD_JOBS", "1")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = perflab(&["bench", "five", "--depth", "quick", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // Only the bench targets get criterion's flags (the library's libtest harness refuses them).
    assert!(
        stderr(&out).contains("cargo bench --bench '*' -- five --warm-up-time"),
        "{}",
        stderr(&out)
    );
    assert_eq!(names(&json(&out.stdout)), ["five_allocs"]);
    let out = perflab(&[
        "bench",
        "alloc-bench",
        "--depth",
        "quick",
        "--json",
        "--baseline",
        "none",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut n = names(&json(&out.stdout));
    n.sort();
    assert_eq!(n, ["five_allocs", "no_allocs"]);
    let out = perflab(&["checklist", "--format", "json"]);
    let list = json(&out.stdout);
    let goroutines = list["items"]
        .as_array()
        .and_then(|i| i.iter().find(|i| i["key"] == "goroutine_leak"))
        .expect("item")
        .clone();
    assert_eq!(goroutines["status"], "not_applicable", "{goroutines}");
}

#[test]
fn criterion_crate_scan_profiles_the_built_benchmarks() {
    let perf = tempfile::tempdir()
        .ok()
        .and_then(|d| {
            Std::new("perf")
                .args(["record", "-q", "-e", "cpu-clock", "-o"])
                .arg(d.path().join("p.data"))
                .args(["--", "true"])
                .output()
                .ok()
        })
        .is_some_and(|o| o.status.success());
    need!(perf, "perf");
    let lab = Lab::new();
    let dir = criterion_crate(&lab);
    let out = lab
        .cmd()
        .current_dir(&dir)
        .env("CARGO_TARGET_DIR", shared_cargo_target())
        .env("CARGO_BUILD_JOBS", "1")
        .args(["scan", "five", "--depth", "quick", "--json", "--no-store"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let run = json(&out.stdout);
    let top: Vec<String> = run["profiles"][0]["top"]
        .as_array()
        .expect("top")
        .iter()
        .filter_map(|f| f["function"].as_str().map(str::to_string))
        .collect();
    // The benchmark's own code is in the profile, not rustc's (the build ran first, unprofiled).
    assert!(!top.iter().any(|f| f.contains("rustc_")), "{top:?}");
    assert!(
        top.iter()
            .any(|f| f.contains("five_vecs") || f.contains("criterion") || f.contains("alloc")),
        "{top:?}"
    );
}

const MICRO: &str = "def build(n):\n    out = []\n    for i in range(n):\n        out.append(i * i)\n    return out\n\n\ndef test_build_small(benchmark):\n    benchmark(build, 100)\n\n\ndef test_build_large(benchmark):\n    benchmark(build, 10000)\n";

#[test]
fn pytest_project_with_benchmarks_outside_test_files_and_the_plugin_disabled() {
    let has_plugin = Std::new("python3")
        .args(["-c", "import pytest_benchmark"])
        .output()
        .is_ok_and(|o| o.status.success());
    need!(has_plugin, "pytest-benchmark");
    let lab = Lab::new();
    let dir = lab.path("py");
    // As jab/bidict has it: the plugin off and xdist on in addopts, benchmarks in a file
    // outside pytest's file pattern.
    write(
        &dir,
        "pyproject.toml",
        "[project]\nname = \"demo\"\n[project.optional-dependencies]\ntest = [\"pytest-benchmark\"]\n\n[tool.pytest.ini_options]\naddopts = \"-p no:benchmark\"\npython_files = [\"test_*.py\"]\n",
    );
    write(&dir, "microbenchmarks.py", MICRO);
    write(
        &dir,
        "tests/test_plain.py",
        "def test_ok():\n    assert True\n",
    );
    git(&dir, &["init", "-q", "-b", "main"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-qm", "py"]);
    // The default history, `.perflab/` in the project, so that its .gitignore is tested.
    let perflab = |args: &[&str]| {
        lab.cmd()
            .current_dir(&dir)
            .env_remove("PERFLAB_STORE")
            .args(args)
            .output()
            .expect("runs")
    };
    let out = perflab(&["init"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("checked: 2 passed"),
        "{}",
        stderr(&out)
    );
    let toml = std::fs::read_to_string(dir.join("perflab.toml")).expect("written");
    assert!(
        toml.contains("command = \"python3 -m pytest -o 'addopts=' -p no:xdist"),
        "{toml}"
    );
    assert!(toml.contains("microbenchmarks.py"), "{toml}");
    // The command it wrote runs the benchmarks.
    let out = perflab(&["bench", "--json", "--no-store"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let mut n = names(&json(&out.stdout));
    n.sort();
    assert_eq!(n, ["test_build_large", "test_build_small"]);
    // bench NAME is pytest's -k.
    std::fs::remove_file(dir.join("perflab.toml")).expect("rm");
    let out = perflab(&["bench", "small", "--depth", "quick", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(names(&json(&out.stdout)), ["test_build_small"]);
    // .perflab keeps itself out of git.
    let status = Std::new("git")
        .current_dir(&dir)
        .args(["status", "--porcelain"])
        .output()
        .expect("git");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(dir.join(".perflab/history.db").exists());
    assert!(!status.contains(".perflab"), "{status}");
    // A setup that does not run is not written as if it did.
    write(
        &dir,
        "microbenchmarks.py",
        &format!("import no_such_module_here\n{MICRO}"),
    );
    let out = perflab(&["init", "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("did not run here"),
        "{}",
        stderr(&out)
    );
    let toml = std::fs::read_to_string(dir.join("perflab.toml")).expect("written");
    assert!(
        toml.contains("# [bench]") && !toml.contains("\n[bench]"),
        "{toml}"
    );
}

#[test]
fn criterion_through_a_shell_gives_the_rows_of_a_direct_run() {
    let lab = Lab::new();
    let dir = criterion_crate(&lab);
    let bench = |command: &[&str]| {
        let out = lab
            .cmd()
            .current_dir(&dir)
            .env("CARGO_TARGET_DIR", shared_cargo_target())
            // Criterion's results of this test alone: the build is shared with other tests.
            .env("CRITERION_HOME", lab.path("criterion-home"))
            .env("CARGO_BUILD_JOBS", "1")
            .args(["bench", "--json", "--no-store", "--"])
            .args(command)
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{command:?}: {}", stderr(&out));
        let doc = json(&out.stdout);
        let rows: Vec<(String, usize)> = doc["benchmarks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["name"].as_str().unwrap().to_string(),
                    b["metrics"][0]["samples"].as_array().map_or(0, Vec::len),
                )
            })
            .collect();
        rows
    };
    let flags = "--warm-up-time 0.1 --measurement-time 0.3 --sample-size 10 five";
    let words: Vec<&str> = ["cargo", "bench", "--bench", "parse", "--"]
        .into_iter()
        .chain(flags.split(' '))
        .collect();
    let direct = bench(&words);
    let shell = bench(&["sh", "-c", &format!("cargo bench --bench parse -- {flags}")]);
    assert_eq!(
        direct,
        vec![("five_allocs".to_string(), 10)],
        "criterion's raw samples"
    );
    assert_eq!(shell, direct, "the same rows through sh -c");
}
