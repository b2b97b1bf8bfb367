//! Speed of a large comparison: 1,000 benchmarks × 20 samples a side, every row tested and the
//! gate applied. Prints libtest's bench line (`perflab bench -- cargo bench -p perflab-analysis`).

use std::time::Instant;

use perflab_analysis::{compare, CompareOptions};
use perflab_model::{Benchmark, Metric, Unit};

fn suite(shift: f64, seed: u64) -> Vec<Benchmark> {
    let mut x = seed;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % 1_000_000) as f64 / 1_000_000.0
    };
    (0..1000)
        .map(|i| {
            let mut b = Benchmark::new(format!("Bench{i}")).with_param("size", (i % 7).to_string());
            let base = 1e-6 * (1.0 + i as f64 / 100.0);
            let samples = (0..20).map(|_| base * (shift + 0.05 * next())).collect();
            b.metrics
                .push(Metric::new("time", Unit::seconds(), samples));
            b
        })
        .collect()
}

fn main() {
    let base = suite(1.0, 7);
    let current = suite(1.02, 11);
    let opts = CompareOptions::default();
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..21 {
        let t = Instant::now();
        let c = compare(&base, &current, &opts).expect("compares");
        times.push(t.elapsed().as_nanos() as f64);
        rows = c.rows.len();
        std::hint::black_box(c);
    }
    let first = times[0];
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let spread = times[times.len() - 1] - times[0];
    eprintln!(
        "compared {rows} rows: median {:.1} ms, first call {:.1} ms",
        median / 1e6,
        first / 1e6
    );
    println!("test compare_1000x20 ... bench: {median:.0} ns/iter (+/- {spread:.0})");
    million();
}

/// One benchmark with a million samples a side: the median CI and the rank test must stay
/// O(n log n), so the comparison costs about what reading the samples from Go text costs.
fn million() {
    const N: usize = 1_000_000;
    let mut x = 99u64;
    let mut text = String::with_capacity(N * 40);
    let mut side = |shift: f64, text: &mut String| -> Vec<Benchmark> {
        text.clear();
        for _ in 0..N {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = 1000.0 * shift + (x % 1000) as f64;
            text.push_str(&format!("BenchmarkBig-2 1 {v} ns/op\n"));
        }
        let t = Instant::now();
        let parsed =
            perflab_ingest::parse(perflab_ingest::Format::GoTest, text, "big.txt").expect("parses");
        eprintln!(
            "imported {N} samples in {:.0} ms",
            t.elapsed().as_secs_f64() * 1e3
        );
        parsed.benchmarks
    };
    let base = side(1.0, &mut text);
    let current = side(1.01, &mut text);
    let t = Instant::now();
    let c = compare(&base, &current, &CompareOptions::default()).expect("compares");
    let ns = t.elapsed().as_nanos();
    eprintln!(
        "compared {N} vs {N} samples in {:.0} ms (p = {:?})",
        ns as f64 / 1e6,
        c.rows[0].p_value
    );
    println!("test compare_1m_vs_1m ... bench: {ns} ns/iter (+/- 0)");
}
