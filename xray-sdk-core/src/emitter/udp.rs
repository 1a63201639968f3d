//! The UDP emitter: documents to the daemon, from a background thread.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::{Duration, Instant};

use xray_sdk_types::Document;
use xray_sdk_types::framing::MAX_DATAGRAM_SIZE;

use super::Emitter;
use super::encode::encode;
use crate::config::Endpoint;

/// The default number of documents waiting to be sent before new ones are dropped.
pub const DEFAULT_QUEUE_CAPACITY: usize = 8192;

enum Message {
    Document(Box<Document>),
    Flush(mpsc::Sender<()>),
}

#[derive(Debug, Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    send_errors: AtomicU64,
    split: AtomicU64,
    trimmed: AtomicU64,
}

/// What a [`UdpEmitter`] has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpEmitterStats {
    /// Datagrams sent.
    pub sent: u64,
    /// Documents dropped because the queue was full (or, rarely, because they could not be encoded).
    pub dropped: u64,
    /// Datagrams the socket refused.
    pub send_errors: u64,
    /// Subsegments sent on their own because their segment was too large for one datagram.
    pub split: u64,
    /// Entities trimmed because they were too large alone.
    pub trimmed: u64,
}

/// Sends documents to the daemon over UDP, one per datagram, from a background thread. `emit` only queues:
/// it never blocks, and a full queue drops the document (counted, and logged once in a while). Send errors are
/// counted and logged, never returned. No datagram exceeds the UDP limit (see [`encode`]).
#[derive(Debug)]
pub struct UdpEmitter {
    queue: SyncSender<Message>,
    counters: Arc<Counters>,
    endpoint: Endpoint,
}

impl UdpEmitter {
    /// An emitter to `endpoint`, with the default queue capacity.
    ///
    /// # Errors
    /// When the background thread cannot be started.
    pub fn new(endpoint: Endpoint) -> std::io::Result<Self> {
        Self::with_capacity(endpoint, DEFAULT_QUEUE_CAPACITY, MAX_DATAGRAM_SIZE)
    }

    /// An emitter with an explicit queue capacity and datagram size limit (at most the UDP limit).
    ///
    /// # Errors
    /// When the background thread cannot be started.
    pub fn with_capacity(
        endpoint: Endpoint,
        capacity: usize,
        max_datagram: usize,
    ) -> std::io::Result<Self> {
        let (queue, rx) = mpsc::sync_channel(capacity.max(1));
        let counters = Arc::new(Counters::default());
        let worker = Worker {
            endpoint: endpoint.clone(),
            counters: Arc::clone(&counters),
            max_datagram: max_datagram.min(MAX_DATAGRAM_SIZE),
            target: None,
            next_resolve: Instant::now(),
        };
        std::thread::Builder::new()
            .name("xray-udp-emitter".to_owned())
            .spawn(move || worker.run(rx))?;
        Ok(UdpEmitter {
            queue,
            counters,
            endpoint,
        })
    }

    /// The daemon endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The counters so far.
    pub fn stats(&self) -> UdpEmitterStats {
        let c = &self.counters;
        UdpEmitterStats {
            sent: c.sent.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            send_errors: c.send_errors.load(Ordering::Relaxed),
            split: c.split.load(Ordering::Relaxed),
            trimmed: c.trimmed.load(Ordering::Relaxed),
        }
    }
}

impl Emitter for UdpEmitter {
    fn emit(&self, document: Document) {
        match self.queue.try_send(Message::Document(Box::new(document))) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                let n = self.counters.dropped.fetch_add(1, Ordering::Relaxed);
                if n.is_power_of_two() {
                    log::warn!(
                        "X-Ray: emitter queue full; {} documents dropped so far",
                        n + 1
                    );
                }
            }
            Err(TrySendError::Disconnected(_)) => {
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (ack, done) = mpsc::channel();
        let mut message = Message::Flush(ack);
        loop {
            match self.queue.try_send(message) {
                Ok(()) => break,
                Err(TrySendError::Full(m)) => {
                    if Instant::now() >= deadline {
                        return false;
                    }
                    message = m;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TrySendError::Disconnected(_)) => return false,
            }
        }
        done.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .is_ok()
    }
}

struct Worker {
    endpoint: Endpoint,
    counters: Arc<Counters>,
    max_datagram: usize,
    target: Option<(UdpSocket, SocketAddr)>,
    next_resolve: Instant,
}

impl Worker {
    fn run(mut self, rx: Receiver<Message>) {
        let mut buf = Vec::with_capacity(4096);
        for message in rx {
            match message {
                Message::Document(doc) => self.send(*doc, &mut buf),
                Message::Flush(ack) => {
                    let _ = ack.send(());
                }
            }
        }
    }

    /// The socket and the daemon's address, resolved and bound on first use and retried at most every few
    /// seconds after a failure.
    fn target(&mut self) -> Option<&(UdpSocket, SocketAddr)> {
        if self.target.is_none() && Instant::now() >= self.next_resolve {
            let opened = self.endpoint.resolve().and_then(|addr| {
                let bind: SocketAddr = if addr.is_ipv4() {
                    SocketAddr::from(([0, 0, 0, 0], 0))
                } else {
                    SocketAddr::from(([0u16; 8], 0))
                };
                Ok((UdpSocket::bind(bind)?, addr))
            });
            match opened {
                Ok(target) => self.target = Some(target),
                Err(e) => {
                    log::warn!("X-Ray: cannot reach the daemon at {}: {e}", self.endpoint);
                    self.next_resolve = Instant::now() + Duration::from_secs(5);
                }
            }
        }
        self.target.as_ref()
    }

    fn send(&mut self, doc: Document, buf: &mut Vec<u8>) {
        let counters = Arc::clone(&self.counters);
        let max = self.max_datagram;
        let Some((socket, addr)) = self.target() else {
            counters.send_errors.fetch_add(1, Ordering::Relaxed);
            return;
        };
        let report = encode(
            doc,
            max,
            buf,
            &mut |datagram| match socket.send_to(datagram, addr) {
                Ok(_) => {
                    counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    let n = counters.send_errors.fetch_add(1, Ordering::Relaxed);
                    if n.is_power_of_two() || n == 0 {
                        log::warn!(
                            "X-Ray: sending to the daemon at {addr} failed ({} failures so far): {e}",
                            n + 1
                        );
                    }
                }
            },
        );
        counters
            .split
            .fetch_add(report.split as u64, Ordering::Relaxed);
        counters
            .trimmed
            .fetch_add(report.trimmed as u64, Ordering::Relaxed);
        counters
            .dropped
            .fetch_add(report.dropped as u64, Ordering::Relaxed);
    }
}
