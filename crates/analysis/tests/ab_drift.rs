//! Why `compare A..B` interleaves: an A/A comparison (the same code on both sides) on a machine
//! that drifts while it measures, over many seeded trials. The runner slows steadily (a warming
//! CPU: +12% from the first run to the last) and a neighbour's job adds 10% from the middle on.
//! Running all of A and then all of B (what a CI job that benchmarks the base and then the
//! branch does) hands B all of the drift; perflab's rounds (AB BA AB…, `--order alternate`)
//! and seeded random pairs give both sides the same share. Each side's n-th run is paired with
//! the other's n-th, as the gate pairs rounds. The figures printed here are the table in
//! `docs/ci.md` (`cargo test -p perflab-analysis --test ab_drift -- --nocapture`).

use perflab_analysis::{compare, CompareOptions};
use perflab_exec::ab::{schedule, Order, Side};
use perflab_model::{Benchmark, Metric, Unit};

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
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const BENCHMARKS: usize = 10;
const ROUNDS: usize = 10;
const TRIALS: usize = 400;

/// The machine's slowdown at run `k` of `n`.
fn drift(k: usize, n: usize) -> f64 {
    let t = k as f64 / (n - 1) as f64;
    (1.0 + 0.12 * t) * if t >= 0.5 { 1.10 } else { 1.0 }
}

/// One trial: every run measures every benchmark once (as `go test -count 1` does); returns
/// whether the gate failed.
fn trial(rng: &mut Rng, plan: &[Side], slowdown: f64, opts: &CompareOptions) -> bool {
    let mut sides = [Vec::new(), Vec::new()];
    for s in &mut sides {
        for i in 0..BENCHMARKS {
            let mut b = Benchmark::new(format!("Bench{i}"));
            b.metrics
                .push(Metric::new("time", Unit::seconds(), Vec::new()));
            s.push(b);
        }
    }
    // Each side's n-th run is paired with the other's n-th, as compare A..B pairs a round.
    let mut runs = [0u32; 2];
    for (k, side) in plan.iter().enumerate() {
        let machine = drift(k, plan.len());
        runs[*side as usize] += 1;
        let round = runs[*side as usize];
        for (i, b) in sides[*side as usize].iter_mut().enumerate() {
            b.rounds.push(round);
            let code = if *side == Side::Current && i == 0 {
                slowdown
            } else {
                1.0
            };
            let t = 1e-6 * (1 + i) as f64 * code * machine * (0.02 * rng.normal()).exp();
            b.metrics[0].samples.push(t);
        }
    }
    let c = compare(&sides[0], &sides[1], opts).expect("comparable");
    !c.gate.passed
}

fn rate(seed: u64, plan: impl Fn(u64) -> Vec<Side>, slowdown: f64, max_change: f64) -> f64 {
    let opts = CompareOptions {
        default_max_change: max_change,
        ..CompareOptions::default()
    };
    let mut rng = Rng(seed);
    let fails = (0..TRIALS as u64)
        .filter(|t| trial(&mut rng, &plan(*t), slowdown, &opts))
        .count();
    fails as f64 / TRIALS as f64
}

#[test]
fn interleaved_rounds_cancel_drift_that_fools_a_sequential_comparison() {
    let sequential = |_| {
        let mut p = vec![Side::Base; ROUNDS];
        p.extend(vec![Side::Current; ROUNDS]);
        p
    };
    let abab = |_| {
        (0..ROUNDS)
            .flat_map(|_| [Side::Base, Side::Current])
            .collect()
    };
    let alternate = |_| schedule(ROUNDS, Order::Alternate);
    let random = |t| schedule(ROUNDS, Order::Random { seed: 1000 + t });
    let mut rows = Vec::new();
    for (name, plan) in [
        (
            "sequential (all A, then all B)",
            &sequential as &dyn Fn(u64) -> Vec<Side>,
        ),
        ("fixed AB AB AB", &abab),
        ("perflab alternate (AB BA AB)", &alternate),
        ("perflab random (seeded)", &random),
    ] {
        let aa = rate(7, plan, 1.0, 0.10);
        let strict = rate(9, plan, 1.0, 0.0);
        let power = rate(8, plan, 1.15, 0.10);
        let pct = |x: f64| format!("{:.1}%", x * 100.0);
        println!(
            "| {name} | {} | {} | {} |",
            pct(aa),
            pct(strict),
            pct(power)
        );
        rows.push((aa, strict, power));
    }
    assert!(
        rows[0].0 > 0.5,
        "the drift must fool the sequential order: {rows:?}"
    );
    for (aa, strict, power) in &rows[2..] {
        assert!(*aa <= 0.05, "A/A false alarms with interleaving: {rows:?}");
        // With no allowed change, only the test's own α (after Holm) remains.
        assert!(
            *strict <= 0.10,
            "A/A false alarms at max_change 0: {rows:?}"
        );
        // By round, the gate must show the change beyond the allowed 10%: a 15% slowdown with
        // 2% noise is shown in 10 rounds about 9 times in 10 (compare A..B measures more
        // rounds for the rest, while the row is inconclusive).
        assert!(
            *power >= 0.85,
            "a 15% slowdown must still be found: {rows:?}"
        );
    }
    // A fixed AB order pairs every B with an A just before it: by round, a steady drift then
    // hands B the same head start in every pair, which alternating cancels.
    assert!(
        rows[1].1 > 2.0 * rows[2].1,
        "fixed AB must suffer the drift by round: {rows:?}"
    );
}
