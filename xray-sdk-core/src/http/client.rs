//! The subsegment of one outgoing request.

use xray_sdk_types::Namespace;
use xray_sdk_types::document::HttpRequest;

use super::HttpOptions;
use super::url::{sanitize_url, url_host};
use crate::context::{self, SubsegmentGuard};
use crate::entity::Entity;
use crate::recorder::Recorder;

/// The name of a client subsegment whose URL has no host.
pub const UNKNOWN_HOST: &str = "UNKNOWN HOST";

/// The `remote` subsegment of one outgoing HTTP request, and the trace header to send with it.
///
/// Client integrations make one per request and keep it in the request's future. If it is dropped unfinished
/// (the request future was cancelled), the subsegment ends as a fault with metadata `xray.cancelled = true`.
#[derive(Debug)]
#[must_use = "the subsegment ends (as a fault) when this is dropped; call finish() with the response"]
pub struct ClientSubsegment {
    guard: SubsegmentGuard,
}

impl ClientSubsegment {
    /// Begins a subsegment of the current entity for a request of `method` to `url`, named after the URL's host
    /// (lower-case, without port or credentials).
    ///
    /// Returns `None` when there is no current entity: the request should then go out unchanged, without a trace
    /// header. The recorder's context-missing strategy says whether that is logged (`LOG_ERROR`); under
    /// `RUNTIME_ERROR` it is logged at debug level, as an outgoing request must never fail because of tracing.
    pub fn begin(
        recorder: &Recorder,
        method: &str,
        url: &str,
        options: &HttpOptions,
    ) -> Option<Self> {
        match context::current() {
            Some(parent) => Some(Self::begin_under(&parent, method, url, options)),
            None => {
                let what = format!(
                    "outgoing request to {}",
                    url_host(url).unwrap_or(UNKNOWN_HOST)
                );
                if recorder.context_missing::<()>(&what).is_err() {
                    log::debug!("X-Ray: no current segment for the {what}; it is not traced");
                }
                None
            }
        }
    }

    /// Begins a subsegment of `parent` (rather than of the current entity) for a request of `method` to `url`.
    ///
    /// Under an unsampled parent nothing is recorded, and the trace header still carries the trace id with
    /// `Sampled=0`; with the SDK disabled, the header is the incoming one, unchanged.
    pub fn begin_under(parent: &Entity, method: &str, url: &str, options: &HttpOptions) -> Self {
        let name = url_host(url).map_or_else(|| UNKNOWN_HOST.to_owned(), str::to_ascii_lowercase);
        let entity = parent.child(&name, Some(Namespace::Remote), None, false);
        if entity.is_sampled() {
            entity.set_http_request(HttpRequest {
                method: Some(method.into()),
                url: Some(sanitize_url(url, options.records_query_string())),
                traced: Some(true),
                ..HttpRequest::default()
            });
        }
        ClientSubsegment {
            guard: SubsegmentGuard::detached(entity).fault_if_dropped(),
        }
    }

    /// The subsegment.
    pub fn entity(&self) -> &Entity {
        self.guard.entity()
    }

    /// The `X-Amzn-Trace-Id` value to send: `Root=<trace id>;Parent=<this subsegment>;Sampled=1|0`, followed by the
    /// fields of the incoming header, such as `Lineage`; with the SDK disabled, the incoming header unchanged.
    /// `None` when there is no trace to continue: send no header then.
    pub fn trace_header(&self) -> Option<String> {
        self.guard.trace_header().map(|h| h.to_string())
    }

    /// Records the response (status, and the body length when known) and ends the subsegment. The status sets
    /// the error (4xx), throttle (429) or fault (5xx) flag.
    pub fn finish(self, status: u16, content_length: Option<u64>) {
        self.guard
            .set_http_response(status, content_length.and_then(|n| i64::try_from(n).ok()));
        self.guard.end();
    }

    /// Records a request that failed without a response (connection refused, timeout, …) as a fault with the
    /// error and its `source()` chain, and ends the subsegment.
    pub fn finish_error(self, error: &(dyn std::error::Error + 'static), type_name: Option<&str>) {
        self.guard.add_error_dyn(error, type_name, false);
        self.guard.end();
    }

    /// Like [`finish_error`](Self::finish_error), for an error known only by its message.
    pub fn finish_error_message(self, type_name: &str, message: &str) {
        self.guard.add_fault(message, type_name);
        self.guard.end();
    }
}
