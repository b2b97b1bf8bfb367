//! The Go benchmark format (`go test -bench`, and any tool that writes it).
//!
//! A result line is `BenchmarkName[-P] ITERATIONS VALUE UNIT [VALUE UNIT]...`; every `-count`
//! repetition becomes one more sample. Names lose the `Benchmark` prefix; `key=value` parts of a
//! sub-benchmark name become params (so `--col size` can compare across them), and the GOMAXPROCS
//! suffix becomes the `procs` param. `pkg:` config lines become a `pkg` param, because the same
//! benchmark name in two packages is two benchmarks; other `key: value` config lines become
//! labels. Units are normalised as benchstat does: `ns/…` to seconds, `MB/s` to bytes per second.
//!
//! The parser is a single pass over lines without regexes: it must read large logs (hundreds of
//! MB from many packages and `-count`) at a few hundred MB/s.

use std::collections::{BTreeMap, HashMap};

use perflab_model::{Benchmark, Better, Metric, Unit};

use crate::{Format, IngestError, Parsed};

/// Whether a trimmed line is a benchmark result line (name, then an iteration count).
pub fn is_result_line(line: &str) -> bool {
    if !line.starts_with("Benchmark") {
        return false;
    }
    // The format asks for a non-lowercase letter after the prefix, but real tools (bent's size
    // reports: `Benchmarkk8s_… 1 33871255 total-bytes`) break that; the iteration count
    // is what tells a result from a log line.
    let mut fields = line.split_ascii_whitespace();
    fields.next();
    fields
        .next()
        .is_some_and(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

/// FxHash (rustc's hasher): the keys are short names from one trusted file, so the DoS
/// resistance of SipHash buys nothing and costs a third of the parse time.
type BuildFx = rustc_hash::FxBuildHasher;

struct MetricSlot {
    name: String,
    unit: Unit,
    scale: f64,
}

/// Parse Go benchmark text.
///
/// # Errors
/// [`IngestError::Syntax`] for a result line whose values or units are malformed (as a
/// truncated log ends).
pub fn parse(text: &str, source: &str) -> Result<Parsed, IngestError> {
    let mut st = State::new(text, source);
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if st.status_line(line, i) {
            continue;
        }
        if !line.starts_with("Benchmark") {
            st.config_line(line);
            continue;
        }
        st.result_line(line, i)?;
    }
    let mut benchmarks = st.benchmarks;
    fix_sub_benchmark_procs(&mut benchmarks, &st.raw_names, &st.pkgs);
    let mut parsed = Parsed::new(Format::GoTest, "go test", benchmarks);
    parsed.labels = st.labels;
    parsed.warnings = st.warnings;
    Ok(parsed)
}

/// What the parser has read so far.
struct State<'t> {
    source: &'t str,
    benchmarks: Vec<Benchmark>,
    /// Per benchmark, which unit slot each of its metrics holds (parallel to `benchmarks`), so
    /// a repeated line costs integer compares, not string compares.
    slots_of: Vec<Vec<u32>>,
    /// (pkg, raw name) → index, so repeated lines never rebuild keys.
    index: HashMap<(usize, &'t str), usize, BuildFx>,
    unit_index: HashMap<&'t str, u32, BuildFx>,
    units: Vec<MetricSlot>,
    labels: BTreeMap<String, String>,
    pkgs: Vec<&'t str>,
    pkg: usize,
    warnings: Vec<String>,
    raw_names: Vec<(&'t str, usize)>,
    /// A last line without a newline may be cut short inside a unit (`12 ns/o`): it is refused
    /// when it names a unit that no earlier line used.
    line_count: usize,
    cut_last: bool,
    result_lines: usize,
}

impl<'t> State<'t> {
    fn new(text: &'t str, source: &'t str) -> State<'t> {
        State {
            source,
            benchmarks: Vec::new(),
            slots_of: Vec::new(),
            index: HashMap::default(),
            unit_index: HashMap::default(),
            units: Vec::new(),
            labels: BTreeMap::new(),
            pkgs: vec![""],
            pkg: 0,
            warnings: Vec::new(),
            raw_names: Vec::new(),
            line_count: text.lines().count(),
            cut_last: !text.is_empty() && !text.ends_with('\n'),
            result_lines: 0,
        }
    }

    /// `--- FAIL: BenchmarkX` (b.Fatal, a panic) and `--- SKIP:`: the benchmark has no or
    /// partial results; say which, by name. True when the line was one.
    fn status_line(&mut self, line: &str, i: usize) -> bool {
        let Some(rest) = line
            .trim_start()
            .strip_prefix("--- FAIL: ")
            .or_else(|| line.trim_start().strip_prefix("--- SKIP: "))
        else {
            return false;
        };
        if rest.starts_with("Benchmark") {
            let name = rest.split_whitespace().next().unwrap_or(rest);
            let what = if line.contains("--- FAIL") {
                "failed"
            } else {
                "was skipped"
            };
            self.warnings.push(format!(
                "{}:{}: {name} {what}; its results are missing or partial",
                self.source,
                i + 1
            ));
        }
        true
    }

    /// `pkg: …` switches the package; other `key: value` lines are the run's labels.
    fn config_line(&mut self, line: &'t str) {
        let Some((key, value)) = config_line(line) else {
            return;
        };
        if key == "pkg" {
            self.pkg = match self.pkgs.iter().position(|p| *p == value) {
                Some(p) => p,
                None => {
                    self.pkgs.push(value);
                    self.pkgs.len() - 1
                }
            };
        } else {
            self.labels
                .entry(key.to_string())
                .or_insert_with(|| value.to_string());
        }
    }

    /// `BenchmarkX-8  1000  123 ns/op  64 B/op …`: each value into its metric.
    fn result_line(&mut self, line: &'t str, i: usize) -> Result<(), IngestError> {
        let mut fields = line.split_ascii_whitespace();
        let name = fields.next().unwrap_or_default();
        // The iteration count tells a result line from a log line that starts with a name.
        let Some(n) = fields
            .next()
            .filter(|f| f.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|f| f.parse::<u64>().ok())
        else {
            return Ok(());
        };
        let idx = self.benchmark_index(name);
        self.benchmarks[idx].iterations.push(n);
        let mut pairs = 0;
        while let Some(value) = fields.next() {
            let syntax = |message: String| IngestError::Syntax {
                source_name: self.source.into(),
                line: i + 1,
                message,
            };
            let Some(unit) = fields.next() else {
                return Err(syntax(format!(
                    "value {value:?} has no unit (is the file truncated?)"
                )));
            };
            let v: f64 = value
                .parse()
                .map_err(|_| syntax(format!("{value:?} is not a number (before unit {unit:?})")))?;
            let Some(slot_id) = self.slot(unit, i) else {
                return Err(syntax(format!(
                    "the last line ends without a newline and its unit {unit:?} is on no earlier line (is the file truncated?)"
                )));
            };
            pairs += 1;
            self.add(idx, slot_id, v, (name, value, unit), i);
        }
        self.result_lines += 1;
        if pairs == 0 {
            return Err(IngestError::Syntax {
                source_name: self.source.into(),
                line: i + 1,
                message: format!("{name}: no values after the iteration count"),
            });
        }
        Ok(())
    }

    /// The benchmark `name` of the current package, created on its first line.
    fn benchmark_index(&mut self, name: &'t str) -> usize {
        if let Some(&idx) = self.index.get(&(self.pkg, name)) {
            return idx;
        }
        self.benchmarks
            .push(new_benchmark(name, self.pkgs[self.pkg], true));
        self.raw_names.push((name, self.pkg));
        self.slots_of.push(Vec::new());
        self.index
            .insert((self.pkg, name), self.benchmarks.len() - 1);
        self.benchmarks.len() - 1
    }

    /// The slot of `unit`, new on its first use; None for a new unit on a cut last line.
    fn slot(&mut self, unit: &'t str, i: usize) -> Option<u32> {
        if let Some(&s) = self.unit_index.get(unit) {
            return Some(s);
        }
        if self.cut_last && i + 1 == self.line_count && self.result_lines > 0 {
            return None;
        }
        self.units.push(normalise_unit(unit));
        let id = (self.units.len() - 1) as u32;
        self.unit_index.insert(unit, id);
        Some(id)
    }

    /// One value into its benchmark's metric; a non-finite or impossible one is dropped with a
    /// warning naming it.
    fn add(
        &mut self,
        idx: usize,
        slot_id: u32,
        v: f64,
        (name, value, unit): (&str, &str, &str),
        i: usize,
    ) {
        let slot = &self.units[slot_id as usize];
        if !v.is_finite() {
            self.warnings.push(format!(
                "{}:{}: {name}: {value} {unit} is not a finite number; value dropped",
                self.source,
                i + 1
            ));
            return;
        }
        if v < 0.0 && slot.unit.cannot_be_negative() {
            self.warnings.push(format!(
                "{}:{}: {name}: {value} {unit} cannot be negative; value dropped",
                self.source,
                i + 1
            ));
            return;
        }
        let v = crate::scaled(v, slot.scale);
        let bench = &mut self.benchmarks[idx];
        let bench_slots = &mut self.slots_of[idx];
        match bench_slots.iter().position(|&s| s == slot_id) {
            Some(m) => bench.metrics[m].samples.push(v),
            None => {
                // Room for a typical -count without regrowing.
                let mut samples = Vec::with_capacity(16);
                samples.push(v);
                let mut m = Metric::new(slot.name.clone(), slot.unit.clone(), samples);
                if slot.unit.as_str() == "B/s" {
                    m.better = Better::Higher;
                }
                bench.metrics.push(m);
                bench_slots.push(slot_id);
            }
        }
    }
}

/// A sub-benchmark named `size-1024` run at GOMAXPROCS=1 ends in `-1024` with no procs suffix
/// at all. Top-level names cannot contain `-` (they are Go identifiers), so their suffixes are
/// the file's real procs values; a sub-benchmark's trailing `-N` is procs only when N is one of
/// them (or, in a file of sub-benchmarks only, when every one ends in the same N).
fn fix_sub_benchmark_procs(benchmarks: &mut [Benchmark], raw: &[(&str, usize)], pkgs: &[&str]) {
    let mut top: Vec<&str> = Vec::new();
    let mut sub: Vec<&str> = Vec::new();
    for (name, _) in raw {
        if let Some(n) = procs_suffix(name) {
            let list = if name.contains('/') {
                &mut sub
            } else {
                &mut top
            };
            if !list.contains(&n) {
                list.push(n);
            }
        }
    }
    let accepted = |n: &str| {
        if top.is_empty() {
            sub.len() == 1
        } else {
            top.contains(&n)
        }
    };
    for (b, (name, pkg)) in benchmarks.iter_mut().zip(raw) {
        if name.contains('/') && procs_suffix(name).is_some_and(|n| !accepted(n)) {
            let metrics = std::mem::take(&mut b.metrics);
            *b = new_benchmark(name, pkgs[*pkg], false);
            b.metrics = metrics;
        }
    }
}

/// `key: value` where the key starts lowercase and has no spaces (the Go format's config line).
fn config_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.split_once(':')?;
    if key.is_empty()
        || !key.starts_with(|c: char| c.is_lowercase())
        || key.contains(char::is_whitespace)
    {
        return None;
    }
    Some((key, value.trim()))
}

/// The `-N` GOMAXPROCS suffix of a result name, if it has one.
fn procs_suffix(full: &str) -> Option<&str> {
    let (_, tail) = full.rsplit_once('-')?;
    (!tail.is_empty() && tail.bytes().all(|b| b.is_ascii_digit())).then_some(tail)
}

fn new_benchmark(full: &str, pkg: &str, strip_procs: bool) -> Benchmark {
    let mut name = full.strip_prefix("Benchmark").unwrap_or(full);
    // Go appends `-N` only when GOMAXPROCS is not 1: no suffix means procs=1.
    let mut procs = "1";
    if strip_procs {
        if let Some(tail) = procs_suffix(name) {
            procs = tail;
            name = &name[..name.len() - tail.len() - 1];
        }
    }
    let mut parts = Vec::new();
    let mut b = Benchmark::new("");
    for part in name.split('/') {
        match part.split_once('=') {
            Some((k, v)) if !k.is_empty() => {
                b.params.insert(k.to_string(), v.to_string());
            }
            _ => parts.push(part),
        }
    }
    b.name = parts.join("/");
    b.params.insert("procs".into(), procs.into());
    if !pkg.is_empty() {
        b.params.insert("pkg".into(), pkg.into());
    }
    b
}

fn normalise_unit(unit: &str) -> MetricSlot {
    let slot = |name: &str, unit: &str, scale: f64| MetricSlot {
        name: name.into(),
        unit: Unit(unit.into()),
        scale,
    };
    match unit {
        "ns/op" => slot("time", "s", 1e-9),
        "sec/op" => slot("time", "s", 1.0),
        "MB/s" => slot("throughput", "B/s", 1e6),
        "B/s" => slot("throughput", "B/s", 1.0),
        "B/op" => slot("bytes_per_op", "B", 1.0),
        "allocs/op" => slot("allocs_per_op", "count", 1.0),
        other => {
            if let Some(rest) = other.strip_prefix("ns/") {
                let u = format!("s/{rest}");
                slot(&u, &u, 1e-9)
            } else if let Some(rest) = other.strip_prefix("MB/") {
                let u = format!("B/{rest}");
                slot(&u, &u, 1e6)
            } else {
                slot(other, other, 1.0)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_and_skipped_benchmarks_are_named() {
        let text = "BenchmarkA-2 10 100 ns/op\n--- FAIL: BenchmarkB-2\n    b_test.go:9: boom\n--- SKIP: BenchmarkC\nFAIL\n";
        let p = parse(text, "b.txt").unwrap();
        assert_eq!(
            p.warnings,
            [
                "b.txt:2: BenchmarkB-2 failed; its results are missing or partial",
                "b.txt:4: BenchmarkC was skipped; its results are missing or partial"
            ]
        );
    }

    fn keys(text: &str) -> Vec<String> {
        parse(text, "t")
            .unwrap()
            .benchmarks
            .iter()
            .map(|b| b.key())
            .collect()
    }

    #[test]
    fn no_suffix_means_procs_1_and_sub_benchmark_dashes_stay_in_the_name() {
        // GOMAXPROCS=1: Go prints no suffix; `size-1024` is the sub-benchmark's own name.
        let one = "BenchmarkWords 10 100 ns/op\nBenchmarkIndex/size-64 10 5 ns/op\nBenchmarkIndex/size-1024 10 9 ns/op\n";
        assert_eq!(
            keys(one),
            [
                "Words/procs=1",
                "Index/size-64/procs=1",
                "Index/size-1024/procs=1"
            ]
        );
        // GOMAXPROCS=2: the same sub-benchmarks carry -2.
        let two = "BenchmarkWords-2 10 100 ns/op\nBenchmarkIndex/size-64-2 10 5 ns/op\nBenchmarkIndex/size-1024-2 10 9 ns/op\n";
        assert_eq!(
            keys(two),
            [
                "Words/procs=2",
                "Index/size-64/procs=2",
                "Index/size-1024/procs=2"
            ]
        );
        // -cpu 1,2: both, each with its procs.
        let cpus = "BenchmarkWords 10 100 ns/op\nBenchmarkWords-2 10 60 ns/op\nBenchmarkIndex/size-64 10 5 ns/op\nBenchmarkIndex/size-64-2 10 4 ns/op\n";
        assert_eq!(
            keys(cpus),
            [
                "Words/procs=1",
                "Words/procs=2",
                "Index/size-64/procs=1",
                "Index/size-64/procs=2"
            ]
        );
        // Only sub-benchmarks, all ending in the same -8: that is procs.
        let subs = "BenchmarkX/a-8 10 1 ns/op\nBenchmarkX/b-8 10 2 ns/op\n";
        assert_eq!(keys(subs), ["X/a/procs=8", "X/b/procs=8"]);
    }

    #[test]
    fn reads_every_count_and_metric() {
        let text = "pkg: example.com/x\ncpu: Intel\nBenchmarkA-8 10 100 ns/op 2.5 MB/s 16 B/op 1 allocs/op 3 widgets/op\nBenchmarkA-8 10 110 ns/op 2.0 MB/s 16 B/op 1 allocs/op 4 widgets/op\n";
        let p = parse(text, "t").unwrap();
        assert_eq!(p.benchmarks.len(), 1);
        let b = &p.benchmarks[0];
        assert_eq!(b.key(), "A/pkg=example.com/x/procs=8");
        assert_eq!(b.metric("time").unwrap().samples, vec![100e-9, 110e-9]);
        let thr = b.metric("throughput").unwrap();
        assert_eq!(thr.samples, vec![2.5e6, 2.0e6]);
        assert_eq!(thr.better, Better::Higher);
        assert_eq!(b.metric("widgets/op").unwrap().samples, vec![3.0, 4.0]);
        assert_eq!(p.labels["cpu"], "Intel");
    }

    #[test]
    fn truncated_line_names_the_line() {
        let err = parse("BenchmarkA 10 100 ns/op\nBenchmarkA 10 100", "f.txt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "f.txt:2: value \"100\" has no unit (is the file truncated?)"
        );
    }

    #[test]
    fn log_lines_that_look_like_names_are_skipped() {
        let p = parse(
            "BenchmarkA\nBenchmarkA some log\nBenchmarkA 1 5 ns/op\nBenchmarking is fun\n",
            "t",
        )
        .unwrap();
        assert_eq!(p.benchmarks.len(), 1);
    }
}
