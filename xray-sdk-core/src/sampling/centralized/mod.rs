//! Centralized sampling: the account's sampling rules and reservoir quotas, polled from the X-Ray daemon.
//!
//! A background thread (no async runtime needed) calls the daemon's TCP endpoint, which forwards to the X-Ray
//! API:
//! - `POST /GetSamplingRules` at start and then every 5 minutes (plus up to 5 s of jitter), following
//!   `NextToken`, and again as soon as a targets answer says the rules changed;
//! - `POST /SamplingTargets` every 10 s (plus up to 0.1 s of jitter), reporting for each rule used since its
//!   last report the requests, sampled and borrowed counts, with a client id fixed for the sampler's life; the
//!   answer sets each rule's per-second quota (until its TTL), its rate, and how often to report.
//!
//! A decision takes the first rule, by priority then name, whose service name, service type, host, method, URL
//! path and resource ARN match the request (a field the request lacks matches anything; the rule named
//! `Default` catches the rest). The rule samples within its quota; while no quota is known and its
//! `ReservoirSize` is not 0, it borrows one request per second; beyond that it samples by its `FixedRate`.
//! Rules that cannot be evaluated here are skipped, as in the other SDKs: a `Version` other than 1, a
//! `ResourceARN` other than `*`, an empty `ServiceType`, or `Attributes`.
//!
//! The decision names the matching rule ([`SamplingDecision::rule_name`]), whether it samples or not, so that
//! the recorder can write `aws.xray.sampling_rule_name` on sampled segments and tools can explain decisions.
//!
//! Until rules arrive, when they are more than an hour old, or when no rule matches, the fallback sampler
//! (by default the local rules: 1 request per second, then 5 %) decides. A daemon that is down, slow or
//! answers garbage therefore changes nothing for the application: decisions never wait on the network, and
//! polls use short timeouts on the poller thread only.
//!
//! ```no_run
//! use std::sync::Arc;
//! use xray_sdk_core::config::DaemonAddress;
//! use xray_sdk_core::sampling::{CentralizedSampler, LocalSampler, Sampler, SamplingRequest};
//!
//! let daemon = DaemonAddress::default();
//! let sampler = CentralizedSampler::builder(daemon.tcp)
//!     .fallback(LocalSampler::default())
//!     .start()?;
//! let decision = sampler.should_sample(&SamplingRequest {
//!     service_name: "checkout",
//!     method: Some("GET"),
//!     url_path: Some("/cart"),
//!     ..Default::default()
//! });
//! println!("sampled: {}, rule: {:?}", decision.sampled, decision.rule_name);
//! sampler.shutdown();
//! # Ok::<(), std::io::Error>(())
//! ```

mod cache;
mod client;
mod poller;
mod rule;
mod shared;

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::clock::{SharedClock, SystemClock};
use crate::config::{DaemonAddress, Endpoint};
use crate::sampling::local::LocalSampler;
use crate::sampling::random::SamplingRng;
use crate::sampling::{Sampler, SamplingDecision, SamplingRequest, SharedSampler, epoch_seconds};

use client::Client;
use poller::Inner;

/// How long [`Sampler::shutdown`] waits for the poller thread to finish a poll in progress before leaving it
/// to end on its own.
const SHUTDOWN_WAIT: Duration = Duration::from_millis(250);

/// How often the poller calls the daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollIntervals {
    /// Between two rule fetches (default 300 s).
    pub rules: Duration,
    /// At most this much is added at random to each rules interval (default 5 s).
    pub rules_jitter: Duration,
    /// Between two target polls (default 10 s).
    pub targets: Duration,
    /// At most this much is added at random to each targets interval (default 100 ms).
    pub targets_jitter: Duration,
}

impl Default for PollIntervals {
    fn default() -> Self {
        PollIntervals {
            rules: Duration::from_secs(300),
            rules_jitter: Duration::from_secs(5),
            targets: Duration::from_secs(10),
            targets_jitter: Duration::from_millis(100),
        }
    }
}

/// Why a poll of the daemon failed. Polls are retried; decisions use the fallback meanwhile.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PollError {
    /// The daemon's address could not be resolved or connected to.
    #[error("cannot connect to the X-Ray daemon: {0}")]
    Connect(#[source] std::io::Error),
    /// The daemon did not answer within the timeout.
    #[error("the X-Ray daemon did not answer in time")]
    Timeout,
    /// The connection failed while talking.
    #[error("I/O error talking to the X-Ray daemon: {0}")]
    Io(#[source] std::io::Error),
    /// The daemon answered with an error status.
    #[error("the X-Ray daemon answered HTTP {status}: {body}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// The answer is not well-formed HTTP.
    #[error("the X-Ray daemon's answer is not valid HTTP: {0}")]
    Malformed(String),
    /// The answer is not the expected JSON body.
    #[error("the X-Ray daemon's {operation} answer is not valid: {message}")]
    Body {
        /// The operation.
        operation: &'static str,
        /// What is wrong.
        message: String,
    },
}

impl PollError {
    fn body(operation: &'static str, e: &serde_json::Error) -> Self {
        PollError::Body {
            operation,
            message: e.to_string(),
        }
    }
}

/// Samples by the account's sampling rules, polled from the X-Ray daemon in a background thread.
///
/// Decisions read shared state only: no network, no allocation, no lock held by I/O. The poller thread stops
/// on [`Sampler::shutdown`] or when the sampler is dropped.
pub struct CentralizedSampler {
    inner: Arc<Inner>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl fmt::Debug for CentralizedSampler {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentralizedSampler")
            .field("client_id", &self.inner.client_id)
            .field("fallback", &self.inner.fallback)
            .field("rules", &self.rule_names())
            .finish_non_exhaustive()
    }
}

impl CentralizedSampler {
    /// A sampler with the defaults of the other SDKs, polling the daemon at `daemon`'s TCP address, with the
    /// built-in local rules as fallback; its poller thread is started.
    ///
    /// # Errors
    /// The operating system's error if the thread cannot be spawned.
    pub fn new(daemon: &DaemonAddress) -> std::io::Result<Self> {
        Self::builder(daemon.tcp.clone()).start()
    }

    /// A builder for a sampler that polls the daemon's TCP endpoint (`DaemonAddress::tcp`).
    pub fn builder(endpoint: Endpoint) -> CentralizedSamplerBuilder {
        CentralizedSamplerBuilder {
            endpoint,
            fallback: None,
            clock: None,
            seed: None,
            intervals: PollIntervals::default(),
            timeout: Duration::from_secs(3),
            background: true,
        }
    }

    /// The client id reported with the statistics: 24 lowercase hexadecimal characters.
    pub fn client_id(&self) -> &str {
        &self.inner.client_id
    }

    /// The names of the rules in effect, in the order they are evaluated.
    pub fn rule_names(&self) -> Vec<Arc<str>> {
        let cache = self.inner.rules.load();
        cache.rules.iter().map(|r| Arc::clone(&r.name)).collect()
    }

    /// Whether rules fetched less than an hour ago are in effect (otherwise the fallback decides).
    pub fn has_fresh_rules(&self) -> bool {
        let now = epoch_seconds(&*self.inner.clock);
        !self.inner.rules.load().is_expired(now)
    }

    /// Fetches the rules now, on the calling thread, and returns how many are in effect (0 when the daemon
    /// returned no usable rule, which leaves the rules unchanged).
    ///
    /// This does network I/O (bounded by the timeout): call it from tests, from a setup step, or with
    /// [`CentralizedSamplerBuilder::manual_polling`], never on a request path.
    ///
    /// # Errors
    /// [`PollError`] when the daemon cannot be reached or answers badly; the rules in effect are kept.
    pub fn refresh_rules(&self) -> Result<usize, PollError> {
        self.inner.refresh_rules()
    }

    /// Runs one target-poll cycle now, on the calling thread: reports the statistics that are due and applies
    /// the targets; fetches the rules again if the answer says they changed. Returns whether it did.
    ///
    /// Like [`CentralizedSampler::refresh_rules`], this does network I/O.
    ///
    /// # Errors
    /// [`PollError`]; the statistics that could not be reported are kept for the next report.
    pub fn report_statistics(&self) -> Result<bool, PollError> {
        if self.inner.report()? {
            self.inner.refresh_rules()?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Asks the poller thread to fetch rules and report statistics now, without waiting for it.
    pub fn poll_now(&self) {
        self.inner.poke();
    }
}

impl Sampler for CentralizedSampler {
    #[inline]
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision {
        self.inner.decide(request)
    }

    /// Stops the poller thread. Waits briefly (250 ms at most) for a poll in progress, then lets it end on its
    /// own; decisions keep working with the last rules until they expire.
    fn shutdown(&self) {
        self.inner.stop();
        let handle = self
            .thread
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(handle) = handle
            && self.inner.wait_exited(SHUTDOWN_WAIT)
        {
            let _ = handle.join();
        }
        self.inner.fallback.shutdown();
    }
}

impl Drop for CentralizedSampler {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Builds a [`CentralizedSampler`].
#[must_use]
pub struct CentralizedSamplerBuilder {
    endpoint: Endpoint,
    fallback: Option<SharedSampler>,
    clock: Option<SharedClock>,
    seed: Option<u64>,
    intervals: PollIntervals,
    timeout: Duration,
    background: bool,
}

impl fmt::Debug for CentralizedSamplerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CentralizedSamplerBuilder")
            .field("endpoint", &self.endpoint)
            .field("fallback", &self.fallback)
            .field("intervals", &self.intervals)
            .field("timeout", &self.timeout)
            .field("background", &self.background)
            .finish_non_exhaustive()
    }
}

impl CentralizedSamplerBuilder {
    /// The sampler that decides while no fresh rule applies (default: [`LocalSampler::default`], on the same
    /// clock).
    pub fn fallback(self, fallback: impl Sampler) -> Self {
        self.shared_fallback(Arc::new(fallback))
    }

    /// A shared fallback sampler.
    pub fn shared_fallback(mut self, fallback: SharedSampler) -> Self {
        self.fallback = Some(fallback);
        self
    }

    /// The clock (default: the system clock). Its wall-clock seconds drive reservoirs, quota TTLs, rule expiry
    /// and statistics timestamps; its monotonic time schedules the polls.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// A seed for the random draws (rates and jitter), so that runs repeat (default: random).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// How often to poll (default: rules every 300 s + ≤ 5 s, targets every 10 s + ≤ 0.1 s).
    pub fn intervals(mut self, intervals: PollIntervals) -> Self {
        self.intervals = intervals;
        self
    }

    /// The longest a call to the daemon may take, connection included (default 3 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Starts no poller thread: rules and targets are polled only when the owner calls
    /// [`CentralizedSampler::refresh_rules`] and [`CentralizedSampler::report_statistics`] (for tests, or for
    /// hosts that schedule their own work).
    pub fn manual_polling(mut self) -> Self {
        self.background = false;
        self
    }

    /// The sampler, with its poller thread started (it fetches the rules at once, without delaying this call).
    ///
    /// # Errors
    /// The operating system's error if the thread cannot be spawned.
    pub fn start(self) -> std::io::Result<CentralizedSampler> {
        let clock = self.clock.unwrap_or_else(|| Arc::new(SystemClock));
        let fallback = self.fallback.unwrap_or_else(|| {
            let mut local = LocalSampler::builder(Default::default()).clock(Arc::clone(&clock));
            if let Some(seed) = self.seed {
                local = local.seed(seed.wrapping_add(1));
            }
            Arc::new(local.build())
        });
        let inner = Arc::new(Inner::new(
            clock,
            SamplingRng::new(self.seed),
            fallback,
            Client::new(self.endpoint, self.timeout),
            self.intervals,
        ));
        let thread = if self.background {
            let for_thread = Arc::clone(&inner);
            Some(
                std::thread::Builder::new()
                    .name("xray-sampling-poller".into())
                    .spawn(move || poller::run(for_thread))?,
            )
        } else {
            None
        };
        Ok(CentralizedSampler {
            inner,
            thread: Mutex::new(thread),
        })
    }
}
