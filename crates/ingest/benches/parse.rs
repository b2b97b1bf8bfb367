//! Parsing speed of the Go benchmark format on a 50 MB log (many packages, sub-benchmarks,
//! `-count 10`, `-benchmem`). Prints libtest's bench line, so `perflab bench -- cargo bench -p
//! perflab-ingest` records perflab measuring itself.

use std::fmt::Write as _;
use std::time::Instant;

fn log(target_bytes: usize, counts: u64, packages: usize) -> String {
    let mut s = String::with_capacity(target_bytes + 4096);
    let mut pkg = 0;
    let mut x: u64 = 42;
    while s.len() < target_bytes {
        let pkg_id = pkg % packages;
        let _ = writeln!(s, "goos: linux\ngoarch: amd64\npkg: example.com/service/pkg{pkg_id}\ncpu: Test CPU @ 3.00GHz");
        for bench in 0..40 {
            for count in 0..counts {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let ns = 1000.0 + (x % 10_000) as f64 / 10.0;
                let _ = writeln!(
                    s,
                    "BenchmarkHandler/route=r{bench}/size={}-8   \t  {}\t {ns:.1} ns/op\t {:.2} MB/s\t {} B/op\t {} allocs/op",
                    1 << (count % 5),
                    100_000 + count,
                    4096.0 / ns * 1000.0,
                    512 + bench,
                    3 + bench % 4
                );
            }
        }
        pkg += 1;
        s.push_str("PASS\nok  \texample.com/service\t12.3s\n");
    }
    s
}

fn main() {
    // Many distinct benchmarks (every package new, -count 10) and a long-running suite (the
    // same 400 packages again and again): the first allocates a model entry every ten lines.
    measure(
        "parse_gotest_50mb_distinct",
        &log(50 * 1024 * 1024, 10, usize::MAX),
    );
    measure(
        "parse_gotest_50mb_repeated",
        &log(50 * 1024 * 1024, 10, 400),
    );
}

fn measure(name: &str, text: &str) {
    let mut times = Vec::new();
    let mut benchmarks = 0;
    // Each parse is timed on its own heap state: the previous result is freed before the clock
    // starts, and its memory handed back, as in a CLI that parses once.
    for _ in 0..7 {
        let t = Instant::now();
        let parsed = perflab_ingest::gotest::parse(text, "bench.txt").expect("parses");
        times.push(t.elapsed().as_nanos() as f64);
        benchmarks = parsed.benchmarks.len();
        drop(std::hint::black_box(parsed));
    }
    times.sort_by(f64::total_cmp);
    let median = times[times.len() / 2];
    let spread = times[times.len() - 1] - times[0];
    let mb_per_s = text.len() as f64 / 1e6 / (median / 1e9);
    eprintln!(
        "parsed {:.1} MB, {} benchmarks, median {:.0} ms",
        text.len() as f64 / 1e6,
        benchmarks,
        median / 1e6
    );
    println!("test {name} ... bench: {median:.0} ns/iter (+/- {spread:.0}) = {mb_per_s:.0} MB/s");
}
