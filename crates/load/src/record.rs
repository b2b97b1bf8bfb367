//! Recording without slowing the hot path: a few shards of statistics, each behind a mutex that
//! workers hold for a handful of nanoseconds per response, and HDR histograms whose size does not
//! grow with the number of requests. A collector drains the per-second part of each shard once a
//! second, so memory stays flat however long the test runs.

use std::collections::BTreeMap;
use std::sync::Mutex;

use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use perflab_model::load::{CheckSummary, Percentiles, ScenarioSummary};

/// Largest latency the histograms hold: one hour, in nanoseconds.
const MAX_NS: u64 = 3_600_000_000_000;

/// Why a request failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorKind {
    /// The connection was refused.
    ConnectRefused,
    /// Connecting failed otherwise (unreachable, DNS).
    Connect,
    /// No complete response within the timeout.
    Timeout,
    /// The connection was reset or closed mid-request.
    Reset,
    /// The response was not valid HTTP.
    Protocol,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// Anything else.
    Other,
    /// Still in flight when the test ended (after the grace period): its latency so far is
    /// recorded.
    Unfinished,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 8] = [
        ErrorKind::ConnectRefused,
        ErrorKind::Connect,
        ErrorKind::Timeout,
        ErrorKind::Reset,
        ErrorKind::Protocol,
        ErrorKind::Tls,
        ErrorKind::Other,
        ErrorKind::Unfinished,
    ];

    /// The kind of a failed read, write or connect.
    pub(crate) fn of_io(e: &std::io::Error) -> ErrorKind {
        use std::io::ErrorKind as K;
        match e.kind() {
            K::ConnectionRefused => ErrorKind::ConnectRefused,
            K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
                ErrorKind::Reset
            }
            K::TimedOut => ErrorKind::Timeout,
            K::InvalidData => ErrorKind::Protocol,
            _ => ErrorKind::Other,
        }
    }

    /// The snake_case name used in results.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::ConnectRefused => "connect_refused",
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Protocol => "protocol",
            ErrorKind::Tls => "tls",
            ErrorKind::Other => "other",
            ErrorKind::Unfinished => "unfinished",
        }
    }
}

pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 3).expect("invariant: static histogram bounds are valid")
}

/// Totals of one scenario.
pub(crate) struct ScenarioStats {
    /// Requests that succeeded (k6's expected responses: no error, status below 400).
    pub(crate) latency: Histogram<u64>,
    /// The others: errors, 4xx/5xx, unfinished.
    pub(crate) failed_latency: Histogram<u64>,
    pub(crate) service: Histogram<u64>,
    pub(crate) requests: u64,
    pub(crate) failed: u64,
    pub(crate) errors: [u64; 8],
    pub(crate) status: BTreeMap<u16, u64>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) checks: Vec<(u64, u64)>,
}

impl ScenarioStats {
    pub(crate) fn new(checks: usize) -> ScenarioStats {
        ScenarioStats {
            latency: new_histogram(),
            failed_latency: new_histogram(),
            service: new_histogram(),
            requests: 0,
            failed: 0,
            errors: [0; 8],
            status: BTreeMap::new(),
            bytes_in: 0,
            bytes_out: 0,
            checks: vec![(0, 0); checks],
        }
    }

    pub(crate) fn merge(&mut self, o: &ScenarioStats) {
        // Same bounds on both sides: adding cannot fail.
        let _ = self.latency.add(&o.latency);
        let _ = self.failed_latency.add(&o.failed_latency);
        let _ = self.service.add(&o.service);
        self.requests += o.requests;
        self.failed += o.failed;
        for (a, b) in self.errors.iter_mut().zip(o.errors) {
            *a += b;
        }
        for (k, v) in &o.status {
            *self.status.entry(*k).or_default() += v;
        }
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        for (a, b) in self.checks.iter_mut().zip(&o.checks) {
            a.0 += b.0;
            a.1 += b.1;
        }
    }
}

/// What one second saw.
pub(crate) struct SecondStats {
    pub(crate) latency: Histogram<u64>,
    pub(crate) requests: u64,
    pub(crate) errors: u64,
    /// Check evaluations that failed.
    pub(crate) checks_failed: u64,
    /// Responses by status code (a handful of codes: a small map is cheaper than a table).
    pub(crate) status: Vec<(u16, u64)>,
}

/// A histogram for one second (or the live view): two significant digits are plenty for a
/// plot, and keep the shard small.
pub(crate) fn second_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, MAX_NS, 2).expect("invariant: static histogram bounds are valid")
}

impl SecondStats {
    fn new() -> SecondStats {
        SecondStats {
            latency: second_histogram(),
            requests: 0,
            errors: 0,
            checks_failed: 0,
            status: Vec::new(),
        }
    }

    fn count_status(&mut self, code: u16, n: u64) {
        match self.status.iter_mut().find(|(c, _)| *c == code) {
            Some(e) => e.1 += n,
            None => self.status.push((code, n)),
        }
    }

    /// The point of the series this second makes, labelled `t`.
    pub(crate) fn point(&self, t: u64) -> perflab_model::load::SecondPoint {
        let q = |p: f64| {
            if self.latency.is_empty() {
                0.0
            } else {
                self.latency.value_at_quantile(p) as f64 / 1e9
            }
        };
        let mut status: Vec<(u16, u64)> = self.status.clone();
        status.sort_unstable();
        perflab_model::load::SecondPoint {
            t,
            requests: self.requests,
            errors: self.errors,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: if self.latency.is_empty() {
                0.0
            } else {
                self.latency.max() as f64 / 1e9
            },
            checks_failed: self.checks_failed,
            status: status
                .into_iter()
                .map(|(c, n)| (c.to_string(), n))
                .collect(),
            vus: None,
            target_rate: None,
        }
    }
}

/// One shard: totals per scenario, the current second, the send lag.
pub(crate) struct Shard {
    pub(crate) scenarios: Vec<ScenarioStats>,
    pub(crate) second: SecondStats,
    pub(crate) lag: Histogram<u64>,
}

/// One response (or failure) to record.
pub(crate) struct Outcome {
    pub(crate) scenario: usize,
    pub(crate) latency_ns: u64,
    pub(crate) service_ns: u64,
    /// How late the send was (open model only).
    pub(crate) lag_ns: Option<u64>,
    pub(crate) status: Option<u16>,
    pub(crate) error: Option<ErrorKind>,
    pub(crate) bytes_in: u64,
    pub(crate) bytes_out: u64,
    pub(crate) checks_passed: u64,
}

/// All shards: one per thread that records, so that no two threads contend for one. Each
/// shard holds four full-range histograms (about 1 MiB once written), so there are as many as
/// the runtime has threads, not one per connection.
pub(crate) struct Recorder {
    shards: Vec<Mutex<Shard>>,
}

/// The shard of the calling thread: threads take the next index the first time they record.
fn thread_shard(shards: usize) -> usize {
    use std::cell::Cell;
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    MINE.with(|m| {
        if m.get() == usize::MAX {
            m.set(NEXT.fetch_add(1, Ordering::Relaxed));
        }
        m.get() % shards
    })
}

impl Recorder {
    pub(crate) fn new(shards: usize, checks_per_scenario: &[usize]) -> Recorder {
        Recorder {
            shards: (0..shards.max(1))
                .map(|_| {
                    Mutex::new(Shard {
                        scenarios: checks_per_scenario
                            .iter()
                            .map(|&c| ScenarioStats::new(c))
                            .collect(),
                        second: SecondStats::new(),
                        lag: new_histogram(),
                    })
                })
                .collect(),
        }
    }

    pub(crate) fn record(&self, o: &Outcome) {
        let mut shard = match self.shards[thread_shard(self.shards.len())].lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let failed = o.error.is_some() || o.status.is_some_and(|s| s >= 400);
        let s = &mut shard.scenarios[o.scenario];
        s.requests += 1;
        if failed {
            s.failed_latency.saturating_record(o.latency_ns.max(1));
        } else {
            s.latency.saturating_record(o.latency_ns.max(1));
            s.service.saturating_record(o.service_ns.max(1));
        }
        if let Some(code) = o.status {
            *s.status.entry(code).or_default() += 1;
        }
        if let Some(k) = o.error {
            s.errors[ErrorKind::ALL.iter().position(|x| *x == k).unwrap_or(0)] += 1;
        }
        s.failed += u64::from(failed);
        s.bytes_in += o.bytes_in;
        s.bytes_out += o.bytes_out;
        let mut checks_failed = 0;
        for (i, c) in s.checks.iter_mut().enumerate() {
            c.1 += 1;
            let passed = (o.checks_passed >> i) & 1;
            c.0 += passed;
            checks_failed += 1 - passed;
        }
        shard.second.checks_failed += checks_failed;
        if let Some(code) = o.status {
            shard.second.count_status(code, 1);
        }
        shard.second.requests += 1;
        shard.second.errors += u64::from(failed);
        shard.second.latency.saturating_record(o.latency_ns.max(1));
        if let Some(lag) = o.lag_ns {
            shard.lag.saturating_record(lag.max(1));
        }
    }

    /// Take every shard's current second, merged.
    pub(crate) fn drain_second(&self) -> SecondStats {
        let mut merged = SecondStats::new();
        for shard in &self.shards {
            let mut s = match shard.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            let cur = std::mem::replace(&mut s.second, SecondStats::new());
            drop(s);
            merged.requests += cur.requests;
            merged.errors += cur.errors;
            merged.checks_failed += cur.checks_failed;
            for (code, n) in cur.status {
                merged.count_status(code, n);
            }
            let _ = merged.latency.add(&cur.latency);
        }
        merged
    }

    /// Totals per scenario (and the send lag), merged across shards.
    pub(crate) fn totals(
        &self,
        checks_per_scenario: &[usize],
    ) -> (Vec<ScenarioStats>, Histogram<u64>) {
        let mut out: Vec<ScenarioStats> = checks_per_scenario
            .iter()
            .map(|&c| ScenarioStats::new(c))
            .collect();
        let mut lag = new_histogram();
        for shard in &self.shards {
            let s = match shard.lock() {
                Ok(s) => s,
                Err(p) => p.into_inner(),
            };
            for (o, x) in out.iter_mut().zip(&s.scenarios) {
                o.merge(x);
            }
            let _ = lag.add(&s.lag);
        }
        (out, lag)
    }
}

/// Percentiles of a histogram of nanoseconds, in seconds.
pub fn percentiles(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    let q = |p: f64| h.value_at_quantile(p) as f64 / 1e9;
    Percentiles {
        p50: q(0.50),
        p90: q(0.90),
        p95: q(0.95),
        p99: q(0.99),
        p99_9: q(0.999),
        max: h.max() as f64 / 1e9,
        mean: h.mean() / 1e9,
    }
}

/// The connects of `h` that took [`perflab_model::load::SLOW_CONNECT_SECONDS`] or more.
pub(crate) fn slow_connects(h: &Histogram<u64>) -> u64 {
    let slow_ns = (perflab_model::load::SLOW_CONNECT_SECONDS * 1e9) as u64;
    h.count_between(slow_ns, MAX_NS)
}

/// What the connections of a test took: TCP connects, TLS handshakes, and the connects given
/// up before their handshake finished.
pub(crate) struct ConnectStats {
    pub(crate) tcp: Histogram<u64>,
    pub(crate) tls: Histogram<u64>,
    pub(crate) incomplete: u64,
    pub(crate) incomplete_slow: u64,
}

impl ConnectStats {
    pub(crate) fn new() -> ConnectStats {
        ConnectStats {
            tcp: new_histogram(),
            tls: new_histogram(),
            incomplete: 0,
            incomplete_slow: 0,
        }
    }

    /// A connect given up after `waited` (its request's timeout, or the end of the test).
    pub(crate) fn gave_up(&mut self, waited: std::time::Duration) {
        self.incomplete += 1;
        if waited.as_secs_f64() >= perflab_model::load::SLOW_CONNECT_SECONDS {
            self.incomplete_slow += 1;
        }
    }

    /// The summary; `None` when no connect was tried.
    pub(crate) fn summary(&self) -> Option<perflab_model::load::Connects> {
        if self.tcp.is_empty() && self.incomplete == 0 {
            return None;
        }
        Some(perflab_model::load::Connects {
            opened: self.tcp.len(),
            slow: slow_connects(&self.tcp) + self.incomplete_slow,
            incomplete: self.incomplete,
            time: percentiles(&self.tcp),
            histogram: encode_histogram(&self.tcp),
            tls: (!self.tls.is_empty()).then(|| perflab_model::load::Handshakes {
                count: self.tls.len(),
                time: percentiles(&self.tls),
                histogram: encode_histogram(&self.tls),
            }),
        })
    }
}

/// Base64 of the V2-deflate serialisation.
pub fn encode_histogram(h: &Histogram<u64>) -> String {
    let mut buf = Vec::new();
    if V2DeflateSerializer::new().serialize(h, &mut buf).is_err() {
        return String::new();
    }
    base64::engine::general_purpose::STANDARD.encode(buf)
}

/// Decode [`encode_histogram`]'s output.
///
/// # Errors
/// Invalid base64 or histogram data.
pub fn decode_histogram(s: &str) -> Result<Histogram<u64>, crate::LoadError> {
    let bad = |reason: String| crate::LoadError::Histogram { reason };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(s)
        .map_err(|e| bad(format!("not base64: {e}")))?;
    Deserializer::new()
        .deserialize(&mut bytes.as_slice())
        .map_err(|e| bad(format!("does not decode: {e:?}")))
}

/// Turn totals into the summary the model carries.
pub(crate) fn summarize(
    s: &ScenarioStats,
    check_names: &[String],
    measured_seconds: f64,
) -> ScenarioSummary {
    ScenarioSummary {
        requests: s.requests,
        errors: ErrorKind::ALL
            .iter()
            .zip(s.errors)
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.name().to_string(), n))
            .collect(),
        status: s.status.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        rps: if measured_seconds > 0.0 {
            s.requests as f64 / measured_seconds
        } else {
            0.0
        },
        error_rate: if s.requests > 0 {
            s.failed as f64 / s.requests as f64
        } else {
            0.0
        },
        failed: s.failed,
        latency: percentiles(&s.latency),
        failed_latency: percentiles(&s.failed_latency),
        service_time: percentiles(&s.service),
        bytes_in: s.bytes_in,
        bytes_out: s.bytes_out,
        checks: check_names
            .iter()
            .zip(&s.checks)
            .map(|(n, c)| CheckSummary {
                name: n.clone(),
                passed: c.0,
                total: c.1,
            })
            .collect(),
        latency_histogram: encode_histogram(&s.latency),
        failed_latency_histogram: if s.failed > 0 {
            encode_histogram(&s.failed_latency)
        } else {
            String::new()
        },
        service_time_histogram: encode_histogram(&s.service),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histograms_round_trip_through_base64() {
        let mut h = new_histogram();
        for v in [1_000u64, 2_000, 5_000_000, 1_000_000_000] {
            h.record(v).unwrap();
        }
        let back = decode_histogram(&encode_histogram(&h)).unwrap();
        assert_eq!(back.len(), 4);
        assert_eq!(back.max(), h.max());
        assert!(decode_histogram("not base64!").is_err());
    }

    #[test]
    fn percentiles_are_within_a_tenth_of_a_percent_of_exact() {
        let mut h = new_histogram();
        let mut exact: Vec<u64> = (1..=100_000u64)
            .map(|i| i * 7919 % 1_000_003 + 50_000)
            .collect();
        for v in &exact {
            h.record(*v).unwrap();
        }
        exact.sort_unstable();
        for q in [0.5, 0.9, 0.99, 0.999] {
            let rank = ((q * exact.len() as f64).ceil() as usize).max(1) - 1;
            let want = exact[rank] as f64;
            let got = h.value_at_quantile(q) as f64;
            assert!(
                ((got - want) / want).abs() < 0.001,
                "q={q}: {got} vs {want}"
            );
        }
    }
}
