//! `perflab check [RESULT]`: targets from perflab.toml.

use std::path::Path;

use anyhow::{bail, Result};
use perflab_analysis::{check, Status};

use perflab_report::{render, Document, Format};

use crate::cli::CheckArgs;
use crate::config::Config;
use crate::{context, Outcome};

pub(crate) fn run(args: CheckArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    if config.targets.is_empty() {
        match &config.path {
            None => bail!("no perflab.toml here and no --config: nothing to check (add [[target]] entries, see `perflab check --help`)"),
            Some(p) => bail!("{}: no [[target]] entries: nothing to check", p.display()),
        }
    }
    let resolved = match &args.result {
        Some(r) => context::resolve(r, store, None)?,
        None => context::latest(store)?,
    };
    let (results, unmatched) = check(&resolved.run.benchmarks, &config.targets);
    if let Some(first) = unmatched.first() {
        bail!("{first} in {}", resolved.label);
    }
    let format = match (args.json, Format::from_name(&args.format)) {
        (true, _) => Format::Json,
        (false, f) => f.unwrap_or(Format::Text),
    };
    crate::output::emit(format, &Document::Check(&resolved.run.id, &results), None)?;
    crate::output::github(
        || {
            render(
                Format::Markdown,
                &Document::Check(&resolved.run.id, &results),
            )
        },
        &perflab_report::github::check_annotations(&results),
    )?;
    let fail = results.iter().any(|r| r.status == Status::Fail);
    let warn = results.iter().any(|r| r.status == Status::Warn);
    Ok(if fail || (args.strict && warn) {
        Outcome::GateFailed
    } else {
        Outcome::Ok
    })
}
