//! rusqlite: [`XraySqliteConnection`], a connection whose statements are traced, with its prepared statements
//! ([`XraySqliteStatement`]) and transactions ([`XraySqliteTransaction`]).
//!
//! ```
//! # fn run() -> rusqlite::Result<()> {
//! use xray_sdk_sql::rusqlite::XraySqliteConnection;
//!
//! let mut conn = XraySqliteConnection::open_in_memory()?;
//! conn.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")?;
//! conn.execute("INSERT INTO t (name) VALUES (?1)", ["ada"])?;
//! let name: String = conn.query_row("SELECT name FROM t WHERE id = ?1", [1], |row| row.get(0))?;
//!
//! let tx = conn.transaction()?; // BEGIN, each statement and COMMIT: a subsegment each
//! let mut insert = tx.prepare("INSERT INTO t (name) VALUES (?1)")?;
//! for name in ["grace", "edsger"] {
//!     insert.execute([name])?; // one subsegment per run
//! }
//! drop(insert);
//! tx.commit()?;
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
        execute(&self.conn, &self.tracer, sql, params)
    }

    /// [`Connection::execute_batch`] (statements without parameters), in one subsegment.
    ///
    /// # Errors
    /// The error of [`Connection::execute_batch`].
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        execute_batch(&self.conn, &self.tracer, sql)
    }

    /// [`Connection::query_row`], in a subsegment.
    ///
    /// # Errors
    /// The error of [`Connection::query_row`] (no row is an error there, not in the trace).
    pub fn query_row<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        query_row(&self.conn, &self.tracer, sql, params, f)
    }

    /// Every row of `sql`, each mapped by `f`, in a subsegment (a prepared statement's `query_map`, collected).
    ///
    /// # Errors
    /// The first error preparing the statement, running it, or mapping a row.
    pub fn query_map<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        query_map(&self.conn, &self.tracer, sql, params, f)
    }

    /// [`Connection::prepare`]: a statement whose every run is a subsegment. Preparing is not recorded, unless
    /// it fails (a syntax error is then a subsegment of its own, with the error).
    ///
    /// # Errors
    /// The error of [`Connection::prepare`].
    pub fn prepare(&self, sql: &str) -> rusqlite::Result<XraySqliteStatement<'_>> {
        prepare(&self.conn, &self.tracer, sql)
    }

    /// [`Connection::transaction`] (`BEGIN DEFERRED`): `BEGIN`, every statement run in it, and `COMMIT` or
    /// `ROLLBACK` are subsegments.
    ///
    /// # Errors
    /// The error of [`Connection::transaction`].
    pub fn transaction(&mut self) -> rusqlite::Result<XraySqliteTransaction<'_>> {
        let span = self.tracer.begin("BEGIN DEFERRED");
        let result = self.conn.transaction();
        finish(span, result.as_ref().err());
        Ok(XraySqliteTransaction {
            tx: result?,
            tracer: &self.tracer,
        })
    }
}

/// A transaction of an [`XraySqliteConnection`]: its statements are traced as the connection's are, and so are
/// [`commit`](Self::commit) and [`rollback`](Self::rollback). Dropped without either, it rolls back as rusqlite's
/// does, without a subsegment.
#[derive(Debug)]
pub struct XraySqliteTransaction<'conn> {
    tx: rusqlite::Transaction<'conn>,
    tracer: &'conn Tracer,
}

impl<'conn> XraySqliteTransaction<'conn> {
    /// [`XraySqliteConnection::execute`], in this transaction.
    ///
    /// # Errors
    /// The error of [`Connection::execute`].
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        execute(&self.tx, self.tracer, sql, params)
    }

    /// [`XraySqliteConnection::execute_batch`], in this transaction.
    ///
    /// # Errors
    /// The error of [`Connection::execute_batch`].
    pub fn execute_batch(&self, sql: &str) -> rusqlite::Result<()> {
        execute_batch(&self.tx, self.tracer, sql)
    }

    /// [`XraySqliteConnection::query_row`], in this transaction.
    ///
    /// # Errors
    /// The error of [`Connection::query_row`].
    pub fn query_row<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        query_row(&self.tx, self.tracer, sql, params, f)
    }

    /// [`XraySqliteConnection::query_map`], in this transaction.
    ///
    /// # Errors
    /// The first error preparing the statement, running it, or mapping a row.
    pub fn query_map<T, P: Params, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        query_map(&self.tx, self.tracer, sql, params, f)
    }

    /// [`XraySqliteConnection::prepare`], in this transaction.
    ///
    /// # Errors
    /// The error of [`Connection::prepare`].
    pub fn prepare(&self, sql: &str) -> rusqlite::Result<XraySqliteStatement<'_>> {
        prepare(&self.tx, self.tracer, sql)
    }

    /// The transaction, for what is not traced.
    pub fn transaction(&self) -> &rusqlite::Transaction<'conn> {
        &self.tx
    }

    /// `COMMIT`, in a subsegment.
    ///
    /// # Errors
    /// The error of [`rusqlite::Transaction::commit`].
    pub fn commit(self) -> rusqlite::Result<()> {
        let span = self.tracer.begin("COMMIT");
        let result = self.tx.commit();
        finish(span, result.as_ref().err());
        result
    }

    /// `ROLLBACK`, in a subsegment.
    ///
    /// # Errors
    /// The error of [`rusqlite::Transaction::rollback`].
    pub fn rollback(self) -> rusqlite::Result<()> {
        let span = self.tracer.begin("ROLLBACK");
        let result = self.tx.rollback();
        finish(span, result.as_ref().err());
        result
    }
}

/// A prepared statement of an [`XraySqliteConnection`] or [`XraySqliteTransaction`]: each run is a subsegment
/// with the statement's text.
#[derive(Debug)]
pub struct XraySqliteStatement<'conn> {
    statement: rusqlite::Statement<'conn>,
    sql: String,
    tracer: &'conn Tracer,
}

impl<'conn> XraySqliteStatement<'conn> {
    /// [`rusqlite::Statement::execute`], in a subsegment.
    ///
    /// # Errors
    /// The error of [`rusqlite::Statement::execute`].
    pub fn execute<P: Params>(&mut self, params: P) -> rusqlite::Result<usize> {
        let span = self.tracer.begin(&self.sql);
        let result = self.statement.execute(params);
        finish(span, result.as_ref().err());
        result
    }

    /// [`rusqlite::Statement::query_row`], in a subsegment.
    ///
    /// # Errors
    /// The error of [`rusqlite::Statement::query_row`] (no row is an error there, not in the trace).
    pub fn query_row<T, P: Params, F>(&mut self, params: P, f: F) -> rusqlite::Result<T>
    where
        F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    {
        let span = self.tracer.begin(&self.sql);
        let result = self.statement.query_row(params, f);
        finish(span, result.as_ref().err());
        result
    }

    /// Every row, each mapped by `f` ([`rusqlite::Statement::query_map`], collected), in a subsegment.
    ///
    /// # Errors
    /// The first error running the statement or mapping a row.
    pub fn query_map<T, P: Params, F>(&mut self, params: P, f: F) -> rusqlite::Result<Vec<T>>
    where
        F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
    {
        let span = self.tracer.begin(&self.sql);
        let result = self
            .statement
            .query_map(params, f)
            .and_then(|rows| rows.collect());
        finish(span, result.as_ref().err());
        result
    }

    /// The statement, for what is not traced.
    pub fn statement(&mut self) -> &mut rusqlite::Statement<'conn> {
        &mut self.statement
    }
}

fn execute<P: Params>(
    conn: &Connection,
    tracer: &Tracer,
    sql: &str,
    params: P,
) -> rusqlite::Result<usize> {
    let span = tracer.begin(sql);
    let result = conn.execute(sql, params);
    finish(span, result.as_ref().err());
    result
}

fn execute_batch(conn: &Connection, tracer: &Tracer, sql: &str) -> rusqlite::Result<()> {
    let span = tracer.begin(sql);
    let result = conn.execute_batch(sql);
    finish(span, result.as_ref().err());
    result
}

fn query_row<T, P: Params, F>(
    conn: &Connection,
    tracer: &Tracer,
    sql: &str,
    params: P,
    f: F,
) -> rusqlite::Result<T>
where
    F: FnOnce(&Row<'_>) -> rusqlite::Result<T>,
{
    let span = tracer.begin(sql);
    let result = conn.query_row(sql, params, f);
    finish(span, result.as_ref().err());
    result
}

fn query_map<T, P: Params, F>(
    conn: &Connection,
    tracer: &Tracer,
    sql: &str,
    params: P,
    f: F,
) -> rusqlite::Result<Vec<T>>
where
    F: FnMut(&Row<'_>) -> rusqlite::Result<T>,
{
    let span = tracer.begin(sql);
    let result = conn
        .prepare(sql)
        .and_then(|mut statement| statement.query_map(params, f)?.collect());
    finish(span, result.as_ref().err());
    result
}

fn prepare<'conn>(
    conn: &'conn Connection,
    tracer: &'conn Tracer,
    sql: &str,
) -> rusqlite::Result<XraySqliteStatement<'conn>> {
    match conn.prepare(sql) {
        Ok(statement) => Ok(XraySqliteStatement {
            statement,
            sql: sql.to_owned(),
            tracer,
        }),
        Err(e) => {
            finish(tracer.begin(sql), Some(&e));
            Err(e)
        }
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
