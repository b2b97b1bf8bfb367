//! `perflab profile --pprof-url`: a live Go server's profile from `net/http/pprof`
//! (`/debug/pprof/profile?seconds=10`, `/heap`, `/goroutine`, `/block`, `/mutex`). One plain
//! HTTP/1.1 GET with `Connection: close`; the body is read whole (bounded) and handed to the
//! pprof reader. https is not spoken here: fetch with curl and use `--input`.

use std::io::{Read as _, Write as _};
use std::net::{TcpStream, ToSocketAddrs as _};
use std::time::Duration;

use crate::ProfileError;

/// The largest body read: far above any real profile.
const MAX_BODY: u64 = 256 << 20;

fn fail(url: &str, message: impl Into<String>) -> ProfileError {
    ProfileError::malformed(url, None, message.into())
}

/// GET `url` (`http://host[:port]/path?query`) and return the body; `timeout` bounds the whole
/// exchange (a CPU profile's `seconds` plus some).
///
/// # Errors
/// A URL that is not http://, an unreachable server, a status other than 200, a body cut short.
pub fn fetch(url: &str, timeout: Duration) -> Result<Vec<u8>, ProfileError> {
    let rest = url.strip_prefix("http://").ok_or_else(|| {
        fail(
            url,
            "give an http:// URL (for https, fetch with curl and use --input)",
        )
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    if authority.is_empty() || path.contains([' ', '\r', '\n']) {
        return Err(fail(url, "not a valid URL"));
    }
    let host_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        && !authority.ends_with(']')
    {
        authority.to_string()
    } else {
        format!("{authority}:80")
    };
    let addr = host_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| fail(url, format!("cannot resolve {authority}")))?;
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(10))
        .map_err(|e| fail(url, format!("cannot connect: {e}")))?;
    let _ = stream.set_read_timeout(Some(timeout));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nUser-Agent: perflab\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| fail(url, format!("cannot send the request: {e}")))?;
    let mut raw = Vec::new();
    stream
        .take(MAX_BODY)
        .read_to_end(&mut raw)
        .map_err(|e| fail(url, format!("reading the answer: {e}")))?;
    let head_end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| fail(url, "the answer has no HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..head_end]).into_owned();
    let body = &raw[head_end + 4..];
    let status = head.split_whitespace().nth(1).unwrap_or("");
    if status != "200" {
        let said = String::from_utf8_lossy(&body[..body.len().min(200)])
            .trim()
            .replace('\n', " ");
        return Err(fail(url, format!("the server answered {status}: {said}")));
    }
    let header = |name: &str| {
        head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_ascii_lowercase())
        })
    };
    if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        return dechunk(body).ok_or_else(|| fail(url, "a chunked body cut short"));
    }
    if let Some(n) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
        if body.len() < n {
            return Err(fail(
                url,
                format!("the body is cut short ({} of {n} bytes)", body.len()),
            ));
        }
        return Ok(body[..n].to_vec());
    }
    Ok(body.to_vec())
}

fn dechunk(mut body: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = body.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&body[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        body = &body[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(body.get(..size)?);
        body = body.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_bodies_are_joined_and_bad_urls_refused() {
        assert_eq!(
            dechunk(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap(),
            b"abcde"
        );
        assert!(dechunk(b"5\r\nab").is_none());
        let e = fetch("https://example.com/x", Duration::from_secs(1)).unwrap_err();
        assert!(e.to_string().contains("http://"), "{e}");
    }
}
