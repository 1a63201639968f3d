//! One trace through three services on loopback: axum → actix-web → axum, each calling the next through the reqwest
//! middleware, each sending its segments over UDP to one local daemon socket.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../xray-sdk-tower/tests/support/mod.rs"]
mod support;

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde_json::Value;
use xray_sdk::Recorder;
use xray_sdk::config::MapEnv;
use xray_sdk::types::framing::split_datagram;

/// A daemon socket that collects the documents of all three services.
struct Daemon(UdpSocket);

/// The trace of the marker request that ends each test (see [`Chain::documents_before_marker`]).
const MARKER: &str = "1-5759e988-00000000000000000000feed";

impl Daemon {
    fn new() -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        // Only so that a missing document fails the test instead of hanging it.
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        Daemon(socket)
    }

    fn recorder(&self, service: &str) -> Recorder {
        Recorder::builder()
            .env(MapEnv::default())
            .sampler(xray_sdk::sampling::AlwaysSample)
            .service_name(service)
            .daemon_address(self.0.local_addr().unwrap().to_string())
            .build()
            .unwrap()
    }

    /// Every document received until the marker trace's three, each checked against the schema; the marker's
    /// are left out.
    fn documents_until_marker(&self) -> Vec<Value> {
        let mut buf = vec![0u8; 70_000];
        let mut docs = Vec::new();
        let mut markers = 0;
        while markers < 3 {
            let n = self.0.recv(&mut buf).unwrap_or_else(|e| {
                panic!("{markers} of the marker's 3 documents after {docs:#?}: {e}")
            });
            let body = split_datagram(&buf[..n]).unwrap();
            let value: Value = serde_json::from_slice(body).unwrap();
            let doc: xray_sdk::types::Document = serde_json::from_value(value).unwrap();
            let doc = support::checked(&doc);
            if doc["trace_id"] == MARKER {
                markers += 1;
            } else {
                docs.push(doc);
            }
        }
        docs
    }
}

fn client(recorder: &Recorder) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(xray_sdk::reqwest::XrayReqwestMiddleware::with_recorder(
            recorder.clone(),
        ))
        .build()
}

/// Forwards to `next` and answers with its status and body.
async fn forward(client: &ClientWithMiddleware, next: &str) -> (u16, String) {
    match client.get(next).send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (502, e.to_string()),
    }
}

async fn axum_service(recorder: &Recorder, next: Option<String>) -> SocketAddr {
    let state = (client(recorder), next);
    let app = Router::new()
        .route("/hello", get(|| async { "hello from the back" }))
        .route(
            "/chain",
            get(
                |State((client, next)): State<(ClientWithMiddleware, Option<String>)>| async move {
                    let (status, body) = forward(&client, next.as_deref().unwrap()).await;
                    (StatusCode::from_u16(status).unwrap(), body)
                },
            ),
        )
        .with_state(state)
        .layer(xray_sdk::tower::XrayHttpLayer::with_recorder(
            recorder.clone(),
        ));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    addr
}

fn actix_service(recorder: &Recorder, next: String) -> SocketAddr {
    use actix_web::{App, HttpResponse, HttpServer, web};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = recorder.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                let client = client(&recorder);
                let next = next.clone();
                App::new()
                    .route(
                        "/chain",
                        web::get().to(move || {
                            let client = client.clone();
                            let next = next.clone();
                            async move {
                                let (status, body) = forward(&client, &next).await;
                                HttpResponse::build(
                                    actix_web::http::StatusCode::from_u16(status).unwrap(),
                                )
                                .body(body)
                            }
                        }),
                    )
                    .wrap(xray_sdk::actix::XrayActixMiddleware::with_recorder(
                        recorder.clone(),
                    ))
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    addr
}

struct Chain {
    daemon: Daemon,
    front: SocketAddr,
}

async fn chain() -> Chain {
    let daemon = Daemon::new();
    let back = axum_service(&daemon.recorder("back"), None).await;
    let middle = actix_service(&daemon.recorder("middle"), format!("http://{back}/hello"));
    let front = axum_service(
        &daemon.recorder("front"),
        Some(format!("http://{middle}/chain")),
    )
    .await;
    Chain { daemon, front }
}

impl Chain {
    /// Every document the chain sent before a last request, of its own trace, went through it. Each service
    /// sends its segment before its response leaves, and its documents in order over one socket: once the
    /// marker's three documents are in, everything recorded before them is too.
    async fn documents_before_marker(&self) -> Vec<Value> {
        let response = reqwest::Client::new()
            .get(format!("http://{}/chain", self.front))
            .header("x-amzn-trace-id", format!("Root={MARKER};Sampled=1"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        self.daemon.documents_until_marker()
    }
}

fn by_name<'a>(docs: &'a [Value], name: &str) -> &'a Value {
    docs.iter().find(|d| d["name"] == name).unwrap()
}

#[tokio::test]
async fn every_segment_and_subsegment_of_a_three_hop_chain_links_up() {
    let chain = chain().await;
    let response = reqwest::Client::new()
        .get(format!("http://{}/chain", chain.front))
        .header("x-amzn-trace-id", "Sampled=?;Lineage=a87bd80c:1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let answered = response.headers()["x-amzn-trace-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.text().await.unwrap(), "hello from the back");

    let docs = chain.documents_before_marker().await;
    assert_eq!(docs.len(), 3, "{docs:#?}");
    let (front, middle, back) = (
        by_name(&docs, "front"),
        by_name(&docs, "middle"),
        by_name(&docs, "back"),
    );
    let trace_id = front["trace_id"].as_str().unwrap();
    assert_eq!(answered, format!("Root={trace_id};Sampled=1"));
    for doc in [middle, back] {
        assert_eq!(doc["trace_id"], trace_id);
    }
    assert!(front.get("parent_id").is_none());

    let call = |doc: &Value| -> Value {
        let subs = doc["subsegments"].as_array().unwrap();
        assert_eq!(subs.len(), 1, "{doc}");
        subs[0].clone()
    };
    let front_call = call(front);
    let middle_call = call(middle);
    assert_eq!(front_call["namespace"], "remote");
    assert_eq!(front_call["http"]["request"]["traced"], true);
    assert_eq!(front_call["http"]["response"]["status"], 200);
    assert_eq!(front_call["parent_id"], front["id"]);
    assert_eq!(middle["parent_id"], front_call["id"]);
    assert_eq!(middle_call["parent_id"], middle["id"]);
    assert_eq!(back["parent_id"], middle_call["id"]);
    assert!(back.get("subsegments").is_none());
    assert_eq!(front["annotations"]["http_route"], "/chain");
    assert_eq!(middle["annotations"]["http_route"], "/chain");
    assert_eq!(back["annotations"]["http_route"], "/hello");
    // Each hop ends after the one it called.
    assert!(front["end_time"].as_f64() >= middle["end_time"].as_f64());
    assert!(middle["end_time"].as_f64() >= back["end_time"].as_f64());
}

#[tokio::test]
async fn an_unsampled_trace_records_nothing_anywhere_and_keeps_its_trace_id() {
    let chain = chain().await;
    let root = "1-5759e988-bd862e3fe1be46a994272793";
    let response = reqwest::Client::new()
        .get(format!("http://{}/chain", chain.front))
        .header(
            "x-amzn-trace-id",
            format!("Root={root};Parent=53995c3f42cd8ad8;Sampled=0"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response.headers()["x-amzn-trace-id"],
        format!("Root={root}").as_str()
    );
    let docs = chain.documents_before_marker().await;
    assert!(docs.is_empty(), "{docs:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_chains_keep_their_traces_apart() {
    let chain = chain().await;
    let front = chain.front;
    let calls: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async move {
                let r = reqwest::Client::new()
                    .get(format!("http://{front}/chain"))
                    .send()
                    .await
                    .unwrap();
                r.headers()["x-amzn-trace-id"].to_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut roots = Vec::new();
    for call in calls {
        roots.push(call.await.unwrap().trim_start_matches("Root=").to_owned());
    }
    let docs = chain.documents_before_marker().await;
    assert_eq!(docs.len(), 24);
    for root in &roots {
        let trace: Vec<&Value> = docs
            .iter()
            .filter(|d| d["trace_id"] == root.as_str())
            .collect();
        assert_eq!(trace.len(), 3, "trace {root}");
        let front = trace.iter().find(|d| d["name"] == "front").unwrap();
        let middle = trace.iter().find(|d| d["name"] == "middle").unwrap();
        let back = trace.iter().find(|d| d["name"] == "back").unwrap();
        assert_eq!(middle["parent_id"], front["subsegments"][0]["id"]);
        assert_eq!(back["parent_id"], middle["subsegments"][0]["id"]);
    }
}
