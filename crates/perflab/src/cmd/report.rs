//! `perflab report [RUN]`: the seeds' Markdown report.

use std::path::Path;

use anyhow::Result;
use perflab_analysis::{check, compare};
use perflab_report::{render, Document, Format, ReportInput};

use crate::cli::{ReportArgs, ReportFormat};
use crate::config::Config;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ReportArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
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
