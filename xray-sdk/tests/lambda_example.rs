//! The `lambda_function` example, run as Lambda runs it: against a Runtime API served by the test, with a UDP
//! socket standing in for the daemon, invocations in flight at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../xray-sdk-lambda/tests/support/mod.rs"]
mod support;

use std::process::Command;

use serde_json::json;

use support::{FUNCTION, PARENTS, ROOTS, Scenario, all_sent_before, normalized, of_trace, trace};

/// The example's binary, which `cargo test` builds beside the test binaries.
fn example() -> Command {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let path = dir.join("examples").join("lambda_function");
    assert!(
        path.exists(),
        "{} is missing: run `cargo test -p xray-sdk --features lambda`, which builds the examples",
        path.display()
    );
    Command::new(path)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_squares_n_and_records_it() {
    let mut scenario = Scenario::start(example(), 2).await;
    scenario.invoke(
        "a",
        Some(&trace(ROOTS[0], PARENTS[0], "1")),
        json!({ "n": 3 }),
    );
    scenario.invoke(
        "b",
        Some(&trace(ROOTS[1], PARENTS[1], "1")),
        json!({ "n": -12 }),
    );
    scenario.invoke(
        "c",
        Some(&trace(ROOTS[2], PARENTS[2], "0")),
        json!({ "n": 5 }),
    );
    scenario.invoke(
        "d",
        Some(&trace(ROOTS[3], PARENTS[3], "1")),
        json!({ "m": 1 }),
    );
    let outcomes = scenario.outcomes(&["a", "b", "c", "d"]).await;
    let documents = scenario.documents();

    assert_eq!(outcomes["a"].body, json!({ "n": 3, "square": 9 }));
    assert_eq!(outcomes["b"].body, json!({ "n": -12, "square": 144 }));
    assert_eq!(outcomes["c"].body, json!({ "n": 5, "square": 25 }));
    assert_eq!(outcomes["d"].kind, "error");
    assert_eq!(
        outcomes["d"].body["errorMessage"],
        "the event has no integer \"n\""
    );
    assert_eq!(documents.len(), 3, "{documents:#?}");
    for (id, i, n) in [("a", 0, 3), ("b", 1, -12)] {
        let doc = normalized(of_trace(&documents, ROOTS[i]).remove(0));
        let cold_start = doc["annotations"]["ColdStart"].clone();
        assert_eq!(
            doc,
            json!({
                "id": "<id>",
                "name": FUNCTION,
                "start_time": 0,
                "end_time": 0,
                "trace_id": ROOTS[i],
                "parent_id": PARENTS[i],
                "type": "subsegment",
                "annotations": { "ColdStart": cold_start },
                "subsegments": [{
                    "id": "<id>",
                    "parent_id": "<parent>",
                    "type": "subsegment",
                    "name": "square",
                    "start_time": 0,
                    "end_time": 0,
                    "annotations": { "n": n }
                }]
            })
        );
        all_sent_before(&documents, ROOTS[i], outcomes[id].datagrams_by_then);
    }
    let error = normalized(of_trace(&documents, ROOTS[3]).remove(0));
    assert_eq!(error["fault"], true);
    assert_eq!(
        error["cause"]["exceptions"][0]["message"],
        "the event has no integer \"n\""
    );
    assert!(of_trace(&documents, ROOTS[2]).is_empty());
}
