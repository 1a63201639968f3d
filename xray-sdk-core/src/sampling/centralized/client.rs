//! A minimal HTTP/1.1 client for the daemon's sampling API: one `POST` with a JSON body per connection.
//!
//! The daemon listens on plain HTTP, usually on loopback, and takes unsigned requests, so two fixed `POST`s need
//! no general-purpose client: this one connects with a timeout, sends `Connection: close`, and reads a response
//! framed by `Content-Length`, chunked encoding or the end of the stream, within one overall deadline and a size
//! limit. Everything it reads is treated as untrusted.

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::PollError;
use crate::config::Endpoint;

/// The largest response accepted, headers and body.
const MAX_RESPONSE: usize = 4 << 20;
/// The largest header block accepted.
const MAX_HEADERS: usize = 16 << 10;

/// Posts JSON bodies to one endpoint.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    endpoint: Endpoint,
    timeout: Duration,
}

impl Client {
    pub(crate) fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Client { endpoint, timeout }
    }

    /// `POST path` with `body`; the body of a `200` response.
    pub(crate) fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, PollError> {
        let deadline = Instant::now() + self.timeout;
        let addr: SocketAddr = self.endpoint.resolve().map_err(PollError::Connect)?;
        let mut stream = TcpStream::connect_timeout(&addr, self.timeout).map_err(|e| {
            if e.kind() == ErrorKind::TimedOut {
                PollError::Timeout
            } else {
                PollError::Connect(e)
            }
        })?;
        let _ = stream.set_nodelay(true);
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: xray-sdk-rust/{version}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {len}\r\n\
             Connection: close\r\n\r\n",
            host = self.endpoint,
            version = env!("CARGO_PKG_VERSION"),
            len = body.len(),
        )
        .into_bytes();
        request.extend_from_slice(body);
        stream
            .set_write_timeout(Some(remaining(deadline)?))
            .map_err(PollError::Io)?;
        stream.write_all(&request).map_err(io_error)?;

        let mut buf = Vec::with_capacity(4096);
        let mut chunk = [0u8; 8192];
        loop {
            if let Some(resp) = parse_response(&buf, false)? {
                return resp.into_body();
            }
            stream
                .set_read_timeout(Some(remaining(deadline)?))
                .map_err(PollError::Io)?;
            let n = match stream.read(&mut chunk) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(io_error(e)),
            };
            if n == 0 {
                return match parse_response(&buf, true)? {
                    Some(resp) => resp.into_body(),
                    None => Err(PollError::Malformed("the response ended early".into())),
                };
            }
            if buf.len() + n > MAX_RESPONSE {
                return Err(PollError::Malformed(format!(
                    "the response is larger than {MAX_RESPONSE} bytes"
                )));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    }
}

fn remaining(deadline: Instant) -> Result<Duration, PollError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        Err(PollError::Timeout)
    } else {
        Ok(left)
    }
}

fn io_error(e: std::io::Error) -> PollError {
    match e.kind() {
        ErrorKind::TimedOut | ErrorKind::WouldBlock => PollError::Timeout,
        _ => PollError::Io(e),
    }
}

/// A complete response.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: Vec<u8>,
}

impl Response {
    fn into_body(self) -> Result<Vec<u8>, PollError> {
        if self.status == 200 {
            Ok(self.body)
        } else {
            let text = String::from_utf8_lossy(&self.body);
            let snippet: String = text.chars().take(200).collect();
            Err(PollError::Status {
                status: self.status,
                body: snippet,
            })
        }
    }
}

fn malformed(what: &str) -> PollError {
    PollError::Malformed(what.to_owned())
}

/// Parses `buf` as a response: `Ok(None)` while it is incomplete; `eof` says the stream has ended.
pub(crate) fn parse_response(buf: &[u8], eof: bool) -> Result<Option<Response>, PollError> {
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
fn dechunk(mut data: &[u8]) -> Result<Option<Vec<u8>>, PollError> {
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
        assert!(matches!(
            resp.into_body(),
            Err(PollError::Status { status: 500, .. })
        ));
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n", false).is_err());
        assert!(parse_response(b"HTTP/1.1 abc\r\n\r\n", false).is_err());
        assert!(parse_response(&[b'x'; MAX_HEADERS + 1], false).is_err());
        assert_eq!(parse_response(b"HTTP/1.1 200 OK\r\n", false).unwrap(), None);
    }
}
