//! Allocations per benchmark iteration (`bench --profile --alloc`), as `allocs_per_op` and
//! `bytes_per_op`, the names Go's `-benchmem` figures get, so one target (`allocs_per_op < 10`)
//! reads both.
//!
//! Go's harness counts them itself: perflab adds `-benchmem`. Valgrind cannot see Go's heap (Go
//! allocates from its own arenas), so DHAT is not run on Go at all.
//!
//! Rust harnesses (criterion, divan, libtest's `#[bench]`) run each benchmark once more, alone,
//! in their test mode (`--test --exact NAME`: one iteration) under valgrind's DHAT, and count
//! what was allocated inside the harness's iteration call (`Bencher::iter`): the benchmark's
//! setup and the harness's own bookkeeping are outside it. Seeing that call needs the binary's
//! inlining records, so `cargo bench` is built with line tables (`CARGO_PROFILE_BENCH_DEBUG`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use perflab_model::{Benchmark, Metric, Unit};

use crate::record::{self, RecordError, RecordOptions};
use crate::{elf, Frame};

/// The cargo setting that keeps line tables and inlining records in bench builds.
const DEBUG_ENV: &str = "CARGO_PROFILE_BENCH_DEBUG";

/// How a harness's allocations per iteration are measured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Allocations were not asked for.
    Off,
    /// Go counts them (`-benchmem`): run this command line, no DHAT.
    Go(Vec<String>),
    /// `cargo bench` with these cargo arguments (before any `--`): run this command line
    /// (built with line tables), then each benchmark once under DHAT.
    Cargo(Vec<String>, Vec<String>),
    /// A Rust bench executable: run it as given, then each benchmark once under DHAT.
    Executable(PathBuf),
    /// Anything else: DHAT over the whole harness run.
    Whole,
}

impl Plan {
    /// The plan for `argv` (the harness command as it will run), with `--alloc` or not.
    pub fn of(argv: &[String], alloc: bool) -> Plan {
        let Some(program) = argv.first().filter(|_| alloc) else {
            return if alloc { Plan::Whole } else { Plan::Off };
        };
        let name = Path::new(program)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let has = |flag: &str| {
            argv.iter()
                .any(|a| a == flag || a.starts_with(&format!("{flag}=")))
        };
        if name == "go" && argv.get(1).is_some_and(|a| a == "test") {
            let mut out = argv.to_vec();
            if !has("-benchmem") && !has("-test.benchmem") {
                out.insert(2, "-benchmem".into());
            }
            return Plan::Go(out);
        }
        if name == "cargo" && argv.get(1).is_some_and(|a| a == "bench") {
            let cargo: Vec<String> = argv[2..]
                .iter()
                .take_while(|a| *a != "--")
                .cloned()
                .collect();
            let mut out = argv.to_vec();
            if std::env::var_os(DEBUG_ENV).is_none() {
                out.splice(
                    0..0,
                    ["env".to_string(), format!("{DEBUG_ENV}=line-tables-only")],
                );
            }
            return Plan::Cargo(cargo, out);
        }
        let facts = elf::resolve_program(program).and_then(|p| elf::inspect(&p).map(|f| (p, f)));
        match facts {
            Some((_, f)) if f.go => {
                let mut out = argv.to_vec();
                if !has("-test.benchmem") {
                    out.push("-test.benchmem".into());
                }
                Plan::Go(out)
            }
            Some((path, _)) if lists_benchmarks(&path) => Plan::Executable(path),
            _ => Plan::Whole,
        }
    }

    /// This plan, or [`Plan::Off`] when `stop` (the harness run was interrupted: nothing more
    /// is run).
    pub fn unless(self, stop: bool) -> Plan {
        if stop {
            Plan::Off
        } else {
            self
        }
    }

    /// The command line the harness runs with.
    pub fn argv(&self, given: &[String]) -> Vec<String> {
        match self {
            Plan::Go(argv) | Plan::Cargo(_, argv) => argv.clone(),
            _ => given.to_vec(),
        }
    }

    /// Whether DHAT follows the whole harness run (the plan of harnesses perflab cannot run one
    /// benchmark at a time).
    pub fn whole(&self) -> bool {
        *self == Plan::Whole
    }
}

/// What was measured, and what could not be.
#[derive(Debug, Default)]
pub struct Measured {
    /// Benchmarks that got `allocs_per_op` and `bytes_per_op`.
    pub benchmarks: usize,
    /// Why some got none.
    pub notes: Vec<String>,
}

/// Measure each benchmark of `benchmarks` once under DHAT, as `plan` says, and add its
/// `allocs_per_op` and `bytes_per_op`. Go's come from its own output already.
///
/// # Errors
/// valgrind missing, cargo failing to list the bench executables.
pub fn measure(
    plan: &Plan,
    benchmarks: &mut [Benchmark],
    opts: &RecordOptions,
) -> Result<Measured, RecordError> {
    let executables = match plan {
        Plan::Off | Plan::Go(_) | Plan::Whole => return Ok(Measured::default()),
        Plan::Executable(path) => vec![path.clone()],
        Plan::Cargo(args, _) => cargo_executables(args)?,
    };
    if !record::tool_available(&opts.valgrind) {
        return Err(RecordError::Tool {
            tool: "valgrind".into(),
            reason: "not installed; allocations per iteration need valgrind's DHAT (apt-get install valgrind)".into(),
        });
    }
    let mut out = Measured::default();
    let mut unseen = Vec::new();
    for exe in executables {
        let names = list(&exe);
        if names.is_empty() {
            continue;
        }
        if !elf::inspect(&exe).is_some_and(|f| f.line_tables) {
            out.notes.push(format!(
                "{}: no allocations per iteration: the binary has no line tables, so the harness's iteration call cannot be told from its setup (set debug = \"line-tables-only\" in [profile.bench])",
                exe.display()
            ));
            continue;
        }
        // A harness perflab knows, with line tables: a benchmark whose allocations show no
        // iteration call made none in it.
        let known = elf::has_symbol_containing(&exe, HARNESSES);
        for b in benchmarks.iter_mut() {
            let key = b.key();
            let Some(name) = names.iter().find(|n| **n == key || **n == b.name) else {
                continue;
            };
            let argv = [
                exe.display().to_string(),
                "--test".into(),
                "--exact".into(),
                name.clone(),
            ];
            let mut o = opts.clone();
            o.scratch = opts
                .scratch
                .join(format!("iteration-{}", out.benchmarks + unseen.len()));
            std::fs::create_dir_all(&o.scratch).map_err(|e| RecordError::Scratch {
                path: o.scratch.display().to_string(),
                reason: e.to_string(),
            })?;
            o.stdout = record::CommandOutput::File(o.scratch.join("stdout"));
            let rec = record::record_alloc(&argv, &o)?;
            let Some((allocs, bytes)) = in_iterations(&rec.profile).or(known.then_some((0.0, 0.0)))
            else {
                unseen.push(name.clone());
                continue;
            };
            b.metrics
                .retain(|m| m.name != "allocs_per_op" && m.name != "bytes_per_op");
            b.metrics.push(Metric::new(
                "allocs_per_op",
                Unit("count".into()),
                vec![allocs],
            ));
            b.metrics
                .push(Metric::new("bytes_per_op", Unit("B".into()), vec![bytes]));
            out.benchmarks += 1;
        }
    }
    if !unseen.is_empty() {
        out.notes.push(format!(
            "no allocations per iteration for {}: the harness's iteration call (Bencher::iter) is not on DHAT's stacks",
            unseen.join(", ")
        ));
    }
    Ok(out)
}

/// Mangled-name pieces of the harnesses whose iteration call [`iteration_call`] knows.
const HARNESSES: &[&str] = &["9criterion7bencher", "5divan5bench", "4test5bench"];

/// Allocations (count, bytes) made inside the harness's iteration calls; `None` when the
/// profile has no such call at all (the harness ran no iteration: not one that perflab knows).
fn in_iterations(p: &crate::Profile) -> Option<(f64, f64)> {
    let objects = p.type_index("alloc_objects")?;
    let space = p.type_index("alloc_space")?;
    let marks: Vec<bool> = p.frames.iter().map(iteration_call).collect();
    if !marks.iter().any(|&m| m) {
        return None;
    }
    let (mut count, mut bytes) = (0i64, 0i64);
    for s in &p.samples {
        if s.stack.iter().any(|&f| marks[f as usize]) {
            count = count.saturating_add(s.values[objects]);
            bytes = bytes.saturating_add(s.values[space]);
        }
    }
    Some((count as f64, bytes as f64))
}

/// The harness function that runs the measured routine: criterion's and libtest's
/// `Bencher::iter*`, divan's `Bencher::bench*`; inlined copies are named without their path
/// (`iter<R, F>`), so their source file tells them apart.
pub fn iteration_call(f: &Frame) -> bool {
    let name = f.function.as_str();
    let last = name.rsplit("::").next().unwrap_or(name);
    let file = f.file.as_deref().unwrap_or("");
    (name.contains("Bencher") && (last.starts_with("iter") || last.starts_with("bench")))
        || (last.starts_with("iter") && file.ends_with("bencher.rs"))
        || (last.starts_with("iter") && file.ends_with("test/src/bench.rs"))
        || (last.starts_with("bench") && name.starts_with("divan::"))
}

/// The benchmarks a harness executable lists (`NAME: benchmark`, `NAME: bench`).
fn list(exe: &Path) -> Vec<String> {
    let Ok(out) = Command::new(exe)
        .arg("--list")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            l.strip_suffix(": benchmark")
                .or_else(|| l.strip_suffix(": bench"))
        })
        .map(str::to_string)
        .collect()
}

/// A Rust program that lists benchmarks (only Rust programs are asked: `--list` means
/// something else to others).
fn lists_benchmarks(exe: &Path) -> bool {
    elf::inspect(exe).is_some_and(|f| f.rust) && !list(exe).is_empty()
}

/// The bench executables `cargo bench ARGS` runs, built (already, by the harness run) with
/// line tables.
fn cargo_executables(args: &[String]) -> Result<Vec<PathBuf>, RecordError> {
    let mut cmd = Command::new("cargo");
    cmd.arg("bench")
        .args(args)
        .args(["--no-run", "--message-format=json"])
        .stdin(Stdio::null())
        .stderr(Stdio::piped());
    if std::env::var_os(DEBUG_ENV).is_none() {
        cmd.env(DEBUG_ENV, "line-tables-only");
    }
    let out = cmd.output().map_err(|e| RecordError::Spawn {
        program: "cargo".into(),
        reason: e.to_string(),
    })?;
    if !out.status.success() {
        return Err(RecordError::Tool {
            tool: "cargo bench --no-run".into(),
            reason: String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["reason"] == "compiler-artifact"
                && (v["target"]["kind"].as_array()).is_some_and(|k| k.iter().any(|k| k == "bench"))
        })
        .filter_map(|v| v["executable"].as_str().map(PathBuf::from))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn go_gets_benchmem_once_and_no_dhat() {
        let p = Plan::of(&argv("go test -bench . ./..."), true);
        assert_eq!(p, Plan::Go(argv("go test -benchmem -bench . ./...")));
        assert!(!p.whole());
        let p = Plan::of(&argv("go test -bench . -benchmem"), true);
        assert_eq!(p.argv(&[]), argv("go test -bench . -benchmem"));
    }

    #[test]
    fn cargo_bench_builds_with_line_tables_and_keeps_its_harness_arguments() {
        let p = Plan::of(&argv("cargo bench --bench parse -- --warm-up-time 1"), true);
        let Plan::Cargo(cargo, run) = &p else {
            panic!("{p:?}")
        };
        assert_eq!(cargo, &argv("--bench parse"));
        if std::env::var_os(DEBUG_ENV).is_none() {
            assert_eq!(
                run[..2],
                argv("env CARGO_PROFILE_BENCH_DEBUG=line-tables-only")[..]
            );
        }
        assert!(run.ends_with(&argv("cargo bench --bench parse -- --warm-up-time 1")));
    }

    #[test]
    fn other_harnesses_are_followed_whole() {
        assert!(Plan::of(&argv("hyperfine 'sleep 0'"), true).whole());
        assert!(Plan::of(&argv("python3 -m pytest"), true).whole());
        assert!(Plan::of(&[], true).whole());
        let off = Plan::of(&argv("go test -bench ."), false);
        assert_eq!(
            (off.whole(), off.argv(&argv("go test"))),
            (false, argv("go test"))
        );
    }

    #[test]
    fn iteration_calls_are_the_harnesses_and_only_theirs() {
        let named = |function: &str, file: Option<&str>| Frame {
            function: function.into(),
            file: file.map(str::to_string),
            ..Frame::default()
        };
        assert!(iteration_call(&named(
            "criterion::bencher::Bencher<M>::iter",
            None
        )));
        assert!(iteration_call(&named(
            "criterion::bencher::Bencher<M>::iter_batched",
            None
        )));
        assert!(iteration_call(&named("test::bench::Bencher::iter", None)));
        assert!(iteration_call(&named(
            "iter<usize, F>",
            Some("src/bencher.rs")
        )));
        assert!(iteration_call(&named(
            "divan::bench::Bencher::bench_local",
            None
        )));
        assert!(!iteration_call(&named(
            "core::slice::iter",
            Some("slice/iter.rs")
        )));
        assert!(!iteration_call(&named("iter<u8>", Some("src/lib.rs"))));
        assert!(!iteration_call(&named("app::bench_setup", None)));
    }
}
