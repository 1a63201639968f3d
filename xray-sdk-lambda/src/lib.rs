//! AWS X-Ray tracing for Rust Lambda functions: a tower layer for `lambda_runtime` and `lambda_http` services.
//!
//! ```no_run
//! use lambda_runtime::{Error, LambdaEvent, service_fn};
//! use serde_json::{Value, json};
//! use tower_layer::Layer;
//! use xray_sdk_lambda::XrayLambdaLayer;
//!
//! async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
//!     // Subsegments begun here (`#[capture]`, the HTTP and AWS SDK integrations, `begin_subsegment`)
//!     // nest under the invocation.
//!     let work = xray_sdk_core::global().begin_subsegment("work")?;
//!     work.put_annotation("n", event.payload["n"].as_i64().unwrap_or(0));
//!     Ok(json!({ "n": event.payload["n"] }))
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let service = XrayLambdaLayer::new().layer(service_fn(handler));
//!     lambda_runtime::run(service).await
//! }
//! ```
//!
//! # What is recorded
//! Lambda sends the function's segment itself (`AWS::Lambda::Function`), so the function records under a
//! *facade* ([`Recorder::facade`](xray_sdk_core::Recorder::facade)): a stand-in for that segment, made for
//! each invocation from its trace header (`Root`, `Parent`, `Sampled`), never sent. For each invocation the
//! layer begins one subsegment under the facade, named after the function (`AWS_LAMBDA_FUNCTION_NAME`, or
//! [`XrayLambdaLayer::name`]), with the annotation `ColdStart` (`true` for the first invocation of the
//! process; the name AWS Lambda Powertools uses, so existing X-Ray queries such as `annotation.ColdStart = true`
//! keep working; the X-Ray SDKs themselves record no cold start), and makes it current for the handler's future. An error the handler returns is recorded on it as
//! a fault with the error's message; a panic as a fault with an exception of type `panic` (the panic then goes
//! on to the runtime, which reports it to Lambda).
//!
//! What reaches the daemon (`AWS_XRAY_DAEMON_ADDRESS`) is only independent subsegments of the invocation's
//! trace: `type: subsegment`, `trace_id` = `Root`, `parent_id` = `Parent`. A `Sampled=0` invocation, or one
//! without a complete trace header, sends nothing (calls made under it still propagate its trace id).
//!
//! # Before the sandbox freezes
//! Lambda freezes the sandbox when the response is posted. In Lambda, the recorder built from the environment
//! sends each document from the thread that finishes it (`xray_sdk_core::emitter::DirectUdpEmitter`),
//! so the invocation's subsegment, ended when the handler's future completes, is in the daemon's socket
//! before the runtime posts the response; and no thread outlives the invocation's work. It records no segment
//! of its own and starts no sampling poller: the decision comes with each invocation. None of this needs
//! configuring: the recorder detects Lambda from `AWS_LAMBDA_FUNCTION_NAME` / `LAMBDA_TASK_ROOT`. With a
//! recorder of your own ([`XrayLambdaLayer::recorder`]), give it an emitter that sends at once as well, or call
//! `Recorder::flush` before returning. Subsegments that are still open when the handler returns (work left
//! running in spawned tasks) are sent when they end, which may be after the sandbox is thawed again.
//!
//! # Trace context
//! The trace header of each invocation comes from its context, `Context::xray_trace_id` (the
//! `Lambda-Runtime-Trace-Id` header of the Runtime API), never from shared state. Only where the runtime runs
//! one invocation at a time (`AWS_LAMBDA_MAX_CONCURRENCY` unset or 1) is `_X_AMZN_TRACE_ID` read as a
//! fallback, for requests that carry no context.
//!
//! # Concurrency
//! The layer works with `lambda_runtime::run` and with `run_concurrent` (feature `concurrency-tokio` of
//! `lambda_runtime`, where Lambda Managed Instances run several invocations at once and `_X_AMZN_TRACE_ID` is
//! not set). Each invocation has its own facade, and its subsegment is current only inside its own future, so
//! invocations in flight at once never mix their subsegments. Tasks spawned by the handler continue the
//! invocation's trace with `xray_sdk_core::context::spawn` (feature `tokio`) or `FutureExt::in_current_entity`.
//!
//! # `lambda_http`
//! [`XrayInvocation`] is implemented for `http::Request`, which `lambda_http` gives the invocation's context
//! in its extensions: `lambda_http::run(XrayLambdaLayer::new().layer(service))` traces HTTP functions the same
//! way. (Do not put the tower server layer of `xray-sdk-tower` in a Lambda function: Lambda records the
//! function's segment, and in Lambda the recorder records no segment of its own.)
//!
//! # SQS
//! [`sqs`] links the records of an SQS event to the traces of their messages (`AWSTraceHeader`).
//!
//! # Features
//! | feature | what it adds |
//! |---|---|
//! | (none) | everything above; `run_concurrent` needs `lambda_runtime`'s own `concurrency-tokio` feature |
//!
//! The handler's error type must implement `Display` (as `lambda_runtime::Error`, `anyhow::Error`, `String` and
//! most error types do), so that its message can be recorded.

mod future;
mod invocation;
mod layer;
pub mod sqs;

pub use future::XrayLambdaFuture;
pub use invocation::XrayInvocation;
pub use layer::{COLD_START_ANNOTATION, XrayLambdaLayer, XrayLambdaService};
