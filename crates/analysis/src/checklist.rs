//! The seeds' checklist before merging performance-critical code, each item decided from the
//! runs recorded for one commit: ✅ with its evidence, ❌ with what failed, ⚠ when there is no
//! evidence yet, with the command that produces it. Nothing is guessed: an item without
//! evidence is never a pass.

use perflab_model::{Benchmark, Run, RunKind, Unit};
use serde::Serialize;

use crate::check::Target;
use crate::Comparison;

/// An item's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemStatus {
    /// The evidence says yes.
    Pass,
    /// The evidence says no.
    Fail,
    /// No evidence for this commit yet.
    Missing,
    /// Does not apply to this project (goroutines outside Go).
    NotApplicable,
}

impl ItemStatus {
    /// ✅ ❌ ⚠️ ➖.
    pub fn emoji(self) -> &'static str {
        match self {
            ItemStatus::Pass => "✅",
            ItemStatus::Fail => "❌",
            ItemStatus::Missing => "⚠️",
            ItemStatus::NotApplicable => "➖",
        }
    }
}

/// One item.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Item {
    /// Short stable key (`benchmark_exists`, `p99`, …).
    pub key: &'static str,
    /// The item as the checklist says it.
    pub title: String,
    /// Its outcome.
    pub status: ItemStatus,
    /// What it rests on (or what is missing).
    pub evidence: String,
    /// The command that produces the evidence (or the next step), when there is one.
    pub next: Option<String>,
}

/// The whole checklist for one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checklist {
    /// The commit the runs were recorded for.
    pub commit: Option<String>,
    /// The runs it read.
    pub runs: usize,
    /// The items, in the seeds' order.
    pub items: Vec<Item>,
}

impl Checklist {
    /// Did any item fail?
    pub fn failed(&self) -> bool {
        self.items.iter().any(|i| i.status == ItemStatus::Fail)
    }
}

/// What the checklist is decided from.
#[derive(Debug, Clone, Default)]
pub struct Evidence<'a> {
    /// The commit.
    pub commit: Option<String>,
    /// The runs recorded for it.
    pub runs: &'a [Run],
    /// The project's language (`Go`, `Rust`, `Python`), when detected.
    pub language: Option<&'a str>,
    /// Benchmarks found in the sources.
    pub benchmarks_in_sources: usize,
    /// The targets of perflab.toml.
    pub targets: &'a [Target],
    /// The newest bench run of the commit compared with its baseline, with the baseline's
    /// label; None when there was nothing to compare with.
    pub comparison: Option<(&'a Comparison, String)>,
}

const P99_DEFAULT_S: f64 = 0.005;
const LEAK_GOROUTINES: f64 = 10.0;
const LEAK_HEAP_FRACTION: f64 = 0.5;
const LEAK_HEAP_BYTES: f64 = 1024.0 * 1024.0;

fn metric(b: &Benchmark, name: &str) -> Option<f64> {
    b.metrics.iter().find(|m| m.name == name).and_then(|m| {
        let s = perflab_stats::sorted(&m.samples);
        (!s.is_empty()).then(|| perflab_stats::quantile(&s, 0.5))
    })
}

fn of_kind(runs: &[Run], kind: RunKind) -> impl Iterator<Item = &Run> {
    runs.iter()
        .filter(move |r| r.kind == kind && !r.interrupted)
}

/// Decide every item.
pub fn evaluate(e: &Evidence<'_>) -> Checklist {
    let items = vec![
        benchmark_exists(e),
        p99(e),
        allocs(e),
        memory_leak(e),
        goroutine_leak(e),
        load_100(e),
        no_regression(e),
        hot_paths(e),
    ];
    Checklist {
        commit: e.commit.clone(),
        runs: e.runs.len(),
        items,
    }
}

fn item(
    key: &'static str,
    title: &str,
    status: ItemStatus,
    evidence: String,
    next: Option<&str>,
) -> Item {
    Item {
        key,
        title: title.into(),
        status,
        evidence,
        next: next.map(str::to_string),
    }
}

fn benchmark_exists(e: &Evidence<'_>) -> Item {
    let title = "A benchmark exists for the main function";
    let recorded: usize = of_kind(e.runs, RunKind::Bench)
        .map(|r| r.benchmarks.len())
        .max()
        .unwrap_or(0);
    if e.benchmarks_in_sources > 0 || recorded > 0 {
        let mut ev = Vec::new();
        if e.benchmarks_in_sources > 0 {
            ev.push(format!(
                "{} benchmark(s) in the sources",
                e.benchmarks_in_sources
            ));
        }
        if recorded > 0 {
            ev.push(format!("{recorded} recorded for this commit"));
        }
        item(
            "benchmark_exists",
            title,
            ItemStatus::Pass,
            ev.join(", "),
            None,
        )
    } else {
        item(
            "benchmark_exists",
            title,
            ItemStatus::Fail,
            "no benchmark in the sources and none recorded".into(),
            Some("write one (Go: func BenchmarkX(b *testing.B)), then perflab bench X"),
        )
    }
}

/// The latency bound: a `p99` target of perflab.toml, else the seeds' 5 ms.
fn p99_bound(e: &Evidence<'_>) -> (f64, String) {
    e.targets
        .iter()
        .find(|t| t.metric == "p99")
        .map(|t| (t.target.value, t.target.text.clone()))
        .unwrap_or((P99_DEFAULT_S, "< 5ms".into()))
}

fn all_scenario(r: &Run) -> Option<&Benchmark> {
    r.benchmarks.iter().find(|b| b.name == "all")
}

fn p99(e: &Evidence<'_>) -> Item {
    let (bound, text) = p99_bound(e);
    let title = format!("P99 {text} verified");
    let loads: Vec<(&Run, f64)> = of_kind(e.runs, RunKind::Load)
        .chain(of_kind(e.runs, RunKind::Profile).filter(|r| r.load.is_some()))
        .filter_map(|r| {
            all_scenario(r)
                .and_then(|b| metric(b, "p99"))
                .map(|v| (r, v))
        })
        .collect();
    let Some((_, worst)) = loads.iter().copied().max_by(|a, b| a.1.total_cmp(&b.1)) else {
        return item(
            "p99",
            &title,
            ItemStatus::Missing,
            "no load test recorded for this commit".into(),
            Some("perflab load /path --vus 100 -d 30s"),
        );
    };
    let s = Unit::seconds();
    let status = if worst < bound {
        ItemStatus::Pass
    } else {
        ItemStatus::Fail
    };
    item(
        "p99",
        &title,
        status,
        format!(
            "p99 {} (the worst of {} load run(s))",
            s.format(worst),
            loads.len()
        ),
        None,
    )
}

fn allocs(e: &Evidence<'_>) -> Item {
    let title = "Allocations/op measured and acceptable";
    // One value per benchmark: the newest run's (runs come newest first).
    let mut measured: Vec<(String, f64)> = Vec::new();
    for (k, v) in of_kind(e.runs, RunKind::Bench)
        .chain(of_kind(e.runs, RunKind::Profile))
        .flat_map(|r| r.benchmarks.iter())
        .filter_map(|b| metric(b, "allocs_per_op").map(|v| (b.key(), v)))
    {
        if !measured.iter().any(|(seen, _)| *seen == k) {
            measured.push((k, v));
        }
    }
    if measured.is_empty() {
        return item(
            "allocs",
            title,
            ItemStatus::Missing,
            "no allocs/op recorded for this commit".into(),
            Some("perflab bench NAME (Go: -benchmem is added; Rust: perflab bench --profile --alloc -- cargo bench)"),
        );
    }
    let targets: Vec<&Target> = (e.targets.iter())
        .filter(|t| t.metric == "allocs_per_op")
        .collect();
    let (worst_key, worst) = measured
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .cloned()
        .unwrap_or_default();
    if targets.is_empty() {
        return item(
            "allocs",
            title,
            ItemStatus::Missing,
            format!(
                "{} benchmark(s) measured, at most {worst} allocs/op ({worst_key}); no allocs_per_op target says what is acceptable",
                measured.len()
            ),
            Some("add [[target]] metric = \"allocs_per_op\" target = \"< 10\" to perflab.toml"),
        );
    }
    let benches: Vec<Benchmark> = of_kind(e.runs, RunKind::Bench)
        .flat_map(|r| r.benchmarks.iter().cloned())
        .collect();
    let owned: Vec<Target> = targets.into_iter().cloned().collect();
    let (results, _) = crate::check::check(&benches, &owned);
    let failed: Vec<String> = (results.iter())
        .filter(|r| r.status == crate::check::Status::Fail)
        .map(|r| format!("{} {} ({})", r.benchmark, r.value, r.target))
        .collect();
    if failed.is_empty() && !results.is_empty() {
        item(
            "allocs",
            title,
            ItemStatus::Pass,
            format!("{} target(s) met; at most {worst} allocs/op", results.len()),
            None,
        )
    } else if results.is_empty() {
        item(
            "allocs",
            title,
            ItemStatus::Missing,
            "the allocs_per_op targets match no recorded benchmark".into(),
            Some("perflab check"),
        )
    } else {
        item(
            "allocs",
            title,
            ItemStatus::Fail,
            format!("over the target: {}", failed.join(", ")),
            None,
        )
    }
}

fn before_after<'a>(e: &'a Evidence<'_>, name: &str) -> Vec<(&'a str, f64, f64)> {
    of_kind(e.runs, RunKind::Profile)
        .flat_map(|r| r.benchmarks.iter())
        .filter(|b| b.name.starts_with("server/"))
        .filter_map(|b| {
            let before = metric(b, &format!("{name}_before"))?;
            let after = metric(b, &format!("{name}_after"))?;
            Some((b.name.as_str(), before, after))
        })
        .collect()
}

fn memory_leak(e: &Evidence<'_>) -> Item {
    let title = "No memory leak (heap in use before and after load)";
    let pairs = before_after(e, "heap_inuse");
    if pairs.is_empty() {
        return item(
            "memory_leak",
            title,
            ItemStatus::Missing,
            "no heap profile before and after a load test for this commit".into(),
            Some("perflab profile /path (a Go server with net/http/pprof)"),
        );
    }
    let b = Unit::bytes();
    let grown: Vec<String> = pairs
        .iter()
        .filter(|(_, before, after)| {
            after - before > LEAK_HEAP_BYTES && after - before > before * LEAK_HEAP_FRACTION
        })
        .map(|(n, before, after)| format!("{n}: {} → {}", b.format(*before), b.format(*after)))
        .collect();
    let all: Vec<String> = pairs
        .iter()
        .map(|(n, before, after)| format!("{n}: {} → {}", b.format(*before), b.format(*after)))
        .collect();
    if grown.is_empty() {
        item("memory_leak", title, ItemStatus::Pass, all.join(", "), None)
    } else {
        item(
            "memory_leak",
            title,
            ItemStatus::Fail,
            format!(
                "the heap in use grew by more than half and 1 MiB: {}",
                grown.join(", ")
            ),
            Some("see the heap profile's growth table (perflab profile /path)"),
        )
    }
}

fn goroutine_leak(e: &Evidence<'_>) -> Item {
    let title = "No goroutine leak (goroutines before and after load)";
    if e.language.is_some_and(|l| l != "Go") {
        return item(
            "goroutine_leak",
            title,
            ItemStatus::NotApplicable,
            format!("a {} project has no goroutines", e.language.unwrap_or("")),
            None,
        );
    }
    let pairs = before_after(e, "goroutines");
    if pairs.is_empty() {
        return item(
            "goroutine_leak",
            title,
            ItemStatus::Missing,
            "no goroutine profile before and after a load test for this commit".into(),
            Some("perflab profile /path (a Go server with net/http/pprof)"),
        );
    }
    let grown: Vec<String> = pairs
        .iter()
        .filter(|(_, before, after)| after - before > LEAK_GOROUTINES.max(before * 0.1))
        .map(|(n, before, after)| format!("{n}: {before} → {after}"))
        .collect();
    let all: Vec<String> = pairs
        .iter()
        .map(|(n, before, after)| format!("{n}: {before} → {after}"))
        .collect();
    if grown.is_empty() {
        item(
            "goroutine_leak",
            title,
            ItemStatus::Pass,
            all.join(", "),
            None,
        )
    } else {
        item(
            "goroutine_leak",
            title,
            ItemStatus::Fail,
            format!(
                "goroutines left running after the test: {}",
                grown.join(", ")
            ),
            Some("see the goroutine profile's growth table (perflab profile /path)"),
        )
    }
}

fn load_100(e: &Evidence<'_>) -> Item {
    let title = "A load test with 100+ VUs passed";
    let big: Vec<&Run> = of_kind(e.runs, RunKind::Load)
        .filter(|r| {
            r.load
                .as_ref()
                .and_then(|l| l.peak_vus)
                .is_some_and(|v| v >= 100)
        })
        .collect();
    if big.is_empty() {
        return item(
            "load_100",
            title,
            ItemStatus::Missing,
            "no load test with 100 or more VUs recorded for this commit".into(),
            Some("perflab load /path --vus 100 -d 30s --threshold 'p99<5ms' --threshold 'error_rate<0.01'"),
        );
    }
    let passed = |r: &Run| {
        let Some(l) = &r.load else { return false };
        let thresholds_ok = l.thresholds.iter().all(|t| t.passed);
        let errors_ok = l.scenarios.get("all").is_some_and(|a| a.error_rate < 0.01);
        thresholds_ok && errors_ok
    };
    match big.iter().find(|r| passed(r)) {
        Some(r) => {
            let l = r.load.as_ref().expect("invariant: filtered on load");
            item(
                "load_100",
                title,
                ItemStatus::Pass,
                format!(
                    "{} VUs, {} threshold(s) passed, errors below 1% (run {})",
                    l.peak_vus.unwrap_or_default(),
                    l.thresholds.len(),
                    r.id.chars().take(13).collect::<String>()
                ),
                None,
            )
        }
        None => item(
            "load_100",
            title,
            ItemStatus::Fail,
            format!(
                "{} load test(s) with 100+ VUs, none passed its thresholds with errors below 1%",
                big.len()
            ),
            None,
        ),
    }
}

fn no_regression(e: &Evidence<'_>) -> Item {
    let title = "The comparison with the baseline shows no regression";
    match &e.comparison {
        None => item(
            "no_regression",
            title,
            ItemStatus::Missing,
            "no bench run of this commit with a baseline to compare with".into(),
            Some("perflab bench NAME (on a branch; the default branch's runs are the baseline), or perflab baseline save main"),
        ),
        Some((c, label)) => {
            let worse: Vec<String> = c
                .rows
                .iter()
                .filter(|r| r.verdict == crate::Verdict::Regression)
                .map(|r| r.key())
                .collect();
            if c.gate.passed {
                item(
                    "no_regression",
                    title,
                    ItemStatus::Pass,
                    format!("gate passed against {label} ({} rows)", c.rows.len()),
                    None,
                )
            } else {
                item(
                    "no_regression",
                    title,
                    ItemStatus::Fail,
                    format!("gate failed against {label}: {}", worse.join(", ")),
                    None,
                )
            }
        }
    }
}

fn hot_paths(e: &Evidence<'_>) -> Item {
    let title = "Hot paths documented";
    // Benchmark profiles first (they show the code's own paths), a server's under load after.
    let mut cpu: Vec<&perflab_model::profile::ProfileSummary> = of_kind(e.runs, RunKind::Profile)
        .chain(of_kind(e.runs, RunKind::Bench))
        .flat_map(|r| r.profiles.iter())
        .filter(|p| crate::commit::is_cpu(&p.value) && !p.top.is_empty())
        .collect();
    cpu.sort_by_key(|p| p.target.ends_with("under load"));
    let runtime = |f: &str| {
        ["runtime.", "runtime/", "syscall.", "internal/", "["]
            .iter()
            .any(|p| f.starts_with(p))
    };
    let top: Vec<String> = cpu
        .first()
        .map(|p| {
            p.top
                .iter()
                .filter(|f| !runtime(&f.function))
                .take(3)
                .map(|f| format!("{} {:.1}%", f.function, f.flat_share * 100.0))
                .collect()
        })
        .unwrap_or_default();
    if top.is_empty() {
        item(
            "hot_paths",
            title,
            ItemStatus::Missing,
            "no CPU profile recorded for this commit".into(),
            Some("perflab scan, or perflab profile PACKAGE"),
        )
    } else {
        item(
            "hot_paths",
            title,
            ItemStatus::Pass,
            format!(
                "{} CPU profile(s); hottest of {}: {}",
                cpu.len(),
                cpu[0].target,
                top.join(", ")
            ),
            None,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perflab_model::load::{LoadSummary, ScenarioSummary};
    use perflab_model::Metric;

    fn load_run(p99: f64, vus: u64, error_rate: f64) -> Run {
        let mut r = Run::new(RunKind::Load);
        let mut all = Benchmark::new("all");
        all.metrics
            .push(Metric::new("p99", Unit::seconds(), vec![p99]));
        r.benchmarks.push(all);
        let mut l = LoadSummary {
            peak_vus: Some(vus),
            ..LoadSummary::default()
        };
        l.scenarios.insert(
            "all".into(),
            ScenarioSummary {
                requests: 1000,
                error_rate,
                ..ScenarioSummary::default()
            },
        );
        r.load = Some(l);
        r
    }

    fn server_run(goroutines: (f64, f64), heap: (f64, f64)) -> Run {
        let mut r = Run::new(RunKind::Profile);
        let mut b = Benchmark::new("server/api");
        for (n, u, (before, after)) in [
            ("goroutines", Unit::count(), goroutines),
            ("heap_inuse", Unit::bytes(), heap),
        ] {
            b.metrics
                .push(Metric::new(format!("{n}_before"), u.clone(), vec![before]));
            b.metrics
                .push(Metric::new(format!("{n}_after"), u, vec![after]));
        }
        r.benchmarks.push(b);
        r
    }

    fn status(c: &Checklist, key: &str) -> ItemStatus {
        c.items.iter().find(|i| i.key == key).unwrap().status
    }

    #[test]
    fn no_evidence_is_never_a_pass() {
        let c = evaluate(&Evidence::default());
        assert_eq!(c.items.len(), 8);
        assert_eq!(status(&c, "benchmark_exists"), ItemStatus::Fail);
        for key in [
            "p99",
            "allocs",
            "memory_leak",
            "goroutine_leak",
            "load_100",
            "no_regression",
            "hot_paths",
        ] {
            assert_eq!(status(&c, key), ItemStatus::Missing, "{key}");
            assert!(
                c.items
                    .iter()
                    .find(|i| i.key == key)
                    .unwrap()
                    .next
                    .is_some(),
                "{key} says how to get it"
            );
        }
        assert!(c.failed());
    }

    #[test]
    fn load_runs_decide_p99_and_the_100_vu_item() {
        let runs = vec![load_run(0.003, 100, 0.0), load_run(0.004, 10, 0.0)];
        let c = evaluate(&Evidence {
            runs: &runs,
            benchmarks_in_sources: 1,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "p99"), ItemStatus::Pass);
        assert_eq!(status(&c, "load_100"), ItemStatus::Pass);
        // The worst p99 decides; a run with too many errors does not pass the 100-VU item.
        let runs = vec![load_run(0.007, 100, 0.05)];
        let c = evaluate(&Evidence {
            runs: &runs,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "p99"), ItemStatus::Fail);
        assert_eq!(status(&c, "load_100"), ItemStatus::Fail);
        // A p99 target of perflab.toml replaces the seeds' 5 ms.
        let targets = vec![Target::parse("*", "p99", "< 10ms", None).unwrap()];
        let c = evaluate(&Evidence {
            runs: &runs,
            targets: &targets,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "p99"), ItemStatus::Pass);
        assert!(c.items[1].title.contains("< 10ms"));
    }

    #[test]
    fn leaks_are_growth_beyond_noise() {
        let mib = 1024.0 * 1024.0;
        let steady = vec![server_run((12.0, 14.0), (8.0 * mib, 9.0 * mib))];
        let c = evaluate(&Evidence {
            runs: &steady,
            language: Some("Go"),
            ..Evidence::default()
        });
        assert_eq!(status(&c, "goroutine_leak"), ItemStatus::Pass);
        assert_eq!(status(&c, "memory_leak"), ItemStatus::Pass);
        let leaking = vec![server_run((12.0, 512.0), (8.0 * mib, 40.0 * mib))];
        let c = evaluate(&Evidence {
            runs: &leaking,
            language: Some("Go"),
            ..Evidence::default()
        });
        assert_eq!(status(&c, "goroutine_leak"), ItemStatus::Fail);
        assert_eq!(status(&c, "memory_leak"), ItemStatus::Fail);
        let c = evaluate(&Evidence {
            runs: &leaking,
            language: Some("Rust"),
            ..Evidence::default()
        });
        assert_eq!(status(&c, "goroutine_leak"), ItemStatus::NotApplicable);
    }

    #[test]
    fn allocs_need_a_target_to_be_acceptable() {
        let mut r = Run::new(RunKind::Bench);
        let mut b = Benchmark::new("Search");
        b.metrics.push(Metric::new(
            "allocs_per_op",
            Unit::count(),
            vec![13.0, 13.0],
        ));
        r.benchmarks.push(b);
        let runs = vec![r];
        let c = evaluate(&Evidence {
            runs: &runs,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "allocs"), ItemStatus::Missing);
        assert!(
            c.items[2].evidence.contains("13 allocs/op"),
            "{}",
            c.items[2].evidence
        );
        let ok = vec![Target::parse("*", "allocs_per_op", "< 20", None).unwrap()];
        let c = evaluate(&Evidence {
            runs: &runs,
            targets: &ok,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "allocs"), ItemStatus::Pass);
        let tight = vec![Target::parse("*", "allocs_per_op", "< 10", None).unwrap()];
        let c = evaluate(&Evidence {
            runs: &runs,
            targets: &tight,
            ..Evidence::default()
        });
        assert_eq!(status(&c, "allocs"), ItemStatus::Fail);
    }
}
