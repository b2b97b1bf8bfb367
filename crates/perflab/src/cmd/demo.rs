//! `perflab demo`: the whole loop on this machine in a few seconds, with nothing to set up:
//! time two workloads, compare them, check a target, print the Markdown report. It works in
//! a temporary directory and leaves nothing behind.

use anyhow::{Context as _, Result};
use perflab_analysis::{check, compare, CompareOptions, Target};
use perflab_exec::{Launch, RunOptions};
use perflab_model::{Run, RunKind};
use perflab_report::ReportInput;

use crate::cli::DemoArgs;
use crate::{context, output, Outcome};

pub(crate) fn run(args: DemoArgs) -> Result<Outcome> {
    let exe = std::env::current_exe().context("cannot find perflab's own executable")?;
    let exe = exe.display().to_string();
    let opts = RunOptions {
        warmup: 2,
        runs: Some(args.runs.max(2)),
        launch: Launch::Direct,
        ..RunOptions::default()
    };
    let stop = super::interrupt_flag();
    let mut runs = Vec::new();
    for (label, work) in [("baseline", 60u64), ("candidate", 90)] {
        crate::term::info!(
            "demo: timing the {label} workload ({work} units of work, {} runs)…",
            args.runs
        );
        let cmd = format!("'{exe}' spin --work {work}");
        let spec = perflab_exec::CommandSpec::new(&cmd);
        let timed = perflab_exec::time_command(&spec, "spin".into(), &opts, stop, &mut |_| {})?;
        let b = timed.benchmark.context("the demo was interrupted")?;
        let mut run = Run::new(RunKind::Run);
        context::stamp(&mut run);
        run.command = vec![cmd];
        run.labels.insert("demo".into(), label.into());
        run.benchmarks.push(b);
        runs.push(run);
    }
    let opts = CompareOptions {
        base_label: "baseline".into(),
        current_label: "candidate".into(),
        ..CompareOptions::default()
    };
    let c = compare(&runs[0].benchmarks, &runs[1].benchmarks, &opts)?;
    // A target the candidate should meet with room to spare: twice the baseline's median.
    let base_median = c.rows[0].base.median;
    let (t, c3) = (base_median * 2e3, base_median * 3e3);
    let target = Target::parse(
        "spin",
        "time",
        &format!("< {t:.0}ms"),
        Some(&format!("< {c3:.0}ms")),
    )?;
    let (targets, _) = check(&runs[1].benchmarks, &[target]);
    let report = perflab_report::report_markdown(&ReportInput {
        run: &runs[1],
        targets,
        comparison: Some(("the baseline workload".into(), c.clone())),
        history: vec![],
    });
    output::print(&report)?;
    crate::term::info!(
        "demo: the candidate does 1.5× the work of the baseline, so the gate is expected to \
flag it as a regression ({}).",
        if c.gate.passed {
            "it did not: the machine is very noisy"
        } else {
            "it did"
        }
    );
    Ok(Outcome::Ok)
}
