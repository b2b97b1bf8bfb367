//! `perflab profile`: record (or read) a profile, write the flamegraph, pprof and folded files,
//! print the summary, and record a run of kind `profile`.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use perflab_model::profile::ProfileSummary;
use perflab_model::{Run, RunKind};
use perflab_profile::record::{self, CommandOutput, CpuMode, RecordOptions};
use perflab_profile::session::{self, benchmark_of, Profiled};

use crate::cli::{ProfileArgs, ProfileOptions};
use crate::{context, output, Outcome};

pub(crate) fn run(args: ProfileArgs, store: Option<&Path>) -> Result<Outcome> {
    let sources = usize::from(!args.command.is_empty())
        + usize::from(args.pid.is_some())
        + usize::from(args.input.is_some());
    if sources != 1 {
        bail!("give exactly one of: -- COMMAND..., --pid PID, --input FILE");
    }
    if args.command.is_empty() {
        let what = ["--input", "--pid"][usize::from(args.pid.is_some())];
        if args.profile.alloc {
            bail!("--alloc profiles a command perflab starts; it cannot be used with {what}");
        }
        if args.profile.mode == CpuMode::Callgrind {
            bail!("--mode callgrind runs a command under valgrind; it cannot be used with {what}");
        }
    }
    // The command's output keeps its place: a file with --stdout; perflab's stdout when that is
    // redirected and not the JSON's (then the summary goes to stderr); else the terminal's stderr.
    let piped = !args.output.json && !std::io::IsTerminal::is_terminal(&std::io::stdout());
    let out = match &args.stdout {
        Some(f) => CommandOutput::File(f.clone()),
        None if piped => CommandOutput::Stdout,
        None => CommandOutput::Stderr,
    };
    let to_stderr = out == CommandOutput::Stdout;
    let window = match args.duration.as_deref() {
        Some(d) => match perflab_model::parse_duration(d) {
            Ok(s) if !s.is_zero() => Some(s.as_secs_f64()),
            Ok(_) => bail!("--duration must be more than zero"),
            Err(e) => bail!("--duration {d:?}: {e}"),
        },
        None => None,
    };
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let mut growth = None;
    let (target, profiled) = if let Some(path) = &args.input {
        let mut profile = read_input(path)?;
        if let Some(k) = &args.sample_index {
            let have: Vec<&str> = profile
                .sample_types
                .iter()
                .map(|t| t.kind.as_str())
                .collect();
            if !have.contains(&k.as_str()) {
                bail!(
                    "--sample-index {k}: {} has {}",
                    path.display(),
                    have.join(", ")
                );
            }
            profile.default_type = Some(k.clone());
        }
        if let Some(b) = &args.baseline {
            growth = Some(session::growth_against(
                &read_input(b)?,
                &profile,
                args.profile.top,
            ));
        }
        (path.display().to_string(), Profiled::from_file(profile))
    } else if let Some(pid) = args.pid {
        let seconds = window.unwrap_or(10.0);
        let opts = record_options(&args.profile, scratch.path(), None)?;
        let cpu = record::record_pid(pid, seconds, &opts)?;
        (format!("pid {pid}"), Profiled { cpu, alloc: None })
    } else {
        let profiled = profile_command(&args.command, &args.profile, scratch.path(), window, out)?;
        (args.command.join(" "), profiled)
    };
    let mut summary = write_outputs(&args.profile_dir, "", &target, &profiled, &args.profile)?;
    if let Some((rows, advice)) = growth {
        summary.growth = rows;
        summary.recommendations.extend(advice);
    }
    // Ctrl-C is how a server's profile ends: what was sampled until then is the profile.
    let stopped = super::interrupt_flag().load(std::sync::atomic::Ordering::SeqCst);
    let failure = profiled.failure(&target).filter(|_| !stopped);
    if stopped {
        crate::term::info!("note: stopped by Ctrl-C: the profile covers the run until then");
    }
    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.command = if args.command.is_empty() {
        vec![target.clone()]
    } else {
        args.command.clone()
    };
    run.benchmarks.push(benchmark_of(&summary));
    run.profiles.push(summary);
    run.interrupted = stopped;
    super::finish_run(run, &args.output, store, |r| {
        let text: Vec<String> = (r.profiles.iter())
            .map(|p| super::text(perflab_report::Document::Profile(p)))
            .collect();
        if to_stderr {
            eprint!("{}", text.join("\n"));
            return String::new();
        }
        text.join("\n")
    })?;
    if let Some(f) = failure {
        bail!("{f}");
    }
    Ok(Outcome::Ok)
}

/// A profile file, or a live server's profile (`http://…/debug/pprof/…`).
fn read_input(path: &Path) -> Result<perflab_profile::Profile> {
    Ok(match path.to_str().filter(|p| p.starts_with("http://")) {
        Some(url) => {
            let body = perflab_profile::fetch::fetch(url, Duration::from_secs(600))?;
            perflab_profile::read_any(&body, url)?
        }
        None => perflab_profile::read_path(path)?,
    })
}

/// Recording options from the flags, with perflab's own `exec-usage` as the rusage wrapper.
pub(super) fn record_options(
    p: &ProfileOptions,
    scratch: &Path,
    timeout_s: Option<f64>,
) -> Result<RecordOptions> {
    let exe = std::env::current_exe().context("cannot find perflab's own executable")?;
    let wrapper = vec![exe.display().to_string(), "exec-usage".into()];
    // The signal owner must be in place before perf starts, so a stop reaches perf's group.
    super::interrupt_flag();
    Ok(p.record_options(wrapper, scratch, timeout_s)?)
}

/// Record `argv` (CPU, and allocations when asked) with the command line's options.
pub(super) fn profile_command(
    argv: &[String],
    p: &ProfileOptions,
    scratch: &Path,
    timeout_s: Option<f64>,
    stdout: CommandOutput,
) -> Result<Profiled> {
    let base = record_options(p, scratch, timeout_s)?;
    Ok(session::profile_command(argv, &base, p.alloc, stdout)?)
}

/// Render the profile's files, write them into `dir` atomically, and return the summary with
/// their paths.
pub(super) fn write_outputs(
    dir: &Path,
    prefix: &str,
    target: &str,
    profiled: &Profiled,
    p: &ProfileOptions,
) -> Result<ProfileSummary> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let (mut s, files) = session::render_outputs(prefix, target, profiled, p.top, p.frequency)?;
    for f in files {
        let path = dir.join(&f.name);
        output::write_atomic(&path, &f.bytes)?;
        s.files.insert(f.role, path.display().to_string());
    }
    Ok(s)
}
