//! The viewer's pages and assets over HTTP (headers, embedding), and `GET /api/map` on traces recorded with the SDK.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::*;
use serde_json::Value;
use xray_daemon::cli::http::HttpError;
use xray_daemon::viewer::CONTENT_SECURITY_POLICY;

/// GET over HTTP/1.0: status, lower-case headers, body.
fn get(address: std::net::SocketAddr, path: &str) -> (u16, Vec<(String, String)>, Vec<u8>) {
    let mut stream = TcpStream::connect(address).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {address}\r\n\r\n").unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).unwrap();
    let split = response.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8(response[..split].to_vec()).unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    (status, headers, response[split + 4..].to_vec())
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_and_assets_are_embedded_and_locked_down() {
    let daemon = start().await;
    let address = daemon.api_address();
    let checks = tokio::task::spawn_blocking(move || {
        for path in [
            "/",
            "/traces/1-5759e988-bd862e3fe1be46a994272793",
            "/map",
            "/invalid",
            "/?status=fault",
        ] {
            let (status, headers, body) = get(address, path);
            assert_eq!(status, 200, "{path}");
            assert_eq!(
                header(&headers, "content-type"),
                Some("text/html; charset=utf-8"),
                "{path}"
            );
            let csp = header(&headers, "content-security-policy").unwrap();
            assert_eq!(csp, CONTENT_SECURITY_POLICY);
            assert!(
                csp.contains("script-src 'self'") && !csp.contains("unsafe"),
                "{csp}"
            );
            assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
            assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
            let html = String::from_utf8(body).unwrap();
            assert!(html.contains(r#"<script type="module" src="/assets/js/app.js"></script>"#));
        }
        for (name, media_type) in [
            ("js/app.js", "text/javascript; charset=utf-8"),
            ("js/map.js", "text/javascript; charset=utf-8"),
            ("viewer.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
        ] {
            let (status, headers, body) = get(address, &format!("/assets/{name}"));
            assert_eq!(status, 200, "{name}");
            assert_eq!(header(&headers, "content-type"), Some(media_type), "{name}");
            assert!(header(&headers, "content-security-policy").is_some());
            assert!(!body.is_empty());
        }
        for name in xray_daemon::viewer::asset_names() {
            assert_eq!(get(address, &format!("/assets/{name}")).0, 200, "{name}");
        }
        let (status, headers, _) = get(address, "/assets/../Cargo.toml");
        assert_eq!(status, 404);
        assert!(header(&headers, "content-security-policy").is_some());
        assert_eq!(get(address, "/assets/nope.js").0, 404);
        assert_eq!(get(address, "/nope").0, 404);
    });
    checks.await.unwrap();
    daemon.shutdown().await.unwrap();
}

fn node<'a>(map: &'a Value, name: &str) -> &'a Value {
    map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == name)
        .unwrap_or_else(|| panic!("no node {name} in {map:#}"))
}

fn edge<'a>(map: &'a Value, source: &str, target: &str) -> &'a Value {
    let (source, target) = (
        node(map, source)["id"].clone(),
        node(map, target)["id"].clone(),
    );
    map["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["source"] == source && e["target"] == target)
        .unwrap_or_else(|| panic!("no edge {source} → {target} in {map:#}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_service_map_of_sdk_traces() {
    let daemon = start().await;
    let recorded = sdk::record(&daemon).await;
    let map: Value = api(&daemon, "/api/map").await;
    assert_eq!(map["traces"], 4);
    assert_eq!(map["truncated"], false);
    let names: Vec<&str> = map["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 5, "{map:#}");
    for (name, kind, node_type) in [
        ("web", "service", "AWS::EC2::Instance"),
        ("api", "service", "AWS::ECS::Container"),
        (sdk::HTML_SERVICE, "service", "AWS::EC2::Instance"),
        ("orders@db.local", "remote", "Database::SQL"),
        ("DynamoDB", "remote", "AWS::DynamoDB"),
    ] {
        let n = node(&map, name);
        assert_eq!(
            (n["kind"].as_str(), n["type"].as_str()),
            (Some(kind), Some(node_type)),
            "{n}"
        );
    }
    assert_eq!(node(&map, "web")["stats"]["requests"], 3);
    assert_eq!(node(&map, "web")["stats"]["throttles"], 1);

    let web_api = &edge(&map, "web", "api")["stats"];
    assert_eq!(web_api["requests"], 2);
    assert_eq!(web_api["faults"], 1);
    assert_eq!(web_api["fault_rate"], 0.5);
    let latency = &web_api["latency"];
    assert!(latency["avg"].as_f64().unwrap() > 0.0);
    assert!(latency["p95"].as_f64().unwrap() >= latency["avg"].as_f64().unwrap());
    assert_eq!(edge(&map, "api", "orders@db.local")["stats"]["requests"], 2);
    assert_eq!(edge(&map, "api", "DynamoDB")["stats"]["requests"], 2);
    assert_eq!(map["edges"].as_array().unwrap().len(), 3, "{map:#}");

    // The time range selects traces by start time.
    let trace: Value = api(&daemon, &format!("/api/traces/{}", recorded.orders)).await;
    let start = trace["summary"]["start_time"].as_f64().unwrap();
    let later: Value = api(&daemon, &format!("/api/map?from={}", start + 3600.0)).await;
    assert_eq!(
        (
            later["traces"].clone(),
            later["nodes"].as_array().unwrap().len()
        ),
        (0.into(), 0)
    );
    let only_first: Value = api(
        &daemon,
        &format!("/api/map?from={}&to={}", start - 1.0, start),
    )
    .await;
    assert_eq!(only_first["traces"], 1);
    assert_eq!(edge(&only_first, "web", "api")["stats"]["requests"], 1);

    match try_api::<Value>(&daemon, "/api/map?from=yesterday").await {
        Err(HttpError::Status { status, message }) => {
            assert_eq!(
                (status, message.as_str()),
                (400, "from must be a number, not \"yesterday\"")
            );
        }
        other => panic!("{other:?}"),
    }
    daemon.shutdown().await.unwrap();
}
