//! Every fixture in `tests/data/<format>/` is real output of the tool (see `tests/data/README.md`)
//! and must parse. Each has a golden `.expected` file beside it listing every benchmark, metric
//! and sample. A missing golden file fails the test: write it with `PERFLAB_BLESS=1 cargo test
//! -p perflab-ingest --test fixtures` and review the diff before committing it.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use perflab_ingest::{detect, parse_path, Format, Parsed};

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data")
}

fn render(p: &Parsed) -> String {
    let mut out = String::new();
    for b in &p.benchmarks {
        writeln!(out, "{}", b.key()).unwrap();
        for m in &b.metrics {
            let samples: Vec<String> = m.samples.iter().map(|s| format!("{s:e}")).collect();
            writeln!(
                out,
                "  {} [{} {}] n={}: {}",
                m.name,
                m.unit,
                m.better.as_str(),
                m.samples.len(),
                samples.join(" ")
            )
            .unwrap();
        }
    }
    out
}

fn check_golden(input: &Path, actual: &str) {
    let golden = PathBuf::from(format!("{}.expected", input.display()));
    if std::env::var_os("PERFLAB_BLESS").is_some() {
        std::fs::write(&golden, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&golden).unwrap_or_else(|_| {
        panic!(
            "missing golden file {} (create it with PERFLAB_BLESS=1 and review it)",
            golden.display()
        )
    });
    assert_eq!(
        actual,
        want,
        "{} differs from its golden file",
        input.display()
    );
}

fn run_dir(dir: &str, format: Format) -> usize {
    let mut n = 0;
    let mut entries: Vec<PathBuf> = std::fs::read_dir(data().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_none_or(|e| e != "expected"))
        .collect();
    entries.sort();
    for path in entries {
        let parsed = parse_path(&path, Some(format))
            .unwrap_or_else(|e| panic!("{} must parse: {e}", path.display()));
        if format != Format::CriterionDir {
            let text = std::fs::read_to_string(&path).unwrap();
            assert_eq!(detect(&text), Some(format), "{} detected", path.display());
            let detected = parse_path(&path, None).unwrap();
            assert_eq!(detected.benchmarks, parsed.benchmarks);
        }
        for b in &parsed.benchmarks {
            for m in &b.metrics {
                assert!(
                    !m.samples.is_empty(),
                    "{}: {} empty",
                    path.display(),
                    b.key()
                );
                assert!(m.samples.iter().all(|s| s.is_finite()));
            }
        }
        check_golden(&path, &render(&parsed));
        n += 1;
    }
    n
}

#[test]
fn gotest_fixtures() {
    assert!(run_dir("gotest", Format::GoTest) >= 30);
}

#[test]
fn gungraun_fixtures() {
    assert_eq!(run_dir("gungraun", Format::Gungraun), 9);
}

#[test]
fn libtest_fixtures() {
    assert!(run_dir("libtest", Format::Libtest) >= 10);
}

#[test]
fn criterion_text_fixtures() {
    assert!(run_dir("criterion", Format::CriterionText) >= 5);
}

#[test]
fn criterion_dir_fixtures() {
    assert_eq!(run_dir("criterion-dir", Format::CriterionDir), 2);
}

#[test]
fn gbench_fixtures() {
    assert!(run_dir("gbench", Format::GoogleBenchmark) >= 10);
}

#[test]
fn pytest_benchmark_fixtures() {
    assert!(run_dir("pytest-benchmark", Format::PytestBenchmark) >= 5);
}

#[test]
fn hyperfine_fixtures() {
    assert!(run_dir("hyperfine", Format::Hyperfine) >= 5);
}

#[test]
fn bmf_fixtures() {
    assert_eq!(run_dir("bmf", Format::Bmf), 3);
}
