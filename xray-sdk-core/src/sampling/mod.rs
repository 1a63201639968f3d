//! Sampling: which new traces the recorder records.
//!
//! The recorder asks its [`Sampler`] once for each segment it begins without a decision from upstream: an
//! incoming `Sampled=1` or `Sampled=0` is honoured as is, and `Sampled=?` or no flag asks the sampler (see
//! [`decide`] and [`response_flag`]).
//!
//! | sampler | decides by |
//! |---|---|
//! | [`AlwaysSample`], [`NeverSample`] | nothing |
//! | [`LocalSampler`] | local rules: a rules file (versions 1 and 2) or the built-in 1 request per second, then 5 % |
//! | [`CentralizedSampler`] | the account's sampling rules and quotas, polled from the X-Ray daemon in a background thread, with a [`LocalSampler`] as fallback |
//!
//! Every sampler decides without blocking, allocating or taking a contended lock: the centralized sampler
//! only reads state that its poller thread updates.

use std::fmt;
use std::sync::Arc;

use xray_sdk_types::SamplingFlag;

use crate::clock::Clock;

#[cfg(feature = "centralized-sampling")]
pub mod centralized;
pub mod local;
mod pattern;
mod random;
mod reservoir;

#[cfg(feature = "centralized-sampling")]
pub use centralized::{CentralizedSampler, CentralizedSamplerBuilder, PollError, PollIntervals};
pub use local::{LocalSampler, LocalSamplerBuilder, load_rules_file};

/// What the recorder knows about a request when it asks for a decision.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SamplingRequest<'a> {
    /// The segment's name (the service name).
    pub service_name: &'a str,
    /// The service's origin, such as `AWS::EC2::Instance`, when a plugin set one.
    pub service_type: Option<&'a str>,
    /// The `Host` of an HTTP request.
    pub host: Option<&'a str>,
    /// The method of an HTTP request.
    pub method: Option<&'a str>,
    /// The path of an HTTP request.
    pub url_path: Option<&'a str>,
    /// The ARN of the resource running the code.
    pub resource_arn: Option<&'a str>,
}

/// A sampler's answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SamplingDecision {
    /// Whether to record the trace.
    pub sampled: bool,
    /// The rule that decided, when a rule-based sampler did; recorded as `aws.xray.sampling_rule_name`.
    pub rule_name: Option<Arc<str>>,
}

impl SamplingDecision {
    /// Record, with no rule named.
    pub const SAMPLED: SamplingDecision = SamplingDecision {
        sampled: true,
        rule_name: None,
    };
    /// Do not record.
    pub const NOT_SAMPLED: SamplingDecision = SamplingDecision {
        sampled: false,
        rule_name: None,
    };
}

/// Decides whether a new trace is recorded. Called on the request path: implementations must be fast, must
/// not block and must not panic.
pub trait Sampler: Send + Sync + fmt::Debug + 'static {
    /// The decision for one request.
    fn should_sample(&self, request: &SamplingRequest<'_>) -> SamplingDecision;

    /// Stops background work (pollers). Called when the recorder shuts down; the default does nothing.
    fn shutdown(&self) {}
}

/// A shared sampler.
pub type SharedSampler = Arc<dyn Sampler>;

/// Samples every request.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysSample;

impl Sampler for AlwaysSample {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        SamplingDecision::SAMPLED
    }
}

/// Samples no request.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeverSample;

impl Sampler for NeverSample {
    fn should_sample(&self, _: &SamplingRequest<'_>) -> SamplingDecision {
        SamplingDecision::NOT_SAMPLED
    }
}

/// The decision for a request that arrived with the trace header flag `flag`: `Sampled=1` and `Sampled=0` are
/// honoured; `Sampled=?` or no flag asks `sampler`.
///
/// ```
/// use xray_sdk_core::sampling::{decide, NeverSample, SamplingRequest};
/// use xray_sdk_types::SamplingFlag;
///
/// let req = SamplingRequest::default();
/// assert!(decide(Some(SamplingFlag::Sampled), &NeverSample, &req).sampled);
/// assert!(!decide(Some(SamplingFlag::Requested), &NeverSample, &req).sampled);
/// ```
pub fn decide<S: Sampler + ?Sized>(
    flag: Option<SamplingFlag>,
    sampler: &S,
    request: &SamplingRequest<'_>,
) -> SamplingDecision {
    match flag.and_then(|f| f.decision()) {
        Some(true) => SamplingDecision::SAMPLED,
        Some(false) => SamplingDecision::NOT_SAMPLED,
        None => sampler.should_sample(request),
    }
}

/// The `Sampled` flag of the response header: the decision when the caller asked for it with `Sampled=?`,
/// else none (the response header then carries only the `Root`).
pub fn response_flag(incoming: Option<SamplingFlag>, sampled: bool) -> Option<SamplingFlag> {
    (incoming == Some(SamplingFlag::Requested)).then_some(SamplingFlag::from_decision(sampled))
}

/// Whole seconds since the Unix epoch on `clock` (0 before 1970).
#[inline]
pub(crate) fn epoch_seconds(clock: &dyn Clock) -> i64 {
    clock.epoch_seconds()
}
