//! The client layer: one `remote` subsegment per outgoing request, and the trace header sent with it.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::header::{CONTENT_LENGTH, HOST};
use http::{HeaderValue, Request, Response};
use http_body::Body;
use tower_layer::Layer;
use tower_service::Service;
use xray_sdk_core::Recorder;
use xray_sdk_core::http::{ClientSubsegment, HttpOptions};

use crate::RecorderRef;
use crate::request::{X_AMZN_TRACE_ID, header};

/// A tower layer for HTTP clients (such as `hyper_util`'s client): each request becomes a `remote` subsegment of
/// the current entity, named by host, and carries `X-Amzn-Trace-Id` with that subsegment as `Parent`.
///
/// Without a current entity the request goes out unchanged (the recorder's context-missing strategy says whether
/// that is logged). The subsegment records method, URL (without credentials or query string), `traced: true`, the
/// response status and content length; an error from the inner service ends it as a fault with the error's
/// message; the inner service's result is returned unchanged.
///
/// ```
/// use tower_layer::Layer;
/// use xray_sdk_tower::XrayHttpClientLayer;
/// # fn wrap<S>(client: S) {
/// let traced_client = XrayHttpClientLayer::new().layer(client);
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct XrayHttpClientLayer {
    recorder: RecorderRef,
    options: HttpOptions,
}

impl XrayHttpClientLayer {
    /// A layer recording with the process-wide recorder, looked up at each request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer recording with `recorder`.
    pub fn with_recorder(recorder: Recorder) -> Self {
        XrayHttpClientLayer {
            recorder: RecorderRef::given(recorder),
            options: HttpOptions::new(),
        }
    }

    /// Records the query string in `http.request.url` (off by default).
    pub fn record_query_string(mut self, record: bool) -> Self {
        self.options = self.options.record_query_string(record);
        self
    }
}

impl<S> Layer<S> for XrayHttpClientLayer {
    type Service = XrayHttpClientService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        XrayHttpClientService {
            inner,
            recorder: self.recorder.clone(),
            options: self.options,
        }
    }
}

/// The service made by [`XrayHttpClientLayer`].
#[derive(Debug, Clone)]
pub struct XrayHttpClientService<S> {
    inner: S,
    recorder: RecorderRef,
    options: HttpOptions,
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for XrayHttpClientService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: fmt::Display,
    ResBody: Body,
{
    type Response = Response<ResBody>;
    type Error = S::Error;
    type Future = ClientResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let uri = req.uri();
        let url = match (uri.host(), header(req.headers(), &HOST)) {
            (None, Some(host)) => format!("http://{host}{uri}"),
            _ => uri.to_string(),
        };
        let subsegment = ClientSubsegment::begin(
            self.recorder.get(),
            req.method().as_str(),
            &url,
            &self.options,
        );
        if let Some(sub) = &subsegment {
            match sub.trace_header().map(HeaderValue::try_from) {
                Some(Ok(value)) => {
                    req.headers_mut().insert(X_AMZN_TRACE_ID, value);
                }
                Some(Err(e)) => log::debug!("X-Ray: trace header not sent: {e}"),
                None => {}
            }
        }
        ClientResponseFuture {
            inner: self.inner.call(req),
            subsegment,
        }
    }
}

pin_project_lite::pin_project! {
    /// The response future of [`XrayHttpClientService`]. Dropped before completion, it ends the subsegment as a fault.
    #[must_use = "futures do nothing unless polled"]
    pub struct ClientResponseFuture<F> {
        #[pin]
        inner: F,
        subsegment: Option<ClientSubsegment>,
    }
}

impl<F, ResBody, E> Future for ClientResponseFuture<F>
where
    F: Future<Output = Result<Response<ResBody>, E>>,
    E: fmt::Display,
    ResBody: Body,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(result) = this.inner.poll(cx) else {
            return Poll::Pending;
        };
        if let Some(sub) = this.subsegment.take() {
            match &result {
                Ok(response) => {
                    let length = header(response.headers(), &CONTENT_LENGTH)
                        .and_then(|v| v.trim().parse().ok())
                        .or_else(|| response.body().size_hint().exact());
                    sub.finish(response.status().as_u16(), length);
                }
                Err(error) => {
                    sub.finish_error_message(std::any::type_name::<E>(), &error.to_string());
                }
            }
        }
        Poll::Ready(result)
    }
}
