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

use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use perflab_analysis::history::{alerts, Alert, ChangePointOptions};
use perflab_model::{Better, Run};
use perflab_store::{RunFilter, Store, StoreError};
use serde::Deserialize;
use sha2::{Digest, Sha256};

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
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        ready(listener.local_addr()?);
        axum::serve(listener, app(state))
            .with_graceful_shutdown(async move {
                while !stop.load(Ordering::SeqCst) {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
            })
            .await
    })
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
    /// Largest upload body, bytes.
    pub max_upload: usize,
    /// When set, reads need this token too.
    pub read_token: Option<String>,
    /// Requests served, per route (for `/metrics`).
    pub requests: [AtomicU64; 4],
    /// The last alert computation, keyed by the newest run and the acknowledgements: change
    /// points of every series cost a scan of the history, and Prometheus scrapes often.
    alerts_cache: std::sync::Mutex<Option<(String, Vec<Alert>)>>,
}

impl AppState {
    /// A state over `store` with a 32 MiB upload limit and open reads.
    pub fn new(store: Arc<dyn Store>) -> AppState {
        AppState {
            store,
            max_upload: 32 << 20,
            read_token: None,
            requests: Default::default(),
            alerts_cache: std::sync::Mutex::new(None),
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
    /// 503: the store failed.
    #[error("the history database is unavailable")]
    Unavailable(StoreError),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Unavailable(e)
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = match &self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::Unauthorized => StatusCode::UNAUTHORIZED,
            AppError::NotFound(_) => StatusCode::NOT_FOUND,
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

type Shared = Arc<AppState>;

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

fn may_read(state: &AppState, headers: &HeaderMap) -> Result<(), AppError> {
    match &state.read_token {
        Some(t) if bearer(headers) != Some(t.as_str()) => Err(AppError::Unauthorized),
        _ => Ok(()),
    }
}

fn count(state: &AppState, route: usize) {
    state.requests[route].fetch_add(1, Ordering::Relaxed);
}

/// The router over `state`.
pub fn app(state: Shared) -> Router {
    let limit = state.max_upload;
    Router::new()
        .route("/api/v1/runs", get(list_runs).post(upload))
        .route("/api/v1/runs/{id}", get(one_run))
        .route("/api/v1/series", get(series))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/compare", get(compare_runs))
        .route("/api/v1/alerts/{id}/ack", axum::routing::post(ack_alert))
        .route("/metrics", get(metrics))
        .fallback(|| async { AppError::NotFound("no such route (see docs/api.md)".into()) })
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    branch: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
}

async fn list_runs(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<RunsQuery>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_read(&s, &headers)?;
    let runs = s.store.list_runs(&RunFilter {
        branch: q.branch,
        kind: q.kind,
        before: None,
        limit: q.limit.unwrap_or(100).min(10_000),
    })?;
    let body = perflab_report::render(
        perflab_report::Format::Json,
        &perflab_report::Document::Log(&runs),
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

async fn one_run(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_read(&s, &headers)?;
    match s.store.run(&id) {
        Ok(Some(run)) => {
            Ok(([(header::CONTENT_TYPE, "application/json")], run.to_json()).into_response())
        }
        Ok(None) => Err(AppError::NotFound(format!("no run {id:?}"))),
        Err(StoreError::Ambiguous { .. }) => {
            Err(AppError::BadRequest(format!("run id {id:?} is ambiguous")))
        }
        Err(e) => Err(e.into()),
    }
}

/// The name of the token in the request, or 401.
fn writer(s: &AppState, headers: &HeaderMap) -> Result<String, AppError> {
    let token = bearer(headers).ok_or(AppError::Unauthorized)?;
    s.store
        .token_name(&token_hash(token))?
        .ok_or(AppError::Unauthorized)
}

async fn ack_alert(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 1);
    let by = writer(&s, &headers)?;
    let known = cached_alerts(&s)?;
    if !known.iter().any(|a| a.id == id) {
        return Err(AppError::NotFound(format!("no alert {id:?}")));
    }
    s.store.acknowledge(&id, &by)?;
    Ok(Json(serde_json::json!({ "id": id, "acknowledged": true, "by": by })).into_response())
}

async fn upload(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: String,
) -> Result<Response, AppError> {
    count(&s, 1);
    writer(&s, &headers)?;
    let mut run = Run::from_json(&body).map_err(|e| AppError::BadRequest(format!("body: {e}")))?;
    let warnings = perflab_model::sanitize(&mut run.benchmarks);
    s.store.save_run(&run)?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "id": run.id, "warnings": warnings })),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
struct SeriesQuery {
    benchmark: String,
    metric: String,
    branch: Option<String>,
}

async fn series(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SeriesQuery>,
) -> Result<Response, AppError> {
    count(&s, 2);
    may_read(&s, &headers)?;
    let points = s
        .store
        .series(&q.benchmark, &q.metric, q.branch.as_deref())?;
    let rows: Vec<SeriesRow<'_>> = points
        .iter()
        .map(|p| SeriesRow {
            run_id: &p.run_id,
            time: perflab_model::format_rfc3339(
                p.time_unix_ms.div_euclid(1000),
                p.time_unix_ms.rem_euclid(1000) as u32,
            ),
            commit: p.commit.as_deref(),
            branch: p.branch.as_deref(),
            n: p.n,
            median: p.median,
            ci_low: p.ci_low,
            ci_high: p.ci_high,
        })
        .collect();
    Ok(Json(SeriesBody {
        benchmark: &q.benchmark,
        metric: &q.metric,
        points: rows,
    })
    .into_response())
}

/// One point of `/api/v1/series`, serialised straight from the store's row.
#[derive(serde::Serialize)]
struct SeriesRow<'a> {
    run_id: &'a str,
    time: String,
    commit: Option<&'a str>,
    branch: Option<&'a str>,
    n: usize,
    median: f64,
    ci_low: Option<f64>,
    ci_high: Option<f64>,
}

#[derive(serde::Serialize)]
struct SeriesBody<'a> {
    benchmark: &'a str,
    metric: &'a str,
    points: Vec<SeriesRow<'a>>,
}

#[derive(Debug, Deserialize)]
struct CompareQuery {
    base: String,
    current: String,
}

/// `perflab compare` between two stored runs (ids or unique prefixes), as its JSON document.
async fn compare_runs(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_read(&s, &headers)?;
    let get = |id: &str| -> Result<Run, AppError> {
        match s.store.run(id) {
            Ok(Some(r)) => Ok(r),
            Ok(None) => Err(AppError::NotFound(format!("no run {id:?}"))),
            Err(StoreError::Ambiguous { .. }) => {
                Err(AppError::BadRequest(format!("run id {id:?} is ambiguous")))
            }
            Err(e) => Err(e.into()),
        }
    };
    let (base, current) = (get(&q.base)?, get(&q.current)?);
    let opts = perflab_analysis::CompareOptions {
        base_label: format!("run {}", base.id),
        current_label: format!("run {}", current.id),
        ..Default::default()
    };
    let c = perflab_analysis::compare(&base.benchmarks, &current.benchmarks, &opts)
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let body = perflab_report::render(
        perflab_report::Format::Json,
        &perflab_report::Document::Comparison(&c),
    )
    .map_err(|e| AppError::BadRequest(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// The change points of every stored series (optionally on one branch), each marked when it
/// was acknowledged.
///
/// # Errors
/// Store errors.
pub fn all_alerts(
    store: &dyn Store,
    branch: Option<&str>,
    opts: &ChangePointOptions,
) -> Result<Vec<Alert>, StoreError> {
    let acked = store.acknowledged()?;
    let mut out = Vec::new();
    for s in store.all_series(branch)? {
        let medians: Vec<f64> = s.points.iter().map(|p| p.median).collect();
        let runs: Vec<String> = s.points.iter().map(|p| p.run_id.clone()).collect();
        let better = if s.better == "higher" {
            Better::Higher
        } else {
            Better::Lower
        };
        out.extend(alerts(
            &s.benchmark,
            &s.metric,
            better,
            &medians,
            &runs,
            opts,
        ));
    }
    for a in &mut out {
        a.acknowledged = acked.contains(&a.id);
    }
    Ok(out)
}

/// The alerts with the default options, recomputed only when a run or an acknowledgement was
/// added since the last call.
fn cached_alerts(s: &AppState) -> Result<Vec<Alert>, StoreError> {
    let newest = s.store.list_runs(&RunFilter {
        limit: 1,
        ..RunFilter::default()
    })?;
    let key = format!(
        "{}/{}",
        newest.first().map_or("", |r| r.id.as_str()),
        s.store.acknowledged()?.len()
    );
    let mut cache = s.alerts_cache.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((k, a)) = cache.as_ref() {
        if *k == key {
            return Ok(a.clone());
        }
    }
    let fresh = all_alerts(s.store.as_ref(), None, &ChangePointOptions::default())?;
    *cache = Some((key, fresh.clone()));
    Ok(fresh)
}

async fn list_alerts(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    count(&s, 3);
    may_read(&s, &headers)?;
    let found = cached_alerts(&s)?;
    Ok(Json(serde_json::json!({ "schema": "perflab.alerts.v1", "alerts": found })).into_response())
}

async fn metrics(State(s): State<Shared>) -> Result<Response, AppError> {
    use std::fmt::Write as _;
    let label = perflab_report::prometheus::label;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP perflab_latest_median Latest median of each benchmark's metric, base units.\n# TYPE perflab_latest_median gauge");
    for (benchmark, metric, unit, median) in s.store.latest_medians()? {
        let _ = writeln!(
            out,
            "perflab_latest_median{{benchmark=\"{}\",metric=\"{}\",unit=\"{}\"}} {median}",
            label(&benchmark),
            label(&metric),
            label(&unit)
        );
    }
    let runs = s.store.list_runs(&RunFilter::default())?.len();
    let _ = writeln!(
        out,
        "# HELP perflab_runs Runs stored.\n# TYPE perflab_runs gauge\nperflab_runs {runs}"
    );
    let open = cached_alerts(&s)?
        .iter()
        .filter(|a| !a.acknowledged)
        .count();
    let _ = writeln!(out, "# HELP perflab_alerts Change points in the history not yet acknowledged.\n# TYPE perflab_alerts gauge\nperflab_alerts {open}");
    let _ = writeln!(out, "# HELP perflab_http_requests_total Requests served, by route.\n# TYPE perflab_http_requests_total counter");
    for (i, route) in ["runs_read", "runs_upload", "series", "alerts"]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            out,
            "perflab_http_requests_total{{route=\"{route}\"}} {}",
            s.requests[i].load(Ordering::Relaxed)
        );
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out).into_response())
}

/// Why an upload to a server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The server URL is not `http://host:port`.
    #[error("--server {0:?}: give it as http://HOST:PORT (https: put a TLS proxy in front)")]
    Url(String),
    /// The connection failed.
    #[error("cannot reach {server}: {error}")]
    Connect {
        /// The server.
        server: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The server refused the run.
    #[error("{server} answered {status}: {message}")]
    Refused {
        /// The server.
        server: String,
        /// HTTP status.
        status: u16,
        /// Its error message.
        message: String,
    },
}

/// Upload a result document to a `perflab serve` (plain HTTP/1.1, one request); returns the
/// stored run's id.
///
/// # Errors
/// [`PushError`].
pub fn push(server: &str, token: &str, document: &str) -> Result<String, PushError> {
    use std::io::{Read as _, Write as _};
    let rest = server
        .strip_prefix("http://")
        .ok_or_else(|| PushError::Url(server.into()))?;
    let host = rest.trim_end_matches('/').split('/').next().unwrap_or("");
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| PushError::Url(server.into()))?;
    let connect = |error| PushError::Connect {
        server: server.into(),
        error,
    };
    let timeout = std::time::Duration::from_secs(30);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(connect)?;
    s.set_read_timeout(Some(timeout)).map_err(connect)?;
    let head = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        document.len()
    );
    s.write_all(head.as_bytes()).map_err(connect)?;
    s.write_all(document.as_bytes()).map_err(connect)?;
    let mut answer = Vec::new();
    s.take(1 << 20).read_to_end(&mut answer).map_err(connect)?;
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (status, json["id"].as_str()) {
        (201, Some(id)) => Ok(id.to_string()),
        _ => Err(PushError::Refused {
            server: server.into(),
            status,
            message: json["error"].as_str().unwrap_or(body.trim()).to_string(),
        }),
    }
}
