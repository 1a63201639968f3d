//! The demo's three instrumented services, chained over real HTTP on loopback:
//! `storefront` (axum) → `inventory` (actix-web) → `pricing` (axum, with a SQLite query).

use std::error::Error as StdError;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::get;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use serde::Deserialize;
use xray_sdk::Recorder;
use xray_sdk::context;
use xray_sdk::sql::rusqlite::XraySqliteConnection;

/// The addresses the services listen on.
#[derive(Debug, Clone, Copy)]
pub struct Services {
    /// The entry point: `GET /checkout?item=NAME`.
    pub storefront: SocketAddr,
    /// `GET /reserve?item=NAME`, called by the storefront.
    pub inventory: SocketAddr,
    /// `GET /price/{item}`, called by the inventory.
    pub pricing: SocketAddr,
}

/// An error the pricing service records on its segment, with the cause it wraps.
#[derive(Debug)]
struct PricingError {
    item: String,
    source: std::io::Error,
}

impl fmt::Display for PricingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot price {}", self.item)
    }
}

impl StdError for PricingError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        Some(&self.source)
    }
}

#[derive(Deserialize)]
struct ItemQuery {
    item: Option<String>,
}

fn traced_client(recorder: &Recorder) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(xray_sdk::reqwest::XrayReqwestMiddleware::with_recorder(
            recorder.clone(),
        ))
        .build()
}

/// Calls `url` and passes its status and body on; a failed call is a 502.
async fn forward(client: &ClientWithMiddleware, url: &str) -> (u16, String) {
    match client.get(url).send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            (status, response.text().await.unwrap_or_default())
        }
        Err(e) => (502, format!("{e}\n")),
    }
}

/// The price list, in an in-memory SQLite database whose statements are traced.
fn price_list(recorder: &Recorder) -> rusqlite::Result<XraySqliteConnection> {
    let db = rusqlite::Connection::open_in_memory()?;
    db.execute_batch(
        "CREATE TABLE prices (item TEXT PRIMARY KEY, cents INTEGER NOT NULL);
         INSERT INTO prices VALUES ('tea', 450), ('mug', 1200), ('spoon', 300), ('crash', -1);",
    )?;
    Ok(XraySqliteConnection::new(db).with_recorder(recorder.clone()))
}

const PRICE_QUERY: &str = "SELECT cents FROM prices WHERE item = ?1";

/// `GET /price/{item}`: a SQLite query, traced as its own subsegment; 404 for an unknown item; a 500 for the item
/// whose price is broken.
async fn price(
    State(db): State<Arc<Mutex<XraySqliteConnection>>>,
    Path(item): Path<String>,
) -> (StatusCode, String) {
    let cents = match db.lock() {
        Ok(db) => db
            .query_row(PRICE_QUERY, [&item], |row| row.get::<_, i64>(0))
            .map_err(|e| e.to_string()),
        Err(_) => Err("the price list is unavailable".to_owned()),
    };
    match cents {
        Ok(cents) if cents >= 0 => (
            StatusCode::OK,
            format!("{item}: {}.{:02}\n", cents / 100, cents % 100),
        ),
        Ok(_) => {
            let error = PricingError {
                item: item.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "negative price in the price list",
                ),
            };
            if let Some(segment) = context::current() {
                segment.add_error(&error);
            }
            (StatusCode::INTERNAL_SERVER_ERROR, format!("{error}\n"))
        }
        Err(_) => (StatusCode::NOT_FOUND, format!("no such item: {item}\n")),
    }
}

/// `GET /checkout?item=NAME`: reserves the item through the inventory service.
async fn checkout(
    State((client, inventory)): State<(ClientWithMiddleware, SocketAddr)>,
    Query(query): Query<ItemQuery>,
) -> (StatusCode, String) {
    let item = query.item.unwrap_or_else(|| "tea".to_owned());
    if let Some(segment) = context::current() {
        segment.put_annotation("item", item.as_str());
        segment.set_user("demo-customer");
    }
    let (status, body) = forward(&client, &format!("http://{inventory}/reserve?item={item}")).await;
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        body,
    )
}

async fn serve_axum(app: Router) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    tokio::spawn(async move {
        let served = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
        if let Err(e) = served {
            log::error!("demo service on {address} stopped: {e}");
        }
    });
    Ok(address)
}

/// The inventory service, on actix-web in a thread of its own.
fn start_inventory(recorder: Recorder, pricing: SocketAddr) -> std::io::Result<SocketAddr> {
    use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};

    async fn reserve(
        req: HttpRequest,
        state: web::Data<(ClientWithMiddleware, SocketAddr)>,
    ) -> HttpResponse {
        let item = req
            .query_string()
            .split('&')
            .find_map(|pair| pair.strip_prefix("item="))
            .unwrap_or("tea")
            .to_owned();
        let (client, pricing) = state.get_ref();
        let (status, body) = forward(client, &format!("http://{pricing}/price/{item}")).await;
        if status == 200
            && let Some(segment) = context::current()
        {
            segment.put_annotation("reserved", true);
        }
        let status = actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
        HttpResponse::build(status).body(body)
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let address = listener.local_addr()?;
    std::thread::Builder::new()
        .name("demo-inventory".to_owned())
        .spawn(move || {
            // actix-web's server is not `Send`: it is built on the thread that runs it.
            let state = web::Data::new((traced_client(&recorder), pricing));
            let served = actix_web::rt::System::new().block_on(async move {
                HttpServer::new(move || {
                    App::new()
                        .app_data(state.clone())
                        .route("/reserve", web::get().to(reserve))
                        .wrap(xray_sdk::actix::XrayActixMiddleware::with_recorder(
                            recorder.clone(),
                        ))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)?
                .run()
                .await
            });
            if let Err(e) = served {
                log::error!("demo inventory service stopped: {e}");
            }
        })?;
    Ok(address)
}

/// Starts the three services, each with its own recorder.
///
/// # Errors
/// When a listener cannot be bound or the price list cannot be built.
pub async fn start(
    storefront: Recorder,
    inventory: Recorder,
    pricing: Recorder,
) -> std::io::Result<Services> {
    let db = price_list(&pricing).map_err(std::io::Error::other)?;
    let pricing_app = Router::new()
        .route("/price/{item}", get(price))
        .with_state(Arc::new(Mutex::new(db)))
        .layer(xray_sdk::tower::XrayHttpLayer::with_recorder(pricing));
    let pricing_address = serve_axum(pricing_app).await?;
    let inventory_address = start_inventory(inventory, pricing_address)?;
    let storefront_app = Router::new()
        .route("/checkout", get(checkout))
        .with_state((traced_client(&storefront), inventory_address))
        .layer(xray_sdk::tower::XrayHttpLayer::with_recorder(storefront));
    let storefront_address = serve_axum(storefront_app).await?;
    Ok(Services {
        storefront: storefront_address,
        inventory: inventory_address,
        pricing: pricing_address,
    })
}
