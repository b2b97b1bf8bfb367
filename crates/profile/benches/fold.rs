//! Folding and rendering a million samples: the samples of a synthetic program (a call tree of
//! 4,000 distinct stacks, 8 to 40 frames deep) are added one by one to a profile, folded, and
//! rendered as a flamegraph; `perf script` text of 100,000 samples is parsed for throughput.
//! Prints libtest's bench lines (`perflab bench -- cargo bench -p perflab-profile`).

use std::time::Instant;

use perflab_profile::{flame, perf_script, Profile, ValueType};

/// A deterministic pseudo-random generator (xorshift), so every run folds the same stacks.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

fn stacks() -> Vec<Vec<String>> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    (0..4000)
        .map(|_| {
            let depth = 8 + (rng.next() % 33) as usize;
            let mut s = vec!["_start".to_string(), "main".to_string()];
            for d in 2..depth {
                s.push(format!(
                    "crate::module{}::function_{}",
                    d % 7,
                    rng.next() % 60
                ));
            }
            s
        })
        .collect()
}

fn report(name: &str, times: &mut [f64], per: &str) {
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let spread = times[times.len() - 1] - times[0];
    println!("test {name} ... bench: {median:.0} ns/iter (+/- {spread:.0})");
    eprintln!("{name}: {:.3} s per {per}", median / 1e9);
}

fn main() {
    let stacks = stacks();
    let mut rng = Rng(42);
    let picks: Vec<usize> = (0..1_000_000)
        .map(|_| (rng.next() % 4000) as usize)
        .collect();
    let mut fold_times = Vec::new();
    let mut render_times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let mut p = Profile::new(vec![
            ValueType::new("samples", "count"),
            ValueType::new("cpu", "nanoseconds"),
        ]);
        // Interning happens per sample, as a reader does it.
        let mut ids = Vec::with_capacity(64);
        for &i in &picks {
            ids.clear();
            for name in &stacks[i] {
                ids.push(p.intern_fn(name, None));
            }
            p.add(&ids, &[1, 2_004_008]);
        }
        let folded = p.folded(1);
        fold_times.push(start.elapsed().as_nanos() as f64);
        std::hint::black_box(&folded);
        let start = Instant::now();
        let svg = flame::render(&p, 1, "bench", "").expect("renders");
        render_times.push(start.elapsed().as_nanos() as f64);
        std::hint::black_box(&svg);
    }
    let total: Vec<f64> = fold_times
        .iter()
        .zip(&render_times)
        .map(|(a, b)| a + b)
        .collect();
    report("fold_1m_samples", &mut fold_times, "million samples");
    report(
        "render_flamegraph_4k_stacks",
        &mut render_times,
        "flamegraph",
    );
    report(
        "fold_and_render_1m_samples",
        &mut total.clone(),
        "million samples, folded and rendered",
    );

    let mut text = String::new();
    for (k, &i) in picks.iter().take(100_000).enumerate() {
        text.push_str(&format!(
            "prog 7/7 {}.{k:06}:    2004008 cpu-clock: \n",
            k / 1000
        ));
        for name in stacks[i].iter().rev() {
            text.push_str(&format!("\t    55d0c0ffee {name}+0x1f (/usr/bin/prog)\n"));
        }
        text.push('\n');
    }
    let mut times = Vec::new();
    for _ in 0..5 {
        let start = Instant::now();
        let p = perf_script::parse(&text, "bench").expect("parses");
        times.push(start.elapsed().as_nanos() as f64);
        std::hint::black_box(&p);
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    println!(
        "test parse_perf_script_100k_samples ... bench: {median:.0} ns/iter (+/- {:.0}) = {:.0} MB/s",
        times[4] - times[0],
        text.len() as f64 / median * 1e3
    );
}
