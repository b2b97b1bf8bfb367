//! `perflab compare BASE CURRENT` (or one input with `--col`).

use std::path::Path;

use anyhow::{bail, Result};
use perflab_analysis::{
    benchmark_matches, compare_by_param, compare_each, ignore_params, Correction, Row,
};
use perflab_model::Benchmark;

use perflab_report::{render, Document, Format};

use crate::cli::{CompareArgs, CompareFormat};
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

pub(crate) fn run(args: CompareArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let format = context::parse_format(args.input_format.as_deref())?;
    let mut opts = config.compare.clone();
    opts.alpha = args.alpha.unwrap_or(opts.alpha);
    opts.confidence_level = args.confidence.unwrap_or(opts.confidence_level);
    opts.validate("--")?;
    if let Some(c) = args.correction.as_deref().and_then(Correction::from_name) {
        opts.correction = c;
    }
    if let Some(m) = &args.max_change {
        opts.default_max_change = parse_pct(m)?;
    }
    let ignore = |b: Vec<Benchmark>| {
        if args.ignore.is_empty() {
            b
        } else {
            ignore_params(&b, &args.ignore)
        }
    };
    let mut comparison = match (args.current.is_empty(), &args.col) {
        (false, None) => {
            let mut base = context::resolve(&args.base, store, format)?;
            config.apply_directions(&mut base.run.benchmarks);
            let mut currents = Vec::new();
            for c in &args.current {
                let mut cur = context::resolve(c, store, format)?;
                config.apply_directions(&mut cur.run.benchmarks);
                if cur.run.id == base.run.id {
                    eprintln!("warning: {c:?} is the same run as the base ({}): every row compares a run with itself", base.label);
                }
                if cur.label == base.label
                    || currents
                        .iter()
                        .any(|(_, l): &(Vec<Benchmark>, String)| *l == cur.label)
                {
                    cur.label = format!("{} ({})", cur.label, currents.len() + 1);
                }
                for w in perflab_analysis::config_differences(&base.run, &cur.run) {
                    eprintln!("warning: {w}");
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
            let mut one = context::resolve(&args.base, store, format)?;
            config.apply_directions(&mut one.run.benchmarks);
            compare_by_param(&ignore(one.run.benchmarks), param, &opts)?
        }
        (false, Some(_)) => bail!("--col compares within one input: give BASE only"),
        (true, None) => bail!("give BASE and CURRENT, or one input with --col PARAM"),
    };
    if !args.filter.is_empty() || !args.metric.is_empty() {
        let mut names: Vec<String> = comparison.rows.iter().map(Row::key).collect();
        names.dedup();
        comparison.retain(|r| wanted(r, &args));
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
        eprintln!("warning: {w}");
    }
    let format = match args.format {
        CompareFormat::Text => Format::Text,
        CompareFormat::Json => Format::Json,
        CompareFormat::Markdown => Format::Markdown,
        CompareFormat::Csv => Format::Csv,
        CompareFormat::Html => Format::Html,
    };
    let text = render(format, &Document::Comparison(&comparison))?;
    match &args.output {
        Some(path) => output::write_atomic(path, text.as_bytes())?,
        None => output::print(&text)?,
    }
    Ok(if comparison.gate.passed {
        Outcome::Ok
    } else {
        Outcome::GateFailed
    })
}
