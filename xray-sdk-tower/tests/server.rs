//! `XrayHttpLayer` in front of a real axum server on loopback, called by a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Extension, Path};
use axum::http::StatusCode;
use axum::routing::get;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tower_layer::Layer;
use tower_service::Service;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_core::{Entity, Recorder, context};
use xray_sdk_tower::XrayHttpLayer;

use support::{documents, recorder};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const MARKER: &str = "1-5759e988-00000000000000000000feed";

fn app(recorder: &Recorder) -> Router {
    let users = recorder.clone();
    let whoami = recorder.clone();
    Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route(
            "/users/{id}",
            get(move |Path(id): Path<String>| {
                let recorder = users.clone();
                async move {
                    let _load = recorder.begin_subsegment("load user").unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    format!("user {id}")
                }
            }),
        )
        .route(
            "/status/{code}",
            get(|Path(code): Path<u16>| async move { StatusCode::from_u16(code).unwrap() }),
        )
        .route(
            "/panic",
            get(|| async {
                if true {
                    panic!("handler exploded");
                }
                "unreachable"
            }),
        )
        .route(
            "/whoami",
            get(move |Extension(segment): Extension<Entity>| {
                let recorder = whoami.clone();
                async move {
                    let mut seen = Vec::new();
                    for _ in 0..5 {
                        tokio::task::yield_now().await;
                        tokio::time::sleep(Duration::from_millis(1)).await;
                        seen.push(context::current().unwrap());
                    }
                    assert!(seen.iter().all(|e| *e == segment));
                    let sub = recorder.begin_subsegment("work").unwrap();
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    assert_eq!(context::current().unwrap().id(), sub.id());
                    drop(sub);
                    format!("{} {}", segment.trace_id(), segment.id())
                }
            }),
        )
        .layer(XrayHttpLayer::with_recorder(recorder.clone()))
}

async fn serve(app: Router) -> SocketAddr {
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

async fn get_with(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> Result<(StatusCode, HeaderMap, String), hyper_util::client::legacy::Error> {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request = Request::get(format!("http://{addr}{path}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = client.request(request.body(Empty::new()).unwrap()).await?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    Ok((
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    ))
}

/// A request that is recorded whatever the sampler says (its header says `Sampled=1`), sent after the one that
/// must leave no document: a segment is sent before its response leaves the layer, so once the marker's document
/// is in, anything recorded before it would be too. The marker's must be the only document.
async fn assert_nothing_recorded_before_a_marker(addr: SocketAddr, emitter: &MemoryEmitter) {
    let header = format!("Root={MARKER};Sampled=1");
    get_with(addr, "/hello", &[("x-amzn-trace-id", &header)])
        .await
        .unwrap();
    let docs = documents(emitter, 1).await;
    assert_eq!(docs[0]["trace_id"], MARKER, "{docs:#?}");
}

fn trace_header(headers: &HeaderMap) -> &str {
    headers.get("x-amzn-trace-id").unwrap().to_str().unwrap()
}

#[tokio::test]
async fn records_one_segment_per_request_with_http_fields_and_route_and_no_secrets() {
    let (rec, emitter, asked) = recorder(true);
    let addr = serve(app(&rec)).await;
    let (status, headers, body) = get_with(
        addr,
        "/users/42?token=secret-token",
        &[
            ("user-agent", "tests/1.0"),
            ("authorization", "Bearer secret-bearer"),
            ("cookie", "session=secret-cookie"),
            ("x-forwarded-for", "203.0.113.9, 10.0.0.1"),
        ],
    )
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (StatusCode::OK, "user 42"));

    let docs = documents(&emitter, 1).await;
    let doc = &docs[0];
    assert!(!doc.to_string().contains("secret"), "{doc}");
    assert_eq!(doc["name"], "svc");
    assert!(doc.get("parent_id").is_none());
    assert_eq!(
        doc["http"],
        json!({
            "request": {
                "method": "GET",
                "url": format!("http://{addr}/users/42"),
                "user_agent": "tests/1.0",
                "client_ip": "203.0.113.9",
                "x_forwarded_for": true,
            },
            "response": {"status": 200, "content_length": 7},
        })
    );
    assert_eq!(doc["annotations"], json!({"http_route": "/users/{id}"}));
    assert_eq!(doc["subsegments"][0]["name"], "load user");
    assert_eq!(doc["subsegments"][0]["parent_id"], doc["id"]);
    assert!(doc.get("fault").is_none() && doc.get("error").is_none());
    assert_eq!(
        trace_header(&headers),
        format!("Root={}", doc["trace_id"].as_str().unwrap())
    );
    assert_eq!(
        *asked.lock().unwrap(),
        vec![(
            Some("127.0.0.1".to_owned()),
            Some("GET".to_owned()),
            Some("/users/42".to_owned())
        )]
    );
}

#[tokio::test]
async fn client_ip_is_the_peer_without_forwarding() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(app(&rec)).await;
    get_with(addr, "/hello", &[("x-forwarded-for", "not-an-address")])
        .await
        .unwrap();
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["http"]["request"]["client_ip"], "127.0.0.1");
    assert!(doc["http"]["request"].get("x_forwarded_for").is_none());
    assert!(doc["http"]["request"].get("user_agent").is_none());
    assert_eq!(doc["http"]["response"]["content_length"], 5);
}

#[tokio::test]
async fn incoming_trace_headers() {
    struct Case {
        headers: Vec<(&'static str, String)>,
        sampler: bool,
        /// The segment's trace id and parent id, or None when nothing is recorded.
        recorded: Option<(Option<&'static str>, Option<&'static str>)>,
        asks_sampler: bool,
        /// The response header, with `NEW` for the segment's own new trace id.
        response: &'static str,
    }
    let cases = [
        Case {
            headers: vec![(
                "x-amzn-trace-id",
                format!("Root={ROOT};Parent={PARENT};Sampled=1"),
            )],
            sampler: false,
            recorded: Some((Some(ROOT), Some(PARENT))),
            asks_sampler: false,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
        Case {
            headers: vec![(
                "x-amzn-trace-id",
                format!("Root={ROOT};Parent={PARENT};Sampled=0"),
            )],
            sampler: true,
            recorded: None,
            asks_sampler: false,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
        Case {
            headers: vec![("x-amzn-trace-id", format!("Root={ROOT};Sampled=?"))],
            sampler: true,
            recorded: Some((Some(ROOT), None)),
            asks_sampler: true,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1",
        },
        Case {
            headers: vec![(
                "x-amzn-trace-id",
                format!("Root={ROOT};Parent={PARENT};Sampled=?"),
            )],
            sampler: false,
            recorded: None,
            asks_sampler: true,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0",
        },
        Case {
            headers: vec![("x-amzn-trace-id", format!("Root={ROOT};Parent={PARENT}"))],
            sampler: true,
            recorded: Some((Some(ROOT), Some(PARENT))),
            asks_sampler: true,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
        Case {
            headers: vec![(
                "x-amzn-trace-id",
                "Root=nonsense;Parent=zz;Sampled=1".to_owned(),
            )],
            // A malformed field costs that field only: the header's own decision stands.
            sampler: false,
            recorded: Some((None, None)),
            asks_sampler: false,
            response: "NEW",
        },
        Case {
            headers: vec![("x-amzn-trace-id", "free text".to_owned())],
            sampler: true,
            recorded: Some((None, None)),
            asks_sampler: true,
            response: "NEW",
        },
        Case {
            headers: vec![],
            sampler: true,
            recorded: Some((None, None)),
            asks_sampler: true,
            response: "NEW",
        },
        Case {
            headers: vec![(
                "traceparent",
                "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01".to_owned(),
            )],
            sampler: false,
            recorded: Some((Some("1-4efaaf4d-1e8720b39541901950019ee5"), Some(PARENT))),
            asks_sampler: false,
            response: "Root=1-4efaaf4d-1e8720b39541901950019ee5",
        },
        Case {
            headers: vec![
                (
                    "x-amzn-trace-id",
                    format!("Root={ROOT};Parent={PARENT};Sampled=1"),
                ),
                (
                    "traceparent",
                    "00-4efaaf4d1e8720b39541901950019ee5-1111111111111111-01".to_owned(),
                ),
            ],
            sampler: false,
            recorded: Some((Some(ROOT), Some(PARENT))),
            asks_sampler: false,
            response: "Root=1-5759e988-bd862e3fe1be46a994272793",
        },
    ];
    for (i, case) in cases.iter().enumerate() {
        let (rec, emitter, asked) = recorder(case.sampler);
        let addr = serve(app(&rec)).await;
        let headers: Vec<(&str, &str)> =
            case.headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (status, response_headers, _) = get_with(addr, "/hello", &headers).await.unwrap();
        assert_eq!(status, StatusCode::OK, "case {i}");
        assert_eq!(
            !asked.lock().unwrap().is_empty(),
            case.asks_sampler,
            "case {i}"
        );
        let response = trace_header(&response_headers);
        match case.recorded {
            None => {
                assert_eq!(response, case.response, "case {i}");
                assert_nothing_recorded_before_a_marker(addr, &emitter).await;
            }
            Some((trace, parent)) => {
                let doc = &documents(&emitter, 1).await[0];
                let trace_id = doc["trace_id"].as_str().unwrap();
                match trace {
                    Some(t) => assert_eq!(trace_id, t, "case {i}"),
                    None => assert_ne!(trace_id, ROOT, "case {i}"),
                }
                assert_eq!(doc["parent_id"].as_str(), parent, "case {i}");
                let expected = case.response.replace("NEW", &format!("Root={trace_id}"));
                assert_eq!(response, expected, "case {i}");
            }
        }
    }
}

#[tokio::test]
async fn status_codes_set_error_throttle_and_fault() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(app(&rec)).await;
    for (code, error, throttle, fault) in [
        (200, false, false, false),
        (302, false, false, false),
        (404, true, false, false),
        (429, true, true, false),
        (500, false, false, true),
        (503, false, false, true),
    ] {
        let (status, _, _) = get_with(addr, &format!("/status/{code}"), &[])
            .await
            .unwrap();
        assert_eq!(status.as_u16(), code);
        let doc = &documents(&emitter, 1).await[0];
        assert_eq!(doc["http"]["response"]["status"], code);
        assert_eq!(doc["annotations"]["http_route"], "/status/{code}");
        let flag = |name: &str| doc.get(name) == Some(&Value::Bool(true));
        assert_eq!(
            (flag("error"), flag("throttle"), flag("fault")),
            (error, throttle, fault),
            "status {code}: {doc}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_ends_its_segment_as_a_fault() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(app(&rec)).await;
    assert!(get_with(addr, "/panic", &[]).await.is_err());
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["fault"], true);
    let exception = &doc["cause"]["exceptions"][0];
    assert_eq!(exception["type"], "panic");
    assert_eq!(exception["message"], "handler exploded");
    assert!(doc.get("in_progress").is_none());
    // The server goes on serving.
    let (status, _, _) = get_with(addr, "/hello", &[]).await.unwrap();
    assert_eq!(status, StatusCode::OK);
    documents(&emitter, 1).await;
}

#[tokio::test]
async fn a_request_future_dropped_mid_flight_ends_its_segment_as_a_fault() {
    let (rec, emitter, _) = recorder(true);
    let mut service = XrayHttpLayer::with_recorder(rec.clone())
        .layer(Router::new().route("/slow", get(std::future::pending::<&str>)));
    let request = Request::get("/slow")
        .header("host", "svc.example.com")
        .body(axum::body::Body::empty())
        .unwrap();
    std::future::poll_fn(|cx| Service::<Request<axum::body::Body>>::poll_ready(&mut service, cx))
        .await
        .unwrap();
    // Polled once (the handler never answers), then dropped.
    let mut future = Box::pin(service.call(request));
    let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(future.as_mut().poll(cx))).await;
    assert!(polled.is_pending());
    assert!(emitter.documents().is_empty());
    drop(future);
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["metadata"]["xray"]["cancelled"], true);
    assert!(doc["http"].get("response").is_none());
    assert_eq!(doc["http"]["request"]["url"], "http://svc.example.com/slow");
}

#[tokio::test]
async fn a_client_that_goes_away_leaves_a_closed_segment() {
    let (rec, emitter, _) = recorder(true);
    // A handler that says when it has started, and never answers.
    let started = Arc::new(tokio::sync::Notify::new());
    let app = Router::new()
        .route(
            "/slow",
            get({
                let started = Arc::clone(&started);
                move || async move {
                    started.notify_one();
                    std::future::pending::<&str>().await
                }
            }),
        )
        .layer(XrayHttpLayer::with_recorder(rec.clone()));
    let addr = serve(app).await;
    let client = tokio::spawn(get_with(addr, "/slow", &[]));
    started.notified().await;
    // The client goes away while the handler runs: hyper notices the closed connection and drops the request
    // future.
    client.abort();
    assert!(client.await.unwrap_err().is_cancelled());
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["metadata"]["xray"]["cancelled"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_mix_their_contexts() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(app(&rec)).await;
    let roots: Vec<String> = (0..40)
        .map(|i| format!("1-5759e988-{:024x}", 0xabc000 + i))
        .collect();
    let calls = roots.iter().cloned().map(|root| {
        tokio::spawn(async move {
            let header = format!("Root={root};Sampled=1");
            let (_, _, body) = get_with(addr, "/whoami", &[("x-amzn-trace-id", &header)])
                .await
                .unwrap();
            (root, body)
        })
    });
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    for (root, body) in &answers {
        assert!(body.starts_with(root.as_str()), "{root} answered {body}");
    }
    let docs = documents(&emitter, roots.len()).await;
    for doc in &docs {
        let (root, body) = answers
            .iter()
            .find(|(r, _)| doc["trace_id"] == r.as_str())
            .unwrap();
        assert_eq!(*body, format!("{root} {}", doc["id"].as_str().unwrap()));
        let subs = doc["subsegments"].as_array().unwrap();
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0]["parent_id"], doc["id"]);
    }
}

#[tokio::test]
async fn a_disabled_sdk_records_nothing_and_still_answers_the_trace_id() {
    let emitter = xray_sdk_core::emitter::MemoryEmitter::new();
    let rec = Recorder::builder()
        .env(xray_sdk_core::config::MapEnv::default())
        .enabled(false)
        .emitter(emitter.clone())
        .build()
        .unwrap();
    let addr = serve(app(&rec)).await;
    let header = format!("Root={ROOT};Parent={PARENT};Sampled=1");
    let (status, headers, _) = get_with(addr, "/users/1", &[("x-amzn-trace-id", &header)])
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(trace_header(&headers), format!("Root={ROOT}"));
    // Turned on again, the next request is the first document.
    rec.set_enabled(true);
    assert_nothing_recorded_before_a_marker(addr, &emitter).await;
}
