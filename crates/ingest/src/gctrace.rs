//! Go's `GODEBUG=gctrace=1` lines, as the runtime prints them on stderr:
//!
//! ```text
//! gc 12 @0.410s 3%: 0.021+1.2+0.004 ms clock, 0.085+0.31/1.1/2.0+0.017 ms cpu, 4->4->1 MB, 5 MB goal, 0 MB stacks, 0 MB globals, 4 P
//! ```
//!
//! The three wall-clock phases are stop-the-world sweep termination, concurrent mark and scan,
//! and stop-the-world mark termination: a cycle's pause is the first plus the third (the
//! runtime's own documentation of the format, `runtime` package, GODEBUG).

use perflab_model::{Benchmark, Metric, Unit};

/// One collection.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GcCycle {
    /// Stop-the-world time, seconds (sweep termination + mark termination).
    pub pause_s: f64,
    /// Heap size when the cycle ended, bytes (the live heap after marking).
    pub live_bytes: f64,
}

/// Every `gc N @…` line of `text`; other lines (the benchmarks' own output) are skipped, and so
/// is a line whose numbers do not parse or are not finite.
pub fn cycles(text: &str) -> Vec<GcCycle> {
    text.lines().filter_map(cycle).collect()
}

fn cycle(line: &str) -> Option<GcCycle> {
    let rest = line.trim().strip_prefix("gc ")?;
    let (_, after) = rest.split_once(": ")?;
    let clock = after.split(" ms clock").next()?;
    let phases: Vec<f64> = clock
        .split('+')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .ok()?;
    let [stw1, _, stw2] = phases[..] else {
        return None;
    };
    let pause_s = (stw1 + stw2) / 1e3;
    // "4->4->1 MB": heap at start, at end, live marked.
    let heap = after.split(", ").find(|f| f.contains("->"))?;
    let (sizes, unit) = heap.trim().split_once(' ')?;
    let live: f64 = sizes.rsplit("->").next()?.parse().ok()?;
    let scale = match unit.trim() {
        "MB" => 1024.0 * 1024.0,
        "KB" => 1024.0,
        "B" => 1.0,
        _ => return None,
    };
    (pause_s.is_finite() && pause_s >= 0.0 && live.is_finite()).then_some(GcCycle {
        pause_s,
        live_bytes: live * scale,
    })
}

/// The cycles as a benchmark named `name`: `gc_pause` (one sample per cycle, seconds) and
/// `gc_cycles`; None without any cycle.
pub fn benchmark(name: &str, cycles: &[GcCycle]) -> Option<Benchmark> {
    if cycles.is_empty() {
        return None;
    }
    let mut b = Benchmark::new(name);
    b.metrics.push(Metric::new(
        "gc_pause",
        Unit::seconds(),
        cycles.iter().map(|c| c.pause_s).collect(),
    ));
    b.metrics.push(Metric::new(
        "gc_cycles",
        Unit::count(),
        vec![cycles.len() as f64],
    ));
    Some(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_runtime_lines_and_skips_the_rest() {
        // Real lines of Go 1.19 (`GODEBUG=gctrace=1 go test -bench FaceSearch -benchtime 100x`
        // on a test package), between a benchmark's own output and a broken line.
        let text = "goos: linux\n\
gc 1 @0.020s 9%: 1.3+0.95+0.093 ms clock, 2.7+0.14/1.2/0+0.18 ms cpu, 3->3->1 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n\
BenchmarkFaceSearch-2   100   25301 ns/op\n\
gc 3 @0.049s 10%: 0.16+2.5+0.006 ms clock, 0.32+2.5/0.17/0+0.013 ms cpu, 3->4->2 MB, 4 MB goal, 0 MB stacks, 0 MB globals, 2 P\n\
gc 4 @x: nonsense ms clock\n";
        let c = cycles(text);
        assert_eq!(c.len(), 2);
        assert!((c[0].pause_s - 0.001_393).abs() < 1e-12, "{:?}", c[0]);
        assert!((c[1].pause_s - 0.000_166).abs() < 1e-12, "{:?}", c[1]);
        assert_eq!(c[1].live_bytes, 2.0 * 1024.0 * 1024.0);
        let b = benchmark("gc", &c).unwrap();
        assert_eq!(b.metrics[0].samples.len(), 2);
        assert!(benchmark("gc", &[]).is_none());
    }
}
