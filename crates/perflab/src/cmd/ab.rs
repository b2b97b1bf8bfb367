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

/// How many rounds to measure, from the flags and `[compare]`.
struct Plan {
    rounds: usize,
    max_rounds: usize,
    budget: Option<std::time::Duration>,
    /// The budget as the user wrote it.
    budget_text: String,
}

/// The fewest rounds a budget may leave: fewer cannot tell much.
const FEWEST_ROUNDS: usize = 3;

impl Plan {
    fn of(a: &crate::cli::AbArgs, config: &Config) -> Result<Plan> {
        let rounds = a.rounds.or(config.ab.rounds).unwrap_or(10);
        if rounds < 2 {
            bail!("--rounds {rounds}: each side needs at least 2 samples to be tested");
        }
        let max_rounds = a.max_rounds.or(config.ab.max_rounds).unwrap_or(4 * rounds);
        if max_rounds < rounds {
            bail!("--max-rounds {max_rounds} is below --rounds {rounds}");
        }
        let (budget, budget_text) = match &a.budget {
            Some(b) => (
                Some(perflab_model::parse_duration(b).map_err(|e| {
                    anyhow::anyhow!("--budget {b:?}: {e} (write it as 10m, 90s or 1h)")
                })?),
                b.clone(),
            ),
            None => match &config.ab.budget {
                Some((d, t)) => (Some(*d), t.clone()),
                None => (None, String::new()),
            },
        };
        if budget.is_some_and(|b| b.is_zero()) {
            bail!("--budget must be more than 0");
        }
        Ok(Plan {
            rounds,
            max_rounds,
            budget,
            budget_text,
        })
    }

    /// The rounds to measure first and at most, so that the compare ends within the budget.
    fn fit(
        &self,
        round: std::time::Duration,
        spent: std::time::Duration,
        done: usize,
    ) -> Result<(usize, usize)> {
        let Some(budget) = self.budget else {
            return Ok((self.rounds, self.max_rounds));
        };
        let per = round.as_secs_f64().max(1e-3);
        let left = budget.saturating_sub(spent).as_secs_f64();
        let fits = done + (left / per).floor() as usize;
        if fits < FEWEST_ROUNDS {
            bail!(
                "--budget {}: a round takes about {} (both sides), so {fits} round(s) fit and at least {FEWEST_ROUNDS} are needed; raise --budget or make the benchmarks shorter (-benchtime, fewer benchmarks)",
                self.budget_text,
                text(round)
            );
        }
        Ok((self.rounds.min(fits), self.max_rounds.min(fits)))
    }

    fn announce(&self, round: std::time::Duration, first: usize, most: usize) {
        let span = |n: usize| text(round.mul_f64(n as f64));
        let budget = if self.budget.is_some() {
            format!(" (budget {})", self.budget_text)
        } else {
            String::new()
        };
        crate::term::info!(
            "a round takes about {} (both sides): {first} rounds ≈ {}, up to {most} ≈ {} while rows stay inconclusive{budget}",
            text(round),
            span(first),
            span(most)
        );
    }
}

/// `2m3s`, `12.3s`.
fn text(d: std::time::Duration) -> String {
    perflab_model::Unit::seconds().format(d.as_secs_f64())
}

/// A round's time: the latest run of each side, added.
fn round_time(timings: &[(Side, std::time::Duration)]) -> std::time::Duration {
    let last = |s: Side| {
        timings
            .iter()
            .rev()
            .find(|t| t.0 == s)
            .map_or(std::time::Duration::ZERO, |t| t.1)
    };
    last(Side::Base) + last(Side::Current)
}

/// How many rows the rounds so far leave inconclusive.
fn inconclusive_after(
    measured: &perflab_exec::ab::Interleaved,
    config: &Config,
    opts: &CompareOptions,
) -> Result<usize> {
    let (mut base, mut current) = (measured.base.clone(), measured.current.clone());
    config.apply_directions(&mut base);
    config.apply_directions(&mut current);
    Ok(compare(&base, &current, opts)?.gate.inconclusive)
}

pub(crate) fn run(
    args: &CompareArgs,
    mut opts: CompareOptions,
    store: Option<&Path>,
    config: &Config,
) -> Result<AbOutcome> {
    let a = &args.ab;
    let mut plan = Plan::of(a, config)?;
    if a.measure == "instructions" {
        // Counts do not vary: three rounds show it, and more add nothing but valgrind's time.
        if a.rounds.is_none() && config.ab.rounds.is_none() {
            plan.rounds = 3;
        }
        if a.max_rounds.is_none() && config.ab.max_rounds.is_none() {
            plan.max_rounds = plan.rounds;
        }
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
    let go = match (a.measure.as_str(), a.time) {
        ("instructions", false) => Some(
            perflab_exec::instructions::GoBench::parse(&command)?.ok_or_else(|| {
                anyhow::anyhow!(
                    "--measure instructions counts Go benchmarks per op (`-- go test -bench . ./pkg`), or the whole process with --time; a gungraun or iai-callgrind harness (`cargo bench`) counts by itself and is read without --measure"
                )
            })?,
        ),
        _ => None,
    };
    let iterations = perflab_exec::instructions::Iterations::default();
    let how = if let Some(go) = &go {
        Measure::GoInstructions {
            go,
            scratch: scratch.path(),
            iterations: &iterations,
        }
    } else if a.measure == "instructions" {
        Measure::Instructions
    } else if a.time {
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
    let bar = std::cell::RefCell::new(crate::term::Progress::new(
        "compare",
        Some(2 * plan.rounds as u64),
    ));
    let mut done = 0u64;
    // Round numbers shown continue across the batches below.
    let offset = std::cell::Cell::new(0usize);
    let target = std::cell::Cell::new(plan.rounds);
    let timings: std::cell::RefCell<Vec<(Side, std::time::Duration)>> = Default::default();
    let mut step = |step: perflab_exec::ab::Step| -> Result<_> {
        let side = if step.side == Side::Base {
            &sides.base
        } else {
            &sides.current
        };
        let (what, round, of) = if step.warmup {
            ("warm-up", step.round, step.of)
        } else {
            ("round", offset.get() + step.round, target.get())
        };
        let message = format!("{what} {round}/{of}: {}", labels[step.side as usize]);
        bar.borrow_mut().update(done, &message);
        let began = std::time::Instant::now();
        let (benchmarks, t) = measure_once(side, &command, how, a.show_output, stop)?;
        timings.borrow_mut().push((step.side, began.elapsed()));
        tool = t.or(tool.take());
        done += u64::from(!step.warmup);
        Ok(benchmarks)
    };
    let started = std::time::Instant::now();
    let mut measured = interleave(&[], a.warmup, stop, &mut step)?;
    // A budget needs a round's time: from the warm-up, else from a first round.
    let all = schedule(plan.max_rounds, order);
    if plan.budget.is_some() && !measured.interrupted {
        if timings.borrow().is_empty() {
            let first = interleave(&all[..2], 0, stop, &mut step)?;
            measured.extend(first);
        }
        let round = round_time(&timings.borrow());
        let (first, most) = plan.fit(round, started.elapsed(), measured.rounds)?;
        target.set(first);
        plan.announce(round, first, most);
        plan.max_rounds = most;
    }
    loop {
        let goal = target.get();
        if !measured.interrupted && measured.rounds < goal {
            offset.set(measured.rounds);
            let batch = interleave(&all[2 * measured.rounds..2 * goal], 0, stop, &mut step)?;
            measured.extend(batch);
            continue;
        }
        // Decide, or measure more while rows stay inconclusive.
        if measured.interrupted || goal >= plan.max_rounds {
            break;
        }
        let undecided = inconclusive_after(&measured, config, &opts)?;
        if undecided == 0 {
            break;
        }
        let mut more = plan.rounds.min(plan.max_rounds - goal);
        if let Some(budget) = plan.budget {
            let per = round_time(&timings.borrow()).as_secs_f64().max(1e-3);
            let left = budget.saturating_sub(started.elapsed()).as_secs_f64();
            more = more.min((left / per).floor() as usize);
        }
        if more == 0 {
            crate::term::info!(
                "{undecided} row(s) still inconclusive after {goal} rounds: the budget has no room for more"
            );
            break;
        }
        crate::term::info!(
            "{undecided} row(s) inconclusive after {goal} rounds: {more} more ({} of at most {})",
            goal + more,
            plan.max_rounds
        );
        target.set(goal + more);
        bar.borrow_mut().set_total(2 * (goal + more) as u64);
    }
    let _ = step;
    drop(bar);
    let target = target.get();
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
    if a.measure == "instructions" {
        run.labels.insert(
            "counter".into(),
            perflab_exec::instructions::counter_description(),
        );
    }
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
            format!("interrupted after {rounds} of {target} rounds: the comparison above uses them")
        }),
    })
}
