//! Two criterion benchmarks whose allocations per iteration are known: `five_allocs` makes five
//! 64-byte vectors per iteration (320 bytes), `no_allocs` makes none; their setup allocates
//! outside the measured routine and must not count.
use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;

fn five_vecs(n: usize) -> usize {
    (0..5).map(|k| black_box(vec![k as u8; n]).len()).sum()
}

fn benches(c: &mut Criterion) {
    let input: Vec<u64> = (0..1000).collect();
    c.bench_function("five_allocs", |b| {
        let scratch = vec![0u8; 4096]; // setup inside the benchmark, outside the routine
        b.iter(|| five_vecs(black_box(64)) + black_box(&scratch).len())
    });
    c.bench_function("no_allocs", |b| {
        b.iter(|| black_box(&input).iter().sum::<u64>())
    });
}

criterion_group!(g, benches);
criterion_main!(g);
