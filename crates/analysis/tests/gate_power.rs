//! The gate as a measured instrument: its false-alarm rate on A/A suites and its power on known
//! slowdowns, over many seeded synthetic suites shaped like `go test -bench . -benchmem`:
//! 20 benchmarks with time (log-normal noise, 2% of samples 2× slower: interference),
//! B/op and allocs/op (deterministic), and MB/s on 5 of them (derived from the time).
//! The figures printed here are the table in `docs/statistics.md`
//! (`cargo test -p perflab-analysis --test gate_power -- --nocapture`).

use perflab_analysis::{compare, CompareOptions, Role, Verdict};
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
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

const BENCHMARKS: usize = 20;
const WITH_SPEED: usize = 5;

fn suite(rng: &mut Rng, count: usize, noise: f64, slow: Option<f64>) -> Vec<Benchmark> {
    (0..BENCHMARKS)
        .map(|i| {
            let mut b = Benchmark::new(format!("Bench{i}")).with_param("pkg", "example.com/x");
            let factor = if i == 0 { slow.unwrap_or(1.0) } else { 1.0 };
            let centre = 1e-6 * (1.0 + i as f64) * factor;
            let times: Vec<f64> = (0..count)
                .map(|_| {
                    let outlier = if rng.uniform() < 0.02 { 2.0 } else { 1.0 };
                    centre * (noise * rng.normal()).exp() * outlier
                })
                .collect();
            let bytes = 64.0 * (1 + i % 4) as f64;
            if i < WITH_SPEED {
                let size = 4096.0;
                let speed = times.iter().map(|t| size / t).collect();
                b.metrics
                    .push(Metric::new("throughput", Unit::bytes_per_sec(), speed));
            }
            b.metrics
                .insert(0, Metric::new("time", Unit::seconds(), times));
            b.metrics.push(Metric::new(
                "bytes_per_op",
                Unit::bytes(),
                vec![bytes; count],
            ));
            b.metrics.push(Metric::new(
                "allocs_per_op",
                Unit("count".into()),
                vec![(1 + i % 3) as f64; count],
            ));
            b
        })
        .collect()
}

/// Share of `trials` suites whose gate fails.
fn failure_rate(seed: u64, trials: usize, count: usize, noise: f64, slow: Option<f64>) -> f64 {
    let mut rng = Rng(seed);
    let opts = CompareOptions::default();
    let mut failed = 0;
    for _ in 0..trials {
        let base = suite(&mut rng, count, noise, None);
        let current = suite(&mut rng, count, noise, slow);
        let c = compare(&base, &current, &opts).expect("suites share benchmarks");
        assert_eq!(
            c.gate.family, BENCHMARKS,
            "only the time rows join the family"
        );
        // Unchanged B/op, allocs/op and MB/s rows never fail the gate on their own.
        for r in c.rows.iter().filter(|r| r.verdict == Verdict::Regression) {
            assert_eq!(r.role, Role::Tested, "{r:?}");
        }
        failed += usize::from(!c.gate.passed);
    }
    failed as f64 / trials as f64
}

const TRIALS: usize = 1000;

#[test]
fn gate_false_alarms_and_power_on_synthetic_benchmem_suites() {
    let mut table =
        String::from("| case | -count | noise | suites | gate failed |\n|---|---|---|---|---|\n");
    let mut row = |case: &str, count: usize, noise: f64, slow: Option<f64>, seed: u64| {
        let rate = failure_rate(seed, TRIALS, count, noise, slow);
        table.push_str(&format!(
            "| {case} | {count} | {:.0}% | {TRIALS} | {:.1}% |\n",
            noise * 100.0,
            rate * 100.0
        ));
        rate
    };
    let aa = [
        row("A/A", 5, 0.05, None, 1),
        row("A/A", 10, 0.05, None, 2),
        row("A/A", 5, 0.15, None, 3),
        row("A/A", 10, 0.15, None, 4),
    ];
    let slow_50 = row("one benchmark 1.5× slower", 5, 0.05, Some(1.5), 5);
    let slow_20 = row("one benchmark 1.2× slower", 10, 0.05, Some(1.2), 6);
    let slow_20_short = row("one benchmark 1.2× slower", 5, 0.05, Some(1.2), 7);
    let slow_50_noisy = row("one benchmark 1.5× slower", 5, 0.15, Some(1.5), 8);
    println!("{table}");
    for (i, a) in aa.iter().enumerate() {
        assert!(
            *a <= 0.05,
            "A/A case {i}: the gate failed in {a} of suites\n{table}"
        );
    }
    assert!(
        slow_50 >= 0.95,
        "power at 1.5×, -count 5: {slow_50}\n{table}"
    );
    assert!(
        slow_20 >= 0.90,
        "power at 1.2×, -count 10: {slow_20}\n{table}"
    );
    // Reported, not required: what the gate can and cannot see beyond the cases.
    let _ = (slow_20_short, slow_50_noisy);
}
