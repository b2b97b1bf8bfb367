//! The dashboard in a real headless Chromium against a real server on loopback: every page
//! renders, charts have their points, no console message or blocked resource, and markup
//! injected through a benchmark name stays text. With `PERFLAB_SCREENSHOTS=DIR` each page is
//! also saved as a PNG (how `docs/img/` is made).
//!
//! Chromium is found as `chromium`, `chromium-browser` or `google-chrome` (`PERFLAB_CHROMIUM`
//! overrides); without one the test says SKIPPED loudly, and fails where CI requires it.

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use perflab_model::load::{LoadSummary, Percentiles, ScenarioSummary, SecondPoint};
use perflab_model::{Benchmark, GitInfo, Metric, Run, RunKind, Unit};
use perflab_store::{SqliteStore, Store};
use perflab_web::{serve_blocking, AppState};

const XSS: &str = "<img src=x onerror=console.error('xss')>";

fn chromium() -> Option<PathBuf> {
    let names = std::env::var("PERFLAB_CHROMIUM")
        .map(|c| vec![c])
        .unwrap_or_else(|_| {
            vec![
                "chromium".into(),
                "chromium-browser".into(),
                "google-chrome".into(),
            ]
        });
    for n in names {
        let ok = Command::new(&n)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
        if ok {
            return Some(n.into());
        }
    }
    let required = std::env::var("PERFLAB_REQUIRE_TOOLS").unwrap_or_default();
    if required.split([' ', ',']).any(|t| t == "chromium") {
        panic!("chromium is required here (PERFLAB_REQUIRE_TOOLS) but was not found");
    }
    eprintln!("SKIPPED (not a pass): chromium is not installed (Debian: apt-get install chromium)");
    None
}

struct Page {
    dom: String,
    console: Vec<String>,
}

/// Load `url` in headless Chromium and return the DOM after load and the console lines.
fn visit(chrome: &PathBuf, url: &str, shot: Option<&str>) -> Page {
    let profile = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(chrome);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--no-first-run",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1280,1000",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()));
    match (shot, std::env::var_os("PERFLAB_SCREENSHOTS")) {
        (Some(name), Some(dir)) => {
            let path = PathBuf::from(dir).join(format!("{name}.png"));
            cmd.arg(format!("--screenshot={}", path.display()));
        }
        _ => {
            cmd.arg("--dump-dom");
        }
    }
    let out = cmd.arg(url).output().expect("chromium runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let console = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Refused to"))
        .map(String::from)
        .collect();
    Page {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        console,
    }
}

/// A fixed run id (a UUID, as the server requires) numbered `i`, so pages and screenshots do
/// not change from one test run to the next.
fn rid(i: usize) -> String {
    format!("01935000-0000-7000-8000-{i:012}")
}

fn git(branch: &str, i: usize) -> Option<GitInfo> {
    Some(GitInfo {
        commit: format!("{i:040x}"),
        branch: Some(branch.into()),
        dirty: false,
    })
}

/// 30 runs on main with a 30% slowdown from run 20, 5 on a feature branch, one load run.
fn history(store: &dyn Store) -> Vec<String> {
    let mut ids = Vec::new();
    let mut seed = 7u64;
    let mut noise = move || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        1.0 + ((seed >> 33) as f64 / (1u64 << 31) as f64 - 0.5) * 0.02
    };
    for i in 0..35 {
        let branch = if i >= 30 { "feature" } else { "main" };
        let mut r = Run::new(RunKind::Bench);
        r.id = rid(i);
        r.started_at = format!("2026-11-{:02}T{:02}:00:00Z", 1 + i / 2, (i % 2) * 12);
        r.git = git(branch, i);
        let slow = if (20..30).contains(&i) { 1.3 } else { 1.0 };
        for (name, base) in [("parse/n=10", 1e-3), ("encode", 2e-6), (XSS, 5e-4)] {
            let mut b = Benchmark::new(name);
            let v: Vec<f64> = (0..5).map(|_| base * slow * noise()).collect();
            b.metrics.push(Metric::new("time", Unit::seconds(), v));
            r.benchmarks.push(b);
        }
        store.save_run(&r).unwrap();
        ids.push(r.id);
    }
    let mut load = Run::new(RunKind::Load);
    load.id = rid(901);
    load.started_at = "2026-11-30T00:00:00Z".into();
    let latency = Percentiles {
        p50: 1e-3,
        p90: 2e-3,
        p95: 3e-3,
        p99: 5e-3,
        p99_9: 9e-3,
        max: 2e-2,
        mean: 1.2e-3,
    };
    let mut summary = LoadSummary {
        model: "closed".into(),
        latency_is: "response time".into(),
        achieved_rate: 1000.0,
        measured_seconds: 5.0,
        ..Default::default()
    };
    summary.scenarios.insert(
        XSS.into(),
        ScenarioSummary {
            requests: 5000,
            rps: 1000.0,
            latency,
            ..Default::default()
        },
    );
    summary.series = (0..5)
        .map(|t| SecondPoint {
            t,
            requests: 1000 + t * 10,
            errors: 0,
            p50: 1e-3,
            p99: 5e-3,
            vus: Some(10),
            ..Default::default()
        })
        .collect();
    load.load = Some(summary);
    store.save_run(&load).unwrap();
    let mut prof = Run::new(RunKind::Profile);
    prof.id = rid(902);
    prof.started_at = "2026-11-30T01:00:00Z".into();
    prof.profiles.push(perflab_model::profile::ProfileSummary {
        target: XSS.into(),
        backend: "perf".into(),
        value: "cpu".into(),
        unit: "s".into(),
        samples: 1000,
        total: 1.0,
        stacks: [
            ("main;parse;tokenize", 0.5),
            ("main;parse", 0.2),
            ("main;<script>alert(1)</script>", 0.3),
        ]
        .iter()
        .map(|(s, w)| perflab_model::profile::StackWeight {
            stack: (*s).into(),
            weight: *w,
        })
        .collect(),
        ..Default::default()
    });
    store.save_run(&prof).unwrap();
    ids
}

#[test]
fn dashboard_pages_render_with_their_charts_and_inert_names() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    let ids = history(&store);
    static STOP: AtomicBool = AtomicBool::new(false);
    let state = Arc::new(AppState::new(Arc::new(store)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        serve_blocking("127.0.0.1:0".parse().unwrap(), state, &STOP, |a| {
            tx.send(a).unwrap();
        })
        .unwrap();
    });
    let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let base = format!("http://{addr}");
    let q = |s: &str| -> String { form_urlencoded::byte_serialize(s.as_bytes()).collect() };
    let pages = [
        ("dashboard", "/".to_string()),
        (
            "benchmark",
            format!("/bench?benchmark={}&metric=time", q("parse/n=10")),
        ),
        (
            "benchmark-base",
            format!(
                "/bench?benchmark={}&metric=time&base={}",
                q("parse/n=10"),
                rid(10)
            ),
        ),
        (
            "benchmark-xss",
            format!("/bench?benchmark={}&metric=time", q(XSS)),
        ),
        ("alerts", "/alerts".to_string()),
        ("run", format!("/run/{}", rid(25))),
        ("load-run", format!("/run/{}", rid(901))),
        ("profile-run", format!("/run/{}", rid(902))),
        (
            "compare",
            format!("/compare?base={}&current={}", rid(10), rid(25)),
        ),
    ];
    for (name, path) in &pages {
        let page = visit(&chrome, &format!("{base}{path}"), None);
        assert!(
            page.console.is_empty(),
            "{name}: console: {:?}",
            page.console
        );
        assert!(
            page.dom.contains("<main>"),
            "{name}: no page:\n{}",
            page.dom
        );
        // The injected name is text: no element was made from it.
        assert!(
            !page.dom.contains("<img"),
            "{name}: markup from a name was parsed"
        );
        match *name {
            "dashboard" => {
                assert_eq!(page.dom.matches("class=\"spark\"").count(), 3, "{name}");
                assert!(page.dom.contains("&lt;img src=x"), "{name}");
                assert!(
                    page.dom.contains(&format!("href=\"/run/{}\"", rid(901))),
                    "{name}"
                );
            }
            "benchmark" => {
                // All 35 runs, on two branch lines, and the change point at run 20.
                assert_eq!(page.dom.matches("<circle class=\"pt").count(), 35, "{name}");
                assert!(page.dom.contains(">feature<") && page.dom.contains(">main<"));
                assert!(page.dom.contains("class=\"mark regression\""), "{name}");
                assert!(page.dom.contains(&rid(20)), "{name}");
            }
            "benchmark-base" => {
                assert_eq!(page.dom.matches("class=\"pt selected\"").count(), 1);
                assert!(
                    page.dom.contains(&format!(
                        "/compare?base={}&amp;current={}",
                        rid(10),
                        rid(25)
                    )),
                    "{name}: the second click compares"
                );
            }
            "benchmark-xss" => {
                assert_eq!(page.dom.matches("<circle class=\"pt").count(), 35, "{name}");
            }
            "alerts" => {
                assert!(page.dom.contains("class=\"alert\""), "{name}");
                assert!(page.dom.contains("class=\"group\""), "{name}: no group");
                assert!(
                    page.dom.contains("href=\"/login\""),
                    "{name}: no way to sign in"
                );
            }
            "run" => {
                assert!(page
                    .dom
                    .contains(&format!("Comparison with the previous run {}", rid(24))));
                assert!(
                    page.dom.contains("svg class=\"chart trend\""),
                    "{name}: no trend"
                );
            }
            "load-run" => {
                assert!(
                    page.dom.contains("class=\"load-latency\""),
                    "{name}: percentiles"
                );
                assert!(
                    page.dom.contains("Requests and errors per second"),
                    "{name}"
                );
                assert!(page.dom.contains("<h4>Virtual users</h4>"), "{name}");
            }
            "profile-run" => {
                // main, parse, tokenize, and the frame named like a script tag (as text).
                assert!(
                    page.dom.contains("data-frames=\"4\""),
                    "{name}: {}",
                    page.dom
                );
                assert!(
                    page.dom.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
                    "{name}"
                );
            }
            "compare" => {
                assert!(page.dom.contains("regression"), "{name}: +30% on every row");
                assert!(page.dom.contains("svg class=\"chart intervals\""), "{name}");
            }
            _ => unreachable!(),
        }
        if std::env::var_os("PERFLAB_SCREENSHOTS").is_some() && *name != "benchmark-xss" {
            visit(&chrome, &format!("{base}{path}"), Some(name));
        }
    }
    assert_eq!(ids.len(), 35);
    STOP.store(true, std::sync::atomic::Ordering::SeqCst);
}

#[test]
fn the_html_report_opens_offline_with_its_charts() {
    let Some(chrome) = chromium() else { return };
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    history(&store);
    let run = store.run(&rid(25)).unwrap().unwrap();
    let base = store.run(&rid(15)).unwrap().unwrap();
    let c = perflab_analysis::compare(
        &base.benchmarks,
        &run.benchmarks,
        &perflab_analysis::CompareOptions::default(),
    )
    .unwrap();
    let input = perflab_report::ReportInput {
        run: &run,
        targets: vec![],
        comparison: Some(("run015".into(), c.clone())),
        history: store.history_of(&run, 10).unwrap(),
    };
    for (name, page) in [
        ("report-html", perflab_report::html::report_html(&input)),
        ("compare-html", perflab_report::html::compare_html(&c)),
    ] {
        let path = dir.path().join(format!("{name}.html"));
        std::fs::write(&path, &page).unwrap();
        let url = format!("file://{}", path.display());
        let seen = visit(&chrome, &url, None);
        assert!(
            seen.console.is_empty(),
            "{name}: console: {:?}",
            seen.console
        );
        assert!(
            !seen.dom.contains("<img"),
            "{name}: markup from a name was parsed"
        );
        // +30% on every benchmark: three changed rows charted.
        assert!(seen.dom.contains("data-rows=\"3\""), "{name}: {}", seen.dom);
        if name == "report-html" {
            assert_eq!(
                seen.dom.matches("svg class=\"chart trend\"").count(),
                3,
                "{name}"
            );
            assert!(seen.dom.contains("class=\"pt selected\""), "{name}");
        }
        if std::env::var_os("PERFLAB_SCREENSHOTS").is_some() {
            visit(&chrome, &url, Some(name));
        }
    }
}
