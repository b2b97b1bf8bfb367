//! `perflab run`: time commands, then compare each with the first.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context as _, Result};
use perflab_analysis::{compare, CompareOptions, Verdict};
use perflab_exec::{benchmark, expand_params, Launch, Progress, RunOptions, SystemExecutor};
use perflab_model::{Benchmark, Better, Metric, Run, RunKind, Unit};
use perflab_stats as stats;

use crate::cli::RunArgs;
use crate::Outcome;

/// Parse a duration flag, with anyhow context.
pub(crate) fn parse_duration(s: &str) -> Result<Duration> {
    perflab_model::parse_duration(s).map_err(|e| anyhow::anyhow!(e))
}

fn sweep(args: &RunArgs) -> Result<Vec<(String, Vec<String>)>> {
    let mut params = Vec::new();
    if let Some(scan) = &args.parameter_scan {
        let [name, from, to] = &scan[..] else {
            bail!("--parameter-scan takes NAME FROM TO");
        };
        let from: i64 = from
            .parse()
            .with_context(|| format!("--parameter-scan FROM {from:?} is not an integer"))?;
        let to: i64 = to
            .parse()
            .with_context(|| format!("--parameter-scan TO {to:?} is not an integer"))?;
        let step = args.parameter_step_size;
        if step <= 0 || to < from {
            bail!("--parameter-scan needs FROM <= TO and a positive --parameter-step-size");
        }
        let values: Vec<String> = (0..)
            .map(|i| from + i * step)
            .take_while(|v| *v <= to)
            .take(10_000)
            .map(|v| v.to_string())
            .collect();
        params.push((name.clone(), values));
    }
    for pair in args.parameter_list.chunks(2) {
        let [name, values] = pair else {
            bail!("--parameter-list takes NAME VALUES");
        };
        let values: Vec<String> = values.split(',').map(str::to_string).collect();
        if values.iter().any(String::is_empty) {
            bail!("--parameter-list {name}: empty value in {:?}", pair[1]);
        }
        params.push((name.clone(), values));
    }
    Ok(params)
}

pub(crate) fn run(args: RunArgs, store: Option<&Path>) -> Result<Outcome> {
    let opts = RunOptions {
        warmup: args.warmup,
        runs: args.runs,
        min_runs: args.min_runs,
        max_runs: args.max_runs,
        min_time: parse_duration(&args.min_time)?,
        prepare: args.prepare.clone(),
        launch: match &args.shell {
            Some(sh) => Launch::Shell(sh.clone()),
            None => Launch::Direct,
        },
        ignore_failure: args.ignore_failure,
        show_output: args.show_output,
    };
    if args.runs == Some(0) {
        bail!("--runs must be at least 1");
    }
    if let (Some(max), min) = (args.max_runs, args.min_runs) {
        if max < min {
            bail!("--max-runs {max} is smaller than --min-runs {min}");
        }
    }
    let specs = expand_params(&args.commands, &sweep(&args)?);
    let stop = super::interrupt_flag();
    let tty = std::io::stderr().is_terminal();
    let mut run = Run::new(RunKind::Run);
    crate::context::stamp(&mut run);
    run.command = std::env::args().collect();
    // The kernel charges a child with the memory it had before exec, which for a spawned
    // child is perflab's own: measure that floor once so tiny commands are not misreported.
    if let Ok(m) =
        perflab_exec::Executor::execute(&mut SystemExecutor, "true", &Launch::Direct, false)
    {
        run.labels
            .insert("rss_floor_bytes".into(), m.max_rss_bytes.to_string());
    }
    let mut notes = Vec::new();
    for (i, spec) in specs.iter().enumerate() {
        let rendered = spec.rendered();
        let name = args
            .command_name
            .get(i)
            .cloned()
            .unwrap_or_else(|| spec.template.clone());
        let mut progress = |p: Progress| {
            if !tty {
                return;
            }
            match p {
                Progress::Warmup { done, total } => {
                    eprint!("\r\x1b[2K{rendered}: warm-up {done}/{total}")
                }
                Progress::Run { done, total, wall } => eprint!(
                    "\r\x1b[2K{rendered}: run {done}/{total} ({})",
                    Unit::seconds().format(wall.as_secs_f64())
                ),
            }
        };
        let outcome = benchmark(&mut SystemExecutor, &rendered, &opts, stop, &mut progress);
        if tty {
            eprint!("\r\x1b[2K");
        }
        let outcome = outcome?;
        let mut b = Benchmark::new(name);
        b.params = spec.params.clone();
        let col = |f: &dyn Fn(&perflab_exec::Measurement) -> f64| -> Vec<f64> {
            outcome.runs.iter().map(f).collect()
        };
        if !outcome.runs.is_empty() {
            b.metrics.push(Metric::new(
                "time",
                Unit::seconds(),
                col(&|m| m.wall.as_secs_f64()),
            ));
            b.metrics.push(Metric::new(
                "user_time",
                Unit::seconds(),
                col(&|m| m.user.as_secs_f64()),
            ));
            b.metrics.push(Metric::new(
                "sys_time",
                Unit::seconds(),
                col(&|m| m.sys.as_secs_f64()),
            ));
            let rss = col(&|m| m.max_rss_bytes as f64);
            let floor = rss_floor();
            let rss_median = stats::quantile(&stats::sorted(&rss), 0.5);
            let mut w = warnings(&b, &opts);
            if rss_median > floor * 1.05 {
                b.metrics.push(Metric::new("rss", Unit::bytes(), rss));
            } else {
                w.push(format!(
                    "peak RSS not recorded: it is at perflab's measurement floor ({}), so the \
command's own peak is smaller than perflab can see",
                    Unit::bytes().format(floor)
                ));
            }
            notes.push(w);
            run.benchmarks.push(b);
        }
        if outcome.interrupted {
            run.interrupted = true;
            break;
        }
    }
    super::finish_run(run, &args.output, store, |run| summary(run, &notes))?;
    Ok(Outcome::Ok)
}

/// The peak RSS the kernel reports for a trivial child. A spawned child is charged with the
/// memory it had before `exec`, which (vfork) is perflab's own, so peaks below this are not the
/// command's and are not recorded.
fn rss_floor() -> f64 {
    perflab_exec::Executor::execute(&mut SystemExecutor, "true", &Launch::Direct, false)
        .map_or(0.0, |m| m.max_rss_bytes as f64)
}

/// hyperfine's warnings: outliers, a slow first run.
fn warnings(b: &Benchmark, opts: &RunOptions) -> Vec<String> {
    let mut out = Vec::new();
    let Some(t) = b.metric("time") else {
        return out;
    };
    let severe = stats::tukey_outliers(&t.samples, 3.0);
    if !severe.is_empty() {
        out.push(format!(
            "{} of {} runs are statistical outliers (beyond 3×IQR); the system may be busy: \
consider a quieter machine, --warmup or --prepare",
            severe.len(),
            t.samples.len()
        ));
    }
    if opts.warmup == 0 && t.samples.len() >= 4 {
        let first = t.samples[0];
        let rest = stats::sorted(&t.samples[1..]);
        let q3 = stats::quantile(&rest, 0.75);
        let iqr = q3 - stats::quantile(&rest, 0.25);
        if first > rest[rest.len() - 1] && first > q3 + 3.0 * iqr.max(q3 * 0.01) {
            out.push(format!(
                "the first run was much slower ({}) than the rest: caches may have been cold; \
consider --warmup",
                t.unit.format(first)
            ));
        }
    }
    out
}

fn summary(run: &Run, notes: &[Vec<String>]) -> String {
    let mut out = String::new();
    for (i, b) in run.benchmarks.iter().enumerate() {
        let _ = writeln!(out, "Benchmark {}: {}", i + 1, b.key());
        if let Some(t) = b.metric("time") {
            let s = stats::summarize(&t.samples, 0.95);
            let (lo, hi) = minmax(&t.samples);
            let ci = if s.ci_low.is_finite() && s.ci_high.is_finite() {
                format!(
                    "[{} … {}]",
                    t.unit.format(s.ci_low),
                    t.unit.format(s.ci_high)
                )
            } else {
                format!("[need >= {} runs for a CI]", s.need_for_ci.unwrap_or(6))
            };
            let _ = writeln!(
                out,
                "  Time (median, 95% CI):  {}  {ci}",
                t.unit.format(s.center)
            );
            let _ = writeln!(
                out,
                "  Range (min … max):      {} … {}    {} runs",
                t.unit.format(lo),
                t.unit.format(hi),
                t.samples.len()
            );
        }
        let med = |name: &str| {
            b.metric(name).map(|m| {
                let s = stats::sorted(&m.samples);
                m.unit.format(stats::quantile(&s, 0.5))
            })
        };
        if let (Some(u), Some(s)) = (med("user_time"), med("sys_time")) {
            let rss = med("rss").map_or(String::new(), |r| format!(", Peak RSS: {r}"));
            let _ = writeln!(out, "  User: {u}, System: {s}{rss} (medians)");
        }
        for n in notes.get(i).into_iter().flatten() {
            let _ = writeln!(out, "  Warning: {n}");
        }
        out.push('\n');
    }
    if run.benchmarks.len() > 1 {
        out.push_str(&relative(run));
    }
    if run.interrupted {
        out.push_str("Interrupted: the results above are partial.\n");
    }
    out
}

fn minmax(v: &[f64]) -> (f64, f64) {
    v.iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        })
}

/// "A ran 1.84× faster than B (p=0.000)", each command against the first.
fn relative(run: &Run) -> String {
    let mut out = String::from("Summary\n");
    let first = &run.benchmarks[0];
    let only_time = |b: &Benchmark| -> Benchmark {
        let mut x = Benchmark::new("cmd");
        x.metrics = b
            .metrics
            .iter()
            .filter(|m| m.name == "time")
            .cloned()
            .collect();
        x
    };
    let base = vec![only_time(first)];
    let _ = writeln!(out, "  {} (the reference)", first.key());
    for b in &run.benchmarks[1..] {
        let current = vec![only_time(b)];
        let Ok(c) = compare(&base, &current, &CompareOptions::default()) else {
            continue;
        };
        let Some(r) = c.rows.first() else { continue };
        let ratio = r.current.median / r.base.median;
        let p = r
            .p_value
            .map_or(String::from("no test"), |p| format!("p={p:.3}"));
        let testable = stats::min_p_value(r.base.n, r.current.n) <= 0.05;
        let line = match r.verdict {
            _ if !testable => format!(
                "{ratio:.2}× the reference's time (too few runs for a significance test: use --runs 4 or more)"
            ),
            Verdict::Same => format!("no significant difference ({ratio:.2}×, {p})"),
            _ if ratio >= 1.0 => format!("{ratio:.2}× slower ({p})"),
            _ => format!("{:.2}× faster ({p})", 1.0 / ratio),
        };
        debug_assert_eq!(r.better, Better::Lower);
        let _ = writeln!(out, "  {}: {line}", b.key());
        for w in &r.warnings {
            let _ = writeln!(out, "    note: {w}");
        }
    }
    out
}
