//! AWS X-Ray tracing for SQL: one `remote` subsegment per statement for sqlx, diesel, tokio-postgres and rusqlite.
//!
//! # Quickstart
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use xray_sdk_sql::sqlx::XraySqlxPool;
//!
//! // The one line that changes: the pool's constructor.
//! let pool = XraySqlxPool::<sqlx::Postgres>::connect("postgres://app:secret@db.internal/orders").await?;
//! // Everything else stays: statements run inside the current segment become its subsegments.
//! let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE customer = $1")
//!     .bind("alice")
//!     .fetch_one(&pool)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Each statement becomes a subsegment named `database@host` (`orders@db.internal`; the file's name for SQLite,
//! `:memory:` in memory) with the `sql` block:
//!
//! | field | value |
//! |---|---|
//! | `url` | `postgres://app@db.internal:5432/orders`: rebuilt from its parts, never with a password or query string |
//! | `database_type` | `PostgreSQL`, `MySQL` (MariaDB too) or `SQLite` |
//! | `database_version` | the server's, read once per connection or pool (`SHOW server_version`, `VERSION()`, `sqlite_version()`) |
//! | `driver_version` | `sqlx 0.9`, `diesel 2`, `tokio-postgres 0.7`, `rusqlite 0.43` |
//! | `user` | the user connected as |
//! | `preparation` | `call` for `CALL …`, else `statement` |
//! | `sanitized_query` | the statement's text with its placeholders (`$1`, `?`), never a bound value; only while the recorder's `stream_sql` setting is on (the default) |
//!
//! A statement the database refuses records the database's code (SQLSTATE for PostgreSQL and MySQL, the extended
//! result code for SQLite, the error kind for diesel) as the exception's type, with its message, as a fault; an
//! integrity-constraint violation (unique, foreign key, not null, check) is the caller's doing and is recorded as
//! an error instead, as an HTTP 4xx is. "No row" from `query_one`/`query_row` is not recorded as a failure: the
//! statement ran. Tracing never changes a statement's result, and a statement outside any segment (or in an
//! unsampled trace) runs untouched.
//!
//! # Features
//!
//! | feature | what it adds |
//! |---|---|
//! | `sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite` | [`sqlx::XraySqlxPool`] (with its connections and transactions) for that database |
//! | `diesel` | [`diesel::XrayDieselInstrumentation`], diesel's `Instrumentation` hook, per connection or process-wide |
//! | `tokio-postgres` | [`tokio_postgres::XrayPgClient`], a traced client, with its transactions |
//! | `rusqlite` | [`rusqlite::XraySqliteConnection`], a traced connection, with its prepared statements and transactions |
//!
//! Each pulls in its driver only. SQLite is built once, bundled, for all three SQLite drivers (rusqlite 0.43's
//! `libsqlite3-sys`, which sqlx 0.9 and diesel 2.4 accept). sqlx 0.9 needs Rust 1.94.
//!
//! # Concurrency
//! A statement belongs to the entity current in the task (or thread) that runs it: many tasks can share one pool
//! or client, each under its own segment, and their statements never mix. Run spawned work inside the trace with
//! `xray_sdk_core::context::spawn` or `FutureExt::in_current_entity`. A statement future dropped before it
//! finishes (cancelled) ends its subsegment as a fault with metadata `xray.cancelled = true`; a row stream
//! dropped early just ends it.
//!
//! # Differences from the Python SDK
//! The Python SDK's DB-API patchers never record the query; here `sanitized_query` follows `stream_sql` for
//! every driver, as its SQLAlchemy integration does. Python's SQLAlchemy integration keeps the user in the URL
//! and names subsegments by host; here the URL has the user but never a password, and names are
//! `database@host`.
//!
//! The building blocks, [`XraySqlEndpoint`] and [`XraySqlSubsegment`], are public for drivers not covered here.

mod endpoint;
mod statement;
#[cfg(any(
    feature = "_sqlx",
    feature = "diesel",
    feature = "rusqlite",
    feature = "tokio-postgres"
))]
mod tracer;

#[cfg(feature = "diesel")]
pub mod diesel;
#[cfg(feature = "rusqlite")]
pub mod rusqlite;
#[cfg(feature = "_sqlx")]
pub mod sqlx;
#[cfg(feature = "tokio-postgres")]
pub mod tokio_postgres;

pub use endpoint::XraySqlEndpoint;
pub use statement::{Preparation, XraySqlError, XraySqlSubsegment};
