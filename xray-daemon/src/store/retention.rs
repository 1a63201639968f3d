//! Removal of old traces, by age and by size, whole traces at a time.

use rusqlite::{Connection, params};

/// How many traces one retention step looks at.
const STEP: i64 = 2000;

/// A trace to remove: its id, bytes and documents.
type Victim = (String, i64, i64);

fn delete_traces(conn: &mut Connection, victims: &[Victim]) -> rusqlite::Result<i64> {
    let tx = conn.transaction()?;
    let mut freed = 0;
    {
        // The trace's index entries, found from its `annotations` column (before its row goes).
        let mut annotations = tx.prepare_cached(&format!(
            "DELETE FROM trace_annotations WHERE (key, value, trace_id) IN (SELECT k.key, {}, t.trace_id \
             FROM traces t, json_each(t.annotations) k, json_each(k.value) v WHERE t.trace_id = ?1 \
             AND t.annotations IS NOT NULL)",
            super::schema::ANNOTATION_INDEX_VALUE
        ))?;
        let mut docs = tx.prepare_cached("DELETE FROM documents WHERE trace_id = ?1")?;
        let mut traces = tx.prepare_cached("DELETE FROM traces WHERE trace_id = ?1")?;
        let (mut removed, mut documents) = (0, 0);
        for (trace_id, bytes, count) in victims {
            annotations.execute(params![trace_id])?;
            docs.execute(params![trace_id])?;
            if traces.execute(params![trace_id])? == 1 {
                removed += 1;
                documents += count;
                freed += bytes;
            }
        }
        tx.prepare_cached(super::writer::ADD_TO_TOTALS)?
            .execute(params![-removed, -documents, -freed])?;
    }
    tx.commit()?;
    Ok(freed)
}

/// The least recently updated traces (lowest sequence numbers), up to [`STEP`], stopping at the first one
/// updated at or after `before`. Sequence numbers follow update times, so this reads only what is due rather
/// than every trace (should the clock step back, traces updated before the step wait until those after it are
/// due).
fn oldest(conn: &Connection, before: Option<f64>) -> rusqlite::Result<Vec<Victim>> {
    let before = before.unwrap_or(f64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT trace_id, bytes, updated_at, documents FROM traces ORDER BY seq LIMIT ?1",
    )?;
    let mut rows = stmt.query(params![STEP])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        if row.get::<_, f64>(2)? >= before {
            break;
        }
        out.push((row.get(0)?, row.get(1)?, row.get(3)?));
    }
    Ok(out)
}

/// Removes the traces not updated since `cutoff` (epoch seconds). Returns the document bytes freed.
///
/// # Errors
/// When SQLite fails.
pub fn expire(conn: &mut Connection, cutoff: f64) -> rusqlite::Result<i64> {
    let mut freed = 0;
    loop {
        let victims = oldest(conn, Some(cutoff))?;
        if victims.is_empty() {
            return Ok(freed);
        }
        freed += delete_traces(conn, &victims)?;
    }
}

/// Removes the least recently updated traces (lowest sequence numbers) until the documents take at most 90% of `max_bytes`. Returns the
/// bytes freed.
///
/// # Errors
/// When SQLite fails.
pub fn shrink(conn: &mut Connection, total: i64, max_bytes: u64) -> rusqlite::Result<i64> {
    let target = i64::try_from(max_bytes / 10 * 9).unwrap_or(i64::MAX);
    let mut freed = 0;
    while total - freed > target {
        let candidates = oldest(conn, None)?;
        if candidates.is_empty() {
            break;
        }
        let mut victims = Vec::new();
        let mut step = 0;
        for candidate in candidates {
            if total - freed - step <= target {
                break;
            }
            step += candidate.1;
            victims.push(candidate);
        }
        freed += delete_traces(conn, &victims)?;
    }
    Ok(freed)
}

/// The bytes the kept invalid documents take: their bodies and messages, as the writer counts them.
///
/// # Errors
/// When SQLite fails.
pub fn invalid_bytes(conn: &Connection) -> rusqlite::Result<i64> {
    conn.prepare_cached(
        "SELECT coalesce(sum(length(body) + length(CAST(message AS BLOB))), 0) FROM invalid",
    )?
    .query_row([], |row| row.get(0))
}

/// Keeps only the newest `keep` invalid documents. Returns the bytes freed.
///
/// # Errors
/// When SQLite fails.
pub fn trim_invalid(conn: &Connection, keep: u64) -> rusqlite::Result<i64> {
    let before = invalid_bytes(conn)?;
    conn.prepare_cached("DELETE FROM invalid WHERE seq <= (SELECT max(seq) FROM invalid) - ?1")?
        .execute(params![i64::try_from(keep).unwrap_or(i64::MAX)])?;
    Ok(before - invalid_bytes(conn)?)
}

/// Keeps only the newest invalid documents that fit in `keep_bytes`. Returns the bytes freed.
///
/// # Errors
/// When SQLite fails.
pub fn shrink_invalid(conn: &Connection, keep_bytes: u64) -> rusqlite::Result<i64> {
    let before = invalid_bytes(conn)?;
    conn.prepare_cached(
        "DELETE FROM invalid WHERE seq IN (SELECT seq FROM (SELECT seq, sum(length(body) + \
         length(CAST(message AS BLOB))) OVER (ORDER BY seq DESC) AS newer FROM invalid) WHERE newer > ?1)",
    )?
    .execute(params![i64::try_from(keep_bytes).unwrap_or(i64::MAX)])?;
    Ok(before - invalid_bytes(conn)?)
}
