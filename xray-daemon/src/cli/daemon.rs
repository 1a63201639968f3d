//! `xray daemon`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::config_file::{self, FileSettings};
use crate::config::{
    Config, DEFAULT_API_ADDRESS, DEFAULT_UDP_ADDRESS, Retention, StoreLocation, parse_duration,
};
use crate::daemon::Daemon;
use crate::forward::ForwardConfig;

/// The options of `xray daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The X-Ray daemon's YAML configuration file (its keys `Socket.UDPAddress`, `Region`, `TotalBufferSizeMB`, …;
    /// see the crate's documentation). Options given here win over it.
    #[arg(long = "config", short = 'c', value_name = "FILE")]
    pub config_file: Option<PathBuf>,
    /// The UDP address for segment documents [default: 127.0.0.1:2000].
    #[arg(long = "udp-address", short = 'b', alias = "bind")]
    pub udp_address: Option<SocketAddr>,
    /// The TCP address of the sampling API [default: the UDP address, port included].
    #[arg(long = "tcp-address", short = 't', alias = "bind-tcp")]
    pub tcp_address: Option<SocketAddr>,
    /// A local sampling rules file (versions 1 and 2 of the SDKs' format) served by the sampling API
    /// [default: 1 request per second, then 5 %].
    #[arg(long = "sampling-rules", value_name = "FILE")]
    pub sampling_rules: Option<PathBuf>,
    /// The HTTP address of the JSON API.
    #[arg(long = "api-address", default_value = DEFAULT_API_ADDRESS)]
    pub api_address: SocketAddr,
    /// The SQLite file of the store [default: $XDG_DATA_HOME/xray/traces.sqlite3 or
    /// ~/.local/share/xray/traces.sqlite3].
    #[arg(long, conflicts_with = "memory")]
    pub db: Option<PathBuf>,
    /// Keep traces in memory only.
    #[arg(long)]
    pub memory: bool,
    /// Keep no traces: validate (and, with --forward, forward) only, as the X-Ray daemon does; the API serves
    /// counters and an empty store.
    #[arg(long = "no-store", conflicts_with_all = ["db", "memory"])]
    pub no_store: bool,
    /// Remove traces not updated for this long (e.g. 90s, 15m, 24h, 7d).
    #[arg(long = "max-age", default_value = "24h", value_parser = parse_duration)]
    pub max_age: Duration,
    /// Remove the oldest traces when the stored documents, with the invalid ones kept for inspection, exceed this
    /// many MiB (at most 640 with --memory). Invalid documents may take a tenth of it.
    #[arg(long = "max-size-mb", default_value_t = 512)]
    pub max_size_mb: u64,
    /// A host name the API and viewer answer to, besides IP addresses and localhost (repeatable; e.g. the
    /// daemon's name in a container network). Other names are refused, against DNS rebinding.
    #[arg(long = "allow-host", value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Also send every valid document to AWS X-Ray (PutTraceSegments), with the credentials the AWS SDKs find
    /// (the environment, the profile files, a web identity token, the container's or the EC2 instance's).
    /// While forwarding, the sampling API passes GetSamplingRules and GetSamplingTargets on to X-Ray.
    #[arg(long)]
    pub forward: bool,
    /// The AWS region to forward to [default: AWS_REGION, the profile's, the EC2 instance's].
    #[arg(long, short = 'n')]
    pub region: Option<String>,
    /// The X-Ray endpoint to forward to [default: AWS_ENDPOINT_URL_XRAY, AWS_ENDPOINT_URL, or the region's].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The most MiB of documents waiting to be forwarded; past it, documents are dropped and counted [default: 16].
    #[arg(
        long = "buffer-size-mb",
        short = 'm',
        alias = "buffer-memory",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub buffer_size_mb: Option<u64>,
    /// The most PutTraceSegments calls in flight at once [default: 8].
    #[arg(long = "concurrency", value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: Option<u16>,
    /// Never read EC2 instance metadata (for the region or credentials), as the X-Ray daemon's local mode.
    #[arg(long = "local-mode", short = 'o')]
    pub local_mode: bool,
    /// A role to assume (STS AssumeRole) to send to another account.
    #[arg(long = "role-arn", short = 'r', value_name = "ARN")]
    pub role_arn: Option<String>,
    /// The log level, as the X-Ray daemon names them: dev, debug, info, warn, error or prod (= info).
    #[arg(long = "log-level", short = 'l', value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Append the log to this file instead of standard error (it is never rotated here: use logrotate with
    /// copytruncate).
    #[arg(long = "log-file", short = 'f', value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Refused, with the reason: the X-Ray daemon labels its own telemetry with it, and this daemon sends none.
    #[arg(long = "resource-arn", short = 'a', value_name = "ARN", hide = true)]
    pub resource_arn: Option<String>,
    /// Refused, with the reason: sending to X-Ray through a proxy is not supported.
    #[arg(long = "proxy-address", short = 'p', value_name = "URL", hide = true)]
    pub proxy_address: Option<String>,
    /// HTTP timeouts and connections, the write delay, the query time limit.
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
}

/// What `xray daemon` runs with: the daemon's configuration, and how to log.
#[derive(Debug)]
pub struct Settings {
    /// The daemon's configuration, forwarding included.
    pub config: Config,
    /// The log level asked for (`-l`, `Logging.LogLevel`), if any.
    pub log_level: Option<log::LevelFilter>,
    /// The log file asked for (`-f`, `Logging.LogPath`), if any.
    pub log_file: Option<PathBuf>,
    /// Whether the configuration file asks for the log file to be rotated (`Logging.LogRotation`, on unless
    /// `false` there): this daemon does not rotate, and says so.
    pub log_rotation_asked: bool,
}

impl DaemonArgs {
    /// The settings these options, the configuration file they name and the environment describe.
    ///
    /// # Errors
    /// A message when the configuration file cannot be read or asks for something unsupported, or when an
    /// option is refused.
    pub fn settings(&self) -> Result<Settings, String> {
        if let Some(arn) = &self.resource_arn {
            return Err(format!(
                "--resource-arn {arn}: not supported (it labels the daemon's own telemetry records, which this \
                 daemon does not send); remove it"
            ));
        }
        if let Some(proxy) = &self.proxy_address {
            return Err(format!(
                "--proxy-address {proxy}: sending to X-Ray through a proxy is not supported"
            ));
        }
        let file = match &self.config_file {
            Some(path) => config_file::read(path)?,
            None => FileSettings::default(),
        };
        let log_level = match &self.log_level {
            Some(name) => Some(config_file::log_level(name)?),
            None => file.log_level,
        };
        let log_file = self
            .log_file
            .clone()
            .or_else(|| file.log_path.as_ref().map(PathBuf::from));
        let store = match (&self.db, self.memory || self.no_store) {
            (_, true) => StoreLocation::Memory,
            (Some(path), false) => StoreLocation::File(path.clone()),
            (None, false) => StoreLocation::default_file(),
        };
        let default_udp: SocketAddr = DEFAULT_UDP_ADDRESS
            .parse()
            .map_err(|_| "the default UDP address does not parse")?;
        let forward = self.forward.then(|| {
            let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
            let mut forward = ForwardConfig::standard();
            forward.region = self.region.clone().or(file.region.clone());
            forward.endpoint = self
                .endpoint
                .clone()
                .or(file.endpoint.clone())
                .or_else(|| var("AWS_ENDPOINT_URL_XRAY"))
                .or_else(|| var("AWS_ENDPOINT_URL"));
            forward.role_arn = self.role_arn.clone().or(file.role_arn.clone());
            forward.local_mode = self.local_mode || file.local_mode == Some(true);
            let buffer_mb = self.buffer_size_mb.or(file.buffer_size_mb).unwrap_or(16);
            forward.buffer_bytes =
                usize::try_from(buffer_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
            forward.concurrency = usize::from(self.concurrency.or(file.concurrency).unwrap_or(8));
            forward
        });
        let mut config = Config {
            udp_address: self.udp_address.or(file.udp_address).unwrap_or(default_udp),
            sampling_address: self.tcp_address.or(file.tcp_address),
            sampling_rules: self.sampling_rules.clone(),
            api_address: self.api_address,
            store,
            retention: Retention {
                max_age: self.max_age,
                max_bytes: self.max_size_mb.saturating_mul(1024 * 1024),
                ..Retention::default()
            },
            allowed_hosts: self.allow_host.clone(),
            keep_traces: !self.no_store,
            forward,
            ..Config::default()
        };
        self.limits.apply(&mut config);
        let log_rotation_asked = log_file.is_some() && file.log_rotation != Some(false);
        Ok(Settings {
            config,
            log_level,
            log_file,
            log_rotation_asked,
        })
    }
}

/// Runs the daemon until SIGINT or SIGTERM, then flushes the store and exits.
pub fn run(args: DaemonArgs) -> ExitCode {
    let settings = match args.settings() {
        Ok(settings) => settings,
        Err(e) => {
            eprintln!("xray: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Some(path) = &settings.log_file
        && let Err(e) = super::logger::to_file(path)
    {
        eprintln!("xray: cannot open the log file {}: {e}", path.display());
        return ExitCode::FAILURE;
    }
    if let Some(level) = settings.log_level {
        log::set_max_level(level);
    }
    if settings.log_rotation_asked {
        log::warn!(
            "the log file is never rotated by this daemon: rotate it with logrotate (copytruncate), or set \
             Logging.LogRotation: false to silence this"
        );
    }
    let config = settings.config;
    let runtime = match super::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("xray: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        let daemon = match Daemon::start(config.clone()).await {
            Ok(daemon) => daemon,
            Err(e) => {
                eprintln!("xray: {e}");
                return ExitCode::FAILURE;
            }
        };
        match &config.store {
            _ if !config.keep_traces => log::info!("keeping no traces (--no-store)"),
            StoreLocation::File(path) => log::info!("storing traces in {}", path.display()),
            StoreLocation::Memory => log::info!("storing traces in memory"),
        }
        match &config.sampling_rules {
            Some(path) => log::info!("serving the sampling rules of {}", path.display()),
            None => log::info!("serving the default sampling rule"),
        }
        println!(
            "xray daemon: segments on udp://{}, sampling API on http://{}, viewer on http://{}/ (JSON API under /api/)",
            daemon.udp_address(),
            daemon.sampling_address(),
            daemon.api_address()
        );
        wait_for_signal().await;
        log::info!("stopping: flushing the store");
        match daemon.shutdown().await {
            Ok(stats) => {
                log::info!(
                    "stopped: {} received, {} stored, {} invalid, {} dropped",
                    stats.received,
                    stats.stored,
                    stats.invalid_total,
                    stats.dropped
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("xray: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(e) => {
                log::warn!("cannot listen for SIGTERM: {e}");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
