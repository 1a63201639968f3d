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
    let headers = req.headers();
    let uri = req.uri();
    IncomingRequest {
        method: req.method().as_str(),
        scheme: uri.scheme_str(),
        host: header(headers, &HOST).or_else(|| uri.authority().map(|a| a.as_str())),
        path: uri.path(),
        query: uri.query(),
        trace_header: header(headers, &X_AMZN_TRACE_ID),
        traceparent: header(headers, &TRACEPARENT),
        ..IncomingRequest::default()
    }
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
