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
        self.stored.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts `n` valid documents passed on without being stored (`--no-store`).
    pub fn add_not_stored(&self, n: u64) {
        self.not_stored.fetch_add(n, Ordering::Relaxed);
    }

    /// Counts one dropped datagram.
    pub fn add_dropped(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Counts `n` documents the store failed to write.
    pub fn add_store_errors(&self, n: u64) {
        self.store_errors.fetch_add(n, Ordering::Relaxed);
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
    pub fn snapshot(&self) -> StatsSnapshot {
        let invalid: BTreeMap<String, u64> = self
            .invalid
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect();
        StatsSnapshot {
            received: self.received.load(Ordering::Relaxed),
            received_bytes: self.received_bytes.load(Ordering::Relaxed),
            stored: self.stored.load(Ordering::Relaxed),
            not_stored: self.not_stored.load(Ordering::Relaxed),
            invalid_total: invalid.values().sum(),
            invalid,
            dropped: self.dropped.load(Ordering::Relaxed),
            store_errors: self.store_errors.load(Ordering::Relaxed),
            queued_bytes: self.queue.used() as u64,
            queued_peak_bytes: self.queue.peak() as u64,
            forward: self.forward.as_ref().map(|f| f.snapshot()),
        }
    }
}
