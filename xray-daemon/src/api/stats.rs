//! `GET /api/stats` and `GET /api/invalid`.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::ApiState;
use super::error::{ApiError, blocking};
use crate::stats::StatsSnapshot;
use crate::store::query::{InvalidDocument, StoreCounts};

/// The body of `GET /api/stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsResponse {
    /// The daemon's counters since it started.
    #[serde(flatten)]
    pub counters: StatsSnapshot,
    /// What the store holds now (including traces from before a restart).
    pub store: StoreCounts,
}

/// `GET /api/stats`.
pub async fn get(State(state): State<ApiState>) -> Result<Json<StatsResponse>, ApiError> {
    let counters = state.stats.snapshot();
    let store = state.store.clone();
    let store = blocking(move || store.counts()).await?;
    Ok(Json(StatsResponse { counters, store }))
}

/// The query of `GET /api/invalid`.
#[derive(Debug, Deserialize)]
pub struct InvalidQuery {
    limit: Option<usize>,
}

/// `GET /api/invalid`: the newest invalid documents.
pub async fn invalid(
    State(state): State<ApiState>,
    Query(query): Query<InvalidQuery>,
) -> Result<Json<Vec<InvalidDocument>>, ApiError> {
    let limit = query.limit.unwrap_or(100).min(1000);
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.invalid_documents(limit)).await?,
    ))
}
