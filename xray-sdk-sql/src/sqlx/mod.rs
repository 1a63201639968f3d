//! sqlx: [`XraySqlxPool`], a pool whose statements are traced, with its connections and transactions.
//!
//! Replace the pool's constructor and keep the rest of the code:
//!
//! ```no_run
//! # async fn run() -> Result<(), sqlx::Error> {
//! use xray_sdk_sql::sqlx::XraySqlxPool;
//!
//! // Was: let pool = sqlx::PgPool::connect(url).await?;
//! let pool = XraySqlxPool::<sqlx::Postgres>::connect("postgres://app@127.0.0.1/orders").await?;
//! let rows = sqlx::query("SELECT id FROM orders WHERE customer = $1")
//!     .bind(42_i64)
//!     .fetch_all(&pool)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! `&XraySqlxPool`, `&mut XraySqlxConnection` and `&mut XraySqlxTransaction` implement [`sqlx::Executor`]: each
//! statement is one `remote` subsegment of the current entity. [`XraySqlxPool::begin`] opens a transaction whose
//! `BEGIN`, `COMMIT` and `ROLLBACK` are subsegments too. The server's version is read once, when the pool is
//! wrapped.

mod database;
mod executor;
mod pool;
mod query;
mod transaction;

pub use database::XraySqlxDatabase;
pub use pool::XraySqlxPool;
pub use transaction::{XraySqlxConnection, XraySqlxTransaction};

/// The `driver_version` recorded for sqlx.
pub const DRIVER_VERSION: &str = "sqlx 0.9";
