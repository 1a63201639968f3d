//! `GET /api/traces` and `GET /api/traces/{trace_id}`.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use xray_sdk_types::TraceId;

use super::ApiState;
use super::error::{ApiError, blocking};
use crate::store::query::{MAX_LIMIT, TraceFilter, TraceStatus, TraceSummary};
use crate::trace::{AssembledTrace, assemble};

/// The default number of summaries returned.
pub const DEFAULT_LIMIT: usize = 100;
/// The most `annotation=` filters one query may have (each one is a condition of the SQL query).
pub const MAX_ANNOTATION_FILTERS: usize = 20;

/// The body of `GET /api/traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceList {
    /// The matching traces: newest start first; ordered by `seq` instead when `after_seq` is given.
    pub traces: Vec<TraceSummary>,
    /// The store's highest sequence number when the query ran: pass it as `after_seq` to get only what changes
    /// afterwards.
    pub latest_seq: i64,
}

/// The most bytes of documents one answer of `GET /api/traces/{trace_id}` holds (as stored; a single larger
/// document is sent alone).
pub const PAGE_BYTES: usize = 4 * 1024 * 1024;
/// The most documents one answer of `GET /api/traces/{trace_id}` holds.
pub const PAGE_DOCUMENTS: usize = 1000;

/// The body of `GET /api/traces/{trace_id}`: the trace's summary and a page of its documents, each sent once.
///
/// The documents come by start time (then id), at most [`PAGE_BYTES`] of them and at most [`PAGE_DOCUMENTS`]
/// per answer; `next_offset` says where the next page starts (`?offset=`), until the last. The trees of the
/// trace are not sent assembled: `attached_to` says which document each independent subsegment goes into
/// (under the entity its `parent_id` names), and [`TraceDetail::assembled`] (or the viewer) builds them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceDetail {
    /// The trace id.
    pub id: String,
    /// The trace's summary.
    pub summary: TraceSummary,
    /// The documents of this page, as received, by start time.
    pub documents: Vec<Value>,
    /// For each of `documents`, the id of the document of the trace it is attached within, or `null` for a
    /// root: a segment, or an independent subsegment whose parent is not in the trace (an orphan).
    pub attached_to: Vec<Option<String>>,
    /// The index of `documents[0]` among the trace's documents.
    pub offset: usize,
    /// How many documents the trace has in all.
    pub total: usize,
    /// The `offset` of the next page, or `null` when this page holds the last document.
    pub next_offset: Option<usize>,
}

impl TraceDetail {
    /// Adds the next page's documents to this one's (as a client fetching every page does).
    pub fn append(&mut self, next: TraceDetail) {
        self.documents.extend(next.documents);
        self.attached_to.extend(next.attached_to);
        self.total = next.total;
        self.next_offset = next.next_offset;
    }

    /// The trees of the documents held (all of the trace's once every page is appended).
    pub fn assembled(&self) -> AssembledTrace {
        assemble(self.documents.clone())
    }
}

/// Parses the query of `GET /api/traces/{trace_id}`: `offset=N`, the index of the first document sent
/// (default 0).
///
/// # Errors
/// A message naming the bad or unknown parameter.
pub fn parse_page_query(query: &str) -> Result<usize, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("invalid query string: {e}"))?;
    let mut offset = 0;
    for (key, value) in pairs {
        match key.as_str() {
            "offset" => {
                offset = value
                    .parse()
                    .map_err(|_| format!("offset must be a whole number, not {value:?}"))?;
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(offset)
}

/// Parses the query of `GET /api/traces`:
///
/// - `service=NAME`: a segment of the trace has this name;
/// - `status=ok|error|throttle|fault`;
/// - `annotation=KEY=VALUE` (repeatable up to [`MAX_ANNOTATION_FILTERS`] times; all must match);
/// - `min_duration=SECONDS`;
/// - `from=EPOCH_SECONDS`, `to=EPOCH_SECONDS`: the trace's start time range;
/// - `after_seq=N`: only traces updated after sequence number `N`, oldest update first;
/// - `limit=N`: at most `N` traces (default 100, at most 1000).
///
/// # Errors
/// A message naming the bad parameter.
pub fn parse_filter(query: &str) -> Result<TraceFilter, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query).map_err(|e| format!("invalid query string: {e}"))?;
    let mut filter = TraceFilter {
        limit: DEFAULT_LIMIT,
        ..TraceFilter::default()
    };
    let number = |key: &str, value: &str| -> Result<f64, String> {
        value
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .ok_or_else(|| format!("{key} must be a number, not {value:?}"))
    };
    for (key, value) in pairs {
        match key.as_str() {
            "service" => filter.service = Some(value),
            "status" => {
                filter.status = Some(TraceStatus::parse(&value).ok_or_else(|| {
                    format!("status must be ok, error, throttle or fault, not {value:?}")
                })?);
            }
            "annotation" => {
                let (k, v) = value
                    .split_once('=')
                    .ok_or_else(|| format!("annotation must be KEY=VALUE, not {value:?}"))?;
                if filter.annotations.len() == MAX_ANNOTATION_FILTERS {
                    return Err(format!(
                        "at most {MAX_ANNOTATION_FILTERS} annotation filters are allowed"
                    ));
                }
                filter.annotations.push((k.to_owned(), v.to_owned()));
            }
            "min_duration" => filter.min_duration = Some(number(&key, &value)?),
            "from" => filter.from = Some(number(&key, &value)?),
            "to" => filter.to = Some(number(&key, &value)?),
            "after_seq" => {
                filter.after_seq = Some(
                    value
                        .parse()
                        .map_err(|_| format!("after_seq must be an integer, not {value:?}"))?,
                );
            }
            "limit" => {
                let limit: usize = value
                    .parse()
                    .map_err(|_| format!("limit must be a whole number, not {value:?}"))?;
                filter.limit = limit.min(MAX_LIMIT);
            }
            other => return Err(format!("unknown parameter {other:?}")),
        }
    }
    Ok(filter)
}

/// `GET /api/traces`.
pub async fn list(
    State(state): State<ApiState>,
    RawQuery(query): RawQuery,
) -> Result<Json<TraceList>, ApiError> {
    let filter = parse_filter(query.as_deref().unwrap_or("")).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let list = blocking(move || {
        let latest_seq = store.latest_seq()?;
        let mut traces = store.list_traces(&filter)?;
        if filter.after_seq.is_some() {
            traces.sort_by_key(|t| t.seq);
        }
        Ok(TraceList { traces, latest_seq })
    })
    .await?;
    Ok(Json(list))
}

/// `GET /api/traces/{trace_id}`: see [`TraceDetail`].
pub async fn get(
    State(state): State<ApiState>,
    trace_id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<TraceDetail>, ApiError> {
    let Path(trace_id) = trace_id.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if TraceId::parse(&trace_id).is_err() {
        return Err(ApiError::bad_request(format!(
            "{trace_id:?} is not a trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)"
        )));
    }
    let offset = parse_page_query(query.as_deref().unwrap_or("")).map_err(ApiError::bad_request)?;
    let store = state.store.clone();
    let id = trace_id.clone();
    let (summary, page) = blocking(move || {
        Ok((
            store.trace_summary(&id)?,
            store.trace_page(&id, offset, PAGE_BYTES, PAGE_DOCUMENTS)?,
        ))
    })
    .await?;
    let Some(summary) = summary else {
        return Err(ApiError::not_found(format!("no trace {trace_id}")));
    };
    let documents: Vec<Value> = page
        .bodies
        .iter()
        .map(|body| {
            serde_json::from_slice(body)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
        })
        .collect();
    let end = page.offset + documents.len();
    Ok(Json(TraceDetail {
        id: trace_id,
        summary,
        documents,
        attached_to: page.attached_to,
        offset: page.offset,
        total: page.total,
        next_offset: (end < page.total).then_some(end),
    }))
}
