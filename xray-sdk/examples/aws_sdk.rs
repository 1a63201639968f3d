//! AWS SDK for Rust calls traced by X-Ray: DynamoDB, S3 and SQS, each call an `aws` subsegment.
//!
//! ```sh
//! moto_server -p 5000 &            # or any AWS endpoint
//! AWS_ENDPOINT_URL=http://127.0.0.1:5000 cargo run -p xray-sdk --features aws --example aws_sdk
//! ```
//!
//! The endpoint, region and credentials come from the standard AWS environment: `AWS_ENDPOINT_URL` (default
//! `http://127.0.0.1:5000`, a local moto server), `AWS_REGION` (default `us-east-1`), `AWS_ACCESS_KEY_ID` /
//! `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` (default `testing`). This example speaks plain HTTP to keep its
//! build small; an application would load the same settings with `aws_config::load_defaults` and the SDK's
//! default HTTPS client. Segments go to `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000).

use std::time::Duration;

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType,
    ScalarAttributeType,
};
use aws_types::SdkConfig;
use aws_types::region::Region;
use xray_sdk::aws::XrayAws;
use xray_sdk::{FutureExt, Recorder};

fn env(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_owned())
}

/// The SDK configuration from the standard AWS environment variables.
fn sdk_config() -> SdkConfig {
    let credentials = Credentials::new(
        env("AWS_ACCESS_KEY_ID", "testing"),
        env("AWS_SECRET_ACCESS_KEY", "testing"),
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "environment",
    );
    SdkConfig::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new(env("AWS_REGION", "us-east-1")))
        .endpoint_url(env("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"))
        .credentials_provider(SharedCredentialsProvider::new(credentials))
        .http_client(aws_smithy_http_client::Builder::new().build_http())
        .build()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = Recorder::builder()
        .service_name("aws-sdk-example")
        .build()?;
    let sdk_config = sdk_config();
    // One line per client: the same interceptor value serves them all.
    let xray = XrayAws::with_recorder(recorder.clone());
    let dynamodb = aws_sdk_dynamodb::Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&sdk_config)
            .interceptor(xray.clone())
            .build(),
    );
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk_config)
            .interceptor(xray.clone())
            .force_path_style(true)
            .build(),
    );
    let sqs = aws_sdk_sqs::Client::from_conf(
        aws_sdk_sqs::config::Builder::from(&sdk_config)
            .interceptor(xray)
            .build(),
    );

    let segment = recorder
        .segment("aws-sdk-example")
        .sampled(true)
        .begin_detached();
    let trace_id = segment.entity().trace_id();
    let result: Result<(), Box<dyn std::error::Error>> = async {
        dynamodb
            .create_table()
            .table_name("xray-example")
            .attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name("id")
                    .attribute_type(ScalarAttributeType::S)
                    .build()?,
            )
            .key_schema(
                KeySchemaElement::builder()
                    .attribute_name("id")
                    .key_type(KeyType::Hash)
                    .build()?,
            )
            .billing_mode(BillingMode::PayPerRequest)
            .send()
            .await?;
        dynamodb
            .put_item()
            .table_name("xray-example")
            .item("id", AttributeValue::S("1".into()))
            .item("greeting", AttributeValue::S("hello".into()))
            .send()
            .await?;
        let item = dynamodb
            .get_item()
            .table_name("xray-example")
            .key("id", AttributeValue::S("1".into()))
            .send()
            .await?;
        println!("GetItem: {:?}", item.item());
        match dynamodb
            .get_item()
            .table_name("xray-missing-table")
            .key("id", AttributeValue::S("1".into()))
            .send()
            .await
        {
            Ok(_) => println!("GetItem on xray-missing-table: found"),
            Err(e) => match e.as_service_error() {
                Some(error) => {
                    println!("GetItem on xray-missing-table failed, as expected: {error}")
                }
                None => println!("GetItem on xray-missing-table failed: {e}"),
            },
        }

        s3.create_bucket()
            .bucket("xray-example-bucket")
            .send()
            .await?;
        s3.put_object()
            .bucket("xray-example-bucket")
            .key("hello.txt")
            .body(aws_sdk_s3::primitives::ByteStream::from_static(b"hello"))
            .send()
            .await?;
        let object = s3
            .get_object()
            .bucket("xray-example-bucket")
            .key("hello.txt")
            .send()
            .await?;
        let body = object.body.collect().await?.into_bytes();
        println!("GetObject hello.txt: {}", String::from_utf8_lossy(&body));

        let queue = sqs
            .create_queue()
            .queue_name("xray-example-queue")
            .send()
            .await?;
        let sent = sqs
            .send_message()
            .queue_url(queue.queue_url().unwrap_or_default())
            .message_body("hello")
            .send()
            .await?;
        println!("SendMessage: {}", sent.message_id().unwrap_or_default());
        Ok(())
    }
    .in_entity(segment.entity().clone())
    .await;
    segment.end();
    result?;
    println!("trace id: {trace_id}");
    recorder.flush(Duration::from_secs(2));
    Ok(())
}
