//! The trace store: an SQLite database of documents, trace summaries and annotations.
//!
//! One writer thread ([`writer`]) inserts batches in transactions; the API reads through [`Store`]'s query
//! methods ([`query`]). A file store runs in WAL mode with its own reader connection, so that reads do not wait
//! for the writer; an in-memory store shares one connection.

pub mod query;
pub mod retention;
mod schema;
pub mod writer;

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::config::StoreLocation;
use crate::error::Error;

pub use query::{TraceFilter, TraceStatus, TraceSummary};

/// A handle on the trace store, cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: Arc<Mutex<Connection>>,
    reader: Arc<Mutex<Connection>>,
    location: StoreLocation,
}

/// The store's writer held back: see [`Store::pause_writes`].
#[must_use = "writes resume when this is dropped"]
pub struct WritesPaused<'a> {
    _writer: MutexGuard<'a, Connection>,
}

impl std::fmt::Debug for WritesPaused<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WritesPaused").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("location", &self.location)
            .finish_non_exhaustive()
    }
}

/// Opens a private database in memory, through SQLite's `memdb` VFS.
///
/// Not `:memory:`: SQLite keeps a `:memory:` database in its page cache and, at every commit, walks the whole
/// cache (the whole database) to drop pages past its end, which made each commit cost in proportion to the
/// traces held. Through `memdb`, the database is a growable buffer behind an ordinary, bounded page cache.
fn open_memory() -> rusqlite::Result<Connection> {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Without a leading `/` the name is private to this connection.
    let uri = format!("file:xray-memory-{}-{n}?vfs=memdb", std::process::id());
    Connection::open_with_flags(
        uri,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
}

fn open_error(e: schema::OpenError, location: &StoreLocation) -> Error {
    match (e, location) {
        (schema::OpenError::Foreign(reason), StoreLocation::File(path)) => Error::ForeignStore {
            path: path.clone(),
            reason,
        },
        (schema::OpenError::Foreign(reason), StoreLocation::Memory) => Error::ForeignStore {
            path: ":memory:".into(),
            reason,
        },
        (schema::OpenError::Sqlite(e), _) => Error::Store(e),
    }
}

impl Store {
    /// Opens (creating if needed) the store at `location`.
    ///
    /// # Errors
    /// [`Error::StoreFolder`] when the file's folder cannot be created, [`Error::ForeignStore`] when the file is
    /// another program's database, a newer store, or has conflicting tables (it is left untouched),
    /// [`Error::Store`] when SQLite cannot open or set up the database (for example a file that is not an SQLite
    /// database).
    pub fn open(location: &StoreLocation) -> Result<Store, Error> {
        match location {
            StoreLocation::Memory => {
                let conn = open_memory()?;
                schema::create(&conn, false).map_err(|e| open_error(e, location))?;
                let conn = Arc::new(Mutex::new(conn));
                Ok(Store {
                    writer: conn.clone(),
                    reader: conn,
                    location: location.clone(),
                })
            }
            StoreLocation::File(path) => {
                if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
                    std::fs::create_dir_all(parent).map_err(|source| Error::StoreFolder {
                        path: parent.to_owned(),
                        source,
                    })?;
                }
                let writer = Connection::open(path)?;
                schema::create(&writer, true).map_err(|e| open_error(e, location))?;
                let reader = Connection::open_with_flags(
                    path,
                    OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                )?;
                reader.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(Store {
                    writer: Arc::new(Mutex::new(writer)),
                    reader: Arc::new(Mutex::new(reader)),
                    location: location.clone(),
                })
            }
        }
    }

    /// Where the store lives.
    pub fn location(&self) -> &StoreLocation {
        &self.location
    }

    /// Holds the store's writer back until the returned guard is dropped: what arrives meanwhile waits in the
    /// ingest queue (within its budget, dropped and counted past it). For a consistent copy of the file, and for
    /// tests of a slow store. With an in-memory store, queries wait too (it has a single connection).
    pub fn pause_writes(&self) -> WritesPaused<'_> {
        WritesPaused {
            _writer: self.writer(),
        }
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
