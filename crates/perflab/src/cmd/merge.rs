//! `perflab merge`: combine load-test segments into one run.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_model::{Run, RunKind};

use crate::cli::MergeArgs;
use crate::Outcome;

pub(crate) fn run(args: MergeArgs, store: Option<&Path>) -> Result<Outcome> {
    let mut parts = Vec::new();
    for f in &args.files {
        let text = std::fs::read_to_string(f).with_context(|| format!("{}", f.display()))?;
        let run = Run::from_json(&text).with_context(|| format!("{}", f.display()))?;
        let Some(load) = run.load else {
            bail!(
                "{}: not a load-test result (kind {})",
                f.display(),
                run.kind.as_str()
            );
        };
        parts.push(load);
    }
    let merged = perflab_load::merge::merge(&parts)?;
    let mut run = Run::new(RunKind::Load);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    run.labels
        .insert("merged_segments".into(), parts.len().to_string());
    run.benchmarks = perflab_load::benchmarks(&merged);
    let all = merged.scenarios.get("all").cloned().unwrap_or_default();
    let summary = format!(
        "merged {} segments: {} requests, {:.1}/s, p50 {} p99 {} max {}\n",
        parts.len(),
        all.requests,
        merged.achieved_rate,
        perflab_model::Unit::seconds().format(all.latency.p50),
        perflab_model::Unit::seconds().format(all.latency.p99),
        perflab_model::Unit::seconds().format(all.latency.max),
    );
    run.load = Some(merged);
    super::finish_run(run, &args.output, store, |_| summary)?;
    Ok(Outcome::Ok)
}
