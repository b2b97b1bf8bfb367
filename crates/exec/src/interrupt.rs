//! The one owner of signals and child processes.
//!
//! perflab's children run in their own process groups, so a terminal's Ctrl-C (SIGINT to the
//! foreground group) reaches perflab alone. The handler records the stop *first* and only then
//! passes it on to the children that asked for it: a measuring loop that sees its child die of
//! SIGINT always finds the stop already set, so it keeps what was measured instead of calling
//! the run a failure. A second signal kills every child's group and exits with 130 at once.
//!
//! Every child also gets a parent-death signal (`PR_SET_PDEATHSIG`, SIGKILL), so a server
//! started with `load --spawn` or a profiler does not outlive a `kill -9` of perflab. The
//! signal is tied to the thread that spawned the child: spawn from a thread that outlives it
//! (every caller in perflab spawns and waits on one thread).
//!
//! The handler runs on its own thread (the `ctrlc` crate turns the signal into a wake-up), so
//! it may lock the registry and print; nothing here runs in signal context.

use std::process::{Child, Command, ExitStatus, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock};

static STOP: AtomicBool = AtomicBool::new(false);
static CHILDREN: Mutex<Vec<Entry>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<Mode> = OnceLock::new();

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// perflab itself: the first signal stops, the second exits.
    Stop,
    /// The profiler's wrapper: every signal is passed on to the command, nothing exits.
    Relay,
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    pid: u32,
    group: bool,
    on_stop: OnStop,
}

/// What a stop does to a tracked child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnStop {
    /// Send it SIGINT (a timed command, a harness, perf: they end and keep what they have).
    Interrupt,
    /// Send it SIGTERM (the wrapper's command, as perf does to its workload).
    Terminate,
    /// Leave it running until its owner stops it (a server under load: in-flight requests
    /// finish within the grace period).
    Keep,
}

/// Where a child runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Its own process group: the terminal's signals reach perflab only, which passes them on.
    Own,
    /// Its parent's group (the wrapper's command, which must see what perf's group sees).
    Inherit,
}

/// The process-wide stop: set by the first SIGINT, SIGTERM or SIGHUP. Copy it into whatever
/// measures; it never resets.
#[derive(Debug, Clone, Copy)]
pub struct Stop(&'static AtomicBool);

impl Stop {
    /// Install the handler (once per process) and return the stop. If no handler can be
    /// installed, signals act as they would without perflab (the process dies).
    pub fn install() -> Stop {
        install(Mode::Stop);
        Stop(&STOP)
    }

    /// Has a stop been asked for?
    pub fn is_set(self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    /// The flag itself, for the libraries that take one (`load`, `web`, the timing loop).
    pub fn flag(self) -> &'static AtomicBool {
        self.0
    }
}

/// Has a stop been asked for (without installing the handler)?
pub fn requested() -> bool {
    STOP.load(Ordering::SeqCst)
}

/// In the profiler's wrapper: pass every SIGINT, SIGTERM or SIGHUP on to the tracked command
/// (as SIGTERM, what perf sends its workload) and never exit, so the wrapper still reports.
pub fn relay() {
    install(Mode::Relay);
}

fn install(mode: Mode) {
    INSTALLED.get_or_init(|| {
        let _ = ctrlc::set_handler(move || on_signal(mode));
        mode
    });
}

fn on_signal(mode: Mode) {
    let again = STOP.swap(true, Ordering::SeqCst);
    let children: Vec<Entry> = CHILDREN.lock().unwrap_or_else(|e| e.into_inner()).clone();
    if again && mode == Mode::Stop {
        for c in &children {
            signal(c.pid, c.group, libc::SIGKILL);
        }
        eprintln!("perflab: interrupted again: exiting now");
        std::process::exit(130);
    }
    for c in &children {
        match (mode, c.on_stop) {
            (Mode::Relay, _) | (_, OnStop::Terminate) => signal(c.pid, c.group, libc::SIGTERM),
            (_, OnStop::Interrupt) => signal(c.pid, c.group, libc::SIGINT),
            (_, OnStop::Keep) => {}
        }
    }
}

/// Make `cmd` a child of perflab's: in the chosen group, and killed if perflab dies.
pub fn adopt(cmd: &mut Command, group: Group) -> &mut Command {
    adopt_with(cmd, group, libc::SIGKILL)
}

/// [`adopt`], with the signal the child gets when perflab dies: a supervisor gets SIGTERM, so
/// that it can take its whole group with it.
pub fn adopt_with(cmd: &mut Command, group: Group, death_signal: i32) -> &mut Command {
    use std::os::unix::process::CommandExt as _;
    if group == Group::Own {
        cmd.process_group(0);
    }
    let parent = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and calls only the
    // async-signal-safe prctl and getppid.
    #[allow(unsafe_code)]
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, death_signal as libc::c_ulong) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // perflab died between the fork and the prctl: the signal will never come.
            if libc::getppid() as u32 != parent {
                return Err(std::io::Error::other("perflab exited"));
            }
            Ok(())
        });
    }
    cmd
}

/// A registered child: a stop reaches it as its [`OnStop`] says, until this is dropped. Drop it
/// before the child is reaped (see [`wait`]) so a recycled pid is never signalled.
#[derive(Debug)]
pub struct Tracked {
    pid: u32,
}

impl Tracked {
    /// Register `pid` (a group leader when `group` is [`Group::Own`]). A stop that came before
    /// is passed on at once, so a child spawned after Ctrl-C does not run to its end.
    pub fn new(pid: u32, group: Group, on_stop: OnStop) -> Tracked {
        let entry = Entry {
            pid,
            group: group == Group::Own,
            on_stop,
        };
        CHILDREN
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
        if STOP.load(Ordering::SeqCst) && INSTALLED.get() == Some(&Mode::Stop) {
            match on_stop {
                OnStop::Interrupt => signal(pid, entry.group, libc::SIGINT),
                OnStop::Terminate => signal(pid, entry.group, libc::SIGTERM),
                OnStop::Keep => {}
            }
        }
        Tracked { pid }
    }

    /// Send `sig` to the child (its whole group when it has one). Only while tracked, so
    /// before it is reaped: the pid is still the child's.
    pub fn signal(&self, sig: i32) {
        let group = (CHILDREN.lock().unwrap_or_else(|e| e.into_inner()))
            .iter()
            .find(|e| e.pid == self.pid)
            .is_some_and(|e| e.group);
        signal(self.pid, group, sig);
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        let mut children = CHILDREN.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(i) = children.iter().position(|e| e.pid == self.pid) {
            children.swap_remove(i);
        }
    }
}

/// Spawn `cmd` as an adopted, tracked child.
///
/// # Errors
/// The spawn's own error.
pub fn spawn(
    cmd: &mut Command,
    group: Group,
    on_stop: OnStop,
) -> std::io::Result<(Child, Tracked)> {
    let child = adopt(cmd, group).spawn()?;
    let tracked = Tracked::new(child.id(), group, on_stop);
    Ok((child, tracked))
}

/// Wait for a tracked child: untrack it once it has exited but before it is reaped.
///
/// # Errors
/// The wait's own error.
pub fn wait(child: &mut Child, tracked: Tracked) -> std::io::Result<ExitStatus> {
    crate::sys::wait_exited(child.id())?;
    drop(tracked);
    child.wait()
}

/// [`wait`], collecting the piped stdout and stderr (as `Command::output` does).
///
/// # Errors
/// The wait's own error.
pub fn output(mut child: Child, tracked: Tracked) -> std::io::Result<Output> {
    use std::io::Read as _;
    let mut err_pipe = child.stderr.take();
    let errs = std::thread::spawn(move || {
        let mut s = Vec::new();
        if let Some(p) = err_pipe.as_mut() {
            let _ = p.read_to_end(&mut s);
        }
        s
    });
    let mut stdout = Vec::new();
    if let Some(mut p) = child.stdout.take() {
        p.read_to_end(&mut stdout)?;
    }
    let status = wait(&mut child, tracked)?;
    let stderr = errs.join().unwrap_or_default();
    Ok(Output {
        status,
        stdout,
        stderr,
    })
}

/// The supervisor of a service (`perflab supervise -- CMD`, which `load --spawn` and `[load]
/// server` start): it leads the service's process group and runs `argv` in it. A parent-death
/// signal reaches only a direct child, so a server that `go run` or a shell started would
/// outlive a `kill -9` of perflab; the supervisor gets SIGTERM when perflab dies, and takes the
/// whole group with it (SIGTERM, SIGKILL two seconds later). Returns `argv`'s exit code.
///
/// # Errors
/// `argv` cannot start.
pub fn supervise(argv: &[String]) -> std::io::Result<i32> {
    static CHILD: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    static ENDING: AtomicBool = AtomicBool::new(false);
    let _ = ctrlc::set_handler(|| {
        if ENDING.swap(true, Ordering::SeqCst) {
            return; // our own group-wide SIGTERM coming back
        }
        // SAFETY: kill has no memory effects; 0 is this process's own group.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(0, libc::SIGTERM);
        }
        let child = CHILD.load(Ordering::SeqCst);
        for _ in 0..200 {
            if child == 0 || !std::path::Path::new(&format!("/proc/{child}")).exists() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // SAFETY: as above; this ends the supervisor too.
        #[allow(unsafe_code)]
        unsafe {
            libc::kill(0, libc::SIGKILL);
        }
    });
    let program = argv
        .first()
        .ok_or_else(|| std::io::Error::other("no command"))?;
    let mut child = Command::new(program).args(&argv[1..]).spawn()?;
    CHILD.store(child.id(), Ordering::SeqCst);
    let status = child.wait()?;
    use std::os::unix::process::ExitStatusExt as _;
    Ok(status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

#[allow(unsafe_code)]
fn signal(pid: u32, group: bool, sig: i32) {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return;
    };
    if pid <= 0 {
        return;
    }
    // SAFETY: kill has no memory effects; the pid is a tracked, unreaped child (or its group).
    unsafe {
        libc::kill(if group { -pid } else { pid }, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Stdio;

    #[test]
    fn an_own_group_child_is_its_group_leader_and_can_be_stopped_with_its_children() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & sleep 30; wait"])
            .stdin(Stdio::null());
        let (mut child, tracked) = spawn(&mut cmd, Group::Own, OnStop::Interrupt).unwrap();
        let pid = child.id();
        std::thread::sleep(std::time::Duration::from_millis(100));
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
        // Field 5 (after the parenthesised name) is the process group.
        let after = stat.rsplit_once(')').unwrap().1;
        let pgrp: u32 = after.split_whitespace().nth(2).unwrap().parse().unwrap();
        assert_eq!(pgrp, pid);
        tracked.signal(libc::SIGKILL);
        let status = wait(&mut child, tracked).unwrap();
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(libc::SIGKILL));
        // The background sleep was in the group too: no process is left in it.
        std::thread::sleep(std::time::Duration::from_millis(100));
        let left = std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| std::fs::read_to_string(e.path().join("stat")).ok())
            .filter(|s| {
                // State (field 3) and group (field 5); a zombie waits for init to reap it.
                let after: Vec<&str> = s
                    .rsplit_once(')')
                    .map(|(_, a)| a.split_whitespace().collect())
                    .unwrap_or_default();
                after.first() != Some(&"Z") && after.get(2) == Some(&pid.to_string().as_str())
            })
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn untracked_children_are_not_in_the_registry() {
        let mut cmd = Command::new("true");
        let (mut child, tracked) = spawn(&mut cmd, Group::Own, OnStop::Keep).unwrap();
        let pid = child.id();
        assert!(CHILDREN.lock().unwrap().iter().any(|e| e.pid == pid));
        wait(&mut child, tracked).unwrap();
        assert!(!CHILDREN.lock().unwrap().iter().any(|e| e.pid == pid));
    }
}
