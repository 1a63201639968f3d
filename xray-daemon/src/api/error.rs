//! API errors as JSON: `{"error": "..."}` with a status code.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// The message of a query stopped at the store's time limit (a 503).
pub const QUERY_TIMEOUT_MESSAGE: &str = "the query ran past the store's time limit and was stopped: \
     narrow it (a time range, a service, a status) and try again";

/// An API failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// A 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
        }
    }

    /// A 404 with `message`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
        }
    }

    /// The 503 of a store query stopped at its time limit.
    pub fn query_timeout() -> ApiError {
        ApiError {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: QUERY_TIMEOUT_MESSAGE.to_owned(),
        }
    }

    /// A 500 with `message`.
    pub fn internal(message: impl std::fmt::Display) -> ApiError {
        log::error!("API: {message}");
        ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: message.to_string(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

/// Runs a blocking store query off the async threads. A query stopped at the store's time limit is a 503
/// ([`ApiError::query_timeout`]).
pub async fn blocking<T: Send + 'static>(
    query: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(query).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) if crate::store::is_timeout(&e) => {
            log::warn!("API: a query ran past the store's time limit and was stopped");
            Err(ApiError::query_timeout())
        }
        Ok(Err(e)) => Err(ApiError::internal(format!("trace store: {e}"))),
        Err(e) => Err(ApiError::internal(format!("query task failed: {e}"))),
    }
}
