//! What a load test does: the load model, its stages, the scenarios and their requests.

use std::time::Duration;

use crate::template::{CsvData, Template};
use crate::LoadError;

/// How load is generated.
#[derive(Debug, Clone, PartialEq)]
pub enum Model {
    /// Virtual users, each sending back to back on its own keep-alive connection.
    Closed {
        /// Virtual users (the peak when stages ramp).
        vus: usize,
        /// Pause after each response.
        think_time: Duration,
        /// Requests per second each VU is expected to send (wrk2's `-R` per connection): a VU
        /// sends at most this often, and latency is measured from when each request was due,
        /// so a stall is charged to every request it delayed (coordinated omission corrected).
        expected_rate: Option<f64>,
    },
    /// A fixed arrival rate: every request has an intended send time.
    Open {
        /// Requests per second (the first stage's start when stages ramp).
        rate: f64,
        /// Fixed intervals or Poisson arrivals.
        poisson: bool,
        /// Connections in the pool.
        max_connections: usize,
        /// Requests allowed to wait for a connection before new ones are dropped.
        max_queue: usize,
    },
}

/// One stage: ramp linearly to `target` (VUs or requests per second) over `duration`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stage {
    /// Length of the stage.
    pub duration: Duration,
    /// Level reached at its end.
    pub target: f64,
}

/// Parse `30s:50,1m:100,30s:0`.
///
/// # Errors
/// A malformed stage, named.
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, LoadError> {
    text.split(',')
        .map(|part| {
            let err = |m: String| LoadError::Config {
                message: format!("stage {part:?}: {m} (write stages like 30s:50,1m:100)"),
            };
            let (d, t) = part
                .trim()
                .split_once(':')
                .ok_or_else(|| err("missing ':'".into()))?;
            let duration = perflab_model::parse_duration(d).map_err(|e| err(e.reason))?;
            let target: f64 = t
                .trim()
                .trim_end_matches("/s")
                .parse()
                .map_err(|_| err(format!("{t:?} is not a number")))?;
            if !(target >= 0.0 && target.is_finite()) {
                return Err(err("target must be 0 or more".into()));
            }
            Ok(Stage { duration, target })
        })
        .collect()
}

/// The level (VUs or rate) at `t` seconds into staged load starting from `start`.
pub fn level_at(start: f64, stages: &[Stage], t: f64) -> f64 {
    let mut from = start;
    let mut elapsed = 0.0;
    for s in stages {
        let d = s.duration.as_secs_f64();
        if t < elapsed + d {
            let f = if d > 0.0 { (t - elapsed) / d } else { 1.0 };
            return from + (s.target - from) * f;
        }
        elapsed += d;
        from = s.target;
    }
    from
}

/// A check on every response of a scenario.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    /// The status code equals this.
    Status(u16),
    /// The body contains this text.
    BodyContains(String),
    /// The body is JSON with a value at this dotted path (`results.0.id`).
    JsonField(String),
    /// The response took less than this.
    LatencyUnder(Duration),
}

impl Check {
    /// A short name for reports: `status == 200`, `body contains "ok"`.
    pub fn describe(&self) -> String {
        match self {
            Check::Status(s) => format!("status == {s}"),
            Check::BodyContains(t) => format!("body contains {t:?}"),
            Check::JsonField(p) => format!("json field {p}"),
            Check::LatencyUnder(d) => format!("latency < {d:?}"),
        }
    }

    /// Whether this check needs the body kept.
    pub fn needs_body(&self) -> bool {
        matches!(self, Check::BodyContains(_) | Check::JsonField(_))
    }
}

/// One kind of request, with its share of the traffic.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Name used in reports and thresholds (`search`).
    pub name: String,
    /// Relative weight (60 and 40 give a 60/40 mix).
    pub weight: u32,
    /// HTTP method.
    pub method: hyper::Method,
    /// URL template (scheme, host and port fixed; path and query may be templated).
    pub url: Template,
    /// Host and port to connect to.
    pub authority: String,
    /// `https`: connect with TLS.
    pub tls: bool,
    /// Header templates.
    pub headers: Vec<(hyper::header::HeaderName, Template)>,
    /// Body template, if any.
    pub body: Option<Template>,
    /// Checks on every response.
    pub checks: Vec<Check>,
    /// CSV rows for `csv.*` generators.
    pub csv: Option<CsvData>,
    /// Values to keep from each response, for this VU's later requests: (`var` name, dotted
    /// JSON path).
    pub extract: Vec<(String, String)>,
    /// The scenario this VU sends next (closed model): create, then read what was created.
    pub then: Option<usize>,
    /// Tags (`kind = "write"`): results are also given per tag, named `kind=write`.
    pub tags: Vec<(String, String)>,
}

/// The names results go by: each scenario's, and each tag's `key=value`.
pub fn result_names(scenarios: &[Scenario]) -> Vec<String> {
    let mut names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    for s in scenarios {
        for (k, v) in &s.tags {
            let t = format!("{k}={v}");
            if !names.contains(&t) {
                names.push(t);
            }
        }
    }
    names
}

/// A target URL, split.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `host:port` to connect to.
    pub authority: String,
    /// Path and query.
    pub path: String,
    /// `https`.
    pub tls: bool,
}

/// Split `http://host:port/path?q` (or `https://`, any case) into its parts. The scheme,
/// host and port are read by the `url` crate (WHATWG rules: IPv6 literals, ports over 65535
/// refused, `http://h:8080?x=1` has the path `/`); the path and query are kept as written so
/// that `{{…}}` templates survive, and must not contain spaces or control characters.
///
/// # Errors
/// Another scheme, no host, a bad port, or a path with whitespace.
pub fn parse_url(url: &str) -> Result<Target, LoadError> {
    let bad = |why: &str| LoadError::Config {
        message: format!("{url}: {why}"),
    };
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| bad("the URL must start with http:// or https://"))?;
    let tls = match scheme.to_ascii_lowercase().as_str() {
        "http" => false,
        "https" => true,
        _ => return Err(bad("the URL must start with http:// or https://")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() {
        return Err(bad("no host"));
    }
    let parsed = url::Url::parse(&format!(
        "{}://{authority}/",
        if tls { "https" } else { "http" }
    ))
    .map_err(|e| bad(&format!("invalid host or port ({e})")))?;
    let host = match parsed.host() {
        Some(url::Host::Ipv6(a)) => format!("[{a}]"),
        Some(h) => h.to_string(),
        None => return Err(bad("no host")),
    };
    let port = parsed
        .port_or_known_default()
        .unwrap_or(if tls { 443 } else { 80 });
    let tail = tail.split('#').next().unwrap_or("");
    if tail.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad(
            "the path has a space or a control character (percent-encode it: %20)",
        ));
    }
    let path = if tail.is_empty() || tail.starts_with('?') {
        format!("/{tail}")
    } else {
        tail.to_string()
    };
    Ok(Target {
        authority: format!("{host}:{port}"),
        path,
        tls,
    })
}

/// Where a redirection's `Location` leads from a request to `base` (RFC 9110 §10.2.2: an
/// absolute URL, `//host/...`, an absolute path, or a path relative to the base's directory).
/// `None` for another scheme or a malformed value. The fragment is dropped.
pub fn resolve_location(location: &str, base: &Target) -> Option<Target> {
    let location = location.split('#').next().unwrap_or("").trim();
    if location.is_empty() || location.bytes().any(|b| b <= b' ' || b == 0x7f) {
        return None;
    }
    if location.contains("://") {
        return parse_url(location).ok();
    }
    if let Some(rest) = location.strip_prefix("//") {
        let scheme = if base.tls { "https" } else { "http" };
        return parse_url(&format!("{scheme}://{rest}")).ok();
    }
    let path = if location.starts_with('/') {
        location.to_string()
    } else {
        let base_path = base.path.split('?').next().unwrap_or("/");
        if location.starts_with('?') {
            format!("{base_path}{location}")
        } else {
            let dir = &base_path[..base_path.rfind('/').map_or(0, |i| i + 1)];
            let dir = if dir.is_empty() { "/" } else { dir };
            format!("{dir}{location}")
        }
    };
    Some(Target {
        authority: base.authority.clone(),
        path,
        tls: base.tls,
    })
}

/// Split `http://host:port/path?q` into (authority, path-and-query).
///
/// # Errors
/// A scheme other than http or https, or no host.
pub fn split_url(url: &str) -> Result<(String, String), LoadError> {
    parse_url(url).map(|t| (t.authority, t.path))
}

/// Everything a load test needs.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Load model.
    pub model: Model,
    /// Stages; empty means constant load for `duration`.
    pub stages: Vec<Stage>,
    /// Test length when there are no stages.
    pub duration: Duration,
    /// Stop after this many requests (sent), if set.
    pub max_requests: Option<u64>,
    /// Leading time excluded from the results.
    pub warmup: Duration,
    /// Per-request timeout.
    pub timeout: Duration,
    /// After the test, how long requests in flight may still finish (k6's graceful stop);
    /// those that do not are recorded as `unfinished` with their latency so far.
    pub grace: Duration,
    /// Scenarios (at least one).
    pub scenarios: Vec<Scenario>,
    /// Identity of the plan (see `LoadSummary::plan`).
    pub plan: String,
    /// The target's Prometheus endpoint, scraped over the test.
    pub watch_metrics: Option<String>,
    /// Run one part of the load: (index, count), 1-based index.
    pub segment: (usize, usize),
    /// Evaluate thresholds every second and stop at the first failure.
    pub abort_on_fail: bool,
    /// Read at most this many body bytes for checks (the rest is counted, not kept).
    pub max_body_kept: usize,
    /// Speak HTTP/2 (h2c with prior knowledge on http, ALPN h2 on https) instead of HTTP/1.1.
    pub http2: bool,
    /// Accept any TLS certificate (self-signed test servers).
    pub insecure: bool,
    /// Follow at most this many redirections per request (0: none, the default).
    pub max_redirects: u32,
    /// Closed model: each VU stops after this many requests (k6's per-vu-iterations).
    pub per_vu_requests: Option<u64>,
    /// Executors that run side by side, each with its own model and its own scenarios (k6's
    /// per-scenario executors); empty for one plan. When set, `scenarios` lists them all.
    pub parts: Vec<Part>,
}

/// One executor of a scenario file: a scenario (and those it chains to) under its own load.
#[derive(Debug, Clone)]
pub struct Part {
    /// The root scenario's name.
    pub name: String,
    /// The k6 executor it was written as (`constant-vus`, `ramping-arrival-rate`, …).
    pub executor: String,
    /// Its plan.
    pub options: LoadOptions,
}

impl LoadOptions {
    /// Total planned length: the stages' sum, or `duration`.
    pub fn total_duration(&self) -> Duration {
        if self.stages.is_empty() {
            self.duration
        } else {
            self.stages.iter().map(|s| s.duration).sum()
        }
    }

    /// This segment's share of `n` things (VUs): an even split, remainder to the first ones.
    pub fn segment_share(&self, n: usize) -> usize {
        let (i, k) = self.segment;
        n / k + usize::from(i <= n % k)
    }

    /// This segment's share of a rate.
    pub fn segment_rate(&self, rate: f64) -> f64 {
        rate / self.segment.1 as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_read_by_a_real_url_parser() {
        let t = parse_url("HTTP://h:8080?x=1").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str(), t.tls),
            ("h:8080", "/?x=1", false)
        );
        let t = parse_url("https://[::1]/a/{{csv.id}}?q=2#frag").unwrap();
        assert_eq!(
            (t.authority.as_str(), t.path.as_str(), t.tls),
            ("[::1]:443", "/a/{{csv.id}}?q=2", true)
        );
        assert_eq!(
            parse_url("http://localhost").unwrap().authority,
            "localhost:80"
        );
        for bad in [
            "http://h:65536/",
            "http://h:x/",
            "http://[::1/",
            "ftp://h/",
            "http:///p",
            "http://h/a b",
            "h:80",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stages_parse_and_interpolate() {
        let s = parse_stages("10s:50, 10s:100,5s:0").unwrap();
        assert_eq!(s.len(), 3);
        assert_eq!(level_at(0.0, &s, 5.0), 25.0);
        assert_eq!(level_at(0.0, &s, 15.0), 75.0);
        assert_eq!(level_at(0.0, &s, 22.5), 50.0);
        assert_eq!(level_at(0.0, &s, 99.0), 0.0);
        let e = parse_stages("10s-50").unwrap_err();
        assert!(e.to_string().contains("missing ':'"), "{e}");
    }

    #[test]
    fn locations_resolve_against_the_request() {
        let base = parse_url("http://a:1/dir/page?x=1").unwrap();
        let r = |l: &str| resolve_location(l, &base).map(|t| (t.authority, t.path, t.tls));
        assert_eq!(r("/p?q"), Some(("a:1".into(), "/p?q".into(), false)));
        assert_eq!(
            r("next#frag"),
            Some(("a:1".into(), "/dir/next".into(), false))
        );
        assert_eq!(
            r("?y=2"),
            Some(("a:1".into(), "/dir/page?y=2".into(), false))
        );
        assert_eq!(r("//b/z"), Some(("b:80".into(), "/z".into(), false)));
        assert_eq!(r("https://c/"), Some(("c:443".into(), "/".into(), true)));
        assert_eq!(r("ftp://c/"), None);
        assert_eq!(r(""), None);
        assert_eq!(r("/a b"), None);
    }

    #[test]
    fn urls_split() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/a?b=1").unwrap(),
            ("127.0.0.1:8080".to_string(), "/a?b=1".to_string())
        );
        assert_eq!(
            split_url("http://localhost").unwrap(),
            ("localhost:80".to_string(), "/".to_string())
        );
        assert!(split_url("ftp://x").is_err());
        let t = parse_url("https://localhost/x").unwrap();
        assert_eq!((t.authority.as_str(), t.tls), ("localhost:443", true));
    }

    #[test]
    fn segments_split_evenly() {
        let mut o = test_options();
        let total: usize = (1..=3)
            .map(|i| {
                o.segment = (i, 3);
                o.segment_share(10)
            })
            .sum();
        assert_eq!(total, 10);
    }

    fn test_options() -> LoadOptions {
        LoadOptions {
            model: Model::Closed {
                vus: 1,
                think_time: Duration::ZERO,
                expected_rate: None,
            },
            stages: vec![],
            duration: Duration::from_secs(1),
            max_requests: None,
            warmup: Duration::ZERO,
            timeout: Duration::from_secs(1),
            grace: Duration::from_secs(1),
            plan: String::new(),
            watch_metrics: None,
            scenarios: vec![],
            segment: (1, 1),
            abort_on_fail: false,
            max_body_kept: 65536,
            http2: false,
            insecure: false,
            max_redirects: 0,
            per_vu_requests: None,
            parts: Vec::new(),
        }
    }
}
