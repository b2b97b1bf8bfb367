//! `perflab checklist`: the seeds' eight items before merging, each decided from the runs
//! recorded for the current commit (`perflab_analysis::checklist`).

use std::path::Path;

use anyhow::Result;
use perflab_analysis::checklist::{evaluate, Evidence};
use perflab_model::{Run, RunKind};
use perflab_report::{Document, Format};

use crate::cli::ChecklistArgs;
use crate::config::Config;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ChecklistArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let commit = perflab_exec::git_info().map(|g| g.commit);
    let runs = super::report::runs_of_commit(store, commit.as_deref())?;
    let project = super::modes::project().ok();
    let benchmarks_in_sources = project.as_ref().map_or(0, |p| {
        p.benchmarks_in(&perflab_exec::assistant::Scope::Project)
            .len()
    });
    let comparison = newest_bench(&runs)
        .map(|current| -> Result<_> {
            Ok(match super::modes::base_for(store, None, current)? {
                Some((base, label)) => Some((compare(&base, current, config)?, label)),
                None => None,
            })
        })
        .transpose()?
        .flatten();
    let checklist = evaluate(&Evidence {
        commit,
        runs: &runs,
        language: project.as_ref().map(|p| p.ecosystem.name()),
        benchmarks_in_sources,
        targets: &config.targets,
        comparison: comparison.as_ref().map(|(c, l)| (c, l.clone())),
    });
    let format = Format::from_name(&args.format).unwrap_or(Format::Text);
    output::emit(
        format,
        &Document::Checklist(&checklist),
        args.output.as_deref(),
    )?;
    Ok(if checklist.failed() {
        Outcome::GateFailed
    } else {
        Outcome::Ok
    })
}

fn newest_bench(runs: &[Run]) -> Option<&Run> {
    runs.iter()
        .filter(|r| r.kind == RunKind::Bench && !r.interrupted)
        .max_by(|a, b| a.started_at.cmp(&b.started_at))
}

fn compare(base: &Run, current: &Run, config: &Config) -> Result<perflab_analysis::Comparison> {
    let keys: std::collections::BTreeSet<String> =
        current.benchmarks.iter().map(|b| b.key()).collect();
    let base_set: Vec<_> = (base.benchmarks.iter())
        .filter(|b| keys.contains(&b.key()))
        .cloned()
        .collect();
    let mut opts = config.compare.clone();
    opts.base_label = "baseline".into();
    opts.current_label = context::short_id(&current.id);
    Ok(perflab_analysis::compare(
        &base_set,
        &current.benchmarks,
        &opts,
    )?)
}
