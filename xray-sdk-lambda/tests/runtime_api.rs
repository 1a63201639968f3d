//! The real `lambda_runtime` against a Lambda Runtime API served on loopback by the test, with a UDP socket
//! standing in for the daemon. `lambda_runtime` reads its configuration from the process environment, so each
//! scenario runs the function in a child process: this test binary again, running `function_process` with the
//! scenario's environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;
use tower_layer::Layer;
use xray_sdk_lambda::XrayLambdaLayer;

const FUNCTION: &str = "xray-test-fn";
const CHILD_MODE: &str = "XRAY_LAMBDA_TEST_CHILD";
const BARRIER: &str = "XRAY_LAMBDA_TEST_BARRIER";

// ---------------------------------------------------------------------------------------------------------------
// The function, run in the child process.

/// The function under test: for `{"n": N}` records a subsegment `work` with annotation `n`, which stays open
/// across an await (a rendezvous with the other invocations in flight, for `{"meet": K}`); `{"fail": true}`
/// returns an error, `{"panic": true}` panics.
async fn handler(event: LambdaEvent<Value>) -> Result<Value, lambda_runtime::Error> {
    let payload = event.payload;
    let n = payload["n"].as_i64().unwrap_or(0);
    let recorder = xray_sdk_core::global();
    {
        let work = recorder.begin_subsegment("work")?;
        work.put_annotation("n", n);
        if let Some(count) = payload["meet"].as_u64() {
            meet(count).await?;
        }
        tokio::task::yield_now().await;
        // The current entity is still this invocation's `work`, after the await.
        recorder.put_metadata("n_again", &n)?;
    }
    if payload["panic"].as_bool() == Some(true) {
        panic!("panicked on {n}");
    }
    if payload["fail"].as_bool() == Some(true) {
        return Err(format!("failed on {n}").into());
    }
    Ok(json!({ "n": n }))
}

/// Waits at the test's barrier until `count` invocations are there: proof that they are in flight at once.
async fn meet(count: u64) -> std::io::Result<()> {
    let addr = std::env::var(BARRIER).map_err(std::io::Error::other)?;
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(&count.to_be_bytes()).await?;
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).await?;
    Ok(())
}

/// The child process's entry point; in the test process itself (no `XRAY_LAMBDA_TEST_CHILD`) it does nothing.
#[test]
fn function_process() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(async move {
        let service = XrayLambdaLayer::new().layer(service_fn(handler));
        if mode == "concurrent" {
            lambda_runtime::run_concurrent(service).await
        } else {
            lambda_runtime::run(service).await
        }
    });
    eprintln!("the runtime stopped: {result:?}");
}

// ---------------------------------------------------------------------------------------------------------------
// The Runtime API and the daemon, in the test process.

struct Invocation {
    request_id: String,
    trace_id: Option<String>,
    event: Value,
}

/// What the runtime posted for an invocation, and the daemon's datagrams by then.
#[derive(Debug, Clone)]
struct Outcome {
    kind: &'static str,
    body: Value,
    /// How many datagrams the daemon's socket had received when the post arrived.
    datagrams_by_then: usize,
}

struct Api {
    pending: Mutex<VecDeque<Invocation>>,
    pending_changed: Notify,
    daemon: UdpSocket,
    /// Every document received by the daemon, in order.
    documents: Mutex<Vec<Value>>,
    outcomes: Mutex<HashMap<String, Outcome>>,
    outcome_posted: Notify,
    init_errors: Mutex<Vec<Value>>,
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
struct FunctionProcess(Child);

impl Drop for FunctionProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One scenario: a Runtime API and a daemon, and the function in a child process.
struct Scenario {
    api: Arc<Api>,
    process: FunctionProcess,
}

impl Scenario {
    async fn start(mode: &str, max_concurrency: u32, barrier: Option<SocketAddr>) -> Scenario {
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

        let mut command = Command::new(std::env::current_exe().unwrap());
        command
            .args([
                "--exact",
                "function_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_MODE, mode)
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
        if let Some(barrier) = barrier {
            command.env(BARRIER, barrier.to_string());
        }
        Scenario {
            api,
            process: FunctionProcess(command.spawn().unwrap()),
        }
    }

    fn invoke(&self, request_id: &str, trace_id: Option<&str>, event: Value) {
        self.api.pending.lock().unwrap().push_back(Invocation {
            request_id: request_id.to_owned(),
            trace_id: trace_id.map(str::to_owned),
            event,
        });
        self.api.pending_changed.notify_waiters();
    }

    /// Waits until the runtime has posted an outcome for every one of `request_ids`.
    async fn outcomes(&mut self, request_ids: &[&str]) -> HashMap<String, Outcome> {
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
    fn documents(&self) -> Vec<Value> {
        self.api.drain_daemon();
        let documents = self.api.documents.lock().unwrap().clone();
        documents.iter().for_each(checked);
        documents
    }
}

fn trace(root: &str, parent: &str, sampled: &str) -> String {
    format!("Root={root};Parent={parent};Sampled={sampled};Lineage=1:fe460cdd:0")
}

const ROOTS: [&str; 4] = [
    "1-5759e988-bd862e3fe1be46a994272793",
    "1-5759e988-bd862e3fe1be46a994272794",
    "1-5759e988-bd862e3fe1be46a994272795",
    "1-5759e988-bd862e3fe1be46a994272796",
];
const PARENTS: [&str; 4] = [
    "53995c3f42cd8ad8",
    "53995c3f42cd8ad9",
    "53995c3f42cd8ada",
    "53995c3f42cd8adb",
];

/// The official schema, and the rules it leaves out.
fn checked(doc: &Value) {
    static SCHEMA: std::sync::OnceLock<jsonschema::Validator> = std::sync::OnceLock::new();
    let schema = SCHEMA.get_or_init(|| {
        let text = xray_sdk_testdata::read_text("schema/xray-segmentdocument-schema-v1.0.0.json");
        jsonschema::draft4::new(&serde_json::from_str(&text).unwrap()).unwrap()
    });
    let errors: Vec<String> = schema.iter_errors(doc).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "schema errors {errors:?} in {doc}");
    xray_sdk_types::validate::validate(doc).unwrap_or_else(|e| panic!("{e} in {doc}"));
}

/// The document with its generated values (ids, times, the working directory) checked and replaced by fixed
/// ones, so that the rest compares exactly.
fn normalized(mut doc: Value) -> Value {
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

/// The one document an invocation sends: its subsegment, holding `work`.
fn invocation_document(root: &str, parent: &str, n: i64, cold_start: bool) -> Value {
    json!({
        "id": "<id>",
        "name": FUNCTION,
        "start_time": 0,
        "end_time": 0,
        "trace_id": root,
        "parent_id": parent,
        "type": "subsegment",
        "annotations": { "ColdStart": cold_start },
        "subsegments": [{
            "id": "<id>",
            "parent_id": "<parent>",
            "type": "subsegment",
            "name": "work",
            "start_time": 0,
            "end_time": 0,
            "annotations": { "n": n },
            "metadata": { "default": { "n_again": n } }
        }]
    })
}

fn with_fault(mut doc: Value, message: &str, type_name: &str) -> Value {
    doc["fault"] = json!(true);
    doc["cause"] = json!({
        "working_directory": "<cwd>",
        "exceptions": [{ "id": "<id>", "message": message, "type": type_name, "remote": false }]
    });
    doc
}

/// The documents of one trace.
fn of_trace(documents: &[Value], root: &str) -> Vec<Value> {
    documents
        .iter()
        .filter(|d| d["trace_id"] == root)
        .cloned()
        .collect()
}

/// Every document of `root` was among the first `by_then` the daemon received.
fn all_sent_before(documents: &[Value], root: &str, by_then: usize) {
    let early = of_trace(&documents[..by_then], root);
    let all = of_trace(documents, root);
    assert_eq!(
        early.len(),
        all.len(),
        "a document of {root} arrived after the response"
    );
}

// ---------------------------------------------------------------------------------------------------------------
// The scenarios.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_invocations_send_their_subsegments_before_each_response() {
    let mut scenario = Scenario::start("run", 1, None).await;
    let sampled = [
        trace(ROOTS[0], PARENTS[0], "1"),
        trace(ROOTS[1], PARENTS[1], "0"),
        trace(ROOTS[2], PARENTS[2], "1"),
    ];
    scenario.invoke("r0", Some(&sampled[0]), json!({ "n": 0 }));
    scenario.invoke("r1", Some(&sampled[1]), json!({ "n": 1 }));
    scenario.invoke("r2", Some(&sampled[2]), json!({ "n": 2 }));
    scenario.invoke("r3", None, json!({ "n": 3 }));
    let outcomes = scenario.outcomes(&["r0", "r1", "r2", "r3"]).await;
    let documents = scenario.documents();

    for (id, n) in [("r0", 0), ("r1", 1), ("r2", 2), ("r3", 3)] {
        assert_eq!(outcomes[id].kind, "response");
        assert_eq!(outcomes[id].body, json!({ "n": n }));
    }
    // Exactly one document per sampled invocation, the first one a cold start; nothing for `Sampled=0` nor
    // for an invocation without a trace header.
    assert_eq!(documents.len(), 2, "{documents:#?}");
    assert_eq!(
        normalized(of_trace(&documents, ROOTS[0]).remove(0)),
        invocation_document(ROOTS[0], PARENTS[0], 0, true)
    );
    assert_eq!(
        normalized(of_trace(&documents, ROOTS[2]).remove(0)),
        invocation_document(ROOTS[2], PARENTS[2], 2, false)
    );
    assert!(of_trace(&documents, ROOTS[1]).is_empty());
    all_sent_before(&documents, ROOTS[0], outcomes["r0"].datagrams_by_then);
    all_sent_before(&documents, ROOTS[2], outcomes["r2"].datagrams_by_then);
    assert!(scenario.api.init_errors.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_invocations_never_mix_their_subsegments() {
    // A barrier that opens once all four invocations are inside their `work` subsegment.
    let barrier = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let barrier_addr = barrier.local_addr().unwrap();
    tokio::spawn(async move {
        let mut waiting = Vec::new();
        loop {
            let (mut stream, _) = barrier.accept().await.unwrap();
            let mut count = [0u8; 8];
            stream.read_exact(&mut count).await.unwrap();
            waiting.push(stream);
            if waiting.len() as u64 == u64::from_be_bytes(count) {
                waiting.clear(); // closing the streams lets everyone go
            }
        }
    });
    let mut scenario = Scenario::start("concurrent", 4, Some(barrier_addr)).await;
    let ids = ["c0", "c1", "c2", "c3"];
    for (i, id) in ids.iter().enumerate() {
        let event = json!({ "n": i, "meet": 4, "fail": i == 2 });
        scenario.invoke(id, Some(&trace(ROOTS[i], PARENTS[i], "1")), event);
    }
    let outcomes = scenario.outcomes(&ids).await;
    let documents = scenario.documents();

    assert_eq!(documents.len(), 4, "{documents:#?}");
    let mut cold_starts = 0;
    for (i, id) in ids.iter().enumerate() {
        let mut docs = of_trace(&documents, ROOTS[i]);
        assert_eq!(docs.len(), 1, "{documents:#?}");
        let doc = normalized(docs.remove(0));
        let cold_start = doc["annotations"]["ColdStart"].as_bool().unwrap();
        cold_starts += usize::from(cold_start);
        let expected = invocation_document(ROOTS[i], PARENTS[i], i as i64, cold_start);
        if i == 2 {
            assert_eq!(outcomes[*id].kind, "error");
            assert_eq!(outcomes[*id].body["errorMessage"], "failed on 2");
            let expected = with_fault(expected, "failed on 2", "Box<dyn Error + Send + Sync>");
            assert_eq!(doc, expected);
        } else {
            assert_eq!(outcomes[*id].kind, "response");
            assert_eq!(outcomes[*id].body, json!({ "n": i }));
            assert_eq!(doc, expected);
        }
        all_sent_before(&documents, ROOTS[i], outcomes[*id].datagrams_by_then);
    }
    assert_eq!(cold_starts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_and_panics_are_faults_on_the_invocation() {
    let mut scenario = Scenario::start("run", 1, None).await;
    scenario.invoke(
        "e0",
        Some(&trace(ROOTS[0], PARENTS[0], "1")),
        json!({ "n": 7, "fail": true }),
    );
    scenario.invoke(
        "e1",
        Some(&trace(ROOTS[1], PARENTS[1], "1")),
        json!({ "n": 8, "panic": true }),
    );
    scenario.invoke(
        "e2",
        Some(&trace(ROOTS[2], PARENTS[2], "0")),
        json!({ "n": 9, "panic": true }),
    );
    scenario.invoke(
        "e3",
        Some(&trace(ROOTS[3], PARENTS[3], "1")),
        json!({ "n": 10 }),
    );
    let outcomes = scenario.outcomes(&["e0", "e1", "e2", "e3"]).await;
    let documents = scenario.documents();

    assert_eq!(outcomes["e0"].kind, "error");
    assert_eq!(outcomes["e0"].body["errorMessage"], "failed on 7");
    assert_eq!(outcomes["e1"].kind, "error");
    assert_eq!(outcomes["e2"].kind, "error");
    assert_eq!(outcomes["e3"].body, json!({ "n": 10 }));
    assert_eq!(documents.len(), 3, "{documents:#?}");
    assert_eq!(
        normalized(of_trace(&documents, ROOTS[0]).remove(0)),
        with_fault(
            invocation_document(ROOTS[0], PARENTS[0], 7, true),
            "failed on 7",
            "Box<dyn Error + Send + Sync>"
        )
    );
    assert_eq!(
        normalized(of_trace(&documents, ROOTS[1]).remove(0)),
        with_fault(
            invocation_document(ROOTS[1], PARENTS[1], 8, false),
            "panicked on 8",
            "panic"
        )
    );
    // After a panic the function goes on, and records the next invocation as before.
    assert_eq!(
        normalized(of_trace(&documents, ROOTS[3]).remove(0)),
        invocation_document(ROOTS[3], PARENTS[3], 10, false)
    );
    for (id, root) in [("e0", ROOTS[0]), ("e1", ROOTS[1]), ("e3", ROOTS[3])] {
        all_sent_before(&documents, root, outcomes[id].datagrams_by_then);
    }
}
