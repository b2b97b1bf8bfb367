//! The dashboard: server-rendered HTML with inline SVG, no script and nothing fetched. Hover
//! text is an SVG `<title>`, choosing two points to compare is two plain links (the first
//! marks the base in the URL), and acknowledging an alert is a form. Pages are cached until
//! the store's generation moves.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use perflab_analysis::history::{Alert, Direction};
use perflab_model::history::Point;
use perflab_model::{Run, Unit};
use perflab_report::escape::html;
use perflab_report::html::{chart_point, comparison_section, page, report_body};
use perflab_report::svg::{self, Mark, Trend, TrendLine};
use perflab_report::ReportInput;
use perflab_store::{RunFilter, StoreError};
use serde::Deserialize;

use crate::alerts::{fresh_alerts, kept_generation, latest_alerts};
use crate::{
    blocking, compare_stored, count, may_see, same_secret, stored, token_hash, AppError, AppState,
    Shared,
};

const NAV: &[(&str, &str)] = &[
    ("/", "perflab"),
    ("/alerts", "Alerts"),
    ("/api/v1/runs", "API"),
    ("/metrics", "Metrics"),
];

/// The dashboard's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(index))
        .route("/bench", get(bench))
        .route("/alerts", get(alerts_page))
        .route("/alerts/{id}/ack", post(ack_form))
        .route("/run/{id}", get(run_page))
        .route("/compare", get(compare_page))
        .route("/login", get(login_page).post(login))
}

/// `a=b&c=d` with every value percent-encoded.
fn query(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn html_response(body: axum::body::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response()
}

/// A page from the cache, made by `make` when the history moved since.
fn cached_page(
    s: &AppState,
    key: String,
    make: impl FnOnce() -> Result<String, AppError>,
) -> Result<Response, AppError> {
    let version = (s.store.generation()?, kept_generation(s));
    Ok(html_response(s.cache.get_or(key, version, make)?))
}

fn short(commit: &str) -> String {
    commit.chars().take(10).collect()
}

async fn index(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    count(&s, 0);
    may_see(&s, &headers)?;
    blocking(s, move |s| {
        cached_page(s, "index".into(), || {
            let series = s.store.recent_series(30)?;
            let alerts = latest_alerts(s)?.1;
            let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for a in alerts.iter().filter(|a| !a.acknowledged) {
                *open.entry((&a.benchmark, &a.metric)).or_default() += 1;
            }
            let mut body = format!(
                "<h1>Benchmarks</h1><p class=\"note\">{} series; click one for its history.</p>\
    <table class=\"series\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Latest</th>\
    <th>Trend (last 30 runs)</th><th class=\"num\">Open alerts</th></tr></thead><tbody>",
                series.len()
            );
            for se in &series {
                let Some(last) = se.points.last() else {
                    continue;
                };
                let unit = Unit(last.unit.clone());
                let tail: Vec<f64> = se.points.iter().map(|p| p.median).collect();
                let alerts = open
                    .get(&(se.benchmark.as_str(), se.metric.as_str()))
                    .copied()
                    .unwrap_or(0);
                let _ = write!(
                    body,
                    "<tr><td><a href=\"/bench?{}\">{}</a></td><td>{}</td><td class=\"num\">{}</td><td>{}</td>\
    <td class=\"num{}\">{alerts}</td></tr>",
                    html(&query(&[("benchmark", &se.benchmark), ("metric", &se.metric)])),
                    html(&se.benchmark),
                    html(&se.metric),
                    html(&unit.format(last.median)),
                    svg::sparkline(&tail),
                    if alerts > 0 { " regression" } else { "" }
                );
            }
            body.push_str("</tbody></table>");
            body.push_str(&recent_runs(s)?);
            Ok(page("perflab: benchmarks", NAV, &body))
        })
    })
    .await
}

fn recent_runs(s: &AppState) -> Result<String, StoreError> {
    let runs = s.store.list_runs(&RunFilter {
        limit: 20,
        ..RunFilter::default()
    })?;
    let mut out = String::from(
        "<h2>Recent runs</h2><table class=\"runs\"><thead><tr><th>Run</th><th>Kind</th><th>Date</th>\
<th>Branch</th><th>Commit</th><th class=\"num\">Benchmarks</th></tr></thead><tbody>",
    );
    for r in &runs {
        let _ = write!(
            out,
            "<tr><td><a href=\"/run/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code></td><td class=\"num\">{}</td></tr>",
            html(&seg(&r.id)),
            html(&r.id),
            html(&r.kind),
            html(&r.started_at),
            html(r.branch.as_deref().unwrap_or("")),
            html(&short(r.commit.as_deref().unwrap_or(""))),
            r.benchmarks
        );
    }
    out.push_str("</tbody></table>");
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct BenchQuery {
    benchmark: String,
    metric: String,
    branch: Option<String>,
    base: Option<String>,
}

async fn bench(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<BenchQuery>,
) -> Result<Response, AppError> {
    count(&s, 2);
    may_see(&s, &headers)?;
    blocking(s, move |s| {
        let key = format!(
            "bench\0{}\0{}\0{:?}\0{:?}",
            q.benchmark, q.metric, q.branch, q.base
        );
        cached_page(s, key, || {
            let points = s
                .store
                .series(&q.benchmark, &q.metric, q.branch.as_deref())?;
            if points.is_empty() {
                return Err(AppError::NotFound(format!(
                    "no points for benchmark {:?} metric {:?}",
                    q.benchmark, q.metric
                )));
            }
            let alerts = latest_alerts(s)?.1;
            Ok(bench_page(&q, &points, &alerts))
        })
    })
    .await
}

fn bench_page(q: &BenchQuery, points: &[Point], alerts: &[Alert]) -> String {
    let unit = Unit(points[0].unit.clone());
    let here = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("benchmark", q.benchmark.as_str()),
            ("metric", q.metric.as_str()),
        ];
        if let Some(b) = &q.branch {
            pairs.push(("branch", b));
        }
        pairs.extend_from_slice(extra);
        format!("/bench?{}", query(&pairs))
    };
    // One line per branch, in order of first appearance.
    let mut lines: Vec<TrendLine> = Vec::new();
    for p in points {
        let label = p.branch.clone().unwrap_or_else(|| "(no branch)".into());
        let mut cp = chart_point(p, p.time_unix_ms as f64);
        cp.selected = q.base.as_deref() == Some(p.run_id.as_str());
        cp.href = Some(match &q.base {
            Some(base) if *base != p.run_id => {
                format!(
                    "/compare?{}",
                    query(&[("base", base), ("current", &p.run_id)])
                )
            }
            _ => here(&[("base", &p.run_id)]),
        });
        match lines.iter_mut().find(|l| l.label == label) {
            Some(l) => l.points.push(cp),
            None => lines.push(TrendLine {
                label,
                points: vec![cp],
            }),
        }
    }
    let marks: Vec<Mark> = alerts
        .iter()
        .filter(|a| a.benchmark == q.benchmark && a.metric == q.metric)
        .filter_map(|a| {
            let p = points.iter().find(|p| p.run_id == a.run_id)?;
            Some(Mark {
                x: p.time_unix_ms as f64,
                title: format!(
                    "change point: {:+.1}% from run {} (p = {:.2e}){}",
                    a.change * 100.0,
                    a.run_id,
                    a.p_value,
                    if a.acknowledged { ", acknowledged" } else { "" }
                ),
                regression: a.direction == Direction::Regression,
            })
        })
        .collect();
    let time = |p: &Point| perflab_model::format_rfc3339(p.time_unix_ms.div_euclid(1000), 0);
    let first = points.first().map(time).unwrap_or_default();
    let last = points.last().map(time).unwrap_or_default();
    let mut body = format!("<h1>{} · {}</h1>", html(&q.benchmark), html(&q.metric));
    let mut branches: Vec<&str> = points.iter().filter_map(|p| p.branch.as_deref()).collect();
    branches.sort_unstable();
    branches.dedup();
    body.push_str("<p>Branches: ");
    let _ = write!(
        body,
        "<a href=\"{}\">all</a>",
        html(&format!(
            "/bench?{}",
            query(&[("benchmark", &q.benchmark), ("metric", &q.metric)])
        ))
    );
    for b in branches {
        let _ = write!(
            body,
            " · <a href=\"{}\">{}</a>",
            html(&format!(
                "/bench?{}",
                query(&[
                    ("benchmark", &q.benchmark),
                    ("metric", &q.metric),
                    ("branch", b)
                ])
            )),
            html(b)
        );
    }
    body.push_str("</p>");
    match &q.base {
        Some(base) => {
            let _ = write!(
                body,
                "<p class=\"note\">Base: run <a href=\"/run/{}\">{}</a>. Click another point to compare it with this one (<a href=\"{}\">clear</a>).</p>",
                html(&seg(base)),
                html(base),
                html(&here(&[]))
            );
        }
        None => body.push_str(
            "<p class=\"note\">Median and 95% interval per run; dashed lines are change points. Click a point to choose it as the base, then another to compare them.</p>",
        ),
    }
    body.push_str(&svg::trend(&Trend {
        unit: &unit,
        lines,
        marks,
        x_labels: (first, last),
    }));
    body.push_str(
        "<h2>Runs</h2><table class=\"points\"><thead><tr><th>Date</th><th>Run</th><th>Branch</th>\
<th>Commit</th><th class=\"num\">Median</th><th class=\"num\">n</th></tr></thead><tbody>",
    );
    for p in points.iter().rev().take(50) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/run/{}\">{}</a></td><td>{}</td><td><code>{}</code></td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            html(&time(p)),
            html(&seg(&p.run_id)),
            html(&p.run_id),
            html(p.branch.as_deref().unwrap_or("")),
            html(&short(p.commit.as_deref().unwrap_or(""))),
            html(&perflab_report::median_pm(
                &unit,
                p.median,
                p.ci_low.unwrap_or(f64::NEG_INFINITY),
                p.ci_high.unwrap_or(f64::INFINITY)
            )),
            p.n
        );
    }
    body.push_str("</tbody></table>");
    page(
        &format!("perflab: {} {}", q.benchmark, q.metric),
        NAV,
        &body,
    )
}

async fn alerts_page(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    count(&s, 3);
    may_see(&s, &headers)?;
    blocking(s, move |s| {
        cached_page(s, "alerts".into(), || {
            let alerts = latest_alerts(s)?.1;
            let mut body = format!(
                "<h1>Alerts</h1><p class=\"note\">{} change points in the history ({} open): persistent shifts found by E-Divisive means, as Apache Otava finds them.</p>\
    <table class=\"alerts\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Change</th><th class=\"num\">p</th>\
    <th>Direction</th><th>First run after</th><th>Status</th></tr></thead><tbody>",
                alerts.len(),
                alerts.iter().filter(|a| !a.acknowledged).count()
            );
            for a in alerts.iter() {
                let dir = match a.direction {
                    Direction::Regression => "regression",
                    Direction::Improvement => "improvement",
                };
                let status = if a.acknowledged {
                    "acknowledged".to_string()
                } else {
                    format!(
                        "<form method=\"post\" action=\"/alerts/{}/ack\"><input type=\"password\" name=\"token\" placeholder=\"token\" autocomplete=\"off\" required> <button>Acknowledge</button></form>",
                        html(&seg(&a.id))
                    )
                };
                let _ = write!(
                    body,
                    "<tr class=\"alert\" data-id=\"{}\"><td><a href=\"/bench?{}\">{}</a></td><td>{}</td><td class=\"num {dir}\">{:+.1}%</td>\
    <td class=\"num\">{:.2e}</td><td class=\"{dir}\">{dir}</td><td><a href=\"/run/{}\">{}</a></td><td>{status}</td></tr>",
                    html(&a.id),
                    html(&query(&[("benchmark", &a.benchmark), ("metric", &a.metric)])),
                    html(&a.benchmark),
                    html(&a.metric),
                    a.change * 100.0,
                    a.p_value,
                    html(&seg(&a.run_id)),
                    html(&a.run_id)
                );
            }
            body.push_str("</tbody></table>");
            Ok(page("perflab: alerts", NAV, &body))
        })
    })
    .await
}

#[derive(Debug, Deserialize)]
struct AckForm {
    token: String,
}

/// The alerts page's form: the token in the body instead of a header, then back to the page.
async fn ack_form(
    State(s): State<Shared>,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> Result<Response, AppError> {
    count(&s, 1);
    blocking(s, move |s| {
        let by = s
            .store
            .token_name(&token_hash(f.token.trim()))?
            .ok_or(AppError::Unauthorized)?;
        if !fresh_alerts(s)?.iter().any(|a| a.id == id) {
            return Err(AppError::NotFound(format!("no alert {id:?}")));
        }
        s.store.acknowledge(&id, &by)?;
        Ok(Redirect::to("/alerts").into_response())
    })
    .await
}

async fn run_page(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_see(&s, &headers)?;
    blocking(s, move |s| {
        cached_page(s, format!("run\0{id}"), || {
            let run = stored(s, &id)?;
            // An A/B run compares its two sides; any other run the run before it on the same
            // branch, of the same kind.
            let comparison = match &run.ab {
                Some(ab) => {
                    let short = |c: &str| c.chars().take(8).collect::<String>();
                    let opts = perflab_analysis::CompareOptions {
                        base_label: format!("{} ({})", ab.base.rev, short(&ab.base.commit)),
                        current_label: format!(
                            "{} ({})",
                            ab.current.rev,
                            short(&ab.current.commit)
                        ),
                        ..Default::default()
                    };
                    perflab_analysis::compare(&ab.base_benchmarks, &run.benchmarks, &opts)
                        .ok()
                        .map(|c| (format!("its base side, {}", opts.base_label), c))
                }
                None => s
                    .store
                    .previous_run(&run, &mut Vec::new())?
                    .and_then(|base| {
                        compare_stored(&base, &run)
                            .ok()
                            .map(|c| (format!("the previous run {}", base.id), c))
                    }),
            };
            let (targets, _) = perflab_analysis::check(&run.benchmarks, &s.targets);
            let input = ReportInput {
                run: &run,
                targets,
                comparison,
                history: recent_history(s, &run)?,
            };
            Ok(page(
                &format!("perflab: run {}", run.id),
                NAV,
                &report_body(&input),
            ))
        })
    })
    .await
}

/// The run's first 10 series, each over its newest 100 runs: enough for a trend, and a page
/// that stays small and quick on a long history.
fn recent_history(
    s: &AppState,
    run: &Run,
) -> Result<Vec<perflab_model::history::Series>, StoreError> {
    let mut history = s.store.history_of(run, 10)?;
    for h in &mut history {
        let cut = h.points.len().saturating_sub(100);
        h.points.drain(..cut);
    }
    Ok(history)
}

#[derive(Debug, Deserialize)]
struct CompareQuery {
    base: String,
    current: String,
}

async fn compare_page(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<CompareQuery>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_see(&s, &headers)?;
    blocking(s, move |s| {
        cached_page(s, format!("compare\0{}\0{}", q.base, q.current), || {
            let (base, current) = (stored(s, &q.base)?, stored(s, &q.current)?);
            let c = compare_stored(&base, &current)?;
            let body = format!(
                "<h1>Run <a href=\"/run/{}\">{}</a> vs run <a href=\"/run/{}\">{}</a></h1>{}",
                html(&seg(&base.id)),
                html(&base.id),
                html(&seg(&current.id)),
                html(&current.id),
                comparison_section(&c)
            );
            Ok(page("perflab: compare", NAV, &body))
        })
    })
    .await
}

async fn login_page() -> Response {
    let body = "<h1>Read token</h1><p class=\"note\">This server was started with <code>--read-token</code>.</p>\
<form method=\"post\" action=\"/login\"><input type=\"password\" name=\"token\" placeholder=\"read token\" autocomplete=\"current-password\" required> <button>Open the dashboard</button></form>";
    html_response(page("perflab: read token", &[], body).into())
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// Check the read token and keep it in a cookie the browser sends back (HttpOnly, this site
/// only), then on to the dashboard.
async fn login(State(s): State<Shared>, Form(f): Form<LoginForm>) -> Result<Response, AppError> {
    let token = f.token.trim();
    match &s.read_token {
        Some(t) if same_secret(token, t) => {
            let mut res = Redirect::to("/").into_response();
            let cookie = format!("perflab_read={token}; Path=/; HttpOnly; SameSite=Strict");
            let value =
                header::HeaderValue::from_str(&cookie).map_err(|_| AppError::Unauthorized)?;
            res.headers_mut().insert(header::SET_COOKIE, value);
            Ok(res)
        }
        Some(_) => Err(AppError::Unauthorized),
        None => Ok(Redirect::to("/").into_response()),
    }
}
