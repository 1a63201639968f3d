//! AWS X-Ray tracing for tower services: [`XrayHttpLayer`] records each request a server (axum, hyper, tonic)
//! handles as a segment; [`XrayHttpClientLayer`] records each request a client (hyper's client, or any tower HTTP
//! client) makes as a `remote` subsegment and sends the trace header along.
//!
//! # Quickstart (axum)
//! ```no_run
//! use axum::{Router, routing::get};
//! use xray_sdk_core::Recorder;
//! use xray_sdk_tower::XrayHttpLayer;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let recorder = Recorder::builder().service_name("orders").build()?;
//! let app = Router::new()
//!     .route("/orders/{id}", get(|| async { "order" }))
//!     // Outermost of the layers that should be traced: add it last.
//!     .layer(XrayHttpLayer::with_recorder(recorder));
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:3000").await?;
//! // `with_connect_info` lets the layer record the peer address as `client_ip`.
//! let service = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
//! axum::serve(listener, service).await?;
//! # Ok(()) }
//! ```
//!
//! # What the server layer records
//! One segment per request, named by the recorder's service name (or by dynamic naming on the `Host`), never by
//! the URL. It continues the trace of an incoming `X-Amzn-Trace-Id` (or of a W3C `traceparent` when there is no
//! X-Ray header; a malformed header starts a new trace); the sampler is asked with host, method and path unless the
//! caller decided. The segment records `http.request` (method, URL without credentials or query string, user agent,
//! client address from `X-Forwarded-For` or the connection) and `http.response` (status, content length), with
//! error (4xx), throttle (429) and fault (5xx) set from the status. The response carries `X-Amzn-Trace-Id:
//! Root=…` (plus `;Sampled=1|0` when the caller sent `Sampled=?`). With the `axum` feature, the matched route
//! (`/orders/{id}`) is recorded as the annotation `http_route`. No header other than `User-Agent` is read into the
//! segment: `Authorization` and `Cookie` never leave the process.
//!
//! The segment ends when the inner service produces the response head (a streamed body is not waited for). A
//! handler that panics ends it as a fault with the panic recorded (the panic then goes on unwinding); a response
//! future dropped before completion (client gone, timeout layer) ends it as a fault with metadata
//! `xray.cancelled = true`; an error from the inner service ends it as a fault. Tracing never changes the
//! service's result: `type Error = S::Error`, and a tracing problem is only logged.
//!
//! # Where the layer goes
//! Add it with `Router::layer` so that it runs after routing (which is how it sees axum's `MatchedPath`) and
//! outside the layers whose time should count (timeouts, compression). Layers added after it (outer ones) are not
//! inside the segment. With plain hyper or tonic, wrap the service with `ServiceBuilder::new().layer(XrayHttpLayer::new())`.
//!
//! # Context, and spawned tasks
//! The segment is the current entity while the handler's future is polled, on whatever worker thread polls it:
//! subsegments, `#[capture]` functions and client calls made by the handler nest under it. The segment is also put
//! in the request's extensions as an [`Entity`](xray_sdk_core::Entity), for handlers that pass it on explicitly.
//! A task the handler spawns with `tokio::spawn` does not inherit the context: spawn it with
//! `xray_sdk_core::context::spawn` (feature `tokio` of the core), or run it with `.in_current_entity()`.
//!
//! # Features
//! | feature | what it adds |
//! |---|---|
//! | `axum` | the matched route as annotation `http_route`; the peer address from axum's `ConnectInfo<SocketAddr>` |

mod client;
mod request;
mod server;

pub use client::{ClientResponseFuture, XrayHttpClientLayer, XrayHttpClientService};
pub use server::{ResponseFuture, XrayHttpLayer, XrayHttpService};
pub use xray_sdk_core::http::HttpOptions;

use xray_sdk_core::http::RecorderRef;
