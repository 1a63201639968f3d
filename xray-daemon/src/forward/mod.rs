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

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

pub use client::build_client;
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
#[derive(Clone, PartialEq, Eq)]
pub struct ForwardConfig {
    /// The AWS region (`--region`, else `AWS_REGION`).
    pub region: String,
    /// The X-Ray endpoint (`--endpoint`, else `AWS_ENDPOINT_URL_XRAY` or `AWS_ENDPOINT_URL`); `None` is the
    /// region's public endpoint (HTTPS: needs the `tls` feature).
    pub endpoint: Option<String>,
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token of temporary credentials.
    pub session_token: Option<String>,
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

impl std::fmt::Debug for ForwardConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardConfig")
            .field("region", &self.region)
            .field("endpoint", &self.endpoint)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<redacted>"),
            )
            .field("buffer_bytes", &self.buffer_bytes)
            .field("concurrency", &self.concurrency)
            .field("max_backoff", &self.max_backoff)
            .field("attempt_timeout", &self.attempt_timeout)
            .finish()
    }
}

impl ForwardConfig {
    /// A configuration for these credentials: 16 MiB of buffer, 8 calls in flight (as the X-Ray daemon), up
    /// to 30 s between attempts, 10 s per attempt.
    pub fn new(region: &str, access_key_id: &str, secret_access_key: &str) -> ForwardConfig {
        ForwardConfig {
            region: region.to_owned(),
            endpoint: None,
            access_key_id: access_key_id.to_owned(),
            secret_access_key: secret_access_key.to_owned(),
            session_token: None,
            buffer_bytes: 16 * 1024 * 1024,
            concurrency: 8,
            max_backoff: Duration::from_secs(30),
            attempt_timeout: Duration::from_secs(10),
        }
    }

    /// Reads the region, endpoint and credentials from the environment (`AWS_REGION` or `AWS_DEFAULT_REGION`,
    /// `AWS_ENDPOINT_URL_XRAY` or `AWS_ENDPOINT_URL`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_SESSION_TOKEN`); `region` and `endpoint`, when given, win over it.
    ///
    /// # Errors
    /// A message naming what is missing.
    pub fn from_env(region: Option<&str>, endpoint: Option<&str>) -> Result<ForwardConfig, String> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let region = region
            .map(str::to_owned)
            .or_else(|| var("AWS_REGION"))
            .or_else(|| var("AWS_DEFAULT_REGION"))
            .ok_or("forwarding needs a region: --region or AWS_REGION")?;
        let access_key_id = var("AWS_ACCESS_KEY_ID")
            .ok_or("forwarding needs credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")?;
        let secret_access_key = var("AWS_SECRET_ACCESS_KEY")
            .ok_or("forwarding needs credentials: AWS_SECRET_ACCESS_KEY is not set")?;
        let mut config = ForwardConfig::new(&region, &access_key_id, &secret_access_key);
        config.session_token = var("AWS_SESSION_TOKEN");
        config.endpoint = endpoint
            .map(str::to_owned)
            .or_else(|| var("AWS_ENDPOINT_URL_XRAY"))
            .or_else(|| var("AWS_ENDPOINT_URL"));
        Ok(config)
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
