//! The direct UDP emitter: documents to the daemon, sent by the thread that finished them.

use std::cell::RefCell;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use xray_sdk_types::Document;
use xray_sdk_types::framing::MAX_DATAGRAM_SIZE;

use super::encode::encode;
use super::{Emitter, UdpEmitterStats};
use crate::config::Endpoint;

/// Sends documents to the daemon over UDP from the thread that emits them, with no thread of its own: when
/// `emit` returns, every datagram of the document is in the socket (on loopback, or in a Lambda sandbox, in the
/// daemon's receive buffer). This is the emitter for environments frozen between requests, such as AWS Lambda,
/// where a background thread that has not run yet when the process is frozen loses what it holds, and where
/// no thread may outlive a request's work.
///
/// A UDP send does not wait for the receiver; the socket is non-blocking, and a send the kernel refuses is
/// counted and logged, never returned. No datagram exceeds the UDP limit (see [`encode`]).
#[derive(Debug)]
pub struct DirectUdpEmitter {
    socket: UdpSocket,
    endpoint: Endpoint,
    /// The daemon's address, resolved on first use (and again after a failure).
    target: Mutex<Option<SocketAddr>>,
    max_datagram: usize,
    sent: AtomicU64,
    dropped: AtomicU64,
    send_errors: AtomicU64,
    split: AtomicU64,
    trimmed: AtomicU64,
}

thread_local! {
    /// Scratch space for encoding, reused by each thread that emits.
    static SCRATCH: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(4096));
}

impl DirectUdpEmitter {
    /// An emitter to `endpoint`.
    ///
    /// # Errors
    /// When no local UDP socket can be opened.
    pub fn new(endpoint: Endpoint) -> std::io::Result<Self> {
        // The family of the socket follows the daemon's: an IPv6-only host name falls back to an IPv6 socket.
        let ipv6 = endpoint.host.contains(':');
        let bind: SocketAddr = if ipv6 {
            SocketAddr::from(([0u16; 8], 0))
        } else {
            SocketAddr::from(([0, 0, 0, 0], 0))
        };
        let socket = UdpSocket::bind(bind)?;
        socket.set_nonblocking(true)?;
        Ok(DirectUdpEmitter {
            socket,
            endpoint,
            target: Mutex::new(None),
            max_datagram: MAX_DATAGRAM_SIZE,
            sent: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            send_errors: AtomicU64::new(0),
            split: AtomicU64::new(0),
            trimmed: AtomicU64::new(0),
        })
    }

    /// The daemon endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The counters so far (`dropped` counts documents that could not be encoded).
    pub fn stats(&self) -> UdpEmitterStats {
        UdpEmitterStats {
            sent: self.sent.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            split: self.split.load(Ordering::Relaxed),
            trimmed: self.trimmed.load(Ordering::Relaxed),
        }
    }

    fn target(&self) -> Option<SocketAddr> {
        let mut target = self.target.lock().unwrap_or_else(|e| e.into_inner());
        if target.is_none() {
            match self.endpoint.resolve() {
                Ok(addr) => *target = Some(addr),
                Err(e) => log::warn!("X-Ray: cannot reach the daemon at {}: {e}", self.endpoint),
            }
        }
        *target
    }

    fn send(&self, target: Option<SocketAddr>, datagram: &[u8]) {
        let result = match target {
            Some(addr) => self.socket.send_to(datagram, addr).map(|_| ()),
            None => Err(std::io::ErrorKind::AddrNotAvailable.into()),
        };
        match result {
            Ok(()) => {
                self.sent.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                let n = self.send_errors.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() || n == 0 {
                    log::warn!(
                        "X-Ray: sending to the daemon at {} failed ({} failures so far): {e}",
                        self.endpoint,
                        n + 1
                    );
                }
            }
        }
    }
}

impl Emitter for DirectUdpEmitter {
    fn emit(&self, document: Box<Document>) {
        let target = self.target();
        let mut send = |datagram: &[u8]| self.send(target, datagram);
        let mut document = Some(document);
        let report = SCRATCH
            .try_with(|scratch| {
                let doc = document.take()?;
                Some(match scratch.try_borrow_mut() {
                    Ok(mut buf) => encode(doc, self.max_datagram, &mut buf, &mut send),
                    Err(_) => encode(doc, self.max_datagram, &mut Vec::new(), &mut send),
                })
            })
            .ok()
            .flatten()
            .or_else(|| {
                let doc = document.take()?;
                Some(encode(doc, self.max_datagram, &mut Vec::new(), &mut send))
            })
            .unwrap_or_default();
        self.split.fetch_add(report.split as u64, Ordering::Relaxed);
        self.trimmed
            .fetch_add(report.trimmed as u64, Ordering::Relaxed);
        self.dropped
            .fetch_add(report.dropped as u64, Ordering::Relaxed);
    }

    /// Nothing waits: every datagram left when `emit` returned.
    fn flush(&self, _timeout: std::time::Duration) -> bool {
        true
    }
}
