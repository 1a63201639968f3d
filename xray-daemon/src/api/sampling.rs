//! `GET /api/sampling`: the sampling rules served on the TCP address, with the statistics and quotas of their
//! clients.

use axum::Json;
use axum::extract::State;

use super::ApiState;
use crate::sampling::SamplingSnapshot;

/// `GET /api/sampling`.
pub async fn get(State(state): State<ApiState>) -> Json<SamplingSnapshot> {
    Json(state.sampling.snapshot(xray_sdk_types::time::now()))
}
