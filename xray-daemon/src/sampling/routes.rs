//! The HTTP routes of the sampling API, served on the daemon's TCP address.
//!
//! | route | what |
//! |---|---|
//! | `POST /GetSamplingRules` | one page of rules ([`SamplingService::get_rules`]) |
//! | `POST /SamplingTargets` | quotas for the statistics reported ([`SamplingService::get_targets`]) |
//!
//! While forwarding, both are passed on to AWS X-Ray instead ([`XrayProxy`]).
//!
//! Only JSON bodies are taken, and no request from a web page (one with an `Origin`): see
//! [`crate::api::guard`].
//!
//! Errors are the X-Ray service's: a JSON body `{"__type": "InvalidRequestException", "Message": …}` with the
//! type repeated in the `x-amzn-ErrorType` header.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::de::DeserializeOwned;
use serde_json::Value;
use xray_sdk_types::sampling::api::{GET_SAMPLING_RULES_PATH, GET_SAMPLING_TARGETS_PATH};
use xray_sdk_types::sampling::{
    GetSamplingRulesRequest, GetSamplingRulesResponse, GetSamplingTargetsRequest,
    GetSamplingTargetsResponse,
};

use super::proxy::XrayProxy;
use super::{InvalidRequest, SamplingService};
use crate::api::guard::browser_request;

/// The largest request body accepted (a full request of 25 statistics documents takes about 5 KiB).
pub const MAX_BODY: usize = 256 * 1024;

/// An error as the X-Ray API returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiException {
    /// The HTTP status.
    pub status: StatusCode,
    /// The exception type, such as `InvalidRequestException`.
    pub kind: String,
    /// What is wrong.
    pub message: String,
}

impl ApiException {
    /// A 400 `InvalidRequestException`.
    pub fn invalid(message: impl Into<String>) -> ApiException {
        ApiException {
            status: StatusCode::BAD_REQUEST,
            kind: "InvalidRequestException".to_owned(),
            message: message.into(),
        }
    }
}

impl From<InvalidRequest> for ApiException {
    fn from(e: InvalidRequest) -> Self {
        ApiException::invalid(e.0)
    }
}

impl IntoResponse for ApiException {
    fn into_response(self) -> Response {
        let kind = HeaderValue::from_str(&self.kind).ok();
        let body = serde_json::json!({"__type": self.kind, "Message": self.message});
        let mut response = (self.status, Json(body)).into_response();
        if let Some(kind) = kind {
            response.headers_mut().insert("x-amzn-ErrorType", kind);
        }
        response
    }
}

/// Who answers the sampling API: the local service, or AWS X-Ray through the proxy while forwarding.
#[derive(Debug, Clone)]
pub struct Answerer {
    local: Arc<SamplingService>,
    proxy: Option<XrayProxy>,
}

/// The sampling API's routes, answered by `service`, or by X-Ray through `proxy` when there is one.
pub fn router(service: Arc<SamplingService>, proxy: Option<XrayProxy>) -> Router {
    let answerer = Answerer {
        local: service,
        proxy,
    };
    Router::new()
        .route(GET_SAMPLING_RULES_PATH, post(get_sampling_rules))
        .route(GET_SAMPLING_TARGETS_PATH, post(get_sampling_targets))
        .fallback(unknown_operation)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(answerer)
}

/// Reads a JSON object body into `T`. An empty body reads as `{}`.
pub(crate) fn parse<T: DeserializeOwned>(
    body: Result<Bytes, BytesRejection>,
) -> Result<T, ApiException> {
    let body = body.map_err(|e| ApiException {
        status: e.status(),
        ..ApiException::invalid(format!("cannot read the request body: {e}"))
    })?;
    let text: &[u8] = if body.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        &body
    };
    let value: Value = serde_json::from_slice(text)
        .map_err(|e| ApiException::invalid(format!("the request body is not JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiException::invalid(
            "the request body must be a JSON object",
        ));
    }
    serde_json::from_value(value)
        .map_err(|e| ApiException::invalid(format!("invalid request body: {e}")))
}

/// Refuses requests from web pages and bodies not declared JSON ([`crate::api::guard::browser_request`]).
fn check_headers(headers: &HeaderMap) -> Result<(), ApiException> {
    match browser_request(headers) {
        None => Ok(()),
        Some((status, message)) => Err(ApiException {
            status,
            ..ApiException::invalid(message)
        }),
    }
}

/// `POST /GetSamplingRules`.
pub async fn get_sampling_rules(
    State(answerer): State<Answerer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<GetSamplingRulesResponse>, ApiException> {
    check_headers(&headers)?;
    let request: GetSamplingRulesRequest = parse(body)?;
    match &answerer.proxy {
        Some(proxy) => Ok(Json(proxy.get_rules(&request).await?)),
        None => Ok(Json(answerer.local.get_rules(&request)?)),
    }
}

/// `POST /SamplingTargets`.
pub async fn get_sampling_targets(
    State(answerer): State<Answerer>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<GetSamplingTargetsResponse>, ApiException> {
    check_headers(&headers)?;
    let request: GetSamplingTargetsRequest = parse(body)?;
    match &answerer.proxy {
        Some(proxy) => Ok(Json(proxy.get_targets(&request).await?)),
        None => Ok(Json(
            answerer
                .local
                .get_targets(&request, xray_sdk_types::time::now())?,
        )),
    }
}

async fn unknown_operation(uri: Uri) -> ApiException {
    ApiException {
        status: StatusCode::NOT_FOUND,
        kind: "UnknownOperationException".to_owned(),
        message: format!(
            "{} is not served here: this daemon answers POST {GET_SAMPLING_RULES_PATH} and POST \
             {GET_SAMPLING_TARGETS_PATH}",
            uri.path()
        ),
    }
}
