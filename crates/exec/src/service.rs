//! A server started for a load test (`perflab load --spawn`): run through `sh -c`, waited for
//! until its port accepts connections, and stopped when dropped, so it never outlives the test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::interrupt::{self, Group, OnStop, Tracked};
use crate::ExecError;

/// A running service in its own process group; dropping it stops the whole group (SIGTERM,
/// SIGKILL two seconds later), so the server `go run` or a shell script started goes too.
/// A Ctrl-C leaves it running until the test has ended (in-flight requests finish); a second
/// Ctrl-C or perflab's death kills it.
#[derive(Debug)]
pub struct Service {
    child: Child,
    tracked: Option<Tracked>,
    listener: Option<u32>,
}

impl Service {
    /// The process that serves: the one of its group listening on the port it was waited on
    /// (`go run` and shell wrappers keep the server as their child), else the started one.
    pub fn pid(&self) -> u32 {
        self.listener.unwrap_or(self.child.id())
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        // try_wait reaps: untrack first so a recycled pid is never signalled.
        if !crate::sys::has_exited(self.child.id()) {
            return None;
        }
        self.tracked.take();
        self.child.try_wait().ok().flatten()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let Some(tracked) = self.tracked.take() else {
            return;
        };
        tracked.signal(libc::SIGTERM);
        let until = Instant::now() + Duration::from_secs(2);
        while Instant::now() < until && !crate::sys::has_exited(self.child.id()) {
            std::thread::sleep(Duration::from_millis(10));
        }
        // The leader may have gone while a child of it stays: the group gets SIGKILL anyway.
        tracked.signal(libc::SIGKILL);
        drop(tracked);
        let _ = self.child.wait();
        // A listener that was the wrapper's child is nobody's to reap here: wait (briefly) until
        // it is a zombie or gone, so its port is closed when the drop returns.
        if let Some(pid) = self.listener.filter(|&p| p != self.child.id()) {
            let until = Instant::now() + Duration::from_secs(2);
            while Instant::now() < until && alive(pid) {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

/// Whether `pid` still runs (not a zombie): its sockets are open until it is not.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !matches!(
            stat.rsplit_once(')')
                .and_then(|(_, rest)| rest.split_whitespace().next()),
            Some("Z" | "X") | None
        )
    })
}

/// Start `command` with `sh -c` under `supervisor` (the words that run
/// [`interrupt::supervise`]: `perflab supervise --`; empty: none) and, with a port, wait up to
/// `ready_within` for 127.0.0.1:port to accept a connection.
///
/// # Errors
/// [`ExecError::Spawn`]; [`ExecError::NotReady`] when it exits first or the port stays closed.
pub fn spawn_service(
    command: &str,
    supervisor: &[String],
    port: Option<u16>,
    ready_within: Duration,
) -> Result<Service, ExecError> {
    let mut cmd = match supervisor {
        [program, rest @ ..] => {
            let mut c = Command::new(program);
            c.args(rest).arg("sh");
            c
        }
        [] => Command::new("sh"),
    };
    cmd.arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    // The supervisor gets SIGTERM when perflab dies, and stops its whole group.
    let death = if supervisor.is_empty() {
        libc::SIGKILL
    } else {
        libc::SIGTERM
    };
    let spawned = interrupt::adopt_with(&mut cmd, Group::Own, death).spawn();
    let child = spawned.map_err(|error| ExecError::Spawn {
        program: command.into(),
        error,
    })?;
    let tracked = Tracked::new(child.id(), Group::Own, OnStop::Keep);
    let mut service = Service {
        child,
        tracked: Some(tracked),
        listener: None,
    };
    let Some(p) = port else {
        return Ok(service);
    };
    let deadline = Instant::now() + ready_within;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
            service.listener = listening_pid(p, service.child.id());
            return Ok(service);
        }
        if let Some(status) = service.exited() {
            return Err(ExecError::NotReady {
                command: command.into(),
                reason: format!("it exited ({status}) before port {p} opened"),
            });
        }
        if Instant::now() > deadline {
            return Err(ExecError::NotReady {
                command: command.into(),
                reason: format!("port {p} did not open within {}s", ready_within.as_secs()),
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The process in process group `group` with a socket listening on TCP `port` (IPv4 or IPv6),
/// from /proc: None when it cannot be told.
fn listening_pid(port: u16, group: u32) -> Option<u32> {
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state), Some(inode)) = (f.get(1), f.get(3), f.get(9)) else {
                continue;
            };
            let listening = *state == "0A";
            let on_port = local
                .rsplit_once(':')
                .and_then(|(_, p)| u16::from_str_radix(p, 16).ok())
                == Some(port);
            if listening && on_port {
                inodes.push(format!("socket:[{inode}]"));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let pgrp = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().nth(2))
            .and_then(|g| g.parse::<u32>().ok());
        if pgrp != Some(group) {
            continue;
        }
        let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            let target = std::fs::read_link(fd.path()).unwrap_or_default();
            if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                return Some(pid);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_served_pid_is_the_listener_inside_a_wrapper() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        // A shell that keeps python as its child, as `go run` keeps the server.
        let cmd =
            format!("sh -c 'python3 -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1; true'");
        let s = spawn_service(&cmd, &[], Some(port), Duration::from_secs(20)).unwrap();
        assert_ne!(s.pid(), s.child.id(), "the listener, not the wrapper");
        let comm = std::fs::read_to_string(format!("/proc/{}/comm", s.pid())).unwrap();
        assert!(comm.starts_with("python"), "{comm}");
        drop(s);
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }
}
