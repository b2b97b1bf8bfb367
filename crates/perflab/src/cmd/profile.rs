//! `perflab profile`: record (or read) a profile, write the flamegraph, pprof and folded files,
//! print the summary, and record a run of kind `profile`.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _, Result};
use perflab_model::profile::ProfileSummary;
use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_profile::elf::Unwinding;
use perflab_profile::record::{self, CpuMode, RecordOptions, Recording};
use perflab_profile::summary::{self, RunFacts};
use perflab_profile::{flame, folded, pprof, Profile};

use crate::cli::{CallGraph, ProfileArgs, ProfileMode, ProfileOptions};
use crate::{context, output, Outcome};

pub(crate) fn run(args: ProfileArgs, store: Option<&Path>) -> Result<Outcome> {
    let sources = usize::from(!args.command.is_empty())
        + usize::from(args.pid.is_some())
        + usize::from(args.input.is_some());
    if sources != 1 {
        bail!("give exactly one of: -- COMMAND..., --pid PID, --input FILE");
    }
    if args.command.is_empty() {
        let what = if args.pid.is_some() {
            "--pid"
        } else {
            "--input"
        };
        if args.profile.alloc {
            bail!("--alloc profiles a command perflab starts; it cannot be used with {what}");
        }
        if args.profile.mode == ProfileMode::Callgrind {
            bail!("--mode callgrind runs a command under valgrind; it cannot be used with {what}");
        }
    }
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let (target, profiled) = if let Some(path) = &args.input {
        let data = read_input(path)?;
        let profile = perflab_profile::read_any(&data, &path.display().to_string())?;
        let target = path.display().to_string();
        let profiled = Profiled::from_file(profile);
        (target, profiled)
    } else if let Some(pid) = args.pid {
        let duration = args.duration.as_deref().unwrap_or("10s");
        let seconds = perflab_model::parse_duration(duration)
            .map_err(|e| anyhow::anyhow!("--duration {duration:?}: {e}"))?;
        if seconds.is_zero() {
            bail!("--duration must be more than zero");
        }
        let opts = record_options(&args.profile, scratch.path(), None)?;
        let cpu = record::record_pid(pid, seconds.as_secs_f64(), &opts)?;
        (format!("pid {pid}"), Profiled { cpu, alloc: None })
    } else {
        let target = args.command.join(" ");
        let profiled = profile_command(&args.command, &args.profile, scratch.path(), None, None)?;
        (target, profiled)
    };
    let summary = write_outputs(&args.output_dir, "", &target, &profiled, &args.profile)?;
    let failure = profiled.failure(&target);
    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.command = if args.command.is_empty() {
        vec![target.clone()]
    } else {
        args.command.clone()
    };
    run.benchmarks.push(benchmark_of(&summary));
    run.profiles.push(summary);
    super::finish_run(run, &args.output, store, |r| {
        r.profiles
            .iter()
            .map(perflab_report::profile_text)
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    if let Some(f) = failure {
        bail!("{f}");
    }
    Ok(Outcome::Ok)
}

/// A CPU recording and, with --alloc, an allocation recording of the same target.
pub(super) struct Profiled {
    pub(super) cpu: Recording,
    pub(super) alloc: Option<Recording>,
}

impl Profiled {
    fn from_file(profile: Profile) -> Profiled {
        let is_alloc = profile.type_index("alloc_space").is_some();
        let rec = Recording {
            profile,
            backend: "file".into(),
            note: None,
            unwinding: None,
            usage: record::Usage::default(),
        };
        if is_alloc {
            // A heap profile only: it is both what is shown and where sites come from.
            Profiled {
                cpu: rec.clone(),
                alloc: Some(rec),
            }
        } else {
            Profiled {
                cpu: rec,
                alloc: None,
            }
        }
    }

    /// A one-line description when the command did not end well.
    pub(super) fn failure(&self, target: &str) -> Option<String> {
        let u = &self.cpu.usage;
        if u.timed_out {
            return None; // stopped by perflab at its budget: expected
        }
        match (u.exit_code, u.signal) {
            (Some(0), _) | (None, None) => None,
            (Some(c), _) => Some(format!(
                "{target} exited with status {c}: the profile of what ran was kept (partial)"
            )),
            (None, Some(s)) => Some(format!(
                "{target} was killed by signal {s}: the profile up to then was kept (partial)"
            )),
        }
    }
}

/// Recording options from the command line and the environment (`PERFLAB_PERF`,
/// `PERFLAB_VALGRIND` name the tools, for unusual installs and for tests).
pub(super) fn record_options(
    p: &ProfileOptions,
    scratch: &Path,
    timeout_s: Option<f64>,
) -> Result<RecordOptions> {
    if p.frequency == 0 || p.frequency > 100_000 {
        bail!("--frequency {}: give 1 to 100000 Hz", p.frequency);
    }
    let exe = std::env::current_exe().context("cannot find perflab's own executable")?;
    Ok(RecordOptions {
        mode: match p.mode {
            ProfileMode::Auto => CpuMode::Auto,
            ProfileMode::Perf => CpuMode::Perf,
            ProfileMode::Callgrind => CpuMode::Callgrind,
        },
        frequency: p.frequency,
        unwinding: match p.call_graph {
            CallGraph::Auto => None,
            CallGraph::Fp => Some(Unwinding::FramePointer),
            CallGraph::Dwarf => Some(Unwinding::Dwarf),
        },
        wrapper: vec![exe.display().to_string(), "exec-usage".into()],
        timeout_s,
        scratch: scratch.to_path_buf(),
        perf: std::env::var("PERFLAB_PERF").unwrap_or_else(|_| "perf".into()),
        valgrind: std::env::var("PERFLAB_VALGRIND").unwrap_or_else(|_| "valgrind".into()),
        stdout: None,
    })
}

/// Record the CPU profile of `argv` and, when asked, its allocations. `stdout`: a file for the
/// command's output during the CPU run (a harness's results); the allocation run's output is
/// dropped then, as it would only repeat it.
pub(super) fn profile_command(
    argv: &[String],
    p: &ProfileOptions,
    scratch: &Path,
    timeout_s: Option<f64>,
    stdout: Option<&Path>,
) -> Result<Profiled> {
    let dir = |name: &str| -> Result<PathBuf> {
        let d = scratch.join(name);
        std::fs::create_dir_all(&d).with_context(|| format!("cannot create {}", d.display()))?;
        Ok(d)
    };
    let mut cpu_opts = record_options(p, &dir("cpu")?, timeout_s)?;
    cpu_opts.stdout = stdout.map(Path::to_path_buf);
    let cpu = record::record_cpu(argv, &cpu_opts)?;
    let alloc = if p.alloc {
        let alloc_dir = dir("alloc")?;
        let mut opts = record_options(p, &alloc_dir, timeout_s)?;
        opts.stdout = stdout.map(|_| alloc_dir.join("stdout"));
        Some(record::record_alloc(argv, &opts)?)
    } else {
        None
    };
    Ok(Profiled { cpu, alloc })
}

fn facts(target: &str, r: &Recording) -> RunFacts {
    let u = &r.usage;
    // Under valgrind the process's times are the instrumented run's, not the program's.
    let timed = r.backend == "perf" || r.backend == "rusage";
    RunFacts {
        target: target.to_string(),
        backend: r.backend.clone(),
        backend_note: r.note.clone(),
        unwinding: r.unwinding.as_ref().map(|(u, _)| u.as_str().to_string()),
        cpu_time_s: timed.then_some(u.user_s + u.sys_s),
        sys_time_s: timed.then_some(u.sys_s),
        wall_time_s: timed.then_some(u.wall_s),
        peak_rss_bytes: u.peak_rss().filter(|_| timed),
        // The main thread lives the whole run, so wall - CPU is a lower bound of waiting.
        threads: Some(1),
    }
}

/// The CPU profile with its `cpu` column put on the process's own clock (rusage), so the
/// flamegraph, pprof and folded files agree with the summary.
pub(super) fn on_process_clock(p: &Profile, cpu_s: Option<f64>) -> Profile {
    match (p.type_index("cpu"), cpu_s) {
        (Some(i), Some(cpu)) if cpu > 0.0 && p.total(i) > 0 => {
            p.scaled(i, cpu * 1e9 / p.total(i) as f64)
        }
        _ => p.clone(),
    }
}

/// Write `{prefix}flamegraph.svg`, `{prefix}profile.pb.gz`, `{prefix}stacks.folded` (and the
/// `alloc-` files) into `dir`, and summarise.
pub(super) fn write_outputs(
    dir: &Path,
    prefix: &str,
    target: &str,
    profiled: &Profiled,
    p: &ProfileOptions,
) -> Result<ProfileSummary> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let cpu = &profiled.cpu;
    let f = facts(target, cpu);
    let mut s = summary::summarize(&cpu.profile, &f, p.top);
    if let Some((u, why)) = &cpu.unwinding {
        let note = format!("{} unwinding: {why}", u.as_str());
        s.backend_note = Some(match s.backend_note.take() {
            Some(n) => format!("{n}; {note}"),
            None => note,
        });
    }
    let shown = on_process_clock(&cpu.profile, f.cpu_time_s);
    let col = summary::main_column(&shown);
    let mut subtitle = cpu.backend.clone();
    if let Some((u, _)) = &cpu.unwinding {
        subtitle.push_str(&format!(", {} unwinding, {} Hz", u.as_str(), p.frequency));
    }
    subtitle.push_str(&format!(", {} samples", s.samples));
    if let Some(c) = s.cpu_time_s {
        subtitle.push_str(&format!(", CPU {}", Unit::seconds().format(c)));
    }
    let mut write = |role: &str, name: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(format!("{prefix}{name}"));
        output::write_atomic(&path, bytes)?;
        s.files.insert(role.to_string(), path.display().to_string());
        Ok(())
    };
    let title = format!("{}: {target}", shown.sample_types[col].kind);
    write(
        "flamegraph",
        "flamegraph.svg",
        &flame::render(&shown, col, &title, &subtitle)?,
    )?;
    let default_type = shown.sample_types[col].kind.clone();
    let mut with_comments = shown.clone();
    with_comments
        .comments
        .push(format!("perflab profile: {target}"));
    with_comments.comments.push(format!("backend: {subtitle}"));
    write(
        "pprof",
        "profile.pb.gz",
        &pprof::write(&with_comments, Some(&default_type)),
    )?;
    write(
        "folded",
        "stacks.folded",
        folded::write(&shown, col).as_bytes(),
    )?;
    if let Some(alloc) = &profiled.alloc {
        let a = summary::summarize(&alloc.profile, &facts(target, alloc), p.top);
        let ai = alloc.profile.type_index("alloc_space").unwrap_or(0);
        write(
            "alloc_flamegraph",
            "alloc-flamegraph.svg",
            &flame::render(
                &alloc.profile,
                ai,
                &format!("allocated bytes: {target}"),
                &format!("{}, {} allocations", alloc.backend, a.samples),
            )?,
        )?;
        write(
            "alloc_pprof",
            "alloc.pb.gz",
            &pprof::write(&alloc.profile, Some("alloc_space")),
        )?;
        write(
            "alloc_folded",
            "alloc.folded",
            folded::write(&alloc.profile, ai).as_bytes(),
        )?;
        if alloc.backend != "file" {
            let (w_cpu, w_alloc) = (cpu.usage.wall_s, alloc.usage.wall_s);
            if w_cpu > 0.0 {
                s.warnings.push(format!(
                    "allocation profiling (valgrind DHAT) ran {:.1}× slower than the CPU run \
                     ({:.2} s against {:.2} s wall)",
                    w_alloc / w_cpu,
                    w_alloc,
                    w_cpu
                ));
            }
        }
        s.alloc = a.alloc;
        s.recommendations.extend(
            a.recommendations
                .into_iter()
                .filter(|r| r.rule == "temporary-allocations" || r.rule == "leaks"),
        );
    }
    if let Some(f) = profiled.failure(target) {
        s.warnings.push(f);
    }
    let u = &cpu.usage;
    if u.max_rss_bytes > 0 && u.peak_rss().is_none() && cpu.backend != "callgrind" {
        s.warnings.push(format!(
            "peak RSS not recorded: it is at perflab's measurement floor ({}), so the command's \
             own peak is smaller than perflab can see",
            Unit::bytes().format(u.rss_floor_bytes as f64)
        ));
    }
    if cpu.usage.timed_out {
        s.warnings
            .push("stopped at the end of its time budget: the profile covers what ran".into());
    }
    Ok(s)
}

/// The run's numbers as a benchmark, so `compare` and `check` work on profile runs too.
pub(super) fn benchmark_of(s: &ProfileSummary) -> Benchmark {
    let mut b = Benchmark::new(s.target.clone());
    let mut add = |name: &str, unit: Unit, v: Option<f64>| {
        if let Some(v) = v {
            b.metrics.push(Metric::new(name, unit, vec![v]));
        }
    };
    add("cpu_time", Unit::seconds(), s.cpu_time_s);
    add("wall_time", Unit::seconds(), s.wall_time_s);
    add(
        "peak_rss",
        Unit::bytes(),
        s.peak_rss_bytes.map(|v| v as f64),
    );
    if s.value == "instructions" {
        add("instructions", Unit::count(), Some(s.total));
    }
    if let Some(a) = &s.alloc {
        add("alloc_bytes", Unit::bytes(), Some(a.total_bytes as f64));
        add("alloc_blocks", Unit::count(), Some(a.total_blocks as f64));
        add("leaked_bytes", Unit::bytes(), Some(a.leaked_bytes as f64));
    }
    b
}

/// A profile file of at most 1 GiB (`--input /dev/zero` ends with an error).
fn read_input(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::io::Read as _;
    const MAX: u64 = 1 << 30;
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut data = Vec::new();
    file.take(MAX + 1)
        .read_to_end(&mut data)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if data.len() as u64 > MAX {
        anyhow::bail!(
            "{}: larger than {} MiB, the most perflab reads from one file",
            path.display(),
            MAX >> 20
        );
    }
    Ok(data)
}
