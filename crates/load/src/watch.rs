//! `--watch-metrics URL`: the target's own Prometheus metrics, scraped before the test, each
//! second during it and after it, turned into what the seeds ask of a load test: the cost of
//! one request (CPU, allocations, bytes allocated, any counter), gauges over time (memory,
//! goroutines: a leak shows as growth), the server's own latency percentiles from its
//! histograms, and GC pauses.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use perflab_model::load::{GaugeRange, Percentiles, TargetMetrics};

/// One scrape: every series' value, and the declared type of each metric family.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scrape {
    pub(crate) at: Option<Instant>,
    pub(crate) values: BTreeMap<String, f64>,
    pub(crate) types: BTreeMap<String, String>,
}

/// Parse the Prometheus text exposition format: `name{labels} value [timestamp]` lines, with
/// `# TYPE name kind` declarations; other comments and blank lines are skipped.
///
/// # Errors
/// A line that is not a sample, with its number.
pub(crate) fn parse(text: &str) -> Result<Scrape, String> {
    let mut s = Scrape::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(rest) = line.strip_prefix('#') {
            let mut w = rest.split_whitespace();
            if w.next() == Some("TYPE") {
                if let (Some(name), Some(kind)) = (w.next(), w.next()) {
                    s.types.insert(name.to_string(), kind.to_string());
                }
            }
            continue;
        }
        // The series ends at the closing brace (labels may hold spaces) or the first space.
        let split = match line.find('{') {
            Some(_) => line.rfind('}').map(|e| e + 1),
            None => line.find(char::is_whitespace),
        };
        let (series, rest) = match split {
            Some(at) => line.split_at(at),
            None => return Err(format!("line {}: {line:?} is not a sample", i + 1)),
        };
        let value = rest
            .split_whitespace()
            .next()
            .and_then(|v| match v {
                "+Inf" => Some(f64::INFINITY),
                "-Inf" => Some(f64::NEG_INFINITY),
                v => v.parse::<f64>().ok(),
            })
            .ok_or_else(|| format!("line {}: {line:?} has no value", i + 1))?;
        s.values.insert(series.trim().to_string(), value);
    }
    Ok(s)
}

/// The most a scrape reads: a metrics page larger than this is not one.
const MAX_BODY: usize = 16 << 20;

/// A scraper: an HTTP/1.1 client (hyper) on a runtime of its own, so it can run beside the
/// load's runtime, and reads a response by its Content-Length or chunks, never to the end of
/// the stream (servers that keep the connection open after `Connection: close` made the old
/// read-to-EOF scraper fail with "Resource temporarily unavailable").
struct Scraper {
    rt: tokio::runtime::Runtime,
    url: url::Url,
}

impl Scraper {
    fn new(url: &str) -> Result<Scraper, String> {
        let parsed = url::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        if parsed.scheme() != "http" {
            return Err("give it as http://HOST:PORT/PATH".into());
        }
        if parsed.host_str().is_none() {
            return Err("the URL has no host".into());
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Scraper { rt, url: parsed })
    }

    /// GET the page and parse it, within `timeout`.
    fn scrape(&self, timeout: Duration) -> Result<Scrape, String> {
        let text = self.rt.block_on(async {
            match tokio::time::timeout(timeout, get(&self.url)).await {
                Ok(r) => r,
                Err(_) => Err(format!("no answer within {}", humantime(timeout))),
            }
        })?;
        let mut out = parse(&text)?;
        out.at = Some(Instant::now());
        Ok(out)
    }
}

fn humantime(d: Duration) -> String {
    perflab_model::Unit::seconds().format(d.as_secs_f64())
}

/// One GET over a fresh connection.
async fn get(url: &url::Url) -> Result<String, String> {
    use http_body_util::BodyExt as _;
    let addrs = url
        .socket_addrs(|| Some(80))
        .map_err(|e| format!("cannot resolve: {e}"))?;
    let addr = addrs.first().ok_or("the host resolves to no address")?;
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
    let conn = tokio::spawn(conn);
    let authority = match url.port() {
        Some(p) => format!("{}:{p}", url.host_str().unwrap_or_default()),
        None => url.host_str().unwrap_or_default().to_string(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let req = hyper::Request::get(path)
        .header(hyper::header::HOST, authority)
        .header(hyper::header::ACCEPT, "text/plain")
        .body(http_body_util::Empty::<bytes::Bytes>::new())
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    if resp.status() != hyper::StatusCode::OK {
        return Err(format!("answered {}", resp.status()));
    }
    let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                format!("the page is larger than {} MiB", MAX_BODY >> 20)
            } else {
                e.to_string()
            }
        })?
        .to_bytes();
    // The connection is not reused: closing it is all that is left.
    drop(sender);
    conn.abort();
    String::from_utf8(body.to_vec()).map_err(|_| "the page is not UTF-8 text".to_string())
}

/// Scrapes once a second on its own thread until stopped.
pub(crate) struct Watcher {
    stop: Arc<AtomicBool>,
    scrapes: Arc<Mutex<Vec<Scrape>>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watcher {
    /// Scrape `url` once now (an error here stops the test before it starts), then each second,
    /// and once more when stopped.
    pub(crate) fn start(url: &str) -> Result<Watcher, String> {
        let scrapes = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (s2, st2, u2) = (scrapes.clone(), stop.clone(), url.to_string());
        let (first_tx, first_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let thread = std::thread::Builder::new()
            .name("perflab-watch".into())
            .spawn(move || {
                let scraper = match Scraper::new(&u2) {
                    Ok(s) => s,
                    Err(e) => {
                        let _ = first_tx.send(Err(e));
                        return;
                    }
                };
                let push = |s: Scrape| s2.lock().unwrap_or_else(|p| p.into_inner()).push(s);
                match scraper.scrape(Duration::from_secs(5)) {
                    Ok(s) => {
                        push(s);
                        let _ = first_tx.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = first_tx.send(Err(e));
                        return;
                    }
                }
                let mut next = Instant::now() + Duration::from_secs(1);
                while !st2.load(Ordering::Relaxed) {
                    if Instant::now() >= next {
                        if let Ok(s) = scraper.scrape(Duration::from_secs(2)) {
                            push(s);
                        }
                        next += Duration::from_secs(1);
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                if let Ok(s) = scraper.scrape(Duration::from_secs(5)) {
                    push(s);
                }
            })
            .map_err(|e| e.to_string())?;
        match first_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                let _ = thread.join();
                return Err(e);
            }
            Err(_) => return Err("the scraper stopped".into()),
        }
        Ok(Watcher {
            stop,
            scrapes,
            thread: Some(thread),
        })
    }

    /// Stop (the last scrape is taken then) and summarise the measured part (from the first
    /// scrape at or after `measured_from`) over `requests` requests.
    pub(crate) fn finish(
        mut self,
        url: &str,
        measured_from: Instant,
        requests: u64,
    ) -> TargetMetrics {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let all = std::mem::take(&mut *self.scrapes.lock().unwrap_or_else(|p| p.into_inner()));
        // The baseline: the last scrape before the measured part began.
        let start = all
            .iter()
            .rposition(|s| s.at.is_some_and(|a| a <= measured_from))
            .unwrap_or(0);
        summarize(url, &all[start..], requests)
    }
}

/// A metric family's type: declared, or guessed from its name as Prometheus' conventions do.
fn kind<'a>(types: &'a BTreeMap<String, String>, series: &str) -> (&'a str, String) {
    let name = series.split('{').next().unwrap_or(series);
    for suffix in ["_bucket", "_sum", "_count", ""] {
        if let Some(base) = name.strip_suffix(suffix) {
            if let Some(k) = types.get(base) {
                return (k.as_str(), base.to_string());
            }
        }
    }
    if name.ends_with("_total") {
        ("counter", name.to_string())
    } else {
        ("gauge", name.to_string())
    }
}

/// The labels of a series without `le` (a histogram's buckets share them).
fn labels_without_le(series: &str) -> (String, Option<f64>) {
    let Some(open) = series.find('{') else {
        return (String::new(), None);
    };
    let inner = series[open + 1..].trim_end_matches('}');
    let mut le = None;
    let mut kept = Vec::new();
    for pair in split_labels(inner) {
        match pair.split_once('=') {
            Some(("le", v)) => {
                le = match v.trim_matches('"') {
                    "+Inf" => Some(f64::INFINITY),
                    x => x.parse().ok(),
                }
            }
            _ => kept.push(pair),
        }
    }
    (kept.join(","), le)
}

/// `a="1",b="x,y"` into its pairs (commas inside quotes kept).
fn split_labels(s: &str) -> Vec<&str> {
    let (mut out, mut start, mut quoted, mut escaped) = (Vec::new(), 0, false, false);
    for (i, c) in s.char_indices() {
        match c {
            '\\' if quoted => escaped = !escaped,
            '"' if !escaped => quoted = !quoted,
            ',' if !quoted => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    if !s[start..].trim().is_empty() {
        out.push(s[start..].trim());
    }
    out
}

/// Prometheus' `histogram_quantile`: linear within the bucket that holds rank q.
fn quantile(buckets: &[(f64, f64)], q: f64) -> f64 {
    let total = buckets.last().map_or(0.0, |b| b.1);
    if total <= 0.0 {
        return 0.0;
    }
    let rank = q * total;
    let mut prev = (0.0, 0.0);
    for &(le, count) in buckets {
        if count >= rank {
            if le.is_infinite() {
                return prev.0;
            }
            let in_bucket = count - prev.1;
            let frac = if in_bucket > 0.0 {
                (rank - prev.1) / in_bucket
            } else {
                1.0
            };
            return prev.0 + (le - prev.0) * frac;
        }
        prev = (le, count);
    }
    prev.0
}

/// Costs per request, gauges and histogram percentiles over `scrapes` (oldest first).
pub(crate) fn summarize(url: &str, scrapes: &[Scrape], requests: u64) -> TargetMetrics {
    let mut out = TargetMetrics {
        url: url.to_string(),
        scrapes: scrapes.len(),
        requests,
        ..TargetMetrics::default()
    };
    let (Some(first), Some(last)) = (scrapes.first(), scrapes.last()) else {
        return out;
    };
    let n = requests.max(1) as f64;
    let mut buckets: BTreeMap<(String, String), Vec<(f64, f64)>> = BTreeMap::new();
    for (series, &end) in &last.values {
        let start = first.values.get(series).copied().unwrap_or(0.0);
        let (k, family) = kind(&last.types, series);
        match k {
            "counter" => {
                // A counter that went down was reset (a restart): its increase is unknown.
                if end >= start && requests > 0 {
                    out.per_request.insert(series.clone(), (end - start) / n);
                }
            }
            "histogram" if series.contains("_bucket") => {
                let (labels, le) = labels_without_le(series);
                if let Some(le) = le {
                    buckets
                        .entry((family, labels))
                        .or_default()
                        .push((le, (end - start).max(0.0)));
                }
            }
            "histogram" | "summary" => {}
            _ => {
                let peak = scrapes
                    .iter()
                    .filter_map(|s| s.values.get(series))
                    .fold(f64::NEG_INFINITY, |a, &b| a.max(b));
                out.gauges.insert(
                    series.clone(),
                    GaugeRange {
                        start,
                        end,
                        peak: peak.max(end),
                    },
                );
            }
        }
    }
    for ((family, labels), mut b) in buckets {
        b.sort_by(|x, y| x.0.total_cmp(&y.0));
        if b.last().is_some_and(|l| l.1 > 0.0) {
            let key = if labels.is_empty() {
                family
            } else {
                format!("{family}{{{labels}}}")
            };
            out.histograms.insert(
                key,
                Percentiles {
                    p50: quantile(&b, 0.5),
                    p90: quantile(&b, 0.9),
                    p95: quantile(&b, 0.95),
                    p99: quantile(&b, 0.99),
                    p99_9: quantile(&b, 0.999),
                    max: b
                        .iter()
                        .rev()
                        .find(|x| x.0.is_finite())
                        .map_or(0.0, |x| x.0),
                    mean: 0.0,
                },
            );
        }
    }
    let per = |name: &str| out.per_request.get(name).copied();
    let mut derived = BTreeMap::new();
    for (key, series) in [
        ("cpu_per_request", "process_cpu_seconds_total"),
        ("allocs_per_request", "go_memstats_mallocs_total"),
        ("memory_per_request", "go_memstats_alloc_bytes_total"),
    ] {
        if let Some(v) = per(series) {
            derived.insert(key.to_string(), v);
        }
    }
    // GC pauses: the runtime's pause histogram when exported, else the summary's maximum.
    if let Some(h) = out.histograms.get("go_gc_pauses_seconds") {
        derived.insert("gc_pause_p99".into(), h.p99);
        derived.insert("gc_pause_max".into(), h.max);
    } else if let Some(max) = last.values.get("go_gc_duration_seconds{quantile=\"1\"}") {
        derived.insert("gc_pause_max".into(), *max);
    }
    out.derived = derived;
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const BEFORE: &str = "# HELP process_cpu_seconds_total CPU.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total 1000\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 1e7\n# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"0.001\"} 0\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"0.01\"} 0\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"+Inf\"} 0\nhttp_request_duration_seconds_count{path=\"/a,b\"} 0\n";
    const AFTER: &str = "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 2.5\n# TYPE go_memstats_mallocs_total counter\ngo_memstats_mallocs_total 21000\n# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes 3e7\n# TYPE http_request_duration_seconds histogram\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"0.001\"} 500\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"0.01\"} 1000\nhttp_request_duration_seconds_bucket{path=\"/a,b\",le=\"+Inf\"} 1000\nhttp_request_duration_seconds_count{path=\"/a,b\"} 1000\n# TYPE go_gc_duration_seconds summary\ngo_gc_duration_seconds{quantile=\"1\"} 0.0004\n";

    #[test]
    fn costs_gauges_and_server_percentiles_from_two_scrapes() {
        let (a, b) = (parse(BEFORE).unwrap(), parse(AFTER).unwrap());
        let t = summarize("http://x/metrics", &[a, b], 1000);
        assert_eq!(t.derived["cpu_per_request"], 0.001);
        assert_eq!(t.derived["allocs_per_request"], 20.0);
        assert_eq!(t.derived["gc_pause_max"], 0.0004);
        let g = t.gauges["process_resident_memory_bytes"];
        assert_eq!((g.start, g.end, g.peak), (1e7, 3e7, 3e7));
        let h = &t.histograms["http_request_duration_seconds{path=\"/a,b\"}"];
        assert_eq!(h.p50, 0.001, "half the requests under 1 ms");
        // Rank 990 of 1000 lies 98% into the (1 ms, 10 ms] bucket, as histogram_quantile puts it.
        assert!((h.p99 - 0.00982).abs() < 1e-9, "{}", h.p99);
    }

    #[test]
    fn bad_lines_are_errors_with_their_number_and_a_reset_counter_is_left_out() {
        assert!(parse("ok 1\nnot_a_sample\n")
            .unwrap_err()
            .starts_with("line 2:"));
        let a = parse("x_total 10\n").unwrap();
        let b = parse("x_total 3\n").unwrap();
        assert!(summarize("u", &[a, b], 10).per_request.is_empty());
    }
}
