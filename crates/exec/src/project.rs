//! `perflab init`: what kind of project this is (Go benchmarks, criterion or `[[bench]]` in
//! Cargo, pytest-benchmark, a package.json benchmark script), and the commented `perflab.toml`
//! and GitHub workflow that set it up. Detection reads files only; nothing is run.

use std::path::Path;

use crate::assistant::Ecosystem as _;

/// A benchmark setup found in the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Detected {
    /// `Go`, `Rust (criterion)`, …
    pub kind: &'static str,
    /// What was seen (`go.mod and 3 files with func Benchmark`).
    pub evidence: String,
    /// The `[bench] command`.
    pub bench: String,
    /// The `[build] command`, when the project needs one.
    pub build: Option<String>,
    /// A quick run that shows the bench command works here (each benchmark once, or a build),
    /// and what its output must contain to count as having run benchmarks.
    pub verify: Option<(String, &'static str)>,
}

/// Files under `root` (depth-limited, skipping VCS, vendored and build directories).
fn files(root: &Path, depth: usize, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        let Ok(kind) = e.file_type() else { continue };
        if kind.is_dir() {
            let skip = name.starts_with('.')
                || matches!(
                    name.as_str(),
                    "vendor" | "node_modules" | "target" | "venv" | "__pycache__"
                );
            if !skip && depth > 0 && out.len() < 20_000 {
                files(&path, depth - 1, out);
            }
        } else if kind.is_file() {
            out.push(path);
        }
    }
}

fn read(path: &Path) -> String {
    // Bounded: manifests and test files are small; anything huge is not one.
    match std::fs::metadata(path) {
        Ok(m) if m.len() <= 4 << 20 => std::fs::read_to_string(path).unwrap_or_default(),
        _ => String::new(),
    }
}

/// Every benchmark setup found at `root`, the most specific first.
pub fn detect(root: &Path) -> Vec<Detected> {
    let mut all = Vec::new();
    files(root, 6, &mut all);
    [detect_go, detect_cargo, detect_pytest, detect_npm]
        .iter()
        .filter_map(|d| d(root, &all))
        .collect()
}

/// go.mod and `func Benchmark` in a _test.go file.
fn detect_go(root: &Path, all: &[std::path::PathBuf]) -> Option<Detected> {
    let named = |suffix: &'static str| {
        all.iter()
            .filter(move |p| p.to_string_lossy().ends_with(suffix))
    };
    if root.join("go.mod").is_file() {
        let with = named("_test.go")
            .filter(|p| read(p).contains("func Benchmark"))
            .count();
        if with > 0 {
            return Some(Detected {
                kind: "Go",
                evidence: format!("go.mod and {with} _test.go file(s) with func Benchmark"),
                bench: "go test -run '^$' -bench . -benchmem -count 5 ./...".into(),
                build: Some("go test -run '^$' -bench '^$' ./...".into()),
                verify: Some((
                    "go test -run '^$' -bench . -benchtime 1x ./...".into(),
                    "ns/op",
                )),
            });
        }
    }
    None
}

/// Cargo.toml with criterion, `[[bench]]` or benches/.
fn detect_cargo(root: &Path, all: &[std::path::PathBuf]) -> Option<Detected> {
    let named = |suffix: &'static str| {
        all.iter()
            .filter(move |p| p.to_string_lossy().ends_with(suffix))
    };
    let cargo = read(&root.join("Cargo.toml"));
    if !cargo.is_empty() {
        let criterion = named("Cargo.toml").any(|p| read(p).contains("criterion"));
        let bench_section = named("Cargo.toml").any(|p| read(p).contains("[[bench]]"))
            || root.join("benches").is_dir();
        if criterion || bench_section {
            return Some(Detected {
                kind: if criterion {
                    "Rust (criterion)"
                } else {
                    "Rust (cargo bench)"
                },
                evidence: if criterion {
                    "Cargo.toml with criterion".into()
                } else {
                    "Cargo.toml with [[bench]] or benches/".into()
                },
                bench: "cargo bench".into(),
                build: Some("cargo bench --no-run".into()),
                verify: Some(("cargo bench --no-run".into(), "")),
            });
        }
    }
    None
}

/// pytest-benchmark declared, or test files calling the fixture.
fn detect_pytest(root: &Path, all: &[std::path::PathBuf]) -> Option<Detected> {
    let named = |suffix: &'static str| {
        all.iter()
            .filter(move |p| p.to_string_lossy().ends_with(suffix))
    };
    let python_manifests = [
        "pyproject.toml",
        "setup.cfg",
        "requirements.txt",
        "requirements-dev.txt",
    ];
    let declared = python_manifests
        .iter()
        .any(|m| read(&root.join(m)).contains("pytest-benchmark"));
    let uses = named(".py")
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("test"))
        })
        .any(|p| read(p).contains("benchmark("));
    if declared || uses {
        return Some(Detected {
            kind: "Python (pytest-benchmark)",
            evidence: if declared {
                "pytest-benchmark in the project's requirements".into()
            } else {
                "tests calling the benchmark fixture".into()
            },
            // Its benchmark files named (they may be outside pytest's file patterns) and the
            // project's addopts overridden: `-p no:benchmark` or xdist's `-n auto` there would
            // switch pytest-benchmark off.
            bench: crate::join_words(&crate::assistant::Pytest.bench(
                root,
                &crate::assistant::Scope::Project,
                crate::assistant::Depth::Standard,
            )),
            build: None,
            verify: Some((
                {
                    let mut v = crate::assistant::Pytest.bench(
                        root,
                        &crate::assistant::Scope::Project,
                        crate::assistant::Depth::Standard,
                    );
                    // Each benchmark for a moment (--benchmark-disable cannot go with
                    // --benchmark-only).
                    v.extend(
                        [
                            "--benchmark-max-time",
                            "0.01",
                            "--benchmark-min-rounds",
                            "1",
                        ]
                        .map(String::from),
                    );
                    crate::join_words(&v)
                },
                " passed",
            )),
        });
    }
    None
}

/// A package.json benchmark script.
fn detect_npm(root: &Path, _: &[std::path::PathBuf]) -> Option<Detected> {
    let package = read(&root.join("package.json"));
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(&package) {
        let scripts = json.get("scripts").and_then(|s| s.as_object());
        if let Some(name) = ["bench", "benchmark", "benchmarks"]
            .into_iter()
            .find(|n| scripts.is_some_and(|s| s.contains_key(*n)))
        {
            return Some(Detected {
                kind: "JavaScript (npm script)",
                evidence: format!("package.json script {name:?}"),
                bench: format!("npm run --silent {name}"),
                build: Some("npm ci".into()),
                verify: None,
            });
        }
    }
    None
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| format!("{s:?}"))
}

/// [`perflab_toml`], with what the quick run of the first setup showed: `Err(why)` writes its
/// bench command commented out, with the reason, so that nothing unchecked is set.
pub fn perflab_toml_checked(
    found: &[Detected],
    checked: Option<&Result<String, String>>,
) -> String {
    let text = perflab_toml(found);
    let (Some(Err(why)), Some(d)) = (checked, found.first()) else {
        return text;
    };
    let set = format!("[bench]\ncommand = {}\n", toml_string(&d.bench));
    let commented = format!(
        "# It did not run here, so it is left unset: {}\n# [bench]\n# command = {}\n",
        why.replace('\n', " "),
        toml_string(&d.bench)
    );
    text.replacen(&set, &commented, 1)
}

/// A commented `perflab.toml` for what was detected (or a template when nothing was).
pub fn perflab_toml(found: &[Detected]) -> String {
    let mut out =
        String::from("# perflab.toml, written by `perflab init`. Every key: docs/config.md.\n");
    match found.first() {
        Some(d) => {
            out.push_str(&format!("# Found: {} ({}).\n", d.kind, d.evidence));
            for other in &found[1..] {
                out.push_str(&format!(
                    "# Also found: {} ({}): [bench] command = {}\n",
                    other.kind,
                    other.evidence,
                    toml_string(&other.bench)
                ));
            }
            out.push_str(&format!(
                "\n# What `perflab bench` runs with no command, and `perflab compare A..B` in each revision.\n[bench]\ncommand = {}\n",
                toml_string(&d.bench)
            ));
            if let Some(b) = &d.build {
                out.push_str(&format!(
                    "\n# Run in each revision's checkout by `perflab compare A..B` before measuring\n# (once per commit: a second compare of the same commits reuses the build).\n[build]\ncommand = {}\n",
                    toml_string(b)
                ));
            }
        }
        None => out.push_str(
            "# No benchmarks were found: say what runs them.\n\n[bench]\ncommand = \"./run-benchmarks.sh\"\n",
        ),
    }
    out.push_str(TARGETS);
    out
}

const TARGETS: &str = r#"
[compare]
# The gate fails a row that is worse by more than this and significant (docs/statistics.md).
max_change = "10%"
alpha = 0.05
# `compare A..B` chooses its rounds so that it ends within this (docs/ci.md).
budget = "10m"

# Targets for `perflab check` and `perflab report`: the median must meet `target`; missing it
# within `critical` is a warning, beyond it a failure. Uncomment and name your benchmarks.
# Latency from `perflab load` (p50, p99 in the run's units):
# [[target]]
# benchmark = "GET /search"
# metric = "p50"
# target = "< 2ms"
# critical = "< 5ms"
#
# [[target]]
# benchmark = "GET /search"
# metric = "p99"
# target = "< 5ms"
# critical = "< 10ms"
#
# Throughput:
# [[target]]
# benchmark = "GET /search"
# metric = "rps"
# target = "> 10000/s"
# critical = "> 5000/s"
#
# Memory and allocations per operation (Go's -benchmem). `benchmark` is a glob over the names
# perflab shows: Go's BenchmarkSum64 is `Sum64`, so `Sum64*` (never `Benchmark*`).
# [[target]]
# benchmark = "*"
# metric = "bytes_per_op"
# target = "< 1KB"
# critical = "< 4KB"
#
# [[target]]
# benchmark = "*"
# metric = "allocs_per_op"
# target = "< 10"
# critical = "< 20"
"#;

/// The steps that install a project's toolchain and dependencies on a GitHub runner, by the
/// kind [`detect`] found (`None`: nothing beyond the runner's own tools).
fn toolchain_steps(kind: Option<&str>) -> &'static str {
    match kind {
        Some(k) if k.starts_with("Go") => {
            "      - uses: actions/setup-go@v6\n        with:\n          go-version-file: go.mod\n"
        }
        Some(k) if k.starts_with("Python") => {
            "      - uses: actions/setup-python@v6\n        with:\n          python-version: \"3.12\"\n      - name: Dependencies\n        run: |\n          python -m pip install pytest pytest-benchmark\n          if [ -f pyproject.toml ] || [ -f setup.py ]; then python -m pip install -e .; fi\n          if [ -f requirements.txt ]; then python -m pip install -r requirements.txt; fi\n"
        }
        Some(k) if k.starts_with("Rust") => {
            "      - uses: dtolnay/rust-toolchain@stable\n"
        }
        Some(k) if k.starts_with("npm") || k.starts_with("Node") => {
            "      - uses: actions/setup-node@v5\n        with:\n          node-version: 22\n      - run: npm ci\n"
        }
        _ => "",
    }
}

/// `.github/workflows/perflab.yml` through perflab's composite action (`action` is
/// `OWNER/REPO@REF`): on every pull request, compare it with its merge base and comment; on every
/// push to `main`, record the benchmarks (to `PERFLAB_SERVER` when the repository sets it,
/// else as an artifact and on the `perflab-data` branch), so trends and alerts have a history.
pub fn github_workflow(action: &str, kind: Option<&str>) -> String {
    let toolchain = toolchain_steps(kind);
    format!(
        r#"# Written by `perflab init --ci github` (docs/ci.md).
# Pull requests: build the PR and its merge base, run the benchmarks of perflab.toml in both,
# alternately, comment the comparison on the PR (one comment, updated on each push) and fail
# when the gate finds a regression. Pushes to main: record the benchmarks, for trends and alerts.
name: perflab
on:
  pull_request:
  push:
    branches: [main]
concurrency:
  group: perflab-${{{{ github.ref }}}}
  cancel-in-progress: true
jobs:
  compare:
    if: github.event_name == 'pull_request'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@v5
        with:
          fetch-depth: 0 # the merge base must be in the clone
{toolchain}      # The repository that holds perflab's action.yml.
      - uses: {action}
        with:
          rounds: "5"
  record:
    if: github.event_name == 'push'
    runs-on: ubuntu-latest
    timeout-minutes: 60
    permissions:
      contents: write # the perflab-data branch
    steps:
      - uses: actions/checkout@v5
{toolchain}      - uses: {action}
        with:
          mode: record
          history-branch: perflab-data
        env:
          PERFLAB_SERVER: ${{{{ vars.PERFLAB_SERVER }}}}
          PERFLAB_TOKEN: ${{{{ secrets.PERFLAB_TOKEN }}}}
"#
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_cargo_python_and_npm_projects_are_recognised() {
        let dir = tempfile_dir();
        let root = dir.as_path();
        std::fs::write(root.join("go.mod"), "module x\n").unwrap();
        std::fs::create_dir_all(root.join("pkg")).unwrap();
        std::fs::write(
            root.join("pkg/a_test.go"),
            "func BenchmarkA(b *testing.B) {}\n",
        )
        .unwrap();
        std::fs::write(
            root.join("package.json"),
            r#"{"scripts":{"bench":"node b.js"}}"#,
        )
        .unwrap();
        let found = detect(root);
        assert_eq!(found[0].kind, "Go");
        assert!(found[0].evidence.contains("1 _test.go"), "{:?}", found[0]);
        assert_eq!(found[1].bench, "npm run --silent bench");
        std::fs::remove_file(root.join("go.mod")).unwrap();
        std::fs::write(
            root.join("Cargo.toml"),
            "[dev-dependencies]\ncriterion = \"0.5\"\n",
        )
        .unwrap();
        assert_eq!(detect(root)[0].kind, "Rust (criterion)");
        std::fs::write(root.join("requirements.txt"), "pytest-benchmark\n").unwrap();
        assert!(detect(root).iter().any(|d| d.kind.starts_with("Python")));
        let _ = std::fs::remove_dir_all(root);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let p = std::env::temp_dir().join(format!("perflab-init-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        p
    }
}
