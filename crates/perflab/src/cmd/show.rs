//! `perflab show RUN`: export a stored run.

use std::path::Path;

use anyhow::Result;

use crate::cli::{ShowArgs, ShowFormat};
use crate::{context, output, Outcome};

pub(crate) fn run(args: ShowArgs, store: Option<&Path>) -> Result<Outcome> {
    let resolved = context::resolve(&args.run, store, None)?;
    let text = match args.format {
        ShowFormat::Json => resolved.run.to_json(),
        ShowFormat::Gotest => perflab_report::run_gotest(&resolved.run),
    };
    output::print(&text)?;
    Ok(Outcome::Ok)
}
