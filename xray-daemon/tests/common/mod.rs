//! Helpers shared by the integration tests: a daemon on free loopback ports, datagram senders, API calls.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod sdk;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::Value;
use xray_daemon::cli::http::{HttpError, get_json};
use xray_daemon::{Config, Daemon, DaemonHandle, StatsSnapshot};

/// The path of a fixture file (see `testdata/SOURCES.md`).
pub fn fixture_path(relative: &str) -> PathBuf {
    xray_sdk_testdata::path(&format!("fixtures/{relative}"))
}

/// The bytes of a fixture file.
pub fn fixture(relative: &str) -> Vec<u8> {
    xray_sdk_testdata::read(&format!("fixtures/{relative}"))
}

/// A daemon on free loopback ports with an in-memory store.
pub async fn start() -> DaemonHandle {
    Daemon::start(Config::ephemeral()).await.unwrap()
}

/// The header line and `document`.
pub fn datagram(document: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    xray_sdk_types::framing::write_datagram(&mut out, document);
    out
}

/// Sends raw datagrams to the daemon.
pub fn send_raw(daemon: &DaemonHandle, datagrams: &[Vec<u8>]) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    for d in datagrams {
        socket.send_to(d, daemon.udp_address()).unwrap();
    }
}

/// Sends documents, each in its own datagram with the header line.
pub fn send_documents(daemon: &DaemonHandle, documents: &[String]) {
    let datagrams: Vec<Vec<u8>> = documents.iter().map(|d| datagram(d.as_bytes())).collect();
    send_raw(daemon, &datagrams);
}

/// Waits until the daemon has received `received` datagrams in all, then until they are in the store.
pub async fn settle(daemon: &DaemonHandle, received: u64) -> StatsSnapshot {
    let deadline = Instant::now() + Duration::from_secs(30);
    while daemon.stats().received < received {
        assert!(
            Instant::now() < deadline,
            "only {} of {received} datagrams received",
            daemon.stats().received
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(daemon.flush().await);
    daemon.stats()
}

/// How many datagrams the kernel dropped because the receive buffer of the IPv4 UDP socket bound to `address`
/// was full (the `drops` column of Linux's `/proc/net/udp`).
pub fn kernel_udp_drops(address: std::net::SocketAddr) -> u64 {
    let std::net::SocketAddr::V4(v4) = address else {
        panic!("{address} is not IPv4");
    };
    let local = format!(
        "{:08X}:{:04X}",
        u32::from_le_bytes(v4.ip().octets()),
        v4.port()
    );
    let table = std::fs::read_to_string("/proc/net/udp").unwrap();
    table
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .find(|fields| fields.get(1) == Some(&local.as_str()))
        .and_then(|fields| fields.last()?.parse().ok())
        .unwrap_or_else(|| panic!("no socket {local} in /proc/net/udp:\n{table}"))
}

/// GETs a JSON API path.
pub async fn api<T: DeserializeOwned + Send + 'static>(daemon: &DaemonHandle, path: &str) -> T {
    try_api(daemon, path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// GETs a JSON API path, keeping the error.
pub async fn try_api<T: DeserializeOwned + Send + 'static>(
    daemon: &DaemonHandle,
    path: &str,
) -> Result<T, HttpError> {
    let base = format!("http://{}", daemon.api_address());
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || get_json(&base, &path, Duration::from_secs(10)))
        .await
        .unwrap()
}

/// A segment document.
pub fn segment(
    trace: &str,
    id: &str,
    name: &str,
    start: f64,
    end: Option<f64>,
    extra: Value,
) -> String {
    let mut doc =
        serde_json::json!({"trace_id": trace, "id": id, "name": name, "start_time": start});
    match end {
        Some(end) => doc["end_time"] = end.into(),
        None => doc["in_progress"] = true.into(),
    }
    if let (Value::Object(doc), Value::Object(extra)) = (&mut doc, extra) {
        doc.extend(extra);
    }
    doc.to_string()
}

/// An independent subsegment document.
pub fn subsegment(trace: &str, id: &str, parent: &str, name: &str, start: f64, end: f64) -> String {
    serde_json::json!({"trace_id": trace, "id": id, "parent_id": parent, "type": "subsegment", "name": name,
        "start_time": start, "end_time": end})
    .to_string()
}

/// The ids of a trace list, in order.
pub fn ids(list: &Value) -> Vec<String> {
    list["traces"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The resident memory of this process, in KiB (VmRSS, or VmHWM for the peak).
pub fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|rest| rest.trim_start_matches(':').split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap()
}

/// A fresh empty folder under the system's temporary folder.
pub fn temp_dir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let dir =
        std::env::temp_dir().join(format!("xray-daemon-{name}-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every page of `GET /api/traces/{trace_id}`, with the trees built from them as the viewer does: a JSON
/// object with `summary`, `documents` (all of them), `segments` and `orphans`.
pub async fn whole_trace(daemon: &DaemonHandle, trace_id: &str) -> Value {
    let base = format!("http://{}", daemon.api_address());
    let id = trace_id.to_owned();
    let trace = tokio::task::spawn_blocking(move || {
        xray_daemon::cli::http::get_trace(&base, &id, Duration::from_secs(10))
    })
    .await
    .unwrap()
    .unwrap_or_else(|e| panic!("GET /api/traces/{trace_id}: {e}"));
    assert_eq!(trace.next_offset, None);
    assert_eq!(trace.documents.len(), trace.total);
    let assembled = trace.assembled();
    serde_json::json!({
        "summary": trace.summary,
        "documents": trace.documents,
        "segments": assembled.segments,
        "orphans": assembled.orphans,
    })
}

/// GETs `path` from the daemon's API over a plain HTTP/1.0 exchange: the status code and the body's bytes.
pub fn http_get(daemon: &DaemonHandle, path: &str) -> (u16, Vec<u8>) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(daemon.api_address()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: {}\r\nConnection: close\r\n\r\n",
        daemon.api_address()
    )
    .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("no end of headers");
    let head = String::from_utf8_lossy(&response[..split]).into_owned();
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("no status");
    (status, response[split + 4..].to_vec())
}
