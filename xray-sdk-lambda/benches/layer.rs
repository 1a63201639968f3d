//! The cost `XrayLambdaLayer` adds to one invocation, as a ratio against the same function without it.
//!
//! ```sh
//! cargo bench -p xray-sdk-lambda --bench layer              # 7 rounds of 200 000 invocations per variant
//! cargo bench -p xray-sdk-lambda --bench layer -- 11 500000  # 11 rounds of 500 000
//! ```
//!
//! Each invocation calls the tower service in-process (no Runtime API, no sockets) with a `LambdaEvent` as
//! `lambda_runtime` makes it, and polls the handler's future, which completes at once. The variants run
//! interleaved, round after round, so that other work on the machine weighs on all of them alike, and the median
//! round is reported:
//! - `baseline`: the handler alone (`{"n": N}` → `{"n": N}`);
//! - `xray sampled`: the layer, `Sampled=1`: a facade and the invocation's subsegment (with a `work` subsegment
//!   the handler records), encoded into its datagram as the UDP emitters do, but not sent: the syscall of one
//!   loopback datagram (a few µs on a small virtual machine) is the kernel's cost, not the SDK's;
//! - `xray unsampled`: the layer, `Sampled=0`: the cost of the layer alone.

#![allow(clippy::expect_used)]

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};
use std::time::{Duration, Instant};

use lambda_runtime::{Config, Context, LambdaEvent, Service, service_fn};
use serde_json::{Value, json};
use tower_layer::Layer;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::Emitter;
use xray_sdk_core::types::Document;
use xray_sdk_lambda::XrayLambdaLayer;

/// Encodes each document into its datagrams, as the UDP emitters do, and drops them.
#[derive(Debug)]
struct EncodeOnly;

impl Emitter for EncodeOnly {
    fn emit(&self, document: Box<Document>) {
        let mut buf = Vec::with_capacity(1024);
        xray_sdk_core::emitter::encode::encode(document, 65_000, &mut buf, &mut |d| {
            black_box(d);
        });
    }
}

async fn plain(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    Ok(json!({ "n": event.payload["n"] }))
}

async fn traced(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    if let Ok(work) = xray_sdk_core::global().begin_subsegment("work") {
        work.put_annotation("n", event.payload["n"].as_i64().unwrap_or(0));
    }
    Ok(json!({ "n": event.payload["n"] }))
}

fn event(trace: &str) -> LambdaEvent<Value> {
    let mut context = Context::default();
    context.request_id = "8476a536-e9f4-11e8-9739-2dfe598c3fcd".to_owned();
    context.xray_trace_id = Some(trace.to_owned());
    context.env_config = Arc::new(Config {
        function_name: "bench-fn".to_owned(),
        ..Config::default()
    });
    LambdaEvent::new(json!({ "n": 3 }), context)
}

/// Calls the service `n` times, each future polled to completion, and returns the time per invocation.
fn run<S>(service: &mut S, template: &LambdaEvent<Value>, n: u32) -> Duration
where
    S: Service<LambdaEvent<Value>, Response = Value>,
    S::Error: std::fmt::Debug,
{
    let mut cx = TaskContext::from_waker(Waker::noop());
    let start = Instant::now();
    for _ in 0..n {
        let event = LambdaEvent::new(template.payload.clone(), template.context.clone());
        let mut future = pin!(service.call(event));
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(v)) => {
                black_box(v);
            }
            other => panic!("the handler did not complete: {other:?}"),
        }
    }
    start.elapsed() / n
}

fn main() {
    let args: Vec<u32> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = args.first().copied().unwrap_or(7).max(1);
    let n = args.get(1).copied().unwrap_or(200_000).max(1);

    let recorder = Recorder::builder()
        .env(MapEnv::new([("AWS_LAMBDA_FUNCTION_NAME", "bench-fn")]))
        .emitter(EncodeOnly)
        .build()
        .expect("recorder");
    // The handler's own subsegment uses the global recorder: make it this one.
    let _installed = xray_sdk_core::install(recorder.clone()).expect("the global recorder");
    let layer = XrayLambdaLayer::new()
        .recorder(recorder)
        .env(MapEnv::default());
    let sampled =
        event("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1");
    let unsampled =
        event("Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0");

    let mut baseline = service_fn(plain);
    let mut baseline_traced = service_fn(traced);
    let mut layered = layer.clone().layer(service_fn(traced));
    let mut layered_unsampled = layer.layer(service_fn(traced));

    let mut times: [Vec<Duration>; 3] = Default::default();
    for _ in 0..rounds {
        times[0].push(run(&mut baseline, &sampled, n));
        // Without the layer, the traced handler finds no current entity and records nothing: the same work as
        // `plain` plus a context look-up. Run it too so that the three share the machine's state alike.
        black_box(run(&mut baseline_traced, &unsampled, n / 10));
        times[1].push(run(&mut layered, &sampled, n));
        times[2].push(run(&mut layered_unsampled, &unsampled, n));
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let base = median(&mut times[0]);
    println!("{rounds} rounds of {n} invocations; median round, per invocation:");
    println!("  baseline        {:>9.0} ns", base.as_nanos() as f64);
    for (name, i) in [("xray sampled", 1), ("xray unsampled", 2)] {
        let t = median(&mut times[i]);
        println!(
            "  {name:<15} {:>9.0} ns   {:.2}x the baseline (+{:.0} ns)",
            t.as_nanos() as f64,
            t.as_secs_f64() / base.as_secs_f64(),
            t.as_nanos() as f64 - base.as_nanos() as f64
        );
    }
}
