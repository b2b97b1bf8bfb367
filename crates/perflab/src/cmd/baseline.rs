//! `perflab baseline save|list|delete`.

use std::path::Path;

use anyhow::{bail, Result};

use crate::cli::BaselineCommand;
use crate::{context, output, Outcome};

pub(crate) fn run(cmd: BaselineCommand, store: Option<&Path>) -> Result<Outcome> {
    let s = context::open_store(store)?;
    match cmd {
        BaselineCommand::Save { name, run } => {
            if name.trim().is_empty() || name.contains(char::is_whitespace) {
                bail!("baseline name {name:?} must be one word");
            }
            let id = match run {
                Some(r) => r,
                None => context::latest(store)?.run.id,
            };
            let before = s.save_baseline(&name, &id)?;
            let run = s.baseline(&name)?.map(|r| r.id).unwrap_or(id);
            match before {
                Some(old) => output::print(&format!(
                    "baseline {name} -> run {run} (moved from run {old})\n"
                ))?,
                None => output::print(&format!("baseline {name} -> run {run}\n"))?,
            }
        }
        BaselineCommand::List => {
            let all = s.baselines()?;
            if all.is_empty() {
                output::print("no baselines (perflab baseline save NAME [RUN])\n")?;
            }
            for (name, id) in all {
                output::print(&format!("{name}\t{id}\n"))?;
            }
        }
        BaselineCommand::Delete { name } => {
            if !s.delete_baseline(&name)? {
                bail!("no baseline named {name:?} (see perflab baseline list)");
            }
            output::print(&format!("deleted baseline {name}\n"))?;
        }
    }
    Ok(Outcome::Ok)
}
