//! `perflab compare A..B -- CMD` and `compare --aa -- CMD`: two revisions checked out and built
//! (perflab-exec's git worktrees), measured alternately in rounds (its scheduler), recorded as
//! one run of kind `ab`, then compared like any two inputs.

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_analysis::{compare, detectable, CompareOptions, Comparison};
use perflab_exec::ab::{build, interleave, measure_once, schedule, Measure, Order, Side};
use perflab_exec::git::{sides, RevRange};

use crate::cli::CompareArgs;
use crate::config::Config;
use crate::context;

/// What the rounds gave: the comparison, and a note when Ctrl-C cut them short.
pub(crate) struct AbOutcome {
    pub(crate) comparison: Comparison,
    pub(crate) interrupted: Option<String>,
}

/// The command each round runs: after `--`, else `[bench] command`, else the project's own
/// benchmarks, one count per round (the rounds are the repetitions).
fn bench_command(given: &[String], config: &Config) -> Result<Vec<String>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    if let Some(c) = &config.bench_command {
        return Ok(perflab_exec::split_words(c)?);
    }
    let Ok(p) = super::modes::project() else {
        bail!("no benchmark command: give one after -- (`compare main..HEAD -- go test -bench .`) or set [bench] command in perflab.toml (`perflab init`)");
    };
    let scope = perflab_exec::assistant::Scope::Project;
    let argv = (p.ecosystem).bench(&p.root, &scope, perflab_exec::assistant::Depth::Quick);
    crate::term::info!(
        "perflab: the project's benchmarks ({}): {}",
        p.ecosystem.name(),
        perflab_exec::join_words(&argv)
    );
    Ok(argv)
}

/// Build both sides (one for --aa) with `--build` or `[build] command`; a side built before
/// with the same command is reused.
fn build_sides(
    a: &crate::cli::AbArgs,
    config: &Config,
    sides: &perflab_exec::git::Sides,
    stop: &std::sync::atomic::AtomicBool,
) -> Result<()> {
    let Some(cmd) = a.build.as_ref().or(config.build_command.as_ref()) else {
        return Ok(());
    };
    let both = [&sides.base, &sides.current];
    for side in if a.aa { &both[..1] } else { &both[..] } {
        crate::term::info!("building {} in {}", side.label(), side.dir.display());
        let note = "worktrees stay under .perflab/worktrees; a side that built is reused";
        if !build(side, cmd, stop).context(note)? {
            crate::term::info!("{}: built before with this command, reused", side.label());
        }
    }
    Ok(())
}

fn record(
    run: &perflab_model::Run,
    store: Option<&Path>,
    rounds: usize,
    order: Order,
) -> Result<()> {
    let s = context::open_store(store)?;
    s.save_run(run)
        .context("cannot record the run in the history")?;
    crate::term::info!(
        "recorded run {} (kind ab, {rounds} rounds, order {})",
        run.id,
        order.describe()
    );
    Ok(())
}

pub(crate) fn run(
    args: &CompareArgs,
    mut opts: CompareOptions,
    store: Option<&Path>,
    config: &Config,
) -> Result<AbOutcome> {
    let a = &args.ab;
    if a.rounds < 2 {
        bail!(
            "--rounds {}: each side needs at least 2 samples to be tested",
            a.rounds
        );
    }
    let command = bench_command(&a.command, config)?;
    let format = context::parse_format(args.input_format.as_deref())?;
    let range = match (&args.base, a.aa) {
        (Some(_), true) => bail!("--aa measures this checkout against itself: give no BASE"),
        (Some(b), false) => Some(RevRange::parse(b).with_context(|| format!("{b:?} is not A..B"))?),
        (None, _) => None,
    };
    let sides = sides(&std::env::current_dir()?, range.as_ref())?;
    let stop = super::interrupt_flag();
    build_sides(a, config, &sides, stop)?;
    let order = Order::from_flags(&a.order, a.seed)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let how = if a.time {
        Measure::Time
    } else {
        Measure::Harness {
            format,
            scratch: scratch.path(),
        }
    };
    let labels = if a.aa {
        ["A".to_string(), "B".to_string()]
    } else {
        [sides.base.label(), sides.current.label()]
    };
    let mut tool = None;
    let plan = schedule(a.rounds, order);
    let mut bar = crate::term::Progress::new("compare", Some(2 * a.rounds as u64));
    let mut done = 0u64;
    let measured = interleave(&plan, a.warmup, stop, |step| -> Result<_> {
        let side = if step.side == Side::Base {
            &sides.base
        } else {
            &sides.current
        };
        let what = if step.warmup { "warm-up" } else { "round" };
        let message = format!(
            "{what} {}/{}: {}",
            step.round, step.of, labels[step.side as usize]
        );
        bar.update(done, &message);
        let (benchmarks, t) = measure_once(side, &command, how, a.show_output, stop)?;
        tool = t.or(tool.take());
        done += u64::from(!step.warmup);
        Ok(benchmarks)
    });
    drop(bar);
    let mut measured = measured?;
    if measured.rounds == 0 {
        bail!("interrupted before a round finished: nothing to compare");
    }
    config.apply_directions(&mut measured.base);
    config.apply_directions(&mut measured.current);
    [opts.base_label, opts.current_label] = labels;
    let mut comparison = compare(&measured.base, &measured.current, &opts)?;
    if a.aa {
        comparison.detectable = detectable(&measured.base, &measured.current, &comparison, &opts);
    }
    let rounds = measured.rounds;
    let mut run = measured.into_run(&sides, order);
    run.command = command;
    run.tool = tool.unwrap_or(run.tool);
    run.labels.insert(
        "ab".into(),
        args.base.clone().unwrap_or_else(|| "A/A".into()),
    );
    run.finished_at = perflab_model::now_rfc3339();
    if !a.no_store {
        record(&run, store, rounds, order)?;
    }
    Ok(AbOutcome {
        comparison,
        interrupted: run.interrupted.then(|| {
            format!(
                "interrupted after {rounds} of {} rounds: the comparison above uses them",
                a.rounds
            )
        }),
    })
}
