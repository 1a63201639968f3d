//! `xray-daemon`: a local stand-in for the AWS X-Ray daemon that keeps what it receives.
//!
//! It listens where the X-Ray daemon does (UDP `127.0.0.1:2000` for segments, TCP `127.0.0.1:2000` for the
//! sampling API, served from a local rules file with working reservoir quotas), validates every segment document with the
//! shared rules of [`xray_sdk_types`], assembles independent subsegments into their traces in any arrival order,
//! stores traces in SQLite (a file, or memory), and serves them as JSON on HTTP `127.0.0.1:2001`, along with a
//! web viewer (trace list, waterfall, service map) at `http://127.0.0.1:2001/`.
//! With `--forward` it also sends every valid document on to AWS X-Ray.
//! The `xray` binary wraps it: `xray daemon`, `xray tail`, `xray validate`.
//!
//! # Quickstart: in-process
//! ```no_run
//! # async fn run() -> Result<(), xray_daemon::Error> {
//! use xray_daemon::{Config, Daemon};
//!
//! let daemon = Daemon::start(Config::ephemeral()).await?; // loopback, free ports, in-memory store
//! println!("send segments to {}, read them at http://{}/api/traces", daemon.udp_address(), daemon.api_address());
//! // ... send datagrams ...
//! daemon.flush().await;
//! println!("{:?}", daemon.stats());
//! daemon.shutdown().await?; // stores everything received, then stops
//! # Ok(()) }
//! ```
//!
//! # Forwarding to AWS X-Ray
//! With `xray daemon --forward` (or [`Config::forward`]), every valid document also goes to AWS X-Ray's
//! `PutTraceSegments`, so the daemon can stand in for the X-Ray daemon in production; the local store and viewer
//! keep working beside it. Batching, retries and the bounded buffer are described in [`forward`];
//! `GET /api/stats` shows them under `forward`.
//!
//! - **Region and credentials** are found as every AWS SDK finds them ([`forward::connect`]): `--region`/`-n`,
//!   `AWS_REGION`, the profile, the EC2 instance; credentials from the environment, the profile files (SSO and
//!   `credential_process` included), a web identity token, the container's endpoint, the EC2 instance profile.
//!   `--role-arn`/`-r` assumes a role with them (STS `AssumeRole`, renewed before expiry). `-o`/`--local-mode`
//!   never reads EC2 instance metadata. The endpoint is `--endpoint`, `AWS_ENDPOINT_URL_XRAY` or
//!   `AWS_ENDPOINT_URL`, else the region's public one.
//! - **Centralized sampling**: while forwarding, the sampling API passes `GetSamplingRules` and
//!   `GetSamplingTargets` on to X-Ray, signed ([`sampling::XrayProxy`]); without forwarding it serves local rules.
//! - **A drop-in for the X-Ray daemon**: its flags `-b`/`--bind`, `-t`/`--bind-tcp`, `-n`/`--region`,
//!   `-m`/`--buffer-memory`, `-o`/`--local-mode`, `-r`/`--role-arn`, `-l`/`--log-level`, `-f`/`--log-file` and
//!   `-c`/`--config` (its YAML file, every key of version 2: [`cli::config_file`]) work, and `xray` given options
//!   but no subcommand runs as that daemon does (`xray -o -n us-east-2` is `xray daemon --forward --no-store -o
//!   -n us-east-2`: forwarding, keeping no traces; `not_stored` in `/api/stats` counts what was only forwarded). What this daemon does not do (`-a`/`ResourceARN`, `-p`/`ProxyAddress`, `NoVerifySSL: true`)
//!   is refused with the reason, never ignored.
//!
//! `packaging/` holds a `Dockerfile` and a systemd unit.
//!
//! ```no_run
//! # async fn run() -> Result<(), xray_daemon::Error> {
//! use xray_daemon::forward::ForwardConfig;
//! use xray_daemon::{Config, Daemon};
//!
//! let mut forward = ForwardConfig::new("us-east-1", "AKIDEXAMPLE", "secret");
//! forward.endpoint = Some("http://127.0.0.1:4566".to_owned()); // a local X-Ray API, e.g. moto
//! let daemon = Daemon::start(Config { forward: Some(forward), ..Config::ephemeral() }).await?;
//! println!("{:?}", daemon.stats().forward);
//! # Ok(()) }
//! ```
//!
//! # Features
//! | feature | default | what |
//! |---|---|---|
//! | `tls` | on | HTTPS (rustls with ring) for forwarding to AWS; without it `--forward` reaches only `http://` endpoints |
//!
//! # What a crash loses
//! A clean stop ([`DaemonHandle::shutdown`], SIGINT, SIGTERM) writes everything received. A crash of the daemon
//! (`kill -9`) loses what was received and not yet committed: at most what arrived within
//! [`Config::max_write_delay`] (500 ms by default). A power cut may also lose the last commits the operating system
//! had not written out (the store does not `fsync`).
//!
//! # Under load
//! Every filter of `GET /api/traces` is served by an index, and `GET /api/stats` reads counts the store keeps
//! rather than counting. Each store query runs within a time limit ([`Config::query_timeout`],
//! `--query-timeout`, 5 s by default): past it, the query stops and the API answers `503` with a JSON error,
//! and the next query runs as usual. A trace comes from `GET /api/traces/{trace_id}` in pages of at most 4 MiB of
//! documents (`?offset=`, see [`api::traces::TraceDetail`]), each document sent once with its place in the
//! trace's trees. The HTTP listeners' timeouts and connection limit ([`Config::http_limits`]) and the write delay
//! ([`Config::max_write_delay`]) have flags too: `--http-header-timeout`, `--http-idle-timeout`,
//! `--http-max-connections`, `--max-write-delay`.
//!
//! # Layout
//! | module | what |
//! |---|---|
//! | [`ingest`] | the UDP receive loop, framing, validation, extraction of indexed fields |
//! | [`store`] | SQLite: the batched writer, queries, retention |
//! | [`trace`] | assembly of a trace's documents into trees |
//! | [`map`] | the service map computed from traces |
//! | [`sampling`] | the sampling API on the TCP address: rules from a local rules file, reservoir targets |
//! | [`forward`] | forwarding to AWS X-Ray's `PutTraceSegments` (`--forward`) |
//! | [`api`] | the JSON API and the serving of HTTP listeners |
//! | [`viewer`] | the web pages, with their assets embedded |
//! | [`cli`] | the `xray` command |
//!
//! # Concurrency
//! Three threads ingest: the receive loop (never waits for the store; a memory budget bounds its queue, each
//! datagram charged what it really costs, and no datagram waits more than [`Config::max_write_delay`] to be
//! written: what does not fit is dropped and counted), a processing thread (framing, JSON, validation) and the store's writer
//! (one transaction per batch). The HTTP servers run on the Tokio runtime that called [`Daemon::start`], and run
//! store queries on its blocking pool. Forwarding runs as tasks on the same runtime, fed by the processing thread
//! without ever blocking it.

pub mod api;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod demo;
pub mod error;
pub mod forward;
// The checks of the fuzz targets (`fuzz/`), for them and for the tests that replay what they found.
#[cfg(any(test, fuzzing))]
#[doc(hidden)]
pub mod fuzzing;
pub mod ingest;
pub mod map;
pub mod sampling;
pub mod stats;
pub mod store;
pub mod trace;
pub mod viewer;

pub use config::{Config, Retention, StoreLocation};
pub use daemon::{Daemon, DaemonHandle};
pub use error::Error;
pub use stats::StatsSnapshot;
pub use store::Store;
