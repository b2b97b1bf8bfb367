//! Instruction counts: a measure a busy machine cannot move (what CodSpeed and iai-callgrind
//! do). A command runs under valgrind's cachegrind without cache simulation, every process it
//! starts included, and the user-space instructions it executed are added up. Hardware
//! counters (`perf stat -e instructions:u`) would be faster, but many VMs and CI runners do not
//! expose them; valgrind counts the same on every machine.
//!
//! Go benchmarks are counted per operation: the package's test binary is built once per side
//! (`go test -c`), and each benchmark runs at two fixed iteration counts (`-test.benchtime Nx`
//! and `2Nx`) at `GOMAXPROCS=1` with the collector off, so that set-up, the harness's own first
//! run and start-up cancel in the difference: instructions per op = (I(2N) − I(N)) / N. The
//! runtime's clock-driven work is left out of the count (`go_time_driven`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use perflab_model::{Benchmark, Metric, Unit};

use crate::ExecError;

/// The name of the metric instruction counts are reported as.
pub const METRIC: &str = "instructions";

/// How the counts were made, for the run's labels.
pub fn counter_description() -> String {
    let version = Command::new("valgrind")
        .arg("--version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "valgrind".into());
    format!("{version} cachegrind --cache-sim=no (user-space instructions)")
}

/// Run `argv` (in `dir`, with `env`) under cachegrind and return the instructions it and its
/// children executed. Its output goes to perflab's stderr with `show_output`.
///
/// # Errors
/// valgrind is missing, the command fails or is interrupted, or cachegrind wrote no count.
pub fn count(
    argv: &[String],
    dir: Option<&Path>,
    env: &[(&str, &str)],
    show_output: bool,
    stop: &AtomicBool,
) -> Result<u64, ExecError> {
    count_except(argv, dir, env, show_output, stop, None)
}

/// [`count`], leaving out the functions `skip` names (per-function counts from cachegrind's
/// file instead of its summary).
fn count_except(
    argv: &[String],
    dir: Option<&Path>,
    env: &[(&str, &str)],
    show_output: bool,
    stop: &AtomicBool,
    skip: Option<fn(&str) -> bool>,
) -> Result<u64, ExecError> {
    let scratch = tempfile::tempdir().map_err(|error| ExecError::Spawn {
        program: "valgrind".into(),
        error,
    })?;
    let out = scratch.path().join("cg.%p");
    let log = scratch.path().join("vg.%p");
    let mut cmd = Command::new("valgrind");
    cmd.arg("--tool=cachegrind")
        .arg("--cache-sim=no")
        .arg("--trace-children=yes")
        .arg(format!("--cachegrind-out-file={}", out.display()))
        .arg(format!("--log-file={}", log.display()))
        .args(argv)
        .stdin(Stdio::null())
        .stdout(if show_output {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .stderr(Stdio::piped());
    if let Some(d) = dir {
        cmd.current_dir(d);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let spawned = crate::interrupt::spawn(
        &mut cmd,
        crate::interrupt::Group::Own,
        crate::interrupt::OnStop::Interrupt,
    );
    let (child, tracked) = match spawned {
        Ok(c) => c,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
            return Err(ExecError::Options {
                message: "--measure instructions runs the command under valgrind, which is not installed (apt-get install valgrind)".into(),
            })
        }
        Err(error) => {
            return Err(ExecError::Spawn {
                program: "valgrind".into(),
                error,
            })
        }
    };
    let done = crate::interrupt::output(child, tracked).map_err(|error| ExecError::Wait {
        command: crate::join_words(argv),
        error,
    })?;
    if stop.load(Ordering::SeqCst) {
        return Err(ExecError::Harness {
            command: crate::join_words(argv),
            status: "interrupted".into(),
            said: String::new(),
        });
    }
    if !done.status.success() {
        let said = crate::tail(&String::from_utf8_lossy(&done.stderr), 4);
        return Err(ExecError::Harness {
            command: crate::join_words(argv),
            status: format!("{} under valgrind", done.status),
            said: if said.is_empty() {
                String::new()
            } else {
                format!(": {said}")
            },
        });
    }
    let total = match skip {
        None => summed(scratch.path()),
        Some(skip) => summed_except(scratch.path(), skip),
    };
    total.ok_or_else(|| ExecError::Harness {
        command: crate::join_words(argv),
        status: "no instruction count".into(),
        said: ": cachegrind wrote no summary".into(),
    })
}

/// The sum of the `summary:` lines of every cachegrind file in `dir`.
fn summed(dir: &Path) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if !e.file_name().to_string_lossy().starts_with("cg.") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).ok()?;
        let n = text
            .lines()
            .find_map(|l| l.strip_prefix("summary:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())?;
        total = total.saturating_add(n);
        any = true;
    }
    any.then_some(total)
}

/// The per-function counts of every cachegrind file in `dir`, added, without the functions
/// `skip` names.
fn summed_except(dir: &Path, skip: fn(&str) -> bool) -> Option<u64> {
    let mut total = 0u64;
    let mut any = false;
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        if !e.file_name().to_string_lossy().starts_with("cg.") {
            continue;
        }
        let text = std::fs::read_to_string(e.path()).ok()?;
        let mut counted = true;
        for line in text.lines() {
            if let Some(name) = line.strip_prefix("fn=") {
                counted = !skip(name);
            } else if counted && line.starts_with(|c: char| c.is_ascii_digit()) {
                let n = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok());
                total = total.saturating_add(n.unwrap_or(0));
            }
        }
        any = true;
    }
    any.then_some(total)
}

/// The Go runtime's work that follows the wall clock rather than the code: the scheduler and
/// sysmon, timers and clock reads, preemption and the stack walks it and the collector's stack
/// scans make. Under valgrind a run takes 50× longer, so this work grows with how busy the
/// machine is: counted, it spread the totals of one benchmark 0.065% over four runs; left out,
/// 0.005%.
fn go_time_driven(name: &str) -> bool {
    const PREFIXES: [&str; 36] = [
        "runtime.pcvalue",
        "runtime.step",
        "runtime.gentraceback",
        "runtime.findfunc",
        "runtime.(*moduledata).textAddr",
        "runtime.pcdatavalue",
        "runtime.funcdata",
        "runtime.funcInfo.",
        "runtime.funcspdelta",
        "runtime.funcMaxSPDelta",
        "runtime.netpoll",
        "runtime.sysmon",
        "runtime.retake",
        "runtime.preempt",
        "runtime.nanotime",
        "runtime.walltime",
        "runtime.usleep",
        "runtime.futex",
        "runtime.notesleep",
        "runtime.notetsleep",
        "runtime.notewakeup",
        "runtime.isAsyncSafePoint",
        "runtime.schedule",
        "runtime.findRunnable",
        "runtime.checkTimers",
        "runtime.runtimer",
        "runtime.scanstack",
        "runtime.scanframeworker",
        "runtime.markroot",
        "runtime.osyield",
        "runtime.wakeNetPoller",
        "runtime.semasleep",
        "runtime.semawakeup",
        "runtime.mPark",
        "runtime.stopm",
        "runtime.startm",
    ];
    PREFIXES.iter().any(|p| name.starts_with(p))
        || name.contains("raceback")
        || name.contains("nwinder")
        || matches!(
            name,
            "runtime.handoffp" | "runtime.casgstatus" | "runtime.readgstatus"
        )
}

/// A Go benchmark command as `--measure instructions` needs it: the package to build, the
/// `-bench` pattern, and the flags to keep (`-benchmem` is meaningless under valgrind).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoBench {
    /// The package argument (`.`, `./pkg`).
    pub package: String,
    /// The `-bench` regular expression.
    pub pattern: String,
}

impl GoBench {
    /// Read `go test … -bench PATTERN [PKG]`; `None` when it is not a `go test` command.
    ///
    /// # Errors
    /// More than one package (`./...`): each needs its own test binary.
    pub fn parse(argv: &[String]) -> Result<Option<GoBench>, ExecError> {
        if argv.len() < 2 || argv[0] != "go" || argv[1] != "test" {
            return Ok(None);
        }
        let mut pattern = ".".to_string();
        let mut packages = Vec::new();
        let mut i = 2;
        while i < argv.len() {
            let a = &argv[i];
            let value_flag = |name: &str| a == name || a == &format!("-{name}");
            if let Some(v) = a.strip_prefix("-bench=").or(a.strip_prefix("--bench=")) {
                pattern = v.to_string();
            } else if value_flag("-bench") {
                pattern = argv.get(i + 1).cloned().unwrap_or_default();
                i += 1;
            } else if a.starts_with('-') {
                // Flags that take a value: skip it.
                let takes = [
                    "-run",
                    "-count",
                    "-benchtime",
                    "-timeout",
                    "-cpu",
                    "-tags",
                    "-test.run",
                    "-test.count",
                    "-test.benchtime",
                    "-cpuprofile",
                    "-memprofile",
                ];
                if !a.contains('=') && takes.contains(&a.as_str()) {
                    i += 1;
                }
            } else {
                packages.push(a.clone());
            }
            i += 1;
        }
        if packages.iter().any(|p| p.ends_with("...")) || packages.len() > 1 {
            return Err(ExecError::Options {
                message: format!(
                    "--measure instructions builds one Go test binary: name one package instead of {} (e.g. `go test -bench . ./internal/hash`)",
                    packages.join(" ")
                ),
            });
        }
        Ok(Some(GoBench {
            package: packages.pop().unwrap_or_else(|| ".".into()),
            pattern,
        }))
    }
}

/// Build the test binary of `go.package` in `dir` as `bin` (reused when it exists: the rounds of
/// one compare count the same binary).
fn go_test_binary(
    go: &GoBench,
    dir: &Path,
    bin: &Path,
    stop: &AtomicBool,
) -> Result<PathBuf, ExecError> {
    let bin = bin.to_path_buf();
    if bin.exists() {
        return Ok(bin);
    }
    let argv: Vec<String> = ["go", "test", "-c", "-o"]
        .iter()
        .map(|s| s.to_string())
        .chain([bin.display().to_string(), go.package.clone()])
        .collect();
    let out = run_plain(&argv, dir, &[], stop)?;
    if !out.status.success() || !bin.exists() {
        return Err(ExecError::Harness {
            command: crate::join_words(&argv),
            status: out.status.to_string(),
            said: format!(
                ": {}",
                crate::tail(&String::from_utf8_lossy(&out.stderr), 4)
            ),
        });
    }
    Ok(bin)
}

fn run_plain(
    argv: &[String],
    dir: &Path,
    env: &[(&str, &str)],
    _stop: &AtomicBool,
) -> Result<std::process::Output, ExecError> {
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..])
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (child, tracked) = crate::interrupt::spawn(
        &mut cmd,
        crate::interrupt::Group::Own,
        crate::interrupt::OnStop::Interrupt,
    )
    .map_err(|error| ExecError::Spawn {
        program: argv[0].clone(),
        error,
    })?;
    crate::interrupt::output(child, tracked).map_err(|error| ExecError::Wait {
        command: crate::join_words(argv),
        error,
    })
}

/// The Go runtime made deterministic enough to count: one P, so the scheduler does not race
/// the benchmark, and the collector off until a 1 GiB heap (its pacing, sweeping and the
/// scavenger follow the clock: on, they spread one benchmark's count 0.17% under the noise
/// generator; off, 0.005%). Allocations still count (mallocgc, zeroing); the collections they
/// would cause do not.
const GO_ENV: [(&str, &str); 3] = [("GOMAXPROCS", "1"), ("GOGC", "off"), ("GOMEMLIMIT", "1GiB")];

/// Count every benchmark `go` selects in `dir`, per operation: one `instructions` metric with
/// one sample per benchmark. The test binary is built as `bin` (outside the checkout).
///
/// # Errors
/// The build, the listing or a counted run fails.
pub fn count_go(
    go: &GoBench,
    dir: &Path,
    bin: &Path,
    iterations: &Iterations,
    show_output: bool,
    stop: &AtomicBool,
) -> Result<Vec<Benchmark>, ExecError> {
    let bin = go_test_binary(go, dir, bin, stop)?;
    let bin_s = bin.display().to_string();
    let listed = run_plain(
        &[bin_s.clone(), "-test.list".into(), go.pattern.clone()],
        dir,
        &GO_ENV,
        stop,
    )?;
    let names: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.starts_with("Benchmark"))
        .map(str::to_string)
        .collect();
    if names.is_empty() {
        return Err(ExecError::Harness {
            command: format!("{bin_s} -test.list {}", go.pattern),
            status: "no benchmark".into(),
            said: format!(": no Benchmark function matches -bench {:?}", go.pattern),
        });
    }
    let mut out = Vec::new();
    for name in names {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        // Chosen once per benchmark and kept for every round of both sides: a count at
        // another N would differ by more than the code does (the collector runs elsewhere).
        let known = iterations.lock().ok().and_then(|m| m.get(&name).copied());
        let n = match known {
            Some(n) => n,
            None => {
                let n = calibrate(&bin_s, &name, dir, stop)?;
                if let Ok(mut m) = iterations.lock() {
                    m.insert(name.clone(), n);
                }
                n
            }
        };
        let at = |iterations: u64| -> Result<u64, ExecError> {
            let argv = vec![
                bin_s.clone(),
                "-test.run".into(),
                "^$".into(),
                "-test.bench".into(),
                format!("^{name}$"),
                "-test.benchtime".into(),
                format!("{iterations}x"),
            ];
            count_except(
                &argv,
                Some(dir),
                &GO_ENV,
                show_output,
                stop,
                Some(go_time_driven),
            )
        };
        let (once, twice) = (at(n)?, at(2 * n)?);
        let per_op = twice.saturating_sub(once) as f64 / n as f64;
        let short = name.strip_prefix("Benchmark").unwrap_or(&name).to_string();
        let mut b = Benchmark::new(short);
        b.metrics
            .push(Metric::new(METRIC, Unit::count(), vec![per_op]));
        b.iterations = vec![n];
        out.push(b);
    }
    Ok(out)
}

/// The iteration count chosen for each benchmark, shared by the sides of a compare.
pub type Iterations = std::sync::Mutex<std::collections::BTreeMap<String, u64>>;

/// Instructions the counted difference should span: the runtime's own jitter of some 10⁴–10⁵
/// instructions a run (what is left after [`go_time_driven`]) then stays far under 0.1% of it.
const SPAN: f64 = 2e8;

/// The iterations whose N-run spans [`SPAN`] instructions, 10 to 10⁶, from a count at 10 and
/// at 20 iterations. Chosen by counting rather than timing, so a busy machine (which slows a
/// timed calibration) cannot shrink it.
fn calibrate(bin: &str, name: &str, dir: &Path, stop: &AtomicBool) -> Result<u64, ExecError> {
    let at = |iterations: u64| -> Result<u64, ExecError> {
        let argv = vec![
            bin.to_string(),
            "-test.run".into(),
            "^$".into(),
            "-test.bench".into(),
            format!("^{name}$"),
            "-test.benchtime".into(),
            format!("{iterations}x"),
        ];
        count_except(&argv, Some(dir), &GO_ENV, false, stop, Some(go_time_driven))
    };
    let per_op = at(20)?.saturating_sub(at(10)?) as f64 / 10.0;
    Ok(((SPAN / per_op.max(1.0)).ceil() as u64).clamp(10, 1_000_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(s: &str) -> Vec<String> {
        crate::split_words(s).unwrap()
    }

    #[test]
    fn go_commands_give_their_package_and_pattern() {
        let g = GoBench::parse(&words(
            "go test -run '^$' -bench 'Sum' -benchmem -count 5 ./hash",
        ))
        .unwrap()
        .unwrap();
        assert_eq!((g.package.as_str(), g.pattern.as_str()), ("./hash", "Sum"));
        let g = GoBench::parse(&words("go test -bench=. -benchtime 20000x"))
            .unwrap()
            .unwrap();
        assert_eq!((g.package.as_str(), g.pattern.as_str()), (".", "."));
        assert!(GoBench::parse(&words("cargo bench")).unwrap().is_none());
        let e = GoBench::parse(&words("go test -bench . ./...")).unwrap_err();
        assert!(e.to_string().contains("name one package"), "{e}");
    }

    #[test]
    fn summaries_of_every_process_add_up() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cg.1"), "events: Ir\nsummary: 1000\n").unwrap();
        std::fs::write(d.path().join("cg.2"), "events: Ir\nsummary: 234\n").unwrap();
        std::fs::write(d.path().join("vg.1"), "==1== I refs: 1,000\n").unwrap();
        assert_eq!(summed(d.path()), Some(1234));
        let empty = tempfile::tempdir().unwrap();
        assert_eq!(summed(empty.path()), None);
    }

    #[test]
    fn the_go_runtimes_clock_driven_work_is_left_out() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("cg.1"),
            "events: Ir\nfl=sort.go\nfn=sort.insertionSort\n10 700\n11 300\nfn=runtime.sysmon\n5 90\nfn=runtime.pcvalue\n6 10\nfn=runtime.mallocgc\n7 50\nsummary: 1150\n",
        )
        .unwrap();
        assert_eq!(summed(d.path()), Some(1150));
        assert_eq!(summed_except(d.path(), go_time_driven), Some(1050));
        assert!(
            go_time_driven("runtime.gentraceback") && go_time_driven("runtime.(*unwinder).next")
        );
        assert!(!go_time_driven("runtime.mallocgc") && !go_time_driven("main.work"));
    }
}
