//! Reading traces back: summaries with filters, a trace's documents, the invalid documents.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Store;
use crate::ingest::Flags;

/// A trace's status, from the flags of its segments (or, when it has none yet, of its independent subsegments).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TraceStatus {
    /// No error, throttle or fault.
    Ok,
    /// A client error (4xx).
    Error,
    /// Throttled (429).
    Throttle,
    /// A server fault (5xx).
    Fault,
}

impl TraceStatus {
    /// Parses `ok`, `error`, `throttle` or `fault`.
    pub fn parse(text: &str) -> Option<TraceStatus> {
        match text {
            "ok" => Some(TraceStatus::Ok),
            "error" => Some(TraceStatus::Error),
            "throttle" => Some(TraceStatus::Throttle),
            "fault" => Some(TraceStatus::Fault),
            _ => None,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            TraceStatus::Ok => "ok",
            TraceStatus::Error => "error",
            TraceStatus::Throttle => "throttle",
            TraceStatus::Fault => "fault",
        }
    }
}

/// The HTTP request of a trace's root segment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSummary {
    /// `http.request.method`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// `http.request.url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `http.response.status`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
}

/// One row of `GET /api/traces`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceSummary {
    /// The trace id.
    pub id: String,
    /// The name of the root segment (the segment without parent, else the earliest segment, else the earliest
    /// independent subsegment).
    pub root_service: String,
    /// The earliest `start_time` of the trace's documents, epoch seconds.
    pub start_time: f64,
    /// The latest `end_time`, if any document has ended.
    pub end_time: Option<f64>,
    /// `end_time - start_time`, seconds.
    pub duration: Option<f64>,
    /// ok, error, throttle or fault.
    pub status: TraceStatus,
    /// The root segment's HTTP request and response.
    pub http: HttpSummary,
    /// Every annotation of the trace: key to the distinct values seen.
    pub annotations: BTreeMap<String, Vec<Value>>,
    /// How many segments the trace has.
    pub segments: i64,
    /// How many documents (segments and independent subsegments).
    pub documents: i64,
    /// When the daemon last received a document of this trace, epoch seconds.
    pub updated_at: f64,
    /// A number that grows with every update of any trace; see [`TraceFilter::after_seq`].
    pub seq: i64,
}

/// The filters of `GET /api/traces`. Every filter given must match.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TraceFilter {
    /// One trace, by id.
    pub trace_id: Option<String>,
    /// A service (segment name) that took part in the trace.
    pub service: Option<String>,
    /// The trace's status.
    pub status: Option<TraceStatus>,
    /// Annotations `key = value`; the value matches a string annotation, a number (compared as a number) or a
    /// boolean (`true`/`false`).
    pub annotations: Vec<(String, String)>,
    /// The least duration, seconds.
    pub min_duration: Option<f64>,
    /// Traces that started at or after this time, epoch seconds.
    pub from: Option<f64>,
    /// Traces that started at or before this time, epoch seconds.
    pub to: Option<f64>,
    /// Traces updated after this sequence number (for followers).
    pub after_seq: Option<i64>,
    /// The most summaries returned.
    pub limit: usize,
}

/// The most summaries one query returns.
pub const MAX_LIMIT: usize = 1000;

const STATUS_BITS: &str =
    "(CASE WHEN t.segments > 0 THEN t.segment_flags ELSE t.subsegment_flags END)";

fn status_of(bits: i64) -> TraceStatus {
    match Flags(u8::try_from(bits & 7).unwrap_or(0)).status() {
        "fault" => TraceStatus::Fault,
        "throttle" => TraceStatus::Throttle,
        "error" => TraceStatus::Error,
        _ => TraceStatus::Ok,
    }
}

/// A rejected document, as `GET /api/invalid` returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InvalidDocument {
    /// When it was received, epoch seconds.
    pub received_at: f64,
    /// The reason code.
    pub code: String,
    /// What is wrong, and where.
    pub message: String,
    /// The datagram or document as received (lossy UTF-8, cut to 4 KiB).
    pub body: String,
}

/// What the store holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreCounts {
    /// Traces.
    pub traces: i64,
    /// Documents.
    pub documents: i64,
    /// The bytes of the documents.
    pub bytes: i64,
}

impl Store {
    /// Trace summaries matching `filter`, newest start first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn list_traces(&self, filter: &TraceFilter) -> rusqlite::Result<Vec<TraceSummary>> {
        let mut sql = format!(
            "SELECT t.trace_id, t.root_name, t.start_time, t.end_time, {STATUS_BITS}, t.http_method, t.http_url, \
             t.http_status, t.segments, t.documents, t.updated_at, t.seq, t.annotations FROM traces t WHERE 1"
        );
        let mut args: Vec<SqlValue> = Vec::new();
        if let Some(trace_id) = &filter.trace_id {
            sql.push_str(" AND t.trace_id = ?");
            args.push(SqlValue::Text(trace_id.clone()));
        }
        if let Some(service) = &filter.service {
            sql.push_str(
                " AND (t.root_name = ? OR EXISTS (SELECT 1 FROM documents d WHERE d.trace_id = t.trace_id \
                 AND d.kind = 0 AND d.name = ?))",
            );
            args.push(SqlValue::Text(service.clone()));
            args.push(SqlValue::Text(service.clone()));
        }
        if let Some(status) = filter.status {
            let test = match status {
                TraceStatus::Ok => format!("{STATUS_BITS} & 7 = 0"),
                TraceStatus::Fault => format!("{STATUS_BITS} & 4 != 0"),
                TraceStatus::Throttle => format!("{STATUS_BITS} & 6 = 2"),
                TraceStatus::Error => format!("{STATUS_BITS} & 7 = 1"),
            };
            sql.push_str(&format!(" AND {test}"));
        }
        for (key, value) in &filter.annotations {
            // A string annotation equal to the text, a boolean named by it, or a number equal to it.
            sql.push_str(
                " AND EXISTS (SELECT 1 FROM json_each(t.annotations) k, json_each(k.value) v WHERE k.key = ? \
                 AND ((v.type = 'text' AND v.value = ?) OR v.type = ? \
                 OR (v.type IN ('integer', 'real') AND v.value = ?)))",
            );
            args.push(SqlValue::Text(key.clone()));
            args.push(SqlValue::Text(value.clone()));
            let boolean = match value.as_str() {
                "true" | "false" => value.clone(),
                _ => String::new(),
            };
            args.push(SqlValue::Text(boolean));
            args.push(match value.parse::<f64>() {
                Ok(n) if n.is_finite() => SqlValue::Real(n),
                _ => SqlValue::Null,
            });
        }
        if let Some(min) = filter.min_duration {
            sql.push_str(" AND t.end_time - t.start_time >= ?");
            args.push(SqlValue::Real(min));
        }
        if let Some(from) = filter.from {
            sql.push_str(" AND t.start_time >= ?");
            args.push(SqlValue::Real(from));
        }
        if let Some(to) = filter.to {
            sql.push_str(" AND t.start_time <= ?");
            args.push(SqlValue::Real(to));
        }
        if let Some(seq) = filter.after_seq {
            sql.push_str(" AND t.seq > ?");
            args.push(SqlValue::Integer(seq));
        }
        sql.push_str(" ORDER BY t.start_time DESC, t.trace_id LIMIT ?");
        args.push(SqlValue::Integer(
            i64::try_from(filter.limit.min(MAX_LIMIT)).unwrap_or(0),
        ));

        let conn = self.reader();
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map(params_from_iter(args), |row| {
            let start_time: f64 = row.get(2)?;
            let end_time: Option<f64> = row.get(3)?;
            Ok(TraceSummary {
                id: row.get(0)?,
                root_service: row.get(1)?,
                start_time,
                end_time,
                duration: end_time.map(|end| round_micros(end - start_time)),
                status: status_of(row.get(4)?),
                http: HttpSummary {
                    method: row.get(5)?,
                    url: row.get(6)?,
                    status: row.get(7)?,
                },
                annotations: row
                    .get::<_, Option<String>>(12)?
                    .map(|text| annotation_values(&text))
                    .unwrap_or_default(),
                segments: row.get(8)?,
                documents: row.get(9)?,
                updated_at: row.get(10)?,
                seq: row.get(11)?,
            })
        })?;
        rows.collect()
    }

    /// The summary of one trace, if stored.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn trace_summary(&self, trace_id: &str) -> rusqlite::Result<Option<TraceSummary>> {
        let filter = TraceFilter {
            trace_id: Some(trace_id.to_owned()),
            limit: 1,
            ..TraceFilter::default()
        };
        Ok(self.list_traces(&filter)?.pop())
    }

    /// Every document of a trace, as stored, by start time.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn trace_documents(&self, trace_id: &str) -> rusqlite::Result<Vec<Vec<u8>>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT body FROM documents WHERE trace_id = ?1 ORDER BY start_time, id",
        )?;
        let rows = stmt.query_map(params![trace_id], |row| row.get(0))?;
        rows.collect()
    }

    /// The newest invalid documents, newest first.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn invalid_documents(&self, limit: usize) -> rusqlite::Result<Vec<InvalidDocument>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT received_at, code, message, body FROM invalid ORDER BY seq DESC LIMIT ?1",
        )?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(0)], |row| {
            Ok(InvalidDocument {
                received_at: row.get(0)?,
                code: row.get(1)?,
                message: row.get(2)?,
                body: String::from_utf8_lossy(&row.get::<_, Vec<u8>>(3)?).into_owned(),
            })
        })?;
        rows.collect()
    }

    /// How many traces and documents the store holds.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn counts(&self) -> rusqlite::Result<StoreCounts> {
        let conn = self.reader();
        conn.query_row(
            "SELECT count(*), coalesce(sum(documents), 0), coalesce(sum(bytes), 0) FROM traces",
            [],
            |row| {
                Ok(StoreCounts {
                    traces: row.get(0)?,
                    documents: row.get(1)?,
                    bytes: row.get(2)?,
                })
            },
        )
    }

    /// Calls `each` with the documents of every trace that started in `[from, to]` (either bound may be open),
    /// newest trace first, at most `max_traces` of them. Returns how many traces started in the range in all,
    /// so that the caller can tell when some were left out.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn for_each_trace_in_range(
        &self,
        from: Option<f64>,
        to: Option<f64>,
        max_traces: usize,
        mut each: impl FnMut(Vec<Vec<u8>>),
    ) -> rusqlite::Result<usize> {
        let from = from.unwrap_or(f64::MIN);
        let to = to.unwrap_or(f64::MAX);
        let conn = self.reader();
        let total: i64 = conn
            .prepare_cached(
                "SELECT count(*) FROM traces WHERE start_time >= ?1 AND start_time <= ?2",
            )?
            .query_row(params![from, to], |row| row.get(0))?;
        let mut stmt = conn.prepare_cached(
            "SELECT t.trace_id, d.body FROM (SELECT trace_id, start_time FROM traces \
             WHERE start_time >= ?1 AND start_time <= ?2 ORDER BY start_time DESC LIMIT ?3) t \
             JOIN documents d ON d.trace_id = t.trace_id ORDER BY t.start_time DESC, t.trace_id",
        )?;
        let mut rows = stmt.query(params![
            from,
            to,
            i64::try_from(max_traces).unwrap_or(i64::MAX)
        ])?;
        let mut current: Option<String> = None;
        let mut bodies = Vec::new();
        while let Some(row) = rows.next()? {
            let trace_id: String = row.get(0)?;
            if current.as_deref() != Some(trace_id.as_str()) {
                if current.is_some() {
                    each(std::mem::take(&mut bodies));
                }
                current = Some(trace_id);
            }
            bodies.push(row.get(1)?);
        }
        if current.is_some() {
            each(bodies);
        }
        Ok(usize::try_from(total).unwrap_or(usize::MAX))
    }

    /// The highest sequence number given so far (0 for an empty store).
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn latest_seq(&self) -> rusqlite::Result<i64> {
        self.reader()
            .query_row("SELECT coalesce(max(seq), 0) FROM traces", [], |r| r.get(0))
    }
}

/// The `annotations` column as the summary shows it: key to the distinct values.
fn annotation_values(text: &str) -> BTreeMap<String, Vec<Value>> {
    super::schema::parse_annotations(text)
        .into_iter()
        .map(|(key, values)| {
            let values = values
                .iter()
                .map(|v| serde_json::from_str(v).unwrap_or(Value::String(v.clone())))
                .collect();
            (key, values)
        })
        .collect()
}

fn round_micros(seconds: f64) -> f64 {
    (seconds * 1e6).round() / 1e6
}
