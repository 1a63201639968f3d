//! The server layer: one segment per request.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::CONTENT_LENGTH;
use http::{HeaderValue, Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;
use xray_sdk_core::context::{self, Instrumented};
use xray_sdk_core::http::{HttpOptions, ServerSegment};
use xray_sdk_core::{FutureExt, Recorder};

use crate::RecorderRef;
use crate::request::{X_AMZN_TRACE_ID, details, header, incoming, matched_route};

/// A tower layer that records each request as an X-Ray segment. See the [crate documentation](crate).
#[derive(Debug, Clone, Default)]
pub struct XrayHttpLayer {
    recorder: RecorderRef,
    options: HttpOptions,
}

impl XrayHttpLayer {
    /// A layer recording with the process-wide recorder ([`xray_sdk_core::global`]), looked up at each request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer recording with `recorder`.
    pub fn with_recorder(recorder: Recorder) -> Self {
        XrayHttpLayer {
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

impl<S> Layer<S> for XrayHttpLayer {
    type Service = XrayHttpService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayHttpService {
            inner,
            recorder: self.recorder.clone(),
            options: self.options,
        }
    }
}

/// The service made by [`XrayHttpLayer`].
#[derive(Debug, Clone)]
pub struct XrayHttpService<S> {
    inner: S,
    recorder: RecorderRef,
    options: HttpOptions,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for XrayHttpService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let segment = ServerSegment::begin_reading_details(
            self.recorder.get(),
            incoming(&req),
            &self.options,
            |i| details(&req, i),
        );
        if segment.entity().is_sampled()
            && let Some(route) = matched_route(&req)
        {
            segment.record_route(route);
        }
        let entity = segment.entity().clone();
        req.extensions_mut().insert(entity.clone());
        // Services that do work in `call` itself see the segment as current too.
        let inner = {
            let _current = context::enter(entity.clone());
            self.inner.call(req)
        };
        ResponseFuture {
            inner: inner.in_entity(entity),
            segment: Some(segment),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`XrayHttpService`]: polls the inner future with the segment as the current entity, and
    /// ends the segment with the response. Dropped before completion, it ends the segment as a fault (the
    /// [`ServerSegment`] it holds does so on drop).
    #[must_use = "futures do nothing unless polled"]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: Instrumented<F>,
        segment: Option<ServerSegment>,
    }
}

impl<F, ResBody, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    ResBody: Body,
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
                finish(segment, &response);
                Poll::Ready(Ok(response))
            }
            Err(error) => {
                segment.finish_failed(std::any::type_name::<E>(), None);
                Poll::Ready(Err(error))
            }
        }
    }
}

fn finish<B: Body>(segment: ServerSegment, response: &Response<B>) {
    let length = header(response.headers(), &CONTENT_LENGTH)
        .and_then(|v| v.trim().parse().ok())
        .or_else(|| response.body().size_hint().exact());
    segment.finish(response.status().as_u16(), length);
}
