//! The trace store: an SQLite database of documents, trace summaries and annotations.
//!
//! One writer thread ([`writer`]) inserts batches in transactions; the API reads through [`Store`]'s query
//! methods ([`query`]). A file store runs in WAL mode with [`READERS`] reader connections of its own, so that
//! reads wait neither for the writer nor for one another's slow queries; an in-memory store shares one connection.
//!
//! Every read runs within a time limit ([`Store::set_query_timeout`], [`DEFAULT_QUERY_TIMEOUT`] by default): past
//! it, SQLite's progress handler interrupts the query, which fails with `SQLITE_INTERRUPT`
//! ([`is_timeout`] tells it apart) and leaves the connection ready for the next one.

pub mod query;
pub mod retention;
mod schema;
pub mod writer;

use std::ops::Deref;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OpenFlags};

use crate::config::StoreLocation;
use crate::error::Error;

pub use query::{TraceFilter, TraceStatus, TraceSummary};

/// How many read connections a file store opens: as many queries run at once.
pub const READERS: usize = 4;

/// How long a read query may run unless [`Store::set_query_timeout`] says otherwise.
pub const DEFAULT_QUERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How many SQLite virtual machine steps run between two checks of a query's deadline.
const PROGRESS_STEPS: i32 = 100;

/// Whether `e` is a query stopped at its time limit.
pub fn is_timeout(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::OperationInterrupted)
}

/// When the query running on one connection must stop: nanoseconds since `epoch`, 0 for no query running.
#[derive(Debug)]
struct Deadline {
    epoch: Instant,
    at: AtomicU64,
}

impl Deadline {
    fn nanos_since_epoch(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    fn passed(&self) -> bool {
        let at = self.at.load(Ordering::Relaxed);
        at != 0 && self.nanos_since_epoch() >= at
    }
}

/// A connection and the deadline its progress handler checks.
struct Limited {
    conn: Mutex<Connection>,
    deadline: Arc<Deadline>,
}

impl Limited {
    /// Installs the progress handler that interrupts a query past its deadline.
    fn new(mut conn: Connection) -> rusqlite::Result<Limited> {
        let deadline = Arc::new(Deadline {
            epoch: Instant::now(),
            at: AtomicU64::new(0),
        });
        let watched = deadline.clone();
        conn.progress_handler(PROGRESS_STEPS, Some(move || watched.passed()))?;
        Ok(Limited {
            conn: Mutex::new(conn),
            deadline,
        })
    }
}

/// A read connection held for one query, which must end before the store's time limit (see
/// [`Store::set_query_timeout`]).
pub(crate) struct ReadConnection<'a> {
    conn: MutexGuard<'a, Connection>,
    deadline: &'a Deadline,
}

impl Deref for ReadConnection<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.conn
    }
}

impl Drop for ReadConnection<'_> {
    fn drop(&mut self) {
        self.deadline.at.store(0, Ordering::Relaxed);
    }
}

/// A handle on the trace store, cheap to clone.
#[derive(Clone)]
pub struct Store {
    /// The writer's connection; in memory, also the only reader (its deadline armed only while read).
    writer: Arc<Limited>,
    readers: Arc<[Limited]>,
    next_reader: Arc<std::sync::atomic::AtomicUsize>,
    /// The time limit of a read query, nanoseconds.
    query_timeout: Arc<AtomicU64>,
    location: StoreLocation,
}

/// The store's writer held back: see [`Store::pause_writes`].
#[must_use = "writes resume when this is dropped"]
pub struct WritesPaused<'a> {
    _writer: MutexGuard<'a, Connection>,
}

fn nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX).max(1)
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
                Ok(Store {
                    writer: Arc::new(Limited::new(conn)?),
                    readers: Arc::from(Vec::new()),
                    next_reader: Arc::default(),
                    query_timeout: Arc::new(AtomicU64::new(nanos(DEFAULT_QUERY_TIMEOUT))),
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
                    readers.push(Limited::new(reader)?);
                }
                Ok(Store {
                    writer: Arc::new(Limited::new(writer)?),
                    readers: Arc::from(readers),
                    next_reader: Arc::default(),
                    query_timeout: Arc::new(AtomicU64::new(nanos(DEFAULT_QUERY_TIMEOUT))),
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

    /// Sets how long a read query may run: past it, the query stops and fails ([`is_timeout`]). For every
    /// clone of this store, from the next query on.
    pub fn set_query_timeout(&self, timeout: Duration) {
        self.query_timeout.store(nanos(timeout), Ordering::Relaxed);
    }

    /// How long a read query may run.
    pub fn query_timeout(&self) -> Duration {
        Duration::from_nanos(self.query_timeout.load(Ordering::Relaxed))
    }

    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        self.writer
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// A read connection: a free one if any, else the next in turn (waiting for it). The in-memory store's only
    /// connection otherwise. Its time limit runs from now until it is dropped.
    pub(crate) fn reader(&self) -> ReadConnection<'_> {
        let (conn, limited) = self.lock_reader();
        let deadline = &limited.deadline;
        let at = deadline
            .nanos_since_epoch()
            .saturating_add(self.query_timeout.load(Ordering::Relaxed))
            .max(1);
        deadline.at.store(at, Ordering::Relaxed);
        ReadConnection { conn, deadline }
    }

    fn lock_reader(&self) -> (MutexGuard<'_, Connection>, &Limited) {
        if self.readers.is_empty() {
            return (self.writer(), &self.writer);
        }
        for reader in self.readers.iter() {
            match reader.conn.try_lock() {
                Ok(guard) => return (guard, reader),
                Err(std::sync::TryLockError::Poisoned(e)) => return (e.into_inner(), reader),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        let turn = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        let reader = &self.readers[turn];
        let guard = reader
            .conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        (guard, reader)
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
        let busy: Vec<ReadConnection<'_>> = (0..READERS - 1).map(|_| store.reader()).collect();
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
