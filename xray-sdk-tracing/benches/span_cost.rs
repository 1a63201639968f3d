//! The cost of one span: `tracing` with no layer, with `XrayLayer` (sampled, unsampled, outside any trace), and
//! with OpenTelemetry's `tracing` bridge exporting through `opentelemetry-aws`'s X-Ray exporter, in one run.
//!
//! ```sh
//! cargo bench -p xray-sdk-tracing --bench span_cost                 # 2,000 traces a round, 15 rounds
//! cargo bench -p xray-sdk-tracing --bench span_cost -- 5000 20      # 5,000 traces a round, 20 rounds
//! ```
//!
//! The workload is one trace: a root span with 10 child spans, each with two fields (`xray.n`, an annotation
//! for X-Ray, and `item`), entered and closed in turn, on one thread. Both sampled variants send their
//! documents over UDP to a socket of this process that drains them: `XrayLayer` through the SDK's UDP emitter
//! (root spans begin segments, every trace sampled), OpenTelemetry through its batch span processor and
//! `XrayDaemonClient`. Each one does part of its work on a thread of its own (the emitter's sender, the batch
//! processor), so two figures are given: the wall time on the calling thread, and the CPU time of the whole
//! process (all its threads, the draining socket's included), both per span and as a ratio to `no layer`. `a
//! layer doing nothing` shows what `tracing_subscriber` itself adds as soon as there is any layer. Variants run interleaved, round after round, so that
//! other work on a shared machine weighs on all alike; the figures are medians over rounds. Heap allocations
//! are counted per span over the whole process.

#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::net::UdpSocket;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_aws::trace::XrayIdGenerator;
use opentelemetry_aws::xray_exporter::XrayExporter;
use opentelemetry_aws::xray_exporter::daemon_client::XrayDaemonClient;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Dispatch;
use tracing_subscriber::layer::SubscriberExt;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::sampling::{AlwaysSample, NeverSample};
use xray_sdk_tracing::XrayLayer;

/// Counts heap allocations.
struct Counting;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards to the system allocator unchanged.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's layout, passed on.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's pointer and layout, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's pointer, layout and size, passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const SPANS_PER_TRACE: u64 = 11;

/// One trace: a root span and 10 children with two fields each.
#[inline(never)]
fn trace() {
    let root = tracing::info_span!("checkout").entered();
    for n in 0..10u64 {
        let _child = tracing::info_span!("step", xray.n = n, item = "book").entered();
    }
    drop(root);
}

/// The CPU time of this process's threads so far, from `/proc/self/task/*/schedstat` (nanoseconds; the
/// threads of this benchmark live until it ends).
fn process_cpu() -> Duration {
    let nanos: u64 = std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
                .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
                .sum()
        })
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// A layer that does nothing: what any layer costs `tracing_subscriber`'s registry.
struct NoopLayer;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for NoopLayer {}

struct Variant {
    name: &'static str,
    dispatch: Dispatch,
    /// Waits until what the variant sends has left (so that its background work is counted in its round).
    settle: Box<dyn Fn()>,
    wall: Vec<f64>,
    cpu: Vec<f64>,
    allocations: Vec<f64>,
}

fn variant(name: &'static str, dispatch: Dispatch, settle: Box<dyn Fn()>) -> Variant {
    Variant {
        name,
        dispatch,
        settle,
        wall: Vec::new(),
        cpu: Vec::new(),
        allocations: Vec::new(),
    }
}

fn median(values: &[f64]) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

fn recorder(port: u16, sampled: bool) -> Recorder {
    let builder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("bench")
        .daemon_address(format!("127.0.0.1:{port}"));
    let builder = if sampled {
        builder.sampler(AlwaysSample)
    } else {
        builder.sampler(NeverSample)
    };
    builder.build().unwrap()
}

fn main() {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let traces = args.first().copied().unwrap_or(2_000);
    let rounds = args.get(1).copied().unwrap_or(15);

    // The "daemon": a socket that drains and counts what both sampled variants send.
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = daemon.local_addr().unwrap().port();
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    {
        let (received, stop) = (received.clone(), stop.clone());
        daemon
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while !stop.load(Ordering::Relaxed) {
                if daemon.recv(&mut buf).is_ok() {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    let sampled = recorder(port, true);
    let unsampled = recorder(port, false);
    let provider = SdkTracerProvider::builder()
        .with_id_generator(XrayIdGenerator::default())
        .with_batch_exporter(XrayExporter::new(
            XrayDaemonClient::new(([127, 0, 0, 1], port).into()).unwrap(),
        ))
        .build();
    let tracer = provider.tracer("bench");

    let sampled_flush = sampled.clone();
    let otel_flush = provider.clone();
    let mut variants = vec![
        variant(
            "no layer",
            Dispatch::new(tracing_subscriber::registry()),
            Box::new(|| {}),
        ),
        variant(
            "a layer doing nothing",
            Dispatch::new(tracing_subscriber::registry().with(NoopLayer)),
            Box::new(|| {}),
        ),
        variant(
            "xray sampled",
            Dispatch::new(
                tracing_subscriber::registry()
                    .with(XrayLayer::builder().root_segments(sampled.clone()).build()),
            ),
            Box::new(move || {
                sampled_flush.flush(Duration::from_secs(10));
            }),
        ),
        variant(
            "xray unsampled",
            Dispatch::new(
                tracing_subscriber::registry().with(
                    XrayLayer::builder()
                        .root_segments(unsampled.clone())
                        .build(),
                ),
            ),
            Box::new(|| {}),
        ),
        variant(
            "xray, no trace",
            Dispatch::new(tracing_subscriber::registry().with(XrayLayer::new())),
            Box::new(|| {}),
        ),
        variant(
            "otel + aws xray exporter",
            Dispatch::new(
                tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(tracer)),
            ),
            Box::new(move || {
                let _ = otel_flush.force_flush();
            }),
        ),
    ];

    // Warm up every variant once.
    for v in &variants {
        tracing::dispatcher::with_default(&v.dispatch, || {
            for _ in 0..traces / 10 + 1 {
                trace();
            }
        });
        (v.settle)();
    }

    let spans = (traces * SPANS_PER_TRACE) as f64;
    for _ in 0..rounds {
        for v in &mut variants {
            let allocations = ALLOCATIONS.load(Ordering::Relaxed);
            let cpu = process_cpu();
            let start = Instant::now();
            tracing::dispatcher::with_default(&v.dispatch, || {
                for _ in 0..traces {
                    trace();
                }
            });
            let wall = start.elapsed();
            (v.settle)();
            let cpu = process_cpu().saturating_sub(cpu);
            v.wall.push(wall.as_nanos() as f64 / spans);
            v.cpu.push(cpu.as_nanos() as f64 / spans);
            v.allocations
                .push((ALLOCATIONS.load(Ordering::Relaxed) - allocations) as f64 / spans);
        }
    }

    println!(
        "{traces} traces of {SPANS_PER_TRACE} spans a round, {rounds} rounds; medians per span"
    );
    println!(
        "{:<26} {:>12} {:>8} {:>14} {:>8} {:>12}",
        "variant", "wall ns", "ratio", "process cpu ns", "ratio", "allocations"
    );
    let (base_wall, base_cpu) = (median(&variants[0].wall), median(&variants[0].cpu));
    for v in &variants {
        let (wall, cpu) = (median(&v.wall), median(&v.cpu));
        println!(
            "{:<26} {:>12.0} {:>8.2} {:>14.0} {:>8.2} {:>12.2}",
            v.name,
            wall,
            wall / base_wall,
            cpu,
            cpu / base_cpu,
            median(&v.allocations)
        );
    }
    println!("datagrams received: {}", received.load(Ordering::Relaxed));
    stop.store(true, Ordering::Relaxed);
    let _ = provider.shutdown();
}
