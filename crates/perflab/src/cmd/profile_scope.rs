//! `perflab profile SCOPE`: the benchmarks of a package or function profiled in every way the
//! harness allows (Go: CPU, allocations, block and mutex contention, GC pauses from gctrace),
//! each with its top table, flamegraph and advice, recorded as one profile run.

use std::path::Path;

use anyhow::{Context as _, Result};
use perflab_model::{Run, RunKind, Unit};
use perflab_profile::session::{benchmark_of, Profiled};

use super::profile::write_outputs;
use super::scan::profile_plan;
use crate::cli::ProfileArgs;
use crate::config::Config;
use crate::{context, Outcome};

pub(crate) fn run(args: ProfileArgs, store: Option<&Path>, config: &Config) -> Result<Outcome> {
    let text = args.scope.clone().unwrap_or_default();
    if text.starts_with('/') {
        return endpoint(&args, store, config, &text);
    }
    let project = super::modes::project()?;
    let scope = super::modes::scope(&project, &text)?;
    let depth = super::modes::depth(&args.depth)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let plans = (project.ecosystem).profile(&project.root, &scope, depth, scratch.path(), true);
    eprintln!(
        "perflab: profiling {} ({}): {} harness run(s)",
        scope.describe(),
        project.ecosystem.name(),
        plans.len()
    );
    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.labels.insert("mode".into(), "profile".into());
    run.labels.insert("scope".into(), text.clone());
    let mut notes = Vec::new();
    let share = depth.load_seconds().0 as f64 * 2.0;
    for (i, plan) in plans.iter().enumerate() {
        let dir = scratch.path().join(format!("t{i}"));
        std::fs::create_dir_all(&dir)?;
        let done = profile_plan(plan, &args.profile, &dir, share)?;
        let prefix = if plans.len() > 1 {
            format!("{}-", i + 1)
        } else {
            String::new()
        };
        let s = write_outputs(
            &args.output_dir,
            &prefix,
            &plan.package,
            &done.profiled,
            &args.profile,
        )?;
        run.benchmarks.push(benchmark_of(&s));
        run.profiles.push(s);
        for (kind, p) in done.extra {
            if p.samples.is_empty() {
                notes.push(format!(
                    "{}: no {kind} contention was sampled",
                    plan.package
                ));
                continue;
            }
            let s = write_outputs(
                &args.output_dir,
                &format!("{prefix}{kind}-"),
                &format!("{} ({kind} contention)", plan.package),
                &Profiled::from_file(p),
                &args.profile,
            )?;
            run.profiles.push(s);
        }
        // The benchmarks' own figures (ns/op, allocs/op), so check and report can use them.
        if let Ok(parsed) = perflab_ingest::parse_text(&done.output.stdout, None, &plan.package) {
            run.benchmarks.extend(parsed.benchmarks);
        }
        let cycles = perflab_ingest::gctrace::cycles(&done.output.stderr);
        if let Some(b) =
            perflab_ingest::gctrace::benchmark(&format!("gc/pkg={}", plan.package), &cycles)
        {
            notes.push(gc_line(&plan.package, &b));
            run.benchmarks.push(b);
        }
        if done.output.interrupted {
            run.interrupted = true;
            break;
        }
    }
    run.command = plans
        .iter()
        .map(|p| perflab_exec::join_words(&p.argv))
        .collect();
    super::finish_run(run, &args.output, store, |r| {
        let mut text: Vec<String> = (r.profiles.iter())
            .map(|p| super::text(perflab_report::Document::Profile(p)))
            .collect();
        text.push(notes.iter().map(|n| format!("{n}\n")).collect());
        text.join("\n")
    })?;
    Ok(Outcome::Ok)
}

/// `./pkg: GC 14 cycles, pause p50 40µs, p99 1.2ms, max 1.3ms`.
fn gc_line(package: &str, b: &perflab_model::Benchmark) -> String {
    let Some(m) = b.metrics.iter().find(|m| m.name == "gc_pause") else {
        return String::new();
    };
    let mut v = m.samples.clone();
    v.sort_by(f64::total_cmp);
    let q = |p: f64| perflab_stats::quantile(&v, p);
    let s = Unit::seconds();
    format!(
        "{package}: GC {} cycles, pause p50 {}, p99 {}, max {}",
        v.len(),
        s.format(q(0.5)),
        s.format(q(0.99)),
        s.format(v.last().copied().unwrap_or(0.0))
    )
}

/// A live server's profile (`/debug/pprof`, Go's net/http/pprof) while `path` is under load:
/// CPU during the test, and the heap and goroutines before and after it (what grew: leaks).
fn endpoint(
    args: &ProfileArgs,
    store: Option<&Path>,
    config: &Config,
    path: &str,
) -> Result<Outcome> {
    let depth = super::modes::depth(&args.depth)?;
    let base_flag = std::env::var("BASE_URL").ok();
    let t = super::modes::endpoint_target(path, base_flag.as_deref(), config, true)?;
    let service = match &t.server {
        Some(cmd) => Some(perflab_exec::spawn_service(
            cmd,
            t.port,
            super::modes::SERVER_START,
        )?),
        None => None,
    };
    let pprof = format!("{}/debug/pprof", t.base);
    let get = |what: &str, seconds: u64| -> Result<perflab_profile::Profile> {
        let url = format!("{pprof}/{what}");
        let body = perflab_profile::fetch::fetch(&url, std::time::Duration::from_secs(seconds + 30))
            .with_context(|| format!("the server has no net/http/pprof at {pprof} (import _ \"net/http/pprof\" and serve it on the same address)"))?;
        Ok(perflab_profile::read_any(&body, &url)?)
    };
    let goroutines_before = get("goroutine", 0)?;
    let heap_before = get("heap?gc=1", 0)?;
    let (seconds, warmup) = depth.load_seconds();
    let mut request = perflab_load::request::LoadRequest::new();
    request.url = Some(t.url.clone());
    if let Some(m) = &t.method {
        request.method = m.clone();
    }
    request.headers = t.headers.clone();
    request.body = t.body.clone();
    request.vus = Some(match depth {
        perflab_exec::assistant::Depth::Quick => 10,
        perflab_exec::assistant::Depth::Standard => 50,
        perflab_exec::assistant::Depth::Deep => 100,
    });
    request.duration = Some(format!("{seconds}s"));
    request.warmup = Some(format!("{warmup}s"));
    let (opts, thresholds) = request.validate()?;
    let stop = super::interrupt_flag();
    let watch = service.as_ref().map(perflab_exec::Service::pid);
    eprintln!(
        "perflab: profiling {} under load ({} VUs, {seconds}s after {warmup}s of warm-up)",
        t.url,
        request.vus.unwrap_or_default()
    );
    let (loaded, cpu) = std::thread::scope(|s| {
        let load = s.spawn(|| perflab_load::run(opts, &thresholds, stop, watch, &mut |_| {}));
        // The CPU profile covers the measured window (after the warm-up).
        std::thread::sleep(std::time::Duration::from_secs(warmup));
        let cpu = get(
            &format!("profile?seconds={}", seconds.saturating_sub(1).max(1)),
            seconds,
        );
        (load.join(), cpu)
    });
    let (summary, ending) =
        loaded.map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
    if let Some(all) = summary.scenarios.get("all").filter(|a| a.error_rate > 0.01) {
        let statuses: Vec<String> = all.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
        eprintln!(
            "warning: {:.1}% of the requests to {} failed (status {}): the profile is of the server answering errors",
            all.error_rate * 100.0,
            t.url,
            statuses.join(", ")
        );
    }
    let cpu = cpu?;
    let goroutines_after = get("goroutine", 0)?;
    let heap_after = get("heap?gc=1", 0)?;
    drop(service);

    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.command = std::env::args().collect();
    run.labels.insert("mode".into(), "profile".into());
    run.labels.insert("scope".into(), path.to_string());
    run.interrupted = ending == perflab_load::Ending::Interrupted;
    let dir = &args.output_dir;
    let cpu_s = write_outputs(
        dir,
        "",
        &format!("{path} under load"),
        &Profiled::from_file(cpu),
        &args.profile,
    )?;
    let mut heap = Profiled::from_file(heap_after.clone());
    if heap_after.type_index("inuse_space").is_some() {
        heap.cpu.profile.default_type = Some("inuse_space".into());
    }
    let mut heap_s = write_outputs(
        dir,
        "heap-",
        &format!("{path}: heap after the test"),
        &heap,
        &args.profile,
    )?;
    let (rows, advice) =
        perflab_profile::session::growth_against(&heap_before, &heap.cpu.profile, args.profile.top);
    heap_s.growth = rows;
    heap_s.recommendations.extend(advice);
    let mut gor_s = write_outputs(
        dir,
        "goroutine-",
        &format!("{path}: goroutines after the test"),
        &Profiled::from_file(goroutines_after.clone()),
        &args.profile,
    )?;
    let (rows, advice) = perflab_profile::session::growth_against(
        &goroutines_before,
        &goroutines_after,
        args.profile.top,
    );
    gor_s.growth = rows;
    gor_s.recommendations.extend(advice);
    // Before and after, as numbers the checklist and check can read.
    let total =
        |p: &perflab_profile::Profile, kind: &str| p.type_index(kind).map(|i| p.total(i) as f64);
    let mut server = perflab_model::Benchmark::new(format!("server{path}"));
    for (name, unit, before, after) in [
        (
            "goroutines",
            Unit::count(),
            total(&goroutines_before, "goroutine"),
            total(&goroutines_after, "goroutine"),
        ),
        (
            "heap_inuse",
            Unit::bytes(),
            total(&heap_before, "inuse_space"),
            total(&heap_after, "inuse_space"),
        ),
    ] {
        if let (Some(b), Some(a)) = (before, after) {
            server.metrics.push(perflab_model::Metric::new(
                format!("{name}_before"),
                unit.clone(),
                vec![b],
            ));
            server.metrics.push(perflab_model::Metric::new(
                format!("{name}_after"),
                unit,
                vec![a],
            ));
        }
    }
    run.benchmarks = perflab_load::benchmarks(&summary);
    run.benchmarks.push(server);
    run.load = Some(summary);
    run.profiles = vec![cpu_s, heap_s, gor_s];
    super::finish_run(run, &args.output, store, |r| {
        let mut text = Vec::new();
        if let Some(all) = r.load.as_ref().and_then(|l| l.scenarios.get("all")) {
            let s = Unit::seconds();
            text.push(format!(
                "load: {} requests, {:.1}/s, p50 {}, p99 {}, errors {:.2}%\n",
                all.requests,
                all.rps,
                s.format(all.latency.p50),
                s.format(all.latency.p99),
                all.error_rate * 100.0
            ));
        }
        if let Some(b) = r.benchmarks.iter().find(|b| b.name.starts_with("server/")) {
            let v = |n: &str| {
                b.metrics
                    .iter()
                    .find(|m| m.name == n)
                    .and_then(|m| m.samples.first().copied())
            };
            if let (Some(gb), Some(ga)) = (v("goroutines_before"), v("goroutines_after")) {
                text.push(format!("goroutines: {gb} before the test, {ga} after\n"));
            }
            if let (Some(hb), Some(ha)) = (v("heap_inuse_before"), v("heap_inuse_after")) {
                let u = Unit::bytes();
                text.push(format!(
                    "heap in use (after a GC): {} before, {} after\n",
                    u.format(hb),
                    u.format(ha)
                ));
            }
        }
        for p in &r.profiles {
            text.push(super::text(perflab_report::Document::Profile(p)));
        }
        text.join("\n")
    })?;
    Ok(Outcome::Ok)
}
