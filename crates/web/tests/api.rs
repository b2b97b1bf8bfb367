//! The API with `oneshot` over a real SQLite store: reads, uploads with and without a token,
//! malformed and oversized bodies, unknown routes, and `/metrics`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt as _;
use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_store::{SqliteStore, Store};
use perflab_web::{app, token_hash, AppState};
use tower::ServiceExt as _;

fn state() -> (Arc<AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    store.save_token("ci", &token_hash("s3cret")).unwrap();
    let mut st = AppState::new(Arc::new(store));
    st.max_upload = 64 * 1024;
    (Arc::new(st), dir)
}

fn run(median: f64) -> Run {
    let mut r = Run::new(RunKind::Bench);
    let mut b = Benchmark::new("Search<img src=x>").with_param("n", "10");
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        vec![median, median * 1.01, median * 0.99],
    ));
    r.benchmarks.push(b);
    r
}

async fn call(state: &Arc<AppState>, req: Request<Body>) -> (StatusCode, String) {
    let res = app(state.clone()).oneshot(req).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn post(body: String, token: Option<&str>) -> Request<Body> {
    let mut b = Request::post("/api/v1/runs").header("content-type", "application/json");
    if let Some(t) = token {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    b.body(Body::from(body)).unwrap()
}

#[tokio::test]
async fn uploads_need_a_token_and_a_valid_document() {
    let (st, _dir) = state();
    let r = run(1e-3);
    let (status, body) = call(&st, post(r.to_json(), None)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    assert!(body.contains("\"error\""), "{body}");
    let (status, _) = call(&st, post(r.to_json(), Some("wrong"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = call(&st, post(r.to_json(), Some("s3cret"))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["id"], r.id.as_str());
    // The same run again is idempotent: 200, stored once.
    let (status, _) = call(&st, post(r.to_json(), Some("s3cret"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(st.store.list_runs(&Default::default()).unwrap().len(), 1);
    let (status, body) = call(&st, post("{\n \"kind\": ,".into(), Some("s3cret"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("line 2, column"), "{body}");
    let (status, _) = call(&st, post("x".repeat(100 * 1024), Some("s3cret"))).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn reads_runs_series_alerts_and_unknown_routes() {
    let (st, _dir) = state();
    let mut ids = Vec::new();
    for i in 0..30 {
        let r = run(if i < 15 { 1e-3 } else { 1.4e-3 });
        ids.push(r.id.clone());
        st.store.save_run(&r).unwrap();
    }
    let (status, body) = call(
        &st,
        Request::get("/api/v1/runs?limit=5")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body)
            .unwrap()
            .as_array()
            .unwrap()
            .len(),
        5
    );
    let (status, body) = call(
        &st,
        Request::get(format!("/api/v1/runs/{}", ids[3]))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(Run::from_json(&body).unwrap().id, ids[3]);
    let (status, _) = call(
        &st,
        Request::get("/api/v1/runs/00000000-dead")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let uri = "/api/v1/series?benchmark=Search%3Cimg%20src%3Dx%3E%2Fn%3D10&metric=time";
    let (status, body) = call(&st, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["points"].as_array().unwrap().len(), 30);
    let (_, body) = call(
        &st,
        Request::get("/api/v1/alerts").body(Body::empty()).unwrap(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"][0]["run_id"], ids[15].as_str(), "{v}");
    assert_eq!(v["alerts"][0]["direction"], "regression");
    assert_eq!(v["alerts"][0]["acknowledged"], false);
    let id = v["alerts"][0]["id"].as_str().unwrap().to_string();
    let ack = |token: Option<&str>, id: &str| {
        let mut b = Request::post(format!("/api/v1/alerts/{id}/ack"));
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        b.body(Body::empty()).unwrap()
    };
    assert_eq!(call(&st, ack(None, &id)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&st, ack(Some("s3cret"), "0000")).await.0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = call(&st, ack(Some("s3cret"), &id)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("\"by\":\"ci\""), "{body}");
    let (_, body) = call(
        &st,
        Request::get("/api/v1/alerts").body(Body::empty()).unwrap(),
    )
    .await;
    assert!(body.contains("\"acknowledged\":true"), "{body}");
    let uri = format!("/api/v1/compare?base={}&current={}", ids[0], ids[29]);
    let (status, body) = call(&st, Request::get(uri).body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["schema"], "perflab.compare.v1");
    assert!(
        (v["rows"][0]["change"].as_f64().unwrap() - 0.4).abs() < 1e-9,
        "{v}"
    );
    let uri = format!("/api/v1/compare?base={}&current=00000000-0000", ids[0]);
    assert_eq!(
        call(&st, Request::get(uri).body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (status, body) = call(&st, Request::get("/nope").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body.starts_with("{\"error\""), "{body}");
    let (status, metrics) = call(&st, Request::get("/metrics").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(metrics.contains("perflab_latest_median{benchmark=\"Search<img src=x>/n=10\",metric=\"time\",unit=\"s\"} 0.0014"), "{metrics}");
    assert!(
        metrics.contains("perflab_runs 30") && metrics.contains("perflab_alerts 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("perflab_http_requests_total{route=\"series\"} 1"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_read_token_closes_reads() {
    let dir = tempfile::tempdir().unwrap();
    let mut st = AppState::new(Arc::new(
        SqliteStore::open(&dir.path().join("h.db")).unwrap(),
    ));
    st.read_token = Some("peek".into());
    let st = Arc::new(st);
    let (status, _) = call(
        &st,
        Request::get("/api/v1/runs").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let req = Request::get("/api/v1/runs")
        .header("authorization", "Bearer peek")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, req).await.0, StatusCode::OK);
    // A browser is sent to /login, which keeps the token in a cookie.
    let res = app(st.clone())
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()["location"], "/login");
    let (status, page) = call(&st, Request::get("/login").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("action=\"/login\""), "{page}");
    let login = |token: &str| {
        Request::post("/login")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("token={token}")))
            .unwrap()
    };
    assert_eq!(call(&st, login("peep")).await.0, StatusCode::UNAUTHORIZED);
    let res = app(st.clone()).oneshot(login("peek")).await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = |path: &str| {
        Request::get(path)
            .header("cookie", format!("theme=dark; {pair}"))
            .body(Body::empty())
            .unwrap()
    };
    assert_eq!(call(&st, with_cookie("/")).await.0, StatusCode::OK);
    assert_eq!(call(&st, with_cookie("/alerts")).await.0, StatusCode::OK);
    let wrong = Request::get("/")
        .header("cookie", "perflab_read=peep")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&st, wrong).await.0, StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn cached_series_and_pages_follow_every_write_even_from_another_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let server = SqliteStore::open(&path).unwrap();
    server.save_token("ci", &token_hash("s3cret")).unwrap();
    let st = Arc::new(AppState::new(Arc::new(server)));
    // Another process writing the same history (a CLI `perflab import`).
    let other = SqliteStore::open(&path).unwrap();
    let uri = "/api/v1/series?benchmark=Search%3Cimg%20src%3Dx%3E%2Fn%3D10&metric=time";
    let get = |u: &str| Request::get(u).body(Body::empty()).unwrap();
    let points = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap()["points"]
            .as_array()
            .unwrap()
            .len()
    };
    other.save_run(&run(1e-3)).unwrap();
    let (_, body) = call(&st, get(uri)).await;
    assert_eq!(points(&body), 1);
    let (_, page) = call(&st, get("/")).await;
    assert!(
        page.contains(
            "class=\"spark\" viewBox=\"0 0 120 28\" width=\"120\" height=\"28\" data-points=\"1\""
        ),
        "{page}"
    );
    other.save_run(&run(1e-3)).unwrap();
    assert_eq!(
        points(&call(&st, get(uri)).await.1),
        2,
        "a CLI write is seen"
    );
    let (status, _) = call(&st, post(run(1e-3).to_json(), Some("s3cret"))).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(points(&call(&st, get(uri)).await.1), 3, "an upload is seen");
    let (_, page) = call(&st, get("/")).await;
    assert!(
        page.contains("data-points=\"3\""),
        "the dashboard moved too: {page}"
    );
}

#[tokio::test]
async fn the_alerts_page_acknowledges_under_a_session_and_can_undo() {
    let (st, _dir) = state();
    for i in 0..20 {
        st.store
            .save_run(&run(if i < 10 { 1e-3 } else { 1.5e-3 }))
            .unwrap();
    }
    // Signed out: the alerts, no form, a way to sign in.
    let (status, page) = call(&st, Request::get("/alerts").body(Body::empty()).unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Search&lt;img src=x&gt;"), "{page}");
    assert!(!page.contains("<img"), "names are escaped");
    assert!(
        !page.contains("/ack\""),
        "no form without a session: {page}"
    );
    assert!(page.contains("href=\"/login\""), "{page}");
    let alert_id = page
        .split("class=\"alert\" data-id=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("an alert row")
        .to_string();
    let post = |path: String, cookie: Option<&str>| {
        let mut r = Request::post(path).header("content-type", "application/x-www-form-urlencoded");
        if let Some(c) = cookie {
            r = r.header("cookie", c);
        }
        r.body(Body::empty()).unwrap()
    };
    let ack = format!("/alerts/{alert_id}/ack");
    let res = app(st.clone())
        .oneshot(post(ack.clone(), None))
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::SEE_OTHER,
        "no session: sign in first"
    );
    assert_eq!(res.headers()["location"], "/login");
    // Sign in with the named token: a session cookie, never the token.
    let res = app(st.clone())
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-proto", "https")
                .body(Body::from("token=s3cret"))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!set.contains("s3cret"), "{set}");
    for attr in ["HttpOnly", "SameSite=Strict", "Max-Age=43200", "Secure"] {
        assert!(set.contains(attr), "{attr}: {set}");
    }
    let cookie = set.split(';').next().unwrap().to_string();
    let get = |cookie: &str| {
        Request::get("/alerts")
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap()
    };
    let (_, page) = call(&st, get(&cookie)).await;
    assert!(page.contains("Signed in as <b>ci</b>"), "{page}");
    assert!(page.contains(&format!("action=\"{ack}\"")), "{page}");
    assert!(
        !page.contains("name=\"token\""),
        "no token to paste: {page}"
    );
    assert_eq!(
        call(&st, post(ack.clone(), Some(&cookie))).await.0,
        StatusCode::SEE_OTHER
    );
    let (_, page) = call(&st, get(&cookie)).await;
    assert!(
        page.contains("(0 open)") && page.contains("acknowledged by ci"),
        "{page}"
    );
    assert!(
        page.contains(&format!("action=\"/alerts/{alert_id}/unack\"")),
        "{page}"
    );
    let (_, api) = call(
        &st,
        Request::get("/api/v1/alerts").body(Body::empty()).unwrap(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(&api).unwrap();
    let a = &v["alerts"][0];
    assert_eq!(
        (a["acknowledged"].as_bool(), a["acknowledged_by"].as_str()),
        (Some(true), Some("ci")),
        "{v}"
    );
    assert!(a["acknowledged_at"].as_str().is_some(), "{v}");
    // Undo, then sign out: the session is gone from the store.
    assert_eq!(
        call(
            &st,
            post(format!("/alerts/{alert_id}/unack"), Some(&cookie))
        )
        .await
        .0,
        StatusCode::SEE_OTHER
    );
    let (_, page) = call(&st, get(&cookie)).await;
    assert!(page.contains("(1 open)"), "{page}");
    let res = app(st.clone())
        .oneshot(post("/logout".into(), Some(&cookie)))
        .await
        .unwrap();
    assert!(res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    let (_, page) = call(&st, get(&cookie)).await;
    assert!(!page.contains("Signed in as"), "{page}");
    // The API's undo needs a token too.
    let del = |auth: Option<&str>| {
        let mut r = Request::delete(format!("/api/v1/alerts/{alert_id}/ack"));
        if let Some(t) = auth {
            r = r.header("authorization", format!("Bearer {t}"));
        }
        r.body(Body::empty()).unwrap()
    };
    assert_eq!(call(&st, del(None)).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(
        call(&st, del(Some("s3cret"))).await.0,
        StatusCode::NOT_FOUND,
        "not acknowledged"
    );
}

#[tokio::test]
async fn a_read_token_session_reads_but_cannot_acknowledge() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    let mut st = AppState::new(Arc::new(store));
    st.read_token = Some("peek".into());
    let st = Arc::new(st);
    for i in 0..20 {
        st.store
            .save_run(&run(if i < 10 { 1e-3 } else { 1.5e-3 }))
            .unwrap();
    }
    let res = app(st.clone())
        .oneshot(
            Request::post("/login")
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Body::from("token=peek"))
                .unwrap(),
        )
        .await
        .unwrap();
    let set = res.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(!set.contains("Secure"), "plain http: {set}");
    let cookie = set.split(';').next().unwrap().to_string();
    let (status, page) = call(
        &st,
        Request::get("/alerts")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !page.contains("/ack\""),
        "reading is not acknowledging: {page}"
    );
    let (status, _) = call(
        &st,
        Request::get("/api/v1/runs")
            .header("cookie", &cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "the session reads the API too");
    // The old cookie that held the read token itself opens nothing.
    let (status, _) = call(
        &st,
        Request::get("/api/v1/runs")
            .header("cookie", "perflab_read=peek")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_the_newest_alerts_at_once_and_the_api_a_current_set() {
    let (st, _dir) = state();
    for i in 0..20 {
        st.store
            .save_run(&run(if i < 10 { 1e-3 } else { 1.5e-3 }))
            .unwrap();
    }
    let get = |u: &str| Request::get(u).body(Body::empty()).unwrap();
    let (_, page) = call(&st, get("/alerts")).await;
    assert!(page.contains("1 change point in"), "{page}");
    // A second shift: the page answers at once with the set it has (it does not wait for a
    // scan of the history) ...
    for _ in 0..10 {
        st.store.save_run(&run(2.5e-3)).unwrap();
    }
    let (_, page) = call(&st, get("/alerts")).await;
    assert!(page.contains("1 change point in"), "{page}");
    // ... and has the new one once the background computation is done.
    let mut seen = false;
    for _ in 0..100 {
        let (_, page) = call(&st, get("/alerts")).await;
        if page.contains("2 change points") {
            seen = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(seen, "the alerts page never caught up");
    // The API always answers with a current set.
    st.store.save_run(&run(5e-3)).unwrap();
    for _ in 0..9 {
        st.store.save_run(&run(5e-3)).unwrap();
    }
    let (_, body) = call(&st, get("/api/v1/alerts")).await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["alerts"].as_array().unwrap().len(), 3, "{v}");
}

#[tokio::test]
async fn an_ab_run_page_compares_its_two_sides() {
    let (st, _dir) = state();
    let mut r = run(2e-3);
    r.kind = RunKind::Ab;
    let mut base = run(1e-3).benchmarks;
    base[0].metrics[0].samples = vec![1e-3, 1.01e-3, 0.99e-3, 1.02e-3, 0.98e-3];
    r.benchmarks[0].metrics[0].samples = vec![2e-3, 2.02e-3, 1.98e-3, 2.01e-3, 1.99e-3];
    r.ab = Some(perflab_model::AbRun {
        base: perflab_model::AbSide {
            rev: "main".into(),
            commit: "1a2b3c4d5e6f".into(),
            dirty: false,
        },
        current: perflab_model::AbSide {
            rev: "feature".into(),
            commit: "9f8e7d6c5b4a".into(),
            dirty: false,
        },
        rounds: 5,
        order: "alternate".into(),
        base_benchmarks: base,
    });
    st.store.save_run(&r).unwrap();
    let (status, page) = call(
        &st,
        Request::get(format!("/run/{}", r.id))
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("its base side, main (1a2b3c4d)"), "{page}");
    assert!(page.contains("feature (9f8e7d6c)"), "{page}");
    assert!(
        page.contains("+100"),
        "the change between the sides: {page}"
    );
}
