//! `perflab compare BASE CURRENT` (or one input with `--col`).

use std::path::Path;

use anyhow::{bail, Result};
use perflab_analysis::{compare, compare_by_param, glob_match, Correction};
use perflab_model::Benchmark;

use crate::cli::{CompareArgs, CompareFormat, CorrectionArg};
use crate::config::{parse_pct, Config};
use crate::{context, output, Outcome};

fn keep(benchmarks: Vec<Benchmark>, args: &CompareArgs) -> Vec<Benchmark> {
    benchmarks
        .into_iter()
        .filter(|b| {
            args.filter.is_empty()
                || args
                    .filter
                    .iter()
                    .any(|g| glob_match(g, &b.key()) || glob_match(g, &b.name))
        })
        .map(|mut b| {
            if !args.metric.is_empty() {
                b.metrics.retain(|m| args.metric.contains(&m.name));
            }
            b
        })
        .filter(|b| !b.metrics.is_empty())
        .collect()
}

pub(crate) fn run(args: CompareArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let format = context::parse_format(args.input_format.as_deref())?;
    let mut opts = config.compare.clone();
    if let Some(a) = args.alpha {
        if !(a > 0.0 && a < 1.0) {
            bail!("--alpha {a} must be between 0 and 1");
        }
        opts.alpha = a;
    }
    if let Some(c) = args.confidence {
        if !(c > 0.0 && c < 1.0) {
            bail!("--confidence {c} must be between 0 and 1");
        }
        opts.confidence_level = c;
    }
    if let Some(c) = args.correction {
        opts.correction = match c {
            CorrectionArg::None => Correction::None,
            CorrectionArg::Holm => Correction::Holm,
            CorrectionArg::Bh => Correction::Bh,
        };
    }
    if let Some(m) = &args.max_change {
        opts.default_max_change = parse_pct(m)?;
    }
    let mut comparison = match (&args.current, &args.col) {
        (Some(current), None) => {
            let base = context::resolve(&args.base, store, format)?;
            let cur = context::resolve(current, store, format)?;
            opts.base_label = base.label;
            opts.current_label = if cur.label == opts.base_label {
                format!("{} (current)", cur.label)
            } else {
                cur.label
            };
            let b = keep(base.run.benchmarks, &args);
            let c = keep(cur.run.benchmarks, &args);
            if b.is_empty() || c.is_empty() {
                bail!("nothing left to compare after --filter/--metric");
            }
            compare(&b, &c, &opts)?
        }
        (None, Some(param)) => {
            let one = context::resolve(&args.base, store, format)?;
            let b = keep(one.run.benchmarks, &args);
            compare_by_param(&b, param, &opts)?
        }
        (Some(_), Some(_)) => bail!("--col compares within one input: give BASE only"),
        (None, None) => bail!("give BASE and CURRENT, or one input with --col PARAM"),
    };
    if !args.row.is_empty() {
        // Display only: the chosen params stay in row names, the rest move to the header.
        for r in &mut comparison.rows {
            r.params.retain(|k, _| args.row.contains(k));
        }
    }
    for w in &comparison.warnings {
        eprintln!("warning: {w}");
    }
    let text = match args.format {
        CompareFormat::Text => perflab_report::compare_text(&comparison),
        CompareFormat::Json => perflab_report::compare_json(&comparison),
        CompareFormat::Markdown => perflab_report::compare_markdown(&comparison),
        CompareFormat::Csv => perflab_report::compare_csv(&comparison),
    };
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
