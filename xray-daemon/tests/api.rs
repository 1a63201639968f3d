//! The JSON API's filters, ordering, limits and errors.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};
use xray_daemon::cli::http::HttpError;

const T1: &str = "1-5759e988-000000000000000000000001";
const T2: &str = "1-5759e988-000000000000000000000002";
const T3: &str = "1-5759e988-000000000000000000000003";
const T4: &str = "1-5759e988-000000000000000000000004";
const T5: &str = "1-5759e988-000000000000000000000005";

fn http(method: &str, url: &str, status: u16) -> Value {
    json!({"request": {"method": method, "url": url}, "response": {"status": status}})
}

async fn populated() -> xray_daemon::DaemonHandle {
    let daemon = start().await;
    send_documents(
        &daemon,
        &[
            segment(T1, "00000000000000a1", "web", 1000.0, Some(1000.1), json!({
                "http": http("GET", "http://shop/a", 200), "annotations": {"customer": "alice", "tier": 1}})),
            segment(T2, "00000000000000a2", "web", 1010.0, Some(1012.0), json!({
                "http": http("POST", "http://shop/b", 500), "fault": true, "annotations": {"customer": "bob"}})),
            segment(T2, "00000000000000b2", "db", 1010.5, Some(1011.0), json!({"parent_id": "00000000000000a2"})),
            segment(T3, "00000000000000a3", "api", 1020.0, Some(1020.5), json!({
                "http": http("GET", "http://api/x", 404), "error": true,
                "subsegments": [{"id": "00000000000000c3", "name": "check", "start_time": 1020.1,
                                 "end_time": 1020.2, "annotations": {"flag": true}}]})),
            segment(T4, "00000000000000a4", "api", 1030.0, None, json!({
                "http": http("GET", "http://api/y", 429), "error": true, "throttle": true})),
            serde_json::to_string(&json!({"trace_id": T5, "id": "00000000000000a5", "parent_id": "00000000000000f5",
                "type": "subsegment", "name": "handler", "start_time": 1040.0, "end_time": 1040.25, "fault": true}))
            .unwrap(),
        ],
    );
    settle(&daemon, 6).await;
    daemon
}

async fn list(daemon: &xray_daemon::DaemonHandle, query: &str) -> Vec<String> {
    let body: Value = api(daemon, &format!("/api/traces{query}")).await;
    ids(&body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filters_select_exactly_the_matching_traces() {
    let daemon = populated().await;
    assert_eq!(list(&daemon, "").await, [T5, T4, T3, T2, T1]);
    assert_eq!(list(&daemon, "?limit=2").await, [T5, T4]);
    assert_eq!(list(&daemon, "?service=web").await, [T2, T1]);
    assert_eq!(list(&daemon, "?service=db").await, [T2]);
    assert_eq!(list(&daemon, "?service=handler").await, [T5]);
    assert_eq!(list(&daemon, "?service=nobody").await, Vec::<String>::new());
    assert_eq!(list(&daemon, "?status=fault").await, [T5, T2]);
    assert_eq!(list(&daemon, "?status=error").await, [T3]);
    assert_eq!(list(&daemon, "?status=throttle").await, [T4]);
    assert_eq!(list(&daemon, "?status=ok").await, [T1]);
    assert_eq!(list(&daemon, "?annotation=customer%3Dalice").await, [T1]);
    assert_eq!(list(&daemon, "?annotation=customer=bob").await, [T2]);
    assert_eq!(list(&daemon, "?annotation=tier=1").await, [T1]);
    assert_eq!(list(&daemon, "?annotation=tier=1.0").await, [T1]);
    assert_eq!(list(&daemon, "?annotation=flag=true").await, [T3]);
    assert_eq!(
        list(&daemon, "?annotation=flag=false").await,
        Vec::<String>::new()
    );
    assert_eq!(
        list(&daemon, "?annotation=customer=alice&annotation=tier=2").await,
        Vec::<String>::new()
    );
    assert_eq!(list(&daemon, "?min_duration=1").await, [T2]);
    assert_eq!(list(&daemon, "?min_duration=0.2").await, [T5, T3, T2]);
    assert_eq!(list(&daemon, "?from=1005&to=1025").await, [T3, T2]);
    assert_eq!(
        list(&daemon, "?service=api&status=error&from=1015").await,
        [T3]
    );
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_and_followers() {
    let daemon = populated().await;
    let body: Value = api(&daemon, "/api/traces?service=db").await;
    let t2 = &body["traces"][0];
    assert_eq!(t2["id"], T2);
    assert_eq!(t2["root_service"], "web");
    assert_eq!(t2["start_time"], 1010.0);
    assert_eq!(t2["end_time"], 1012.0);
    assert_eq!(t2["duration"], 2.0);
    assert_eq!(t2["status"], "fault");
    assert_eq!(
        t2["http"],
        json!({"method": "POST", "url": "http://shop/b", "status": 500})
    );
    assert_eq!(t2["annotations"], json!({"customer": ["bob"]}));
    assert_eq!(t2["segments"], 2);
    assert_eq!(t2["documents"], 2);
    // One sequence number per trace touched by a batch: 5 traces, 6 documents.
    let latest = body["latest_seq"].as_i64().unwrap();
    assert!((5..=6).contains(&latest), "{latest}");

    let t4: Value = api(&daemon, &format!("/api/traces/{T4}")).await;
    assert_eq!(t4["summary"]["duration"], Value::Null);
    assert_eq!(t4["summary"]["status"], "throttle");
    assert_eq!(t4["summary"]["http"]["status"], 429);

    // A follower asks for what changed after the sequence number it has seen: oldest change first.
    let t3: Value = api(&daemon, &format!("/api/traces/{T3}")).await;
    let t3_seq = t3["summary"]["seq"].as_i64().unwrap();
    let news: Value = api(&daemon, &format!("/api/traces?after_seq={}", t3_seq - 1)).await;
    assert_eq!(ids(&news), [T3, T4, T5]);
    send_documents(
        &daemon,
        &[segment(
            T1,
            "00000000000000b1",
            "auth",
            1000.02,
            Some(1000.05),
            json!({"parent_id": "00000000000000a1"}),
        )],
    );
    settle(&daemon, 7).await;
    let news: Value = api(&daemon, &format!("/api/traces?after_seq={latest}")).await;
    assert_eq!(ids(&news), [T1]);
    assert_eq!(news["traces"][0]["seq"], latest + 1);
    assert_eq!(news["traces"][0]["root_service"], "web");
    daemon.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors() {
    let daemon = populated().await;
    let too_many_annotations = format!("/api/traces?{}", "annotation=k=v&".repeat(999));
    let cases = [
        (
            "/api/traces?status=broken",
            400,
            "status must be ok, error, throttle or fault, not \"broken\"",
        ),
        (
            "/api/traces?annotation=nokey",
            400,
            "annotation must be KEY=VALUE, not \"nokey\"",
        ),
        (
            "/api/traces?min_duration=soon",
            400,
            "min_duration must be a number, not \"soon\"",
        ),
        (
            "/api/traces?limit=-1",
            400,
            "limit must be a whole number, not \"-1\"",
        ),
        (
            "/api/traces?colour=red",
            400,
            "unknown parameter \"colour\"",
        ),
        (
            "/api/traces/not-a-trace",
            400,
            "\"not-a-trace\" is not a trace id (1-xxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx)",
        ),
        (
            "/api/invalid?limit=many",
            400,
            "limit must be a whole number, not \"many\"",
        ),
        (
            "/api/invalid?colour=red",
            400,
            "unknown parameter \"colour\"",
        ),
        (
            "/api/traces/%FF",
            400,
            "Invalid URL: Invalid UTF-8 in `trace_id`",
        ),
        (
            too_many_annotations.as_str(),
            400,
            "at most 20 annotation filters are allowed",
        ),
        (
            "/api/traces/1-5759e988-bd862e3fe1be46a994272799",
            404,
            "no trace 1-5759e988-bd862e3fe1be46a994272799",
        ),
    ];
    for (path, status, message) in cases {
        match try_api::<Value>(&daemon, path).await {
            Err(HttpError::Status {
                status: s,
                message: m,
            }) => {
                assert_eq!((s, m.as_str()), (status, message), "{path}");
            }
            other => panic!("{path}: {other:?}"),
        }
    }
    daemon.shutdown().await.unwrap();
}

/// A page that rebinds its own name to the daemon's address sends that name as `Host`: refused with a 421.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_loopback_and_allowed_host_names_are_answered() {
    use std::io::{Read, Write};
    let daemon = xray_daemon::Daemon::start(xray_daemon::Config {
        allowed_hosts: vec!["xray-daemon".to_owned()],
        ..xray_daemon::Config::ephemeral()
    })
    .await
    .unwrap();
    let address = daemon.api_address();
    let port = address.port();
    let get = move |host: String, path: &'static str| {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status: u16 = head.split_whitespace().nth(1).unwrap().parse().unwrap();
        (status, body.to_owned())
    };
    let cases = [
        (format!("evil.example:{port}"), "/api/traces", 421),
        (format!("evil.example:{port}"), "/", 421),
        (format!("localhost.evil.example:{port}"), "/api/stats", 421),
        (format!("127.0.0.1:{port}"), "/api/stats", 200),
        (format!("localhost:{port}"), "/api/stats", 200),
        (format!("[::1]:{port}"), "/api/stats", 200),
        (format!("xray-daemon:{port}"), "/api/stats", 200),
    ];
    for (host, path, status) in cases {
        let (s, body) = tokio::task::spawn_blocking({
            let host = host.clone();
            move || get(host, path)
        })
        .await
        .unwrap();
        assert_eq!(s, status, "{host} {path}");
        if status == 421 {
            let error: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(
                error["error"],
                format!(
                    "this daemon does not answer for host \"{host}\": use an IP address or localhost, or start \
                     it with --allow-host"
                )
            );
        }
    }
    daemon.shutdown().await.unwrap();
}

/// Half-open connections (nothing sent, or headers never finished) are closed by the daemon, on the API and
/// the sampling API; a complete request on a fresh connection is still answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_are_closed() {
    use std::io::{Read, Write};
    let daemon = xray_daemon::Daemon::start(xray_daemon::Config {
        http_limits: xray_daemon::api::HttpLimits {
            header_read_timeout: Duration::from_millis(300),
            idle_timeout: Duration::from_millis(300),
            max_connections: 4,
        },
        ..xray_daemon::Config::ephemeral()
    })
    .await
    .unwrap();
    let addresses = [daemon.api_address(), daemon.sampling_address()];
    let closed = tokio::task::spawn_blocking(move || {
        let mut outcomes = Vec::new();
        for address in addresses {
            for sent in ["", "GET /api/stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "] {
                let mut stream = std::net::TcpStream::connect(address).unwrap();
                // A safety net against a hang; the daemon closes well before.
                stream
                    .set_read_timeout(Some(Duration::from_secs(60)))
                    .unwrap();
                stream.write_all(sent.as_bytes()).unwrap();
                let mut rest = Vec::new();
                // The server closing the connection ends the read: EOF, or a reset.
                let outcome = match stream.read_to_end(&mut rest) {
                    Ok(_) => "closed",
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => "closed",
                    Err(e) => panic!("{address} {sent:?}: {e}"),
                };
                outcomes.push(outcome);
            }
        }
        outcomes
    })
    .await
    .unwrap();
    assert_eq!(closed, ["closed"; 4]);
    // Slots are given back: more connections than the limit, one after another, are all answered.
    for _ in 0..6 {
        let stats: Value = api(&daemon, "/api/stats").await;
        assert_eq!(stats["received"], 0);
    }
    daemon.shutdown().await.unwrap();
}

/// A query that runs past the store's time limit is stopped and answered with a 503 and a JSON error; the
/// connection it ran on serves the next query.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_the_time_limit_is_a_503_and_the_next_one_works() {
    let daemon = start().await;
    let docs: Vec<String> = (0..300u32)
        .map(|n| {
            segment(
                &format!("1-5759e988-{n:024x}"),
                &format!("{n:016x}"),
                "web",
                1000.0 + f64::from(n),
                Some(1000.5 + f64::from(n)),
                json!({}),
            )
        })
        .collect();
    send_documents(&daemon, &docs);
    settle(&daemon, 300).await;
    daemon.store().set_query_timeout(Duration::from_nanos(1));
    for path in ["/api/traces?limit=1000", "/api/traces?status=ok&limit=1000"] {
        let (status, body) = {
            let daemon = &daemon;
            tokio::task::block_in_place(|| http_get(daemon, path))
        };
        assert_eq!(status, 503, "{path}");
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!({"error": "the query ran past the store's time limit and was stopped: narrow it (a time range, \
                             a service, a status) and try again"}),
            "{path}"
        );
        assert_eq!(
            String::from_utf8(body).unwrap(),
            format!(
                "{{\"error\":\"{}\"}}",
                xray_daemon::api::error::QUERY_TIMEOUT_MESSAGE
            )
        );
    }
    daemon
        .store()
        .set_query_timeout(xray_daemon::store::DEFAULT_QUERY_TIMEOUT);
    let list: Value = api(&daemon, "/api/traces?limit=1000").await;
    assert_eq!(list["traces"].as_array().unwrap().len(), 300);
    let list: Value = api(&daemon, "/api/traces?status=ok&limit=1000").await;
    assert_eq!(list["traces"].as_array().unwrap().len(), 300);
    daemon.shutdown().await.unwrap();
}
