//! Emitters: where finished documents go.
//!
//! [`UdpEmitter`] sends them to the daemon from a background thread, so that recording never waits on I/O; its
//! queue is bounded, and what does not fit is counted and dropped. [`encode`] turns a document into datagrams
//! that never exceed the UDP limit. `DirectUdpEmitter` sends from the emitting thread, for frozen
//! environments such as AWS Lambda. `MemoryEmitter` (feature `test-util`) keeps documents for tests.

#[cfg(feature = "udp-emitter")]
mod direct;
pub mod encode;
#[cfg(any(test, feature = "test-util"))]
mod memory;
pub(crate) mod reuse;
#[cfg(feature = "udp-emitter")]
mod udp;

#[cfg(feature = "udp-emitter")]
pub use direct::DirectUdpEmitter;
#[cfg(any(test, feature = "test-util"))]
pub use memory::MemoryEmitter;
#[cfg(feature = "udp-emitter")]
pub use udp::{UdpEmitter, UdpEmitterStats};

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use xray_sdk_types::Document;

/// Receives finished segments and independent subsegments. Called on the request path: implementations must
/// not block, must not panic, and must not surface failures to the caller (count and log them instead).
pub trait Emitter: Send + Sync + fmt::Debug + 'static {
    /// Takes one document to send, in its box (documents are large: they move as pointers).
    fn emit(&self, document: Box<Document>);

    /// Waits until every document emitted so far has been sent, or `timeout` passes. Returns whether
    /// everything was sent. For frozen environments such as Lambda, and for orderly shutdown.
    fn flush(&self, timeout: Duration) -> bool {
        let _ = timeout;
        true
    }
}

/// A shared emitter.
pub type SharedEmitter = Arc<dyn Emitter>;

/// An emitter that drops everything: what a disabled SDK uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopEmitter;

impl Emitter for NoopEmitter {
    fn emit(&self, _: Box<Document>) {}
}
