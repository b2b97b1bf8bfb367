//! A benchmark harness run to completion (`perflab bench -- CMD`): its stdout read line by line
//! (echoed on stderr when asked), its stderr drained on a thread so a chatty harness never
//! blocks on a full pipe. A failing harness is an error that shows the tail of what it said.

use std::io::{BufRead as _, BufReader, Read as _};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::interrupt::{self, Group, OnStop};
use crate::ExecError;

/// What a harness printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HarnessOutput {
    /// Its standard output.
    pub stdout: String,
    /// Its standard error.
    pub stderr: String,
    /// Ctrl-C arrived while it ran.
    pub interrupted: bool,
}

/// The last `n` non-empty lines of `text`, joined with ` | `.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty())
        .collect();
    lines[lines.len().saturating_sub(n)..].join(" | ")
}

/// Run `argv` and collect its output.
///
/// # Errors
/// [`ExecError::Spawn`]; [`ExecError::Harness`] when it fails (not when interrupted), with the
/// tails of its stderr and stdout (Go and Python harnesses print failures on stdout).
pub fn run_harness(
    argv: &[String],
    show_output: bool,
    stop: &AtomicBool,
) -> Result<HarnessOutput, ExecError> {
    run_harness_with(argv, &[], None, show_output, stop)
}

/// [`run_harness`] with extra environment variables (`GODEBUG=gctrace=1`), in `cwd` when given
/// (a Go test binary runs in its package's directory, as `go test` runs it).
///
/// # Errors
/// As [`run_harness`].
pub fn run_harness_with(
    argv: &[String],
    env: &[(String, String)],
    cwd: Option<&std::path::Path>,
    show_output: bool,
    stop: &AtomicBool,
) -> Result<HarnessOutput, ExecError> {
    let command = argv.join(" ");
    let program = argv.first().ok_or_else(|| ExecError::Options {
        message: "no harness command given".into(),
    })?;
    let spawn_error = |error| ExecError::Spawn {
        program: program.clone(),
        error,
    };
    let mut cmd = Command::new(program);
    cmd.envs(env.iter().map(|(k, v)| (k, v)));
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    cmd.args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt).map_err(spawn_error)?;
    let mut err_pipe = child.stderr.take().expect("invariant: stderr is piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = err_pipe.read_to_end(&mut s);
        s
    });
    let mut stdout = String::new();
    let reader = BufReader::new(child.stdout.take().expect("invariant: stdout is piped"));
    for line in reader.split(b'\n') {
        let line = line.map_err(|error| ExecError::Wait {
            command: command.clone(),
            error,
        })?;
        let line = String::from_utf8_lossy(&line);
        if show_output {
            eprintln!("{line}");
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    let status = interrupt::wait(&mut child, tracked).map_err(|error| ExecError::Wait {
        command: command.clone(),
        error,
    })?;
    let stderr = String::from_utf8_lossy(&err_thread.join().unwrap_or_default()).into_owned();
    let interrupted = stop.load(Ordering::SeqCst);
    if !status.success() && !interrupted {
        let mut said = Vec::new();
        for (name, text, n) in [("stderr", &stderr, 3), ("stdout", &stdout, 5)] {
            let t = tail(text, n);
            if !t.is_empty() {
                said.push(format!("{name}: {t}"));
            }
        }
        return Err(ExecError::Harness {
            command,
            status: status.to_string(),
            said: if said.is_empty() {
                String::new()
            } else {
                format!(" ({})", said.join("; "))
            },
        });
    }
    Ok(HarnessOutput {
        stdout,
        stderr,
        interrupted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failing_harness_shows_the_tail_of_its_stdout() {
        let stop = AtomicBool::new(false);
        let argv: Vec<String> = [
            "sh",
            "-c",
            "echo BenchmarkA 1 2 ns/op; echo '--- FAIL: BenchmarkB'; echo FAIL; exit 1",
        ]
        .map(String::from)
        .to_vec();
        let e = run_harness(&argv, false, &stop).unwrap_err().to_string();
        assert!(e.contains("exit status: 1"), "{e}");
        assert!(
            e.contains("stdout: BenchmarkA 1 2 ns/op | --- FAIL: BenchmarkB | FAIL"),
            "{e}"
        );
        let ok = run_harness(&["echo".into(), "hi".into()], false, &stop).unwrap();
        assert_eq!(ok.stdout, "hi\n");
    }
}
