//! `perflab bench -- CMD`: run a harness, read what it printed; with `--profile`, profile it
//! while it runs and attach the profile to the run.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_exec::HarnessOutput;
use perflab_ingest::harness::{arrange, read_results};
use perflab_model::{Run, RunKind};

use perflab_profile::session::Profiled;

use super::profile::{profile_command, write_outputs};
use crate::cli::BenchArgs;
use crate::config::Config;
use crate::context;
use crate::Outcome;

pub(crate) fn run(mut args: BenchArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    // With a scope (or nothing configured), the assistant: the project's own benchmarks in
    // that scope, then a comparison with the baseline.
    let assistant =
        args.scope.is_some() || (args.command.is_empty() && config.bench_command.is_none());
    if let Some(text) = &args.scope {
        let project = super::modes::project()?;
        let scope = super::modes::scope(&project, text)?;
        let depth = super::modes::depth(&args.depth)?;
        args.command = project.ecosystem.bench(&project.root, &scope, depth);
        crate::term::info!(
            "perflab: {} ({}): {}",
            scope.describe(),
            project.ecosystem.name(),
            shell_line(&args.command)
        );
    } else if args.command.is_empty() {
        match &config.bench_command {
            Some(c) => args.command = perflab_exec::split_words(c)?,
            None => {
                let Ok(project) = super::modes::project() else {
                    bail!("no harness command: give one after -- (`perflab bench -- go test -bench .`), name benchmarks (`perflab bench NAME`) or set [bench] command in perflab.toml (`perflab init`)");
                };
                let depth = super::modes::depth(&args.depth)?;
                let scope = perflab_exec::assistant::Scope::Project;
                args.command = project.ecosystem.bench(&project.root, &scope, depth);
                crate::term::info!(
                    "perflab: {} ({}): {}",
                    scope.describe(),
                    project.ecosystem.name(),
                    shell_line(&args.command)
                );
            }
        }
    }
    let baseline = args.baseline.clone();
    let json = args.output.json;
    let compare = assistant || baseline.is_some();
    // One count per benchmark cannot tell a change from noise: shown, not gated.
    let quick = args.scope.is_some() && args.depth == "quick";
    let recorded = record(args, store)?;
    if !compare {
        return Ok(Outcome::Ok);
    }
    let Some((base, label)) = super::modes::base_for(store, baseline.as_deref(), &recorded)? else {
        return Ok(Outcome::Ok);
    };
    let outcome = super::modes::compare_with(&base, &label, &recorded, config, json)?;
    if quick {
        crate::term::info!("note: --depth quick runs each benchmark once: the comparison is shown, not gated (--depth standard for a verdict)");
        return Ok(Outcome::Ok);
    }
    Ok(outcome)
}

/// `bench --measure instructions`: each Go benchmark's instructions per op, counted once.
fn record_instructions(args: &BenchArgs, scratch: &Path, store: Option<&Path>) -> Result<Run> {
    use perflab_exec::instructions;
    if args.profile {
        bail!(
            "--measure instructions runs the benchmarks under valgrind: it cannot also --profile"
        );
    }
    let go = instructions::GoBench::parse(&args.command)?.ok_or_else(|| {
        anyhow::anyhow!(
            "--measure instructions counts Go benchmarks per op (`-- go test -bench . ./pkg`); for whole commands use `perflab run --measure instructions`; a gungraun or iai-callgrind harness (`cargo bench`) counts by itself and is read without --measure"
        )
    })?;
    let mut spinner = crate::term::Progress::new("bench", None);
    spinner.update(0, "counting instructions under valgrind");
    let counted = instructions::count_go(
        &go,
        &std::env::current_dir()?,
        &scratch.join("bench.test"),
        &instructions::Iterations::default(),
        args.show_output,
        super::interrupt_flag(),
    );
    drop(spinner);
    let mut run = Run::new(RunKind::Bench);
    context::stamp(&mut run);
    run.command = args.command.clone();
    run.labels
        .insert("counter".into(), instructions::counter_description());
    run.benchmarks = counted?;
    run.interrupted = super::interrupt_flag().load(std::sync::atomic::Ordering::SeqCst);
    let kept = run.clone();
    super::finish_run(run, &args.output, store, |r| {
        super::text(perflab_report::Document::Run(r))
    })?;
    Ok(kept)
}

/// A command line as a shell would take it back.
pub(crate) fn shell_line(argv: &[String]) -> String {
    perflab_exec::join_words(argv)
}

/// Run the harness, read and record its results; the run recorded.
fn record(mut args: BenchArgs, store: Option<&Path>) -> Result<Run> {
    let format = context::parse_format(args.input_format.as_deref())?;
    if !args.profile && args.profile_options.chosen() {
        bail!("--alloc, --mode and --call-graph choose how to profile the harness: add --profile");
    }
    let target = args.command.join(" ");
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    if args.measure == "instructions" {
        return record_instructions(&args, scratch.path(), store);
    }
    let root = context::project_root();
    let arranged = arrange(&args.command, scratch.path(), &root, format);
    if let Some(n) = &arranged.note {
        crate::term::info!("note: {n}");
    }
    let plan = perflab_profile::per_iteration::Plan::of(&arranged.argv, args.profile_options.alloc);
    args.profile_options.alloc = plan.whole(); // else per benchmark, after the run
    let since = std::time::SystemTime::now();
    let (harness, profiled) = if args.profile {
        let (h, p) = profiled_harness(&args, &plan.argv(&arranged.argv))?;
        (h, Some(p))
    } else {
        crate::term::detail!("running {}", perflab_exec::join_words(&arranged.argv));
        // A spinner with the elapsed time, unless the harness's own output is shown live.
        let spinner = (!args.show_output).then(|| {
            let mut s = crate::term::Progress::new("bench", None);
            s.update(0, &perflab_exec::join_words(&arranged.argv));
            s
        });
        let h =
            perflab_exec::run_harness(&arranged.argv, args.show_output, super::interrupt_flag());
        drop(spinner);
        (h?, None)
    };
    let parsed = read_results(&arranged, &harness.stdout, &harness.stderr, since)?;
    context::warn_all(&parsed.warnings);
    let mut run = Run::new(RunKind::Bench);
    context::stamp(&mut run);
    run.command = args.command.clone();
    run.tool = parsed.tool;
    run.labels = parsed.labels;
    run.benchmarks = parsed.benchmarks;
    run.interrupted = harness.interrupted;
    let p = &args.profile_options;
    let opts = super::profile::record_options(p, scratch.path(), None)?;
    let plan = plan.unless(run.interrupted);
    let measured = perflab_profile::per_iteration::measure(&plan, &mut run.benchmarks, &opts)?;
    context::warn_all(&measured.notes);
    if let Some(profiled) = profiled {
        let summary = write_outputs(&args.profile_dir, "", &target, &profiled, p)?;
        // The figures were measured under a profiler: say so where compare and report see it.
        run.labels
            .insert("profiler".into(), profiled.cpu.backend.clone());
        run.profiles.push(summary);
    }
    let kept = run.clone();
    super::finish_run(run, &args.output, store, |r| {
        let mut text = super::text(perflab_report::Document::Run(r));
        for s in &r.profiles {
            text.push('\n');
            text.push_str(&super::text(perflab_report::Document::Profile(s)));
        }
        text
    })?;
    Ok(kept)
}

/// The harness under the profiler (perf, else callgrind, else timing only, as `perflab
/// profile` chooses): its stdout goes to a file that is read afterwards, its stderr shows live.
fn profiled_harness(args: &BenchArgs, argv: &[String]) -> Result<(HarnessOutput, Profiled)> {
    for note in perflab_profile::session::harness_notes(argv) {
        crate::term::info!("note: {note}");
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let out = scratch.path().join("harness.out");
    let stop = super::interrupt_flag();
    let profiled = profile_command(
        argv,
        &args.profile_options,
        scratch.path(),
        None,
        perflab_profile::record::CommandOutput::File(out.clone()),
    )?;
    let interrupted = stop.load(std::sync::atomic::Ordering::SeqCst);
    let stdout = std::fs::read(&out)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if args.show_output {
        eprint!("{stdout}");
    }
    if let Some(why) = profiled.failure(&args.command.join(" ")) {
        if !interrupted {
            // The profile of what ran is still worth keeping.
            let _ = write_outputs(
                &args.profile_dir,
                "",
                &args.command.join(" "),
                &profiled,
                &args.profile_options,
            );
            bail!("{why}");
        }
    }
    if let Some(w) = perflab_profile::session::backend_warning(&profiled.cpu.backend) {
        crate::term::warning!("{w}");
    }
    Ok((
        HarnessOutput {
            stdout,
            stderr: String::new(),
            interrupted,
        },
        profiled,
    ))
}
