//! Stage: **show**. The team's history over HTTP: `app(state) -> axum::Router` serves the read
//! API (`/api/v1/runs`, `/runs/{id}`, `/series`, `/alerts`, `/compare`), the upload API
//! (`POST /api/v1/runs` with a bearer token) and Prometheus text at `/metrics`, over any
//! [`Store`]. Handlers are tested with `oneshot`; `perflab serve` binds it.
//!
//! Errors are JSON (`{"error": "…"}`) with the status that says what happened: 400 with the
//! line and column of a malformed upload, 401 without a valid token, 404, 413 over the body
//! limit, 503 when the database fails (the detail goes to the log, not to the client).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use perflab_analysis::history::Alert;
use perflab_store::{Store, StoreError};
use sha2::{Digest, Sha256};

mod alerts;
mod api;
mod cache;
mod notify;
mod pages;
mod projects;
mod push;

pub use alerts::{all_alerts, change_points_of, group_alerts, prime, AlertGroup, AlertPolicy};
pub use notify::Notifier;
pub use projects::Projects;
pub use push::{push, push_to_project, push_with_ca, PushError};

/// A new random token (32 bytes from the OS, hex).
///
/// # Errors
/// The OS random source cannot be read.
pub fn new_token() -> std::io::Result<String> {
    use std::io::Read as _;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Serve `app(state)` on `addr` until `stop` is set (Ctrl-C), calling `ready` with the bound
/// address first.
///
/// # Errors
/// The address cannot be bound, or the runtime cannot start.
pub fn serve_blocking(
    addr: std::net::SocketAddr,
    state: Shared,
    stop: &'static std::sync::atomic::AtomicBool,
    ready: impl FnOnce(std::net::SocketAddr),
) -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // The state's last reference is dropped here, after the runtime: PostgreSQL's blocking
    // client runs a runtime of its own to close, which cannot start inside this one (every
    // stop, and every failed bind, panicked so).
    let keep = state.clone();
    let served = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        serve(listener, state, async move {
            while !stop.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        Ok(())
    });
    drop(rt);
    drop(keep);
    served
}

/// Serve `app(state)` on `listener` until `shutdown` completes, then let requests in flight
/// finish (at most 5 s). A connection that has not sent a whole request head within
/// `state.header_timeout` is closed, so slow clients cannot pile up; an accept error (out of
/// file descriptors) pauses accepting instead of spinning.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Shared,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let header_timeout = state.header_timeout;
    let router = app(state);
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_timeout);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        eprintln!("perflab serve: accept: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let service = hyper_util::service::TowerToHyperService::new(router.clone());
                let conn = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    let _ = conn.await;
                });
            }
            () = &mut shutdown => break,
        }
    }
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(Duration::from_secs(5)) => {}
    }
}

/// Answer 408 when a request (its body included) takes longer than `state.request_timeout`:
/// a client that sends its upload a byte a second does not hold a handler forever.
async fn deadline(
    State(s): State<Shared>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match tokio::time::timeout(s.request_timeout, next.run(req)).await {
        Ok(res) => res,
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            Json(serde_json::json!({
                "error": format!("the request took longer than {:?} (a slow client?)", s.request_timeout)
            })),
        )
            .into_response(),
    }
}

/// The SHA-256 of a token, as the store keeps it (hex).
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// What the server shares between requests.
pub struct AppState {
    /// The history.
    pub store: Arc<dyn Store>,
    /// Where tokens and sessions are kept: the server's own store, for every project.
    pub auth: Arc<dyn Store>,
    /// The other projects this server holds, when it holds any.
    pub projects: Option<projects::Projects>,
    /// Largest upload body, bytes.
    pub max_upload: usize,
    /// When set, reads need this token too.
    pub read_token: Option<String>,
    /// Requests served, per route (for `/metrics`).
    pub requests: [AtomicU64; 4],
    /// Longest wait for a connection's request head.
    pub header_timeout: Duration,
    /// Longest time for a whole request, body included.
    pub request_timeout: Duration,
    /// Targets the run pages check runs against (`[[target]]` in `perflab.toml`).
    pub targets: Vec<perflab_analysis::Target>,
    /// Which change points are alerts.
    pub alert_policy: AlertPolicy,
    /// How long a browser's session lasts.
    pub session_ttl: Duration,
    /// Webhooks told of each new alert group.
    pub notifier: Notifier,
    /// A commit's page, `{commit}` standing for its hash (`[serve] commit_url`).
    pub commit_url: Option<String>,
    /// The last alert computation, keyed by the store's generation: change points of every
    /// series cost a scan of the history, and Prometheus scrapes often.
    pub(crate) alerts_cache: std::sync::Mutex<Option<(i64, Arc<Vec<Alert>>)>>,
    /// Series bodies and pages, keyed by the store's generation.
    pub(crate) cache: cache::Cache,
    /// An alert computation is under way in the background.
    pub(crate) refreshing: std::sync::atomic::AtomicBool,
}

impl AppState {
    /// A state over `store` with a 32 MiB upload limit and open reads.
    pub fn new(store: Arc<dyn Store>) -> AppState {
        AppState {
            auth: store.clone(),
            projects: None,
            store,
            max_upload: 32 << 20,
            read_token: None,
            requests: Default::default(),
            header_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            targets: Vec::new(),
            alert_policy: AlertPolicy::default(),
            session_ttl: Duration::from_secs(12 * 3600),
            notifier: Notifier::new(Vec::new(), String::new()),
            commit_url: None,
            alerts_cache: std::sync::Mutex::new(None),
            cache: cache::Cache::default(),
            refreshing: std::sync::atomic::AtomicBool::new(false),
        }
    }
}

/// An error answered as JSON.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AppError {
    /// 400.
    #[error("{0}")]
    BadRequest(String),
    /// 401.
    #[error("a valid token is needed (Authorization: Bearer TOKEN; perflab token create NAME)")]
    Unauthorized,
    /// 404.
    #[error("{0}")]
    NotFound(String),
    /// 409: an upload under a stored run's id with other content.
    #[error("{0}")]
    Conflict(String),
    /// 413: a body over `--max-upload`.
    #[error("the body is larger than the server's limit of {0} bytes (serve --max-upload)")]
    TooLarge(usize),
    /// 303 to `/login`: a page needs the read token.
    #[error("the read token is needed")]
    Login,
    /// 500: a handler panicked.
    #[error("internal error")]
    Internal(String),
    /// 503: the store failed.
    #[error("the history database is unavailable")]
    Unavailable(StoreError),
}

impl From<StoreError> for AppError {
    /// What the client may act on: a missing run is 404, an ambiguous prefix 400; a locked,
    /// unreachable or damaged database 503 (the detail is logged, not sent).
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(id) => AppError::NotFound(format!("no run {id:?}")),
            StoreError::Ambiguous { prefix, .. } => {
                AppError::BadRequest(format!("run id {prefix:?} is ambiguous"))
            }
            e @ StoreError::Conflict(_) => AppError::Conflict(e.to_string()),
            e => AppError::Unavailable(e),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Login = self {
            return axum::response::Redirect::to("/login").into_response();
        }
        let status = match &self {
            AppError::Login => StatusCode::SEE_OTHER,
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Internal(e) => {
                eprintln!("perflab serve: handler failed: {e}");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            AppError::Unavailable(e) => {
                // The detail is for the operator; the client gets the generic line.
                eprintln!("perflab serve: store error: {e}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
        (
            status,
            Json(serde_json::json!({ "error": self.to_string() })),
        )
            .into_response()
    }
}

pub(crate) type Shared = Arc<AppState>;

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The name of the session cookie; its value is a random id, the store keeps its hash.
pub(crate) const SESSION_COOKIE: &str = "perflab_session";

/// The session id a browser sent, if any.
pub(crate) fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

/// The signed-in session of a request (`/login` opened it), if it is live.
pub(crate) async fn session_of(
    s: &Shared,
    headers: &HeaderMap,
) -> Result<Option<perflab_store::Session>, AppError> {
    let Some(id) = session_cookie(headers) else {
        return Ok(None);
    };
    let hash = token_hash(id);
    let s = s.clone();
    match tokio::task::spawn_blocking(move || s.auth.session(&hash, perflab_model::now_unix_ms()))
        .await
    {
        Ok(found) => Ok(found?),
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// Equal, in time that does not depend on where they differ.
pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Reads are open, or the request has the read token as its bearer, or a signed-in session.
pub(crate) async fn may_read(s: &Shared, headers: &HeaderMap) -> Result<(), AppError> {
    let Some(t) = &s.read_token else {
        return Ok(());
    };
    if bearer(headers).is_some_and(|c| same_secret(c, t)) {
        return Ok(());
    }
    match session_of(s, headers).await? {
        Some(_) => Ok(()),
        None => Err(AppError::Unauthorized),
    }
}

/// [`may_read`] for a page: a browser without the read token is sent to `/login`.
pub(crate) async fn may_see(s: &Shared, headers: &HeaderMap) -> Result<(), AppError> {
    match may_read(s, headers).await {
        Err(AppError::Unauthorized) => Err(AppError::Login),
        other => other,
    }
}

/// A stored run by id or unique prefix: 400 for what cannot start a run id or is shared by
/// several, 404 when there is none.
pub(crate) fn stored(s: &AppState, id: &str) -> Result<perflab_model::Run, AppError> {
    if !perflab_model::is_run_id_prefix(id) {
        return Err(AppError::BadRequest(format!(
            "{:?} is not a run id (a UUID, or its first characters)",
            shorten(id, 40)
        )));
    }
    match s.store.run(id) {
        Ok(Some(r)) => Ok(r),
        Ok(None) => Err(AppError::NotFound(format!("no run {id:?}"))),
        Err(e) => Err(e.into()),
    }
}

/// Two stored runs compared with the default options, labelled by their ids.
pub(crate) fn compare_stored(
    base: &perflab_model::Run,
    current: &perflab_model::Run,
) -> Result<perflab_analysis::Comparison, AppError> {
    let opts = perflab_analysis::CompareOptions {
        base_label: format!("run {}", base.id),
        current_label: format!("run {}", current.id),
        ..Default::default()
    };
    perflab_analysis::compare(&base.benchmarks, &current.benchmarks, &opts)
        .map_err(|e| AppError::BadRequest(e.to_string()))
}

/// Run `f` (it calls the store, which blocks) on the blocking pool: a slow query does not stall
/// the runtime, and PostgreSQL's client cannot run on a runtime thread at all.
pub(crate) async fn blocking(
    s: Shared,
    f: impl FnOnce(&Shared) -> Result<Response, AppError> + Send + 'static,
) -> Result<Response, AppError> {
    match tokio::task::spawn_blocking(move || f(&s)).await {
        Ok(r) => r,
        Err(e) => Err(AppError::Internal(e.to_string())),
    }
}

/// At most `n` characters of outside text, with `…` when cut: slicing works on characters,
/// never bytes, so no upload can make a page panic.
pub(crate) fn shorten(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_string(),
    }
}

/// The Content-Security-Policy of every response. As a header (a `<meta>` cannot forbid
/// framing): no script, nothing fetched, forms post only here, no page may frame these.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; \
form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every response, and every error as JSON: axum's own rejections (a bad
/// query string, a body over the limit, a wrong method) answer in plain text.
async fn harden(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut res = next.run(req).await;
    let status = res.status();
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let (mut parts, body) = res.into_parts();
        let text = axum::body::to_bytes(body, 64 << 10)
            .await
            .unwrap_or_default();
        let text = String::from_utf8_lossy(&text);
        let message = match text.trim() {
            "" => status.canonical_reason().unwrap_or("error").to_string(),
            t => t.to_string(),
        };
        parts.headers.remove(header::CONTENT_LENGTH);
        parts.headers.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
        let body = serde_json::json!({ "error": message }).to_string();
        res = Response::from_parts(parts, axum::body::Body::from(body));
    }
    let h = res.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    res
}

pub(crate) fn count(state: &AppState, route: usize) {
    state.requests[route].fetch_add(1, Ordering::Relaxed);
}

/// The router over `state`.
pub fn app(state: Shared) -> Router {
    let limit = state.max_upload;
    Router::new()
        .merge(api::routes())
        .merge(pages::routes())
        .merge(projects::routes())
        .fallback(|| async {
            AppError::NotFound(
                "no such route (docs/serve.md and docs/openapi.yaml list them)".into(),
            )
        })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline,
        ))
        .layer(axum::middleware::from_fn(harden))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_hash_is_sha256_hex() {
        // FIPS 180-2's "abc" example.
        assert_eq!(
            super::token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
