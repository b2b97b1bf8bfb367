//! The history store and the resolution of a user's reference (file, run id, baseline, branch) to a set of results.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
pub(crate) use perflab_exec::project_root;
use perflab_exec::{git_info, host_info};
use perflab_ingest::Format;
use perflab_model::Run;
use perflab_store::{RunFilter, Store};

/// Fill in git and host facts of a new run.
pub(crate) fn stamp(run: &mut Run) {
    run.git = git_info();
    run.host = Some(host_info());
}

/// Open the history at `explicit` or `.perflab/history.db` under the project root.
/// Callers get the `Store` trait only, so another back end (PostgreSQL) can be chosen here
/// without touching them.
pub(crate) fn open_store(explicit: Option<&Path>) -> Result<Box<dyn Store>> {
    let location = store_location(explicit);
    perflab_store::open(&location).with_context(|| location.clone())
}

/// Where the history is: `--store` (a path or a URL), else `.perflab/history.db` at the
/// repository root.
pub(crate) fn store_location(explicit: Option<&Path>) -> String {
    match explicit {
        Some(p) => p.to_string_lossy().into_owned(),
        None => perflab_exec::local_dir(&project_root())
            .join("history.db")
            .to_string_lossy()
            .into_owned(),
    }
}

/// What a reference resolved to.
pub(crate) struct Resolved {
    /// The results.
    pub(crate) run: Run,
    /// How to call it in output (`old.txt`, `baseline main`, `run 0192…`).
    pub(crate) label: String,
}

/// Parse a `--format` value.
pub(crate) fn parse_format(name: Option<&str>) -> Result<Option<Format>> {
    Ok(Format::parse_option(name)?)
}

/// Print warnings on stderr, one line each, with names made safe for a terminal.
pub(crate) fn warn_all(warnings: &[String]) {
    for w in warnings {
        crate::term::warning!("{}", perflab_report::escape::terminal(w));
    }
}

/// Read a result file into a run.
pub(crate) fn run_from_file(path: &Path, format: Option<Format>) -> Result<Run> {
    let parsed = perflab_ingest::parse_path(path, format)?;
    warn_all(&parsed.warnings);
    Ok(parsed.into_run(perflab_model::RunKind::Import))
}

/// Resolve a reference: an existing file first, then a run id (or unique prefix), a baseline
/// name, a branch name (its latest run).
pub(crate) fn resolve(
    reference: &str,
    store_path: Option<&Path>,
    format: Option<Format>,
) -> Result<Resolved> {
    let path = Path::new(reference);
    if path.exists() {
        let label = path
            .file_name()
            .map_or(reference.to_string(), |n| n.to_string_lossy().into_owned());
        return Ok(Resolved {
            run: run_from_file(path, format)?,
            label,
        });
    }
    let store = open_store(store_path)?;
    let (kind, name) = match reference.split_once(':') {
        Some((k @ ("run" | "baseline" | "branch"), rest)) if !rest.is_empty() => (Some(k), rest),
        _ => (None, reference),
    };
    if kind.is_none() && name == "latest" {
        return latest_in(store.as_ref());
    }
    let baseline = if matches!(kind, None | Some("baseline")) {
        store.baseline(name)?
    } else {
        None
    };
    let branch_run = |store: &dyn Store| {
        newest_readable(
            store,
            RunFilter {
                branch: Some(name.to_string()),
                ..RunFilter::default()
            },
        )
    };
    if let Some(run) = baseline {
        if kind.is_none() && branch_run(store.as_ref())?.is_some() {
            crate::term::warning!("{name:?} is both a baseline and a branch: using the baseline (say branch:{name} for the branch's latest run)");
        }
        return Ok(Resolved {
            run,
            label: format!("baseline {name}"),
        });
    }
    if matches!(kind, None | Some("run")) && (name.len() >= 4 || kind.is_some()) {
        if let Some(run) = store.run(name)? {
            let label = format!("run {}", short_id(&run.id));
            return Ok(Resolved { run, label });
        }
    }
    if matches!(kind, None | Some("branch")) {
        if let Some(run) = branch_run(store.as_ref())? {
            return Ok(Resolved {
                run,
                label: name.to_string(),
            });
        }
    }
    match kind {
        Some(k) => bail!("no {k} {name:?} in the history (see `perflab log` and `perflab baseline list`)"),
        None => bail!("{reference:?} is not a file, a stored run id, a baseline or a branch with runs (see `perflab log` and `perflab baseline list`)"),
    }
}

/// The newest readable run matching `filter` (unreadable ones skipped with a warning).
pub(crate) fn newest_readable(store: &dyn Store, filter: RunFilter) -> Result<Option<Run>> {
    let mut skipped = Vec::new();
    let run = store.newest_readable(&filter, &mut skipped)?;
    warn_all(&skipped);
    Ok(run)
}

fn latest_in(store: &dyn Store) -> Result<Resolved> {
    let Some(run) = newest_readable(store, RunFilter::default())? else {
        bail!("the history is empty: record a run first (perflab run, bench or import), or name a result file");
    };
    Ok(Resolved {
        label: format!("run {}", short_id(&run.id)),
        run,
    })
}

/// The latest run in the history.
pub(crate) fn latest(store_path: Option<&Path>) -> Result<Resolved> {
    latest_in(open_store(store_path)?.as_ref())
}

/// The first characters of a run id, enough to name it.
pub(crate) fn short_id(id: &str) -> String {
    id.chars().take(13).collect()
}
