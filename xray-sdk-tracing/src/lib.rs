//! AWS X-Ray for the `tracing` ecosystem: spans become subsegments, and log lines carry the trace id.
//!
//! Services instrumented with `tracing` (`#[instrument]` on their own functions, spans from tower-http, hyper,
//! sqlx or the AWS SDK) show up in X-Ray without a line rewritten: add [`XrayLayer`] to the subscriber, and
//! every span opened inside an X-Ray segment becomes a subsegment of it.
//!
//! # Quickstart
//! ```
//! use tracing_subscriber::layer::SubscriberExt;
//! use tracing_subscriber::util::SubscriberInitExt;
//! use xray_sdk_tracing::{XrayFormat, XrayLayer};
//!
//! tracing_subscriber::registry()
//!     .with(XrayLayer::builder().annotation("order_id").build())
//!     .with(tracing_subscriber::fmt::layer().event_format(XrayFormat::default()))
//!     .init();
//!
//! #[tracing::instrument(fields(order_id = 42))]
//! fn checkout() {
//!     tracing::info!("checking out"); // AWS-XRAY-TRACE-ID: 1-…@… 2026-… INFO checkout: checking out
//! }
//! ```
//!
//! # What is recorded
//! | `tracing` | X-Ray |
//! |---|---|
//! | a span opened while an X-Ray entity is current, or under a traced span | a subsegment of that entity or of the span's subsegment, from the span's creation to its close |
//! | the span's name, or its `otel.name` field | the subsegment's name |
//! | fields named with [`XrayLayerBuilder::annotation`], or starting with `xray.` | annotations, keys sanitized to `[A-Za-z0-9_]` |
//! | the other fields | metadata in the namespace `tracing` |
//! | an `ERROR` event in a span; a span's `error` field | an exception (the message, caused by the `error` field's value and its `source()` chain), and a fault |
//! | a root span, with [`XrayLayerBuilder::root_segments`] | a segment, sampled as the recorder's sampler decides |
//!
//! Both directions compose: while a span is entered its subsegment is the current X-Ray entity, so subsegments
//! of the recorder and of other integrations opened inside it are its children, and spans opened inside an
//! X-Ray subsegment are its children.
//!
//! # With the HTTP integrations and spawned tasks
//! Put `tower_http::trace::TraceLayer` (or any layer that opens a span per request) inside
//! `XrayHttpLayer` (`.layer(TraceLayer::new_for_http()).layer(XrayHttpLayer::new())` in axum, where the last
//! layer is the outermost): its span then opens while the request's segment is current and becomes its
//! subsegment. That span lasts until the response body has been sent, so it may end after the segment. Placed
//! outside, its span opens before the segment and is not traced.
//!
//! A task spawned with `tokio::spawn(future.in_current_span())` or with `xray_sdk_core::context::spawn` nests
//! its spans under the span or entity current when it was spawned; a bare `tokio::spawn` continues nothing, as
//! with `tracing` alone.
//!
//! # Filters
//! [`XrayLayerBuilder::max_level`] and [`XrayLayerBuilder::target`] choose what is traced. Per-layer filters of
//! `tracing_subscriber` work too, and leave the other layers untouched:
//! ```
//! use tracing_subscriber::filter::{LevelFilter, Targets};
//! use tracing_subscriber::layer::{Layer, SubscriberExt};
//! use xray_sdk_tracing::XrayLayer;
//!
//! let subscriber = tracing_subscriber::registry().with(
//!     XrayLayer::new().with_filter(Targets::new().with_target("my_app", LevelFilter::INFO)),
//! );
//! # drop(subscriber);
//! ```
//! The SDK's own spans and events (targets `xray_sdk*`) are never traced, so that recording cannot feed itself.
//!
//! # Log correlation
//! [`XrayFormat`] (feature `fmt`) begins each `tracing_subscriber::fmt` line logged inside a trace with
//! `AWS-XRAY-TRACE-ID: 1-…@…`, the key the other X-Ray SDKs use, so that CloudWatch Logs and X-Ray can be joined.
//! [`XrayLogger`] (feature `log`) appends the same to the records of the `log` crate, and [`XrayLogId::current`]
//! gives it to any other logger.
//!
//! # Features
//! | feature | default | what it adds |
//! |---|---|---|
//! | `fmt` | yes | [`XrayFormat`] for `tracing_subscriber::fmt` |
//! | `log` | yes | [`XrayLogger`] for the `log` crate |
//!
//! # Concurrency and cost
//! A span's subsegment lives in the span's extensions, so spans moved to other tasks and threads keep it: a span
//! with a parent nests under its parent's subsegment wherever it runs, and an instrumented future, entered on
//! every poll on whichever worker polls it, makes its subsegment current for each poll. Each thread keeps its
//! own stack of entered spans and restores exactly what was current before each one.
//!
//! In an unsampled trace, spans record and keep nothing: no subsegment, no allocation beyond what `tracing`
//! itself does; the unsampled X-Ray entity stays current and still carries the trace header downstream. Spans
//! outside any trace cost a lookup of the current entity.

mod builder;
mod config;
mod correlation;
mod entered;
mod fields;
#[cfg(feature = "fmt")]
mod format;
mod layer;
#[cfg(feature = "log")]
mod logger;

pub use builder::XrayLayerBuilder;
pub use correlation::{LOG_KEY, XrayLogId};
#[cfg(feature = "fmt")]
pub use format::XrayFormat;
pub use layer::XrayLayer;
#[cfg(feature = "log")]
pub use logger::XrayLogger;
