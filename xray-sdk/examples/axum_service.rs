//! An axum service traced by X-Ray, calling other services through reqwest.
//!
//! ```sh
//! cargo run -p xray-sdk --features axum,reqwest --example axum_service
//! curl localhost:3000/hello
//! curl 'localhost:3000/chain?next=http://localhost:3001/hello'
//! ```
//!
//! `PORT` sets the port (default 3000); segments go to `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000);
//! `AWS_XRAY_TRACING_NAME` overrides the service name.

#[path = "support/query.rs"]
mod query;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use xray_sdk::Recorder;
use xray_sdk::plugins::Plugins;
use xray_sdk::reqwest::XrayReqwestMiddleware;
use xray_sdk::tower::XrayHttpLayer;

use query::query_param;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = Recorder::builder()
        .service_name("axum-service")
        // Where it runs (Elastic Beanstalk, EKS, ECS, EC2), found in the background: `aws` block and origin.
        .plugins(Plugins::all())
        .build()?;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(XrayReqwestMiddleware::with_recorder(recorder.clone()))
        .build();
    let app = Router::new()
        .route("/hello", get(hello))
        .route("/chain", get(chain))
        .with_state(client)
        .layer(XrayHttpLayer::with_recorder(recorder.clone()));

    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 3000,
    };
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    println!("axum_service listening on {}", listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await?;
    recorder.shutdown(std::time::Duration::from_secs(1));
    Ok(())
}

async fn hello() -> &'static str {
    "hello from axum\n"
}

/// Calls the URL in `?next=`, and answers with its status and body.
async fn chain(State(client): State<ClientWithMiddleware>, uri: Uri) -> Response {
    let Some(next) = uri.query().and_then(|q| query_param(q, "next")) else {
        return (StatusCode::BAD_REQUEST, "missing ?next=URL\n").into_response();
    };
    match client.get(&next).send().await {
        Ok(response) => {
            let status = response.status();
            match response.bytes().await {
                Ok(body) => (status, body).into_response(),
                Err(e) => (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response(),
            }
        }
        Err(e) => (StatusCode::BAD_GATEWAY, format!("{e}\n")).into_response(),
    }
}
