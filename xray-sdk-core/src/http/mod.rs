//! Framework-neutral HTTP tracing: what every server and client integration does, written once.
//!
//! The integrations (`xray-sdk-tower`, `xray-sdk-actix`, `xray-sdk-reqwest`) translate their framework's request
//! into plain values and call this module; nothing here depends on a web framework or on the `http` crate (actix-web
//! still uses `http` 0.2 while hyper, axum and reqwest use 1.x, so plain `&str` is what they all share).
//!
//! - Incoming requests: [`ServerSegment::begin`] reads the trace header ([`incoming_trace_header`]: the
//!   `X-Amzn-Trace-Id`, else a W3C `traceparent`; a malformed field is dropped alone and logged at debug level),
//!   names the segment ([`Recorder::segment_name`](crate::Recorder::segment_name) on the `Host` without its port),
//!   asks the sampler with host, method and path, and records the request ([`IncomingRequest::http_request`]);
//!   [`ServerSegment::response_header`] is the `X-Amzn-Trace-Id` for the response; [`ServerSegment::finish`]
//!   records the status and the content length, which set the error, throttle and fault flags. A segment dropped
//!   without being finished (a cancelled request future) ends as a fault.
//! - Outgoing requests: [`ClientSubsegment::begin`] opens a `remote` subsegment of the current entity, named by
//!   host, and gives the header to inject ([`ClientSubsegment::trace_header`]); [`ClientSubsegment::finish`] and
//!   [`ClientSubsegment::finish_error`] record the outcome.
//!
//! # No secrets
//! URLs are recorded without `user:password@` and without the query string and fragment (unless
//! [`HttpOptions::record_query_string`] is set); no header other than `User-Agent` is ever recorded, so
//! `Authorization`, `Cookie` and the like never leave the process.
//!
//! # How this differs from the Python SDK, on purpose
//! - `user:password@` is removed from every recorded URL (Python keeps it for `requests`).
//! - The port is left out of the `Host` used for the segment name and for sampling, so that a dynamic-naming pattern
//!   such as `*.example.com` matches `api.example.com:8443`.
//! - `client_ip` from `X-Forwarded-For` is taken only when the first entry is an IP address; a non-address value
//!   falls back to the peer address rather than being recorded verbatim.
//! - An unsampled request keeps its incoming trace id in the response header (Python answers with the no-op id).

mod client;
mod incoming;
mod server;
mod url;

pub use client::{ClientSubsegment, UNKNOWN_HOST};
pub use incoming::{IncomingRequest, client_ip, incoming_trace_header, response_header_value};
pub use server::{ServerSegment, panic_message};
pub use url::{host_without_port, sanitize_url, url_host};

/// The annotation under which integrations record the matched route (such as `/users/{id}`).
pub const ROUTE_ANNOTATION: &str = "http_route";

/// What HTTP integrations record beyond the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpOptions {
    record_query_string: bool,
}

impl HttpOptions {
    /// The defaults: URLs without their query string.
    pub const fn new() -> Self {
        HttpOptions {
            record_query_string: false,
        }
    }

    /// Records the query string in `http.request.url` (off by default: query strings often carry tokens).
    pub const fn record_query_string(mut self, record: bool) -> Self {
        self.record_query_string = record;
        self
    }

    /// Whether the query string is recorded.
    pub const fn records_query_string(&self) -> bool {
        self.record_query_string
    }
}

/// Which recorder an integration records with: a given one, or the process-wide one looked up at each request
/// (so that a layer or middleware built before [`install`](crate::install) still uses the recorder
/// installed later).
#[derive(Debug, Clone, Default)]
pub struct RecorderRef(Option<crate::Recorder>);

impl RecorderRef {
    /// The process-wide recorder, looked up at each use.
    pub const fn global() -> Self {
        RecorderRef(None)
    }

    /// A given recorder.
    pub const fn given(recorder: crate::Recorder) -> Self {
        RecorderRef(Some(recorder))
    }

    /// The recorder to use now.
    pub fn get(&self) -> &crate::Recorder {
        match &self.0 {
            Some(recorder) => recorder,
            None => crate::global(),
        }
    }
}
