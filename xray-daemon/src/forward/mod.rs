//! Forwarding to AWS X-Ray: every valid document also goes to the `PutTraceSegments` API.
//!
//! The processing thread hands each valid document to a [`ForwardQueue`]; a task on the Tokio runtime gathers
//! them into batches of up to [`MAX_BATCH`] documents (sent as soon as a batch fills, or [`BATCH_WAIT`] after its
//! first document), with up to [`ForwardConfig::concurrency`] batches in flight. Documents X-Ray lists as
//! unprocessed are sent again; throttling, 5xx answers and connection failures are retried with exponential
//! backoff and full jitter. Everything waiting (queued, in flight, retrying) is charged to a byte budget
//! ([`ForwardConfig::buffer_bytes`]); a document that does not fit is dropped and counted, and drops are logged
//! once per [`DROP_LOG_INTERVAL`].

mod client;
mod task;

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_xray::config::Credentials;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use client::connect;
pub(crate) use task::run;

/// The most documents in one `PutTraceSegments` call (as the X-Ray daemon sends).
pub const MAX_BATCH: usize = 50;
/// The longest a document waits for its batch to fill.
pub const BATCH_WAIT: Duration = Duration::from_secs(1);
/// How often drops are logged (once, with their count since the last time).
pub const DROP_LOG_INTERVAL: Duration = Duration::from_secs(10);
/// What a queued document costs besides its bytes.
const DOCUMENT_OVERHEAD: usize = 96;

/// Where and how documents are forwarded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    /// The AWS region; `None` finds it as the AWS SDKs do (`AWS_REGION`, the profile, the EC2 instance: see
    /// [`connect`]).
    pub region: Option<String>,
    /// The X-Ray endpoint (`--endpoint`, else `AWS_ENDPOINT_URL_XRAY` or `AWS_ENDPOINT_URL`); `None` is the
    /// region's public endpoint (HTTPS: needs the `tls` feature).
    pub endpoint: Option<String>,
    /// Fixed credentials; `None` (what `xray daemon` uses) finds them through the AWS SDKs' standard chain (see
    /// [`connect`]).
    pub credentials: Option<Credentials>,
    /// A role to assume (STS `AssumeRole`) with those credentials, to send to another account.
    pub role_arn: Option<String>,
    /// Never read EC2 instance metadata (`-o`): neither the region nor credentials come from it.
    pub local_mode: bool,
    /// The most bytes of documents waiting to be delivered (queued, in flight or retrying); past it, new
    /// documents are dropped and counted.
    pub buffer_bytes: usize,
    /// The most `PutTraceSegments` calls in flight at once.
    pub concurrency: usize,
    /// The longest wait between two attempts of a batch.
    pub max_backoff: Duration,
    /// The longest one attempt may take.
    pub attempt_timeout: Duration,
}

impl ForwardConfig {
    /// Forwarding that finds its region and credentials as the AWS SDKs do: 16 MiB of buffer, 8 calls in flight
    /// (as the X-Ray daemon), up to 30 s between attempts, 10 s per attempt.
    pub fn standard() -> ForwardConfig {
        ForwardConfig {
            region: None,
            endpoint: None,
            credentials: None,
            role_arn: None,
            local_mode: false,
            buffer_bytes: 16 * 1024 * 1024,
            concurrency: 8,
            max_backoff: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
        }
    }

    /// Forwarding to `region` with fixed credentials, as [`ForwardConfig::standard`] otherwise.
    ///
    /// ```
    /// let config = xray_daemon::forward::ForwardConfig::new("eu-west-1", "AKIDEXAMPLE", "secret");
    /// assert_eq!(config.region.as_deref(), Some("eu-west-1"));
    /// ```
    pub fn new(region: &str, access_key_id: &str, secret_access_key: &str) -> ForwardConfig {
        ForwardConfig {
            region: Some(region.to_owned()),
            credentials: Some(Credentials::new(
                access_key_id,
                secret_access_key,
                None,
                None,
                "xray-daemon",
            )),
            ..ForwardConfig::standard()
        }
    }
}

/// Forwarding's counters, as `GET /api/stats` shows them under `forward`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ForwardSnapshot {
    /// Documents X-Ray accepted.
    pub sent: u64,
    /// Documents sent again (after an error, or listed as unprocessed).
    pub retried: u64,
    /// Documents given up: the buffer was full, or X-Ray refused them for good.
    pub dropped: u64,
    /// Bytes of documents waiting to be delivered now.
    pub buffered_bytes: u64,
    /// The most recent error, if any.
    pub last_error: Option<String>,
}

/// Live forwarding counters and the buffer's budget.
#[derive(Debug, Default)]
pub struct ForwardStats {
    sent: AtomicU64,
    retried: AtomicU64,
    dropped: AtomicU64,
    buffered: AtomicUsize,
    last_error: Mutex<Option<String>>,
}

impl ForwardStats {
    /// Counts `n` delivered documents.
    pub fn add_sent(&self, n: usize) {
        self.sent.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` documents sent again.
    pub fn add_retried(&self, n: usize) {
        self.retried.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts `n` dropped documents.
    pub fn add_dropped(&self, n: usize) {
        self.dropped.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Documents dropped so far.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Records the most recent error.
    pub fn set_error(&self, error: String) {
        *self
            .last_error
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(error);
    }

    /// Charges `bytes` to a budget of `max`; `false` (nothing charged) when they do not fit.
    fn try_charge(&self, bytes: usize, max: usize) -> bool {
        self.buffered
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= max)
            })
            .is_ok()
    }

    /// Gives back what `documents` were charged.
    pub fn release(&self, documents: &[ForwardDocument]) {
        let bytes: usize = documents.iter().map(ForwardDocument::cost).sum();
        self.buffered.fetch_sub(bytes, Ordering::AcqRel);
    }

    /// A copy of the counters.
    pub fn snapshot(&self) -> ForwardSnapshot {
        ForwardSnapshot {
            sent: self.sent.load(Ordering::Relaxed),
            retried: self.retried.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            buffered_bytes: self.buffered.load(Ordering::Relaxed) as u64,
            last_error: self
                .last_error
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        }
    }
}

/// One document waiting to be forwarded.
#[derive(Debug, Clone)]
pub struct ForwardDocument {
    /// Its `id`, to match X-Ray's list of unprocessed documents.
    pub id: String,
    /// The document as received.
    pub body: String,
}

impl ForwardDocument {
    fn cost(&self) -> usize {
        self.body.len() + self.id.len() + DOCUMENT_OVERHEAD
    }
}

/// The processing thread's end of forwarding: never blocks, drops and counts what does not fit the buffer.
#[derive(Debug, Clone)]
pub struct ForwardQueue {
    sender: mpsc::UnboundedSender<ForwardDocument>,
    stats: Arc<ForwardStats>,
    max_bytes: usize,
}

impl ForwardQueue {
    /// A queue charging `stats`' buffer up to `max_bytes`, and its receiving end for the forwarding task.
    pub fn new(
        stats: Arc<ForwardStats>,
        max_bytes: usize,
    ) -> (ForwardQueue, mpsc::UnboundedReceiver<ForwardDocument>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        (
            ForwardQueue {
                sender,
                stats,
                max_bytes,
            },
            receiver,
        )
    }

    /// Queues a valid document (its `id` and bytes), or drops and counts it when the buffer is full.
    pub fn push(&self, id: &str, body: &[u8]) {
        let Ok(body) = std::str::from_utf8(body) else {
            self.stats.add_dropped(1);
            return;
        };
        let document = ForwardDocument {
            id: id.to_owned(),
            body: body.to_owned(),
        };
        if !self.stats.try_charge(document.cost(), self.max_bytes) {
            self.stats.add_dropped(1);
            return;
        }
        if let Err(e) = self.sender.send(document) {
            self.stats.release(std::slice::from_ref(&e.0));
            self.stats.add_dropped(1);
        }
    }
}

/// An error with its sources, joined by `: `.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}
