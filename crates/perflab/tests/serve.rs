//! `perflab serve` as a process on loopback, with tokens made by `perflab token`, driven over
//! real HTTP: upload a run, read it back, the series, `/metrics` through promtool, and Ctrl-C.

mod common;

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::process::{Command, Stdio};

use common::{data, have, stderr, Lab};

fn http(addr: &str, request: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let body = out
        .split_once("\r\n\r\n")
        .map_or(String::new(), |(_, b)| b.to_string());
    (status, body)
}

#[test]
fn serve_takes_uploads_with_a_token_and_answers_reads_and_metrics() {
    let lab = Lab::new();
    let out = lab.cmd().args(["token", "create", "ci"]).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(token.len(), 64);
    let listed = lab.cmd().args(["token", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).starts_with("ci\t"));
    let doc = lab
        .cmd()
        .args(["import", "--no-store", "--json", &data("gobench/base.txt")])
        .output()
        .unwrap()
        .stdout;
    let doc = String::from_utf8(doc).unwrap();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("perflab"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PERFLAB_STORE", lab.path("history.db"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    let post = |auth: &str| {
        format!(
            "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{doc}",
            doc.len()
        )
    };
    assert_eq!(http(&addr, &post("")).0, 401);
    let (status, body) = http(&addr, &post(&format!("Authorization: Bearer {token}\r\n")));
    assert_eq!(status, 201, "{body}");
    let (status, body) = http(
        &addr,
        "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(body.contains("\"kind\": \"import\""), "{body}");
    let (status, metrics) = http(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200);
    assert!(metrics.contains("perflab_runs 1"), "{metrics}");
    if have("promtool") {
        let mut check = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        check
            .stdin
            .take()
            .unwrap()
            .write_all(metrics.as_bytes())
            .unwrap();
        let done = check.wait_with_output().unwrap();
        assert!(
            done.status.success(),
            "{}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
    } else {
        common::skip("promtool", "promtool is not installed");
    }
    // perflab push uploads a result file; a wrong token is one clear line.
    let pushed = lab
        .cmd()
        .args([
            "push",
            &data("gobench/slow.txt"),
            "--server",
            &format!("http://{addr}"),
        ])
        .env("PERFLAB_TOKEN", &token)
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(String::from_utf8_lossy(&pushed.stdout).starts_with("pushed run "));
    let refused = lab
        .cmd()
        .args([
            "push",
            &data("gobench/slow.txt"),
            "--server",
            &format!("http://{addr}"),
            "--token",
            "nope",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        stderr(&refused).contains("answered 401: a valid token is needed"),
        "{}",
        stderr(&refused)
    );
    let (_, metrics) = http(
        &addr,
        "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(metrics.contains("perflab_runs 2"), "{metrics}");
    // Ctrl-C stops the server cleanly.
    send_sigint(child.id());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}");
    let revoke = lab.cmd().args(["token", "revoke", "ci"]).output().unwrap();
    assert!(revoke.status.success());
    let again = lab.cmd().args(["token", "revoke", "ci"]).output().unwrap();
    assert_eq!(again.status.code(), Some(2));
}

fn send_sigint(pid: u32) {
    let ok = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
}

/// `perflab serve` on a free port over `db`; returns the child and its address.
fn start_server(lab: &Lab, db: &str) -> (std::process::Child, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("perflab"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("PERFLAB_STORE", lab.path(db))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

/// The run id numbered `n` (a UUID, as the server requires).
fn uid(n: usize) -> String {
    format!("01935000-0000-7000-8000-{n:012}")
}

/// A result document of `n` benchmarks, id `id`.
fn big_run(id: &str, n: usize) -> String {
    let benchmarks: Vec<String> = (0..n)
        .map(|i| {
            format!(
                r#"{{"name":"Case{i:04}","metrics":[{{"name":"time","unit":"s","better":"lower","samples":[0.001,0.0011,0.0009]}}]}}"#
            )
        })
        .collect();
    format!(
        r#"{{"schema":"perflab.result.v1","id":"{id}","kind":"bench","started_at":"2026-11-01T00:00:00Z","finished_at":"2026-11-01T00:00:01Z","tool":{{"name":"test"}},"benchmarks":[{}]}}"#,
        benchmarks.join(",")
    )
}

#[test]
fn a_server_killed_mid_upload_keeps_no_half_stored_run() {
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args(["token", "create", "ci"])
        .env("PERFLAB_STORE", lab.path("h.db"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (mut server, addr) = start_server(&lab, "h.db");
    let whole = big_run(&uid(1), 10);
    let post = |doc: &str, len: usize| {
        format!(
            "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{doc}"
        )
    };
    assert_eq!(http(&addr, &post(&whole, whole.len())).0, 201);
    // Half an upload, then the server is killed.
    let half = big_run(&uid(2), 10);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(post(&half[..half.len() / 2], half.len()).as_bytes())
        .unwrap();
    // And uploads of 2,000 benchmarks each in flight when it dies.
    let uploads: Vec<_> = (0..6)
        .map(|i| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let doc = big_run(&uid(100 + i), 2000);
                perflab_web::push(&format!("http://{addr}"), &token, &doc).is_ok()
            })
        })
        .collect();
    std::thread::sleep(std::time::Duration::from_millis(300));
    server.kill().unwrap();
    server.wait().unwrap();
    let acknowledged: usize = uploads
        .into_iter()
        .map(|u| usize::from(u.join().unwrap()))
        .sum();
    let (mut server, addr) = start_server(&lab, "h.db");
    let (status, body) = http(
        &addr,
        "GET /api/v1/runs?limit=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(status, 200, "{body}");
    let runs: serde_json::Value = serde_json::from_str(&body).unwrap();
    let runs = runs.as_array().unwrap();
    let ids: Vec<&str> = runs.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert!(
        ids.contains(&uid(1).as_str()) && !ids.contains(&uid(2).as_str()),
        "{ids:?}"
    );
    // Every upload the server answered 201 to is there; every stored run is whole.
    assert!(
        runs.len() > acknowledged,
        "{} stored, {acknowledged} acknowledged",
        runs.len()
    );
    for r in runs {
        let expect = if r["id"] == uid(1).as_str() { 10 } else { 2000 };
        assert_eq!(r["benchmarks"], expect, "{r}");
    }
    let (_, series) = http(
        &addr,
        "GET /api/v1/series?benchmark=Case1999&metric=time HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    let points = serde_json::from_str::<serde_json::Value>(&series).unwrap()["points"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(points, runs.len() - 1, "each big run has all its points");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Kills the server when a test fails, so no server outlives it (holding cargo's pipes).
struct Reap(u32);

impl Drop for Reap {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new("kill")
                .args(["-9", &self.0.to_string()])
                .status();
        }
    }
}

/// The server's peak resident memory (VmHWM), kB.
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

#[test]
fn unauthenticated_uploads_are_refused_before_their_bodies_are_read() {
    let lab = Lab::new();
    let (mut server, addr) = start_server(&lab, "h.db");
    let _reap = Reap(server.id());
    assert_eq!(
        http(
            &addr,
            "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        .0,
        200
    );
    let before = peak_rss_kb(server.id());
    // Ten clients at once, each sending 30 MB without a token (under the 32 MiB limit).
    let clients: Vec<_> = (0..10)
        .map(|_| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                let size = 30 << 20;
                let head = format!(
                    "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
                );
                s.write_all(head.as_bytes()).unwrap();
                let chunk = vec![b' '; 64 << 10];
                let mut sent = 0;
                while sent < size && s.write_all(&chunk).is_ok() {
                    sent += chunk.len();
                }
                let mut answer = String::new();
                let _ = s.read_to_string(&mut answer);
                answer
            })
        })
        .collect();
    for c in clients {
        let answer = c.join().unwrap();
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 401"),
            "{answer}"
        );
    }
    let grown_mb = (peak_rss_kb(server.id()).saturating_sub(before)) / 1024;
    eprintln!("peak memory grew {grown_mb} MB over 10 unauthenticated 30 MB uploads");
    assert!(grown_mb < 40, "peak memory grew {grown_mb} MB");
    // A declared length over the limit is refused at once, token or not.
    let (status, body) = http(
        &addr,
        "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 999999999\r\n\r\n",
    );
    assert_eq!(status, 401, "{body}");
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Stop a server with `signal` and return its exit code and stderr.
fn stop_with(mut child: std::process::Child, signal: &str) -> (Option<i32>, String) {
    let ok = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status.code(), err)
}

/// `perflab serve` over `store` (a path or a URL) with stderr kept, and its address.
fn serve_on(store: &str, extra: &[&str]) -> (std::process::Child, String) {
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("perflab"))
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .env("PERFLAB_STORE", store)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = child.stderr.take().unwrap();
    let mut line = Vec::new();
    let mut byte = [0u8];
    while err.read(&mut byte).unwrap() == 1 && byte[0] != b'\n' {
        line.push(byte[0]);
    }
    child.stderr = Some(err);
    let line = String::from_utf8(line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_string();
    (child, addr)
}

fn postgres_schema_url() -> Option<String> {
    let Ok(url) = std::env::var("PERFLAB_TEST_POSTGRES") else {
        common::skip("postgres", "PERFLAB_TEST_POSTGRES is not set");
        return None;
    };
    let schema = format!(
        "serve_{:x}_{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
        std::process::id()
    );
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("server connects");
    admin
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    Some(format!("{url}{sep}options=-csearch_path%3D{schema}"))
}

#[test]
fn sigint_and_sigterm_stop_cleanly_and_a_taken_port_is_one_line_on_every_store() {
    let lab = Lab::new();
    let mut stores = vec![lab.path("h.db").display().to_string()];
    stores.extend(postgres_schema_url());
    for store in &stores {
        for signal in ["-INT", "-TERM"] {
            let (child, addr) = serve_on(store, &[]);
            let _reap = Reap(child.id());
            assert_eq!(
                http(
                    &addr,
                    "GET /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                )
                .0,
                200
            );
            let (code, err) = stop_with(child, signal);
            assert_eq!(code, Some(0), "{store} {signal}: {err}");
            assert!(!err.contains("panicked"), "{store} {signal}: {err}");
        }
        let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = taken.local_addr().unwrap().port().to_string();
        let out = lab
            .cmd()
            .args(["serve", "--addr", &format!("127.0.0.1:{port}")])
            .env("PERFLAB_STORE", store)
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{store}: {err}");
        assert_eq!(err.lines().count(), 1, "{store}: {err}");
        assert!(
            err.starts_with("error: cannot serve on 127.0.0.1:") && err.contains("in use"),
            "{store}: {err}"
        );
    }
}

#[test]
fn a_non_loopback_address_without_a_read_token_is_a_warning() {
    let lab = Lab::new();
    let db = lab.path("h.db").display().to_string();
    let mut child = Command::new(assert_cmd::cargo::cargo_bin("perflab"))
        .args(["serve", "--addr", "0.0.0.0:0"])
        .env("PERFLAB_STORE", &db)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stderr.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        first.starts_with("warning: serve: 0.0.0.0:0 is not a loopback address")
            && first.contains("--read-token"),
        "{first}"
    );
    let (child, _) = serve_on(&db, &["--read-token", "peek"]);
    let (code, err) = stop_with(child, "-TERM");
    assert_eq!(code, Some(0));
    assert!(!err.contains("warning"), "{err}");
}

#[test]
fn two_servers_over_one_postgres_are_one() {
    let Some(url) = postgres_schema_url() else {
        return;
    };
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args(["token", "create", "ci"])
        .env("PERFLAB_STORE", &url)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (a, addr_a) = serve_on(&url, &[]);
    let (b, addr_b) = serve_on(&url, &[]);
    let _reap = (Reap(a.id()), Reap(b.id()));
    let get = |addr: &str, path: &str| {
        http(
            addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
    };
    // Both have answered (and cached) their empty views first.
    let series = "/api/v1/series?benchmark=Case0001&metric=time";
    for addr in [&addr_a, &addr_b] {
        assert!(get(addr, series).1.contains("\"points\":[]"));
        assert!(!get(addr, "/").1.contains("Case0001"));
    }
    // Twelve runs with a step through A; B shows each at once, and the alert.
    for i in 0..12 {
        let doc = big_run(&uid(500 + i), 3)
            .replace(
                "2026-11-01T00:00:00Z",
                &format!("2026-11-{:02}T00:00:00Z", i + 1),
            )
            .replace(
                "0.001,0.0011,0.0009",
                if i < 6 {
                    "0.001,0.0011,0.0009"
                } else {
                    "0.002,0.0021,0.0019"
                },
            );
        perflab_web::push(&format!("http://{addr_a}"), &token, &doc).unwrap();
        let (_, body) = get(&addr_b, series);
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            v["points"].as_array().unwrap().len(),
            i + 1,
            "B sees run {i} at once"
        );
    }
    let (_, run) = get(&addr_b, &format!("/api/v1/runs/{}", uid(511)));
    assert!(run.contains("Case0002"), "{run}");
    assert!(get(&addr_b, "/").1.contains("Case0001"));
    let (_, alerts) = get(&addr_b, "/api/v1/alerts");
    assert!(alerts.contains("\"benchmark\":\"Case0001\""), "{alerts}");
    for server in [a, b] {
        let (code, err) = stop_with(server, "-TERM");
        assert_eq!(code, Some(0), "{err}");
    }
}

#[test]
fn prune_keeps_baselines_and_export_writes_every_run_as_a_json_line() {
    let lab = Lab::new();
    let db = lab.path("h.db").display().to_string();
    let run = |args: &[&str]| {
        let out = lab
            .cmd()
            .env("PERFLAB_STORE", &db)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    for f in [
        "gobench/base.txt",
        "gobench/slow.txt",
        "gobench/base.txt",
        "gobench/slow.txt",
    ] {
        assert_eq!(run(&["import", &data(f)]).0, Some(0));
    }
    let log = |n: usize| -> Vec<String> {
        let (_, out, _) = run(&["log", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let ids: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(ids.len(), n, "{out}");
        ids
    };
    let ids = log(4);
    let oldest = ids[3].clone();
    assert_eq!(run(&["baseline", "save", "v1", &oldest]).0, Some(0));
    // Export first: four documents, oldest first, each one line that reads back.
    let (code, out, err) = run(&["export"]);
    assert_eq!(code, Some(0), "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 4);
    let first = perflab_model::Run::from_json(lines[0]).unwrap();
    assert_eq!(first.id, oldest);
    assert!(err.contains("exported 4 run(s)"), "{err}");
    // And reads back into another history as it was (same ids), once.
    let backup = lab.write("backup.jsonl", &out);
    let other = lab.path("other.db").display().to_string();
    for expect in [
        "restored 4 run(s); 0 already stored\n",
        "restored 0 run(s); 4 already stored\n",
    ] {
        let restored = lab
            .cmd()
            .env("PERFLAB_STORE", &other)
            .args(["import", "--history", backup.to_str().unwrap()])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&restored.stdout),
            expect,
            "{}",
            stderr(&restored)
        );
    }
    // A dry run removes nothing.
    let (code, out, _) = run(&["prune", "--keep", "1", "--dry-run"]);
    assert_eq!(code, Some(0));
    assert!(
        out.ends_with("would remove 2 run(s); 4 in the history now\n"),
        "{out}"
    );
    log(4);
    let (code, out, _) = run(&["prune", "--keep", "1"]);
    assert_eq!(code, Some(0));
    assert!(
        out.ends_with("removed 2 run(s); 2 in the history\n"),
        "{out}"
    );
    let left = log(2);
    assert_eq!(
        left,
        vec![ids[0].clone(), oldest.clone()],
        "the newest and the baseline's run"
    );
    // Points and the baseline stay consistent: the baseline compares, the series has 2 points.
    assert_eq!(
        run(&["compare", "v1", "latest"]).0.map(|c| c < 2),
        Some(true)
    );
    let (code, out, err) = run(&["prune", "--older-than", "3 parsecs"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(err.starts_with("error: --older-than"), "{err}");
}

/// A loopback webhook receiver: answers 500 to the first delivery and 200 after; every
/// request body goes to the channel.
fn receiver() -> (String, std::sync::mpsc::Receiver<String>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://{}/hooks/secret-path",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut conn) = conn else { break };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut len = 0;
            let mut line = String::new();
            let mut path = String::new();
            while reader.read_line(&mut line).unwrap_or(0) > 0 {
                if path.is_empty() {
                    path = line.split_whitespace().nth(1).unwrap_or("").to_string();
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
                line.clear();
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let status = if n == 0 {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = conn.write_all(
                format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
            let _ = tx.send(format!("{path} {}", String::from_utf8_lossy(&body)));
        }
    });
    (url, rx)
}

#[test]
fn webhooks_hear_of_each_new_alert_group_once_with_retries() {
    let lab = Lab::new();
    let db = lab.path("h.db").display().to_string();
    let out = lab
        .cmd()
        .args(["token", "create", "ci"])
        .env("PERFLAB_STORE", &db)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let doc = |i: usize, slow: bool| {
        big_run(&uid(700 + i), 3)
            .replace(
                "2026-11-01T00:00:00Z",
                &format!("2026-11-{:02}T00:00:00Z", i + 1),
            )
            .replace(
                "0.001,0.0011,0.0009",
                if slow {
                    "0.002,0.0021,0.0019"
                } else {
                    "0.001,0.0011,0.0009"
                },
            )
    };
    let (url, got) = receiver();
    let (server, addr) = serve_on(
        &db,
        &[
            "--webhook",
            &url,
            "--public-url",
            "https://perf.example.com/",
        ],
    );
    let _reap = Reap(server.id());
    for i in 0..12 {
        perflab_web::push(&format!("http://{addr}"), &token, &doc(i, i >= 6)).unwrap();
    }
    let wait = std::time::Duration::from_secs(20);
    let first = got.recv_timeout(wait).expect("a delivery");
    let second = got.recv_timeout(wait).expect("the retry after a 500");
    assert_eq!(first, second, "the same message, again");
    let (path, body) = second.split_once(' ').unwrap();
    assert_eq!(path, "/hooks/secret-path");
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["schema"], "perflab.alert-group.v1");
    assert_eq!(v["group"]["regressions"], 3, "{v}");
    assert_eq!(v["alerts"].as_array().unwrap().len(), 3);
    let a = &v["alerts"][0];
    assert!(
        a["benchmark"].as_str().unwrap().starts_with("Case000"),
        "{a}"
    );
    assert!((a["change"].as_f64().unwrap() - 1.0).abs() < 0.05, "{a}");
    assert!(
        a["link"]
            .as_str()
            .unwrap()
            .starts_with("https://perf.example.com/bench?benchmark=Case000"),
        "{a}"
    );
    let text = v["text"].as_str().unwrap();
    assert!(
        text.starts_with("perflab: 3 regressions and 0 improvements on (no branch) at "),
        "{text}"
    );
    assert!(text.ends_with("https://perf.example.com/alerts"), "{text}");
    // More uploads without a new change point: no second announcement.
    for i in 12..14 {
        perflab_web::push(&format!("http://{addr}"), &token, &doc(i, true)).unwrap();
    }
    assert!(
        got.recv_timeout(std::time::Duration::from_secs(3)).is_err(),
        "announced once"
    );
    let (code, err) = stop_with(server, "-TERM");
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains("secret-path"),
        "the hook's path is a secret: {err}"
    );
    // A restarted server does not announce what was already there.
    let (url, got) = receiver();
    let (server, addr) = serve_on(&db, &["--webhook", &url]);
    let _reap = Reap(server.id());
    perflab_web::push(&format!("http://{addr}"), &token, &doc(14, true)).unwrap();
    assert!(got.recv_timeout(std::time::Duration::from_secs(3)).is_err());
    let (code, _) = stop_with(server, "-TERM");
    assert_eq!(code, Some(0));
}

#[test]
fn push_project_adds_the_run_to_that_project_only() {
    let lab = Lab::new();
    let db = lab.path("h.db").display().to_string();
    let out = lab
        .cmd()
        .args(["token", "create", "ci"])
        .env("PERFLAB_STORE", &db)
        .output()
        .unwrap();
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    let (server, addr) = serve_on(&db, &[]);
    let _reap = Reap(server.id());
    let pushed = lab
        .cmd()
        .args([
            "push",
            &data("gobench/base.txt"),
            "--server",
            &format!("http://{addr}"),
            "--project",
            "api-server",
        ])
        .env("PERFLAB_TOKEN", &token)
        .output()
        .unwrap();
    assert!(pushed.status.success(), "{}", stderr(&pushed));
    assert!(String::from_utf8_lossy(&pushed.stdout).contains("(project api-server)"));
    let get = |path: &str| {
        http(
            &addr,
            &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        )
        .1
    };
    assert_eq!(
        get("/api/v1/projects"),
        r#"{"projects":["default","api-server"]}"#
    );
    assert!(get("/api/v1/projects/api-server/runs").contains("\"kind\": \"import\""));
    assert_eq!(get("/api/v1/runs").trim(), "[]");
    let (code, err) = stop_with(server, "-TERM");
    assert_eq!(code, Some(0), "{err}");
}
