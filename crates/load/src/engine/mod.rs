//! The engine: workers that own keep-alive connections, a scheduler for the open model, and a
//! collector that turns shards into the per-second series once a second. `run` goes through
//! the parts in order: `preflight` (hosts, workers, open files), `shared` (the state workers
//! share), `models` (closed-model VUs, the open model's schedule and workers), `conn` (the
//! connection pool and one exchange), `monitor` (each second of the test), `accounting` (the
//! grace period, unfinished and dropped requests, the summary).

mod accounting;
mod conn;
mod models;
mod monitor;
mod preflight;
mod shared;

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2;
use hyper_util::rt::TokioIo;
use perflab_model::load::{LoadSummary, Percentiles, SecondPoint};

use crate::h1;
use crate::options::{level_at, Check, LoadOptions, Model};
use crate::record::{percentiles, summarize, ErrorKind, Outcome, Recorder};
use crate::template::{RenderContext, Rng};
use crate::threshold::Threshold;
use crate::LoadError;

use accounting::*;
use conn::*;
use models::*;
use monitor::*;
use preflight::*;
use shared::*;

/// A snapshot for the live progress line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Time since the start (warm-up included).
    pub elapsed: Duration,
    /// Planned length (warm-up included).
    pub total: Duration,
    /// Requests completed so far (measured part).
    pub requests: u64,
    /// Requests in the last second.
    pub rps: f64,
    /// Median so far (measured part, seconds).
    pub p50: f64,
    /// 99th percentile so far (measured part, seconds).
    pub p99: f64,
    /// Failed requests so far.
    pub errors: u64,
    /// The closed model's virtual users now (as the stages ramp them).
    pub vus: Option<u64>,
    /// Still warming up.
    pub warming_up: bool,
}

impl Progress {
    /// `load 12s/60s (48s left)  VUs 10  requests 4512  rps 380  errors 0  p50 1.20ms  p99 2.10ms`,
    /// what oha and k6 show live.
    pub fn line(&self) -> String {
        let t = |v: f64| perflab_model::Unit::seconds().format(v);
        let left = self.total.saturating_sub(self.elapsed).as_secs_f64();
        format!(
            "{} {:>4.0}s/{:.0}s ({:.0}s left){}  requests {}  rps {:.0}  errors {}  p50 {}  p99 {}",
            if self.warming_up { "warm-up" } else { "load" },
            self.elapsed.as_secs_f64(),
            self.total.as_secs_f64(),
            left,
            self.vus.map_or(String::new(), |v| format!("  VUs {v}")),
            self.requests,
            self.rps,
            self.errors,
            t(self.p50),
            t(self.p99),
        )
    }
}

pub use perflab_model::load::Ending;

/// CPU seconds this process has used (Linux `/proc/self/stat`; USER_HZ is 100 there).
pub fn process_cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/stat"),
        None => "/proc/self/stat".into(),
    };
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Resident set size of a process in bytes (`/proc/PID/status` VmRSS).
pub fn process_rss_bytes(pid: u32) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Run the load test. `stop` ends it early (Ctrl-C); `watch_pid` samples a target process.
///
/// # Errors
/// A runtime that cannot start; nothing about the target (its failures are data).
pub fn run(
    opts: LoadOptions,
    thresholds: &[Threshold],
    stop: &AtomicBool,
    watch_pid: Option<u32>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(LoadSummary, Ending), LoadError> {
    let description = opts.describe_model();
    let warmup_seconds = opts.warmup.as_secs_f64();
    let (mut summary, ending) = run_plan(opts, thresholds, stop, watch_pid, progress)?;
    // What a stored run needs to be shown as it was (show, report, serve read only the run).
    summary.ending = ending;
    summary.description = Some(description);
    summary.warmup_seconds = warmup_seconds;
    summary.spectrum = crate::spectrum(&summary);
    summary.distribution = crate::distribution(&summary);
    Ok((summary, ending))
}

fn run_plan(
    opts: LoadOptions,
    thresholds: &[Threshold],
    stop: &AtomicBool,
    watch_pid: Option<u32>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(LoadSummary, Ending), LoadError> {
    if opts.scenarios.is_empty() {
        return Err(LoadError::Config {
            message: "no scenario to run".into(),
        });
    }
    if !opts.parts.is_empty() {
        return run_parts(&opts, thresholds, stop, watch_pid, progress);
    }
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    // On one core a single-threaded runtime avoids the work-stealing machinery entirely.
    let runtime = if threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build()
    }
    .map_err(|e| LoadError::Runtime(e.to_string()))?;
    runtime.block_on(run_async(opts, thresholds, stop, watch_pid, progress))
}

/// The executors of a scenario file, side by side: each on its own thread and runtime, with
/// one progress line for all; the target is watched by the longest one, and its costs are
/// divided by every executor's requests. Thresholds are checked on the combined results.
fn run_parts(
    opts: &LoadOptions,
    thresholds: &[Threshold],
    stop: &AtomicBool,
    watch_pid: Option<u32>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(LoadSummary, Ending), LoadError> {
    let longest = (0..opts.parts.len())
        .max_by_key(|&i| opts.parts[i].options.warmup + opts.parts[i].options.total_duration())
        .unwrap_or(0);
    let latest: std::sync::Mutex<Vec<Option<Progress>>> =
        std::sync::Mutex::new(vec![None; opts.parts.len()]);
    let results = std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (i, part) in opts.parts.iter().enumerate() {
            let mut o = part.options.clone();
            if i != longest {
                o.watch_metrics = None;
            }
            let pid = (i == longest).then_some(watch_pid).flatten();
            let latest = &latest;
            handles.push(scope.spawn(move || {
                run(o, &[], stop, pid, &mut |p| {
                    if let Ok(mut l) = latest.lock() {
                        l[i] = Some(*p);
                    }
                })
            }));
        }
        // One line for all, while they run.
        while handles.iter().any(|h| !h.is_finished()) {
            std::thread::sleep(Duration::from_millis(200));
            let all: Vec<Progress> = latest
                .lock()
                .map(|l| l.iter().flatten().copied().collect())
                .unwrap_or_default();
            if let Some(first) = all.first() {
                let mut p = *first;
                for q in &all[1..] {
                    p.elapsed = p.elapsed.max(q.elapsed);
                    p.total = p.total.max(q.total);
                    p.requests += q.requests;
                    p.rps += q.rps;
                    p.errors += q.errors;
                    p.p50 = p.p50.max(q.p50);
                    p.p99 = p.p99.max(q.p99);
                    p.vus = match (p.vus, q.vus) {
                        (Some(a), Some(b)) => Some(a + b),
                        (a, b) => a.or(b),
                    };
                    p.warming_up &= q.warming_up;
                }
                progress(&p);
            }
        }
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(LoadError::Runtime("an executor panicked".into())))
            })
            .collect::<Vec<_>>()
    });
    let mut summaries = Vec::new();
    let mut ending = Ending::Completed;
    for r in results {
        let (s, e) = r?;
        if e == Ending::Interrupted || ending == Ending::Completed {
            ending = e;
        }
        summaries.push(s);
    }
    // `open` or `closed` when every executor is; the text report describes each one.
    let same = summaries.iter().all(|x| x.model == summaries[0].model);
    let model = if same {
        summaries[0].model.clone()
    } else {
        "mixed".into()
    };
    let mut summary = crate::merge::combine(&summaries, &model)?;
    if summaries.iter().any(|x| x.latency_is != summary.latency_is) {
        summary.latency_is = "mixed".into();
    }
    summary.plan = Some(opts.plan.clone());
    summary.segment = summaries[0].segment.clone();
    let all = summary.scenarios.get("all").map_or(0, |s| s.requests);
    summary.target_process = summaries[longest].target_process.clone();
    if let Some(t) = summary.target_process.as_mut() {
        t.cpu_seconds_per_request = t.cpu_seconds / all.max(1) as f64;
    }
    summary.target_metrics = summaries[longest].target_metrics.clone();
    if let Some(m) = summary.target_metrics.as_mut() {
        // Costs per request over every executor's requests, not the watcher's alone.
        let scale = m.requests as f64 / all.max(1) as f64;
        m.requests = all;
        m.per_request.values_mut().for_each(|v| *v *= scale);
        for (k, v) in &mut m.derived {
            if k.ends_with("_per_request") {
                *v *= scale;
            }
        }
    }
    summary.thresholds = thresholds
        .iter()
        .map(|t| t.evaluate_load(&summary))
        .collect();
    Ok((summary, ending))
}

async fn run_async(
    opts: LoadOptions,
    thresholds: &[Threshold],
    stop_flag: &AtomicBool,
    watch_pid: Option<u32>,
    progress: &mut dyn FnMut(&Progress),
) -> Result<(LoadSummary, Ending), LoadError> {
    resolve_hosts(&opts).await?;
    // The target's metrics: the first scrape is the baseline, so it is taken before anything is
    // sent (a scrape that fails stops the test here, with the reason).
    let watcher = match &opts.watch_metrics {
        Some(url) => {
            Some(
                crate::watch::Watcher::start(url).map_err(|e| LoadError::WatchMetrics {
                    url: url.clone(),
                    reason: e.to_string(),
                })?,
            )
        }
        None => None,
    };
    let workers = workers_needed(&opts)?;
    let shared = Arc::new(Shared::new(opts, workers)?);
    let cpu_start = process_cpu_seconds(None).unwrap_or(0.0);
    let started = start_model(&shared, workers);
    let mut target = TargetWatch::new(watch_pid, shared.opts.warmup.is_zero());
    let (ending, mut series) = monitor(&shared, thresholds, stop_flag, &mut target, progress).await;
    shared.mark_stopped();
    let end = Instant::now();
    let drops = wind_down(&shared, started, ending).await;
    let tail = shared.recorder.drain_second();
    if tail.requests > 0 {
        let t = second_label(
            Instant::now().saturating_duration_since(shared.warmup_end),
            series.last().map(|p| p.t),
        );
        series.push(tail.point(t));
    }
    let cpu = process_cpu_seconds(None).unwrap_or(0.0) - cpu_start;
    let target_rate = match &shared.opts.model {
        Model::Open { rate, .. } => Some(mean_rate(*rate, &shared.opts)),
        Model::Closed { .. } => None,
    };
    let mut summary = build_summary(&shared, end, &series, drops, target_rate, cpu);
    let requests = summary.scenarios.get("all").map_or(0, |s| s.requests);
    summary.target_process = target.summary(requests);
    if let Some(w) = watcher {
        let url = shared.opts.watch_metrics.as_deref().unwrap_or_default();
        summary.target_metrics = Some(w.finish(url, shared.warmup_end, requests));
    }
    summary.thresholds = thresholds
        .iter()
        .map(|t| t.evaluate_load(&summary))
        .collect();
    Ok((summary, ending))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_header_drops_only_the_default_port() {
        assert_eq!(host_header("example.com:80", false), "example.com");
        assert_eq!(host_header("example.com:443", true), "example.com");
        assert_eq!(host_header("example.com:443", false), "example.com:443");
        assert_eq!(host_header("127.0.0.1:8080", false), "127.0.0.1:8080");
        assert_eq!(host_header("[::1]:80", false), "[::1]");
    }
}
#[cfg(test)]
mod size {
    use super::*;

    fn future_size<A, B, C, D, F>(_: fn(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// `-n`: eight threads racing for a budget of 1,000 get exactly 1,000 (a check followed by
    /// an increment let two VUs take the last request: 61 requests for `-n 60` in CI).
    #[test]
    fn the_request_budget_is_claimed_atomically() {
        let opts = LoadOptions {
            model: Model::Closed {
                vus: 1,
                think_time: Duration::ZERO,
                expected_rate: None,
            },
            stages: vec![],
            duration: Duration::from_secs(1),
            max_requests: Some(1000),
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            plan: String::new(),
            watch_metrics: None,
            scenarios: vec![],
            segment: (1, 1),
            abort_on_fail: false,
            max_body_kept: 0,
            http2: false,
            insecure: false,
            max_redirects: 0,
            per_vu_requests: None,
            parts: Vec::new(),
        };
        let start = Instant::now();
        let shared = Arc::new(Shared {
            inflight: Vec::new(),
            tls: None,
            recorder: Recorder::new(1, &[]),
            stop: AtomicBool::new(false),
            start,
            warmup_end: start,
            stopped_at: AtomicU64::new(0),
            generator_late: AtomicU64::new(0),
            connects: ConnectTimes::new(),
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            active_vus: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            weights: vec![],
            weight_total: 0,
            opts,
        });
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let sh = shared.clone();
                std::thread::spawn(move || (0..500).filter(|_| sh.claim()).count())
            })
            .collect();
        let won: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(won, 1000);
    }

    /// Every connection is a worker's future: its size is memory per connection (9 KiB before
    /// the TLS handshake and HTTP/2 exchange were boxed).
    #[test]
    fn a_workers_future_stays_small() {
        let closed = future_size(closed_vu);
        let open = future_size(paced_worker);
        assert!(closed < 2048, "closed-model VU future: {closed} bytes");
        assert!(open < 2048, "open-model worker future: {open} bytes");
    }
}
