//! Stage: **measure** (processes). Times whole commands the way hyperfine does: warm-up runs,
//! a fixed run count or a minimum time bounded by minimum and maximum counts, an optional
//! `--prepare` command before each run, and for every run the wall time, user and system CPU
//! time and peak RSS as the kernel reports them (`wait4`).
//!
//! Commands run without a shell unless asked: the command line is split into words, so the
//! shell's own start-up is not in the numbers. The [`Executor`] trait is the seam that tests
//! and other back ends plug into; [`SystemExecutor`] is the real one.
//!
//! Nothing here prints: progress goes through a callback, results are returned.
//!
//! ```
//! use perflab_exec::{split_words, CommandSpec};
//! assert_eq!(split_words("sh -c 'exit 3'").unwrap(), vec!["sh", "-c", "exit 3"]);
//! let spec = CommandSpec::new("echo {n}").with_param("n", "5");
//! assert_eq!(spec.rendered(), "echo 5");
//! ```

pub mod ab;
pub mod assistant;
mod commands;
mod facts;
pub mod git;
mod harness;
pub mod instructions;
pub mod interrupt;
pub mod layout;
pub mod project;
mod service;
mod sys;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use commands::{rss_floor, sweep, time_command, warnings, Timed};
pub use facts::{git_info, host_info, local_dir, project_root};
pub use harness::{run_harness, run_harness_with, tail, HarnessOutput};
pub use interrupt::Stop;
pub use service::{spawn_service, Service};
pub use sys::{run_argv, SystemExecutor};

/// Errors of timing commands.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecError {
    /// The command line could not be split into words.
    #[error("cannot parse command {command:?}: {reason} (or use --shell)")]
    Parse {
        /// The command.
        command: String,
        /// Why.
        reason: String,
    },
    /// The program could not be started.
    #[error("cannot start {program:?}: {error}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// The command exited with a non-zero status.
    #[error(
        "command {command:?} exited with status {code} (use --ignore-failure to time it anyway)"
    )]
    Failed {
        /// The command.
        command: String,
        /// Exit status.
        code: i32,
    },
    /// The command was killed by a signal.
    #[error("command {command:?} was killed by signal {signal}")]
    Killed {
        /// The command.
        command: String,
        /// Signal number.
        signal: i32,
    },
    /// Waiting for the child failed.
    #[error("waiting for {command:?}: {error}")]
    Wait {
        /// The command.
        command: String,
        /// The OS error.
        #[source]
        error: std::io::Error,
    },
    /// Options that do not fit together.
    #[error("{message}")]
    Options {
        /// What is wrong, naming the flag.
        message: String,
    },
    /// A benchmark harness failed.
    #[error("{command} failed ({status}){said}")]
    Harness {
        /// The command.
        command: String,
        /// Its exit status.
        status: String,
        /// The tails of its stderr and stdout, when it said anything.
        said: String,
    },
    /// A spawned service did not come up.
    #[error("--spawn {command:?}: {reason}")]
    NotReady {
        /// The command.
        command: String,
        /// What happened.
        reason: String,
    },
    /// The `--prepare` command failed.
    #[error("prepare command failed: {0}")]
    Prepare(Box<ExecError>),
    /// A harness's results could not be read.
    #[error(transparent)]
    Results(#[from] perflab_ingest::IngestError),
    /// A git revision, repository or worktree problem (`compare A..B`).
    #[error("{message}")]
    Git {
        /// What is wrong, naming the revision.
        message: String,
    },
    /// The build of one side failed (`compare A..B --build`).
    #[error("build of {rev} failed ({status}) in {dir}{said}")]
    Build {
        /// The revision.
        rev: String,
        /// Its exit status.
        status: String,
        /// The checkout it ran in.
        dir: String,
        /// The tail of what it printed.
        said: String,
    },
}

/// A command to time, with the parameter values substituted into `{name}` placeholders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandSpec {
    /// The command as the user wrote it, placeholders included.
    pub template: String,
    /// Parameter values of this variant.
    pub params: BTreeMap<String, String>,
}

impl CommandSpec {
    /// A command without parameters.
    pub fn new(template: impl Into<String>) -> CommandSpec {
        CommandSpec {
            template: template.into(),
            params: BTreeMap::new(),
        }
    }

    /// Add a parameter value.
    pub fn with_param(mut self, k: impl Into<String>, v: impl Into<String>) -> CommandSpec {
        self.params.insert(k.into(), v.into());
        self
    }

    /// The command with every `{name}` replaced by its value.
    pub fn rendered(&self) -> String {
        let mut s = self.template.clone();
        for (k, v) in &self.params {
            s = s.replace(&format!("{{{k}}}"), v);
        }
        s
    }
}

/// How a command is started.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Launch {
    /// Split into words and exec directly.
    #[default]
    Direct,
    /// Run through this shell with `-c`.
    Shell(String),
}

/// What one run measured.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Measurement {
    /// Wall-clock time.
    pub wall: Duration,
    /// User CPU time of the command and its children.
    pub user: Duration,
    /// System CPU time.
    pub sys: Duration,
    /// Peak resident set size in bytes.
    pub max_rss_bytes: u64,
    /// Exit code (None when killed by a signal).
    pub exit_code: Option<i32>,
    /// The signal that killed it, if one did.
    pub signal: Option<i32>,
    /// Context switches it asked for (waiting: I/O, sleep, locks), and those forced on it
    /// (preempted: the CPU was wanted elsewhere), from rusage.
    pub switches: (u64, u64),
}

/// Runs one command once and measures it.
pub trait Executor {
    /// Run `command` to completion.
    ///
    /// # Errors
    /// Spawn and wait errors; a non-zero exit is *not* an error here (see [`Measurement`]).
    fn execute(
        &mut self,
        command: &str,
        launch: &Launch,
        show_output: bool,
    ) -> Result<Measurement, ExecError>;
}

/// Options of [`benchmark`].
#[derive(Debug, Clone, PartialEq)]
pub struct RunOptions {
    /// Runs before measuring (not recorded).
    pub warmup: usize,
    /// Exact number of runs; overrides the time-based count.
    pub runs: Option<usize>,
    /// Fewest runs.
    pub min_runs: usize,
    /// Most runs.
    pub max_runs: Option<usize>,
    /// Keep running until this much time has passed (and `min_runs` are done).
    pub min_time: Duration,
    /// Command run before every run (warm-ups included), not timed.
    pub prepare: Option<String>,
    /// Direct exec or a shell.
    pub launch: Launch,
    /// Time commands that exit non-zero instead of stopping.
    pub ignore_failure: bool,
    /// Let the command's output through.
    pub show_output: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            warmup: 0,
            runs: None,
            min_runs: 10,
            max_runs: None,
            min_time: Duration::from_secs(3),
            prepare: None,
            launch: Launch::Direct,
            ignore_failure: false,
            show_output: false,
        }
    }
}

/// Progress of a benchmark, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Progress {
    /// A warm-up run finished.
    Warmup {
        /// Done so far.
        done: usize,
        /// Planned.
        total: usize,
    },
    /// A measured run finished.
    Run {
        /// Done so far.
        done: usize,
        /// Planned (an estimate when time-based).
        total: usize,
        /// Its wall time.
        wall: Duration,
    },
}

/// Every measured run of a command; `interrupted` when Ctrl-C stopped it early.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Measured runs in order.
    pub runs: Vec<Measurement>,
    /// Stopped early by the `stop` flag.
    pub interrupted: bool,
}

/// Time `command` as the options say. `stop` is checked between runs (Ctrl-C sets it): what
/// was measured before is returned, marked interrupted.
///
/// # Errors
/// A failing command (unless `ignore_failure`), a failing prepare command, spawn errors.
pub fn benchmark(
    executor: &mut dyn Executor,
    command: &str,
    opts: &RunOptions,
    stop: &AtomicBool,
    progress: &mut dyn FnMut(Progress),
) -> Result<Outcome, ExecError> {
    let one = |executor: &mut dyn Executor| -> Result<Measurement, ExecError> {
        if let Some(p) = &opts.prepare {
            let m = executor.execute(p, &opts.launch, opts.show_output)?;
            check_status(p, &m, false).map_err(|e| ExecError::Prepare(Box::new(e)))?;
        }
        let m = executor.execute(command, &opts.launch, opts.show_output)?;
        check_status(command, &m, opts.ignore_failure)?;
        Ok(m)
    };
    for i in 0..opts.warmup {
        if stop.load(Ordering::SeqCst) {
            return Ok(Outcome {
                runs: Vec::new(),
                interrupted: true,
            });
        }
        match one(executor) {
            Ok(_) => {}
            // As below: a warm-up run cut short by Ctrl-C is an interruption, not a failure.
            Err(_) if stop.load(Ordering::SeqCst) => {
                return Ok(Outcome {
                    runs: Vec::new(),
                    interrupted: true,
                })
            }
            Err(e) => return Err(e),
        }
        progress(Progress::Warmup {
            done: i + 1,
            total: opts.warmup,
        });
    }
    let mut runs = Vec::new();
    let start = Instant::now();
    let mut planned = opts.runs.unwrap_or(opts.min_runs.max(1));
    loop {
        if stop.load(Ordering::SeqCst) {
            return Ok(Outcome {
                runs,
                interrupted: true,
            });
        }
        let m = match one(executor) {
            Ok(m) => m,
            // A run cut short by Ctrl-C is not a measurement, and not a failure either.
            Err(_) if stop.load(Ordering::SeqCst) => {
                return Ok(Outcome {
                    runs,
                    interrupted: true,
                })
            }
            Err(e) => return Err(e),
        };
        runs.push(m);
        if opts.runs.is_none() && runs.len() == 1 {
            // Plan the count from the first run, as hyperfine does.
            let per = m.wall.as_secs_f64().max(1e-6);
            let want = (opts.min_time.as_secs_f64() / per).ceil() as usize;
            planned = want.max(opts.min_runs);
            if let Some(max) = opts.max_runs {
                planned = planned.min(max);
            }
            planned = planned.max(1);
        }
        progress(Progress::Run {
            done: runs.len(),
            total: planned,
            wall: m.wall,
        });
        let enough = match opts.runs {
            Some(n) => runs.len() >= n,
            None => {
                let max_hit = opts.max_runs.is_some_and(|m| runs.len() >= m);
                max_hit
                    || (runs.len() >= opts.min_runs.max(1) && start.elapsed() >= opts.min_time)
                    || runs.len() >= planned && runs.len() >= opts.min_runs.max(1)
            }
        };
        if enough {
            return Ok(Outcome {
                runs,
                interrupted: false,
            });
        }
    }
}

fn check_status(command: &str, m: &Measurement, ignore: bool) -> Result<(), ExecError> {
    match m.exit_code {
        Some(0) => Ok(()),
        _ if ignore => Ok(()),
        Some(code) => Err(ExecError::Failed {
            command: command.into(),
            code,
        }),
        None => Err(ExecError::Killed {
            command: command.into(),
            signal: m.signal.unwrap_or(0),
        }),
    }
}

/// Words joined into one command line that [`split_words`] reads back (quoted where needed).
pub fn join_words(words: &[String]) -> String {
    shell_words::join(words)
}

/// Split a command line into words as a POSIX shell would (quotes, backslashes), without
/// running a shell: the `shell-words` crate, which follows the POSIX rules exactly.
///
/// # Errors
/// [`ExecError::Parse`] for an unterminated quote or an empty command.
pub fn split_words(line: &str) -> Result<Vec<String>, ExecError> {
    let parse = |reason: String| ExecError::Parse {
        command: line.to_string(),
        reason,
    };
    let words = shell_words::split(line).map_err(|e| parse(e.to_string()))?;
    if words.is_empty() {
        return Err(parse("no command".into()));
    }
    Ok(words)
}

/// Expand `-P name from to [step]` and `-L name a,b,c` into every combination of values, in
/// order (the last parameter varies fastest).
pub fn expand_params(templates: &[String], params: &[(String, Vec<String>)]) -> Vec<CommandSpec> {
    let mut out: Vec<CommandSpec> = templates.iter().map(CommandSpec::new).collect();
    for (name, values) in params {
        out = out
            .into_iter()
            .flat_map(|spec| {
                values
                    .iter()
                    .map(move |v| spec.clone().with_param(name.clone(), v.clone()))
            })
            .collect();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake {
        walls_ms: Vec<u64>,
        exit: i32,
        calls: Vec<String>,
    }

    impl Executor for Fake {
        fn execute(&mut self, c: &str, _: &Launch, _: bool) -> Result<Measurement, ExecError> {
            self.calls.push(c.to_string());
            let ms = self
                .walls_ms
                .get(self.calls.len() - 1)
                .copied()
                .unwrap_or(1);
            Ok(Measurement {
                wall: Duration::from_millis(ms),
                user: Duration::ZERO,
                sys: Duration::ZERO,
                max_rss_bytes: 0,
                exit_code: Some(self.exit),
                signal: None,
                switches: (0, 0),
            })
        }
    }

    fn fake(exit: i32) -> Fake {
        Fake {
            walls_ms: vec![],
            exit,
            calls: vec![],
        }
    }

    #[test]
    fn runs_exactly_n_after_warmup_with_prepare() {
        let mut f = fake(0);
        let opts = RunOptions {
            warmup: 2,
            runs: Some(3),
            prepare: Some("prep".into()),
            ..RunOptions::default()
        };
        let stop = AtomicBool::new(false);
        let out = benchmark(&mut f, "cmd", &opts, &stop, &mut |_| {}).unwrap();
        assert_eq!(out.runs.len(), 3);
        assert_eq!(f.calls.len(), 10, "prepare before each of 5 runs");
        assert_eq!(f.calls[0], "prep");
    }

    #[test]
    fn failure_is_an_error_unless_ignored() {
        let stop = AtomicBool::new(false);
        let opts = RunOptions {
            runs: Some(2),
            ..RunOptions::default()
        };
        let err = benchmark(&mut fake(3), "false", &opts, &stop, &mut |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "command \"false\" exited with status 3 (use --ignore-failure to time it anyway)"
        );
        let opts = RunOptions {
            ignore_failure: true,
            ..opts
        };
        let out = benchmark(&mut fake(3), "false", &opts, &stop, &mut |_| {}).unwrap();
        assert_eq!(out.runs[0].exit_code, Some(3));
    }

    #[test]
    fn stop_flag_keeps_what_was_measured() {
        let stop = AtomicBool::new(false);
        let opts = RunOptions {
            runs: Some(100),
            ..RunOptions::default()
        };
        let mut f = fake(0);
        let mut n = 0;
        let out = benchmark(&mut f, "x", &opts, &stop, &mut |_| {
            n += 1;
            if n == 4 {
                stop.store(true, Ordering::SeqCst);
            }
        })
        .unwrap();
        assert!(out.interrupted);
        assert_eq!(out.runs.len(), 4);
    }

    #[test]
    fn time_based_count_respects_min_and_max() {
        let stop = AtomicBool::new(false);
        let opts = RunOptions {
            min_runs: 3,
            max_runs: Some(5),
            min_time: Duration::from_secs(3600),
            ..RunOptions::default()
        };
        let out = benchmark(&mut fake(0), "x", &opts, &stop, &mut |_| {}).unwrap();
        assert_eq!(out.runs.len(), 5);
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(
            split_words(r#"a "b c" 'd e' f\ g "h\"i""#).unwrap(),
            vec!["a", "b c", "d e", "f g", "h\"i"]
        );
        assert!(split_words("a 'b").is_err());
        assert!(split_words("   ").is_err());
        assert_eq!(split_words("''").unwrap(), vec![""]);
    }

    #[test]
    fn params_expand_to_every_combination() {
        let specs = expand_params(
            &["sleep {t}".into()],
            &[("t".into(), vec!["1".into(), "2".into()])],
        );
        let r: Vec<String> = specs.iter().map(CommandSpec::rendered).collect();
        assert_eq!(r, vec!["sleep 1", "sleep 2"]);
    }
}
