//! Reading an `http::Request` into the framework-neutral view.

use std::net::{IpAddr, SocketAddr};

use http::header::{HOST, HeaderName, USER_AGENT};
use http::{HeaderMap, Request};
use xray_sdk_core::http::IncomingRequest;

pub(crate) const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

pub(crate) fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// What the sampling decision needs of `req`: the other fields are left for [`details`].
pub(crate) fn incoming<B>(req: &Request<B>) -> IncomingRequest<'_> {
    let uri = req.uri();
    let [host, trace_header, traceparent] = headers_of(req.headers());
    IncomingRequest {
        method: req.method().as_str(),
        scheme: uri.scheme_str(),
        host: host.or_else(|| uri.authority().map(|a| a.as_str())),
        path: uri.path(),
        query: uri.query(),
        trace_header,
        traceparent,
        ..IncomingRequest::default()
    }
}

/// The values of `Host`, `X-Amzn-Trace-Id` and `traceparent`, as [`header`] reads them (the first value of
/// each, if it is text).
///
/// They are read on every request, sampled or not. A request carries a handful of headers, and one pass over
/// them costs a fraction of three hashed lookups; a request with many is read by lookups.
fn headers_of(headers: &HeaderMap) -> [Option<&str>; 3] {
    const ONE_PASS_UP_TO: usize = 16;
    if headers.len() > ONE_PASS_UP_TO {
        return [
            header(headers, &HOST),
            header(headers, &X_AMZN_TRACE_ID),
            header(headers, &TRACEPARENT),
        ];
    }
    // `None` until a header's first value is seen; then that value, if it is text.
    let mut found: [Option<Option<&str>>; 3] = [None; 3];
    for (name, value) in headers {
        let slot = if *name == HOST {
            &mut found[0]
        } else if *name == X_AMZN_TRACE_ID {
            &mut found[1]
        } else if *name == TRACEPARENT {
            &mut found[2]
        } else {
            continue;
        };
        if slot.is_none() {
            *slot = Some(value.to_str().ok());
        }
    }
    found.map(Option::flatten)
}

/// The fields of `req` recorded on a sampled segment only: user agent, forwarded address and scheme, peer.
pub(crate) fn details<'a, B>(req: &'a Request<B>, incoming: &mut IncomingRequest<'a>) {
    let headers = req.headers();
    incoming.scheme = incoming
        .scheme
        .or_else(|| header(headers, &X_FORWARDED_PROTO));
    incoming.user_agent = header(headers, &USER_AGENT);
    incoming.x_forwarded_for = header(headers, &X_FORWARDED_FOR);
    incoming.peer_addr = peer_addr(req);
}

fn peer_addr<B>(req: &Request<B>) -> Option<IpAddr> {
    #[cfg(feature = "axum")]
    if let Some(info) = req
        .extensions()
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(info.0.ip());
    }
    req.extensions().get::<SocketAddr>().map(SocketAddr::ip)
}

/// The route pattern axum matched, when there is one.
#[cfg(feature = "axum")]
pub(crate) fn matched_route<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

#[cfg(not(feature = "axum"))]
pub(crate) fn matched_route<B>(_: &Request<B>) -> Option<&str> {
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn one_pass_reads_what_lookups_read() {
        let mut few = HeaderMap::new();
        few.append(HOST, "a.example".parse().unwrap());
        few.append(HOST, "b.example".parse().unwrap());
        few.append("x-other", "1".parse().unwrap());
        few.append(
            X_AMZN_TRACE_ID,
            http::HeaderValue::from_bytes(b"Root=\xff").unwrap(),
        );
        few.append(
            X_AMZN_TRACE_ID,
            "Root=1-5759e988-bd862e3fe1be46a994272793".parse().unwrap(),
        );
        let by_lookup = |h: &HeaderMap| -> [Option<String>; 3] {
            [HOST, X_AMZN_TRACE_ID, TRACEPARENT].map(|n| header(h, &n).map(str::to_owned))
        };
        let by_pass = |h: &HeaderMap| headers_of(h).map(|v| v.map(str::to_owned));
        // The first value of each name, if it is text: the first trace header is not, so there is none.
        assert_eq!(by_pass(&few), [Some("a.example".to_owned()), None, None]);
        assert_eq!(by_pass(&few), by_lookup(&few));
        let mut many = few.clone();
        for i in 0..20 {
            many.append(
                HeaderName::from_bytes(format!("x-filler-{i}").as_bytes()).unwrap(),
                "v".parse().unwrap(),
            );
        }
        many.append(
            TRACEPARENT,
            "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01"
                .parse()
                .unwrap(),
        );
        assert!(many.len() > 16);
        assert_eq!(by_pass(&many), by_lookup(&many));
        assert!(by_pass(&many)[2].is_some());
        assert_eq!(by_pass(&HeaderMap::new()), [None, None, None]);
    }
}
