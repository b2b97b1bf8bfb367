//! Several repositories on one server. Each project's history is a store of its own beside
//! the server's (a file in `history.projects/`, or a PostgreSQL schema), so projects never
//! mix; tokens and sessions stay in the server's store, for all of them.
//!
//! `/api/v1/projects/{project}/…` and `/p/{project}/…` are the unprefixed API and pages of
//! that project's own router (`default` is the server's store): the request's path is
//! rewritten and handed to it, and a page's links are given the prefix back.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use axum::{Json, Router};
use tower::ServiceExt as _;

use crate::{may_read, AppError, AppState, Shared};

/// The projects of a server: where their stores are, and the routers of those opened.
pub struct Projects {
    location: String,
    open: Mutex<HashMap<String, Router>>,
}

impl Projects {
    /// Projects beside the store at `location` (the path or URL the server's store was
    /// opened from).
    pub fn new(location: impl Into<String>) -> Projects {
        Projects {
            location: location.into(),
            open: Mutex::new(HashMap::new()),
        }
    }

    /// Every project name, `default` first.
    pub(crate) fn names(&self) -> Result<Vec<String>, AppError> {
        let mut out = vec!["default".to_string()];
        out.extend(perflab_store::projects(&self.location)?);
        Ok(out)
    }

    /// The router of `project`, opening its store (and creating it when `create`).
    fn router(&self, base: &Shared, project: &str, create: bool) -> Result<Router, AppError> {
        if let Some(r) = self.lock().get(project) {
            return Ok(r.clone());
        }
        if !perflab_store::is_project_name(project) {
            return Err(AppError::BadRequest(format!(
                "{:?} is not a project name (1 to 64 of a-z, 0-9, - and _)",
                crate::shorten(project, 40)
            )));
        }
        let router = if project == "default" {
            crate::app(base.clone())
        } else {
            if !create && !self.names()?.iter().any(|p| p == project) {
                return Err(AppError::NotFound(format!(
                    "no project {project:?} (GET /api/v1/projects lists them; an upload creates one)"
                )));
            }
            let store = perflab_store::open_project(&self.location, project)?;
            let state = project_state(base, Arc::from(store), project);
            if state.notifier.has_webhooks() {
                // What the project holds now is not news.
                crate::alerts::prime(&state)?;
            }
            crate::app(Arc::new(state))
        };
        self.lock().insert(project.to_string(), router.clone());
        Ok(router)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Router>> {
        self.open.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A project's state: the server's settings and its tokens and sessions, the project's
/// history.
fn project_state(base: &AppState, store: Arc<dyn perflab_store::Store>, project: &str) -> AppState {
    let mut s = AppState::new(store);
    s.auth = base.auth.clone();
    s.max_upload = base.max_upload;
    s.read_token = base.read_token.clone();
    s.header_timeout = base.header_timeout;
    s.request_timeout = base.request_timeout;
    s.targets = base.targets.clone();
    s.alert_policy = base.alert_policy.clone();
    s.session_ttl = base.session_ttl;
    s.commit_url = base.commit_url.clone();
    s.notifier = base.notifier.for_project(project);
    s
}

/// The routes that reach projects.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/projects", get(list))
        .route("/api/v1/projects/{project}/{*rest}", any(api))
        .route(
            "/p/{project}",
            get(|Path(p): Path<String>| async move {
                axum::response::Redirect::permanent(&format!("/p/{}/", crate::pages::seg(&p)))
            }),
        )
        .route("/p/{project}/", any(page_root))
        .route("/p/{project}/{*rest}", any(pages))
}

fn hub(s: &AppState) -> Result<&Projects, AppError> {
    s.projects
        .as_ref()
        .ok_or_else(|| AppError::NotFound("this server holds one project".into()))
}

async fn list(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    may_read(&s, &headers).await?;
    let st = s.clone();
    let names = tokio::task::spawn_blocking(move || hub(&st)?.names())
        .await
        .map_err(|e| AppError::Internal(e.to_string()))??;
    Ok(Json(serde_json::json!({ "projects": names })).into_response())
}

/// `/api/v1/projects/{project}/REST` is `/api/v1/REST` of the project.
async fn api(
    State(s): State<Shared>,
    Path((project, rest)): Path<(String, String)>,
    req: Request,
) -> Result<Response, AppError> {
    let create = req.method() == Method::POST && rest == "runs";
    forward(&s, &project, &format!("/api/v1/{rest}"), create, req, false).await
}

async fn page_root(
    State(s): State<Shared>,
    Path(project): Path<String>,
    req: Request,
) -> Result<Response, AppError> {
    forward(&s, &project, "/", false, req, true).await
}

/// `/p/{project}/REST` is the page `/REST` of the project.
async fn pages(
    State(s): State<Shared>,
    Path((project, rest)): Path<(String, String)>,
    req: Request,
) -> Result<Response, AppError> {
    forward(&s, &project, &format!("/{rest}"), false, req, true).await
}

async fn forward(
    s: &Shared,
    project: &str,
    path: &str,
    create: bool,
    req: Request,
    page: bool,
) -> Result<Response, AppError> {
    hub(s)?;
    let (st, p) = (s.clone(), project.to_string());
    // Only a token holder's upload creates a project.
    let headers = create.then(|| req.headers().clone());
    let router = tokio::task::spawn_blocking(move || {
        if let Some(h) = headers {
            crate::api::writer(&st, &h)?;
        }
        hub(&st)?.router(&st, &p, create)
    })
    .await
    .map_err(|e| AppError::Internal(e.to_string()))??;
    let (mut parts, body) = req.into_parts();
    let query = parts
        .uri
        .query()
        .map(|q| format!("?{q}"))
        .unwrap_or_default();
    parts.uri = format!("{path}{query}")
        .parse::<Uri>()
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
    let res = router
        .oneshot(Request::from_parts(parts, body))
        .await
        .map_err(|e| AppError::Internal(format!("{e:?}")))?;
    if !page {
        return Ok(res);
    }
    Ok(prefixed(res, project).await)
}

/// A project's page with its links (and redirects) under `/p/{project}`.
async fn prefixed(res: Response, project: &str) -> Response {
    let prefix = format!("/p/{}", crate::pages::seg(project));
    let (mut parts, body) = res.into_parts();
    if let Some(to) = parts
        .headers
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
    {
        if to.starts_with('/') && !to.starts_with("/login") {
            if let Ok(v) = header::HeaderValue::from_str(&format!("{prefix}{to}")) {
                parts.headers.insert(header::LOCATION, v);
            }
        }
    }
    let html = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    if !html {
        return Response::from_parts(parts, body);
    }
    let Ok(bytes) = axum::body::to_bytes(body, 64 << 20).await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let text = String::from_utf8_lossy(&bytes);
    // Links into the dashboard stay in the project; the API, metrics and sign-in are the
    // server's.
    let mut out = String::with_capacity(text.len() + 1024);
    let mut rest = text.as_ref();
    while let Some(i) = rest.find(['h', 'a']) {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        let attr = ["href=\"/", "action=\"/"]
            .into_iter()
            .find(|a| at.starts_with(a));
        match attr {
            Some(a) => {
                let target = &at[a.len() - 1..];
                let shared = ["/api/", "/metrics", "/login", "/logout", "/p/"]
                    .iter()
                    .any(|s| target.starts_with(s));
                out.push_str(&a[..a.len() - 1]);
                rest = &at[a.len() - 1..];
                if let Some(api) = target.strip_prefix("/api/v1/") {
                    // The project's API, not the server's.
                    let _ = write!(out, "/api/v1/projects/{}/", crate::pages::seg(project));
                    rest = api;
                } else if !shared {
                    out.push_str(&prefix);
                }
            }
            None => {
                out.push_str(&at[..1]);
                rest = &at[1..];
            }
        }
    }
    out.push_str(rest);
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(out))
}
