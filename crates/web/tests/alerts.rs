//! Alerts as a team reads them: a series is benchmark × metric × branch (a feature branch
//! never raises an alert on main's line), `?branch=` filters, the allowed changes of
//! `perflab.toml` decide which change points are alerts, and the alerts one commit caused are
//! one group. `oneshot` over a real SQLite store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt as _;
use perflab_analysis::{CompareOptions, Rule};
use perflab_model::{Benchmark, GitInfo, Metric, Run, RunKind, Unit};
use perflab_store::{SqliteStore, Store};
use perflab_web::{app, AppState};
use tower::ServiceExt as _;

/// 12 runs on main (A and B 50% slower from the 7th, commit `c06`; C steady), then 4 on a
/// feature branch where A and B are fast again.
fn history(store: &dyn Store) {
    for i in 0..16 {
        let branch = if i < 12 { "main" } else { "feature" };
        let mut r = Run::new(RunKind::Bench);
        r.started_at = format!("2026-11-{:02}T00:00:00Z", i + 1);
        r.git = Some(GitInfo {
            commit: format!("c{i:02}{}", "0".repeat(37)),
            branch: Some(branch.into()),
            dirty: false,
        });
        let slow = if (6..12).contains(&i) { 1.5 } else { 1.0 };
        for (name, base, step) in [("A", 1e-3, slow), ("B", 2e-3, slow), ("C", 3e-3, 1.0)] {
            let mut b = Benchmark::new(name);
            let wobble = 1.0 + (i % 3) as f64 * 0.002;
            let v = base * step * wobble;
            b.metrics.push(Metric::new(
                "time",
                Unit::seconds(),
                vec![v, v * 1.001, v * 0.999],
            ));
            r.benchmarks.push(b);
        }
        store.save_run(&r).unwrap();
    }
}

async fn alerts(st: &Arc<AppState>, query: &str) -> serde_json::Value {
    let res = app(st.clone())
        .oneshot(
            Request::get(format!("/api/v1/alerts{query}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&body).unwrap()
}

fn state(tune: impl FnOnce(&mut AppState)) -> (Arc<AppState>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    history(&store);
    let mut st = AppState::new(Arc::new(store));
    tune(&mut st);
    (Arc::new(st), dir)
}

fn names(v: &serde_json::Value) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = v["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            (
                a["benchmark"].as_str().unwrap().to_string(),
                a["branch"].as_str().unwrap_or("").to_string(),
                a["direction"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn a_feature_branch_never_raises_an_alert_on_mains_series() {
    let (st, _dir) = state(|_| {});
    let all = alerts(&st, "").await;
    // Only main's step: no "improvement" where the feature branch's fast runs follow main's
    // slow ones.
    let main = |b: &str| (b.to_string(), "main".to_string(), "regression".to_string());
    assert_eq!(names(&all), vec![main("A"), main("B")], "{all}");
    for a in all["alerts"].as_array().unwrap() {
        assert!(a["commit"].as_str().unwrap().starts_with("c06"), "{a}");
    }
    assert_eq!(names(&alerts(&st, "?branch=main").await).len(), 2);
    assert!(names(&alerts(&st, "?branch=feature").await).is_empty());
    // The two alerts of commit c06 are one group.
    let groups = all["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{all}");
    assert_eq!(groups[0]["regressions"], 2);
    assert_eq!(groups[0]["branch"], "main");
    assert_eq!(groups[0]["alerts"].as_array().unwrap().len(), 2);
    assert!(
        (groups[0]["worst_change"].as_f64().unwrap() - 0.5).abs() < 0.02,
        "{all}"
    );
    // The page shows the group once, with both rows.
    let res = app(st.clone())
        .oneshot(Request::get("/alerts").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let page =
        String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert_eq!(
        page.matches("<section class=\"group\"").count(),
        1,
        "{page}"
    );
    assert_eq!(page.matches("<tr class=\"alert\"").count(), 2, "{page}");
    assert!(page.contains("2 regressions, 0 improvements"), "{page}");
}

#[tokio::test]
async fn the_allowed_changes_of_perflab_toml_decide_which_change_points_are_alerts() {
    let (st, _dir) = state(|s| {
        s.alert_policy.thresholds = Some(CompareOptions {
            default_max_change: 0.10,
            rules: vec![Rule {
                benchmark: Some("B".into()),
                metric: "time".into(),
                max_change: 0.60,
            }],
            ..CompareOptions::default()
        });
    });
    let v = alerts(&st, "").await;
    let main = |b: &str| (b.to_string(), "main".to_string(), "regression".to_string());
    assert_eq!(names(&v), vec![main("A")], "B may change by 60%: {v}");
}

#[tokio::test]
async fn a_faster_testbed_is_not_a_change_point() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    // Six runs on the small runner, then six on one twice as fast: no change in the code.
    for i in 0..12 {
        let mut r = Run::new(RunKind::Bench);
        r.started_at = format!("2026-11-{:02}T00:00:00Z", i + 1);
        r.git = Some(GitInfo {
            commit: format!("c{i:02}"),
            branch: Some("main".into()),
            dirty: false,
        });
        let (testbed, v) = if i < 6 {
            ("small", 2e-3)
        } else {
            ("large", 1e-3)
        };
        r.labels.insert("testbed".into(), testbed.into());
        let mut b = Benchmark::new("A");
        let v = v * (1.0 + (i % 3) as f64 * 0.002);
        b.metrics.push(Metric::new(
            "time",
            Unit::seconds(),
            vec![v, v * 1.001, v * 0.999],
        ));
        r.benchmarks.push(b);
        store.save_run(&r).unwrap();
    }
    let st = Arc::new(AppState::new(Arc::new(store)));
    let v = alerts(&st, "").await;
    assert!(names(&v).is_empty(), "{v}");
    let (_, series) = (0, st.store.series("A", "time", None).unwrap());
    assert_eq!(
        series
            .iter()
            .filter(|p| p.testbed.as_deref() == Some("large"))
            .count(),
        6
    );
}
