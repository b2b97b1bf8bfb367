//! Bad input is a behaviour: one test per case of issue 9 §2. Each input is refused with
//! `FILE:LINE` (exit 2) or left out with a warning that names it; nothing non-finite reaches
//! the history, and a damaged history never blocks a command.

mod common;

use common::{data, json, stderr, Lab};

fn import(lab: &Lab, file: &str) -> std::process::Output {
    lab.cmd()
        .args(["import", file])
        .output()
        .expect("perflab runs")
}

/// Every sample stored in the lab's history, from every run's document.
fn stored_samples(lab: &Lab) -> Vec<f64> {
    let out = lab.cmd().args(["log", "--json"]).output().unwrap();
    let mut all = Vec::new();
    for r in json(&out.stdout).as_array().unwrap() {
        let id = r["id"].as_str().unwrap();
        let shown = lab.cmd().args(["show", id]).output().unwrap();
        assert!(shown.status.success(), "{}", stderr(&shown));
        let doc = json(&shown.stdout);
        for b in doc["benchmarks"].as_array().unwrap() {
            for m in b["metrics"].as_array().unwrap() {
                for s in m["samples"].as_array().unwrap() {
                    all.push(s.as_f64().expect("a stored sample is a number, never null"));
                }
            }
        }
    }
    all
}

const GO_HEAD: &str = "goos: linux\ngoarch: amd64\npkg: example.com/x\n";

fn go_case(line: &str, warning: &str) {
    let lab = Lab::new();
    let text = format!("{GO_HEAD}BenchmarkGood-2 10 100 ns/op\n{line}\nPASS\n");
    let f = lab.write("bench.txt", &text);
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains(warning), "want {warning:?} in:\n{err}");
    assert!(stored_samples(&lab)
        .iter()
        .all(|v| v.is_finite() && *v >= 0.0));
}

#[test]
fn issue_9_go_nan_is_dropped_with_file_and_line() {
    go_case(
        "BenchmarkBad-2 10 NaN ns/op",
        "bench.txt:5: BenchmarkBad-2: NaN ns/op is not a finite number; value dropped",
    );
}

#[test]
fn issue_9_go_plus_inf_from_report_metric_is_dropped() {
    // b.ReportMetric(x/0, "hits/op") prints +Inf.
    go_case(
        "BenchmarkBad-2 10 100 ns/op +Inf hits/op",
        "bench.txt:5: BenchmarkBad-2: +Inf hits/op is not a finite number; value dropped",
    );
}

#[test]
fn issue_9_go_value_out_of_range_is_dropped() {
    go_case(
        "BenchmarkBad-2 10 1e400 ns/op",
        "bench.txt:5: BenchmarkBad-2: 1e400 ns/op is not a finite number; value dropped",
    );
}

#[test]
fn issue_9_go_negative_time_is_dropped() {
    go_case(
        "BenchmarkBad-2 10 -3 ns/op",
        "bench.txt:5: BenchmarkBad-2: -3 ns/op cannot be negative; value dropped",
    );
}

#[test]
fn issue_9_go_last_line_cut_inside_a_unit_is_caught() {
    let lab = Lab::new();
    let text =
        format!("{GO_HEAD}BenchmarkA-2 10 100 ns/op 64 B/op\nBenchmarkA-2 10 100 ns/op 64 B/o");
    let f = lab.write("cut.txt", &text);
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!("error: {}:5: the last line ends without a newline and its unit \"B/o\" is on no earlier line (is the file truncated?)\n", f.display())
    );
}

#[test]
fn issue_9_empty_sample_lists_are_refused() {
    let lab = Lab::new();
    let f = lab.write(
        "empty.json",
        r#"{"schema":"perflab.result.v1","id":"x","kind":"import","started_at":"2024-01-01T00:00:00Z",
"benchmarks":[{"name":"a","metrics":[{"name":"time","unit":"s","better":"lower","samples":[]}]}]}"#,
    );
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).ends_with(
            "no benchmark results found (read as perflab); a time: no samples; left out\n"
        ),
        "{}",
        stderr(&out)
    );
}

#[test]
fn issue_9_null_sample_in_a_result_document_is_refused_with_line_and_column() {
    let lab = Lab::new();
    let f = lab.write(
        "null.json",
        "{\"schema\":\"perflab.result.v1\",\"id\":\"x\",\"kind\":\"import\",\n\"started_at\":\"2024-01-01T00:00:00Z\",\"benchmarks\":[{\"name\":\"a\",\n\"metrics\":[{\"name\":\"time\",\"unit\":\"s\",\"better\":\"lower\",\"samples\":[1, null]}]}]}\n",
    );
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:3:72: invalid perflab JSON: invalid type: null, expected f64\n",
            f.display()
        )
    );
}

#[test]
fn issue_9_json_number_out_of_range_is_refused_with_line_and_column() {
    let lab = Lab::new();
    let f = lab.write(
        "h.json",
        "{\"results\": [{\"command\": \"x\",\n \"mean\": 1e400, \"times\": [1.0]}]}\n",
    );
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        format!(
            "error: {}:2:14: invalid hyperfine JSON: number out of range\n",
            f.display()
        )
    );
}

#[test]
fn issue_9_truncated_json_of_a_known_format_names_the_json_error() {
    let lab = Lab::new();
    // Real hyperfine output, cut short as a killed job leaves it.
    let whole = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../ingest/tests/data/hyperfine/hyperfine-1.15-two-commands.json"
    ))
    .unwrap();
    let cut = &whole[..whole.len() * 2 / 3];
    let f = lab.write("cut.json", cut);
    let out = import(&lab, f.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with(&format!("error: {}:", f.display()))
            && err.contains(": invalid hyperfine JSON: EOF while parsing"),
        "{err}"
    );
    // Google Benchmark and pytest-benchmark too.
    for (name, text, format) in [
        ("g.json", "{\"context\": {\"date\": \"x\"}, \"benchmarks\": [{\"name\": \"BM_a\", \"real_time\": 1", "gbench"),
        ("p.json", "{\"machine_info\": {}, \"benchmarks\": [{\"name\": \"t\", \"stats\": {\"min\": 1", "pytest-benchmark"),
    ] {
        let f = lab.write(name, text);
        let err = stderr(&import(&lab, f.to_str().unwrap()));
        assert!(err.contains(&format!("invalid {format} JSON: EOF while parsing")), "{err}");
    }
}

#[test]
fn issue_9_import_of_dev_zero_stops_with_an_error() {
    let lab = Lab::new();
    let out = import(&lab, "/dev/zero");
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out),
        "error: /dev/zero: binary data (a NUL byte within the first 65536 bytes), not a result file\n"
    );
}

#[test]
fn issue_9_a_gzip_bomb_as_pprof_input_is_refused_under_300_mb() {
    let lab = Lab::new();
    let bomb = lab.path("bomb.pb.gz");
    // 1 GiB of zeros, gzipped to about 4.5 MB.
    let made = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "head -c 1073741824 /dev/zero | gzip -1 > '{}'",
            bomb.display()
        ))
        .status()
        .expect("sh runs");
    assert!(
        made.success(),
        "could not make the gzip bomb with head and gzip"
    );
    let bin = assert_cmd::cargo::cargo_bin("perflab");
    // An address-space limit of 300 MB: were the bomb inflated, the allocation would fail
    // before perflab could print its own error.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 307200; exec '{}' profile --input '{}' --no-store",
            bin.display(),
            bomb.display()
        ))
        .current_dir(lab.dir.path())
        .env("PERFLAB_STORE", lab.path("history.db"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out)
            .contains("gzip data inflates past 128 MiB, more than any real profile (a gzip bomb?)"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn issue_9_a_planted_symlink_at_the_output_is_not_followed() {
    let lab = Lab::new();
    let victim = lab.write("victim.txt", "keep me");
    let out_path = lab.path("report.md");
    std::os::unix::fs::symlink(&victim, &out_path).unwrap();
    let out = lab
        .cmd()
        .args([
            "compare",
            &data("old.txt"),
            &data("new.txt"),
            "--format",
            "markdown",
            "-o",
        ])
        .arg(&out_path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep me");
    assert!(std::fs::read_to_string(&out_path)
        .unwrap()
        .contains("| benchmark |"));
}

#[test]
fn issue_9_names_cannot_break_markdown_or_the_terminal() {
    let lab = Lab::new();
    let body = |v: u32| {
        let mut t = String::from(GO_HEAD);
        for i in 0..6 {
            t.push_str(&format!(
                "BenchmarkX|<img>\x1b[31m*y*-2 10 {} ns/op\n",
                v + i
            ));
        }
        t
    };
    let a = lab.write("a.txt", &body(100));
    let b = lab.write("b.txt", &body(300));
    let md = lab
        .cmd()
        .args([
            "compare",
            a.to_str().unwrap(),
            b.to_str().unwrap(),
            "--format",
            "markdown",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8(md.stdout).unwrap();
    assert!(!text.contains("<img"), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
    assert!(
        text.contains("X\\|&lt;img&gt;\\\\x1b\\[31m\\*y\\*"),
        "{text}"
    );
    for line in text.lines().filter(|l| l.starts_with("| X")) {
        assert_eq!(
            line.matches(" | ").count(),
            4,
            "one row keeps its five cells: {line}"
        );
    }
    let tty = lab
        .cmd()
        .args(["compare", a.to_str().unwrap(), b.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8(tty.stdout).unwrap();
    assert!(!text.contains('\x1b'), "{text}");
    assert!(text.contains("X|<img>\\x1b[31m*y*"), "{text}");
}

#[test]
fn issue_9_a_corrupt_stored_document_is_skipped_not_fatal() {
    let lab = Lab::new();
    for f in ["old.txt", "new.txt"] {
        assert!(import(&lab, &data(f)).status.success());
    }
    let log = json(&lab.cmd().args(["log", "--json"]).output().unwrap().stdout);
    let newest = log[0]["id"].as_str().unwrap().to_string();
    let older = log[1]["id"].as_str().unwrap().to_string();
    // Damage the newest run's document as a crash or a bad edit would.
    let db = rusqlite::Connection::open(lab.path("history.db")).unwrap();
    db.execute(
        "UPDATE runs SET document = '{\"samples\": [null' WHERE id = ?1",
        [&newest],
    )
    .unwrap();
    drop(db);
    let log = lab.cmd().arg("log").output().unwrap();
    assert!(log.status.success(), "{}", stderr(&log));
    assert!(String::from_utf8_lossy(&log.stdout).contains(&newest[..13]));
    // `latest` skips the damaged run with a warning and uses the one before.
    let out = lab
        .cmd()
        .args(["compare", &data("old.txt"), "latest"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stderr(&out).contains(&format!("warning: stored run {newest} is corrupt")),
        "{}",
        stderr(&out)
    );
    let out = lab
        .cmd()
        .args(["baseline", "save", "main"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&older),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = lab
        .cmd()
        .args(["report", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn issue_9_every_document_perflab_writes_imports_again() {
    let lab = Lab::new();
    let text =
        format!("{GO_HEAD}BenchmarkA-2 10 100 ns/op 1 x/op\nBenchmarkA-2 10 NaN ns/op +Inf x/op\n");
    let f = lab.write("b.txt", &text);
    let out = lab
        .cmd()
        .args(["import", f.to_str().unwrap(), "--out", "r.json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let again = import(&lab, lab.path("r.json").to_str().unwrap());
    assert!(again.status.success(), "{}", stderr(&again));
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.path("r.json")).unwrap()).unwrap();
    assert!(!doc.to_string().contains("null"), "{doc}");
}

#[test]
fn issue_9_outputs_replace_whole_files_and_leave_no_temp_or_name_the_file() {
    let lab = Lab::new();
    for _ in 0..2 {
        let out = lab
            .cmd()
            .args(["compare", &data("old.txt"), &data("new.txt"), "-o", "c.txt"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    }
    let names: Vec<String> = std::fs::read_dir(lab.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "history.db")
        .collect();
    assert_eq!(names, ["c.txt"], "no temp file is left beside the output");
    let out = lab
        .cmd()
        .args([
            "compare",
            &data("old.txt"),
            &data("new.txt"),
            "-o",
            "/nonexistent-dir/x.md",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).starts_with("error: cannot write /nonexistent-dir/x.md"),
        "{}",
        stderr(&out)
    );
}
