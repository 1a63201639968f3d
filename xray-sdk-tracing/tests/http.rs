//! tower-http's `TraceLayer` and an `#[instrument]`ed axum handler under `XrayHttpLayer`, in a real axum server
//! on loopback called by a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::json;
use tower_http::trace::TraceLayer;
use tracing::instrument;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_tower::XrayHttpLayer;
use xray_sdk_tracing::XrayLayer;

use support::{checked, recorder, shape_with, subscriber};

#[instrument(fields(xray.order_id = id))]
async fn order(Path(id): Path<u32>) -> String {
    tokio::time::sleep(Duration::from_millis(1)).await;
    load(id).await
}

#[instrument]
async fn load(id: u32) -> String {
    tokio::task::yield_now().await;
    if id == 0 {
        tracing::error!(error = "no such order", "lookup failed");
    }
    format!("order {id}")
}

async fn serve(app: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn get_body(addr: SocketAddr, path: &str) -> String {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let response = client
        .get(format!("http://{addr}{path}").parse().unwrap())
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

/// Waits (briefly) until the emitter holds a document, and takes it, checked and reduced.
async fn document(emitter: &MemoryEmitter) -> serde_json::Value {
    for _ in 0..300 {
        if !emitter.documents().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let docs = emitter.take();
    assert_eq!(docs.len(), 1, "{docs:#?}");
    // The segment ends with the response head; tower-http's span once the body has been sent.
    shape_with(&checked(&docs[0]), None, false)
}

// A runtime on the test's thread: the subscriber set for this test is the one every task sees.
#[tokio::test(flavor = "current_thread")]
async fn tower_http_and_instrumented_handler_nest_under_the_request_segment() {
    let (recorder, emitter) = recorder(true);
    let _subscriber = tracing::subscriber::set_default(subscriber(XrayLayer::new()));
    let app = Router::new()
        .route("/orders/{id}", get(order))
        .layer(TraceLayer::new_for_http())
        .layer(XrayHttpLayer::with_recorder(recorder));
    let addr = serve(app).await;

    assert_eq!(get_body(addr, "/orders/7").await, "order 7");
    let doc = document(&emitter).await;
    assert_eq!(
        doc["subsegments"],
        json!([{
            "name": "request",
            "metadata": {"tracing": {"method": "GET", "uri": "/orders/7", "version": "HTTP/1.1"}},
            "subsegments": [{
                "name": "order",
                "annotations": {"order_id": 7},
                // A destructured argument is recorded with its Debug text.
                "metadata": {"tracing": {"id": "7"}},
                "subsegments": [{"name": "load", "metadata": {"tracing": {"id": 7}}}]
            }]
        }])
    );

    assert_eq!(get_body(addr, "/orders/0").await, "order 0");
    let doc = document(&emitter).await;
    let load = &doc["subsegments"][0]["subsegments"][0]["subsegments"][0];
    assert_eq!(
        *load,
        json!({
            "name": "load",
            "metadata": {"tracing": {"id": 0}},
            "fault": true,
            "cause": {"exceptions": [
                {"message": "lookup failed", "cause": "no such order"},
                {"message": "no such order"}
            ]}
        })
    );
}
