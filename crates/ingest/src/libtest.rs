//! libtest's `cargo bench` text (`#[bench]` functions, nightly, and harnesses that imitate it):
//! `test NAME ... bench: 1,405.19 ns/iter (+/- 558.63) = 2915 MB/s`. Each line is one sample
//! (libtest's own summary of a run); several runs in one log give several samples.

use perflab_model::{Benchmark, Better, Metric, Unit};

use crate::{coalesce, parse_number, time_scale, Format, IngestError, Parsed};

/// Parse libtest bench output.
///
/// # Errors
/// [`IngestError::Syntax`] for a `bench:` line whose value or unit cannot be read.
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        let Some(rest) = line.strip_prefix("test ") else {
            continue;
        };
        let Some((name, result)) = rest.split_once(" ... ") else {
            continue;
        };
        let Some(result) = result.trim().strip_prefix("bench:") else {
            continue;
        };
        let syntax = |message: String| IngestError::Syntax {
            source_name: source.into(),
            line: i + 1,
            message,
        };
        let mut words = result.split_whitespace();
        let value = words.next().unwrap_or_default();
        let unit = words.next().unwrap_or_default();
        let v = parse_number(value).ok_or_else(|| syntax(format!("{value:?} is not a number")))?;
        let mut b = Benchmark::new(name.trim());
        match unit.strip_suffix("/iter") {
            Some(per) => match time_scale(per) {
                Some(scale) => b.metrics.push(Metric::new(
                    "time",
                    Unit::seconds(),
                    vec![crate::scaled(v, scale)],
                )),
                // Harnesses that count something else per iteration (`cycles/iter`).
                None => b
                    .metrics
                    .push(Metric::new(per, Unit(per.to_string()), vec![v])),
            },
            None if !unit.is_empty() => {
                b.metrics
                    .push(Metric::new(unit, Unit(unit.to_string()), vec![v]))
            }
            None => return Err(syntax(format!("{value:?} has no unit"))),
        }
        if let Some((_, thr)) = result.split_once(" = ") {
            let mut w = thr.split_whitespace();
            if let (Some(n), Some("MB/s")) = (w.next().and_then(parse_number), w.next()) {
                let mut m = Metric::new("throughput", Unit::bytes_per_sec(), vec![n * 1e6]);
                m.better = Better::Higher;
                b.metrics.push(m);
            }
        }
        out.push(b);
    }
    Ok(Parsed::new(Format::Libtest, "cargo bench", coalesce(out)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_commas_units_and_throughput() {
        let text = "test a ... bench:      47,251.85 ns/iter (+/- 31,441.34)\n\
                    test b ... bench:       1,405.19 ns/iter (+/- 558.63) = 2915 MB/s\n\
                    test c ... bench:  1 μs/iter (+/- 1)\ntest d ... ignored\n";
        let p = parse(text, "t").unwrap();
        assert_eq!(p.benchmarks.len(), 3);
        let a = p.benchmarks[0].metric("time").unwrap().samples[0];
        assert!((a - 47_251.85e-9).abs() < 1e-15);
        let thr = &p.benchmarks[1].metric("throughput").unwrap().samples;
        assert_eq!(thr, &vec![2915e6]);
        assert_eq!(p.benchmarks[2].metric("time").unwrap().samples, vec![1e-6]);
    }
}
