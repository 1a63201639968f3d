//! `XrayReqwestMiddleware` on a real reqwest client calling a real server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../xray-sdk-tower/tests/support/closed_port.rs"]
mod closed_port;
#[path = "../../xray-sdk-tower/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::{Value, json};
use xray_sdk_core::{FutureExt, Recorder};
use xray_sdk_reqwest::XrayReqwestMiddleware;
use xray_sdk_types::TraceHeader;

use support::{documents, recorder};

async fn server() -> SocketAddr {
    let app = Router::new()
        .route(
            "/echo",
            get(|headers: HeaderMap| async move {
                headers
                    .get("x-amzn-trace-id")
                    .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
            }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap() }),
        )
        .route(
            "/slow",
            // Never answers.
            get(std::future::pending::<&str>),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

fn client(recorder: &Recorder) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(XrayReqwestMiddleware::with_recorder(recorder.clone()))
        .build()
}

#[tokio::test]
async fn records_a_remote_subsegment_and_injects_the_header() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let incoming = TraceHeader::parse(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1",
    )
    .unwrap();
    let segment = rec
        .segment("caller")
        .trace_header(&incoming)
        .begin_detached();
    let url = format!("http://alice:secret@{addr}/echo?api_key=secret");
    let received = async {
        client(&rec)
            .get(&url)
            .header("authorization", "Bearer secret")
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    .in_entity(segment.entity().clone())
    .await;
    segment.end();

    let doc = &documents(&emitter, 1).await[0];
    assert!(!doc.to_string().contains("secret"), "{doc}");
    let sub = &doc["subsegments"][0];
    assert_eq!(sub["name"], "127.0.0.1");
    assert_eq!(sub["namespace"], "remote");
    assert_eq!(sub["parent_id"], doc["id"]);
    assert_eq!(
        sub["http"],
        json!({
            "request": {"method": "GET", "url": format!("http://{addr}/echo"), "traced": true},
            "response": {"status": 200, "content_length": received.len()},
        })
    );
    assert_eq!(
        received,
        format!(
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent={};Sampled=1;Lineage=a:1",
            sub["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn the_query_string_is_recorded_only_when_asked() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(XrayReqwestMiddleware::with_recorder(rec.clone()).record_query_string(true))
        .build();
    let segment = rec.segment("caller").begin_detached();
    client
        .get(format!("http://{addr}/echo?page=2"))
        .send()
        .in_entity(segment.entity().clone())
        .await
        .unwrap();
    segment.end();
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(
        doc["subsegments"][0]["http"]["request"]["url"],
        format!("http://{addr}/echo?page=2")
    );
}

#[tokio::test]
async fn without_a_segment_the_request_goes_out_unchanged() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let received = client(&rec)
        .get(format!("http://{addr}/echo"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(received, "none");
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn under_an_unsampled_segment_the_trace_id_still_propagates() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let segment = rec.segment("caller").sampled(false).begin_detached();
    let received = async {
        client(&rec)
            .get(format!("http://{addr}/echo"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }
    .in_entity(segment.entity().clone())
    .await;
    assert_eq!(received, format!("Root={};Sampled=0", segment.trace_id()));
    segment.end();
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn statuses_set_error_throttle_and_fault() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let segment = rec.segment("caller").begin_detached();
    let entity = segment.entity().clone();
    for code in [200u16, 404, 429, 503] {
        let response = client(&rec)
            .get(format!("http://{addr}/status/{code}"))
            .send()
            .in_entity(entity.clone())
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), code);
    }
    segment.end();
    let doc = &documents(&emitter, 1).await[0];
    let flags: Vec<(u64, bool, bool, bool)> = doc["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let flag = |n: &str| s.get(n) == Some(&Value::Bool(true));
            (
                s["http"]["response"]["status"].as_u64().unwrap(),
                flag("error"),
                flag("throttle"),
                flag("fault"),
            )
        })
        .collect();
    assert_eq!(
        flags,
        vec![
            (200, false, false, false),
            (404, true, false, false),
            (429, true, true, false),
            (503, false, false, true),
        ]
    );
    // The segment itself answered nothing: the flags stay on the subsegments.
    assert!(doc.get("fault").is_none());
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_faults_with_the_error_recorded() {
    let (rec, emitter, _) = recorder(true);
    let addr = server().await;
    let (_held, closed) = closed_port::closed_port();
    let segment = rec.segment("caller").begin_detached();
    let entity = segment.entity().clone();
    let timeout = client(&rec)
        .get(format!("http://{addr}/slow"))
        .timeout(Duration::from_millis(50))
        .send()
        .in_entity(entity.clone())
        .await
        .unwrap_err();
    assert!(timeout.is_timeout());
    let refused = client(&rec)
        .get(format!("http://{closed}/echo"))
        .send()
        .in_entity(entity.clone())
        .await
        .unwrap_err();
    assert!(refused.is_connect());
    segment.end();

    let doc = &documents(&emitter, 1).await[0];
    let subs = doc["subsegments"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    for (sub, kind) in subs.iter().zip(["Error(timeout)", "Error(connect)"]) {
        assert_eq!(sub["fault"], true, "{sub}");
        assert!(sub["http"].get("response").is_none());
        let exceptions = sub["cause"]["exceptions"].as_array().unwrap();
        assert_eq!(exceptions[0]["type"], kind);
        assert!(!exceptions[0]["message"].as_str().unwrap().is_empty());
    }
}
