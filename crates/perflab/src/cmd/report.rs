//! `perflab report [RUN]`: the seeds' Markdown report.

use std::path::Path;

use anyhow::Result;
use perflab_analysis::{check, compare};
use perflab_report::{render, Document, Format, ReportInput};

use crate::cli::{ReportArgs, ReportFormat};
use crate::config::Config;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ReportArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let joinable = args.run.is_none()
        && !args.latest
        && args.baseline.is_none()
        && !matches!(args.format, ReportFormat::Prometheus);
    if joinable {
        if let Some(commit) = perflab_exec::git_info().map(|g| g.commit) {
            let runs = runs_of_commit(store, Some(&commit))?;
            if !runs.is_empty() {
                return of_commit(&args, store, config, &commit, &runs);
            }
        }
    }
    let mut current = match &args.run {
        Some(r) => context::resolve(r, store, None)?,
        None => context::latest(store)?,
    };
    config.apply_directions(&mut current.run.benchmarks);
    let mut base = match (&args.baseline, &current.run.ab) {
        (Some(b), _) => Some(context::resolve(b, store, None)?),
        // An A/B run is its own comparison: base side against current side.
        (None, Some(ab)) => Some(context::Resolved {
            label: format!("{} ({})", ab.base.rev, context::short_id(&ab.base.commit)),
            run: perflab_model::Run {
                benchmarks: ab.base_benchmarks.clone(),
                ..perflab_model::Run::new(perflab_model::RunKind::Ab)
            },
        }),
        (None, None) => previous(&current.run, store)?,
    };
    if let Some(b) = base.as_mut() {
        config.apply_directions(&mut b.run.benchmarks);
    }
    let (targets, _unmatched) = check(&current.run.benchmarks, &config.targets);
    let mut opts = config.compare.clone();
    let comparison = match base {
        Some(b) => {
            opts.base_label = b.label.clone();
            opts.current_label = current.label.clone();
            compare(&b.run.benchmarks, &current.run.benchmarks, &opts)
                .ok()
                .map(|c| (b.label, c))
        }
        None => None,
    };
    let gate_failed = comparison.as_ref().is_some_and(|(_, c)| !c.gate.passed)
        || targets
            .iter()
            .any(|t| t.status == perflab_analysis::Status::Fail);
    let history = match args.format {
        ReportFormat::Html => context::open_store(store)?.history_of(&current.run, 40)?,
        _ => Vec::new(),
    };
    let input = ReportInput {
        run: &current.run,
        targets,
        comparison,
        history,
    };
    let mut annotations = perflab_report::github::check_annotations(&input.targets);
    if let Some((_, c)) = &input.comparison {
        annotations.push_str(&perflab_report::github::comparison_annotations(c));
    }
    output::github(
        || render(Format::Markdown, &Document::Report(&input)),
        &annotations,
    )?;
    let text = match args.format {
        ReportFormat::Markdown => render(Format::Markdown, &Document::Report(&input))?,
        ReportFormat::Json => render(Format::Json, &Document::Report(&input))?,
        ReportFormat::Prometheus => render(Format::Prometheus, &Document::Report(&input))?,
        ReportFormat::Html => render(Format::Html, &Document::Report(&input))?,
    };
    match &args.output {
        Some(p) => output::write_atomic(p, text.as_bytes())?,
        None => output::print(&text)?,
    }
    Ok(if gate_failed {
        Outcome::GateFailed
    } else {
        Outcome::Ok
    })
}

/// The run recorded before this one on the same branch, of the same kind, if the history has it.
fn previous(run: &perflab_model::Run, store: Option<&Path>) -> Result<Option<context::Resolved>> {
    let mut skipped = Vec::new();
    let previous = context::open_store(store)?.previous_run(run, &mut skipped)?;
    context::warn_all(&skipped);
    Ok(previous.map(|r| context::Resolved {
        label: format!("previous run {}", context::short_id(&r.id)),
        run: r,
    }))
}

/// Every readable run recorded for `commit` (newest first; the newest 500 runs are looked at).
pub(super) fn runs_of_commit(
    store: Option<&Path>,
    commit: Option<&str>,
) -> Result<Vec<perflab_model::Run>> {
    let Some(commit) = commit else {
        return Ok(Vec::new());
    };
    let s = context::open_store(store)?;
    let filter = perflab_store::RunFilter {
        limit: 500,
        ..Default::default()
    };
    let mut out = Vec::new();
    for summary in s.list_runs(&filter)? {
        if summary.commit.as_deref() != Some(commit) {
            continue;
        }
        match s.run(&summary.id) {
            Ok(Some(r)) => out.push(r),
            Ok(None) => {}
            Err(e) => context::warn_all(&[format!("{e}; skipped")]),
        }
    }
    Ok(out)
}

/// The report of every run of `commit`, joined, against the previous commit of the default
/// branch.
fn of_commit(
    args: &ReportArgs,
    store: Option<&Path>,
    config: &Config,
    commit: &str,
    runs: &[perflab_model::Run],
) -> Result<Outcome> {
    let mut runs = runs.to_vec();
    for r in &mut runs {
        config.apply_directions(&mut r.benchmarks);
    }
    let joined = perflab_analysis::commit::joined_benchmarks(&runs);
    let previous = previous_commit(store, commit)?;
    let comparison = match &previous {
        Some((label, prev_runs)) => {
            let base = perflab_analysis::commit::joined_benchmarks(prev_runs);
            let keys: std::collections::BTreeSet<String> = joined.iter().map(|b| b.key()).collect();
            let base: Vec<_> = base
                .into_iter()
                .filter(|b| keys.contains(&b.key()))
                .collect();
            let mut opts = config.compare.clone();
            opts.base_label = label.clone();
            opts.current_label = context::short_id(commit);
            compare(&base, &joined, &opts)
                .ok()
                .map(|c| (label.clone(), c))
        }
        None => None,
    };
    let view = perflab_analysis::commit::build(
        commit,
        &runs,
        &config.targets,
        comparison.as_ref().map(|(l, c)| (l.clone(), c)),
    );
    let format = match args.format {
        ReportFormat::Json => Format::Json,
        ReportFormat::Html => Format::Html,
        _ => Format::Markdown,
    };
    let text = render(format, &Document::Commit(&view))?;
    output::github(|| render(Format::Markdown, &Document::Commit(&view)), "")?;
    match &args.output {
        Some(p) => output::write_atomic(p, text.as_bytes())?,
        None => output::print(&text)?,
    }
    Ok(if view.failed() {
        Outcome::GateFailed
    } else {
        Outcome::Ok
    })
}

/// The runs of the newest other commit recorded on the default branch, with its label.
fn previous_commit(
    store: Option<&Path>,
    commit: &str,
) -> Result<Option<(String, Vec<perflab_model::Run>)>> {
    let root = context::project_root();
    let Some(branch) = perflab_exec::git::Repo::discover(&root)
        .ok()
        .and_then(|r| r.default_branch())
    else {
        return Ok(None);
    };
    let s = context::open_store(store)?;
    let list = s.list_runs(&perflab_store::RunFilter {
        branch: Some(branch.clone()),
        limit: 200,
        ..Default::default()
    })?;
    let Some(other) = list
        .iter()
        .find_map(|r| r.commit.clone().filter(|c| c != commit))
    else {
        return Ok(None);
    };
    let mut runs = Vec::new();
    for summary in list.iter().filter(|r| r.commit.as_deref() == Some(&other)) {
        if let Ok(Some(r)) = s.run(&summary.id) {
            runs.push(r);
        }
    }
    Ok(Some((
        format!("{branch} at {}", context::short_id(&other)),
        runs,
    )))
}
