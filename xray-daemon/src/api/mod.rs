//! The JSON API over HTTP, and the way every HTTP listener of the daemon is served.
//!
//! | route | what |
//! |---|---|
//! | `GET /api/traces` | trace summaries, newest first, with filters ([`traces::list`]) |
//! | `GET /api/traces/{trace_id}` | one trace: its summary and its documents, each once, with where each goes in the trace's trees; a page of at most 4 MiB at a time (`?offset=`) ([`traces::TraceDetail`]) |
//! | `GET /api/stats` | counters: received, stored, invalid by reason, dropped; what the store holds (kept counts, not recounted) |
//! | `GET /api/invalid` | the newest invalid documents with their reasons (`?limit=`, default 100) |
//! | `GET /api/map` | the service map of the traces that started in `?from=&to=` (epoch seconds) ([`map::get`]) |
//! | `GET /api/sampling` | the sampling rules served, with each client's statistics and quota ([`crate::sampling`]) |
//!
//! Every store query runs within the store's time limit ([`crate::Config::query_timeout`], `--query-timeout`):
//! one that runs past it is stopped and answered `503 Service Unavailable` with
//! `{"error": "the query ran past the store's time limit and was stopped: narrow it (a time range, a service, a status) and try again"}`
//! ([`error::QUERY_TIMEOUT_MESSAGE`]).

pub mod error;
pub mod guard;
pub mod listener;
pub mod map;
pub mod sampling;
pub mod stats;
pub mod traces;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use tokio::sync::watch;

pub use listener::HttpLimits;

use crate::sampling::SamplingService;
use crate::stats::Stats;
use crate::store::Store;

/// What the API's handlers share.
#[derive(Debug, Clone)]
pub struct ApiState {
    /// The trace store.
    pub store: Store,
    /// The daemon's counters.
    pub stats: Arc<Stats>,
    /// The sampling API's rules and statistics.
    pub sampling: Arc<SamplingService>,
    /// Whether the sampling API passes requests on to AWS X-Ray instead (while forwarding).
    pub sampling_answered_by_xray: bool,
}

/// The JSON API's routes. Other route sets (the viewer's pages) can be merged into it with [`Router::merge`].
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/api/traces", get(traces::list))
        .route("/api/traces/{trace_id}", get(traces::get))
        .route("/api/stats", get(stats::get))
        .route("/api/invalid", get(stats::invalid))
        .route("/api/map", get(map::get))
        .route("/api/sampling", get(sampling::get))
        .with_state(state)
}

/// Serves `router` on `listener` within `limits` (timeouts, connections at once) until `shutdown` turns true,
/// as a Tokio task.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: Router,
    limits: HttpLimits,
    shutdown: watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(listener::serve_with_limits(
        listener, router, limits, shutdown,
    ))
}
