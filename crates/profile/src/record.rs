//! Driving the profilers: `perf record` for CPU samples, valgrind's callgrind for instruction
//! counts (the deterministic mode, and the fallback when perf is missing or denied), valgrind's
//! DHAT for allocations. The process's own CPU accounting comes from a small wrapper (perflab
//! itself) that runs the command under the profiler and reports its `wait4` rusage, so perf's
//! own CPU is never counted as the target's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use perflab_exec::interrupt::{self, Group, OnStop};
use serde::{Deserialize, Serialize};

use crate::elf::{self, Unwinding};
use crate::{callgrind, dhat, perf_script, Profile, ProfileError};

/// What the wrapper reports about the command it ran.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Usage {
    /// Wall-clock seconds.
    pub wall_s: f64,
    /// User CPU seconds (the command and its children).
    pub user_s: f64,
    /// System CPU seconds.
    pub sys_s: f64,
    /// Peak RSS in bytes.
    pub max_rss_bytes: u64,
    /// Exit code, when it exited.
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Stopped by perflab at the end of its time budget.
    #[serde(default)]
    pub timed_out: bool,
    /// The wrapper's own pid, so its samples can be left out.
    #[serde(default)]
    pub wrapper_pid: Option<u32>,
    /// The wrapper's peak RSS before it started the command. The kernel charges a child with
    /// the memory it had before `exec`, so a `max_rss_bytes` at or below this is not the
    /// command's own.
    #[serde(default)]
    pub rss_floor_bytes: u64,
    /// Voluntary and involuntary context switches (rusage), when known.
    #[serde(default)]
    pub switches: Option<(u64, u64)>,
}

impl Usage {
    /// The command's peak RSS, when it is clearly above the measurement floor.
    pub fn peak_rss(&self) -> Option<u64> {
        (self.max_rss_bytes as f64 > self.rss_floor_bytes as f64 * 1.05)
            .then_some(self.max_rss_bytes)
    }
}

/// How to profile CPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CpuMode {
    /// perf, else callgrind, else timing only.
    Auto,
    /// perf only.
    Perf,
    /// py-spy (Python programs; the default for them when py-spy is installed).
    #[value(name = "py-spy")]
    PySpy,
    /// callgrind instruction counts (deterministic).
    Callgrind,
}

/// Stack unwinding for perf, as the user asks for it: `auto`, `fp`, `dwarf` or, as perf
/// spells it, `dwarf,SIZE` (the bytes of stack copied per sample).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallGraph {
    /// Frame pointers for Go and binaries that keep them, DWARF otherwise.
    Auto,
    /// Frame pointers.
    Fp,
    /// DWARF, copying this many bytes of stack per sample ([`DWARF_STACK`] by default).
    Dwarf(u32),
}

/// Bytes of stack perf copies per sample for DWARF unwinding, unless `--call-graph dwarf,SIZE`
/// says otherwise (perf's own default is 8 KiB).
pub const DWARF_STACK: u32 = 16 * 1024;
/// The most perf copies.
pub const DWARF_STACK_MAX: u32 = 65_528;

impl std::str::FromStr for CallGraph {
    type Err = String;

    fn from_str(s: &str) -> Result<CallGraph, String> {
        match s {
            "auto" => return Ok(CallGraph::Auto),
            "fp" => return Ok(CallGraph::Fp),
            "dwarf" => return Ok(CallGraph::Dwarf(DWARF_STACK)),
            _ => {}
        }
        let Some(size) = s.strip_prefix("dwarf,") else {
            return Err(format!(
                "'{s}': give auto, fp, dwarf or dwarf,SIZE (bytes of stack per sample, e.g. dwarf,65528)"
            ));
        };
        let (digits, scale) = match size.strip_suffix(['k', 'K']) {
            Some(d) => (d, 1024u64),
            None => (size, 1),
        };
        let bytes = digits
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(scale))
            .filter(|&n| n > 0)
            .ok_or_else(|| {
                format!("'{s}': the stack size is a number of bytes, e.g. dwarf,32768 or dwarf,32k")
            })?;
        // perf copies whole 8-byte words, at most 65528 bytes; 64k means that most.
        let bytes = bytes.div_ceil(8) * 8;
        if bytes > u64::from(DWARF_STACK_MAX) + 8 {
            return Err(format!(
                "'{s}': perf copies at most {DWARF_STACK_MAX} bytes of stack per sample"
            ));
        }
        Ok(CallGraph::Dwarf(
            bytes.min(u64::from(DWARF_STACK_MAX)) as u32
        ))
    }
}

impl std::fmt::Display for CallGraph {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallGraph::Auto => f.write_str("auto"),
            CallGraph::Fp => f.write_str("fp"),
            CallGraph::Dwarf(DWARF_STACK) => f.write_str("dwarf"),
            CallGraph::Dwarf(n) => write!(f, "dwarf,{n}"),
        }
    }
}

/// The profiling flags of `profile`, `scan`, `bench --profile` and `load --profile-target`
/// (defined here, so every command spells and checks them alike).
#[derive(Debug, Clone, clap::Args)]
pub struct ProfileFlags {
    /// CPU backend.
    #[arg(long, value_enum, default_value_t = CpuMode::Auto)]
    pub mode: CpuMode,
    /// perf sampling frequency, Hz.
    #[arg(short = 'F', long, default_value_t = 499, value_name = "HZ")]
    pub frequency: u32,
    /// Stack unwinding for perf: auto (frame pointers for Go and binaries that keep them,
    /// DWARF otherwise), fp, dwarf, or dwarf,SIZE: the bytes of stack copied per sample
    /// (default 16384, at most 65528; async Rust's deep stacks need 65528)
    #[arg(long, default_value_t = CallGraph::Auto, value_name = "auto|fp|dwarf[,SIZE]")]
    pub call_graph: CallGraph,
    /// Also profile allocations (valgrind DHAT; runs the command a second time). With `bench`:
    /// allocations per benchmark iteration (Go: -benchmem; Rust harnesses: each benchmark once
    /// under DHAT).
    #[arg(long)]
    pub alloc: bool,
    /// Rows in the top tables.
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// With py-spy: also sample native (C, Rust) frames of extension modules.
    #[arg(long)]
    pub native: bool,
}

impl ProfileFlags {
    /// Whether any flag differs from its default (they only matter when profiling).
    pub fn chosen(&self) -> bool {
        self.alloc
            || self.native
            || self.mode != CpuMode::Auto
            || self.call_graph != CallGraph::Auto
    }

    /// Recording options for these flags; `wrapper` is the command that reports a child's
    /// rusage (perflab's `exec-usage`). `PERFLAB_PERF` and `PERFLAB_VALGRIND` name the tools,
    /// for unusual installs and for tests.
    ///
    /// # Errors
    /// A frequency outside 1 to 100,000 Hz.
    pub fn record_options(
        &self,
        wrapper: Vec<String>,
        scratch: &Path,
        timeout_s: Option<f64>,
    ) -> Result<RecordOptions, RecordError> {
        if self.frequency == 0 || self.frequency > 100_000 {
            return Err(RecordError::Options(format!(
                "--frequency {}: give 1 to 100000 Hz",
                self.frequency
            )));
        }
        Ok(RecordOptions {
            mode: self.mode,
            frequency: self.frequency,
            unwinding: match self.call_graph {
                CallGraph::Auto => None,
                CallGraph::Fp => Some(Unwinding::FramePointer),
                CallGraph::Dwarf(_) => Some(Unwinding::Dwarf),
            },
            dwarf_stack: match self.call_graph {
                CallGraph::Dwarf(n) => n,
                _ => DWARF_STACK,
            },
            wrapper,
            timeout_s,
            scratch: scratch.to_path_buf(),
            perf: std::env::var("PERFLAB_PERF").unwrap_or_else(|_| "perf".into()),
            valgrind: std::env::var("PERFLAB_VALGRIND").unwrap_or_else(|_| "valgrind".into()),
            pyspy: std::env::var("PERFLAB_PYSPY").unwrap_or_else(|_| "py-spy".into()),
            native: self.native,
            stdout: CommandOutput::Stderr,
        })
    }
}

/// Options for recording a command.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The backend choice.
    pub mode: CpuMode,
    /// Sampling frequency for perf, Hz.
    pub frequency: u32,
    /// Unwinding; `None` chooses from the binary.
    pub unwinding: Option<Unwinding>,
    /// Bytes of stack copied per sample when unwinding with DWARF.
    pub dwarf_stack: u32,
    /// The wrapper that runs a command and writes its [`Usage`] as JSON: the words before
    /// `--report FILE -- CMD...` (perflab's own hidden `exec-usage` command).
    pub wrapper: Vec<String>,
    /// Stop the command after this many seconds (scan's budget).
    pub timeout_s: Option<f64>,
    /// A scratch directory for the profilers' files.
    pub scratch: PathBuf,
    /// The perf program (`PERFLAB_PERF`, default `perf`).
    pub perf: String,
    /// The valgrind program (`PERFLAB_VALGRIND`, default `valgrind`).
    pub valgrind: String,
    /// The py-spy program (`PERFLAB_PYSPY`, default `py-spy`).
    pub pyspy: String,
    /// py-spy's `--native`.
    pub native: bool,
    /// Where the command's standard output goes.
    pub stdout: CommandOutput,
}

/// Where a profiled command's standard output goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CommandOutput {
    /// perflab's stderr, so perflab's stdout carries only its own document.
    Stderr,
    /// perflab's stdout (`perflab profile -- gzip -c f > f.gz`: the summary goes to stderr).
    Stdout,
    /// A file (a benchmark harness's results, `--stdout FILE`).
    File(PathBuf),
}

/// A finished recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The stacks.
    pub profile: Profile,
    /// `perf`, `callgrind`, `rusage`, `dhat`.
    pub backend: String,
    /// Why this backend, when it was a fallback.
    pub note: Option<String>,
    /// The unwinding perf used, with the reason.
    pub unwinding: Option<(Unwinding, String)>,
    /// The command's own accounting.
    pub usage: Usage,
}

/// Why recording failed.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// Flags that cannot work (`--frequency 0`).
    #[error("{0}")]
    Options(String),
    /// A scratch directory could not be made.
    #[error("cannot create {path}: {reason}")]
    Scratch {
        /// The directory.
        path: String,
        /// The OS error.
        reason: String,
    },
    /// The command could not be started.
    #[error("cannot start {program:?}: {reason}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        reason: String,
    },
    /// A profiler failed.
    #[error("{tool} failed: {reason}")]
    Tool {
        /// perf, valgrind.
        tool: String,
        /// Its last words.
        reason: String,
    },
    /// Its output could not be read.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// I/O while recording.
    #[error("while recording: {0}")]
    Io(#[from] std::io::Error),
}

fn last_lines(bytes: &[u8]) -> String {
    let s = String::from_utf8_lossy(bytes);
    let lines: Vec<&str> = s.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(2)..];
    tail.join(" | ")
}

/// True when the perf program can be run at all.
pub fn tool_available(program: &str) -> bool {
    Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where the command's stdout goes.
fn command_stdout(opts: &RecordOptions) -> Result<Stdio, RecordError> {
    match &opts.stdout {
        CommandOutput::File(path) => Ok(Stdio::from(std::fs::File::create(path)?)),
        CommandOutput::Stderr => Ok(to_stderr()),
        CommandOutput::Stdout => Ok(Stdio::inherit()),
    }
}

/// The profiled command writes to perflab's stderr, so that stdout carries only perflab's own
/// output (the `--json` document).
fn to_stderr() -> Stdio {
    use std::os::fd::AsFd as _;
    std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

fn wrapped(opts: &RecordOptions, report: &Path, argv: &[String], randomize: bool) -> Vec<String> {
    let mut v = opts.wrapper.clone();
    v.push("--report".into());
    v.push(report.display().to_string());
    if randomize {
        v.push("--randomize".into());
    }
    if let Some(t) = opts.timeout_s {
        v.push("--timeout".into());
        v.push(format!("{t}"));
    }
    v.push("--".into());
    v.extend(argv.iter().cloned());
    v
}

fn read_usage(report: &Path) -> Result<Usage, RecordError> {
    let text = std::fs::read_to_string(report).map_err(|e| RecordError::Tool {
        tool: "the command wrapper".into(),
        reason: format!("no usage report ({e})"),
    })?;
    serde_json::from_str(&text).map_err(|e| RecordError::Tool {
        tool: "the command wrapper".into(),
        reason: e.to_string(),
    })
}

/// Check the command exists before any profiler runs, for a clear error.
pub fn check_program(argv: &[String]) -> Result<(), RecordError> {
    let program = argv.first().ok_or_else(|| RecordError::Spawn {
        program: String::new(),
        reason: "no command given".into(),
    })?;
    if elf::resolve_program(program).is_none() {
        return Err(RecordError::Spawn {
            program: program.clone(),
            reason: "not found (not a file, and not on PATH)".into(),
        });
    }
    Ok(())
}

/// Profile the CPU of `argv`, choosing the backend as `opts.mode` says.
pub fn record_cpu(argv: &[String], opts: &RecordOptions) -> Result<Recording, RecordError> {
    check_program(argv)?;
    match opts.mode {
        CpuMode::Perf => record_perf(argv, opts).map_err(|e| match e {
            PerfUnavailable::No(why) => RecordError::Tool {
                tool: "perf".into(),
                reason: why,
            },
            PerfUnavailable::Failed(e) => e,
        }),
        CpuMode::Callgrind => record_callgrind(argv, opts, None),
        CpuMode::PySpy => record_pyspy(argv, opts),
        // Python: py-spy's stacks are whole on every CPython; perf's are not.
        CpuMode::Auto
            if crate::pyspy::is_python(&crate::wrappers::through_wrappers(argv))
                && tool_available(&opts.pyspy) =>
        {
            record_pyspy(argv, opts)
        }
        CpuMode::Auto => match record_perf(argv, opts) {
            Ok(r) => Ok(r),
            Err(PerfUnavailable::Failed(e)) => Err(e),
            Err(PerfUnavailable::No(why)) if tool_available(&opts.valgrind) => {
                record_callgrind(argv, opts, Some(format!("{why}; fell back to callgrind")))
            }
            Err(PerfUnavailable::No(why)) => record_usage_only(
                argv,
                opts,
                format!("{why}, and valgrind is missing: timing only, no stacks"),
            ),
        },
    }
}

/// The Python program under py-spy, itself under perflab's rusage wrapper (py-spy must start
/// the interpreter, so the figures include py-spy's own sampling, a few percent of a core).
fn record_pyspy(argv: &[String], opts: &RecordOptions) -> Result<Recording, RecordError> {
    let out = opts.scratch.join("py-spy.txt");
    let mut pyspy = vec![
        opts.pyspy.clone(),
        "record".into(),
        "--format".into(),
        "raw".into(),
        "--rate".into(),
        opts.frequency.to_string(),
        "--output".into(),
        out.display().to_string(),
    ];
    if opts.native {
        pyspy.push("--native".into());
    }
    pyspy.push("--".into());
    pyspy.extend(argv.iter().cloned());
    let report = opts.scratch.join("usage.json");
    let words = wrapped(opts, &report, &pyspy, false);
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..])
        .stdout(command_stdout(opts)?)
        .stderr(Stdio::piped());
    let (mut child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt).map_err(|e| {
            RecordError::Tool {
                tool: "py-spy".into(),
                reason: format!("cannot start {}: {e}", opts.pyspy),
            }
        })?;
    let tail = child.stderr.take().map(forward_stderr);
    interrupt::wait(&mut child, tracked)?;
    let tail = tail.and_then(|t| t.join().ok()).unwrap_or_default();
    let usage = read_usage(&report)?;
    let text = std::fs::read_to_string(&out).map_err(|_| RecordError::Tool {
        tool: "py-spy record".into(),
        reason: format!("wrote no profile ({})", last_lines(tail.as_bytes())),
    })?;
    let profile = crate::pyspy::parse(&text, &out.display().to_string(), opts.frequency)
        .map_err(RecordError::Profile)?;
    Ok(Recording {
        profile,
        backend: "py-spy".into(),
        note: None,
        unwinding: None,
        usage,
    })
}

/// A running Python process under py-spy for `seconds`.
fn record_pid_pyspy(
    pid: u32,
    seconds: f64,
    opts: &RecordOptions,
) -> Result<Recording, RecordError> {
    let before = proc_cpu(pid).ok_or_else(|| RecordError::Spawn {
        program: format!("pid {pid}"),
        reason: "no such process".into(),
    })?;
    let out = opts.scratch.join("py-spy.txt");
    let mut cmd = Command::new(&opts.pyspy);
    cmd.args(["record", "--format", "raw", "--nonblocking", "--rate"])
        .arg(opts.frequency.to_string())
        .arg("--duration")
        .arg(format!("{}", seconds.ceil().max(1.0)))
        .arg("--pid")
        .arg(pid.to_string())
        .arg("--output")
        .arg(&out);
    if opts.native {
        cmd.arg("--native");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let start = std::time::Instant::now();
    let (child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt).map_err(|e| {
            RecordError::Tool {
                tool: "py-spy".into(),
                reason: format!("cannot start {}: {e}", opts.pyspy),
            }
        })?;
    let done = interrupt::output(child, tracked)?;
    let text = std::fs::read_to_string(&out).map_err(|_| RecordError::Tool {
        tool: "py-spy record --pid".into(),
        reason: last_lines(&done.stderr),
    })?;
    let profile = crate::pyspy::parse(&text, &out.display().to_string(), opts.frequency)?;
    let after = proc_cpu(pid);
    let (user, sys) = after.map_or((0.0, 0.0), |a| (a.0 - before.0, a.1 - before.1));
    Ok(Recording {
        profile,
        backend: "py-spy".into(),
        note: after
            .is_none()
            .then(|| format!("pid {pid} exited during the profile: partial result")),
        unwinding: None,
        usage: Usage {
            wall_s: start.elapsed().as_secs_f64().min(seconds),
            user_s: user,
            sys_s: sys,
            max_rss_bytes: proc_rss_peak(pid).unwrap_or(0),
            ..Usage::default()
        },
    })
}

/// perf could not be used (fall back), or the run itself failed (do not).
enum PerfUnavailable {
    No(String),
    Failed(RecordError),
}

fn record_perf(argv: &[String], opts: &RecordOptions) -> Result<Recording, PerfUnavailable> {
    // What `taskset`, `env` or `sh -c 'exec …'` finally run decides, not the wrapper.
    let program = main_program(argv);
    let facts = program.as_deref().and_then(elf::inspect);
    let (unwinding, reason) = match opts.unwinding {
        Some(u) => (u, "chosen with --call-graph".to_string()),
        None => elf::choose(facts.as_ref()),
    };
    let data = opts.scratch.join("perf.data");
    let mut perf = vec![
        opts.perf.clone(),
        "record".into(),
        "-q".into(),
        "-e".into(),
        "cpu-clock".into(),
        "-F".into(),
        opts.frequency.to_string(),
        "--call-graph".into(),
        match unwinding {
            Unwinding::FramePointer => "fp".into(),
            Unwinding::Dwarf => format!("dwarf,{}", opts.dwarf_stack),
        },
        "-o".into(),
        data.display().to_string(),
        "--".into(),
    ];
    // perf and the wrapper run with a fixed layout, the command with the usual one: perf's
    // DWARF unwinder then never mistakes the wrapper's libraries for the command's.
    // When the command is the wrapper's own executable (perflab profiling perflab), a fixed
    // layout would put the wrapper's copy of the executable below the command's (executables
    // load bottom-up, libraries top-down): both then keep the fixed layout, and the command's
    // mappings fall exactly on the wrapper's, which perf then forgets.
    let fixed = unwinding == Unwinding::Dwarf && perflab_exec::layout::randomized();
    let same_program = same_file(opts.wrapper.first().map(Path::new), program.as_deref());
    perf.extend(wrapped(
        opts,
        &opts.scratch.join("usage.json"),
        argv,
        fixed && !same_program,
    ));
    let stdout = command_stdout(opts).map_err(PerfUnavailable::Failed)?;
    let mut cmd = Command::new(&perf[0]);
    if fixed {
        perflab_exec::layout::fixed_for_children(&mut cmd);
    }
    // Python 3.12+ then writes a perf map of its functions (perf-PID.map), so perf names them
    // (`py::parse:/app/x.py`) instead of only the interpreter's loop; older ones ignore it.
    if std::env::var_os("PYTHONPERFSUPPORT").is_none() {
        cmd.env("PYTHONPERFSUPPORT", "1");
    }
    // perf runs in its own process group, tracked by the signal owner: a Ctrl-C reaches its
    // group as SIGINT once perflab has recorded the stop; perf then ends its workload and
    // writes what it sampled.
    cmd.args(&perf[1..]).stdout(stdout).stderr(Stdio::piped());
    let (mut child, tracked) = match interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt) {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(PerfUnavailable::No(format!(
                "perf is not installed ({})",
                opts.perf
            )))
        }
        Err(e) => return Err(PerfUnavailable::No(format!("perf cannot be started: {e}"))),
    };
    // perf's messages and the command's stderr share this pipe: pass it on as it comes, and
    // keep the tail to explain a refusal.
    let tail = child.stderr.take().map(forward_stderr);
    interrupt::wait(&mut child, tracked).map_err(|e| PerfUnavailable::Failed(e.into()))?;
    let tail = tail.and_then(|t| t.join().ok()).unwrap_or_default();
    let usage = match read_usage(&opts.scratch.join("usage.json")) {
        Ok(u) => u,
        // The command never ran: perf refused before starting it.
        Err(_) if !data.exists() || perf_refused(&tail) => {
            return Err(PerfUnavailable::No(format!(
                "perf record was refused ({})",
                last_lines(tail.as_bytes())
            )))
        }
        Err(e) => return Err(PerfUnavailable::Failed(e)),
    };
    if !data.exists() {
        return Err(PerfUnavailable::Failed(RecordError::Tool {
            tool: "perf record".into(),
            reason: "wrote no perf.data (its messages are above)".into(),
        }));
    }
    if unwinding == Unwinding::Dwarf {
        // Best effort: a file it cannot repair is unwound as perf recorded it.
        let _ = crate::perf_data::forget_mappings_before_exec(&data);
    }
    let profile = perf_script_of(&data, opts, usage.wrapper_pid, program.as_deref())
        .map_err(PerfUnavailable::Failed)?;
    Ok(Recording {
        profile,
        backend: "perf".into(),
        note: None,
        unwinding: Some((unwinding, reason)),
        usage,
    })
}

/// The executable `argv` finally runs, through wrappers that exec it (`taskset`, `env`…).
fn main_program(argv: &[String]) -> Option<PathBuf> {
    let target = crate::wrappers::through_wrappers(argv);
    target.first().and_then(|p| elf::resolve_program(p))
}

/// True when both paths name one file.
fn same_file(a: Option<&Path>, b: Option<&Path>) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (
        a.and_then(|a| a.metadata().ok()),
        b.and_then(|b| b.metadata().ok()),
    ) {
        (Some(a), Some(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Copy a child's stderr to ours as it arrives; the thread returns the last 4 KiB.
fn forward_stderr(mut from: std::process::ChildStderr) -> std::thread::JoinHandle<String> {
    use std::io::{Read as _, Write as _};
    std::thread::spawn(move || {
        let mut tail: Vec<u8> = Vec::new();
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            let _ = std::io::stderr().write_all(&buf[..n]);
            tail.extend_from_slice(&buf[..n]);
            if tail.len() > 4096 {
                tail.drain(..tail.len() - 4096);
            }
        }
        String::from_utf8_lossy(&tail).into_owned()
    })
}

/// perf's words when the kernel or a sandbox does not let it sample.
fn perf_refused(stderr: &str) -> bool {
    stderr.contains("perf_event_paranoid")
        || stderr.contains("No permission")
        || stderr.contains("Operation not permitted")
        || stderr.contains("Permission denied")
        || stderr.contains("not supported")
}

/// Run `argv` through the usage wrapper, itself under `prefix` (perf, valgrind, or nothing),
/// with the command's stdout where `opts.stdout` says; the wrapper's report is the command's usage.
fn run_wrapped(
    prefix: &mut Vec<String>,
    argv: &[String],
    opts: &RecordOptions,
) -> Result<Usage, RecordError> {
    let report = opts.scratch.join("usage.json");
    // valgrind must run inside the wrapper (it profiles its own child); perf outside it.
    let under_valgrind = prefix.first() == Some(&opts.valgrind);
    let words = if under_valgrind {
        prefix.extend(argv.iter().cloned());
        wrapped(opts, &report, prefix, false)
    } else {
        let mut w = std::mem::take(prefix);
        w.extend(wrapped(opts, &report, argv, false));
        w
    };
    let spawn_error = |e: std::io::Error| RecordError::Spawn {
        program: words[0].clone(),
        reason: e.to_string(),
    };
    let mut cmd = Command::new(&words[0]);
    cmd.args(&words[1..]).stdout(command_stdout(opts)?);
    let (mut child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt).map_err(spawn_error)?;
    interrupt::wait(&mut child, tracked).map_err(spawn_error)?;
    read_usage(&report)
}

/// Run `argv` under a valgrind tool writing one file per process (`%p`), and merge the files.
fn run_valgrind(
    tool: &str,
    out_flag: &str,
    file: &str,
    argv: &[String],
    opts: &RecordOptions,
) -> Result<(Usage, Profile), RecordError> {
    let mut prefix = vec![
        opts.valgrind.clone(),
        format!("--tool={tool}"),
        "--trace-children=yes".into(),
        "--quiet".into(),
        format!("{out_flag}={}", opts.scratch.join(file).display()),
    ];
    let usage = run_wrapped(&mut prefix, argv, opts)?;
    let (head, tail) = file.split_once("%p").unwrap_or((file, ""));
    let parse = if tool == "dhat" {
        dhat::parse
    } else {
        callgrind::parse
    };
    let profile = merge_files(
        &opts.scratch,
        |n| n.starts_with(head) && n.ends_with(tail),
        parse,
    )?
    .ok_or_else(|| RecordError::Tool {
        tool: format!("valgrind --tool={tool}"),
        reason: format!(
            "wrote no profile (the command {})",
            match (usage.exit_code, usage.signal) {
                (Some(c), _) => format!("exited with status {c}"),
                (None, Some(s)) => format!("was killed by signal {s}"),
                _ => "ended".into(),
            }
        ),
    })?;
    Ok((usage, profile))
}

/// `perf script` on a perf.data file, parsed.
pub fn perf_script_of(
    data: &Path,
    opts: &RecordOptions,
    skip_pid: Option<u32>,
    main: Option<&Path>,
) -> Result<Profile, RecordError> {
    // Inlined functions and lines come from `symbolize`, in-process: perf's own lookup of
    // them runs binutils' addr2line and is 50x slower on a big binary.
    let out = Command::new(&opts.perf)
        .arg("script")
        .arg("-i")
        .arg(data)
        .args([
            "-F",
            "comm,pid,tid,time,period,event,ip,sym,dso",
            "--no-inline",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()?;
    if !out.status.success() {
        return Err(RecordError::Tool {
            tool: "perf script".into(),
            reason: last_lines(&out.stderr),
        });
    }
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        // No samples (the command ended at once): an empty, valid profile.
        let mut p = Profile::new(vec![
            crate::ValueType::new("samples", "count"),
            crate::ValueType::new("cpu", "nanoseconds"),
        ]);
        p.comments.push("no samples".into());
        return Ok(p);
    }
    let mut p = perf_script::parse_recorded(&text, "perf script", skip_pid)?;
    p.check_values("perf script")?;
    // Each cpu-clock sample stands for one sampling interval of CPU.
    p.period = Some((
        crate::ValueType::new("cpu", "nanoseconds"),
        (1e9 / f64::from(opts.frequency.max(1))).round() as i64,
    ));
    Ok(crate::symbolize::resolve(&p, main))
}

fn record_callgrind(
    argv: &[String],
    opts: &RecordOptions,
    note: Option<String>,
) -> Result<Recording, RecordError> {
    let (usage, profile) = run_valgrind(
        "callgrind",
        "--callgrind-out-file",
        "callgrind.out.%p",
        argv,
        opts,
    )?;
    Ok(Recording {
        profile,
        backend: "callgrind".into(),
        note,
        unwinding: None,
        usage,
    })
}

fn record_usage_only(
    argv: &[String],
    opts: &RecordOptions,
    note: String,
) -> Result<Recording, RecordError> {
    let usage = run_wrapped(&mut Vec::new(), argv, opts)?;
    // One stack: the whole process, so every output exists and the totals still hold.
    let mut p = Profile::new(vec![crate::ValueType::new("cpu", "nanoseconds")]);
    let name = Path::new(&argv[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| argv[0].clone());
    let f = p.intern(crate::Frame::function(&format!("{name} (no stacks)")));
    p.add(&[f], &[((usage.user_s + usage.sys_s) * 1e9).round() as i64]);
    Ok(Recording {
        profile: p,
        backend: "rusage".into(),
        note: Some(note),
        unwinding: None,
        usage,
    })
}

/// Refuse to profile allocations where DHAT cannot see them: Go allocates from its own arenas,
/// never through malloc, and its runtime hangs or crawls under valgrind.
///
/// # Errors
/// [`RecordError::Options`] saying what to use instead.
pub fn check_alloc(argv: &[String]) -> Result<(), RecordError> {
    let target = crate::wrappers::through_wrappers(argv);
    let go = main_program(argv)
        .and_then(|p| elf::inspect(&p))
        .is_some_and(|f| f.go);
    if go {
        return Err(RecordError::Options(format!(
            "--alloc uses valgrind's DHAT, which cannot see Go's heap ({} is a Go program): use Go's own figures: `perflab bench --profile --alloc -- go test -bench .` (-benchmem: allocs_per_op, bytes_per_op), a heap profile (`go test -memprofile mem.out`, then `perflab profile --input mem.out`) or a server's --pprof-url http://HOST/debug/pprof/allocs",
            target[0]
        )));
    }
    Ok(())
}

/// Profile the allocations of `argv` with DHAT.
pub fn record_alloc(argv: &[String], opts: &RecordOptions) -> Result<Recording, RecordError> {
    check_program(argv)?;
    check_alloc(argv)?;
    if !tool_available(&opts.valgrind) {
        return Err(RecordError::Tool {
            tool: "valgrind".into(),
            reason: format!(
                "{} is not installed; --alloc needs valgrind's DHAT (apt-get install valgrind)",
                opts.valgrind
            ),
        });
    }
    let (usage, profile) = run_valgrind("dhat", "--dhat-out-file", "dhat.%p.json", argv, opts)?;
    Ok(Recording {
        profile,
        backend: "dhat".into(),
        note: None,
        unwinding: None,
        usage,
    })
}

/// Parse and merge every file of `dir` whose name `wanted` accepts (valgrind writes one per
/// process with --trace-children); `None` when there is none.
fn merge_files(
    dir: &Path,
    wanted: impl Fn(&str) -> bool,
    parse: fn(&str, &str) -> Result<Profile, ProfileError>,
) -> Result<Option<Profile>, RecordError> {
    let mut merged: Option<Profile> = None;
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if !wanted(&name) {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let p = parse(&text, &path.display().to_string())?;
        match merged.as_mut() {
            None => merged = Some(p),
            Some(m) => m.merge_from(&p, None),
        }
    }
    Ok(merged)
}

/// Profile a running process for `seconds` with perf; CPU accounting from /proc.
pub fn record_pid(pid: u32, seconds: f64, opts: &RecordOptions) -> Result<Recording, RecordError> {
    let exe = std::fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| vec![p.display().to_string()])
        .unwrap_or_default();
    let python = crate::pyspy::is_python(&exe) && opts.mode != CpuMode::Perf;
    if python && tool_available(&opts.pyspy) || opts.mode == CpuMode::PySpy {
        return record_pid_pyspy(pid, seconds, opts);
    }
    let before = proc_cpu(pid).ok_or_else(|| RecordError::Spawn {
        program: format!("pid {pid}"),
        reason: "no such process".into(),
    })?;
    let facts = std::fs::read_link(format!("/proc/{pid}/exe"))
        .ok()
        .and_then(|p| elf::inspect(&p));
    let (unwinding, reason) = match opts.unwinding {
        Some(u) => (u, "chosen with --call-graph".to_string()),
        None => elf::choose(facts.as_ref()),
    };
    let data = opts.scratch.join("perf.data");
    let start = std::time::Instant::now();
    let mut cmd = Command::new(&opts.perf);
    cmd.args(["record", "-q", "-e", "cpu-clock", "-F"])
        .arg(opts.frequency.to_string())
        .arg("--call-graph")
        .arg(match unwinding {
            Unwinding::FramePointer => "fp".to_string(),
            Unwinding::Dwarf => format!("dwarf,{}", opts.dwarf_stack),
        })
        .arg("-p")
        .arg(pid.to_string())
        .arg("-o")
        .arg(&data)
        .args(["--", "sleep"])
        .arg(format!("{seconds}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let (child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt).map_err(|e| {
            RecordError::Tool {
                tool: "perf".into(),
                reason: format!("cannot start {}: {e}", opts.perf),
            }
        })?;
    let out = interrupt::output(child, tracked)?;
    let elapsed = start.elapsed().as_secs_f64();
    if !data.exists() {
        return Err(RecordError::Tool {
            tool: "perf record -p".into(),
            reason: last_lines(&out.stderr),
        });
    }
    let after = proc_cpu(pid);
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let profile = perf_script_of(&data, opts, None, exe.as_deref())?;
    // The window is perf's `sleep`: perf attaches (which takes a second or more for a big
    // process) before it starts it, so /proc's CPU over the whole call would count time that
    // was never sampled. perf's own accounting is the window's: each cpu-clock sample is its
    // period of CPU, in the kernel when its leaf is.
    let (mut user, mut sys) = (0.0, 0.0);
    if let Some(i) = profile.type_index("cpu") {
        for smp in &profile.samples {
            let v = smp.values.get(i).copied().unwrap_or(0) as f64 / 1e9;
            let kernel =
                (smp.stack.last()).is_some_and(|&f| profile.frames[f as usize].is_kernel());
            if kernel {
                sys += v;
            } else {
                user += v;
            }
        }
    } else if let Some(a) = after {
        (user, sys) = (a.0 - before.0, a.1 - before.1);
    }
    let wall = seconds.min(elapsed);
    Ok(Recording {
        profile,
        backend: "perf".into(),
        note: after
            .is_none()
            .then(|| format!("pid {pid} exited during the profile: partial result")),
        unwinding: Some((unwinding, reason)),
        usage: Usage {
            wall_s: wall,
            user_s: user,
            sys_s: sys,
            max_rss_bytes: proc_rss_peak(pid).unwrap_or(0),
            exit_code: None,
            signal: None,
            timed_out: false,
            wrapper_pid: None,
            rss_floor_bytes: 0,
            switches: None,
        },
    })
}

/// User and system CPU seconds of a live process (clock ticks are 1/100 s on Linux).
fn proc_cpu(pid: u32) -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .map(|t| t / 100.0)
    };
    Some((ticks(11)?, ticks(12)?))
}

fn proc_rss_peak(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// What the profiler's wrapper (`perflab exec-usage`) does: run `argv` as a child of this process,
/// so the rusage it reports is the command's own and never perf's, and return that usage with
/// the exit status to pass on (128 + signal when killed, as a shell does).
///
/// # Errors
/// [`RecordError::Spawn`] when the command cannot start.
pub fn wrapper_usage(
    argv: &[String],
    timeout_s: Option<f64>,
    randomize: bool,
) -> Result<(Usage, i32), RecordError> {
    // perf started this wrapper with randomization off (see `perflab_exec::layout`); the
    // command gets the usual layout back.
    if randomize {
        perflab_exec::layout::randomize_children();
    }
    // The command shares perf's group, so a stop sent to the group reaches it; a SIGINT or
    // SIGTERM to this wrapper alone (perf sends its workload SIGTERM when it is stopped) is
    // passed on, and the report is still written.
    perflab_exec::interrupt::relay();
    let timeout = timeout_s
        .filter(|t| t.is_finite() && *t > 0.0)
        .map(std::time::Duration::from_secs_f64);
    let (m, timed_out) = perflab_exec::run_argv(argv, timeout).map_err(|e| RecordError::Spawn {
        program: argv.first().cloned().unwrap_or_default(),
        reason: e.to_string(),
    })?;
    // The child started as a copy of this process, so the kernel charged it with our memory
    // until it exec'd. Our peak so far bounds that charge (the peak only grows).
    let floor = own_peak_rss().unwrap_or(0);
    let usage = Usage {
        wall_s: m.wall.as_secs_f64(),
        user_s: m.user.as_secs_f64(),
        sys_s: m.sys.as_secs_f64(),
        max_rss_bytes: m.max_rss_bytes,
        exit_code: m.exit_code,
        signal: m.signal,
        timed_out,
        wrapper_pid: Some(std::process::id()),
        rss_floor_bytes: floor,
        switches: Some(m.switches),
    };
    let code = match (m.exit_code, m.signal) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        (None, None) => 1,
    };
    Ok((usage, code))
}

/// This process's peak RSS so far (`VmHWM`), in bytes.
fn own_peak_rss() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_cpu_is_readable() {
        let (u, s) = proc_cpu(std::process::id()).unwrap();
        assert!(u >= 0.0 && s >= 0.0);
        assert!(proc_cpu(u32::MAX).is_none());
    }

    #[test]
    fn call_graph_takes_perfs_spelling_with_a_stack_size() {
        let p = |s: &str| s.parse::<CallGraph>();
        assert_eq!(p("auto"), Ok(CallGraph::Auto));
        assert_eq!(p("fp"), Ok(CallGraph::Fp));
        assert_eq!(p("dwarf"), Ok(CallGraph::Dwarf(DWARF_STACK)));
        assert_eq!(p("dwarf,65528"), Ok(CallGraph::Dwarf(65_528)));
        assert_eq!(p("dwarf,64k"), Ok(CallGraph::Dwarf(65_528)));
        assert_eq!(p("dwarf,32K"), Ok(CallGraph::Dwarf(32_768)));
        assert_eq!(p("dwarf,1001"), Ok(CallGraph::Dwarf(1008)));
        for bad in [
            "dwarf,",
            "dwarf,0",
            "dwarf,x",
            "dwarf,65600",
            "lbr",
            "dwarf,99999999999999999999",
        ] {
            assert!(p(bad).is_err(), "{bad}");
        }
        assert!(p("dwarf,65600").unwrap_err().contains("at most 65528"));
        assert_eq!(CallGraph::Dwarf(65_528).to_string(), "dwarf,65528");
        assert_eq!(CallGraph::Dwarf(DWARF_STACK).to_string(), "dwarf");
    }

    #[test]
    fn a_missing_command_is_named() {
        let e = check_program(&["no-such-program-perflab".into()]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot start \"no-such-program-perflab\": not found (not a file, and not on PATH)"
        );
    }
}
