//! AWS X-Ray tracing for the AWS SDK for Rust.

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
#[cfg(feature = "sqs")]
pub use sqs::trace_header_of_message;
pub use service_error::THROTTLING_ERROR_CODES;
