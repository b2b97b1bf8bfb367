//! `perflab import FILE...`: read result files into one run.

use std::path::Path;

use anyhow::Result;
use perflab_model::{Run, RunKind};

use crate::cli::ImportArgs;
use crate::context;
use crate::Outcome;

pub(crate) fn run(args: ImportArgs, store: Option<&Path>) -> Result<Outcome> {
    let format = context::parse_format(args.input_format.as_deref())?;
    let mut run = Run::new(RunKind::Import);
    context::stamp(&mut run);
    for file in &args.files {
        let parsed = perflab_ingest::parse_path(file, format)?;
        context::warn_all(&parsed.warnings);
        if run.tool.name == "perflab" || run.tool.name.is_empty() {
            run.tool = parsed.tool.clone();
        }
        for (k, v) in parsed.labels {
            run.labels.entry(k).or_insert(v);
        }
        run.benchmarks.extend(parsed.benchmarks);
        run.command.push(file.display().to_string());
    }
    run.coalesce();
    super::finish_run(run, &args.output, store, |r| {
        super::text(perflab_report::Document::Run(r))
    })?;
    Ok(Outcome::Ok)
}
