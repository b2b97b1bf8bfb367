//! The real executor: spawn, then reap with `wait4` to read the child's resource usage.
//!
//! `std::process::Child::wait` discards the rusage the kernel hands back, and reading
//! `RUSAGE_CHILDREN` afterwards gives a running maximum for peak RSS rather than this run's, so
//! the `unsafe` calls of the project are here and in `interrupt`, kept to the FFI calls
//! themselves (wait4, waitid, and kill for the wrapper's time budget).

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::interrupt::{self, Group, OnStop};
use crate::{split_words, ExecError, Executor, Launch, Measurement};

/// Runs commands on this machine.
#[derive(Debug, Default)]
pub struct SystemExecutor;

impl Executor for SystemExecutor {
    fn execute(
        &mut self,
        command: &str,
        launch: &Launch,
        show_output: bool,
    ) -> Result<Measurement, ExecError> {
        let mut cmd = match launch {
            Launch::Direct => {
                let words = split_words(command)?;
                let mut c = Command::new(&words[0]);
                c.args(&words[1..]);
                c
            }
            Launch::Shell(shell) => {
                let mut c = Command::new(shell);
                c.arg("-c").arg(command);
                c
            }
        };
        cmd.stdin(Stdio::null());
        if !show_output {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let program = match launch {
            Launch::Direct => split_words(command)
                .ok()
                .and_then(|w| w.into_iter().next())
                .unwrap_or_default(),
            Launch::Shell(s) => s.clone(),
        };
        let start = Instant::now();
        let (child, tracked) = interrupt::spawn(&mut cmd, Group::Own, OnStop::Interrupt)
            .map_err(|error| ExecError::Spawn { program, error })?;
        let (status, usage) =
            wait4_then(child.id(), || drop(tracked)).map_err(|error| ExecError::Wait {
                command: command.into(),
                error,
            })?;
        let wall = start.elapsed();
        let exit_code = if libc::WIFEXITED(status) {
            Some(libc::WEXITSTATUS(status))
        } else {
            None
        };
        Ok(Measurement {
            wall,
            user: tv(usage.ru_utime),
            sys: tv(usage.ru_stime),
            max_rss_bytes: rss_bytes(usage.ru_maxrss),
            exit_code,
            signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
            switches: switches(&usage),
        })
    }
}

/// Run `argv` once with the terminal's stdin, stdout and stderr, in this process's group, and
/// measure it; a stop ([`interrupt::relay`]) reaches it as SIGTERM; after
/// `timeout` the command is sent SIGTERM, and SIGKILL two seconds later if it is still there
/// (and counted as timed out). Used by the profiler's
/// wrapper, which runs under perf so that perf's own CPU is not the command's.
pub fn run_argv(
    argv: &[String],
    timeout: Option<Duration>,
) -> Result<(Measurement, bool), ExecError> {
    let program = argv.first().cloned().unwrap_or_default();
    let start = Instant::now();
    let mut cmd = Command::new(&program);
    cmd.args(argv.get(1..).unwrap_or_default());
    let (child, tracked) =
        interrupt::spawn(&mut cmd, Group::Inherit, OnStop::Terminate).map_err(|error| {
            ExecError::Spawn {
                program: program.clone(),
                error,
            }
        })?;
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::Mutex::new(false));
    let timed_out = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(limit) = timeout {
        let (done, timed_out) = (done.clone(), timed_out.clone());
        std::thread::spawn(move || {
            let until = Instant::now() + limit;
            while Instant::now() < until {
                std::thread::sleep(Duration::from_millis(10).min(limit));
                if *done.lock().unwrap_or_else(|e| e.into_inner()) {
                    return;
                }
            }
            // Holding the lock, the child cannot have been reaped: the pid is still ours.
            // SIGTERM first; a command that ignores it gets SIGKILL two seconds later.
            for (signal, grace) in [(libc::SIGTERM, 2000), (libc::SIGKILL, 0)] {
                {
                    let reaped = done.lock().unwrap_or_else(|e| e.into_inner());
                    if *reaped {
                        return;
                    }
                    timed_out.store(true, std::sync::atomic::Ordering::SeqCst);
                    send(pid, signal);
                }
                for _ in 0..grace / 10 {
                    std::thread::sleep(Duration::from_millis(10));
                    if *done.lock().unwrap_or_else(|e| e.into_inner()) {
                        return;
                    }
                }
            }
        });
    }
    let (status, usage) = wait4_then(pid, || {
        *done.lock().unwrap_or_else(|e| e.into_inner()) = true;
        // Not reaped yet: the pid is still the child's, until here.
        drop(tracked);
    })
    .map_err(|error| ExecError::Wait {
        command: argv.join(" "),
        error,
    })?;
    let wall = start.elapsed();
    let m = Measurement {
        wall,
        user: tv(usage.ru_utime),
        sys: tv(usage.ru_stime),
        max_rss_bytes: rss_bytes(usage.ru_maxrss),
        exit_code: libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)),
        signal: libc::WIFSIGNALED(status).then(|| libc::WTERMSIG(status)),
        switches: switches(&usage),
    };
    Ok((m, timed_out.load(std::sync::atomic::Ordering::SeqCst)))
}

/// Voluntary and involuntary context switches.
fn switches(u: &libc::rusage) -> (u64, u64) {
    (u.ru_nvcsw.max(0) as u64, u.ru_nivcsw.max(0) as u64)
}

/// Wait for `pid` without reaping it, run `mark` (under which a killer may no longer signal),
/// then reap it and read its rusage.
fn wait4_then(pid: u32, mark: impl FnOnce()) -> std::io::Result<(libc::c_int, libc::rusage)> {
    wait_exited(pid)?;
    mark();
    wait4(pid)
}

#[allow(unsafe_code)]
pub(crate) fn wait_exited(pid: u32) -> std::io::Result<()> {
    loop {
        // SAFETY: an all-zero siginfo_t is valid; waitid writes into it. WNOWAIT leaves the
        // child waitable, so wait4 below still gets its rusage.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: the pointer is to a live local; `pid` is our own unreaped child.
        let r = unsafe {
            libc::waitid(
                libc::P_PID,
                pid as libc::id_t,
                &mut info,
                libc::WEXITED | libc::WNOWAIT,
            )
        };
        if r == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Has the child `pid` exited (not yet reaped)? False on any error.
#[allow(unsafe_code)]
pub(crate) fn has_exited(pid: u32) -> bool {
    // SAFETY: as in wait_exited; WNOHANG returns at once, with si_pid 0 while it runs.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: the pointer is to a live local; `pid` is our own unreaped child.
    let r = unsafe {
        libc::waitid(
            libc::P_PID,
            pid as libc::id_t,
            &mut info,
            libc::WEXITED | libc::WNOWAIT | libc::WNOHANG,
        )
    };
    // SAFETY: waitid filled `info` (or left it zeroed).
    r == 0 && unsafe { info.si_pid() } != 0
}

#[allow(unsafe_code)]
fn send(pid: u32, signal: libc::c_int) {
    // SAFETY: kill has no memory effects; the caller guarantees the pid is our unreaped child.
    unsafe {
        libc::kill(pid as libc::pid_t, signal);
    }
}

fn tv(t: libc::timeval) -> Duration {
    Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
}

/// Linux reports `ru_maxrss` in KiB, macOS in bytes.
fn rss_bytes(v: libc::c_long) -> u64 {
    let v = v.max(0) as u64;
    if cfg!(target_os = "macos") {
        v
    } else {
        v * 1024
    }
}

#[allow(unsafe_code)]
fn wait4(pid: u32) -> std::io::Result<(libc::c_int, libc::rusage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain old data; all-zero is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers are to live, writable locals of the right types; `pid` is our
        // own child, not yet reaped.
        let r = unsafe { libc::wait4(pid as libc::pid_t, &mut status, 0, &mut usage) };
        if r >= 0 {
            return Ok((status, usage));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_real_process() {
        let mut e = SystemExecutor;
        let m = e.execute("sh -c 'exit 0'", &Launch::Direct, false).unwrap();
        assert_eq!(m.exit_code, Some(0));
        assert!(m.max_rss_bytes > 0);
        let m = e
            .execute("exit 4", &Launch::Shell("sh".into()), false)
            .unwrap();
        assert_eq!(m.exit_code, Some(4));
    }

    #[test]
    fn signals_are_reported() {
        let mut e = SystemExecutor;
        let m = e
            .execute("kill -9 $$", &Launch::Shell("sh".into()), false)
            .unwrap();
        assert_eq!((m.exit_code, m.signal), (None, Some(9)));
    }

    #[test]
    fn a_timeout_terminates_and_then_kills() {
        let argv = |s: &str| -> Vec<String> { s.split(' ').map(str::to_string).collect() };
        let (m, timed_out) = run_argv(&argv("sleep 5"), Some(Duration::from_millis(100))).unwrap();
        assert!(timed_out);
        assert_eq!(m.signal, Some(libc::SIGTERM));
        // A command that ignores SIGTERM is killed after the grace period.
        let ignores = vec![
            "sh".to_string(),
            "-c".into(),
            "trap '' TERM; sleep 3; sleep 3".into(),
        ];
        let (m, timed_out) = run_argv(&ignores, Some(Duration::from_millis(100))).unwrap();
        assert!(timed_out);
        assert_eq!(m.signal, Some(libc::SIGKILL));
        assert!(m.wall < Duration::from_secs(3), "{:?}", m.wall);
        let (m, timed_out) = run_argv(&argv("true"), Some(Duration::from_secs(5))).unwrap();
        assert!(!timed_out);
        assert_eq!(m.exit_code, Some(0));
    }

    #[test]
    fn missing_program_is_a_spawn_error() {
        let mut e = SystemExecutor;
        let err = e
            .execute("no-such-program-perflab", &Launch::Direct, false)
            .unwrap_err();
        assert!(err
            .to_string()
            .starts_with("cannot start \"no-such-program-perflab\""));
    }
}
