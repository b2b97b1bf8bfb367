//! `perflab log`: the history, newest first.

use std::path::Path;

use anyhow::Result;
use perflab_store::RunFilter;

use perflab_analysis::history::ChangePointOptions;
use perflab_report::{render, Document, Format};

use crate::cli::LogArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: LogArgs, store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    let json = args.json || args.format == "json";
    if args.alerts {
        let opts = ChangePointOptions {
            max_p_value: args.max_p,
            min_magnitude: crate::config::parse_pct(&args.min_change)?,
            ..Default::default()
        };
        let policy = perflab_web::AlertPolicy::change_points(opts);
        let found = perflab_web::all_alerts(s.as_ref(), args.branch.as_deref(), &policy)?;
        let format = [Format::Text, Format::Json][usize::from(json)];
        output::print(&render(format, &Document::Alerts(&found))?)?;
        return Ok(Outcome::Ok);
    }
    let runs = s.list_runs(&RunFilter {
        branch: args.branch.clone(),
        limit: args.limit,
        ..RunFilter::default()
    })?;
    if json {
        output::print(&render(Format::Json, &Document::Log(&runs))?)?;
        return Ok(Outcome::Ok);
    }
    if runs.is_empty() {
        output::print("no runs recorded yet (perflab run, bench and import record them)\n")?;
        return Ok(Outcome::Ok);
    }
    output::print(&render(Format::Text, &Document::Log(&runs))?)?;
    Ok(Outcome::Ok)
}
