//! The JSON API under `/api/v1` and Prometheus text at `/metrics`.

use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use perflab_model::Run;
use perflab_store::RunFilter;
use serde::Deserialize;

use crate::alerts::{fresh_alerts, latest_alerts};
use crate::{
    bearer, blocking, compare_stored, count, may_read, stored, token_hash, AppError, AppState,
    Shared,
};

/// The API's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/api/v1/runs", get(list_runs).post(upload))
        .route("/api/v1/runs/{id}", get(one_run).delete(delete_run))
        .route("/api/v1/series", get(series))
        .route("/api/v1/alerts", get(list_alerts))
        .route("/api/v1/compare", get(compare_runs))
        .route(
            "/api/v1/alerts/{id}/ack",
            post(ack_alert).delete(unack_alert),
        )
        .route("/metrics", get(metrics))
}

#[derive(Debug, Deserialize)]
struct RunsQuery {
    branch: Option<String>,
    kind: Option<String>,
    limit: Option<usize>,
    /// The last run of the previous page: the next page starts after it.
    cursor: Option<String>,
    since: Option<String>,
    until: Option<String>,
}

/// An RFC 3339 time (or a date) from a query parameter, as Unix ms.
pub(crate) fn query_time(name: &str, value: Option<&str>) -> Result<Option<i64>, AppError> {
    let Some(v) = value else { return Ok(None) };
    let full = if v.len() == 10 {
        format!("{v}T00:00:00Z")
    } else {
        v.to_string()
    };
    perflab_model::parse_rfc3339_ms(&full)
        .map(Some)
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{name}={:?}: write an RFC 3339 time or a date (2026-11-30T12:00:00Z, 2026-11-30)",
                crate::shorten(v, 40)
            ))
        })
}

/// `GET /api/v1/runs`: newest first, `limit` (100 by default, 10,000 at most) per page; when
/// there may be more, a `Link: <…&cursor=ID>; rel="next"` header names the next page.
async fn list_runs(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<RunsQuery>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_read(&s, &headers).await?;
    let since_unix_ms = query_time("since", q.since.as_deref())?;
    let until_unix_ms = query_time("until", q.until.as_deref())?;
    if let Some(c) = q.cursor.as_deref().filter(|c| !perflab_model::is_run_id(c)) {
        return Err(AppError::BadRequest(format!(
            "cursor={:?} is not a run id (take it from the Link header)",
            crate::shorten(c, 40)
        )));
    }
    let limit = q.limit.unwrap_or(100).clamp(1, 10_000);
    blocking(s, move |s| {
        let runs = s.store.list_runs(&RunFilter {
            branch: q.branch.clone(),
            kind: q.kind.clone(),
            before: q.cursor.clone(),
            since_unix_ms,
            until_unix_ms,
            limit,
        })?;
        let body = perflab_report::render(
            perflab_report::Format::Json,
            &perflab_report::Document::Log(&runs),
        )
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
        let mut res = ([(header::CONTENT_TYPE, "application/json")], body).into_response();
        if let (true, Some(last)) = (runs.len() == limit, runs.last()) {
            let mut pairs: Vec<(&str, String)> = vec![("limit", limit.to_string())];
            for (k, v) in [
                ("branch", &q.branch),
                ("kind", &q.kind),
                ("since", &q.since),
                ("until", &q.until),
            ] {
                if let Some(v) = v {
                    pairs.push((k, v.clone()));
                }
            }
            pairs.push(("cursor", last.id.clone()));
            let query = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish();
            if let Ok(v) =
                header::HeaderValue::from_str(&format!("</api/v1/runs?{query}>; rel=\"next\""))
            {
                res.headers_mut().insert(header::LINK, v);
            }
        }
        Ok(res)
    })
    .await
}

/// `DELETE /api/v1/runs/{id}` with a token: the run and its points go; a run a baseline
/// names is kept (409).
async fn delete_run(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 1);
    blocking(s, move |s| {
        let by = writer(s, &headers)?;
        if !perflab_model::is_run_id(&id) {
            return Err(AppError::BadRequest(format!(
                "{:?} is not a run id (give the whole id to delete)",
                crate::shorten(&id, 40)
            )));
        }
        match s.store.delete_run(&id) {
            Ok(()) => {}
            Err(e @ perflab_store::StoreError::Baselined { .. }) => {
                return Err(AppError::Conflict(e.to_string()))
            }
            Err(e) => return Err(e.into()),
        }
        eprintln!("perflab serve: run {id} deleted by {by}");
        Ok(Json(serde_json::json!({ "id": id, "deleted": true, "by": by })).into_response())
    })
    .await
}

async fn one_run(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_read(&s, &headers).await?;
    blocking(s, move |s| {
        let run = stored(s, &id)?;
        Ok(([(header::CONTENT_TYPE, "application/json")], run.to_json()).into_response())
    })
    .await
}

/// The name of the token in the request, or 401.
pub(crate) fn writer(s: &AppState, headers: &HeaderMap) -> Result<String, AppError> {
    let token = bearer(headers).ok_or(AppError::Unauthorized)?;
    s.auth
        .token_name(&token_hash(token))?
        .ok_or(AppError::Unauthorized)
}

async fn ack_alert(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 1);
    blocking(s, move |s| {
        let by = writer(s, &headers)?;
        let known = fresh_alerts(s)?;
        if !known.iter().any(|a| a.id == id) {
            return Err(AppError::NotFound(format!("no alert {id:?}")));
        }
        s.store.acknowledge(&id, &by)?;
        Ok(Json(serde_json::json!({ "id": id, "acknowledged": true, "by": by })).into_response())
    })
    .await
}

/// `DELETE /api/v1/alerts/{id}/ack`: the acknowledgement is taken back.
async fn unack_alert(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 1);
    blocking(s, move |s| {
        let by = writer(s, &headers)?;
        if !s.store.unacknowledge(&id)? {
            return Err(AppError::NotFound(format!(
                "alert {id:?} is not acknowledged"
            )));
        }
        Ok(Json(serde_json::json!({ "id": id, "acknowledged": false, "by": by })).into_response())
    })
    .await
}

/// `POST /api/v1/runs`. The token is checked before a byte of the body is read, and a
/// declared length over the limit is refused at once: an unauthenticated client cannot make
/// the server hold its upload in memory. History is append-only: 201 for a new run, 200 for
/// the same run again (a retry), 409 for other content under a stored id.
async fn upload(
    State(s): State<Shared>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, AppError> {
    count(&s, 1);
    let limit = s.max_upload;
    let h = headers.clone();
    blocking(s.clone(), move |s| {
        writer(s, &h).map(|_| StatusCode::OK.into_response())
    })
    .await?;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::TooLarge(limit));
    }
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|e| {
        if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
        {
            AppError::TooLarge(limit)
        } else {
            AppError::BadRequest(format!("body: {e}"))
        }
    })?;
    blocking(s, move |s| {
        let text = std::str::from_utf8(&bytes)
            .map_err(|e| AppError::BadRequest(format!("body is not UTF-8: {e}")))?;
        let mut run = parse_upload(text)?;
        let warnings = perflab_model::sanitize(&mut run.benchmarks);
        let status = match s.store.insert_run(&run)? {
            perflab_store::Inserted::New => {
                crate::alerts::refresh_soon(s);
                StatusCode::CREATED
            }
            perflab_store::Inserted::Same => StatusCode::OK,
        };
        Ok((
            status,
            Json(serde_json::json!({ "id": run.id, "warnings": warnings })),
        )
            .into_response())
    })
    .await
}

/// An uploaded document: its id must be a run id (a UUID); a document without one gets a
/// new UUID v7 from the server.
fn parse_upload(text: &str) -> Result<Run, AppError> {
    #[derive(Deserialize)]
    struct Head {
        id: Option<serde::de::IgnoredAny>,
    }
    let bad = |e: perflab_model::ModelError| AppError::BadRequest(format!("body: {e}"));
    // Not an object at all: the full parse names the line and column.
    let absent = serde_json::from_str::<Head>(text).is_ok_and(|h| h.id.is_none());
    let run = if !absent {
        Run::from_json(text).map_err(bad)?
    } else {
        // Give it an id where the object opens: later errors keep their line.
        let open = text.find('{').unwrap_or(0) + 1;
        let (before, after) = text.split_at(open);
        let sep = if after.trim_start().starts_with('}') {
            ""
        } else {
            ","
        };
        let with_id = format!(
            "{before}\"id\":\"{}\"{sep}{after}",
            Run::new(perflab_model::RunKind::Import).id
        );
        Run::from_json(&with_id).map_err(bad)?
    };
    if !perflab_model::is_run_id(&run.id) {
        return Err(AppError::BadRequest(format!(
            "body: id {:?} is not a run id (a UUID such as perflab writes; leave it out and the server assigns one)",
            crate::shorten(&run.id, 40)
        )));
    }
    Ok(run)
}

#[derive(Debug, Deserialize)]
struct SeriesQuery {
    benchmark: String,
    metric: String,
    branch: Option<String>,
    since: Option<String>,
    until: Option<String>,
    /// The newest this many points.
    limit: Option<usize>,
}

async fn series(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<SeriesQuery>,
) -> Result<Response, AppError> {
    count(&s, 2);
    may_read(&s, &headers).await?;
    let since = query_time("since", q.since.as_deref())?;
    let until = query_time("until", q.until.as_deref())?;
    blocking(s, move |s| {
        let generation = s.store.generation()?;
        let key = format!(
            "series\0{}\0{}\0{:?}\0{since:?}\0{until:?}\0{:?}",
            q.benchmark, q.metric, q.branch, q.limit
        );
        let body = s
            .cache
            .get_or(key, (generation, 0), || -> Result<String, AppError> {
                let mut points = s
                    .store
                    .series(&q.benchmark, &q.metric, q.branch.as_deref())?;
                points.retain(|p| {
                    since.is_none_or(|t| p.time_unix_ms >= t)
                        && until.is_none_or(|t| p.time_unix_ms < t)
                });
                if let Some(n) = q.limit {
                    points.drain(..points.len().saturating_sub(n));
                }
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
                Ok(serde_json::to_string(&SeriesBody {
                    benchmark: &q.benchmark,
                    metric: &q.metric,
                    points: rows,
                })
                .expect("invariant: a series serialises"))
            })?;
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
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
    may_read(&s, &headers).await?;
    blocking(s, move |s| {
        let (base, current) = (stored(s, &q.base)?, stored(s, &q.current)?);
        let c = compare_stored(&base, &current)?;
        let body = perflab_report::render(
            perflab_report::Format::Json,
            &perflab_report::Document::Comparison(&c),
        )
        .map_err(|e| AppError::BadRequest(e.to_string()))?;
        Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
struct AlertsQuery {
    branch: Option<String>,
}

/// `GET /api/v1/alerts[?branch=]`: the change points (each with its branch and commit) and
/// the same alerts grouped by the commit that caused them.
async fn list_alerts(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<AlertsQuery>,
) -> Result<Response, AppError> {
    count(&s, 3);
    may_read(&s, &headers).await?;
    blocking(s, move |s| {
        let mut found = fresh_alerts(s)?;
        if let Some(b) = &q.branch {
            found.retain(|a| a.branch.as_deref() == Some(b.as_str()));
        }
        let groups = crate::alerts::group_alerts(&found);
        Ok(Json(serde_json::json!({
            "schema": "perflab.alerts.v1",
            "alerts": found,
            "groups": groups,
        }))
        .into_response())
    })
    .await
}

async fn metrics(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    // The medians are the history too: a scraper sends the read token (`authorization`).
    may_read(&s, &headers).await?;
    blocking(s, move |s| {
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
        let open = latest_alerts(s)?
            .1
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
    })
    .await
}
