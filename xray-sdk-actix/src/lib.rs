//! AWS X-Ray tracing for actix-web: [`XrayActixMiddleware`], a `Transform` that records each request as a segment.
//!
//! # Quickstart
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use xray_sdk_actix::XrayActixMiddleware;
//! use xray_sdk_core::Recorder;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let recorder = Recorder::builder().service_name("orders").build()?;
//! actix_web::rt::System::new().block_on(async move {
//!     HttpServer::new(move || {
//!         App::new()
//!             // `wrap` adds outer layers: add it last to trace everything the other middlewares do.
//!             .wrap(XrayActixMiddleware::with_recorder(recorder.clone()))
//!             .route("/orders/{id}", web::get().to(|| async { "order" }))
//!     })
//!     .bind(("0.0.0.0", 3000))?
//!     .run()
//!     .await
//! })?;
//! # Ok(()) }
//! ```
//!
//! # What it records
//! The same as every X-Ray server integration: one segment per request, named by the recorder's service name (or
//! by dynamic naming on the `Host`), never by the URL; the trace of an incoming `X-Amzn-Trace-Id` (or W3C
//! `traceparent`) continued, a malformed header starting a new trace; the sampler asked with host, method and path
//! unless the caller decided; `http.request` (method, URL without credentials or query string, user agent, client
//! address from `X-Forwarded-For` or the peer) and `http.response` (status, content length), with error, throttle
//! and fault from the status; the matched route pattern (`/orders/{id}`) as the annotation `http_route`; the
//! `X-Amzn-Trace-Id: Root=…` response header (plus `;Sampled=1|0` when the caller sent `Sampled=?`). No header
//! other than `User-Agent` is recorded.
//!
//! A handler that panics ends the segment as a fault with the panic recorded; a request future dropped before
//! completion (by a timeout middleware, say: actix-web itself lets a handler run on when its client goes away)
//! ends it as a fault with metadata `xray.cancelled = true`. An `Err` from the inner service is recorded
//! with the status its `ResponseError` gives (the response header cannot be added to it: actix builds that
//! response later). The middleware returns exactly what the inner service returns.
//!
//! # Context, and spawned tasks
//! The segment is the current entity while the handler's future is polled, so subsegments, `#[capture]` functions
//! and outgoing calls (`xray-sdk-reqwest`) nest under it. The segment is also in the request's extensions as an
//! [`Entity`](xray_sdk_core::Entity) (`web::ReqData<Entity>` in a handler). Work handed to `actix_web::rt::spawn`
//! or `tokio::spawn` does not inherit the context: wrap it with `.in_current_entity()` from
//! [`xray_sdk_core::FutureExt`].

use std::future::{Future, Ready, ready};
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_web::HttpMessage;
use actix_web::body::{BodySize, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use xray_sdk_core::context::{self, Instrumented};
use xray_sdk_core::http::{HttpOptions, IncomingRequest, RecorderRef, ServerSegment};
use xray_sdk_core::{FutureExt, Recorder};

const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// An actix-web middleware that records each request as an X-Ray segment. See the [crate documentation](crate).
#[derive(Debug, Clone, Default)]
pub struct XrayActixMiddleware {
    recorder: RecorderRef,
    options: HttpOptions,
}

impl XrayActixMiddleware {
    /// A middleware recording with the process-wide recorder ([`xray_sdk_core::global`]), looked up at each
    /// request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A middleware recording with `recorder`.
    pub fn with_recorder(recorder: Recorder) -> Self {
        XrayActixMiddleware {
            recorder: RecorderRef::given(recorder),
            options: HttpOptions::new(),
        }
    }

    /// Records the query string in `http.request.url` (off by default: query strings often carry tokens).
    pub fn record_query_string(mut self, record: bool) -> Self {
        self.options = self.options.record_query_string(record);
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for XrayActixMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = XrayActixService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(XrayActixService {
            service,
            recorder: self.recorder.clone(),
            options: self.options,
        }))
    }
}

/// The service made by [`XrayActixMiddleware`].
#[derive(Debug)]
pub struct XrayActixService<S> {
    service: S,
    recorder: RecorderRef,
    options: HttpOptions,
}

fn header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

impl<S, B> Service<ServiceRequest> for XrayActixService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    B: MessageBody,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = XrayActixResponseFuture<S::Future>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let recorder = self.recorder.get();
        let segment = {
            let headers = req.headers();
            let uri = req.uri();
            // What the sampling decision needs; the rest is read only for a recorded segment.
            let incoming = IncomingRequest {
                method: req.method().as_str(),
                scheme: uri.scheme_str(),
                host: header(headers, &header::HOST)
                    .or_else(|| uri.authority().map(|a| a.as_str())),
                path: uri.path(),
                query: uri.query(),
                trace_header: header(headers, &X_AMZN_TRACE_ID),
                traceparent: header(headers, &TRACEPARENT),
                ..IncomingRequest::default()
            };
            ServerSegment::begin_reading_details(recorder, incoming, &self.options, |incoming| {
                incoming.scheme = incoming
                    .scheme
                    .or_else(|| header(headers, &X_FORWARDED_PROTO))
                    .or_else(|| req.app_config().secure().then_some("https"));
                incoming.user_agent = header(headers, &header::USER_AGENT);
                incoming.x_forwarded_for = header(headers, &X_FORWARDED_FOR);
                incoming.peer_addr = req.peer_addr().map(|a| a.ip());
            })
        };
        if segment.entity().is_sampled()
            && let Some(route) = req.match_pattern()
        {
            segment.record_route(&route);
        }
        let entity = segment.entity().clone();
        req.extensions_mut().insert(entity.clone());
        let inner = {
            let _current = context::enter(entity.clone());
            self.service.call(req)
        };
        XrayActixResponseFuture {
            inner: inner.in_entity(entity),
            segment: Some(segment),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`XrayActixService`]: polls the inner future with the segment as the current entity, and
    /// ends the segment with the response. Dropped before completion, it ends the segment as a fault.
    #[must_use = "futures do nothing unless polled"]
    pub struct XrayActixResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        segment: Option<ServerSegment>,
    }
}

impl<F, B> Future for XrayActixResponseFuture<F>
where
    F: Future<Output = Result<ServiceResponse<B>, actix_web::Error>>,
    B: MessageBody,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let inner = this.inner;
        let Poll::Ready(result) = ServerSegment::poll_handler(this.segment, || inner.poll(cx))
        else {
            return Poll::Pending;
        };
        let Some(segment) = this.segment.take() else {
            return Poll::Ready(result);
        };
        match result {
            Ok(mut response) => {
                match segment.response_header().map(HeaderValue::try_from) {
                    Some(Ok(value)) => {
                        response.headers_mut().insert(X_AMZN_TRACE_ID, value);
                    }
                    Some(Err(e)) => log::debug!("X-Ray: response header not set: {e}"),
                    None => {}
                }
                let length = match response.response().body().size() {
                    BodySize::Sized(n) => Some(n),
                    BodySize::None | BodySize::Stream => None,
                };
                segment.finish(response.status().as_u16(), length);
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                let status = error.as_response_error().status_code();
                segment.finish(status.as_u16(), None);
                Poll::Ready(Err(error))
            }
        }
    }
}
