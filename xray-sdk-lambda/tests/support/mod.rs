//! A Lambda Runtime API served on loopback, a UDP socket standing in for the daemon, and a function run in a
//! child process against both; with checks of the documents the daemon receives. Shared by the tests of
//! `xray-sdk-lambda` and of the `lambda_function` example of `xray-sdk`.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::{HashMap, VecDeque};
use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::Notify;

/// The function's name in every scenario.
pub const FUNCTION: &str = "xray-test-fn";

pub struct Invocation {
    request_id: String,
    trace_id: Option<String>,
    event: Value,
}

/// What the runtime posted for an invocation, and the daemon's datagrams by then.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub kind: &'static str,
    pub body: Value,
    /// How many datagrams the daemon's socket had received when the post arrived.
    pub datagrams_by_then: usize,
}

pub struct Api {
    pending: Mutex<VecDeque<Invocation>>,
    pending_changed: Notify,
    daemon: UdpSocket,
    /// Every document received by the daemon, in order.
    documents: Mutex<Vec<Value>>,
    outcomes: Mutex<HashMap<String, Outcome>>,
    outcome_posted: Notify,
    pub init_errors: Mutex<Vec<Value>>,
}

impl Api {
    /// Reads every datagram waiting in the daemon's socket, without waiting for more.
    fn drain_daemon(&self) -> usize {
        let mut documents = self.documents.lock().unwrap();
        let mut buf = vec![0u8; 65_536];
        loop {
            match self.daemon.recv(&mut buf) {
                Ok(len) => {
                    let text = std::str::from_utf8(&buf[..len]).unwrap();
                    let (header, body) = text.split_once('\n').unwrap();
                    assert_eq!(header, r#"{"format":"json","version":1}"#);
                    documents.push(serde_json::from_str(body).unwrap());
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return documents.len(),
                Err(e) => panic!("daemon socket: {e}"),
            }
        }
    }

    fn post(&self, request_id: String, kind: &'static str, body: &str) {
        let datagrams_by_then = self.drain_daemon();
        let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_owned()));
        self.outcomes.lock().unwrap().insert(
            request_id,
            Outcome {
                kind,
                body,
                datagrams_by_then,
            },
        );
        self.outcome_posted.notify_waiters();
    }
}

async fn next(State(api): State<Arc<Api>>) -> impl IntoResponse {
    let invocation = loop {
        let changed = api.pending_changed.notified();
        if let Some(invocation) = api.pending.lock().unwrap().pop_front() {
            break invocation;
        }
        changed.await;
    };
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(300);
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: &str| {
        headers.insert(name, HeaderValue::from_str(value).unwrap());
    };
    set("lambda-runtime-aws-request-id", &invocation.request_id);
    set(
        "lambda-runtime-deadline-ms",
        &deadline.as_millis().to_string(),
    );
    set(
        "lambda-runtime-invoked-function-arn",
        &format!("arn:aws:lambda:us-east-1:123456789012:function:{FUNCTION}"),
    );
    set("content-type", "application/json");
    if let Some(trace_id) = &invocation.trace_id {
        set("lambda-runtime-trace-id", trace_id);
    }
    (headers, invocation.event.to_string())
}

async fn response(
    State(api): State<Arc<Api>>,
    Path(request_id): Path<String>,
    body: String,
) -> StatusCode {
    api.post(request_id, "response", &body);
    StatusCode::ACCEPTED
}

async fn error(
    State(api): State<Arc<Api>>,
    Path(request_id): Path<String>,
    body: String,
) -> StatusCode {
    api.post(request_id, "error", &body);
    StatusCode::ACCEPTED
}

async fn init_error(State(api): State<Arc<Api>>, body: String) -> StatusCode {
    let body = serde_json::from_str(&body).unwrap_or(Value::String(body));
    api.init_errors.lock().unwrap().push(body);
    StatusCode::ACCEPTED
}

/// Kills the function's process when the scenario ends, however it ends.
pub struct FunctionProcess(Child);

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One scenario: a Runtime API and a daemon, and the function in a child process.
pub struct Scenario {
    pub api: Arc<Api>,
    pub process: FunctionProcess,
}

impl Scenario {
    /// Starts the Runtime API and the daemon, then `command` with the Lambda environment pointing at them.
    pub async fn start(mut command: Command, max_concurrency: u32) -> Scenario {
        let daemon = UdpSocket::bind("127.0.0.1:0").unwrap();
        daemon.set_nonblocking(true).unwrap();
        let daemon_addr = daemon.local_addr().unwrap();
        let api = Arc::new(Api {
            pending: Mutex::new(VecDeque::new()),
            pending_changed: Notify::new(),
            daemon,
            documents: Mutex::new(Vec::new()),
            outcomes: Mutex::new(HashMap::new()),
            outcome_posted: Notify::new(),
            init_errors: Mutex::new(Vec::new()),
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/response",
                post(response),
            )
            .route(
                "/2018-06-01/runtime/invocation/{request_id}/error",
                post(error),
            )
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(Arc::clone(&api));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let api_addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        command
            .env("AWS_LAMBDA_RUNTIME_API", api_addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", FUNCTION)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env_remove("AWS_LAMBDA_MAX_CONCURRENCY")
            .env("AWS_XRAY_DAEMON_ADDRESS", daemon_addr.to_string())
            .env_remove("_X_AMZN_TRACE_ID")
            .env_remove("AWS_XRAY_SDK_ENABLED")
            .env_remove("AWS_XRAY_CONTEXT_MISSING")
            .env_remove("AWS_XRAY_TRACING_NAME")
            .stdout(Stdio::null());
        if max_concurrency > 1 {
            command.env("AWS_LAMBDA_MAX_CONCURRENCY", max_concurrency.to_string());
        }
        Scenario {
            api,
            process: FunctionProcess(command.spawn().unwrap()),
        }
    }

    pub fn invoke(&self, request_id: &str, trace_id: Option<&str>, event: Value) {
        self.api.pending.lock().unwrap().push_back(Invocation {
            request_id: request_id.to_owned(),
            trace_id: trace_id.map(str::to_owned),
            event,
        });
        self.api.pending_changed.notify_waiters();
    }

    /// Waits until the runtime has posted an outcome for every one of `request_ids`.
    pub async fn outcomes(&mut self, request_ids: &[&str]) -> HashMap<String, Outcome> {
        let wait = async {
            loop {
                let posted = self.api.outcome_posted.notified();
                {
                    let outcomes = self.api.outcomes.lock().unwrap();
                    if request_ids.iter().all(|id| outcomes.contains_key(*id)) {
                        return outcomes.clone();
                    }
                }
                if let Some(status) = self.process.0.try_wait().unwrap() {
                    panic!("the function's process exited: {status}");
                }
                let _ = tokio::time::timeout(Duration::from_millis(200), posted).await;
            }
        };
        tokio::time::timeout(Duration::from_secs(120), wait)
            .await
            .expect("the runtime did not post every outcome")
    }

    /// Every document the daemon received, each checked against the schema.
    pub fn documents(&self) -> Vec<Value> {
        self.api.drain_daemon();
        let documents = self.api.documents.lock().unwrap().clone();
        documents.iter().for_each(checked);
        documents
    }
}

pub fn trace(root: &str, parent: &str, sampled: &str) -> String {
    format!("Root={root};Parent={parent};Sampled={sampled};Lineage=1:fe460cdd:0")
}

pub const ROOTS: [&str; 4] = [
    "1-5759e988-bd862e3fe1be46a994272793",
    "1-5759e988-bd862e3fe1be46a994272794",
    "1-5759e988-bd862e3fe1be46a994272795",
    "1-5759e988-bd862e3fe1be46a994272796",
];
pub const PARENTS: [&str; 4] = [
    "53995c3f42cd8ad8",
    "53995c3f42cd8ad9",
    "53995c3f42cd8ada",
    "53995c3f42cd8adb",
];

/// The official schema, and the rules it leaves out.
pub fn checked(doc: &Value) {
    xray_sdk_testdata::assert_schema_valid(doc);
    xray_sdk_types::validate::validate(doc).unwrap_or_else(|e| panic!("{e} in {doc}"));
}

/// The document with its generated values (ids, times, the working directory) checked and replaced by fixed
/// ones, so that the rest compares exactly.
pub fn normalized(mut doc: Value) -> Value {
    fn walk(value: &mut Value) {
        match value {
            Value::Object(map) => {
                // Embedded subsegments name their parent.
                let id = map.get("id").cloned();
                if let Some(Value::Array(children)) = map.get_mut("subsegments") {
                    for child in children.iter_mut() {
                        assert_eq!(child.get("parent_id").cloned(), id);
                        child["parent_id"] = json!("<parent>");
                    }
                }
                for (key, v) in map.iter_mut() {
                    match key.as_str() {
                        "id" => {
                            let id = v.as_str().unwrap();
                            assert!(
                                id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()),
                                "{id}"
                            );
                            *v = json!("<id>");
                        }
                        "start_time" | "end_time" => {
                            assert!(v.as_f64().unwrap() > 1.7e9);
                            *v = json!(0);
                        }
                        "working_directory" => *v = json!("<cwd>"),
                        _ => walk(v),
                    }
                }
                if let (Some(start), Some(end)) = (map.get("start_time"), map.get("end_time")) {
                    assert_eq!(start, end);
                }
            }
            Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    if let Some(start) = doc["start_time"].as_f64() {
        assert!(doc["end_time"].as_f64().unwrap() >= start);
    }
    walk(&mut doc);
    doc
}

/// The documents of one trace.
pub fn of_trace(documents: &[Value], root: &str) -> Vec<Value> {
    documents
        .iter()
        .filter(|d| d["trace_id"] == root)
        .cloned()
        .collect()
}

/// Every document of `root` was among the first `by_then` the daemon received.
pub fn all_sent_before(documents: &[Value], root: &str, by_then: usize) {
    let early = of_trace(&documents[..by_then], root);
    let all = of_trace(documents, root);
    assert_eq!(
        early.len(),
        all.len(),
        "a document of {root} arrived after the response"
    );
}
