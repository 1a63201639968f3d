//! AWS X-Ray tracing for reqwest: [`XrayReqwestMiddleware`], a [`reqwest_middleware::Middleware`] that records each
//! request as a `remote` subsegment of the current entity and sends the trace header along, so that the service
//! called continues the same trace.
//!
//! # Quickstart
//! ```no_run
//! use reqwest_middleware::ClientBuilder;
//! use xray_sdk_reqwest::XrayReqwestMiddleware;
//!
//! # async fn run() -> Result<(), reqwest_middleware::Error> {
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(XrayReqwestMiddleware::new())
//!     .build();
//! // Inside a segment (for example in a handler traced by `xray-sdk-tower` or `xray-sdk-actix`):
//! let response = client.get("http://inventory.internal/items/7").send().await?;
//! # let _ = response; Ok(()) }
//! ```
//!
//! # What it records
//! A subsegment per request, named by the URL's host (lower-case), in the `remote` namespace, with
//! `http.request` (method, URL without `user:password@` and without the query string unless
//! [`XrayReqwestMiddleware::record_query_string`], `traced: true`) and `http.response` (status, content length); the
//! status sets error (4xx), throttle (429) or fault (5xx). A request that fails without a response (connection
//! refused, timeout, an error from a middleware further down) is a fault with the error recorded. Request headers
//! are never recorded.
//!
//! The request carries `X-Amzn-Trace-Id: Root=<trace>;Parent=<this subsegment>;Sampled=1|0` plus the fields of
//! the incoming header (such as `Lineage`). Under an unsampled segment nothing is recorded, and the header still
//! carries the trace id with `Sampled=0`.
//!
//! # Never in the way
//! Tracing never fails a request: the middleware returns exactly what the rest of the chain returns. Without a
//! current entity, the request goes out unchanged, with no header; the recorder's context-missing strategy says
//! whether that is logged.
//!
//! # Where it goes, and spawned tasks
//! Add it first (outermost) so that the subsegment covers retries and other middlewares; each retry then goes out
//! with the same `Parent`. The current entity is read when the request is sent: inside a traced handler, that is
//! the handler's segment (or the subsegment open around the call). A request sent from a task spawned with
//! `tokio::spawn` has no current entity unless the task was spawned with `xray_sdk_core::context::spawn` or
//! wrapped with `.in_current_entity()`.

use http::Extensions;
use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};
use xray_sdk_core::http::{ClientSubsegment, HttpOptions, RecorderRef};
use xray_sdk_core::{FutureExt, Recorder};

const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");

/// A reqwest middleware that records each request as a `remote` X-Ray subsegment. See the
/// [crate documentation](crate).
#[derive(Debug, Clone, Default)]
pub struct XrayReqwestMiddleware {
    recorder: RecorderRef,
    options: HttpOptions,
}

impl XrayReqwestMiddleware {
    /// A middleware recording with the process-wide recorder ([`xray_sdk_core::global`]), looked up at each
    /// request.
    pub fn new() -> Self {
        Self::default()
    }

    /// A middleware recording with `recorder`.
    pub fn with_recorder(recorder: Recorder) -> Self {
        XrayReqwestMiddleware {
            recorder: RecorderRef::given(recorder),
            options: HttpOptions::new(),
        }
    }

    /// Records the query string in `http.request.url` (off by default: query strings often carry tokens).
    pub fn record_query_string(mut self, record: bool) -> Self {
        self.options = self.options.record_query_string(record);
        self
    }

    fn recorder(&self) -> &Recorder {
        self.recorder.get()
    }
}

#[async_trait::async_trait]
impl Middleware for XrayReqwestMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let Some(subsegment) = ClientSubsegment::begin(
            self.recorder(),
            req.method().as_str(),
            req.url().as_str(),
            &self.options,
        ) else {
            return next.run(req, extensions).await;
        };
        match subsegment.trace_header().map(HeaderValue::try_from) {
            Some(Ok(value)) => {
                req.headers_mut().insert(X_AMZN_TRACE_ID, value);
            }
            Some(Err(e)) => log::debug!("X-Ray: trace header not sent: {e}"),
            None => {}
        }
        let entity = subsegment.entity().clone();
        let result = next.run(req, extensions).in_entity(entity).await;
        match &result {
            Ok(response) => {
                subsegment.finish(response.status().as_u16(), response.content_length())
            }
            Err(reqwest_middleware::Error::Reqwest(error)) => {
                subsegment.finish_error(error, Some(reqwest_error_kind(error)));
            }
            Err(reqwest_middleware::Error::Middleware(error)) => {
                subsegment.finish_error(error.as_ref(), Some("reqwest_middleware::Error"));
            }
        }
        result
    }
}

/// The type recorded for a reqwest error, with its kind so that timeouts and refused connections stand out
/// (recorded, as every type name, without its module path: `Error(timeout)`).
fn reqwest_error_kind(error: &reqwest::Error) -> &'static str {
    if error.is_timeout() {
        "reqwest::Error(timeout)"
    } else if error.is_connect() {
        "reqwest::Error(connect)"
    } else if error.is_request() {
        "reqwest::Error(request)"
    } else if error.is_body() || error.is_decode() {
        "reqwest::Error(body)"
    } else {
        "reqwest::Error"
    }
}
