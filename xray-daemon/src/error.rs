//! The daemon's errors.

use std::net::SocketAddr;

/// Why the daemon could not start or stop cleanly.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A socket could not be bound.
    #[error("cannot listen on {address}: {source}")]
    Bind {
        /// The address asked for.
        address: SocketAddr,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// Other socket or thread I/O failed.
    #[error("{context}: {source}")]
    Io {
        /// What the daemon was doing.
        context: &'static str,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The store could not be opened or written.
    #[error("trace store: {0}")]
    Store(#[from] rusqlite::Error),
    /// The file is an SQLite database, but not a trace store this daemon can use: another program's, a newer
    /// version's, or one whose tables conflict with the store's. The daemon leaves it untouched.
    #[error("{path} is not a trace store of this daemon: {reason}; choose another file with --db")]
    ForeignStore {
        /// The file.
        path: std::path::PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// The store's folder could not be created.
    #[error("cannot create the store folder {path}: {source}")]
    StoreFolder {
        /// The folder.
        path: std::path::PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The sampling rules file could not be read, or is not a valid rules file (the message names the file).
    #[error("{0}")]
    SamplingRules(#[from] xray_sdk_types::sampling::LocalRulesFileError),
    /// Forwarding to AWS X-Ray cannot be set up (the message says why).
    #[error("{0}")]
    Forward(String),
    /// A worker thread ended abnormally.
    #[error("the {0} thread panicked")]
    ThreadPanicked(&'static str),
}
