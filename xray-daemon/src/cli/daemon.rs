//! `xray daemon`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use crate::config::{
    Config, DEFAULT_API_ADDRESS, DEFAULT_UDP_ADDRESS, Retention, StoreLocation, parse_duration,
};
use crate::daemon::Daemon;
use crate::forward::ForwardConfig;

/// The options of `xray daemon`.
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// The UDP address for segment documents.
    #[arg(long = "udp-address", short = 'b', alias = "bind", default_value = DEFAULT_UDP_ADDRESS)]
    pub udp_address: SocketAddr,
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
    /// Also send every valid document to AWS X-Ray (PutTraceSegments), with the credentials of
    /// AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN.
    #[arg(long)]
    pub forward: bool,
    /// The AWS region to forward to [default: AWS_REGION].
    #[arg(long, short = 'n')]
    pub region: Option<String>,
    /// The X-Ray endpoint to forward to [default: AWS_ENDPOINT_URL_XRAY, AWS_ENDPOINT_URL, or the region's].
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The most MiB of documents waiting to be forwarded; past it, documents are dropped and counted.
    #[arg(
        long = "buffer-size-mb",
        short = 'm',
        alias = "buffer-memory",
        default_value_t = 16,
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub buffer_size_mb: u64,
    /// The most PutTraceSegments calls in flight at once.
    #[arg(long = "concurrency", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Accepted for the X-Ray daemon's sake: this daemon never reads EC2 instance metadata anyway.
    #[arg(long = "local-mode", short = 'o')]
    pub local_mode: bool,
    /// Assuming a role is not supported: give the role's credentials in the environment instead.
    #[arg(long = "role-arn", short = 'r', value_name = "ARN")]
    pub role_arn: Option<String>,
}

impl DaemonArgs {
    /// The forwarding these options (and the environment) describe: `None` without `--forward`.
    ///
    /// # Errors
    /// A message when forwarding lacks a region or credentials, or asks for a role.
    pub fn forward_config(&self) -> Result<Option<ForwardConfig>, String> {
        if let Some(role) = &self.role_arn {
            return Err(format!(
                "--role-arn {role}: assuming a role is not supported; put the role's credentials in \
                 AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN instead"
            ));
        }
        if !self.forward {
            return Ok(None);
        }
        let mut config = ForwardConfig::from_env(self.region.as_deref(), self.endpoint.as_deref())?;
        config.buffer_bytes =
            usize::try_from(self.buffer_size_mb.saturating_mul(1024 * 1024)).unwrap_or(usize::MAX);
        config.concurrency = usize::from(self.concurrency);
        Ok(Some(config))
    }

    /// The daemon configuration these options describe (without forwarding: see
    /// [`DaemonArgs::forward_config`]).
    pub fn config(&self) -> Config {
        let store = match (&self.db, self.memory) {
            (_, true) => StoreLocation::Memory,
            (Some(path), false) => StoreLocation::File(path.clone()),
            (None, false) => StoreLocation::default_file(),
        };
        Config {
            udp_address: self.udp_address,
            sampling_address: self.tcp_address,
            sampling_rules: self.sampling_rules.clone(),
            api_address: self.api_address,
            store,
            retention: Retention {
                max_age: self.max_age,
                max_bytes: self.max_size_mb.saturating_mul(1024 * 1024),
                ..Retention::default()
            },
            allowed_hosts: self.allow_host.clone(),
            ..Config::default()
        }
    }
}

/// Runs the daemon until SIGINT or SIGTERM, then flushes the store and exits.
pub fn run(args: DaemonArgs) -> ExitCode {
    let mut config = args.config();
    config.forward = match args.forward_config() {
        Ok(forward) => forward,
        Err(e) => {
            eprintln!("xray: {e}");
            return ExitCode::FAILURE;
        }
    };
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
