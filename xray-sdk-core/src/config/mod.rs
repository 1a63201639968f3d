//! Configuration: names and precedence of the other X-Ray SDKs, read through an injectable environment.

mod context_missing;
mod daemon_address;
pub mod env;
pub mod lambda;

pub use context_missing::{ContextMissing, UnknownStrategy};
pub use daemon_address::{DaemonAddress, DaemonAddressError, Endpoint};
pub use env::{EnvSource, MapEnv, ProcessEnv};
mod dynamic_naming;

pub use dynamic_naming::DynamicNaming;

/// The recorder's settings, after the environment has been applied.
#[derive(Debug, Clone)]
pub struct Config {
    /// The default segment name (`AWS_XRAY_TRACING_NAME` wins over the builder).
    pub service_name: Option<String>,
    /// The daemon (`AWS_XRAY_DAEMON_ADDRESS` wins over the builder).
    pub daemon_address: DaemonAddress,
    /// What to do without a current entity (`AWS_XRAY_CONTEXT_MISSING` wins over the builder).
    pub context_missing: ContextMissing,
    /// Whether the SDK records anything (`AWS_XRAY_SDK_ENABLED` wins over the builder).
    pub enabled: bool,
    /// Whether unsampled entities get random ids rather than the no-op id (`AWS_XRAY_NOOP_ID=false`).
    pub random_noop_ids: bool,
    /// Stream subsegments ahead once a segment holds more than this many (default 30).
    pub streaming_threshold: usize,
    /// The most backtrace frames recorded with an error (default 10).
    pub max_trace_back: usize,
    /// Whether SQL integrations record the query text (default true).
    pub stream_sql: bool,
    /// Naming of HTTP segments by their `Host`.
    pub dynamic_naming: Option<DynamicNaming>,
    /// The `origin` of segments, such as `AWS::ECS::Container`, and the service type for sampling.
    pub origin: Option<String>,
    /// Whether the recorder runs in AWS Lambda (detected from the environment, see [`lambda::in_lambda`]).
    pub lambda: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            service_name: None,
            daemon_address: DaemonAddress::default(),
            context_missing: ContextMissing::default(),
            enabled: true,
            random_noop_ids: false,
            streaming_threshold: 30,
            max_trace_back: 10,
            stream_sql: true,
            dynamic_naming: None,
            origin: None,
            lambda: false,
        }
    }
}
