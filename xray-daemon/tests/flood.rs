//! A flood of datagrams from several senders: nothing valid lost, memory bounded.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::net::UdpSocket;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use xray_daemon::{Config, Daemon};

const TRACES: u32 = 10_000;
/// One sender per document of each trace: the segment, then four independent subsegments under it.
const SENDERS: u32 = 5;
/// How far the senders may run ahead of the daemon's store (past `max_write_delay` of backlog, the daemon drops
/// rather than queues: senders faster than the store for long lose documents, by design). The kernel charges a
/// loopback datagram about four times its size against the socket's receive buffer: 500 datagrams of this size
/// (with each sender checking every 10) stay well inside the 4 MiB asked for, even while the daemon's threads
/// wait for a busy machine's cores.
const WINDOW: u64 = 500;

fn trace_id(n: u32) -> String {
    format!("1-5759e988-{n:024x}")
}

fn document(trace: u32, part: u32) -> Vec<u8> {
    let id = format!("{:08x}{:08x}", trace, part);
    let segment_id = format!("{:08x}{:08x}", trace, 0);
    let start = 1000.0 + f64::from(trace) / 1000.0;
    let mut doc = json!({
        "trace_id": trace_id(trace), "id": id, "name": format!("service-{part}"),
        "start_time": start + f64::from(part) / 1e5, "end_time": start + 0.5,
        "http": {"request": {"method": "GET", "url": format!("http://example.com/items/{trace}")},
                 "response": {"status": 200}},
        "annotations": {"part": part, "customer": format!("c{}", trace % 97)},
        "metadata": {"app": {"note": "x".repeat(200)}},
    });
    if part > 0 {
        doc["type"] = "subsegment".into();
        doc["parent_id"] = segment_id.into();
    }
    datagram(doc.to_string().as_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_datagrams_from_five_senders_are_all_stored() {
    let daemon = Daemon::start(Config::ephemeral()).await.unwrap();
    let rss_before = memory_kib("VmRSS");
    let total = u64::from(TRACES * SENDERS);
    let sent = AtomicU64::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for part in 0..SENDERS {
            let (daemon, sent) = (&daemon, &sent);
            scope.spawn(move || {
                let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
                // The segments go last, so that most subsegments arrive before their segment.
                let order: Vec<u32> = if part == 0 {
                    (0..TRACES).rev().collect()
                } else {
                    (0..TRACES).collect()
                };
                for (i, trace) in order.into_iter().enumerate() {
                    socket
                        .send_to(&document(trace, part), daemon.udp_address())
                        .unwrap();
                    let n = sent.fetch_add(1, Ordering::Relaxed) + 1;
                    if i % 10 == 0 {
                        while n.saturating_sub(daemon.stats().stored) > WINDOW {
                            std::thread::sleep(Duration::from_micros(200));
                        }
                    }
                }
            });
        }
    });
    let stats = settle(&daemon, total).await;
    let elapsed = started.elapsed();
    eprintln!("{total} datagrams stored in {elapsed:?}");
    assert_eq!(stats.received, total);
    assert_eq!(stats.stored, total);
    assert_eq!(stats.invalid_total, 0);
    assert_eq!(stats.dropped, 0);
    assert_eq!(stats.store_errors, 0);

    let body: Value = api(&daemon, "/api/stats").await;
    assert_eq!(body["store"]["traces"], u64::from(TRACES));
    assert_eq!(body["store"]["documents"], total);
    for n in [0, 1, 4999, TRACES - 1] {
        let trace = whole_trace(&daemon, &trace_id(n)).await;
        assert_eq!(
            trace["documents"].as_array().unwrap().len(),
            SENDERS as usize
        );
        assert_eq!(trace["orphans"], json!([]));
        assert_eq!(
            trace["segments"][0]["subsegments"]
                .as_array()
                .unwrap()
                .len(),
            4
        );
        assert_eq!(trace["summary"]["root_service"], "service-0");
        assert_eq!(trace["summary"]["segments"], 1);
    }
    let customers: Value = api(&daemon, "/api/traces?annotation=customer=c5&limit=1000").await;
    assert_eq!(
        ids(&customers).len(),
        (0..TRACES).filter(|t| t % 97 == 5).count()
    );

    // The daemon's share of memory: the in-memory store of ~40 MB of documents, and bounded queues.
    let grown_mib = memory_kib("VmRSS").saturating_sub(rss_before) / 1024;
    eprintln!("resident memory grew by {grown_mib} MiB");
    assert!(grown_mib < 256, "resident memory grew by {grown_mib} MiB");
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_drops_and_counts_instead_of_growing() {
    let config = Config {
        max_queued_bytes: 32 * 1024,
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let total = 3_000u64;
    for n in 0..total as u32 {
        socket
            .send_to(&document(n, 0), daemon.udp_address())
            .unwrap();
    }
    // Every datagram sent is either read by the daemon or dropped by the kernel at the full socket buffer; once
    // all are accounted for, what the daemon read is stored, or dropped at its full queue.
    let kernel_drops = || kernel_udp_drops(daemon.udp_address());
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stats().received + kernel_drops() < total {
        assert!(
            Instant::now() < deadline,
            "{:?}, {} dropped by the kernel, of {total} sent",
            daemon.stats(),
            kernel_drops()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(daemon.flush().await);
    let stats = daemon.stats();
    eprintln!(
        "{} received, {} stored, {} dropped, {} dropped by the kernel",
        stats.received,
        stats.stored,
        stats.dropped,
        kernel_drops()
    );
    assert_eq!(stats.received + kernel_drops(), total);
    assert_eq!(stats.received, stats.stored + stats.dropped);
    assert_eq!(stats.invalid_total, 0);
    let body: Value = api(&daemon, "/api/stats").await;
    assert_eq!(body["store"]["documents"], stats.stored);
    daemon.shutdown().await.unwrap();
}

/// A flood of 1-byte datagrams while the store is held back: each is charged what it really costs, so the queue
/// admits exactly what its budget covers, drops and counts the rest, and everything is accounted for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tiny_datagrams_are_charged_their_real_cost() {
    let budget = 256 * 1024;
    let config = Config {
        max_queued_bytes: budget,
        max_write_delay: Duration::from_secs(3600),
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    let cost = xray_daemon::ingest::budget::entry_cost(1);
    let admitted = (budget / cost) as u64;
    let total = admitted * 3;
    {
        let _paused = daemon.store().pause_writes();
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        for n in 1..=total {
            socket.send_to(b"x", daemon.udp_address()).unwrap();
            while n.saturating_sub(daemon.stats().received) > 32 {
                std::thread::sleep(Duration::from_micros(200));
            }
        }
        while daemon.stats().received < total {
            std::thread::sleep(Duration::from_millis(1));
        }
        let stats = daemon.stats();
        assert_eq!(stats.received, total);
        assert_eq!(stats.dropped, total - admitted);
        assert_eq!(stats.queued_bytes, admitted * cost as u64);
        assert!(stats.queued_peak_bytes <= budget as u64);
    }
    assert!(daemon.flush().await);
    let stats = daemon.stats();
    assert_eq!(
        stats.received,
        stats.stored + stats.invalid_total + stats.dropped
    );
    assert_eq!(stats.stored, 0);
    assert_eq!(stats.invalid.get("missing_header"), Some(&admitted));
    assert_eq!(stats.queued_bytes, 0);
    assert!(stats.queued_peak_bytes <= budget as u64);
    daemon.shutdown().await.unwrap();
}

/// While the store cannot keep up, a datagram waits at most `max_write_delay` to be written: past it, new ones are
/// dropped and counted, so that a crash loses at most what arrived in that time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_datagram_waits_longer_than_the_write_delay() {
    let delay = Duration::from_millis(200);
    let config = Config {
        max_write_delay: delay,
        ..Config::ephemeral()
    };
    let daemon = Daemon::start(config).await.unwrap();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    {
        let _paused = daemon.store().pause_writes();
        socket
            .send_to(&document(0, 0), daemon.udp_address())
            .unwrap();
        while daemon.stats().received < 1 {
            std::thread::sleep(Duration::from_millis(1));
        }
        // The first has now waited longer than the delay: the next is refused.
        std::thread::sleep(delay + Duration::from_millis(100));
        socket
            .send_to(&document(1, 0), daemon.udp_address())
            .unwrap();
        while daemon.stats().received < 2 {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(daemon.stats().dropped, 1);
    }
    assert!(daemon.flush().await);
    // Written: nothing waits any more, and datagrams are taken again.
    socket
        .send_to(&document(2, 0), daemon.udp_address())
        .unwrap();
    let stats = settle(&daemon, 3).await;
    assert_eq!((stats.stored, stats.dropped), (2, 1));
    assert_eq!(
        stats.received,
        stats.stored + stats.invalid_total + stats.dropped
    );
    daemon.shutdown().await.unwrap();
}
