//! The errors the recorder returns.

use crate::config::{DaemonAddressError, UnknownStrategy};

/// An error from the recorder. At run time only [`Error::ContextMissing`] is ever returned, and only under the
/// `RUNTIME_ERROR` strategy; everything else is reported once, at configuration time.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// There is no current segment or subsegment (returned only under [`ContextMissing::RuntimeError`]).
    ///
    /// [`ContextMissing::RuntimeError`]: crate::config::ContextMissing::RuntimeError
    #[error(
        "cannot find the current segment or subsegment; begin a segment first, or run this code inside one"
    )]
    ContextMissing,
    /// A malformed daemon address, in code or in `AWS_XRAY_DAEMON_ADDRESS`.
    #[error("{source} (from {origin})")]
    DaemonAddress {
        /// What is wrong.
        source: Box<DaemonAddressError>,
        /// Where the value came from: the environment variable or the builder.
        origin: &'static str,
    },
    /// An unknown `context_missing` strategy given in code.
    #[error(transparent)]
    ContextMissingStrategy(#[from] Box<UnknownStrategy>),
    /// The UDP emitter could not open its socket.
    #[error("cannot open the UDP socket for the emitter: {0}")]
    Socket(#[source] std::io::Error),
    /// A configuration value that is out of range or malformed.
    #[error("invalid configuration: {0}")]
    Config(Box<str>),
}
