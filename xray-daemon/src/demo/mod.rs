//! `xray demo`: the daemon, three instrumented services chained over HTTP, traffic through them, and the
//! resulting traces printed as trees.
//!
//! The daemon runs in this process on its usual addresses (UDP and TCP 127.0.0.1:2000, viewer and API on
//! 127.0.0.1:2001), or on free ports when those are taken. The services — `storefront` (axum) calling
//! `inventory` (actix-web) calling `pricing` (axum, with a SQLite query) through reqwest — are traced with the
//! SDK and send their segments to the daemon. Four checkouts go through them: two that succeed, one for an item
//! that does not exist (a 404, recorded as an error) and one that fails in the pricing service (a 500,
//! recorded as a fault with its error). Then the traces are printed. With `--once` the command exits;
//! otherwise it keeps running, with a new checkout every few seconds, until interrupted.

mod services;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::Args;
use xray_sdk::Recorder;
use xray_sdk::sampling::AlwaysSample;

use crate::api::traces::TraceList;
use crate::cli::http::{get_json, get_trace};
use crate::cli::tree;
use crate::config::Config;
use crate::daemon::{Daemon, DaemonHandle};

/// The checkouts the demo makes, and how each ends.
const CHECKOUTS: [(&str, u16); 4] = [("tea", 200), ("mug", 200), ("unicorn", 404), ("crash", 500)];

/// Options of `xray demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Print the traces and exit, instead of running until interrupted.
    #[arg(long)]
    pub once: bool,
    /// The viewer and JSON API address.
    #[arg(long, default_value = "127.0.0.1:2001")]
    pub api_address: SocketAddr,
    /// The UDP (and sampling TCP) address for segments.
    #[arg(long, default_value = "127.0.0.1:2000")]
    pub udp_address: SocketAddr,
}

/// Runs the demo.
pub fn run(args: DemoArgs) -> ExitCode {
    let runtime = match crate::cli::runtime() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("xray demo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(async move {
        match demo(args).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xray demo: {e}");
                ExitCode::FAILURE
            }
        }
    })
}

async fn start_daemon(args: &DemoArgs) -> Result<DaemonHandle, String> {
    let config = Config {
        udp_address: args.udp_address,
        api_address: args.api_address,
        ..Config::ephemeral()
    };
    match Daemon::start(config).await {
        Ok(daemon) => Ok(daemon),
        Err(e) => {
            println!("The usual addresses are taken ({e}); using free ports instead.");
            Daemon::start(Config::ephemeral())
                .await
                .map_err(|e| e.to_string())
        }
    }
}

fn recorder(service: &str, daemon: &DaemonHandle) -> Result<Recorder, String> {
    Recorder::builder()
        .env(xray_sdk::config::MapEnv::default())
        .service_name(service)
        .daemon_address(daemon.udp_address().to_string())
        // Every request is recorded, so that the demo shows all of them.
        .sampler(AlwaysSample)
        .build()
        .map_err(|e| e.to_string())
}

async fn checkout(
    client: &reqwest::Client,
    storefront: SocketAddr,
    item: &str,
) -> Result<u16, String> {
    let response = client
        .get(format!("http://{storefront}/checkout?item={item}"))
        .send()
        .await
        .map_err(|e| format!("GET /checkout?item={item}: {e}"))?;
    Ok(response.status().as_u16())
}

async fn demo(args: DemoArgs) -> Result<(), String> {
    let daemon = start_daemon(&args).await?;
    let api = daemon.api_address().to_string();
    let recorders = [
        recorder("storefront", &daemon)?,
        recorder("inventory", &daemon)?,
        recorder("pricing", &daemon)?,
    ];
    let [storefront, inventory, pricing] = recorders.clone();
    let services = services::start(storefront, inventory, pricing)
        .await
        .map_err(|e| format!("cannot start the demo services: {e}"))?;
    println!(
        "Daemon: segments on udp://{}, viewer on http://{}/",
        daemon.udp_address(),
        api
    );
    println!(
        "Services: storefront (axum) http://{} -> inventory (actix-web) http://{} -> pricing (axum + SQLite) http://{}",
        services.storefront, services.inventory, services.pricing
    );

    let client = reqwest::Client::new();
    let mut trace_ids = Vec::new();
    for (item, expected) in CHECKOUTS {
        let status = checkout(&client, services.storefront, item).await?;
        println!("GET /checkout?item={item} -> {status}");
        if status != expected {
            return Err(format!(
                "checkout of {item} answered {status}, expected {expected}"
            ));
        }
    }
    for recorder in &recorders {
        recorder.flush(Duration::from_secs(5));
    }
    // Each checkout leaves three segments: storefront, inventory and pricing.
    let deadline = Instant::now() + Duration::from_secs(15);
    let list = loop {
        let list = fetch::<TraceList>(&api, "/api/traces?limit=100").await?;
        let complete = list.traces.iter().filter(|t| t.segments >= 3).count();
        if complete >= CHECKOUTS.len() {
            break list;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "only {complete} of {} traces arrived complete",
                CHECKOUTS.len()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for summary in list.traces.iter().rev() {
        let (base, id) = (api.clone(), summary.id.clone());
        let detail =
            tokio::task::spawn_blocking(move || get_trace(&base, &id, Duration::from_secs(5)))
                .await
                .map_err(|e| e.to_string())?
                .map_err(|e| e.to_string())?;
        println!();
        print!("{}", tree::render(&detail));
        trace_ids.push(summary.id.clone());
    }
    let stats = daemon.stats();
    println!();
    println!(
        "{} traces, {} documents stored, {} invalid. Open http://{api}/ to see them in the viewer.",
        trace_ids.len(),
        stats.stored,
        stats.invalid_total
    );

    if args.once {
        for recorder in &recorders {
            recorder.shutdown(Duration::from_secs(1));
        }
        daemon.shutdown().await.map_err(|e| e.to_string())?;
        return Ok(());
    }
    println!("Running until interrupted (Ctrl-C); a new checkout every 3 seconds.");
    let mut tick = tokio::time::interval(Duration::from_secs(3));
    let mut n = 0usize;
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => break,
            _ = tick.tick() => {
                let (item, _) = CHECKOUTS[n % CHECKOUTS.len()];
                n += 1;
                if let Err(e) = checkout(&client, services.storefront, item).await {
                    log::warn!("{e}");
                }
            }
        }
    }
    for recorder in &recorders {
        recorder.shutdown(Duration::from_secs(1));
    }
    daemon.shutdown().await.map_err(|e| e.to_string())?;
    Ok(())
}

async fn fetch<T: serde::de::DeserializeOwned + Send + 'static>(
    api: &str,
    path: &str,
) -> Result<T, String> {
    let (api, path) = (api.to_owned(), path.to_owned());
    tokio::task::spawn_blocking(move || get_json::<T>(&api, &path, Duration::from_secs(5)))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}
