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
}

impl Service {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
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
    }
}

/// Start `command` with `sh -c` and, with a port, wait up to `ready_within` for 127.0.0.1:port
/// to accept a connection.
///
/// # Errors
/// [`ExecError::Spawn`]; [`ExecError::NotReady`] when it exits first or the port stays closed.
pub fn spawn_service(
    command: &str,
    port: Option<u16>,
    ready_within: Duration,
) -> Result<Service, ExecError> {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let (child, tracked) =
        interrupt::spawn(&mut cmd, Group::Own, OnStop::Keep).map_err(|error| ExecError::Spawn {
            program: command.into(),
            error,
        })?;
    let mut service = Service {
        child,
        tracked: Some(tracked),
    };
    let Some(p) = port else {
        return Ok(service);
    };
    let deadline = Instant::now() + ready_within;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
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
