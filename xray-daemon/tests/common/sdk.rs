//! Real traces recorded with the SDK and sent over UDP to a daemon: two services (`web` on EC2 calling `api`
//! on ECS) with SQL and DynamoDB calls, an error path with a stack, a throttled request, and a trace whose
//! names, URL, annotations, metadata and error message hold HTML.

use std::time::{Duration, Instant};

use serde_json::Value;
use xray_daemon::DaemonHandle;
use xray_sdk_core::Recorder;
use xray_sdk_core::config::MapEnv;
use xray_sdk_core::entity::Entity;
use xray_sdk_types::document::{Aws, Exception, HttpRequest, Sql, StackFrame};
use xray_sdk_types::{EntityId, Namespace};

/// A segment name with HTML-looking text that X-Ray's name rules allow (`<` and `>` are not name characters):
/// parsed as HTML it would read `<b>bold</b>`, so it must be shown exactly as written.
pub const HTML_SERVICE: &str = "&ltb&gtbold&lt/b&gt";
/// A subsegment name of the same kind.
pub const HTML_SUBSEGMENT: &str = "&ltimg src=x onerror=alert&gt";
/// An annotation value holding a script.
pub const HTML_ANNOTATION: &str = "<script>window.__xss = 1</script>";
/// A URL holding markup.
pub const HTML_URL: &str = "http://shop.local/<img src=x onerror=window.__xss=2>";
/// An error message holding markup.
pub const HTML_ERROR: &str = "<img src=x onerror=window.__xss=3> went wrong";
/// A metadata value holding markup.
pub const HTML_METADATA: &str = "<iframe src=javascript:window.__xss=4></iframe>";

/// The traces recorded, by id.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `web` GET /orders/42 → `api` → SQL and DynamoDB; all ok.
    pub orders: String,
    /// `web` POST /checkout → `api` faults with an error and its stack.
    pub checkout: String,
    /// `web` GET /search, throttled (429).
    pub search: String,
    /// The trace with HTML in its names and values.
    pub html: String,
    /// How many segments each trace has, in the order above.
    pub segments: [i64; 4],
}

fn recorder(daemon: &DaemonHandle, origin: &str) -> Recorder {
    Recorder::builder()
        .env(MapEnv::default())
        .daemon_address(daemon.udp_address().to_string())
        .origin(origin)
        .build()
        .unwrap()
}

fn request(method: &str, url: &str) -> HttpRequest {
    HttpRequest {
        method: Some(method.into()),
        url: Some(url.to_owned()),
        ..HttpRequest::default()
    }
}

fn remote(recorder: &Recorder, parent: &Entity, name: &str) -> xray_sdk_core::SubsegmentGuard {
    recorder
        .subsegment(name)
        .namespace(Namespace::Remote)
        .parent(parent)
        .begin_detached()
        .unwrap()
}

fn pause() {
    std::thread::sleep(Duration::from_millis(3));
}

/// `api` handling a request from `caller` (a subsegment of `web`): a SQL query and a DynamoDB call, then
/// either 200 or a fault with a stack.
fn api_segment(api: &Recorder, caller: &Entity, path: &str, fail: bool) {
    let header = caller.trace_header().expect("the caller is in a trace");
    let segment = api.segment("api").trace_header(&header).begin_detached();
    let entity = segment.entity().clone();
    entity.set_http_request(request("GET", &format!("http://api.local{path}")));
    pause();
    {
        let sql = remote(api, &entity, "orders@db.local");
        sql.entity().set_sql(Sql {
            sanitized_query: Some("SELECT id, total FROM orders WHERE id = ?".to_owned()),
            database_type: Some("SQLite".to_owned()),
            url: Some("sqlite://db.local/orders".to_owned()),
            ..Sql::default()
        });
        pause();
    }
    {
        let ddb = api
            .subsegment("DynamoDB")
            .namespace(Namespace::Aws)
            .parent(&entity)
            .begin_detached()
            .unwrap();
        ddb.entity().set_aws(Aws {
            operation: Some("GetItem".to_owned()),
            region: Some("eu-west-1".to_owned()),
            table_name: Some("orders".to_owned()),
            request_id: Some("RQ42".to_owned()),
            ..Aws::default()
        });
        pause();
    }
    if fail {
        let charge = entity.begin_subsegment("charge card");
        charge.entity().add_exception(Exception {
            id: EntityId::new(),
            message: Some("card declined by the bank".to_owned()),
            type_name: Some("payments::DeclinedError".to_owned()),
            remote: Some(false),
            truncated: None,
            skipped: None,
            cause: None,
            stack: vec![
                StackFrame {
                    path: Some("src/payments.rs".to_owned()),
                    line: Some(88),
                    label: Some("payments::charge".to_owned()),
                },
                StackFrame {
                    path: Some("src/handlers.rs".to_owned()),
                    line: Some(21),
                    label: Some("api::checkout".to_owned()),
                },
            ],
        });
        drop(charge);
        entity.set_http_response(500, None);
    } else {
        entity.set_http_response(200, Some(512));
    }
}

/// Records the traces, sends them, and waits until the daemon has stored every segment.
pub async fn record(daemon: &DaemonHandle) -> Recorded {
    let web = recorder(daemon, "AWS::EC2::Instance");
    let api = recorder(daemon, "AWS::ECS::Container");

    let mut ids = Vec::new();
    for (method, path, status) in [("GET", "/orders/42", 200), ("POST", "/checkout", 500)] {
        let segment = web.segment("web").sampled(true).begin_detached();
        let entity = segment.entity().clone();
        ids.push(entity.trace_id().to_string());
        entity.set_http_request(request(method, &format!("http://shop.local{path}")));
        entity.put_annotation("customer", "alice");
        entity.put_annotation("order_id", 42);
        entity.put_metadata("cart", &serde_json::json!({"items": 3, "currency": "EUR"}));
        pause();
        {
            let call = remote(&web, &entity, "api");
            let mut call_request = request(method, &format!("http://api.local{path}"));
            call_request.traced = Some(true);
            call.entity().set_http_request(call_request);
            api_segment(&api, call.entity(), path, status == 500);
            call.entity().set_http_response(status, None);
        }
        {
            let _render = entity.begin_subsegment("render");
            pause();
        }
        entity.set_http_response(status, None);
    }

    let search = web.segment("web").sampled(true).begin_detached();
    ids.push(search.entity().trace_id().to_string());
    search
        .entity()
        .set_http_request(request("GET", "http://shop.local/search?q=rust"));
    pause();
    search.entity().set_http_response(429, None);
    drop(search);

    let html = web.segment(HTML_SERVICE).sampled(true).begin_detached();
    let entity = html.entity().clone();
    ids.push(entity.trace_id().to_string());
    entity.set_http_request(request("GET", HTML_URL));
    entity.put_annotation("note", HTML_ANNOTATION);
    entity.put_metadata("markup", HTML_METADATA);
    {
        let sub = entity.begin_subsegment(HTML_SUBSEGMENT);
        sub.entity().add_exception(Exception {
            id: EntityId::new(),
            message: Some(HTML_ERROR.to_owned()),
            type_name: Some("<b>Html</b>Error".to_owned()),
            remote: None,
            truncated: None,
            skipped: None,
            cause: None,
            stack: vec![StackFrame {
                path: Some("<script>.rs".to_owned()),
                line: Some(1),
                label: Some("<img src=x onerror=alert(1)>".to_owned()),
            }],
        });
        pause();
    }
    entity.set_http_response(500, None);
    drop(html);
    drop(entity);

    assert!(web.flush(Duration::from_secs(5)));
    assert!(api.flush(Duration::from_secs(5)));
    let recorded = Recorded {
        orders: ids[0].clone(),
        checkout: ids[1].clone(),
        search: ids[2].clone(),
        html: ids[3].clone(),
        segments: [2, 2, 1, 1],
    };
    wait_for_segments(daemon, &recorded).await;
    recorded
}

async fn wait_for_segments(daemon: &DaemonHandle, recorded: &Recorded) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids = [
        &recorded.orders,
        &recorded.checkout,
        &recorded.search,
        &recorded.html,
    ];
    loop {
        daemon.flush().await;
        let list: Value = super::api(daemon, "/api/traces").await;
        let complete = ids.iter().zip(recorded.segments).all(|(id, segments)| {
            list["traces"].as_array().unwrap().iter().any(|t| {
                t["id"] == id.as_str() && t["segments"] == segments && !t["duration"].is_null()
            })
        });
        if complete {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the recorded traces did not all arrive: {list:#}\nstats: {:?}",
            daemon.stats()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
