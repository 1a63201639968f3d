//! What a traced connection, client or pool holds: the recorder (the global one unless set) and the endpoint.

use xray_sdk_core::Recorder;

use crate::endpoint::XraySqlEndpoint;
use crate::statement::{Preparation, XraySqlSubsegment};

/// The recorder and the endpoint of one traced connection, client or pool.
#[derive(Debug, Clone)]
pub(crate) struct Tracer {
    pub(crate) recorder: Option<Recorder>,
    pub(crate) endpoint: XraySqlEndpoint,
}

impl Tracer {
    pub(crate) fn new(endpoint: XraySqlEndpoint) -> Self {
        Tracer {
            recorder: None,
            endpoint,
        }
    }

    /// The recorder set, else the global recorder (read at each statement, so that a recorder installed after the
    /// connection was made is used).
    pub(crate) fn recorder(&self) -> &Recorder {
        self.recorder
            .as_ref()
            .unwrap_or_else(|| xray_sdk_core::global())
    }

    /// The subsegment of `query`, `None` when nothing is recorded.
    #[cfg_attr(
        not(any(feature = "_sqlx", feature = "rusqlite", feature = "tokio-postgres")),
        allow(
            dead_code,
            reason = "diesel, alone, computes its text only when needed"
        )
    )]
    pub(crate) fn begin(&self, query: &str) -> Option<XraySqlSubsegment> {
        self.begin_with(|| query)
    }

    /// The subsegment of the query that `query` gives, asked only when something is recorded.
    pub(crate) fn begin_with<S: AsRef<str>>(
        &self,
        query: impl FnOnce() -> S,
    ) -> Option<XraySqlSubsegment> {
        let span = XraySqlSubsegment::begin(self.recorder(), &self.endpoint)?;
        let query = query();
        let query = query.as_ref();
        span.statement(query, Preparation::of(query));
        Some(span)
    }
}
