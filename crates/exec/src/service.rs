//! A server started for a load test (`perflab load --spawn`): run through `sh -c`, waited for
//! until its port accepts connections, and stopped when dropped, so it never outlives the test.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::ExecError;

/// A running service; dropping it kills and reaps it.
#[derive(Debug)]
pub struct Service(Child);

impl Service {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
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
    let child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {command}"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|error| ExecError::Spawn {
            program: command.into(),
            error,
        })?;
    let mut service = Service(child);
    let Some(p) = port else {
        return Ok(service);
    };
    let deadline = Instant::now() + ready_within;
    loop {
        if std::net::TcpStream::connect(("127.0.0.1", p)).is_ok() {
            return Ok(service);
        }
        if let Ok(Some(status)) = service.0.try_wait() {
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
