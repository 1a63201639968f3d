//! The trace store: an SQLite database of documents, trace summaries and annotations.
//!
//! One writer thread ([`writer`]) inserts batches in transactions; the API reads through [`Store`]'s query
//! methods ([`query`]). A file store runs in WAL mode with [`READERS`] reader connections of its own, so that
//! reads wait neither for the writer nor for one another's slow queries; an in-memory store shares one connection.

pub mod query;
pub mod retention;
mod schema;
pub mod writer;

use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::{Connection, OpenFlags};

use crate::config::StoreLocation;
use crate::error::Error;

pub use query::{TraceFilter, TraceStatus, TraceSummary};

/// How many read connections a file store opens: as many queries run at once.
pub const READERS: usize = 4;

/// A handle on the trace store, cheap to clone.
#[derive(Clone)]
pub struct Store {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<[Mutex<Connection>]>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
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
                // One connection: a private in-memory database has no other.
                let conn = Arc::new(Mutex::new(conn));
                Ok(Store {
                    writer: conn.clone(),
                    readers: Arc::from(Vec::new()),
                    next_reader: Arc::default(),
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
                let mut readers = Vec::with_capacity(READERS);
                for _ in 0..READERS {
                    let reader = Connection::open_with_flags(
                        path,
                        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
                    )?;
                    reader.busy_timeout(std::time::Duration::from_secs(5))?;
                    readers.push(Mutex::new(reader));
                }
                Ok(Store {
                    writer: Arc::new(Mutex::new(writer)),
                    readers: Arc::from(readers),
                    next_reader: Arc::default(),
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

    /// A read connection: a free one if any, else the next in turn (waiting for it). The in-memory store's only
    /// connection otherwise.
    pub(crate) fn reader(&self) -> MutexGuard<'_, Connection> {
        if self.readers.is_empty() {
            return self.writer();
        }
        for reader in self.readers.iter() {
            match reader.try_lock() {
                Ok(guard) => return guard,
                Err(std::sync::TryLockError::Poisoned(e)) => return e.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let turn = self
            .next_reader
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            % self.readers.len();
        self.readers[turn]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query holding a read connection (a slow one) does not hold the others up.
    #[test]
    fn a_busy_reader_does_not_hold_up_other_queries() {
        let dir = std::env::temp_dir().join(format!("xray-readers-{}", std::process::id()));
        let store = Store::open(&StoreLocation::File(dir.join("t.sqlite3"))).unwrap();
        let busy: Vec<MutexGuard<'_, Connection>> =
            (0..READERS - 1).map(|_| store.reader()).collect();
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| {
                let counts = store.counts().unwrap();
                done_tx.send(counts).unwrap();
            });
            // Generous: a safety net against a hang, not a bound on speed.
            let counts = done_rx
                .recv_timeout(std::time::Duration::from_secs(60))
                .expect("the query waited for the busy readers");
            assert_eq!(counts, query::StoreCounts::default());
            drop(busy);
        });
        std::fs::remove_dir_all(dir).unwrap();
    }
}
