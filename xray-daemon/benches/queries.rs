//! Query benchmark: the filters of `GET /api/traces` and the counts of `GET /api/stats` on a file store of many
//! traces.
//!
//! `cargo bench -p xray-daemon --bench queries` fills a file store through the daemon (UDP on loopback), then
//! times each query. Environment: `BENCH_TRACES` (default 200,000), `BENCH_DB` (a store file to reuse: filled
//! when missing, kept afterwards; default a temporary file, removed), `BENCH_RUNS` (default 5: the median is
//! printed).
//!
//! Each trace has a root segment (`svc-0` to `svc-15`), and every fourth one a second segment (`db-0` to
//! `db-7`); one trace in 100 is a fault, one in 50 an error, one in 200 throttled; durations grow with the trace
//! number modulo 1000 (in milliseconds); each has the annotations `customer` (one of 500) and `n`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use xray_daemon::store::{TraceFilter, TraceStatus};
use xray_daemon::{Config, Daemon, Retention, Store, StoreLocation};

/// The senders may run this many datagrams ahead of the store.
const WINDOW: u64 = 500;
/// The first trace's start time.
const T0: u64 = 1_700_000_000;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn documents(n: u64) -> Vec<String> {
    let trace = format!("1-6500000{:01x}-{n:024x}", n % 16);
    let start = (T0 + n) as f64 + 0.125;
    let end = start + (n % 1000) as f64 / 1000.0;
    let (fault, error, throttle) = (n.is_multiple_of(100), n % 50 == 1, n % 200 == 3);
    let status = if fault {
        500
    } else if throttle {
        429
    } else if error {
        404
    } else {
        200
    };
    let mut docs = vec![serde_json::json!({
        "trace_id": trace, "id": format!("{n:016x}"), "name": format!("svc-{}", n % 16),
        "start_time": start, "end_time": end, "fault": fault, "error": error || throttle, "throttle": throttle,
        "http": {"request": {"method": "GET", "url": format!("http://example.com/orders/{n}")},
                 "response": {"status": status}},
        "annotations": {"customer": format!("c{}", n % 500), "n": n},
        "metadata": {"app": {"pad": "x".repeat(200)}},
    })];
    if n.is_multiple_of(4) {
        docs.push(serde_json::json!({
            "trace_id": trace, "id": format!("{:016x}", n | 1 << 60), "parent_id": format!("{n:016x}"),
            "name": format!("db-{}", n % 8), "start_time": start + 0.001, "end_time": end,
        }));
    }
    docs.into_iter()
        .map(|d| format!("{{\"format\":\"json\",\"version\":1}}\n{d}"))
        .collect()
}

fn fill(path: PathBuf, traces: u64) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let config = Config {
        store: StoreLocation::File(path),
        retention: Retention {
            max_bytes: u64::MAX / 2,
            max_age: Duration::from_secs(100 * 365 * 86_400),
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = runtime.block_on(Daemon::start(config)).unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let started = Instant::now();
    let mut sent = 0;
    for n in 0..traces {
        for datagram in documents(n) {
            socket
                .send_to(datagram.as_bytes(), daemon.udp_address())
                .unwrap();
            sent += 1;
            while sent - daemon.stats().stored > WINDOW {
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    while daemon.stats().received < sent {
        std::thread::sleep(Duration::from_millis(1));
    }
    runtime.block_on(daemon.flush());
    let stats = runtime.block_on(daemon.shutdown()).unwrap();
    println!(
        "filled: {traces} traces, {} documents stored in {:.1} s ({} dropped, {} invalid)",
        stats.stored,
        started.elapsed().as_secs_f64(),
        stats.dropped,
        stats.invalid_total
    );
}

fn median_ms(runs: u64, mut query: impl FnMut() -> usize) -> (f64, usize) {
    let mut times = Vec::new();
    let mut rows = 0;
    for _ in 0..runs {
        let started = Instant::now();
        rows = query();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], rows)
}

fn main() {
    // `cargo test --benches` passes `--bench`-less flags; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let traces = env_number("BENCH_TRACES", 200_000);
    let runs = env_number("BENCH_RUNS", 5);
    let (path, keep) = match std::env::var_os("BENCH_DB") {
        Some(path) => (PathBuf::from(path), true),
        None => (
            std::env::temp_dir()
                .join(format!("xray-bench-queries-{}", std::process::id()))
                .join("traces.sqlite3"),
            false,
        ),
    };
    if !path.exists() {
        fill(path.clone(), traces);
    }
    let started = Instant::now();
    let store = Store::open(&StoreLocation::File(path.clone())).unwrap();
    println!(
        "store opened (and migrated if older) in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    let filter = |f: TraceFilter| TraceFilter { limit: 100, ..f };
    let cases: Vec<(&str, TraceFilter)> = vec![
        ("(no filter)", filter(TraceFilter::default())),
        (
            "service=svc-3",
            filter(TraceFilter {
                service: Some("svc-3".into()),
                ..Default::default()
            }),
        ),
        (
            "service=db-5",
            filter(TraceFilter {
                service: Some("db-5".into()),
                ..Default::default()
            }),
        ),
        (
            "service=nobody",
            filter(TraceFilter {
                service: Some("nobody".into()),
                ..Default::default()
            }),
        ),
        (
            "status=ok",
            filter(TraceFilter {
                status: Some(TraceStatus::Ok),
                ..Default::default()
            }),
        ),
        (
            "status=fault",
            filter(TraceFilter {
                status: Some(TraceStatus::Fault),
                ..Default::default()
            }),
        ),
        (
            "status=throttle",
            filter(TraceFilter {
                status: Some(TraceStatus::Throttle),
                ..Default::default()
            }),
        ),
        (
            "min_duration=0.1",
            filter(TraceFilter {
                min_duration: Some(0.1),
                ..Default::default()
            }),
        ),
        (
            "min_duration=0.998",
            filter(TraceFilter {
                min_duration: Some(0.998),
                ..Default::default()
            }),
        ),
        (
            "min_duration=5",
            filter(TraceFilter {
                min_duration: Some(5.0),
                ..Default::default()
            }),
        ),
        (
            "annotation=customer=c7",
            filter(TraceFilter {
                annotations: vec![("customer".into(), "c7".into())],
                ..Default::default()
            }),
        ),
        (
            "annotation=n=12345",
            filter(TraceFilter {
                annotations: vec![("n".into(), "12345".into())],
                ..Default::default()
            }),
        ),
        (
            "from/to (1000 s)",
            filter(TraceFilter {
                from: Some((T0 + 1000) as f64),
                to: Some((T0 + 2000) as f64),
                ..Default::default()
            }),
        ),
        (
            "service=svc-3&status=fault&min_duration=0.5",
            filter(TraceFilter {
                service: Some("svc-3".into()),
                status: Some(TraceStatus::Fault),
                min_duration: Some(0.5),
                ..Default::default()
            }),
        ),
    ];
    for (label, filter) in cases {
        let (ms, rows) = median_ms(runs, || store.list_traces(&filter).unwrap().len());
        println!("GET /api/traces?{label}: {ms:.2} ms ({rows} traces)");
    }
    let (ms, _) = median_ms(runs, || {
        let counts = store.counts().unwrap();
        usize::try_from(counts.traces).unwrap()
    });
    println!(
        "GET /api/stats (store counts): {ms:.2} ms ({:?})",
        store.counts().unwrap()
    );
    drop(store);
    if !keep {
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
