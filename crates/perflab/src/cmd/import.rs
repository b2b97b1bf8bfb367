//! `perflab import FILE...`: read result files into one run.

use std::path::Path;

use anyhow::{Context as _, Result};
use perflab_model::{Run, RunKind};

use crate::cli::ImportArgs;
use crate::context;
use crate::Outcome;

pub(crate) fn run(args: ImportArgs, store: Option<&Path>) -> Result<Outcome> {
    if args.history {
        return restore(&args.files, store);
    }
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

/// `import --history`: the runs of `perflab export` files back into the history as they were.
fn restore(files: &[std::path::PathBuf], store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    let (mut new, mut same) = (0, 0);
    for file in files {
        let text = std::fs::read_to_string(file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let at = || format!("{}:{}", file.display(), i + 1);
            let run =
                Run::from_json(line).with_context(|| format!("{}: not a result document", at()))?;
            match s.insert_run(&run).with_context(at)? {
                perflab_store::Inserted::New => new += 1,
                perflab_store::Inserted::Same => same += 1,
            }
        }
    }
    crate::output::print(&format!("restored {new} run(s); {same} already stored\n"))?;
    Ok(Outcome::Ok)
}
