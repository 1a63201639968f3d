//! A soak test of the `xray` binary: a few minutes of traffic from several sender processes, valid and invalid
//! datagrams mixed, with the JSON API queried throughout. Every datagram sent is accounted for exactly, and the
//! daemon's peak memory stays within the budget its configuration implies.
//!
//! The senders are this test binary run again (the ignored test `soak_sender`, with [`SENDER_ENV`] set).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use common::datagram;
use serde_json::{Value, json};
use xray_daemon::cli::http::get_json;
use xray_daemon::cli::{Cli, Command as XrayCommand};
use xray_daemon::{Config, StatsSnapshot};

const XRAY: &str = env!("CARGO_BIN_EXE_xray");
/// How long the senders send. `XRAY_SOAK_SECONDS` changes it for a longer (or a quick) run by hand.
const SOAK: Duration = Duration::from_secs(120);
/// The sender processes.
const SENDERS: u32 = 4;
/// The datagrams each sender sends per second.
const RATE: u64 = 500;
/// One datagram in this many is invalid, each of a kind taken in turn from [`INVALID_KINDS`].
const INVALID_EVERY: u64 = 8;
/// The store's size limit (`--max-size-mb`): small, so that size retention runs all along.
const STORE_MB: u64 = 24;
/// What the daemon takes besides the budgets its configuration sets (the ingest queue, the store): code, thread
/// stacks, the runtime, SQLite's page caches, the HTTP servers answering the queries. Measured (a debug build, as
/// `cargo test` builds it): 19 to 22 MiB at rest after starting; under this test's 120 s (240 000 datagrams,
/// 172 MB), a peak of 78 MiB in all, with the store at its limit and the queue's peak at 2 MB.
const BASE_MIB: u64 = 64;
/// SQLite's in-memory database holds the documents and their indexes, summaries and annotations: the store lets
/// documents take at most 640 MiB of an in-memory database that stops at 1 GiB
/// (`xray_daemon::store::writer::MEMORY_MAX_BYTES`), that is 1.6 times their size.
const STORE_OVERHEAD: (u64, u64) = (8, 5);
/// Set in the environment of a sender process: `<sender number>:<UDP address>:<seconds>`.
const SENDER_ENV: &str = "XRAY_SOAK_SENDER";

/// Each invalid datagram kind, and the reason the daemon counts it under.
const INVALID_KINDS: [&str; 6] = [
    "missing_header",
    "invalid_header",
    "empty_document",
    "not_json",
    "invalid_trace_id",
    "end_before_start",
];

fn trace_id(sender: u32, trace: u64) -> String {
    format!("1-5f000000-{sender:08x}{trace:016x}")
}

/// The `n`th datagram of `sender`: valid documents of traces of three documents (a segment, an independent
/// subsegment, then a segment of a second service), of varied sizes; every [`INVALID_EVERY`]th an invalid one.
fn sender_datagram(sender: u32, n: u64) -> (Vec<u8>, Option<&'static str>) {
    if n % INVALID_EVERY == INVALID_EVERY - 1 {
        let kind = INVALID_KINDS[(n / INVALID_EVERY) as usize % INVALID_KINDS.len()];
        let bad = match kind {
            "missing_header" => br#"{"id":"53995c3f42cd8ad8"}"#.to_vec(),
            "invalid_header" => b"{\"format\":\"xml\",\"version\":1}\n{}".to_vec(),
            "empty_document" => datagram(b" \n "),
            "not_json" => datagram(b"{\"trace_id\": \"1-5f000000-0"),
            "invalid_trace_id" => datagram(
                json!({"trace_id": "1-xyz", "id": "53995c3f42cd8ad8", "name": "bad", "start_time": 1.0,
                       "end_time": 2.0})
                .to_string()
                .as_bytes(),
            ),
            _ => datagram(
                json!({"trace_id": trace_id(sender, n), "id": "53995c3f42cd8ad8", "name": "bad",
                       "start_time": 2.0, "end_time": 1.0})
                .to_string()
                .as_bytes(),
            ),
        };
        return (bad, Some(kind));
    }
    let (trace, part) = (n / 3, n % 3);
    let start = 1_600_000_000.0 + (n as f64) / 1000.0;
    let id = format!("{:04x}{:012x}", sender, n);
    let root = format!("{:04x}{:012x}", sender, trace * 3);
    let name = format!("soak-{}", if part == 2 { 100 + sender } else { sender });
    let mut doc = json!({
        "trace_id": trace_id(sender, trace), "id": id, "name": name,
        "start_time": start, "end_time": start + 0.25,
        "http": {"request": {"method": "GET", "url": format!("http://soak/{trace}")},
                 "response": {"status": if trace % 10 == 0 { 500 } else { 200 }}},
        "annotations": {"sender": sender, "trace": trace},
        "metadata": {"pad": {"text": "x".repeat((n % 7 * 150) as usize)}},
    });
    if trace % 10 == 0 {
        doc["fault"] = true.into();
    }
    if part > 0 {
        doc["parent_id"] = root.into();
    }
    if part == 1 {
        doc["type"] = "subsegment".into();
    }
    (datagram(doc.to_string().as_bytes()), None)
}

/// What one sender sent.
#[derive(Debug, Default, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Sent {
    valid: u64,
    invalid: BTreeMap<String, u64>,
}

/// A sender process: sends at [`RATE`] datagrams per second for the time given, then prints what it sent.
#[test]
#[ignore = "a sender process of the soak test, started by it"]
fn soak_sender() {
    let spec = std::env::var(SENDER_ENV).expect("run by the soak test");
    let mut parts = spec.splitn(3, ':');
    let sender: u32 = parts.next().unwrap().parse().unwrap();
    let seconds: f64 = parts.next().unwrap().parse().unwrap();
    let address = parts.next().unwrap().to_owned();
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut sent = Sent::default();
    let started = Instant::now();
    let mut n = 0u64;
    loop {
        let elapsed = started.elapsed().as_secs_f64();
        if elapsed >= seconds {
            break;
        }
        // Keeps to the rate over the whole run: catches up after a pause rather than drifting.
        let due = (elapsed * RATE as f64) as u64;
        while n < due {
            let (bytes, invalid) = sender_datagram(sender, n);
            socket.send_to(&bytes, &address).unwrap();
            match invalid {
                Some(kind) => *sent.invalid.entry(kind.to_owned()).or_default() += 1,
                None => sent.valid += 1,
            }
            n += 1;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    println!("SENT {}", serde_json::to_string(&sent).unwrap());
}

fn status_field(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

/// How often the service map is asked for while the senders run.
const MAP_EVERY: Duration = Duration::from_secs(10);

fn stats(api: &str) -> (StatsSnapshot, Value) {
    let body: Value = get_json(api, "/api/stats", Duration::from_secs(30)).unwrap();
    (serde_json::from_value(body.clone()).unwrap(), body)
}

/// Queries the read routes of the API in turn until `done`, checking what each answer must hold; returns how
/// many queries were answered.
///
/// `/api/map` is asked for every [`MAP_EVERY`]: it reads up to 5000 traces, a page at a time, and the in-memory
/// store's writer, which shares the connection, waits for one page at most. (When the whole read held the
/// connection, one map every 10 s dropped 2 % of this test's datagrams at the `max_write_delay`.)
fn query_throughout(api: &str, config: &Config, done: &AtomicBool) -> u64 {
    let mut queries = 0u64;
    let mut last_map = std::time::Instant::now();
    let mut last_received = 0;
    let timeout = Duration::from_secs(30);
    while !done.load(Ordering::Relaxed) {
        let (s, body) = stats(api);
        // Datagrams still queued are received and not yet counted anywhere else; the receive loop counts a
        // datagram once queued, so one may be done with before it is counted received.
        assert!(
            s.received + 1
                >= s.stored + s.not_stored + s.invalid_total + s.dropped + s.store_errors,
            "{s:?}"
        );
        assert!(s.received >= last_received);
        assert!(
            s.queued_peak_bytes <= config.max_queued_bytes as u64,
            "{s:?}"
        );
        assert_eq!(s.store_errors, 0);
        last_received = s.received;
        assert!(body["store"]["documents"].as_i64().unwrap() >= 0);

        if last_map.elapsed() >= MAP_EVERY {
            let map: Value = get_json(api, "/api/map?from=1600000000", timeout).unwrap();
            assert!(!map["nodes"].as_array().unwrap().is_empty(), "{map}");
            last_map = std::time::Instant::now();
            queries += 1;
        }
        let list: Value = get_json(api, "/api/traces?limit=20", timeout).unwrap();
        let traces = list["traces"].as_array().unwrap();
        if let Some(id) = traces.first().and_then(|t| t["id"].as_str()) {
            // The trace may be removed by retention between the two queries: a 404 then.
            if let Ok(trace) = get_json::<Value>(api, &format!("/api/traces/{id}"), timeout) {
                assert_eq!(trace["id"], id);
            }
        }
        let faults: Value = get_json(
            api,
            "/api/traces?service=soak-1&status=fault&annotation=sender=1&limit=50",
            timeout,
        )
        .unwrap();
        for t in faults["traces"].as_array().unwrap() {
            assert_eq!(t["status"], "fault", "{t}");
        }
        let since: Value = get_json(
            api,
            &format!("/api/traces?after_seq={}&limit=100", list["latest_seq"]),
            timeout,
        )
        .unwrap();
        assert!(since["traces"].is_array());
        let invalid: Value = get_json(api, "/api/invalid?limit=20", timeout).unwrap();
        assert!(invalid.as_array().unwrap().len() <= 20);
        queries += 6;
    }
    queries
}

#[test]
fn hours_of_traffic_in_minutes_are_accounted_for_within_the_memory_budget() {
    let seconds = std::env::var("XRAY_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(SOAK.as_secs_f64());
    let args = [
        "xray",
        "daemon",
        "--udp-address",
        "127.0.0.1:0",
        "--api-address",
        "127.0.0.1:0",
        "--memory",
        "--max-size-mb",
        &STORE_MB.to_string(),
    ];
    // The configuration the daemon runs with, read from the same arguments.
    let Cli {
        command: XrayCommand::Daemon(daemon_args),
        ..
    } = Cli::try_parse_from(args).unwrap()
    else {
        panic!("not the daemon command");
    };
    let config = daemon_args.settings().unwrap().config;
    let store_budget = config.retention.max_bytes * STORE_OVERHEAD.0 / STORE_OVERHEAD.1;
    let budget_kib =
        (BASE_MIB << 10) + (config.max_queued_bytes as u64 >> 10) + (store_budget >> 10);

    let mut daemon = Command::new(XRAY)
        .args(&args[1..])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = daemon.id();
    let mut line = String::new();
    BufReader::new(daemon.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let field = |after: &str, end: char| -> String {
        line.split(after)
            .nth(1)
            .unwrap_or_else(|| panic!("{line}"))
            .split(end)
            .next()
            .unwrap()
            .to_owned()
    };
    let udp = field("udp://", ',');
    let api = format!("http://{}", field("viewer on http://", '/'));
    let udp_address: std::net::SocketAddr = udp.parse().unwrap();
    let idle_kib = status_field(pid, "VmHWM");

    let started = Instant::now();
    let senders: Vec<Child> = (0..SENDERS)
        .map(|sender| {
            Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "soak_sender", "--ignored", "--nocapture"])
                .env(SENDER_ENV, format!("{sender}:{seconds}:{udp}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    let done = AtomicBool::new(false);
    let (sent, queries) = std::thread::scope(|scope| {
        let querier = scope.spawn(|| query_throughout(&api, &config, &done));
        let mut sent = Sent::default();
        for child in senders {
            let output = child.wait_with_output().unwrap();
            assert!(output.status.success());
            let text = String::from_utf8(output.stdout).unwrap();
            let report = text
                .lines()
                .find_map(|l| l.strip_prefix("SENT "))
                .unwrap_or_else(|| panic!("no report from a sender: {text}"));
            let one: Sent = serde_json::from_str(report).unwrap();
            sent.valid += one.valid;
            for (kind, n) in one.invalid {
                *sent.invalid.entry(kind).or_default() += n;
            }
        }
        done.store(true, Ordering::Relaxed);
        (sent, querier.join().unwrap())
    });
    let total = sent.valid + sent.invalid.values().sum::<u64>();

    // Every datagram is read by the daemon or dropped by the kernel; then everything read is settled.
    let deadline = Instant::now() + Duration::from_secs(60);
    let settled = loop {
        let (s, body) = stats(&api);
        let kernel = common::kernel_udp_drops(udp_address);
        if s.received + kernel == total && s.queued_bytes == 0 {
            break (s, body, kernel);
        }
        assert!(
            Instant::now() < deadline,
            "{s:?} and {kernel} dropped by the kernel, of {total} sent"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let (s, body, kernel_drops) = settled;
    let peak_kib = status_field(pid, "VmHWM");
    eprintln!(
        "soak: {total} datagrams in {:.0?} ({} valid, {:?}), {queries} queries; {s:?}, {kernel_drops} dropped by \
         the kernel; store {}; daemon peak {} MiB (idle {} MiB), budget {} MiB",
        started.elapsed(),
        sent.valid,
        sent.invalid,
        body["store"],
        peak_kib >> 10,
        idle_kib >> 10,
        budget_kib >> 10,
    );

    // Exact accounting: what was read is stored, refused as invalid, or dropped and counted.
    assert_eq!(s.received + kernel_drops, total);
    assert_eq!(
        s.received,
        s.stored + s.not_stored + s.invalid_total + s.dropped + s.store_errors,
        "{s:?}"
    );
    assert_eq!(s.not_stored, 0);
    assert_eq!(s.invalid_total, s.invalid.values().sum::<u64>());
    assert_eq!(s.store_errors, 0);
    if s.dropped + kernel_drops == 0 {
        assert_eq!(s.stored, sent.valid);
        assert_eq!(s.invalid, sent.invalid);
    } else {
        assert!(s.stored <= sent.valid);
        for (kind, n) in &s.invalid {
            assert!(*n <= sent.invalid[kind], "{kind}");
        }
    }
    assert!(queries > 0);
    let map: Value = get_json(&api, "/api/map?from=1600000000", Duration::from_secs(60)).unwrap();
    let services: Vec<&str> = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["name"].as_str())
        .collect();
    for sender in 0..SENDERS {
        for name in [format!("soak-{sender}"), format!("soak-{}", 100 + sender)] {
            assert!(
                services.contains(&name.as_str()),
                "{name} not in {services:?}"
            );
        }
    }
    // Size retention kept the store within its limit.
    let store_bytes = body["store"]["bytes"].as_u64().unwrap();
    assert!(
        store_bytes <= config.retention.max_bytes,
        "the store holds {store_bytes} bytes"
    );
    assert!(
        peak_kib <= budget_kib,
        "the daemon peaked at {peak_kib} KiB"
    );

    // A clean stop under no load.
    let term = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    assert!(daemon.wait().unwrap().success());
}
