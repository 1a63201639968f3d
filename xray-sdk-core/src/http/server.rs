//! The segment of one incoming request.

use std::any::Any;

use xray_sdk_types::header::SamplingFlag;

use super::incoming::{IncomingRequest, incoming_trace_header, response_header};
use super::{HttpOptions, ROUTE_ANNOTATION};
use crate::context::SegmentGuard;
use crate::entity::Entity;
use crate::recorder::Recorder;

/// The segment of one incoming HTTP request, from the moment the request arrives until its response is ready.
///
/// Server integrations make one per request and keep it in the request's future, never in shared state:
/// [`begin`](Self::begin) when the request arrives, run the handler with [`entity`](Self::entity) as its current
/// entity, then [`finish`](Self::finish) with the response status. If the value is dropped unfinished (the
/// request future was cancelled, or the connection went away), the segment ends as a fault with metadata
/// `xray.cancelled = true`; dropped while a panic unwinds, it records the panic.
#[derive(Debug)]
#[must_use = "the segment ends (as a fault) when this is dropped; call finish() with the response"]
pub struct ServerSegment {
    guard: SegmentGuard,
    sampling_requested: bool,
}

impl ServerSegment {
    /// Begins the segment of `request`: continues the trace of its `X-Amzn-Trace-Id` (or `traceparent`), names
    /// it by [`Recorder::segment_name`] on the host, asks the sampler (with host, method and path) unless the
    /// caller decided, and records the request fields. The segment does not become the current entity: run the
    /// handler inside it with [`FutureExt::in_entity`](crate::FutureExt::in_entity) or
    /// [`context::enter`](crate::context::enter).
    pub fn begin(
        recorder: &Recorder,
        request: &IncomingRequest<'_>,
        options: &HttpOptions,
    ) -> Self {
        Self::begin_reading_details(recorder, *request, options, |_| {})
    }

    /// As [`ServerSegment::begin`], for a `request` that holds only what the sampling decision needs (method,
    /// host, path, query, scheme and the trace headers): `details` fills in the rest (user agent, forwarded
    /// addresses, peer address) only when the segment is recorded, so that an unsampled request reads no other
    /// header.
    pub fn begin_reading_details<'a>(
        recorder: &Recorder,
        mut request: IncomingRequest<'a>,
        options: &HttpOptions,
        details: impl FnOnce(&mut IncomingRequest<'a>),
    ) -> Self {
        let header = incoming_trace_header(request.trace_header, request.traceparent);
        let host = request.hostname();
        let name = recorder.segment_name(host);
        let mut builder =
            recorder
                .segment(name)
                .http_request(host, Some(request.method), Some(request.path));
        if let Some(header) = &header {
            builder = builder.trace_header(header);
        }
        let guard = builder.begin_detached().fault_if_dropped();
        if guard.is_sampled() {
            details(&mut request);
            guard.set_http_request(request.http_request(options));
        }
        ServerSegment {
            guard,
            sampling_requested: header.is_some_and(|h| h.sampled == Some(SamplingFlag::Requested)),
        }
    }

    /// The segment: the current entity the handler must run with, and the parent of its subsegments.
    pub fn entity(&self) -> &Entity {
        self.guard.entity()
    }

    /// The `X-Amzn-Trace-Id` value for the response: `Root=<trace id>`, plus `;Sampled=1|0` when the caller sent
    /// `Sampled=?`. `None` when there is no trace (the SDK is disabled and the request came without a header).
    pub fn response_header(&self) -> Option<String> {
        (self.guard.trace_id() != xray_sdk_types::TraceId::NOOP)
            .then(|| response_header(self.guard.entity(), self.sampling_requested))
    }

    /// Records the route pattern that matched the request (such as `/users/{id}`), as the annotation
    /// [`ROUTE_ANNOTATION`]. The segment's name stays the service name: raw paths would make one node per URL in
    /// the service map.
    pub fn record_route(&self, route: &str) {
        self.guard.put_annotation(ROUTE_ANNOTATION, route);
    }

    /// Records the response (status and, when known, the body length, which set the error, throttle or fault
    /// flag) and ends the segment.
    pub fn finish(self, status: u16, content_length: Option<u64>) {
        self.guard
            .set_http_response(status, content_length.and_then(|n| i64::try_from(n).ok()));
        self.guard.end();
    }

    /// Ends the segment as a fault because the service failed without a response; `message` describes the
    /// failure when the integration has one.
    pub fn finish_failed(self, type_name: &str, message: Option<&str>) {
        self.guard.add_fault(
            message.unwrap_or("the service failed without a response"),
            type_name,
        );
        self.guard.end();
    }

    /// Ends the segment as a fault recording a panic of the handler, with the panic's message when it has one.
    pub fn finish_panicked(self, payload: &(dyn Any + Send)) {
        self.guard.entity().record_panic(panic_message(payload));
        self.guard.end();
    }
}

impl ServerSegment {
    /// Polls the handler's future of the request this segment records. A panic in the handler is recorded
    /// (the segment ends as a fault with the panic's message) and then resumed, so the host sees it unchanged.
    /// Server integrations call this from their response future's `poll`.
    pub fn poll_handler<T>(
        segment: &mut Option<ServerSegment>,
        poll: impl FnOnce() -> std::task::Poll<T>,
    ) -> std::task::Poll<T> {
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(poll)) {
            Ok(polled) => polled,
            Err(panic) => {
                if let Some(segment) = segment.take() {
                    segment.finish_panicked(&*panic);
                }
                std::panic::resume_unwind(panic)
            }
        }
    }
}

/// The message of a panic payload (`panic!("…")` gives a `&str` or a `String`).
pub fn panic_message(payload: &(dyn Any + Send)) -> Option<&str> {
    payload
        .downcast_ref::<&'static str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
}
