//! What an upload or a request may contain without breaking the server or rewriting history:
//! multi-byte text where pages shorten it, an id reused with other content, ids that are not
//! ids, bad query strings and bodies (answered in JSON), and the security headers every
//! response carries. `oneshot` over a real SQLite store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use perflab_model::{Benchmark, GitInfo, Metric, Run, RunKind, Unit};
use perflab_store::{SqliteStore, Store};
use perflab_web::{app, token_hash, AppState};
use tower::ServiceExt as _;

fn state(tune: impl FnOnce(&mut AppState)) -> (Arc<AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    store.save_token("ci", &token_hash("s3cret")).unwrap();
    let mut st = AppState::new(Arc::new(store));
    st.max_upload = 64 * 1024;
    tune(&mut st);
    (Arc::new(st), dir)
}

fn run(median: f64, commit: &str) -> Run {
    let mut r = Run::new(RunKind::Bench);
    r.git = Some(GitInfo {
        commit: commit.into(),
        branch: Some("main".into()),
        dirty: false,
    });
    let mut b = Benchmark::new("Parse");
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        vec![median, median * 1.01, median * 0.99],
    ));
    r.benchmarks.push(b);
    r
}

struct Answer {
    status: StatusCode,
    content_type: String,
    headers: axum::http::HeaderMap,
    body: String,
}

async fn call(st: &Arc<AppState>, req: Request<Body>) -> Answer {
    let res = app(st.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let content_type = headers
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    Answer {
        status,
        content_type,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn post(body: String) -> Request<Body> {
    Request::post("/api/v1/runs")
        .header("content-type", "application/json")
        .header("authorization", "Bearer s3cret")
        .body(Body::from(body))
        .unwrap()
}

#[tokio::test]
async fn a_multibyte_commit_never_breaks_a_page() {
    let (st, _dir) = state(|_| {});
    // The docs' own example: "…" is three bytes that straddle the tenth.
    let mut ids = Vec::new();
    for (i, commit) in [
        "459e122ff…",
        "日本語のコミット名前です",
        "ab\u{301}cdefghij",
    ]
    .iter()
    .enumerate()
    {
        let r = run(1.0 + i as f64, commit);
        ids.push(r.id.clone());
        assert_eq!(
            call(&st, post(r.to_json())).await.status,
            StatusCode::CREATED
        );
    }
    let pages = [
        "/".to_string(),
        "/alerts".into(),
        "/bench?benchmark=Parse&metric=time".into(),
        format!("/run/{}", ids[0]),
        format!("/compare?base={}&current={}", ids[0], ids[1]),
        "/api/v1/runs".into(),
        "/metrics".into(),
    ];
    for page in pages {
        let a = call(&st, get(&page)).await;
        assert_eq!(a.status, StatusCode::OK, "{page}: {}", a.body);
    }
    let index = call(&st, get("/")).await.body;
    assert!(
        index.contains("459e122ff…"),
        "the commit, shortened on a character"
    );
}

#[tokio::test]
async fn history_is_append_only() {
    let (st, _dir) = state(|_| {});
    let first = run(1.0, "aaaa");
    assert_eq!(
        call(&st, post(first.to_json())).await.status,
        StatusCode::CREATED
    );
    // The same content, formatted otherwise, is a retry: 200, stored once.
    let a = call(&st, post(first.to_compact_json())).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    // Other content under its id is refused, and the stored run is untouched.
    let mut other = run(50.0, "bbbb");
    other.id = first.id.clone();
    let a = call(&st, post(other.to_json())).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    assert!(a.body.contains("append-only"), "{}", a.body);
    assert_eq!(st.store.run(&first.id).unwrap().unwrap(), first);
    assert_eq!(st.store.list_runs(&Default::default()).unwrap().len(), 1);
}

#[tokio::test]
async fn ids_are_uuids_or_assigned() {
    let (st, _dir) = state(|_| {});
    let long = "a".repeat(5000);
    for bad in ["", "../x", "main", "p99<", long.as_str()] {
        let mut r = run(1.0, "c");
        r.id = bad.into();
        let a = call(&st, post(r.to_json())).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad:?}: {}", a.body);
        assert!(a.body.len() < 300, "the id is not echoed whole");
    }
    // No id: the server gives one (a UUID v7).
    let r = run(1.0, "c");
    let doc = r
        .to_json()
        .replacen(&format!("  \"id\": \"{}\",\n", r.id), "", 1);
    assert!(!doc.contains(&r.id));
    let a = call(&st, post(doc)).await;
    assert_eq!(a.status, StatusCode::CREATED, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    let id = v["id"].as_str().unwrap();
    assert!(perflab_model::is_run_id(id) && id != r.id, "{id}");
    assert_eq!(st.store.run(id).unwrap().unwrap().benchmarks, r.benchmarks);
    // A second run starting with the same characters makes a short prefix ambiguous: 400.
    let mut twin = run(2.0, "d");
    twin.id = format!("{}ffff-ffffffffffff", &id[..19]);
    assert_eq!(
        call(&st, post(twin.to_json())).await.status,
        StatusCode::CREATED
    );
    let a = call(&st, get(&format!("/api/v1/runs/{}", &id[..19]))).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST, "{}", a.body);
    assert!(a.body.contains("ambiguous"), "{}", a.body);
    // What cannot start an id, and the LIKE wildcards, are 400, never a match.
    for bad in ["%25", "_", "..%2Fx", "main"] {
        let a = call(&st, get(&format!("/api/v1/runs/{bad}"))).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad}: {}", a.body);
    }
    assert_eq!(
        call(&st, get(&format!("/api/v1/runs/{}", &id[..24])))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_error_is_json() {
    let (st, _dir) = state(|_| {});
    let oversized = Request::post("/api/v1/runs")
        .header("authorization", "Bearer s3cret")
        .body(Body::from("x".repeat(100 * 1024)))
        .unwrap();
    let requests = [
        (oversized, StatusCode::PAYLOAD_TOO_LARGE),
        (get("/api/v1/runs?limit=lots"), StatusCode::BAD_REQUEST),
        (get("/api/v1/series"), StatusCode::BAD_REQUEST),
        (get("/api/v1/compare?base=x"), StatusCode::BAD_REQUEST),
        (get("/nowhere"), StatusCode::NOT_FOUND),
        (
            Request::delete("/metrics").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Request::post("/api/v1/runs")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
        ),
    ];
    for (req, want) in requests {
        let what = format!("{} {}", req.method(), req.uri());
        let a = call(&st, req).await;
        assert_eq!(a.status, want, "{what}: {}", a.body);
        assert_eq!(a.content_type, "application/json", "{what}");
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap_or_else(|e| {
            panic!("{what}: {e}: {}", a.body);
        });
        assert!(
            v["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{what}: {}",
            a.body
        );
    }
    // The 404 names files that exist.
    let a = call(&st, get("/nowhere")).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for doc in ["docs/serve.md", "docs/openapi.yaml"] {
        assert!(a.body.contains(doc), "{}", a.body);
        assert!(root.join(doc).exists(), "{doc}");
    }
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let (st, _dir) = state(|_| {});
    for path in [
        "/",
        "/alerts",
        "/api/v1/runs",
        "/metrics",
        "/login",
        "/nowhere",
    ] {
        let a = call(&st, get(path)).await;
        let h = |name: &str| {
            a.headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_string())
                .unwrap_or_default()
        };
        assert!(
            h("content-security-policy").contains("frame-ancestors 'none'"),
            "{path}"
        );
        assert!(
            h("content-security-policy").contains("default-src 'none'"),
            "{path}"
        );
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "no-referrer", "{path}");
    }
}

#[tokio::test]
async fn metrics_need_the_read_token_when_one_is_set() {
    let (st, _dir) = state(|s| s.read_token = Some("peek".into()));
    let a = call(&st, get("/metrics")).await;
    assert_eq!(a.status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/metrics")
        .header("authorization", "Bearer peek")
        .body(Body::empty())
        .unwrap();
    let a = call(&st, req).await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("perflab_runs 0"), "{}", a.body);
}

#[tokio::test]
async fn runs_page_with_a_cursor_filter_by_time_and_delete_with_a_token() {
    let (st, _dir) = state(|_| {});
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut r = run(1.0 + i as f64, "c");
        r.started_at = format!("2026-11-0{}T00:00:00Z", i + 1);
        ids.push(r.id.clone());
        st.store.save_run(&r).unwrap();
    }
    // Pages of two, newest first, following the Link header to the end.
    let mut seen = Vec::new();
    let mut next = Some("/api/v1/runs?limit=2".to_string());
    while let Some(url) = next.take() {
        let a = call(&st, get(&url)).await;
        assert_eq!(a.status, StatusCode::OK, "{url}: {}", a.body);
        let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
        seen.extend(
            v.as_array()
                .unwrap()
                .iter()
                .map(|r| r["id"].as_str().unwrap().to_string()),
        );
        next = a.headers.get("link").map(|l| {
            let l = l.to_str().unwrap();
            assert!(l.ends_with(">; rel=\"next\""), "{l}");
            l[1..l.find('>').unwrap()].to_string()
        });
        assert!(seen.len() <= 6, "paging ends");
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);
    // since/until take dates or RFC 3339 times; anything else is 400.
    let a = call(
        &st,
        get("/api/v1/runs?since=2026-11-02&until=2026-11-04T00:00:00Z"),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2, "{}", a.body);
    for bad in [
        "/api/v1/runs?since=yesterday",
        "/api/v1/runs?cursor=..%2Fx",
        "/api/v1/series?benchmark=Parse&metric=time&until=soon",
    ] {
        assert_eq!(
            call(&st, get(bad)).await.status,
            StatusCode::BAD_REQUEST,
            "{bad}"
        );
    }
    let a = call(
        &st,
        get("/api/v1/series?benchmark=Parse&metric=time&since=2026-11-04"),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 2, "{}", a.body);
    let a = call(
        &st,
        get("/api/v1/series?benchmark=Parse&metric=time&limit=3"),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(
        v["points"][0]["run_id"],
        ids[2].as_str(),
        "the newest three"
    );
    // DELETE needs a token; a baseline's run is kept (409); the run and its points go.
    let del = |id: &str, token: Option<&str>| {
        let mut r = Request::delete(format!("/api/v1/runs/{id}"));
        if let Some(t) = token {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(
        call(&st, del(&ids[0], None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    st.store.save_baseline("v1", &ids[0]).unwrap();
    let a = call(&st, del(&ids[0], Some("s3cret"))).await;
    assert_eq!(a.status, StatusCode::CONFLICT, "{}", a.body);
    let a = call(&st, del(&ids[1], Some("s3cret"))).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.body);
    assert_eq!(
        call(&st, get(&format!("/api/v1/runs/{}", ids[1])))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        call(&st, del(&ids[1], Some("s3cret"))).await.status,
        StatusCode::NOT_FOUND
    );
    let a = call(&st, get("/api/v1/series?benchmark=Parse&metric=time")).await;
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 4);
}

#[tokio::test]
async fn the_dashboard_searches_groups_picks_ranges_and_links_commits() {
    let (st, _dir) = state(|s| {
        s.commit_url = Some("https://example.com/r/commit/{commit}".into());
        s.targets = vec![perflab_analysis::Target::parse(
            "BenchmarkParse*",
            "time",
            "< 1.5s",
            Some("< 3s"),
        )
        .unwrap()];
    });
    for i in 0..40 {
        let mut r = run(1.0, &format!("{i:02}abcdef"));
        r.started_at = format!("2026-11-{:02}T{:02}:00:00Z", 1 + i / 2, (i % 2) * 12);
        r.benchmarks[0].name = "BenchmarkParse".into();
        r.benchmarks[0].params = [("pkg".to_string(), "example.com/json".to_string())].into();
        let mut other = perflab_model::Benchmark::new("Encode");
        other.params = [("pkg".to_string(), "example.com/xml".to_string())].into();
        other
            .metrics
            .push(Metric::new("time", Unit::seconds(), vec![2.0, 2.1, 1.9]));
        r.benchmarks.push(other);
        st.store.save_run(&r).unwrap();
    }
    let index = call(&st, get("/")).await.body;
    assert!(
        index.contains("<tr class=\"group\"><th colspan=\"5\">example.com/json"),
        "{index}"
    );
    assert!(
        index.contains("<tr class=\"group\"><th colspan=\"5\">example.com/xml"),
        "{index}"
    );
    assert!(index.contains("name=\"q\""), "a search box");
    let found = call(&st, get("/?q=ENCODE")).await.body;
    assert!(
        found.contains("1 of 2 series") && !found.contains("BenchmarkParse"),
        "{found}"
    );
    assert!(found.contains("value=\"ENCODE\""), "{found}");
    // Commit links from [serve] commit_url; only hashes go into URLs.
    assert!(
        index.contains("href=\"https://example.com/r/commit/39abcdef\""),
        "{index}"
    );
    let key = "BenchmarkParse/pkg=example.com/json";
    let bench = |extra: &str| {
        format!(
            "/bench?benchmark={}&metric=time{extra}",
            form_urlencoded::byte_serialize(key.as_bytes()).collect::<String>()
        )
    };
    let all = call(&st, get(&bench(""))).await.body;
    assert_eq!(all.matches("<circle class=\"pt").count(), 40);
    assert!(all.contains("(40 of 40 runs shown)"), "{all}");
    // Dates on the time axis, never below zero.
    let ticks = all.matches("class=\"xtick\"").count();
    assert!((2..=12).contains(&ticks), "{ticks} ticks");
    assert!(all.contains(">2026-11-"), "date labels");
    // The target and its critical level, drawn across the chart.
    assert_eq!(all.matches("<g class=\"level\">").count(), 2, "{all}");
    assert!(
        all.contains(">target &lt; 1.5s<") && all.contains(">critical &lt; 3s<"),
        "{all}"
    );
    let last = call(&st, get(&bench("&last=30"))).await.body;
    assert_eq!(last.matches("<circle class=\"pt").count(), 30);
    assert!(
        last.contains("<b><a href=") && last.contains(">last 30 runs</a></b>"),
        "{last}"
    );
    // The run page's title says what the run is.
    let id = st.store.list_runs(&Default::default()).unwrap()[0]
        .id
        .clone();
    let page = call(&st, get(&format!("/run/{id}"))).await.body;
    assert!(
        page.contains("<title>perflab: bench run ")
            && page.contains(" on main at 39abcdef 2026-11-20</title>"),
        "{page}"
    );
}
