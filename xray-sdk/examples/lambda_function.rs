//! A Lambda function traced by X-Ray, for the Lambda Runtime API at `AWS_LAMBDA_RUNTIME_API`.
//!
//! ```sh
//! cargo run -p xray-sdk --features lambda --example lambda_function
//! ```
//!
//! It runs with `run_concurrent`: with `AWS_LAMBDA_MAX_CONCURRENCY` above 1 it runs that many invocations at
//! once, each recorded under its own trace context. For an event `{"n": <number>}` it records a subsegment
//! `square` with the annotation `n`, and returns `{"n": <number>, "square": <n²>}`. Subsegments go to
//! `AWS_XRAY_DAEMON_ADDRESS` (set by Lambda), each sent before the invocation's response.

use lambda_runtime::tower::Layer;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::{Value, json};
use xray_sdk::capture;
use xray_sdk::lambda::XrayLambdaLayer;

/// The function's work, recorded as a subsegment of the invocation.
#[capture("square")]
async fn square(n: i64) -> Result<i64, Error> {
    xray_sdk::global().put_annotation("n", n)?;
    n.checked_mul(n)
        .ok_or_else(|| format!("{n} squared does not fit in 64 bits").into())
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    let n = event
        .payload
        .get("n")
        .and_then(Value::as_i64)
        .ok_or("the event has no integer \"n\"")?;
    Ok(json!({ "n": n, "square": square(n).await? }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run_concurrent(XrayLambdaLayer::new().layer(service_fn(handler))).await
}
