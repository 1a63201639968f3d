//! Building a recorder.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use xray_sdk_types::document::{Aws, Service, XraySdk};

use super::{Inner, Recorder};
use crate::BuildError;
use crate::clock::{SharedClock, SystemClock};
use crate::config::env::{self, EnvSource, ProcessEnv, parse_bool};
use crate::config::{Config, ContextMissing, DaemonAddress, DynamicNaming};
use crate::emitter::{Emitter, NoopEmitter, SharedEmitter};
use crate::entity::{Limits, Pipeline};
use crate::plugins::PlatformSlot;
use crate::sampling::{LocalSampler, NeverSample, Sampler, SharedSampler};

/// The SDK's name, as recorded in `aws.xray.sdk`.
pub const SDK_NAME: &str = "X-Ray for Rust";
/// The SDK's version, as recorded in `aws.xray.sdk_version`.
pub const SDK_VERSION: &str = env!("CARGO_PKG_VERSION");
/// The version of the Rust compiler that built the SDK, as recorded in `service.runtime_version`.
pub const RUSTC_VERSION: &str = env!("XRAY_SDK_RUSTC_VERSION");

/// Builds a [`Recorder`]. Environment variables override what is set here, as in the other X-Ray SDKs:
/// `AWS_XRAY_TRACING_NAME`, `AWS_XRAY_DAEMON_ADDRESS`, `AWS_XRAY_CONTEXT_MISSING`, `AWS_XRAY_SDK_ENABLED`
/// and `AWS_XRAY_NOOP_ID`.
///
/// In AWS Lambda (`AWS_LAMBDA_FUNCTION_NAME` or `LAMBDA_TASK_ROOT` set), the defaults change, with nothing to
/// configure: documents are sent by the thread that finishes them (`emitter::DirectUdpEmitter`),
/// so that they are out before the sandbox freezes and no thread outlives an invocation; and the recorder
/// decides nothing itself: the default sampler records no segment of its own (Lambda sends the function's
/// segment; work is recorded under a [facade](Recorder::facade) whose decision comes with the invocation) and
/// no centralized sampling poller starts, nor platform plugins (Lambda records the function's platform). An
/// explicit emitter or sampler still wins.
#[derive(Debug)]
pub struct RecorderBuilder {
    env: Box<dyn EnvSource>,
    config: Config,
    daemon_address: Option<String>,
    dynamic_naming: Option<String>,
    sampler: Option<SharedSampler>,
    emitter: Option<SharedEmitter>,
    clock: Option<SharedClock>,
    aws: Aws,
    sampling_rules: Option<std::path::PathBuf>,
    centralized_sampling: bool,
    #[cfg(feature = "plugins")]
    plugins: Option<crate::plugins::Plugins>,
}

impl Default for RecorderBuilder {
    fn default() -> Self {
        RecorderBuilder {
            env: Box::new(ProcessEnv),
            config: Config::default(),
            daemon_address: None,
            dynamic_naming: None,
            sampler: None,
            emitter: None,
            clock: None,
            aws: Aws::default(),
            sampling_rules: None,
            centralized_sampling: true,
            #[cfg(feature = "plugins")]
            plugins: None,
        }
    }
}

impl RecorderBuilder {
    /// The default segment name.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.config.service_name = Some(name.into());
        self
    }

    /// The daemon address: `host:port`, or `tcp:host:port udp:host:port`.
    pub fn daemon_address(mut self, address: impl Into<String>) -> Self {
        self.daemon_address = Some(address.into());
        self
    }

    /// What to do when there is no current segment.
    pub fn context_missing(mut self, strategy: ContextMissing) -> Self {
        self.config.context_missing = strategy;
        self
    }

    /// Turns the SDK on or off.
    pub fn enabled(mut self, enabled: bool) -> Self {
        self.config.enabled = enabled;
        self
    }

    /// The sampler. Without one, the recorder samples as the other X-Ray SDKs do: by the rules of the
    /// daemon's sampling API (centralized sampling), falling back to local rules — those of
    /// [`RecorderBuilder::sampling_rules`], or 1 request a second and 5% of the rest — while the daemon's
    /// rules are unknown.
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// The local sampling rules file (versions 1 and 2 of the format the other SDKs read), used when the
    /// daemon's rules are unknown, or always with `centralized_sampling(false)`. A malformed file fails
    /// [`RecorderBuilder::build`] with a message naming the file and the problem.
    pub fn sampling_rules(mut self, path: impl Into<std::path::PathBuf>) -> Self {
        self.sampling_rules = Some(path.into());
        self
    }

    /// Whether the default sampler polls the daemon for rules (default true, when the `centralized-sampling`
    /// feature is on). When false, only the local rules apply.
    pub fn centralized_sampling(mut self, enabled: bool) -> Self {
        self.centralized_sampling = enabled;
        self
    }

    /// A shared sampler.
    pub fn shared_sampler(mut self, sampler: SharedSampler) -> Self {
        self.sampler = Some(sampler);
        self
    }

    /// The emitter (the default sends over UDP to the daemon address, with the `udp-emitter` feature).
    pub fn emitter(mut self, emitter: impl Emitter) -> Self {
        self.emitter = Some(Arc::new(emitter));
        self
    }

    /// A shared emitter.
    pub fn shared_emitter(mut self, emitter: SharedEmitter) -> Self {
        self.emitter = Some(emitter);
        self
    }

    /// The clock that stamps entities.
    pub fn clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// Streams subsegments ahead once a segment holds more than `threshold` of them (default 30).
    pub fn streaming_threshold(mut self, threshold: usize) -> Self {
        self.config.streaming_threshold = threshold;
        self
    }

    /// The most backtrace frames recorded with an error (default 10; 0 records none).
    pub fn max_trace_back(mut self, frames: usize) -> Self {
        self.config.max_trace_back = frames;
        self
    }

    /// Whether SQL integrations record query text (default true).
    pub fn stream_sql(mut self, stream: bool) -> Self {
        self.config.stream_sql = stream;
        self
    }

    /// Names HTTP segments after their `Host` when it matches `pattern`, and after the service name
    /// otherwise.
    pub fn dynamic_naming(mut self, pattern: impl Into<String>) -> Self {
        self.dynamic_naming = Some(pattern.into());
        self
    }

    /// The `origin` of every segment, such as `AWS::ECS::Container`.
    pub fn origin(mut self, origin: impl Into<String>) -> Self {
        self.config.origin = Some(origin.into());
        self
    }

    /// Resource information recorded in every segment's `aws` block (what plugins find).
    pub fn aws_resource(mut self, aws: Aws) -> Self {
        self.aws = aws;
        self
    }

    /// Detects the platform the service runs on — Elastic Beanstalk, EKS, ECS, EC2 — and records it in every
    /// segment's `aws` block and `origin` (see [`plugins`](crate::plugins)). Detection runs on its own thread
    /// and never delays [`build`](RecorderBuilder::build) or a request; segments begun before it finishes
    /// lack the platform. An origin or `aws` block set here by hand wins.
    #[cfg(feature = "plugins")]
    pub fn plugins(mut self, plugins: crate::plugins::Plugins) -> Self {
        self.plugins = Some(plugins);
        self
    }

    /// Reads environment variables from `env` instead of the process environment.
    pub fn env(mut self, env: impl EnvSource + 'static) -> Self {
        self.env = Box::new(env);
        self
    }

    /// Applies the environment and builds the recorder.
    ///
    /// # Errors
    /// A [`BuildError`]: a malformed daemon address (in code or in `AWS_XRAY_DAEMON_ADDRESS`), a rules file
    /// that cannot be read, a dynamic naming pattern without a service name, a UDP emitter or a sampling
    /// poller that cannot start, or no emitter at all.
    pub fn build(self) -> Result<Recorder, BuildError> {
        let RecorderBuilder {
            env,
            mut config,
            daemon_address,
            dynamic_naming,
            sampler,
            emitter,
            clock,
            mut aws,
            sampling_rules,
            centralized_sampling,
            #[cfg(feature = "plugins")]
            plugins,
        } = self;

        if let Some(name) = env.var(env::TRACING_NAME).filter(|n| !n.trim().is_empty()) {
            config.service_name = Some(name);
        }
        config.daemon_address = match (env.var(env::DAEMON_ADDRESS), daemon_address) {
            (Some(value), _) => {
                DaemonAddress::parse(&value).map_err(|source| BuildError::DaemonAddress {
                    source: Box::new(source),
                    origin: env::DAEMON_ADDRESS,
                })?
            }
            (None, Some(value)) => {
                DaemonAddress::parse(&value).map_err(|source| BuildError::DaemonAddress {
                    source: Box::new(source),
                    origin: "the recorder builder",
                })?
            }
            (None, None) => DaemonAddress::default(),
        };
        if let Some(value) = env.var(env::CONTEXT_MISSING) {
            match value.parse::<ContextMissing>() {
                Ok(strategy) => config.context_missing = strategy,
                Err(e) => log::warn!(
                    "X-Ray: {e} in {}; using {}",
                    env::CONTEXT_MISSING,
                    config.context_missing
                ),
            }
        }
        if let Some(value) = env.var(env::SDK_ENABLED) {
            config.enabled = parse_bool(&value).unwrap_or_else(|| {
                log::warn!(
                    "X-Ray: {}={value:?} is not a boolean; the SDK stays enabled",
                    env::SDK_ENABLED
                );
                true
            });
        }
        if let Some(value) = env.var(env::NOOP_ID) {
            config.random_noop_ids = parse_bool(&value) == Some(false);
        }
        config.lambda = crate::config::lambda::in_lambda(&*env);
        if let Some(pattern) = dynamic_naming {
            let fallback = config
                .service_name
                .clone()
                .ok_or(BuildError::DynamicNamingWithoutName)?;
            config.dynamic_naming = Some(DynamicNaming { pattern, fallback });
        }

        let emitter: SharedEmitter = match emitter {
            Some(e) => e,
            None if !config.enabled => Arc::new(NoopEmitter),
            None if config.lambda => lambda_emitter(&config)?,
            None => default_emitter(&config)?,
        };
        let clock = clock.unwrap_or_else(|| Arc::new(SystemClock));
        let sampler = match sampler {
            Some(sampler) => sampler,
            None if !config.enabled || config.lambda => Arc::new(NeverSample),
            None => default_sampler(&config, sampling_rules, centralized_sampling, &clock)?,
        };

        aws.xray = Some(XraySdk {
            sdk: Some(SDK_NAME.into()),
            sdk_version: Some(SDK_VERSION.into()),
            ..XraySdk::default()
        });
        let service = Service {
            runtime: Some("rust".into()),
            runtime_version: Some(RUSTC_VERSION.into()),
            ..Service::default()
        };
        let default_name = config.service_name.clone().unwrap_or_else(executable_name);
        let pipeline = Arc::new(Pipeline {
            clock,
            emitter,
            limits: Limits {
                streaming_threshold: config.streaming_threshold,
                max_trace_back: config.max_trace_back,
                random_noop_ids: config.random_noop_ids,
            },
        });
        #[cfg(feature = "plugins")]
        let platform = match plugins.filter(|_| config.enabled && !config.lambda) {
            Some(plugins) => crate::plugins::start(plugins, &*env, aws.clone()),
            None => Arc::new(PlatformSlot::none()),
        };
        #[cfg(not(feature = "plugins"))]
        let platform = Arc::new(PlatformSlot::none());
        Ok(Recorder {
            inner: Arc::new(Inner {
                enabled: AtomicBool::new(config.enabled),
                config,
                sampler,
                pipeline,
                default_name,
                aws_template: aws,
                service_template: service,
                platform,
            }),
        })
    }
}

impl Recorder {
    /// A recorder that records nothing: no socket, no thread, no environment, nothing that can fail.
    pub(crate) fn disabled() -> Recorder {
        let config = Config {
            enabled: false,
            ..Config::default()
        };
        Recorder {
            inner: Arc::new(Inner {
                enabled: AtomicBool::new(false),
                sampler: Arc::new(NeverSample),
                pipeline: Arc::new(Pipeline {
                    clock: Arc::new(SystemClock),
                    emitter: Arc::new(NoopEmitter),
                    limits: Limits {
                        streaming_threshold: config.streaming_threshold,
                        max_trace_back: 0,
                        random_noop_ids: false,
                    },
                }),
                config,
                default_name: executable_name(),
                aws_template: Aws::default(),
                service_template: Service::default(),
                platform: Arc::new(PlatformSlot::none()),
            }),
        }
    }
}

/// The name of segments when no service name is configured: the executable's file name.
fn executable_name() -> String {
    std::env::current_exe()
        .ok()
        .and_then(|path| path.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unnamed".to_owned())
}

/// The UDP emitter to the daemon's address.
#[cfg(feature = "udp-emitter")]
fn default_emitter(config: &Config) -> Result<SharedEmitter, BuildError> {
    crate::emitter::UdpEmitter::new(config.daemon_address.udp.clone())
        .map(|e| Arc::new(e) as SharedEmitter)
        .map_err(BuildError::Socket)
}

/// Without the UDP emitter, an emitter must be given.
#[cfg(not(feature = "udp-emitter"))]
fn default_emitter(_: &Config) -> Result<SharedEmitter, BuildError> {
    Err(BuildError::NoEmitter)
}

/// In AWS Lambda: the UDP emitter that sends from the emitting thread, so that nothing waits in a queue when
/// the sandbox freezes and no thread outlives an invocation.
#[cfg(feature = "udp-emitter")]
fn lambda_emitter(config: &Config) -> Result<SharedEmitter, BuildError> {
    crate::emitter::DirectUdpEmitter::new(config.daemon_address.udp.clone())
        .map(|e| Arc::new(e) as SharedEmitter)
        .map_err(BuildError::Socket)
}

/// Without the UDP emitters, an emitter must be given.
#[cfg(not(feature = "udp-emitter"))]
fn lambda_emitter(_: &Config) -> Result<SharedEmitter, BuildError> {
    Err(BuildError::NoEmitter)
}

/// The sampler of the other X-Ray SDKs: centralized rules from the daemon (with the `centralized-sampling`
/// feature), local rules as the fallback.
fn default_sampler(
    config: &Config,
    rules_file: Option<std::path::PathBuf>,
    centralized: bool,
    clock: &SharedClock,
) -> Result<SharedSampler, BuildError> {
    let rules = match rules_file {
        Some(path) => crate::sampling::load_rules_file(path).map_err(Box::new)?,
        None => xray_sdk_types::sampling::LocalRules::default(),
    };
    let local: SharedSampler = Arc::new(
        LocalSampler::builder(rules)
            .clock(Arc::clone(clock))
            .build(),
    );
    if !centralized {
        return Ok(local);
    }
    centralized_sampler(config, local, clock)
}

#[cfg(feature = "centralized-sampling")]
fn centralized_sampler(
    config: &Config,
    local: SharedSampler,
    clock: &SharedClock,
) -> Result<SharedSampler, BuildError> {
    crate::sampling::CentralizedSampler::builder(config.daemon_address.tcp.clone())
        .shared_fallback(local)
        .clock(Arc::clone(clock))
        .start()
        .map(|s| Arc::new(s) as SharedSampler)
        .map_err(|source| BuildError::ThreadSpawn {
            what: "sampling poller",
            source,
        })
}

#[cfg(not(feature = "centralized-sampling"))]
fn centralized_sampler(
    _: &Config,
    local: SharedSampler,
    _: &SharedClock,
) -> Result<SharedSampler, BuildError> {
    Ok(local)
}
