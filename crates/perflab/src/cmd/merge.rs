//! `perflab merge`: combine load-test segments into one run.

use std::path::Path;

use anyhow::Result;
use perflab_model::{Run, RunKind};

use crate::cli::MergeArgs;
use crate::Outcome;

pub(crate) fn run(args: MergeArgs, store: Option<&Path>) -> Result<Outcome> {
    let merged = perflab_load::merge::merge_files(&args.files)?;
    let n = args.files.len();
    let mut run = Run::new(RunKind::Load);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    run.labels.insert("merged_segments".into(), n.to_string());
    run.benchmarks = perflab_load::benchmarks(&merged);
    let failed = merged.thresholds.iter().any(|t| !t.passed);
    let all = merged.scenarios.get("all").cloned().unwrap_or_default();
    let t = |v: f64| perflab_model::Unit::seconds().format(v);
    let mut summary = format!(
        "merged {n} segments: {} requests, {:.1}/s, p50 {} p99 {} max {}\n",
        all.requests,
        merged.achieved_rate,
        t(all.latency.p50),
        t(all.latency.p99),
        t(all.latency.max),
    );
    for th in &merged.thresholds {
        let mark = if th.passed { "✓" } else { "✗" };
        summary.push_str(&format!("  threshold {mark} {}\n", th.expression));
    }
    run.load = Some(merged);
    super::finish_run(run, &args.output, store, |_| summary)?;
    Ok(if failed {
        Outcome::GateFailed
    } else {
        Outcome::Ok
    })
}
