//! `perflab init`: a commented perflab.toml for the benchmarks found here (perflab-exec's
//! project detection), and with `--ci github` a pull-request workflow. Never overwrites
//! without `--force`.

use anyhow::{bail, Result};
use perflab_exec::project;

use crate::cli::InitArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: InitArgs) -> Result<Outcome> {
    let root = context::project_root();
    let found = project::detect(&root);
    let mut files = vec![(root.join("perflab.toml"), project::perflab_toml(&found))];
    if args.ci.is_some() {
        let workflow = root.join(".github").join("workflows").join("perflab.yml");
        files.push((workflow, project::github_workflow(&args.action)));
    }
    let exist: Vec<String> = (files.iter().filter(|(p, _)| p.exists()))
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !exist.is_empty() && !args.force {
        bail!(
            "{} exists: nothing written (--force overwrites)",
            exist.join(" and ")
        );
    }
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        output::write_atomic(path, text.as_bytes())?;
        eprintln!("wrote {}", path.display());
    }
    match found.first() {
        Some(d) => eprintln!(
            "found {} ({}): `perflab bench` runs {}",
            d.kind, d.evidence, d.bench
        ),
        None => eprintln!("no benchmarks found: set [bench] command in perflab.toml"),
    }
    Ok(Outcome::Ok)
}
