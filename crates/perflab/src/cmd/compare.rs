//! `perflab compare BASE CURRENT` (or one input with `--col`).

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_analysis::{
    benchmark_matches, compare_by_param, compare_each, ignore_params, Correction, Row,
};
use perflab_model::Benchmark;

use perflab_analysis::Comparison;
use perflab_exec::git::RevRange;
use perflab_report::{github, Document, Format};

use crate::cli::CompareArgs;
use crate::config::{parse_pct, Config};
use crate::{context, output, Outcome};

/// Whether a row is one the user asked to see (`--filter`, `--metric`). Rows are chosen after
/// the comparison so that a filter shows fewer rows but never changes a verdict.
fn wanted(r: &Row, args: &CompareArgs) -> bool {
    let name_ok = args.filter.is_empty()
        || args
            .filter
            .iter()
            .any(|g| benchmark_matches(g, &r.benchmark, &r.params));
    name_ok && (args.metric.is_empty() || args.metric.contains(&r.metric))
}

pub(crate) fn run(mut args: CompareArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    if args.base.is_none() && !args.ab.aa {
        // `perflab compare` alone: this working tree against where it left the default branch.
        let root = context::project_root();
        let branch = perflab_exec::git::Repo::discover(&root)?
            .default_branch()
            .with_context(|| "no default branch (main, master or origin/HEAD) to compare the working tree with: give BASE")?;
        args.base = Some(format!("{branch}...WORKTREE"));
        crate::term::info!("perflab: comparing the working tree with the merge base of {branch} ({branch}...WORKTREE)");
    }
    let format = context::parse_format(args.input_format.as_deref())?;
    let mut opts = config.compare.clone();
    opts.fail_on_missing |= args.fail_on_missing;
    opts.fail_on_inconclusive |= args.fail_on_inconclusive;
    opts.alpha = args.alpha.unwrap_or(opts.alpha);
    opts.confidence_level = args.confidence.unwrap_or(opts.confidence_level);
    opts.validate("--")?;
    if let Some(c) = args.correction.as_deref().and_then(Correction::from_name) {
        opts.correction = c;
    }
    if let Some(m) = &args.max_change {
        opts.default_max_change = parse_pct(m)?;
    }
    let base_ref = args.base.clone().unwrap_or_default();
    let revisions =
        args.ab.aa || (!Path::new(&base_ref).exists() && RevRange::parse(&base_ref).is_some());
    if revisions {
        if !args.current.is_empty() || args.col.is_some() {
            bail!("{base_ref:?} names two revisions: give no CURRENT or --col (the benchmark command goes after --)");
        }
        let ab = super::ab::run(&args, opts, store, config)?;
        let outcome = emit(ab.comparison, &args)?;
        return match ab.interrupted {
            Some(why) => bail!(why),
            None => Ok(outcome),
        };
    }
    if !args.ab.command.is_empty() || args.ab.build.is_some() || args.ab.time {
        bail!("a command, --build and --time are for comparing revisions: write BASE as A..B (e.g. main..HEAD)");
    }
    let ignore = |b: Vec<Benchmark>| {
        if args.ignore.is_empty() {
            b
        } else {
            ignore_params(&b, &args.ignore)
        }
    };
    let comparison = match (args.current.is_empty(), &args.col) {
        (false, None) => {
            let mut base = context::resolve(&base_ref, store, format)?;
            config.apply_directions(&mut base.run.benchmarks);
            let mut currents = Vec::new();
            for c in &args.current {
                let mut cur = context::resolve(c, store, format)?;
                config.apply_directions(&mut cur.run.benchmarks);
                if cur.run.id == base.run.id {
                    crate::term::warning!("{c:?} is the same run as the base ({}): every row compares a run with itself", base.label);
                }
                if cur.label == base.label
                    || currents
                        .iter()
                        .any(|(_, l): &(Vec<Benchmark>, String)| *l == cur.label)
                {
                    cur.label = format!("{} ({})", cur.label, currents.len() + 1);
                }
                for w in perflab_analysis::config_differences(&base.run, &cur.run) {
                    crate::term::warning!("{w}");
                }
                currents.push((ignore(cur.run.benchmarks), cur.label));
            }
            opts.base_label = base.label.clone();
            opts.current_label = currents[0].1.clone();
            let base_set = ignore(base.run.benchmarks);
            let sets: Vec<(&[Benchmark], &str)> =
                currents.iter().map(|(b, l)| (&b[..], l.as_str())).collect();
            compare_each((&base_set, &base.label), &sets, &opts)?
        }
        (true, Some(param)) => {
            let mut one = context::resolve(&base_ref, store, format)?;
            config.apply_directions(&mut one.run.benchmarks);
            compare_by_param(&ignore(one.run.benchmarks), param, &opts)?
        }
        (false, Some(_)) => bail!("--col compares within one input: give BASE only"),
        (true, None) => bail!("give BASE and CURRENT, or one input with --col PARAM"),
    };
    emit(comparison, &args)
}

/// Show the rows the user asked for in the chosen format, in GitHub Actions' summary and
/// annotations too, and turn the gate into the outcome.
fn emit(mut comparison: Comparison, args: &CompareArgs) -> Result<Outcome> {
    if !args.filter.is_empty() || !args.metric.is_empty() {
        let mut names: Vec<String> = comparison.rows.iter().map(Row::key).collect();
        names.dedup();
        comparison.retain(|r| wanted(r, args));
        if comparison.rows.is_empty() {
            names.truncate(8);
            bail!(
                "--filter/--metric matched no row (benchmarks: {})",
                names.join(", ")
            );
        }
    }
    if !args.row.is_empty() {
        // Display only: the chosen params stay in row names, the rest move to the header.
        for r in &mut comparison.rows {
            r.params.retain(|k, _| args.row.contains(k));
        }
    }
    for w in &comparison.warnings {
        crate::term::warning!("{w}");
    }
    let format = match (args.json, Format::from_name(&args.format)) {
        (true, _) => Format::Json,
        (false, f) => f.unwrap_or(Format::Text),
    };
    output::emit(
        format,
        &Document::Comparison(&comparison),
        args.output.as_deref(),
    )?;
    if let Some(path) = &args.pr_comment {
        let body = github::comparison_comment(&comparison, github_run_url().as_deref());
        output::write_atomic(path, body.as_bytes())?;
    }
    let summary = || Ok(perflab_report::compare_summary_markdown(&comparison));
    output::github(summary, &github::comparison_annotations(&comparison))?;
    Ok(if comparison.gate.passed {
        Outcome::Ok
    } else {
        Outcome::GateFailed
    })
}

/// The Actions run's page, from the runner's variables (`GITHUB_SERVER_URL`,
/// `GITHUB_REPOSITORY`, `GITHUB_RUN_ID`).
fn github_run_url() -> Option<String> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    Some(format!(
        "{}/{}/actions/runs/{}",
        var("GITHUB_SERVER_URL").unwrap_or_else(|| "https://github.com".into()),
        var("GITHUB_REPOSITORY")?,
        var("GITHUB_RUN_ID")?
    ))
}
