//! `perflab load`: flags → `perflab_load::request` (validation) → engine → report → record.

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Result};
use perflab_model::{Run, RunKind};
use perflab_profile::record::CpuMode;

use crate::cli::LoadArgs;
use crate::config::Config;
use crate::Outcome;

/// A URL that is only a path (`/api/v1/search`): see [`super::modes::endpoint_target`]; the
/// flags the user gave win over the `[[load.endpoint]]` entry. Returns how long a started
/// server may take to open its port (`go run` builds first).
fn endpoint(args: &mut LoadArgs, config: &Config) -> Result<Duration> {
    let quick = Duration::from_secs(30);
    let Some(path) = args.request.url.clone().filter(|u| u.starts_with('/')) else {
        return Ok(quick);
    };
    let own_server = args.spawn.is_some() || args.watch_pid.is_some();
    let t = super::modes::endpoint_target(&path, args.base_url.as_deref(), config, !own_server)?;
    args.request.url = Some(t.url);
    if args.request.method == "GET" {
        if let Some(m) = t.method {
            args.request.method = m;
        }
    }
    if args.request.headers.is_empty() {
        args.request.headers = t.headers;
    }
    if args.request.body.is_none() {
        args.request.body = t.body;
    }
    match t.server {
        Some(server) => {
            args.spawn = Some(server);
            args.wait_port = args.wait_port.or(t.port);
            Ok(super::modes::SERVER_START)
        }
        None => Ok(quick),
    }
}

/// With `--profile-target`: perf on the watched server over the measured window, on its own
/// thread (joined after the test).
fn start_profiler(
    args: &LoadArgs,
    opts: &perflab_load::options::LoadOptions,
    watch: Option<u32>,
    scratch: &Path,
) -> Result<Option<Profiling>> {
    match (args.profile_target, watch) {
        (false, _) => Ok(None),
        (true, None) => {
            bail!("--profile-target profiles the server: give --spawn CMD or --watch-pid PID")
        }
        (true, Some(_)) if args.profile.alloc || args.profile.mode == CpuMode::Callgrind => {
            bail!("--profile-target samples a running server with perf: --alloc and --mode callgrind start a command")
        }
        (true, Some(pid)) => {
            let parts = opts.parts.iter().map(|p| &p.options);
            let window = parts
                .chain([opts])
                .map(|o| o.total_duration())
                .max()
                .unwrap_or_default();
            if let Some(pprof) = pprof_of(opts) {
                crate::term::info!(
                    "perflab: the target serves net/http/pprof ({pprof}): its own CPU profile over the measured window (Go's stacks are exact there; perf loses the callers of Go assembly)"
                );
                return Ok(Some(pprof_during(pprof, opts.warmup, window)));
            }
            let go = std::fs::read_link(format!("/proc/{pid}/exe"))
                .ok()
                .and_then(|exe| perflab_profile::elf::inspect(&exe))
                .is_some_and(|f| f.go);
            if go {
                crate::term::info!(
                    "warning: the target is a Go program without net/http/pprof on its address: perf's stacks lose the callers of Go's hand-written assembly (crypto, hashing, memmove), so a handler's cumulative share shows too low; import _ \"net/http/pprof\" for exact stacks"
                );
            }
            let o = super::profile::record_options(&args.profile, scratch, None)?;
            Ok(Some(perflab_profile::session::record_pid_during(
                pid,
                opts.warmup,
                window.as_secs_f64(),
                o,
            )))
        }
    }
}

/// The target's `net/http/pprof`, when it serves one on the address under load (plain HTTP).
fn pprof_of(opts: &perflab_load::options::LoadOptions) -> Option<String> {
    let parts = opts.parts.iter().map(|p| &p.options);
    let sc = parts
        .chain([opts])
        .flat_map(|o| &o.scenarios)
        .find(|s| !s.tls)?;
    let base = format!("http://{}/debug/pprof", sc.authority);
    perflab_profile::fetch::fetch(&format!("{base}/"), Duration::from_secs(3))
        .ok()
        .map(|_| base)
}

/// The target's own CPU profile over the measured window: after the warm-up, `profile?seconds=N`
/// for the window's whole seconds (at least one).
fn pprof_during(base: String, warmup: Duration, window: Duration) -> Profiling {
    std::thread::spawn(move || {
        std::thread::sleep(warmup);
        let seconds = window.as_secs().max(1);
        let url = format!("{base}/profile?seconds={seconds}");
        let body = perflab_profile::fetch::fetch(&url, Duration::from_secs(seconds + 30))?;
        let profile = perflab_profile::read_any(&body, &url)?;
        Ok(perflab_profile::session::Profiled {
            cpu: perflab_profile::record::Recording {
                profile,
                backend: "pprof".into(),
                note: Some(
                    "the Go runtime's own profiler (net/http/pprof), over the measured window"
                        .into(),
                ),
                unwinding: None,
                usage: perflab_profile::record::Usage::default(),
            },
            alloc: None,
        })
    })
}

type Profiling = std::thread::JoinHandle<
    Result<perflab_profile::session::Profiled, perflab_profile::record::RecordError>,
>;

/// The test, with a live line on a terminal, and in a CI log one line every 5 s.
fn run_with_progress(
    opts: perflab_load::options::LoadOptions,
    thresholds: &[perflab_load::threshold::Threshold],
    watch: Option<u32>,
) -> Result<(perflab_model::load::LoadSummary, perflab_load::Ending)> {
    let stop = super::interrupt_flag();
    let mut bar = crate::term::Progress::new("load", Some(0));
    let done = perflab_load::run(opts, thresholds, stop, watch, &mut |p| {
        bar.set_total(p.total.as_secs().max(1));
        bar.update(p.elapsed.as_secs(), &p.line());
    });
    drop(bar);
    Ok(done?)
}

pub(crate) fn run(mut args: LoadArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let server_wait = endpoint(&mut args, config)?;
    let (opts, thresholds) = args.request.validate()?;
    if args.dry_run {
        crate::output::print(&opts.describe_plan(&thresholds))?;
        return Ok(Outcome::Ok);
    }
    let spawned = match &args.spawn {
        Some(cmd) => Some(perflab_exec::spawn_service(
            cmd,
            &super::supervisor(),
            args.wait_port,
            server_wait,
        )?),
        None => None,
    };
    let watch = args
        .watch_pid
        .or(spawned.as_ref().map(perflab_exec::Service::pid));
    if let Some(pid) = watch {
        if perflab_load::process_cpu_seconds(Some(pid)).is_none() {
            bail!("--watch-pid {pid}: no such process (or /proc is not readable)");
        }
    }
    let scratch = tempfile::tempdir()?;
    let profiling = start_profiler(&args, &opts, watch, scratch.path())?;
    let mut run = Run::new(RunKind::Load);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    let (summary, ending) = run_with_progress(opts, &thresholds, watch)?;
    if let Some(handle) = profiling {
        let profiled = handle
            .join()
            .map_err(|_| anyhow::anyhow!("the profiler panicked"))??;
        let target = format!("pid {} under load", watch.unwrap_or_default());
        let s = super::profile::write_outputs(
            &args.profile_dir,
            "",
            &target,
            &profiled,
            &args.profile,
        )?;
        run.profiles.push(s);
    }
    drop(spawned);
    run.interrupted = ending == perflab_load::Ending::Interrupted;
    run.benchmarks = perflab_load::benchmarks(&summary);
    let failed_thresholds = summary.thresholds.iter().any(|t| !t.passed);
    let shortfall = summary
        .target_rate
        .filter(|t| *t > 0.0)
        .map(|t| 1.0 - summary.achieved_rate / t)
        .filter(|s| *s > 0.01)
        .map(|s| shortfall_warning(s, &summary));
    let slow_connects = perflab_report::slow_connect_hint(&summary);
    run.load = Some(summary);
    let mut text = super::text(perflab_report::Document::Load(&run));
    for p in &run.profiles {
        text.push_str(&format!(
            "\n{}",
            super::text(perflab_report::Document::Profile(p))
        ));
    }
    // An interrupted run is kept and then reported as an error: its warnings still come first.
    let finished = super::finish_run(run, &args.output, store, |_| text);
    if let Some(warning) = &shortfall {
        crate::term::info!("{warning}");
    }
    if let Some(hint) = &slow_connects {
        crate::term::info!("warning: {hint}");
    }
    finished?;
    Ok(
        if failed_thresholds || (args.fail_on_shortfall && shortfall.is_some()) {
            Outcome::GateFailed
        } else {
            Outcome::Ok
        },
    )
}

/// Why the achieved rate fell short: the generator itself was late (its schedule queued
/// requests behind time while the queue had room), or every connection was busy waiting on
/// the server (a stall or a server at its limit), which more CPU for perflab would not fix.
fn shortfall_warning(short: f64, load: &perflab_model::load::LoadSummary) -> String {
    let late = load.generator_late;
    let lag = load.send_lag.p99;
    let sent = (load.achieved_rate * load.measured_seconds).max(1.0);
    // A timer that wakes late now and then on a busy machine is not a generator short of CPU.
    if late as f64 > 0.01 * sent {
        format!(
            "warning: the achieved rate was {:.1}% below the target: the generator was late \
({late} requests queued more than 2 ms behind time): perflab was short of CPU (fewer other \
processes, or more segments)",
            short * 100.0
        )
    } else {
        format!(
            "warning: the achieved rate was {:.1}% below the target: the server did not keep \
up: every connection was busy waiting on it (send lag p99 {}), while the generator was on time \
(more --max-connections to push harder)",
            short * 100.0,
            perflab_model::Unit::seconds().format(lag)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::shortfall_warning;

    #[test]
    fn a_shortfall_is_blamed_on_the_generator_only_when_it_was_late() {
        let mut load = perflab_model::load::LoadSummary {
            achieved_rate: 900.0,
            measured_seconds: 10.0,
            ..Default::default()
        };
        load.send_lag.p99 = 0.8;
        let server = shortfall_warning(0.1, &load);
        assert!(server.contains("the server did not keep up"), "{server}");
        assert!(server.contains("800"), "the send lag is shown: {server}");
        // A few late wake-ups on a busy machine are not the generator's fault; 5% are.
        load.generator_late = 20;
        assert!(shortfall_warning(0.1, &load).contains("server"));
        load.generator_late = 450;
        let generator = shortfall_warning(0.1, &load);
        assert!(generator.contains("the generator was late"), "{generator}");
        assert!(generator.contains("450 requests"), "{generator}");
    }
}
