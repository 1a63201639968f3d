#![doc = include_str!("../../README.md")]
//!
//! # This crate
//! `xray-sdk` is the crate to depend on. It re-exports the recorder ([`Recorder`], [`Entity`], the guards,
//! [`context`], [`sampling`], [`emitter`], [`config`]), the wire model ([`types`]) and the `#[capture]`
//! attribute, and turns on integrations by feature:
//!
//! | feature | what it adds |
//! |---|---|
//! | `macros` (default) | [`capture`] |
//! | `plugins` (default) | [`plugins`]: where the service runs — Elastic Beanstalk, EKS, ECS, EC2 — in each segment's `aws` block and `origin`, with `RecorderBuilder::plugins` |
//! | `tokio` | `context::spawn` |
//! | `test-util` | `emitter::MemoryEmitter`, `clock::ManualClock` |
//! | `tower` | `xray_sdk::tower`: `XrayHttpLayer` for axum, hyper and tonic servers, `XrayHttpClientLayer` for clients |
//! | `axum` | `tower`, plus axum's matched route (annotation `http_route`) and peer address |
//! | `reqwest` | `xray_sdk::reqwest`: `XrayReqwestMiddleware` for `reqwest-middleware` clients |
//! | `actix` | `xray_sdk::actix`: `XrayActixMiddleware` for actix-web |
//! | `lambda` | `xray_sdk::lambda`: `XrayLambdaLayer` for `lambda_runtime` and `lambda_http` functions |
//! | `tracing` | `xray_sdk::tracing_bridge`: `XrayLayer` (spans become subsegments), `XrayFormat` and `XrayLogger` (log lines carry the trace id) |
//! | `aws` | `xray_sdk::aws`: `XrayAws`, an interceptor for AWS SDK for Rust clients |
//! | `aws-sqs` | `aws`, plus the trace carried in SQS messages (`AWSTraceHeader`) |
//! | `sqlx-postgres`, `sqlx-mysql`, `sqlx-sqlite` (`sqlx`: all three) | `xray_sdk::sql::sqlx`: `XraySqlxPool`, a traced sqlx pool |
//! | `diesel` | `xray_sdk::sql::diesel`: `XrayDieselInstrumentation`, diesel's instrumentation hook |
//! | `tokio-postgres` | `xray_sdk::sql::tokio_postgres`: `XrayPgClient` |
//! | `rusqlite` | `xray_sdk::sql::rusqlite`: `XraySqliteConnection` |
//! | `sql` | every SQL integration |
//!
//! The HTTP integrations share [`http`]: the framework-neutral logic for incoming and outgoing requests.
//!
//! `use xray_sdk::prelude::*` brings the recorder and each enabled integration's type into scope without hiding
//! the `tower`, `reqwest`, `http` or `tracing` crates behind this crate's modules of the same names
//! ([`prelude`]).

pub use xray_sdk_core::*;
#[cfg(feature = "macros")]
pub use xray_sdk_macros::capture;

pub mod prelude;

/// Tower layers: `XrayHttpLayer` (servers) and `XrayHttpClientLayer` (clients). See [`xray_sdk_tower`].
#[cfg(feature = "tower")]
pub use xray_sdk_tower as tower;

/// The reqwest middleware `XrayReqwestMiddleware`. See [`xray_sdk_reqwest`].
#[cfg(feature = "reqwest")]
pub use xray_sdk_reqwest as reqwest;

/// The actix-web middleware `XrayActixMiddleware`. See [`xray_sdk_actix`].
#[cfg(feature = "actix")]
pub use xray_sdk_actix as actix;

/// AWS Lambda: `XrayLambdaLayer` for `lambda_runtime` and `lambda_http` functions. See [`xray_sdk_lambda`].
#[cfg(feature = "lambda")]
pub use xray_sdk_lambda as lambda;
/// SQL tracing: sqlx, diesel, tokio-postgres and rusqlite. See [`xray_sdk_sql`].
#[cfg(any(
    feature = "sqlx-postgres",
    feature = "sqlx-mysql",
    feature = "sqlx-sqlite",
    feature = "diesel",
    feature = "tokio-postgres",
    feature = "rusqlite"
))]
pub use xray_sdk_sql as sql;

/// The AWS SDK for Rust interceptor `XrayAws`. See [`xray_sdk_aws`].
#[cfg(feature = "aws")]
pub use xray_sdk_aws as aws;
/// The `tracing` bridge: `XrayLayer`, `XrayFormat`, `XrayLogger`. See [`xray_sdk_tracing`].
///
/// Named `tracing_bridge` rather than `tracing`: a module `tracing` here would, after `use xray_sdk::*;`, shadow
/// the `tracing` crate in the user's own paths (`tracing::info!`).
#[cfg(feature = "tracing")]
pub use xray_sdk_tracing as tracing_bridge;

#[doc(hidden)]
pub use xray_sdk_core::__private;
