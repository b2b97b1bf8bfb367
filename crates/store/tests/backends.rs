//! The `Store` contract, run against every backend: SQLite always, PostgreSQL when
//! `PERFLAB_TEST_POSTGRES` names a server (CI starts one; a skip is loud and fails CI). Each
//! PostgreSQL test gets a schema of its own, so tests run in parallel without sharing tables.

use perflab_model::{Benchmark, GitInfo, Metric, Run, RunKind, Unit};
use perflab_store::{PostgresStore, RunFilter, SqliteStore, Store, StoreError};

/// A URL to a schema of this test's own, or `None` (loudly) when no server is configured.
fn postgres_url() -> Option<String> {
    let Ok(url) = std::env::var("PERFLAB_TEST_POSTGRES") else {
        let required = std::env::var("PERFLAB_REQUIRE_TOOLS").unwrap_or_default();
        if required.split([' ', ',']).any(|t| t == "postgres") {
            panic!("postgres is required here (PERFLAB_REQUIRE_TOOLS) but PERFLAB_TEST_POSTGRES is not set");
        }
        eprintln!("SKIPPED (not a pass): postgres: set PERFLAB_TEST_POSTGRES=postgres://user:pass@127.0.0.1/db");
        return None;
    };
    let schema = format!("t_{}", unique());
    let mut admin =
        postgres::Client::connect(&url, postgres::NoTls).expect("PERFLAB_TEST_POSTGRES connects");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .expect("create a test schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!(
        "{url}{sep}options=-csearch_path%3D{schema}&application_name={schema}"
    ))
}

fn postgres() -> Option<Box<dyn Store>> {
    let url = postgres_url()?;
    Some(Box::new(
        PostgresStore::connect(&url).expect("store connects"),
    ))
}

fn unique() -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{SystemTime, UNIX_EPOCH};
    static N: AtomicUsize = AtomicUsize::new(0);
    let t = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{t:x}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::SeqCst)
    )
}

type Backend = (&'static str, Box<dyn Store>, Option<tempfile::TempDir>);

fn backends() -> Vec<Backend> {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    let mut out: Vec<Backend> = vec![("sqlite", Box::new(sqlite), Some(dir))];
    if let Some(pg) = postgres() {
        out.push(("postgres", pg, None));
    }
    out
}

fn run_at(t: &str, branch: &str, median: f64) -> Run {
    let mut r = Run::new(RunKind::Bench);
    r.started_at = t.into();
    r.git = Some(GitInfo {
        commit: "abc".into(),
        branch: Some(branch.into()),
        dirty: false,
    });
    let mut b = Benchmark::new("parse").with_param("n", "10");
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        vec![median, median, median * 1.5],
    ));
    r.benchmarks.push(b);
    r
}

#[test]
fn lists_newest_first_with_filters_prefixes_and_series() {
    for (name, s, _dir) in backends() {
        let a = run_at("2024-01-01T00:00:00.000Z", "main", 1.0);
        let b = run_at("2024-01-02T00:00:00.000Z", "feature", 2.0);
        let c = run_at("2024-01-03T00:00:00+02:00", "main", 3.0);
        for r in [&a, &b, &c] {
            s.save_run(r).unwrap();
        }
        s.save_run(&a).unwrap(); // a second save replaces, never duplicates
        let all = s.list_runs(&RunFilter::default()).unwrap();
        let ids: Vec<&str> = all.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, [c.id.as_str(), b.id.as_str(), a.id.as_str()], "{name}");
        let main = s
            .list_runs(&RunFilter {
                branch: Some("main".into()),
                limit: 1,
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(
            (main[0].id.as_str(), main[0].benchmarks),
            (c.id.as_str(), 1),
            "{name}"
        );
        let before = s
            .list_runs(&RunFilter {
                before: Some(c.id.clone()),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(before[0].id, b.id, "{name}");
        assert_eq!(s.run(&a.id[..30]).unwrap().unwrap().id, a.id, "{name}");
        assert!(s.run("zzzz").unwrap().is_none(), "{name}");
        let series = s.series("parse/n=10", "time", Some("main")).unwrap();
        let medians: Vec<f64> = series.iter().map(|p| p.median).collect();
        assert_eq!(medians, [1.0, 3.0], "{name}");
        assert_eq!(
            series[1].time_unix_ms, 1_704_232_800_000,
            "{name}: offsets honoured"
        );
        assert_eq!(s.all_series(None).unwrap()[0].points.len(), 3, "{name}");
        let latest = s.latest_medians().unwrap();
        assert_eq!(
            latest,
            [("parse/n=10".into(), "time".into(), "s".into(), 3.0)],
            "{name}"
        );
    }
}

#[test]
fn baselines_point_at_stored_runs_and_say_when_they_move() {
    for (name, s, _dir) in backends() {
        assert!(
            matches!(
                s.save_baseline("main", "nope"),
                Err(StoreError::NotFound(_))
            ),
            "{name}"
        );
        let a = run_at("2024-01-01T00:00:00.000Z", "main", 1.0);
        let b = run_at("2024-01-02T00:00:00.000Z", "main", 1.0);
        s.save_run(&a).unwrap();
        s.save_run(&b).unwrap();
        assert_eq!(s.save_baseline("main", &a.id).unwrap(), None, "{name}");
        assert_eq!(
            s.save_baseline("main", &b.id).unwrap(),
            Some(a.id.clone()),
            "{name}"
        );
        assert_eq!(s.baseline("main").unwrap().unwrap().id, b.id, "{name}");
        let listed = s.list_runs(&RunFilter::default()).unwrap();
        assert_eq!(listed[0].baselines, ["main"], "{name}");
        assert!(s.delete_baseline("main").unwrap(), "{name}");
        assert!(s.baseline("main").unwrap().is_none(), "{name}");
    }
}

#[test]
fn concurrent_saves_lose_nothing() {
    for (name, s, _dir) in backends() {
        let s: std::sync::Arc<dyn Store> = std::sync::Arc::from(s);
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let s = s.clone();
                std::thread::spawn(move || {
                    let t = format!("2024-02-{:02}T00:00:00.000Z", i + 1);
                    s.save_run(&run_at(&t, "main", i as f64 + 1.0)).unwrap();
                })
            })
            .collect();
        for h in handles {
            h.join().unwrap();
        }
        assert_eq!(
            s.list_runs(&RunFilter::default()).unwrap().len(),
            8,
            "{name}"
        );
    }
}

#[test]
fn tokens_and_acknowledgements_are_kept() {
    for (name, s, _dir) in backends() {
        s.save_token("ci", "hash-1").unwrap();
        assert!(
            matches!(
                s.save_token("ci", "hash-2"),
                Err(StoreError::TokenExists(_))
            ),
            "{name}"
        );
        assert_eq!(
            s.token_name("hash-1").unwrap().as_deref(),
            Some("ci"),
            "{name}"
        );
        assert_eq!(s.tokens().unwrap()[0].0, "ci", "{name}");
        assert!(
            s.revoke_token("ci").unwrap() && s.token_name("hash-1").unwrap().is_none(),
            "{name}"
        );
        s.acknowledge("abc", "alice").unwrap();
        s.acknowledge("abc", "bob").unwrap();
        let acks = s.acknowledged().unwrap();
        assert_eq!(acks.len(), 1, "{name}");
        assert_eq!(
            (acks[0].alert_id.as_str(), acks[0].by.as_str()),
            ("abc", "alice"),
            "{name}: the first one stays"
        );
        assert!(
            perflab_model::parse_rfc3339_ms(&acks[0].at).is_some(),
            "{name}"
        );
        let g = s.generation().unwrap();
        assert!(s.unacknowledge("abc").unwrap(), "{name}");
        assert!(s.generation().unwrap() > g, "{name}");
        assert!(!s.unacknowledge("abc").unwrap(), "{name}");
        assert!(s.acknowledged().unwrap().is_empty(), "{name}");
    }
}

#[test]
fn sessions_expire_and_end() {
    use perflab_store::Session;
    for (name, s, _dir) in backends() {
        let alice = Session {
            name: "alice".into(),
            can_write: true,
            expires_unix_ms: 2_000,
        };
        s.save_session("h1", &alice).unwrap();
        assert_eq!(
            s.session("h1", 1_000).unwrap(),
            Some(alice.clone()),
            "{name}"
        );
        assert_eq!(s.session("h2", 1_000).unwrap(), None, "{name}");
        assert_eq!(s.session("h1", 2_000).unwrap(), None, "{name}: expired");
        s.save_session(
            "h1",
            &Session {
                expires_unix_ms: 9_000,
                ..alice
            },
        )
        .unwrap();
        assert!(s.delete_session("h1").unwrap(), "{name}");
        assert_eq!(s.session("h1", 1_000).unwrap(), None, "{name}: signed out");
    }
}

#[test]
fn runs_are_deleted_and_pruned_keeping_baselines_and_points_consistent() {
    for (name, s, _dir) in backends() {
        let mut ids = Vec::new();
        for (i, branch) in ["main", "main", "main", "feature", "main", "feature"]
            .iter()
            .enumerate()
        {
            let r = run_at(
                &format!("2024-01-0{}T00:00:00.000Z", i + 1),
                branch,
                1.0 + i as f64,
            );
            s.save_run(&r).unwrap();
            ids.push(r.id);
        }
        s.save_baseline("v1", &ids[0]).unwrap();
        assert!(
            matches!(s.delete_run(&ids[0]), Err(StoreError::Baselined { ref baseline, .. }) if baseline == "v1"),
            "{name}"
        );
        assert!(
            matches!(s.delete_run("nope"), Err(StoreError::NotFound(_))),
            "{name}"
        );
        s.delete_run(&ids[1]).unwrap();
        assert_eq!(
            s.series("parse/n=10", "time", None).unwrap().len(),
            5,
            "{name}: its points went with it"
        );
        // Keep the newest 1 per branch (and the baseline's run): main keeps 0 and 4, feature 5.
        let removed = s.prune(Some(1), None).unwrap();
        assert_eq!(removed, vec![ids[2].clone(), ids[3].clone()], "{name}");
        let left: Vec<String> = s
            .list_runs(&RunFilter::default())
            .unwrap()
            .into_iter()
            .map(|r| r.id)
            .collect();
        assert_eq!(
            left,
            vec![ids[5].clone(), ids[4].clone(), ids[0].clone()],
            "{name}"
        );
        assert_eq!(
            s.series("parse/n=10", "time", None).unwrap().len(),
            3,
            "{name}"
        );
        // Older than the 5th of January: nothing left to take but the baseline's run, kept.
        let removed = s
            .prune(None, Some(perflab_store::unix_ms("2024-01-05T00:00:00Z")))
            .unwrap();
        assert!(removed.is_empty(), "{name}: {removed:?}");
        assert_eq!(s.baseline("v1").unwrap().unwrap().id, ids[0], "{name}");
        // since/until filter listings.
        let window = s
            .list_runs(&RunFilter {
                since_unix_ms: Some(perflab_store::unix_ms("2024-01-05T00:00:00Z")),
                until_unix_ms: Some(perflab_store::unix_ms("2024-01-06T00:00:00Z")),
                ..RunFilter::default()
            })
            .unwrap();
        assert_eq!(window.len(), 1, "{name}");
        assert_eq!(window[0].id, ids[4], "{name}");
    }
}

#[test]
fn the_generation_moves_with_every_write_by_any_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    type Pair = (&'static str, Box<dyn Store>, Box<dyn Store>);
    let mut pairs: Vec<Pair> = vec![(
        "sqlite",
        Box::new(SqliteStore::open(&path).unwrap()),
        Box::new(SqliteStore::open(&path).unwrap()),
    )];
    if let Some(url) = postgres_url() {
        pairs.push((
            "postgres",
            Box::new(PostgresStore::connect(&url).unwrap()),
            Box::new(PostgresStore::connect(&url).unwrap()),
        ));
    }
    for (name, writer, reader) in pairs {
        let g0 = reader.generation().unwrap();
        writer
            .save_run(&run_at("2026-01-01T00:00:00Z", "main", 1.0))
            .unwrap();
        let g1 = reader.generation().unwrap();
        assert!(g1 > g0, "{name}: a save by another store is seen");
        reader.list_runs(&RunFilter::default()).unwrap();
        reader.series("parse/n=10", "time", None).unwrap();
        assert_eq!(
            reader.generation().unwrap(),
            g1,
            "{name}: reads change nothing"
        );
        writer.acknowledge("alert-1", "ci").unwrap();
        assert!(
            reader.generation().unwrap() > g1,
            "{name}: an acknowledgement counts"
        );
    }
}

#[test]
fn a_dropped_postgres_connection_is_opened_again() {
    let Some(url) = postgres_url() else { return };
    let app = url.rsplit("application_name=").next().unwrap().to_string();
    let store = PostgresStore::connect(&url).unwrap();
    store
        .save_run(&run_at("2026-01-01T00:00:00Z", "main", 1.0))
        .unwrap();
    let admin_url = std::env::var("PERFLAB_TEST_POSTGRES").unwrap();
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    let killed = admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&app],
        )
        .unwrap();
    assert_eq!(killed.len(), 1, "the store's one connection was ended");
    // The call that meets the dead connection may fail (a 503 for the server); the next one
    // reconnects and sees the history.
    let first = store.list_runs(&RunFilter::default());
    if let Err(e) = &first {
        assert!(matches!(e, StoreError::Unavailable { .. }), "{e}");
    }
    let again = store.list_runs(&RunFilter::default()).unwrap();
    assert_eq!(again.len(), 1);
    store
        .save_run(&run_at("2026-01-02T00:00:00Z", "main", 1.0))
        .unwrap();
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 2);
}

#[test]
fn all_and_recent_series_agree_with_series() {
    for (name, s, _dir) in backends() {
        // Saved out of time order: series are ordered by time, not by insertion.
        for day in [3, 1, 5, 2, 4] {
            s.save_run(&run_at(
                &format!("2026-01-0{day}T00:00:00Z"),
                "main",
                f64::from(day),
            ))
            .unwrap();
        }
        let all = s.all_series(None).unwrap();
        assert_eq!(all.len(), 1, "{name}");
        assert_eq!(
            all[0].points,
            s.series("parse/n=10", "time", None).unwrap(),
            "{name}"
        );
        let medians: Vec<f64> = all[0].points.iter().map(|p| p.median).collect();
        assert_eq!(medians, [1.0, 2.0, 3.0, 4.0, 5.0], "{name}");
        let recent = s.recent_series(2).unwrap();
        let medians: Vec<f64> = recent[0].points.iter().map(|p| p.median).collect();
        assert_eq!(
            medians,
            [4.0, 5.0],
            "{name}: the two newest runs, oldest first"
        );
        assert!(s.all_series(Some("other")).unwrap().is_empty(), "{name}");
    }
}

#[test]
fn inserts_are_append_only_and_retries_are_idempotent() {
    for (name, s, _dir) in backends() {
        let run = run_at("2024-01-01T00:00:00.000Z", "main", 1.0);
        assert_eq!(
            s.insert_run(&run).unwrap(),
            perflab_store::Inserted::New,
            "{name}"
        );
        let g = s.generation().unwrap();
        // The same run again (a retried upload) changes nothing, not even the generation.
        assert_eq!(
            s.insert_run(&run).unwrap(),
            perflab_store::Inserted::Same,
            "{name}"
        );
        assert_eq!(s.generation().unwrap(), g, "{name}");
        // Other content under its id is refused; the stored run and its points stay.
        let mut other = run_at("2024-01-01T00:00:00.000Z", "main", 9.0);
        other.id = run.id.clone();
        assert!(
            matches!(s.insert_run(&other), Err(StoreError::Conflict(ref id)) if *id == run.id),
            "{name}"
        );
        assert_eq!(s.run(&run.id).unwrap().unwrap(), run, "{name}");
        assert_eq!(
            s.series("parse/n=10", "time", None).unwrap()[0].median,
            1.0,
            "{name}"
        );
    }
}

#[test]
fn like_wildcards_in_a_prefix_match_only_themselves() {
    for (name, s, _dir) in backends() {
        let mut a = run_at("2024-01-01T00:00:00.000Z", "main", 1.0);
        a.id = format!("ab{}", unique());
        s.save_run(&a).unwrap();
        assert!(
            s.run("a_").unwrap().is_none(),
            "{name}: _ is not a wildcard"
        );
        assert!(s.run("%").unwrap().is_none(), "{name}: % is not a wildcard");
        assert_eq!(s.run("ab").unwrap().unwrap().id, a.id, "{name}");
    }
}

#[test]
fn projects_are_stores_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut locations = vec![dir.path().join("history.db").to_string_lossy().into_owned()];
    locations.extend(postgres_url());
    for location in locations {
        let name = format!("p{}", unique().replace(['_'], "-").to_lowercase());
        let main = perflab_store::open(&location).unwrap();
        let project = perflab_store::open_project(&location, &name).unwrap();
        let r = run_at("2024-01-01T00:00:00.000Z", "main", 1.0);
        project.save_run(&r).unwrap();
        assert!(
            main.run(&r.id).unwrap().is_none(),
            "{location}: projects never mix"
        );
        assert_eq!(project.series("parse/n=10", "time", None).unwrap().len(), 1);
        assert!(
            perflab_store::projects(&location).unwrap().contains(&name),
            "{location}"
        );
        // Opened again (a second server), the same history.
        let again = perflab_store::open_project(&location, &name).unwrap();
        assert_eq!(again.run(&r.id).unwrap().unwrap().id, r.id);
        assert!(perflab_store::open_project(&location, "../etc").is_err());
        assert_eq!(
            perflab_store::open_project(&location, "default")
                .unwrap()
                .generation()
                .unwrap(),
            main.generation().unwrap()
        );
    }
}
