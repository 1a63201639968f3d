//! `XrayActixMiddleware` in a real actix-web server on loopback, called by a real HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../xray-sdk-tower/tests/support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{App, HttpResponse, HttpServer, web};
use serde_json::{Value, json};
use xray_sdk_actix::XrayActixMiddleware;
use xray_sdk_core::{Entity, Recorder, context};

use support::{documents, recorder};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const OTHER_ROOT: &str = "1-5759e988-00000000000000000000feed";

async fn user(path: web::Path<String>, recorder: web::Data<Recorder>) -> String {
    let _load = recorder.begin_subsegment("load user").unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(1)).await;
    format!("user {}", path.into_inner())
}

async fn status(path: web::Path<u16>) -> HttpResponse {
    HttpResponse::build(StatusCode::from_u16(path.into_inner()).unwrap()).finish()
}

async fn failing() -> Result<&'static str, actix_web::Error> {
    Err(actix_web::error::ErrorInternalServerError("database down"))
}

async fn panicking() -> &'static str {
    if true {
        panic!("handler exploded");
    }
    "unreachable"
}

/// Never answers.
async fn slow() -> &'static str {
    std::future::pending().await
}

async fn whoami(segment: web::ReqData<Entity>, recorder: web::Data<Recorder>) -> String {
    let segment = segment.into_inner();
    for _ in 0..5 {
        actix_web::rt::time::sleep(Duration::from_millis(1)).await;
        assert_eq!(context::current().unwrap(), segment);
    }
    let sub = recorder.begin_subsegment("work").unwrap();
    actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    assert_eq!(context::current().unwrap().id(), sub.id());
    drop(sub);
    format!("{} {}", segment.trace_id(), segment.id())
}

/// Starts an actix-web server on its own thread and runtime; returns its address.
fn serve(recorder: &Recorder) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let recorder = recorder.clone();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            HttpServer::new(move || {
                App::new()
                    .app_data(web::Data::new(recorder.clone()))
                    .route("/hello", web::get().to(|| async { "hello" }))
                    .route("/users/{id}", web::get().to(user))
                    .route("/status/{code}", web::get().to(status))
                    .route("/failing", web::get().to(failing))
                    .route("/panic", web::get().to(panicking))
                    .route("/slow", web::get().to(slow))
                    .route("/whoami", web::get().to(whoami))
                    .wrap(XrayActixMiddleware::with_recorder(recorder.clone()))
            })
            .workers(2)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run()
            .await
        })
    });
    addr
}

async fn get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Result<(u16, Option<String>, String)> {
    let mut request = reqwest::Client::new().get(format!("http://{addr}{path}"));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await?;
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("x-amzn-trace-id")
        .map(|v| v.to_str().unwrap().to_owned());
    Ok((status, header, response.text().await?))
}

#[tokio::test]
async fn records_one_segment_per_request_with_http_fields_and_route_and_no_secrets() {
    let (rec, emitter, asked) = recorder(true);
    let addr = serve(&rec);
    let (status, header, body) = get(
        addr,
        "/users/42?token=secret-token",
        &[
            ("user-agent", "tests/1.0"),
            ("authorization", "Bearer secret-bearer"),
            ("cookie", "session=secret-cookie"),
            ("x-forwarded-for", "203.0.113.9"),
        ],
    )
    .await
    .unwrap();
    assert_eq!((status, body.as_str()), (200, "user 42"));

    let doc = &documents(&emitter, 1).await[0];
    assert!(!doc.to_string().contains("secret"), "{doc}");
    assert_eq!(doc["name"], "svc");
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
    assert_eq!(
        header.unwrap(),
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
async fn incoming_trace_headers() {
    let (rec, emitter, _) = recorder(false);
    let addr = serve(&rec);

    // Sampled=0: nothing recorded, the trace id answered.
    let h = format!("Root={ROOT};Parent={PARENT};Sampled=0");
    let (_, header, _) = get(addr, "/hello", &[("x-amzn-trace-id", &h)])
        .await
        .unwrap();
    assert_eq!(header.unwrap(), format!("Root={ROOT}"));
    // Sampled=?: the sampler (which says no here) decides, and the decision is answered.
    let h = format!("Root={ROOT};Sampled=?");
    let (_, header, _) = get(addr, "/hello", &[("x-amzn-trace-id", &h)])
        .await
        .unwrap();
    assert_eq!(header.unwrap(), format!("Root={ROOT};Sampled=0"));

    // Sampled=1 wins over the sampler; a traceparent alone is honoured; a malformed header starts a new trace.
    // The first recorded request (of another trace) is also the first document: a segment is sent before its
    // response leaves the middleware, so nothing of the two requests above was recorded.
    let h = format!("Root={OTHER_ROOT};Parent={PARENT};Sampled=1");
    get(addr, "/hello", &[("x-amzn-trace-id", &h)])
        .await
        .unwrap();
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(
        (doc["trace_id"].as_str(), doc["parent_id"].as_str()),
        (Some(OTHER_ROOT), Some(PARENT))
    );

    let tp = "00-4efaaf4d1e8720b39541901950019ee5-53995c3f42cd8ad8-01";
    get(addr, "/hello", &[("traceparent", tp)]).await.unwrap();
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["trace_id"], "1-4efaaf4d-1e8720b39541901950019ee5");
    assert_eq!(doc["parent_id"], PARENT);

    let (rec, emitter, _) = recorder(true);
    let addr = serve(&rec);
    let (_, header, _) = get(addr, "/hello", &[("x-amzn-trace-id", "Root=bad;Sampled=1")])
        .await
        .unwrap();
    let doc = &documents(&emitter, 1).await[0];
    assert!(doc.get("parent_id").is_none());
    assert_eq!(
        header.unwrap(),
        format!("Root={}", doc["trace_id"].as_str().unwrap())
    );
}

#[tokio::test]
async fn statuses_and_handler_errors_set_error_throttle_and_fault() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(&rec);
    for (path, code, error, throttle, fault) in [
        ("/status/200", 200, false, false, false),
        ("/status/404", 404, true, false, false),
        ("/no/such/route", 404, true, false, false),
        ("/status/429", 429, true, true, false),
        ("/status/503", 503, false, false, true),
        ("/failing", 500, false, false, true),
    ] {
        let (status, header, _) = get(addr, path, &[]).await.unwrap();
        assert_eq!(status, code, "{path}");
        assert!(header.is_some());
        let doc = &documents(&emitter, 1).await[0];
        assert_eq!(doc["http"]["response"]["status"], code);
        let flag = |name: &str| doc.get(name) == Some(&Value::Bool(true));
        assert_eq!(
            (flag("error"), flag("throttle"), flag("fault")),
            (error, throttle, fault),
            "{path}: {doc}"
        );
    }
}

#[tokio::test]
async fn a_panicking_handler_ends_its_segment_as_a_fault() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(&rec);
    assert!(get(addr, "/panic", &[]).await.is_err());
    let doc = &documents(&emitter, 1).await[0];
    assert_eq!(doc["fault"], true);
    assert_eq!(doc["cause"]["exceptions"][0]["type"], "panic");
    assert_eq!(doc["cause"]["exceptions"][0]["message"], "handler exploded");
    let (status, _, _) = get(addr, "/hello", &[]).await.unwrap();
    assert_eq!(status, 200);
    documents(&emitter, 1).await;
}

/// actix-web lets a handler run to its end when the client goes away; what a timeout middleware or an embedding
/// server does instead is drop the request future, which this test does by hand.
#[test]
fn a_request_future_dropped_mid_flight_ends_its_segment_as_a_fault() {
    use actix_web::dev::Service;
    let (rec, emitter, _) = recorder(true);
    actix_web::rt::System::new().block_on(async {
        let app = actix_web::test::init_service(
            App::new()
                .route("/slow", web::get().to(slow))
                .wrap(XrayActixMiddleware::with_recorder(rec.clone())),
        )
        .await;
        let request = actix_web::test::TestRequest::get()
            .uri("/slow")
            .insert_header(("host", "svc.example.com"))
            .to_request();
        // Polled once (the handler never answers), then dropped.
        let mut call = Box::pin(app.call(request));
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(call.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
        assert!(emitter.documents().is_empty());
        drop(call);
    });
    let docs: Vec<Value> = emitter.take().iter().map(support::checked).collect();
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(docs[0]["metadata"]["xray"]["cancelled"], true);
    assert_eq!(
        docs[0]["http"]["request"]["url"],
        "http://svc.example.com/slow"
    );
    assert_eq!(docs[0]["annotations"]["http_route"], "/slow");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_requests_never_mix_their_contexts() {
    let (rec, emitter, _) = recorder(true);
    let addr = serve(&rec);
    let roots: Vec<String> = (0..40)
        .map(|i| format!("1-5759e988-{:024x}", 0xdef000 + i))
        .collect();
    let calls: Vec<_> = roots
        .iter()
        .cloned()
        .map(|root| {
            tokio::spawn(async move {
                let header = format!("Root={root};Sampled=1");
                let (_, _, body) = get(addr, "/whoami", &[("x-amzn-trace-id", &header)])
                    .await
                    .unwrap();
                (root, body)
            })
        })
        .collect();
    let mut answers = Vec::new();
    for call in calls {
        answers.push(call.await.unwrap());
    }
    let docs = documents(&emitter, roots.len()).await;
    for doc in &docs {
        let (root, body) = answers
            .iter()
            .find(|(r, _)| doc["trace_id"] == r.as_str())
            .unwrap();
        assert_eq!(*body, format!("{root} {}", doc["id"].as_str().unwrap()));
        assert_eq!(doc["subsegments"][0]["parent_id"], doc["id"]);
    }
}
