//! `perflab run`: time commands (perflab-exec), then compare each with the first.

use std::path::Path;
use std::time::Duration;

use anyhow::Result;
use perflab_exec::{expand_params, sweep, time_command, Launch, Progress, RunOptions};
use perflab_model::{Run, RunKind, Unit};

use crate::cli::RunArgs;
use crate::Outcome;

/// Parse a duration flag, with anyhow context.
pub(crate) fn parse_duration(s: &str) -> Result<Duration> {
    perflab_model::parse_duration(s).map_err(|e| anyhow::anyhow!(e))
}

/// `run --measure instructions`: each command counted under valgrind `--runs` times (default
/// 3: the count is deterministic, the runs show it).
fn count_instructions(
    args: &RunArgs,
    specs: &[perflab_exec::CommandSpec],
    run: &mut Run,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    use perflab_exec::instructions;
    let runs = args.runs.unwrap_or(3).max(1);
    run.labels
        .insert("counter".into(), instructions::counter_description());
    for (i, spec) in specs.iter().enumerate() {
        let rendered = spec.rendered();
        let argv = match &args.shell {
            Some(sh) => vec![sh.clone(), "-c".into(), rendered.clone()],
            None => perflab_exec::split_words(&rendered)?,
        };
        let mut bar = crate::term::Progress::new(&rendered, Some(runs as u64));
        let mut counts = Vec::new();
        for k in 0..runs {
            if stop.load(std::sync::atomic::Ordering::SeqCst) {
                run.interrupted = true;
                break;
            }
            bar.update(k as u64, "counting instructions under valgrind");
            match instructions::count(&argv, None, &[], args.show_output, stop) {
                Ok(n) => counts.push(n as f64),
                Err(_) if stop.load(std::sync::atomic::Ordering::SeqCst) => {
                    run.interrupted = true;
                    break;
                }
                Err(e) => return Err(e.into()),
            }
        }
        drop(bar);
        if !counts.is_empty() {
            let name = args
                .command_name
                .get(i)
                .cloned()
                .unwrap_or_else(|| spec.template.clone());
            let mut b = perflab_model::Benchmark::new(name);
            b.params = spec.params.clone();
            b.metrics.push(perflab_model::Metric::new(
                instructions::METRIC,
                Unit::count(),
                counts,
            ));
            run.benchmarks.push(b);
        }
        if run.interrupted {
            break;
        }
    }
    Ok(())
}

pub(crate) fn run(args: RunArgs, store: Option<&Path>) -> Result<Outcome> {
    let opts = RunOptions {
        warmup: args.warmup,
        runs: args.runs,
        min_runs: args.min_runs,
        max_runs: args.max_runs,
        min_time: parse_duration(&args.min_time)?,
        prepare: args.prepare.clone(),
        launch: match &args.shell {
            Some(sh) => Launch::Shell(sh.clone()),
            None => Launch::Direct,
        },
        ignore_failure: args.ignore_failure,
        show_output: args.show_output,
    };
    opts.validate()?;
    let params = sweep(
        args.parameter_scan.as_deref(),
        args.parameter_step_size,
        &args.parameter_list,
    )?;
    let specs = expand_params(&args.commands, &params);
    let stop = super::interrupt_flag();
    let mut run = Run::new(RunKind::Run);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    // The kernel charges a child with the memory it had before exec, which for a spawned
    // child is perflab's own: measure that floor once so tiny commands are not misreported.
    let floor = perflab_exec::rss_floor();
    run.labels
        .insert("rss_floor_bytes".into(), floor.to_string());
    let mut notes = Vec::new();
    if args.measure == "instructions" {
        count_instructions(&args, &specs, &mut run, stop)?;
        super::finish_run(run, &args.output, store, |run| {
            super::text(perflab_report::Document::Timing(run, &[]))
        })?;
        return Ok(Outcome::Ok);
    }
    for (i, spec) in specs.iter().enumerate() {
        let rendered = spec.rendered();
        let name = args
            .command_name
            .get(i)
            .cloned()
            .unwrap_or_else(|| spec.template.clone());
        let mut bar = crate::term::Progress::new(&rendered, Some(0));
        let mut progress = |p: Progress| match p {
            Progress::Warmup { done, total } => {
                bar.set_total(total as u64);
                bar.update(done as u64, "warm-up");
            }
            Progress::Run { done, total, wall } => {
                bar.set_total(total as u64);
                let last = Unit::seconds().format(wall.as_secs_f64());
                bar.update(done as u64, &format!("runs, last {last}"));
            }
        };
        let timed = time_command(spec, name, &opts, stop, &mut progress);
        drop(bar);
        let timed = timed?;
        if let Some(b) = timed.benchmark {
            notes.push(timed.warnings);
            run.benchmarks.push(b);
        }
        if timed.interrupted {
            run.interrupted = true;
            break;
        }
    }
    super::finish_run(run, &args.output, store, |run| {
        super::text(perflab_report::Document::Timing(run, &notes))
    })?;
    Ok(Outcome::Ok)
}
