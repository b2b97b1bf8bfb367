//! `perflab push`: upload a result document to a `perflab serve` from CI, over plain HTTP or
//! HTTPS (rustls, the web's roots plus an optional CA file for a team's own certificates).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, ServerName};

/// Why an upload to a server failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PushError {
    /// The server URL is not `http(s)://host[:port]`.
    #[error("--server {0:?}: give it as http://HOST:PORT or https://HOST[:PORT]")]
    Url(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("--ca-file {path}: {message}")]
    Ca {
        /// The file.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// The connection failed.
    #[error("cannot reach {server}: {error}")]
    Connect {
        /// The server.
        server: String,
        /// The OS or TLS error.
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

/// Upload a result document to a `perflab serve` (HTTP/1.1, one request); returns the stored
/// run's id.
///
/// # Errors
/// [`PushError`].
pub fn push(server: &str, token: &str, document: &str) -> Result<String, PushError> {
    push_with_ca(server, token, document, None)
}

/// [`push`], trusting the certificates of `ca_file` (PEM) as well as the web's roots.
///
/// # Errors
/// [`PushError`].
pub fn push_with_ca(
    server: &str,
    token: &str,
    document: &str,
    ca_file: Option<&Path>,
) -> Result<String, PushError> {
    let (status, body) = post(server, Some("/api/v1/runs"), Some(token), document, ca_file)?;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match (status, json["id"].as_str()) {
        (200 | 201, Some(id)) => Ok(id.to_string()),
        _ => Err(PushError::Refused {
            server: server.into(),
            status,
            message: json["error"].as_str().unwrap_or(body.trim()).to_string(),
        }),
    }
}

/// [`push_with_ca`] into one of the server's projects (`POST /api/v1/projects/{project}/runs`).
///
/// # Errors
/// [`PushError`].
pub fn push_to_project(
    server: &str,
    project: &str,
    token: &str,
    document: &str,
    ca_file: Option<&Path>,
) -> Result<String, PushError> {
    let path = format!(
        "/api/v1/projects/{}/runs",
        form_urlencoded::byte_serialize(project.as_bytes()).collect::<String>()
    );
    let (status, body) = post(server, Some(&path), Some(token), document, ca_file)?;
    let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
    match (status, json["id"].as_str()) {
        (200 | 201, Some(id)) => Ok(id.to_string()),
        _ => Err(PushError::Refused {
            server: server.into(),
            status,
            message: json["error"].as_str().unwrap_or(body.trim()).to_string(),
        }),
    }
}

/// POST a JSON `body` to `url` (one HTTP/1.1 request, plain or TLS), at `path` or, when
/// `None`, at the URL's own path; returns the status and the body of the answer.
///
/// # Errors
/// [`PushError::Url`], [`PushError::Ca`], [`PushError::Connect`].
pub(crate) fn post(
    url: &str,
    path: Option<&str>,
    token: Option<&str>,
    body: &str,
    ca_file: Option<&Path>,
) -> Result<(u16, String), PushError> {
    let server = url;
    let bad_url = || PushError::Url(server.into());
    let (tls, rest) = match (
        server.strip_prefix("https://"),
        server.strip_prefix("http://"),
    ) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err(bad_url()),
    };
    let (authority, own_path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let path = path.unwrap_or(own_path);
    // A port is optional: after a bracketed IPv6 address or a name, `:PORT` or the scheme's.
    let (host, with_port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') && p.parse::<u16>().is_ok() => (h, authority.to_string()),
        _ => (
            authority,
            format!("{authority}:{}", if tls { 443 } else { 80 }),
        ),
    };
    if host.is_empty() {
        return Err(bad_url());
    }
    let connect = |error| PushError::Connect {
        server: server.into(),
        error,
    };
    let timeout = Duration::from_secs(30);
    let addrs: Vec<_> = with_port
        .to_socket_addrs()
        .map_err(|_| bad_url())?
        .collect();
    let mut last = std::io::Error::other("the name resolves to no address");
    let mut tcp = None;
    for a in &addrs {
        match TcpStream::connect_timeout(a, timeout) {
            Ok(s) => {
                tcp = Some(s);
                break;
            }
            Err(e) => last = e,
        }
    }
    let tcp = tcp.ok_or_else(|| connect(last))?;
    tcp.set_read_timeout(Some(timeout)).map_err(connect)?;
    tcp.set_write_timeout(Some(timeout)).map_err(connect)?;
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\n{auth}\
Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = if tls {
        let name = ServerName::try_from(host.trim_start_matches('[').trim_end_matches(']'))
            .map_err(|_| bad_url())?
            .to_owned();
        let conn = rustls::ClientConnection::new(client_config(ca_file)?, name)
            .map_err(|e| connect(std::io::Error::other(e)))?;
        exchange(rustls::StreamOwned::new(conn, tcp), &head, body).map_err(connect)?
    } else {
        exchange(tcp, &head, body).map_err(connect)?
    };
    let answer = String::from_utf8_lossy(&answer);
    let status: u16 = answer.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    Ok((status, body.to_string()))
}

/// Send the request and read the answer (at most 1 MiB).
fn exchange(mut s: impl Read + Write, head: &str, body: &str) -> std::io::Result<Vec<u8>> {
    s.write_all(head.as_bytes())?;
    s.write_all(body.as_bytes())?;
    s.flush()?;
    let mut answer = Vec::new();
    match s.take(1 << 20).read_to_end(&mut answer) {
        Ok(_) => Ok(answer),
        // A server that closes without TLS close_notify after a whole answer: keep it.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !answer.is_empty() => Ok(answer),
        Err(e) => Err(e),
    }
}

fn client_config(ca_file: Option<&Path>) -> Result<Arc<rustls::ClientConfig>, PushError> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let bad = |message: String| PushError::Ca {
            path: path.display().to_string(),
            message,
        };
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
            .map_err(|e| bad(e.to_string()))?
            .collect::<Result<_, _>>()
            .map_err(|e| bad(e.to_string()))?;
        if certs.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        for c in certs {
            roots.add(c).map_err(|e| bad(e.to_string()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| PushError::Connect {
            server: String::new(),
            error: std::io::Error::other(e),
        })?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
