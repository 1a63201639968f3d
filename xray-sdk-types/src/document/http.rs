//! The `http` block.

use compact_str::CompactString;
use serde::{Deserialize, Serialize};

/// The `http` block of a segment or subsegment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Http {
    /// What was asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HttpRequest>,
    /// What was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HttpResponse>,
}

impl Http {
    /// The request block, created when absent.
    pub fn request_mut(&mut self) -> &mut HttpRequest {
        self.request.get_or_insert_with(HttpRequest::default)
    }

    /// The response block, created when absent.
    pub fn response_mut(&mut self) -> &mut HttpResponse {
        self.response.get_or_insert_with(HttpResponse::default)
    }
}

/// `http.request`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpRequest {
    /// The request method, such as `GET`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<CompactString>,
    /// The full URL, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The `User-Agent` of the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The address of the caller.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<CompactString>,
    /// Segments only: whether `client_ip` came from an `X-Forwarded-For` header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x_forwarded_for: Option<bool>,
    /// Subsegments only: whether the downstream service is traced too, so that X-Ray waits for its segment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traced: Option<bool>,
}

/// `http.response`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpResponse {
    /// The status code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The length of the body in bytes (`-1` when unknown, as some SDKs send).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_length: Option<i64>,
}
