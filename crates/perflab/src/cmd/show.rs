//! `perflab show RUN`: export a stored run.

use std::path::Path;

use anyhow::Result;

use perflab_report::{render, Document, Format};

use crate::cli::{ShowArgs, ShowFormat};
use crate::{context, output, Outcome};

pub(crate) fn run(args: ShowArgs, store: Option<&Path>) -> Result<Outcome> {
    let resolved = context::resolve(&args.run, store, None)?;
    let format = match args.format {
        ShowFormat::Json => Format::Json,
        ShowFormat::Gotest => Format::Gotest,
    };
    let text = render(format, &Document::Run(&resolved.run))?;
    output::print(&text)?;
    Ok(Outcome::Ok)
}
