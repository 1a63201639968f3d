//! Counters of what the daemon received, stored and rejected.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use crate::forward::{ForwardSnapshot, ForwardStats};
use crate::ingest::budget::QueueBudget;

/// Live counters, shared by the ingest threads and the API. Cheap to update.
#[derive(Debug)]
pub struct Stats {
    queue: QueueBudget,
    received: AtomicU64,
    received_bytes: AtomicU64,
    stored: AtomicU64,
    not_stored: AtomicU64,
    dropped: AtomicU64,
    store_errors: AtomicU64,
    invalid: Mutex<BTreeMap<&'static str, u64>>,
    forward: Option<Arc<ForwardStats>>,
}

/// A copy of the counters at one moment, as `GET /api/stats` returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct StatsSnapshot {
    /// Datagrams received on the UDP socket.
    pub received: u64,
    /// Bytes received on the UDP socket.
    pub received_bytes: u64,
    /// Valid documents written to the store.
    pub stored: u64,
    /// Valid documents not stored because the daemon keeps none (`--no-store`): forwarded only. Every datagram
    /// received is counted once: `received = stored + not_stored + invalid_total + dropped + store_errors` once
    /// the queue is empty.
    #[serde(default)]
    pub not_stored: u64,
    /// Invalid datagrams and documents, by reason code (see [`xray_sdk_types::validate::Reason::code`]; framing
    /// problems are `missing_header`, `invalid_header`, `empty_document` and `datagram_too_large`).
    pub invalid: BTreeMap<String, u64>,
    /// The sum of `invalid`.
    pub invalid_total: u64,
    /// Datagrams dropped because the queue to the store was full.
    pub dropped: u64,
    /// Documents the store failed to write.
    pub store_errors: u64,
    /// Bytes charged to the ingest queue now (see [`crate::ingest::budget`]).
    pub queued_bytes: u64,
    /// The most bytes ever charged to the ingest queue at once; never more than its budget.
    pub queued_peak_bytes: u64,
    /// Forwarding to AWS X-Ray, when on.
    pub forward: Option<ForwardSnapshot>,
}

impl Stats {
    /// Counters at zero, with an ingest queue budget of `max_queued_bytes`.
    pub fn new(max_queued_bytes: usize) -> Stats {
        Stats {
            queue: QueueBudget::new(max_queued_bytes),
            received: AtomicU64::default(),
            received_bytes: AtomicU64::default(),
            stored: AtomicU64::default(),
            not_stored: AtomicU64::default(),
            dropped: AtomicU64::default(),
            store_errors: AtomicU64::default(),
            invalid: Mutex::default(),
            forward: None,
        }
    }

    /// These counters, with forwarding's.
    pub fn with_forward(mut self, forward: Arc<ForwardStats>) -> Stats {
        self.forward = Some(forward);
        self
    }

    /// The ingest queue's budget.
    pub fn queue(&self) -> &QueueBudget {
        &self.queue
    }

    /// Counts one received datagram of `bytes` bytes.
    pub fn add_received(&self, bytes: usize) {
        self.received.fetch_add(1, Ordering::Relaxed);
        self.received_bytes
            .fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Counts `n` stored documents.
    pub fn add_stored(&self, n: u64) {
        self.stored.fetch_add(n, Ordering::Release);
    }

    /// Counts `n` valid documents passed on without being stored (`--no-store`).
    pub fn add_not_stored(&self, n: u64) {
        self.not_stored.fetch_add(n, Ordering::Release);
    }

    /// Counts one dropped datagram.
    pub fn add_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Release);
    }

    /// Counts `n` documents the store failed to write.
    pub fn add_store_errors(&self, n: u64) {
        self.store_errors.fetch_add(n, Ordering::Release);
    }

    /// Counts one invalid document with its reason code.
    pub fn add_invalid(&self, code: &'static str) {
        let mut invalid = self
            .invalid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *invalid.entry(code).or_insert(0) += 1;
    }

    /// A copy of the counters.
    ///
    /// The outcomes are read first (each published with `Release`, read with `Acquire`) and `received` last, so
    /// that a copy taken while datagrams flow shows no outcome of a datagram it does not count received, but one:
    /// `stored + not_stored + invalid_total + dropped + store_errors ≤ received + 1`, the difference being what is
    /// queued. The receive loop counts a datagram once it is queued, so that a flush asked for after seeing the
    /// count covers it, and the datagram may be processed before that.
    pub fn snapshot(&self) -> StatsSnapshot {
        let stored = self.stored.load(Ordering::Acquire);
        let not_stored = self.not_stored.load(Ordering::Acquire);
        let dropped = self.dropped.load(Ordering::Acquire);
        let store_errors = self.store_errors.load(Ordering::Acquire);
        let invalid: BTreeMap<String, u64> = self
            .invalid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        StatsSnapshot {
            received: self.received.load(Ordering::Acquire),
            received_bytes: self.received_bytes.load(Ordering::Relaxed),
            stored,
            not_stored,
            invalid_total: invalid.values().sum(),
            invalid,
            dropped,
            store_errors,
            queued_bytes: self.queue.used() as u64,
            queued_peak_bytes: self.queue.peak() as u64,
            forward: self.forward.as_ref().map(|f| f.snapshot()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Datagrams counted received, then stored or dropped, on another thread while copies are taken: no copy
    /// shows more outcomes than datagrams received.
    #[test]
    fn a_copy_never_shows_more_outcomes_than_datagrams_received() {
        let stats = Stats::new(1024);
        let total = 2_000_000u64;
        std::thread::scope(|scope| {
            scope.spawn(|| {
                for n in 0..total {
                    stats.add_received(1);
                    if n % 2 == 0 {
                        stats.add_stored(1);
                    } else {
                        stats.add_dropped();
                    }
                }
            });
            loop {
                let s = stats.snapshot();
                assert!(s.received >= s.stored + s.dropped, "{s:?}");
                if s.received == total && s.stored + s.dropped == total {
                    break;
                }
            }
        });
    }
}
