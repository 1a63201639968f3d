//! GET and PUT against a metadata endpoint (`http://host[:port][/base]`), over the crate's HTTP/1.1 client.

use std::fmt;
use std::time::Duration;

use crate::config::Endpoint;
use crate::net::http1::{self, HttpError};

/// A metadata service: where it listens, and the path its requests start with.
#[derive(Debug, Clone)]
pub(super) struct MetadataClient {
    http: http1::Client,
    base: String,
    url: String,
}

/// Why a metadata request gave nothing.
#[derive(Debug)]
pub(super) enum MetadataError {
    /// Nothing listens there (connection refused, unreachable network).
    Absent(std::io::Error),
    /// No complete answer in time.
    Timeout,
    /// An answer other than `200`, with the start of its body.
    Status(u16, String),
    /// Not HTTP, a broken connection, or a body that is not what was expected.
    Garbage(String),
}

impl MetadataError {
    /// Logs the failure once: at `debug` when nothing listens or answers (the normal case off the platform,
    /// unless `expected` says the environment pointed here), at `warn` otherwise.
    pub(super) fn log(&self, plugin: &str, url: &str, expected: bool) {
        let quiet = !expected && matches!(self, MetadataError::Absent(_) | MetadataError::Timeout);
        if quiet {
            log::debug!("X-Ray: the {plugin} plugin found no metadata at {url}: {self}");
        } else {
            log::warn!("X-Ray: the {plugin} plugin ignores the metadata at {url}: {self}");
        }
    }
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Absent(e) => write!(f, "nothing answers ({e})"),
            MetadataError::Timeout => f.write_str("no answer in time"),
            MetadataError::Status(status, body) => write!(f, "HTTP status {status} {body:?}"),
            MetadataError::Garbage(what) => write!(f, "not a valid answer ({what})"),
        }
    }
}

impl From<HttpError> for MetadataError {
    fn from(e: HttpError) -> Self {
        match e {
            HttpError::Connect(e) => MetadataError::Absent(e),
            HttpError::Timeout => MetadataError::Timeout,
            HttpError::Io(e) => MetadataError::Garbage(e.to_string()),
            HttpError::Malformed(m) => MetadataError::Garbage(m),
        }
    }
}

impl MetadataClient {
    /// A client for `url` (`http://host[:port][/base]`), each request within `timeout`.
    ///
    /// # Errors
    /// A description of what is wrong with `url`, such as an `https` scheme.
    pub(super) fn new(url: &str, timeout: Duration) -> Result<Self, String> {
        let (endpoint, base) = parse_url(url)?;
        Ok(MetadataClient {
            http: http1::Client::new(endpoint, timeout),
            base: base.to_owned(),
            url: url.trim_end_matches('/').to_owned(),
        })
    }

    /// The URL given, without a trailing `/`, for log lines.
    pub(super) fn url(&self) -> &str {
        &self.url
    }

    /// `GET base + path`: the body of a `200` answer.
    pub(super) fn get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, MetadataError> {
        self.send("GET", path, headers)
    }

    /// `PUT base + path` without a body: the body of a `200` answer.
    pub(super) fn put(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, MetadataError> {
        self.send("PUT", path, headers)
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<u8>, MetadataError> {
        let full = format!("{}{path}", self.base);
        let full = if full.is_empty() { "/" } else { &full };
        let resp = self.http.send(method, full, headers, None)?;
        if resp.status == 200 {
            Ok(resp.body)
        } else {
            Err(MetadataError::Status(resp.status, resp.snippet()))
        }
    }

    /// `GET base + path` and parse the answer as JSON.
    pub(super) fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<T, MetadataError> {
        let body = self.get(path, headers)?;
        serde_json::from_slice(&body).map_err(|e| MetadataError::Garbage(e.to_string()))
    }
}

/// Splits `http://host[:port][/base]` into the endpoint (port 80 by default) and the base path without a
/// trailing `/`.
fn parse_url(url: &str) -> Result<(Endpoint, &str), String> {
    let rest = url
        .trim()
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url:?} is not an http:// URL"))?;
    let (authority, base) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].trim_end_matches('/')),
        None => (rest, ""),
    };
    let bad = || format!("{url:?} has no valid host and port");
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (host, after) = v6.split_once(']').ok_or_else(bad)?;
        (host, after.strip_prefix(':'))
    } else {
        match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        }
    };
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0).ok_or_else(bad)?,
        None => 80,
    };
    if host.is_empty() || authority.contains('@') || base.contains(['?', '#', ' ']) {
        return Err(bad());
    }
    Ok((
        Endpoint {
            host: host.to_owned(),
            port,
        },
        base,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let ep = |h: &str, p| Endpoint {
            host: h.into(),
            port: p,
        };
        assert_eq!(
            parse_url("http://169.254.169.254").unwrap(),
            (ep("169.254.169.254", 80), "")
        );
        assert_eq!(
            parse_url("http://127.0.0.1:8080/").unwrap(),
            (ep("127.0.0.1", 8080), "")
        );
        assert_eq!(
            parse_url("http://169.254.170.2/v4/abc-123/").unwrap(),
            (ep("169.254.170.2", 80), "/v4/abc-123")
        );
        assert_eq!(
            parse_url("http://[fd00:ec2::254]").unwrap(),
            (ep("fd00:ec2::254", 80), "")
        );
        assert_eq!(parse_url("http://[::1]:9/x").unwrap(), (ep("::1", 9), "/x"));
        for bad in [
            "https://169.254.169.254",
            "169.254.169.254",
            "http://",
            "http://:80",
            "http://h:0",
            "http://h:99999",
            "http://h:x",
            "http://[::1",
            "http://user@h",
            "http://h/a?b",
        ] {
            assert!(parse_url(bad).is_err(), "{bad}");
        }
    }
}
