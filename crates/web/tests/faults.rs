//! The server under faults, on a real loopback socket: slow clients (head and body), 20
//! uploads at once, and the PostgreSQL connection going away (503, then recovery).

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_store::{PostgresStore, RunFilter, SqliteStore, Store};
use perflab_web::{serve_blocking, token_hash, AppState};

fn start(store: Arc<dyn Store>, tune: impl FnOnce(&mut AppState)) -> SocketAddr {
    store.save_token("ci", &token_hash("s3cret")).unwrap();
    let mut state = AppState::new(store);
    tune(&mut state);
    let state = Arc::new(state);
    let stop: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        serve_blocking("127.0.0.1:0".parse().unwrap(), state, stop, |a| {
            tx.send(a).unwrap();
        })
        .unwrap();
    });
    rx.recv_timeout(Duration::from_secs(10)).unwrap()
}

fn sqlite() -> (Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("h.db")).unwrap();
    (Arc::new(store), dir)
}

/// One request on its own connection: (status, body).
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out
        .split_once("\r\n\r\n")
        .map_or("", |(_, b)| b)
        .to_string();
    (status, body)
}

fn run(benchmarks: usize, seed: usize) -> Run {
    let mut r = Run::new(RunKind::Bench);
    r.id = format!("01935000-0000-7000-8000-{seed:012}");
    for b in 0..benchmarks {
        let mut bench = Benchmark::new(format!("Case{b:03}"));
        let v = 1e-3 * (1.0 + b as f64 / 100.0 + seed as f64 / 1e4);
        bench.metrics.push(Metric::new(
            "time",
            Unit::seconds(),
            vec![v, v * 1.01, v * 0.99],
        ));
        r.benchmarks.push(bench);
    }
    r
}

#[test]
fn a_client_that_sends_a_byte_at_a_time_blocks_no_one_and_is_closed() {
    let (store, _dir) = sqlite();
    let addr = start(store, |s| {
        s.header_timeout = Duration::from_millis(800);
        s.request_timeout = Duration::from_millis(800);
    });
    // A head that never ends.
    let mut slow = TcpStream::connect(addr).unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let dribble = std::thread::spawn(move || {
        let started = Instant::now();
        for b in b"GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if slow.write_all(&[*b]).is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
            if started.elapsed() > Duration::from_secs(6) {
                break;
            }
        }
        // The server has closed it: reading ends (EOF or reset) instead of waiting.
        let mut rest = Vec::new();
        let read = slow.read_to_end(&mut rest);
        // EOF or a reset is the server closing it; a read timeout is the server still waiting.
        let closed = match read {
            Ok(_) => true,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        };
        (started.elapsed(), closed)
    });
    // Meanwhile everyone else is served.
    for _ in 0..20 {
        let (status, body) = get(addr, "/api/v1/runs");
        assert_eq!(status, 200, "{body}");
    }
    let (took, ended) = dribble.join().unwrap();
    assert!(
        ended && took < Duration::from_secs(6),
        "the slow head was not cut ({took:?})"
    );
    // A body sent a byte at a time: the request gives up with 408.
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer s3cret\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    .unwrap();
    let writer = s.try_clone().unwrap();
    std::thread::spawn(move || {
        let mut w = writer;
        for _ in 0..60 {
            if w.write_all(b" ").is_err() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let mut answer = [0u8; 512];
    let n = s.read(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("slow client"), "{answer}");
}

#[test]
fn twenty_uploads_at_once_are_all_kept_whole() {
    let (store, _dir) = sqlite();
    let addr = start(store.clone(), |_| {});
    let server = format!("http://{addr}");
    let threads: Vec<_> = (0..20)
        .map(|i| {
            let server = server.clone();
            std::thread::spawn(move || perflab_web::push(&server, "s3cret", &run(100, i).to_json()))
        })
        .collect();
    for t in threads {
        t.join().unwrap().unwrap();
    }
    let runs = store
        .list_runs(&RunFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(runs.len(), 20);
    assert!(runs.iter().all(|r| r.benchmarks == 100), "every run whole");
    // The same run again is idempotent: still 20. Another under its id is refused.
    let again = store.run(&runs[3].id).unwrap().unwrap();
    perflab_web::push(&server, "s3cret", &again.to_json()).unwrap();
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 20);
    let mut other = run(100, 3);
    other.id = again.id.clone();
    other.started_at = "2020-01-01T00:00:00Z".into();
    let refused = perflab_web::push(&server, "s3cret", &other.to_json());
    assert!(
        matches!(
            refused,
            Err(perflab_web::PushError::Refused { status: 409, .. })
        ),
        "{refused:?}"
    );
}

#[test]
fn the_database_going_away_is_a_503_and_the_server_recovers() {
    let Ok(admin_url) = std::env::var("PERFLAB_TEST_POSTGRES") else {
        let required = std::env::var("PERFLAB_REQUIRE_TOOLS").unwrap_or_default();
        assert!(
            !required.split([' ', ',']).any(|t| t == "postgres"),
            "postgres is required here but PERFLAB_TEST_POSTGRES is not set"
        );
        eprintln!("SKIPPED (not a pass): postgres: set PERFLAB_TEST_POSTGRES");
        return;
    };
    let schema = format!("f_{}_{}", std::process::id(), line!());
    let mut admin = postgres::Client::connect(&admin_url, postgres::NoTls).unwrap();
    admin
        .batch_execute(&format!(
            "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
        ))
        .unwrap();
    let sep = if admin_url.contains('?') { '&' } else { '?' };
    let url = format!("{admin_url}{sep}options=-csearch_path%3D{schema}&application_name={schema}");
    let store: Arc<dyn Store> = Arc::new(PostgresStore::connect(&url).unwrap());
    store.save_run(&run(3, 1)).unwrap();
    let addr = start(store, |_| {});
    assert_eq!(get(addr, "/api/v1/runs").0, 200);
    admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&schema],
        )
        .unwrap();
    let (status, body) = get(addr, "/api/v1/runs");
    if status != 200 {
        assert_eq!(status, 503, "{body}");
        assert!(
            body.contains("the history database is unavailable"),
            "{body}"
        );
    }
    let (status, body) = get(addr, "/api/v1/runs");
    assert_eq!(status, 200, "recovered: {body}");
    assert!(
        body.contains("01935000-0000-7000-8000-000000000001"),
        "{body}"
    );
    admin
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}
