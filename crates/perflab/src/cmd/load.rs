//! `perflab load`: options and scenario file → load engine → summary, thresholds, record.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use perflab_load::options::{parse_stages, parse_url, Check, LoadOptions, Model, Scenario};
use perflab_load::template::{CsvData, Template};
use perflab_load::threshold::Threshold;
use perflab_model::load::{LoadSummary, Percentiles};
use perflab_model::{parse_duration, Benchmark, Better, Metric, Run, RunKind, Unit};
use serde::Deserialize;

use crate::cli::LoadArgs;
use crate::Outcome;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioFile {
    #[serde(default)]
    thresholds: Vec<String>,
    scenario: Vec<ScenarioEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioEntry {
    name: String,
    #[serde(default = "one")]
    weight: u32,
    #[serde(default = "get")]
    method: String,
    url: String,
    #[serde(default)]
    headers: std::collections::BTreeMap<String, String>,
    body: Option<String>,
    body_file: Option<String>,
    csv: Option<String>,
    #[serde(default)]
    check: Vec<CheckEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CheckEntry {
    status: Option<u16>,
    body_contains: Option<String>,
    json_field: Option<String>,
    latency_under: Option<String>,
}

fn one() -> u32 {
    1
}

fn get() -> String {
    "GET".into()
}

fn dur(flag: &str, v: &str) -> Result<Duration> {
    parse_duration(v).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))
}

#[allow(clippy::too_many_arguments)]
fn scenario(
    name: &str,
    weight: u32,
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<String>,
    csv: Option<CsvData>,
    checks: Vec<Check>,
) -> Result<Scenario> {
    let target = parse_url(url)?;
    let (authority, path) = (target.authority, target.path);
    let method = hyper::Method::from_bytes(method.to_ascii_uppercase().as_bytes())
        .with_context(|| format!("scenario {name}: invalid method {method:?}"))?;
    let mut hs = Vec::new();
    for (k, v) in headers {
        let hname = hyper::header::HeaderName::from_bytes(k.trim().as_bytes())
            .with_context(|| format!("scenario {name}: invalid header name {k:?}"))?;
        hs.push((
            hname,
            Template::compile(
                v.trim(),
                csv.as_ref(),
                &format!("scenario {name}: header {k}"),
            )?,
        ));
    }
    Ok(Scenario {
        name: name.to_string(),
        weight,
        url: Template::compile(&path, csv.as_ref(), &format!("scenario {name}: url"))?,
        authority,
        tls: target.tls,
        method,
        headers: hs,
        body: body
            .map(|b| Template::compile(&b, csv.as_ref(), &format!("scenario {name}: body")))
            .transpose()?,
        checks,
        csv,
    })
}

fn read_body(spec: &str, base: &Path) -> Result<String> {
    match spec.strip_prefix('@') {
        Some(file) => {
            let p = base.join(file);
            std::fs::read_to_string(&p).with_context(|| format!("--body: {}", p.display()))
        }
        None => Ok(spec.to_string()),
    }
}

fn load_scenarios(path: &Path) -> Result<(Vec<Scenario>, Vec<String>)> {
    let text = std::fs::read_to_string(path).with_context(|| format!("{}", path.display()))?;
    let file: ScenarioFile = toml::from_str(&text).map_err(|e| {
        let line = e
            .span()
            .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1)
            .map_or(String::new(), |l| format!(":{l}"));
        anyhow::anyhow!(
            "{}{line}: {}",
            path.display(),
            e.message().trim().replace('\n', ", ")
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut out = Vec::new();
    for s in file.scenario {
        let at = |m: String| anyhow::anyhow!("{}: scenario {}: {m}", path.display(), s.name);
        let csv = match &s.csv {
            Some(c) => {
                let p = base.join(c);
                let text =
                    std::fs::read_to_string(&p).with_context(|| format!("{}", p.display()))?;
                Some(CsvData::parse(&text, &p.display().to_string())?)
            }
            None => None,
        };
        let body = match (&s.body, &s.body_file) {
            (Some(_), Some(_)) => return Err(at("give body or body_file, not both".into())),
            (Some(b), None) => Some(b.clone()),
            (None, Some(f)) => Some(read_body(&format!("@{f}"), base)?),
            (None, None) => None,
        };
        let mut checks = Vec::new();
        for c in &s.check {
            if let Some(st) = c.status {
                checks.push(Check::Status(st));
            }
            if let Some(b) = &c.body_contains {
                checks.push(Check::BodyContains(b.clone()));
            }
            if let Some(j) = &c.json_field {
                checks.push(Check::JsonField(j.clone()));
            }
            if let Some(l) = &c.latency_under {
                checks.push(Check::LatencyUnder(parse_duration(l).map_err(at)?));
            }
        }
        if checks.len() > 64 {
            return Err(at("at most 64 checks".into()));
        }
        let headers: Vec<(String, String)> = s.headers.clone().into_iter().collect();
        out.push(
            scenario(
                &s.name, s.weight, &s.method, &s.url, &headers, body, csv, checks,
            )
            .map_err(|e| anyhow::anyhow!("{}: {e:#}", path.display()))?,
        );
    }
    if out.is_empty() {
        bail!("{}: no [[scenario]] entries", path.display());
    }
    let mut names: Vec<&str> = out.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!("{}: two scenarios named {:?}", path.display(), w[0]);
    }
    if names.contains(&"all") {
        bail!("{}: \"all\" is reserved for the totals", path.display());
    }
    Ok((out, file.thresholds))
}

fn parse_rate(s: &str) -> Result<f64> {
    let v = perflab_model::parse_quantity(s)
        .and_then(|q| q.value_for(&perflab_model::Unit::per_sec(), "--rate", s))
        .with_context(|| format!("--rate {s:?}: write it like 1000/s or 20k/s"))?;
    if v <= 0.0 {
        bail!("--rate {s:?} must be positive");
    }
    Ok(v)
}

fn parse_segment(s: &str) -> Result<(usize, usize)> {
    let (i, n) = s
        .split_once('/')
        .with_context(|| format!("--segment {s:?}: write it as I/N, e.g. 2/8"))?;
    let i: usize = i
        .trim()
        .parse()
        .with_context(|| format!("--segment {s:?}"))?;
    let n: usize = n
        .trim()
        .parse()
        .with_context(|| format!("--segment {s:?}"))?;
    if n == 0 || i == 0 || i > n {
        bail!("--segment {s:?}: I must be between 1 and N");
    }
    Ok((i, n))
}

/// A child started with --spawn, stopped when dropped.
struct Spawned(std::process::Child);

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_target(cmd: &str, port: Option<u16>) -> Result<Spawned> {
    let child = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .spawn()
        .with_context(|| format!("--spawn {cmd:?}"))?;
    let mut spawned = Spawned(child);
    if let Some(p) = port {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
                break;
            }
            if let Ok(Some(status)) = spawned.0.try_wait() {
                bail!("--spawn {cmd:?} exited ({status}) before port {p} opened");
            }
            if std::time::Instant::now() > deadline {
                bail!("--spawn {cmd:?}: port {p} did not open within 30s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(spawned)
}

pub(crate) fn run(args: LoadArgs, store: Option<&Path>) -> Result<Outcome> {
    let (scenarios, mut threshold_texts) = match (&args.scenario_file, &args.url) {
        (Some(f), None) => load_scenarios(f)?,
        (None, Some(url)) => {
            let mut headers = Vec::new();
            for h in &args.headers {
                let (k, v) = h
                    .split_once(':')
                    .with_context(|| format!("-H {h:?}: write it as 'Name: value'"))?;
                headers.push((k.to_string(), v.to_string()));
            }
            let body = args
                .body
                .as_deref()
                .map(|b| read_body(b, Path::new(".")))
                .transpose()?;
            let checks = args.check_status.map(Check::Status).into_iter().collect();
            let s = scenario(
                "default",
                1,
                &args.method,
                url,
                &headers,
                body,
                None,
                checks,
            )?;
            (vec![s], Vec::new())
        }
        (Some(_), Some(_)) => bail!("give a URL or --scenario-file, not both"),
        (None, None) => bail!("give a URL (http://host:port/path) or --scenario-file FILE"),
    };
    threshold_texts.extend(args.threshold.iter().cloned());
    let names: Vec<String> = scenarios.iter().map(|s| s.name.clone()).collect();
    let thresholds = threshold_texts
        .iter()
        .map(|t| Threshold::parse(t, &names))
        .collect::<Result<Vec<_>, _>>()?;
    let stages = args
        .stages
        .as_deref()
        .map(parse_stages)
        .transpose()?
        .unwrap_or_default();
    let model = match (&args.rate, args.vus) {
        (Some(_), Some(_)) => {
            bail!("--rate (open model) and --vus (closed model) exclude each other")
        }
        (Some(r), None) => Model::Open {
            rate: parse_rate(r)?,
            poisson: args.arrival == "poisson",
            max_connections: args.max_connections.max(1),
            max_queue: args.max_queue.max(1),
        },
        (None, vus) => Model::Closed {
            vus: vus.unwrap_or(if stages.is_empty() { 10 } else { 0 }),
            think_time: args
                .think_time
                .as_deref()
                .map(|t| dur("think-time", t))
                .transpose()?
                .unwrap_or(Duration::ZERO),
        },
    };
    if let Model::Closed { vus: 0, .. } = model {
        if stages.is_empty() {
            bail!("--vus must be at least 1");
        }
    }
    let opts = LoadOptions {
        model,
        stages,
        duration: dur("duration", &args.duration)?,
        max_requests: args.requests,
        warmup: dur("warmup", &args.warmup)?,
        timeout: dur("timeout", &args.timeout)?,
        scenarios,
        segment: parse_segment(&args.segment)?,
        abort_on_fail: args.abort_on_fail,
        max_body_kept: 64 * 1024,
        http2: args.http2,
        insecure: args.insecure,
        max_redirects: args.max_redirects,
    };
    if opts.total_duration().is_zero() && opts.max_requests.is_none() {
        bail!("the test has no length: give --duration, --stages or --requests");
    }
    let spawned = match &args.spawn {
        Some(cmd) => Some(spawn_target(cmd, args.wait_port)?),
        None => None,
    };
    let watch = args.watch_pid.or(spawned.as_ref().map(|s| s.0.id()));
    if let Some(pid) = watch {
        if perflab_load::process_cpu_seconds(Some(pid)).is_none() {
            bail!("--watch-pid {pid}: no such process (or /proc is not readable)");
        }
    }
    let stop = super::interrupt_flag();
    let tty = std::io::stderr().is_terminal();
    let mut run = Run::new(RunKind::Load);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    let (summary, ending) = perflab_load::run(opts.clone(), &thresholds, stop, watch, &mut |p| {
        if tty {
            eprint!(
                "\r\x1b[2K{} {:>5.0}s/{:.0}s  requests {}  rps {:.0}  p99 {}  errors {}",
                if p.warming_up { "warm-up" } else { "load" },
                p.elapsed.as_secs_f64(),
                p.total.as_secs_f64(),
                p.requests,
                p.rps,
                Unit::seconds().format(p.p99),
                p.errors
            );
        }
    })?;
    if tty {
        eprint!("\r\x1b[2K");
    }
    drop(spawned);
    run.interrupted = ending == perflab_load::Ending::Interrupted;
    run.benchmarks = benchmarks(&summary);
    let failed_thresholds = summary.thresholds.iter().any(|t| !t.passed);
    let shortfall = summary
        .target_rate
        .filter(|t| *t > 0.0)
        .map(|t| 1.0 - summary.achieved_rate / t)
        .filter(|s| *s > 0.01);
    run.load = Some(summary);
    let text = describe(&run, &opts, ending);
    super::finish_run(run, &args.output, store, |_| text)?;
    if let Some(s) = shortfall {
        eprintln!(
            "warning: the achieved rate was {:.1}% below the target: the generator or the \
connection pool could not keep up (more --max-connections, fewer other processes, or more \
segments)",
            s * 100.0
        );
    }
    Ok(
        if failed_thresholds || (args.fail_on_shortfall && shortfall.is_some()) {
            Outcome::GateFailed
        } else {
            Outcome::Ok
        },
    )
}

/// The model's view of a load run: per scenario (and `all`) the latency percentiles, the
/// throughput and the error rate, so compare, check and report work on load results.
pub(crate) fn benchmarks(s: &LoadSummary) -> Vec<Benchmark> {
    let mut out = Vec::new();
    // The quick form's one scenario is the same as `all`: keep one copy.
    let only_default = s.scenarios.len() == 2 && s.scenarios.contains_key("default");
    for (name, sc) in &s.scenarios {
        if only_default && name == "default" {
            continue;
        }
        let mut b = Benchmark::new(name.clone());
        let l: &Percentiles = &sc.latency;
        for (m, v) in [
            ("p50", l.p50),
            ("p90", l.p90),
            ("p95", l.p95),
            ("p99", l.p99),
            ("p99_9", l.p99_9),
            // No `max`: one extreme request decides it, so comparing it between runs would
            // raise false alarms. It stays in the load summary and in thresholds.
            ("mean", l.mean),
        ] {
            if sc.requests > 0 {
                b.metrics.push(Metric::new(m, Unit::seconds(), vec![v]));
            }
        }
        let rps_samples: Vec<f64> = if name == "all" {
            // Whole seconds of the measured part: a sample per second for the statistics.
            s.series
                .iter()
                .filter(|p| (p.t as f64) + 1.0 <= s.measured_seconds)
                .map(|p| p.requests as f64)
                .collect()
        } else {
            Vec::new()
        };
        let rps_samples = if rps_samples.is_empty() {
            vec![sc.rps]
        } else {
            rps_samples
        };
        b.metrics
            .push(Metric::new("rps", Unit::per_sec(), rps_samples));
        let mut e = Metric::new("error_rate", Unit("ratio".into()), vec![sc.error_rate]);
        e.better = Better::Lower;
        b.metrics.push(e);
        out.push(b);
    }
    out
}

fn describe(run: &Run, opts: &LoadOptions, ending: perflab_load::Ending) -> String {
    let Some(s) = &run.load else {
        return String::new();
    };
    let t = |v: f64| Unit::seconds().format(v);
    let mut out = String::new();
    let model = match &opts.model {
        Model::Closed { vus: 0, .. } => "closed model, staged virtual users".to_string(),
        Model::Closed { vus, .. } => format!("closed model, {vus} virtual users"),
        Model::Open {
            rate,
            max_connections,
            poisson,
            ..
        } => format!(
            "open model, {}/s {} arrivals, {max_connections} connections",
            rate,
            if *poisson { "poisson" } else { "fixed" }
        ),
    };
    let _ = writeln!(
        out,
        "perflab load: {model}, {} measured{}{}",
        t(s.measured_seconds),
        if opts.warmup.is_zero() {
            String::new()
        } else {
            format!(" after {} warm-up", t(opts.warmup.as_secs_f64()))
        },
        s.segment
            .as_deref()
            .map_or(String::new(), |x| format!(", segment {x}"))
    );
    match ending {
        perflab_load::Ending::Interrupted => {
            out.push_str("  interrupted: the results are partial\n")
        }
        perflab_load::Ending::Aborted => {
            out.push_str("  aborted: a threshold failed (--abort-on-fail)\n")
        }
        perflab_load::Ending::Completed => {}
    }
    let all = s.scenarios.get("all").cloned().unwrap_or_default();
    let _ = writeln!(
        out,
        "  requests {}  achieved {:.1}/s{}  errors {} ({:.2}%)  dropped {}",
        all.requests,
        s.achieved_rate,
        s.target_rate
            .map_or(String::new(), |r| format!(" of {r:.1}/s target")),
        all.errors.values().sum::<u64>()
            + all
                .status
                .iter()
                .filter(|(k, _)| k.as_str() >= "400")
                .map(|(_, v)| v)
                .sum::<u64>(),
        all.error_rate * 100.0,
        s.dropped
    );
    let latency_name = if s.latency_is == "response_time" {
        "response time (from intended send)"
    } else {
        "latency (service time)"
    };
    let mut table = perflab_report::Table::new(vec![
        "scenario".into(),
        "requests".into(),
        "rps".into(),
        "p50".into(),
        "p90".into(),
        "p99".into(),
        "p99.9".into(),
        "max".into(),
        "errors".into(),
    ]);
    for (name, sc) in &s.scenarios {
        if name == "all" && s.scenarios.len() == 2 {
            continue;
        }
        let l = &sc.latency;
        table.row(vec![
            name.clone(),
            sc.requests.to_string(),
            format!("{:.1}", sc.rps),
            t(l.p50),
            t(l.p90),
            t(l.p99),
            t(l.p99_9),
            t(l.max),
            format!("{:.2}%", sc.error_rate * 100.0),
        ]);
    }
    let _ = writeln!(out, "  {latency_name}:");
    for line in table.render_text().lines() {
        let _ = writeln!(out, "    {line}");
    }
    if s.latency_is == "response_time" {
        let v = &all.service_time;
        let _ = writeln!(
            out,
            "  service time (from actual send): p50 {}  p90 {}  p99 {}  max {}",
            t(v.p50),
            t(v.p90),
            t(v.p99),
            t(v.max)
        );
        let _ = writeln!(
            out,
            "  send lag: p50 {}  p99 {}  max {}",
            t(s.send_lag.p50),
            t(s.send_lag.p99),
            t(s.send_lag.max)
        );
    }
    if !all.status.is_empty() {
        let st: Vec<String> = all.status.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  status: {}", st.join(" "));
    }
    if !all.errors.is_empty() {
        let er: Vec<String> = all.errors.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let _ = writeln!(out, "  errors: {}", er.join(" "));
    }
    for (name, sc) in &s.scenarios {
        if name == "all" {
            continue;
        }
        for c in &sc.checks {
            let _ = writeln!(
                out,
                "  check {name}: {}: {:.2}% ({}/{})",
                c.name,
                if c.total > 0 {
                    c.passed as f64 * 100.0 / c.total as f64
                } else {
                    0.0
                },
                c.passed,
                c.total
            );
        }
    }
    let _ = writeln!(
        out,
        "  traffic: {} in, {} out; perflab used {} of CPU",
        Unit::bytes().format(all.bytes_in as f64),
        Unit::bytes().format(all.bytes_out as f64),
        t(s.generator_cpu_seconds)
    );
    if let Some(p) = &s.target_process {
        let _ = writeln!(
            out,
            "  target pid {}: CPU {} ({} per request), RSS {} → {} (peak {}, {:+})",
            p.pid,
            t(p.cpu_seconds),
            t(p.cpu_seconds_per_request),
            Unit::bytes().format(p.rss_start_bytes as f64),
            Unit::bytes().format(p.rss_end_bytes as f64),
            Unit::bytes().format(p.rss_peak_bytes as f64),
            Unit::bytes().format(p.rss_end_bytes as f64 - p.rss_start_bytes as f64)
        );
    }
    let spectrum = if all.latency_histogram.is_empty() {
        None
    } else {
        perflab_load::decode_histogram(&all.latency_histogram).ok()
    };
    if let Some(h) = spectrum {
        let _ = writeln!(out, "  percentile spectrum ({latency_name}):");
        for q in [0.5, 0.75, 0.9, 0.99, 0.999, 0.9999, 0.99999, 1.0] {
            let v = h.value_at_quantile(q) as f64 / 1e9;
            let count = h.count_between(0, h.value_at_quantile(q));
            let _ = writeln!(out, "    {:>9.5}%  {:>10}  {count}", q * 100.0, t(v));
        }
    }
    for th in &s.thresholds {
        let _ = writeln!(
            out,
            "  threshold {} {} (observed {})",
            if th.passed { "✓" } else { "✗" },
            th.expression,
            if th.expression.contains("rate")
                || th.expression.contains("rps")
                || th.expression.contains("checks")
                || th.expression.contains("requests")
            {
                format!("{:.4}", th.observed)
            } else {
                t(th.observed)
            }
        );
    }
    out
}
