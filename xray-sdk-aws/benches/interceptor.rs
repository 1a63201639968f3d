//! The interceptor's overhead per call: the same DynamoDB `GetItem` with and without `XrayAws`, answered by the
//! SDK's own test HTTP client (no network), inside a sampled segment and inside an unsampled one.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_http_client::test_util::infallible_client_fn;
use criterion::{Criterion, criterion_group, criterion_main};
use xray_sdk_aws::XrayAws;
use xray_sdk_core::emitter::NoopEmitter;
use xray_sdk_core::sampling::{AlwaysSample, NeverSample};
use xray_sdk_core::{FutureExt, Recorder};

const ITEM: &str = r#"{"Item":{"id":{"S":"1"},"name":{"S":"Ada"}}}"#;

fn client(xray: Option<XrayAws>) -> aws_sdk_dynamodb::Client {
    let http = infallible_client_fn(|_request| {
        http::Response::builder()
            .status(200)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amzn-requestid", "ABCDEFGHIJKLMNOPQRSTUVWXYZ")
            .header("content-length", ITEM.len().to_string())
            .body(ITEM)
            .unwrap()
    });
    let sdk = aws_types::SdkConfig::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_types::region::Region::new("us-west-2"))
        .endpoint_url("http://127.0.0.1:1")
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "bench",
        )))
        .http_client(http)
        .build();
    let mut builder = aws_sdk_dynamodb::config::Builder::from(&sdk);
    if let Some(xray) = xray {
        builder = builder.interceptor(xray);
    }
    aws_sdk_dynamodb::Client::from_conf(builder.build())
}

fn recorder(sampled: bool) -> Recorder {
    let builder = Recorder::builder()
        .env(xray_sdk_core::config::MapEnv::default())
        .emitter(NoopEmitter);
    let builder = if sampled {
        builder.sampler(AlwaysSample)
    } else {
        builder.sampler(NeverSample)
    };
    builder.build().unwrap()
}

fn get_item(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("dynamodb_get_item");
    for (name, sampled, traced) in [
        ("plain", true, false),
        ("xray_sampled", true, true),
        ("xray_unsampled", false, true),
    ] {
        let recorder = recorder(sampled);
        let client = client(traced.then(|| XrayAws::with_recorder(recorder.clone())));
        group.bench_function(name, |b| {
            b.iter(|| {
                let segment = recorder.segment("bench").begin_detached();
                let output = runtime.block_on(
                    client
                        .get_item()
                        .table_name("users")
                        .key("id", AttributeValue::S("1".into()))
                        .send()
                        .in_entity(segment.entity().clone()),
                );
                segment.end();
                black_box(output.unwrap());
            })
        });
    }
    group.finish();
}

criterion_group!(benches, get_item);
criterion_main!(benches);
