//! AWS X-Ray tracing for the AWS SDK for Rust: [`XrayAws`], an interceptor that records each AWS call as an `aws`
//! subsegment and sends the trace to the service, so that the X-Ray service map links your service to each
//! table, bucket and queue it calls.
//!
//! # Quickstart
//! One line per client:
//! ```no_run
//! use xray_sdk_aws::XrayAws;
//!
//! # fn clients(sdk_config: &aws_types::SdkConfig) {
//! let dynamodb = aws_sdk_dynamodb::Client::from_conf(
//!     aws_sdk_dynamodb::config::Builder::from(sdk_config)
//!         .interceptor(XrayAws::new())
//!         .build(),
//! );
//! # let _ = dynamodb; }
//! ```
//! Calls made inside a segment (a traced request handler, a Lambda invocation, or a segment of your own with the
//! future wrapped by `.in_entity(…)`) are recorded; calls made outside any segment go out untouched.
//!
//! ## Many clients
//! The AWS SDK has no interceptor hook on `SdkConfig`, so each client's config builder gets the interceptor. One
//! `XrayAws` value serves every client (it holds no per-call state; clone it), and a small function of your own
//! keeps it in one place:
//! ```no_run
//! use xray_sdk_aws::XrayAws;
//!
//! struct Clients {
//!     dynamodb: aws_sdk_dynamodb::Client,
//!     s3: aws_sdk_s3::Client,
//!     sqs: aws_sdk_sqs::Client,
//! }
//!
//! fn clients(config: &aws_types::SdkConfig) -> Clients {
//!     let xray = XrayAws::new();
//!     Clients {
//!         dynamodb: aws_sdk_dynamodb::Client::from_conf(
//!             aws_sdk_dynamodb::config::Builder::from(config).interceptor(xray.clone()).build(),
//!         ),
//!         s3: aws_sdk_s3::Client::from_conf(
//!             aws_sdk_s3::config::Builder::from(config).interceptor(xray.clone()).build(),
//!         ),
//!         sqs: aws_sdk_sqs::Client::from_conf(
//!             aws_sdk_sqs::config::Builder::from(config).interceptor(xray).build(),
//!         ),
//!     }
//! }
//! ```
//!
//! # Features
//! | feature | what it adds |
//! |---|---|
//! | (none) | [`XrayAws`] for every client; [`trace_header_from_attribute`] |
//! | `sqs` | `SendMessage` and `SendMessageBatch` carry the trace in each message's `AWSTraceHeader` system attribute (unless the caller set one); `trace_header_of_message` reads it from a received message |
//!
//! # What it records
//! One subsegment per operation (however many attempts it took), in the `aws` namespace, named with the SDK's own
//! service id (`DynamoDB`, `S3`, `SQS`, `Lambda`, …), with:
//! - `aws.operation` (from the SDK's operation metadata), `aws.region`, `aws.request_id` (`x-amzn-requestid` or
//!   `x-amz-request-id`), S3's extended request id as `aws.id_2`, `aws.retries` (attempts after the first);
//! - the parameters of the AWS X-Ray SDKs' parameter whitelist, under the same snake_case names (`table_name`,
//!   `queue_url`, `message_id`, `key`, `bucket_name`, `table_count`, …);
//! - `http.response.status` and `content_length`; a 4xx status sets `error`, 429 `throttle` and `error`, 5xx
//!   `fault`; a throttling error code ([`THROTTLING_ERROR_CODES`]) sets `throttle`;
//! - a service's error as a remote exception with its error code as the type and its message;
//! - a call with no response (connection refused, attempt timeout) as a fault with the error; a call that never
//!   completed (the operation timeout elapsed, or the caller dropped the future) as a fault of type
//!   `OperationIncomplete`.
//!
//! The X-Ray API's own `GetSamplingRules`, `GetSamplingTargets` and `PutTraceSegments` are never traced.
//!
//! ## Where the parameters come from
//! The interceptor sees the operation's input only as a type-erased value. It reads the parameters from what
//! the SDK serialized: the JSON body of the `awsJson` protocols (DynamoDB, SQS, …) and of their responses, the
//! form body of `awsQuery` (SNS), S3's bucket and key from the request URI (path-style or virtual-hosted), and
//! Lambda's function name from its URI. A body is read only when the SDK holds it in memory, and only for
//! sampled calls of whitelisted operations: a streaming body (an S3 upload or download) is never touched.
//!
//! # The trace header
//! Every attempt carries `X-Amzn-Trace-Id: Root=…;Parent=<this call's subsegment>;Sampled=1|0` (with the
//! incoming header's other fields, such as `Lineage`). It is set just before transmission, after signing, so
//! SigV4 does not sign it, and after the SDK's recursion-detection interceptor, so it is not overwritten. Under
//! an unsampled segment nothing is recorded and the header says `Sampled=0`.
//!
//! # Never in the way
//! Every hook returns `Ok(())`: tracing never fails, delays or changes an AWS call. A call outside any segment
//! is neither recorded nor given a header; the recorder's context-missing strategy says whether that is logged.
//!
//! # Concurrency
//! Per-call state lives in the call's own config bag, so one client can serve many concurrent calls from
//! different segments. The segment is the current entity of the task that awaits `send()`: a call from a task
//! spawned with `tokio::spawn` has none unless the task was spawned with `xray_sdk_core::context::spawn` or its
//! future wrapped with `.in_current_entity()`.
//!
//! # How this differs from the Python SDK, on purpose
//! - A 4xx service error is an `error`, not also a `fault` (the service answered; your call was at fault).
//! - A dispatch failure or timeout is recorded as a fault with its error (Python records nothing for it).
//! - `aws.retries` is always present, 0 for a first-attempt success.

mod call;
mod interceptor;
mod message;
mod request;
mod service_error;
#[cfg(feature = "sqs")]
mod sqs;
mod whitelist;

pub use interceptor::{TRACE_HEADER, XrayAws};
pub use message::{AWS_TRACE_HEADER_ATTRIBUTE, trace_header_from_attribute};
pub use service_error::THROTTLING_ERROR_CODES;
#[cfg(feature = "sqs")]
pub use sqs::trace_header_of_message;
