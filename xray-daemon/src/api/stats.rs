//! `GET /api/stats` and `GET /api/invalid`.

use axum::Json;
use axum::extract::{RawQuery, State};
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

/// The default number of invalid documents `GET /api/invalid` returns.
pub const DEFAULT_INVALID_LIMIT: usize = 100;
/// The most invalid documents `GET /api/invalid` returns.
pub const MAX_INVALID_LIMIT: usize = 1000;

/// Parses the query of `GET /api/invalid`: `limit=N` (default [`DEFAULT_INVALID_LIMIT`], at most
/// [`MAX_INVALID_LIMIT`]).
///
/// # Errors
/// A message naming the bad or unknown parameter.
pub fn parse_invalid_query(query: &str) -> Result<usize, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("invalid query string: {e}"))?;
    let mut limit = DEFAULT_INVALID_LIMIT;
    for (key, value) in pairs {
        match key.as_str() {
            "limit" => {
                let n: usize = value
                    .parse()
                    .map_err(|_| format!("limit must be a whole number, not {value:?}"))?;
                limit = n.min(MAX_INVALID_LIMIT);
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(limit)
}

/// `GET /api/invalid`: the newest invalid documents.
pub async fn invalid(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<Vec<InvalidDocument>>, ApiError> {
    let limit =
        parse_invalid_query(query.as_deref().unwrap_or("")).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    Ok(Json(
        blocking(move || store.invalid_documents(limit)).await?,
    ))
}
