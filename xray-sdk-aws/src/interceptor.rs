//! [`XrayAws`]: the interceptor.

use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::{
    BeforeSerializationInterceptorContextMut, BeforeTransmitInterceptorContextMut,
    BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_smithy_runtime_api::client::orchestrator::{
    HttpRequest, HttpResponse, Metadata, OrchestratorError,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use aws_types::region::Region;
use serde_json::{Map, Value};
use xray_sdk_core::http::RecorderRef;
use xray_sdk_core::{Recorder, context};
use xray_sdk_types::Namespace;

use crate::call::{Call, add_exception, aws_block};
use crate::request::{request_parameters, response_parameters};
use crate::service_error::ServiceError;
use crate::whitelist::{Whitelist, apply};

/// The trace header's name.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// The X-Ray API operations that are never traced: the SDK's own sampling and sending must not trace itself.
const UNTRACED_XRAY_OPERATIONS: &[&str] =
    &["GetSamplingRules", "GetSamplingTargets", "PutTraceSegments"];

/// An AWS SDK for Rust interceptor that records each call as an `aws` subsegment of the current entity and sends
/// the trace header with it. See the [crate documentation](crate).
///
/// It holds no per-call state (that lives in each call's config bag), so one value can serve any number of
/// clients and concurrent calls.
#[derive(Debug, Clone, Default)]
pub struct XrayAws {
    recorder: RecorderRef,
}

impl XrayAws {
    /// An interceptor recording with the process-wide recorder ([`xray_sdk_core::global`]), looked up at each
    /// call.
    pub fn new() -> Self {
        Self::default()
    }

    /// An interceptor recording with `recorder`.
    pub fn with_recorder(recorder: Recorder) -> Self {
        XrayAws {
            recorder: RecorderRef::given(recorder),
        }
    }

    /// Opens the call's subsegment under the current entity; `None` when there is none (or for the X-Ray API's
    /// own sampling and sending calls).
    fn begin(&self, cfg: &ConfigBag) -> Option<Call> {
        let metadata = cfg.load::<Metadata>()?;
        let (service, operation) = (metadata.service(), metadata.name());
        if service == "XRay" && UNTRACED_XRAY_OPERATIONS.contains(&operation) {
            return None;
        }
        let recorder = self.recorder.get();
        let Some(parent) = context::current() else {
            // The recorder's context-missing strategy decides whether this is logged; the call goes on untraced.
            if let Err(e) = recorder.subsegment(service).begin_detached() {
                log::debug!("X-Ray: {service} {operation} is not traced: {e}");
            }
            return None;
        };
        let guard = recorder
            .subsegment(service)
            .namespace(Namespace::Aws)
            .parent(&parent)
            .begin_detached()
            .ok()?;
        let region = cfg.load::<Region>().map(|r| r.as_ref().to_owned());
        Some(Call::new(guard.into_entity(), service, operation, region))
    }
}

fn call(cfg: &ConfigBag) -> Option<&Call> {
    cfg.load::<Call>()
}

impl Intercept for XrayAws {
    fn name(&self) -> &'static str {
        "XrayAws"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // The first hook that sees the operation's metadata: a client's interceptors run `read_before_execution`
        // before the operation's configuration (service and operation names among it) is in the bag.
        let Some(call) = self.begin(cfg) else {
            return Ok(());
        };
        #[cfg(feature = "sqs")]
        if call.service == "SQS" {
            crate::sqs::add_trace_header(context.input_mut(), &call.entity);
        }
        #[cfg(not(feature = "sqs"))]
        let _ = context;
        cfg.interceptor_state().store_put(call);
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = call(cfg) {
            call.attempt();
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        // Here, after the SDK's recursion-detection interceptor and after signing: the header is neither
        // overwritten nor signed.
        if let Some(call) = call(cfg) {
            if call.is_first_attempt() {
                // The request as sent: its endpoint resolved (S3's bucket is in its URI only from here on).
                record_request_parameters(call, context.request());
            }
            // `None` when there is no trace to continue (the SDK disabled with no incoming header).
            if let Some(header) = call.entity.trace_header() {
                context
                    .request_mut()
                    .headers_mut()
                    .insert(TRACE_HEADER, header.to_string());
            }
        }
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = call(cfg) else {
            return Ok(());
        };
        if !call.finish() {
            return Ok(());
        }
        if call.entity.is_sampled() {
            record_outcome(call, context);
        }
        call.entity.end();
        Ok(())
    }
}

/// Keeps the whitelisted parameters of the request (of a sampled call).
fn record_request_parameters(call: &Call, request: &HttpRequest) {
    if !call.entity.is_sampled() {
        return;
    }
    let Some(rules) = Whitelist::embedded().rules(&call.service, &call.operation) else {
        return;
    };
    if rules.request.is_empty() {
        return;
    }
    let header = |name: &str| request.headers().get(name).map(str::to_owned);
    let params = request_parameters(
        &call.service,
        request.uri(),
        &header,
        request.body().bytes(),
    );
    let mut recorded = Map::new();
    apply(&rules.request, &params, &mut recorded);
    if let Ok(mut slot) = call.request_parameters.lock() {
        *slot = recorded;
    }
}

/// Records what the call ended with: the `aws` block, the HTTP response and the error, if any.
fn record_outcome(call: &Call, context: &FinalizerInterceptorContextRef<'_>) {
    let entity = &call.entity;
    let mut parameters = call.take_request_parameters();
    let response = context.response();
    let outcome = context.output_or_error();
    let mut request_id = None;
    if let Some(response) = response {
        let header = |name: &str| response.headers().get(name).map(str::to_owned);
        request_id = header("x-amzn-requestid").or_else(|| header("x-amz-request-id"));
        if let Some(id_2) = header("x-amz-id-2") {
            parameters.insert("id_2".into(), Value::String(id_2));
        }
        let status = response.status().as_u16();
        if matches!(outcome, Some(Ok(_)))
            && let Some(rules) = Whitelist::embedded().rules(&call.service, &call.operation)
            && !rules.response.is_empty()
        {
            let params =
                response_parameters(&call.service, status, &header, response.body().bytes());
            apply(&rules.response, &params, &mut parameters);
        }
        let content_length = header("content-length").and_then(|n| n.parse::<i64>().ok());
        entity.set_http_response(status, content_length);
        if status >= 400 || matches!(outcome, Some(Err(_))) {
            record_service_error(entity, status, &header, response);
        }
    } else if let Some(Err(error)) = outcome {
        record_failure(entity, error);
    }
    let mut aws = aws_block(
        &call.operation,
        call.region.clone(),
        Some(call.retries()),
        parameters,
    );
    aws.request_id = request_id;
    entity.set_aws(aws);
}

/// A service's error answer: a remote exception with the service's error code and message; a throttling code
/// sets the throttle flag (the status already set error or fault).
fn record_service_error(
    entity: &xray_sdk_core::Entity,
    status: u16,
    header: &dyn Fn(&str) -> Option<String>,
    response: &HttpResponse,
) {
    let error = ServiceError::from_response(header, response.body().bytes());
    if error.is_throttling() {
        entity.set_throttle();
        entity.set_error();
    }
    if status < 400 {
        // An error in a 2xx/3xx answer (such as S3's 200 with an error body) is still the service's fault.
        entity.set_fault();
    }
    let code = error.code.as_deref().unwrap_or("UnknownError");
    let message = error
        .message
        .unwrap_or_else(|| format!("HTTP status {status}"));
    add_exception(entity, code, &message, true);
}

/// A call that got no response: the request could not be sent, or no answer came in time. A fault.
fn record_failure(
    entity: &xray_sdk_core::Entity,
    error: &OrchestratorError<aws_smithy_runtime_api::client::interceptors::context::Error>,
) {
    let type_name = if error.is_timeout_error() {
        "Timeout"
    } else if let Some(connector) = error.as_connector_error() {
        if connector.is_timeout() {
            "Timeout"
        } else if connector.is_io() {
            "DispatchFailure(io)"
        } else {
            "DispatchFailure"
        }
    } else if error.is_response_error() {
        "ResponseError"
    } else if error.is_interceptor_error() {
        "InterceptorError"
    } else {
        "Error"
    };
    entity.set_fault();
    add_exception(entity, type_name, &error_chain(error), false);
}

/// The error's message followed by its sources' messages.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    let mut depth = 0;
    while let Some(e) = source {
        if depth == 8 {
            break;
        }
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
        depth += 1;
    }
    text
}
