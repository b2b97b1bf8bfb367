//! The engine: workers that own keep-alive connections, a scheduler for the open model, and a
//! collector that turns shards into the per-second series once a second.

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
    /// 99th percentile of the last second (seconds).
    pub p99: f64,
    /// Failed requests so far.
    pub errors: u64,
    /// Still warming up.
    pub warming_up: bool,
}

impl Progress {
    /// `load 12s/60s  requests 4512  rps 380  p99 2.10ms  errors 0`.
    pub fn line(&self) -> String {
        format!(
            "{} {:>5.0}s/{:.0}s  requests {}  rps {:.0}  p99 {}  errors {}",
            if self.warming_up { "warm-up" } else { "load" },
            self.elapsed.as_secs_f64(),
            self.total.as_secs_f64(),
            self.requests,
            self.rps,
            perflab_model::Unit::seconds().format(self.p99),
            self.errors
        )
    }
}

pub use perflab_model::load::Ending;

struct Shared {
    opts: LoadOptions,
    tls: Option<tokio_rustls::TlsConnector>,
    recorder: Recorder,
    stop: AtomicBool,
    start: Instant,
    warmup_end: Instant,
    sent: AtomicU64,
    completed: AtomicU64,
    active_vus: AtomicUsize,
    seq: AtomicU64,
    weights: Vec<u32>,
    weight_total: u32,
    /// Per worker: when its request in progress was due (ns since `start`, plus one; 0 when
    /// idle) and its scenario, so requests still in flight at the end are counted.
    inflight: Vec<(AtomicU64, AtomicUsize)>,
}

impl Shared {
    /// Record every request still in flight as `unfinished`, with its latency up to `now`.
    /// Call only when no worker can run any more (finished or aborted).
    fn record_unfinished(&self, now: Instant) -> u64 {
        let mut n = 0;
        for (worker, (due, scenario)) in self.inflight.iter().enumerate() {
            let due = due.swap(0, Ordering::SeqCst);
            if due == 0 {
                continue;
            }
            let due = self.start + Duration::from_nanos(due - 1);
            if due < self.warmup_end {
                continue;
            }
            let waited = now.saturating_duration_since(due).as_nanos() as u64;
            self.recorder.record(
                worker,
                &Outcome {
                    scenario: scenario.load(Ordering::SeqCst),
                    latency_ns: waited,
                    service_ns: waited,
                    lag_ns: None,
                    status: None,
                    error: Some(ErrorKind::Unfinished),
                    bytes_in: 0,
                    bytes_out: 0,
                    checks_passed: 0,
                },
            );
            n += 1;
        }
        n
    }

    fn pick_scenario(&self, rng: &mut Rng) -> usize {
        if self.weights.len() == 1 {
            return 0;
        }
        let mut r = (rng.next_u64() % u64::from(self.weight_total)) as u32;
        for (i, w) in self.weights.iter().enumerate() {
            if r < *w {
                return i;
            }
            r -= w;
        }
        0
    }

    /// Take one request of the `-n` budget: false when it is spent. One atomic step, so VUs
    /// racing for the last request cannot both send it.
    fn claim(&self) -> bool {
        let before = self.sent.fetch_add(1, Ordering::Relaxed);
        self.opts.max_requests.is_none_or(|m| before < m)
    }

    fn over_budget(&self) -> bool {
        self.opts
            .max_requests
            .is_some_and(|m| self.sent.load(Ordering::Relaxed) >= m)
    }
}

/// A worker's connection to one authority: perflab's own HTTP/1.1 (plain or TLS), or hyper's
/// HTTP/2 (h2c prior knowledge, or ALPN h2).
enum Link {
    Plain(h1::Conn<tokio::net::TcpStream>),
    Tls(Box<h1::Conn<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// Most connections a worker keeps open: its scenarios' authorities plus redirection targets.
const MAX_SLOTS: usize = 64;

/// A connection slot: authority, TLS, and the connection when one is open.
struct Slot {
    authority: String,
    tls: bool,
    link: Option<Link>,
}

/// The slot for `authority` (opened lazily), added when new; past `MAX_SLOTS` the last slot is
/// given up for it.
fn slot(slots: &mut Vec<Slot>, authority: &str, tls: bool) -> usize {
    if let Some(i) = slots
        .iter()
        .position(|s| s.tls == tls && s.authority == authority)
    {
        return i;
    }
    let new = Slot {
        authority: authority.to_string(),
        tls,
        link: None,
    };
    if slots.len() < MAX_SLOTS {
        slots.push(new);
    } else if let Some(last) = slots.last_mut() {
        *last = new;
    }
    slots.len() - 1
}

/// A worker's connections (one per authority) and buffers, reused for every request.
struct Worker {
    id: usize,
    rng: Rng,
    slots: Vec<Slot>,
    /// The slot of the exchange in progress (dropped when it fails or times out).
    active: usize,
    url_buf: String,
    body_buf: String,
    /// Rendered header values, back to back; `header_ends` marks where each ends.
    header_buf: String,
    header_ends: Vec<usize>,
    /// The serialized HTTP/1.1 request.
    out: Vec<u8>,
    /// Body bytes kept for checks.
    kept: Vec<u8>,
    /// Body bytes sent by the request in progress (a 307/308 sends the body again).
    bytes_out: u64,
    /// The `Location` of the last redirection, and where it leads.
    location: String,
    /// Values this VU extracted from responses (`var.NAME`).
    vars: Vec<(String, String)>,
    /// This VU's cookies (name, value), kept from `Set-Cookie` answers as a browser or k6 keeps
    /// them, and sent back as one `Cookie` header.
    jar: Vec<(String, String)>,
    /// The last answer's `Set-Cookie` values.
    set_cookies: Vec<String>,
    /// The `Cookie` header made from the jar.
    cookie_header: String,
    /// The request in progress failed before any I/O (it cannot be written: a rendered CR/LF,
    /// a space in the path): the worker pauses, so a plan where every request fails this way
    /// cannot spin the runtime deaf to the clock and Ctrl-C.
    no_io: bool,
    hop: crate::options::Target,
}

impl Worker {
    fn new(id: usize, shared: &Shared) -> Worker {
        let mut slots = Vec::new();
        for s in &shared.opts.scenarios {
            slot(&mut slots, &s.authority, s.tls);
        }
        Worker {
            id,
            rng: Rng::new(0x5EED ^ (id as u64 + 1).wrapping_mul(0x1000_0000_01B3)),
            slots,
            active: 0,
            url_buf: String::new(),
            body_buf: String::new(),
            header_buf: String::new(),
            header_ends: Vec::new(),
            out: Vec::new(),
            kept: Vec::new(),
            bytes_out: 0,
            location: String::new(),
            no_io: false,
            vars: Vec::new(),
            jar: Vec::new(),
            set_cookies: Vec::new(),
            cookie_header: String::new(),
            hop: crate::options::Target {
                authority: String::new(),
                path: String::new(),
                tls: false,
            },
        }
    }

    /// Send one request of `scenario`; `intended` is the open model's scheduled time.
    async fn request(&mut self, shared: &Shared, scenario: usize, intended: Option<Instant>) {
        let sc = &shared.opts.scenarios[scenario];
        let seq = shared.seq.fetch_add(1, Ordering::Relaxed);
        self.url_buf.clear();
        self.body_buf.clear();
        let mut ctx = RenderContext {
            seq,
            rng: &mut self.rng,
            csv: sc.csv.as_ref(),
            vars: &self.vars,
        };
        sc.url.render(&mut ctx, &mut self.url_buf);
        if let Some(b) = &sc.body {
            b.render(&mut ctx, &mut self.body_buf);
        }
        self.header_buf.clear();
        self.header_ends.clear();
        for (_, t) in &sc.headers {
            t.render(&mut ctx, &mut self.header_buf);
            self.header_ends.push(self.header_buf.len());
        }
        let keep = sc.checks.iter().any(Check::needs_body) || !sc.extract.is_empty();
        let max_kept = if keep { shared.opts.max_body_kept } else { 0 };
        self.kept.clear();
        self.bytes_out = 0;
        self.no_io = false;
        let send_start = Instant::now();
        let due = intended.unwrap_or(send_start);
        let slot = &shared.inflight[self.id];
        slot.1.store(scenario, Ordering::Relaxed);
        slot.0.store(
            due.saturating_duration_since(shared.start).as_nanos() as u64 + 1,
            Ordering::SeqCst,
        );
        // The deadline from `send_start`: one clock read fewer than `timeout` per request.
        let deadline = tokio::time::Instant::from_std(send_start + shared.opts.timeout);
        let result = tokio::time::timeout_at(deadline, self.send(shared, sc, max_kept)).await;
        let mut outcome = Outcome {
            scenario,
            latency_ns: 0,
            service_ns: 0,
            lag_ns: intended.map(|i| send_start.saturating_duration_since(i).as_nanos() as u64),
            status: None,
            error: None,
            bytes_in: 0,
            bytes_out: self.bytes_out,
            checks_passed: 0,
        };
        match result {
            Ok(Ok((status, bytes_in))) => {
                outcome.status = Some(status);
                outcome.bytes_in = bytes_in;
            }
            Ok(Err(kind)) => {
                self.slots[self.active].link = None;
                outcome.error = Some(kind);
            }
            Err(_) => {
                // A timed-out HTTP/1 connection is mid-response: it cannot be reused.
                self.slots[self.active].link = None;
                outcome.error = Some(ErrorKind::Timeout);
            }
        }
        let answered = outcome.error.is_none();
        self.finish(shared, outcome, intended, send_start, &self.kept);
        if !self.set_cookies.is_empty() {
            self.keep_cookies();
        }
        if answered {
            for (var, path) in &sc.extract {
                if let Some(v) = json_get(&self.kept, path) {
                    match self.vars.iter_mut().find(|(n, _)| n == var) {
                        Some(slot) => slot.1 = v,
                        None => self.vars.push((var.clone(), v)),
                    }
                }
            }
        }
        if self.no_io {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// The rendered request, sent and answered, following redirections when asked:
    /// 301/302/303 continue with GET and no body (HEAD stays HEAD), 307/308 repeat the method
    /// and body. Credentials and a set Host are not carried to another authority.
    async fn send(
        &mut self,
        shared: &Shared,
        sc: &crate::options::Scenario,
        max_kept: usize,
    ) -> Result<(u16, u64), ErrorKind> {
        let mut method = sc.method.clone();
        let mut with_body = sc.body.is_some();
        let mut bytes_in = 0u64;
        let mut hops = 0u32;
        loop {
            let (authority, path, tls) = if hops == 0 {
                (sc.authority.as_str(), self.url_buf.as_str(), sc.tls)
            } else {
                (
                    self.hop.authority.as_str(),
                    self.hop.path.as_str(),
                    self.hop.tls,
                )
            };
            let cross = authority != sc.authority;
            let i = slot(&mut self.slots, authority, tls);
            self.active = i;
            let connector = match (tls, shared.tls.as_ref()) {
                (false, _) => None,
                (true, Some(c)) => Some(c),
                (true, None) => {
                    self.no_io = true;
                    return Err(ErrorKind::Tls);
                }
            };
            let values = self.header_ends.iter().scan(0, |start, &end| {
                let v = &self.header_buf[*start..end];
                *start = end;
                Some(v)
            });
            // The jar's cookies, unless the scenario sets its own Cookie header.
            let jar = (!self.cookie_header.is_empty()
                && !sc.headers.iter().any(|(n, _)| n == "cookie"))
            .then_some(("cookie", self.cookie_header.as_str()));
            let headers = sc
                .headers
                .iter()
                .map(|(n, _)| n.as_str())
                .zip(values)
                .chain(jar)
                .filter(|(n, _)| !(cross && matches!(*n, "host" | "authorization" | "cookie")));
            let body = with_body.then_some(self.body_buf.as_bytes());
            let body_len = body.map_or(0, |b| b.len() as u64);
            let link = &mut self.slots[i].link;
            let status = if shared.opts.http2 {
                let Ok(req) = hyper_request(&method, tls, authority, path, headers, body) else {
                    self.no_io = true;
                    return Err(ErrorKind::Protocol);
                };
                let reply = Reply {
                    kept: &mut self.kept,
                    max_kept,
                    location: &mut self.location,
                    cookies: &mut self.set_cookies,
                };
                self.bytes_out += body_len;
                // Boxed: hyper's HTTP/2 state would otherwise size every worker's future.
                let (status, n) =
                    Box::pin(exchange_h2(link, authority, connector, req, reply)).await?;
                bytes_in += n;
                status
            } else {
                let written = h1::write_request(
                    &mut self.out,
                    method.as_str(),
                    path,
                    host_header(authority, tls),
                    headers,
                    body,
                );
                if written.is_err() {
                    self.no_io = true;
                    return Err(ErrorKind::Protocol);
                }
                self.bytes_out += body_len;
                let head = method == hyper::Method::HEAD;
                let reply = Reply {
                    kept: &mut self.kept,
                    max_kept,
                    location: &mut self.location,
                    cookies: &mut self.set_cookies,
                };
                let (status, n) =
                    exchange_h1(link, authority, connector, &self.out, head, reply).await?;
                bytes_in += n;
                status
            };
            if hops < shared.opts.max_redirects && matches!(status, 301 | 302 | 303 | 307 | 308) {
                let base = crate::options::Target {
                    authority: authority.to_string(),
                    path: path.to_string(),
                    tls,
                };
                if let Some(next) = crate::options::resolve_location(&self.location, &base) {
                    if matches!(status, 301..=303) && method != hyper::Method::HEAD {
                        method = hyper::Method::GET;
                        with_body = false;
                    }
                    self.hop = next;
                    hops += 1;
                    self.kept.clear();
                    continue;
                }
            }
            return Ok((status, bytes_in));
        }
    }

    /// Put the last answer's `Set-Cookie` values in the jar (`Max-Age=0` or an empty value
    /// deletes), and remake the `Cookie` header.
    fn keep_cookies(&mut self) {
        for c in self.set_cookies.drain(..) {
            let mut parts = c.split(';');
            let Some((name, value)) = parts.next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            let (name, value) = (name.trim(), value.trim());
            let expired = parts.any(|a| {
                a.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("max-age") && v.trim() == "0"
                })
            });
            self.jar.retain(|(n, _)| n != name);
            if !expired && !value.is_empty() && !name.is_empty() {
                self.jar.push((name.to_string(), value.to_string()));
            }
        }
        self.cookie_header.clear();
        for (i, (n, v)) in self.jar.iter().enumerate() {
            if i > 0 {
                self.cookie_header.push_str("; ");
            }
            self.cookie_header.push_str(n);
            self.cookie_header.push('=');
            self.cookie_header.push_str(v);
        }
    }

    fn finish(
        &self,
        shared: &Shared,
        mut o: Outcome,
        intended: Option<Instant>,
        send_start: Instant,
        body: &[u8],
    ) {
        // No await from here to the record: an abort cannot fall between the two.
        shared.inflight[self.id].0.store(0, Ordering::SeqCst);
        let done = Instant::now();
        o.service_ns = done.duration_since(send_start).as_nanos() as u64;
        o.latency_ns = match intended {
            Some(i) => done.saturating_duration_since(i).as_nanos() as u64,
            None => o.service_ns,
        };
        // Warm-up: measured by when the request was due (open) or sent (closed).
        if intended.unwrap_or(send_start) < shared.warmup_end {
            return;
        }
        let sc = &shared.opts.scenarios[o.scenario];
        for (i, c) in sc.checks.iter().enumerate() {
            let ok = match c {
                Check::Status(s) => o.status == Some(*s),
                Check::BodyContains(t) => o.error.is_none() && memfind(body, t.as_bytes()),
                Check::JsonField(path) => json_has(body, path),
                Check::LatencyUnder(d) => o.error.is_none() && o.latency_ns < d.as_nanos() as u64,
            };
            o.checks_passed |= u64::from(ok) << i;
        }
        shared.completed.fetch_add(1, Ordering::Relaxed);
        shared.recorder.record(self.id, &o);
    }
}

fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The value at a dotted path (`data.0.id`) of a JSON body, as text: a string as it is, other
/// values as JSON.
fn json_get(body: &[u8], path: &str) -> Option<String> {
    let mut v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    for part in path.split('.') {
        v = match v {
            serde_json::Value::Object(mut m) => m.remove(part)?,
            serde_json::Value::Array(mut a) => {
                let i = part.parse::<usize>().ok().filter(|i| *i < a.len())?;
                a.swap_remove(i)
            }
            _ => return None,
        };
    }
    Some(match v {
        serde_json::Value::String(s) => s,
        other => other.to_string(),
    })
}

fn json_has(body: &[u8], path: &str) -> bool {
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(body) else {
        return false;
    };
    for part in path.split('.') {
        v = match v {
            serde_json::Value::Object(mut m) => match m.remove(part) {
                Some(x) => x,
                None => return false,
            },
            serde_json::Value::Array(mut a) => match part.parse::<usize>() {
                Ok(i) if i < a.len() => a.swap_remove(i),
                _ => return false,
            },
            _ => return false,
        };
    }
    true
}

fn classify_hyper(e: &hyper::Error) -> ErrorKind {
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        return ErrorKind::Protocol;
    }
    if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        return ErrorKind::Reset;
    }
    if e.is_timeout() {
        return ErrorKind::Timeout;
    }
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return ErrorKind::of_io(io);
        }
        src = s.source();
    }
    ErrorKind::Other
}

/// A connected byte stream: plain TCP, or a TLS session over it.
enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Connect to `authority` (and shake hands over TLS when `tls` is given).
async fn connect(
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
) -> Result<Stream, ErrorKind> {
    let tcp =
        tokio::net::TcpStream::connect(authority)
            .await
            .map_err(|e| match ErrorKind::of_io(&e) {
                ErrorKind::ConnectRefused => ErrorKind::ConnectRefused,
                _ => ErrorKind::Connect,
            })?;
    let _ = tcp.set_nodelay(true);
    let Some(connector) = tls else {
        return Ok(Stream::Plain(tcp));
    };
    let host = authority
        .rsplit_once(':')
        .map_or(authority, |(h, _)| h)
        .trim_start_matches('[')
        .trim_end_matches(']');
    let name =
        rustls::pki_types::ServerName::try_from(host.to_string()).map_err(|_| ErrorKind::Tls)?;
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|_| ErrorKind::Tls)?;
    Ok(Stream::Tls(Box::new(stream)))
}

/// Where an exchange puts what the checks and redirections need from the response.
struct Reply<'a> {
    /// Up to `max_kept` body bytes.
    kept: &'a mut Vec<u8>,
    max_kept: usize,
    /// The `Location` of a redirection.
    location: &'a mut String,
    /// The answer's `Set-Cookie` values.
    cookies: &'a mut Vec<String>,
}

/// One HTTP/1.1 exchange on the worker's connection, connecting first if there is none.
/// A reused connection that fails before any response byte arrives was most likely closed by
/// the server while idle (keep-alive timeout): the request is sent once more on a new one.
async fn exchange_h1(
    link: &mut Option<Link>,
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    request: &[u8],
    head: bool,
    reply: Reply<'_>,
) -> Result<(u16, u64), ErrorKind> {
    let Reply {
        kept,
        max_kept,
        location,
        cookies,
    } = reply;
    for attempt in 0..2 {
        if link.is_none() {
            // Boxed: the TLS handshake's state is large and needed once per connection, not
            // in every worker's future for the whole test.
            *link = Some(match Box::pin(connect(authority, tls)).await? {
                Stream::Plain(tcp) => Link::Plain(h1::Conn::new(tcp)),
                Stream::Tls(s) => Link::Tls(Box::new(h1::Conn::new(*s))),
            });
        }
        let (result, reused) = match link.as_mut() {
            Some(Link::Plain(c)) => {
                exchange_on(c, request, head, kept, max_kept, location, cookies).await
            }
            Some(Link::Tls(c)) => {
                exchange_on(c, request, head, kept, max_kept, location, cookies).await
            }
            Some(Link::H2(_)) | None => return Err(ErrorKind::Other),
        };
        match result {
            Ok(r) => {
                if !r.reusable {
                    *link = None;
                }
                return Ok((r.status, r.body_bytes));
            }
            Err(f) => {
                *link = None;
                if attempt == 0 && reused && f.nothing_received && f.kind == ErrorKind::Reset {
                    kept.clear();
                    continue;
                }
                return Err(f.kind);
            }
        }
    }
    Err(ErrorKind::Reset)
}

/// The Host header for `authority`: without the scheme's default port, as browsers send it
/// (some virtual-host setups match the bare name only).
fn host_header(authority: &str, tls: bool) -> &str {
    let default = if tls { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The request as hyper's type, for HTTP/2 (absolute URI, no Host header).
fn hyper_request<'a>(
    method: &hyper::Method,
    tls: bool,
    authority: &str,
    path: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: Option<&[u8]>,
) -> Result<hyper::Request<Full<Bytes>>, ()> {
    let scheme = if tls { "https" } else { "http" };
    let mut builder = hyper::Request::builder()
        .method(method.clone())
        .uri(format!("{scheme}://{authority}{path}"));
    for (name, value) in headers.filter(|(n, _)| !n.eq_ignore_ascii_case("host")) {
        builder = builder.header(name, value);
    }
    let body = Full::new(Bytes::copy_from_slice(body.unwrap_or_default()));
    builder.body(body).map_err(|_| ())
}

async fn h2_handshake<T>(io: T) -> Result<http2::SendRequest<Full<Bytes>>, ErrorKind>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, connection) = http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
        .await
        .map_err(|e| classify_hyper(&e))?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

/// `Conn::exchange`, keeping a redirection's Location; also says whether the connection had
/// been used before.
async fn exchange_on<S>(
    c: &mut h1::Conn<S>,
    request: &[u8],
    head: bool,
    kept: &mut Vec<u8>,
    max_kept: usize,
    location: &mut String,
    cookies: &mut Vec<String>,
) -> (Result<h1::Response, h1::Failure>, bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let reused = c.reused;
    let r = c.exchange(request, head, kept, max_kept).await;
    if r.is_ok_and(|r| (300..400).contains(&r.status)) {
        location.clone_from(&c.location);
    }
    if r.is_ok() {
        cookies.clone_from(&c.cookies);
    }
    (r, reused)
}

/// One HTTP/2 exchange through hyper, connecting (h2c prior knowledge, or TLS) if needed.
async fn exchange_h2(
    link: &mut Option<Link>,
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    req: hyper::Request<Full<Bytes>>,
    reply: Reply<'_>,
) -> Result<(u16, u64), ErrorKind> {
    let Reply {
        kept,
        max_kept,
        location,
        cookies,
    } = reply;
    if !matches!(link, Some(Link::H2(s)) if !s.is_closed()) {
        let sender = match connect(authority, tls).await? {
            Stream::Plain(tcp) => h2_handshake(TokioIo::new(tcp)).await?,
            Stream::Tls(s) => h2_handshake(TokioIo::new(*s)).await?,
        };
        *link = Some(Link::H2(sender));
    }
    let Some(Link::H2(sender)) = link.as_mut() else {
        return Err(ErrorKind::Other);
    };
    sender.ready().await.map_err(|e| classify_hyper(&e))?;
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| classify_hyper(&e))?;
    let status = resp.status().as_u16();
    cookies.clear();
    for v in resp.headers().get_all(hyper::header::SET_COOKIE) {
        cookies.push(String::from_utf8_lossy(v.as_bytes()).into_owned());
    }
    if resp.status().is_redirection() {
        location.clear();
        if let Some(l) = resp.headers().get(hyper::header::LOCATION) {
            location.push_str(&String::from_utf8_lossy(l.as_bytes()));
        }
    }
    let mut body = resp.into_body();
    let mut n = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| classify_hyper(&e))?;
        if let Some(data) = frame.data_ref() {
            n += data.len() as u64;
            h1::keep(data, kept, max_kept);
        }
    }
    Ok((status, n))
}

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
                    p.p99 = p.p99.max(q.p99);
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
        Some(url) => Some(
            crate::watch::Watcher::start(url).map_err(|e| LoadError::Config {
                message: format!("--watch-metrics {url}: {e}"),
            })?,
        ),
        None => None,
    };
    let workers = workers_needed(&opts)?;
    let shared = Arc::new(Shared::new(opts, workers)?);
    let cpu_start = process_cpu_seconds(None).unwrap_or(0.0);
    let started = start_model(&shared, workers);
    let mut target = TargetWatch::new(watch_pid, shared.opts.warmup.is_zero());
    let (ending, mut series) = monitor(&shared, thresholds, stop_flag, &mut target, progress).await;
    shared.stop.store(true, Ordering::SeqCst);
    let end = Instant::now();
    let drops = wind_down(&shared, started, ending).await;
    let (tail_requests, tail_errors, tail_hist) = shared.recorder.drain_second();
    if tail_requests > 0 {
        series.push(SecondPoint {
            t: end.saturating_duration_since(shared.warmup_end).as_secs() + 1,
            requests: tail_requests,
            errors: tail_errors,
            p50: tail_hist.value_at_quantile(0.5) as f64 / 1e9,
            p99: tail_hist.value_at_quantile(0.99) as f64 / 1e9,
        });
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
        summary.target_metrics = Some(w.finish(shared.warmup_end, requests));
    }
    summary.thresholds = thresholds
        .iter()
        .map(|t| t.evaluate_load(&summary))
        .collect();
    Ok((summary, ending))
}

/// The distinct authorities (host:port) the scenarios send to.
fn authorities(opts: &LoadOptions) -> Vec<&str> {
    let mut a: Vec<&str> = opts
        .scenarios
        .iter()
        .map(|s| s.authority.as_str())
        .collect();
    a.sort_unstable();
    a.dedup();
    a
}

/// A host that does not resolve fails every request: say so once, before the test.
async fn resolve_hosts(opts: &LoadOptions) -> Result<(), LoadError> {
    for a in authorities(opts) {
        let found = tokio::time::timeout(Duration::from_secs(10), tokio::net::lookup_host(a)).await;
        let why = match found.map(|r| r.map(|mut addrs| addrs.next().is_some())) {
            Ok(Ok(true)) => continue,
            Ok(Ok(false)) => "no address".to_string(),
            Ok(Err(e)) => e.to_string(),
            Err(_) => "no answer from the resolver in 10 s".to_string(),
        };
        return Err(LoadError::Config {
            message: format!("cannot resolve {a}: {why}"),
        });
    }
    Ok(())
}

/// How many workers (VUs, or the open model's connections) the plan needs at its peak; the
/// open-file limit is raised for their connections, or the test refused.
fn workers_needed(opts: &LoadOptions) -> Result<usize, LoadError> {
    let workers = match &opts.model {
        Model::Closed { vus, .. } => opts.segment_share(
            opts.stages
                .iter()
                .map(|s| s.target.ceil() as usize)
                .chain([*vus])
                .max()
                .unwrap_or(*vus),
        ),
        Model::Open {
            max_connections, ..
        } => (*max_connections).max(1),
    };
    // Each worker holds a connection per authority, plus perflab's own descriptors.
    let needed = (workers * authorities(opts).len().max(1)) as u64 + 64;
    if let Err((soft, hard)) = crate::limits::ensure_open_files(needed) {
        return Err(LoadError::Config {
            message: format!(
                "{workers} connections need about {needed} open files, and this process may open {soft} (hard limit {hard}): raise it (ulimit -n {needed}) or use fewer connections"
            ),
        });
    }
    Ok(workers)
}

impl Shared {
    fn new(opts: LoadOptions, workers: usize) -> Result<Shared, LoadError> {
        let checks: Vec<usize> = opts.scenarios.iter().map(|s| s.checks.len()).collect();
        let weights: Vec<u32> = opts.scenarios.iter().map(|s| s.weight).collect();
        let tls = if opts.scenarios.iter().any(|s| s.tls) || opts.max_redirects > 0 {
            Some(tokio_rustls::TlsConnector::from(crate::tls::client_config(
                opts.insecure,
                opts.http2,
            )?))
        } else {
            None
        };
        let start = Instant::now();
        Ok(Shared {
            inflight: (0..workers)
                .map(|_| (AtomicU64::new(0), AtomicUsize::new(0)))
                .collect(),
            tls,
            recorder: Recorder::new(16, &checks),
            stop: AtomicBool::new(false),
            start,
            warmup_end: start + opts.warmup,
            sent: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            active_vus: AtomicUsize::new(0),
            seq: AtomicU64::new(0),
            weight_total: weights.iter().sum(),
            weights,
            opts,
        })
    }
}

/// The model's tasks, running.
struct Started {
    handles: Vec<tokio::task::JoinHandle<u64>>,
    /// The open model's queue of due requests (what is left in it at the end was dropped).
    queue: Option<Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(Instant, usize)>>>>,
}

/// Start the closed model's VUs, or the open model's workers and its schedule.
fn start_model(shared: &Arc<Shared>, workers: usize) -> Started {
    let opts = &shared.opts;
    let mut handles = Vec::new();
    let mut queue = None;
    match &opts.model {
        Model::Closed {
            vus,
            think_time,
            expected_rate,
        } => {
            shared
                .active_vus
                .store(opts.segment_share(*vus), Ordering::SeqCst);
            for id in 0..workers {
                let sh = shared.clone();
                let (think, every) = (*think_time, expected_rate.map(|r| 1.0 / r));
                handles.push(tokio::spawn(async move {
                    closed_vu(sh, id, think, every).await
                }));
            }
        }
        Model::Open {
            rate,
            poisson,
            max_queue,
            ..
        } => {
            let (tx, rx) = tokio::sync::mpsc::channel::<(Instant, usize)>((*max_queue).max(1));
            let rx = Arc::new(tokio::sync::Mutex::new(rx));
            queue = Some(rx.clone());
            for id in 0..workers {
                let sh = shared.clone();
                let rx = rx.clone();
                handles.push(tokio::spawn(async move { open_worker(sh, id, rx).await }));
            }
            let sh = shared.clone();
            let (rate, poisson) = (*rate, *poisson);
            // The schedule sleeps on a timerfd in the runtime (crate::timer): precise to
            // microseconds, where tokio's timer rounds to milliseconds and every millisecond of
            // late sending would be charged to the server as latency.
            handles.push(tokio::spawn(async move {
                schedule(&sh, &tx, rate, poisson).await
            }));
        }
    }
    Started { handles, queue }
}

/// The watched target process: its RSS over the test, its CPU from the end of the warm-up.
struct TargetWatch {
    pid: Option<u32>,
    rss_start: u64,
    rss_peak: u64,
    cpu_start: Option<f64>,
}

impl TargetWatch {
    fn new(pid: Option<u32>, no_warmup: bool) -> TargetWatch {
        let rss_start = pid.and_then(process_rss_bytes).unwrap_or(0);
        TargetWatch {
            pid,
            rss_start,
            rss_peak: rss_start,
            // Counted from the end of the warm-up (sampled at the first tick after it).
            cpu_start: if no_warmup {
                pid.and_then(|p| process_cpu_seconds(Some(p)))
            } else {
                None
            },
        }
    }

    fn sample(&mut self, warmed_up: bool) {
        let Some(pid) = self.pid else { return };
        if self.cpu_start.is_none() && warmed_up {
            self.cpu_start = Some(process_cpu_seconds(Some(pid)).unwrap_or(0.0));
        }
        self.rss_peak = self.rss_peak.max(process_rss_bytes(pid).unwrap_or(0));
    }

    fn summary(&self, requests: u64) -> Option<perflab_model::load::ProcessSummary> {
        let pid = self.pid?;
        let cpu_end = process_cpu_seconds(Some(pid)).unwrap_or(0.0);
        let used = cpu_end - self.cpu_start.unwrap_or(cpu_end);
        let rss_end = process_rss_bytes(pid).unwrap_or(0);
        Some(perflab_model::load::ProcessSummary {
            pid,
            cpu_seconds: used,
            cpu_seconds_per_request: if requests > 0 {
                used / requests as f64
            } else {
                0.0
            },
            rss_start_bytes: self.rss_start,
            rss_end_bytes: rss_end,
            rss_peak_bytes: self.rss_peak.max(rss_end),
        })
    }
}

/// Once a second until the end (the deadline, the request budget, Ctrl-C, or a failed
/// threshold with abort-on-fail): the per-second series, progress, the target's samples.
async fn monitor(
    shared: &Shared,
    thresholds: &[Threshold],
    stop_flag: &AtomicBool,
    target: &mut TargetWatch,
    progress: &mut dyn FnMut(&Progress),
) -> (Ending, Vec<SecondPoint>) {
    let opts = &shared.opts;
    let start = shared.start;
    let total = opts.warmup + opts.total_duration();
    let deadline = start + total;
    let mut series = Vec::new();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.tick().await;
    let mut total_errors = 0u64;
    let mut measured_requests = 0u64;
    loop {
        let now_deadline = tokio::time::Instant::from_std(deadline);
        let wait_stop = async {
            while !stop_flag.load(Ordering::Relaxed) && !shared.over_budget() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        };
        tokio::select! {
            _ = ticker.tick() => {}
            _ = tokio::time::sleep_until(now_deadline) => {}
            _ = wait_stop => {}
        }
        let now = Instant::now();
        target.sample(now >= shared.warmup_end);
        let (requests, errors, hist) = shared.recorder.drain_second();
        let warming = now < shared.warmup_end;
        if !warming || requests > 0 {
            total_errors += errors;
            measured_requests += requests;
            let q = |p: f64| {
                if hist.is_empty() {
                    0.0
                } else {
                    hist.value_at_quantile(p) as f64 / 1e9
                }
            };
            series.push(SecondPoint {
                t: now.saturating_duration_since(shared.warmup_end).as_secs(),
                requests,
                errors,
                p50: q(0.5),
                p99: q(0.99),
            });
        }
        progress(&Progress {
            elapsed: now.duration_since(start),
            total,
            requests: measured_requests,
            rps: requests as f64,
            p99: series.last().map_or(0.0, |p| p.p99),
            errors: total_errors,
            warming_up: warming,
        });
        if stop_flag.load(Ordering::Relaxed) {
            return (Ending::Interrupted, series);
        }
        if now >= deadline || shared.over_budget() {
            return (Ending::Completed, series);
        }
        if opts.abort_on_fail && !warming && !thresholds.is_empty() {
            let summary = build_summary(shared, now, &series, 0, None, 0.0);
            if thresholds
                .iter()
                .filter(|t| !t.is_target_metric())
                .any(|t| !t.evaluate_load(&summary).passed)
            {
                return (Ending::Aborted, series);
            }
        }
    }
}

/// The end of the test: requests in flight may finish within the grace period (a quarter
/// second after Ctrl-C: it means now); then the tasks are stopped and what was still in flight
/// is recorded as unfinished, with its latency so far. Returns the requests dropped: due and
/// never sent.
async fn wind_down(shared: &Shared, started: Started, ending: Ending) -> u64 {
    let grace = match ending {
        Ending::Interrupted => shared.opts.grace.min(Duration::from_millis(250)),
        _ => shared.opts.grace,
    };
    let until = tokio::time::Instant::now() + grace;
    let mut drops = 0;
    let mut stragglers = Vec::new();
    for mut h in started.handles {
        match tokio::time::timeout_at(until, &mut h).await {
            Ok(Ok(d)) => drops += d,
            Ok(Err(_)) => {}
            Err(_) => {
                h.abort();
                stragglers.push(h);
            }
        }
    }
    for h in stragglers {
        if let Ok(d) = h.await {
            drops += d;
        }
    }
    if let Some(rx) = started.queue {
        let mut rx = rx.lock().await;
        while let Ok((intended, _)) = rx.try_recv() {
            drops += u64::from(intended >= shared.warmup_end);
        }
    }
    shared.record_unfinished(Instant::now());
    drops
}

fn mean_rate(rate: f64, opts: &LoadOptions) -> f64 {
    if opts.stages.is_empty() {
        return opts.segment_rate(rate);
    }
    let total = opts.total_duration().as_secs_f64();
    let steps = 1000;
    let mean = (0..steps)
        .map(|i| level_at(rate, &opts.stages, (i as f64 + 0.5) / steps as f64 * total))
        .sum::<f64>()
        / steps as f64;
    opts.segment_rate(mean)
}

fn build_summary(
    shared: &Shared,
    now: Instant,
    series: &[SecondPoint],
    dropped: u64,
    target_rate: Option<f64>,
    cpu: f64,
) -> LoadSummary {
    let opts = &shared.opts;
    let checks: Vec<usize> = opts.scenarios.iter().map(|s| s.checks.len()).collect();
    let (totals, lag) = shared.recorder.totals(&checks);
    let measured = now
        .saturating_duration_since(shared.warmup_end)
        .as_secs_f64();
    let mut scenarios = std::collections::BTreeMap::new();
    let mut all = crate::record::ScenarioStats::new(0);
    for (sc, t) in opts.scenarios.iter().zip(&totals) {
        let names: Vec<String> = sc.checks.iter().map(Check::describe).collect();
        scenarios.insert(sc.name.clone(), summarize(t, &names, measured));
        let mut t_no_checks = crate::record::ScenarioStats::new(0);
        t_no_checks.merge(t);
        all.merge(&t_no_checks);
    }
    // Per tag: the scenarios that carry it, together.
    let mut tagged: std::collections::BTreeMap<String, crate::record::ScenarioStats> =
        std::collections::BTreeMap::new();
    for (sc, t) in opts.scenarios.iter().zip(&totals) {
        for (k, v) in &sc.tags {
            let mut t_no_checks = crate::record::ScenarioStats::new(0);
            t_no_checks.merge(t);
            tagged
                .entry(format!("{k}={v}"))
                .or_insert_with(|| crate::record::ScenarioStats::new(0))
                .merge(&t_no_checks);
        }
    }
    for (name, t) in &tagged {
        scenarios.insert(name.clone(), summarize(t, &[], measured));
    }
    let mut all_summary = summarize(&all, &[], measured);
    all_summary.checks = scenarios
        .values()
        .flat_map(|s| s.checks.iter().cloned())
        .collect();
    let sent_measured = all.requests;
    scenarios.insert("all".into(), all_summary);
    LoadSummary {
        ending: Ending::Completed,
        description: None,
        warmup_seconds: 0.0,
        spectrum: Vec::new(),
        model: match opts.model {
            Model::Closed { .. } => "closed".into(),
            Model::Open { .. } => "open".into(),
        },
        peak_vus: match opts.model {
            Model::Closed { vus, .. } => {
                let staged = opts.stages.iter().map(|s| s.target).fold(0.0, f64::max);
                Some((vus as f64).max(staged).round() as u64)
            }
            Model::Open { .. } => None,
        },
        latency_is: match opts.model {
            Model::Closed {
                expected_rate: Some(_),
                ..
            } => "response_time".into(),
            Model::Closed { .. } => "service_time".into(),
            Model::Open { .. } => "response_time".into(),
        },
        target_rate,
        achieved_rate: if measured > 0.0 {
            sent_measured as f64 / measured
        } else {
            0.0
        },
        dropped,
        send_lag: if lag.is_empty() {
            Percentiles::default()
        } else {
            percentiles(&lag)
        },
        generator_cpu_seconds: cpu,
        measured_seconds: measured,
        segment: (opts.segment.1 > 1).then(|| format!("{}/{}", opts.segment.0, opts.segment.1)),
        plan: Some(opts.plan.clone()),
        scenarios,
        series: series.to_vec(),
        thresholds: Vec::new(),
        target_process: None,
        target_metrics: None,
    }
}

async fn closed_vu(shared: Arc<Shared>, id: usize, think: Duration, every: Option<f64>) -> u64 {
    let mut w = Worker::new(id, &shared);
    // With an expected rate, request k of this VU is due at start + k/rate (spread over the
    // first interval across VUs so they do not all fire together).
    // The scenario a `then` chains to, sent next by this VU.
    let mut next: Option<usize> = None;
    let mut due = every.map(|e| {
        let spread = e * (id as f64 / shared.inflight.len().max(1) as f64);
        shared.start + Duration::from_secs_f64(spread)
    });
    let mut sent = 0u64;
    // A paced VU sleeps on its own precise timer: tokio's rounds to a millisecond, and the
    // lateness would be charged to the server as latency (a p50 of 1 ms for a 65 µs service).
    let timer = every.and_then(|_| crate::timer::PreciseTimer::new());
    loop {
        let done = shared.opts.per_vu_requests.is_some_and(|n| sent >= n);
        if done || shared.stop.load(Ordering::Relaxed) || shared.over_budget() {
            return 0;
        }
        let elapsed = shared.start.elapsed().as_secs_f64();
        let since_warm = elapsed - shared.opts.warmup.as_secs_f64();
        let active = if shared.opts.stages.is_empty() || since_warm < 0.0 {
            shared.active_vus.load(Ordering::Relaxed)
        } else {
            let Model::Closed { vus, .. } = shared.opts.model else {
                return 0;
            };
            let level = level_at(vus as f64, &shared.opts.stages, since_warm).round() as usize;
            shared.opts.segment_share(level)
        };
        if id >= active {
            tokio::time::sleep(Duration::from_millis(20)).await;
            // Not running is not being late: requests are due from when the VU starts.
            if let Some(d) = due.as_mut() {
                *d = (*d).max(Instant::now());
            }
            continue;
        }
        if let Some(d) = due {
            match &timer {
                Some(t) => t.sleep_until(d).await,
                None => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
            }
            if shared.stop.load(Ordering::Relaxed) {
                return 0;
            }
        }
        if !shared.claim() {
            return 0;
        }
        sent += 1;
        let scenario = next
            .take()
            .unwrap_or_else(|| shared.pick_scenario(&mut w.rng));
        w.request(&shared, scenario, due).await;
        next = shared.opts.scenarios[scenario].then;
        if let (Some(d), Some(e)) = (due.as_mut(), every) {
            *d += Duration::from_secs_f64(e);
        }
        if !think.is_zero() {
            tokio::time::sleep(think).await;
        }
    }
}

async fn open_worker(
    shared: Arc<Shared>,
    id: usize,
    rx: Arc<tokio::sync::Mutex<tokio::sync::mpsc::Receiver<(Instant, usize)>>>,
) -> u64 {
    let mut w = Worker::new(id, &shared);
    loop {
        let job = {
            let mut guard = rx.lock().await;
            guard.recv().await
        };
        let Some((intended, scenario)) = job else {
            return 0;
        };
        if shared.stop.load(Ordering::Relaxed) {
            // Due, but the test is over: never sent, so dropped.
            return u64::from(intended >= shared.warmup_end);
        }
        w.request(&shared, scenario, Some(intended)).await;
    }
}

/// Generate intended send times and queue them; returns how many were dropped.
async fn schedule(
    shared: &Shared,
    tx: &tokio::sync::mpsc::Sender<(Instant, usize)>,
    base_rate: f64,
    poisson: bool,
) -> u64 {
    let timer = crate::timer::PreciseTimer::new();
    let sleep_until = |at: Instant| {
        let timer = &timer;
        async move {
            match timer {
                Some(t) => t.sleep_until(at).await,
                None => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
            }
        }
    };
    let opts = &shared.opts;
    let mut rng = Rng::new(0xA11CE);
    let warm = opts.warmup.as_secs_f64();
    let end = warm + opts.total_duration().as_secs_f64();
    let rate_at = |t: f64| -> f64 {
        let r = if t < warm || opts.stages.is_empty() {
            base_rate
        } else {
            level_at(base_rate, &opts.stages, t - warm)
        };
        opts.segment_rate(r)
    };
    let mut t = 0.0f64;
    let mut dropped = 0u64;
    loop {
        let rate = rate_at(t);
        if rate <= 0.0 {
            t += 0.01;
        } else {
            let gap = if poisson {
                -(1.0 - rng.next_f64()).ln() / rate
            } else {
                1.0 / rate
            };
            let intended = shared.start + Duration::from_secs_f64(t);
            let now = Instant::now();
            if intended > now {
                // Bounded so that a stop is noticed within 50 ms even at very low rates.
                sleep_until(intended.min(now + Duration::from_millis(50))).await;
                if Instant::now() < intended {
                    continue;
                }
            }
            if shared.stop.load(Ordering::Relaxed) || shared.over_budget() {
                return dropped;
            }
            let scenario = shared.pick_scenario(&mut rng);
            if !shared.claim() {
                return dropped;
            }
            match tx.try_send((intended, scenario)) {
                Ok(()) => {}
                Err(tokio::sync::mpsc::error::TrySendError::Full(_)) => {
                    if intended >= shared.warmup_end {
                        dropped += 1;
                    }
                }
                Err(tokio::sync::mpsc::error::TrySendError::Closed(_)) => return dropped,
            }
            t += gap;
        }
        if t >= end || shared.stop.load(Ordering::Relaxed) {
            return dropped;
        }
    }
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

    fn future_size3<A, B, C, F>(_: fn(A, B, C) -> F) -> usize {
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
        let open = future_size3(open_worker);
        assert!(closed < 2048, "closed-model VU future: {closed} bytes");
        assert!(open < 2048, "open-model worker future: {open} bytes");
    }
}
