//! A minimal HTTP/1.0 GET client for the daemon's JSON API (plain HTTP, usually on loopback).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::de::DeserializeOwned;

/// The largest response body read.
const MAX_RESPONSE: u64 = 256 * 1024 * 1024;

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The base address is not `http://host:port` or `host:port`.
    #[error("invalid API address {0:?}: expected http://host:port")]
    Address(String),
    /// The daemon could not be reached.
    #[error("cannot reach the daemon at {address}: {source}")]
    Connect {
        /// host:port.
        address: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The request or response failed midway.
    #[error("HTTP exchange with {address} failed: {source}")]
    Io {
        /// host:port.
        address: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The response is not HTTP, or not the JSON expected.
    #[error("unexpected response from {address}: {message}")]
    Response {
        /// host:port.
        address: String,
        /// What was wrong.
        message: String,
    },
    /// The daemon answered with an error status.
    #[error("{status}: {message}")]
    Status {
        /// The HTTP status code.
        status: u16,
        /// The API's error message.
        message: String,
    },
}

/// `host:port` from `http://host:port[/...]` or `host:port`.
///
/// # Errors
/// [`HttpError::Address`] for other schemes or an empty host.
pub fn authority(base: &str) -> Result<String, HttpError> {
    let rest = match base.split_once("://") {
        Some(("http", rest)) => rest,
        Some(_) => return Err(HttpError::Address(base.to_owned())),
        None => base,
    };
    let authority = rest.split('/').next().unwrap_or("");
    if authority.is_empty() {
        return Err(HttpError::Address(base.to_owned()));
    }
    Ok(authority.to_owned())
}

/// GETs `path` (with its query) from the API at `base` and decodes the JSON body.
///
/// # Errors
/// [`HttpError`] for connection failures, non-200 answers (with the API's message) and bodies that do not decode.
pub fn get_json<T: DeserializeOwned>(
    base: &str,
    path: &str,
    timeout: Duration,
) -> Result<T, HttpError> {
    let address = authority(base)?;
    let connect_error = |source| HttpError::Connect {
        address: address.clone(),
        source,
    };
    let target = address
        .to_socket_addrs()
        .map_err(connect_error)?
        .next()
        .ok_or_else(|| HttpError::Address(base.to_owned()))?;
    let mut stream = TcpStream::connect_timeout(&target, timeout).map_err(connect_error)?;
    let io_error = |source| HttpError::Io {
        address: address.clone(),
        source,
    };
    stream.set_read_timeout(Some(timeout)).map_err(io_error)?;
    stream.set_write_timeout(Some(timeout)).map_err(io_error)?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nAccept: application/json\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).map_err(io_error)?;
    let mut response = Vec::new();
    stream
        .take(MAX_RESPONSE)
        .read_to_end(&mut response)
        .map_err(io_error)?;
    let bad = |message: &str| HttpError::Response {
        address: address.clone(),
        message: message.to_owned(),
    };
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers"))?;
    let head = String::from_utf8_lossy(&response[..split]);
    let body = &response[split + 4..];
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    if status != 200 {
        let message = serde_json::from_slice::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
            .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
        return Err(HttpError::Status { status, message });
    }
    serde_json::from_slice(body).map_err(|e| bad(&format!("invalid JSON: {e}")))
}

/// GETs every page of `GET /api/traces/{trace_id}` from the daemon at `base`: the whole trace.
///
/// # Errors
/// As [`get_json`], for any page.
pub fn get_trace(
    base: &str,
    trace_id: &str,
    timeout: Duration,
) -> Result<crate::api::traces::TraceDetail, HttpError> {
    let path = format!("/api/traces/{trace_id}");
    let mut trace: crate::api::traces::TraceDetail = get_json(base, &path, timeout)?;
    while let Some(offset) = trace.next_offset {
        let page = get_json(base, &format!("{path}?offset={offset}"), timeout)?;
        trace.append(page);
    }
    Ok(trace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_authorities() {
        assert_eq!(
            authority("http://127.0.0.1:2001").unwrap(),
            "127.0.0.1:2001"
        );
        assert_eq!(
            authority("http://localhost:2001/api").unwrap(),
            "localhost:2001"
        );
        assert_eq!(authority("127.0.0.1:9").unwrap(), "127.0.0.1:9");
        assert!(authority("https://x:1").is_err());
        assert!(authority("http://").is_err());
    }
}
