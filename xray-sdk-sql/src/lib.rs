//! AWS X-Ray tracing for SQL databases.

mod endpoint;
mod statement;

#[cfg(feature = "_sqlx")]
pub mod sqlx;

pub use endpoint::XraySqlEndpoint;
pub use statement::{Preparation, XraySqlError, XraySqlSubsegment};
