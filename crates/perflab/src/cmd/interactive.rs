//! `perflab` alone at a terminal: the seeds' `/benchmark` asks which operation, which scope,
//! which item and how deep, then runs it and prints the equivalent command, so that what was
//! chosen can go into a script or CI. Lists filter as one types; Enter takes the highlighted
//! entry (standard depth first). Not at a terminal: the help, and exit 2.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::{bail, Result};
use clap::{CommandFactory as _, Parser as _};
use inquire::{InquireError, Select, Text};
use perflab_exec::assistant::{Project, Scope};

use crate::config::Config;
use crate::Outcome;

const OPERATIONS: &[(&str, &str)] = &[
    (
        "scan",
        "hot paths and allocation hotspots of the benchmarks",
    ),
    (
        "profile",
        "CPU, memory, contention and GC of a package, function or endpoint",
    ),
    ("bench", "run benchmarks and compare them with the baseline"),
    ("load", "load-test an endpoint"),
    ("compare", "compare the working tree or two branches"),
    ("report", "this commit's report"),
    ("checklist", "the checklist before merging"),
    ("set up", "write perflab.toml (and a CI workflow)"),
];

pub(crate) fn run(store: Option<&Path>, config: &Config) -> Result<Outcome> {
    if !(std::io::stdin().is_terminal() && std::io::stderr().is_terminal()) {
        // On stderr: stdout stays for documents, and this is a usage error (exit 2).
        eprintln!("{}", crate::cli::Cli::command().render_help());
        bail!("no command given (perflab --help lists them; at a terminal, perflab alone asks)");
    }
    let words = match ask(config) {
        Ok(w) => w,
        Err(e) => match e.downcast_ref::<InquireError>() {
            Some(InquireError::OperationCanceled | InquireError::OperationInterrupted) => {
                crate::term::info!("perflab: nothing chosen");
                std::process::exit(130);
            }
            _ => return Err(e),
        },
    };
    let mut argv: Vec<String> = vec!["perflab".into()];
    argv.extend(words);
    crate::term::info!(
        "perflab: running `{}` (the same as this choice, for a script or CI)",
        perflab_exec::join_words(&argv)
    );
    let mut cli = crate::cli::Cli::try_parse_from(&argv)?;
    // The history chosen for this session (--store or PERFLAB_STORE) stays the same.
    cli.store = store.map(Path::to_path_buf);
    super::dispatch(cli)
}

/// Typing filters a list by the entry's first word (the operation, the benchmark, the
/// package), not its description: the exact name first, then names it starts, then names that
/// hold it.
fn by_name(input: &str, _: &String, label: &str, _: usize) -> Option<i64> {
    let name = label
        .split_whitespace()
        .next()
        .unwrap_or(label)
        .to_lowercase();
    let input = input.trim().to_lowercase();
    if input.is_empty() {
        Some(0)
    } else if name == input {
        Some(3)
    } else if name.starts_with(&input) {
        Some(2)
    } else if name.contains(&input) {
        Some(1)
    } else {
        None
    }
}

/// A list question whose typing filters by name.
fn select(message: &str, items: Vec<String>) -> Result<String> {
    let n = items.len();
    Ok(Select::new(message, items)
        .with_scorer(&by_name)
        .with_page_size(n.clamp(1, 12))
        .prompt()?)
}

/// The questions; the answer is the command line (without `perflab`).
fn ask(config: &Config) -> Result<Vec<String>> {
    let labels: Vec<String> = OPERATIONS
        .iter()
        .map(|(op, what)| format!("{op:<10} {what}"))
        .collect();
    let chosen = select("Which operation?", labels.clone())?;
    let op = OPERATIONS[labels.iter().position(|l| *l == chosen).unwrap_or(0)].0;
    let project = super::modes::project().ok();
    Ok(match op {
        "report" => vec!["report".into()],
        "checklist" => vec!["checklist".into()],
        "set up" => {
            let ci = select(
                "A CI workflow too?",
                vec!["GitHub Actions".into(), "no".into()],
            )?;
            let mut w = vec!["init".to_string()];
            if ci == "GitHub Actions" {
                w.extend(["--ci".into(), "github".into()]);
            }
            w
        }
        "compare" => {
            let branch = perflab_exec::git::Repo::discover(&crate::context::project_root())
                .ok()
                .and_then(|r| r.default_branch())
                .unwrap_or_else(|| "main".into());
            let worktree = format!("the working tree against {branch} (where it left it)");
            let pick = Select::new(
                "Compare what?",
                vec![worktree.clone(), "two revisions (A..B)".into()],
            )
            .prompt()?;
            if pick == worktree {
                vec!["compare".into()]
            } else {
                let range = Text::new("Revisions (A..B, or A...B for B against the merge base):")
                    .with_default(&format!("{branch}...HEAD"))
                    .prompt()?;
                vec!["compare".into(), range]
            }
        }
        "load" => {
            let path = endpoint(config)?;
            let mut w = vec!["load".to_string(), path];
            let (seconds, warmup) = depth()?.load_seconds();
            w.extend(["--vus".into(), "100".into()]);
            w.extend([
                "-d".into(),
                format!("{seconds}s"),
                "--warmup".into(),
                format!("{warmup}s"),
            ]);
            w
        }
        op => {
            let Some(project) = project else {
                bail!("no Go module, Cargo project with benchmarks or pytest-benchmark setup here: run perflab init, or give a command (perflab {op} -- CMD)");
            };
            let scope = scope(op, &project, config)?;
            let mut w = vec![op.to_string()];
            match scope {
                Some(s) => w.push(s),
                None if op == "profile" => w.push("./...".into()),
                None => {}
            }
            if !w.get(1).is_some_and(|s| s.starts_with('/')) || op == "profile" {
                w.extend(["--depth".into(), depth()?.name().into()]);
            }
            w
        }
    })
}

/// The scope question, then the item; None is the whole project.
fn scope(op: &str, project: &Project, config: &Config) -> Result<Option<String>> {
    let mut kinds: Vec<String> = ["function (a benchmark)", "package", "the whole project"]
        .map(String::from)
        .to_vec();
    if op == "profile" && config.load.base_url.is_some() {
        kinds.insert(0, "endpoint (under load)".into());
    }
    let kind = select("Which scope?", kinds)?;
    Ok(match kind.as_str() {
        "endpoint (under load)" => Some(endpoint(config)?),
        "package" => {
            let mut items = project.packages();
            items.push("another (type it)".into());
            let pick = select("Which package?", items)?;
            Some(if pick == "another (type it)" {
                Text::new("Package (a directory, a source file, a pattern):").prompt()?
            } else {
                pick
            })
        }
        "function (a benchmark)" => {
            let mut items: Vec<String> = (project.benchmarks_in(&Scope::Project).into_iter())
                .map(|b| {
                    b.name
                        .strip_prefix("Benchmark")
                        .unwrap_or(&b.name)
                        .to_string()
                })
                .collect();
            items.sort();
            items.dedup();
            items.push("a pattern (type it)".into());
            let pick = select("Which benchmark?", items)?;
            Some(if pick == "a pattern (type it)" {
                Text::new("Benchmark name or pattern:").prompt()?
            } else {
                pick
            })
        }
        _ => None,
    })
}

/// An endpoint: one of `[[load.endpoint]]`, or a path typed.
fn endpoint(config: &Config) -> Result<String> {
    let mut items: Vec<String> = config
        .load
        .endpoints
        .iter()
        .map(|e| e.path.clone())
        .collect();
    if items.is_empty() {
        return Ok(
            Text::new("Endpoint path (joined to [load] base_url or BASE_URL):")
                .with_default("/")
                .prompt()?,
        );
    }
    items.push("another path (type it)".into());
    let pick = select("Which endpoint?", items)?;
    Ok(if pick == "another path (type it)" {
        Text::new("Endpoint path:").with_default("/").prompt()?
    } else {
        pick
    })
}

fn depth() -> Result<perflab_exec::assistant::Depth> {
    let pick = Select::new(
        "How deep?",
        vec![
            "standard (5 counts, 30 s of load)",
            "quick (1 count, 5 s)",
            "deep (10 counts, 2 min)",
        ],
    )
    .prompt()?;
    let name = pick.split(' ').next().unwrap_or("standard");
    super::modes::depth(name)
}
