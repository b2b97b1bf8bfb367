//! perflab's comparison against benchstat's printed output on the same inputs: for every row
//! the same `~` decision or the same delta to two decimals, the same p-value to three, the same
//! sample counts, the same `± x%`, and the same geomean delta.

use std::path::Path;

use perflab_analysis::{compare, CompareOptions, Row, Verdict};
use perflab_ingest::{parse_path, parse_text, Format};
use perflab_model::Benchmark;

struct Expected {
    unit: String,
    name: String,
    pct: Vec<String>,
    delta: String,
    p: Option<String>,
    n: Option<String>,
}

fn data(f: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(f)
}

fn parse_stdout(text: &str) -> Vec<Expected> {
    let mut out = Vec::new();
    let mut unit = String::new();
    for line in text.lines() {
        if line.contains("vs base") {
            unit = line.split('│').nth(1).unwrap_or("").trim().to_string();
            continue;
        }
        if line.starts_with(' ')
            || line.starts_with('¹')
            || line.starts_with('²')
            || !line.contains(char::is_whitespace)
        {
            continue;
        }
        let tokens: Vec<&str> = line.split_whitespace().collect();
        if tokens.len() < 3 || line.contains(':') && !line.contains("(p=") {
            continue;
        }
        let name = tokens[0].to_string();
        let pct: Vec<String> = tokens
            .windows(2)
            .filter(|w| w[0] == "±")
            .map(|w| w[1].to_string())
            .collect();
        let (delta, p, n) = match line.find("(p=") {
            Some(pos) => {
                let before: Vec<&str> = line[..pos].split_whitespace().collect();
                let inner = &line[pos + 3..line[pos..].find(')').unwrap() + pos];
                let (p, n) = inner.split_once(" n=").unwrap();
                (
                    before.last().unwrap().to_string(),
                    Some(p.to_string()),
                    Some(n.to_string()),
                )
            }
            None => {
                let last = tokens.iter().rev().find(|t| t.ends_with('%')).copied();
                match last {
                    Some(d) if name == "geomean" => (d.to_string(), None, None),
                    _ => continue,
                }
            }
        };
        out.push(Expected {
            unit: unit.clone(),
            name,
            pct,
            delta,
            p,
            n,
        });
    }
    out
}

fn metric_of(unit: &str) -> &str {
    match unit {
        "sec/op" => "time",
        "B/s" => "throughput",
        "B/op" => "bytes_per_op",
        "allocs/op" => "allocs_per_op",
        other => other,
    }
}

/// The key perflab gives a benchstat row name (without the `pkg` param, which benchstat prints
/// in a header instead).
fn key_of(name: &str) -> String {
    let p = parse_text(
        &format!("Benchmark{name} 1 1 ns/op\n"),
        Some(Format::GoTest),
        "name",
    )
    .unwrap();
    p.benchmarks[0].key()
}

fn row_key(r: &Row) -> String {
    let mut b = Benchmark::new(r.benchmark.clone());
    b.params = r.params.clone();
    b.params.remove("pkg");
    b.key()
}

fn pct_range(r: &perflab_analysis::Side) -> String {
    let x = perflab_stats::pct_range(r.median, r.ci_low, r.ci_high);
    if x.is_infinite() {
        "∞".into()
    } else {
        format!("{x:.0}%")
    }
}

fn check(old: &str, new: &str, stdout: &str, alpha: f64, confidence: f64) -> usize {
    let base = parse_path(&data(old), None).unwrap().benchmarks;
    let cur = parse_path(&data(new), None).unwrap().benchmarks;
    let opts = CompareOptions {
        alpha,
        confidence_level: confidence,
        ..CompareOptions::default()
    };
    let c = compare(&base, &cur, &opts).unwrap();
    let expected = parse_stdout(&std::fs::read_to_string(data(stdout)).unwrap());
    let mut checked = 0;
    for e in &expected {
        let metric = metric_of(&e.unit);
        if e.name == "geomean" {
            let g = c
                .geomean
                .iter()
                .find(|g| g.metric == metric)
                .unwrap_or_else(|| panic!("{stdout}: no geomean for {metric}"));
            let got = format!("{:+.2}%", g.change.unwrap() * 100.0);
            assert_eq!(got, e.delta, "{stdout}: geomean {metric}");
            checked += 1;
            continue;
        }
        let key = key_of(&e.name);
        let r = c
            .rows
            .iter()
            .find(|r| r.metric == metric && row_key(r) == key)
            .unwrap_or_else(|| panic!("{stdout}: no row {key} {metric}"));
        let ctx = format!("{stdout}: {} {metric}", e.name);
        assert_eq!(
            vec![pct_range(&r.base), pct_range(&r.current)],
            e.pct,
            "{ctx} ±"
        );
        if let Some(p) = &e.p {
            assert_eq!(&format!("{:.3}", r.p_value.unwrap()), p, "{ctx} p");
        }
        if let Some(n) = &e.n {
            let want = if r.base.n == r.current.n {
                r.base.n.to_string()
            } else {
                format!("{}+{}", r.base.n, r.current.n)
            };
            assert_eq!(&want, n, "{ctx} n");
        }
        if e.delta == "~" {
            assert_eq!(r.verdict, Verdict::Same, "{ctx} verdict");
        } else {
            assert_ne!(r.verdict, Verdict::Same, "{ctx} verdict");
            assert_eq!(
                format!("{:+.2}%", r.change.unwrap() * 100.0),
                e.delta,
                "{ctx} delta"
            );
        }
        checked += 1;
    }
    checked
}

#[test]
fn syn_oldnew() {
    assert_eq!(
        check(
            "syn-old.txt",
            "syn-new.txt",
            "syn-oldnew.stdout",
            0.05,
            0.95
        ),
        11
    );
}

#[test]
fn syn_alpha_001_confidence_099() {
    assert_eq!(
        check(
            "syn-old.txt",
            "syn-new.txt",
            "syn-alpha01-conf99.stdout",
            0.01,
            0.99
        ),
        11
    );
}

#[test]
fn syn_confidence_090() {
    assert_eq!(
        check(
            "syn-old.txt",
            "syn-new.txt",
            "syn-conf90.stdout",
            0.05,
            0.90
        ),
        11
    );
}

#[test]
fn mem_oldnew_every_unit() {
    assert!(
        check(
            "mem-old.txt",
            "mem-new.txt",
            "mem-oldnew.stdout",
            0.05,
            0.95
        ) >= 12
    );
}

#[test]
fn doc01_old_new() {
    assert_eq!(check("old.txt", "new.txt", "old-new.stdout", 0.05, 0.95), 3);
}

#[test]
fn crc_ignore_note() {
    assert!(check("crc-old.txt", "crc-new.txt", "crcIgnore.stdout", 0.05, 0.95) >= 70);
}
