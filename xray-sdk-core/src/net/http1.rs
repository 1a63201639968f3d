//! A minimal HTTP/1.1 client for the plain-HTTP endpoints the SDK talks to: the daemon's sampling API and the
//! metadata services of the platforms it runs on.
//!
//! These endpoints are link-local or loopback, speak plain HTTP and take a handful of fixed requests, so they need
//! no general-purpose client: this one connects with a timeout, sends one request with `Connection: close`, and
//! reads a response framed by `Content-Length`, chunked encoding or the end of the stream, within one overall
//! deadline and a size limit. Everything it reads is treated as untrusted. It runs on background threads only,
//! never on a request path.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::config::Endpoint;

/// The largest response accepted, headers and body.
const MAX_RESPONSE: usize = 4 << 20;
/// The largest header block accepted.
const MAX_HEADERS: usize = 16 << 10;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HttpError {
    /// The address could not be resolved or connected to.
    #[error("cannot connect: {0}")]
    Connect(#[source] std::io::Error),
    /// No complete answer within the timeout.
    #[error("no answer in time")]
    Timeout,
    /// The connection failed while talking.
    #[error("I/O error: {0}")]
    Io(#[source] std::io::Error),
    /// The answer is not well-formed HTTP, or the request could not be written as HTTP.
    #[error("not valid HTTP: {0}")]
    Malformed(String),
}

/// A request body and its media type.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Body<'a> {
    pub(crate) content_type: &'a str,
    pub(crate) bytes: &'a [u8],
}

/// Sends requests to one endpoint, each on its own connection.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Client {
    /// A client for `endpoint`; each request, from connecting to the last byte read, takes at most `timeout`.
    pub(crate) fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Client { endpoint, timeout }
    }

    /// Sends `method path` with extra `headers` and an optional `body`, and reads the whole response.
    /// Header names and values that could break the request's framing (line breaks) are refused.
    pub(crate) fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Response, HttpError> {
        let request = self.request_bytes(method, path, headers, body)?;
        // A timeout too long for the clock means no deadline.
        let deadline = Instant::now().checked_add(self.timeout);
        let addr: SocketAddr = self.endpoint.resolve().map_err(HttpError::Connect)?;
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            if e.kind() == ErrorKind::TimedOut {
                HttpError::Timeout
            } else {
                HttpError::Connect(e)
            }
        })?;
        let _ = stream.set_nodelay(true);
        stream
            .set_write_timeout(Some(remaining(deadline)?))
            .map_err(HttpError::Io)?;
        stream.write_all(&request).map_err(io_error)?;

        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(resp) = parse_response(&buf, false)? {
                return Ok(resp);
            }
            stream
                .set_read_timeout(Some(remaining(deadline)?))
                .map_err(HttpError::Io)?;
            let n = match stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            if n == 0 {
                return match parse_response(&buf, true)? {
                    Some(resp) => Ok(resp),
                    None => Err(malformed("the response ended early")),
                };
            }
            if buf.len() + n > MAX_RESPONSE {
                return Err(HttpError::Malformed(format!(
                    "the response is larger than {MAX_RESPONSE} bytes"
                )));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }

    fn request_bytes(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Body<'_>>,
    ) -> Result<Vec<u8>, HttpError> {
        let unsafe_text = |t: &str| t.bytes().any(|b| b == b'\r' || b == b'\n');
        if unsafe_text(method) || unsafe_text(path) || path.contains(' ') {
            return Err(malformed("the request line holds a space or a line break"));
        }
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: xray-sdk-rust/{version}\r\n",
            host = self.endpoint,
            version = env!("CARGO_PKG_VERSION"),
        );
        for (name, value) in headers {
            if unsafe_text(name) || unsafe_text(value) || name.contains(':') {
                return Err(malformed("a header holds a line break"));
            }
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        let bytes = body.map(|b| b.bytes).unwrap_or_default();
        if let Some(body) = body {
            request.push_str("Content-Type: ");
            request.push_str(body.content_type);
            request.push_str("\r\n");
        }
        if body.is_some() || method != "GET" {
            request.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
        }
        request.push_str("Connection: close\r\n\r\n");
        let mut request = request.into_bytes();
        request.extend_from_slice(bytes);
        Ok(request)
    }
}

fn remaining(deadline: Option<Instant>) -> Result<Duration, HttpError> {
    let Some(deadline) = deadline else {
        return Ok(Duration::from_secs(u64::from(u32::MAX)));
    };
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(HttpError::Timeout)
    } else {
        Ok(left)
    }
}

fn io_error(e: std::io::Error) -> HttpError {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => HttpError::Timeout,
        _ => HttpError::Io(e),
    }
}

/// A complete response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Response {
    /// The start of the body, as text, for error messages.
    pub(crate) fn snippet(&self) -> String {
        String::from_utf8_lossy(&self.body)
            .chars()
            .take(200)
            .collect()
    }
}

fn malformed(what: &str) -> HttpError {
    HttpError::Malformed(what.to_owned())
}

/// Parses `buf` as a response: `Ok(None)` while it is incomplete; `eof` says the stream has ended.
pub(crate) fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, HttpError> {
    let Some(head_end) = find(buf, b"\r\n\r\n") else {
        if buf.len() > MAX_HEADERS {
            return Err(malformed("the response headers are too long"));
        }
        return Ok(None);
    };
    if head_end > MAX_HEADERS {
        return Err(malformed("the response headers are too long"));
    }
    let head =
        std::str::from_utf8(&buf[..head_end]).map_err(|_| malformed("the headers are not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.splitn(3, ' ');
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/1.") {
        return Err(malformed("not an HTTP/1.x response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|s| (100..600).contains(s))
        .ok_or_else(|| malformed("no status code"))?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(malformed("a header line has no ':'"));
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            let len = value
                .parse()
                .map_err(|_| malformed("Content-Length is not a number"))?;
            if content_length.is_some_and(|l| l != len) {
                return Err(malformed("conflicting Content-Length headers"));
            }
            content_length = Some(len);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = value
                .rsplit(',')
                .next()
                .is_some_and(|v| v.trim().eq_ignore_ascii_case("chunked"));
        }
    }
    let body = &buf[head_end + 4..];
    let body = if chunked {
        match dechunk(body)? {
            Some(b) => b,
            None if eof => return Err(malformed("the chunked body ended early")),
            None => return Ok(None),
        }
    } else if let Some(len) = content_length {
        if body.len() < len {
            if eof {
                return Err(malformed("the body is shorter than its Content-Length"));
            }
            return Ok(None);
        }
        body[..len].to_vec()
    } else if eof {
        body.to_vec()
    } else {
        return Ok(None);
    };
    Ok(Some(Response { status, body }))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Decodes a chunked body: `Ok(None)` while incomplete.
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, HttpError> {
    let mut out = Vec::new();
    loop {
        let Some(line_end) = find(data, b"\r\n") else {
            return Ok(None);
        };
        let line = std::str::from_utf8(&data[..line_end])
            .map_err(|_| malformed("a chunk size is not text"))?;
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| malformed("a chunk size is not hexadecimal"))?;
        data = &data[line_end + 2..];
        if size == 0 {
            // Trailers, if any, end with an empty line; they are not needed.
            return Ok(Some(out));
        }
        if size > MAX_RESPONSE {
            return Err(malformed("a chunk is too large"));
        }
        if data.len() < size + 2 {
            return Ok(None);
        }
        out.extend_from_slice(&data[..size]);
        if &data[size..size + 2] != b"\r\n" {
            return Err(malformed("a chunk does not end with CRLF"));
        }
        data = &data[size + 2..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_framed_and_header_injection_is_refused() {
        let client = Client::new(
            Endpoint {
                host: "127.0.0.1".into(),
                port: 80,
            },
            Duration::from_secs(1),
        );
        let put = client
            .request_bytes("PUT", "/latest/api/token", &[("X-Ttl", "60")], None)
            .unwrap();
        let put = String::from_utf8(put).unwrap();
        assert!(put.starts_with("PUT /latest/api/token HTTP/1.1\r\nHost: 127.0.0.1:80\r\n"));
        assert!(put.ends_with("X-Ttl: 60\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
        let body = Body {
            content_type: "application/json",
            bytes: b"{}",
        };
        let post = client.request_bytes("POST", "/x", &[], Some(body)).unwrap();
        assert!(post.ends_with(
            b"Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
        ));
        let get = client.request_bytes("GET", "/x", &[], None).unwrap();
        assert!(!String::from_utf8(get).unwrap().contains("Content-Length"));
        for (path, header) in [("/x", "a\r\nEvil: 1"), ("/x y", "a"), ("/x\n", "a")] {
            assert!(
                client
                    .request_bytes("GET", path, &[("Token", header)], None)
                    .is_err()
            );
        }
    }

    #[test]
    fn content_length_framing() {
        let full = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
        assert_eq!(
            parse_response(&full[..full.len() - 1], false).unwrap(),
            None
        );
        assert_eq!(
            parse_response(full, false).unwrap(),
            Some(Response {
                status: 200,
                body: b"{}".to_vec()
            })
        );
        assert!(parse_response(&full[..full.len() - 1], true).is_err());
    }

    #[test]
    fn chunked_framing() {
        let full = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        let resp = parse_response(full, false).unwrap().unwrap();
        assert_eq!(resp.body, b"{\"a\":1}");
        assert_eq!(parse_response(&full[..60], false).unwrap(), None);
        assert!(
            parse_response(
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
                false
            )
            .is_err()
        );
        // A chunk larger than any answer, even one announced as the largest number, is refused at once.
        for size in ["ffffffffffffffff", "ffffffff"] {
            let head = format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{size}\r\nab");
            assert!(parse_response(head.as_bytes(), false).is_err(), "{size}");
        }
        // A chunk not followed by CRLF is refused.
        let bad_end = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n";
        assert!(parse_response(bad_end, false).is_err());
    }

    #[test]
    fn close_framing_and_garbage() {
        let resp = parse_response(b"HTTP/1.0 500 Oops\r\n\r\nbad", true)
            .unwrap()
            .unwrap();
        assert_eq!((resp.status, resp.snippet().as_str()), (500, "bad"));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
        assert!(parse_response(&[b'x'; MAX_HEADERS + 1], false).is_err());
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n", false).unwrap(), None);
    }
}
