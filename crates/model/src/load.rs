//! The summary a load test adds to its run: per scenario and for `all`, counts, rates and
//! latency percentiles, with the HDR histograms that let segments merge exactly.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How a load test ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ending {
    /// Its duration or request count was reached.
    #[default]
    Completed,
    /// Stopped by Ctrl-C or SIGTERM: the results are partial.
    Interrupted,
    /// A threshold failed with `--abort-on-fail`.
    Aborted,
}

impl Ending {
    /// The default, which the JSON leaves out.
    pub fn is_completed(&self) -> bool {
        *self == Ending::Completed
    }
}

/// One line of the percentile spectrum of all requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct SpectrumPoint {
    /// The quantile (0.5 … 1.0).
    pub quantile: f64,
    /// Latency at it, seconds.
    pub seconds: f64,
    /// Requests at or below it.
    pub count: u64,
}

/// One bucket of the latency distribution.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyBucket {
    /// Latencies above the previous bucket's bound and at most this (seconds).
    pub le: f64,
    /// Requests in the bucket.
    pub count: u64,
}

/// Latency percentiles in seconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 95th percentile.
    pub p95: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p99_9: f64,
    /// Largest value.
    pub max: f64,
    /// Arithmetic mean.
    pub mean: f64,
}

/// One check's pass rate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckSummary {
    /// What was checked (`status == 200`).
    pub name: String,
    /// Responses that passed.
    pub passed: u64,
    /// Responses checked.
    pub total: u64,
}

/// Results of one scenario (or of `all`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSummary {
    /// Requests completed (with a response or an error) after warm-up.
    pub requests: u64,
    /// Failed requests by kind (`connect_refused`, `timeout`, `reset`, `protocol`, …).
    pub errors: BTreeMap<String, u64>,
    /// Responses by status code.
    pub status: BTreeMap<String, u64>,
    /// Completed requests per second of measured time.
    pub rps: f64,
    /// Errors (failed requests and non-2xx/3xx responses) over requests.
    pub error_rate: f64,
    /// Requests that failed (an error, a 4xx/5xx status, or unfinished at the end).
    #[serde(default)]
    pub failed: u64,
    /// Response time of the requests that succeeded (k6's expected responses): from the
    /// intended send time in the open model (coordinated omission corrected), from the actual
    /// send in the closed model. Thresholds on latency read this.
    pub latency: Percentiles,
    /// Response time of the failed requests, apart.
    #[serde(default)]
    pub failed_latency: Percentiles,
    /// Service time of the requests that succeeded: from the actual send to the end of the
    /// response.
    pub service_time: Percentiles,
    /// Response bytes received (headers excluded).
    pub bytes_in: u64,
    /// Request bytes sent (bodies).
    pub bytes_out: u64,
    /// Checks and their pass counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckSummary>,
    /// Base64 HDR histogram (V2 + deflate) of `latency` in nanoseconds.
    #[serde(default)]
    pub latency_histogram: String,
    /// Base64 HDR histogram of `service_time` in nanoseconds.
    #[serde(default)]
    pub service_time_histogram: String,
    /// Base64 HDR histogram of `failed_latency` (empty when nothing failed).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub failed_latency_histogram: String,
}

/// One second of the test.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SecondPoint {
    /// Seconds since the measured part of the test began.
    pub t: u64,
    /// Requests completed in that second.
    pub requests: u64,
    /// Of which failed.
    pub errors: u64,
    /// Median response time in that second (seconds).
    pub p50: f64,
    /// 90th percentile in that second (seconds).
    #[serde(default)]
    pub p90: f64,
    /// 99th percentile in that second (seconds).
    pub p99: f64,
    /// The slowest request of that second (seconds).
    #[serde(default)]
    pub max: f64,
    /// Check evaluations that failed in that second.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub checks_failed: u64,
    /// Responses by status code in that second.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub status: BTreeMap<String, u64>,
    /// The closed model's virtual users in that second (as the stages ramp them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vus: Option<u64>,
    /// The open model's target rate in that second (requests per second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
}

/// A threshold and its outcome.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ThresholdResult {
    /// As written: `p99<5ms`, `search.error_rate<0.01`.
    pub expression: String,
    /// The observed value, in base units.
    pub observed: f64,
    /// The unit of `observed` (`s`, `B`, `1/s`, `ratio`, `count`), so it is shown as `586ms`
    /// beside `p99<5ms` and not as `0.586153983`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<crate::Unit>,
    /// Whether it held.
    pub passed: bool,
    /// Why it could not hold whatever its bound (no successful request for a latency).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The TCP connections of a load run: how many, and how long their handshakes took (without
/// TLS). A handshake of a second or more is a SYN sent again: the target's listen queue was
/// full and dropped the first.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Connects {
    /// Connections opened, warm-up included.
    pub opened: u64,
    /// Connects that took [`SLOW_CONNECT_SECONDS`] or more, finished or given up: the kernel
    /// resent their SYN.
    pub slow: u64,
    /// Connects given up before the handshake finished: their request timed out, or the test
    /// ended (their requests are `timeout` or `unfinished`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub incomplete: u64,
    /// Connect time (seconds).
    pub time: Percentiles,
    /// The connect times, HDR-encoded (base64 of V2 + deflate), so segments merge exactly.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
    /// HTTPS: the TLS handshakes that completed after the TCP connect, and how long they took
    /// (k6's `http_req_tls_handshaking`); absent over plain TCP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Handshakes>,
}

/// The TLS handshakes of a load run's connections.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Handshakes {
    /// Handshakes completed.
    pub count: u64,
    /// Their time (seconds).
    pub time: Percentiles,
    /// HDR-encoded, as [`Connects::histogram`].
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub histogram: String,
}

/// A TCP handshake this long was not one round trip: Linux resends an unanswered SYN after one
/// second (its initial retransmission timeout), so a connect of 0.99 s or more waited for that.
pub const SLOW_CONNECT_SECONDS: f64 = 0.99;

/// What a load run adds to its [`crate::Run`].
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    /// `open` or `closed`.
    pub model: String,
    /// Which latency the `latency` fields are: `response_time` (open) or `service_time`.
    pub latency_is: String,
    /// Requests per second asked for (open model; the mean over stages).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_rate: Option<f64>,
    /// Requests per second actually sent.
    pub achieved_rate: f64,
    /// The most virtual users the plan runs at once (closed model: `--vus`, or the highest
    /// stage), so a run can be told to have had 100+ VUs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_vus: Option<u64>,
    /// Requests not sent because a connection's share of the queue was full.
    pub dropped: u64,
    /// Open model: requests sent more than 2 ms after their time by a connection that was
    /// idle, waiting for them, so the generator (short of CPU) and not the server was behind.
    /// A shortfall with this at 0 is the server's: its connections were busy waiting on it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generator_late: u64,
    /// How late requests were sent against their intended time (seconds).
    #[serde(default)]
    pub send_lag: Percentiles,
    /// The TCP connections perflab opened and how long each took to connect (k6's
    /// `http_req_connecting`); absent when none was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connects: Option<Connects>,
    /// CPU seconds perflab itself used.
    pub generator_cpu_seconds: f64,
    /// Measured seconds (warm-up excluded).
    pub measured_seconds: f64,
    /// Segment `i/n` this run was, if not the whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Identity of the plan (flags and scenario file, the segment left out): segments of one
    /// test share it, so `merge` can refuse a foreign one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// How the test ended (stored, so `show`, `report` and the dashboard can say a run was
    /// aborted or interrupted).
    #[serde(default, skip_serializing_if = "Ending::is_completed")]
    pub ending: Ending,
    /// The plan as people read it: `closed model, 64 virtual users`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Warm-up before the measured part, seconds.
    #[serde(default)]
    pub warmup_seconds: f64,
    /// The HDR percentile spectrum of all requests (from the `all` histogram).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub spectrum: Vec<SpectrumPoint>,
    /// The latency distribution of the requests that succeeded (from the `all` histogram):
    /// counts in buckets that grow by a fixed ratio, for a histogram chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub distribution: Vec<LatencyBucket>,
    /// Per scenario, and `all`.
    pub scenarios: BTreeMap<String, ScenarioSummary>,
    /// The per-second series.
    pub series: Vec<SecondPoint>,
    /// Thresholds and their outcomes.
    #[serde(default)]
    pub thresholds: Vec<ThresholdResult>,
    /// The watched target process, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_process: Option<ProcessSummary>,
    /// The target's own metrics (`--watch-metrics`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_metrics: Option<TargetMetrics>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The target's own Prometheus metrics over the test (`--watch-metrics URL`): what each request
/// cost it, how its gauges moved, and its own view of latency.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TargetMetrics {
    /// Where they were scraped.
    pub url: String,
    /// Scrapes taken (before, each second, after).
    pub scrapes: usize,
    /// Requests the costs are divided by (the measured ones).
    pub requests: u64,
    /// Each counter's increase over the measured part, per request (`series → value`).
    #[serde(default)]
    pub per_request: BTreeMap<String, f64>,
    /// Each gauge at the start, at the end and at its highest.
    #[serde(default)]
    pub gauges: BTreeMap<String, GaugeRange>,
    /// Each histogram's percentiles over the requests of the test (from its buckets' increase).
    #[serde(default)]
    pub histograms: BTreeMap<String, Percentiles>,
    /// The named costs thresholds and targets read: `cpu_per_request` (s),
    /// `allocs_per_request`, `memory_per_request` (bytes), `gc_pause_p99`, `gc_pause_max` (s).
    #[serde(default)]
    pub derived: BTreeMap<String, f64>,
}

/// A gauge over the test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct GaugeRange {
    /// At the first scrape of the measured part.
    pub start: f64,
    /// At the last.
    pub end: f64,
    /// The highest seen.
    pub peak: f64,
}

/// CPU and memory of the process under test during the load.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProcessSummary {
    /// Process id.
    pub pid: u32,
    /// CPU seconds used during the measured part.
    pub cpu_seconds: f64,
    /// CPU seconds per completed request.
    pub cpu_seconds_per_request: f64,
    /// Resident set at the start (bytes).
    pub rss_start_bytes: u64,
    /// Resident set at the end (bytes).
    pub rss_end_bytes: u64,
    /// Largest resident set seen (bytes).
    pub rss_peak_bytes: u64,
}
