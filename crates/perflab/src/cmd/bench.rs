//! `perflab bench -- CMD`: run a harness, read what it printed.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _, Result};
use perflab_model::{Run, RunKind};

use crate::cli::BenchArgs;
use crate::context;
use crate::Outcome;

pub(crate) fn run(args: BenchArgs, store: Option<&Path>) -> Result<Outcome> {
    let format = context::parse_format(args.format.as_deref())?;
    let program = &args.command[0];
    let mut child = Command::new(program)
        .args(&args.command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("cannot start {program:?}"))?;
    // Drain stderr on a thread so a chatty harness never blocks on a full pipe.
    let mut err_pipe = child.stderr.take().context("stderr pipe")?;
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let stop = super::interrupt_flag();
    let mut stdout = String::new();
    let reader = BufReader::new(child.stdout.take().context("stdout pipe")?);
    for line in reader.split(b'\n') {
        let line = line.context("reading the harness's output")?;
        let line = String::from_utf8_lossy(&line);
        if args.show_output {
            eprintln!("{line}");
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = child.wait().context("waiting for the harness")?;
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    let interrupted = stop.load(std::sync::atomic::Ordering::SeqCst);
    if !status.success() && !interrupted {
        let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{} failed ({}){}",
            args.command.join(" "),
            status,
            if tail.is_empty() {
                String::new()
            } else {
                format!(" (stderr: {})", tail.join(" | "))
            }
        );
    }
    let source = format!("output of {program}");
    let parsed = match format {
        Some(perflab_ingest::Format::CriterionDir) => {
            perflab_ingest::parse_path(&context::project_root().join("target/criterion"), format)?
        }
        _ => match perflab_ingest::parse_text(&stdout, format, &source) {
            Ok(p) => p,
            // Some harnesses (criterion with --output-format bencher on old versions) print to
            // stderr; try it before giving up.
            Err(e) => perflab_ingest::parse_text(&stderr, format, &source).map_err(|_| e)?,
        },
    };
    let mut run = Run::new(RunKind::Bench);
    context::stamp(&mut run);
    run.command = args.command.clone();
    run.tool = parsed.tool;
    run.labels = parsed.labels;
    run.benchmarks = parsed.benchmarks;
    run.interrupted = interrupted;
    super::finish_run(run, &args.output, store, perflab_report::run_text)?;
    Ok(Outcome::Ok)
}
