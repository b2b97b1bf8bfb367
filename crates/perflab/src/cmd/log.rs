//! `perflab log`: the history, newest first.

use std::path::Path;

use anyhow::Result;
use perflab_store::RunFilter;

use crate::cli::LogArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: LogArgs, store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    let runs = s.list_runs(&RunFilter {
        branch: args.branch.clone(),
        limit: args.limit,
        ..RunFilter::default()
    })?;
    if args.json {
        let rows: Vec<serde_json::Value> = runs
            .iter()
            .map(|r| {
                serde_json::json!({
                    "id": r.id, "kind": r.kind, "started_at": r.started_at,
                    "commit": r.commit, "branch": r.branch, "dirty": r.dirty,
                    "interrupted": r.interrupted, "benchmarks": r.benchmarks,
                    "baselines": r.baselines, "command": r.command,
                })
            })
            .collect();
        output::print(&format!("{}\n", serde_json::to_string_pretty(&rows)?))?;
        return Ok(Outcome::Ok);
    }
    if runs.is_empty() {
        output::print("no runs recorded yet (perflab run, bench and import record them)\n")?;
        return Ok(Outcome::Ok);
    }
    output::print(&perflab_report::log_text(&runs))?;
    Ok(Outcome::Ok)
}
