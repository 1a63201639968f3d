//! The real `lambda_runtime` against a Lambda Runtime API served on loopback by the test, with a UDP socket
//! standing in for the daemon. `lambda_runtime` reads its configuration from the process environment, so each
//! scenario runs the function in a child process: this test binary again, running `function_process` with the
//! scenario's environment.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::process::Command;

use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower_layer::Layer;
use xray_sdk_lambda::XrayLambdaLayer;

use support::{FUNCTION, PARENTS, ROOTS, Scenario, all_sent_before, normalized, of_trace, trace};

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

/// The function in a child process: this test binary, running `function_process`.
async fn start(mode: &str, max_concurrency: u32, barrier: Option<SocketAddr>) -> Scenario {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "--exact",
            "function_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode);
    if let Some(barrier) = barrier {
        command.env(BARRIER, barrier.to_string());
    }
    Scenario::start(command, max_concurrency).await
}

// ---------------------------------------------------------------------------------------------------------------
// The scenarios.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sequential_invocations_send_their_subsegments_before_each_response() {
    let mut scenario = start("run", 1, None).await;
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
    let mut scenario = start("concurrent", 4, Some(barrier_addr)).await;
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
    let mut scenario = start("run", 1, None).await;
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
