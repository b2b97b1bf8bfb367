//! `perflab profile` and `perflab scan` on real programs built here (gcc, rustc) whose hottest
//! function and allocation profile are known. Tests that need perf say so and skip where perf
//! cannot record; the fallbacks are tested everywhere.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command as Std;

use common::{data, have, json, stderr, Lab};

fn perf_works() -> bool {
    let dir = tempfile::tempdir().expect("dir");
    Std::new("perf")
        .args(["record", "-q", "-e", "cpu-clock", "-o"])
        .arg(dir.path().join("p.data"))
        .args(["--", "true"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn valgrind_works() -> bool {
    have("valgrind")
}

/// Held by the test that pins CPU hogs and by the tests that measure rates: they must not
/// overlap, or the hogs' preemption is what the rate tests see.
static QUIET: std::sync::Mutex<()> = std::sync::Mutex::new(());

macro_rules! need {
    ($cond:expr, $what:literal) => {
        if !$cond {
            common::skip($what, "it is not available here");
            return;
        }
    };
}

/// Build a C fixture with extra flags.
fn gcc(lab: &Lab, src: &str, out: &str, flags: &[&str]) -> PathBuf {
    let exe = lab.path(out);
    let st = Std::new("gcc")
        .args(flags)
        .arg("-g")
        .arg("-o")
        .arg(&exe)
        .arg(data(&format!("profile/{src}")))
        .status()
        .expect("gcc runs");
    assert!(st.success());
    exe
}

fn profile_json(lab: &Lab, args: &[&str]) -> serde_json::Value {
    let out = lab.cmd().arg("profile").args(args).output().expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    json(&out.stdout)
}

fn summary(run: &serde_json::Value) -> &serde_json::Value {
    &run["profiles"][0]
}

fn top1(run: &serde_json::Value) -> String {
    summary(run)["top"][0]["function"]
        .as_str()
        .expect("a top row")
        .to_string()
}

/// Read a profile back with perflab's own reader (`perflab profile --input FILE --json`): its
/// total and its hottest function.
fn read_back(path: &Path) -> (f64, String) {
    let lab = Lab::new();
    let run = profile_json(
        &lab,
        &[
            "--input",
            &path.display().to_string(),
            "--json",
            "--no-store",
            "-o",
            "re",
        ],
    );
    (summary(&run)["total"].as_f64().expect("total"), top1(&run))
}

#[test]
fn perf_finds_the_hot_function_and_cpu_agrees_with_rusage() {
    need!(perf_works(), "perf");
    let _quiet = QUIET.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "out",
            "--",
            &exe.display().to_string(),
            "150000000",
        ],
    );
    let s = summary(&run);
    assert_eq!(top1(&run), "hot_loop");
    assert_eq!(s["backend"], "perf");
    // The run carries its heaviest stacks, so the dashboard can draw its flame graph; the
    // hottest one ends in hot_loop and the shares are of the whole profile.
    let stacks = s["stacks"].as_array().expect("stacks");
    assert!(!stacks.is_empty() && stacks.len() <= 500);
    assert!(
        stacks[0]["stack"].as_str().unwrap().ends_with("hot_loop"),
        "{}",
        stacks[0]
    );
    let shares: f64 = stacks.iter().map(|x| x["weight"].as_f64().unwrap()).sum();
    assert!(shares > 0.5 && shares <= 1.0 + 1e-9, "{shares}");
    let total = s["total"].as_f64().expect("total");
    assert_eq!(
        s["total"], s["cpu_time_s"],
        "absolute times are the process's own"
    );
    // Samples per second of the process's own CPU time: the sampling and rusage agree.
    let rate = s["rate_hz"].as_f64().expect("rate");
    assert!(
        (rate - 499.0).abs() / 499.0 < 0.15,
        "effective rate {rate} Hz"
    );
    // The sampled CPU agreed with rusage within 10%, or a warning says otherwise.
    let warnings = s["warnings"].to_string();
    assert!(!warnings.contains("samples cover"), "{warnings}");
    // Every output exists, and the pprof decodes with values summing to the summary's total.
    for f in ["flamegraph.svg", "profile.pb.gz", "stacks.folded"] {
        assert!(lab.path("out").join(f).is_file(), "{f} missing");
    }
    let svg = std::fs::read_to_string(lab.path("out/flamegraph.svg")).unwrap();
    assert!(
        svg.contains("perf") && svg.contains("Hz"),
        "titled with backend and rate"
    );
    let (back_total, back_top) = read_back(&lab.path("out/profile.pb.gz"));
    assert!(
        (back_total - total).abs() / total < 0.001,
        "{back_total} vs {total}"
    );
    assert_eq!(back_top, "hot_loop");
    let folded = std::fs::read_to_string(lab.path("out/stacks.folded")).unwrap();
    assert!(folded.lines().any(|l| l.contains("main;hot_loop")));
}

#[test]
fn frame_pointers_are_chosen_and_stacks_reach_main() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hotfp", &["-O0", "-fno-omit-frame-pointer"]);
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "out",
            "--",
            &exe.display().to_string(),
            "60000000",
        ],
    );
    let s = summary(&run);
    assert_eq!(s["unwinding"], "fp");
    assert!(s["backend_note"]
        .as_str()
        .unwrap()
        .contains("keep frame pointers"));
    assert_eq!(top1(&run), "hot_loop");
    // At least 90% of the sample weight has a stack that reaches main.
    let folded = std::fs::read_to_string(lab.path("out/stacks.folded")).unwrap();
    let (mut all, mut with_main) = (0i64, 0i64);
    for line in folded.lines() {
        let (stack, v) = line.rsplit_once(' ').unwrap();
        let v: i64 = v.parse().unwrap();
        all += v;
        if stack.split(';').any(|f| f == "main") {
            with_main += v;
        }
    }
    assert!(with_main as f64 >= 0.9 * all as f64, "{with_main} of {all}");
    // Through programs that exec it, the program's own frame pointers still decide.
    let exe = exe.display().to_string();
    let run = profile_json(
        &lab,
        &[
            "--json",
            "--no-store",
            "-o",
            "out2",
            "--",
            "nice",
            "-n",
            "1",
            "env",
            "A=1",
            &exe,
            "60000000",
        ],
    );
    let s = summary(&run);
    assert_eq!(s["unwinding"], "fp", "{s}");
    assert!(
        s["backend_note"]
            .as_str()
            .unwrap()
            .contains("keep frame pointers"),
        "{s}"
    );
    assert_eq!(top1(&run), "hot_loop");
}

#[test]
fn go_tool_pprof_opens_the_output() {
    need!(perf_works(), "perf");
    need!(have("go"), "go");
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "out",
            "--",
            &exe.display().to_string(),
            "80000000",
        ],
    );
    let out = Std::new("go")
        .args(["tool", "pprof", "-top"])
        .arg(lab.path("out/profile.pb.gz"))
        .env("HOME", lab.dir.path())
        .env("PPROF_TMPDIR", lab.dir.path())
        .output()
        .expect("go tool pprof runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("flat%") && text.contains("hot_loop"),
        "{text}"
    );
}

/// `go tool pprof -list`, `-lines` and `-disasm` work on perflab's `profile.pb.gz` for C (gcc),
/// Rust (rustc's lld puts code at another address than its file offset) and Go (a fixed-address
/// executable with compressed DWARF): the lines and instructions of the hot function carry its
/// samples.
#[test]
fn go_tool_pprof_lists_lines_and_disassembles_the_output() {
    need!(perf_works(), "perf");
    need!(have("go"), "go");
    let lab = Lab::new();
    let c = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let rs = lab.path("hotrs");
    let st = Std::new("rustc")
        .args(["-O", "-g", "-o"])
        .arg(&rs)
        .arg(data("profile/hot.rs"))
        .status()
        .expect("rustc runs");
    assert!(st.success());
    let go = go_bench_binary(&lab);
    let pprof = |args: &[&str], file: &Path| -> String {
        let out = Std::new("go")
            .args(["tool", "pprof"])
            .args(args)
            .arg(file)
            .env("HOME", lab.dir.path())
            .env("PPROF_TMPDIR", lab.dir.path())
            .output()
            .expect("go tool pprof runs");
        assert!(out.status.success(), "{}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    // A row of -list or -disasm output whose flat column has a value.
    let sampled = |text: &str| {
        text.lines().any(|l| {
            let flat = l.split_whitespace().next().unwrap_or(".");
            flat != "." && flat.ends_with('s') && l.contains(':')
        })
    };
    let cases: [(&Path, &[&str], &str, &str); 3] = [
        (&c, &["60000000"], "hot_loop", "hot.c"),
        (&rs, &["1500"], "checksum", "hot.rs"),
        (
            &go,
            &["-test.bench=.", "-test.benchtime=1s", "-test.run=^$"],
            "fibonacci",
            "fib_test.go",
        ),
    ];
    for (exe, args, function, source) in cases {
        let dir = format!("out-{source}");
        let mut argv = vec!["--json", "--no-store", "-o", &dir, "--"];
        let exe = exe.display().to_string();
        argv.push(&exe);
        argv.extend(args);
        profile_json(&lab, &argv);
        let file = lab.path(&format!("{dir}/profile.pb.gz"));
        let listed = pprof(&["-list", function], &file);
        let header = "ROUTINE ======================== ";
        assert!(
            listed
                .lines()
                .any(|l| l.starts_with(header) && l.contains(source)),
            "{source}: {listed}"
        );
        assert!(
            sampled(&listed),
            "{source}: no source line has samples: {listed}"
        );
        let lines = pprof(&["-lines", "-top"], &file);
        assert!(
            lines
                .lines()
                .any(|l| l.contains(function) && l.contains(&format!("{source}:"))),
            "{source}: {lines}"
        );
        let disasm = pprof(&["-disasm", function], &file);
        assert!(disasm.contains("ROUTINE"), "{source}: {disasm}");
        assert!(
            sampled(&disasm),
            "{source}: no instruction has samples: {disasm}"
        );
    }
}

#[test]
fn rust_programs_profile_too() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = lab.path("hotrs");
    let st = Std::new("rustc")
        .args(["-O", "-g", "-o"])
        .arg(&exe)
        .arg(data("profile/hot.rs"))
        .status()
        .expect("rustc runs");
    assert!(st.success());
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "out",
            "--",
            &exe.display().to_string(),
            "3000",
        ],
    );
    // Inlined functions are rows of their own, as go tool pprof shows them: the flat top may be
    // the multiply inlined into `checksum`; `checksum` itself holds nearly all of the CPU.
    let top = top1(&run);
    assert!(
        top.ends_with("checksum") || top == "<u64>::wrapping_mul",
        "{top}"
    );
    let checksum = summary(&run)["top"]
        .as_array()
        .and_then(|t| {
            t.iter().find(|f| {
                f["function"]
                    .as_str()
                    .is_some_and(|n| n.ends_with("::checksum"))
            })
        })
        .cloned()
        .unwrap_or_default();
    assert!(
        checksum["cum_share"].as_f64().unwrap_or(0.0) > 0.9,
        "{checksum}"
    );
}

#[test]
fn callgrind_mode_counts_instructions_deterministically() {
    need!(valgrind_works(), "valgrind");
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let e = exe.display().to_string();
    let a = profile_json(
        &lab,
        &[
            "--json",
            "--mode",
            "callgrind",
            "-o",
            "a",
            "--",
            &e,
            "2000000",
        ],
    );
    let b = profile_json(
        &lab,
        &[
            "--json",
            "--mode",
            "callgrind",
            "-o",
            "b",
            "--",
            &e,
            "2000000",
        ],
    );
    assert_eq!(summary(&a)["backend"], "callgrind");
    assert_eq!(summary(&a)["value"], "instructions");
    assert_eq!(top1(&a), "hot_loop");
    assert_eq!(
        summary(&a)["total"],
        summary(&b)["total"],
        "instruction counts repeat"
    );
}

#[test]
fn missing_or_denied_perf_falls_back_and_says_why() {
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let e = exe.display().to_string();
    // A perf that refuses, as a locked-down kernel makes it.
    let fake = lab.write(
        "fake-perf",
        "#!/bin/sh\necho 'Error: Access to performance monitoring and observability operations is limited.' >&2\necho 'Consider adjusting /proc/sys/kernel/perf_event_paranoid' >&2\nexit 255\n",
    );
    Std::new("chmod").arg("+x").arg(&fake).status().unwrap();
    let cases: Vec<(&str, String, &str)> = vec![
        (
            "PERFLAB_PERF",
            "/nonexistent/perf".into(),
            "perf is not installed",
        ),
        (
            "PERFLAB_PERF",
            fake.display().to_string(),
            "perf record was refused",
        ),
    ];
    for (var, value, why) in cases {
        let mut c = lab.cmd();
        c.env(var, &value);
        if !valgrind_works() {
            c.env("PERFLAB_VALGRIND", "/nonexistent/valgrind");
        }
        let out = c
            .args(["profile", "--json", "-o", "fb", "--", &e, "1000000"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let run = json(&out.stdout);
        let s = summary(&run);
        let note = s["backend_note"].as_str().unwrap();
        assert!(note.contains(why), "{note}");
        let expected = if valgrind_works() {
            "callgrind"
        } else {
            "rusage"
        };
        assert_eq!(s["backend"], expected);
        for f in ["flamegraph.svg", "profile.pb.gz", "stacks.folded"] {
            assert!(lab.path("fb").join(f).is_file(), "{f} missing");
        }
    }
    // Neither perf nor valgrind: timing only, still every output and the CPU total.
    let out = lab
        .cmd()
        .env("PERFLAB_PERF", "/nonexistent/perf")
        .env("PERFLAB_VALGRIND", "/nonexistent/valgrind")
        .args(["profile", "--json", "-o", "none", "--", &e, "1000000"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    assert_eq!(summary(&run)["backend"], "rusage");
    assert!(summary(&run)["backend_note"]
        .as_str()
        .unwrap()
        .contains("timing only"));
    assert!(lab.path("none/flamegraph.svg").is_file());
    // --mode perf does not fall back.
    let out = lab
        .cmd()
        .env("PERFLAB_PERF", "/nonexistent/perf")
        .args(["profile", "--mode", "perf", "-o", "x", "--", &e])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("perf is not installed"));
}

#[test]
fn alloc_mode_finds_the_top_site_and_the_leaks() {
    need!(valgrind_works(), "valgrind");
    let lab = Lab::new();
    let exe = gcc(&lab, "leak.c", "leak", &["-O1"]);
    let out = lab
        .cmd()
        .env("PERFLAB_PERF", "/nonexistent/perf") // the CPU part does not matter here
        .args(["profile", "--alloc", "--json", "-o", "out", "--"])
        .arg(&exe)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let a = &summary(&run)["alloc"];
    assert_eq!(a["sites"][0]["function"], "big_site");
    assert_eq!(a["sites"][0]["blocks"], 1000);
    assert_eq!(a["leaked_blocks"], 7);
    assert_eq!(a["leaked_bytes"], 112);
    assert_eq!(a["temporary_blocks"], 1000);
    let rules: Vec<&str> = summary(&run)["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(
        rules.contains(&"leaks") && rules.contains(&"temporary-allocations"),
        "{rules:?}"
    );
    for f in ["alloc-flamegraph.svg", "alloc.pb.gz", "alloc.folded"] {
        assert!(lab.path("out").join(f).is_file(), "{f} missing");
    }
}

#[test]
fn bad_input_is_one_line_and_exit_2_without_half_files() {
    let lab = Lab::new();
    let out = lab
        .cmd()
        .args(["profile", "-o", "o1", "--", "no-such-program-perflab"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr(&out).trim(),
        "error: cannot start \"no-such-program-perflab\": not found (not a file, and not on PATH)"
    );
    assert!(!lab.path("o1").exists());
    // A truncated profile: refused, nothing written.
    let good = lab.path("good.pb.gz");
    {
        let exe_lab = Lab::new();
        let f = exe_lab.write("s.folded", "main;work 90\nmain 10\n");
        let out = lab
            .cmd()
            .args(["profile", "--no-store", "-o", "g", "--input"])
            .arg(&f)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        std::fs::copy(lab.path("g/profile.pb.gz"), &good).unwrap();
    }
    let bytes = std::fs::read(&good).unwrap();
    let cut = lab.path("cut.pb.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let out = lab
        .cmd()
        .args(["profile", "-o", "o2", "--input"])
        .arg(&cut)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.starts_with("error: ") && err.contains("cut.pb.gz: bad gzip data"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1);
    assert!(!lab.path("o2").exists());
    // A foreign file.
    let foreign = lab.write("notes.txt", "hello\nworld\n");
    let out = lab
        .cmd()
        .args(["profile", "-o", "o3", "--input"])
        .arg(&foreign)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("notes.txt:1"), "{}", stderr(&out));
    // A pid that does not exist.
    let out = lab
        .cmd()
        .args(["profile", "--pid", "999999999", "--duration", "1s"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no such process"));
}

#[test]
fn a_crashing_command_keeps_a_marked_partial_profile() {
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let out = lab
        .cmd()
        .env("PERFLAB_VALGRIND", "/nonexistent/valgrind")
        .args(["profile", "--out", "r.json", "-o", "out", "--"])
        .arg(&exe)
        .args(["1000", "crash"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("killed by signal 6") && err.contains("partial"),
        "{err}"
    );
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(lab.path("r.json")).unwrap()).unwrap();
    assert!(summary(&run)["warnings"].to_string().contains("partial"));
    assert!(lab.path("out/flamegraph.svg").is_file());
}

#[test]
fn report_shows_hot_paths_of_a_profile_run() {
    let lab = Lab::new();
    let f = lab.write(
        "s.folded",
        "main;parse;malloc 300\nmain;parse;memcpy 100\nmain;work 600\n",
    );
    let out = lab
        .cmd()
        .args(["profile", "-o", "p", "--input"])
        .arg(&f)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = lab
        .cmd()
        .args(["report", "--format", "markdown"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(md.contains("## 🔥 Hot Paths"), "{md}");
    assert!(md.contains("work"));
    assert!(md.contains("## 💡 Recommendations"));
    assert!(md.contains("called from parse"), "{md}");
}

#[test]
fn scan_profiles_several_targets_and_diffs_against_a_baseline() {
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let e = exe.display().to_string();
    let base = lab.write("base.folded", "main;cold_loop 900\nmain;hot_loop 100\n");
    let out = lab
        .cmd()
        .env("PERFLAB_VALGRIND", "/nonexistent/valgrind")
        .args([
            "scan",
            "--json",
            "--budget",
            "20s",
            "-o",
            "scan",
            "--baseline",
        ])
        .arg(&base)
        .arg(format!("{e} 30000000"))
        .arg(format!("{e} 10000000"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let profiles = run["profiles"].as_array().unwrap();
    assert_eq!(profiles.len(), 3);
    let all = &profiles[2];
    assert_eq!(all["target"], "all");
    if perf_works() {
        assert_eq!(all["top"][0]["function"], "hot_loop");
        // Ranked by the size of the move either way: cold_loop's drop is kept beside hot_loop's rise.
        let delta = all["baseline_delta"].as_array().unwrap();
        let moved = |f: &str| {
            let d = delta.iter().find(|d| d["function"] == f).unwrap();
            d["current_share"].as_f64().unwrap() - d["base_share"].as_f64().unwrap()
        };
        assert!(
            moved("hot_loop") > 0.5,
            "hot_loop got hotter than in the baseline: {delta:?}"
        );
        assert!(
            moved("cold_loop") < -0.5,
            "the improvement is kept: {delta:?}"
        );
        assert!(lab.path("scan/diff-flamegraph.svg").is_file());
    }
    for f in [
        "1-flamegraph.svg",
        "2-flamegraph.svg",
        "overall-flamegraph.svg",
    ] {
        assert!(lab.path("scan").join(f).is_file(), "{f} missing");
    }
}

#[test]
fn peak_rss_is_the_commands_own_or_not_reported() {
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let run_with = |extra: &[&str]| {
        let out = lab
            .cmd()
            .env("PERFLAB_PERF", "/nonexistent/perf")
            .env("PERFLAB_VALGRIND", "/nonexistent/valgrind")
            .args(["profile", "--json", "--no-store", "-o", "m", "--"])
            .arg(&exe)
            .args(extra)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out.stdout)
    };
    let big = run_with(&["1000", "m"]);
    let peak = summary(&big)["peak_rss_bytes"]
        .as_f64()
        .expect("a 64 MiB peak is reported");
    assert!(peak >= 64.0 * 1024.0 * 1024.0, "{peak}");
    // A tiny program's peak is below what the kernel charges it with from perflab: not reported.
    let tiny = run_with(&["1000"]);
    assert!(summary(&tiny).get("peak_rss_bytes").is_none());
    assert!(summary(&tiny)["warnings"]
        .to_string()
        .contains("measurement floor"));
}

#[test]
fn options_that_cannot_apply_are_refused() {
    let lab = Lab::new();
    let f = lab.write("s.folded", "main 1\n");
    for (args, says) in [
        (
            vec!["--alloc", "--input", "s.folded"],
            "--alloc profiles a command",
        ),
        (
            vec!["--mode", "callgrind", "--pid", "1"],
            "--mode callgrind runs a command",
        ),
        (vec!["--duration", "0s", "--", "true"], "more than zero"),
        (vec!["--input", "s.folded", "--", "true"], "exactly one of"),
    ] {
        let out = lab.cmd().arg("profile").args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
    assert!(f.is_file());
    let out = lab
        .cmd()
        .args(["scan", "--budget", "0s", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--budget must be more than zero"));
}

#[test]
fn scan_fails_when_a_target_crashes_but_keeps_every_profile() {
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1"]);
    let e = exe.display().to_string();
    let out = lab
        .cmd()
        .env("PERFLAB_VALGRIND", "/nonexistent/valgrind")
        .args(["scan", "--out", "r.json", "-o", "scan"])
        .arg(format!("{e} 1000 crash"))
        .arg(format!("{e} 1000"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("killed by signal 6"),
        "{}",
        stderr(&out)
    );
    assert!(lab.path("scan/2-flamegraph.svg").is_file());
    assert!(lab.path("r.json").is_file());
}

#[test]
fn scan_checks_every_command_exists_before_profiling_any() {
    let lab = Lab::new();
    let started = std::time::Instant::now();
    let out = lab
        .cmd()
        .args([
            "scan",
            "--budget",
            "30s",
            "-o",
            "scan",
            "sleep 5",
            "no-such-program-xyz --flag",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no-such-program-xyz: no such program"),
        "{}",
        stderr(&out)
    );
    // `sleep 5` was not run first: the check came before any profiling.
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    assert!(!lab.path("scan/1-flamegraph.svg").exists());
}

/// A Go benchmark binary (`go test -c`) whose hot function is known.
fn go_bench_binary(lab: &Lab) -> PathBuf {
    lab.write("go.mod", "module example.com/fib\n\ngo 1.18\n");
    lab.write(
        "fib_test.go",
        r#"package fib

import "testing"

func fibonacci(n int) int {
	if n < 2 {
		return n
	}
	return fibonacci(n-1) + fibonacci(n-2)
}

var sink int

func BenchmarkFib(b *testing.B) {
	for i := 0; i < b.N; i++ {
		sink = fibonacci(22)
	}
}
"#,
    );
    go_test_c(lab, "fib.test")
}

/// `go test -c -o OUT` in the lab (offline, its own caches).
fn go_test_c(lab: &Lab, out: &str) -> PathBuf {
    let st = Std::new("go")
        .current_dir(lab.path(""))
        .env("GOCACHE", lab.path("gocache"))
        .env("GOPATH", lab.path("gopath"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .args(["test", "-c", "-o", out])
        .status()
        .expect("go");
    assert!(st.success());
    lab.path(out)
}

#[test]
fn bench_profile_attaches_the_harness_profile_to_its_results() {
    need!(have("go"), "go");
    let lab = Lab::new();
    let exe = go_bench_binary(&lab);
    let bench = |env: &[(&str, &str)]| {
        let mut cmd = lab.cmd();
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd
            .args([
                "bench",
                "--profile",
                "--profile-dir",
                "prof",
                "--json",
                "--no-store",
                "--",
            ])
            .arg(&exe)
            .args([
                "-test.run",
                "^$",
                "-test.bench",
                ".",
                "-test.benchtime",
                "300ms",
            ])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out.stdout)
    };
    // Without perf and valgrind: timing only, but the harness's results are all there.
    let doc = bench(&[
        ("PERFLAB_PERF", "/nonexistent/perf"),
        ("PERFLAB_VALGRIND", "/nonexistent/valgrind"),
    ]);
    assert_eq!(doc["benchmarks"][0]["name"], "Fib", "{doc}");
    assert_eq!(doc["labels"]["profiler"], "rusage");
    assert_eq!(doc["profiles"][0]["backend"], "rusage");
    need!(perf_works(), "perf");
    let doc = bench(&[]);
    assert_eq!(doc["tool"]["name"], "go test");
    assert_eq!(doc["benchmarks"][0]["name"], "Fib");
    assert_eq!(doc["labels"]["profiler"], "perf");
    let top = doc["profiles"][0]["top"].as_array().unwrap();
    assert!(
        top[0]["function"]
            .as_str()
            .unwrap()
            .contains("fib.fibonacci"),
        "{top:?}"
    );
    assert!(lab.path("prof/flamegraph.svg").is_file());
    assert!(lab.path("prof/profile.pb.gz").is_file());
    // Profiling options alone are a mistake, not silently ignored.
    let out = lab
        .cmd()
        .args(["bench", "--alloc", "--no-store", "--", "true"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("add --profile"), "{}", stderr(&out));
}

/// "Mostly waited" is said only of a program that waited: a CPU loop that shares its core with
/// two others is told the machine was busy (it was preempted: involuntary context switches),
/// and a program that sleeps is told it waited (voluntary ones).
#[test]
fn a_preempted_loop_is_told_the_machine_was_busy_and_a_sleeper_that_it_waited() {
    need!(perf_works(), "perf");
    need!(have("taskset"), "taskset");
    let _quiet = QUIET.lock().unwrap_or_else(|p| p.into_inner());
    let lab = Lab::new();
    let hogs: Vec<std::process::Child> = (0..2)
        .map(|_| {
            Std::new("taskset")
                .args(["-c", "0", "sh", "-c", "while :; do :; done"])
                .spawn()
                .unwrap()
        })
        .collect();
    let bin = assert_cmd::cargo::cargo_bin("perflab");
    let out = lab
        .cmd()
        .args([
            "profile", "--json", "-o", "busy", "--", "taskset", "-c", "0",
        ])
        .arg(&bin)
        .args(["spin", "--work", "400"])
        .output()
        .unwrap();
    for mut h in hogs {
        let _ = h.kill();
        let _ = h.wait();
    }
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let s = summary(&run);
    let rules: Vec<&str> = s["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    let forced = s["involuntary_switches"].as_u64().unwrap();
    assert!(forced > s["voluntary_switches"].as_u64().unwrap(), "{s}");
    assert!(
        rules.contains(&"machine-busy") && !rules.contains(&"off-cpu"),
        "{rules:?}: {s}"
    );
    // Several sleeps, so its voluntary switches outnumber a preemption or two at exec on a busy
    // machine (one `sleep 0.5` was told "machine-busy" under the suite's own load).
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "sleep",
            "--",
            "sh",
            "-c",
            "sleep 0.2; sleep 0.2; sleep 0.2",
        ],
    );
    let rules: Vec<String> = summary(&run)["recommendations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"].as_str().unwrap().to_string())
        .collect();
    assert!(rules.contains(&"off-cpu".to_string()), "{rules:?}");
}

/// `--pid P --duration 2s` measures the sampling window: 2 s of wall time, the CPU perf sampled
/// in it, and no "samples were lost" (perf's attach time was counted, and every time scaled).
#[test]
fn a_pid_is_measured_over_exactly_the_sampling_window() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let mut busy = Std::new("sh")
        .args(["-c", "while :; do :; done"])
        .spawn()
        .unwrap();
    let pid = busy.id().to_string();
    let out = lab
        .cmd()
        .args([
            "profile",
            "--pid",
            &pid,
            "--duration",
            "2s",
            "--json",
            "-o",
            "p",
        ])
        .output()
        .unwrap();
    let _ = busy.kill();
    let _ = busy.wait();
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let s = summary(&run);
    let wall = s["wall_time_s"].as_f64().unwrap();
    assert!((wall - 2.0).abs() < 0.01, "wall {wall}: {s}");
    let cpu = s["cpu_time_s"].as_f64().unwrap();
    assert!(cpu > 0.2 && cpu <= 2.1, "cpu {cpu}");
    let warnings = s["warnings"].to_string();
    assert!(!warnings.contains("were lost"), "{warnings}");
}

/// `perflab profile -- gzip -c f > f.gz` works: the command's output stays on perflab's stdout
/// when that is redirected (the summary goes to stderr), or goes where `--stdout` says.
#[test]
fn the_commands_stdout_keeps_its_place() {
    let lab = Lab::new();
    let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
    lab.write("f", &text);
    let out = lab
        .cmd()
        .args(["profile", "-o", "p", "--", "gzip", "-c", "f"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(&out.stdout[..2], &[0x1f, 0x8b], "gzip's output on stdout");
    assert!(stderr(&out).contains("gzip -c f"), "the summary on stderr");
    let out = lab
        .cmd()
        .args([
            "profile", "-o", "p", "--stdout", "copy.gz", "--", "gzip", "-c", "f",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let copy = std::fs::read(lab.path("copy.gz")).unwrap();
    assert_eq!(&copy[..2], &[0x1f, 0x8b]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("gzip -c f"),
        "the summary on stdout"
    );
    // With --json the document owns stdout and the command writes to stderr, as before.
    let out = lab
        .cmd()
        .args(["profile", "--json", "-o", "p", "--", "echo", "hello"])
        .output()
        .unwrap();
    assert!(out.status.success());
    json(&out.stdout);
    assert!(stderr(&out).contains("hello"));
}

/// Ctrl-C ends a profiled command that would run forever and keeps its profile: the files, the
/// top table, the stored run marked interrupted, exit 130; whether the terminal's Ctrl-C reaches the whole process
/// group, or SIGINT or SIGTERM is sent to perflab alone.
#[test]
fn ctrl_c_ends_the_command_and_keeps_the_profile() {
    use std::os::unix::process::CommandExt as _;
    need!(perf_works(), "perf");
    for (how, signal, group) in [
        ("terminal", "-INT", true),
        ("int", "-INT", false),
        ("term", "-TERM", false),
    ] {
        let lab = Lab::new();
        let bin = assert_cmd::cargo::cargo_bin("perflab");
        let mut cmd = Std::new(bin);
        cmd.current_dir(lab.dir.path())
            .env("PERFLAB_STORE", lab.path("history.db"))
            .args([
                "profile",
                "--json",
                "-o",
                "p",
                "--",
                "sh",
                "-c",
                "while :; do :; done",
            ])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        if group {
            cmd.process_group(0);
        }
        let child = cmd.spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2500));
        let target = if group {
            format!("-{}", child.id())
        } else {
            child.id().to_string()
        };
        let sent = Std::new("kill")
            .args([signal, "--", &target])
            .status()
            .unwrap();
        assert!(sent.success(), "{how}");
        let out = child.wait_with_output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(130), "{how}: {err}");
        assert!(err.contains("stopped by Ctrl-C"), "{how}: {err}");
        let run = json(&out.stdout);
        assert_eq!(run["interrupted"], true, "{how}");
        assert!(
            !summary(&run)["top"].as_array().unwrap().is_empty(),
            "{how}: {run}"
        );
        assert!(summary(&run)["cpu_time_s"].as_f64().unwrap() > 0.5, "{how}");
        assert!(lab.path("p/flamegraph.svg").exists(), "{how}");
        let shown = lab.cmd().args(["show", "latest"]).output().unwrap();
        assert_eq!(
            json(&shown.stdout)["id"],
            run["id"],
            "{how}: the run is stored"
        );
    }
}

/// What `go test -cpuprofile -memprofile -blockprofile -mutexprofile` writes, read as `go tool
/// pprof` reads it: the sample type it shows by default (block and mutex: delay, not
/// contentions; heap: inuse_space), `--sample-index` for another, and a Go heap's in-use
/// memory called what it is (in use at the last GC), not a leak at exit.
#[test]
fn go_test_profiles_pick_the_sample_type_go_tool_pprof_picks() {
    need!(have("go"), "go");
    let lab = Lab::new();
    lab.write("go.mod", "module example.com/contend\n\ngo 1.18\n");
    lab.write(
        "contend_test.go",
        r#"package contend

import (
	"runtime"
	"sync"
	"testing"
)

var keep [][]byte

func TestContend(t *testing.T) {
	runtime.SetBlockProfileRate(1)
	runtime.SetMutexProfileFraction(1)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2000; i++ {
				mu.Lock()
				keep = append(keep, make([]byte, 256))
				if len(keep) > 4000 {
					keep = keep[:0]
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}
"#,
    );
    let out = Std::new("go")
        .args(["test", "-run", "TestContend", "-count", "1"])
        .args([
            "-blockprofile",
            "block.out",
            "-mutexprofile",
            "mutex.out",
            "-memprofile",
            "mem.out",
        ])
        .current_dir(lab.dir.path())
        .env("GOCACHE", std::env::temp_dir().join("perflab-test-gocache"))
        .env("GOFLAGS", "-mod=mod")
        .env("GOTOOLCHAIN", "local")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let value = |file: &str, extra: &[&str]| {
        let mut args = vec!["--input", file, "--json", "-o", "p"];
        args.extend(extra);
        let run = profile_json(&lab, &args);
        summary(&run).clone()
    };
    // The oracle: the `Type:` line of `go tool pprof -top` on the same file.
    let pprof_type = |file: &str| {
        let out = Std::new("go")
            .args(["tool", "pprof", "-top", file])
            .current_dir(lab.dir.path())
            .env("HOME", lab.dir.path())
            .env("PPROF_TMPDIR", lab.dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let t = text
            .lines()
            .find_map(|l| l.strip_prefix("Type: "))
            .map(str::to_string);
        t.unwrap_or_else(|| panic!("no Type line: {text}"))
    };
    for file in ["block.out", "mutex.out", "mem.out"] {
        assert_eq!(
            value(file, &[])["value"],
            pprof_type(file).as_str(),
            "{file}"
        );
    }
    assert_eq!(pprof_type("block.out"), "delay", "not contentions");
    let heap = value("mem.out", &[]);
    assert_eq!(heap["alloc"]["live_at"], "the last GC");
    let rules: Vec<&str> = (heap["recommendations"].as_array().unwrap().iter())
        .map(|r| r["rule"].as_str().unwrap())
        .collect();
    assert!(!rules.contains(&"leaks"), "{rules:?}");
    assert_eq!(
        value("mem.out", &["--sample-index", "inuse_space"])["value"],
        "inuse_space"
    );
    assert_eq!(
        value("block.out", &["--sample-index", "contentions"])["value"],
        "contentions"
    );
    let bad = lab
        .cmd()
        .args(["profile", "--input", "block.out", "--sample-index", "nope"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("has contentions, delay"),
        "{}",
        stderr(&bad)
    );
}

/// `scan --baseline` of an earlier scan of the same targets: shares are each target's own (a
/// function hot in one small target is not diluted by the others), and the differential
/// flamegraph keeps the target level.
#[test]
fn scan_deltas_are_per_target_against_an_earlier_scan() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let src = lab.write(
        "mix.c",
        "#include <stdio.h>\n#include <stdlib.h>\n\
__attribute__((noinline)) double alpha(long n){double s=0;for(long i=0;i<n;i++)s+=i*0.5/(i+1);return s;}\n\
__attribute__((noinline)) double beta(long n){double s=0;for(long i=0;i<n;i++)s+=i*0.5/(i+3);return s;}\n\
int main(int c,char**v){printf(\"%f\\n\",alpha(atol(v[1]))+beta(atol(v[2])));return 0;}\n",
    );
    let exe = lab.path("mix");
    let st = Std::new("gcc")
        .args(["-O1", "-g", "-fno-omit-frame-pointer", "-o"])
        .arg(&exe)
        .arg(&src)
        .status()
        .unwrap();
    assert!(st.success());
    let targets = [
        format!("sh -c 'exec {} $(cat small)'", exe.display()),
        format!("sh -c 'exec {} $(cat big)'", exe.display()),
    ];
    let scan = |small: &str, extra: &[&str]| {
        lab.write("small", small);
        lab.write("big", "300000000 30000000");
        let out = lab
            .cmd()
            .args(["scan", "--json", "--budget", "30s", "-o", "scan"])
            .args(extra)
            .args(&targets)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        json(&out.stdout)
    };
    let first = scan("60000000 2000000", &[]);
    let id = first["id"].as_str().unwrap().to_string();
    let second = scan("2000000 60000000", &["--baseline", &id]);
    let all = &second["profiles"][2];
    let delta = all["baseline_delta"].as_array().unwrap();
    let key = |f: &str| format!("{f} ({})", targets[0]);
    let row = |f: &str| {
        delta
            .iter()
            .find(|d| d["function"] == key(f).as_str())
            .unwrap_or_else(|| panic!("{f}: {delta:?}"))
    };
    let moved = |f: &str| {
        row(f)["current_share"].as_f64().unwrap() - row(f)["base_share"].as_f64().unwrap()
    };
    // In the small target alpha went from nearly all of it to nearly none, whatever the big one did.
    assert!(moved("alpha") < -0.5 && moved("beta") > 0.5, "{delta:?}");
    let svg = std::fs::read_to_string(lab.path("scan/diff-flamegraph.svg")).unwrap();
    assert!(
        svg.contains("cat small"),
        "the target level is kept in the diff flamegraph"
    );
}

/// The first Python on PATH (or pyenv's) whose version satisfies `ok(minor)`.
fn python(ok: impl Fn(u32) -> bool) -> Option<String> {
    let mut candidates: Vec<String> = ["python3", "python3.11", "python3.12", "python3.13"]
        .map(String::from)
        .to_vec();
    if let Some(home) = std::env::var_os("HOME") {
        let versions = Path::new(&home).join(".pyenv/versions");
        for e in std::fs::read_dir(versions).into_iter().flatten().flatten() {
            candidates.push(e.path().join("bin/python3").display().to_string());
        }
    }
    candidates.into_iter().find(|py| {
        Std::new(py)
            .args([
                "-c",
                "import sys; print(sys.version_info[1] if sys.version_info[0] == 3 else 0)",
            ])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .and_then(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .trim()
                    .parse::<u32>()
                    .ok()
            })
            .is_some_and(&ok)
    })
}

const HOT_PY: &str = "def hot_python_function(n):\n    s = 0\n    for i in range(n):\n        s += i * i % 7\n    return s\nprint(hot_python_function(3000000))\n";

/// Python 3.12+ under perf (`--mode perf`, for mixed native and Python profiles): perflab turns the interpreter's perf support on, so the Python
/// function is in the top table; an older interpreter is told how to see its functions.
#[test]
fn python_functions_are_named_or_the_way_to_see_them_is_said() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    lab.write("hot.py", HOT_PY);
    match python(|minor| minor >= 12) {
        Some(py) => {
            let run = profile_json(
                &lab,
                &["--json", "--mode", "perf", "-o", "new", "--", &py, "hot.py"],
            );
            // The Python function is on the stacks (it calls the interpreter's loop, which
            // holds the time itself): in the flamegraph and the folded stacks, by name.
            let folded = std::fs::read_to_string(lab.path("new/stacks.folded")).unwrap();
            let under: i64 = (folded.lines())
                .filter(|l| l.contains("py::hot_python_function"))
                .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<i64>().ok()))
                .sum();
            let all: i64 = (folded.lines())
                .filter_map(|l| l.rsplit_once(' ').and_then(|(_, v)| v.parse::<i64>().ok()))
                .sum();
            assert!(
                under * 2 > all,
                "{py}: most time under hot_python_function ({under} of {all})"
            );
            let svg = std::fs::read_to_string(lab.path("new/flamegraph.svg")).unwrap();
            assert!(svg.contains("hot_python_function"), "{py}");
            // The top table charges the interpreter's loop to the Python function beneath it.
            let top = summary(&run)["top"][0]["function"]
                .as_str()
                .unwrap_or("")
                .to_string();
            assert!(top.contains("hot_python_function"), "{py}: top row {top}");
            assert!(
                !summary(&run)["warnings"].to_string().contains("py-spy"),
                "{run}"
            );
        }
        None => common::skip("python3.12", "no Python 3.12 or newer here"),
    }
    match python(|minor| (6..12).contains(&minor)) {
        Some(py) => {
            let run = profile_json(
                &lab,
                &["--json", "--mode", "perf", "-o", "old", "--", &py, "hot.py"],
            );
            let warnings = summary(&run)["warnings"].to_string();
            assert!(warnings.contains("use py-spy"), "{py}: {warnings}");
        }
        None => common::skip("python3", "no Python 3.6 to 3.11 here"),
    }
}

const CALL_TREE_PY: &str = "def hot_loop(n):\n    s = 0\n    for i in range(n):\n        s += i * i % 7\n    return s\n\n\ndef main():\n    for _ in range(30):\n        hot_loop(400000)\n\n\nmain()\n";

/// py-spy's own share of the samples whose stack holds `function`, from its raw output.
fn share_under(folded: &str, function: &str) -> f64 {
    let (mut under, mut all) = (0i64, 0i64);
    for l in folded.lines() {
        let Some((stack, v)) = l.rsplit_once(' ') else {
            continue;
        };
        let v: i64 = v.parse().unwrap_or(0);
        all += v;
        if stack
            .split(';')
            .any(|f| f == function || f.starts_with(&format!("{function} (")))
        {
            under += v;
        }
    }
    under as f64 / all.max(1) as f64
}

/// Python programs are profiled with py-spy by default, on every CPython: whole call trees
/// (`<module> → main → hot_loop`, with files and lines), the same shares as py-spy's own
/// output, and no advice to rebuild with C or Rust flags.
#[test]
fn python_call_trees_are_whole_and_agree_with_py_spy() {
    need!(common::have("py-spy"), "py-spy");
    let lab = Lab::new();
    lab.write("tree.py", CALL_TREE_PY);
    let mut tried = 0;
    for minor in [11, 12, 13] {
        let Some(py) = python(|m| m == minor) else {
            eprintln!("WARNING: no Python 3.{minor} here: its call tree is not checked");
            continue;
        };
        tried += 1;
        let dir = format!("py3{minor}");
        let run = profile_json(
            &lab,
            &["--json", "--profile-dir", &dir, "--", &py, "-S", "tree.py"],
        );
        let s = summary(&run);
        assert_eq!(s["backend"], "py-spy", "3.{minor}: {s}");
        assert!(
            s["complete_stacks"].as_f64().unwrap_or(0.0) >= 0.9,
            "3.{minor}: {}",
            s["complete_stacks"]
        );
        let warnings = s["warnings"].to_string() + &s["recommendations"].to_string();
        assert!(
            !warnings.contains("frame pointer") && !warnings.contains("RUSTFLAGS"),
            "3.{minor}: {warnings}"
        );
        assert_eq!(
            s["top"][0]["function"], "hot_loop",
            "3.{minor}: {}",
            s["top"]
        );
        let folded = std::fs::read_to_string(lab.path(&format!("{dir}/stacks.folded"))).unwrap();
        assert!(
            folded.lines().any(|l| l.contains("<module>;main;hot_loop")),
            "3.{minor}: {folded}"
        );
        // py-spy itself on the same program: the share under hot_loop agrees within 5 points
        // (`-S`: no site-packages imports, whose start-up cost varies from run to run).
        let raw = lab.path(&format!("{dir}-own.txt"));
        let st = Std::new("py-spy")
            .args(["record", "--format", "raw", "--rate", "499", "-o"])
            .arg(&raw)
            .args(["--", &py, "-S", "tree.py"])
            .current_dir(lab.dir.path())
            .output()
            .unwrap();
        assert!(
            st.status.success(),
            "{}",
            String::from_utf8_lossy(&st.stderr)
        );
        let theirs = share_under(&std::fs::read_to_string(&raw).unwrap(), "hot_loop");
        let ours = share_under(&folded, "hot_loop");
        assert!(
            (ours - theirs).abs() <= 0.05,
            "3.{minor}: hot_loop {ours:.3} in perflab, {theirs:.3} in py-spy"
        );
    }
    if tried == 0 {
        common::skip("python3.11", "no Python 3.11, 3.12 or 3.13 here");
    }
    // Pinned or reniced, it is still Python: py-spy sees it through the programs that exec it.
    let run = profile_json(
        &lab,
        &[
            "--json",
            "--no-store",
            "--profile-dir",
            "wrapped",
            "--",
            "nice",
            "-n",
            "1",
            "env",
            "python3",
            "-S",
            "tree.py",
        ],
    );
    let s = summary(&run);
    assert_eq!(s["backend"], "py-spy", "{s}");
    assert_eq!(s["top"][0]["function"], "hot_loop", "{}", s["top"]);
}

/// A Rust release binary: its standard library keeps frame pointers, its own code does not, so
/// `--call-graph auto` decides from the program's own functions: DWARF, and whole stacks.
#[test]
fn a_rust_release_binary_gets_dwarf_unwinding_and_whole_stacks() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = lab.path("hotrel");
    let st = Std::new("rustc")
        .args(["-O", "-o"])
        .arg(&exe)
        .arg(data("profile/hot.rs"))
        .status()
        .unwrap();
    assert!(st.success());
    let run = profile_json(
        &lab,
        &["--json", "-o", "r", "--", &exe.display().to_string()],
    );
    let s = summary(&run);
    assert_eq!(s["unwinding"], "dwarf", "{s}");
    assert!(
        s["backend_note"]
            .as_str()
            .unwrap_or("")
            .contains("own functions"),
        "{s}"
    );
    let complete = s["complete_stacks"].as_f64().unwrap();
    assert!(complete >= 0.9, "{complete}: {s}");
    // The oracle: `perf report --children` on a plain `perf record --call-graph dwarf` of the
    // same program; perflab's cumulative share of the hot function is within a few points.
    let data = lab.path("plain.data");
    let rec = Std::new("perf")
        .args(["record", "-q", "-F", "499", "--call-graph", "dwarf", "-o"])
        .arg(&data)
        .arg("--")
        .arg(&exe)
        .output()
        .unwrap();
    assert!(rec.status.success(), "{}", stderr(&rec));
    let rep = Std::new("perf")
        .args(["report", "--children", "--stdio", "-i"])
        .arg(&data)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&rep.stdout);
    let perf_children: f64 = text
        .lines()
        .find(|l| {
            l.contains("hot::checksum") && l.trim_start().starts_with(|c: char| c.is_ascii_digit())
        })
        .and_then(|l| l.split_whitespace().next())
        .and_then(|p| p.trim_end_matches('%').parse().ok())
        .unwrap_or_else(|| panic!("no hot::checksum row in perf report: {text}"));
    let ours = s["top"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["function"] == "hot::checksum")
        .and_then(|r| r["cum_share"].as_f64())
        .unwrap()
        * 100.0;
    assert!(
        (ours - perf_children).abs() <= 3.0,
        "perflab {ours:.1}% vs perf report --children {perf_children:.1}%"
    );
}

/// A stripped binary's time is split by address, as perf shows it, not merged into one
/// `[unknown]` row; and the summary says the binary has no symbols.
#[test]
fn stripped_code_is_split_by_address() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = gcc(&lab, "hot.c", "hot", &["-O1", "-fno-omit-frame-pointer"]);
    assert!(Std::new("strip").arg(&exe).status().unwrap().success());
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "s",
            "--",
            &exe.display().to_string(),
            "80000000",
        ],
    );
    let s = summary(&run);
    let top = s["top"].as_array().unwrap();
    let by_address = top
        .iter()
        .filter(|r| r["function"].as_str().unwrap_or("").starts_with("0x"))
        .count();
    assert!(by_address >= 2, "{top:?}");
    assert!(!top.iter().any(|r| r["function"] == "[unknown]"), "{top:?}");
    assert!(s["warnings"].to_string().contains("no symbols"), "{s}");
}

/// `--pprof-url` fetches a live Go server's profiles from net/http/pprof (the test's Go server),
/// read as go tool pprof reads them; a wrong path is one line naming the URL and the status.
#[test]
fn a_live_go_servers_profiles_are_fetched_with_pprof_url() {
    need!(have("go"), "go");
    let lab = Lab::new();
    let bin = common::build_go_server(&lab);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Std::new(&bin)
        .arg(format!("127.0.0.1:{port}"))
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let base = format!("http://127.0.0.1:{port}/debug/pprof");
    let fetched = |path: &str| {
        lab.cmd()
            .args(["profile", "--json", "--no-store", "-o", "p", "--pprof-url"])
            .arg(format!("{base}/{path}"))
            .output()
            .unwrap()
    };
    let goroutine = fetched("goroutine");
    let heap = fetched("heap");
    let cpu = fetched("profile?seconds=1");
    let missing = fetched("nope");
    // A goroutine profile before and after a load that leaks one goroutine per request.
    let before = lab
        .cmd()
        .args([
            "profile",
            "--json",
            "--no-store",
            "-o",
            "before",
            "--pprof-url",
        ])
        .arg(format!("{base}/goroutine"))
        .output()
        .unwrap();
    assert!(before.status.success(), "{}", stderr(&before));
    let load = lab
        .cmd()
        .args([
            "load",
            &format!("http://127.0.0.1:{port}/leak"),
            "-c",
            "4",
            "-n",
            "200",
        ])
        .args(["-d", "20s", "--no-store"])
        .output()
        .unwrap();
    assert!(load.status.success(), "{}", stderr(&load));
    let after = lab
        .cmd()
        .args([
            "profile",
            "--json",
            "--no-store",
            "-o",
            "after",
            "--pprof-url",
        ])
        .arg(format!("{base}/goroutine"))
        .arg("--baseline")
        .arg(lab.path("before/profile.pb.gz"))
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    for (out, value) in [
        (&goroutine, "goroutine"),
        (&heap, "inuse_space"),
        (&cpu, "cpu"),
    ] {
        assert!(out.status.success(), "{value}: {}", stderr(out));
        assert_eq!(summary(&json(&out.stdout))["value"], value);
    }
    assert!(!summary(&json(&goroutine.stdout))["top"]
        .as_array()
        .unwrap()
        .is_empty());
    assert!(after.status.success(), "{}", stderr(&after));
    let grown = summary(&json(&after.stdout)).clone();
    let first = &grown["growth"][0];
    let change = first["after"].as_f64().unwrap() - first["before"].as_f64().unwrap();
    assert_eq!(change, 200.0, "one goroutine per request: {grown}");
    assert!(
        first["stack"].as_str().unwrap().contains("main.main"),
        "{first}"
    );
    let rules = grown["recommendations"].to_string();
    assert!(
        rules.contains("goroutine-growth") && rules.contains("200 more goroutines"),
        "{rules}"
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("answered 404"),
        "{}",
        stderr(&missing)
    );
}

/// `--duration` ends a command that would run forever (a server) and keeps its profile.
#[test]
fn a_launched_server_is_profiled_for_its_duration() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let started = std::time::Instant::now();
    let run = profile_json(
        &lab,
        &[
            "--json",
            "-o",
            "d",
            "--duration",
            "2s",
            "--",
            "sh",
            "-c",
            "while :; do :; done",
        ],
    );
    let took = started.elapsed().as_secs_f64();
    assert!(took < 15.0, "{took} s");
    let s = summary(&run);
    let wall = s["wall_time_s"].as_f64().unwrap();
    assert!((1.9..4.5).contains(&wall), "wall {wall}");
    assert!(!s["top"].as_array().unwrap().is_empty(), "{s}");
}

/// `bench --profile --alloc` gives allocations per iteration as `allocs_per_op` and
/// `bytes_per_op`: for Go from its own -benchmem (added by perflab; valgrind cannot see Go's
/// heap, so `profile --alloc` on a Go program is refused at once with what to use instead).
#[test]
fn go_allocations_per_iteration_come_from_benchmem() {
    need!(have("go"), "go");
    let lab = Lab::new();
    lab.write("go.mod", "module example.com/allocs\n\ngo 1.18\n");
    lab.write(
        "allocs_test.go",
        r#"package allocs

import "testing"

var sink []int

// Five appends to an empty slice grow it four times: 8+16+32+64 = 120 bytes.
func BenchmarkAppend(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var s []int
		for k := 0; k < 5; k++ {
			s = append(s, k)
		}
		sink = s
	}
}
"#,
    );
    go_test_c(&lab, "allocs.test");
    let out = lab
        .cmd()
        .args([
            "bench",
            "--no-store",
            "--profile",
            "--alloc",
            "--json",
            "--",
        ])
        .args([
            "./allocs.test",
            "-test.run",
            "^$",
            "-test.bench",
            ".",
            "-test.benchtime",
            // Enough iterations that the runtime's own stray allocations (under perf, on a
            // busy machine: seen 129 B/op at 200x) vanish in Go's integer B/op and allocs/op.
            "20000x",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let metric = |name: &str| -> f64 {
        run["benchmarks"][0]["metrics"]
            .as_array()
            .and_then(|m| m.iter().find(|m| m["name"] == name))
            .and_then(|m| m["samples"][0].as_f64())
            .unwrap_or_else(|| panic!("no {name}: {run}"))
    };
    assert_eq!(metric("allocs_per_op"), 4.0);
    assert_eq!(metric("bytes_per_op"), 120.0);
    let started = std::time::Instant::now();
    let out = lab
        .cmd()
        .args(["profile", "--no-store", "--alloc", "--", "./allocs.test"])
        .output()
        .expect("runs");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot see Go's heap") && err.contains("-benchmem"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(started.elapsed().as_secs() < 30, "refused before any run");
}

/// For criterion (built here from crates.io with the fixture's lock file), each benchmark runs
/// once more in criterion's test mode under DHAT, and what its routine allocated is counted:
/// five 64-byte vectors are 5 allocations and 320 bytes per iteration, the setup's 4 KiB buffer
/// and criterion's own bookkeeping are not counted, and a routine that allocates nothing gets 0.
/// `check` then reads `allocs_per_op` as it reads Go's.
#[test]
fn criterion_allocations_per_iteration_are_the_routines_own() {
    need!(valgrind_works(), "valgrind");
    let lab = Lab::new();
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/profile/alloc-bench");
    for file in ["Cargo.toml", "Cargo.lock", "src/lib.rs", "benches/parse.rs"] {
        let text = std::fs::read_to_string(src.join(file)).expect("fixture");
        if let Some(dir) = Path::new(file).parent() {
            std::fs::create_dir_all(lab.path("").join(dir)).expect("dir");
        }
        lab.write(file, &text);
    }
    let out = lab
        .cmd()
        // Shared with the modes tests' criterion crate: criterion is built once.
        .env(
            "CARGO_TARGET_DIR",
            std::env::temp_dir().join("perflab-test-criterion-target"),
        )
        // One core for criterion's build, one for the timing-sensitive tests beside it.
        .env("CARGO_BUILD_JOBS", "1")
        .args([
            "bench",
            "--profile",
            "--alloc",
            "--json",
            "--out",
            "run.json",
            "--",
        ])
        .args(["cargo", "bench", "--locked", "--bench", "parse", "--"])
        .args([
            "--warm-up-time",
            "0.1",
            "--measurement-time",
            "0.2",
            "--sample-size",
            "10",
        ])
        .output()
        .expect("runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let run = json(&out.stdout);
    let metric = |bench: &str, name: &str| -> f64 {
        (run["benchmarks"].as_array())
            .and_then(|b| b.iter().find(|b| b["name"] == bench))
            .and_then(|b| b["metrics"].as_array())
            .and_then(|m| m.iter().find(|m| m["name"] == name))
            .and_then(|m| m["samples"][0].as_f64())
            .unwrap_or_else(|| panic!("no {bench} {name}: {run}"))
    };
    assert_eq!(metric("five_allocs", "allocs_per_op"), 5.0);
    assert_eq!(metric("five_allocs", "bytes_per_op"), 320.0);
    assert_eq!(metric("no_allocs", "allocs_per_op"), 0.0);
    assert_eq!(metric("no_allocs", "bytes_per_op"), 0.0);
    assert!(metric("five_allocs", "time") > 0.0);
    lab.write(
        "perflab.toml",
        "[[target]]\nbenchmark = \"*\"\nmetric = \"allocs_per_op\"\ntarget = \"< 3\"\n",
    );
    let out = lab
        .cmd()
        .args(["check", "run.json", "--config"])
        .arg(lab.path("perflab.toml"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(
        text.contains("five_allocs") && text.contains("no_allocs"),
        "{text}"
    );
}

/// A command that execs another (`env`, `taskset`, `nice`, `sh -c 'exec …'`) keeps whole
/// stacks: perf keeps the first program's mappings in the process after the exec, and its
/// unwinder took the lower of the two libcs; through `env` 7 runs in 8 were 50-63% complete.
/// perflab moves the mappings from before the last exec out of the way (`perf_data.rs`).
#[test]
fn a_command_started_through_a_program_that_execs_it_keeps_whole_stacks() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = lab.path("allocs");
    let st = Std::new("rustc")
        .args(["-O", "-o"])
        .arg(&exe)
        .arg(data("profile/allocs.rs"))
        .status()
        .unwrap();
    assert!(st.success());
    let exe = exe.display().to_string();
    let exec_in_sh = format!("exec {exe} 2500");
    let chains: [&[&str]; 3] = [
        &["env", "PERFLAB_TEST=1", &exe, "2500"],
        &["sh", "-c", &exec_in_sh],
        &["env", "nice", "-n", "1", &exe, "2500"],
    ];
    let mut completes = Vec::new();
    for run in 0..6 {
        let chain = chains[run % chains.len()];
        let out = format!("r{run}");
        let mut args = vec!["--json", "--no-store", "-o", &out, "--"];
        args.extend_from_slice(chain);
        let doc = profile_json(&lab, &args);
        let s = summary(&doc);
        assert_eq!(s["unwinding"], "dwarf", "{s}");
        let complete = s["complete_stacks"].as_f64().unwrap();
        // Plain perf on the program alone: 98-100%; the stale mappings gave 50-63%.
        assert!(
            complete >= 0.90,
            "run {run} ({chain:?}): {complete:.3} complete: {}",
            s["warnings"]
        );
        let in_libc: f64 = s["top"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["location"] == "libc.so.6")
            .filter_map(|r| r["flat_share"].as_f64())
            .sum();
        assert!(
            in_libc >= 0.1,
            "run {run}: {in_libc:.2} in libc: {}",
            s["top"]
        );
        completes.push(complete);
    }
    completes.sort_by(f64::total_cmp);
    let median = (completes[2] + completes[3]) / 2.0;
    assert!(median >= 0.95, "median {median:.3}: {completes:?}");
}

/// Samples inside glibc's allocator keep their callers on every run. perf's DWARF unwinder
/// takes a library's base from its lowest mapping in the process, and it still counts the
/// mappings of the usage wrapper that started the command; when the wrapper's libc lay below
/// the command's (about one run in two) the allocator's frames had no callers and only 40–65%
/// of the stacks reached `main`. Eight runs in a row, each as whole as plain `perf record`'s.
#[test]
fn allocator_frames_keep_their_callers_on_every_run() {
    need!(perf_works(), "perf");
    let lab = Lab::new();
    let exe = lab.path("allocs");
    let st = Std::new("rustc")
        .args(["-O", "-o"])
        .arg(&exe)
        .arg(data("profile/allocs.rs"))
        .status()
        .unwrap();
    assert!(st.success());
    let exe = exe.display().to_string();
    let mut completes = Vec::new();
    for run in 0..8 {
        let out = format!("r{run}");
        let doc = profile_json(
            &lab,
            &["--json", "--no-store", "-o", &out, "--", &exe, "2500"],
        );
        let s = summary(&doc);
        assert_eq!(s["unwinding"], "dwarf", "{s}");
        let in_libc: f64 = s["top"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["location"] == "libc.so.6")
            .filter_map(|r| r["flat_share"].as_f64())
            .sum();
        let top = &s["top"];
        assert!(
            in_libc >= 0.1,
            "run {run}: only {in_libc:.2} of the time in libc: {top}"
        );
        let complete = s["complete_stacks"].as_f64().unwrap();
        let warnings = &s["warnings"];
        // Plain `perf record` leaves 0-5% of this program's stacks cut inside std's
        // formatting and `finish_grow` (perf's unwinder, not the layout): one run in a few
        // hundred samples lands near 95%, so each run is held to the 90% that perflab warns
        // at and the median to 95%; the layout bug gave 40-65% in half the runs.
        assert!(
            complete >= 0.90,
            "run {run}: {complete:.3} complete: {warnings}"
        );
        completes.push(complete);
    }
    completes.sort_by(f64::total_cmp);
    let median = (completes[3] + completes[4]) / 2.0;
    assert!(median >= 0.95, "median {median:.3} complete: {completes:?}");
}
