//! The errors of the recorder: one for building it, one for calls made without a current segment.

use crate::config::DaemonAddressError;
use xray_sdk_types::sampling::LocalRulesFileError;

/// There is no current segment or subsegment. Returned by the recorder's calls only under the
/// [`RUNTIME_ERROR`](crate::config::ContextMissing::RuntimeError) strategy; the other strategies log it, or
/// not, and go on without recording.
///
/// ```
/// use xray_sdk_core::{ContextMissingError, Recorder, config::ContextMissing};
/// # use xray_sdk_core::emitter::MemoryEmitter;
///
/// let recorder = Recorder::builder()
///     .context_missing(ContextMissing::RuntimeError)
/// #   .emitter(MemoryEmitter::new())
///     .build()?;
/// assert_eq!(recorder.begin_subsegment("orphan").err(), Some(ContextMissingError));
/// # Ok::<(), xray_sdk_core::BuildError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot find the current segment or subsegment; begin a segment first, or run this code inside one"
)]
pub struct ContextMissingError;

/// Why a recorder could not be built. Every problem of configuration is reported here, once, rather than at
/// run time.
///
/// ```
/// use xray_sdk_core::{BuildError, Recorder};
///
/// let error = Recorder::builder().daemon_address("not an address").build().unwrap_err();
/// assert!(matches!(error, BuildError::DaemonAddress { .. }));
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// A malformed daemon address, in code or in `AWS_XRAY_DAEMON_ADDRESS`.
    #[error("{source} (from {origin})")]
    DaemonAddress {
        /// What is wrong.
        source: Box<DaemonAddressError>,
        /// Where the value came from: the environment variable or the builder.
        origin: &'static str,
    },
    /// The local sampling rules file cannot be read or is malformed.
    #[error(transparent)]
    RulesFile(#[from] Box<LocalRulesFileError>),
    /// The UDP emitter could not open its socket.
    #[error("cannot open the UDP socket for the emitter: {0}")]
    Socket(#[source] std::io::Error),
    /// A background thread (the UDP emitter's sender, the sampling poller) could not be started.
    #[error("cannot start the {what} thread: {source}")]
    ThreadSpawn {
        /// Which thread.
        what: &'static str,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Dynamic naming was asked for without a service name to fall back on.
    #[error("dynamic naming needs a service name for hosts that do not match")]
    DynamicNamingWithoutName,
    /// No emitter was given, and the UDP emitter is not compiled in (cargo feature `udp-emitter`).
    #[error("no emitter: give one to the builder, or turn on the `udp-emitter` feature")]
    NoEmitter,
}
