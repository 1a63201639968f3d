//! Reading traces back: summaries with filters, a trace's documents, the invalid documents.

use std::collections::BTreeMap;

use rusqlite::types::Value as SqlValue;
use rusqlite::{OptionalExtension, params, params_from_iter};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Store;
use crate::trace::assemble::{Outline, plan};

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

/// How many traces [`Store::for_each_trace_in_range`] reads per page.
pub const RANGE_PAGE: usize = 200;

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

/// A page of a trace's documents: see [`Store::trace_page`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TracePage {
    /// How many documents the trace has.
    pub total: usize,
    /// The index of the first document of the page among the trace's documents.
    pub offset: usize,
    /// The page's documents, as stored.
    pub bodies: Vec<Vec<u8>>,
    /// For each of `bodies`, the id of the document it is attached within, or `None` for a root.
    pub attached_to: Vec<Option<String>>,
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
        let conn = self.reader();
        let limit = filter.limit.min(MAX_LIMIT);
        // A filter that matches many traces is answered fastest by reading the newest traces in order until
        // enough match; one that matches few, from its own index. First the newest PROBE_TRACES (and any
        // that started at the same time as the last of them): if enough of them match, those are the answer,
        // since every trace left out started earlier.
        // (The status index, by status then start time, reads the newest matches in order already.)
        let selective = filter.service.is_some()
            || !filter.annotations.is_empty()
            || filter.min_duration.is_some();
        if selective && filter.trace_id.is_none() {
            let cut: Option<f64> = conn
                .prepare_cached(
                    "SELECT start_time FROM traces ORDER BY start_time DESC LIMIT 1 OFFSET ?1",
                )?
                .query_row(params![PROBE_TRACES - 1], |row| row.get(0))
                .optional()?;
            if let Some(cut) = cut {
                let (sql, args) = list_query(filter, Some(cut));
                let found = read_summaries(&conn, &sql, args)?;
                if found.len() >= limit {
                    return Ok(found);
                }
            }
        }
        let (sql, args) = list_query(filter, None);
        read_summaries(&conn, &sql, args)
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

    /// A page of a trace's documents (by start time, then id), and where each document of the page goes in
    /// the trace's trees: from document `offset` on, as many as fit in `max_bytes` (one at least) up to
    /// `max_documents`. Reads every document of the trace once, one at a time, for the plan (see
    /// [`crate::trace::assemble::plan`]), and keeps only the page's.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn trace_page(
        &self,
        trace_id: &str,
        offset: usize,
        max_bytes: usize,
        max_documents: usize,
    ) -> rusqlite::Result<TracePage> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT id, body FROM documents WHERE trace_id = ?1 ORDER BY start_time, id",
        )?;
        let mut rows = stmt.query(params![trace_id])?;
        let mut ids = Vec::new();
        let mut outlines = Vec::new();
        let mut bodies = Vec::new();
        let mut bytes = 0;
        let mut full = false;
        while let Some(row) = rows.next()? {
            let id: String = row.get(0)?;
            let body = row.get_ref(1)?.as_bytes()?;
            if ids.len() >= offset && !full {
                if bodies.len() < max_documents.max(1)
                    && (bodies.is_empty() || bytes + body.len() <= max_bytes)
                {
                    bytes += body.len();
                    bodies.push(body.to_vec());
                } else {
                    full = true;
                }
            }
            outlines.push(Outline::parse(body));
            ids.push(id);
        }
        let plan = plan(&outlines);
        let attached_to = (offset..offset + bodies.len())
            .map(|i| {
                plan.attached_to
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|host| ids.get(host).cloned())
            })
            .collect();
        Ok(TracePage {
            total: ids.len(),
            offset,
            bodies,
            attached_to,
        })
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

    /// How many traces and documents the store holds: the counts kept in `totals` (see the schema), read
    /// without counting.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn counts(&self) -> rusqlite::Result<StoreCounts> {
        let conn = self.reader();
        conn.query_row(
            "SELECT traces, documents, bytes FROM totals WHERE id = 0",
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

    /// The same counts as [`Store::counts`], counted row by row: a check of the kept ones.
    ///
    /// # Errors
    /// When SQLite fails.
    pub fn recount(&self) -> rusqlite::Result<StoreCounts> {
        let conn = self.reader();
        conn.query_row(
            "SELECT (SELECT count(*) FROM traces), (SELECT count(*) FROM documents), \
             (SELECT coalesce(sum(length(body)), 0) FROM documents)",
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
    /// The documents are read [`RANGE_PAGE`] traces at a time, and `each` runs with no connection held: the
    /// in-memory store's writer, which shares its one connection, waits for one page's read at most, never for
    /// what `each` does with it.
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
        let total: i64 = self
            .reader()
            .prepare_cached(
                "SELECT count(*) FROM traces WHERE start_time >= ?1 AND start_time <= ?2",
            )?
            .query_row(params![from, to], |row| row.get(0))?;
        // Where the previous page ended: its last trace's start time and id (pages go down both).
        let mut after: Option<(f64, String)> = None;
        let mut left = max_traces;
        while left > 0 {
            let page = self.range_page(from, to, after.as_ref(), left.min(RANGE_PAGE))?;
            let Some((start, id, _)) = page.last() else {
                break;
            };
            after = Some((*start, id.clone()));
            let mut current: Option<String> = None;
            let mut bodies = Vec::new();
            for (_, trace_id, body) in page {
                if current.as_deref() != Some(trace_id.as_str()) {
                    if current.is_some() {
                        each(std::mem::take(&mut bodies));
                        left -= 1;
                    }
                    current = Some(trace_id);
                }
                bodies.push(body);
            }
            each(bodies);
            left -= 1;
        }
        Ok(usize::try_from(total).unwrap_or(usize::MAX))
    }

    /// The documents of up to `limit` traces of `[from, to]` that come after `after` (newest first, then by id
    /// downwards): start time, trace id and body, trace by trace.
    fn range_page(
        &self,
        from: f64,
        to: f64,
        after: Option<&(f64, String)>,
        limit: usize,
    ) -> rusqlite::Result<Vec<(f64, String, Vec<u8>)>> {
        let conn = self.reader();
        let mut stmt = conn.prepare_cached(
            "SELECT t.start_time, t.trace_id, d.body FROM (SELECT trace_id, start_time FROM traces \
             WHERE start_time >= ?1 AND start_time <= ?2 \
             AND (?3 IS NULL OR start_time < ?3 OR (start_time = ?3 AND trace_id < ?4)) \
             ORDER BY start_time DESC, trace_id DESC LIMIT ?5) t \
             JOIN documents d ON d.trace_id = t.trace_id ORDER BY t.start_time DESC, t.trace_id DESC",
        )?;
        let rows = stmt.query_map(
            params![
                from,
                to,
                after.map(|(start, _)| *start),
                after.map(|(_, id)| id.as_str()),
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?;
        rows.collect()
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

/// Runs a query of [`list_query`].
fn read_summaries(
    conn: &rusqlite::Connection,
    sql: &str,
    args: Vec<SqlValue>,
) -> rusqlite::Result<Vec<TraceSummary>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params_from_iter(args), |row| {
        let start_time: f64 = row.get(2)?;
        let end_time: Option<f64> = row.get(3)?;
        Ok(TraceSummary {
            id: row.get(0)?,
            root_service: row.get(1)?,
            start_time,
            end_time,
            duration: end_time.map(|end| round_micros(end - start_time)),
            status: TraceStatus::parse(&row.get::<_, String>(4)?).unwrap_or(TraceStatus::Ok),
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

/// How many of the newest traces a selective filter looks at first: see [`Store::list_traces`].
const PROBE_TRACES: i64 = 2000;

/// The SQL query of [`Store::list_traces`] and its arguments. Each filter is served by an index (see the
/// schema). With `cut`, only the traces that started at or after it, read in start time order (the filters'
/// own indexes are not used: a unary `+` turns them off).
fn list_query(filter: &TraceFilter, cut: Option<f64>) -> (String, Vec<SqlValue>) {
    let p = if cut.is_some() { "+" } else { "" };
    let mut sql = String::from(
        "SELECT t.trace_id, t.root_name, t.start_time, t.end_time, t.status, t.http_method, t.http_url, \
             t.http_status, t.segments, t.documents, t.updated_at, t.seq, t.annotations FROM traces t WHERE 1",
    );
    let mut args: Vec<SqlValue> = Vec::new();
    if let Some(trace_id) = &filter.trace_id {
        sql.push_str(" AND t.trace_id = ?");
        args.push(SqlValue::Text(trace_id.clone()));
    }
    if let Some(service) = &filter.service {
        // A segment of that name, or, in a trace without segments, a root subsegment of that name (a
        // trace with segments has a segment as its root). Probing, a look-up per trace read; else the traces
        // of the service, from the index of segment names.
        sql.push_str(if cut.is_some() {
            " AND (EXISTS (SELECT 1 FROM documents d WHERE d.trace_id = t.trace_id AND d.kind = 0 \
             AND d.name = ?) OR (+t.root_rank = 0 AND +t.root_name = ?))"
        } else {
            " AND t.trace_id IN (SELECT d.trace_id FROM documents d WHERE d.kind = 0 AND d.name = ? \
             UNION SELECT r.trace_id FROM traces r WHERE r.root_rank = 0 AND r.root_name = ?)"
        });
        args.push(SqlValue::Text(service.clone()));
        args.push(SqlValue::Text(service.clone()));
    }
    if let Some(status) = filter.status {
        sql.push_str(&format!(" AND {p}t.status = ?"));
        args.push(SqlValue::Text(status.as_str().to_owned()));
    }
    for (key, value) in &filter.annotations {
        // A string annotation equal to the text, a boolean named by it, or a number equal to it (see
        // `trace_annotations` in the schema).
        sql.push_str(if cut.is_some() {
            " AND EXISTS (SELECT 1 FROM trace_annotations a WHERE a.key = ? AND a.value IN (?, ?) \
             AND a.trace_id = t.trace_id)"
        } else {
            " AND t.trace_id IN (SELECT a.trace_id FROM trace_annotations a WHERE a.key = ? \
             AND a.value IN (?, ?))"
        });
        args.push(SqlValue::Text(key.clone()));
        args.push(SqlValue::Text(value.clone()));
        args.push(match value.parse::<f64>() {
            Ok(n) if n.is_finite() => SqlValue::Real(n),
            _ => SqlValue::Null,
        });
    }
    if let Some(min) = filter.min_duration {
        sql.push_str(&format!(" AND {p}t.duration >= ?"));
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
    if let Some(cut) = cut {
        sql.push_str(" AND t.start_time >= ?");
        args.push(SqlValue::Real(cut));
    }
    if let Some(seq) = filter.after_seq {
        sql.push_str(" AND t.seq > ?");
        args.push(SqlValue::Integer(seq));
    }
    sql.push_str(" ORDER BY t.start_time DESC, t.trace_id LIMIT ?");
    args.push(SqlValue::Integer(
        i64::try_from(filter.limit.min(MAX_LIMIT)).unwrap_or(0),
    ));

    (sql, args)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StoreLocation;

    fn plan_of(store: &Store, filter: &TraceFilter, cut: Option<f64>) -> Vec<String> {
        let (sql, args) = list_query(filter, cut);
        let conn = store.reader();
        let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        stmt.query_map(params_from_iter(args), |row| row.get::<_, String>(3))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    }

    /// Every filter of `GET /api/traces` is served by an index: no step of its plan reads the whole of
    /// `traces` (`t`, `r`), `documents` (`d`) or `trace_annotations` (`a`).
    #[test]
    fn every_filter_is_served_by_an_index() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        let base = TraceFilter {
            limit: 100,
            ..TraceFilter::default()
        };
        let filters = [
            (
                "trace_id",
                TraceFilter {
                    trace_id: Some("1-5759e988-bd862e3fe1be46a994272793".into()),
                    ..base.clone()
                },
            ),
            (
                "service",
                TraceFilter {
                    service: Some("web".into()),
                    ..base.clone()
                },
            ),
            (
                "status=ok",
                TraceFilter {
                    status: Some(TraceStatus::Ok),
                    ..base.clone()
                },
            ),
            (
                "status=fault",
                TraceFilter {
                    status: Some(TraceStatus::Fault),
                    ..base.clone()
                },
            ),
            (
                "annotation",
                TraceFilter {
                    annotations: vec![("customer".into(), "alice".into())],
                    ..base.clone()
                },
            ),
            (
                "annotation, number",
                TraceFilter {
                    annotations: vec![("n".into(), "1.5".into())],
                    ..base.clone()
                },
            ),
            (
                "min_duration",
                TraceFilter {
                    min_duration: Some(1.0),
                    ..base.clone()
                },
            ),
            (
                "from",
                TraceFilter {
                    from: Some(10.0),
                    ..base.clone()
                },
            ),
            (
                "to",
                TraceFilter {
                    to: Some(10.0),
                    ..base.clone()
                },
            ),
            (
                "after_seq",
                TraceFilter {
                    after_seq: Some(5),
                    ..base.clone()
                },
            ),
            ("none", base.clone()),
        ];
        for (label, filter) in filters {
            // The probe of the newest traces reads a range of the start time index.
            let probe = plan_of(&store, &filter, Some(10.0));
            assert!(
                !probe.iter().any(|step| step.starts_with("SCAN ")),
                "{label}: a full scan in the probe {probe:#?}"
            );
            let plan = plan_of(&store, &filter, None);
            let scans: Vec<&String> = plan
                .iter()
                .filter(|step| step.starts_with("SCAN "))
                .collect();
            // With no filter, the newest traces are read in the order of the start time index, up to the limit.
            let allowed = |step: &&String| {
                label == "none" && step.as_str() == "SCAN t USING INDEX traces_by_start"
            };
            assert!(
                scans.iter().all(allowed),
                "{label}: a full scan in {plan:#?}"
            );
            assert!(!plan.is_empty(), "{label}: no plan");
        }
    }

    /// The probe of the newest traces and the query from the filters' indexes give the same answers.
    /// The map's reading visits every trace of the range once, newest first (ties by id), across pages, and
    /// lets go of the connection while the caller works: the in-memory store's writer is free then.
    #[test]
    fn traces_in_a_range_come_page_by_page_without_holding_the_connection() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        // 450 traces, three to each start time, two documents each.
        store
            .writer()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 450)
                 INSERT INTO traces (trace_id, seq, start_time, end_time, root_rank, root_start, root_name,
                    segment_flags, subsegment_flags, segments, documents, bytes, updated_at, annotations)
                 SELECT printf('1-5759e988-%024x', i), i, 1000 + i / 3, 1001 + i / 3, 0, 1000, 'svc', 0, 0,
                    1, 2, 20, 2000, NULL FROM n;
                 INSERT INTO documents (trace_id, id, parent_id, kind, name, start_time, end_time, in_progress,
                    received_at, body)
                    SELECT trace_id, 'a', NULL, 0, 'svc', start_time, end_time, 0, 0, CAST(trace_id || '/a' AS BLOB) FROM traces
                    UNION ALL
                    SELECT trace_id, 'b', 'a', 1, 'svc', start_time, end_time, 0, 0, CAST(trace_id || '/b' AS BLOB)
                    FROM traces;",
            )
            .unwrap();
        let expected: Vec<String> = {
            let mut all: Vec<(i64, String)> = (1..=450_i64)
                .map(|i| (1000 + i / 3, format!("1-5759e988-{i:024x}")))
                .collect();
            all.sort_by(|a, b| b.cmp(a));
            all.into_iter().map(|(_, id)| id).collect()
        };
        let mut seen = Vec::new();
        let total = store
            .for_each_trace_in_range(None, None, 1000, |bodies| {
                assert!(
                    store.writer.conn.try_lock().is_ok(),
                    "the connection is held while the caller works"
                );
                let bodies: Vec<String> = bodies
                    .into_iter()
                    .map(|b| String::from_utf8(b).unwrap())
                    .collect();
                let id = bodies[0].split('/').next().unwrap().to_owned();
                let mut sorted = bodies.clone();
                sorted.sort();
                assert_eq!(sorted, [format!("{id}/a"), format!("{id}/b")]);
                seen.push(id);
            })
            .unwrap();
        assert_eq!(total, 450);
        assert_eq!(seen, expected);

        let mut newest = Vec::new();
        let total = store
            .for_each_trace_in_range(Some(1100.0), Some(1120.0), 25, |bodies| {
                newest.push(String::from_utf8(bodies[0].clone()).unwrap());
            })
            .unwrap();
        let in_range: Vec<&String> = expected
            .iter()
            .filter(|id| {
                let i = i64::from_str_radix(&id[11..], 16).unwrap();
                (1100..=1120).contains(&(1000 + i / 3))
            })
            .collect();
        assert_eq!(total, in_range.len());
        assert_eq!(newest.len(), 25);
        for (body, id) in newest.iter().zip(&in_range) {
            assert!(body.starts_with(id.as_str()), "{body} {id}");
        }
    }

    #[test]
    fn the_probe_answers_as_the_full_query_does() {
        let store = Store::open(&StoreLocation::Memory).unwrap();
        store
            .writer()
            .execute_batch(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 12000)
                 INSERT INTO traces (trace_id, seq, start_time, end_time, root_rank, root_start, root_name,
                    segment_flags, subsegment_flags, segments, documents, bytes, updated_at, annotations)
                 SELECT printf('1-5759e988-%024x', i), i, 1000 + i / 3, 1000 + i / 3 + (i % 97) / 10.0, 0, 1000,
                    'svc-' || (i % 7), 0, CASE WHEN i % 1000 = 0 THEN 4 WHEN i % 13 = 0 THEN 1 ELSE 0 END,
                    0, 1, 10, 2000, NULL FROM n;
                 INSERT INTO trace_annotations (key, value, trace_id)
                    SELECT 'c', 'x' || (seq % 5), trace_id FROM traces;",
            )
            .unwrap();
        let base = TraceFilter {
            limit: 100,
            ..TraceFilter::default()
        };
        let filters = [
            TraceFilter {
                service: Some("svc-3".into()),
                ..base.clone()
            },
            TraceFilter {
                status: Some(TraceStatus::Ok),
                ..base.clone()
            },
            TraceFilter {
                status: Some(TraceStatus::Error),
                ..base.clone()
            },
            TraceFilter {
                status: Some(TraceStatus::Fault),
                ..base.clone()
            },
            TraceFilter {
                min_duration: Some(9.0),
                ..base.clone()
            },
            TraceFilter {
                min_duration: Some(1.0),
                limit: 1000,
                ..base.clone()
            },
            TraceFilter {
                annotations: vec![("c".into(), "x0".into())],
                ..base.clone()
            },
        ];
        for filter in filters {
            let listed = store.list_traces(&filter).unwrap();
            let (sql, args) = list_query(&filter, None);
            let full = read_summaries(&store.reader(), &sql, args).unwrap();
            assert_eq!(listed, full, "{filter:?}");
            assert!(!listed.is_empty(), "{filter:?}");
        }
    }
}
