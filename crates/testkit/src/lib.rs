//! Test support, not part of the product: a small, fast HTTP/1.1 and HTTP/2 server for perflab's
//! load tests and the speed comparison in `benches/load/` (binary `perflab-testserver`). It
//! answers from memory, and can stall on a schedule (every `stall_every`, for `stall_for`) to
//! show what coordinated omission hides.
//!
//! Routes: `/` → `ok`, `/json` → a small JSON document, `/status/NNN` → that status,
//! `/big` → `body_size` bytes, `/redirect/N` → 302 to `/redirect/N-1` (`/redirect/0` → `ok`),
//! `/keep-method` → 307 to `/method`, `/method` → the request's method, anything else → 404.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;

/// How the server behaves.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Stall every this often (from start).
    pub stall_every: Option<Duration>,
    /// For this long each time.
    pub stall_for: Duration,
    /// Size of `/big`.
    pub body_size: usize,
    /// Serve HTTPS with a fresh self-signed certificate.
    pub tls: bool,
}

struct State {
    opts: ServerOptions,
    start: Instant,
    big: Bytes,
}

async fn handle(
    state: Arc<State>,
    req: Request<hyper::body::Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    if let Some(every) = state.opts.stall_every {
        let every_ns = every.as_nanos().max(1);
        let phase = state.start.elapsed().as_nanos() % every_ns;
        let stall_ns = state.opts.stall_for.as_nanos();
        if phase < stall_ns {
            tokio::time::sleep(Duration::from_nanos((stall_ns - phase) as u64)).await;
        }
    }
    let path = req.uri().path();
    let (status, body) = if path == "/" {
        (StatusCode::OK, Bytes::from_static(b"ok\n"))
    } else if path == "/json" {
        (
            StatusCode::OK,
            Bytes::from_static(b"{\"results\":[{\"id\":1,\"score\":0.98}],\"took_ms\":1}"),
        )
    } else if path == "/big" {
        (StatusCode::OK, state.big.clone())
    } else if let Some(code) = path.strip_prefix("/status/") {
        let code = code
            .parse::<u16>()
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
            .unwrap_or(StatusCode::BAD_REQUEST);
        (code, Bytes::from_static(b"status\n"))
    } else if path == "/method" {
        (
            StatusCode::OK,
            Bytes::from(req.method().as_str().to_string()),
        )
    } else if path == "/keep-method" {
        return Ok(redirect(StatusCode::TEMPORARY_REDIRECT, "/method".into()));
    } else if let Some(n) = path.strip_prefix("/redirect/") {
        match n.parse::<u32>() {
            Ok(0) => (StatusCode::OK, Bytes::from_static(b"ok\n")),
            Ok(n) => return Ok(redirect(StatusCode::FOUND, format!("/redirect/{}", n - 1))),
            Err(_) => (StatusCode::BAD_REQUEST, Bytes::from_static(b"bad count\n")),
        }
    } else if path.starts_with("/api/") {
        // Any API path of the docs' example plans: a JSON answer (201 for a POST, as a create).
        let status = if req.method() == hyper::Method::POST {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        };
        (
            status,
            Bytes::from_static(b"{\"id\":\"42\",\"results\":[{\"id\":1,\"score\":0.98}]}"),
        )
    } else {
        (StatusCode::NOT_FOUND, Bytes::from_static(b"not found\n"))
    };
    let mut resp = Response::new(Full::new(body));
    *resp.status_mut() = status;
    Ok(resp)
}

fn redirect(status: StatusCode, location: String) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from_static(b"moved\n")));
    *resp.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(hyper::header::LOCATION, v);
    }
    resp
}

/// Serve on `listener` until the task is dropped.
///
/// # Errors
/// The TLS certificate could not be made (test support: the message is all a test needs).
pub async fn serve(listener: tokio::net::TcpListener, opts: ServerOptions) -> Result<(), String> {
    let acceptor = if opts.tls {
        Some(tokio_rustls::TlsAcceptor::from(self_signed_server_config()?))
    } else {
        None
    };
    let state = Arc::new(State {
        big: Bytes::from(vec![b'x'; opts.body_size]),
        opts,
        start: Instant::now(),
    });
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(state.clone(), req));
            // HTTP/1.1, or HTTP/2 when the client opens with the h2 preface (h2c or ALPN h2).
            let builder =
                hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            match acceptor {
                Some(a) => {
                    if let Ok(tls) = a.accept(stream).await {
                        let _ = builder.serve_connection(TokioIo::new(tls), svc).await;
                    }
                }
                None => {
                    let _ = builder.serve_connection(TokioIo::new(stream), svc).await;
                }
            }
        });
    }
}

/// Run the server on `addr` with `threads` runtime threads, blocking; calls `ready` with the
/// bound address first (port 0 picks a free one).
///
/// # Errors
/// The address cannot be bound.
pub fn run_blocking(
    addr: SocketAddr,
    threads: usize,
    opts: ServerOptions,
    ready: impl FnOnce(SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()?;
    rt.block_on(async move {
        // A deep accept queue: tests open hundreds of connections at once, and with the
        // default 128 an overflow drops a SYN, which the client retries only a second later
        // (1.02 s "unfinished" requests, 1 run in 3).
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(4096)?;
        ready(listener.local_addr()?);
        serve(listener, opts).await.map_err(std::io::Error::other)
    })
}

/// A server configuration with a fresh self-signed certificate for `localhost` and 127.0.0.1.
///
/// # Errors
/// Certificate generation failed.
fn self_signed_server_config() -> Result<Arc<ServerConfig>, String> {
    let err = |e: String| format!("TLS certificate: {e}");
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .map_err(|e| err(e.to_string()))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| err(e.to_string()))?
            .with_no_client_auth()
            .with_single_cert(vec![cert.cert.der().clone()], key)
            .map_err(|e| err(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}
