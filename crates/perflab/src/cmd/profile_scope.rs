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
        return super::profile_endpoint::run(&args, store, config, &text);
    }
    let project = super::modes::project()?;
    let scope = super::modes::scope(&project, &text)?;
    let depth = super::modes::depth(&args.depth)?;
    let scratch = tempfile::tempdir().context("cannot create a scratch directory")?;
    let plans = (project.ecosystem).profile(&project.root, &scope, depth, scratch.path(), true);
    crate::term::info!(
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
    let mut bar = crate::term::Progress::new("profile", Some(plans.len() as u64));
    for (i, plan) in plans.iter().enumerate() {
        let dir = scratch.path().join(format!("t{i}"));
        std::fs::create_dir_all(&dir)?;
        bar.update(i as u64, &plan.package);
        let done = profile_plan(plan, &args.profile, &dir, share)?;
        let prefix = if plans.len() > 1 {
            format!("{}-", i + 1)
        } else {
            String::new()
        };
        let s = write_outputs(
            &args.profile_dir,
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
                &args.profile_dir,
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
    drop(bar);
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
