//! Ingest benchmark: 2 KB documents from several UDP senders on loopback, counted once stored; then the process's
//! memory while the store holds every trace.
//!
//! `cargo bench -p xray-daemon --bench ingest` runs it for an in-memory store and a file store. Environment:
//! `BENCH_DOCS` (default 100,000: one trace each), `BENCH_SENDERS` (default 4), `BENCH_RATE` (default 50,000
//! documents/s for the open-loop run), `BENCH_STORE` (`memory,file`), `BENCH_PACE` (`closed,open`).
//!
//! Besides wall-clock rates, which depend on what else the machine runs, it prints the CPU time of each daemon
//! thread (from `/proc/self/task/*/schedstat`, else `stat`) and the documents stored per CPU-second of the
//! writer thread: a figure much less sensitive to other load on the machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use xray_daemon::{Config, Daemon, Retention, StoreLocation};

/// In the closed-loop run, the senders may run this many datagrams ahead of the store.
const WINDOW: u64 = 500;
const DOC_SIZE: usize = 2048;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn memory_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// The CPU time, in seconds, of every thread of this process whose name starts with `xray-`.
fn thread_cpu_seconds() -> Vec<(String, f64)> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for task in tasks.flatten() {
        let dir = task.path();
        let name = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        let name = name.trim();
        if !name.starts_with("xray-") {
            continue;
        }
        let from_schedstat = std::fs::read_to_string(dir.join("schedstat"))
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
            .map(|ns| ns / 1e9);
        let from_stat = || {
            let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
            let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
            let ticks: f64 =
                fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        };
        if let Some(secs) = from_schedstat.or_else(from_stat) {
            out.push((name.to_owned(), secs));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// A 2 KB segment datagram for trace `n`.
fn datagram(n: u64, out: &mut Vec<u8>) {
    out.clear();
    let head = format!(
        "{{\"format\":\"json\",\"version\":1}}\n{{\"trace_id\":\"1-6500000{:01x}-{n:024x}\",\"id\":\"{n:016x}\",\
         \"name\":\"bench-service-{}\",\"start_time\":{}.125,\"end_time\":{}.25,\"http\":{{\"request\":{{\"method\":\"GET\",\
         \"url\":\"http://example.com/orders/{n}\"}},\"response\":{{\"status\":{}}}}},\"annotations\":{{\"customer\":\"c{}\",\
         \"n\":{n}}},\"metadata\":{{\"app\":{{\"pad\":\"",
        n % 16,
        n % 7,
        1_700_000_000 + n,
        1_700_000_000 + n,
        if n.is_multiple_of(10) { 500 } else { 200 },
        n % 100
    );
    out.extend_from_slice(head.as_bytes());
    let tail = b"\"}}}";
    out.resize(DOC_SIZE - tail.len(), b'x');
    out.extend_from_slice(tail);
}

/// How the senders are paced.
#[derive(Clone, Copy)]
enum Pace {
    /// At most `WINDOW` documents ahead of the store: the daemon's capacity.
    ClosedLoop,
    /// At a fixed total rate, documents per second, whatever the daemon does: what is lost at that rate.
    Rate(u64),
}

fn run(label: &str, store: StoreLocation, docs: u64, senders: u64, pace: Pace) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let rss_before = memory_kib("VmRSS");
    let config = Config {
        store,
        retention: Retention {
            max_bytes: u64::MAX / 2,
            ..Retention::default()
        },
        ..Config::ephemeral()
    };
    let daemon = runtime.block_on(Daemon::start(config)).unwrap();
    let sent = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for s in 0..senders {
            let (daemon, sent) = (&daemon, &sent);
            scope.spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                let mut buf = Vec::with_capacity(DOC_SIZE);
                let mut n = s;
                while n < docs {
                    datagram(n, &mut buf);
                    socket.send_to(&buf, daemon.udp_address()).unwrap();
                    let total = sent.fetch_add(1, Ordering::Relaxed) + 1;
                    match pace {
                        Pace::ClosedLoop => {
                            while total.saturating_sub(daemon.stats().stored) > WINDOW {
                                std::thread::sleep(Duration::from_micros(100));
                            }
                        }
                        Pace::Rate(rate) => {
                            let due = started + Duration::from_secs_f64(total as f64 / rate as f64);
                            if let Some(ahead) = due.checked_duration_since(Instant::now()) {
                                std::thread::sleep(ahead);
                            }
                        }
                    }
                    n += senders;
                }
            });
        }
    });
    let sending = started.elapsed();
    // Wait for the socket to drain: everything sent received, or nothing more for half a second.
    let mut last = (Instant::now(), daemon.stats().received);
    while last.1 < docs && last.0.elapsed() < Duration::from_millis(500) {
        std::thread::sleep(Duration::from_millis(1));
        let received = daemon.stats().received;
        if received != last.1 {
            last = (Instant::now(), received);
        }
    }
    runtime.block_on(daemon.flush());
    let elapsed = started.elapsed();
    let cpu = thread_cpu_seconds();
    let stats = daemon.stats();
    let counts = daemon.store().counts().unwrap();
    let rate = stats.stored as f64 / elapsed.as_secs_f64();
    println!(
        "{label}, {}: {docs} x {DOC_SIZE} B documents from {senders} senders: sent in {:.2} s, stored in {:.2} s = \
         {rate:.0} documents/s; received {}, stored {}, lost {}, dropped {}, invalid {}",
        match pace {
            Pace::ClosedLoop => "closed loop".to_owned(),
            Pace::Rate(rate) => format!("open loop at {rate}/s"),
        },
        sending.as_secs_f64(),
        elapsed.as_secs_f64(),
        stats.received,
        stats.stored,
        docs - stats.stored,
        stats.dropped,
        stats.invalid_total,
    );
    println!(
        "{label}: holding {} traces ({} documents, {} MiB of documents): process RSS {} MiB (grew {} MiB), peak {} MiB",
        counts.traces,
        counts.documents,
        counts.bytes / (1024 * 1024),
        memory_kib("VmRSS") / 1024,
        memory_kib("VmRSS").saturating_sub(rss_before) / 1024,
        memory_kib("VmHWM") / 1024,
    );
    let writer_cpu: f64 = cpu
        .iter()
        .filter(|(name, _)| name == "xray-writer")
        .map(|(_, secs)| secs)
        .sum();
    println!(
        "{label}: thread CPU time: {}; {:.0} documents stored per CPU-second of the writer",
        cpu.iter()
            .map(|(name, secs)| format!("{name} {secs:.2} s"))
            .collect::<Vec<_>>()
            .join(", "),
        stats.stored as f64 / writer_cpu.max(1e-9),
    );
    let started = Instant::now();
    let list = daemon
        .store()
        .list_traces(&xray_daemon::store::TraceFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    println!(
        "{label}: newest 100 summaries listed in {:.1} ms",
        started.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!(list.len(), 100);
    runtime.block_on(daemon.shutdown()).unwrap();
}

fn main() {
    // `cargo test --benches` passes `--bench`-less flags; run only under `cargo bench`.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let docs = env_number("BENCH_DOCS", 100_000);
    let senders = env_number("BENCH_SENDERS", 4);
    let rate = env_number("BENCH_RATE", 50_000);
    let which = std::env::var("BENCH_STORE").unwrap_or_else(|_| "memory,file".to_owned());
    let paces = std::env::var("BENCH_PACE").unwrap_or_else(|_| "closed,open".to_owned());
    let paces = [Pace::ClosedLoop, Pace::Rate(rate)]
        .into_iter()
        .filter(|pace| match pace {
            Pace::ClosedLoop => paces.contains("closed"),
            Pace::Rate(_) => paces.contains("open"),
        });
    for pace in paces {
        if which.contains("memory") {
            run("memory store", StoreLocation::Memory, docs, senders, pace);
        }
        if which.contains("file") {
            let dir = std::env::temp_dir().join(format!("xray-bench-{}", std::process::id()));
            run(
                "file store",
                StoreLocation::File(dir.join("traces.sqlite3")),
                docs,
                senders,
                pace,
            );
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
