//! Every command that reads or writes the history works on PostgreSQL as on SQLite:
//! `--store postgres://…` (or `PERFLAB_STORE`), a real server (`PERFLAB_TEST_POSTGRES`).

mod common;

use common::{data, json, stderr, Lab};

fn store_url() -> Option<String> {
    let Ok(url) = std::env::var("PERFLAB_TEST_POSTGRES") else {
        common::skip("postgres", "PERFLAB_TEST_POSTGRES is not set");
        return None;
    };
    let schema = format!(
        "cli_{:x}_{}",
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
fn import_log_baseline_compare_report_and_alerts_on_postgres() {
    let Some(url) = store_url() else { return };
    let lab = Lab::new();
    let run = |args: &[&str]| {
        let out = lab
            .cmd()
            .env("PERFLAB_STORE", &url)
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr(&out),
        )
    };
    let (code, _, err) = run(&["import", &data("gobench/base.txt")]);
    assert_eq!(code, Some(0), "{err}");
    assert_eq!(run(&["baseline", "save", "main"]).0, Some(0));
    let (code, _, err) = run(&["import", &data("gobench/slow.txt")]);
    assert_eq!(code, Some(0), "{err}");
    let (code, out, _) = run(&["log", "--json"]);
    assert_eq!(code, Some(0));
    assert_eq!(json(out.as_bytes()).as_array().unwrap().len(), 2);
    let (code, out, err) = run(&["compare", "main", "latest"]);
    assert_eq!(code, Some(1), "the slowdown fails the gate: {out}{err}");
    assert!(out.contains("regression"), "{out}");
    let (code, out, _) = run(&["report", "--format", "markdown"]);
    assert_eq!(code, Some(1));
    assert!(out.contains("Comparison with previous run"), "{out}");
    assert_eq!(run(&["alerts"]).0, Some(0));
    assert_eq!(run(&["show", "main", "--format", "gotest"]).0, Some(0));
}

#[test]
fn an_unreachable_server_is_one_clear_line() {
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args(["--store", "postgres://nobody@127.0.0.1:1/none", "log"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(
            "error: postgres://nobody@127.0.0.1:1/none: history database (postgres) is unavailable: error connecting to server: "
        ),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
}
