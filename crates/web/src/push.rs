//! `perflab push`: upload a result document to a `perflab serve` from CI.

/// Why an upload to a server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The server URL is not `http://host:port`.
    #[error("--server {0:?}: give it as http://HOST:PORT (https: put a TLS proxy in front)")]
    Url(String),
    /// The connection failed.
    #[error("cannot reach {server}: {error}")]
    Connect {
        /// The server.
        server: String,
        /// The OS error.
        error: std::io::Error,
    },
    /// The server refused the run.
    #[error("{server} answered {status}: {message}")]
    Refused {
        /// The server.
        server: String,
        /// HTTP status.
        status: u16,
        /// Its error message.
        message: String,
    },
}

/// Upload a result document to a `perflab serve` (plain HTTP/1.1, one request); returns the
/// stored run's id.
///
/// # Errors
/// [`PushError`].
pub fn push(server: &str, token: &str, document: &str) -> Result<String, PushError> {
    use std::io::{Read as _, Write as _};
    let rest = server
        .strip_prefix("http://")
        .ok_or_else(|| PushError::Url(server.into()))?;
    let host = rest.trim_end_matches('/').split('/').next().unwrap_or("");
    let addr = std::net::ToSocketAddrs::to_socket_addrs(host)
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| PushError::Url(server.into()))?;
    let connect = |error| PushError::Connect {
        server: server.into(),
        error,
    };
    let timeout = std::time::Duration::from_secs(30);
    let mut s = std::net::TcpStream::connect_timeout(&addr, timeout).map_err(connect)?;
    s.set_read_timeout(Some(timeout)).map_err(connect)?;
    let head = format!(
        "POST /api/v1/runs HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        document.len()
    );
    s.write_all(head.as_bytes()).map_err(connect)?;
    s.write_all(document.as_bytes()).map_err(connect)?;
    let mut answer = Vec::new();
    s.take(1 << 20).read_to_end(&mut answer).map_err(connect)?;
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    match (status, json["id"].as_str()) {
        (201, Some(id)) => Ok(id.to_string()),
        _ => Err(PushError::Refused {
            server: server.into(),
            status,
            message: json["error"].as_str().unwrap_or(body.trim()).to_string(),
        }),
    }
}
