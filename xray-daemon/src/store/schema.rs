//! The database schema.

use rusqlite::Connection;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS documents (
    trace_id    TEXT NOT NULL,
    id          TEXT NOT NULL,
    parent_id   TEXT,
    kind        INTEGER NOT NULL,   -- 0: segment, 1: independent subsegment
    name        TEXT NOT NULL,
    start_time  REAL NOT NULL,
    end_time    REAL,
    in_progress INTEGER NOT NULL,
    received_at REAL NOT NULL,
    body        BLOB NOT NULL,
    PRIMARY KEY (trace_id, id)
);
CREATE TABLE IF NOT EXISTS traces (
    trace_id         TEXT PRIMARY KEY NOT NULL,
    seq              INTEGER NOT NULL, -- increases with every update: for followers, and retention order
    start_time       REAL NOT NULL,
    end_time         REAL,
    root_rank        INTEGER NOT NULL, -- 2: segment without parent, 1: segment, 0: subsegment
    root_start       REAL NOT NULL,
    root_name        TEXT NOT NULL,
    http_method      TEXT,
    http_url         TEXT,
    http_status      INTEGER,
    segment_flags    INTEGER NOT NULL,
    subsegment_flags INTEGER NOT NULL,
    segments         INTEGER NOT NULL,
    documents        INTEGER NOT NULL,
    bytes            INTEGER NOT NULL,
    updated_at       REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_time);
CREATE INDEX IF NOT EXISTS traces_by_seq ON traces (seq);
CREATE TABLE IF NOT EXISTS annotations (
    trace_id TEXT NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,       -- the value as JSON
    number   REAL,                -- the value, when it is a number
    PRIMARY KEY (trace_id, key, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS invalid (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    body        BLOB NOT NULL
);
";

/// Creates the tables if missing, and sets the connection up for fast batched writes.
pub(super) fn create(conn: &Connection, file: bool) -> rusqlite::Result<()> {
    if file {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A local trace store favours speed over surviving a power cut: the OS, not fsync, makes writes durable
        // (a daemon crash or restart loses nothing).
        conn.pragma_update(None, "synchronous", "OFF")?;
        conn.pragma_update(None, "wal_autocheckpoint", 4096)?;
    } else {
        // Nothing to recover in memory; a failed batch is logged and counted, and the totals are read again.
        conn.pragma_update(None, "journal_mode", "OFF")?;
    }
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // 16 MiB of page cache: the writer's working set, bounded.
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.execute_batch(SCHEMA)
}
