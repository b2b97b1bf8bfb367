//! `push` over HTTPS: a real server behind a TLS-terminating proxy on loopback (as a team puts
//! nginx or a load balancer in front), with the proxy's own CA given as `--ca-file`; an
//! unknown CA is refused with a clear error.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_store::{RunFilter, SqliteStore, Store};
use perflab_web::{push, push_with_ca, serve_blocking, token_hash, AppState, PushError};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};

fn server(store: Arc<dyn Store>) -> SocketAddr {
    let state = Arc::new(AppState::new(store));
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

/// A TLS proxy in front of `backend`; returns its port and the PEM of its certificate.
fn tls_proxy(backend: SocketAddr) -> (u16, String) {
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    let pem = cert.cert.pem();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(cert.key_pair.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    let config = Arc::new(config);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let config = config.clone();
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, client);
                // One request (`Connection: close`): the head, then Content-Length bytes.
                let mut req = Vec::new();
                let mut buf = [0u8; 8192];
                let need = loop {
                    let Ok(n) = tls.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                    if let Some(end) = req.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&req[..end]).to_lowercase();
                        let len: usize = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse().ok())
                            .unwrap_or(0);
                        break end + 4 + len;
                    }
                };
                while req.len() < need {
                    let Ok(n) = tls.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    req.extend_from_slice(&buf[..n]);
                }
                let mut up = TcpStream::connect(backend).unwrap();
                up.write_all(&req).unwrap();
                let mut answer = Vec::new();
                up.read_to_end(&mut answer).unwrap();
                let _ = tls.write_all(&answer);
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    (port, pem)
}

fn run() -> Run {
    let mut r = Run::new(RunKind::Bench);
    let mut b = Benchmark::new("over-tls");
    b.metrics.push(Metric::new(
        "time",
        Unit::seconds(),
        vec![1e-3, 1.1e-3, 0.9e-3],
    ));
    r.benchmarks.push(b);
    r
}

#[test]
fn push_uploads_over_https_with_a_ca_file() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir.path().join("h.db")).unwrap());
    store.save_token("ci", &token_hash("s3cret")).unwrap();
    let backend = server(store.clone());
    let (port, pem) = tls_proxy(backend);
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, &pem).unwrap();
    let doc = run().to_json();
    for url in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}/"),
    ] {
        let id =
            push_with_ca(&url, "s3cret", &doc, Some(&ca)).unwrap_or_else(|e| panic!("{url}: {e}"));
        assert_eq!(id, run_id(&doc));
    }
    assert_eq!(store.list_runs(&RunFilter::default()).unwrap().len(), 1);
    // Without the CA the proxy's certificate is not trusted: one clear error, nothing stored.
    let e = push(
        &format!("https://127.0.0.1:{port}"),
        "s3cret",
        &run().to_json(),
    )
    .unwrap_err();
    assert!(matches!(e, PushError::Connect { .. }), "{e}");
    assert!(e.to_string().contains("certificate"), "{e}");
    // A wrong token through TLS is the server's own 401.
    let e = push_with_ca(
        &format!("https://127.0.0.1:{port}"),
        "nope",
        &doc,
        Some(&ca),
    )
    .unwrap_err();
    assert!(e.to_string().contains("answered 401"), "{e}");
    // A CA file that is not one.
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let e = push_with_ca(
        &format!("https://127.0.0.1:{port}"),
        "s3cret",
        &doc,
        Some(&junk),
    )
    .unwrap_err();
    assert!(e.to_string().starts_with("--ca-file "), "{e}");
    assert!(matches!(
        push("ftp://x", "t", "{}").unwrap_err(),
        PushError::Url(_)
    ));
}

fn run_id(doc: &str) -> String {
    Run::from_json(doc).unwrap().id
}
