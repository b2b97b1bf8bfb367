//! One report per commit, as the seeds write it: every bench, load and profile run recorded
//! for a commit joined into one view (summary against the targets, hot paths, memory hotspots,
//! recommendations with their evidence and estimates, the comparison with the previous commit
//! of the base branch). The view is computed here once; `perflab-report` renders it as
//! Markdown, HTML and JSON.

use std::collections::BTreeMap;

use perflab_model::profile::ProfileSummary;
use perflab_model::{Benchmark, Better, Run, Unit};
use serde::Serialize;

use crate::check::{check, Status, Target, TargetResult};
use crate::{Comparison, Verdict};

/// A summary line: one quantity the seeds' targets table names.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SummaryRow {
    /// What it is (`P99 latency`).
    pub label: String,
    /// The metric (`p99`), as targets name it.
    pub metric: String,
    /// Where it was measured (benchmark key, or `all` for a load test).
    pub source: String,
    /// Its value in `unit`.
    pub value: f64,
    /// The unit.
    pub unit: Unit,
    /// The target as written (`< 5ms`), when perflab.toml has one for it.
    pub target: Option<String>,
    /// The critical level as written.
    pub critical: Option<String>,
    /// The target's outcome; None without a target.
    pub status: Option<Status>,
}

/// A function's share of CPU.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HotPath {
    /// The function.
    pub function: String,
    /// Where it is (file).
    pub location: Option<String>,
    /// Its own share of the profile (0..1).
    pub flat_share: f64,
    /// Its share with what it calls (0..1).
    pub cum_share: f64,
    /// The profile it comes from.
    pub profile: String,
}

/// An allocation site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemoryHotspot {
    /// The allocating function.
    pub function: String,
    /// Where (file:line).
    pub location: Option<String>,
    /// Bytes allocated there.
    pub bytes: u64,
    /// Allocations there.
    pub blocks: u64,
    /// Its share of the profile's allocations (by count, 0..1).
    pub share: f64,
    /// The profile it comes from.
    pub profile: String,
}

/// A recommendation with its evidence and, where the evidence allows, the seeds' estimate.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Advice {
    /// The rule that fired.
    pub rule: String,
    /// What to do.
    pub advice: String,
    /// What it rests on.
    pub evidence: String,
    /// `current / expected / impact`, when the evidence gives numbers.
    pub estimate: Option<Estimate>,
}

/// The seeds' "current / expected / impact".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Estimate {
    /// What it is now (`13 allocs/op`).
    pub current: String,
    /// What it would be after the change (`3 allocs/op`).
    pub expected: String,
    /// The change (`-77%`).
    pub impact: String,
}

/// A comparison line with the previous commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChangeRow {
    /// Benchmark key.
    pub benchmark: String,
    /// Metric.
    pub metric: String,
    /// Unit of the values.
    pub unit: Unit,
    /// The previous commit's median.
    pub before: f64,
    /// This commit's median.
    pub now: f64,
    /// Relative change (0.1 = +10%), None when before is zero.
    pub change: Option<f64>,
    /// The comparison's verdict.
    pub verdict: Verdict,
}

/// A run the report joins.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunRef {
    /// Its id.
    pub id: String,
    /// Its kind.
    pub kind: String,
}

/// The report of one commit.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CommitReport {
    /// `perflab.commit-report.v1`.
    pub schema: &'static str,
    /// The commit.
    pub commit: String,
    /// Its branch, when known.
    pub branch: Option<String>,
    /// The newest run's start (RFC 3339).
    pub date: String,
    /// The host the newest run ran on.
    pub host: Option<String>,
    /// The runs joined.
    pub runs: Vec<RunRef>,
    /// Summary against the targets.
    pub summary: Vec<SummaryRow>,
    /// Targets that matched nothing (said, never silently passed).
    pub unmatched_targets: Vec<String>,
    /// Hottest functions.
    pub hot_paths: Vec<HotPath>,
    /// Allocation sites.
    pub memory_hotspots: Vec<MemoryHotspot>,
    /// Recommendations.
    pub recommendations: Vec<Advice>,
    /// The previous commit of the base branch compared with (label).
    pub compared_with: Option<String>,
    /// P99, throughput and allocs/op against it.
    pub changes: Vec<ChangeRow>,
    /// Whether the comparison's gate passed.
    pub gate_passed: Option<bool>,
}

impl CommitReport {
    /// Did a target's critical level, or the gate against the previous commit, fail?
    pub fn failed(&self) -> bool {
        self.summary.iter().any(|r| r.status == Some(Status::Fail))
            || self.gate_passed == Some(false)
    }
}

/// The quantities of the seeds' targets table, in its order: (metric, label).
const SUMMARY: &[(&str, &str)] = &[
    ("p50", "P50 latency"),
    ("p99", "P99 latency"),
    ("p99_9", "P999 latency"),
    ("rps", "Throughput"),
    ("allocs_per_op", "Allocations per op"),
    ("bytes_per_op", "Memory per op"),
    ("memory_per_request", "Memory per request"),
    ("allocs_per_request", "Allocations per request"),
    ("gc_pause", "GC pause (p99)"),
];

fn median(b: &Benchmark, metric: &str) -> Option<(f64, Unit)> {
    let m = b.metric(metric)?;
    let s = perflab_stats::sorted(&m.samples);
    (!s.is_empty()).then(|| {
        // A GC pause is a distribution of cycles: its tail is what a request meets.
        let q = if metric == "gc_pause" { 0.99 } else { 0.5 };
        (perflab_stats::quantile(&s, q), m.unit.clone())
    })
}

/// The benchmarks of `runs` joined: the newest run's figures win for a benchmark several runs
/// measured; a load run's own costs per request (`--watch-metrics`) become metrics of `all`.
pub fn joined_benchmarks(runs: &[Run]) -> Vec<Benchmark> {
    let mut newest_first: Vec<&Run> = runs.iter().filter(|r| !r.interrupted).collect();
    newest_first.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    let mut out: Vec<Benchmark> = Vec::new();
    for r in newest_first {
        let mut benches = r.benchmarks.clone();
        if let Some(d) = r.load.as_ref().and_then(|l| l.target_metrics.as_ref()) {
            if let Some(all) = benches.iter_mut().find(|b| b.name == "all") {
                for (k, unit) in [
                    ("memory_per_request", Unit::bytes()),
                    ("allocs_per_request", Unit::count()),
                ] {
                    if let Some(v) = d.derived.get(k).filter(|v| v.is_finite()) {
                        all.metrics
                            .push(perflab_model::Metric::new(k, unit, vec![*v]));
                    }
                }
            }
        }
        for b in benches {
            match out.iter_mut().find(|o| o.key() == b.key()) {
                Some(o) => {
                    // Metrics this run has that the newer one lacked are kept.
                    for m in b.metrics {
                        if o.metric(&m.name).is_none() {
                            o.metrics.push(m);
                        }
                    }
                }
                None => out.push(b),
            }
        }
    }
    out
}

/// Build the report of the runs of one commit. `previous`: the label of the base branch's
/// previous commit and the comparison of its joined benchmarks with this commit's.
pub fn build(
    commit: &str,
    runs: &[Run],
    targets: &[Target],
    previous: Option<(String, &Comparison)>,
) -> CommitReport {
    let joined = joined_benchmarks(runs);
    let newest = runs.iter().max_by(|a, b| a.started_at.cmp(&b.started_at));
    let (results, unmatched) = check(&joined, targets);
    let profiles: Vec<&ProfileSummary> = (runs.iter())
        .flat_map(|r| r.profiles.iter())
        // A scan's overall profile (`all`) repeats its targets' rows.
        .filter(|p| p.target != "all")
        .collect();
    let memory_hotspots = memory_hotspots(&profiles);
    let mut recommendations = advice(&profiles);
    recommendations.extend(allocation_estimates(&joined, &memory_hotspots));
    let (compared_with, changes, gate_passed) = match previous {
        Some((label, c)) => (Some(label), changes(c), Some(c.gate.passed)),
        None => (None, Vec::new(), None),
    };
    CommitReport {
        schema: "perflab.commit-report.v1",
        commit: commit.to_string(),
        branch: newest
            .and_then(|r| r.git.as_ref())
            .and_then(|g| g.branch.clone()),
        date: newest.map(|r| r.started_at.clone()).unwrap_or_default(),
        host: newest
            .and_then(|r| r.host.as_ref())
            .map(|h| h.hostname.clone()),
        runs: runs
            .iter()
            .map(|r| RunRef {
                id: r.id.clone(),
                kind: r.kind.as_str().to_string(),
            })
            .collect(),
        summary: summary(&joined, &results, targets),
        unmatched_targets: unmatched,
        hot_paths: hot_paths(&profiles),
        memory_hotspots,
        recommendations,
        compared_with,
        changes,
        gate_passed,
    }
}

/// The seeds' targets table: each quantity against its targets (the worst outcome first), or
/// its worst figure where no target names it.
fn summary(joined: &[Benchmark], results: &[TargetResult], targets: &[Target]) -> Vec<SummaryRow> {
    let mut summary = Vec::new();
    for (metric, label) in SUMMARY {
        let mut with_target: Vec<&TargetResult> =
            results.iter().filter(|r| r.metric == *metric).collect();
        with_target.sort_by_key(|r| std::cmp::Reverse(status_rank(r.status)));
        for r in &with_target {
            let critical = targets
                .iter()
                .find(|t| t.metric == r.metric && t.target.text == r.target)
                .and_then(|t| t.critical.as_ref().map(|c| c.text.clone()));
            summary.push(SummaryRow {
                label: label.to_string(),
                metric: metric.to_string(),
                source: r.benchmark.clone(),
                value: r.value,
                unit: r.unit.clone(),
                target: Some(r.target.clone()),
                critical,
                status: Some(r.status),
            });
        }
        if with_target.is_empty() {
            summary.extend(worst(joined, metric, label));
        }
    }
    summary
}

/// A quantity's worst figure over the joined benchmarks, without a target.
fn worst(joined: &[Benchmark], metric: &str, label: &str) -> Option<SummaryRow> {
    let mut seen: Vec<(String, f64, Unit)> = joined
        .iter()
        .filter_map(|b| median(b, metric).map(|(v, u)| (b.key(), v, u)))
        .collect();
    let higher_better =
        (seen.first()).is_some_and(|(_, _, u)| u.default_better() == Better::Higher);
    seen.sort_by(|a, b| {
        if higher_better {
            a.1.total_cmp(&b.1)
        } else {
            b.1.total_cmp(&a.1)
        }
    });
    let (source, value, unit) = seen.into_iter().next()?;
    Some(SummaryRow {
        label: label.to_string(),
        metric: metric.to_string(),
        source,
        value,
        unit,
        target: None,
        critical: None,
        status: None,
    })
}

/// The ten hottest functions of the CPU profiles, each once.
fn hot_paths(profiles: &[&ProfileSummary]) -> Vec<HotPath> {
    let mut hot: Vec<HotPath> = (profiles.iter())
        .filter(|p| is_cpu(&p.value))
        .flat_map(|p| {
            p.top.iter().take(10).map(|f| HotPath {
                function: f.function.clone(),
                location: f.location.clone(),
                flat_share: f.flat_share,
                cum_share: f.cum_share,
                profile: p.target.clone(),
            })
        })
        .collect();
    hot.sort_by(|a, b| b.flat_share.total_cmp(&a.flat_share));
    let mut seen = std::collections::BTreeSet::new();
    hot.retain(|h| seen.insert(h.function.clone()));
    hot.truncate(10);
    hot
}

/// The ten biggest allocation sites of the allocation profiles, each once.
fn memory_hotspots(profiles: &[&ProfileSummary]) -> Vec<MemoryHotspot> {
    let mut sites: Vec<MemoryHotspot> = Vec::new();
    for p in profiles {
        let Some(a) = &p.alloc else { continue };
        for s in a.sites.iter().take(10) {
            sites.push(MemoryHotspot {
                function: s.function.clone(),
                location: s.location.clone(),
                bytes: s.bytes,
                blocks: s.blocks,
                share: if a.total_blocks > 0 {
                    s.blocks as f64 / a.total_blocks as f64
                } else {
                    0.0
                },
                profile: p.target.clone(),
            });
        }
    }
    sites.sort_by_key(|m| std::cmp::Reverse(m.bytes));
    let mut seen = std::collections::BTreeSet::new();
    sites.retain(|m| seen.insert((m.function.clone(), m.location.clone())));
    sites.truncate(10);
    sites
}

/// The profiles' recommendations, each once.
fn advice(profiles: &[&ProfileSummary]) -> Vec<Advice> {
    let mut out: Vec<Advice> = Vec::new();
    for r in profiles.iter().flat_map(|p| p.recommendations.iter()) {
        if out.iter().any(|a| a.rule == r.rule && a.advice == r.advice) {
            continue;
        }
        out.push(Advice {
            rule: r.rule.clone(),
            advice: r.advice.clone(),
            evidence: r.evidence.clone(),
            estimate: None,
        });
    }
    out
}

/// The comparison's P99, throughput, time and allocs/op rows.
fn changes(c: &Comparison) -> Vec<ChangeRow> {
    c.rows
        .iter()
        .filter(|r| matches!(r.metric.as_str(), "p99" | "rps" | "allocs_per_op" | "time"))
        .map(|r| ChangeRow {
            benchmark: r.key(),
            metric: r.metric.clone(),
            unit: r.unit.clone(),
            before: r.base.median,
            now: r.current.median,
            change: r.change,
            verdict: r.verdict,
        })
        .collect()
}

/// Whether a profile's value is time on CPU: sampled CPU time, samples of it, or counted
/// instructions (callgrind); not allocations, contention or goroutines.
pub fn is_cpu(value: &str) -> bool {
    matches!(value, "cpu" | "samples" | "instructions" | "cycles")
}

fn status_rank(s: Status) -> u8 {
    match s {
        Status::Pass => 0,
        Status::Warn => 1,
        Status::Fail => 2,
    }
}

/// Where a benchmark's allocations per op and its profile's top allocation site are both
/// known: what removing that site's allocations would leave, as the seeds estimate it. The site
/// must be the benchmark's own code path (its function named in the benchmark's package).
fn allocation_estimates(joined: &[Benchmark], sites: &[MemoryHotspot]) -> Vec<Advice> {
    let mut out = Vec::new();
    let mut by_bench: BTreeMap<String, f64> = BTreeMap::new();
    for b in joined {
        if let Some((v, _)) = median(b, "allocs_per_op") {
            if v >= 2.0 {
                by_bench.insert(b.key(), v);
            }
        }
    }
    // The site that allocates most often, not in the runtime or the test harness.
    let Some(site) = sites
        .iter()
        .filter(|s| {
            !s.function.starts_with("runtime")
                && !s.function.starts_with("testing.")
                && !s.function.contains(".Benchmark")
                && s.share > 0.05
        })
        .max_by(|a, b| a.share.total_cmp(&b.share))
    else {
        return out;
    };
    let short = site.function.rsplit('/').next().unwrap_or(&site.function);
    let func = short.rsplit('.').next().unwrap_or(short);
    for (bench, current) in by_bench {
        let name = bench.split('/').next().unwrap_or(&bench);
        if !name.contains(func) && !func.contains(name) {
            continue;
        }
        let expected = (current * (1.0 - site.share)).round();
        let impact = (expected - current) / current;
        out.push(Advice {
            rule: "allocation-site".into(),
            advice: format!(
                "Allocate less in {}: pre-size the slices and maps it grows, reuse buffers across calls",
                site.function
            ),
            evidence: format!(
                "{current} allocs/op in {name}; {:.0}% of the profile's allocations are made at {}",
                site.share * 100.0,
                site.location.as_deref().unwrap_or(&site.function)
            ),
            estimate: Some(Estimate {
                current: format!("{current} allocs/op"),
                expected: format!("{expected} allocs/op"),
                impact: format!("{:+.0}%", impact * 100.0),
            }),
        });
    }
    out
}
