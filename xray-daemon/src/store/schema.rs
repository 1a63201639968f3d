//! The database schema, its migration, and the SQL function the writer merges annotations with.
//!
//! Annotations live in the trace's row, as a JSON object from key to the distinct values seen (each list sorted
//! by the values' JSON text), rather than in a table of their own: one row less to index per annotation, and a
//! trace summary reads them with no second query. Version 1 of the schema had an `annotations` table; opening
//! such a file moves its rows into the column.
//!
//! Version 3 serves every filter of `GET /api/traces` from an index: the status and duration of a trace are
//! generated columns of `traces` with indexes of their own, the segments' names are indexed in `documents`, and
//! `trace_annotations` indexes each distinct annotation value of a trace (strings as text, numbers as numbers,
//! booleans as the text `true`/`false`). The one-row table `totals` keeps the counts `GET /api/stats` shows:
//! the writer and retention change it in the transaction that changes the traces, so that a rolled-back batch
//! leaves it exact too.
//! Opening a version 1 or 2 file adds what is missing.

use std::collections::{BTreeMap, BTreeSet};

use rusqlite::Connection;
use rusqlite::functions::FunctionFlags;
use serde_json::Value;

/// The page size of new stores.
const PAGE_SIZE: i64 = 16_384;
/// The schema version, in `PRAGMA user_version`.
const VERSION: i64 = 3;
/// `PRAGMA application_id` of the stores this daemon creates ("XRAY" in ASCII). Stores created before it was set
/// have 0.
const APPLICATION_ID: i64 = 0x5852_4159;
/// The columns each table must have, as a check of a file opened (`traces.annotations` comes with version 2,
/// and is added by the migration).
const REQUIRED_COLUMNS: [(&str, &[&str]); 3] = [
    (
        "documents",
        &[
            "trace_id",
            "id",
            "parent_id",
            "kind",
            "name",
            "start_time",
            "end_time",
            "in_progress",
            "received_at",
            "body",
        ],
    ),
    (
        "traces",
        &[
            "trace_id",
            "seq",
            "start_time",
            "end_time",
            "root_rank",
            "root_start",
            "root_name",
            "http_method",
            "http_url",
            "http_status",
            "segment_flags",
            "subsegment_flags",
            "segments",
            "documents",
            "bytes",
            "updated_at",
        ],
    ),
    (
        "invalid",
        &["seq", "received_at", "code", "message", "body"],
    ),
];

/// Why a database cannot be opened as a store.
#[derive(Debug)]
pub(super) enum OpenError {
    /// SQLite failed.
    Sqlite(rusqlite::Error),
    /// The database is not a store of this daemon (the reason says why).
    Foreign(String),
}

impl From<rusqlite::Error> for OpenError {
    fn from(e: rusqlite::Error) -> Self {
        OpenError::Sqlite(e)
    }
}

/// Checks that a database is empty, or a store of this daemon's versions 1 to [`VERSION`] whose tables have the
/// columns the store uses. Changes nothing.
fn check(conn: &Connection) -> Result<(), OpenError> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")?
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    if tables.is_empty() {
        return Ok(());
    }
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let application: i64 = conn.pragma_query_value(None, "application_id", |r| r.get(0))?;
    if application != 0 && application != APPLICATION_ID {
        return Err(OpenError::Foreign(format!(
            "it belongs to another application (application_id {application:#x})"
        )));
    }
    // A store holds its own tables alone (version 1 set no user_version: this is what tells it from others).
    let store_tables = [
        "documents",
        "traces",
        "annotations",
        "invalid",
        "trace_annotations",
        "totals",
    ];
    let others: Vec<&str> = tables
        .iter()
        .map(String::as_str)
        .filter(|t| !store_tables.contains(t))
        .collect();
    if !others.is_empty() {
        return Err(OpenError::Foreign(format!(
            "it holds other tables ({})",
            others.join(", ")
        )));
    }
    if version > VERSION {
        return Err(OpenError::Foreign(format!(
            "it is version {version} of the store, newer than this daemon's {VERSION}"
        )));
    }
    for (table, required) in REQUIRED_COLUMNS {
        if !tables.iter().any(|t| t == table) {
            continue;
        }
        let columns: Vec<String> = conn
            .prepare(&format!("SELECT name FROM pragma_table_info('{table}')"))?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let missing: Vec<&str> = required
            .iter()
            .copied()
            .filter(|c| !columns.iter().any(|have| have == c))
            .collect();
        if !missing.is_empty() {
            return Err(OpenError::Foreign(format!(
                "its table {table} lacks the columns {}",
                missing.join(", ")
            )));
        }
    }
    Ok(())
}

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
    updated_at       REAL NOT NULL,
    annotations      TEXT,             -- JSON: key to the distinct values, or NULL for none
    {STATUS_COLUMN},
    {DURATION_COLUMN}
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS traces_by_start ON traces (start_time);
CREATE INDEX IF NOT EXISTS traces_by_seq ON traces (seq);
CREATE TABLE IF NOT EXISTS invalid (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    received_at REAL NOT NULL,
    code        TEXT NOT NULL,
    message     TEXT NOT NULL,
    body        BLOB NOT NULL
);
";

/// What version 3 adds (to a new store, or to a version 1 or 2 file): the indexes of the filters of
/// `GET /api/traces`, and the kept counts.
const SCHEMA_3: &str = "
CREATE INDEX IF NOT EXISTS traces_by_status ON traces (status, start_time);
CREATE INDEX IF NOT EXISTS traces_by_duration ON traces (duration);
CREATE INDEX IF NOT EXISTS traces_by_root_subsegment ON traces (root_name) WHERE root_rank = 0;
CREATE INDEX IF NOT EXISTS documents_by_segment_name ON documents (name, trace_id) WHERE kind = 0;
CREATE TABLE IF NOT EXISTS trace_annotations (
    key      TEXT NOT NULL,
    value    NOT NULL,                -- text, a number, or the text true/false
    trace_id TEXT NOT NULL,
    PRIMARY KEY (key, value, trace_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS totals (
    id        INTEGER PRIMARY KEY CHECK (id = 0),
    traces    INTEGER NOT NULL,
    documents INTEGER NOT NULL,
    bytes     INTEGER NOT NULL
);
INSERT OR IGNORE INTO totals (id, traces, documents, bytes)
    SELECT 0, count(*), coalesce(sum(documents), 0), coalesce(sum(bytes), 0) FROM traces;
";

/// A trace's status from its flags: those of its segments, or of its independent subsegments when it has no
/// segment yet.
const STATUS_COLUMN: &str = "status TEXT GENERATED ALWAYS AS (CASE
    WHEN (CASE WHEN segments > 0 THEN segment_flags ELSE subsegment_flags END) & 4 != 0 THEN 'fault'
    WHEN (CASE WHEN segments > 0 THEN segment_flags ELSE subsegment_flags END) & 2 != 0 THEN 'throttle'
    WHEN (CASE WHEN segments > 0 THEN segment_flags ELSE subsegment_flags END) & 1 != 0 THEN 'error'
    ELSE 'ok' END) VIRTUAL";
/// A trace's duration, seconds (NULL while no document has ended).
const DURATION_COLUMN: &str = "duration REAL GENERATED ALWAYS AS (end_time - start_time) VIRTUAL";

/// The value `trace_annotations` indexes for an annotation value `v` of `json_each` (`t` its type): the text
/// of a string, a number as a number, a boolean as its name.
pub(super) const ANNOTATION_INDEX_VALUE: &str =
    "CASE v.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' ELSE v.value END";

/// Version 2 had no index of annotation values: fill it from `traces.annotations`.
fn migrate_annotations() -> String {
    format!(
        "INSERT OR IGNORE INTO trace_annotations (key, value, trace_id)
         SELECT k.key, {ANNOTATION_INDEX_VALUE}, t.trace_id
         FROM traces t, json_each(t.annotations) k, json_each(k.value) v
         WHERE t.annotations IS NOT NULL AND v.type != 'null';"
    )
}

/// Version 1 kept annotations in a table: move them into `traces.annotations`.
const MIGRATE_FROM_1: &str = "
ALTER TABLE traces ADD COLUMN annotations TEXT;
UPDATE traces SET annotations = (
    SELECT json_group_object(key, json(vals)) FROM (
        SELECT key, json_group_array(json(value)) AS vals
        FROM (SELECT key, value FROM annotations a WHERE a.trace_id = traces.trace_id ORDER BY key, value)
        GROUP BY key))
WHERE trace_id IN (SELECT trace_id FROM annotations);
DROP TABLE annotations;
";

/// The name of the SQL function `xray_merge_annotations(old, new)`: the union of two annotation objects.
pub(super) const MERGE_ANNOTATIONS: &str = "xray_merge_annotations";

/// Checks the database ([`check`]: a foreign or conflicting file is refused, untouched), creates the tables if
/// missing (migrating an older schema), registers the writer's SQL function, and sets the connection up for fast
/// batched writes.
pub(super) fn create(conn: &Connection, file: bool) -> Result<(), OpenError> {
    check(conn)?;
    // Before the first table: large pages, so that a 2 KB document shares its page (and its WAL frame and write
    // call) with several others. A file created with another page size keeps it.
    conn.pragma_update(None, "page_size", PAGE_SIZE)?;
    if file {
        conn.pragma_update(None, "journal_mode", "WAL")?;
        // A local trace store favours speed over surviving a power cut: the OS, not fsync, makes writes durable.
        // What a crash of the daemon (kill -9) loses is what was received and not yet committed: at most what
        // arrived within `Config::max_write_delay` (500 ms by default), since datagrams are dropped and counted
        // rather than queued once the oldest one waiting has waited that long. A clean stop loses nothing; a
        // power cut may lose the last commits the OS had not written out.
        conn.pragma_update(None, "synchronous", "OFF")?;
        // Checkpoint every 16 MiB of WAL (1024 pages of 16 KiB): short pauses of the writer, which the ingest
        // queue absorbs.
        conn.pragma_update(None, "wal_autocheckpoint", 1024)?;
    } else {
        // Nothing to recover in memory; a failed batch is logged and counted, and the totals are read again.
        conn.pragma_update(None, "journal_mode", "OFF")?;
    }
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // 16 MiB of page cache: the writer's working set, bounded.
    conn.pragma_update(None, "cache_size", -16_384)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.create_scalar_function(
        MERGE_ANNOTATIONS,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            let old: Option<String> = ctx.get(0)?;
            let new: Option<String> = ctx.get(1)?;
            Ok(match (old, new) {
                (Some(old), Some(new)) => {
                    let mut merged = parse_annotations(&old);
                    for (key, values) in parse_annotations(&new) {
                        merged.entry(key).or_default().extend(values);
                    }
                    Some(annotations_json(&merged))
                }
                (old, new) => old.or(new),
            })
        },
    )?;
    let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    let v1_annotations: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'annotations'",
        [],
        |r| r.get(0),
    )?;
    let traces_exists: bool = conn.query_row(
        "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'traces'",
        [],
        |r| r.get(0),
    )?;
    // One transaction: a migration that fails leaves the file as it was.
    let mut script = String::from("BEGIN;");
    if version < VERSION && v1_annotations {
        script.push_str(MIGRATE_FROM_1);
    }
    let has_column = |name: &str| -> rusqlite::Result<bool> {
        conn.query_row(
            "SELECT count(*) > 0 FROM pragma_table_xinfo('traces') WHERE name = ?1",
            [name],
            |r| r.get(0),
        )
    };
    if traces_exists && !has_column("status")? {
        script.push_str(&format!("ALTER TABLE traces ADD COLUMN {STATUS_COLUMN};"));
    }
    if traces_exists && !has_column("duration")? {
        script.push_str(&format!("ALTER TABLE traces ADD COLUMN {DURATION_COLUMN};"));
    }
    script.push_str(
        &SCHEMA
            .replace("{STATUS_COLUMN}", STATUS_COLUMN)
            .replace("{DURATION_COLUMN}", DURATION_COLUMN),
    );
    script.push_str(SCHEMA_3);
    if version < 3 && traces_exists {
        script.push_str(&migrate_annotations());
    }
    script.push_str("COMMIT;");
    conn.execute_batch(&script)?;
    conn.pragma_update(None, "application_id", APPLICATION_ID)?;
    conn.pragma_update(None, "user_version", VERSION)?;
    Ok(())
}

/// Annotations by key, each value as its JSON text (which sorts them, and makes them distinct).
pub type Annotations<S = String> = BTreeMap<S, BTreeSet<S>>;

/// Reads the `annotations` column; what does not parse reads as nothing.
pub fn parse_annotations(text: &str) -> Annotations {
    let Ok(Value::Object(object)) = serde_json::from_str::<Value>(text) else {
        return Annotations::new();
    };
    object
        .into_iter()
        .map(|(key, values)| {
            let values = match values {
                Value::Array(values) => values.iter().map(Value::to_string).collect(),
                other => BTreeSet::from([other.to_string()]),
            };
            (key, values)
        })
        .collect()
}

/// Writes the `annotations` column.
pub fn annotations_json<S: AsRef<str>>(annotations: &Annotations<S>) -> String {
    let mut out = String::from("{");
    for (i, (key, values)) in annotations.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(key.as_ref().to_owned()).to_string());
        out.push_str(":[");
        for (j, value) in values.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            out.push_str(value.as_ref());
        }
        out.push(']');
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_round_trip_and_merge() {
        let a = parse_annotations(r#"{"customer":["alice"],"n":[2,1]}"#);
        assert_eq!(annotations_json(&a), r#"{"customer":["alice"],"n":[1,2]}"#);
        let conn = Connection::open_in_memory().unwrap();
        create(&conn, false).unwrap();
        let merged: String = conn
            .query_row(
                "SELECT xray_merge_annotations(?1, ?2)",
                [
                    r#"{"customer":["alice"],"n":[1]}"#,
                    r#"{"customer":["bob","alice"],"flag":[true]}"#,
                ],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(
            merged,
            r#"{"customer":["alice","bob"],"flag":[true],"n":[1]}"#
        );
        let kept: Option<String> = conn
            .query_row(
                "SELECT xray_merge_annotations(NULL, '{\"a\":[1]}')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(kept.as_deref(), Some(r#"{"a":[1]}"#));
    }

    #[test]
    fn a_version_1_store_is_migrated() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE traces (trace_id TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, start_time REAL NOT NULL,
                end_time REAL, root_rank INTEGER NOT NULL, root_start REAL NOT NULL, root_name TEXT NOT NULL,
                http_method TEXT, http_url TEXT, http_status INTEGER, segment_flags INTEGER NOT NULL,
                subsegment_flags INTEGER NOT NULL, segments INTEGER NOT NULL, documents INTEGER NOT NULL,
                bytes INTEGER NOT NULL, updated_at REAL NOT NULL) WITHOUT ROWID;
             CREATE TABLE annotations (trace_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, number REAL,
                PRIMARY KEY (trace_id, key, value)) WITHOUT ROWID;
             INSERT INTO traces VALUES ('t1', 1, 1.0, 2.0, 2, 1.0, 'a', NULL, NULL, NULL, 0, 0, 1, 1, 10, 3.0);
             INSERT INTO traces VALUES ('t2', 2, 1.0, 2.0, 2, 1.0, 'b', NULL, NULL, NULL, 0, 0, 1, 1, 10, 3.0);
             INSERT INTO annotations VALUES ('t1', 'n', '2', 2.0), ('t1', 'n', '10', 10.0), ('t1', 'c', '\"x\"', NULL);",
        )
        .unwrap();
        create(&conn, false).unwrap();
        let rows: Vec<(String, Option<String>)> = conn
            .prepare("SELECT trace_id, annotations FROM traces ORDER BY trace_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                (
                    "t1".to_owned(),
                    Some(r#"{"c":["x"],"n":[10,2]}"#.to_owned())
                ),
                ("t2".to_owned(), None)
            ]
        );
        let tables: i64 = conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE name = 'annotations'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(tables, 0);
    }

    /// A version 2 file opens as version 3: status and duration columns, their indexes, the annotation index
    /// and the kept counts are added and filled from what it holds.
    #[test]
    fn a_version_2_store_is_upgraded() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE documents (trace_id TEXT NOT NULL, id TEXT NOT NULL, parent_id TEXT, kind INTEGER NOT NULL,
                name TEXT NOT NULL, start_time REAL NOT NULL, end_time REAL, in_progress INTEGER NOT NULL,
                received_at REAL NOT NULL, body BLOB NOT NULL, PRIMARY KEY (trace_id, id));
             CREATE TABLE traces (trace_id TEXT PRIMARY KEY NOT NULL, seq INTEGER NOT NULL, start_time REAL NOT NULL,
                end_time REAL, root_rank INTEGER NOT NULL, root_start REAL NOT NULL, root_name TEXT NOT NULL,
                http_method TEXT, http_url TEXT, http_status INTEGER, segment_flags INTEGER NOT NULL,
                subsegment_flags INTEGER NOT NULL, segments INTEGER NOT NULL, documents INTEGER NOT NULL,
                bytes INTEGER NOT NULL, updated_at REAL NOT NULL, annotations TEXT) WITHOUT ROWID;
             CREATE INDEX traces_by_start ON traces (start_time);
             CREATE INDEX traces_by_seq ON traces (seq);
             CREATE TABLE invalid (seq INTEGER PRIMARY KEY AUTOINCREMENT, received_at REAL NOT NULL,
                code TEXT NOT NULL, message TEXT NOT NULL, body BLOB NOT NULL);
             INSERT INTO traces VALUES ('t1', 1, 1.0, 3.5, 2, 1.0, 'web', NULL, NULL, NULL, 4, 0, 1, 2, 30, 3.0,
                '{\"customer\":[\"alice\"],\"n\":[2,2.5],\"ok\":[true]}');
             INSERT INTO traces VALUES ('t2', 2, 2.0, NULL, 0, 2.0, 'lambda', NULL, NULL, NULL, 0, 3, 0, 1, 12, 3.0,
                NULL);
             PRAGMA user_version = 2;
             PRAGMA application_id = 1481785689;",
        )
        .unwrap();
        create(&conn, false).unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, VERSION);
        let rows: Vec<(String, String, Option<f64>)> = conn
            .prepare("SELECT trace_id, status, duration FROM traces ORDER BY trace_id")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(
            rows,
            [
                ("t1".to_owned(), "fault".to_owned(), Some(2.5)),
                ("t2".to_owned(), "throttle".to_owned(), None)
            ]
        );
        let index: Vec<(String, String, String)> = conn
            .prepare(
                "SELECT key, quote(value), trace_id FROM trace_annotations ORDER BY key, value, trace_id",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        let row = |k: &str, v: &str| (k.to_owned(), v.to_owned(), "t1".to_owned());
        assert_eq!(
            index,
            [
                row("customer", "'alice'"),
                row("n", "2"),
                row("n", "2.5"),
                row("ok", "'true'")
            ]
        );
        let totals: (i64, i64, i64) = conn
            .query_row("SELECT traces, documents, bytes FROM totals", [], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .unwrap();
        assert_eq!(totals, (2, 3, 42));
        // Opening it again changes nothing.
        create(&conn, false).unwrap();
        let again: i64 = conn
            .query_row("SELECT count(*) FROM trace_annotations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(again, 4);
    }
}
