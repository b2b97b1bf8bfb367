//! The `/benchmark` modes in the project's own terms: resolving what the user named (a scope)
//! against the detected project, and the comparison with the baseline that `bench NAME` ends
//! with. The project knowledge itself is `perflab_exec::assistant`.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_exec::assistant::{Depth, Project, Scope};
use perflab_model::Run;
use perflab_report::{Document, Format};
use perflab_store::RunFilter;

use crate::config::Config;
use crate::{context, output, Outcome};

/// The project perflab is in: the nearest directory from here up to the repository's top that
/// is a Go module, a Cargo project with benchmarks or a pytest-benchmark project (a module in a
/// subdirectory of a monorepo is found from inside it). perflab then works from that directory,
/// since the scopes' package paths are relative to it; or an error that says what to give.
pub(crate) fn project() -> Result<Project> {
    let top = context::project_root();
    let here = std::env::current_dir().unwrap_or_else(|_| top.clone());
    let found = here
        .ancestors()
        .take_while(|d| d.starts_with(&top))
        .find_map(Project::detect);
    let Some(project) = found else {
        bail!(
            "no Go module, Cargo project with benchmarks or pytest-benchmark setup in {} or above it: give the command after -- instead",
            here.display()
        );
    };
    if project.root != here {
        std::env::set_current_dir(&project.root)
            .with_context(|| format!("cannot work in {}", project.root.display()))?;
        crate::term::info!(
            "perflab: working in the project at {}",
            project.root.display()
        );
    }
    Ok(project)
}

/// `--depth NAME`.
pub(crate) fn depth(name: &str) -> Result<Depth> {
    Depth::parse(name).with_context(|| format!("--depth {name:?}: use quick, standard or deep"))
}

/// The scope `text` names in `project`, refused when it names nothing there.
pub(crate) fn scope(project: &Project, text: &str) -> Result<Scope> {
    let scope = project.scope(text);
    if let Scope::Endpoint(p) = &scope {
        bail!("{p:?} is an endpoint: load-test it with `perflab load {p}`, profile it with `perflab profile {p}`");
    }
    if project.benchmarks_in(&scope).is_empty() {
        let mut known: Vec<String> = (project.benchmarks_in(&Scope::Project).into_iter())
            .map(|b| b.name)
            .collect();
        let more = known.len().saturating_sub(8);
        known.truncate(8);
        let list = if known.is_empty() {
            format!("the project has no {} benchmarks", project.ecosystem.name())
        } else {
            format!(
                "benchmarks: {}{}",
                known.join(", "),
                if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                }
            )
        };
        bail!(
            "{text:?} names no package or benchmark of this {} project ({list})",
            project.ecosystem.name()
        );
    }
    Ok(scope)
}

/// The run to compare `current` with: the named baseline, else the newest run of the default
/// branch (not `current` itself) that shares a benchmark with it. None with `none`, or when
/// there is nothing to compare with (said on stderr).
pub(crate) fn base_for(
    store: Option<&Path>,
    baseline: Option<&str>,
    current: &Run,
) -> Result<Option<(Run, String)>> {
    let s = context::open_store(store)?;
    match baseline {
        Some("none") => return Ok(None),
        Some(name) => {
            let run = s.baseline(name)?.with_context(|| {
                format!(
                    "no baseline {name:?} (perflab baseline list; perflab baseline save {name})"
                )
            })?;
            return Ok(Some((run, format!("baseline {name}"))));
        }
        None => {}
    }
    let root = context::project_root();
    let branch = perflab_exec::git::Repo::discover(&root)
        .ok()
        .and_then(|r| r.default_branch());
    let Some(branch) = branch else {
        crate::term::info!("note: no default branch found (main, master or origin/HEAD): nothing to compare with; name one with --baseline");
        return Ok(None);
    };
    let keys: std::collections::BTreeSet<String> =
        current.benchmarks.iter().map(|b| b.key()).collect();
    let filter = RunFilter {
        branch: Some(branch.clone()),
        kind: Some(current.kind.as_str().to_string()),
        limit: 50,
        ..RunFilter::default()
    };
    for summary in s.list_runs(&filter)? {
        if summary.id == current.id || summary.interrupted {
            continue;
        }
        let Ok(Some(run)) = s.run(&summary.id) else {
            continue;
        };
        if run.benchmarks.iter().any(|b| keys.contains(&b.key())) {
            return Ok(Some((
                run,
                format!("{branch} ({})", context::short_id(&summary.id)),
            )));
        }
    }
    let on_default = current
        .git
        .as_ref()
        .and_then(|g| g.branch.as_deref())
        .is_some_and(|b| b == branch.as_str());
    if on_default {
        // On the default branch the first run is the baseline of the next ones.
        crate::term::info!("note: the first run of {branch} with these benchmarks: nothing to compare with yet; the next run compares with this one (or keep it: perflab baseline save NAME)");
    } else {
        crate::term::info!("note: no earlier run of {branch} with these benchmarks to compare with: run `perflab bench` on {branch}, or save a baseline (perflab baseline save NAME) and name it with --baseline");
    }
    Ok(None)
}

/// Compare `current` with `base` (only the benchmarks `current` has), print the table (on
/// stderr when stdout carries a JSON document) and turn the gate into the outcome.
pub(crate) fn compare_with(
    base: &Run,
    base_label: &str,
    current: &Run,
    config: &Config,
    stdout_is_json: bool,
) -> Result<Outcome> {
    let keys: std::collections::BTreeSet<String> =
        current.benchmarks.iter().map(|b| b.key()).collect();
    let mut base_set: Vec<_> = (base.benchmarks.iter())
        .filter(|b| keys.contains(&b.key()))
        .cloned()
        .collect();
    let mut current_set = current.benchmarks.clone();
    config.apply_directions(&mut base_set);
    config.apply_directions(&mut current_set);
    let mut opts = config.compare.clone();
    opts.base_label = base_label.to_string();
    opts.current_label = "this run".into();
    for w in perflab_analysis::config_differences(base, current) {
        crate::term::warning!("{w}");
    }
    let comparison = perflab_analysis::compare(&base_set, &current_set, &opts)?;
    for w in &comparison.warnings {
        crate::term::warning!("{w}");
    }
    crate::term::info!("\ncompared with {base_label}:");
    if stdout_is_json {
        let style = crate::term::stderr_style();
        let table =
            perflab_report::render_styled(Format::Text, &Document::Comparison(&comparison), style)?;
        eprint!("{table}");
    } else {
        output::emit(Format::Text, &Document::Comparison(&comparison), None)?;
    }
    Ok(if comparison.gate.passed {
        Outcome::Ok
    } else {
        Outcome::GateFailed
    })
}

/// How long a server started for a test of an endpoint may take to open its port (`go run`
/// compiles first).
pub(crate) const SERVER_START: std::time::Duration = std::time::Duration::from_secs(180);

/// An endpoint resolved against the project's `[load]` settings.
#[derive(Debug)]
pub(crate) struct EndpointTarget {
    /// The full URL.
    pub(crate) url: String,
    /// The base URL it was joined to (no trailing slash).
    pub(crate) base: String,
    /// `[[load.endpoint]]`'s method for the path.
    pub(crate) method: Option<String>,
    /// Its headers, `Name: value`.
    pub(crate) headers: Vec<String>,
    /// Its body.
    pub(crate) body: Option<String>,
    /// `[load] server`, when it is to be started (configured, wanted, and not already up).
    pub(crate) server: Option<String>,
    /// The port that tells it is up.
    pub(crate) port: Option<u16>,
}

/// `path` joined to `base_flag` (`--base-url` or `BASE_URL`) or `[load] base_url`; its
/// `[[load.endpoint]]` entry; `[load] server` when `start` and its port does not answer yet.
pub(crate) fn endpoint_target(
    path: &str,
    base_flag: Option<&str>,
    config: &Config,
    start: bool,
) -> Result<EndpointTarget> {
    let Some(base) = base_flag
        .map(str::to_string)
        .or_else(|| config.load.base_url.clone())
    else {
        bail!("{path:?} is a path: give the service's address with --base-url URL (or BASE_URL, or [load] base_url in perflab.toml)");
    };
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        bail!("--base-url {base:?}: give a URL such as http://127.0.0.1:8080");
    }
    let base = base.trim_end_matches('/').to_string();
    let entry = config.load.endpoint(path);
    let port = config.load.wait_port.or_else(|| url_port(&base));
    let server = match (&config.load.server, start) {
        (Some(server), true) => {
            let up = port.is_some_and(|p| std::net::TcpStream::connect(("127.0.0.1", p)).is_ok());
            if up {
                crate::term::info!(
                    "note: port {} already answers: testing the running server, not starting `{server}`",
                    port.unwrap_or_default()
                );
                None
            } else {
                crate::term::info!("perflab: starting `{server}` for the test");
                Some(server.clone())
            }
        }
        _ => None,
    };
    Ok(EndpointTarget {
        url: format!("{base}{path}"),
        base,
        method: entry.and_then(|e| e.method.clone()),
        headers: entry
            .map(|e| e.headers.iter().map(|(k, v)| format!("{k}: {v}")).collect())
            .unwrap_or_default(),
        body: entry.and_then(|e| e.body.clone()),
        server,
        port,
    })
}

/// The port of `http://host:port/…` (80 or 443 when not written).
pub(crate) fn url_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit('@').next()?;
    match host_port.rsplit_once(':') {
        Some((_, p)) if !p.contains(']') => p.parse().ok(),
        _ => Some(if scheme == "https" { 443 } else { 80 }),
    }
}
