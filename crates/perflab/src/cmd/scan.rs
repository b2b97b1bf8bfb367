//! `perflab scan`: profile several commands within one time budget; report the hottest functions
//! per target and overall, and with a baseline what got hotter.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_exec::assistant::{HarnessPlan, Scope};
use perflab_model::{Run, RunKind};
use perflab_profile::record::CommandOutput::Stderr;
use perflab_profile::scan::{Baseline, Overall};
use perflab_profile::session::{benchmark_of, Profiled};

use super::profile::{profile_command, write_outputs};
use crate::cli::ScanArgs;
use crate::{context, output, Outcome};

/// One thing to profile: a command line the user gave, or a harness run the assistant planned
/// for a scope of the project.
enum Target {
    Command(Vec<String>, String),
    Harness(HarnessPlan),
}

impl Target {
    fn label(&self) -> String {
        match self {
            Target::Command(_, line) => line.clone(),
            Target::Harness(p) => p.package.clone(),
        }
    }
}

/// The targets: the commands given, or with none (or one that is no program but names a
/// scope of the detected project), the project's benchmarks in that scope.
fn targets(args: &ScanArgs, scratch: &Path) -> Result<Vec<Target>> {
    let argvs: Vec<Vec<String>> = args
        .commands
        .iter()
        .map(|c| perflab_exec::split_words(c).map_err(anyhow::Error::from))
        .collect::<Result<_>>()?;
    let missing = argvs
        .iter()
        .find(|a| perflab_profile::elf::resolve_program(&a[0]).is_none());
    let scope_text = match (args.commands.as_slice(), missing) {
        ([], _) => Some(String::new()),
        ([one], Some(_)) if super::modes::project().is_ok() => Some(one.clone()),
        _ => None,
    };
    if let Some(text) = scope_text {
        let project = super::modes::project()?;
        let scope = if text.is_empty() {
            Scope::Project
        } else {
            super::modes::scope(&project, &text)?
        };
        let depth = super::modes::depth(&args.depth)?;
        let plans = project
            .ecosystem
            .profile(&project.root, &scope, depth, scratch, false);
        if plans.is_empty() {
            bail!("{} has no benchmarks to profile", scope.describe());
        }
        crate::term::info!(
            "perflab: scanning {} ({}): {} harness run(s)",
            scope.describe(),
            project.ecosystem.name(),
            plans.len()
        );
        return Ok(plans.into_iter().map(Target::Harness).collect());
    }
    // Every command must exist before any of the budget is spent.
    if let Some(a) = missing {
        bail!(
            "{}: no such program (on PATH or as a path): nothing was profiled",
            a[0]
        );
    }
    Ok(argvs
        .into_iter()
        .zip(args.commands.iter().cloned())
        .map(|(a, l)| Target::Command(a, l))
        .collect())
}

/// Profile one target within `share` seconds.
fn profile_target(target: &Target, args: &ScanArgs, dir: &Path, share: f64) -> Result<Profiled> {
    match target {
        Target::Command(argv, _) => Ok(profile_command(
            argv,
            &args.profile,
            dir,
            Some(share),
            Stderr,
        )?),
        Target::Harness(plan) => Ok(profile_plan(plan, &args.profile, dir, share)?.profiled),
    }
}

/// What a planned harness run gave: the CPU (and allocation) profile, the other profiles its
/// harness wrote (block, mutex), and what it printed.
pub(super) struct PlanRun {
    pub(super) profiled: Profiled,
    pub(super) extra: Vec<(String, perflab_profile::Profile)>,
    pub(super) output: perflab_exec::HarnessOutput,
}

/// A planned harness run: one whose harness writes its own profiles (Go's -cpuprofile and
/// -memprofile) is run and its files read; any other is built first, then profiled from
/// outside as `perflab profile` would.
pub(super) fn profile_plan(
    plan: &HarnessPlan,
    options: &crate::cli::ProfileOptions,
    dir: &Path,
    share: f64,
) -> Result<PlanRun> {
    let stop = super::interrupt_flag();
    if let Some(build) = &plan.build {
        perflab_exec::run_harness(build, false, stop).with_context(|| {
            format!(
                "building the benchmarks ({})",
                perflab_exec::join_words(build)
            )
        })?;
    }
    if plan.profiles.is_empty() {
        let out = dir.join("harness.out");
        let profiled = profile_command(
            &plan.argv,
            options,
            dir,
            Some(share),
            perflab_profile::record::CommandOutput::File(out.clone()),
        )?;
        let stdout = std::fs::read(&out)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let output = perflab_exec::HarnessOutput {
            stdout,
            stderr: String::new(),
            interrupted: stop.load(std::sync::atomic::Ordering::SeqCst),
        };
        return Ok(PlanRun {
            profiled,
            extra: Vec::new(),
            output,
        });
    }
    let output =
        perflab_exec::run_harness_with(&plan.argv, &plan.env, plan.cwd.as_deref(), false, stop)?;
    if output.interrupted {
        // A Go test binary stopped by SIGINT exits before it writes its profiles.
        bail!(
            "stopped by Ctrl-C while {}'s benchmarks ran: nothing was profiled there",
            plan.package
        );
    }
    let read = |kind: &str| -> Result<Option<perflab_profile::Profile>> {
        let Some((_, path)) = plan.profiles.iter().find(|(k, _)| k == kind) else {
            return Ok(None);
        };
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(perflab_profile::read_path(path)?))
    };
    let Some(cpu) = read("cpu")? else {
        bail!(
            "{} wrote no CPU profile{}",
            perflab_exec::join_words(&plan.argv),
            if output.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
    };
    let mut profiled = Profiled::from_file(cpu);
    if let Some(mut alloc) = read("alloc")? {
        // Where the allocations come from, not what is live at the end.
        if alloc.type_index("alloc_space").is_some() {
            alloc.default_type = Some("alloc_space".into());
        }
        profiled.alloc = Profiled::from_file(alloc).alloc;
    }
    let mut extra = Vec::new();
    for kind in ["block", "mutex"] {
        if let Some(p) = read(kind)? {
            extra.push((kind.to_string(), p));
        }
    }
    Ok(PlanRun {
        profiled,
        extra,
        output,
    })
}

fn interrupted() -> bool {
    super::interrupt_flag().load(std::sync::atomic::Ordering::SeqCst)
}

pub(crate) fn run(args: ScanArgs, store: Option<&Path>) -> Result<Outcome> {
    let budget = perflab_model::parse_duration(&args.budget)
        .map_err(|e| anyhow::anyhow!("--budget {:?}: {e}", args.budget))?;
    if budget.is_zero() {
        bail!("--budget must be more than zero");
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let targets = targets(&args, scratch.path())?;
    // Read before anything is profiled: a bad baseline fails at once, and its files are read
    // before this scan's outputs (perhaps in the same directory) replace them.
    let baseline = args
        .baseline
        .as_ref()
        .map(|b| load_baseline(b, store))
        .transpose()?;
    let share = budget.as_secs_f64() / targets.len() as f64;
    let mut failures: Vec<String> = Vec::new();
    let mut overall = Overall::default();
    let mut summaries = Vec::new();
    let mut lines = Vec::new();
    let mut bar = crate::term::Progress::new("scan", Some(targets.len() as u64));
    for (i, target) in targets.iter().enumerate() {
        let line = target.label();
        bar.update(i as u64, &line);
        let dir = scratch.path().join(format!("t{i}"));
        std::fs::create_dir_all(&dir)?;
        let profiled = match profile_target(target, &args, &dir, share) {
            Ok(p) => p,
            // Ctrl-C during a later target: what the earlier ones gave is kept.
            Err(e) if !summaries.is_empty() && interrupted() => {
                bar.println(&format!("note: {e:#}"));
                break;
            }
            Err(e) => return Err(e),
        };
        let prefix = format!("{}-", i + 1);
        let s = write_outputs(&args.profile_dir, &prefix, &line, &profiled, &args.profile)?;
        failures.extend(profiled.failure(&line));
        if let Some(note) = overall.add(&profiled.cpu.profile, &s, &line) {
            bar.println(&format!("note: {note}"));
        }
        summaries.push(s);
        lines.push(line.clone());
        if interrupted() {
            bar.println(&format!(
                "note: stopped by Ctrl-C: the targets after {line} were not profiled"
            ));
            break;
        }
    }
    drop(bar);
    let (mut all, outputs) = overall.summary(args.profile.top)?;
    let files = |name: &str| args.profile_dir.join(name);
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
    run.command = if args.commands.is_empty() {
        lines.clone()
    } else {
        args.commands.clone()
    };
    run.labels.insert("mode".into(), "scan".into());
    run.interrupted = interrupted();
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
