//! A service instrumented with `tracing` alone, traced by X-Ray: `#[instrument]`ed functions and spans become
//! subsegments, and log lines carry the trace id. Sends to `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000)
//! and prints the trace id.
//!
//! `cargo run -p xray-sdk --features tracing --example tracing_bridge`

use std::error::Error;
use std::time::Duration;

use tracing::{Instrument, info_span, instrument};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use xray_sdk::tracing_bridge::{XrayFormat, XrayLayer};
use xray_sdk::{FutureExt, Recorder};

#[instrument(fields(order_id = 42))]
async fn checkout() {
    validate();
    // Two tasks that run concurrently, each in a span under `checkout`.
    let first = tokio::spawn(reserve("book").in_current_span());
    let second = tokio::spawn(reserve("pen").in_current_span());
    let _ = tokio::join!(first, second);
    async {
        tokio::time::sleep(Duration::from_millis(3)).await;
        tracing::error!(error = "card declined", "payment failed");
    }
    .instrument(info_span!("charge"))
    .await;
}

#[instrument]
fn validate() {
    tracing::debug!("the cart is valid");
}

#[instrument]
async fn reserve(item: &'static str) {
    tokio::time::sleep(Duration::from_millis(5)).await;
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn Error>> {
    tracing_subscriber::registry()
        .with(XrayLayer::builder().annotation("order_id").build())
        .with(tracing_subscriber::fmt::layer().event_format(XrayFormat::default()))
        .try_init()?;

    let recorder = Recorder::builder()
        .service_name("tracing-example")
        .build()?;
    let segment = recorder
        .segment("tracing-example")
        .sampled(true)
        .begin_detached();
    let trace_id = segment.trace_id();
    checkout().in_entity(segment.entity().clone()).await;
    async { tracing::info!("order placed") }
        .in_entity(segment.entity().clone())
        .await;
    segment.end();

    let sent = recorder.flush(Duration::from_secs(5));
    println!("trace {trace_id} sent: {sent}");
    Ok(())
}
