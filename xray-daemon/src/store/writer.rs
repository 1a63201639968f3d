//! The writer thread: batches of ingested items, written in one transaction each.
//!
//! Each document is one row of `documents`; the documents of a batch that belong to the same trace are folded
//! together first, so that each trace touched gets one upsert of its `traces` row per batch.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::{Duration, Instant};

use rusqlite::{Transaction, params};

use super::Store;
use super::retention;
use super::schema::{Annotations, annotations_json};
use crate::config::{Retention, StoreLocation};
use crate::ingest::{Item, Record, Rejected};
use crate::stats::Stats;

/// The most items written in one transaction.
pub const MAX_BATCH: usize = 4096;
/// A group of fewer items than this waits up to [`LINGER`] for more before it is written.
pub const MIN_GROUP: usize = 256;
/// The longest a small group waits for more items.
pub const LINGER: Duration = Duration::from_millis(5);
/// The most document bytes an in-memory store keeps: SQLite's in-memory databases stop growing at 1 GiB, which
/// must hold the indexes and summaries too.
pub const MEMORY_MAX_BYTES: u64 = 640 * 1024 * 1024;
/// The share of the size limit that invalid documents kept for inspection may take: past it, the oldest go.
pub const INVALID_SHARE: u64 = 10;
/// How often age retention runs.
const RETENTION_INTERVAL: Duration = Duration::from_secs(1);

/// A group of processed datagrams, with the bytes they held in the ingest queue.
#[derive(Debug, Default)]
pub struct Batch {
    /// The processed datagrams.
    pub items: Vec<Item>,
    /// The bytes the datagrams are charged in the queue's budget (see [`crate::ingest::budget`]).
    pub queued_bytes: usize,
    /// Answered once everything before it is committed.
    pub flushed: Option<SyncSender<()>>,
}

/// The writer thread's state.
pub struct Writer {
    store: Store,
    stats: Arc<Stats>,
    retention: Retention,
    next_seq: i64,
    /// The bytes of the stored documents.
    total_bytes: i64,
    /// The bytes of the invalid documents kept (bodies and messages); they count toward the size limit too.
    invalid_bytes: i64,
    last_retention: Instant,
}

impl Writer {
    /// Prepares a writer, reading the store's last sequence number and size.
    ///
    /// # Errors
    /// When the store cannot be read.
    pub fn new(store: Store, stats: Arc<Stats>, retention: Retention) -> rusqlite::Result<Writer> {
        let mut retention = retention;
        if *store.location() == StoreLocation::Memory && retention.max_bytes > MEMORY_MAX_BYTES {
            log::warn!(
                "an in-memory store keeps at most {} MiB of documents",
                MEMORY_MAX_BYTES / (1024 * 1024)
            );
            retention.max_bytes = MEMORY_MAX_BYTES;
        }
        let (seq, bytes) = store.writer().query_row(
            "SELECT coalesce((SELECT max(seq) FROM traces), 0), (SELECT bytes FROM totals WHERE id = 0)",
            [],
            |row| Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?)),
        )?;
        let invalid_bytes = retention::invalid_bytes(&store.writer())?;
        Ok(Writer {
            store,
            stats,
            retention,
            next_seq: seq + 1,
            total_bytes: bytes,
            invalid_bytes,
            last_retention: Instant::now(),
        })
    }

    /// Writes batches until every sender is gone, then returns.
    pub fn run(mut self, batches: Receiver<Batch>) {
        self.apply_retention(true);
        loop {
            let first = match batches.recv_timeout(RETENTION_INTERVAL) {
                Ok(batch) => batch,
                Err(RecvTimeoutError::Timeout) => {
                    self.apply_retention(false);
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => break,
            };
            // Group commit: a small group waits a moment for more, since every commit rewrites the index pages
            // it touched whatever the number of documents. A flush request ends the wait.
            let mut group = vec![first];
            let mut count = group[0].items.len();
            let linger_until = Instant::now() + LINGER;
            while count < MAX_BATCH && group.last().is_some_and(|b| b.flushed.is_none()) {
                let left = linger_until.saturating_duration_since(Instant::now());
                let next = if count < MIN_GROUP && !left.is_zero() {
                    batches.recv_timeout(left).ok()
                } else {
                    batches.try_recv().ok()
                };
                match next {
                    Some(batch) => {
                        count += batch.items.len();
                        group.push(batch);
                    }
                    None => break,
                }
            }
            self.write(&mut group);
            self.apply_retention(false);
            for batch in group {
                self.stats
                    .queue()
                    .finish(batch.items.len(), batch.queued_bytes);
                if let Some(flushed) = batch.flushed {
                    let _ = flushed.try_send(());
                }
            }
        }
        self.apply_retention(false);
    }

    fn write(&mut self, group: &mut [Batch]) {
        let store = self.store.clone();
        let mut conn = store.writer();
        let max_invalid = self.retention.max_invalid;
        let result = (|| -> rusqlite::Result<(u64, Vec<&'static str>, i64, i64)> {
            let tx = conn.transaction()?;
            let mut stored = 0;
            let mut invalid = Vec::new();
            let mut invalid_bytes = 0;
            let mut traces = TraceUpdates::default();
            let mut insert = tx.prepare_cached(INSERT_DOCUMENT)?;
            // Only the newest invalid documents are kept: retention would remove the others at once, and a
            // flood of junk would cost a row each.
            let rejected = group
                .iter()
                .flat_map(|b| b.items.iter())
                .filter(|item| matches!(item, Item::Invalid(_)))
                .count();
            let mut skip =
                rejected.saturating_sub(usize::try_from(max_invalid).unwrap_or(usize::MAX));
            for item in group.iter().flat_map(|b| b.items.iter()) {
                match item {
                    Item::Valid(record) => {
                        if let Some(change) = insert_document(&tx, &mut insert, record)? {
                            traces.add(record, change);
                        }
                        stored += 1;
                    }
                    Item::Invalid(rejected) => {
                        if skip > 0 {
                            skip -= 1;
                        } else {
                            insert_rejected(&tx, rejected)?;
                            invalid_bytes += (rejected.body.len() + rejected.message.len()) as i64;
                        }
                        invalid.push(rejected.code);
                    }
                }
            }
            drop(insert);
            let (mut bytes, mut new_traces, mut documents) = (0, 0, 0);
            let mut upsert = tx.prepare_cached(UPSERT_TRACE)?;
            let mut index = tx.prepare_cached(INDEX_ANNOTATION)?;
            let mut known = tx.prepare_cached("SELECT 1 FROM traces WHERE trace_id = ?1")?;
            for update in &traces.updates {
                bytes += update.bytes;
                documents += update.documents;
                if !known.exists(params![update.trace_id])? {
                    new_traces += 1;
                }
                upsert_trace(&mut upsert, update, self.next_seq)?;
                index_annotations(&mut index, update)?;
                self.next_seq += 1;
            }
            drop(upsert);
            drop(index);
            drop(known);
            tx.prepare_cached(ADD_TO_TOTALS)?
                .execute(params![new_traces, documents, bytes])?;
            tx.commit()?;
            Ok((stored, invalid, bytes, invalid_bytes))
        })();
        match result {
            Ok((stored, invalid, bytes, invalid_bytes)) => {
                self.total_bytes += bytes;
                self.invalid_bytes += invalid_bytes;
                self.stats.add_stored(stored);
                for code in invalid {
                    self.stats.add_invalid(code);
                }
            }
            Err(e) => {
                let n = group.iter().map(|b| b.items.len() as u64).sum();
                log::error!("trace store: cannot write {n} documents: {e}");
                self.stats.add_store_errors(n);
                // The totals may be off after a rollback: read them again.
                if let Ok(bytes) =
                    conn.query_row("SELECT bytes FROM totals WHERE id = 0", [], |r| r.get(0))
                {
                    self.total_bytes = bytes;
                }
                if let Ok(bytes) = retention::invalid_bytes(&conn) {
                    self.invalid_bytes = bytes;
                }
            }
        }
    }

    /// Removes what is too old, then what is past the size limit: invalid documents beyond their share
    /// ([`INVALID_SHARE`] percent) first, then the oldest traces.
    fn apply_retention(&mut self, force: bool) {
        let max_bytes = i64::try_from(self.retention.max_bytes).unwrap_or(i64::MAX);
        let over_size = self.total_bytes + self.invalid_bytes > max_bytes;
        let due = force || self.last_retention.elapsed() >= RETENTION_INTERVAL;
        if !over_size && !due {
            return;
        }
        let store = self.store.clone();
        let mut conn = store.writer();
        if due {
            self.last_retention = Instant::now();
            let cutoff = xray_sdk_types::time::now() - self.retention.max_age.as_secs_f64();
            match retention::expire(&mut conn, cutoff) {
                Ok(freed) => self.total_bytes -= freed,
                Err(e) => log::error!("trace store: age retention failed: {e}"),
            }
            match retention::trim_invalid(&conn, self.retention.max_invalid) {
                Ok(freed) => self.invalid_bytes -= freed,
                Err(e) => log::error!("trace store: trimming invalid documents failed: {e}"),
            }
        }
        let invalid_share = self.retention.max_bytes / 100 * INVALID_SHARE;
        if self.total_bytes + self.invalid_bytes > max_bytes
            && self.invalid_bytes > i64::try_from(invalid_share).unwrap_or(i64::MAX)
        {
            match retention::shrink_invalid(&conn, invalid_share) {
                Ok(freed) => self.invalid_bytes -= freed,
                Err(e) => {
                    log::error!("trace store: size retention of invalid documents failed: {e}")
                }
            }
        }
        if self.total_bytes + self.invalid_bytes > max_bytes {
            let documents_max = self
                .retention
                .max_bytes
                .saturating_sub(u64::try_from(self.invalid_bytes).unwrap_or(0));
            match retention::shrink(&mut conn, self.total_bytes, documents_max) {
                Ok(freed) => self.total_bytes -= freed,
                Err(e) => log::error!("trace store: size retention failed: {e}"),
            }
        }
    }
}

/// Inserts a trace's summary row, or folds a batch's change into it (`xray_merge_annotations` is the function
/// the schema registers).
const UPSERT_TRACE: &str = "INSERT INTO traces (trace_id, seq, start_time, end_time, root_rank, root_start, root_name, \
            http_method, http_url, http_status, segment_flags, subsegment_flags, segments, documents, bytes, \
            updated_at, annotations)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)
         ON CONFLICT (trace_id) DO UPDATE SET
            seq = excluded.seq,
            start_time = min(start_time, excluded.start_time),
            end_time = CASE WHEN end_time IS NULL THEN excluded.end_time
                            WHEN excluded.end_time IS NULL THEN end_time
                            ELSE max(end_time, excluded.end_time) END,
            root_rank = max(root_rank, excluded.root_rank),
            root_start = CASE WHEN excluded.root_rank > root_rank OR (excluded.root_rank = root_rank
                AND excluded.root_start <= root_start) THEN excluded.root_start ELSE root_start END,
            root_name = CASE WHEN excluded.root_rank > root_rank OR (excluded.root_rank = root_rank
                AND excluded.root_start <= root_start) THEN excluded.root_name ELSE root_name END,
            http_method = CASE WHEN excluded.root_rank > root_rank OR (excluded.root_rank = root_rank
                AND excluded.root_start <= root_start) THEN excluded.http_method ELSE http_method END,
            http_url = CASE WHEN excluded.root_rank > root_rank OR (excluded.root_rank = root_rank
                AND excluded.root_start <= root_start) THEN excluded.http_url ELSE http_url END,
            http_status = CASE WHEN excluded.root_rank > root_rank OR (excluded.root_rank = root_rank
                AND excluded.root_start <= root_start) THEN excluded.http_status ELSE http_status END,
            segment_flags = segment_flags | excluded.segment_flags,
            subsegment_flags = subsegment_flags | excluded.subsegment_flags,
            segments = segments + excluded.segments,
            documents = documents + excluded.documents,
            bytes = bytes + excluded.bytes,
            updated_at = excluded.updated_at,
            annotations = CASE WHEN excluded.annotations IS NULL THEN annotations
                               WHEN annotations IS NULL THEN excluded.annotations
                               ELSE xray_merge_annotations(annotations, excluded.annotations) END";

/// Adds a batch's (or, negative, retention's) changes to the kept counts.
pub(super) const ADD_TO_TOTALS: &str = "UPDATE totals SET traces = traces + ?1, documents = documents + ?2, \
     bytes = bytes + ?3 WHERE id = 0";

/// Inserts a document unless its trace and id are stored already.
const INSERT_DOCUMENT: &str = "INSERT INTO documents (trace_id, id, parent_id, kind, name, start_time, end_time, \
     in_progress, received_at, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
     ON CONFLICT (trace_id, id) DO NOTHING";

/// What storing one document changed: documents, segments and bytes added to its trace.
#[derive(Debug, Clone, Copy)]
struct Change {
    documents: i64,
    segments: i64,
    bytes: i64,
}

/// Inserts a document, or replaces its in-progress version. Returns `None` when the document is older than the
/// stored one (an in-progress version after the complete one) and changes nothing.
fn insert_document(
    tx: &Transaction<'_>,
    insert: &mut rusqlite::CachedStatement<'_>,
    r: &Record,
) -> rusqlite::Result<Option<Change>> {
    let body_len = r.body.len() as i64;
    // The same ten values, in the same order, for the insert and for the update of an earlier version.
    let kind = i64::from(r.subsegment);
    let values = params![
        r.trace_id,
        r.id,
        r.parent_id,
        kind,
        r.name,
        r.start_time,
        r.end_time,
        r.in_progress,
        r.received_at,
        r.body,
    ];
    let inserted = insert.execute(values)?;
    if inserted == 1 {
        return Ok(Some(Change {
            documents: 1,
            segments: i64::from(!r.subsegment),
            bytes: body_len,
        }));
    }
    let (old_in_progress, old_len): (bool, i64) = tx
        .prepare_cached(
            "SELECT in_progress, length(body) FROM documents WHERE trace_id = ?1 AND id = ?2",
        )?
        .query_row(params![r.trace_id, r.id], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    // A complete document replaces its in-progress version, never the other way round.
    if r.in_progress && !old_in_progress {
        return Ok(None);
    }
    tx.prepare_cached(
        "UPDATE documents SET parent_id = ?3, kind = ?4, name = ?5, start_time = ?6, end_time = ?7, \
         in_progress = ?8, received_at = ?9, body = ?10 WHERE trace_id = ?1 AND id = ?2",
    )?
    .execute(values)?;
    Ok(Some(Change {
        documents: 0,
        segments: 0,
        bytes: body_len - old_len,
    }))
}

/// The change a batch makes to one trace: its documents folded together, to be applied in one upsert. Borrows
/// from the batch's records.
#[derive(Debug, Clone)]
struct TraceUpdate<'a> {
    trace_id: &'a str,
    start_time: f64,
    end_time: Option<f64>,
    root_rank: i64,
    root_start: f64,
    root_name: &'a str,
    http_method: Option<&'a str>,
    http_url: Option<&'a str>,
    http_status: Option<i64>,
    segment_flags: i64,
    subsegment_flags: i64,
    segments: i64,
    documents: i64,
    bytes: i64,
    updated_at: f64,
    annotations: Annotations<&'a str>,
}

impl<'a> TraceUpdate<'a> {
    fn new(r: &'a Record, change: Change) -> TraceUpdate<'a> {
        let (segment_flags, subsegment_flags) = if r.subsegment {
            (0, i64::from(r.flags.0))
        } else {
            (i64::from(r.flags.0), 0)
        };
        let mut annotations = Annotations::new();
        for (key, value, _) in &r.annotations {
            annotations
                .entry(key.as_str())
                .or_default()
                .insert(value.as_str());
        }
        TraceUpdate {
            trace_id: &r.trace_id,
            start_time: r.start_time,
            end_time: r.end_time,
            root_rank: root_rank(r),
            root_start: r.start_time,
            root_name: &r.name,
            http_method: r.http_method.as_deref(),
            http_url: r.http_url.as_deref(),
            http_status: r.http_status,
            segment_flags,
            subsegment_flags,
            segments: change.segments,
            documents: change.documents,
            bytes: change.bytes,
            updated_at: r.received_at,
            annotations,
        }
    }

    /// Folds a later document of the same trace in, as the upsert would: the root is the document of highest
    /// rank, then earliest start, the later one winning a tie.
    fn fold(&mut self, later: TraceUpdate<'a>) {
        self.start_time = self.start_time.min(later.start_time);
        self.end_time = match (self.end_time, later.end_time) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        if later.root_rank > self.root_rank
            || (later.root_rank == self.root_rank && later.root_start <= self.root_start)
        {
            self.root_rank = later.root_rank;
            self.root_start = later.root_start;
            self.root_name = later.root_name;
            self.http_method = later.http_method;
            self.http_url = later.http_url;
            self.http_status = later.http_status;
        }
        self.segment_flags |= later.segment_flags;
        self.subsegment_flags |= later.subsegment_flags;
        self.segments += later.segments;
        self.documents += later.documents;
        self.bytes += later.bytes;
        self.updated_at = later.updated_at;
        for (key, values) in later.annotations {
            self.annotations.entry(key).or_default().extend(values);
        }
    }
}

/// 2: a segment without parent, 1: a segment, 0: an independent subsegment.
fn root_rank(r: &Record) -> i64 {
    match (r.subsegment, r.parent_id.is_some()) {
        (true, _) => 0,
        (false, true) => 1,
        (false, false) => 2,
    }
}

/// The traces a batch touches, in the order first touched.
#[derive(Debug, Default)]
struct TraceUpdates<'a> {
    updates: Vec<TraceUpdate<'a>>,
    index: HashMap<&'a str, usize>,
}

impl<'a> TraceUpdates<'a> {
    fn add(&mut self, r: &'a Record, change: Change) {
        let update = TraceUpdate::new(r, change);
        match self.index.get(r.trace_id.as_str()) {
            Some(&i) => self.updates[i].fold(update),
            None => {
                self.index.insert(&r.trace_id, self.updates.len());
                self.updates.push(update);
            }
        }
    }
}

fn upsert_trace(
    upsert: &mut rusqlite::CachedStatement<'_>,
    u: &TraceUpdate<'_>,
    seq: i64,
) -> rusqlite::Result<()> {
    let annotations = (!u.annotations.is_empty()).then(|| annotations_json(&u.annotations));
    upsert.execute(params![
        u.trace_id,
        seq,
        u.start_time,
        u.end_time,
        u.root_rank,
        u.root_start,
        u.root_name,
        u.http_method,
        u.http_url,
        u.http_status,
        u.segment_flags,
        u.subsegment_flags,
        u.segments,
        u.documents,
        u.bytes,
        u.updated_at,
        annotations,
    ])?;
    Ok(())
}

/// Indexes one annotation value of a trace, once.
const INDEX_ANNOTATION: &str = "INSERT INTO trace_annotations (key, value, trace_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";

/// Indexes the annotation values of a batch's change to a trace: strings as their text, numbers as numbers,
/// booleans as `true`/`false` (the values are JSON texts; see `trace_annotations` in the schema).
fn index_annotations(
    index: &mut rusqlite::CachedStatement<'_>,
    u: &TraceUpdate<'_>,
) -> rusqlite::Result<()> {
    for (key, values) in &u.annotations {
        for value in values {
            let indexed = match serde_json::from_str::<serde_json::Value>(value) {
                Ok(serde_json::Value::String(text)) => rusqlite::types::Value::Text(text),
                Ok(serde_json::Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
                    (Some(i), _) => rusqlite::types::Value::Integer(i),
                    (None, Some(f)) => rusqlite::types::Value::Real(f),
                    (None, None) => continue,
                },
                Ok(serde_json::Value::Bool(b)) => rusqlite::types::Value::Text(b.to_string()),
                _ => continue,
            };
            index.execute(params![key, indexed, u.trace_id])?;
        }
    }
    Ok(())
}

fn insert_rejected(tx: &Transaction<'_>, r: &Rejected) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO invalid (received_at, code, message, body) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![r.received_at, r.code, r.message, r.body])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upsert_calls_the_registered_merge_function() {
        assert!(UPSERT_TRACE.contains(&format!("{}(", super::super::schema::MERGE_ANNOTATIONS)));
    }
}
