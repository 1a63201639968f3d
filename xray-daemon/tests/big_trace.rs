//! A huge trace (1,001 independent subsegments of 60 KB under one segment) sent over UDP and read back through
//! `GET /api/traces/{trace_id}`: answers of bounded size, each document sent once, pages that return every
//! document exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use common::*;
use serde_json::{Value, json};
use xray_daemon::api::traces::PAGE_BYTES;

const TRACE: &str = "1-5759e988-bd862e3fe1be46a994272793";
const ROOT: &str = "00000000000000a1";
const SUBSEGMENTS: u64 = 1001;
const PAD: usize = 60 * 1024;
/// What an answer may hold besides its documents' bytes: the summary, and about 20 bytes per document for its
/// place in the trees (see `TraceDetail`).
const ANSWER_OVERHEAD: usize = 64 * 1024;

fn documents() -> Vec<String> {
    let mut docs = vec![segment(TRACE, ROOT, "web", 1000.0, Some(1100.0), json!({}))];
    for n in 0..SUBSEGMENTS {
        docs.push(
            json!({"trace_id": TRACE, "id": format!("{:016x}", 0xb000 + n), "parent_id": ROOT,
                "type": "subsegment", "name": format!("call-{n}"), "start_time": 1000.0 + n as f64 / 20.0,
                "end_time": 1000.5 + n as f64 / 20.0, "metadata": {"default": {"pad": "x".repeat(PAD)}}})
            .to_string(),
        );
    }
    docs
}

/// Sends each document and waits until `received` says it arrived, so that no datagram overflows the socket
/// buffer.
fn send_paced(udp: SocketAddr, docs: &[String], received: impl Fn() -> u64) {
    let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
    let before = received();
    for (i, doc) in docs.iter().enumerate() {
        socket.send_to(&datagram(doc.as_bytes()), udp).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while received() < before + i as u64 + 1 {
            assert!(Instant::now() < deadline, "document {i} never arrived");
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_trace_comes_in_bounded_pages_each_document_once() {
    let daemon = start().await;
    let docs = documents();
    {
        let daemon = &daemon;
        tokio::task::block_in_place(|| {
            send_paced(daemon.udp_address(), &docs, || daemon.stats().received)
        });
    }
    let stats = settle(&daemon, docs.len() as u64).await;
    assert_eq!(stats.stored, docs.len() as u64);

    let mut offset = 0;
    let mut pages = 0;
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut all = Vec::new();
    loop {
        let path = if offset == 0 {
            format!("/api/traces/{TRACE}")
        } else {
            format!("/api/traces/{TRACE}?offset={offset}")
        };
        let (status, body) = {
            let daemon = &daemon;
            tokio::task::block_in_place(|| http_get(daemon, &path))
        };
        assert_eq!(status, 200, "{path}");
        assert!(
            body.len() <= PAGE_BYTES + ANSWER_OVERHEAD,
            "{path}: {} bytes",
            body.len()
        );
        let page: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(page["offset"], offset);
        assert_eq!(page["total"], docs.len());
        let documents = page["documents"].as_array().unwrap();
        let attached_to = page["attached_to"].as_array().unwrap();
        assert_eq!(documents.len(), attached_to.len());
        assert!(!documents.is_empty());
        // Each document appears once in the answer: there are as many paddings in it as subsegments.
        let paddings = body.windows(7).filter(|w| *w == b"\"pad\":\"").count();
        let subsegments = documents.iter().filter(|d| d["id"] != ROOT).count();
        assert_eq!(paddings, subsegments, "{path}");
        for (doc, host) in documents.iter().zip(attached_to) {
            let id = doc["id"].as_str().unwrap().to_owned();
            *seen.entry(id.clone()).or_default() += 1;
            let expected = if id == ROOT { Value::Null } else { json!(ROOT) };
            assert_eq!(host, &expected, "{id}");
        }
        all.extend(documents.iter().cloned());
        pages += 1;
        match page["next_offset"].as_u64() {
            Some(next) => {
                assert_eq!(next as usize, offset + documents.len());
                offset = next as usize;
            }
            None => {
                assert_eq!(offset + documents.len(), docs.len());
                break;
            }
        }
    }
    // Every document exactly once, the whole trace in 15 pages of at most 4 MiB.
    assert_eq!(seen.len(), docs.len());
    assert!(seen.values().all(|&n| n == 1));
    let per_page = PAGE_BYTES / docs[1].len();
    assert_eq!(pages, docs.len().div_ceil(per_page));
    let sent: Vec<Value> = docs
        .iter()
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let by_id = |list: &[Value]| -> BTreeMap<String, Value> {
        list.iter()
            .map(|d| (d["id"].as_str().unwrap().to_owned(), d.clone()))
            .collect()
    };
    assert_eq!(by_id(&all), by_id(&sent));
    // The trees built from the pages: one segment with every subsegment under it.
    let trace = whole_trace(&daemon, TRACE).await;
    assert_eq!(trace["orphans"], json!([]));
    assert_eq!(
        trace["segments"][0]["subsegments"]
            .as_array()
            .unwrap()
            .len(),
        SUBSEGMENTS as usize
    );
    daemon.shutdown().await.unwrap();
}

/// Measures the answers and the daemon's peak memory for the huge trace with an `xray` binary (`XRAY_BIN`, else
/// this build's): `cargo test -p xray-daemon --test big_trace -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check"]
fn measure_a_huge_trace_through_the_xray_binary() {
    let xray = std::env::var("XRAY_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_xray").to_owned());
    let mut child = std::process::Command::new(&xray)
        .args([
            "daemon",
            "--memory",
            "--udp-address",
            "127.0.0.1:0",
            "--api-address",
            "127.0.0.1:0",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    std::io::BufRead::read_line(&mut stdout, &mut line).unwrap();
    let field = |after: &str, until: char| -> String {
        line.split(after)
            .nth(1)
            .unwrap()
            .split(until)
            .next()
            .unwrap()
            .to_owned()
    };
    let udp: SocketAddr = field("udp://", ',').parse().unwrap();
    let api = format!("http://{}", field("viewer on http://", '/'));
    let stats = || -> Value {
        xray_daemon::cli::http::get_json(&api, "/api/stats", Duration::from_secs(10)).unwrap()
    };
    let docs = documents();
    send_paced(udp, &docs, || stats()["received"].as_u64().unwrap());
    while stats()["store"]["documents"].as_u64().unwrap() < docs.len() as u64 {
        std::thread::sleep(Duration::from_millis(10));
    }
    let hwm = || {
        std::fs::read_to_string(format!("/proc/{}/status", child.id()))
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .unwrap()
            .trim()
            .to_owned()
    };
    let before = hwm();
    let (mut total, mut largest, mut pages, mut offset) = (0usize, 0usize, 0, 0u64);
    let address: SocketAddr = api.trim_start_matches("http://").parse().unwrap();
    loop {
        use std::io::{Read, Write};
        let path = format!("/api/traces/{TRACE}?offset={offset}");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        let body = &response[split..];
        total += body.len();
        largest = largest.max(body.len());
        pages += 1;
        let page: Value = serde_json::from_slice(body).unwrap();
        match page.get("next_offset").and_then(Value::as_u64) {
            Some(next) => offset = next,
            None => break,
        }
    }
    println!(
        "{xray}: {pages} answers, {total} bytes in all, the largest {largest} bytes; daemon VmHWM {before} \
         before reading, {} after",
        hwm()
    );
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let _ = child.wait();
}
