//! An actix-web service traced by X-Ray, calling other services through reqwest.
//!
//! ```sh
//! cargo run -p xray-sdk --features actix,reqwest --example actix_service
//! curl localhost:3000/hello
//! curl 'localhost:3000/chain?next=http://localhost:3001/hello'
//! ```
//!
//! `PORT` sets the port (default 3000); segments go to `AWS_XRAY_DAEMON_ADDRESS` (default 127.0.0.1:2000);
//! `AWS_XRAY_TRACING_NAME` overrides the service name.

#[path = "support/query.rs"]
mod query;

use actix_web::http::StatusCode;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use xray_sdk::Recorder;
use xray_sdk::actix::XrayActixMiddleware;
use xray_sdk::plugins::Plugins;
use xray_sdk::reqwest::XrayReqwestMiddleware;

use query::query_param;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let recorder = Recorder::builder()
        .service_name("actix-service")
        // Where it runs (Elastic Beanstalk, EKS, ECS, EC2), found in the background: `aws` block and origin.
        .plugins(Plugins::all())
        .build()?;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(XrayReqwestMiddleware::with_recorder(recorder.clone()))
        .build();
    let port: u16 = match std::env::var("PORT") {
        Ok(p) => p.parse()?,
        Err(_) => 3000,
    };
    let server_recorder = recorder.clone();
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::new(client.clone()))
                .route("/hello", web::get().to(hello))
                .route("/chain", web::get().to(chain))
                .wrap(XrayActixMiddleware::with_recorder(server_recorder.clone()))
        })
        .bind(("0.0.0.0", port))?;
        println!("actix_service listening on {:?}", server.addrs());
        server.run().await
    })?;
    recorder.shutdown(std::time::Duration::from_secs(1));
    Ok(())
}

async fn hello() -> &'static str {
    "hello from actix\n"
}

/// Calls the URL in `?next=`, and answers with its status and body.
async fn chain(req: HttpRequest, client: web::Data<ClientWithMiddleware>) -> HttpResponse {
    let Some(next) = query_param(req.query_string(), "next") else {
        return HttpResponse::BadRequest().body("missing ?next=URL\n");
    };
    match client.get(&next).send().await {
        Ok(response) => {
            let status =
                StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            match response.bytes().await {
                Ok(body) => HttpResponse::build(status).body(body.to_vec()),
                Err(e) => HttpResponse::BadGateway().body(format!("{e}\n")),
            }
        }
        Err(e) => HttpResponse::BadGateway().body(format!("{e}\n")),
    }
}
