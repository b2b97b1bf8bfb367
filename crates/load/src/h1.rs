//! The HTTP/1.1 hot path: a connection that a virtual user owns and drives itself.
//!
//! hyper's client hands every request through a channel to a separately spawned connection task
//! and back; at 64 keep-alive connections on one core that dispatch cost perflab a quarter of
//! wrk's throughput (`benches/load/compare.sh`). Here the worker writes the request and reads
//! the response on its own task, into one fixed buffer that is reused for every exchange, so
//! memory does not grow with response sizes and nothing is allocated per request.
//!
//! Response framing follows RFC 9112 §6.3: no body for HEAD, 1xx, 204 and 304; chunked when
//! it is the final transfer coding; else Content-Length (all copies must agree); else the body
//! runs to the end of the connection. Bodies are counted and at most `max_kept` bytes are kept
//! for checks. HTTP/2 stays on hyper (its multiplexing is not something to hand-roll).

use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};

use crate::record::ErrorKind;

/// The read buffer, and so the largest response head (status line and headers) accepted.
pub(crate) const BUF_SIZE: usize = 64 * 1024;

/// A connection's buffer starts this small and doubles up to [`BUF_SIZE`] when a head does not
/// fit or a read fills it (a bulk body): 10,000 connections then hold 600 MiB less.
const INITIAL_BUF: usize = 2 * 1024;
/// Small buffers a thread keeps for the connections it serves.
const POOLED: usize = 256;

/// A stream that can wait for its next bytes without a buffer to read them into. A TCP
/// connection waiting for its server holds no buffer: it takes one from its thread's pool once
/// the socket is readable and gives it back when the response is read, so 10,000 connections
/// waiting for answers hold none (2 KiB each before). TLS reads into the buffer at once.
pub(crate) trait Readable {
    /// Ready when a read would not wait (or has failed).
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>>;
}

impl Readable for tokio::net::TcpStream {
    fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        self.poll_read_ready(cx)
    }
}

impl<S> Readable for tokio_rustls::client::TlsStream<S> {
    fn poll_readable(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

thread_local! {
    static POOL: std::cell::RefCell<Vec<Vec<u8>>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_buffer() -> Vec<u8> {
    POOL.with(|p| p.borrow_mut().pop())
        .unwrap_or_else(|| vec![0; INITIAL_BUF])
}

fn give_buffer(buf: Vec<u8>) {
    POOL.with(|p| {
        let mut p = p.borrow_mut();
        if p.len() < POOLED {
            p.push(buf);
        }
    });
}
/// Most headers a response may carry.
const MAX_HEADERS: usize = 128;

/// A failed exchange.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Failure {
    /// What went wrong.
    pub(crate) kind: ErrorKind,
    /// Not one byte of a response arrived: on a reused connection this is most likely the
    /// server having closed it while idle, and the request may be sent again on a new one.
    pub(crate) nothing_received: bool,
}

/// A complete response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Response {
    /// Status code of the final response.
    pub(crate) status: u16,
    /// Body bytes (after removing chunked framing).
    pub(crate) body_bytes: u64,
    /// The connection may carry another request.
    pub(crate) reusable: bool,
}

/// How the body of a response is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    Empty,
    Length(u64),
    Chunked,
    UntilClose,
}

/// What the head of a response says.
struct Head {
    status: u16,
    len: usize,
    framing: Framing,
    reusable: bool,
    /// Where the `Location` value of a 3xx response lies in the head (start, end).
    location: Option<(usize, usize)>,
    /// Where each `Set-Cookie` value lies (no allocation when there is none).
    cookies: Vec<(usize, usize)>,
}

/// One HTTP/1.1 connection over any byte stream (TCP or TLS).
pub(crate) struct Conn<S> {
    io: S,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    received: bool,
    /// At least one exchange completed on this connection.
    pub(crate) reused: bool,
    /// The `Location` of the last response, when it was a redirection (3xx); else empty.
    pub(crate) location: String,
    /// The `Set-Cookie` values of the last response.
    pub(crate) cookies: Vec<String>,
}

impl<S: AsyncRead + AsyncWrite + Readable + Unpin> Conn<S> {
    pub(crate) fn new(io: S) -> Conn<S> {
        Conn {
            io,
            buf: Vec::new(),
            start: 0,
            end: 0,
            received: false,
            reused: false,
            location: String::new(),
            cookies: Vec::new(),
        }
    }

    /// Write `request` (a whole serialized request) and read the response to its end.
    /// `head_request`: the method was HEAD (no body follows whatever the headers say).
    /// Up to `max_kept` body bytes are appended to `kept`.
    pub(crate) async fn exchange(
        &mut self,
        request: &[u8],
        head_request: bool,
        kept: &mut Vec<u8>,
        max_kept: usize,
    ) -> Result<Response, Failure> {
        self.start = 0;
        self.end = 0;
        self.received = false;
        // flush: a TLS stream may hold the last record back (a no-op on TCP).
        let written = match self.io.write_all(request).await {
            Ok(()) => self.io.flush().await,
            Err(e) => Err(e),
        };
        written.map_err(|e| self.fail(ErrorKind::of_io(&e)))?;
        let head = loop {
            let head = self.read_head(head_request).await?;
            self.location.clear();
            if let Some((s, e)) = head.location {
                let value = &self.buf[self.start + s..self.start + e];
                self.location.push_str(&String::from_utf8_lossy(value));
            }
            self.cookies.clear();
            for &(s, e) in &head.cookies {
                let value = &self.buf[self.start + s..self.start + e];
                self.cookies
                    .push(String::from_utf8_lossy(value).into_owned());
            }
            self.start += head.len;
            // Interim responses (100 Continue, 103 Early Hints) precede the real one; 101 ends
            // HTTP on this connection.
            if (100..200).contains(&head.status) && head.status != 101 {
                continue;
            }
            break head;
        };
        let mut body_bytes = 0u64;
        let mut reusable = head.reusable;
        match head.framing {
            Framing::Empty => {}
            Framing::Length(n) => {
                self.body(n, &mut body_bytes, kept, max_kept).await?;
            }
            Framing::Chunked => self.chunked(&mut body_bytes, kept, max_kept).await?,
            Framing::UntilClose => {
                reusable = false;
                loop {
                    let n = self.end - self.start;
                    keep(&self.buf[self.start..self.end], kept, max_kept);
                    body_bytes += n as u64;
                    self.start = self.end;
                    if !self.fill().await? {
                        break;
                    }
                }
            }
        }
        // Bytes past the response were never asked for: the connection's framing is lost.
        if self.end > self.start {
            reusable = false;
        } else if self.buf.len() == INITIAL_BUF {
            // Idle until the next request's answer: the buffer serves other connections. A
            // grown one stays: this connection's answers are large.
            give_buffer(std::mem::take(&mut self.buf));
        }
        self.reused = true;
        Ok(Response {
            status: head.status,
            body_bytes,
            reusable,
        })
    }

    fn fail(&self, kind: ErrorKind) -> Failure {
        Failure {
            kind,
            nothing_received: !self.received,
        }
    }

    /// Read more bytes after `end`, moving unread ones to the front when the buffer is full.
    /// `Ok(false)` at the end of the stream.
    async fn fill(&mut self) -> Result<bool, Failure> {
        if self.buf.is_empty() {
            std::future::poll_fn(|cx| self.io.poll_readable(cx))
                .await
                .map_err(|e| self.fail(ErrorKind::of_io(&e)))?;
            self.buf = take_buffer();
        }
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        } else if self.end == self.buf.len() {
            if self.start == 0 {
                if self.buf.len() >= BUF_SIZE {
                    // A head or chunk-size line larger than the largest buffer.
                    return Err(self.fail(ErrorKind::Protocol));
                }
                self.grow();
            } else {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            }
        }
        let end = self.end;
        match self.io.read(&mut self.buf[end..]).await {
            Ok(0) => Ok(false),
            Ok(n) => {
                self.received = true;
                self.end += n;
                if self.end == self.buf.len() && self.buf.len() < BUF_SIZE {
                    // The read filled the buffer: more is coming; read it in larger pieces.
                    self.grow();
                }
                Ok(true)
            }
            Err(e) => Err(self.fail(ErrorKind::of_io(&e))),
        }
    }

    fn grow(&mut self) {
        let len = (self.buf.len() * 2).min(BUF_SIZE);
        self.buf.resize(len, 0);
    }

    /// `fill`, where the end of the stream means the response was cut short.
    async fn fill_more(&mut self) -> Result<(), Failure> {
        if self.fill().await? {
            Ok(())
        } else {
            Err(self.fail(ErrorKind::Reset))
        }
    }

    async fn read_head(&mut self, head_request: bool) -> Result<Head, Failure> {
        // The first attempt parses whatever is there (usually the whole head). After that, parse
        // only once the blank line is in: a server dripping its head byte by byte would
        // otherwise cost a full re-parse per byte. `scanned` counts bytes already searched.
        let mut first = true;
        let mut scanned = 0usize;
        loop {
            let data = &self.buf[self.start..self.end];
            let from = scanned.saturating_sub(2);
            let complete = first
                || data[from..].windows(2).any(|w| w == b"\n\n")
                || data[from..].windows(3).any(|w| w == b"\n\r\n");
            scanned = data.len();
            if complete && !data.is_empty() {
                first = false;
                match parse_head(data, head_request) {
                    Ok(Some(h)) => return Ok(h),
                    Ok(None) => {}
                    Err(()) => return Err(self.fail(ErrorKind::Protocol)),
                }
            }
            // Compaction keeps offsets from `start`, so `scanned` stays valid.
            self.fill_more().await?;
        }
    }

    /// Consume `n` body bytes.
    async fn body(
        &mut self,
        mut n: u64,
        count: &mut u64,
        kept: &mut Vec<u8>,
        max_kept: usize,
    ) -> Result<(), Failure> {
        loop {
            let take = ((self.end - self.start) as u64).min(n) as usize;
            keep(&self.buf[self.start..self.start + take], kept, max_kept);
            self.start += take;
            *count += take as u64;
            n -= take as u64;
            if n == 0 {
                return Ok(());
            }
            self.fill_more().await?;
        }
    }

    /// The next CRLF- (or LF-) terminated line, consumed; returns its bounds in `buf`.
    async fn line(&mut self) -> Result<(usize, usize), Failure> {
        loop {
            if let Some(i) = self.buf[self.start..self.end]
                .iter()
                .position(|&b| b == b'\n')
            {
                let s = self.start;
                let mut e = s + i;
                if e > s && self.buf[e - 1] == b'\r' {
                    e -= 1;
                }
                self.start = s + i + 1;
                return Ok((s, e));
            }
            self.fill_more().await?;
        }
    }

    async fn chunked(
        &mut self,
        count: &mut u64,
        kept: &mut Vec<u8>,
        max_kept: usize,
    ) -> Result<(), Failure> {
        loop {
            let (s, e) = self.line().await?;
            let size = chunk_size(&self.buf[s..e]).ok_or(self.fail(ErrorKind::Protocol))?;
            if size == 0 {
                // Trailer fields, up to the empty line.
                loop {
                    let (s, e) = self.line().await?;
                    if s == e {
                        return Ok(());
                    }
                }
            }
            self.body(size, count, kept, max_kept).await?;
            let (s, e) = self.line().await?;
            if s != e {
                return Err(self.fail(ErrorKind::Protocol));
            }
        }
    }
}

/// Append to `kept` what fits under `max_kept`.
pub(crate) fn keep(data: &[u8], kept: &mut Vec<u8>, max_kept: usize) {
    if kept.len() < max_kept {
        let take = (max_kept - kept.len()).min(data.len());
        kept.extend_from_slice(&data[..take]);
    }
}

/// Parse a response head from the start of `data`: `Ok(None)` while incomplete.
fn parse_head(data: &[u8], head_request: bool) -> Result<Option<Head>, ()> {
    // Uninitialised slots: zeroing 128 headers would cost more than parsing a typical head.
    let mut headers =
        [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut []);
    let config = httparse::ParserConfig::default();
    let len = match config.parse_response_with_uninit_headers(&mut resp, data, &mut headers) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let status = resp.code.ok_or(())?;
    let http10 = resp.version == Some(0);
    let mut length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    let (mut close, mut keep_alive) = (false, false);
    let mut location = None;
    let mut cookies = Vec::new();
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("set-cookie") {
            let start = h.value.as_ptr() as usize - data.as_ptr() as usize;
            cookies.push((start, start + h.value.len()));
        }
        if (300..400).contains(&status) && h.name.eq_ignore_ascii_case("location") {
            // The value is a slice of `data`: its offset is where it starts in the head.
            let start = h.value.as_ptr() as usize - data.as_ptr() as usize;
            location = Some((start, start + h.value.len()));
        }
        if h.name.eq_ignore_ascii_case("content-length") {
            // Copies (or a list) must all agree, else the body's end is ambiguous.
            for v in h.value.split(|&b| b == b',') {
                let n = parse_decimal(v.trim_ascii()).ok_or(())?;
                if length.is_some_and(|l| l != n) {
                    return Err(());
                }
                length = Some(n);
            }
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // Only the final coding decides whether the body is chunked.
            chunked = h
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|c| c.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let t = token.trim_ascii();
                close |= t.eq_ignore_ascii_case(b"close");
                keep_alive |= t.eq_ignore_ascii_case(b"keep-alive");
            }
        }
    }
    let mut reusable = !close && (!http10 || keep_alive) && status != 101;
    let framing = if head_request || (100..200).contains(&status) || status == 204 || status == 304
    {
        Framing::Empty
    } else if transfer_encoding {
        // With both headers, Transfer-Encoding wins and the connection must not be reused.
        if length.is_some() {
            reusable = false;
        }
        if chunked {
            Framing::Chunked
        } else {
            Framing::UntilClose
        }
    } else if let Some(n) = length {
        Framing::Length(n)
    } else {
        Framing::UntilClose
    };
    Ok(Some(Head {
        status,
        len,
        framing,
        reusable,
        location,
        cookies,
    }))
}

fn parse_decimal(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 19 {
        return None;
    }
    s.iter().try_fold(0u64, |n, &b| {
        b.is_ascii_digit().then(|| n * 10 + u64::from(b - b'0'))
    })
}

/// The size of a chunk from its size line (`1a;ext=1`), or `None` when malformed.
fn chunk_size(line: &[u8]) -> Option<u64> {
    let end = line
        .iter()
        .position(|&b| b == b';' || b == b' ' || b == b'\t')
        .unwrap_or(line.len());
    let hex = &line[..end];
    if hex.is_empty() || hex.len() > 15 {
        return None;
    }
    hex.iter().try_fold(0u64, |n, &b| {
        let d = (b as char).to_digit(16)?;
        Some(n * 16 + u64::from(d))
    })
}

/// Serialize a request into `out`. Fails (and leaves `out` unusable) when a rendered value would
/// break the message: control characters in the target or a header value.
pub(crate) fn write_request<'a>(
    out: &mut Vec<u8>,
    method: &str,
    target: &str,
    authority: &str,
    headers: impl Iterator<Item = (&'a str, &'a str)>,
    body: Option<&[u8]>,
) -> Result<(), ()> {
    out.clear();
    if target.is_empty() || !target.bytes().all(|b| (0x21..0x7f).contains(&b)) {
        return Err(());
    }
    out.extend_from_slice(method.as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let mut host = false;
    for (name, value) in headers {
        if value.bytes().any(|b| (b < 0x20 && b != b'\t') || b == 0x7f) {
            return Err(());
        }
        // The body's length is perflab's to state: a stale one would desynchronise the stream.
        if name.eq_ignore_ascii_case("content-length") {
            continue;
        }
        host |= name.eq_ignore_ascii_case("host");
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    if !host {
        out.extend_from_slice(b"host: ");
        out.extend_from_slice(authority.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let needs_length = body.is_some() || matches!(method, "POST" | "PUT" | "PATCH");
    if needs_length {
        let n = body.map_or(0, <[u8]>::len);
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(n.to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    if let Some(b) = body {
        out.extend_from_slice(b);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::pin::Pin;

    /// A stream that serves `data` in pieces of `step` bytes and swallows writes.
    struct Scripted {
        data: Vec<u8>,
        pos: usize,
        step: usize,
        written: Vec<u8>,
    }

    impl Readable for Scripted {
        fn poll_readable(&self, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncRead for Scripted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            let n = self
                .step
                .min(self.data.len() - self.pos)
                .min(buf.remaining());
            let pos = self.pos;
            buf.put_slice(&self.data[pos..pos + n]);
            self.pos += n;
            Poll::Ready(Ok(()))
        }
    }

    impl AsyncWrite for Scripted {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<std::io::Result<usize>> {
            self.written.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    /// Every response in `data` for the same request, fed `step` bytes at a time.
    fn exchange_all(
        data: &[u8],
        step: usize,
        head: bool,
        n: usize,
    ) -> Vec<Result<(Response, Vec<u8>), Failure>> {
        let mut conn = Conn::new(Scripted {
            data: data.to_vec(),
            pos: 0,
            step,
            written: Vec::new(),
        });
        block_on(async {
            let mut out = Vec::new();
            for _ in 0..n {
                let mut kept = Vec::new();
                let r = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", head, &mut kept, 8);
                out.push(r.await.map(|r| (r, kept)));
            }
            out
        })
    }

    fn one(data: &[u8], head: bool) -> Result<(Response, Vec<u8>), Failure> {
        for step in [1, 7, BUF_SIZE] {
            let r = exchange_all(data, step, head, 1).remove(0);
            let again = exchange_all(data, BUF_SIZE, head, 1).remove(0);
            assert_eq!(r, again, "step {step}");
        }
        exchange_all(data, 3, head, 1).remove(0)
    }

    #[test]
    fn content_length_body_is_counted_and_kept_up_to_the_limit() {
        let (r, kept) = one(
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
            false,
        )
        .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(r.body_bytes, 11);
        assert!(r.reusable);
        assert_eq!(kept, b"hello wo");
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let data = b"HTTP/1.1 201 Created\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
            5;name=x\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n";
        let (r, kept) = one(data, false).unwrap();
        assert_eq!((r.status, r.body_bytes, r.reusable), (201, 11, true));
        assert_eq!(kept, b"hello wo");
    }

    #[test]
    fn malformed_chunks_are_protocol_errors() {
        for data in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n",
        ] {
            let e = one(data, false).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::Protocol,
                "{}",
                String::from_utf8_lossy(data)
            );
            assert!(!e.nothing_received);
        }
    }

    #[test]
    fn bodiless_statuses_and_head_requests_read_no_body() {
        for (data, head) in [
            (
                &b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"[..],
                false,
            ),
            (
                b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n",
                false,
            ),
            (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", true),
        ] {
            let (r, _) = one(data, head).unwrap();
            assert_eq!(r.body_bytes, 0);
            assert!(r.reusable);
        }
    }

    #[test]
    fn the_location_of_a_redirection_is_kept() {
        let mut conn = Conn::new(Scripted {
            data: b"HTTP/1.1 302 Found\r\nLocation:  /next?a=1 \r\nContent-Length: 0\r\n\r\n\
                HTTP/1.1 200 OK\r\nLocation: /ignored\r\nContent-Length: 0\r\n\r\n"
                .to_vec(),
            pos: 0,
            step: 1,
            written: Vec::new(),
        });
        block_on(async {
            let mut kept = Vec::new();
            let r = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", false, &mut kept, 0);
            assert_eq!(r.await.unwrap().status, 302);
            assert_eq!(conn.location, "/next?a=1");
            let r = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", false, &mut kept, 0);
            assert_eq!(r.await.unwrap().status, 200);
            assert_eq!(conn.location, "", "only redirections carry a location");
        });
    }

    #[test]
    fn interim_responses_are_skipped() {
        let data = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
            HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let (r, _) = one(data, false).unwrap();
        assert_eq!((r.status, r.body_bytes), (200, 2));
    }

    #[test]
    fn body_until_close_and_connection_rules() {
        let (r, kept) = one(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", false).unwrap();
        assert_eq!((r.body_bytes, r.reusable), (13, false));
        assert_eq!(kept, b"until th");
        let (r, _) = one(
            b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(!r.reusable);
        let (r, _) = one(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false).unwrap();
        assert!(!r.reusable);
        let (r, _) = one(
            b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n",
            false,
        )
        .unwrap();
        assert!(r.reusable);
        // Both framings: Transfer-Encoding wins, and the connection is not trusted after.
        let (r, _) = one(
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n",
            false,
        )
        .unwrap();
        assert_eq!((r.body_bytes, r.reusable), (2, false));
    }

    #[test]
    fn conflicting_or_bad_lengths_and_garbage_are_protocol_errors() {
        for data in [
            &b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"[..],
            b"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\nabcd",
            b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"this is not http\r\n\r\n",
        ] {
            assert_eq!(one(data, false).unwrap_err().kind, ErrorKind::Protocol);
        }
        // Equal copies are fine.
        let (r, _) = one(
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok",
            false,
        )
        .unwrap();
        assert_eq!(r.body_bytes, 2);
    }

    #[test]
    fn cut_short_responses_are_resets_and_say_whether_anything_came() {
        let e = one(b"", false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Reset);
        assert!(e.nothing_received);
        let e = one(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial",
            false,
        )
        .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Reset);
        assert!(!e.nothing_received);
        let e = one(b"HTTP/1.1 200 OK\r\nCont", false).unwrap_err();
        assert_eq!(e.kind, ErrorKind::Reset);
    }

    #[test]
    fn a_head_larger_than_the_buffer_is_refused() {
        let mut data = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        data.resize(BUF_SIZE + 10, b'a');
        data.extend_from_slice(b"\r\n\r\n");
        assert_eq!(one(&data, false).unwrap_err().kind, ErrorKind::Protocol);
    }

    #[test]
    fn large_bodies_stream_through_the_fixed_buffer() {
        let n = 5 * BUF_SIZE + 123;
        let mut data = format!("HTTP/1.1 200 OK\r\nContent-Length: {n}\r\n\r\n").into_bytes();
        data.resize(data.len() + n, b'x');
        let (r, kept) = one(&data, false).unwrap();
        assert_eq!(r.body_bytes, n as u64);
        assert_eq!(kept.len(), 8);
    }

    #[test]
    fn responses_back_to_back_on_one_connection() {
        let data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
        // Fed a byte at a time nothing is read past the first response.
        let rs = exchange_all(data, 1, false, 2);
        let a = rs[0].as_ref().unwrap();
        let b = rs[1].as_ref().unwrap();
        assert_eq!((a.0.status, a.0.body_bytes, a.0.reusable), (200, 2, true));
        assert_eq!((b.0.status, b.0.body_bytes), (404, 1));
    }

    #[test]
    fn extra_bytes_after_a_response_make_it_not_reusable() {
        let data = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokjunk";
        let (r, _) = exchange_all(data, BUF_SIZE, false, 1).remove(0).unwrap();
        assert!(!r.reusable);
    }

    #[test]
    fn requests_are_serialized_with_host_and_length() {
        let mut out = Vec::new();
        write_request(
            &mut out,
            "POST",
            "/a?b=1",
            "127.0.0.1:8080",
            [("x-api-key", "k"), ("content-length", "999")].into_iter(),
            Some(b"{}"),
        )
        .unwrap();
        assert_eq!(
            out,
            b"POST /a?b=1 HTTP/1.1\r\nx-api-key: k\r\nhost: 127.0.0.1:8080\r\ncontent-length: 2\r\n\r\n{}"
        );
        write_request(
            &mut out,
            "GET",
            "/",
            "h:1",
            [("Host", "other")].into_iter(),
            None,
        )
        .unwrap();
        assert_eq!(out, b"GET / HTTP/1.1\r\nHost: other\r\n\r\n");
        write_request(&mut out, "PUT", "/", "h:1", std::iter::empty(), None).unwrap();
        assert!(out.ends_with(b"content-length: 0\r\n\r\n"));
        for (target, value) in [("/a b", "v"), ("/", "a\r\nX-Injected: 1"), ("", "v")] {
            assert!(write_request(
                &mut out,
                "GET",
                target,
                "h:1",
                [("x", value)].into_iter(),
                None
            )
            .is_err());
        }
    }

    /// Between answers a connection holds no read buffer: it went back to the thread's pool,
    /// and the next answer takes it again. One grown for a large body stays with its
    /// connection.
    #[test]
    fn a_connection_waiting_for_its_answer_holds_no_buffer() {
        let one = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        let mut conn = Conn::new(Scripted {
            data: one.repeat(2),
            pos: 0,
            step: one.len(),
            written: Vec::new(),
        });
        assert_eq!(conn.buf.capacity(), 0, "a new connection has no buffer yet");
        block_on(async {
            for _ in 0..2 {
                let mut kept = Vec::new();
                let r = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", false, &mut kept, 8);
                assert_eq!(r.await.unwrap().status, 200);
                assert_eq!(conn.buf.capacity(), 0, "the buffer went back to the pool");
            }
        });
        let mut big = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n".to_vec();
        big.extend(std::iter::repeat_n(b'x', 10_000));
        let mut conn = Conn::new(Scripted {
            data: big,
            pos: 0,
            step: BUF_SIZE,
            written: Vec::new(),
        });
        block_on(async {
            let mut kept = Vec::new();
            let r = conn.exchange(b"GET / HTTP/1.1\r\n\r\n", false, &mut kept, 0);
            assert_eq!(r.await.unwrap().body_bytes, 10_000);
        });
        assert!(conn.buf.len() > INITIAL_BUF, "a grown buffer stays");
    }
}
