//! Sampling: which new traces the recorder records.
//!
//! The recorder asks its [`Sampler`] once for each segment it begins without a decision from upstream (an
//! incoming `Sampled=1` or `Sampled=0` is honoured as is). Simple samplers live here; the rule-based samplers
//! of the other X-Ray SDKs (local rules, and centralized rules polled from the daemon) build on the same trait.

use std::fmt;
use std::sync::Arc;

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
