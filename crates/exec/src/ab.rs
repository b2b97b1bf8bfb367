//! The A/B scheduler: two checkouts built once, then measured alternately in rounds on one
//! machine, so that whatever drifts while they run (a warming CPU, a neighbour's job, a
//! throttled runner) falls on both sides alike instead of on one.
//!
//! Rounds alternate which side goes first (AB BA AB BA…): a steady drift then costs both sides
//! the same, where a fixed AB AB… order hands every B the same head start. `random` orders each
//! round's pair by a seeded coin, a randomised block design.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use perflab_model::Benchmark;

use crate::git::Checkout;
use crate::ExecError;

/// One of the two sides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// A: the base.
    Base,
    /// B: the current side.
    Current,
}

/// How the two runs of a round are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// AB, BA, AB, BA…
    Alternate,
    /// Each round's order drawn from a seeded coin.
    Random {
        /// The seed (printed, so a run can be repeated).
        seed: u64,
    },
}

impl Order {
    /// The order `--order NAME [--seed N]` asks for: `alternate`, or `random` with the seed
    /// (default: from the clock).
    ///
    /// # Errors
    /// An unknown name, or a seed without `random`.
    pub fn from_flags(name: &str, seed: Option<u64>) -> Result<Order, ExecError> {
        match (name, seed) {
            ("random", seed) => Ok(Order::Random {
                seed: seed.unwrap_or_else(|| {
                    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH);
                    now.map_or(0, |d| d.as_nanos() as u64)
                }),
            }),
            ("alternate", None) => Ok(Order::Alternate),
            ("alternate", Some(_)) => Err(ExecError::Options {
                message: "--seed orders rounds at random: add --order random".into(),
            }),
            (other, _) => Err(ExecError::Options {
                message: format!("--order {other:?}: use alternate or random"),
            }),
        }
    }

    /// `alternate`, or `random (seed N)`, as the run records it.
    pub fn describe(self) -> String {
        match self {
            Order::Alternate => "alternate".into(),
            Order::Random { seed } => format!("random (seed {seed})"),
        }
    }
}

/// SplitMix64: a tiny, well-mixed generator; enough for a coin per round, and no dependency.
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The order of `rounds` rounds: `2 × rounds` sides.
pub fn schedule(rounds: usize, order: Order) -> Vec<Side> {
    let mut state = match order {
        Order::Random { seed } => seed,
        Order::Alternate => 0,
    };
    let mut plan = Vec::with_capacity(2 * rounds);
    for round in 0..rounds {
        let base_first = match order {
            Order::Alternate => round % 2 == 0,
            Order::Random { .. } => splitmix(&mut state) & 1 == 0,
        };
        if base_first {
            plan.extend([Side::Base, Side::Current]);
        } else {
            plan.extend([Side::Current, Side::Base]);
        }
    }
    plan
}

/// What the rounds measured.
#[derive(Debug, Clone, Default)]
pub struct Interleaved {
    /// The base side's results, every round's samples together.
    pub base: Vec<Benchmark>,
    /// The current side's results.
    pub current: Vec<Benchmark>,
    /// Rounds in which both sides were measured.
    pub rounds: usize,
    /// Ctrl-C ended the rounds early (what was measured is kept, whole rounds only).
    pub interrupted: bool,
}

/// Where one run of the plan stands, for progress output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// The side about to run.
    pub side: Side,
    /// A warm-up run (its results are dropped).
    pub warmup: bool,
    /// 1-based round (or warm-up) number.
    pub round: usize,
    /// Rounds (or warm-ups) in all.
    pub of: usize,
}

fn absorb_all(into: &mut Vec<Benchmark>, more: Vec<Benchmark>) {
    for b in more {
        match into.iter_mut().find(|x| x.key() == b.key()) {
            Some(x) => x.absorb(b),
            None => into.push(b),
        }
    }
}

/// Run `warmup` alternating warm-ups per side, then the `plan`; `measure` runs one side once
/// and returns its results. A round is kept only when both its sides finished, so an
/// interruption never leaves one side with more samples from a later, different moment.
///
/// # Errors
/// The first error `measure` returns.
pub fn interleave<E>(
    plan: &[Side],
    warmup: usize,
    stop: &AtomicBool,
    mut measure: impl FnMut(Step) -> Result<Vec<Benchmark>, E>,
) -> Result<Interleaved, E> {
    let mut out = Interleaved::default();
    for i in 0..warmup * 2 {
        if stop.load(Ordering::SeqCst) {
            out.interrupted = true;
            return Ok(out);
        }
        let side = if i % 2 == 0 {
            Side::Base
        } else {
            Side::Current
        };
        measure(Step {
            side,
            warmup: true,
            round: i / 2 + 1,
            of: warmup,
        })?;
    }
    let rounds = plan.len() / 2;
    for (r, pair) in plan.chunks(2).enumerate() {
        let mut got = Vec::with_capacity(2);
        for &side in pair {
            if stop.load(Ordering::SeqCst) {
                out.interrupted = true;
                return Ok(out);
            }
            let results = measure(Step {
                side,
                warmup: false,
                round: r + 1,
                of: rounds,
            })?;
            got.push((side, results));
        }
        if stop.load(Ordering::SeqCst) {
            out.interrupted = true;
            return Ok(out);
        }
        for (side, mut results) in got {
            for b in &mut results {
                let n = b.metrics.iter().map(|m| m.samples.len()).max().unwrap_or(0);
                b.rounds = vec![r as u32 + 1; n];
            }
            match side {
                Side::Base => absorb_all(&mut out.base, results),
                Side::Current => absorb_all(&mut out.current, results),
            }
        }
        out.rounds += 1;
    }
    Ok(out)
}

/// Build a checkout with `command` (run by `sh -c` in its directory), unless this command
/// already built this commit's worktree. Returns whether it built. A failed build leaves no
/// marker, so the next comparison builds again; the other side's build is not touched.
///
/// # Errors
/// [`ExecError::Build`] with the tail of what the build printed.
pub fn build(checkout: &Checkout, command: &str, stop: &AtomicBool) -> Result<bool, ExecError> {
    if checkout.built_with(command) {
        return Ok(false);
    }
    let spawn_error = |error| ExecError::Spawn {
        program: "sh".into(),
        error,
    };
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(&checkout.dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (child, tracked) = crate::interrupt::spawn(
        &mut cmd,
        crate::interrupt::Group::Own,
        crate::interrupt::OnStop::Interrupt,
    )
    .map_err(spawn_error)?;
    let out = crate::interrupt::output(child, tracked).map_err(spawn_error)?;
    if !out.status.success() {
        let mut said = crate::tail(&String::from_utf8_lossy(&out.stderr), 4);
        if said.is_empty() {
            said = crate::tail(&String::from_utf8_lossy(&out.stdout), 4);
        }
        let status = if stop.load(Ordering::SeqCst) {
            "interrupted".to_string()
        } else {
            out.status.to_string()
        };
        return Err(ExecError::Build {
            rev: checkout.label(),
            status,
            dir: checkout.dir.display().to_string(),
            said: if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            },
        });
    }
    checkout.mark_built(command)?;
    Ok(true)
}

/// Run in `dir` until dropped: a side's command, its relative paths and the files its harness
/// writes all belong to that side's checkout. perflab measures one side at a time, on one
/// thread, so changing the process's directory is safe here.
#[derive(Debug)]
pub struct InDir {
    back: PathBuf,
}

impl InDir {
    /// Enter `dir`.
    ///
    /// # Errors
    /// `dir` does not exist (the revision lacks the directory the user runs from).
    pub fn enter(dir: &Path) -> Result<InDir, ExecError> {
        let back = std::env::current_dir().map_err(|e| ExecError::Git {
            message: format!("cannot read the current directory: {e}"),
        })?;
        std::env::set_current_dir(dir).map_err(|e| ExecError::Git {
            message: format!("cannot enter {}: {e}", dir.display()),
        })?;
        Ok(InDir { back })
    }
}

impl Drop for InDir {
    fn drop(&mut self) {
        let _ = std::env::set_current_dir(&self.back);
    }
}

/// How each side is measured once.
#[derive(Debug, Clone, Copy)]
pub enum Measure<'a> {
    /// Timed as `perflab run` times a command (wall, user, system time, peak RSS).
    Time,
    /// The instructions the whole process executes, under valgrind.
    Instructions,
    /// The instructions per op of each Go benchmark, under valgrind (see
    /// [`crate::instructions`]); each side's test binary is built once, in `scratch`.
    GoInstructions {
        /// The package and pattern.
        go: &'a crate::instructions::GoBench,
        /// Where the test binaries go (never the checkout).
        scratch: &'a Path,
        /// Each benchmark's iteration count, the same for every round of both sides.
        iterations: &'a crate::instructions::Iterations,
    },
    /// A harness whose results are read as `perflab bench` reads them.
    Harness {
        /// The results' format, when not detected.
        format: Option<perflab_ingest::Format>,
        /// Where arranged result files go.
        scratch: &'a Path,
    },
}

/// Run `command` once in `side`'s directory and read what it measured; the tool is the
/// harness's (None when timed). An interrupted harness gives no results, so its round is
/// dropped.
///
/// # Errors
/// The command cannot start or fails; its results cannot be read.
pub fn measure_once(
    side: &Checkout,
    command: &[String],
    how: Measure<'_>,
    show_output: bool,
    stop: &AtomicBool,
) -> Result<(Vec<Benchmark>, Option<perflab_model::ToolInfo>), ExecError> {
    let _here = InDir::enter(&side.dir)?;
    match how {
        Measure::Time => {
            let opts = crate::RunOptions {
                runs: Some(1),
                min_runs: 1,
                show_output,
                ..crate::RunOptions::default()
            };
            let line = crate::join_words(command);
            let spec = crate::CommandSpec::new(line.clone());
            let timed = crate::time_command(&spec, line, &opts, stop, &mut |_| {})?;
            Ok((timed.benchmark.into_iter().collect(), None))
        }
        Measure::Instructions => {
            let n = match crate::instructions::count(command, None, &[], show_output, stop) {
                Ok(n) => n,
                // Interrupted: no results, so the round is dropped.
                Err(_) if stop.load(Ordering::SeqCst) => return Ok((Vec::new(), None)),
                Err(e) => return Err(e),
            };
            let mut b = Benchmark::new(crate::join_words(command));
            b.metrics.push(perflab_model::Metric::new(
                crate::instructions::METRIC,
                perflab_model::Unit::count(),
                vec![n as f64],
            ));
            Ok((vec![b], None))
        }
        Measure::GoInstructions {
            go,
            scratch,
            iterations,
        } => {
            let name = if side.commit.is_empty() {
                "worktree".to_string()
            } else {
                side.commit.chars().take(16).collect()
            };
            let own = if side.own { "-own" } else { "" };
            let bin = scratch.join(format!("{name}{own}.test"));
            let found =
                crate::instructions::count_go(go, &side.dir, &bin, iterations, show_output, stop);
            match found {
                // Interrupted: no results, so the round is dropped.
                _ if stop.load(Ordering::SeqCst) => Ok((Vec::new(), None)),
                Ok(found) => Ok((found, None)),
                Err(e) => Err(e),
            }
        }
        Measure::Harness { format, scratch } => {
            let arranged = perflab_ingest::harness::arrange(command, scratch, &side.root, format);
            let since = std::time::SystemTime::now();
            let out = crate::run_harness(&arranged.argv, show_output, stop)?;
            if out.interrupted {
                return Ok((Vec::new(), None));
            }
            let parsed =
                perflab_ingest::harness::read_results(&arranged, &out.stdout, &out.stderr, since)?;
            Ok((parsed.benchmarks, Some(parsed.tool)))
        }
    }
}

impl Interleaved {
    /// Append rounds measured after these: their round numbers continue from here.
    pub fn extend(&mut self, more: Interleaved) {
        let offset = self.rounds as u32;
        for (into, set) in [
            (&mut self.base, more.base),
            (&mut self.current, more.current),
        ] {
            let shifted: Vec<Benchmark> = set
                .into_iter()
                .map(|mut b| {
                    for r in &mut b.rounds {
                        *r += offset;
                    }
                    b
                })
                .collect();
            absorb_all(into, shifted);
        }
        self.rounds += more.rounds;
        self.interrupted |= more.interrupted;
    }

    /// The run of kind `ab` that records these rounds: the current side's results as its
    /// benchmarks, the base side's in `ab`, git facts of the current side.
    pub fn into_run(self, sides: &crate::git::Sides, order: Order) -> perflab_model::Run {
        let mut run = perflab_model::Run::new(perflab_model::RunKind::Ab);
        run.host = Some(crate::host_info());
        let (base, current) = (&sides.base, &sides.current);
        if !current.commit.is_empty() {
            run.git = Some(perflab_model::GitInfo {
                commit: current.commit.clone(),
                branch: sides.branch.clone(),
                dirty: current.own && current.dirty,
            });
        }
        let side = |c: &Checkout| perflab_model::AbSide {
            rev: c.rev.clone(),
            commit: c.commit.clone(),
            dirty: c.own && c.dirty,
        };
        run.interrupted = self.interrupted;
        run.benchmarks = self.current;
        run.ab = Some(perflab_model::AbRun {
            base: side(base),
            current: side(current),
            rounds: self.rounds,
            order: order.describe(),
            base_benchmarks: self.base,
        });
        run
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use perflab_model::{Metric, Unit};

    #[test]
    fn alternate_rounds_swap_which_side_goes_first() {
        use Side::{Base as A, Current as B};
        assert_eq!(schedule(3, Order::Alternate), vec![A, B, B, A, A, B]);
        let r = schedule(200, Order::Random { seed: 7 });
        assert_eq!(r, schedule(200, Order::Random { seed: 7 }), "seeded");
        assert_ne!(r, schedule(200, Order::Random { seed: 8 }));
        let base_first = r.chunks(2).filter(|p| p[0] == A).count();
        assert!((70..130).contains(&base_first), "{base_first} of 200");
        assert!(
            r.chunks(2).all(|p| p[0] != p[1]),
            "each round runs both sides"
        );
    }

    #[test]
    fn rounds_pool_their_samples_and_an_interrupted_round_is_dropped() {
        let stop = AtomicBool::new(false);
        let mut calls = Vec::new();
        let plan = schedule(3, Order::Alternate);
        let got = interleave(&plan, 1, &stop, |step| {
            calls.push((step.side, step.warmup));
            let v = if step.side == Side::Base { 1.0 } else { 2.0 };
            if !step.warmup && step.round == 3 && step.side == Side::Current {
                stop.store(true, Ordering::SeqCst);
            }
            let mut b = Benchmark::new("x");
            b.metrics
                .push(Metric::new("time", Unit::seconds(), vec![v]));
            Ok::<_, ()>(vec![b])
        })
        .unwrap();
        assert_eq!(calls.len(), 2 + 6, "warm-ups then rounds: {calls:?}");
        assert!(calls[..2].iter().all(|c| c.1));
        assert_eq!(got.rounds, 2);
        assert!(got.interrupted);
        assert_eq!(got.base[0].metrics[0].samples, vec![1.0, 1.0]);
        assert_eq!(got.current[0].metrics[0].samples, vec![2.0, 2.0]);
        assert_eq!(
            got.base[0].rounds,
            vec![1, 2],
            "each sample knows its round"
        );
        assert_eq!(got.current[0].rounds, vec![1, 2]);
        // Rounds measured later continue the numbering.
        let mut all = got.clone();
        all.extend(got);
        assert_eq!(all.rounds, 4);
        assert_eq!(all.base[0].rounds, vec![1, 2, 3, 4]);
        assert_eq!(all.base[0].metrics[0].samples.len(), 4);
    }
}
