//! Requests per second of an axum hello-world service, with and without `XrayHttpLayer`, under load from a second
//! process on loopback, and the CPU time the serving process spends per request.
//!
//! ```sh
//! cargo bench -p xray-sdk-tower --bench axum_throughput            # 6 rounds of 2 s per variant
//! cargo bench -p xray-sdk-tower --bench axum_throughput -- 10 3    # 10 rounds of 3 s
//! ```
//!
//! This process serves (one tokio worker thread) and drains the UDP "daemon" socket the layered variants send to;
//! the load generator is this same binary started again as a child process with `--load`, driving 16 keep-alive
//! HTTP/1.1 connections on one thread. The CPU per request is this process's (service and receiver, from
//! `/proc/self/stat`) over each run, divided by the requests answered: on a shared virtual machine whose speed
//! drifts between runs, it separates the variants far more clearly than the throughput does. The variants run
//! interleaved, round after round, so that other work on the machine weighs on all of them alike:
//! - `baseline`: no layer;
//! - `identity layer`: `Router::layer(Identity)`, a layer that does nothing. axum serves a router without any layer
//!   by another path, which measures markedly slower over sockets here; this is the baseline that compares like
//!   with like;
//! - `xray 100%`: the layer, every request sampled and sent over UDP;
//! - `xray default rule`: the layer with the SDK's default sampler on its local default rule (a reservoir of 1
//!   request per second, then 5%);
//! - `xray 0%`: the layer, nothing sampled: the cost of the layer alone;
//! - `udp send`: no layer, but the handler sends a copy of a segment the layer sent to the same socket, with a
//!   plain `send` per request as the other X-Ray SDKs do: what delivering one document per request costs with no
//!   recording at all, to set `xray 100%` against;
//! - `udp send 1 in 20`: the same for one request in 20, about the share the default rule samples at these
//!   rates, to set `xray default rule` against.
//!
//! Before the socket runs, each variant's router is also called in-process (no sockets) to show the cost the
//! layer adds to one request, free of the network's noise. `XRAY_BENCH_ONLY=<variant>` runs that part for one
//! variant only (with `-- 0`, nothing else; `XRAY_BENCH_REQUESTS=<n>` sets how many requests), and puts only that
//! variant and the baseline under load: for a profiler.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{SocketAddr, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::get;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::sampling::{AlwaysSample, NeverSample, SharedSampler};
use xray_sdk_tower::XrayHttpLayer;

const CONNECTIONS: usize = 16;

fn app(recorder: Option<Recorder>) -> Router {
    let router = Router::new().route("/hello", get(|| async { "Hello, World!" }));
    match recorder {
        Some(r) => router.layer(XrayHttpLayer::with_recorder(r)),
        None => router,
    }
}

/// A recorder sending to `daemon`, sampling with `sampler`, or by the default local rule (1 request a second,
/// then 5%) when it is `None`.
fn recorder(daemon: SocketAddr, sampler: Option<SharedSampler>) -> Recorder {
    let builder = Recorder::builder()
        .env(MapEnv::default())
        .service_name("bench")
        .daemon_address(daemon.to_string())
        .centralized_sampling(false);
    match sampler {
        Some(s) => builder.shared_sampler(s),
        None => builder,
    }
    .build()
    .unwrap()
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.first().map(String::as_str) == Some("--load") {
        let addr: SocketAddr = args[1].parse().unwrap();
        let seconds: f64 = args[2].parse().unwrap();
        load(addr, Duration::from_secs_f64(seconds));
        return;
    }
    let rounds: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(6);
    let seconds: f64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(2.0);

    // The daemon: a socket that counts what it receives, and keeps the last datagram.
    let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
    let daemon_addr = daemon.local_addr().unwrap();
    let datagrams = Arc::new(AtomicU64::new(0));
    let last_datagram = Arc::new(Mutex::new(Vec::new()));
    {
        let datagrams = datagrams.clone();
        let last_datagram = last_datagram.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 65_536];
            while let Ok(n) = daemon.recv(&mut buf) {
                if datagrams
                    .fetch_add(1, Ordering::Relaxed)
                    .is_multiple_of(1024)
                {
                    *last_datagram.lock().unwrap() = buf[..n].to_vec();
                }
            }
        });
    }

    let variants: Vec<(&str, Router)> = vec![
        ("baseline", app(None)),
        (
            "identity layer",
            app(None).layer(tower_layer::Identity::new()),
        ),
        (
            "xray 100%",
            app(Some(recorder(daemon_addr, Some(Arc::new(AlwaysSample))))),
        ),
        ("xray default rule", app(Some(recorder(daemon_addr, None)))),
        (
            "xray 0%",
            app(Some(recorder(daemon_addr, Some(Arc::new(NeverSample))))),
        ),
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut servers = Vec::new();
    for (name, router) in &variants {
        let router = router.clone();
        let addr = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
            addr
        });
        servers.push((*name, addr));
    }

    in_process(&runtime, &variants);
    if rounds == 0 {
        return;
    }
    // A real segment, as the layer sent it during the in-process run, sent again per request (or for one
    // request in 20, the share the default rule samples).
    let segment = Arc::new(last_datagram.lock().unwrap().clone());
    if segment.is_empty() {
        println!("(no segment was sent in-process: the udp send variants are left out)");
    } else {
        for (name, every) in [("udp send", 1), ("udp send 1 in 20", 20)] {
            let router = plain_send(daemon_addr, segment.clone(), every);
            servers.push((
                name,
                runtime.block_on(async {
                    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = listener.local_addr().unwrap();
                    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
                    addr
                }),
            ));
        }
    }

    // `XRAY_BENCH_ONLY=<name>` also keeps only that variant (beside the baseline) under load, for a profiler.
    if let Ok(only) = std::env::var("XRAY_BENCH_ONLY") {
        servers.retain(|(name, _)| *name == only || *name == "baseline");
    }
    let exe = std::env::current_exe().unwrap();
    println!(
        "axum hello-world, {CONNECTIONS} connections from a second process, {seconds} s per run, {rounds} rounds"
    );
    let mut results: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); servers.len()];
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        // Rotate the order, so that no variant always runs right after another one's load.
        let order: Vec<usize> = (0..servers.len())
            .map(|k| (k + round) % servers.len())
            .collect();
        for i in order {
            let (name, addr) = &servers[i];
            let before = datagrams.load(Ordering::Relaxed);
            let cpu_before = process_cpu_micros();
            let output = Command::new(&exe)
                .args(["--load", &addr.to_string(), &seconds.to_string()])
                .stderr(Stdio::inherit())
                .output()
                .unwrap();
            let stdout = String::from_utf8_lossy(&output.stdout);
            let mut figures = stdout.split_whitespace();
            let rps: f64 = figures.next().unwrap().parse().unwrap();
            let requests: f64 = figures.next().unwrap().parse().unwrap();
            // Time for the receiver to take in what is still in flight: its work belongs to this run.
            std::thread::sleep(Duration::from_millis(200));
            let sent = datagrams.load(Ordering::Relaxed) - before;
            results[i].push(rps);
            line.push_str(&format!("  {name} {rps:.0} req/s ({sent} datagrams"));
            if let (Some(b), Some(a)) = (cpu_before, process_cpu_micros()) {
                let per_request = (a - b) / requests;
                cpu[i].push(per_request);
                line.push_str(&format!(", {per_request:.2} µs CPU"));
            }
            line.push_str(");");
        }
        println!("{line}");
    }
    // Medians: on a shared machine a single round can be hit by someone else's build.
    let median = |v: &[f64]| {
        let mut v = v.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        }
    };
    let baseline = median(&results[0]);
    for (i, (name, _)) in servers.iter().enumerate() {
        let m = median(&results[i]);
        let ratios: Vec<f64> = results[i]
            .iter()
            .zip(&results[0])
            .map(|(r, b)| 100.0 * r / b)
            .collect();
        println!(
            "{name:>12}: median {m:.0} req/s = {:.1}% of the baseline's median; median of per-round ratios {:.1}%",
            100.0 * m / baseline,
            median(&ratios)
        );
    }
    // The server's CPU per request (the receiver's included), which a busy or throttled machine disturbs far
    // less than the throughput.
    if cpu.iter().all(|c| !c.is_empty()) {
        let base = median(&cpu[0]);
        println!(
            "server CPU per request (this process: the service and the UDP receiver; medians):"
        );
        for (i, (name, _)) in servers.iter().enumerate() {
            let m = median(&cpu[i]);
            println!("{name:>12}: {m:.2} µs ({:+.2} µs)", m - base);
        }
    }
    let by_name = |name: &str| {
        servers
            .iter()
            .position(|(n, _)| *n == name)
            .map(|i| median(&results[i]))
    };
    if let (Some(xray), Some(plain)) = (by_name("xray 100%"), by_name("udp send")) {
        println!(
            "xray 100% serves {:.1}% of the requests a service that only sends each request's datagram serves",
            100.0 * xray / plain
        );
    }
    if let (Some(xray), Some(plain)) = (by_name("xray default rule"), by_name("udp send 1 in 20")) {
        println!(
            "xray default rule serves {:.1}% of the requests a service that only sends the datagram of one request in 20 serves",
            100.0 * xray / plain
        );
    }
}

/// A hello-world service whose handler, with no layer, sends a copy of `segment` to `daemon` for one request in
/// `every`, with a plain `send` as the other X-Ray SDKs do.
fn plain_send(daemon: SocketAddr, segment: Arc<Vec<u8>>, every: u64) -> Router {
    let socket = Arc::new(UdpSocket::bind("127.0.0.1:0").unwrap());
    socket.connect(daemon).unwrap();
    let count = Arc::new(AtomicU64::new(0));
    Router::new().route(
        "/hello",
        get(move || {
            if count.fetch_add(1, Ordering::Relaxed).is_multiple_of(every) {
                let _ = socket.send(&segment);
            }
            async { "Hello, World!" }
        }),
    )
}

/// The cost of one request through each variant's `Router`, called in-process (no sockets): what the layer adds
/// to every request, free of the network's noise.
fn in_process(runtime: &tokio::runtime::Runtime, variants: &[(&str, Router)]) {
    use http_body_util::BodyExt;
    use tower_service::Service;

    const N: u32 = 200_000;
    let mut line = String::from("in-process, per request:");
    let mut base = 0.0;
    // `XRAY_BENCH_ONLY=<name>` runs one variant ten times longer, for a profiler.
    let only = std::env::var("XRAY_BENCH_ONLY").ok();
    let n = match std::env::var("XRAY_BENCH_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
    {
        Some(n) => n,
        None if only.is_some() => 10 * N,
        None => N,
    };
    for (i, (name, router)) in variants.iter().enumerate() {
        if only.as_deref().is_some_and(|o| o != *name) {
            continue;
        }
        let mut router = router.clone();
        let elapsed = runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..n {
                let request = http::Request::get("/hello")
                    .header("host", "bench.local")
                    .body(axum::body::Body::empty())
                    .unwrap();
                let response = router.call(request).await.unwrap();
                response.into_body().collect().await.unwrap();
            }
            start.elapsed()
        });
        let ns = elapsed.as_nanos() as f64 / f64::from(n);
        if i == 0 {
            base = ns;
            line.push_str(&format!("  {name} {ns:.0} ns;"));
        } else {
            line.push_str(&format!("  {name} {ns:.0} ns (+{:.0} ns);", ns - base));
        }
    }
    println!("{line}");
}

/// The load generator: keep-alive connections sending `GET /hello` as fast as answers come, for `duration` after a
/// short warm-up; prints requests per second after the warm-up, and the requests answered in all.
fn load(addr: SocketAddr, duration: Duration) {
    use http_body_util::{BodyExt, Empty};
    use hyper::body::Bytes;
    use hyper_util::rt::TokioIo;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let count = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(0));
    let warmup = Duration::from_millis(300);
    runtime.block_on(async {
        let start = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..CONNECTIONS {
            let count = count.clone();
            let total = total.clone();
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let (mut sender, conn) =
                    hyper::client::conn::http1::handshake(TokioIo::new(stream))
                        .await
                        .unwrap();
                tokio::spawn(conn);
                while start.elapsed() < warmup + duration {
                    let request = http::Request::get("/hello")
                        .header("host", "bench.local")
                        .body(Empty::<Bytes>::new())
                        .unwrap();
                    sender.ready().await.unwrap();
                    let response = sender.send_request(request).await.unwrap();
                    response.into_body().collect().await.unwrap();
                    total.fetch_add(1, Ordering::Relaxed);
                    if start.elapsed() > warmup {
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
    });
    println!(
        "{} {}",
        count.load(Ordering::Relaxed) as f64 / duration.as_secs_f64(),
        total.load(Ordering::Relaxed)
    );
}

/// The CPU time this process (the server and the UDP receiver) has used, from `/proc/self/stat`, in
/// microseconds (at the clock tick's 10 ms resolution); `None` where there is no such file.
fn process_cpu_micros() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    // utime and stime, the 14th and 15th fields of the line.
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 1e6 / 100.0)
}
