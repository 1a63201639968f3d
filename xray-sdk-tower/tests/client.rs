//! `XrayHttpClientLayer` around hyper's client, calling a real server on loopback.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "support/closed_port.rs"]
mod closed_port;
mod support;

use std::net::SocketAddr;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use http::Request;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tower_layer::Layer;
use tower_service::Service;
use xray_sdk_core::{FutureExt, Recorder};
use xray_sdk_tower::XrayHttpClientLayer;

use support::{documents, recorder};

/// A server that answers with the trace header it received.
async fn echo_server() -> SocketAddr {
    let app = Router::new().route(
        "/echo",
        get(|headers: HeaderMap| async move {
            headers
                .get("x-amzn-trace-id")
                .map_or("none".to_owned(), |v| v.to_str().unwrap().to_owned())
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn call(recorder: &Recorder, url: &str) -> Result<(u16, String), String> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut service = XrayHttpClientLayer::with_recorder(recorder.clone()).layer(client);
    std::future::poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(|e| e.to_string())?;
    let request = Request::get(url).body(Empty::new()).unwrap();
    let response = service.call(request).await.map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

#[tokio::test]
async fn records_a_remote_subsegment_and_sends_the_header() {
    let (rec, emitter, _) = recorder(true);
    let addr = echo_server().await;
    let url = format!("http://user:secret@{addr}/echo?key=secret");
    let segment = rec.segment("caller").begin_detached();
    let (status, received) = call(&rec, &url)
        .in_entity(segment.entity().clone())
        .await
        .unwrap();
    segment.end();
    assert_eq!(status, 200);

    let doc = &documents(&emitter, 1).await[0];
    assert!(!doc.to_string().contains("secret"), "{doc}");
    let sub = &doc["subsegments"][0];
    assert_eq!(sub["name"], "127.0.0.1");
    assert_eq!(sub["namespace"], "remote");
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
            "Root={};Parent={};Sampled=1",
            doc["trace_id"].as_str().unwrap(),
            sub["id"].as_str().unwrap()
        )
    );
}

#[tokio::test]
async fn without_a_segment_the_request_goes_out_unchanged() {
    let (rec, emitter, _) = recorder(true);
    let addr = echo_server().await;
    let (status, received) = call(&rec, &format!("http://{addr}/echo")).await.unwrap();
    assert_eq!((status, received.as_str()), (200, "none"));
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn under_an_unsampled_segment_the_trace_id_still_propagates() {
    let (rec, emitter, _) = recorder(true);
    let addr = echo_server().await;
    let segment = rec.segment("caller").sampled(false).begin_detached();
    let trace_id = segment.trace_id();
    let (_, received) = call(&rec, &format!("http://{addr}/echo"))
        .in_entity(segment.entity().clone())
        .await
        .unwrap();
    segment.end();
    assert_eq!(received, format!("Root={trace_id};Sampled=0"));
    assert!(emitter.documents().is_empty());
}

#[tokio::test]
async fn a_failed_request_is_a_fault_and_the_error_is_returned_unchanged() {
    let (rec, emitter, _) = recorder(true);
    let (_held, closed) = closed_port::closed_port();
    let segment = rec.segment("caller").begin_detached();
    let result = call(&rec, &format!("http://{closed}/echo"))
        .in_entity(segment.entity().clone())
        .await;
    segment.end();
    let error = result.unwrap_err();
    let doc = &documents(&emitter, 1).await[0];
    let sub = &doc["subsegments"][0];
    assert_eq!(sub["fault"], true);
    assert!(sub["http"].get("response").is_none());
    assert_eq!(sub["cause"]["exceptions"][0]["message"], error);
}
