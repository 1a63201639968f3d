//! The daemon's sampling API over the crate's HTTP/1.1 client: one JSON `POST` per call.

use std::time::Duration;

use super::PollError;
use crate::config::Endpoint;
use crate::net::http1::{self, Body, HttpError};

/// Posts JSON bodies to the daemon.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    http: http1::Client,
}

impl Client {
    pub(crate) fn new(endpoint: Endpoint, timeout: Duration) -> Self {
        Client {
            http: http1::Client::new(endpoint, timeout),
        }
    }

    /// `POST path` with `body`; the body of a `200` response.
    pub(crate) fn post(&self, path: &str, body: &[u8]) -> Result<Vec<u8>, PollError> {
        let body = Body {
            content_type: "application/json",
            bytes: body,
        };
        let resp = self
            .http
            .send("POST", path, &[("Accept", "application/json")], Some(body))
            .map_err(poll_error)?;
        if resp.status == 200 {
            Ok(resp.body)
        } else {
            Err(PollError::Status {
                status: resp.status,
                body: resp.snippet(),
            })
        }
    }
}

fn poll_error(e: HttpError) -> PollError {
    match e {
        HttpError::Connect(e) => PollError::Connect(e),
        HttpError::Timeout => PollError::Timeout,
        HttpError::Io(e) => PollError::Io(e),
        HttpError::Malformed(m) => PollError::Malformed(m),
    }
}
