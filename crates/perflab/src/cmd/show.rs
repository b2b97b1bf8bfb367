//! `perflab show RUN`: export a stored run.

use std::path::Path;

use anyhow::Result;

use perflab_report::{render, Document, Format};

use crate::cli::ShowArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ShowArgs, store: Option<&Path>) -> Result<Outcome> {
    let resolved = context::resolve(&args.run, store, None)?;
    let format = Format::from_name(&args.format).unwrap_or(Format::Json);
    // A stored load run reads as it did when it ran (its plan, its ending, its spectrum).
    let doc = match (&resolved.run.load, format) {
        (Some(_), Format::Text) => Document::Load(&resolved.run),
        _ => Document::Run(&resolved.run),
    };
    let text = render(format, &doc)?;
    output::print(&text)?;
    Ok(Outcome::Ok)
}
