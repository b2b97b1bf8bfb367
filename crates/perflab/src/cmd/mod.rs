//! One module per subcommand; each only wires library stages together.

mod ab;
mod baseline;
mod bench;
mod check;
mod checklist;
mod compare;
mod demo;
mod exec_usage;
mod import;
mod init;
mod interactive;
mod load;
mod log;
mod merge;
mod modes;
mod profile;
mod profile_endpoint;
mod profile_scope;
mod report;
mod run;
mod scan;
mod serve;
mod show;
mod spin;

use std::path::Path;

use anyhow::{bail, Context as _, Result};
use perflab_model::Run;

use crate::cli::{Cli, Command, ResultOutput};
use crate::{config, context, output, Outcome};

/// Run the chosen subcommand.
pub(crate) fn dispatch(cli: Cli) -> Result<Outcome> {
    let store = cli.store.as_deref();
    let config_path = cli.config.as_deref();
    let config = || config::load(config_path, &context::project_root());
    let Some(command) = cli.command else {
        return interactive::run(store, &config()?);
    };
    match command {
        Command::Run(a) => run::run(a, store),
        Command::Bench(a) => bench::run(a, store, &config()?),
        Command::Import(a) => import::run(a, store),
        Command::Compare(a) => compare::run(*a, store, &config()?),
        Command::Check(a) => check::run(a, store, &config()?),
        Command::Report(a) => report::run(a, store, &config()?),
        Command::Log(a) => log::run(a, store),
        Command::Alerts(a) => log::run(crate::cli::LogArgs { alerts: true, ..a }, store),
        Command::Show(a) => show::run(a, store),
        Command::Baseline(a) => baseline::run(a, store),
        Command::Load(a) => load::run(*a, store, &config()?),
        Command::Merge(a) => merge::run(a, store),
        Command::Profile(a) if a.scope.is_some() => profile_scope::run(a, store, &config()?),
        Command::Profile(a) => profile::run(a, store),
        Command::Scan(a) => scan::run(a, store),
        Command::Serve(a) => serve::run(a, store, &config()?),
        Command::Token(c) => serve::token(c, store),
        Command::Push(a) => serve::push(a, store),
        Command::Prune(a) => serve::prune(a, store),
        Command::Export(a) => serve::export(a, store),
        Command::ExecUsage(a) => exec_usage::run(a),
        Command::Supervise(a) => {
            let code = perflab_exec::interrupt::supervise(&a.command)
                .with_context(|| format!("cannot start {:?}", a.command.join(" ")))?;
            std::process::exit(code)
        }
        Command::Init(a) => init::run(a),
        Command::Checklist(a) => checklist::run(a, store, &config()?),
        Command::Completions(a) => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut out = Vec::new();
            clap_complete::generate(a.shell, &mut cmd, "perflab", &mut out);
            output::print(&String::from_utf8_lossy(&out))?;
            Ok(Outcome::Ok)
        }
        Command::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut out)?;
            output::print(&String::from_utf8_lossy(&out))?;
            Ok(Outcome::Ok)
        }
        Command::Demo(a) => demo::run(a),
        Command::Spin(a) => spin::run(a),
    }
}

/// The end of every measuring command: stamp the run, write `--out` atomically, record it in the
/// history, and print the JSON document or the human summary.
fn finish_run(
    mut run: Run,
    out: &ResultOutput,
    store: Option<&Path>,
    summary: impl FnOnce(&Run) -> String,
) -> Result<()> {
    for l in &out.label {
        let (k, v) = (l.split_once('=').filter(|(k, _)| !k.is_empty()))
            .with_context(|| format!("--label {l:?}: write it as KEY=VALUE"))?;
        run.labels.insert(k.to_string(), v.to_string());
    }
    run.finished_at = perflab_model::now_rfc3339();
    if let Some(path) = &out.out {
        output::write_atomic(path, run.to_json().as_bytes())?;
    }
    if !out.no_store {
        let s = context::open_store(store)?;
        s.save_run(&run)
            .context("cannot record the run in the history")?;
    }
    if out.json {
        output::print(&run.to_json())?;
    } else {
        output::print(&summary(&run))?;
        if !out.no_store {
            crate::term::info!("recorded run {}", run.id);
        }
    }
    if run.interrupted {
        bail!("interrupted: partial results were kept (run {})", run.id);
    }
    Ok(())
}

/// A document as terminal text (every document has a text rendering, see `Document::formats`).
fn text(doc: perflab_report::Document<'_>) -> String {
    perflab_report::render_styled(
        perflab_report::Format::Text,
        &doc,
        crate::term::stdout_style(),
    )
    .unwrap_or_else(|e| format!("{e}\n"))
}

/// The words that start perflab's own service supervisor (`perflab supervise --`), so a
/// started server's whole process group goes when perflab does, even on `kill -9`.
fn supervisor() -> Vec<String> {
    match std::env::current_exe() {
        Ok(exe) => vec![exe.display().to_string(), "supervise".into(), "--".into()],
        // Without our own path the service still dies with perflab, though not its children.
        Err(_) => Vec::new(),
    }
}

/// The process-wide stop (Ctrl-C, SIGTERM): the one handler lives in `perflab_exec::interrupt`,
/// which also passes the stop on to the children it tracks.
fn interrupt_flag() -> &'static std::sync::atomic::AtomicBool {
    perflab_exec::Stop::install().flag()
}
