//! `GET /api/sampling`: the sampling rules served on the TCP address, with the statistics and quotas of their
//! clients; `answered_by_xray` says when the sampling API passes requests on to AWS X-Ray instead.

use axum::Json;
use axum::extract::State;

use super::ApiState;
use crate::sampling::SamplingSnapshot;

/// `GET /api/sampling`.
pub async fn get(State(state): State<ApiState>) -> Json<SamplingSnapshot> {
    let mut snapshot = state.sampling.snapshot(xray_sdk_types::time::now());
    snapshot.answered_by_xray = state.sampling_answered_by_xray;
    Json(snapshot)
}
