//! Records one trace that uses every recording feature, sends it to `AWS_XRAY_DAEMON_ADDRESS` (default
//! 127.0.0.1:2000), and exits once everything is sent.
//!
//! `cargo run -p xray-sdk --example kitchen_sink`

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use serde::Serialize;
use xray_sdk::plugins::Plugins;
use xray_sdk::types::Namespace;
use xray_sdk::types::document::{Aws, HttpRequest, Sql};
use xray_sdk::{FutureExt, Recorder, capture, context};

#[derive(Debug)]
struct ConfigError(std::io::Error);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("loading the price list failed")
    }
}

impl StdError for ConfigError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.0)
    }
}

#[derive(Serialize)]
struct Cart {
    id: u32,
    items: Vec<&'static str>,
}

/// A captured function whose error is recorded with its source chain.
#[capture("load prices")]
fn load_prices() -> Result<u32, ConfigError> {
    Err(ConfigError(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        "prices.json: no such file",
    )))
}

/// A captured async function, polled on whatever worker thread tokio chooses.
#[capture]
async fn fetch_inventory(item: &'static str) -> usize {
    tokio::time::sleep(Duration::from_millis(2)).await;
    if let Some(entity) = context::current() {
        entity.put_annotation("item", item);
    }
    item.len()
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn StdError>> {
    let recorder = Recorder::builder()
        .service_name("kitchen-sink")
        // Where it runs (Elastic Beanstalk, EKS, ECS, EC2), found in the background: `aws` block and origin.
        .plugins(Plugins::all())
        .build()?;
    // A server never waits for detection (its first segments just lack the platform); this one-shot program
    // records a single trace, so it gives detection a moment.
    if let Some(platform) = recorder.wait_for_platform(Duration::from_secs(3)) {
        println!("running on {}", platform.origin);
    }
    let segment = recorder.segment("kitchen-sink").sampled(true).begin();
    let trace_id = segment.trace_id();
    segment.set_user("alice");
    segment.put_annotation("tier", "gold");
    segment.put_annotation("items", 3);
    segment.put_annotation("discount", 0.15);
    segment.put_annotation("first_order", true);
    segment.put_metadata(
        "cart",
        &Cart {
            id: 7,
            items: vec!["tea", "mug", "spoon"],
        },
    );
    segment.put_metadata_in("debug", "build", &"release");
    segment.set_http_request(HttpRequest {
        method: Some("POST".into()),
        url: Some("https://shop.example.com/checkout".into()),
        user_agent: Some("kitchen-sink/1.0".into()),
        client_ip: Some("203.0.113.7".into()),
        ..HttpRequest::default()
    });
    segment.set_http_response(200, Some(512));

    // Nested subsegments, an SQL query, an AWS call, a throttled call and a fault.
    {
        let db = recorder
            .subsegment("orders db")
            .namespace(Namespace::Remote)
            .begin()?;
        db.set_sql(Sql {
            url: Some("postgresql://db.internal:5432/orders".into()),
            sanitized_query: Some("SELECT * FROM orders WHERE id = $1".into()),
            database_type: Some("PostgreSQL".into()),
            database_version: Some("16.4".into()),
            ..Sql::default()
        });
        let aws = recorder
            .subsegment("DynamoDB")
            .namespace(Namespace::Aws)
            .begin()?;
        aws.set_aws(Aws {
            operation: Some("GetItem".into()),
            region: Some("us-east-1".into()),
            table_name: Some("carts".into()),
            ..Aws::default()
        });
        aws.set_http_response(429, None);
    }
    {
        let payment = recorder
            .subsegment("payment gateway")
            .namespace(Namespace::Remote)
            .begin()?;
        payment.set_http_request(HttpRequest {
            method: Some("POST".into()),
            url: Some("https://pay.example.com/charge".into()),
            ..HttpRequest::default()
        });
        payment.set_http_response(503, Some(0));
    }
    let _ = load_prices();

    // Concurrent subsegments from tasks on other threads, nesting under the segment.
    let tasks: Vec<_> = ["tea", "mug", "spoon"]
        .into_iter()
        .map(|item| context::spawn(fetch_inventory(item)))
        .collect();
    for task in tasks {
        task.await?;
    }
    async {
        let _sub = recorder.begin_subsegment("after await")?;
        tokio::time::sleep(Duration::from_millis(1)).await;
        Ok::<_, xray_sdk::ContextMissingError>(())
    }
    .in_current_entity()
    .await?;

    // A subtree too large for one datagram as a whole: it is split into independent subsegments.
    {
        let export = recorder.begin_subsegment("chunked export")?;
        for chunk in 0..12 {
            let part = recorder.begin_subsegment("chunk")?;
            part.put_annotation("chunk", chunk);
            part.put_metadata("data", &"y".repeat(6000));
        }
        export.put_annotation("chunks", 12);
    }

    // More than 30 subsegments, so that the finished ones are streamed ahead.
    for i in 0..40 {
        let sub = recorder.begin_subsegment("batch item")?;
        sub.put_annotation("index", i);
    }

    // One subsegment too large for a single datagram: it is trimmed rather than dropped.
    {
        let big = recorder.begin_subsegment("large report")?;
        big.put_metadata("rows", &vec!["x".repeat(1000); 80]);
    }

    drop(segment);
    let sent = recorder.flush(Duration::from_secs(5));
    println!("trace {trace_id} sent: {sent}");
    if !sent {
        return Err("the emitter did not drain in time".into());
    }
    Ok(())
}
