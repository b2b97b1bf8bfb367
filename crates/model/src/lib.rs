//! Stage: **model**. Plain data shared by every stage: a [`Run`] holds [`Benchmark`]s, each holds
//! [`Metric`]s, each holds raw samples. Importers and measuring crates produce it; analyses and
//! renderers consume it. No I/O happens here.
//!
//! The serialised form is the `perflab.result.v1` JSON document (see `docs/result-format.md`).
//! Values are stored in base units: seconds, bytes, counts, per-second rates.
//!
//! ```
//! use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
//! let mut run = Run::new(RunKind::Import);
//! let mut b = Benchmark::new("Encode").with_param("format", "json");
//! b.metrics.push(Metric::new("time", Unit::seconds(), vec![1.2e-6, 1.3e-6]));
//! run.benchmarks.push(b);
//! let text = run.to_json();
//! let back = Run::from_json(&text).unwrap();
//! assert_eq!(back.benchmarks[0].key(), "Encode/format=json");
//! ```

pub mod history;
pub mod load;
pub mod profile;
pub mod quantity;
mod time;
mod unit;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use quantity::{parse_bound, parse_quantity, Bound, BoundOp, Kind, Quantity, QuantityError};
pub use time::{
    format_rfc3339, now_rfc3339, now_unix_ms, parse_duration, parse_rfc3339_ms, DurationError,
};
pub use unit::{Better, Unit};

/// The schema name written into every result document.
pub const RESULT_SCHEMA: &str = "perflab.result.v1";

/// What produced a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunKind {
    /// An HTTP load test.
    Load,
    /// Whole commands timed by perflab.
    Run,
    /// A benchmark harness run by perflab.
    Bench,
    /// Results read from files.
    Import,
    /// A CPU or allocation profile.
    Profile,
    /// Two git revisions built and measured interleaved (`compare A..B`).
    Ab,
}

impl RunKind {
    /// The lowercase name used in JSON and the store.
    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Load => "load",
            RunKind::Run => "run",
            RunKind::Bench => "bench",
            RunKind::Import => "import",
            RunKind::Profile => "profile",
            RunKind::Ab => "ab",
        }
    }
}

/// The git state of the working tree a run measured.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GitInfo {
    /// Full commit hash of HEAD.
    pub commit: String,
    /// Branch name; absent on a detached HEAD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Whether tracked files had uncommitted changes.
    #[serde(default)]
    pub dirty: bool,
}

/// Facts about the machine a run measured on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Host name.
    #[serde(default)]
    pub hostname: String,
    /// Operating system (`linux`, `macos`, …).
    #[serde(default)]
    pub os: String,
    /// CPU architecture (`x86_64`, `aarch64`, …).
    #[serde(default)]
    pub arch: String,
    /// CPU model name, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<String>,
    /// Logical CPUs.
    #[serde(default)]
    pub cores: usize,
    /// Physical memory in bytes, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
}

/// The program that produced the numbers (perflab itself, or the harness it read).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Tool name (`perflab`, `go test`, `criterion`, …).
    pub name: String,
    /// Tool version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
}

/// One measurement session: what was measured, where, when, and the results.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Run {
    /// Always [`RESULT_SCHEMA`] when written by this version.
    #[serde(default)]
    pub schema: String,
    /// Unique id (a time-ordered UUID v7).
    pub id: String,
    /// What produced the run.
    pub kind: RunKind,
    /// RFC 3339 UTC start time.
    pub started_at: String,
    /// RFC 3339 UTC end time.
    #[serde(default)]
    pub finished_at: String,
    /// Git state, when the run was made inside a repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitInfo>,
    /// The measuring machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<HostInfo>,
    /// The tool that produced the numbers.
    #[serde(default)]
    pub tool: ToolInfo,
    /// The command line that was measured or run, when there was one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Free-form labels (`ci=true`, `env=staging`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// True when the run was stopped early (Ctrl-C): what it holds was measured, but less of it.
    #[serde(default)]
    pub interrupted: bool,
    /// The results.
    #[serde(default)]
    pub benchmarks: Vec<Benchmark>,
    /// Load-test details (kind `load` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<load::LoadSummary>,
    /// Profiles: one per target of a `profile` or `scan` run, or attached to a benchmark run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<profile::ProfileSummary>,
    /// The base side of an A/B run (kind `ab`); `benchmarks` holds the current side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ab: Option<AbRun>,
}

/// An A/B run: two revisions measured alternately on one machine, so that drift and noise
/// fall on both sides alike. The current side's results are the run's `benchmarks` (its trends
/// continue the current side's history); the base side's are here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbRun {
    /// The base revision.
    pub base: AbSide,
    /// The current revision.
    pub current: AbSide,
    /// Measured rounds (each runs both sides once).
    pub rounds: usize,
    /// How the sides were ordered within rounds: `alternate`, or `random` with its seed.
    pub order: String,
    /// The base side's results.
    #[serde(default)]
    pub base_benchmarks: Vec<Benchmark>,
}

/// One side of an A/B run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AbSide {
    /// What the user named (`main`, `HEAD~3`, `WORKTREE`), or `merge-base(A, B)`.
    pub rev: String,
    /// The full commit hash it resolved to.
    pub commit: String,
    /// The side is the user's work tree with uncommitted changes.
    #[serde(default)]
    pub dirty: bool,
}

/// One line of `perflab log`, as the history lists it (from its columns, never from
/// the document).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    /// Run id.
    pub id: String,
    /// Run kind.
    pub kind: String,
    /// Start time (RFC 3339).
    pub started_at: String,
    /// Start time, Unix milliseconds.
    pub started_unix_ms: i64,
    /// Git commit.
    pub commit: Option<String>,
    /// Git branch.
    pub branch: Option<String>,
    /// Uncommitted changes.
    pub dirty: bool,
    /// Interrupted run.
    pub interrupted: bool,
    /// Number of benchmarks.
    pub benchmarks: usize,
    /// The command measured, if any.
    pub command: String,
    /// Baseline names pointing at it.
    pub baselines: Vec<String>,
}

/// Errors reading a result document.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ModelError {
    /// The text is not valid JSON or misses a required field.
    #[error("line {line}, column {column}: {message}")]
    Json {
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What serde said.
        message: String,
    },
    /// The document is a perflab document of another kind or a newer version.
    #[error("unsupported schema {found:?} (this perflab reads {RESULT_SCHEMA}; is it from a newer perflab?)")]
    Schema {
        /// The schema field found.
        found: String,
    },
}

impl Run {
    /// An empty run of `kind`, started now, with a fresh id and perflab as the tool.
    pub fn new(kind: RunKind) -> Run {
        let now = now_rfc3339();
        Run {
            schema: RESULT_SCHEMA.to_string(),
            id: uuid::Uuid::now_v7().to_string(),
            kind,
            started_at: now.clone(),
            finished_at: now,
            git: None,
            host: None,
            tool: ToolInfo {
                name: "perflab".into(),
                version: Some(env!("CARGO_PKG_VERSION").into()),
            },
            command: Vec::new(),
            labels: BTreeMap::new(),
            interrupted: false,
            benchmarks: Vec::new(),
            load: None,
            profiles: Vec::new(),
            ab: None,
        }
    }

    /// Pretty JSON of the document, ending in a newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).expect("invariant: a Run always serialises");
        s.push('\n');
        s
    }

    /// Compact JSON of the document (what the history stores: a third of the pretty form).
    pub fn to_compact_json(&self) -> String {
        serde_json::to_string(self).expect("invariant: a Run always serialises")
    }

    /// Parse a result document. Documents without a `schema` field (written before it existed)
    /// load as v1.
    ///
    /// # Errors
    /// [`ModelError::Json`] with the line and column of bad JSON, [`ModelError::Schema`] for a
    /// document of another kind or a newer version.
    pub fn from_json(text: &str) -> Result<Run, ModelError> {
        /// Just the schema, read first so a newer document is named as such rather than failing
        /// on a field this version does not know.
        #[derive(Deserialize)]
        struct Head {
            schema: Option<String>,
        }
        match serde_json::from_str::<Head>(text) {
            Ok(Head {
                schema: Some(found),
            }) if found != RESULT_SCHEMA => return Err(ModelError::Schema { found }),
            Ok(_) => {}
            Err(e) => return Err(json_error(e)),
        }
        // Parsed straight from the text, so errors keep their line and column.
        let mut run: Run = serde_json::from_str(text).map_err(json_error)?;
        if run.schema.is_empty() {
            // Written before the field existed.
            run.schema = RESULT_SCHEMA.to_string();
        }
        Ok(run)
    }

    /// The benchmark with this identity, if any.
    pub fn benchmark(&self, key: &str) -> Option<&Benchmark> {
        self.benchmarks.iter().find(|b| b.key() == key)
    }

    /// Merge repeated benchmarks (same name and params) by appending their metrics' samples, so
    /// that `-count=10` output becomes one benchmark with ten samples per metric.
    pub fn coalesce(&mut self) {
        let mut out: Vec<Benchmark> = Vec::with_capacity(self.benchmarks.len());
        let mut index: std::collections::HashMap<String, usize> = Default::default();
        for b in std::mem::take(&mut self.benchmarks) {
            match index.get(&b.key()) {
                Some(&i) => out[i].absorb(b),
                None => {
                    index.insert(b.key(), out.len());
                    out.push(b);
                }
            }
        }
        self.benchmarks = out;
    }
}

/// Whether `id` is a run id as perflab writes them: a UUID in its hyphenated form (36
/// characters). Anything else (a path, a branch name, markup, a 5,000-character string) is not
/// an id a server stores.
pub fn is_run_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::try_parse(id).is_ok()
}

/// Whether `prefix` can start a run id: 1 to 36 hex digits and hyphens.
pub fn is_run_id_prefix(prefix: &str) -> bool {
    (1..=36).contains(&prefix.len()) && prefix.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
}

fn json_error(e: serde_json::Error) -> ModelError {
    ModelError::Json {
        line: e.line(),
        column: e.column(),
        message: e
            .to_string()
            .split(" at line ")
            .next()
            .unwrap_or("")
            .to_string(),
    }
}

/// Remove what must never enter the model: non-finite samples (NaN, ±Inf, values out of range
/// such as `1e400`), negative times, sizes and rates, metrics left without samples (and without
/// a histogram) and benchmarks left without metrics. Returns one warning per removal, naming
/// the benchmark and metric, so the caller can say what was dropped.
pub fn sanitize(benchmarks: &mut Vec<Benchmark>) -> Vec<String> {
    let mut warnings = Vec::new();
    for b in benchmarks.iter_mut() {
        let key = b.key();
        for m in &mut b.metrics {
            let before = m.samples.len();
            m.samples.retain(|v| v.is_finite());
            let non_finite = before - m.samples.len();
            if non_finite > 0 {
                warnings.push(format!(
                    "{key} {}: {non_finite} non-finite value(s) dropped (NaN, ±Inf or out of range)",
                    m.name
                ));
            }
            if m.unit.cannot_be_negative() {
                let before = m.samples.len();
                m.samples.retain(|&v| v >= 0.0);
                let negative = before - m.samples.len();
                if negative > 0 {
                    warnings.push(format!(
                        "{key} {}: {negative} negative value(s) dropped (a {} cannot be negative)",
                        m.name, m.unit
                    ));
                }
            }
        }
        b.metrics.retain(|m| {
            let keep = !m.samples.is_empty() || m.histogram.is_some();
            if !keep {
                warnings.push(format!("{key} {}: no samples; left out", m.name));
            }
            keep
        });
    }
    benchmarks.retain(|b| {
        if b.metrics.is_empty() {
            warnings.push(format!("{}: no metric left; left out", b.key()));
        }
        !b.metrics.is_empty()
    });
    warnings
}

/// One benchmark: a name, its parameters, and what was measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Benchmark {
    /// Name without parameters (`Encode`, `fib/recursive`).
    pub name: String,
    /// Parameters that identify a variant (`size=1024`, `backend=kafka`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub params: BTreeMap<String, String>,
    /// The metrics.
    #[serde(default)]
    pub metrics: Vec<Metric>,
    /// The harness's iteration count behind each sample, in sample order (Go's `N`, criterion's
    /// iterations per sample), where the harness said it; written back by `show --format gotest`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub iterations: Vec<u64>,
    /// The round (1-based) each sample was measured in, in sample order, when the samples come
    /// from `compare A..B`'s rounds: samples of one round share the machine's state, so the
    /// gate compares the sides round by round instead of pooling them as independent.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rounds: Vec<u32>,
}

impl Benchmark {
    /// A benchmark with no params and no metrics.
    pub fn new(name: impl Into<String>) -> Benchmark {
        Benchmark {
            name: name.into(),
            params: BTreeMap::new(),
            metrics: Vec::new(),
            iterations: Vec::new(),
            rounds: Vec::new(),
        }
    }

    /// Add a parameter.
    pub fn with_param(mut self, key: impl Into<String>, value: impl Into<String>) -> Benchmark {
        self.params.insert(key.into(), value.into());
        self
    }

    /// The identity used to match benchmarks across runs: the name, then `/key=value` for each
    /// parameter in key order.
    pub fn key(&self) -> String {
        let mut k = self.name.clone();
        for (p, v) in &self.params {
            k.push('/');
            k.push_str(p);
            k.push('=');
            k.push_str(v);
        }
        k
    }

    /// The round of each of `metric`'s samples, when every sample has one.
    pub fn rounds_of(&self, metric: &Metric) -> Option<&[u32]> {
        (!self.rounds.is_empty() && self.rounds.len() == metric.samples.len())
            .then_some(&self.rounds[..])
    }

    /// The metric with this name, if any.
    pub fn metric(&self, name: &str) -> Option<&Metric> {
        self.metrics.iter().find(|m| m.name == name)
    }

    /// Append `other`'s samples metric by metric (metrics new to `self` are added).
    pub fn absorb(&mut self, other: Benchmark) {
        let samples = |b: &Benchmark| b.metrics.iter().map(|m| m.samples.len()).max();
        // Iteration counts stay only while they still line up with the samples.
        if self.iterations.len() == samples(self).unwrap_or(0)
            && other.iterations.len() == samples(&other).unwrap_or(0)
        {
            self.iterations.extend(&other.iterations);
        } else {
            self.iterations.clear();
        }
        // So do round numbers.
        if self.rounds.len() == samples(self).unwrap_or(0)
            && other.rounds.len() == samples(&other).unwrap_or(0)
        {
            self.rounds.extend(&other.rounds);
        } else {
            self.rounds.clear();
        }
        for m in other.metrics {
            match self
                .metrics
                .iter_mut()
                .find(|x| x.name == m.name && x.unit == m.unit)
            {
                Some(x) => x.samples.extend(m.samples),
                None => self.metrics.push(m),
            }
        }
    }
}

impl fmt::Display for Benchmark {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// One measured quantity with every raw sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metric {
    /// `time`, `throughput`, `bytes_per_op`, `allocs_per_op`, `rss`, `p99`, … or the harness's own.
    pub name: String,
    /// Unit of the samples, in base units.
    pub unit: Unit,
    /// Which direction is an improvement.
    pub better: Better,
    /// One value per iteration, run or interval.
    #[serde(default)]
    pub samples: Vec<f64>,
    /// Base64 HDR histogram (V2 deflate) for latency metrics, when one exists.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<String>,
}

impl Metric {
    /// A metric whose direction follows from its unit.
    pub fn new(name: impl Into<String>, unit: Unit, samples: Vec<f64>) -> Metric {
        let better = unit.default_better();
        Metric {
            name: name.into(),
            unit,
            better,
            samples,
            histogram: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_are_uuids_and_prefixes_are_hex() {
        assert!(is_run_id(&Run::new(RunKind::Run).id));
        for bad in [
            "",
            "../x",
            "main",
            "p99<",
            &"a".repeat(5000),
            "0192c1a4-7c0e-7a9b-9f1e",
        ] {
            assert!(!is_run_id(bad), "{bad:?}");
        }
        assert!(is_run_id_prefix("0192c1a4-7c"));
        for bad in ["", "a_b", "10%", "main", &"a".repeat(37)] {
            assert!(!is_run_id_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn compact_json_reads_back_the_same_run() {
        let mut run = Run::new(RunKind::Bench);
        let mut b = Benchmark::new("parse");
        b.metrics
            .push(Metric::new("time", Unit::seconds(), vec![1.5, 2.25]));
        run.benchmarks.push(b);
        let compact = run.to_compact_json();
        assert!(!compact.contains('\n') && compact.len() < run.to_json().len());
        assert_eq!(Run::from_json(&compact).unwrap(), run);
    }

    #[test]
    fn round_trips_through_json_exactly() {
        let mut run = Run::new(RunKind::Run);
        let mut b = Benchmark::new("sleep").with_param("n", "1");
        b.metrics.push(Metric::new(
            "time",
            Unit::seconds(),
            vec![0.1 + 0.2, 1e-9, 93.19999999999999],
        ));
        run.benchmarks.push(b);
        let back = Run::from_json(&run.to_json()).unwrap();
        assert_eq!(back, run);
    }

    #[test]
    fn documents_without_schema_load_as_v1() {
        let text = r#"{"id":"x","kind":"import","started_at":"2024-01-01T00:00:00Z",
            "benchmarks":[{"name":"a","metrics":[{"name":"time","unit":"s","better":"lower","samples":[1]}]}]}"#;
        let run = Run::from_json(text).unwrap();
        assert_eq!(run.schema, RESULT_SCHEMA);
        assert_eq!(run.benchmarks[0].metrics[0].samples, vec![1.0]);
    }

    #[test]
    fn newer_schema_is_refused_with_a_hint() {
        let err = Run::from_json(r#"{"schema":"perflab.result.v9"}"#).unwrap_err();
        assert!(err.to_string().contains("newer perflab"), "{err}");
    }

    #[test]
    fn bad_json_reports_line_and_column() {
        let err = Run::from_json("{\n  \"id\": ,\n}").unwrap_err();
        assert!(err.to_string().starts_with("line 2, column"), "{err}");
    }

    #[test]
    fn coalesce_merges_repeated_benchmarks() {
        let mut run = Run::new(RunKind::Import);
        for v in [1.0, 2.0] {
            let mut b = Benchmark::new("X");
            b.metrics
                .push(Metric::new("time", Unit::seconds(), vec![v]));
            run.benchmarks.push(b);
        }
        run.coalesce();
        assert_eq!(run.benchmarks.len(), 1);
        assert_eq!(run.benchmarks[0].metrics[0].samples, vec![1.0, 2.0]);
    }
}
