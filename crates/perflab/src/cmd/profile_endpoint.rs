//! `perflab profile /path`: a live Go server's profiles (`/debug/pprof`, net/http/pprof) while
//! the path is under load: CPU over the measured window, and the heap and goroutines before
//! and after the test with their growth by stack (what grew is what leaks).

use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result};
use perflab_exec::assistant::Depth;
use perflab_model::load::{Ending, LoadSummary};
use perflab_model::profile::ProfileSummary;
use perflab_model::{Benchmark, Metric, Run, RunKind, Unit};
use perflab_profile::session::{growth_against, Profiled};
use perflab_profile::Profile;

use super::modes::EndpointTarget;
use super::profile::write_outputs;
use crate::cli::ProfileArgs;
use crate::config::Config;
use crate::{context, Outcome};

/// What one test of the endpoint gave.
struct Live {
    summary: LoadSummary,
    ending: Ending,
    cpu: Profile,
    heap: (Profile, Profile),
    goroutines: (Profile, Profile),
}

pub(crate) fn run(
    args: &ProfileArgs,
    store: Option<&Path>,
    config: &Config,
    path: &str,
) -> Result<Outcome> {
    let depth = super::modes::depth(&args.depth)?;
    let base_flag = std::env::var("BASE_URL").ok();
    let target = super::modes::endpoint_target(path, base_flag.as_deref(), config, true)?;
    let live = capture(&target, depth)?;
    let mut run = Run::new(RunKind::Profile);
    context::stamp(&mut run);
    run.command = std::env::args().collect();
    run.labels.insert("mode".into(), "profile".into());
    run.labels.insert("scope".into(), path.to_string());
    run.interrupted = live.ending == Ending::Interrupted;
    run.profiles = profiles(args, path, &live)?;
    run.benchmarks = perflab_load::benchmarks(&live.summary);
    run.benchmarks.push(server_figures(path, &live));
    run.load = Some(live.summary);
    super::finish_run(run, &args.output, store, text)?;
    Ok(Outcome::Ok)
}

/// Start the server when configured, take the pprof profiles before, load the path while the
/// CPU profile is taken, then take them after; the server is stopped at the end.
fn capture(t: &EndpointTarget, depth: Depth) -> Result<Live> {
    let service = match &t.server {
        Some(cmd) => Some(perflab_exec::spawn_service(
            cmd,
            &super::supervisor(),
            t.port,
            super::modes::SERVER_START,
        )?),
        None => None,
    };
    let pprof = format!("{}/debug/pprof", t.base);
    let get = |what: &str, seconds: u64| -> Result<Profile> {
        let url = format!("{pprof}/{what}");
        let body = perflab_profile::fetch::fetch(&url, Duration::from_secs(seconds + 30))
            .with_context(|| format!("the server has no net/http/pprof at {pprof} (import _ \"net/http/pprof\" and serve it on the same address)"))?;
        Ok(perflab_profile::read_any(&body, &url)?)
    };
    let goroutines_before = get("goroutine", 0)?;
    let heap_before = get("heap?gc=1", 0)?;
    let (seconds, warmup) = depth.load_seconds();
    let request = load_request(t, depth);
    let vus = request.vus.unwrap_or_default();
    let (opts, thresholds) = request.validate()?;
    let stop = super::interrupt_flag();
    let watch = service.as_ref().map(perflab_exec::Service::pid);
    crate::term::info!(
        "perflab: profiling {} under load ({vus} VUs, {seconds}s after {warmup}s of warm-up)",
        t.url
    );
    let (loaded, cpu) = std::thread::scope(|s| {
        let load = s.spawn(|| perflab_load::run(opts, &thresholds, stop, watch, &mut |_| {}));
        // The CPU profile covers the measured window (after the warm-up).
        std::thread::sleep(Duration::from_secs(warmup));
        let window = seconds.saturating_sub(1).max(1);
        (
            load.join(),
            get(&format!("profile?seconds={window}"), seconds),
        )
    });
    let (summary, ending) =
        loaded.map_err(|_| anyhow::anyhow!("the load generator panicked"))??;
    warn_failures(&summary, &t.url);
    let cpu = cpu?;
    let goroutines = (goroutines_before, get("goroutine", 0)?);
    let heap = (heap_before, get("heap?gc=1", 0)?);
    drop(service);
    Ok(Live {
        summary,
        ending,
        cpu,
        heap,
        goroutines,
    })
}

/// The closed-model test of the path: 10, 50 or 100 VUs by depth, with the endpoint's method,
/// headers and body.
fn load_request(t: &EndpointTarget, depth: Depth) -> perflab_load::request::LoadRequest {
    let (seconds, warmup) = depth.load_seconds();
    let mut request = perflab_load::request::LoadRequest::new();
    request.url = Some(t.url.clone());
    if let Some(m) = &t.method {
        request.method = m.clone();
    }
    request.headers = t.headers.clone();
    request.body = t.body.clone();
    request.vus = Some(match depth {
        Depth::Quick => 10,
        Depth::Standard => 50,
        Depth::Deep => 100,
    });
    request.duration = Some(format!("{seconds}s"));
    request.warmup = Some(format!("{warmup}s"));
    request
}

/// A profile of a server answering errors is not the profile asked for: say so.
fn warn_failures(summary: &LoadSummary, url: &str) {
    let Some(all) = summary.scenarios.get("all").filter(|a| a.error_rate > 0.01) else {
        return;
    };
    let statuses: Vec<String> = all.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
    crate::term::info!(
        "warning: {:.1}% of the requests to {url} failed (status {}): the profile is of the server answering errors",
        all.error_rate * 100.0,
        statuses.join(", ")
    );
}

/// The CPU profile under load, and the heap and goroutines after it with their growth.
fn profiles(args: &ProfileArgs, path: &str, live: &Live) -> Result<Vec<ProfileSummary>> {
    let dir = &args.profile_dir;
    let cpu = write_outputs(
        dir,
        "",
        &format!("{path} under load"),
        &Profiled::from_file(live.cpu.clone()),
        &args.profile,
    )?;
    let mut heap = live.heap.1.clone();
    if heap.type_index("inuse_space").is_some() {
        heap.default_type = Some("inuse_space".into());
    }
    let heap = grown(
        args,
        "heap-",
        &format!("{path}: heap after the test"),
        &live.heap.0,
        heap,
    )?;
    let title = format!("{path}: goroutines after the test");
    let goroutines = grown(
        args,
        "goroutine-",
        &title,
        &live.goroutines.0,
        live.goroutines.1.clone(),
    )?;
    Ok(vec![cpu, heap, goroutines])
}

/// `after`'s files and summary, with its growth against `before` by stack.
fn grown(
    args: &ProfileArgs,
    prefix: &str,
    title: &str,
    before: &Profile,
    after: Profile,
) -> Result<ProfileSummary> {
    let profiled = Profiled::from_file(after);
    let mut s = write_outputs(&args.profile_dir, prefix, title, &profiled, &args.profile)?;
    let (rows, advice) = growth_against(before, &profiled.cpu.profile, args.profile.top);
    s.growth = rows;
    s.recommendations.extend(advice);
    Ok(s)
}

/// Goroutines and heap in use before and after, as numbers `check` and the checklist read.
fn server_figures(path: &str, live: &Live) -> Benchmark {
    let total = |p: &Profile, kind: &str| p.type_index(kind).map(|i| p.total(i) as f64);
    let mut server = Benchmark::new(format!("server{path}"));
    let pairs = [
        ("goroutines", Unit::count(), &live.goroutines, "goroutine"),
        ("heap_inuse", Unit::bytes(), &live.heap, "inuse_space"),
    ];
    for (name, unit, (before, after), kind) in pairs {
        if let (Some(b), Some(a)) = (total(before, kind), total(after, kind)) {
            let before = Metric::new(format!("{name}_before"), unit.clone(), vec![b]);
            server.metrics.push(before);
            server
                .metrics
                .push(Metric::new(format!("{name}_after"), unit, vec![a]));
        }
    }
    server
}

/// The load figures, the before/after counts, then each profile's summary.
fn text(r: &Run) -> String {
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
        let v = |n: &str| b.metric(n).and_then(|m| m.samples.first().copied());
        if let (Some(gb), Some(ga)) = (v("goroutines_before"), v("goroutines_after")) {
            text.push(format!("goroutines: {gb} before the test, {ga} after\n"));
        }
        if let (Some(hb), Some(ha)) = (v("heap_inuse_before"), v("heap_inuse_after")) {
            let u = Unit::bytes();
            let (hb, ha) = (u.format(hb), u.format(ha));
            text.push(format!(
                "heap in use (after a GC): {hb} before, {ha} after\n"
            ));
        }
    }
    for p in &r.profiles {
        text.push(super::text(perflab_report::Document::Profile(p)));
    }
    text.join("\n")
}
