//! Incoming requests: the trace header, the recorded request fields, the response header.

use std::net::{IpAddr, SocketAddr};

use xray_sdk_types::TraceId;
use xray_sdk_types::document::HttpRequest;
use xray_sdk_types::header::{SamplingFlag, TraceHeader};

use super::HttpOptions;
use super::url::{host_without_port, sanitize_url};
use crate::entity::Entity;

/// An incoming request as plain values, taken from whatever type a web framework uses.
///
/// Header values are those of the request as received; `None` for a header that is absent (or not valid text).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IncomingRequest<'a> {
    /// The method, such as `GET`.
    pub method: &'a str,
    /// `http` or `https`, when known (from an absolute request URI, TLS, or `X-Forwarded-Proto`); `http`
    /// otherwise.
    pub scheme: Option<&'a str>,
    /// The `Host` header (or the authority of an absolute request URI), port included.
    pub host: Option<&'a str>,
    /// The path, without the query string.
    pub path: &'a str,
    /// The query string, without the `?`.
    pub query: Option<&'a str>,
    /// The `User-Agent` header.
    pub user_agent: Option<&'a str>,
    /// The `X-Forwarded-For` header.
    pub x_forwarded_for: Option<&'a str>,
    /// The address of the peer that sent the request.
    pub peer_addr: Option<IpAddr>,
    /// The `X-Amzn-Trace-Id` header.
    pub trace_header: Option<&'a str>,
    /// The W3C `traceparent` header.
    pub traceparent: Option<&'a str>,
}

impl IncomingRequest<'_> {
    /// The `Host` without its port: what segments are named after and what the sampler sees.
    pub fn hostname(&self) -> Option<&str> {
        self.host
            .map(|h| {
                let credentials = h.as_bytes().iter().rposition(|&b| b == b'@');
                host_without_port(credentials.and_then(|at| h.get(at + 1..)).unwrap_or(h))
            })
            .filter(|h| !h.is_empty())
    }

    /// The URL as recorded: `scheme://host/path`, without credentials, and with the query string only if
    /// `options` ask for it.
    pub fn url(&self, options: &HttpOptions) -> String {
        let scheme = self.scheme.unwrap_or("http");
        let query = self
            .query
            .filter(|q| options.records_query_string() && !q.is_empty());
        let mut url = String::with_capacity(
            scheme.len()
                + 3
                + self.host.map_or(0, str::len)
                + self.path.len()
                + 1
                + query.map_or(0, str::len),
        );
        if let Some(host) = self.host {
            url.push_str(scheme);
            url.push_str("://");
            url.push_str(host);
        }
        url.push_str(self.path);
        if let Some(q) = query {
            url.push('?');
            url.push_str(q);
        }
        // The host came from a header the caller controls: strip any `user:password@` it smuggles in (and
        // whatever else does not belong). The usual request has nothing to strip, and is kept as built.
        // Only a plain scheme (it may come from `X-Forwarded-Proto`), a plain host and a path that holds no URL
        // of its own are kept as they are.
        let plain_scheme = |s: &str| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
        };
        let clean = self.scheme.is_none_or(plain_scheme)
            && self.host.is_some_and(|h| !h.contains(['@', '/', '?', '#']))
            && !self.path.contains(['?', '#'])
            && query.is_none_or(|q| !q.contains('#'));
        if clean {
            url
        } else {
            sanitize_url(&url, query.is_some())
        }
    }

    /// The `http.request` block of the segment: method, URL, user agent, client address. No other header is
    /// read, so credentials (`Authorization`, `Cookie`, …) are never recorded.
    pub fn http_request(&self, options: &HttpOptions) -> HttpRequest {
        let (client_ip, forwarded) = client_ip(self.x_forwarded_for, self.peer_addr);
        HttpRequest {
            method: Some(self.method.into()),
            url: Some(self.url(options)),
            user_agent: self.user_agent.map(str::to_owned),
            client_ip: client_ip.map(|ip| compact_str::ToCompactString::to_compact_string(&ip)),
            x_forwarded_for: forwarded.then_some(true),
            traced: None,
        }
    }
}

/// The caller's address: the first entry of `X-Forwarded-For` when it is an IP address (with or without a port),
/// flagged `true`; else the peer address, flagged `false`.
pub fn client_ip(x_forwarded_for: Option<&str>, peer: Option<IpAddr>) -> (Option<IpAddr>, bool) {
    let forwarded = x_forwarded_for
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .and_then(|first| {
            first
                .parse::<IpAddr>()
                .or_else(|_| first.parse::<SocketAddr>().map(|s| s.ip()))
                .ok()
        });
    match forwarded {
        Some(ip) => (Some(ip), true),
        None => (peer, false),
    }
}

/// The trace context of an incoming request: the `X-Amzn-Trace-Id` header, else the W3C `traceparent`.
/// A malformed field of `X-Amzn-Trace-Id` is logged at debug level and dropped, keeping the header's other
/// fields (a bad `Parent` keeps the `Root` and the `Sampled` decision); a malformed `traceparent` is logged and
/// ignored. With neither, the request starts a new trace.
pub fn incoming_trace_header(
    x_amzn_trace_id: Option<&str>,
    traceparent: Option<&str>,
) -> Option<TraceHeader> {
    if let Some(text) = x_amzn_trace_id {
        let (header, dropped) = TraceHeader::parse_lossy(text);
        for e in dropped {
            log::debug!("X-Ray: dropping a field of the incoming X-Amzn-Trace-Id header: {e}");
        }
        if !header.is_empty() {
            return Some(header);
        }
    }
    if let Some(text) = traceparent {
        match TraceHeader::from_traceparent(text) {
            Ok(header) => return Some(header),
            Err(e) => log::debug!("X-Ray: ignoring the incoming traceparent header: {e}"),
        }
    }
    None
}

/// The `X-Amzn-Trace-Id` of the response: `Root=<trace id>`, followed by `;Sampled=1` or `;Sampled=0` when the
/// caller sent `Sampled=?` and so asked for the decision. Never a `Parent` nor other fields.
pub fn response_header_value(incoming: Option<&TraceHeader>, entity: &Entity) -> String {
    let requested = incoming.is_some_and(|h| h.sampled == Some(SamplingFlag::Requested));
    response_header(entity, requested)
}

pub(super) fn response_header(entity: &Entity, sampling_requested: bool) -> String {
    // Written by hand at its exact length: the value is made for every request, sampled or not, and a string
    // whose capacity is its length becomes a header value without another copy.
    const ROOT: &str = "Root=";
    const SAMPLED: &str = ";Sampled=";
    let mut id = [0u8; TraceId::LEN];
    entity.trace_id().write_to(&mut id);
    let len = ROOT.len()
        + TraceId::LEN
        + if sampling_requested {
            SAMPLED.len() + 1
        } else {
            0
        };
    let mut out = String::with_capacity(len);
    out.push_str(ROOT);
    // A trace id is written in ASCII.
    out.push_str(std::str::from_utf8(&id).unwrap_or_default());
    if sampling_requested {
        out.push_str(SAMPLED);
        out.push_str(SamplingFlag::from_decision(entity.is_sampled()).as_str());
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn client_ip_prefers_a_valid_forwarded_address() {
        let peer = Some(IpAddr::from([10, 0, 0, 9]));
        assert_eq!(
            client_ip(Some("203.0.113.7, 10.0.0.1"), peer),
            (Some(IpAddr::from([203, 0, 113, 7])), true)
        );
        assert_eq!(
            client_ip(Some(" 203.0.113.7:4711 "), peer),
            (Some(IpAddr::from([203, 0, 113, 7])), true)
        );
        assert_eq!(client_ip(Some("unknown"), peer), (peer, false));
        assert_eq!(client_ip(None, peer), (peer, false));
        assert_eq!(client_ip(Some(""), None), (None, false));
        assert!(client_ip(Some("[2001:db8::1]:80"), None).1);
    }

    #[test]
    fn url_leaves_out_credentials_and_query() {
        let req = IncomingRequest {
            method: "GET",
            host: Some("alice:secret@api.example.com:8443"),
            scheme: Some("https"),
            path: "/orders/7",
            query: Some("token=abc"),
            ..IncomingRequest::default()
        };
        assert_eq!(
            req.url(&HttpOptions::new()),
            "https://api.example.com:8443/orders/7"
        );
        assert_eq!(
            req.url(&HttpOptions::new().record_query_string(true)),
            "https://api.example.com:8443/orders/7?token=abc"
        );
        assert_eq!(req.hostname(), Some("api.example.com"));
        let bare = IncomingRequest {
            method: "GET",
            path: "/x",
            ..IncomingRequest::default()
        };
        assert_eq!(bare.url(&HttpOptions::new()), "/x");
        // What the caller controls is stripped wherever it is: a scheme from `X-Forwarded-Proto`, or a path
        // that holds a URL with credentials when there is no host.
        let forwarded = IncomingRequest {
            method: "GET",
            scheme: Some("https://u:p@"),
            host: Some("h"),
            path: "/p",
            ..IncomingRequest::default()
        };
        assert!(!forwarded.url(&HttpOptions::new()).contains("u:p@"));
        let hostless = IncomingRequest {
            method: "GET",
            path: "/x/https://user:tok@host/y",
            ..IncomingRequest::default()
        };
        assert_eq!(hostless.url(&HttpOptions::new()), "/x/https://host/y");
    }

    #[test]
    fn trace_header_sources() {
        let root = "1-5759e988-bd862e3fe1be46a994272793";
        let h = incoming_trace_header(Some(&format!("Root={root};Sampled=?")), None).unwrap();
        assert_eq!(h.sampled, Some(SamplingFlag::Requested));
        let tp = "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01";
        let h = incoming_trace_header(None, Some(tp)).unwrap();
        assert_eq!(
            h.root.unwrap().to_string(),
            "1-4efaaf4d-1e8720b39541901950019ee5"
        );
        // A malformed X-Ray header falls back to the traceparent, then to nothing.
        assert!(incoming_trace_header(Some("garbage"), Some(tp)).is_some());
        assert!(incoming_trace_header(Some("garbage"), None).is_none());
        assert!(incoming_trace_header(Some(""), Some("00-bad")).is_none());
        assert!(incoming_trace_header(None, None).is_none());
    }
}
