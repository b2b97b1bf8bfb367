//! `perflab show RUN`: export a stored run.

use std::path::Path;

use anyhow::Result;

use perflab_report::{render, Document, Format};

use crate::cli::ShowArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ShowArgs, store: Option<&Path>) -> Result<Outcome> {
    let resolved = context::resolve(&args.run, store, None)?;
    let format = Format::from_name(&args.format).unwrap_or(Format::Json);
    let text = render(format, &Document::Run(&resolved.run))?;
    output::print(&text)?;
    Ok(Outcome::Ok)
}
