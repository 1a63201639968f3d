//! rusqlite: [`XraySqliteConnection`], a connection whose statements are traced.
//!
//! ```
//! # fn run() -> rusqlite::Result<()> {
//! use xray_sdk_sql::rusqlite::XraySqliteConnection;
//!
//! let conn = XraySqliteConnection::open_in_memory()?;
//! conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")?;
//! conn.execute("INSERT INTO t (name) VALUES (?1)", ["ada"])?;
//! let name: String = conn.query_row("SELECT name FROM t WHERE id = ?1", [1], |row| row.get(0))?;
//! # Ok(()) }
//! ```

use std::path::Path;

use rusqlite::{Connection, Params, Row};
use xray_sdk_core::Recorder;

use crate::endpoint::XraySqlEndpoint;
use crate::statement::{XraySqlError, XraySqlSubsegment};
use crate::tracer::Tracer;

/// The `driver_version` recorded for rusqlite.
pub const DRIVER_VERSION: &str = "rusqlite 0.43";

/// A rusqlite [`Connection`] whose statements are traced: each is a `remote` subsegment of the current entity,
/// named after the database file (`:memory:` in memory). `database_version` is the linked SQLite's.
///
/// The methods mirror the connection's; what is not traced is reached through [`connection`](Self::connection).
#[derive(Debug)]
pub struct XraySqliteConnection {
    conn: Connection,
    tracer: Tracer,
}

impl XraySqliteConnection {
    /// Opens (or creates) the database in `path`.
    ///
    /// # Errors
    /// The error of [`Connection::open`].
    pub fn open(path: impl AsRef<Path>) -> rusqlite::Result<Self> {
        Ok(Self::new(Connection::open(path)?))
    }

    /// Opens a database in memory.
    ///
    /// # Errors
    /// The error of [`Connection::open_in_memory`].
    pub fn open_in_memory() -> rusqlite::Result<Self> {
        Ok(Self::new(Connection::open_in_memory()?))
    }

    /// Wraps an open connection. Statements are recorded with the global recorder until
    /// [`with_recorder`](Self::with_recorder) says otherwise.
    pub fn new(conn: Connection) -> Self {
        let endpoint = XraySqlEndpoint::new("SQLite", DRIVER_VERSION)
            .file(conn.path().unwrap_or_default())
            .database_version(rusqlite::version());
        XraySqliteConnection {
            conn,
            tracer: Tracer::new(endpoint),
        }
    }

    /// Records with `recorder` rather than the global recorder.
    pub fn with_recorder(mut self, recorder: Recorder) -> Self {
        self.tracer.recorder = Some(recorder);
        self
    }

    /// The endpoint recorded in every statement's `sql` block.
    pub fn endpoint(&self) -> &XraySqlEndpoint {
        &self.tracer.endpoint
    }

    /// The connection, for what is not traced.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The connection, unwrapped.
    pub fn into_inner(self) -> Connection {
        self.conn
    }

    /// [`Connection::execute`], in a subsegment.
    ///
    /// # Errors
    /// The error of [`Connection::execute`].
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        let span = self.tracer.begin(sql);
        let result = self.conn.execute(sql, params);
        finish(span, result.as_ref().err());
        result
    }

    /// [`Connection::execute_batch`] (statements without parameters), in one subsegment.
    ///
    /// # Errors
    /// The error of [`Connection::execute_batch`].
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        let span = self.tracer.begin(sql);
        let result = self.conn.execute_batch(sql);
        finish(span, result.as_ref().err());
        result
    }

    /// [`Connection::query_row`], in a subsegment.
    ///
    /// # Errors
    /// The error of [`Connection::query_row`] (no row is an error there, not in the trace).
    pub fn query_row<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let span = self.tracer.begin(sql);
        let result = self.conn.query_row(sql, params, f);
        finish(span, result.as_ref().err());
        result
    }

    /// Every row of `sql`, each mapped by `f`, in a subsegment (a prepared statement's `query_map`, collected).
    ///
    /// # Errors
    /// The first error preparing the statement, running it, or mapping a row.
    pub fn query_map<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        let span = self.tracer.begin(sql);
        let result = self
            .conn
            .prepare(sql)
            .and_then(|mut statement| statement.query_map(params, f)?.collect());
        finish(span, result.as_ref().err());
        result
    }
}

fn finish(span: Option<XraySqlSubsegment>, error: Option<&rusqlite::Error>) {
    let Some(span) = span else { return };
    let (sqlite, message) = match error {
        // `query_row` without a row: the statement ran; the caller's expectation failed.
        None | Some(rusqlite::Error::QueryReturnedNoRows) => return span.finish(),
        Some(rusqlite::Error::SqliteFailure(sqlite, message)) => (
            sqlite,
            message.clone().unwrap_or_else(|| sqlite.to_string()),
        ),
        // The message alone: its display repeats the statement, which `stream_sql` may keep out.
        Some(rusqlite::Error::SqlInputError { error, msg, .. }) => (error, msg.clone()),
        Some(e) => return span.finish_error(e, Some("rusqlite::Error")),
    };
    let code = sqlite.extended_code.to_string();
    span.finish_database_error(XraySqlError {
        code: Some(&code),
        message: &message,
        constraint_violation: sqlite.code == rusqlite::ErrorCode::ConstraintViolation,
    });
}
