//! `perflab exec-usage --report FILE -- CMD`: the profiler's wrapper (perflab-profile's
//! `wrapper_usage`); perf runs this, and this runs the command.

use anyhow::{Context as _, Result};

use crate::cli::ExecUsageArgs;
use crate::{output, Outcome};

pub(crate) fn run(args: ExecUsageArgs) -> Result<Outcome> {
    let (usage, code) =
        perflab_profile::record::wrapper_usage(&args.command, args.timeout, args.randomize)?;
    let json = serde_json::to_string(&usage).context("usage report")?;
    output::write_atomic(&args.report, json.as_bytes())?;
    if code != 0 {
        std::process::exit(code);
    }
    Ok(Outcome::Ok)
}
