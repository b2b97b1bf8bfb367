//! One server, several repositories: each project's runs, series, alerts and pages are its
//! own; the unprefixed routes are the `default` project. `oneshot` over real SQLite stores.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_store::{SqliteStore, Store};
use perflab_web::{app, token_hash, AppState, Projects};
use tower::ServiceExt as _;

fn run(name: &str, median: f64, day: usize) -> Run {
    let mut r = Run::new(RunKind::Bench);
    r.started_at = format!("2026-11-{day:02}T00:00:00Z");
    let mut b = Benchmark::new(name);
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        vec![median, median * 1.001, median * 0.999],
    ));
    r.benchmarks.push(b);
    r
}

async fn call(st: &Arc<AppState>, req: Request<Body>) -> (StatusCode, String) {
    let res = app(st.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn upload(path: &str, run: &Run) -> Request<Body> {
    Request::post(path)
        .header("authorization", "Bearer s3cret")
        .body(Body::from(run.to_json()))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn projects_never_mix() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("history.db");
    let store = SqliteStore::open(&path).unwrap();
    store.save_token("ci", &token_hash("s3cret")).unwrap();
    let mut st = AppState::new(Arc::new(store));
    st.projects = Some(Projects::new(path.to_string_lossy()));
    let st = Arc::new(st);
    // The default project gets "Parse"; project alpha gets "Alpha" with a 50% step.
    assert_eq!(
        call(&st, upload("/api/v1/runs", &run("Parse", 1e-3, 1)))
            .await
            .0,
        StatusCode::CREATED
    );
    for i in 0..12 {
        let r = run("Alpha", if i < 6 { 1e-3 } else { 1.5e-3 }, i + 1);
        let (status, body) = call(&st, upload("/api/v1/projects/alpha/runs", &r)).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, body) = call(&st, get("/api/v1/projects")).await;
    assert_eq!(body, r#"{"projects":["default","alpha"]}"#);
    let count = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body)
            .unwrap()
            .as_array()
            .unwrap()
            .len()
    };
    assert_eq!(count(&call(&st, get("/api/v1/runs")).await.1), 1);
    assert_eq!(
        count(&call(&st, get("/api/v1/projects/alpha/runs")).await.1),
        12
    );
    assert_eq!(
        count(&call(&st, get("/api/v1/projects/default/runs")).await.1),
        1
    );
    let (_, series) = call(
        &st,
        get("/api/v1/projects/alpha/series?benchmark=Alpha&metric=time"),
    )
    .await;
    assert!(series.contains("\"benchmark\":\"Alpha\""), "{series}");
    let (_, series) = call(&st, get("/api/v1/series?benchmark=Alpha&metric=time")).await;
    assert!(series.contains("\"points\":[]"), "{series}");
    let (_, alerts) = call(&st, get("/api/v1/projects/alpha/alerts")).await;
    assert!(alerts.contains("\"benchmark\":\"Alpha\""), "{alerts}");
    let (_, alerts) = call(&st, get("/api/v1/alerts")).await;
    assert!(!alerts.contains("Alpha"), "{alerts}");
    // Unknown and bad names; uploads need the server's token.
    assert_eq!(
        call(&st, get("/api/v1/projects/beta/runs")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&st, get("/api/v1/projects/..%2Fetc/runs")).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        call(&st, get("/api/v1/projects/UPPER/runs")).await.0,
        StatusCode::BAD_REQUEST
    );
    let anonymous = Request::post("/api/v1/projects/beta/runs")
        .body(Body::from(run("B", 1.0, 1).to_json()))
        .unwrap();
    assert_eq!(call(&st, anonymous).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&st, get("/api/v1/projects")).await.1,
        r#"{"projects":["default","alpha"]}"#
    );
    // Pages: the default index picks projects; a project's pages link within it.
    let (_, index) = call(&st, get("/")).await;
    assert!(index.contains("href=\"/p/alpha/\""), "{index}");
    let (status, page) = call(&st, get("/p/alpha/")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        page.contains("href=\"/p/alpha/bench?benchmark=Alpha"),
        "{page}"
    );
    assert!(page.contains("href=\"/p/alpha/alerts\""), "{page}");
    assert!(
        page.contains("href=\"/api/v1/projects/alpha/runs\""),
        "{page}"
    );
    assert!(!page.contains("Parse"), "{page}");
    let (status, page) = call(&st, get("/p/alpha/alerts")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Alpha"), "{page}");
}
