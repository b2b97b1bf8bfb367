//! `perflab scan`: profile several commands within one time budget; report the hottest functions
//! per target and overall, and with a baseline what got hotter.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_model::{Run, RunKind};
use perflab_profile::record::CommandOutput::Stderr;
use perflab_profile::scan::{Baseline, Overall};
use perflab_profile::session::benchmark_of;

use super::profile::{profile_command, write_outputs};
use crate::cli::ScanArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: ScanArgs, store: Option<&Path>) -> Result<Outcome> {
    let budget = perflab_model::parse_duration(&args.budget)
        .map_err(|e| anyhow::anyhow!("--budget {:?}: {e}", args.budget))?;
    let argvs: Vec<Vec<String>> = args
        .commands
        .iter()
        .map(|c| perflab_exec::split_words(c).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    if budget.is_zero() {
        bail!("--budget must be more than zero");
    }
    // Every command must exist before any of the budget is spent.
    if let Some(a) = argvs
        .iter()
        .find(|a| perflab_profile::elf::resolve_program(&a[0]).is_none())
    {
        bail!(
            "{}: no such program (on PATH or as a path): nothing was profiled",
            a[0]
        );
    }
    // Read before anything is profiled: a bad baseline fails at once, and its files are read
    // before this scan's outputs (perhaps in the same directory) replace them.
    let baseline = args
        .baseline
        .as_ref()
        .map(|b| load_baseline(b, store))
        .transpose()?;
    let share = budget.as_secs_f64() / argvs.len() as f64;
    let mut failures: Vec<String> = Vec::new();
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut overall = Overall::default();
    let mut summaries = Vec::new();
    for (i, (argv, line)) in argvs.iter().zip(&args.commands).enumerate() {
        let dir = scratch.path().join(i.to_string());
        std::fs::create_dir_all(&dir)?;
        let profiled = profile_command(argv, &args.profile, &dir, Some(share), Stderr)?;
        let prefix = format!("{}-", i + 1);
        let s = write_outputs(&args.output_dir, &prefix, line, &profiled, &args.profile)?;
        failures.extend(profiled.failure(line));
        if let Some(note) = overall.add(&profiled.cpu.profile, &s, line) {
            eprintln!("note: {note}");
        }
        summaries.push(s);
        if super::interrupt_flag().load(std::sync::atomic::Ordering::SeqCst) {
            eprintln!("note: stopped by Ctrl-C: the targets after {line} were not profiled");
            break;
        }
    }
    let (mut all, outputs) = overall.summary(args.profile.top)?;
    let files = |name: &str| args.output_dir.join(name);
    for f in outputs {
        output::write_atomic(&files(&f.name), &f.bytes)?;
        all.files
            .insert(f.role, files(&f.name).display().to_string());
    }
    if let Some(base) = &baseline {
        if let Some(svg) = overall.against(&mut all, base, args.profile.top)? {
            output::write_atomic(&files("diff-flamegraph.svg"), &svg)?;
            let path = files("diff-flamegraph.svg").display().to_string();
            all.files.insert("diff_flamegraph".into(), path);
        }
    }
    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.command = args.commands.clone();
    run.labels.insert("mode".into(), "scan".into());
    for s in &summaries {
        run.benchmarks.push(benchmark_of(s));
    }
    run.profiles = summaries;
    run.profiles.push(all);
    super::finish_run(run, &args.output, store, |r| {
        super::text(perflab_report::Document::Scan(r))
    })?;
    if let Some(f) = failures.first() {
        let more = failures.len() - 1;
        if more > 0 {
            bail!("{f} (and {more} more target(s) failed)");
        }
        bail!("{f}");
    }
    Ok(Outcome::Ok)
}

/// The baseline: a profile file, or a stored run whose profile file still exists, or failing
/// that the stored top table.
fn load_baseline(reference: &str, store: Option<&Path>) -> Result<Baseline> {
    if let Some(b) = Baseline::from_file(Path::new(reference)) {
        return Ok(b);
    }
    let r = context::resolve(reference, store, None)?;
    let kind = r.run.kind.as_str();
    let label = r.label.clone();
    Baseline::from_run(r.label, &r.run)
        .with_context(|| format!("{label} has no profile to compare with (it is a {kind} run)"))
}
