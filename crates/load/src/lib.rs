//! Stage: **measure** (HTTP). The load engine behind `perflab load`.
//!
//! Two load models, as k6 and wrk2 define them:
//! * **closed**: N virtual users, each on its own keep-alive connection, sending back to back
//!   (with optional think time). Latency is the service time.
//! * **open**: requests arrive at a fixed (or Poisson) rate whatever the server does; each has an
//!   *intended* send time, and its latency runs from that time, so a stalled server shows up in
//!   the percentiles instead of silently slowing the load (coordinated omission corrected, as
//!   wrk2 does). The service time from the actual send is recorded beside it.
//!
//! Both can ramp through stages. Latencies go into HDR histograms (3 significant digits, fixed
//! memory); failed requests are data, counted by [`ErrorKind`]. The engine returns a
//! [`perflab_model::load::LoadSummary`] and never prints: progress goes through a callback.
//!
//! ```
//! use perflab_load::options::parse_stages;
//! let stages = parse_stages("30s:50,1m:100,30s:0").unwrap();
//! assert_eq!(stages.len(), 3);
//! ```

pub mod engine;
mod h1;
mod limits;
pub mod merge;
pub mod options;
mod record;
pub mod request;
mod results;
pub mod template;
pub mod threshold;
mod timer;
pub mod tls;
mod watch;

pub use engine::{process_cpu_seconds, process_rss_bytes, run, Ending, Progress};
pub use record::{decode_histogram, encode_histogram, percentiles, ErrorKind};
pub use results::{benchmarks, distribution, spectrum, SpectrumPoint};

/// Errors of the load engine. Request failures are not errors: they are counted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LoadError {
    /// A bad option, scenario, template or threshold.
    #[error("{message}")]
    Config {
        /// What is wrong, with where.
        message: String,
    },
    /// A target host does not resolve: every request would fail.
    #[error("cannot resolve {host}: {reason}")]
    Resolve {
        /// `host:port`.
        host: String,
        /// The resolver's answer.
        reason: String,
    },
    /// The plan needs more connections than this process may open.
    #[error("{workers} connections need about {needed} open files, and this process may open {soft} (hard limit {hard}): raise it (ulimit -n {needed}) or use fewer connections")]
    OpenFiles {
        /// Workers (VUs or the open model's connections).
        workers: usize,
        /// Descriptors needed.
        needed: u64,
        /// The soft limit.
        soft: u64,
        /// The hard limit.
        hard: u64,
    },
    /// The target's Prometheus endpoint (`--watch-metrics`) cannot be scraped.
    #[error("--watch-metrics {url}: {reason}")]
    WatchMetrics {
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the load runtime: {0}")]
    Runtime(String),
    /// A stored HDR histogram is damaged.
    #[error("HDR histogram {reason}")]
    Histogram {
        /// What is wrong.
        reason: String,
    },
    /// Results that cannot be merged.
    #[error("cannot merge: {reason}")]
    Merge {
        /// Why.
        reason: String,
    },
}
