//! `compare A..B` on a busy machine, simulated: the verdicts of many seeded compares measured
//! while a noise generator like `benches/ab/noise.py` runs (on each of 2 cores, CPU bursts of
//! 50–500 ms separated by idle gaps of 50–500 ms). Each compare runs `ROUNDS` rounds (AB BA …)
//! of a harness that measures every benchmark once per run (`go test -count 1`): a benchmark
//! needs a fixed amount of CPU work, and its time is how long that work takes at the share of a
//! core the noise leaves it (all of one while a core is free, half of one while both burn, a
//! little less for each busy neighbour's cache and memory traffic). Real harnesses take minutes
//! per compare; this takes milliseconds, so each case runs hundreds of compares.
//!
//! The same measurements go through the gate twice: by round (what `compare A..B` does) and
//! pooled, as if every sample were independent (what it did before). The printed tables are the
//! ones in `docs/statistics.md`
//! (`cargo test --release -p perflab-analysis --test noise_rounds -- --nocapture`).

use perflab_analysis::{compare, CompareOptions, Verdict};
use perflab_exec::ab::{schedule, Order, Side};
use perflab_model::{Benchmark, Metric, Unit};

/// splitmix64: small, seeded, good enough for simulation.
struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const CORES: usize = 2;
/// Simulation step, seconds.
const STEP: f64 = 0.001;
/// `compare A..B`'s defaults: 10 rounds, then 10 more at a time while a row is inconclusive,
/// up to 40.
const ROUNDS: usize = 10;
const MAX_ROUNDS: usize = 40;
const BENCHMARKS: usize = 4;
const COMPARES: usize = 400;

/// The noise generator's effect over time: how many of its burners are busy in each step.
struct Noise {
    busy: Vec<u8>,
}

impl Noise {
    fn quiet(steps: usize) -> Noise {
        Noise {
            busy: vec![0; steps],
        }
    }

    /// Each core alternates a busy burst and an idle gap, each 50–500 ms, from a random phase.
    fn bursts(rng: &mut Rng, steps: usize) -> Noise {
        let mut busy = vec![0u8; steps];
        for _ in 0..CORES {
            let mut t = 0usize;
            let mut on = rng.uniform() < 0.5;
            // Start inside a period.
            let mut left = (rng.between(0.05, 0.5) * rng.uniform() / STEP) as usize;
            while t < steps {
                let end = (t + left).min(steps);
                if on {
                    for b in &mut busy[t..end] {
                        *b += 1;
                    }
                }
                t = end;
                on = !on;
                left = (rng.between(0.05, 0.5) / STEP).round() as usize;
            }
        }
        Noise { busy }
    }

    /// The share of a core the measured thread gets in step `i`.
    fn rate(&self, i: usize) -> f64 {
        let k = usize::from(*self.busy.get(i).unwrap_or(&0));
        let share = if k < CORES { 1.0 } else { 0.5 };
        share * (1.0 - 0.05 * k as f64)
    }
}

/// Where the simulated clock stands.
struct Clock {
    step: usize,
}

impl Clock {
    /// Do `work` CPU-seconds; returns the wall time it took.
    fn work(&mut self, noise: &Noise, work: f64) -> f64 {
        let mut done = 0.0;
        let start = self.step;
        while done < work {
            done += noise.rate(self.step) * STEP;
            self.step += 1;
        }
        (self.step - start) as f64 * STEP
    }
}

/// The work each benchmark needs per run (seconds of CPU), and the harness's start-up.
const WORK: [f64; BENCHMARKS] = [0.08, 0.15, 0.25, 0.4];
const STARTUP: f64 = 0.12;

/// One compare: the base and current results, each sample tagged with its round.
fn measure(
    rng: &mut Rng,
    noisy: bool,
    slowdown: f64,
    order: Order,
    count: usize,
) -> (Vec<Benchmark>, Vec<Benchmark>) {
    let per_run = STARTUP + WORK.iter().sum::<f64>() * slowdown.max(1.0) * count as f64;
    let steps = ((2 * MAX_ROUNDS + 2) as f64 * per_run * 2.5 / STEP) as usize;
    let noise = if noisy {
        Noise::bursts(rng, steps)
    } else {
        Noise::quiet(steps)
    };
    let mut clock = Clock { step: 0 };
    let mut sides = [Vec::new(), Vec::new()];
    for s in &mut sides {
        for i in 0..BENCHMARKS {
            let mut b = Benchmark::new(format!("Bench{i}"));
            b.metrics
                .push(Metric::new("time", Unit::seconds(), Vec::new()));
            s.push(b);
        }
    }
    let plan = schedule(MAX_ROUNDS, order);
    for (k, side) in plan.iter().enumerate() {
        let round = (k / 2 + 1) as u32;
        clock.work(&noise, STARTUP);
        for (i, b) in sides[*side as usize].iter_mut().enumerate() {
            let code = if *side == Side::Current && i == 1 {
                slowdown
            } else {
                1.0
            };
            for _ in 0..count {
                let wall = clock.work(&noise, WORK[i] * code);
                // The harness's own wobble: timer, frequency, layout.
                let t = wall * (0.005 * rng.normal()).exp();
                b.metrics[0].samples.push(t);
                b.rounds.push(round);
            }
        }
    }
    let [base, current] = sides;
    (base, current)
}

/// The first `rounds` rounds of a set.
fn prefix(set: &[Benchmark], rounds: usize) -> Vec<Benchmark> {
    set.iter()
        .map(|b| {
            let mut p = b.clone();
            let keep: Vec<bool> = b.rounds.iter().map(|&r| r as usize <= rounds).collect();
            p.rounds.retain(|&r| r as usize <= rounds);
            for m in &mut p.metrics {
                let mut k = keep.iter();
                m.samples.retain(|_| *k.next().unwrap_or(&false));
            }
            p
        })
        .collect()
}

fn pooled(set: &[Benchmark]) -> Vec<Benchmark> {
    set.iter()
        .cloned()
        .map(|mut b| {
            b.rounds.clear();
            b
        })
        .collect()
}

/// Outcome counts over a case's compares.
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    failed: usize,
    found: usize,
    other_flagged: usize,
    inconclusive: usize,
    rounds: usize,
}

fn run(seed: u64, noisy: bool, slowdown: f64, count: usize, by_round: bool) -> Tally {
    let opts = CompareOptions::default();
    let mut rng = Rng(seed);
    let mut tally = Tally::default();
    for t in 0..COMPARES as u64 {
        let (b, c) = measure(
            &mut rng,
            noisy,
            slowdown,
            Order::Random { seed: seed ^ t },
            count,
        );
        let mut rounds = ROUNDS;
        let cmp = loop {
            let (pb, pc) = (prefix(&b, rounds), prefix(&c, rounds));
            let (pb, pc) = if by_round {
                (pb, pc)
            } else {
                (pooled(&pb), pooled(&pc))
            };
            let cmp = compare(&pb, &pc, &opts).expect("comparable");
            if cmp.gate.inconclusive == 0 || rounds >= MAX_ROUNDS || !by_round {
                break cmp;
            }
            rounds += ROUNDS;
        };
        tally.rounds += rounds;
        tally.failed += usize::from(!cmp.gate.passed);
        let flagged = |name: &str| {
            cmp.rows
                .iter()
                .any(|r| r.benchmark == name && r.verdict == Verdict::Regression)
        };
        tally.found += usize::from(flagged("Bench1"));
        tally.other_flagged += usize::from(
            (0..BENCHMARKS)
                .filter(|&i| i != 1)
                .any(|i| flagged(&format!("Bench{i}"))),
        );
        tally.inconclusive += usize::from(cmp.gate.inconclusive > 0);
    }
    tally
}

fn pct(n: usize) -> String {
    format!("{:.1}%", 100.0 * n as f64 / COMPARES as f64)
}

#[test]
fn rounds_keep_verdicts_under_a_noise_generator() {
    println!("| case | machine | by round: gate failed | found | other flagged | inconclusive | mean rounds | pooled (10 rounds): gate failed |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut by = Vec::new();
    for (name, noisy, slowdown, count, seed) in [
        ("A/A", false, 1.0, 1, 11),
        ("A/A", true, 1.0, 1, 12),
        ("Bench1 1.3× slower", true, 1.3, 1, 13),
        ("Bench1 1.5× slower", true, 1.5, 1, 14),
        ("Bench1 1.3× slower", false, 1.3, 1, 15),
        ("A/A, -count 4 a run", true, 1.0, 4, 16),
        ("Bench1 1.3× slower, -count 4 a run", true, 1.3, 4, 17),
    ] {
        let r = run(seed, noisy, slowdown, count, true);
        let p = run(seed, noisy, slowdown, count, false);
        println!(
            "| {name} | {} | {} | {} | {} | {} | {:.1} | {} |",
            if noisy { "noise generator" } else { "quiet" },
            pct(r.failed),
            pct(r.found),
            pct(r.other_flagged),
            pct(r.inconclusive),
            r.rounds as f64 / COMPARES as f64,
            pct(p.failed)
        );
        by.push((name, noisy, r, p));
    }
    let limit = COMPARES / 100;
    for (name, noisy, r, _) in &by {
        if name.starts_with("A/A") {
            assert!(
                r.failed <= limit,
                "A/A false gate failures (noisy {noisy}): {r:?}"
            );
        }
        assert!(
            r.other_flagged <= limit,
            "{name}: an unchanged benchmark flagged: {r:?}"
        );
    }
    let (_, _, r13, _) = by[2];
    let (_, _, r15, _) = by[3];
    assert!(r13.found * 10 >= COMPARES * 9, "1.3× under noise: {r13:?}");
    assert!(
        r15.found * 100 >= COMPARES * 99,
        "1.5× under noise: {r15:?}"
    );
}
