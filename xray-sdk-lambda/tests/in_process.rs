//! The layer called in-process with a recorder writing to memory: `lambda_http` requests, the trace context's
//! sources, cancellation, and SQS links.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll, Waker};

use lambda_runtime::{Config, Context, LambdaEvent, Service, service_fn};
use serde::Deserialize;
use serde_json::{Value, json};
use tower_layer::Layer;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::emitter::MemoryEmitter;
use xray_sdk_lambda::XrayLambdaLayer;
use xray_sdk_lambda::sqs::{XraySqsEvent, XraySqsRecord, link_sqs_records};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const HEADER: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

fn recorder() -> (Recorder, MemoryEmitter) {
    let emitter = MemoryEmitter::new();
    let recorder = Recorder::builder()
        .env(MapEnv::new([("AWS_LAMBDA_FUNCTION_NAME", "fn")]))
        .emitter(emitter.clone())
        .build()
        .unwrap();
    (recorder, emitter)
}

fn context(trace: Option<&str>) -> Context {
    let mut context = Context::default();
    context.xray_trace_id = trace.map(str::to_owned);
    context.env_config = Arc::new(Config {
        function_name: "orders".to_owned(),
        ..Config::default()
    });
    context
}

/// Polls a future that completes without waiting.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut TaskContext::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future is pending"),
    }
}

fn json_of(emitter: &MemoryEmitter) -> Vec<Value> {
    emitter
        .take()
        .iter()
        .map(|d| {
            let value = serde_json::to_value(d).unwrap();
            support::checked(&value);
            value
        })
        .collect()
}

#[test]
fn lambda_http_requests_carry_the_context_in_their_extensions() {
    let (recorder, emitter) = recorder();
    let inner = service_fn(|_: http::Request<String>| async {
        let entity = xray_sdk_core::context::current().unwrap();
        Ok::<_, lambda_runtime::Error>(entity.trace_header().unwrap().to_string())
    });
    let mut service = XrayLambdaLayer::new()
        .recorder(recorder)
        .env(MapEnv::default())
        .layer(inner);
    let mut request = http::Request::new(String::new());
    request.extensions_mut().insert(context(Some(HEADER)));
    let downstream = ready(service.call(request)).unwrap();
    let docs = json_of(&emitter);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["name"], "orders");
    assert_eq!(docs[0]["trace_id"], ROOT);
    assert_eq!(docs[0]["parent_id"], PARENT);
    assert_eq!(docs[0]["annotations"], json!({ "ColdStart": true }));
    // Calls made inside the handler name the invocation's subsegment as their parent.
    assert_eq!(
        downstream,
        format!(
            "Root={ROOT};Parent={};Sampled=1",
            docs[0]["id"].as_str().unwrap()
        )
    );
}

#[test]
fn the_environment_is_read_only_where_the_runtime_sets_it() {
    let env = [("_X_AMZN_TRACE_ID", HEADER)];
    for (max_concurrency, expected) in [(None, 1), (Some("1"), 1), (Some("4"), 0)] {
        let (recorder, emitter) = recorder();
        let mut vars: Vec<(&str, &str)> = env.to_vec();
        if let Some(n) = max_concurrency {
            vars.push(("AWS_LAMBDA_MAX_CONCURRENCY", n));
        }
        let mut service = XrayLambdaLayer::new()
            .recorder(recorder)
            .env(MapEnv::new(vars))
            .name("handler")
            .layer(service_fn(|_: LambdaEvent<Value>| async {
                Ok::<_, lambda_runtime::Error>(())
            }));
        ready(service.call(LambdaEvent::new(json!({}), context(None)))).unwrap();
        let docs = json_of(&emitter);
        assert_eq!(docs.len(), expected, "{max_concurrency:?}");
        if expected == 1 {
            assert_eq!(docs[0]["name"], "handler");
            assert_eq!(docs[0]["parent_id"], PARENT);
        }
    }
}

#[test]
fn cold_start_is_the_first_invocation_of_the_layer_and_its_clones() {
    let (recorder, emitter) = recorder();
    let layer = XrayLambdaLayer::new()
        .recorder(recorder)
        .env(MapEnv::default());
    let handler = |_: LambdaEvent<Value>| async { Ok::<_, lambda_runtime::Error>(()) };
    let mut first = layer.layer(service_fn(handler));
    let mut second = first.clone();
    ready(first.call(LambdaEvent::new(json!({}), context(Some(HEADER))))).unwrap();
    ready(second.call(LambdaEvent::new(json!({}), context(Some(HEADER))))).unwrap();
    ready(first.call(LambdaEvent::new(json!({}), context(Some(HEADER))))).unwrap();
    let cold: Vec<Value> = json_of(&emitter)
        .iter()
        .map(|d| d["annotations"]["ColdStart"].clone())
        .collect();
    assert_eq!(cold, [json!(true), json!(false), json!(false)]);
}

#[test]
fn a_dropped_invocation_ends_as_a_cancelled_fault() {
    let (recorder, emitter) = recorder();
    let mut service = XrayLambdaLayer::new()
        .recorder(recorder)
        .env(MapEnv::default())
        .layer(service_fn(|_: LambdaEvent<Value>| async {
            std::future::pending::<()>().await;
            Ok::<_, lambda_runtime::Error>(())
        }));
    {
        let mut future = pin!(service.call(LambdaEvent::new(json!({}), context(Some(HEADER)))));
        let polled = future
            .as_mut()
            .poll(&mut TaskContext::from_waker(Waker::noop()));
        assert!(polled.is_pending());
    }
    let docs = json_of(&emitter);
    assert_eq!(docs.len(), 1);
    assert_eq!(docs[0]["fault"], true);
    assert_eq!(
        docs[0]["metadata"],
        json!({ "xray": { "cancelled": true } })
    );
}

#[test]
fn sqs_records_link_the_invocation_to_their_messages_traces() {
    let (recorder, emitter) = recorder();
    let event = json!({
        "Records": [
            {
                "messageId": "059f36b4-87a3-44ab-83d2-661975830a7d",
                "body": "one",
                "attributes": {
                    "AWSTraceHeader": "Root=1-632bb806-bd862e3fe1be46a994272793;Parent=1111111111111111;Sampled=1;Lineage=1:fe460cdd:0",
                    "ApproximateReceiveCount": "1"
                },
                "eventSource": "aws:sqs"
            },
            { "messageId": "2e1424d4-f796-459a-8184-9c92662be6da", "body": "untraced", "attributes": {} },
            {
                "messageId": "b4a5d6e1-0000-4000-8000-000000000003",
                "attributes": { "AWSTraceHeader": "Root=1-632BB806-bd862e3fe1be46a994272794;Parent=2222222222222222;Sampled=0" }
            },
            {
                "messageId": "b4a5d6e1-0000-4000-8000-000000000004",
                "attributes": { "AWSTraceHeader": "Root=1-632BB806-bd862e3fe1be46a994272795;Sampled=1" }
            },
            { "messageId": "b4a5d6e1-0000-4000-8000-000000000005", "attributes": { "AWSTraceHeader": "garbage" } }
        ]
    });
    let mut service = XrayLambdaLayer::new()
        .recorder(recorder)
        .env(MapEnv::default())
        .layer(service_fn(|event: LambdaEvent<Value>| async move {
            let records = XraySqsEvent::deserialize(&event.payload)?;
            let invocation = xray_sdk_core::context::current().unwrap();
            Ok::<_, lambda_runtime::Error>(link_sqs_records(&invocation, &records))
        }));
    let linked =
        ready(service.call(LambdaEvent::new(event.clone(), context(Some(HEADER))))).unwrap();
    assert_eq!(linked, 1);
    let docs = json_of(&emitter);
    assert_eq!(
        docs[0]["links"],
        json!([{
            "trace_id": "1-632bb806-bd862e3fe1be46a994272793",
            "id": "1111111111111111",
            "attributes": { "messaging.message.id": "059f36b4-87a3-44ab-83d2-661975830a7d" }
        }])
    );
    let records = XraySqsEvent::deserialize(&event).unwrap();
    let sampled: Vec<bool> = records.records.iter().map(|r| r.is_sampled()).collect();
    assert_eq!(sampled, [true, false, false, true, false]);
    // The Python SDK's answers, but for `Sampled=10`, which it takes for `Sampled=1` by a substring test.
    let vectors: Value =
        serde_json::from_str(&xray_sdk_testdata::read_text("python-sdk-vectors.json")).unwrap();
    for case in vectors["sqs_message_helper"].as_array().unwrap() {
        let record = XraySqsRecord {
            message_id: None,
            aws_trace_header: case["AWSTraceHeader"].as_str().map(str::to_owned),
        };
        let expected =
            case["isSampled"].as_bool().unwrap() && case["AWSTraceHeader"] != "Sampled=10";
        assert_eq!(record.is_sampled(), expected, "{case}");
    }
    // Bad input is no error: an event without records, records without attributes.
    let empty = XraySqsEvent::deserialize(&json!({ "Records": [{ "body": "x" }] })).unwrap();
    assert_eq!(empty.records[0].trace_header(), None);
}
