//! `perflab compare A..B -- CMD` and `compare --aa -- CMD`: two revisions checked out and built
//! (perflab-exec's git worktrees), measured alternately in rounds (its scheduler), recorded as
//! one run of kind `ab`, then compared like any two inputs.

use std::io::IsTerminal as _;
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
    let command = match (&a.command[..], &config.bench_command) {
        ([], Some(c)) => perflab_exec::split_words(c)?,
        // The project's own benchmarks, one count per round (the rounds are the repetitions).
        ([], None) => match super::modes::project() {
            Ok(p) => {
                let argv = p.ecosystem.bench(&p.root, &perflab_exec::assistant::Scope::Project, perflab_exec::assistant::Depth::Quick);
                eprintln!("perflab: the project's benchmarks ({}): {}", p.ecosystem.name(), perflab_exec::join_words(&argv));
                argv
            }
            Err(_) => bail!("no benchmark command: give one after -- (`compare main..HEAD -- go test -bench .`) or set [bench] command in perflab.toml (`perflab init`)"),
        },
        (c, _) => c.to_vec(),
    };
    let format = context::parse_format(args.input_format.as_deref())?;
    let range = match (&args.base, a.aa) {
        (Some(_), true) => bail!("--aa measures this checkout against itself: give no BASE"),
        (Some(b), false) => Some(RevRange::parse(b).with_context(|| format!("{b:?} is not A..B"))?),
        (None, _) => None,
    };
    let sides = sides(&std::env::current_dir()?, range.as_ref())?;
    let stop = super::interrupt_flag();
    if let Some(cmd) = a.build.as_ref().or(config.build_command.as_ref()) {
        let both = [&sides.base, &sides.current];
        for side in if a.aa { &both[..1] } else { &both[..] } {
            eprintln!("building {} in {}", side.label(), side.dir.display());
            let note = "worktrees stay under .perflab/worktrees; a side that built is reused";
            if !build(side, cmd, stop).context(note)? {
                eprintln!("{}: built before with this command, reused", side.label());
            }
        }
    }
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
    let (labels, tty) = if a.aa {
        (
            ["A".to_string(), "B".to_string()],
            std::io::stderr().is_terminal(),
        )
    } else {
        (
            [sides.base.label(), sides.current.label()],
            std::io::stderr().is_terminal(),
        )
    };
    let mut tool = None;
    let plan = schedule(a.rounds, order);
    let measured = interleave(&plan, a.warmup, stop, |step| -> Result<_> {
        let side = if step.side == Side::Base {
            &sides.base
        } else {
            &sides.current
        };
        let what = if step.warmup { "warm-up" } else { "round" };
        let status = format!(
            "{what} {}/{}: {}",
            step.round, step.of, labels[step.side as usize]
        );
        if tty {
            eprint!("\r\x1b[2K{status}");
        } else {
            eprintln!("{status}");
        }
        let (benchmarks, t) = measure_once(side, &command, how, a.show_output, stop)?;
        tool = t.or(tool.take());
        Ok(benchmarks)
    });
    if tty {
        eprint!("\r\x1b[2K");
    }
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
        let s = context::open_store(store)?;
        s.save_run(&run)
            .context("cannot record the run in the history")?;
        eprintln!(
            "recorded run {} (kind ab, {rounds} rounds, order {})",
            run.id,
            order.describe()
        );
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
