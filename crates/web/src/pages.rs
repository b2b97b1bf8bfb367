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
        .route("/alerts/{id}/unack", post(unack_form))
        .route("/logout", post(logout))
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

pub(crate) fn seg(s: &str) -> String {
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

/// A commit, shortened, linked to its page when `[serve] commit_url` says where that is.
fn commit_cell(template: Option<&str>, commit: Option<&str>) -> String {
    let Some(c) = commit.filter(|c| !c.is_empty()) else {
        return String::new();
    };
    let code = format!("<code>{}</code>", html(&short(c)));
    // Only a commit that looks like one goes into a URL.
    match template.filter(|_| c.bytes().all(|b| b.is_ascii_alphanumeric())) {
        Some(t) => format!("<a href=\"{}\">{code}</a>", html(&t.replace("{commit}", c))),
        None => code,
    }
}

#[derive(Debug, Deserialize)]
struct IndexQuery {
    /// Show the series whose benchmark or metric contains this (any case).
    q: Option<String>,
}

/// The group a benchmark is listed under: its Go package (`pkg=`) when it has one, else the
/// first part of its name (`parse` of `parse/n=10`).
fn group_of(benchmark: &str) -> String {
    // pkg=example.com/json/procs=2: the value runs until the next `/key=`.
    let parts: Vec<&str> = benchmark.split('/').collect();
    if let Some(i) = parts.iter().position(|p| p.starts_with("pkg=")) {
        let mut pkg = parts[i]["pkg=".len()..].to_string();
        for p in parts[i + 1..].iter().take_while(|p| !p.contains('=')) {
            pkg.push('/');
            pkg.push_str(p);
        }
        return pkg;
    }
    let head = benchmark.split(['/', '.', ':']).next().unwrap_or(benchmark);
    if head.len() < benchmark.len() {
        head.to_string()
    } else {
        String::new()
    }
}

async fn index(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(iq): Query<IndexQuery>,
) -> Result<Response, AppError> {
    count(&s, 0);
    may_see(&s, &headers).await?;
    blocking(s, move |s| {
        let projects = match &s.projects {
            Some(p) => p.names()?,
            None => Vec::new(),
        };
        let filter = iq.q.as_deref().map(str::trim).filter(|q| !q.is_empty()).map(str::to_lowercase);
        let key = format!("index\0{}\0{:?}", projects.join("\0"), filter);
        cached_page(s, key, || {
            let mut series = s.store.recent_series(30)?;
            let total = series.len();
            if let Some(f) = &filter {
                series.retain(|se| {
                    se.benchmark.to_lowercase().contains(f.as_str())
                        || se.metric.to_lowercase().contains(f.as_str())
                });
            }
            // Grouped (by package, or the name's first part), then by name.
            series.sort_by_cached_key(|se| (group_of(&se.benchmark), se.benchmark.clone(), se.metric.clone()));
            let alerts = latest_alerts(s)?.1;
            let mut open: BTreeMap<(&str, &str), usize> = BTreeMap::new();
            for a in alerts.iter().filter(|a| !a.acknowledged) {
                *open.entry((&a.benchmark, &a.metric)).or_default() += 1;
            }
            let mut body = String::new();
            if projects.len() > 1 {
                body.push_str("<nav class=\"projects\">Projects:");
                for p in &projects {
                    let href = if p == "default" {
                        "/".to_string()
                    } else {
                        format!("/p/{}/", seg(p))
                    };
                    let _ = write!(body, " <a href=\"{}\">{}</a>", html(&href), html(p));
                }
                body.push_str("</nav>");
            }
            let shown = match &filter {
                Some(_) => format!("{} of {total} series", series.len()),
                None => format!("{total} series"),
            };
            let _ = write!(
                body,
                "<h1>Benchmarks</h1><form class=\"search\" method=\"get\" action=\"/\"><input type=\"search\" name=\"q\" value=\"{}\" placeholder=\"benchmark or metric\"> <button>Search</button></form>\
<p class=\"note\">{shown}; click one for its history.</p>\
    <table class=\"series\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Latest</th>\
    <th>Trend (last 30 runs)</th><th class=\"num\">Open alerts</th></tr></thead><tbody>",
                html(iq.q.as_deref().unwrap_or(""))
            );
            let mut group: Option<String> = None;
            for se in &series {
                let g = group_of(&se.benchmark);
                if group.as_ref() != Some(&g) {
                    let n = series.iter().filter(|o| group_of(&o.benchmark) == g).count();
                    let label = if g.is_empty() { "(other)" } else { g.as_str() };
                    let _ = write!(
                        body,
                        "<tr class=\"group\"><th colspan=\"5\">{} <span class=\"note\">{n}</span></th></tr>",
                        html(label)
                    );
                    group = Some(g);
                }
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
            "<tr><td><a href=\"/run/{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            html(&seg(&r.id)),
            html(&r.id),
            html(&r.kind),
            html(&r.started_at),
            html(r.branch.as_deref().unwrap_or("")),
            commit_cell(s.commit_url.as_deref(), r.commit.as_deref()),
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
    /// Only the newest this many runs.
    last: Option<usize>,
}

async fn bench(
    State(s): State<Shared>,
    headers: HeaderMap,
    Query(q): Query<BenchQuery>,
) -> Result<Response, AppError> {
    count(&s, 2);
    may_see(&s, &headers).await?;
    blocking(s, move |s| {
        let key = format!(
            "bench\0{}\0{}\0{:?}\0{:?}\0{:?}",
            q.benchmark, q.metric, q.branch, q.base, q.last
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
            Ok(bench_page(
                &q,
                &points,
                &alerts,
                s.commit_url.as_deref(),
                &s.targets,
            ))
        })
    })
    .await
}

fn bench_page(
    q: &BenchQuery,
    all: &[Point],
    alerts: &[Alert],
    commit_url: Option<&str>,
    targets: &[perflab_analysis::Target],
) -> String {
    // The targets of `perflab.toml` that name this series, drawn across the chart.
    let mut levels = Vec::new();
    for t in targets.iter().filter(|t| {
        t.metric == q.metric
            && perflab_analysis::benchmark_matches(&t.benchmark, &q.benchmark, &Default::default())
    }) {
        levels.push(svg::HLine {
            y: t.target.value,
            label: format!("target {}", t.target.text),
            critical: false,
        });
        if let Some(c) = &t.critical {
            levels.push(svg::HLine {
                y: c.value,
                label: format!("critical {}", c.text),
                critical: true,
            });
        }
    }
    // The range picker: the newest N runs, or all of them.
    let points = &all[all.len().saturating_sub(q.last.unwrap_or(usize::MAX))..];
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
    body.push_str("</p><p>Range: ");
    for (i, (label, n)) in [
        ("last 30 runs", Some(30)),
        ("last 90", Some(90)),
        ("all", None),
    ]
    .into_iter()
    .enumerate()
    {
        let href = match n {
            Some(n) => here(&[("last", &n.to_string())]),
            None => here(&[]),
        };
        let current = q.last == n;
        let _ = write!(
            body,
            "{}{}<a href=\"{}\">{label}</a>{}",
            if i > 0 { " · " } else { "" },
            if current { "<b>" } else { "" },
            html(&href),
            if current { "</b>" } else { "" },
        );
    }
    let _ = write!(body, " ({} of {} runs shown)</p>", points.len(), all.len());
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
        x_is_time: true,
        levels,
        from_zero: false,
    }));
    body.push_str(
        "<h2>Runs</h2><table class=\"points\"><thead><tr><th>Date</th><th>Run</th><th>Branch</th>\
<th>Commit</th><th class=\"num\">Median</th><th class=\"num\">n</th></tr></thead><tbody>",
    );
    for p in points.iter().rev().take(50) {
        let _ = write!(
            body,
            "<tr><td>{}</td><td><a href=\"/run/{}\">{}</a></td><td>{}</td><td>{}</td>\
<td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            html(&time(p)),
            html(&seg(&p.run_id)),
            html(&p.run_id),
            html(p.branch.as_deref().unwrap_or("")),
            commit_cell(commit_url, p.commit.as_deref()),
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
    may_see(&s, &headers).await?;
    let viewer = crate::session_of(&s, &headers).await?;
    blocking(s, move |s| {
        // The forms depend on who looks: one cached page per signed-in name.
        let who = viewer
            .as_ref()
            .filter(|v| v.can_write)
            .map(|v| v.name.clone());
        let key = format!("alerts\0{}", who.as_deref().unwrap_or(""));
        cached_page(s, key, || {
            Ok(alerts_body(&latest_alerts(s)?.1, who.as_deref()))
        })
    })
    .await
}

/// The alerts page: groups (one per commit and branch) with their alerts, each with its
/// acknowledgement (who and when, and a form to undo it) or a button to acknowledge it.
fn alerts_body(alerts: &[Alert], who: Option<&str>) -> String {
    let groups = crate::alerts::group_alerts(alerts);
    let by_id: BTreeMap<&str, &Alert> = alerts.iter().map(|a| (a.id.as_str(), a)).collect();
    let mut body = format!(
        "<h1>Alerts</h1><p class=\"note\">{} change point{} in {} group{} ({} open): persistent shifts of a benchmark on one branch, found by E-Divisive means as Apache Otava finds them, grouped by the commit that caused them.</p>",
        alerts.len(),
        if alerts.len() == 1 { "" } else { "s" },
        groups.len(),
        if groups.len() == 1 { "" } else { "s" },
        alerts.iter().filter(|a| !a.acknowledged).count()
    );
    match who {
        Some(name) => {
            let _ = write!(
                body,
                "<form class=\"session\" method=\"post\" action=\"/logout\">Signed in as <b>{}</b> <button>Sign out</button></form>",
                html(name)
            );
        }
        None => body.push_str(
            "<p class=\"note\"><a href=\"/login\">Sign in with your token</a> to acknowledge alerts.</p>",
        ),
    }
    for g in &groups {
        let dir = if g.regressions > 0 {
            "regression"
        } else {
            "improvement"
        };
        let commit = g.commit.as_deref().map(short).unwrap_or_default();
        let _ = write!(
            body,
            "<section class=\"group\" data-id=\"{}\"><h2 class=\"{dir}\">{} regression{}, {} improvement{} · {} <code>{}</code> · <a href=\"/run/{}\">run</a>{}</h2>\
<table class=\"alerts\"><thead><tr><th>Benchmark</th><th>Metric</th><th class=\"num\">Change</th><th class=\"num\">p</th><th>Direction</th><th>Status</th></tr></thead><tbody>",
            html(&g.id),
            g.regressions,
            if g.regressions == 1 { "" } else { "s" },
            g.improvements,
            if g.improvements == 1 { "" } else { "s" },
            html(g.branch.as_deref().unwrap_or("(no branch)")),
            html(&commit),
            html(&seg(&g.run_id)),
            if g.acknowledged { " · acknowledged" } else { "" },
        );
        for id in &g.alerts {
            let Some(a) = by_id.get(id.as_str()) else {
                continue;
            };
            let dir = match a.direction {
                Direction::Regression => "regression",
                Direction::Improvement => "improvement",
            };
            let status = match (&a.acknowledged_by, who) {
                (Some(by), Some(_)) => format!(
                    "acknowledged by {} {} <form method=\"post\" action=\"/alerts/{}/unack\"><button>Undo</button></form>",
                    html(by),
                    html(&a.acknowledged_at.as_deref().map(|t| t.chars().take(16).collect::<String>()).unwrap_or_default()),
                    html(&seg(&a.id))
                ),
                (Some(by), None) => format!(
                    "acknowledged by {} {}",
                    html(by),
                    html(&a.acknowledged_at.as_deref().map(|t| t.chars().take(16).collect::<String>()).unwrap_or_default())
                ),
                (None, Some(_)) => format!(
                    "<form method=\"post\" action=\"/alerts/{}/ack\"><button>Acknowledge</button></form>",
                    html(&seg(&a.id))
                ),
                (None, None) => "open".to_string(),
            };
            let around = query(&[
                ("benchmark", &a.benchmark),
                ("metric", &a.metric),
                ("branch", a.branch.as_deref().unwrap_or("")),
                ("base", &a.run_id),
            ]);
            let _ = write!(
                body,
                "<tr class=\"alert\" data-id=\"{}\"><td><a href=\"/bench?{}\">{}</a></td><td>{}</td><td class=\"num {dir}\">{:+.1}%</td>\
<td class=\"num\">{:.2e}</td><td class=\"{dir}\">{dir}</td><td>{status}</td></tr>",
                html(&a.id),
                html(&around),
                html(&a.benchmark),
                html(&a.metric),
                a.change * 100.0,
                a.p_value,
            );
        }
        body.push_str("</tbody></table></section>");
    }
    page("perflab: alerts", NAV, &body)
}

#[derive(Debug, Deserialize)]
struct AckForm {
    /// An upload token, for a form posted without a session (kept for scripts).
    #[serde(default)]
    token: Option<String>,
}

/// Who may acknowledge from a browser: a signed-in session opened with a named token, or a
/// named token in the form itself.
async fn acknowledger(s: &Shared, headers: &HeaderMap, form: &AckForm) -> Result<String, AppError> {
    if let Some(token) = form
        .token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        let hash = token_hash(token);
        let st = s.clone();
        return match tokio::task::spawn_blocking(move || st.auth.token_name(&hash)).await {
            Ok(Ok(Some(name))) => Ok(name),
            Ok(Ok(None)) => Err(AppError::Unauthorized),
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(AppError::Internal(e.to_string())),
        };
    }
    match crate::session_of(s, headers).await? {
        Some(v) if v.can_write => Ok(v.name),
        _ => Err(AppError::Login),
    }
}

/// The alerts page's Acknowledge button, then back to the page.
async fn ack_form(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> Result<Response, AppError> {
    count(&s, 1);
    let by = acknowledger(&s, &headers, &f).await?;
    blocking(s, move |s| {
        if !fresh_alerts(s)?.iter().any(|a| a.id == id) {
            return Err(AppError::NotFound(format!("no alert {id:?}")));
        }
        s.store.acknowledge(&id, &by)?;
        Ok(Redirect::to("/alerts").into_response())
    })
    .await
}

/// The Undo button: the acknowledgement is taken back.
async fn unack_form(
    State(s): State<Shared>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(f): Form<AckForm>,
) -> Result<Response, AppError> {
    count(&s, 1);
    acknowledger(&s, &headers, &f).await?;
    blocking(s, move |s| {
        s.store.unacknowledge(&id)?;
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
    may_see(&s, &headers).await?;
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
            // A title a person tells apart in tabs and history: kind, branch, commit, date.
            let git = run.git.as_ref();
            let title = format!(
                "perflab: {} run {}{}{} {}",
                run.kind.as_str(),
                run.id.chars().take(8).collect::<String>(),
                git.and_then(|g| g.branch.as_deref())
                    .map_or(String::new(), |b| format!(" on {b}")),
                git.map_or(String::new(), |g| format!(" at {}", short(&g.commit))),
                run.started_at.chars().take(10).collect::<String>(),
            );
            Ok(page(&title, NAV, &report_body(&input)))
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
    may_see(&s, &headers).await?;
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
    let body = "<h1>Sign in</h1><p class=\"note\">The read token opens the dashboard; your own token (<code>perflab token create NAME</code>) also lets you acknowledge alerts, under your name.</p>\
<form method=\"post\" action=\"/login\"><input type=\"password\" name=\"token\" placeholder=\"token\" autocomplete=\"current-password\" required> <button>Sign in</button></form>";
    html_response(page("perflab: sign in", &[], body).into())
}

#[derive(Debug, Deserialize)]
struct LoginForm {
    token: String,
}

/// Whether the request came over https (directly or through a proxy that says so): the
/// session cookie is then `Secure`.
fn over_https(headers: &HeaderMap) -> bool {
    headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

/// A session for the read token (may read) or a named token (may also acknowledge, as that
/// name): a random id in an HttpOnly, same-site cookie, its hash in the store, ending after
/// `session_ttl`. The token itself never goes into a cookie.
async fn login(
    State(s): State<Shared>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, AppError> {
    let token = f.token.trim().to_string();
    let secure = over_https(&headers);
    blocking(s, move |s| {
        let reader = s
            .read_token
            .as_deref()
            .is_some_and(|t| same_secret(&token, t));
        let named = s.auth.token_name(&token_hash(&token))?;
        let (name, can_write) = match (named, reader) {
            (Some(name), _) => (name, true),
            (None, true) => ("reader".to_string(), false),
            (None, false) => return Err(AppError::Unauthorized),
        };
        let id = crate::new_token().map_err(|e| AppError::Internal(e.to_string()))?;
        let ttl = s.session_ttl;
        s.auth.save_session(
            &token_hash(&id),
            &perflab_store::Session {
                name,
                can_write,
                expires_unix_ms: perflab_model::now_unix_ms()
                    + i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX / 2),
            },
        )?;
        let cookie = format!(
            "{}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
            crate::SESSION_COOKIE,
            ttl.as_secs(),
            if secure { "; Secure" } else { "" }
        );
        let mut res = Redirect::to("/").into_response();
        let value = header::HeaderValue::from_str(&cookie)
            .map_err(|e| AppError::Internal(e.to_string()))?;
        res.headers_mut().insert(header::SET_COOKIE, value);
        Ok(res)
    })
    .await
}

/// Sign out: the session ends in the store and the cookie is cleared.
async fn logout(State(s): State<Shared>, headers: HeaderMap) -> Result<Response, AppError> {
    let id = crate::session_cookie(&headers).map(str::to_string);
    blocking(s, move |s| {
        if let Some(id) = id {
            s.auth.delete_session(&token_hash(&id))?;
        }
        let mut res = Redirect::to("/login").into_response();
        res.headers_mut().insert(
            header::SET_COOKIE,
            header::HeaderValue::from_static(
                "perflab_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            ),
        );
        Ok(res)
    })
    .await
}
