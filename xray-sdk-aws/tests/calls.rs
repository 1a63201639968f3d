//! Real AWS SDK for Rust clients (DynamoDB, S3, SQS) against a local moto server, through a recording proxy:
//! the exact subsegments, the trace header each call carried, errors, throttling, retries, timeouts, concurrency.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Duration;

use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_smithy_types::retry::RetryConfig;
use aws_smithy_types::timeout::TimeoutConfig;
use serde_json::{Value, json};
use support::{Fault, Moto, Proxy, documents, recorder, sdk_config, subsegments};
use xray_sdk_aws::XrayAws;
use xray_sdk_core::{FutureExt, Recorder};

fn dynamodb(recorder: &Recorder, endpoint: &str, retry: RetryConfig) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config(endpoint))
        .interceptor(XrayAws::with_recorder(recorder.clone()))
        .retry_config(retry)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) {
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("id")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("id")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .unwrap();
}

/// Each traced request carried `Root=<trace>;Parent=<its subsegment>;Sampled=1`, in order.
fn assert_trace_headers(proxy: &Proxy, segment: &Value) {
    let trace = segment["trace_id"].as_str().unwrap();
    let expected: Vec<String> = segment["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "Root={trace};Parent={};Sampled=1",
                s["id"].as_str().unwrap()
            )
        })
        .collect();
    let received: Vec<String> = proxy
        .received()
        .iter()
        .map(|r| r.header("x-amzn-trace-id").unwrap_or("<none>").to_owned())
        .collect();
    assert_eq!(received, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_calls_and_a_missing_table() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(true);
    let client = dynamodb(&recorder, &proxy.url, RetryConfig::standard());
    let segment = recorder.segment("app").begin_detached();
    let missing = async {
        create_table(&client, "users").await;
        client
            .put_item()
            .table_name("users")
            .item("id", AttributeValue::S("1".into()))
            .item("name", AttributeValue::S("Ada".into()))
            .send()
            .await
            .unwrap();
        let item = client
            .get_item()
            .table_name("users")
            .key("id", AttributeValue::S("1".into()))
            .consistent_read(true)
            .send()
            .await
            .unwrap();
        assert_eq!(
            item.item().unwrap()["name"],
            AttributeValue::S("Ada".into())
        );
        client
            .get_item()
            .table_name("missing-table")
            .key("id", AttributeValue::S("1".into()))
            .send()
            .await
    }
    .in_entity(segment.entity().clone())
    .await;
    assert!(
        missing.is_err(),
        "the service's error reaches the caller unchanged"
    );
    segment.end();

    let docs = documents(&emitter);
    assert_eq!(docs.len(), 1);
    let segment = &docs[0];
    let parent = segment["id"].clone();
    let sub = |status: u16, aws: Value| {
        json!({"name": "DynamoDB", "namespace": "aws", "parent_id": parent,
               "type": "subsegment", "http": {"response": {"status": status, "content_length": Value::Null}},
               "aws": aws})
    };
    let mut expected = vec![
        sub(
            200,
            json!({"operation": "CreateTable", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                        "table_name": "users"}),
        ),
        sub(
            200,
            json!({"operation": "PutItem", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                        "table_name": "users"}),
        ),
        sub(
            200,
            json!({"operation": "GetItem", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                        "table_name": "users", "consistent_read": true}),
        ),
        sub(
            400,
            json!({"operation": "GetItem", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                        "table_name": "missing-table"}),
        ),
    ];
    let got = subsegments(segment);
    // Content lengths are moto's; they are present and positive.
    for (e, g) in expected.iter_mut().zip(&got) {
        let length = &g["http"]["response"]["content_length"];
        assert!(length.as_u64().is_some_and(|n| n > 0), "{g}");
        e["http"]["response"]["content_length"] = length.clone();
    }
    expected[3]["error"] = json!(true);
    expected[3]["cause"] = json!({"exceptions": [{
        "type": "ResourceNotFoundException", "message": "Requested resource not found", "remote": true}]});
    assert_eq!(got, expected);
    assert_trace_headers(&proxy, segment);
}

fn s3(recorder: &Recorder, endpoint: &str) -> aws_sdk_s3::Client {
    let config = aws_sdk_s3::config::Builder::from(&sdk_config(endpoint))
        .interceptor(XrayAws::with_recorder(recorder.clone()))
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(config)
}

fn sqs(recorder: &Recorder, endpoint: &str) -> aws_sdk_sqs::Client {
    let config = aws_sdk_sqs::config::Builder::from(&sdk_config(endpoint))
        .interceptor(XrayAws::with_recorder(recorder.clone()))
        .build();
    aws_sdk_sqs::Client::from_conf(config)
}

/// Replaces a subsegment's content length (moto's) by a placeholder, after checking it is positive.
fn without_length(mut subsegments: Vec<Value>) -> Vec<Value> {
    for s in &mut subsegments {
        if let Some(length) = s.pointer_mut("/http/response/content_length") {
            assert!(length.as_u64().is_some(), "{length}");
            *length = json!("<n>");
        }
    }
    subsegments
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_bucket_and_keys_and_a_missing_key() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(true);
    let client = s3(&recorder, &proxy.url);
    let segment = recorder.segment("app").begin_detached();
    let missing = async {
        client
            .create_bucket()
            .bucket("photos")
            .create_bucket_configuration(
                aws_sdk_s3::types::CreateBucketConfiguration::builder()
                    .location_constraint(aws_sdk_s3::types::BucketLocationConstraint::UsWest2)
                    .build(),
            )
            .send()
            .await
            .unwrap();
        client
            .put_object()
            .bucket("photos")
            .key("2024/cat.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"meow"))
            .send()
            .await
            .unwrap();
        let object = client
            .get_object()
            .bucket("photos")
            .key("2024/cat.txt")
            .send()
            .await
            .unwrap();
        let body = object.body.collect().await.unwrap().into_bytes();
        assert_eq!(&body[..], b"meow");
        client
            .get_object()
            .bucket("photos")
            .key("nope.txt")
            .send()
            .await
    }
    .in_entity(segment.entity().clone())
    .await;
    let error = missing.unwrap_err();
    assert!(error.into_service_error().is_no_such_key());
    segment.end();

    let docs = documents(&emitter);
    let segment = &docs[0];
    let parent = segment["id"].clone();
    let sub = |status: u16, aws: Value| {
        json!({"name": "S3", "namespace": "aws", "parent_id": parent, "type": "subsegment",
               "http": {"response": {"status": status, "content_length": "<n>"}}, "aws": aws})
    };
    let mut expected = vec![
        sub(
            200,
            json!({"operation": "CreateBucket", "region": "us-west-2", "request_id": "<id>",
                        "retries": 0, "bucket_name": "photos"}),
        ),
        sub(
            200,
            json!({"operation": "PutObject", "region": "us-west-2", "request_id": "<id>",
                        "retries": 0, "bucket_name": "photos", "key": "2024/cat.txt"}),
        ),
        sub(
            200,
            json!({"operation": "GetObject", "region": "us-west-2", "request_id": "<id>",
                        "retries": 0, "bucket_name": "photos", "key": "2024/cat.txt"}),
        ),
        sub(
            404,
            json!({"operation": "GetObject", "region": "us-west-2", "request_id": "<id>",
                        "retries": 0, "bucket_name": "photos", "key": "nope.txt"}),
        ),
    ];
    expected[3]["error"] = json!(true);
    expected[3]["cause"] = json!({"exceptions": [{
        "type": "NoSuchKey", "message": "The specified key does not exist.", "remote": true}]});
    assert_eq!(without_length(subsegments(segment)), expected);
    assert_trace_headers(&proxy, segment);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_messages_carry_the_trace() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(true);
    let client = sqs(&recorder, &proxy.url);
    let segment = recorder.segment("producer").begin_detached();
    let received = async {
        let queue = client
            .create_queue()
            .queue_name("orders")
            .send()
            .await
            .unwrap();
        let url = queue.queue_url().unwrap().to_owned();
        client
            .send_message()
            .queue_url(&url)
            .message_body("order 7")
            .message_attributes(
                "kind",
                aws_sdk_sqs::types::MessageAttributeValue::builder()
                    .data_type("String")
                    .string_value("order")
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
        client
            .receive_message()
            .queue_url(&url)
            .message_system_attribute_names(
                aws_sdk_sqs::types::MessageSystemAttributeName::AwsTraceHeader,
            )
            .send()
            .await
            .unwrap()
    }
    .in_entity(segment.entity().clone())
    .await;
    segment.end();

    let docs = documents(&emitter);
    let segment = &docs[0];
    let got = without_length(subsegments(segment));
    let queue_url = got[1]["aws"]["queue_url"].as_str().unwrap().to_owned();
    assert!(queue_url.ends_with("/orders"), "{queue_url}");
    let message_id = got[1]["aws"]["message_id"].as_str().unwrap().to_owned();
    let parent = segment["id"].clone();
    let sub = |aws: Value| {
        json!({"name": "SQS", "namespace": "aws", "parent_id": parent, "type": "subsegment",
               "http": {"response": {"status": 200, "content_length": "<n>"}}, "aws": aws})
    };
    let expected = vec![
        sub(
            json!({"operation": "CreateQueue", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                   "queue_name": "orders"}),
        ),
        sub(
            json!({"operation": "SendMessage", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                   "queue_url": queue_url, "message_attribute_names": ["kind"], "message_id": message_id}),
        ),
        sub(
            json!({"operation": "ReceiveMessage", "region": "us-west-2", "request_id": "<id>", "retries": 0,
                   "queue_url": queue_url, "message_count": 1}),
        ),
    ];
    assert_eq!(got, expected);
    assert_trace_headers(&proxy, segment);

    // The message carries the header of the SendMessage call, and the consumer continues that trace.
    let messages = received.messages();
    assert_eq!(messages.len(), 1);
    let header = xray_sdk_aws::trace_header_of_message(&messages[0]).unwrap();
    let send_id = segment["subsegments"][1]["id"].as_str().unwrap();
    assert_eq!(
        header.to_string(),
        format!(
            "Root={};Parent={send_id};Sampled=1",
            segment["trace_id"].as_str().unwrap()
        )
    );
    let consumer = recorder
        .segment("consumer")
        .trace_header(&header)
        .begin_detached();
    consumer.end();
    let docs = documents(&emitter);
    assert_eq!(docs[1]["trace_id"], segment["trace_id"]);
    assert_eq!(docs[1]["parent_id"], json!(send_id));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_retried_and_timed_out_calls() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(true);
    let once = dynamodb(&recorder, &proxy.url, RetryConfig::disabled());
    let retrying = dynamodb(
        &recorder,
        &proxy.url,
        RetryConfig::standard().with_initial_backoff(Duration::from_millis(1)),
    );
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config(&proxy.url))
        .interceptor(XrayAws::with_recorder(recorder.clone()))
        .retry_config(RetryConfig::disabled())
        .timeout_config(
            TimeoutConfig::builder()
                .operation_timeout(Duration::from_millis(300))
                .build(),
        )
        .build();
    let impatient = aws_sdk_dynamodb::Client::from_conf(config);
    let segment = recorder.segment("app").begin_detached();
    async {
        proxy.fail_next([Fault::Answer(429, "ThrottlingException")]);
        assert!(once.list_tables().send().await.is_err());
        proxy.fail_next([Fault::Answer(500, "InternalServerError")]);
        retrying.list_tables().send().await.unwrap();
        proxy.fail_next([Fault::Hang]);
        let timed_out = impatient.list_tables().send().await.unwrap_err();
        assert!(
            matches!(
                timed_out,
                aws_sdk_dynamodb::error::SdkError::TimeoutError(_)
            ),
            "{timed_out:?}"
        );
    }
    .in_entity(segment.entity().clone())
    .await;
    segment.end();

    let docs = documents(&emitter);
    let segment = &docs[0];
    let parent = segment["id"].clone();
    let got = without_length(subsegments(segment));
    let expected = vec![
        json!({"name": "DynamoDB", "namespace": "aws", "parent_id": parent, "type": "subsegment",
               "http": {"response": {"status": 429, "content_length": "<n>"}},
               "aws": {"operation": "ListTables", "region": "us-west-2", "request_id": "<id>", "retries": 0},
               "error": true, "throttle": true,
               "cause": {"exceptions": [{"type": "ThrottlingException", "message": "injected ThrottlingException",
                                         "remote": true}]}}),
        json!({"name": "DynamoDB", "namespace": "aws", "parent_id": parent, "type": "subsegment",
               "http": {"response": {"status": 200, "content_length": "<n>"}},
               "aws": {"operation": "ListTables", "region": "us-west-2", "request_id": "<id>", "retries": 1,
                       "table_count": 0}}),
        json!({"name": "DynamoDB", "namespace": "aws", "parent_id": parent, "type": "subsegment",
               "aws": {"operation": "ListTables", "region": "us-west-2", "retries": 0}, "fault": true,
               "cause": {"exceptions": [{"type": "OperationIncomplete", "remote": false,
                   "message": "the call ended before a response: the operation timeout elapsed or the caller stopped waiting"}]}}),
    ];
    assert_eq!(got, expected);
    // Every attempt carried the header of its call's subsegment, the retry too.
    let trace = segment["trace_id"].as_str().unwrap();
    let ids: Vec<&str> = segment["subsegments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    let headers: Vec<String> = proxy
        .received()
        .iter()
        .map(|r| r.header("x-amzn-trace-id").unwrap().to_owned())
        .collect();
    let expected: Vec<String> = [ids[0], ids[1], ids[1], ids[2]]
        .iter()
        .map(|id| format!("Root={trace};Parent={id};Sampled=1"))
        .collect();
    assert_eq!(headers, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_client_many_concurrent_segments() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(true);
    let client = dynamodb(&recorder, &proxy.url, RetryConfig::disabled());
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = client.clone();
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let name = format!("worker-{i}");
            let segment = recorder.segment(&name).begin_detached();
            let result = client
                .describe_table()
                .table_name(format!("table-{i}"))
                .send()
                .in_entity(segment.entity().clone())
                .await;
            assert!(result.is_err());
            segment.end();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let docs = documents(&emitter);
    assert_eq!(docs.len(), 16);
    let received = proxy.received();
    assert_eq!(received.len(), 16);
    for doc in &docs {
        let i = doc["name"]
            .as_str()
            .unwrap()
            .strip_prefix("worker-")
            .unwrap();
        let subs = doc["subsegments"].as_array().unwrap();
        assert_eq!(subs.len(), 1, "{doc}");
        assert_eq!(subs[0]["parent_id"], doc["id"]);
        assert_eq!(subs[0]["aws"]["table_name"], json!(format!("table-{i}")));
        let header = format!(
            "Root={};Parent={};Sampled=1",
            doc["trace_id"].as_str().unwrap(),
            subs[0]["id"].as_str().unwrap()
        );
        let matching = received
            .iter()
            .filter(|r| r.header("x-amzn-trace-id") == Some(header.as_str()))
            .count();
        assert_eq!(matching, 1, "{header}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsampled_and_untraced_calls() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.port).await;
    let (recorder, emitter) = recorder(false);
    let client = dynamodb(&recorder, &proxy.url, RetryConfig::disabled());
    let segment = recorder.segment("app").begin_detached();
    let trace = segment.entity().trace_id();
    client
        .list_tables()
        .send()
        .in_entity(segment.entity().clone())
        .await
        .unwrap();
    segment.end();
    // No segment at all: the call goes out without a header and nothing is recorded.
    client.list_tables().send().await.unwrap();
    assert!(emitter.documents().is_empty());
    let received = proxy.received();
    let header = received[0].header("x-amzn-trace-id").unwrap();
    assert!(header.starts_with(&format!("Root={trace};")), "{header}");
    assert!(header.ends_with(";Sampled=0"), "{header}");
    assert_eq!(received[1].header("x-amzn-trace-id"), None);
}
