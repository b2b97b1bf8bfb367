//! The connection pool and the exchanges: a worker's connection per authority (perflab's own
//! HTTP/1.1, plain or TLS, or hyper's HTTP/2), one request, its checks and extractions.

use super::*;

/// A worker's connection to one authority: perflab's own HTTP/1.1 (plain or TLS), or hyper's
/// HTTP/2 (h2c prior knowledge, or ALPN h2).
pub(super) enum Link {
    Plain(h1::Conn<tokio::net::TcpStream>),
    Tls(Box<h1::Conn<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>>),
    H2(http2::SendRequest<Full<Bytes>>),
}

/// Most connections a worker keeps open: its scenarios' authorities plus redirection targets.
pub(super) const MAX_SLOTS: usize = 64;

/// A connection slot: authority, TLS, and the connection when one is open.
pub(super) struct Slot {
    pub(super) authority: String,
    pub(super) tls: bool,
    pub(super) link: Option<Link>,
}

/// The slot for `authority` (opened lazily), added when new; past `MAX_SLOTS` the last slot is
/// given up for it.
pub(super) fn slot(slots: &mut Vec<Slot>, authority: &str, tls: bool) -> usize {
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
        // One more at a time: most workers have one authority, and a Vec's first growth
        // would give every one of 10,000 connections room for four.
        slots.reserve_exact(1);
        slots.push(new);
    } else if let Some(last) = slots.last_mut() {
        *last = new;
    }
    slots.len() - 1
}

/// A worker's connections (one per authority) and buffers, reused for every request.
pub(super) struct Worker {
    pub(super) id: usize,
    pub(super) rng: Rng,
    pub(super) slots: Vec<Slot>,
    /// The slot of the exchange in progress (dropped when it fails or times out).
    pub(super) active: usize,
    pub(super) url_buf: String,
    pub(super) body_buf: String,
    /// Rendered header values, back to back; `header_ends` marks where each ends.
    pub(super) header_buf: String,
    pub(super) header_ends: Vec<usize>,
    /// The serialized HTTP/1.1 request.
    pub(super) out: Vec<u8>,
    /// Body bytes kept for checks.
    pub(super) kept: Vec<u8>,
    /// Body bytes sent by the request in progress (a 307/308 sends the body again).
    pub(super) bytes_out: u64,
    /// The `Location` of the last redirection, and where it leads.
    pub(super) location: String,
    /// Values this VU extracted from responses (`var.NAME`).
    pub(super) vars: Vec<(String, String)>,
    /// This VU's cookies (name, value), kept from `Set-Cookie` answers as a browser or k6 keeps
    /// them, and sent back as one `Cookie` header.
    pub(super) jar: Vec<(String, String)>,
    /// The last answer's `Set-Cookie` values.
    pub(super) set_cookies: Vec<String>,
    /// The `Cookie` header made from the jar.
    pub(super) cookie_header: String,
    /// The request in progress failed before any I/O (it cannot be written: a rendered CR/LF,
    /// a space in the path): the worker pauses, so a plan where every request fails this way
    /// cannot spin the runtime deaf to the clock and Ctrl-C.
    pub(super) no_io: bool,
    pub(super) hop: crate::options::Target,
}

impl Worker {
    pub(super) fn new(id: usize, shared: &Shared) -> Worker {
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
    pub(super) async fn request(
        &mut self,
        shared: &Shared,
        scenario: usize,
        intended: Option<Instant>,
    ) {
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
    pub(super) async fn send(
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
                // The head as its HTTP/1.1 text would be (HPACK's compression is hyper's), and
                // the body.
                let head: usize = req.method().as_str().len()
                    + req.uri().to_string().len()
                    + req
                        .headers()
                        .iter()
                        .map(|(n, v)| n.as_str().len() + v.len() + 4)
                        .sum::<usize>()
                    + 12;
                let sent = head as u64 + body_len;
                // Boxed: hyper's HTTP/2 state would otherwise size every worker's future.
                let (status, n) = Box::pin(exchange_h2(
                    link,
                    authority,
                    connector,
                    &shared.connects,
                    req,
                    reply,
                ))
                .await?;
                self.bytes_out += sent;
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
                // What goes on the wire: the request's head and its body (counted once sent).
                let sent = self.out.len() as u64;
                let head = method == hyper::Method::HEAD;
                let reply = Reply {
                    kept: &mut self.kept,
                    max_kept,
                    location: &mut self.location,
                    cookies: &mut self.set_cookies,
                };
                let (status, n) = exchange_h1(
                    link,
                    authority,
                    connector,
                    &shared.connects,
                    &self.out,
                    head,
                    reply,
                )
                .await?;
                self.bytes_out += sent;
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
    pub(super) fn keep_cookies(&mut self) {
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

    pub(super) fn finish(
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
        shared.recorder.record(&o);
    }
}

pub(super) fn memfind(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

/// The value at a dotted path (`data.0.id`) of a JSON body, as text: a string as it is, other
/// values as JSON.
pub(super) fn json_get(body: &[u8], path: &str) -> Option<String> {
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

pub(super) fn json_has(body: &[u8], path: &str) -> bool {
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

pub(super) fn classify_hyper(e: &hyper::Error) -> ErrorKind {
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
pub(super) enum Stream {
    Plain(tokio::net::TcpStream),
    Tls(Box<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>),
}

/// Connect to `authority` (and shake hands over TLS when `tls` is given); the TCP and TLS
/// handshakes' times go to `times`.
pub(super) async fn connect(
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    times: &ConnectTimes,
) -> Result<Stream, ErrorKind> {
    let attempt = times.attempt();
    let tcp = match tokio::net::TcpStream::connect(authority).await {
        Ok(tcp) => {
            attempt.connected();
            tcp
        }
        Err(e) => {
            attempt.failed();
            return Err(match ErrorKind::of_io(&e) {
                ErrorKind::ConnectRefused => ErrorKind::ConnectRefused,
                _ => ErrorKind::Connect,
            });
        }
    };
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
    let began = Instant::now();
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|_| ErrorKind::Tls)?;
    times.shook_hands(began.elapsed());
    Ok(Stream::Tls(Box::new(stream)))
}

/// Where an exchange puts what the checks and redirections need from the response.
pub(super) struct Reply<'a> {
    /// Up to `max_kept` body bytes.
    pub(super) kept: &'a mut Vec<u8>,
    pub(super) max_kept: usize,
    /// The `Location` of a redirection.
    pub(super) location: &'a mut String,
    /// The answer's `Set-Cookie` values.
    pub(super) cookies: &'a mut Vec<String>,
}

/// One HTTP/1.1 exchange on the worker's connection, connecting first if there is none.
/// A reused connection that fails before any response byte arrives was most likely closed by
/// the server while idle (keep-alive timeout): the request is sent once more on a new one.
pub(super) async fn exchange_h1(
    link: &mut Option<Link>,
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    times: &ConnectTimes,
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
            *link = Some(match Box::pin(connect(authority, tls, times)).await? {
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
pub(super) fn host_header(authority: &str, tls: bool) -> &str {
    let default = if tls { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

/// The request as hyper's type, for HTTP/2 (absolute URI, no Host header).
pub(super) fn hyper_request<'a>(
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

pub(super) async fn h2_handshake<T>(io: T) -> Result<http2::SendRequest<Full<Bytes>>, ErrorKind>
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
pub(super) async fn exchange_on<S>(
    c: &mut h1::Conn<S>,
    request: &[u8],
    head: bool,
    kept: &mut Vec<u8>,
    max_kept: usize,
    location: &mut String,
    cookies: &mut Vec<String>,
) -> (Result<h1::Response, h1::Failure>, bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + h1::Readable + Unpin,
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
pub(super) async fn exchange_h2(
    link: &mut Option<Link>,
    authority: &str,
    tls: Option<&tokio_rustls::TlsConnector>,
    times: &ConnectTimes,
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
        let sender = match connect(authority, tls, times).await? {
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
