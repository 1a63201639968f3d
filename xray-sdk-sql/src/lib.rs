//! AWS X-Ray tracing for SQL databases.

mod endpoint;
mod statement;
mod tracer;

#[cfg(feature = "_sqlx")]
pub mod sqlx;

pub use endpoint::XraySqlEndpoint;
pub use statement::{Preparation, XraySqlError, XraySqlSubsegment};

#[cfg(feature = "rusqlite")]
pub mod rusqlite;
#[cfg(feature = "tokio-postgres")]
pub mod tokio_postgres;
#[cfg(feature = "diesel")]
pub mod diesel;
