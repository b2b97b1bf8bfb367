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
    let whole = big_run("whole-run", 10);
    let post = |doc: &str, len: usize| {
        format!(
            "POST /api/v1/runs HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\nContent-Length: {len}\r\n\r\n{doc}"
        )
    };
    assert_eq!(http(&addr, &post(&whole, whole.len())).0, 201);
    // Half an upload, then the server is killed.
    let half = big_run("half-run", 10);
    let mut s = TcpStream::connect(&addr).unwrap();
    s.write_all(post(&half[..half.len() / 2], half.len()).as_bytes())
        .unwrap();
    // And uploads of 2,000 benchmarks each in flight when it dies.
    let uploads: Vec<_> = (0..6)
        .map(|i| {
            let (addr, token) = (addr.clone(), token.clone());
            std::thread::spawn(move || {
                let doc = big_run(&format!("big-{i}"), 2000);
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
        ids.contains(&"whole-run") && !ids.contains(&"half-run"),
        "{ids:?}"
    );
    // Every upload the server answered 201 to is there; every stored run is whole.
    assert!(
        runs.len() > acknowledged,
        "{} stored, {acknowledged} acknowledged",
        runs.len()
    );
    for r in runs {
        let expect = if r["id"] == "whole-run" { 10 } else { 2000 };
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
