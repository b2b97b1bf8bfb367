//! perflab: a performance lab in one binary. This crate only wires the library crates to a
//! command line: parse arguments, run one command module, map the outcome to an exit code
//! (0 ok, 1 a gate failed, 2 trouble, 130 stopped by Ctrl-C or SIGTERM with what was measured
//! kept).

mod cli;
mod cmd;
mod config;
mod context;
mod output;
mod term;

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser as _;

/// What a command concluded, as the exit code says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Everything passed.
    Ok,
    /// A gate, threshold or target failed.
    GateFailed,
}

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    term::init(cli.color, cli.quiet, cli.verbose);
    match cmd::dispatch(cli) {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::GateFailed) => ExitCode::from(1),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "{} {}", term::error_prefix(), one_line(&e));
            // A command that stopped because it was asked to (its partial results kept and
            // marked interrupted) exits as a shell's Ctrl-C does.
            if perflab_exec::interrupt::requested() {
                return ExitCode::from(130);
            }
            ExitCode::from(2)
        }
    }
}

/// `{:#}` joins the context chain with `: `; messages never span lines.
fn one_line(e: &anyhow::Error) -> String {
    format!("{e:#}").replace('\n', " ")
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}
