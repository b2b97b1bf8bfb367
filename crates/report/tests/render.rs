//! Every renderer on a fixed model, compared with reviewed golden files in `tests/golden/`.
//! A missing golden file fails; write it with `PERFLAB_BLESS=1` and review the diff.

use std::path::{Path, PathBuf};

use perflab_analysis::{check, compare, CompareOptions, Level, Target};
use perflab_model::{GitInfo, HostInfo, Run, RunKind};
use perflab_report::{
    compare_csv, compare_json, compare_markdown, compare_text, report_json, report_markdown,
    run_text, Document, Format, ReportInput,
};

fn golden(name: &str, actual: &str) {
    let path: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    if std::env::var_os("PERFLAB_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden file {} (PERFLAB_BLESS=1, then review)",
            path.display()
        )
    });
    assert_eq!(actual, want, "{name} differs from its golden file");
}

fn fixture(text: &str, id: &str) -> Run {
    let parsed = perflab_ingest::parse_text(text, None, "fixture").unwrap();
    let mut run = Run::new(RunKind::Import);
    run.id = id.into();
    run.started_at = "2024-01-15T09:30:00.000Z".into();
    run.finished_at = run.started_at.clone();
    run.git = Some(GitInfo {
        commit: "abc1234def5678".into(),
        branch: Some("main".into()),
        dirty: false,
    });
    run.host = Some(HostInfo {
        hostname: "ci".into(),
        os: "linux".into(),
        arch: "x86_64".into(),
        cpu: None,
        cores: 2,
        memory_bytes: None,
    });
    run.benchmarks = parsed.benchmarks;
    run
}

const BASE: &str = "pkg: example.com/svc
BenchmarkSearch/size=10-8 1000 1000 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=10-8 1000 1010 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=10-8 1000 990 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=10-8 1000 1005 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=10-8 1000 995 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=10-8 1000 1002 ns/op 64 B/op 2 allocs/op
BenchmarkSearch/size=1000-8 100 50000 ns/op 4096 B/op 3 allocs/op
BenchmarkSearch/size=1000-8 100 50500 ns/op 4096 B/op 3 allocs/op
BenchmarkSearch/size=1000-8 100 49500 ns/op 4096 B/op 3 allocs/op
BenchmarkSearch/size=1000-8 100 50200 ns/op 4096 B/op 3 allocs/op
BenchmarkSearch/size=1000-8 100 49800 ns/op 4096 B/op 3 allocs/op
BenchmarkSearch/size=1000-8 100 50100 ns/op 4096 B/op 3 allocs/op
BenchmarkOnce-8 1 7000 ns/op
";

fn current() -> String {
    BASE.replace("50000 ns", "75000 ns")
        .replace("50500 ns", "75500 ns")
        .replace("49500 ns", "74500 ns")
        .replace("50200 ns", "75200 ns")
        .replace("49800 ns", "74800 ns")
        .replace("50100 ns", "75100 ns")
        .replace("4096 B/op 3", "2048 B/op 3")
        .replace("1 7000 ns/op", "1 9000 ns/op")
}

fn comparison() -> perflab_analysis::Comparison {
    let base = fixture(BASE, "run-base");
    let cur = fixture(&current(), "run-current");
    let opts = CompareOptions {
        base_label: "main".into(),
        current_label: "pr".into(),
        ..CompareOptions::default()
    };
    compare(&base.benchmarks, &cur.benchmarks, &opts).unwrap()
}

#[test]
fn compare_renderings() {
    let c = comparison();
    golden("compare.txt", &compare_text(&c));
    golden("compare.md", &compare_markdown(&c));
    golden("compare.csv", &compare_csv(&c));
    golden("compare.json", &compare_json(&c));
    let page = perflab_report::render(Format::Html, &Document::Comparison(&c)).unwrap();
    // Self-contained: no script, nothing fetched.
    assert!(!page.contains("<script") && !page.contains("src=\"http"));
    golden("compare.html", &page);
}

#[test]
fn run_rendering() {
    golden("run.txt", &run_text(&fixture(BASE, "run-base")));
}

#[test]
fn report_renderings() {
    let cur = fixture(&current(), "run-current");
    let targets = vec![
        Target {
            benchmark: "Search*".into(),
            metric: "time".into(),
            target: Level::parse("< 60us").unwrap(),
            critical: Some(Level::parse("< 100us").unwrap()),
        },
        Target {
            benchmark: "*".into(),
            metric: "allocs_per_op".into(),
            target: Level::parse("< 10").unwrap(),
            critical: None,
        },
    ];
    let (results, unmatched) = check(&cur.benchmarks, &targets);
    assert!(unmatched.is_empty());
    let input = ReportInput {
        run: &cur,
        targets: results,
        comparison: Some(("baseline main".into(), comparison())),
        history: vec![],
    };
    golden("report.md", &report_markdown(&input));
    golden("report.json", &report_json(&input));
    golden(
        "report.html",
        &perflab_report::render(Format::Html, &Document::Report(&input)).unwrap(),
    );
    let empty = ReportInput {
        run: &cur,
        targets: vec![],
        comparison: None,
        history: vec![],
    };
    golden("report-no-targets.md", &report_markdown(&empty));
}

fn input(name: &str) -> Run {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(name);
    Run::from_json(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Every document × format the seam offers has a golden file, and every other pair is an error
/// that lists what exists.
#[test]
fn every_document_in_every_format_through_the_render_seam() {
    use perflab_report::render;
    let base = fixture(BASE, "run-base");
    let c = comparison();
    let (results, _) = check(
        &base.benchmarks,
        &[Target::parse("Search*", "time", "< 60us", Some("< 100us")).unwrap()],
    );
    let load = input("load-input.json");
    let timing = input("timing-input.json");
    let notes = vec![
        vec![],
        vec!["the first run was much slower (30ms) than the rest".into()],
    ];
    let profile = input("profile-input.json");
    let mut scan = profile.clone();
    let mut all = profile.profiles[0].clone();
    all.target = "all".into();
    scan.profiles.push(all);
    let log = vec![perflab_model::RunSummary {
        id: "0192ab".into(),
        kind: "bench".into(),
        started_at: "2024-01-15T09:30:00.000Z".into(),
        started_unix_ms: 1_705_311_000_000,
        commit: Some("abc1234def5678".into()),
        branch: Some("main|<b>".into()),
        dirty: true,
        interrupted: false,
        benchmarks: 3,
        command: "go test -bench .".into(),
        baselines: vec!["main".into()],
    }];
    let runs = vec![base.clone(), load.clone(), profile.clone()];
    let checklist = perflab_analysis::checklist::evaluate(&perflab_analysis::checklist::Evidence {
        commit: Some("abc1234def5678".into()),
        runs: &runs,
        language: Some("Go"),
        benchmarks_in_sources: 2,
        targets: &[],
        comparison: Some((&c, "main (0192ab)".into())),
    });
    let commit_targets = vec![
        Target::parse("*", "p99", "< 5ms", Some("< 10ms")).unwrap(),
        Target::parse("*", "allocs_per_op", "< 10", None).unwrap(),
    ];
    let commit = perflab_analysis::commit::build(
        "abc1234def5678",
        &runs,
        &commit_targets,
        Some(("main at 0192ab".into(), &c)),
    );
    let docs: Vec<(&str, Document<'_>)> = vec![
        ("run", Document::Run(&base)),
        ("comparison", Document::Comparison(&c)),
        ("check", Document::Check("run-base", &results)),
        ("load", Document::Load(&load)),
        ("timing", Document::Timing(&timing, &notes)),
        ("scan", Document::Scan(&scan)),
        ("profile", Document::Profile(&profile.profiles[0])),
        ("log", Document::Log(&log)),
        ("checklist", Document::Checklist(&checklist)),
        ("commit", Document::Commit(&commit)),
    ];
    let all_formats = [
        (Format::Text, "txt"),
        (Format::Markdown, "md"),
        (Format::Json, "json"),
        (Format::Csv, "csv"),
        (Format::Gotest, "gotest.txt"),
        (Format::Prometheus, "prom"),
        (Format::Html, "html"),
    ];
    let mut rendered = 0;
    for (name, doc) in &docs {
        for (format, ext) in all_formats {
            match render(format, doc) {
                Ok(text) => {
                    assert!(doc.formats().contains(&format), "{name} {format:?}");
                    golden(&format!("seam/{name}.{ext}"), &text);
                    rendered += 1;
                }
                Err(e) => {
                    assert!(!doc.formats().contains(&format), "{name} {format:?}: {e}");
                    assert!(e.to_string().contains("(it has: "), "{e}");
                }
            }
        }
    }
    assert_eq!(rendered, 28);
}
