//! `GET /api/map`: the service map over a time range.

use axum::Json;
use axum::extract::{RawQuery, State};
use serde_json::Value;

use super::ApiState;
use super::error::{ApiError, blocking};
use crate::map::{MapBuilder, ServiceMap};

/// The most traces one map is computed from (the newest in the range).
pub const MAX_MAP_TRACES: usize = 5000;

/// Parses the query of `GET /api/map`: `from=EPOCH_SECONDS`, `to=EPOCH_SECONDS` (the traces' start time range;
/// both optional).
///
/// # Errors
/// A message naming the bad parameter.
pub fn parse_range(query: &str) -> Result<(Option<f64>, Option<f64>), String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("invalid query string: {e}"))?;
    let mut range = (None, None);
    for (key, value) in pairs {
        let number = value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("{key} must be a number, not {value:?}"));
        match key.as_str() {
            "from" => range.0 = Some(number?),
            "to" => range.1 = Some(number?),
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(range)
}

/// `GET /api/map`.
pub async fn get(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<ServiceMap>, ApiError> {
    let (from, to) = parse_range(query.as_deref().unwrap_or("")).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let map = blocking(move || {
        let mut builder = MapBuilder::new();
        let total = store.for_each_trace_in_range(from, to, MAX_MAP_TRACES, |bodies| {
            builder.add_trace(
                bodies
                    .iter()
                    .filter_map(|body| serde_json::from_slice::<Value>(body).ok())
                    .collect(),
            );
        })?;
        let mut map = builder.build();
        map.truncated = total > map.traces;
        map.from = from;
        map.to = to;
        Ok(map)
    })
    .await?;
    Ok(Json(map))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ranges() {
        assert_eq!(parse_range(""), Ok((None, None)));
        assert_eq!(parse_range("from=10&to=20.5"), Ok((Some(10.0), Some(20.5))));
        assert_eq!(
            parse_range("from=soon"),
            Err("from must be a number, not \"soon\"".to_owned())
        );
        assert_eq!(
            parse_range("since=1"),
            Err("unknown parameter \"since\"".to_owned())
        );
    }
}
