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
    let checked = match (found.first(), args.no_verify) {
        (Some(d), false) => verify(d),
        _ => None,
    };
    let toml = project::perflab_toml_checked(&found, checked.as_ref());
    let mut files = vec![(root.join("perflab.toml"), toml)];
    if args.ci.is_some() {
        let workflow = root.join(".github").join("workflows").join("perflab.yml");
        let kind = found.first().map(|d| d.kind);
        files.push((workflow, project::github_workflow(&args.action, kind)));
    }
    let exist: Vec<String> = (files.iter().filter(|(p, _)| p.exists()))
        .map(|(p, _)| p.display().to_string())
        .collect();
    if !args.force {
        if exist.len() == files.len() {
            bail!(
                "{} exists: nothing written (--force overwrites)",
                exist.join(" and ")
            );
        }
        // What is there is kept; what is missing (the workflow beside a perflab.toml) is written.
        for e in &exist {
            crate::term::info!("kept {e} (exists; --force overwrites)");
        }
        files.retain(|(p, _)| !p.exists());
    }
    for (path, text) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        output::write_atomic(path, text.as_bytes())?;
        crate::term::info!("wrote {}", path.display());
    }
    match (found.first(), &checked) {
        (Some(d), Some(Err(why))) => crate::term::info!(
            "found {} ({}), but `{}` did not run here ({why}): [bench] command is left unset in perflab.toml",
            d.kind, d.evidence, d.bench
        ),
        (Some(d), Some(Ok(saw))) => crate::term::info!(
            "found {} ({}): `perflab bench` runs {} (checked: {saw})",
            d.kind, d.evidence, d.bench
        ),
        (Some(d), None) => crate::term::info!(
            "found {} ({}): `perflab bench` runs {}",
            d.kind, d.evidence, d.bench
        ),
        (None, _) => crate::term::info!("no benchmarks found: set [bench] command in perflab.toml"),
    }
    Ok(Outcome::Ok)
}

/// Run the setup's quick check once: Ok with what was seen, Err with why it did not work.
fn verify(d: &project::Detected) -> Option<Result<String, String>> {
    let (command, expect) = d.verify.as_ref()?;
    crate::term::info!("checking that the benchmarks run: {command}");
    let argv = match perflab_exec::split_words(command) {
        Ok(a) => a,
        Err(e) => return Some(Err(e.to_string())),
    };
    Some(
        match perflab_exec::run_harness(&argv, false, super::interrupt_flag()) {
            Err(e) => Err(e.to_string()),
            Ok(out) if !out.stdout.contains(expect) && !out.stderr.contains(expect) => {
                Err(format!(
                    "it ran but printed no benchmark result ({:?} not seen: {})",
                    expect.trim(),
                    perflab_exec::tail(&out.stdout, 2)
                ))
            }
            Ok(out) => {
                let n = out.stdout.lines().filter(|l| l.contains(expect)).count();
                Ok(if expect.is_empty() {
                    "it built".to_string()
                } else if *expect == "ns/op" {
                    format!("{n} benchmark(s) ran once")
                } else {
                    perflab_exec::tail(&out.stdout, 1)
                })
            }
        },
    )
}
