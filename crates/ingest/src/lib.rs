//! Stage: **measure** (from files). Reads what other benchmark tools wrote and turns it into
//! perflab's model: a list of [`Benchmark`]s with raw samples in base units.
//!
//! One module per tool: [`gotest`] (`go test -bench`), [`libtest`] (`cargo bench` with
//! `#[bench]`), [`criterion`] (its `target/criterion` tree and its console text), [`gbench`]
//! (Google Benchmark JSON), [`pytest_benchmark`], [`hyperfine`] JSON, [`bmf`] (Bencher Metric
//! Format) and perflab's own result documents. [`detect`] picks the format from the content, so
//! users rarely name it.
//!
//! ```
//! use perflab_ingest::{parse, detect, Format};
//! let text = "goos: linux\nBenchmarkEncode/format=json-8  1000  1718 ns/op  64 B/op\n";
//! assert_eq!(detect(text), Some(Format::GoTest));
//! let parsed = parse(Format::GoTest, text, "bench.txt").unwrap();
//! let b = &parsed.benchmarks[0];
//! assert_eq!(b.key(), "Encode/format=json/procs=8");
//! assert_eq!(b.metric("time").unwrap().samples, vec![1.718e-6]);
//! ```

pub mod bmf;
pub mod criterion;
pub mod gbench;
pub mod gctrace;
pub mod gotest;
pub mod gungraun;
pub mod harness;
pub mod hyperfine;
pub mod libtest;
pub mod pytest_benchmark;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use perflab_model::{Benchmark, Run, ToolInfo};

/// A result format perflab reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `go test -bench` text (the Go benchmark format).
    GoTest,
    /// libtest `cargo bench` text.
    Libtest,
    /// criterion's console text.
    CriterionText,
    /// criterion's `target/criterion` directory with raw samples.
    CriterionDir,
    /// Google Benchmark `--benchmark_format=json`.
    GoogleBenchmark,
    /// pytest-benchmark `--benchmark-json`.
    PytestBenchmark,
    /// hyperfine `--export-json`.
    Hyperfine,
    /// Bencher Metric Format JSON.
    Bmf,
    /// gungraun's (iai-callgrind's) and iai's console text: instruction counts.
    Gungraun,
    /// perflab's own `perflab.result.v1`.
    Perflab,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 10] = [
        Format::GoTest,
        Format::Libtest,
        Format::CriterionText,
        Format::CriterionDir,
        Format::GoogleBenchmark,
        Format::PytestBenchmark,
        Format::Hyperfine,
        Format::Bmf,
        Format::Gungraun,
        Format::Perflab,
    ];

    /// The name used by `--format`.
    pub fn name(self) -> &'static str {
        match self {
            Format::GoTest => "gotest",
            Format::Libtest => "libtest",
            Format::CriterionText => "criterion",
            Format::CriterionDir => "criterion-dir",
            Format::GoogleBenchmark => "gbench",
            Format::PytestBenchmark => "pytest-benchmark",
            Format::Hyperfine => "hyperfine",
            Format::Bmf => "bmf",
            Format::Gungraun => "gungraun",
            Format::Perflab => "perflab",
        }
    }

    /// Parse a `--format` name (a few aliases accepted).
    pub fn from_name(name: &str) -> Option<Format> {
        let n = name.to_ascii_lowercase();
        Format::ALL
            .into_iter()
            .find(|f| f.name() == n)
            .or(match n.as_str() {
                "go" | "go-test" => Some(Format::GoTest),
                "cargo" | "cargo-bench" | "rust" => Some(Format::Libtest),
                "google-benchmark" | "googlebenchmark" => Some(Format::GoogleBenchmark),
                "pytest" => Some(Format::PytestBenchmark),
                "bencher" => Some(Format::Bmf),
                "iai" | "iai-callgrind" => Some(Format::Gungraun),
                _ => None,
            })
    }
}

impl Format {
    /// A `--format` value: none, or a known name.
    ///
    /// # Errors
    /// [`IngestError::FormatName`] listing the known names.
    pub fn parse_option(name: Option<&str>) -> Result<Option<Format>, IngestError> {
        name.map(|n| Format::from_name(n).ok_or_else(|| IngestError::FormatName { name: n.into() }))
            .transpose()
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a file held.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The format it was read as.
    pub format: Format,
    /// The tool that produced it.
    pub tool: ToolInfo,
    /// Benchmarks, repeated runs merged into one benchmark with many samples.
    pub benchmarks: Vec<Benchmark>,
    /// Configuration the tool printed (`goos: linux`, `cpu: …`).
    pub labels: BTreeMap<String, String>,
    /// A whole perflab run, when the input was one.
    pub run: Option<Box<Run>>,
    /// Values and entries left out, each naming the source (and line where known).
    pub warnings: Vec<String>,
}

impl Parsed {
    /// The results as a run: the document itself when the input was one, else a new run of
    /// `kind` with the tool, labels and benchmarks read.
    pub fn into_run(self, kind: perflab_model::RunKind) -> Run {
        match self.run {
            Some(run) => *run,
            None => {
                let mut run = Run::new(kind);
                run.tool = self.tool;
                run.labels = self.labels;
                run.benchmarks = self.benchmarks;
                run
            }
        }
    }

    fn new(format: Format, tool: &str, benchmarks: Vec<Benchmark>) -> Parsed {
        Parsed {
            format,
            tool: ToolInfo {
                name: tool.into(),
                version: None,
            },
            benchmarks,
            labels: BTreeMap::new(),
            run: None,
            warnings: Vec::new(),
        }
    }
}

/// Errors reading results. Every variant names the source; line numbers are 1-based.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IngestError {
    /// The file or directory could not be read.
    #[error("{source_name}: {error}")]
    Io {
        /// File name.
        source_name: String,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// No known format matched.
    #[error(
        "{source_name}: unknown result format (name one with --format: {})",
        format_list()
    )]
    UnknownFormat {
        /// File name.
        source_name: String,
    },
    /// A line of a text format is malformed.
    #[error("{source_name}:{line}: {message}")]
    Syntax {
        /// File name.
        source_name: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A JSON document is malformed or truncated.
    #[error("{source_name}:{line}:{column}: invalid {format} JSON: {message}")]
    Json {
        /// File name.
        source_name: String,
        /// The format expected.
        format: Format,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// A required field is missing or has the wrong type.
    #[error("{source_name}: {field}: {message}")]
    Field {
        /// File name.
        source_name: String,
        /// JSON path of the field.
        field: String,
        /// What is wrong, with a hint.
        message: String,
    },
    /// `--format` named no known format.
    #[error("unknown format {name:?} (known: {})", format_list())]
    FormatName {
        /// What was given.
        name: String,
    },
    /// The input is larger than perflab reads, or is not text.
    #[error("{source_name}: {message}")]
    Input {
        /// File name.
        source_name: String,
        /// What is wrong.
        message: String,
    },
    /// The input parsed but held no results.
    #[error("{source_name}: no benchmark results found (read as {format}){why}")]
    Empty {
        /// File name.
        source_name: String,
        /// The format it was read as.
        format: Format,
        /// What was left out, when something was (`; a time: no samples; left out`).
        why: String,
    },
}

fn format_list() -> String {
    Format::ALL.map(Format::name).join(", ")
}

pub(crate) fn json_error(source: &str, format: Format, e: serde_json::Error) -> IngestError {
    let message = e.to_string();
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(&message)
        .to_string();
    IngestError::Json {
        source_name: source.into(),
        format,
        line: e.line(),
        column: e.column(),
        message,
    }
}

pub(crate) fn field_error(source: &str, field: impl Into<String>, message: &str) -> IngestError {
    IngestError::Field {
        source_name: source.into(),
        field: field.into(),
        message: message.into(),
    }
}

/// Guess the format of a text from its content.
pub fn detect(text: &str) -> Option<Format> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return detect_json(trimmed);
    }
    let mut criterion = false;
    for line in text.lines().take(200_000) {
        let l = line.trim_start();
        if gotest::is_result_line(l) {
            return Some(Format::GoTest);
        }
        if gungraun::is_metric_line(line) && line.starts_with(' ') {
            return Some(Format::Gungraun);
        }
        if l.starts_with("test ") && l.contains(" bench:") {
            return Some(Format::Libtest);
        }
        if l.contains("time:") && l.contains('[') {
            criterion = true;
        }
    }
    criterion.then_some(Format::CriterionText)
}

fn detect_json(text: &str) -> Option<Format> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(text) else {
        // Not valid JSON (truncated, hand-edited): guess the format from its first keys, so the
        // user is told the JSON error with its line and column, not "unknown format".
        return guess_broken_json(text);
    };
    let obj = v.as_object()?;
    if obj
        .get("schema")
        .and_then(|s| s.as_str())
        .is_some_and(|s| s.starts_with("perflab.result"))
    {
        return Some(Format::Perflab);
    }
    if obj.get("results").is_some_and(|r| r.is_array()) {
        return Some(Format::Hyperfine);
    }
    if let Some(b) = obj.get("benchmarks").and_then(|b| b.as_array()) {
        if obj.contains_key("machine_info") || b.iter().any(|x| x.get("stats").is_some()) {
            return Some(Format::PytestBenchmark);
        }
        return Some(Format::GoogleBenchmark);
    }
    if obj.contains_key("kind") && obj.contains_key("benchmarks") {
        return Some(Format::Perflab);
    }
    if !obj.is_empty()
        && obj.values().all(|m| {
            m.as_object()
                .is_some_and(|m| m.values().all(|x| x.get("value").is_some()))
        })
    {
        return Some(Format::Bmf);
    }
    None
}

fn guess_broken_json(text: &str) -> Option<Format> {
    let head: String = text.chars().take(64 * 1024).collect();
    let has = |key: &str| head.contains(&format!("\"{key}\""));
    if head.contains("\"perflab.result") || (has("kind") && has("started_at")) {
        Some(Format::Perflab)
    } else if has("results") && (has("command") || has("mean")) {
        Some(Format::Hyperfine)
    } else if has("machine_info") || (has("benchmarks") && has("stats")) {
        Some(Format::PytestBenchmark)
    } else if has("benchmarks") && (has("context") || has("real_time") || has("run_name")) {
        Some(Format::GoogleBenchmark)
    } else if has("latency") || has("throughput") {
        Some(Format::Bmf)
    } else {
        None
    }
}

/// Parse `text` as `format`. `source` names the input in errors.
///
/// # Errors
/// A syntax, JSON or field error naming `source` and the line; [`IngestError::Empty`] when the
/// input holds no results.
pub fn parse(format: Format, text: &str, source: &str) -> Result<Parsed, IngestError> {
    let parsed = match format {
        Format::GoTest => gotest::parse(text, source)?,
        Format::Libtest => libtest::parse(text, source)?,
        Format::Gungraun => gungraun::parse(text, source)?,
        Format::CriterionText => criterion::parse_text(text, source)?,
        Format::CriterionDir => {
            return Err(field_error(
                source,
                "format",
                "criterion-dir reads a directory, not a text (pass the target/criterion path)",
            ))
        }
        Format::GoogleBenchmark => gbench::parse(text, source)?,
        Format::PytestBenchmark => pytest_benchmark::parse(text, source)?,
        Format::Hyperfine => hyperfine::parse(text, source)?,
        Format::Bmf => bmf::parse(text, source)?,
        Format::Perflab => {
            let run = Run::from_json(text).map_err(|e| match e {
                perflab_model::ModelError::Json {
                    line,
                    column,
                    message,
                } => IngestError::Json {
                    source_name: source.into(),
                    format,
                    line,
                    column,
                    message,
                },
                other => field_error(source, "schema", &other.to_string()),
            })?;
            let mut p = Parsed::new(format, &run.tool.name, run.benchmarks.clone());
            p.tool = run.tool.clone();
            p.labels = run.labels.clone();
            p.run = Some(Box::new(run));
            p
        }
    };
    finish(parsed, source)
}

pub(crate) fn finish_public(parsed: Parsed, source: &str) -> Result<Parsed, IngestError> {
    finish(parsed, source)
}

/// The checks every input passes: what must not enter the model is left out with a warning,
/// and an input left with nothing is an error.
fn finish(parsed: Parsed, source: &str) -> Result<Parsed, IngestError> {
    let format = parsed.format;
    let mut parsed = parsed;
    for w in perflab_model::sanitize(&mut parsed.benchmarks) {
        parsed.warnings.push(format!("{source}: {w}"));
    }
    if let Some(run) = parsed.run.as_mut() {
        run.benchmarks = parsed.benchmarks.clone();
    }
    if parsed.benchmarks.is_empty() || parsed.benchmarks.iter().all(|b| b.metrics.is_empty()) {
        let why = match parsed.warnings.first() {
            Some(w) => format!(
                "; {}",
                w.strip_prefix(&format!("{source}:"))
                    .unwrap_or(w)
                    .trim_start()
            ),
            None => String::new(),
        };
        return Err(IngestError::Empty {
            source_name: source.into(),
            format,
            why,
        });
    }
    Ok(parsed)
}

/// Read a file or a criterion directory, detecting the format unless one is given.
///
/// # Errors
/// As [`parse`], plus [`IngestError::Io`] and [`IngestError::UnknownFormat`].
pub fn parse_path(path: &Path, format: Option<Format>) -> Result<Parsed, IngestError> {
    let source = path.display().to_string();
    if path.is_dir() || format == Some(Format::CriterionDir) {
        return finish(criterion::parse_dir(path, &source)?, &source);
    }
    let bytes = read_bounded(path, &source)?;
    let text = String::from_utf8_lossy(&bytes);
    let format = match format {
        Some(f) => f,
        None => detect(&text).ok_or_else(|| IngestError::UnknownFormat {
            source_name: source.clone(),
        })?,
    };
    parse(format, &text, &source)
}

/// The largest result file perflab reads (1 GiB): big enough for the longest `go test` logs,
/// small enough that a wrong path (`/dev/zero`, a disk image) ends with an error, not with all
/// the memory.
pub const MAX_INPUT_BYTES: u64 = 1 << 30;

/// Read a file of at most [`MAX_INPUT_BYTES`], refusing binary data (NUL bytes) early.
fn read_bounded(path: &Path, source: &str) -> Result<Vec<u8>, IngestError> {
    use std::io::Read as _;
    let io = |error| IngestError::Io {
        source_name: source.into(),
        error,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut reader = file.take(MAX_INPUT_BYTES + 1);
    let mut bytes = Vec::new();
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        };
        if chunk[..n].contains(&0) {
            return Err(IngestError::Input {
                source_name: source.into(),
                message: format!(
                    "binary data (a NUL byte within the first {} bytes), not a result file",
                    bytes.len() + n
                ),
            });
        }
        bytes.extend_from_slice(&chunk[..n]);
        if bytes.len() as u64 > MAX_INPUT_BYTES {
            return Err(IngestError::Input {
                source_name: source.into(),
                message: format!(
                    "larger than {} MiB, the most perflab reads from one file",
                    MAX_INPUT_BYTES >> 20
                ),
            });
        }
    }
    Ok(bytes)
}

/// Parse text whose format is given or detected (for a harness's captured stdout).
///
/// # Errors
/// As [`parse`], plus [`IngestError::UnknownFormat`].
pub fn parse_text(text: &str, format: Option<Format>, source: &str) -> Result<Parsed, IngestError> {
    let format = match format {
        Some(f) => f,
        None => detect(text).ok_or_else(|| IngestError::UnknownFormat {
            source_name: source.into(),
        })?,
    };
    parse(format, text, source)
}

/// Parse a number that may carry thousands separators (`47,251.85`).
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    if s.contains(',') {
        s.replace(',', "").parse().ok()
    } else {
        s.parse().ok()
    }
}

/// Scale of a time unit to seconds.
pub(crate) fn time_scale(unit: &str) -> Option<f64> {
    Some(match unit {
        "ps" => 1e-12,
        "ns" => 1e-9,
        "us" | "µs" | "μs" => 1e-6,
        "ms" => 1e-3,
        "s" | "sec" => 1.0,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

/// `value × factor`, dividing by the exact power of ten for sub-unit factors so that `100 ns`
/// becomes exactly `1e-7 s` (multiplying by `1e-9` would not round-trip).
pub(crate) fn scaled(value: f64, factor: f64) -> f64 {
    if factor < 1.0 {
        value / (1.0 / factor).round()
    } else {
        value * factor
    }
}

/// Merge benchmarks with the same identity, keeping first-seen order.
pub(crate) fn coalesce(benchmarks: Vec<Benchmark>) -> Vec<Benchmark> {
    let mut run = Run::new(perflab_model::RunKind::Import);
    run.benchmarks = benchmarks;
    run.coalesce();
    run.benchmarks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in Format::ALL {
            assert_eq!(Format::from_name(f.name()), Some(f));
        }
        assert_eq!(Format::from_name("go"), Some(Format::GoTest));
        assert_eq!(Format::from_name("nope"), None);
    }

    #[test]
    fn detect_refuses_prose() {
        assert_eq!(detect("hello world\nnothing here\n"), None);
        assert_eq!(detect("{\"a\": 1}"), None);
    }

    #[test]
    fn empty_results_are_an_error() {
        let err = parse(Format::GoTest, "goos: linux\nPASS\n", "x.txt").unwrap_err();
        assert_eq!(
            err.to_string(),
            "x.txt: no benchmark results found (read as gotest)"
        );
    }
}
